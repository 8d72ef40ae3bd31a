//! A raw RFC 5322 mail from the IMAP inbox: MIME, charsets, attachments,
//! to the sender's address and the text the user reads. The body stays
//! bounded and the sender's address has a JID that names it back.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((from, text, _)) = ferry_email::parse_mail(data) else {
        return;
    };
    // The text shown is cut at 64 KiB (then a note); the list of
    // attachments follows it.
    let cut_note = "\n[… the rest of this mail is not shown]";
    let shown = text.body.find("[attachment: ").unwrap_or(text.body.len());
    assert!(
        shown <= 64 * 1024 + cut_note.len() + 2,
        "{shown} bytes shown"
    );
    ferry::fuzzing::named("email", &from);
});
