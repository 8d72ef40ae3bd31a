//! XMPP → mail: what an outbox item holds, and the mail built from it.

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};

/// One outgoing mail as the outbox keeps it: everything needed to build it
/// again, byte for byte the same Message-ID, after a crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// The Message-ID this one answers (XMPP `<thread/>`).
    pub thread: Option<String>,
    /// The XMPP id, for an error reply if it cannot be sent.
    pub xmpp_id: Option<String>,
}

const SUBJECT_CHARS: usize = 60;

/// The subject: the XMPP one, else the body's first line, shortened.
pub fn subject(subject: Option<&str>, body: &str) -> String {
    if let Some(s) = subject.filter(|s| !s.trim().is_empty()) {
        return s.trim().to_owned();
    }
    let line = body
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.chars().count() <= SUBJECT_CHARS {
        return line.to_owned();
    }
    let cut: String = line.chars().take(SUBJECT_CHARS).collect();
    format!("{}…", cut.trim_end())
}

/// A new Message-ID in the sender's domain.
pub fn message_id(from: &str) -> String {
    let domain = from
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("ferry.invalid");
    format!(
        "ferry.{:016x}{:08x}@{domain}",
        rand::random::<u64>(),
        rand::random::<u32>()
    )
}

/// The mail as bytes, and its envelope.
pub fn build(
    from: &str,
    name: Option<&str>,
    out: &Outgoing,
) -> Result<(lettre::address::Envelope, Vec<u8>), String> {
    let from: Mailbox = Mailbox::new(
        name.map(str::to_owned),
        from.parse().map_err(|e| format!("from: {e}"))?,
    );
    // The recipient is an address, never `Name <address>`: a quoted local
    // part (`"space cadet"@example.com`) would read as a display name.
    let to = Mailbox::new(None, out.to.parse().map_err(|e| format!("to: {e}"))?);
    let mut builder = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(out.subject.clone())
        .message_id(Some(format!("<{}>", out.message_id)))
        .header(ContentType::TEXT_PLAIN);
    if let Some(thread) = &out.thread {
        let reference = format!("<{}>", thread.trim_matches(['<', '>']));
        builder = builder.in_reply_to(reference.clone()).references(reference);
    }
    let message = builder.body(out.body.clone()).map_err(|e| e.to_string())?;
    Ok((message.envelope().clone(), message.formatted()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects() {
        assert_eq!(subject(Some("Hi"), "body"), "Hi");
        assert_eq!(subject(None, "\n  first line  \nsecond"), "first line");
        let long = "word ".repeat(30);
        let s = subject(None, &long);
        assert!(s.ends_with('…') && s.chars().count() <= SUBJECT_CHARS + 1);
    }

    #[test]
    fn mail_has_the_headers() {
        let out = Outgoing {
            message_id: "abc@example.org".into(),
            to: "bob@example.org".into(),
            subject: "Hello".into(),
            body: "Grüße\nline two".into(),
            thread: Some("parent@example.org".into()),
            xmpp_id: None,
        };
        let (envelope, raw) = build("alice@example.org", Some("Alice"), &out).unwrap();
        let text = String::from_utf8(raw).unwrap();
        assert!(text.contains("Message-ID: <abc@example.org>"));
        assert!(text.contains("In-Reply-To: <parent@example.org>"));
        assert!(text.contains("References: <parent@example.org>"));
        assert!(text.contains("Subject: Hello"));
        assert!(text.contains("From: Alice <alice@example.org>"));
        assert!(text.contains("charset=utf-8") || text.contains("charset=UTF-8"));
        assert_eq!(envelope.to().len(), 1);
        assert!(message_id("a@example.org").ends_with("@example.org"));
    }
}
