//! Encryption at rest of a chain's state, with a key the user supplies:
//! XChaCha20-Poly1305 (RustCrypto's audited implementation), a random
//! 192-bit nonce per write (random nonces of this size do not collide in
//! practice), and the state key's name as associated data, so a blob
//! copied to another chain's key does not decrypt there.

use std::fmt;
use std::io;

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

/// The first byte of an encrypted blob; a plain one is JSON and starts with `{`.
const SEALED: u8 = 1;
const NONCE: usize = 24;

/// The cipher of a store configured with a key.
#[derive(Clone)]
pub(crate) struct Cipher(XChaCha20Poly1305);

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher(***)")
    }
}

impl Cipher {
    pub(crate) fn new(key: &[u8; 32]) -> Cipher {
        Cipher(XChaCha20Poly1305::new(Key::from_slice(key)))
    }

    pub(crate) fn seal(&self, plain: &[u8], aad: &[u8]) -> io::Result<Vec<u8>> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .0
            .encrypt(&nonce, Payload { msg: plain, aad })
            .map_err(|_| io::Error::other("cannot encrypt the session state"))?;
        let mut out = Vec::with_capacity(1 + NONCE + sealed.len());
        out.push(SEALED);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Refuses a plain blob: with a key configured, state that is not
    /// sealed with it was written by someone who does not hold the key.
    pub(crate) fn open(&self, blob: &[u8], aad: &[u8]) -> io::Result<Vec<u8>> {
        let bad = |why: &str| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the stored session state {why}"),
            )
        };
        let Some((&SEALED, rest)) = blob.split_first() else {
            return Err(bad("is not encrypted, but this store has an encryption key"));
        };
        if rest.len() < NONCE {
            return Err(bad("is truncated"));
        }
        let (nonce, sealed) = rest.split_at(NONCE);
        self.0
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad })
            .map_err(|_| bad("does not decrypt with this store's key (another key, or tampered with)"))
    }
}

/// A blob read by a store without a key.
pub(crate) fn plain(blob: &[u8]) -> io::Result<&[u8]> {
    if blob.first() == Some(&SEALED) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the stored session state is encrypted; configure the store's encryption key",
        ));
    }
    Ok(blob)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_blob_opens_only_with_its_key_and_its_chain() {
        let c = Cipher::new(&[7; 32]);
        let blob = c.seal(b"{\"t\":\"secret\"}", b"{p:0}:state").unwrap();
        assert!(!blob.windows(6).any(|w| w == b"secret"));
        assert_eq!(c.open(&blob, b"{p:0}:state").unwrap(), b"{\"t\":\"secret\"}");
        assert!(c.open(&blob, b"{p:1}:state").is_err());
        assert!(Cipher::new(&[8; 32]).open(&blob, b"{p:0}:state").is_err());
        assert!(c.open(b"{\"t\":\"x\"}", b"{p:0}:state").is_err());
        assert!(plain(&blob).is_err());
        assert!(c.open(&blob[..10], b"{p:0}:state").is_err());
    }
}
