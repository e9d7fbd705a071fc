//! Custode's key hierarchy and the sealing of personal payloads.
//!
//! - A **master key** (32 bytes, kept outside every database) wraps every other
//!   key. Rotating it re-wraps those keys and touches no payload.
//! - Each data subject has its own **data key**; personal payloads are sealed
//!   with XChaCha20-Poly1305 under it, bound to the subject and category by the
//!   associated data. Destroying a subject's data key makes every copy of its
//!   payloads unreadable, backups included (crypto-shredding).
//! - An **index key** makes identifiers (e-mail, phone, ...) searchable as
//!   HMAC-SHA256 values without storing them in clear.
//! - A **signing key** (Ed25519) signs audit checkpoints.
//!
//! Pure: this crate holds no state and does no I/O; where keys live is the
//! store's business.

pub mod totp;

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

pub use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Bytes a sealed payload adds to its plaintext: the nonce and the tag.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// Errors of the key hierarchy.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    /// A sealed value did not open: wrong key, altered bytes, or wrong
    /// associated data. The data of an erased subject end here.
    #[error("the sealed data cannot be opened with this key (wrong key, or altered data)")]
    Unseal,
    /// Key material of the wrong length or form.
    #[error("invalid key material: {0}")]
    InvalidKey(&'static str),
    /// The operating system gave no randomness.
    #[error("the system random number generator failed")]
    Random,
}

/// Fills a buffer with random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|_| CryptoError::Random)?;
    Ok(buf)
}

/// A 256-bit secret key, wiped from memory when dropped and never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<secret>)")
    }
}

impl Key {
    /// A fresh random key.
    pub fn generate() -> Result<Key, CryptoError> {
        random_bytes::<32>().map(Key)
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Key, CryptoError> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| CryptoError::InvalidKey("a key is exactly 32 bytes"))?;
        Ok(Key(arr))
    }

    /// A key from 64 hexadecimal digits (surrounding white space ignored).
    pub fn from_hex(text: &str) -> Result<Key, CryptoError> {
        let mut bytes = hex::decode(text.trim())
            .map_err(|_| CryptoError::InvalidKey("a key is 64 hexadecimal digits"))?;
        let key = Key::from_bytes(&bytes);
        bytes.zeroize();
        key
    }

    /// The key as 64 hexadecimal digits, for the key file.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The raw bytes; only to wrap this key under another.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// A short public fingerprint that names the key without revealing it.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest([b"custode key fingerprint v1".as_slice(), &self.0].concat());
        hex::encode(&digest[..8])
    }

    /// Seals `plaintext` under this key, bound to `aad`. The output is
    /// `nonce || ciphertext || tag`; a random 192-bit nonce makes reuse
    /// negligible without any counter to keep.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.seal_under(random_bytes::<NONCE_LEN>()?, plaintext, aad)
    }

    /// Like [`Key::seal`], with the nonce taken from a [`Nonces`] buffer:
    /// one system call serves many seals.
    pub fn seal_with(
        &self,
        nonces: &mut Nonces,
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.seal_under(nonces.next()?, plaintext, aad)
    }

    fn seal_under(
        &self,
        nonce: [u8; NONCE_LEN],
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        // One buffer, encrypted where it lies: no second copy of the text.
        let mut out = Vec::with_capacity(SEAL_OVERHEAD + plaintext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = XChaCha20Poly1305::new((&self.0).into())
            .encrypt_in_place_detached(XNonce::from_slice(&nonce), aad, &mut out[NONCE_LEN..])
            .map_err(|_| CryptoError::Unseal)?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Opens what [`Key::seal`] produced with the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.open_owned(sealed.to_vec(), aad)
    }

    /// [`Key::open`] that decrypts in the sealed buffer itself and returns
    /// it shortened to the plaintext: a read of many records allocates
    /// nothing more per record. On failure the buffer is wiped, so no
    /// partly decrypted bytes linger.
    pub fn open_owned(&self, mut sealed: Vec<u8>, aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < SEAL_OVERHEAD {
            return Err(CryptoError::Unseal);
        }
        let text_end = sealed.len() - TAG_LEN;
        let (head, tag) = sealed.split_at_mut(text_end);
        let (nonce, text) = head.split_at_mut(NONCE_LEN);
        let opened = XChaCha20Poly1305::new((&self.0).into()).decrypt_in_place_detached(
            XNonce::from_slice(nonce),
            aad,
            text,
            Tag::from_slice(tag),
        );
        if opened.is_err() {
            sealed.zeroize();
            return Err(CryptoError::Unseal);
        }
        sealed.truncate(text_end);
        sealed.drain(..NONCE_LEN);
        Ok(sealed)
    }

    /// Wraps another key under this one, bound to a label (e.g. the subject
    /// id), so a wrapped key cannot be moved to another subject.
    pub fn wrap(&self, key: &Key, label: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.seal(
            key.expose(),
            &[b"custode wrap v1:".as_slice(), label].concat(),
        )
    }

    /// Unwraps what [`Key::wrap`] produced with the same label.
    pub fn unwrap_key(&self, wrapped: &[u8], label: &[u8]) -> Result<Key, CryptoError> {
        let mut bytes = self.open(wrapped, &[b"custode wrap v1:".as_slice(), label].concat())?;
        let key = Key::from_bytes(&bytes);
        bytes.zeroize();
        key
    }
}

