//! SMTP submission (RFC 5321, STARTTLS RFC 3207, AUTH PLAIN/LOGIN RFC
//! 4954) that streams a mail's DATA as it is read. Ours, not lettre's
//! transport: lettre sends a mail only from its whole bytes, so a 20 MB
//! attachment was in memory three times over (the file, its base64, the
//! formatted mail). lettre still builds the headers (`compose`).

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;

use crate::config::TlsMode;
use crate::servers::Server;
use crate::tls::{Io, Trust};

/// How a send failed: worth retrying, or final.
#[derive(Debug, PartialEq, Eq)]
pub enum SendError {
    /// A 4xx answer or a connection problem: try again later.
    Temporary(String),
    /// A 5xx answer: the server will not take it.
    Permanent(String),
}

/// A reply line is at most 512 bytes (RFC 5321 §4.5.3.1.5); longer ones
/// are a server gone wrong.
const MAX_REPLY_LINE: usize = 4096;
/// Lines of one reply, at most.
const MAX_REPLY_LINES: usize = 100;
/// How long any one reply may take (RFC 5321 §4.5.3.2 asks for minutes
/// after DATA; the servers users name answer in seconds).
const REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// A logged-in submission connection.
pub struct Submission {
    stream: BufStream<Box<dyn Io>>,
}

fn temporary(e: impl std::fmt::Display) -> SendError {
    SendError::Temporary(e.to_string())
}

/// A reply's code, and its text (the lines joined).
type Reply = (u16, String);

impl Submission {
    /// Connects, says EHLO, starts TLS as `server` asks, and logs in.
    pub async fn open(
        server: &Server,
        trust: &Trust,
        username: &str,
        password: &str,
    ) -> Result<Self, SendError> {
        let tcp = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            TcpStream::connect((server.host.as_str(), server.port)),
        )
        .await
        .map_err(|_| temporary("cannot reach the SMTP server: timed out"))?
        .map_err(|e| temporary(format!("cannot reach the SMTP server: {e}")))?;
        let helo = match tcp.local_addr() {
            Ok(a) if a.is_ipv6() => format!("[IPv6:{}]", a.ip()),
            Ok(a) => format!("[{}]", a.ip()),
            Err(_) => "[127.0.0.1]".into(),
        };
        let io: Box<dyn Io> = match server.tls {
            TlsMode::Implicit => trust.wrap(&server.host, tcp).await.map_err(temporary)?,
            _ => Box::new(tcp),
        };
        let mut smtp = Submission {
            stream: BufStream::new(io),
        };
        smtp.expect(&[220]).await?;
        let mut offered = smtp.command(&format!("EHLO {helo}"), &[250]).await?.1;
        if server.tls == TlsMode::Starttls {
            smtp.command("STARTTLS", &[220]).await?;
            let tcp = smtp.stream.into_inner();
            let io = trust.wrap(&server.host, tcp).await.map_err(temporary)?;
            smtp = Submission {
                stream: BufStream::new(io),
            };
            offered = smtp.command(&format!("EHLO {helo}"), &[250]).await?.1;
        }
        smtp.login(&offered, username, password).await?;
        Ok(smtp)
    }

    /// AUTH PLAIN where offered, else LOGIN; a server that offers neither
    /// is tried without.
    async fn login(
        &mut self,
        offered: &str,
        username: &str,
        password: &str,
    ) -> Result<(), SendError> {
        let mechanisms: Vec<String> = offered
            .lines()
            .filter_map(|l| l.trim().strip_prefix("AUTH").map(str::to_owned))
            .flat_map(|l| {
                l.split([' ', '='])
                    .map(str::to_ascii_uppercase)
                    .collect::<Vec<_>>()
            })
            .collect();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        if mechanisms.iter().any(|m| m == "PLAIN") {
            let token = b64(&format!("\0{username}\0{password}"));
            self.secret_command(&format!("AUTH PLAIN {token}"), &[235])
                .await?;
        } else if mechanisms.iter().any(|m| m == "LOGIN") {
            self.command("AUTH LOGIN", &[334]).await?;
            self.secret_command(&b64(username), &[334]).await?;
            self.secret_command(&b64(password), &[235]).await?;
        }
        Ok(())
    }

    /// MAIL FROM, RCPT TO each, DATA: the mail's bytes may follow.
    pub async fn start(&mut self, from: &str, to: &[String]) -> Result<Data<'_>, SendError> {
        self.command(&format!("MAIL FROM:<{from}>"), &[250]).await?;
        for rcpt in to {
            self.command(&format!("RCPT TO:<{rcpt}>"), &[250, 251])
                .await?;
        }
        self.command("DATA", &[354]).await?;
        Ok(Data {
            smtp: self,
            line_start: true,
        })
    }

    pub async fn quit(mut self) {
        let _ = self.command("QUIT", &[221]).await;
    }

    async fn command(&mut self, line: &str, ok: &[u16]) -> Result<Reply, SendError> {
        self.write_line(line).await?;
        self.expect(ok).await
    }

    /// A command that holds a credential: a refusal never repeats it.
    async fn secret_command(&mut self, line: &str, ok: &[u16]) -> Result<Reply, SendError> {
        self.write_line(line).await?;
        self.expect(ok).await.map_err(|e| match e {
            SendError::Permanent(text) => SendError::Permanent(format!("login refused: {text}")),
            SendError::Temporary(text) => SendError::Temporary(format!("login failed: {text}")),
        })
    }

    async fn write_line(&mut self, line: &str) -> Result<(), SendError> {
        self.stream
            .write_all(line.as_bytes())
            .await
            .map_err(temporary)?;
        self.stream.write_all(b"\r\n").await.map_err(temporary)?;
        self.stream.flush().await.map_err(temporary)
    }

    /// The next reply, which must have one of the `ok` codes: a 4xx is
    /// temporary, a 5xx permanent.
    async fn expect(&mut self, ok: &[u16]) -> Result<Reply, SendError> {
        let (code, text) = tokio::time::timeout(REPLY_TIMEOUT, self.reply())
            .await
            .map_err(|_| temporary("the SMTP server did not answer"))??;
        match code {
            code if ok.contains(&code) => Ok((code, text)),
            400..=499 => Err(SendError::Temporary(format!("{code} {text}"))),
            _ => Err(SendError::Permanent(format!("{code} {text}"))),
        }
    }

    async fn reply(&mut self) -> Result<Reply, SendError> {
        let mut text = String::new();
        for _ in 0..MAX_REPLY_LINES {
            let mut line = Vec::new();
            let read = (&mut self.stream)
                .take(MAX_REPLY_LINE as u64)
                .read_until(b'\n', &mut line)
                .await
                .map_err(temporary)?;
            if read == 0 {
                return Err(temporary("the SMTP server closed the connection"));
            }
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end();
            let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
            let (Some(code), more) = (code, line.as_bytes().get(3) == Some(&b'-')) else {
                return Err(temporary(format!("not an SMTP reply: {line:?}")));
            };
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(line.get(4..).unwrap_or(""));
            if !more {
                return Ok((code, text));
            }
        }
        Err(temporary("an SMTP reply without end"))
    }
}

