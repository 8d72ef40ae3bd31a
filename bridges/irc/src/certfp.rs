//! CertFP (SPEC §10): on a network with `sasl_external`, each user logs
//! in by SASL EXTERNAL with a client certificate ferry made for their
//! identity there. The certificate and its key live with the
//! registration's secrets (encrypted at rest by the core); its SHA-256
//! fingerprint, which the user registers with the network's services
//! (NickServ CERT ADD), shows in the network's settings.

use std::sync::Arc;

use ferry_bridge::{Registration, Secret};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// The secret holding the certificate and its key, PEM.
const CERT: &str = "client_cert";

/// Makes a certificate for `registration`.
pub fn make(registration: &mut Registration) -> Result<(), String> {
    let made = rcgen::generate_simple_self_signed(vec!["ferry".to_owned()])
        .map_err(|e| format!("cannot make a certificate: {e}"))?;
    let pem = format!("{}{}", made.cert.pem(), made.key_pair.serialize_pem());
    registration.secrets.insert(CERT.into(), Secret::new(pem));
    Ok(())
}

/// Copies the certificate of `from`, if any, to `to`.
pub fn carry(from: &Registration, to: &mut Registration) {
    if let Some(cert) = from.secret(CERT) {
        to.secrets.insert(CERT.into(), cert.clone());
    }
}

/// The certificate's SHA-256 fingerprint (of its DER form), lowercase hex.
pub fn fingerprint(registration: &Registration) -> Option<String> {
    let (cert, _) = parts(registration)?;
    let digest = Sha256::digest(cert.as_ref());
    Some(digest.iter().map(|b| format!("{b:02x}")).collect())
}

fn parts(registration: &Registration) -> Option<(CertificateDer<'static>, PrivateKeyDer<'static>)> {
    let pem = registration.secret(CERT)?.expose().as_bytes();
    let cert = rustls_pemfile::certs(&mut &pem[..]).next()?.ok()?;
    let key = rustls_pemfile::private_key(&mut &pem[..]).ok()??;
    Some((cert, key))
}

/// A TLS config like `base`'s roots that presents the user's certificate;
/// `None` when the registration has none.
pub fn client_config(
    roots: rustls::RootCertStore,
    registration: &Registration,
) -> Option<Arc<rustls::ClientConfig>> {
    let (cert, key) = parts(registration)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![cert], key);
    match config {
        Ok(config) => Some(Arc::new(config)),
        Err(e) => {
            tracing::warn!(error = %e, "the client certificate cannot be used");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_made_certificate_has_a_stable_fingerprint_and_a_usable_key() {
        let mut registration = Registration::default();
        assert_eq!(fingerprint(&registration), None);
        make(&mut registration).unwrap();
        let first = fingerprint(&registration).unwrap();
        assert_eq!(first.len(), 64);
        assert!(first
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(fingerprint(&registration), Some(first.clone()));
        assert!(client_config(rustls::RootCertStore::empty(), &registration).is_some());
        // Another user's is another.
        let mut other = Registration::default();
        make(&mut other).unwrap();
        assert_ne!(fingerprint(&other), Some(first));
    }
}
