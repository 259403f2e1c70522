//! Credential encryption at rest: AES-256-GCM-SIV in a versioned envelope, under a [`Keyring`].
//!
//! The envelope authenticates its own header and binds the record it belongs to through the
//! associated data ([`RecordBinding`]), so a blob copied onto another record fails to decrypt.
//! Layout (all integers big-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 0 | format version (1) |
//! | 1 | algorithm (1 = AES-256-GCM-SIV) |
//! | 2..6 | key id, u32 |
//! | 6..18 | nonce (96 random bits) |
//! | 18.. | ciphertext and 16-byte tag |

mod credentials;
mod envelope;
mod keyring;

pub use envelope::{ALGORITHM_AES_256_GCM_SIV, FORMAT_VERSION, HEADER_LEN, RecordBinding, RecordKind, envelope_key_id};
pub use keyring::{DataKey, KeyId, Keyring};

/// Why an envelope could not be sealed or opened, or a key not loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The blob is shorter than a header and a tag.
    #[error("encrypted blob is truncated ({len} bytes)")]
    Truncated {
        /// Its length.
        len: usize,
    },
    /// The blob's format version is not one this build reads.
    #[error("unsupported envelope format version {0}")]
    UnsupportedVersion(u8),
    /// The blob's algorithm is not one this build reads.
    #[error("unsupported envelope algorithm {0}")]
    UnsupportedAlgorithm(u8),
    /// The key the blob names is not in the keyring.
    #[error("key {0} is not in the keyring")]
    UnknownKey(KeyId),
    /// Authentication failed: wrong key, tampered bytes, or a blob that belongs to another
    /// record. Nothing of the plaintext is returned.
    #[error("decryption failed: the blob was tampered with, belongs to another record, or the key is wrong")]
    Authentication,
    /// Encryption failed (plaintext too long).
    #[error("encryption failed")]
    Encryption,
    /// A key could not be loaded.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// The decrypted payload is not what this record kind holds.
    #[error("decrypted payload is malformed: {0}")]
    Payload(String),
}
