//! Mail → XMPP: a received mail as the text the user reads. mail-parser
//! does the MIME (charsets, encodings, HTML to text); this only picks the
//! parts and hands attachments on as files.

use std::sync::Arc;

use ferry_bridge::{Address, File, FileContent, Text};
use mail_parser::{MessageParser, MimeHeaders};

/// Bodies longer than this are cut: one huge mail must not become one huge
/// stanza (servers close streams over their stanza size limit).
const MAX_BODY: usize = 64 * 1024;

/// Attachments carried from one mail; a mail of thousands of parts must
/// not become thousands of messages.
pub(crate) const MAX_FILES: usize = 20;

/// A mail's part as a file: its name, type and bytes.
fn file(part: &mail_parser::MessagePart<'_>) -> File {
    let (name, content_type) = name_and_type(part);
    let data: Arc<[u8]> = Arc::from(part.contents());
    File {
        name,
        content_type,
        size: data.len() as u64,
        content: FileContent::Bytes(data),
    }
}

/// The name and type a part's MIME headers (an IMAP `[n.MIME]` section)
/// give it.
pub(crate) fn described(head: &[u8]) -> (String, String) {
    match MessageParser::default().parse(head) {
        Some(message) => name_and_type(message.root_part()),
        None => (
            "application.octet-stream".into(),
            "application/octet-stream".into(),
        ),
    }
}

/// A part's name (made up from the type where the part has none, as for
/// most inline images) and type.
fn name_and_type(part: &mail_parser::MessagePart<'_>) -> (String, String) {
    let (ctype, subtype) = part
        .content_type()
        .map(|c| {
            (
                c.ctype().to_ascii_lowercase(),
                c.subtype().map(str::to_ascii_lowercase),
            )
        })
        .unwrap_or_else(|| ("application".into(), Some("octet-stream".into())));
    let subtype = subtype.unwrap_or_else(|| "octet-stream".into());
    let name: String = part
        .attachment_name()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\'))
        .take(200)
        .collect();
    let name = match name.trim() {
        "" => format!("{ctype}.{subtype}"),
        name => name.to_owned(),
    };
    (name, format!("{ctype}/{subtype}"))
}

/// The sender and the text of a raw mail, with the sender's name as the
/// From header gives it; `None` when it has no sender address to answer to.
pub fn parse(raw: &[u8]) -> Option<(Address, Text)> {
    let message = MessageParser::default().parse(raw)?;
    let sender = message.from()?.first()?;
    let from = sender.address()?.to_ascii_lowercase();
    let name = sender
        .name()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    // An address a reply could not go to (no @domain, control characters)
    // is none: as a JID it would name another address, or none at all.
    crate::address::validate(&from).ok()?;
    let mut body = message
        .body_text(0)
        .map(|b| b.into_owned())
        .unwrap_or_default();
    if body.len() > MAX_BODY {
        let mut cut = MAX_BODY;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        body.truncate(cut);
        body.push_str("\n[… the rest of this mail is not shown]");
    }
    // Attachments and inline images go to the core, which uploads them
    // or lists them in the text (SPEC §8).
    let files = message.attachments().take(MAX_FILES).map(file).collect();
    // An HTML part's styles, beside the text (SPEC §9): only a real HTML
    // part (mail-parser makes one up from a text part).
    let styled = message
        .html_bodies()
        .find(|part| part.is_text_html())
        .and_then(|part| part.text_contents())
        .and_then(crate::html::runs);
    let text = Text {
        body,
        styled,
        // Always a subject (maybe empty): it makes the message `normal`.
        subject: Some(message.subject().unwrap_or("").to_owned()),
        thread: thread_of(&message),
        action: false,
        sent_at: message.date().map(|d| d.to_timestamp()),
        sender_name: name,
        files,
        ..Text::default()
    };
    Some((Address::contact(None, &from), text))
}

/// The conversation a mail belongs to, as `<thread/>` (SPEC §4: from
/// the Message-ID chain): the first mail of its References, else the one
/// it answers, else itself. A whole conversation is one XMPP thread, and
/// a reply in it refers to that first mail (mail clients thread by it).
fn thread_of(message: &mail_parser::Message) -> Option<String> {
    let first = |value: &mail_parser::HeaderValue| {
        let ids = value.as_text_list()?;
        ids.first().map(|id| id.to_string())
    };
    first(message.references())
        .or_else(|| first(message.in_reply_to()))
        .or_else(|| message.message_id().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_html_latin1_and_attachments() {
        let plain = b"From: Bob <Bob@Example.org>\r\nSubject: Hi\r\nMessage-ID: <m1@example.org>\r\n\r\nHello there\r\n";
        let (from, text) = parse(plain).unwrap();
        assert_eq!(from.name, "bob@example.org");
        assert_eq!(text.sender_name.as_deref(), Some("Bob"));
        assert_eq!(text.subject.as_deref(), Some("Hi"));
        assert_eq!(text.thread.as_deref(), Some("m1@example.org"));
        // A reply in a conversation: the thread is its first mail.
        let reply = b"From: b@example.org\r\nMessage-ID: <m3@x>\r\nIn-Reply-To: <m2@x>\r\nReferences: <m1@x> <m2@x>\r\n\r\nok\r\n";
        assert_eq!(parse(reply).unwrap().1.thread.as_deref(), Some("m1@x"));
        let answer =
            b"From: b@example.org\r\nMessage-ID: <m2@x>\r\nIn-Reply-To: <m1@x>\r\n\r\nok\r\n";
        assert_eq!(parse(answer).unwrap().1.thread.as_deref(), Some("m1@x"));
        assert!(text.body.contains("Hello there"));

        let html =
            b"From: b@example.org\r\nContent-Type: text/html\r\n\r\n<p>Hello <b>world</b></p>";
        let (_, text) = parse(html).unwrap();
        assert!(text.body.contains("Hello world"), "{}", text.body);
        assert!(!text.body.contains('<'));

        let latin1 = b"From: b@example.org\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9\r\n";
        assert!(parse(latin1).unwrap().1.body.contains("Café"));

        let mixed = b"From: b@example.org\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n";
        let (_, text) = parse(mixed).unwrap();
        assert!(text.body.contains("see attached"));
        assert_eq!(text.files.len(), 1);
        assert_eq!(text.files[0].name, "report.pdf");
        assert_eq!(text.files[0].content_type, "application/pdf");
        assert_eq!(
            text.files[0].content,
            FileContent::Bytes(Arc::from(&b"%PDF-1.4\n"[..]))
        );
    }

    #[test]
    fn garbage_and_huge_mail_do_not_break() {
        assert!(parse(b"").is_none());
        assert!(parse(b"\x00\xff\xfe garbage").is_none());
        let mut huge = b"From: b@example.org\r\n\r\n".to_vec();
        huge.extend(std::iter::repeat_n(b'x', 200_000));
        let (_, text) = parse(&huge).unwrap();
        assert!(text.body.len() < 70_000);
    }

    /// Found by fuzzing: `m0%example.org` became a contact whose JID
    /// names m0@example.org.
    #[test]
    fn a_sender_that_is_not_a_mailbox_is_none() {
        for from in ["<m0%example.org>", "<m0>", "<a\x01b@example.org>"] {
            let mail = format!("From: {from}\r\n\r\nhello\r\n");
            assert!(parse(mail.as_bytes()).is_none(), "{from}");
        }
    }
}
