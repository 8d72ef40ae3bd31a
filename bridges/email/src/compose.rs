//! XMPP → mail: what an outbox item holds, and the mail built from it.

use ferry_bridge::{File, FileContent};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment, Body, Mailbox, MultiPart, SinglePart};
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

/// A mail as it is sent: its envelope, and its bytes in pieces, the
/// attachments' as the stored files they are read from.
#[derive(Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub pieces: Vec<Piece>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Piece {
    Bytes(Vec<u8>),
    /// A stored file's bytes in base64 lines.
    File(i64),
}

/// Base64 of `bytes` as lines of 76 characters (57 bytes), each ending
/// CR LF (RFC 2045 §6.8); only the last piece of a file may end short.
pub fn base64_lines(bytes: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let mut out = Vec::with_capacity(bytes.len() / 57 * 78 + 80);
    for line in bytes.chunks(57) {
        out.extend_from_slice(
            base64::engine::general_purpose::STANDARD
                .encode(line)
                .as_bytes(),
        );
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The mail: lettre writes the headers and the text part; each attached
/// file follows as a part of its own whose body the sender streams.
pub fn build(from: &str, name: Option<&str>, out: &Outgoing) -> Result<Mail, String> {
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
    let boundary = format!(
        "ferry-{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    );
    let message = if out.files.is_empty() {
        builder
            .header(ContentType::TEXT_PLAIN)
            .body(out.body.clone())
    } else {
        let parts = MultiPart::mixed()
            .boundary(boundary.clone())
            .singlepart(SinglePart::plain(out.body.clone()));
        builder.multipart(parts)
    }
    .map_err(|e| e.to_string())?;
    let envelope = message.envelope();
    let mail_from = envelope.from().map(|a| a.to_string()).unwrap_or_default();
    let rcpt = envelope.to().iter().map(|a| a.to_string()).collect();
    let mut head = message.formatted();
    let mut pieces = Vec::new();
    if !out.files.is_empty() {
        // The closing delimiter goes after the files.
        let close = format!("--{boundary}--\r\n");
        if !head.ends_with(close.as_bytes()) {
            return Err("the mail's multipart has no closing delimiter".into());
        }
        head.truncate(head.len() - close.len());
        pieces.push(Piece::Bytes(head));
        for file in &out.files {
            let mut part = format!("--{boundary}\r\n").into_bytes();
            part.extend(attachment_head(file)?);
            pieces.push(Piece::Bytes(part));
            pieces.push(Piece::File(file.id));
        }
        pieces.push(Piece::Bytes(close.into_bytes()));
    } else {
        pieces.push(Piece::Bytes(head));
    }
    Ok(Mail {
        from: mail_from,
        to: rcpt,
        pieces,
    })
}

/// An attachment part's headers (name, type, base64), through its blank
/// line: lettre writes them, encoding a name that is not ASCII.
fn attachment_head(file: &OutgoingFile) -> Result<Vec<u8>, String> {
    let content_type = ContentType::parse(&file.content_type)
        .unwrap_or_else(|_| ContentType::parse("application/octet-stream").expect("valid"));
    let empty = Body::new_with_encoding(Vec::new(), ContentTransferEncoding::Base64)
        .map_err(|_| "an empty base64 body".to_owned())?;
    let part = Attachment::new(file.name.clone()).body(empty, content_type);
    let formatted = part.formatted();
    let end = formatted
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("an attachment part without headers")?;
    Ok(formatted[..end + 4].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mail's bytes, with `file` as every stored file's.
    fn whole(mail: &Mail, file: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in &mail.pieces {
            match piece {
                Piece::Bytes(bytes) => out.extend_from_slice(bytes),
                Piece::File(_) => out.extend(base64_lines(file)),
            }
        }
        out
    }

    #[test]
    fn base64_lines_are_76_characters() {
        let bytes: Vec<u8> = (0..=255u8).collect();
        let lines = String::from_utf8(base64_lines(&bytes)).unwrap();
        let lines: Vec<&str> = lines.split_terminator("\r\n").collect();
        assert_eq!(lines.len(), 5);
        assert!(lines[..4].iter().all(|l| l.len() == 76));
        assert!(base64_lines(&[]).is_empty());
    }

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
        let mail = build("alice@example.org", Some("Alice"), &out).unwrap();
        let text = String::from_utf8(whole(&mail, &[])).unwrap();
        assert!(text.contains("Message-ID: <abc@example.org>"));
        assert!(text.contains("In-Reply-To: <parent@example.org>"));
        assert!(text.contains("References: <parent@example.org>"));
        assert!(text.contains("Subject: Hello"));
        assert!(text.contains("From: Alice <alice@example.org>"));
        assert!(text.contains("charset=utf-8") || text.contains("charset=UTF-8"));
        assert_eq!(
            (mail.from.as_str(), &mail.to[..]),
            ("alice@example.org", &["bob@example.org".to_owned()][..])
        );
        assert!(message_id("a@example.org").ends_with("@example.org"));
    }

    #[test]
    fn files_are_attached_by_name_and_type() {
        let out = Outgoing {
            message_id: "m@example.org".into(),
            to: "bob@example.org".into(),
            subject: "report.pdf".into(),
            body: ".a line that starts with a dot".into(),
            thread: None,
            xmpp_id: None,
            files: vec![OutgoingFile {
                id: 7,
                name: "Bericht für Jürgen.pdf".into(),
                content_type: "application/pdf".into(),
            }],
        };
        let pdf: Vec<u8> = b"%PDF-1.4 \x00\x01\xff"
            .iter()
            .copied()
            .cycle()
            .take(1000)
            .collect();
        let mail = build("alice@example.org", None, &out).unwrap();
        assert_eq!(
            mail.pieces.iter().filter(|p| **p == Piece::File(7)).count(),
            1
        );
        let raw = whole(&mail, &pdf);
        let mail = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let part = mail.attachments().next().expect("an attachment");
        use mail_parser::MimeHeaders;
        assert_eq!(part.attachment_name(), Some("Bericht für Jürgen.pdf"));
        assert_eq!(part.content_type().map(|c| c.ctype()), Some("application"));
        assert_eq!(part.contents(), &pdf[..]);
    }
}
