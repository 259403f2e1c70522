//! A business's credentials at a provider: OAuth2 tokens, or secret fields for a service
//! connected with credentials instead of a redirect.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::TokenSet;
use super::tokens::PayloadRef;
use crate::crypto::CryptoError;
use crate::secret::{AccessToken, SecretValue};

/// How a provider is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum AuthKind {
    /// The business is sent to the provider and back (OAuth2 authorization code):
    /// [`Connect::begin`](crate::Connect::begin) and [`Connect::complete`](crate::Connect::complete).
    Redirect,
    /// The business enters credentials (a web-services user, token-based authentication
    /// keys) that the provider verifies: [`Connect::connect_with_inputs`](crate::Connect::connect_with_inputs).
    Credentials,
}

/// What the SDK holds for one connection, sealed in the credential store.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Credentials {
    /// OAuth2 tokens.
    OAuth2(TokenSet),
    /// Secret fields entered by the business, and the session a provider opened with them.
    Secret(SecretCredentials),
}

impl Credentials {
    /// The OAuth2 tokens, for an OAuth2 connection.
    pub fn oauth2(&self) -> Option<&TokenSet> {
        match self {
            Self::OAuth2(t) => Some(t),
            Self::Secret(_) => None,
        }
    }

    /// The OAuth2 tokens, by value, for an OAuth2 connection.
    pub fn into_oauth2(self) -> Option<TokenSet> {
        match self {
            Self::OAuth2(t) => Some(t),
            Self::Secret(_) => None,
        }
    }

    /// The secret fields, for a credential-based connection.
    pub fn secret(&self) -> Option<&SecretCredentials> {
        match self {
            Self::Secret(s) => Some(s),
            Self::OAuth2(_) => None,
        }
    }

    /// The access token (OAuth2) or session token (credential-based), when there is one.
    pub fn access_token(&self) -> Option<&AccessToken> {
        match self {
            Self::OAuth2(t) => Some(&t.access_token),
            Self::Secret(s) => s.session.as_ref(),
        }
    }

    /// When the access or session token expires, when known.
    pub fn access_expires_at(&self) -> Option<OffsetDateTime> {
        match self {
            Self::OAuth2(t) => t.access_expires_at,
            Self::Secret(s) => s.session_expires_at,
        }
    }

    /// When the refresh token expires, when known (never for credential-based connections,
    /// whose fields are entered again only if the provider refuses them).
    pub fn refresh_expires_at(&self) -> Option<OffsetDateTime> {
        match self {
            Self::OAuth2(t) => t.refresh_expires_at,
            Self::Secret(_) => None,
        }
    }

    /// Whether a refresh can renew them: an OAuth2 refresh token, or the secret fields a new
    /// session is opened with.
    pub fn can_refresh(&self) -> bool {
        match self {
            Self::OAuth2(t) => t.refresh_token.is_some(),
            Self::Secret(_) => true,
        }
    }

    /// Whether the access (or session) token expires within `margin` of `now` (see
    /// [`TokenSet::access_expires_within`]).
    pub fn access_expires_within(&self, now: OffsetDateTime, margin: std::time::Duration) -> bool {
        match self {
            Self::OAuth2(t) => t.access_expires_within(now, margin),
            Self::Secret(s) => {
                let Some(at) = s.session_expires_at else { return false };
                TokenSet::expires_within(s.obtained_at, at, now, margin)
            }
        }
    }

    /// The non-secret parameters (`realmId`, `tenantId`, plain inputs).
    pub fn params(&self) -> &BTreeMap<String, String> {
        match self {
            Self::OAuth2(t) => &t.params,
            Self::Secret(s) => &s.params,
        }
    }

    /// Sets a non-secret parameter.
    pub fn set_param(&mut self, name: impl Into<String>, value: impl Into<String>) {
        match self {
            Self::OAuth2(t) => t.params.insert(name.into(), value.into()),
            Self::Secret(s) => s.params.insert(name.into(), value.into()),
        };
    }

