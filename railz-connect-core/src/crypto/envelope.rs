use aes_gcm_siv::Nonce;

use super::CryptoError;
use super::keyring::KeyId;

/// The envelope format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// The algorithm byte of AES-256-GCM-SIV.
pub const ALGORITHM_AES_256_GCM_SIV: u8 = 1;
/// Header length: version, algorithm, key id, nonce.
pub const HEADER_LEN: usize = 18;
const TAG_LEN: usize = 16;
const DOMAIN: &[u8] = b"railz-connect/envelope/v1";

/// The immutable identifiers of the record a blob belongs to, bound into the associated data.
///
/// The associated data is: a fixed domain string, the header bytes 0..6, the record kind and
/// each identifier, every piece prefixed by its length (u32, big-endian), so no two distinct
/// bindings produce the same bytes.
#[derive(Debug, Clone, Copy)]
pub struct RecordBinding<'a> {
    kind: RecordKind,
    ids: &'a [&'a str],
}

/// The kinds of record the SDK seals; the kind is bound into the associated data, so a blob
/// of one kind never opens as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordKind {
    /// A widget session token (no ids).
    Session,
    /// A pending authorization or tenant selection (its key, kind, widget, business, service).
    Pending,
    /// A connection's credentials (its id, business, service).
    Credentials,
}

impl RecordKind {
    /// The label bound into the associated data.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Pending => "pending",
            Self::Credentials => "credentials",
        }
    }
}

impl<'a> RecordBinding<'a> {
    /// A binding for a record of `kind` identified by `ids` (in a fixed order).
    pub fn new(kind: RecordKind, ids: &'a [&'a str]) -> Self {
        Self { kind, ids }
    }

    pub(crate) fn aad(&self, header6: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(64 + self.ids.iter().map(|s| s.len() + 4).sum::<usize>());
        aad.extend_from_slice(DOMAIN);
        aad.extend_from_slice(header6);
        for part in std::iter::once(&self.kind.as_str()).chain(self.ids.iter()) {
            aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
        aad
    }
}

pub(crate) fn header(key_id: KeyId, nonce: &Nonce) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0] = FORMAT_VERSION;
    h[1] = ALGORITHM_AES_256_GCM_SIV;
    h[2..6].copy_from_slice(&key_id.to_be_bytes());
    h[6..18].copy_from_slice(nonce);
    h
}

/// Splits a blob into key id, nonce and ciphertext after checking its header.
pub(crate) fn parse(blob: &[u8]) -> Result<(KeyId, &[u8], &[u8]), CryptoError> {
    let key_id = envelope_key_id(blob)?;
    if blob.len() < HEADER_LEN + TAG_LEN {
        return Err(CryptoError::Truncated { len: blob.len() });
    }
    Ok((key_id, &blob[6..HEADER_LEN], &blob[HEADER_LEN..]))
}

/// The key id an envelope names, after checking its version and algorithm.
pub fn envelope_key_id(blob: &[u8]) -> Result<KeyId, CryptoError> {
    if blob.len() < 6 {
        return Err(CryptoError::Truncated { len: blob.len() });
    }
    if blob[0] != FORMAT_VERSION {
        return Err(CryptoError::UnsupportedVersion(blob[0]));
    }
    if blob[1] != ALGORITHM_AES_256_GCM_SIV {
        return Err(CryptoError::UnsupportedAlgorithm(blob[1]));
    }
    Ok(u32::from_be_bytes([blob[2], blob[3], blob[4], blob[5]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aad_is_length_prefixed() {
        let a = RecordBinding::new(RecordKind::Session, &["ab", "c"]).aad(&[1, 1, 0, 0, 0, 1]);
        let b = RecordBinding::new(RecordKind::Session, &["a", "bc"]).aad(&[1, 1, 0, 0, 0, 1]);
        assert_ne!(a, b);
        assert!(a.starts_with(DOMAIN));
    }

    #[test]
    fn header_checks() {
        assert_eq!(envelope_key_id(&[1, 1, 0, 0]), Err(CryptoError::Truncated { len: 4 }));
        assert_eq!(envelope_key_id(&[2, 1, 0, 0, 0, 1]), Err(CryptoError::UnsupportedVersion(2)));
        assert_eq!(envelope_key_id(&[1, 9, 0, 0, 0, 1]), Err(CryptoError::UnsupportedAlgorithm(9)));
        assert_eq!(envelope_key_id(&[1, 1, 0, 0, 1, 0]), Ok(256));
    }
}
