//! Encryption at rest for foreign passwords (ChaCha20-Poly1305).

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

use super::StoreError;

const NONCE_LEN: usize = 12;

pub struct Cipher(ChaCha20Poly1305);

impl Cipher {
    /// From base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Cipher, StoreError> {
        let bytes = B64
            .decode(text.trim())
            .map_err(|_| StoreError::Key("the key is not base64".into()))?;
        if bytes.len() != 32 {
            return Err(StoreError::Key(format!(
                "the key must be 32 bytes, not {}",
                bytes.len()
            )));
        }
        Ok(Cipher(ChaCha20Poly1305::new(Key::from_slice(&bytes))))
    }

    /// Reads the key file, or creates it (mode 0600) with a fresh key.
    pub fn load_or_create(path: &Path) -> Result<Cipher, StoreError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Cipher::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                let text = B64.encode(key);
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(|e| {
                    StoreError::Key(format!("cannot create {}: {e}", path.display()))
                })?;
                writeln!(file, "{text}").map_err(|e| {
                    StoreError::Key(format!("cannot write {}: {e}", path.display()))
                })?;
                tracing::info!(path = %path.display(), "generated a new store key");
                Cipher::from_base64(&text)
            }
            Err(e) => Err(StoreError::Key(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    pub fn seal(&self, plain: &[u8], bound_to: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plain,
            aad: bound_to.as_bytes(),
        };
        // Encryption fails only for inputs over 256 GiB.
        let sealed = self
            .0
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        B64.encode(out)
    }

    pub fn open(&self, sealed: &str, bound_to: &str) -> Result<Vec<u8>, StoreError> {
        let bytes = B64
            .decode(sealed)
            .map_err(|_| StoreError::Corrupt("secret is not base64".into()))?;
        if bytes.len() < NONCE_LEN {
            return Err(StoreError::Corrupt("secret too short".into()));
        }
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        self.0
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: bound_to.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Corrupt("secret does not decrypt with this key".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_binding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let c = Cipher::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let sealed = c.seal(b"hunter2", "row-a");
        assert!(!sealed.contains("hunter2"));
        assert_eq!(c.open(&sealed, "row-a").unwrap(), b"hunter2");
        assert!(c.open(&sealed, "row-b").is_err());
        let again = Cipher::load_or_create(&path).unwrap();
        assert_eq!(again.open(&sealed, "row-a").unwrap(), b"hunter2");
        assert!(Cipher::from_base64("short").is_err());
    }
}
