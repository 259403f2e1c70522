//! Every seal the flow makes, behind one type: widget sessions, pending records and
//! credentials, each bound to its [`RecordKind`] and the ids of its record.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::Url;

use crate::connection::{Connection, Tenant};
use crate::crypto::{CryptoError, Keyring, RecordBinding, RecordKind};
use crate::error::{Error, SessionError};
use crate::ids::{BusinessName, ServiceName, WidgetId};
use crate::provider::{AnyPayload, Credentials, CredentialsRef, Inputs};
use crate::secret::SessionToken;
use crate::store::{PendingAuthorization, PendingKind, SealedCredentials};

/// What a widget session token holds.
#[derive(Serialize, Deserialize)]
pub(super) struct SessionClaims {
    pub(super) w: WidgetId,
    pub(super) b: BusinessName,
    pub(super) r: Option<Url>,
    pub(super) e: i64,
}

/// Where an authorization comes from and where its user lands: the authenticated routing of a
/// pending record (or of a connection made from inputs).
#[derive(Debug, Clone)]
pub(super) struct Route {
    pub(super) widget_id: WidgetId,
    pub(super) business_name: BusinessName,
    pub(super) service_name: ServiceName,
    pub(super) redirect_uri: Url,
    pub(super) success_url: Url,
    pub(super) failure_url: Url,
}

/// What a pending record seals: the authoritative routing fields (the store keeps only its
/// key, kind, widget, business and service, all bound into the seal), its lifetime, the
/// browser binding's hash, and the secrets of its kind.
#[derive(Serialize, Deserialize)]
struct PendingClaims<T> {
    redirect_uri: Url,
    success_url: Url,
    failure_url: Url,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    /// SHA-256 (hex) of the browser binding; `None` when begun headless.
    binding: Option<String>,
    secrets: T,
}

/// A pending record, opened: its routing, expiry, binding hash and secrets.
pub(super) struct Opened<T> {
    pub(super) route: Route,
    pub(super) expires_at: OffsetDateTime,
    pub(super) binding: Option<String>,
    pub(super) secrets: T,
}

/// The secrets of an authorization waiting for its callback.
#[derive(Serialize, Deserialize)]
pub(super) struct AuthorizationSecrets {
    pub(super) verifier: String,
    pub(super) inputs: BTreeMap<String, String>,
}

impl AuthorizationSecrets {
    pub(super) fn new(verifier: &str, inputs: &Inputs) -> Self {
        Self {
            verifier: verifier.to_owned(),
            inputs: inputs.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        }
    }

    pub(super) fn inputs(&self) -> Inputs {
        self.inputs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }
}

impl Drop for AuthorizationSecrets {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.verifier.zeroize();
        for v in self.inputs.values_mut() {
            v.zeroize();
        }
    }
}

/// The secrets of a tenant choice (written).
#[derive(Serialize)]
pub(super) struct TenantChoiceRef<'a> {
    pub(super) credentials: CredentialsRef<'a>,
    pub(super) tenants: &'a [Tenant],
}

/// The secrets of a tenant choice (read).
#[derive(Deserialize)]
pub(super) struct TenantChoice {
    pub(super) credentials: AnyPayload,
    pub(super) tenants: Vec<Tenant>,
}

fn payload_error(e: &serde_json::Error) -> CryptoError {
    CryptoError::Payload(format!("{:?}", e.classify()))
}

/// Seals and opens every record the flow keeps.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sealer<'a>(pub(super) &'a Keyring);