    /// Serializes for encryption. The buffer is zeroized on drop.
    pub(crate) fn to_plaintext(&self) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
        serde_json::to_vec(&CredentialsRef::from(self))
            .map(zeroize::Zeroizing::new)
            .map_err(|e| CryptoError::Payload(format!("{:?}", e.classify())))
    }

    /// Parses a decrypted payload: a secret payload says `"type": "secret"`; an OAuth2 payload
    /// has no type (the form the SDK wrote before credential-based providers existed).
    pub(crate) fn from_plaintext(bytes: &[u8]) -> Result<Self, CryptoError> {
        let any: AnyPayload =
            serde_json::from_slice(bytes).map_err(|e| CryptoError::Payload(format!("{:?}", e.classify())))?;
        any.into_credentials()
    }
}

impl From<TokenSet> for Credentials {
    fn from(t: TokenSet) -> Self {
        Self::OAuth2(t)
    }
}

impl From<SecretCredentials> for Credentials {
    fn from(s: SecretCredentials) -> Self {
        Self::Secret(s)
    }
}

/// The credentials of a service connected without a redirect: the secret fields the business
/// entered (a password, token-based authentication keys), the plain parameters (a company id,
/// an account id), and the session the provider opened with them, if it has sessions.
#[derive(Clone)]
#[non_exhaustive]
pub struct SecretCredentials {
    /// The secret fields, by input name.
    pub fields: BTreeMap<String, SecretValue>,
    /// Non-secret parameters (plain inputs, `tenantId`, ...).
    pub params: BTreeMap<String, String>,
    /// A session token the provider issued (Sage Intacct's session id), if any.
    pub session: Option<AccessToken>,
    /// When that session expires, when known.
    pub session_expires_at: Option<OffsetDateTime>,
    /// When these were obtained or the session last opened.
    pub obtained_at: OffsetDateTime,
}

impl SecretCredentials {
    /// Credentials with no field yet, obtained at `obtained_at`.
    pub fn new(obtained_at: OffsetDateTime) -> Self {
        Self { fields: BTreeMap::new(), params: BTreeMap::new(), session: None, session_expires_at: None, obtained_at }
    }

    /// A secret field.
    pub fn field(&self, name: &str) -> Option<&SecretValue> {
        self.fields.get(name)
    }

    /// With a secret field.
    #[must_use]
    pub fn with_field(mut self, name: impl Into<String>, value: SecretValue) -> Self {
        self.fields.insert(name.into(), value);
        self
    }

    /// With a plain parameter.
    #[must_use]
    pub fn with_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.insert(name.into(), value.into());
        self
    }

    /// With a session and its expiry.
    #[must_use]
    pub fn with_session(mut self, session: AccessToken, expires_at: Option<OffsetDateTime>) -> Self {
        self.session = Some(session);
        self.session_expires_at = expires_at;
        self
    }
}

impl fmt::Debug for SecretCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretCredentials")
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .field("params", &self.params.keys().collect::<Vec<_>>())
            .field("session", &self.session)
            .field("session_expires_at", &self.session_expires_at)
            .finish_non_exhaustive()
    }
}

/// The sealed form of [`SecretCredentials`] (written).
#[derive(Serialize)]
pub(crate) struct SecretPayloadRef<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    fields: BTreeMap<&'a str, &'a str>,
    params: &'a BTreeMap<String, String>,
    session: Option<&'a str>,
    #[serde(with = "time::serde::rfc3339::option")]
    session_expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    obtained_at: OffsetDateTime,
}

impl<'a> From<&'a SecretCredentials> for SecretPayloadRef<'a> {
    fn from(s: &'a SecretCredentials) -> Self {
        Self {
            kind: "secret",
            fields: s.fields.iter().map(|(k, v)| (k.as_str(), v.secret())).collect(),
            params: &s.params,
            session: s.session.as_ref().map(AccessToken::secret),
            session_expires_at: s.session_expires_at,
            obtained_at: s.obtained_at,
        }
    }
}

/// The sealed form of [`Credentials`] (written): one of the two shapes, untagged (an OAuth2
/// payload has no `type`; a secret one says `"type": "secret"`).
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum CredentialsRef<'a> {
    OAuth2(PayloadRef<'a>),
    Secret(SecretPayloadRef<'a>),
}

impl<'a> From<&'a Credentials> for CredentialsRef<'a> {
    fn from(c: &'a Credentials) -> Self {
        match c {
            Credentials::OAuth2(t) => Self::OAuth2(t.into()),
            Credentials::Secret(s) => Self::Secret(s.into()),
        }
    }
}

