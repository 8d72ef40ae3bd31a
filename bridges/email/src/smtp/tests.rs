//! The client's side of the protocol, against a scripted peer.

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;

fn pair() -> (Submission, DuplexStream) {
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    let io: Box<dyn Io> = Box::new(ours);
    let smtp = Submission {
        stream: BufStream::new(io),
    };
    (smtp, theirs)
}

#[tokio::test]
async fn replies_of_several_lines_and_their_codes() {
    let (mut smtp, mut server) = pair();
    server
        .write_all(b"250-first\r\n250-AUTH PLAIN LOGIN\r\n250 last\r\n451 try later\r\n550 no such user\r\n")
        .await
        .unwrap();
    let (code, text) = smtp.expect(&[250]).await.unwrap();
    assert_eq!(
        (code, text.as_str()),
        (250, "first\nAUTH PLAIN LOGIN\nlast")
    );
    assert_eq!(
        smtp.expect(&[250]).await,
        Err(SendError::Temporary("451 try later".into()))
    );
    assert_eq!(
        smtp.expect(&[250]).await,
        Err(SendError::Permanent("550 no such user".into()))
    );
    server.write_all(b"garbage\r\n").await.unwrap();
    assert!(matches!(
        smtp.expect(&[250]).await,
        Err(SendError::Temporary(_))
    ));
}

#[tokio::test]
async fn data_is_dot_stuffed_and_ended_once() {
    let (mut smtp, mut server) = pair();
    server
        .write_all(b"250 sender ok\r\n250 rcpt ok\r\n354 go\r\n250 queued\r\n")
        .await
        .unwrap();
    let mut data = smtp
        .start("a@example.org", &["b@example.org".into()])
        .await
        .unwrap();
    // A dot at a line's start, also where a write ends a line and the
    // next begins with one.
    data.write(b".first\r\nmiddle .\r\n").await.unwrap();
    data.write(b".").await.unwrap();
    data.write(b"after\r\nno newline").await.unwrap();
    data.finish().await.unwrap();
    drop(smtp);
    let mut sent = String::new();
    server.read_to_string(&mut sent).await.unwrap();
    assert_eq!(
        sent,
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n\
         ..first\r\nmiddle .\r\n..after\r\nno newline\r\n.\r\n"
    );
}
