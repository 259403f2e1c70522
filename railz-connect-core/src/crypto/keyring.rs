use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;

use aes_gcm_siv::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm_siv::{Aes256GcmSiv, Key, Nonce};
use base64::Engine as _;
use zeroize::Zeroizing;

use super::CryptoError;
use super::envelope::{self, RecordBinding};

/// The id of a key in a [`Keyring`]; written into every envelope.
pub type KeyId = u32;

/// A 256-bit data key. Never printed; zeroized on drop.
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> Self {
        let key = Key::<Aes256GcmSiv>::generate();
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(&key);
        Self(bytes)
    }

    /// A key from its 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A key from standard base64 (with or without padding) of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let raw = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim().trim_end_matches('='))
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text.trim().trim_end_matches('=')))
                .map_err(|_| CryptoError::InvalidKey("not base64".into()))?,
        );
        let bytes: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::InvalidKey(format!("{} bytes, expected 32", raw.len())))?;
        Ok(Self::from_bytes(bytes))
    }

    /// The key as standard base64, to store it in a secret manager. Handle with care.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(self.0.as_slice()))
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

fn cipher(key: &DataKey) -> Aes256GcmSiv {
    // A 32-byte slice always fits AES-256.
    Aes256GcmSiv::new_from_slice(key.0.as_slice()).unwrap_or_else(|_| unreachable!("32-byte key"))
}

/// A set of data keys: one primary key encrypts; the others only decrypt (Tink-style).
///
/// Rotation: add the new key with [`Keyring::with_decrypt_only`] and deploy everywhere, then
/// promote it with [`Keyring::promote`], re-encrypt old records, and finally drop the old key.
/// A blob names its key; decryption uses exactly that key and never tries keys in turn
/// (AES-GCM-SIV is not key-committing).
#[derive(Clone)]
pub struct Keyring {
    primary: KeyId,
    keys: BTreeMap<KeyId, Aes256GcmSiv>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("primary", &self.primary)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// The environment variable [`Keyring::from_env`] reads.
    pub const ENV_VAR: &'static str = "RAILZ_CONNECT_KEYS";

    /// A keyring with one key, which is primary.
    pub fn new(id: KeyId, key: DataKey) -> Self {
        let mut keys = BTreeMap::new();
        keys.insert(id, cipher(&key));
        Self { primary: id, keys }
    }

    /// Adds a decrypt-only key. Fails if the id is already taken.
    pub fn with_decrypt_only(mut self, id: KeyId, key: DataKey) -> Result<Self, CryptoError> {
        if self.keys.contains_key(&id) {
            return Err(CryptoError::InvalidKey(format!("key id {id} is already in the keyring")));
        }
        self.keys.insert(id, cipher(&key));
        Ok(self)
    }

    /// Makes an existing key the primary one; the former primary key stays for decryption.
    pub fn promote(mut self, id: KeyId) -> Result<Self, CryptoError> {
        if !self.keys.contains_key(&id) {
            return Err(CryptoError::UnknownKey(id));
        }
        self.primary = id;
        Ok(self)
    }

    /// Removes a decrypt-only key (after a re-encryption sweep). The primary key cannot be removed.
    pub fn remove(mut self, id: KeyId) -> Result<Self, CryptoError> {
        if id == self.primary {
            return Err(CryptoError::InvalidKey("the primary key cannot be removed".into()));
        }
        self.keys.remove(&id).ok_or(CryptoError::UnknownKey(id))?;
        Ok(self)
    }

    /// Reads a keyring from `RAILZ_CONNECT_KEYS`: comma-separated `id:base64key` entries, the
    /// first one primary (for example `2:AAAA...,1:BBBB...`).
    ///
    /// Fails with [`CryptoError::InvalidKey`] when the variable is not set, when it is set but
    /// is not valid UTF-8, or when [`Keyring::parse`] refuses it; no error holds the value.
    pub fn from_env() -> Result<Self, CryptoError> {
        Self::from_env_value(std::env::var_os(Self::ENV_VAR))
    }