/// Either sealed form (read): one flat struct, so no secret passes through serde's buffers;
/// its strings are moved into the secret types, and what is left is zeroized on drop.
#[derive(Deserialize)]
pub(crate) struct AnyPayload {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    access_expires_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    refresh_expires_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    obtained_at: Option<OffsetDateTime>,
    #[serde(default)]
    params: BTreeMap<String, String>,
    #[serde(default)]
    fields: BTreeMap<String, String>,
    #[serde(default)]
    session: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    session_expires_at: Option<OffsetDateTime>,
}

impl AnyPayload {
    pub(crate) fn into_credentials(mut self) -> Result<Credentials, CryptoError> {
        let obtained_at = self.obtained_at.ok_or_else(|| CryptoError::Payload("no obtained_at".into()))?;
        let params = std::mem::take(&mut self.params);
        match self.kind.as_deref() {
            None | Some("oauth2") => {
                let access = self.access_token.take().ok_or_else(|| CryptoError::Payload("no access_token".into()))?;
                let mut t = TokenSet::new(AccessToken::new(access), obtained_at);
                t.refresh_token = self.refresh_token.take().map(crate::secret::RefreshToken::new);
                t.scopes = std::mem::take(&mut self.scopes);
                t.access_expires_at = self.access_expires_at;
                t.refresh_expires_at = self.refresh_expires_at;
                t.params = params;
                Ok(Credentials::OAuth2(t))
            }
            Some("secret") => Ok(Credentials::Secret(SecretCredentials {
                fields: std::mem::take(&mut self.fields).into_iter().map(|(k, v)| (k, SecretValue::new(v))).collect(),
                params,
                session: self.session.take().map(AccessToken::new),
                session_expires_at: self.session_expires_at,
                obtained_at,
            })),
            Some(_) => Err(CryptoError::Payload("unknown credentials type".into())),
        }
    }
}

impl Drop for AnyPayload {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for v in self.fields.values_mut() {
            v.zeroize();
        }
        for s in [&mut self.session, &mut self.access_token, &mut self.refresh_token].into_iter().flatten() {
            s.zeroize();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::RefreshToken;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap()
    }

    #[test]
    fn both_kinds_round_trip_and_never_print() {
        let mut t = TokenSet::new(AccessToken::new("SENTINEL-a"), at(1000));
        t.refresh_token = Some(RefreshToken::new("SENTINEL-r"));
        t.params.insert("realmId".into(), "42".into());
        let back = Credentials::from_plaintext(&Credentials::from(t).to_plaintext().unwrap()).unwrap();
        let back = back.oauth2().unwrap();
        assert_eq!(back.refresh_token.as_ref().unwrap().secret(), "SENTINEL-r");
        assert_eq!(back.params["realmId"], "42");

        let s = SecretCredentials::new(at(1000))
            .with_field("password", SecretValue::new("SENTINEL-pw"))
            .with_param("companyId", "acme")
            .with_session(AccessToken::new("SENTINEL-session"), Some(at(2800)));
        let shown = format!("{:?}", Credentials::from(s.clone()));
        assert!(!shown.contains("SENTINEL"), "{shown}");
        let back = Credentials::from_plaintext(&Credentials::from(s).to_plaintext().unwrap()).unwrap();
        assert_eq!(back.access_token().unwrap().secret(), "SENTINEL-session");
        assert_eq!(back.access_expires_at(), Some(at(2800)));
        let back = back.secret().unwrap();
        assert_eq!(back.field("password").unwrap().secret(), "SENTINEL-pw");
        assert_eq!(back.params["companyId"], "acme");
        assert_eq!(back.obtained_at, at(1000));
    }

    #[test]
    fn an_unknown_type_is_refused() {
        let e = Credentials::from_plaintext(br#"{"type":"other","obtained_at":"2026-01-01T00:00:00Z"}"#).unwrap_err();
        assert!(matches!(e, CryptoError::Payload(_)));
    }
}
