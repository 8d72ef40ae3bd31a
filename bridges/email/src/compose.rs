//! XMPP → mail: what an outbox item holds, and the mail built from it.

use ferry_bridge::{File, FileContent};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
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
    /// Attachments, kept in the core's store until the mail is sent.
    #[serde(default)]
    pub files: Vec<OutgoingFile>,
}

/// An attachment as the outbox keeps it: where its bytes are, its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingFile {
    pub id: i64,
    pub name: String,
    pub content_type: String,
}

/// The stored files of a message, as attachments.
pub fn files(files: &[File]) -> Vec<OutgoingFile> {
    files
        .iter()
        .filter_map(|f| match f.content {
            FileContent::Stored(id) => Some(OutgoingFile {
                id,
                name: f.name.clone(),
                content_type: f.content_type.clone(),
            }),
            FileContent::Bytes(_) => None,
        })
        .collect()
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

/// The mail as bytes, and its envelope; `data` holds the bytes of each of
/// `out.files`, in order.
pub fn build(
    from: &str,
    name: Option<&str>,
    out: &Outgoing,
    data: Vec<Vec<u8>>,
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
        .message_id(Some(format!("<{}>", out.message_id)));
    if let Some(thread) = &out.thread {
        let reference = format!("<{}>", thread.trim_matches(['<', '>']));
        builder = builder.in_reply_to(reference.clone()).references(reference);
    }
    let message = if out.files.is_empty() {
        builder
            .header(ContentType::TEXT_PLAIN)
            .body(out.body.clone())
    } else {
        let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(out.body.clone()));
        for (file, bytes) in out.files.iter().zip(data) {
            let content_type = ContentType::parse(&file.content_type)
                .unwrap_or_else(|_| ContentType::parse("application/octet-stream").expect("valid"));
            parts = parts.singlepart(Attachment::new(file.name.clone()).body(bytes, content_type));
        }
        builder.multipart(parts)
    }
    .map_err(|e| e.to_string())?;
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
            files: Vec::new(),
        };
        let (envelope, raw) = build("alice@example.org", Some("Alice"), &out, Vec::new()).unwrap();
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

    #[test]
    fn files_are_attached_by_name_and_type() {
        let out = Outgoing {
            message_id: "m@example.org".into(),
            to: "bob@example.org".into(),
            subject: "report.pdf".into(),
            body: String::new(),
            thread: None,
            xmpp_id: None,
            files: vec![OutgoingFile {
                id: 7,
                name: "report.pdf".into(),
                content_type: "application/pdf".into(),
            }],
        };
        let pdf = b"%PDF-1.4 \x00\x01\xff".to_vec();
        let (_, raw) = build("alice@example.org", None, &out, vec![pdf.clone()]).unwrap();
        let mail = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let part = mail.attachments().next().expect("an attachment");
        use mail_parser::MimeHeaders;
        assert_eq!(part.attachment_name(), Some("report.pdf"));
        assert_eq!(part.content_type().map(|c| c.ctype()), Some("application"));
        assert_eq!(part.contents(), &pdf[..]);
    }
}
