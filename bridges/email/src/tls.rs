//! TLS for IMAP and SMTP: rustls with the public web roots.

use std::sync::Arc;

/// The stream under a connection: boxed so that plain and TLS share one
/// type.
pub trait Io:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + std::fmt::Debug
{
}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + std::fmt::Debug> Io for T {}

pub fn config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the default protocol versions are supported")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// `stream` with TLS to `host` on it.
pub async fn wrap<S: Io + 'static>(host: &str, stream: S) -> Result<Box<dyn Io>, String> {
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| format!("`{host}` is not a TLS server name"))?;
    let stream = tokio_rustls::TlsConnector::from(config())
        .connect(name, stream)
        .await
        .map_err(|e| format!("TLS failed: {e}"))?;
    Ok(Box::new(stream))
}
