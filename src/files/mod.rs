//! Files across the gateway (SPEC §8): what a contact sends is uploaded to
//! the user's server's HTTP upload service (XEP-0363) and given to the user
//! as an OOB link (XEP-0066); what a user sends as an OOB link is fetched,
//! within the host and size rules, for a backend that takes files (mail),
//! or carried as its URL (IRC).

mod fetch;
pub mod incoming;
pub mod outgoing;
pub mod transfers;
pub mod upload;

/// A size for people: `2.0 MB`, `340 KB`, `12 bytes`.
pub fn human_size(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} bytes"),
        1_000..1_000_000 => format!("{} KB", bytes / 1_000),
        _ => format!("{:.1} MB", bytes as f64 / 1_000_000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_size(12), "12 bytes");
        assert_eq!(human_size(340_000), "340 KB");
        assert_eq!(human_size(2_000_000), "2.0 MB");
    }
}
