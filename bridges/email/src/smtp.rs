//! SMTP submission with lettre, and what its errors mean for the outbox.

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::TlsMode;
use crate::servers::Server;

pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// How a send failed: worth retrying, or final.
#[derive(Debug, PartialEq, Eq)]
pub enum SendError {
    /// A 4xx answer or a connection problem: try again later.
    Temporary(String),
    /// A 5xx answer: the server will not take it.
    Permanent(String),
}

pub fn transport(server: &Server, username: &str, password: &str) -> Result<Transport, String> {
    let tls = |host: &str| TlsParameters::new(host.to_owned()).map_err(|e| e.to_string());
    let tls = match server.tls {
        TlsMode::None => Tls::None,
        TlsMode::Starttls => Tls::Required(tls(&server.host)?),
        TlsMode::Implicit => Tls::Wrapper(tls(&server.host)?),
    };
    Ok(
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.clone())
            .port(server.port)
            .tls(tls)
            .credentials(Credentials::new(username.to_owned(), password.to_owned()))
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build(),
    )
}

fn classify(e: lettre::transport::smtp::Error) -> SendError {
    let text = e.to_string();
    if e.is_permanent() {
        SendError::Permanent(text)
    } else {
        SendError::Temporary(text)
    }
}

/// Logs in (EHLO, AUTH) without sending anything.
pub async fn check(transport: &Transport) -> Result<(), SendError> {
    match transport.test_connection().await {
        Ok(true) => Ok(()),
        Ok(false) => Err(SendError::Temporary(
            "the server closed the connection".into(),
        )),
        Err(e) => Err(classify(e)),
    }
}

pub async fn send(
    transport: &Transport,
    envelope: &lettre::address::Envelope,
    raw: &[u8],
) -> Result<(), SendError> {
    transport
        .send_raw(envelope, raw)
        .await
        .map(|_| ())
        .map_err(classify)
}