/// Random nonces drawn from the operating system a few thousand bytes at a
/// time. Each nonce is handed out once; 192 random bits make a collision
/// between any two seals negligible.
#[derive(Default)]
pub struct Nonces {
    buf: Vec<u8>,
    at: usize,
}

impl Nonces {
    /// An empty buffer; it fills on first use.
    pub fn new() -> Self {
        Nonces::default()
    }

    fn next(&mut self) -> Result<[u8; NONCE_LEN], CryptoError> {
        if self.at + NONCE_LEN > self.buf.len() {
            self.buf.resize(NONCE_LEN * 256, 0);
            getrandom::fill(&mut self.buf).map_err(|_| CryptoError::Random)?;
            self.at = 0;
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&self.buf[self.at..self.at + NONCE_LEN]);
        // Wipe what was handed out, so a nonce cannot be handed out twice.
        self.buf[self.at..self.at + NONCE_LEN].fill(0);
        self.at += NONCE_LEN;
        Ok(nonce)
    }
}

/// Keyed hashes of identifiers, so that a subject can be found by e-mail or
/// phone while neither is stored in clear.
pub struct IdentifierHasher {
    key: Key,
}

impl IdentifierHasher {
    /// A hasher under the index key.
    pub fn new(key: Key) -> Self {
        IdentifierHasher { key }
    }

    /// HMAC-SHA256 of the identifier kind and its normalised value.
    pub fn hash(&self, kind: &str, normalised_value: &str) -> [u8; 32] {
        // Cannot fail: HMAC accepts keys of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.key.expose())
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(normalised_value.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Compares two byte strings in time independent of where they differ; for
/// tokens, codes and MACs.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An Ed25519 signing key from a 32-byte seed held as a [`Key`].
pub fn signing_key(seed: &Key) -> SigningKey {
    SigningKey::from_bytes(seed.expose())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_open_only_with_the_same_key_and_binding() -> Result<(), CryptoError> {
        let key = Key::generate()?;
        let sealed = key.seal(b"mario.rossi@example.com", b"subject-1|contact")?;
        assert_eq!(sealed.len(), 23 + SEAL_OVERHEAD);
        assert_eq!(
            key.open(&sealed, b"subject-1|contact")?,
            b"mario.rossi@example.com"
        );
        assert_eq!(
            key.open(&sealed, b"subject-2|contact"),
            Err(CryptoError::Unseal)
        );
        assert_eq!(
            Key::generate()?.open(&sealed, b"subject-1|contact"),
            Err(CryptoError::Unseal)
        );
        let mut altered = sealed.clone();
        altered[30] ^= 1;
        assert_eq!(
            key.open(&altered, b"subject-1|contact"),
            Err(CryptoError::Unseal)
        );
        Ok(())
    }

    #[test]
    fn buffered_nonces_are_never_reused() -> Result<(), CryptoError> {
        let key = Key::generate()?;
        let mut nonces = Nonces::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let sealed = key.seal_with(&mut nonces, b"x", b"aad")?;
            assert!(seen.insert(sealed[..NONCE_LEN].to_vec()), "nonce reused");
            assert_eq!(key.open(&sealed, b"aad")?, b"x");
        }
        Ok(())
    }

    #[test]
    fn wrapped_keys_are_bound_to_their_label() -> Result<(), CryptoError> {
        let master = Key::generate()?;
        let data = Key::generate()?;
        let wrapped = master.wrap(&data, b"subject-1")?;
        assert_eq!(master.unwrap_key(&wrapped, b"subject-1")?, data);
        assert!(master.unwrap_key(&wrapped, b"subject-2").is_err());
        Ok(())
    }

    #[test]
    fn keys_never_print_and_round_trip_as_hex() -> Result<(), CryptoError> {
        let key = Key::generate()?;
        assert_eq!(format!("{key:?}"), "Key(<secret>)");
        assert_eq!(Key::from_hex(&key.to_hex())?, key);
        assert!(Key::from_hex("abc").is_err());
        assert_eq!(key.fingerprint().len(), 16);
        Ok(())
    }

    #[test]
    fn identifier_hashes_depend_on_key_and_kind() -> Result<(), CryptoError> {
        let k = Key::generate()?;
        let h = IdentifierHasher::new(k.clone());
        assert_eq!(
            h.hash("email", "a@b.it"),
            IdentifierHasher::new(k).hash("email", "a@b.it")
        );
        assert_ne!(h.hash("email", "a@b.it"), h.hash("phone", "a@b.it"));
        assert_ne!(
            h.hash("email", "a@b.it"),
            IdentifierHasher::new(Key::generate()?).hash("email", "a@b.it")
        );
        Ok(())
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
