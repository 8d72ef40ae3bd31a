//! TLS for IMAP and SMTP: rustls with the public web roots and the CAs of
//! the admin's `ca_file`.

use std::path::Path;
use std::sync::{Arc, LazyLock};

use rustls::ClientConfig;

/// The stream under a connection: boxed so that plain and TLS share one
/// type.
pub trait Io:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + std::fmt::Debug
{
}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + std::fmt::Debug> Io for T {}

/// The CAs mail servers' certificates are checked against: one config for
/// the whole bridge, built when it starts.
#[derive(Clone, Debug)]
pub struct Trust(Arc<ClientConfig>);

/// The public roots alone: built once per process, however many configs
/// are read (each deserialized config starts with it).
static PUBLIC: LazyLock<Trust> = LazyLock::new(|| {
    let roots = ferry_bridge::tls::roots(None).expect("the built-in roots are valid");
    Trust(ferry_bridge::tls::client_config(roots).expect("the built-in roots are valid"))
});

impl Trust {
    /// The public roots, and those of `ca_file`.
    pub fn new(ca_file: Option<&Path>) -> Result<Trust, String> {
        let Some(path) = ca_file else {
            return Ok(PUBLIC.clone());
        };
        let roots = ferry_bridge::tls::roots(Some(path))?;
        Ok(Trust(ferry_bridge::tls::client_config(roots)?))
    }

    /// `stream` with TLS to `host` on it.
    pub async fn wrap<S: Io + 'static>(
        &self,
        host: &str,
        stream: S,
    ) -> Result<Box<dyn Io>, String> {
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|_| format!("`{host}` is not a TLS server name"))?;
        let stream = tokio_rustls::TlsConnector::from(self.0.clone())
            .connect(name, stream)
            .await
            .map_err(|e| format!("TLS failed: {e}"))?;
        Ok(Box::new(stream))
    }
}

impl Default for Trust {
    /// The public roots only.
    fn default() -> Trust {
        PUBLIC.clone()
    }
}
