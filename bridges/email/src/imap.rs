//! IMAP connections (async-imap) over plain TCP, STARTTLS or implicit TLS.

use tokio::net::TcpStream;

use crate::config::TlsMode;
use crate::servers::Server;
use crate::tls::{Io, Trust};

pub type Session = async_imap::Session<Box<dyn Io>>;

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("cannot reach the IMAP server: {0}")]
    Unreachable(String),
    #[error("the IMAP server refused the login: {0}")]
    Refused(String),
}

async fn tls<S: Io + 'static>(
    trust: &Trust,
    host: &str,
    stream: S,
) -> Result<Box<dyn Io>, ImapError> {
    trust
        .wrap(host, stream)
        .await
        .map_err(ImapError::Unreachable)
}

/// Connects and logs in.
pub async fn login(
    server: &Server,
    trust: &Trust,
    username: &str,
    password: &str,
) -> Result<Session, ImapError> {
    let unreachable = |e: std::io::Error| ImapError::Unreachable(e.to_string());
    let tcp = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        TcpStream::connect((server.host.as_str(), server.port)),
    )
    .await
    .map_err(|_| ImapError::Unreachable("timed out".into()))?
    .map_err(unreachable)?;
    let io: Box<dyn Io> = match server.tls {
        TlsMode::Implicit => tls(trust, &server.host, tcp).await?,
        TlsMode::None => Box::new(tcp),
        TlsMode::Starttls => {
            // Greeting and STARTTLS in the clear, then the session over TLS.
            let mut plain = async_imap::Client::new(tcp);
            plain
                .read_response()
                .await
                .map_err(unreachable)?
                .ok_or_else(|| ImapError::Unreachable("no greeting".into()))?;
            plain
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| ImapError::Unreachable(format!("STARTTLS failed: {e}")))?;
            let stream = tls(trust, &server.host, plain.into_inner()).await?;
            let client = async_imap::Client::new(stream);
            return client
                .login(username, password)
                .await
                .map_err(|(e, _)| ImapError::Refused(e.to_string()));
        }
    };
    let mut client = async_imap::Client::new(io);
    client
        .read_response()
        .await
        .map_err(unreachable)?
        .ok_or_else(|| ImapError::Unreachable("no greeting".into()))?;
    client
        .login(username, password)
        .await
        .map_err(|(e, _)| ImapError::Refused(e.to_string()))
}