    /// [`Keyring::from_env`] on the variable's value (`None` when it is not set), so that tests
    /// need not change the process environment.
    fn from_env_value(value: Option<OsString>) -> Result<Self, CryptoError> {
        let Some(value) = value else {
            return Err(CryptoError::InvalidKey(format!("environment variable {} is not set", Self::ENV_VAR)));
        };
        // The raw bytes (WTF-8 on Windows), zeroized on drop whether or not they are UTF-8.
        let bytes = Zeroizing::new(value.into_encoded_bytes());
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            CryptoError::InvalidKey(format!("environment variable {} is set but not valid UTF-8", Self::ENV_VAR))
        })?;
        Self::parse(text)
    }

    /// Parses the `id:base64key,...` form of [`Keyring::from_env`].
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let mut ring: Option<Self> = None;
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, key) =
                entry.split_once(':').ok_or_else(|| CryptoError::InvalidKey("entries must be id:base64key".into()))?;
            let id: KeyId = id.trim().parse().map_err(|_| CryptoError::InvalidKey("key id must be a u32".into()))?;
            let key = DataKey::from_base64(key)?;
            ring = Some(match ring {
                None => Self::new(id, key),
                Some(r) => r.with_decrypt_only(id, key)?,
            });
        }
        ring.ok_or_else(|| CryptoError::InvalidKey("no key given".into()))
    }

    /// The id of the primary key.
    pub fn primary_key_id(&self) -> KeyId {
        self.primary
    }

    /// Whether the keyring holds this key id.
    pub fn contains(&self, id: KeyId) -> bool {
        self.keys.contains_key(&id)
    }

    /// Encrypts `plaintext` with the primary key, bound to `binding`.
    pub fn seal(&self, binding: &RecordBinding<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let cipher = &self.keys[&self.primary];
        let nonce = Nonce::generate();
        let header = envelope::header(self.primary, &nonce);
        let aad = binding.aad(&header[..6]);
        let ciphertext =
            cipher.encrypt(&nonce, Payload { msg: plaintext, aad: &aad }).map_err(|_| CryptoError::Encryption)?;
        let mut out = Vec::with_capacity(header.len() + ciphertext.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Decrypts a blob made by [`Keyring::seal`] for the same `binding`, with the key it names.
    pub fn open(&self, binding: &RecordBinding<'_>, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (key_id, nonce, ciphertext) = envelope::parse(blob)?;
        let cipher = self.keys.get(&key_id).ok_or(CryptoError::UnknownKey(key_id))?;
        let aad = binding.aad(&blob[..6]);
        cipher
            .decrypt(
                &Nonce::try_from(nonce).map_err(|_| CryptoError::Truncated { len: blob.len() })?,
                Payload { msg: ciphertext, aad: &aad },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Authentication)
    }

    /// Whether a blob was sealed with a key other than the primary one (it wants re-encryption).
    pub fn needs_reencryption(&self, blob: &[u8]) -> Result<bool, CryptoError> {
        Ok(envelope::envelope_key_id(blob)? != self.primary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::RecordKind;

    fn ring() -> Keyring {
        Keyring::new(7, DataKey::from_bytes([42; 32]))
    }

    fn binding() -> RecordBinding<'static> {
        RecordBinding::new(RecordKind::Credentials, &["conn-a", "Acme", "railzSandbox"])
    }

    #[test]
    fn round_trip_and_header() {
        let blob = ring().seal(&binding(), b"hello").unwrap();
        assert_eq!(blob[0], 1);
        assert_eq!(blob[1], 1);
        assert_eq!(&blob[2..6], &7u32.to_be_bytes());
        assert_eq!(blob.len(), 18 + 5 + 16);
        assert_eq!(ring().open(&binding(), &blob).unwrap().as_slice(), b"hello");
    }

    #[test]
    fn nonces_differ() {
        let a = ring().seal(&binding(), b"same").unwrap();
        let b = ring().seal(&binding(), b"same").unwrap();
        assert_ne!(a[6..18], b[6..18]);
        assert_ne!(a, b);
    }

    #[test]
    fn every_flipped_bit_and_every_truncation_fails() {
        let r = ring();
        let blob = r.seal(&binding(), b"secret payload").unwrap();
        for i in 0..blob.len() {
            for bit in 0..8 {
                let mut t = blob.clone();
                t[i] ^= 1 << bit;
                assert!(r.open(&binding(), &t).is_err(), "byte {i} bit {bit}");
            }
        }
        for len in 0..blob.len() {
            assert!(r.open(&binding(), &blob[..len]).is_err(), "len {len}");
        }
        let mut extended = blob.clone();
        extended.push(0);
        assert_eq!(r.open(&binding(), &extended), Err(CryptoError::Authentication));
    }

    #[test]
    fn other_record_wrong_key_unknown_key() {
        let r = ring();
        let blob = r.seal(&binding(), b"x").unwrap();
        let other = RecordBinding::new(RecordKind::Credentials, &["conn-b", "Acme", "railzSandbox"]);
        assert_eq!(r.open(&other, &blob), Err(CryptoError::Authentication));
        let wrong = Keyring::new(7, DataKey::from_bytes([1; 32]));
        assert_eq!(wrong.open(&binding(), &blob), Err(CryptoError::Authentication));
        let unknown = Keyring::new(8, DataKey::from_bytes([42; 32]));
        assert_eq!(unknown.open(&binding(), &blob), Err(CryptoError::UnknownKey(7)));
    }

    #[test]
    fn rotation() {
        let old = ring();
        let old_blob = old.seal(&binding(), b"old").unwrap();
        let new = old.with_decrypt_only(8, DataKey::from_bytes([9; 32])).unwrap().promote(8).unwrap();
        assert_eq!(new.open(&binding(), &old_blob).unwrap().as_slice(), b"old");
        assert!(new.needs_reencryption(&old_blob).unwrap());
        let new_blob = new.seal(&binding(), b"old").unwrap();
        assert_eq!(envelope::envelope_key_id(&new_blob).unwrap(), 8);
        let retired = new.remove(7).unwrap();
        assert_eq!(retired.open(&binding(), &new_blob).unwrap().as_slice(), b"old");
        assert_eq!(retired.open(&binding(), &old_blob), Err(CryptoError::UnknownKey(7)));
        assert!(retired.clone().remove(8).is_err());
    }

    #[test]
    fn from_env_value_not_set_and_valid() {
        assert_eq!(
            Keyring::from_env_value(None).unwrap_err(),
            CryptoError::InvalidKey("environment variable RAILZ_CONNECT_KEYS is not set".into())
        );
        let k = DataKey::from_bytes([3; 32]).to_base64();
        let ring = Keyring::from_env_value(Some(OsString::from(format!("4:{}", k.as_str())))).unwrap();
        assert_eq!(ring.primary_key_id(), 4);
        // A malformed but UTF-8 value: the error names the problem, never the value.
        let secret = format!("4:{}x", k.as_str());
        let e = Keyring::from_env_value(Some(OsString::from(secret.as_str()))).unwrap_err();
        assert!(!format!("{e} {e:?}").contains(&k.as_str()[..16]), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn from_env_value_not_utf8() {
        use std::os::unix::ffi::OsStringExt as _;

        let k = DataKey::from_bytes([5; 32]).to_base64();
        let mut raw = format!("1:{}", k.as_str()).into_bytes();
        raw.extend_from_slice(&[0xff, 0xfe]);
        let e = Keyring::from_env_value(Some(OsString::from_vec(raw))).unwrap_err();
        assert_eq!(
            e,
            CryptoError::InvalidKey("environment variable RAILZ_CONNECT_KEYS is set but not valid UTF-8".into())
        );
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("not set"), "{shown}");
        assert!(!shown.contains(&k.as_str()[..16]), "{shown}");
        let e = Keyring::from_env_value(Some(OsString::from_vec(vec![0xff, 0xfe, 0xfd]))).unwrap_err();
        assert!(e.to_string().ends_with("is set but not valid UTF-8"), "{e}");
    }

    #[test]
    fn parse_and_debug() {
        let k1 = DataKey::from_bytes([1; 32]).to_base64();
        let k2 = DataKey::from_bytes([2; 32]).to_base64();
        let r = Keyring::parse(&format!("2:{},1:{}", k2.as_str(), k1.as_str())).unwrap();
        assert_eq!(r.primary_key_id(), 2);
        assert!(r.contains(1));
        assert_eq!(format!("{r:?}"), "Keyring { primary: 2, key_ids: [1, 2], .. }");
        assert_eq!(format!("{:?}", DataKey::generate()), "DataKey([redacted])");
        assert!(Keyring::parse("").is_err());
        assert!(Keyring::parse("1:short").is_err());
        assert!(Keyring::parse(&format!("1:{},1:{}", k1.as_str(), k2.as_str())).is_err());
    }
}
