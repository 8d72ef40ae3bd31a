//! TLS clients for backends (feature `tls`): the public web roots plus the
//! CAs of an admin's file, for servers under an internal CA. The one file
//! this crate reads: every backend that speaks TLS needs the same reading
//! of that configuration, and the same refusals of a bad file.

use std::path::Path;
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};

/// The public CAs, and those of `ca_file`; a file without a certificate
/// is refused (a wrong path's typo would otherwise trust nothing new).
pub fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let Some(path) = ca_file else {
        return Ok(roots);
    };
    let refused = |e: &dyn std::fmt::Display| format!("ca_file {}: {e}", path.display());
    let pem = std::fs::read(path).map_err(|e| refused(&e))?;
    let mut added = 0;
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| refused(&e))?;
        roots.add(cert).map_err(|e| refused(&e))?;
        added += 1;
    }
    if added == 0 {
        return Err(refused(&"no certificate in it"));
    }
    Ok(roots)
}

/// A client config that trusts `roots`, without a client certificate.
/// Built once per server or bridge, not per connection: building one
/// copies the whole root store.
pub fn client_config(roots: RootCertStore) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let public = roots(None).unwrap().len();
        assert!(public > 100);
        let dir = std::env::temp_dir().join(format!("ferry-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let refused = roots(Some(&empty)).unwrap_err();
        assert!(refused.contains("no certificate"), "{refused}");
        let missing = roots(Some(&dir.join("missing.pem"))).unwrap_err();
        assert!(missing.contains("missing.pem"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(client_config(roots(None).unwrap()).is_ok());
    }
}