impl Sealer<'_> {
    pub(super) fn seal_session(&self, claims: &SessionClaims) -> Result<SessionToken, Error> {
        let json = zeroize::Zeroizing::new(serde_json::to_vec(claims).map_err(|e| payload_error(&e))?);
        let sealed = self.0.seal(&RecordBinding::new(RecordKind::Session, &[]), &json)?;
        Ok(SessionToken::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)))
    }

    /// Opens a session token; `now` decides expiry.
    pub(super) fn open_session(&self, token: &SessionToken, now: OffsetDateTime) -> Result<SessionClaims, Error> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.secret())
            .map_err(|_| Error::InvalidSession(SessionError::Malformed))?;
        let json = self.0.open(&RecordBinding::new(RecordKind::Session, &[]), &raw).map_err(|e| {
            Error::InvalidSession(match e {
                CryptoError::Truncated { .. }
                | CryptoError::UnsupportedVersion(_)
                | CryptoError::UnsupportedAlgorithm(_) => SessionError::Malformed,
                _ => SessionError::Forged,
            })
        })?;
        let claims: SessionClaims =
            serde_json::from_slice(&json).map_err(|_| Error::InvalidSession(SessionError::Malformed))?;
        if now.unix_timestamp() >= claims.e {
            return Err(Error::InvalidSession(SessionError::Expired));
        }
        Ok(claims)
    }

    /// A pending record for `route`, its seal binding its key, kind, widget, business and
    /// service.
    pub(super) fn seal_pending<T: Serialize>(
        &self,
        key: String,
        kind: PendingKind,
        route: &Route,
        (created_at, expires_at): (OffsetDateTime, OffsetDateTime),
        binding: Option<String>,
        secrets: &T,
    ) -> Result<PendingAuthorization, Error> {
        let mut pending = PendingAuthorization::new(
            key,
            kind,
            route.widget_id.clone(),
            route.business_name.clone(),
            route.service_name.clone(),
            expires_at,
            Vec::new(),
        );
        let claims = PendingClaims {
            redirect_uri: route.redirect_uri.clone(),
            success_url: route.success_url.clone(),
            failure_url: route.failure_url.clone(),
            created_at,
            expires_at,
            binding,
            secrets,
        };
        let plaintext = zeroize::Zeroizing::new(serde_json::to_vec(&claims).map_err(|e| payload_error(&e))?);
        pending.sealed = self.0.seal(&pending_binding(&pending).as_binding(), &plaintext)?;
        Ok(pending)
    }

    /// Opens what [`Sealer::seal_pending`] sealed. A record whose seal does not authenticate,
    /// or whose plaintext expiry differs from the sealed one, is refused: nothing in it is used.
    pub(super) fn open_pending<T: DeserializeOwned>(&self, pending: &PendingAuthorization) -> Result<Opened<T>, Error> {
        let plaintext = self.0.open(&pending_binding(pending).as_binding(), &pending.sealed)?;
        let claims: PendingClaims<T> = serde_json::from_slice(&plaintext).map_err(|e| payload_error(&e))?;
        if claims.expires_at != pending.expires_at {
            tracing::warn!("a pending record's expiry was edited in the store: refused");
            return Err(CryptoError::Authentication.into());
        }
        Ok(Opened {
            route: Route {
                widget_id: pending.widget_id.clone(),
                business_name: pending.business_name.clone(),
                service_name: pending.service_name.clone(),
                redirect_uri: claims.redirect_uri,
                success_url: claims.success_url,
                failure_url: claims.failure_url,
            },
            expires_at: claims.expires_at,
            binding: claims.binding,
            secrets: claims.secrets,
        })
    }

    pub(super) fn seal_credentials(
        &self,
        connection: &Connection,
        credentials: &Credentials,
    ) -> Result<SealedCredentials, Error> {
        Ok(self.0.seal_credentials(connection, credentials)?)
    }

    pub(super) fn open_credentials(&self, connection: &Connection, blob: &[u8]) -> Result<Credentials, Error> {
        Ok(self.0.open_credentials(connection, blob)?)
    }
}

/// The identifiers a pending record's seal binds: its key, kind, widget, business, service.
struct PendingBinding<'a> {
    ids: [&'a str; 5],
}

impl PendingBinding<'_> {
    fn as_binding(&self) -> RecordBinding<'_> {
        RecordBinding::new(RecordKind::Pending, &self.ids)
    }
}

fn pending_binding(pending: &PendingAuthorization) -> PendingBinding<'_> {
    let kind = match pending.kind {
        PendingKind::Authorization => "authorization",
        PendingKind::TenantSelection => "tenantSelection",
    };
    PendingBinding {
        ids: [
            pending.key.as_str(),
            kind,
            pending.widget_id.as_str(),
            pending.business_name.as_str(),
            pending.service_name.as_str(),
        ],
    }
}
