//! The IRC line codec. Ours, because the `irc` crate's fails the whole
//! stream on one non-UTF-8 byte or an empty line and has no length limit:
//! here a line is at most `MAX_LINE` bytes (longer ones are dropped whole),
//! empty lines are skipped, and bytes that are not UTF-8 are decoded as
//! windows-1252, the encoding old IRC clients send. Decoding never fails.

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// 512 bytes of message plus 8191 of IRCv3 tags.
pub const MAX_LINE: usize = 512 + 8191;
/// What we send: 512 bytes with the CR LF, after the tags (their own
/// limit is `tags::MAX_CLIENT_TAGS`, kept where they are made).
pub(crate) const MAX_OUT: usize = 510;

/// Whether `word` can go as one middle argument of a line: not empty, no
/// leading `:`, no space, and nothing the codec refuses (CR, LF, NUL: a
/// CR or LF would end the line and start another command).
pub fn is_argument(word: &str) -> bool {
    !word.is_empty() && !word.starts_with(':') && !word.contains([' ', '\r', '\n', '\0'])
}

#[derive(Debug)]
pub struct LineCodec {
    /// Inside an overlong line: drop bytes until the next newline.
    discarding: bool,
    /// How a line that is not UTF-8 is read (a user's `encoding_in`).
    fallback: &'static encoding_rs::Encoding,
}

impl Default for LineCodec {
    fn default() -> Self {
        LineCodec::reading(encoding_rs::WINDOWS_1252)
    }
}

impl LineCodec {
    /// A codec reading lines that are not UTF-8 as `fallback`.
    pub fn reading(fallback: &'static encoding_rs::Encoding) -> Self {
        LineCodec {
            discarding: false,
            fallback,
        }
    }
}

/// UTF-8 if it is, `fallback` otherwise.
fn decode(bytes: &[u8], fallback: &'static encoding_rs::Encoding) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => fallback.decode_without_bom_handling(bytes).0.into_owned(),
    }
}

impl Decoder for LineCodec {
    type Item = String;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<String>, Self::Error> {
        loop {
            let Some(end) = buf.iter().position(|b| *b == b'\n') else {
                if buf.len() > MAX_LINE {
                    tracing::warn!(bytes = buf.len(), "overlong IRC line dropped");
                    buf.clear();
                    self.discarding = true;
                }
                return Ok(None);
            };
            let line = buf.split_to(end + 1);
            if std::mem::take(&mut self.discarding) || line.len() > MAX_LINE + 2 {
                continue;
            }
            let mut bytes = &line[..line.len() - 1];
            while let [rest @ .., b'\r'] = bytes {
                bytes = rest;
            }
            if bytes.iter().all(|b| *b == b' ') {
                continue;
            }
            return Ok(Some(decode(bytes, self.fallback)));
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<String>, Self::Error> {
        let line = self.decode(buf)?;
        if line.is_none() {
            // A last line without its newline is dropped: the peer died
            // mid-line and what it sent is incomplete.
            buf.advance(buf.len());
        }
        Ok(line)
    }
}

/// Why a line cannot be sent.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("a line may not contain CR, LF or NUL")]
    Injection,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Encoder<String> for LineCodec {
    type Error = EncodeError;

    fn encode(&mut self, line: String, buf: &mut BytesMut) -> Result<(), EncodeError> {
        // The last guard against command injection: whatever built the
        // line, a CR, LF or NUL in it would start another command.
        if line.contains(['\r', '\n', '\0']) {
            return Err(EncodeError::Injection);
        }
        // The last guard against a line the server would refuse or close
        // the connection over (ngircd: "Request too long"): whatever
        // built it, it goes cut (a topic, a reason, an away note).
        let tags = crate::tags::section_len(&line);
        let line = if line.len() - tags > MAX_OUT {
            tracing::warn!(bytes = line.len(), "overlong IRC line cut to 512 bytes");
            crate::fit::cut(&line, tags + MAX_OUT)
        } else {
            &line
        };
        buf.reserve(line.len() + 2);
        buf.extend_from_slice(line.as_bytes());
        buf.extend_from_slice(b"\r\n");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines(input: &[u8]) -> Vec<String> {
        let mut codec = LineCodec::default();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(line) = codec.decode(&mut buf).unwrap() {
            out.push(line);
        }
        out
    }

    #[test]
    fn hostile_input() {
        assert_eq!(
            lines(b"PING :a\r\n\r\n\n  \r\nPING :b\n"),
            ["PING :a", "PING :b"]
        );
        // windows-1252: 0xe9 is e-acute, 0x80 the euro sign.
        assert_eq!(
            lines(b":n PRIVMSG me :caf\xe9 \x80\r\n"),
            [":n PRIVMSG me :café €"]
        );
        assert_eq!(lines(b"a\0b\r\n"), ["a\0b"]);
        let mut long = vec![b'x'; MAX_LINE + 100];
        long.extend_from_slice(b"\r\nPING :ok\r\n");
        assert_eq!(lines(&long), ["PING :ok"]);
        assert_eq!(lines(b"no newline yet"), Vec::<String>::new());
    }

    #[test]
    fn overlong_line_split_across_reads_is_dropped_whole() {
        let mut codec = LineCodec::default();
        let mut buf = BytesMut::from(&vec![b'x'; MAX_LINE + 1][..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b"tail of it\r\nPING :next\r\n");
        assert_eq!(
            codec.decode(&mut buf).unwrap().as_deref(),
            Some("PING :next")
        );
    }

    #[test]
    fn encoding_refuses_injection() {
        let mut codec = LineCodec::default();
        let mut buf = BytesMut::new();
        assert!(codec
            .encode("PRIVMSG a :x\r\nQUIT".into(), &mut buf)
            .is_err());
        codec.encode("PRIVMSG a :x".into(), &mut buf).unwrap();
        assert_eq!(&buf[..], b"PRIVMSG a :x\r\n");
        let mut buf = BytesMut::new();
        codec
            .encode(format!("TOPIC #c :{}", "é".repeat(400)), &mut buf)
            .unwrap();
        assert!(buf.len() <= 512 && buf.ends_with(b"\r\n"), "{}", buf.len());
        assert!(std::str::from_utf8(&buf).is_ok());
        // Tags have a budget of their own: the message keeps its 512.
        let mut buf = BytesMut::new();
        let tagged = format!("@label=f1 PRIVMSG #c :{}", "x".repeat(600));
        codec.encode(tagged, &mut buf).unwrap();
        assert_eq!(buf.len(), "@label=f1 ".len() + 512);
    }

    proptest! {
        #[test]
        fn decoding_never_fails(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 0..20)) {
            let mut codec = LineCodec::default();
            let mut buf = BytesMut::new();
            for chunk in chunks {
                buf.extend_from_slice(&chunk);
                while let Some(line) = codec.decode(&mut buf).unwrap() {
                    prop_assert!(!line.contains('\n'));
                    prop_assert!(line.len() <= MAX_LINE * 3);
                }
            }
        }
    }
}
