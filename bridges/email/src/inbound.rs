//! Mail → XMPP: a received mail as the text the user reads. mail-parser
//! does the MIME (charsets, encodings, HTML to text); this only picks the
//! parts and lists attachments.

use ferry_bridge::{Address, Text};
use mail_parser::{MessageParser, MimeHeaders};

/// Bodies longer than this are cut: one huge mail must not become one huge
/// stanza (servers close streams over their stanza size limit).
const MAX_BODY: usize = 64 * 1024;

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
    let attachments: Vec<String> = message
        .attachments()
        .map(|part| {
            let name = part.attachment_name().unwrap_or("unnamed");
            format!("[attachment: {name}, {} bytes]", part.len())
        })
        .collect();
    if !attachments.is_empty() {
        if !body.is_empty() {
            body.push_str("\n\n");
        }
        body.push_str(&attachments.join("\n"));
    }
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
        thread: message.message_id().map(str::to_owned),
        action: false,
        sent_at: message.date().map(|d| d.to_timestamp()),
        sender_name: name,
        ..Text::default()
    };
    Some((Address::contact(None, &from), text))
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
        assert!(text.body.contains("report.pdf"), "{}", text.body);
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