/// A mail's DATA being written: lines that start with a dot get another
/// (RFC 5321 §4.5.2), so that no line of the mail ends it early.
pub struct Data<'a> {
    smtp: &'a mut Submission,
    line_start: bool,
}

impl Data<'_> {
    pub async fn write(&mut self, mut bytes: &[u8]) -> Result<(), SendError> {
        let stream = &mut self.smtp.stream;
        while !bytes.is_empty() {
            if self.line_start && bytes[0] == b'.' {
                stream.write_all(b".").await.map_err(temporary)?;
            }
            let end = bytes
                .iter()
                .position(|b| *b == b'\n')
                .map_or(bytes.len(), |i| i + 1);
            stream.write_all(&bytes[..end]).await.map_err(temporary)?;
            self.line_start = bytes[end - 1] == b'\n';
            bytes = &bytes[end..];
        }
        Ok(())
    }

    /// Ends the DATA; the server's answer says whether it took the mail.
    pub async fn finish(self) -> Result<(), SendError> {
        let end: &[u8] = if self.line_start {
            b".\r\n"
        } else {
            b"\r\n.\r\n"
        };
        let stream = &mut self.smtp.stream;
        stream.write_all(end).await.map_err(temporary)?;
        stream.flush().await.map_err(temporary)?;
        self.smtp.expect(&[250]).await.map(|_| ())
    }
}

/// Logs in (EHLO, AUTH) without sending anything.
pub async fn check(
    server: &Server,
    trust: &Trust,
    username: &str,
    password: &str,
) -> Result<(), SendError> {
    Submission::open(server, trust, username, password)
        .await?
        .quit()
        .await;
    Ok(())
}

#[cfg(test)]
mod tests;
