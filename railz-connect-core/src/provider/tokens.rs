use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::secret::{AccessToken, RefreshToken};

/// The tokens of one grant, plus the non-secret parameters a provider needs later (a realm id,
/// an API domain, a data centre, the pre-authorization inputs). Stored only encrypted.
#[derive(Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TokenSet {
    /// The access token.
    pub access_token: AccessToken,
    /// The refresh token, if the provider issued one.
    pub refresh_token: Option<RefreshToken>,
    /// The scopes granted, when the provider said.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// When the access token expires, when known.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub access_expires_at: Option<OffsetDateTime>,
    /// When the refresh token expires, when known.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub refresh_expires_at: Option<OffsetDateTime>,
    /// When these tokens were obtained.
    #[serde(with = "time::serde::rfc3339")]
    pub obtained_at: OffsetDateTime,
    /// Non-secret provider parameters (`realmId`, `api_domain`, inputs, ...).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

impl TokenSet {
    /// A token set with only an access token.
    pub fn new(access_token: AccessToken, obtained_at: OffsetDateTime) -> Self {
        Self {
            access_token,
            refresh_token: None,
            scopes: Vec::new(),
            access_expires_at: None,
            refresh_expires_at: None,
            obtained_at,
            params: BTreeMap::new(),
        }
    }

    /// Whether the access token expires within `skew` of `now` (unknown expiry: no).
    pub fn access_expires_within(&self, now: OffsetDateTime, skew: time::Duration) -> bool {
        self.access_expires_at.is_some_and(|at| at <= now + skew)
    }

    /// Serializes for encryption. The buffer is zeroized on drop.
    pub(crate) fn to_plaintext(&self) -> Result<zeroize::Zeroizing<Vec<u8>>, crate::crypto::CryptoError> {
        serde_json::to_vec(self)
            .map(zeroize::Zeroizing::new)
            .map_err(|e| crate::crypto::CryptoError::Payload(format!("{:?}", e.classify())))
    }

    /// Parses a decrypted payload.
    pub(crate) fn from_plaintext(bytes: &[u8]) -> Result<Self, crate::crypto::CryptoError> {
        serde_json::from_slice(bytes).map_err(|e| crate::crypto::CryptoError::Payload(format!("{:?}", e.classify())))
    }
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("scopes", &self.scopes)
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("params", &self.params.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
