//! Mail addresses as JIDs: `local\40domain` (the core unescapes XEP-0106
//! before we see it, so that arrives as `local@domain`) or `local%domain`.

use ferry_bridge::{Address, AddressError, AddressKind};

/// Checks the shape of an address (an RFC 5321 Mailbox); deliverability
/// is the server's call. A local part with a space or `"` must be a quoted
/// string; control characters are refused everywhere, since the address
/// ends up in a header line.
pub fn validate(address: &str) -> Result<(), String> {
    let (local, domain) = address
        .rsplit_once('@')
        .ok_or_else(|| format!("`{address}` has no @domain"))?;
    if local.is_empty() || domain.is_empty() {
        return Err(format!("`{address}` is not a mail address"));
    }
    if address.chars().any(char::is_control) {
        return Err(format!("`{address}` contains control characters"));
    }
    let quoted = local.len() > 2 && local.starts_with('"') && local.ends_with('"');
    let fits = match quoted {
        true => quoted_string(&local[1..local.len() - 1]),
        false => !local.chars().any(|c| c.is_whitespace() || c == '"'),
    };
    if !fits {
        return Err(format!(
            "`{local}` needs quoting: write \"{}\"@{domain}",
            local.trim_matches('"')
        ));
    }
    if domain
        .chars()
        .any(|c| c.is_whitespace() || "<>\",;".contains(c))
    {
        return Err(format!("`{domain}` is not a mail domain"));
    }
    if !domain.contains('.') && domain != "localhost" {
        return Err(format!("`{domain}` is not a mail domain"));
    }
    Ok(())
}

/// The inside of an RFC 5321 quoted string: a `"` or `\\` only as part
/// of a backslash pair.
fn quoted_string(inner: &str) -> bool {
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.next().is_none() => return false,
            '"' => return false,
            _ => {}
        }
    }
    true
}

pub fn parse(localpart: &str) -> Result<Address, AddressError> {
    let address = if localpart.contains('@') {
        localpart.to_owned()
    } else if let Some((local, domain)) = localpart.rsplit_once('%') {
        format!("{local}@{domain}")
    } else {
        return Err(AddressError::Malformed(format!(
            "`{localpart}` is not a mail address: write user\\40example.org"
        )));
    };
    validate(&address).map_err(AddressError::Malformed)?;
    Ok(Address::contact(None, &address.to_ascii_lowercase()))
}

pub fn format(address: &Address) -> String {
    match address.kind {
        AddressKind::Contact => address.name.clone(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_parse_to_one_address() {
        let a = parse("bob@example.com").unwrap();
        assert_eq!(a, parse("bob%example.com").unwrap());
        assert_eq!(format(&a), "bob@example.com");
    }

    #[test]
    fn malformed_addresses() {
        for bad in [
            "bob",
            "@example.com",
            "bob@",
            "a b@example.com",
            "x@nodot",
            "a\"b@example.com",
            "\"a\"b\"@example.com",
            "\"ab\\\"@example.com",
            "a\r\nb@example.com",
            "a@exa mple.com",
            "\"\"@example.com",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_quoted_local_part_may_hold_spaces_and_quotes() {
        for good in ["\"space cadet\"@example.com", "\"a\\\"b\"@example.com"] {
            let a = parse(good).unwrap();
            assert_eq!(format(&a), good);
        }
    }

    proptest::proptest! {
        /// What the gateway accepts, the mail library sends to: the
        /// address reaches the envelope as the user wrote it.
        #[test]
        fn accepted_addresses_reach_the_envelope(local in "[ -~]{1,20}") {
            let written = format!("\"{}\"@example.com", local.replace(['\\', '"'], "x"));
            let address = parse(&written).unwrap();
            let parsed: lettre::Address = format(&address).parse().unwrap();
            proptest::prop_assert_eq!(parsed.to_string(), format(&address));
        }

        #[test]
        fn an_unquoted_space_is_always_refused(a in "[a-z]{1,8}", b in "[a-z]{1,8}") {
            let written = format!("{a} {b}@example.com");
            proptest::prop_assert!(parse(&written).is_err());
        }
    }
}
