//! Authorization: `begin`, `complete`, connections made from inputs, tenant choice, and the
//! one finish path every way of connecting ends in (sealing, connection, event, landing).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use serde::de::DeserializeOwned;

use super::outcome::{AuthorizationStart, Completion, Failure, Landing};
use super::seal::{AuthorizationSecrets, Opened, Route, TenantChoice, TenantChoiceRef};
use super::{Connect, random_token, sha256_hex, to_time, with_params};
use crate::callback::{BINDING_COOKIE_PREFIX, Callback};
use crate::connection::{Connection, ReasonCode, Tenant};
use crate::error::{CallbackError, Error};
use crate::event::Event;
use crate::ids::{ConnectionId, ServiceName, TenantId};
use crate::provider::{
    AuthKind, AuthorizationRequest, CodeExchange, Credentials, Inputs, IssuerParam, Provider, ProviderError,
    ProviderExt, TokenSet,
};
use crate::secret::{AuthorizationCode, BrowserBinding, PkceVerifier, SessionToken, StateToken, TenantTicket};
use crate::store::{PendingKind, StoreError};
use crate::text::{MAX_LOGGED, bounded};

/// Whether an authorization is bound to the browser that began it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BrowserBound {
    Yes,
    Headless,
}

/// The name of the browser-binding cookie of the authorization keyed by `key` (a prefix of the
/// state's hash, so several authorizations in one browser do not overwrite each other).
fn binding_cookie_name(key: &str) -> String {
    format!("{BINDING_COOKIE_PREFIX}{}", &key[..16.min(key.len())])
}

impl Connect {
    /// Starts an authorization bound to the user's browser: validates the session, the service
    /// and its inputs, records a pending authorization (one-time `state`, PKCE S256 verifier,
    /// expiry, provider, the hash of a fresh browser binding) and returns the URL to send the
    /// user to, with the binding cookie to set ([`AuthorizationStart::set_cookie`]).
    /// [`Connect::complete`] then accepts the callback only with that cookie
    /// ([`Callback::with_cookie_header`]).
    ///
    /// For a service connected with credentials ([`AuthKind::Credentials`]) use
    /// [`Connect::connect_with_inputs`] instead: this answers [`Error::WrongAuthKind`].
    #[tracing::instrument(skip_all, fields(service_name = %service))]
    pub async fn begin(
        &self,
        session: &SessionToken,
        service: &ServiceName,
        inputs: Inputs,
    ) -> Result<AuthorizationStart, Error> {
        self.begin_bound(session, service, inputs, BrowserBound::Yes).await
    }

    /// Starts an authorization that no browser carries back (a command-line tool, a test
    /// driving the provider directly): like [`Connect::begin`] but without a browser binding,
    /// so the callback is accepted from whoever holds its `state`. Use it only when there is
    /// no browser session to bind to.
    #[tracing::instrument(skip_all, fields(service_name = %service))]
    pub async fn begin_headless(
        &self,
        session: &SessionToken,
        service: &ServiceName,
        inputs: Inputs,
    ) -> Result<AuthorizationStart, Error> {
        self.begin_bound(session, service, inputs, BrowserBound::Headless).await
    }

    /// The session's route to `service`, its provider of the expected auth kind, and the
    /// inputs validated against it.
    fn route_for(
        &self,
        session: &SessionToken,
        service: &ServiceName,
        inputs: &Inputs,
        auth_kind: AuthKind,
    ) -> Result<(Route, Arc<dyn Provider>), Error> {
        let claims = self.sealer().open_session(session, self.now())?;
        let widget = self.widget(&claims.w)?;
        if !widget.offers(service) {
            return Err(Error::ServiceNotOffered { widget: claims.w.clone(), service: service.clone() });
        }
        let provider = Arc::clone(self.provider(service)?);
        let expected = provider.metadata().auth_kind;
        if expected != auth_kind {
            return Err(Error::WrongAuthKind { service: service.clone(), expected });
        }
        provider.validate_inputs(inputs).map_err(|source| Error::Provider { service: service.clone(), source })?;
        let route = Route {
            success_url: claims.r.clone().unwrap_or_else(|| widget.success_url.clone()),
            widget_id: claims.w,
            business_name: claims.b,
            service_name: service.clone(),
            redirect_uri: widget.redirect_uri.clone(),
            failure_url: widget.failure_url.clone(),
        };
        Ok((route, provider))
    }

    async fn begin_bound(
        &self,
        session: &SessionToken,
        service: &ServiceName,
        inputs: Inputs,
        bound: BrowserBound,
    ) -> Result<AuthorizationStart, Error> {
        let (route, provider) = self.route_for(session, service, &inputs, AuthKind::Redirect)?;
        let state = StateToken::new(random_token());
        let verifier = PkceVerifier::new(random_token());
        let request = AuthorizationRequest::new(&route.redirect_uri, &state, &verifier).with_inputs(&inputs);
        let url = provider
            .authorization_url(&request)
            .map_err(|source| Error::Provider { service: service.clone(), source })?;

        let now = self.now();
        let expires_at = now + self.inner.authorization_ttl;
        let binding = (bound == BrowserBound::Yes).then(|| BrowserBinding::new(random_token()));
        let key = sha256_hex(state.secret());
        let pending = self.sealer().seal_pending(
            key,
            PendingKind::Authorization,
            &route,
            (now, expires_at),
            binding.as_ref().map(|b| sha256_hex(b.secret())),
            &AuthorizationSecrets::new(verifier.secret(), &inputs),
        )?;
        self.inner.store.insert_pending(&pending).await?;
        tracing::info!(business_name = %route.business_name, bound = binding.is_some(), "authorization started");
        Ok(AuthorizationStart {
            url,
            service_name: service.clone(),
            business_name: route.business_name,
            expires_at,
            binding: binding.map(|b| (binding_cookie_name(&pending.key), b)),
            secure_cookie: route.redirect_uri.scheme() == "https",
            cookie_max_age: self.inner.authorization_ttl.whole_seconds(),
        })
    }

    /// Handles the callback: validates and consumes the `state`, checks the issuer and the
    /// browser binding, exchanges the code, picks the tenant, encrypts and stores the
    /// credentials, creates the connection and emits an event.
    ///
    /// `Err` means the callback was rejected before anything was sent to the provider
    /// (missing, unknown, reused `state`; repeated parameters; issuer or provider mismatch; a
    /// browser without the binding cookie; a tampered pending record; an endpoint derived from
    /// the callback on a host the provider's definition does not allow).
    /// `Ok(Completion::Failed)` means a genuine authorization failed (denied, expired, code
    /// refused); its landing page carries the reason code.
    #[tracing::instrument(skip_all)]
    pub async fn complete(&self, callback: &Callback) -> Result<Completion, Error> {
        let state = callback.get("state").ok_or(CallbackError::MissingState)?;
        let key = sha256_hex(state);
        let opened = self
            .take_pending::<AuthorizationSecrets>(&key, PendingKind::Authorization)
            .await?
            .ok_or(CallbackError::UnknownState)?;
        let route = &opened.route;
        if let Some(got) = callback.service().filter(|got| **got != route.service_name) {
            return Err(
                CallbackError::ProviderMismatch { expected: route.service_name.clone(), got: got.clone() }.into()
            );
        }
        let provider = Arc::clone(self.provider(&route.service_name)?);
        let meta = provider.metadata();
        match (callback.get("iss"), &meta.issuer) {
            (Some(iss), Some(expected)) if iss != expected => {
                return Err(CallbackError::IssuerMismatch {
                    expected: expected.clone(),
                    got: bounded(iss, MAX_LOGGED),
                }
                .into());
            }
            (None, Some(_)) if meta.issuer_param == IssuerParam::Required => {
                return Err(CallbackError::MissingIssuer.into());
            }
            _ => {}
        }
        if let Some(expected) = &opened.binding {
            let brought = callback.binding(&binding_cookie_name(&key)).map(|b| sha256_hex(b.secret()));
            if brought.as_deref() != Some(expected.as_str()) {
                tracing::warn!(business_name = %route.business_name, "callback refused: not from the browser that began the authorization");
                return Err(CallbackError::BrowserMismatch.into());
            }
        }
        if self.now() > opened.expires_at {
            return Ok(self.fail(route, ReasonCode::AuthorizationExpired, None));
        }
        if let Some(error) = callback.get("error") {
            let description = callback.get("error_description");
            let reason = provider.callback_error_reason(error, description);
            let error = bounded(error, MAX_LOGGED);
            let description = description.map(|d| bounded(d, MAX_LOGGED));
            tracing::info!(error = %error, reason = %reason, "the provider answered an error callback");
            let mut failure = self.failure(route, reason, None);
            failure.provider_error = Some(error);
            failure.provider_error_description = description;
            return Ok(Completion::Failed(failure));
        }
        let Some(code) = callback.get("code") else {
            return Ok(self.fail(route, ReasonCode::InvalidCallback, None));
        };
        let code = AuthorizationCode::new(code);
        let callback_params: BTreeMap<String, String> = meta
            .callback_params
            .iter()
            .filter_map(|name| callback.get(name).map(|v| (name.clone(), v.to_owned())))
            .collect();
        let verifier = PkceVerifier::new(opened.secrets.verifier.clone());
        let inputs = opened.secrets.inputs();
        let exchange = CodeExchange::new(&code, &route.redirect_uri, &verifier)
            .with_inputs(&inputs)
            .with_callback_params(&callback_params);
        let credentials = match provider.exchange_code(&self.cx(), &exchange).await {
            Ok(c) => c,
            Err(source @ ProviderError::EndpointNotAllowed(_)) => {
                tracing::warn!(error = %source, "callback refused: it names an endpoint the provider does not allow");
                return Err(Error::Provider { service: route.service_name.clone(), source });
            }
            Err(e) => {
                tracing::warn!(error = %e, retryable = e.is_retryable(), "code exchange failed");
                let reason = e.reason_code();
                return Ok(self.fail(route, reason, Some(e)));
            }
        };
        tracing::debug!("code exchanged");
        self.after_credentials(route, provider.as_ref(), credentials).await
    }

    /// Connects a service that takes credentials instead of a redirect
    /// ([`AuthKind::Credentials`]: a Sage Intacct web-services user, NetSuite token-based
    /// authentication): validates the session, the service and the inputs, lets the provider
    /// verify them, and ends like [`Connect::complete`]: a tenant choice when the credentials
    /// reach several, else the connection with its credentials sealed, an event, and the
    /// landing page. Secret inputs are sealed, never logged.
    ///
    /// `Err` means the request was refused before anything was sent (session, service, inputs);
    /// `Ok(Completion::Failed)` means the provider refused or failed (wrong password:
    /// [`ReasonCode::UnauthorizedCredentials`]).
    #[tracing::instrument(skip_all, fields(service_name = %service))]
    pub async fn connect_with_inputs(
        &self,
        session: &SessionToken,
        service: &ServiceName,
        inputs: Inputs,
    ) -> Result<Completion, Error> {
        let (route, provider) = self.route_for(session, service, &inputs, AuthKind::Credentials)?;
        let credentials = match provider.connect(&self.cx(), &inputs).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, retryable = e.is_retryable(), "the provider refused the credentials");
                let reason = e.reason_code();
                return Ok(self.fail(&route, reason, Some(e)));
            }
        };
        drop(inputs);
        tracing::debug!("credentials verified");
        self.after_credentials(&route, provider.as_ref(), credentials).await
    }

    async fn after_credentials(
        &self,
        route: &Route,
        provider: &dyn Provider,
        credentials: Credentials,
    ) -> Result<Completion, Error> {
        if !provider.capabilities().tenant_selection {
            return self.finish(route, provider, credentials, None).await;
        }
        let mut tenants = match provider.list_tenants(&self.cx(), &credentials).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "listing tenants failed");
                self.revoke_unused(provider, &credentials).await;
                let reason = e.reason_code();
                return Ok(self.fail(route, reason, Some(e)));
            }
        };
        match tenants.len() {
            0 => {
                self.revoke_unused(provider, &credentials).await;
                Ok(self.fail(route, ReasonCode::NoTenant, None))
            }
            1 => {
                let tenant = tenants.pop();
                self.finish(route, provider, credentials, tenant).await
            }
            _ => {
                let ticket = TenantTicket::new(random_token());
                let now = self.now();
                let expires_at = now + self.inner.authorization_ttl;
                let secrets = TenantChoiceRef { credentials: (&credentials).into(), tenants: &tenants };
                let choice = self.sealer().seal_pending(
                    sha256_hex(ticket.secret()),
                    PendingKind::TenantSelection,
                    route,
                    (now, expires_at),
                    None,
                    &secrets,
                )?;
                self.inner.store.insert_pending(&choice).await?;
                tracing::info!(tenants = tenants.len(), "waiting for the user to choose a tenant");
                Ok(Completion::ChooseTenant {
                    ticket,
                    tenants,
                    business_name: route.business_name.clone(),
                    service_name: route.service_name.clone(),
                    expires_at,
                })
            }
        }
    }

    /// Finishes an authorization whose grant covers several tenants with the user's choice.
    /// A choice made too late fails with [`ReasonCode::AuthorizationExpired`], and the grant
    /// waiting for it is revoked at the provider. A tenant that is not among those offered is
    /// [`Error::UnknownTenant`], and the user may choose again with the same ticket.
    #[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
    pub async fn choose_tenant(&self, ticket: &TenantTicket, tenant: &TenantId) -> Result<Completion, Error> {
        let key = sha256_hex(ticket.secret());
        let Some(pending) = self.inner.store.take_pending(&key, PendingKind::TenantSelection).await? else {
            return Err(Error::UnknownTicket);
        };
        let opened: Opened<TenantChoice> = self.open_taken(&pending)?;
        let route = &opened.route;
        let provider = Arc::clone(self.provider(&route.service_name)?);
        let TenantChoice { credentials, tenants } = opened.secrets;
        let credentials = credentials.into_credentials()?;
        if self.now() > opened.expires_at {
            self.revoke_unused(provider.as_ref(), &credentials).await;
            return Ok(self.fail(route, ReasonCode::AuthorizationExpired, None));
        }
        let Some(chosen) = tenants.into_iter().find(|t| &t.id == tenant) else {
            // Let the user choose again: the record goes back as it was.
            self.inner.store.insert_pending(&pending).await?;
            return Err(Error::UnknownTenant(tenant.clone()));
        };
        self.finish(route, provider.as_ref(), credentials, Some(chosen)).await
    }

    /// Revokes, where the provider can, a grant that produced no connection (no tenant, tenant
    /// listing failed, tenant choice expired, storing failed): it must not stay live at the
    /// provider with nobody holding it. A failure is logged.
    async fn revoke_unused(&self, provider: &dyn Provider, credentials: &Credentials) {
        if !provider.capabilities().revocation {
            return;
        }
        match provider.revoke(&self.cx(), credentials).await {
            Ok(()) => tracing::info!("revoked a grant that produced no connection"),
            Err(e) => tracing::warn!(error = %e, "revoking a grant that produced no connection failed"),
        }
    }

    /// Takes the pending record keyed by `key` if it is of `kind` (the store leaves a record of
    /// the other kind in place) and opens it.
    async fn take_pending<T: DeserializeOwned>(
        &self,
        key: &str,
        kind: PendingKind,
    ) -> Result<Option<Opened<T>>, Error> {
        match self.inner.store.take_pending(key, kind).await? {
            Some(pending) => self.open_taken(&pending).map(Some),
            None => Ok(None),
        }
    }

    /// Opens a taken pending record. A record whose sealed part does not authenticate is an
    /// error: nothing in it is used.
    fn open_taken<T: DeserializeOwned>(
        &self,
        pending: &crate::store::PendingAuthorization,
    ) -> Result<Opened<T>, Error> {
        self.sealer().open_pending(pending).inspect_err(|e| {
            tracing::warn!(error = %e, "a pending record does not authenticate: refused");
        })
    }

    /// The one way every connection is made: seal the credentials, store the connection with
    /// them and its event in one write, emit, and land.
    async fn finish(
        &self,
        route: &Route,
        provider: &dyn Provider,
        mut credentials: Credentials,
        tenant: Option<Tenant>,
    ) -> Result<Completion, Error> {
        let now = self.now();
        let validity = to_time(provider.metadata().connection_validity);
        if let Some(t) = &tenant {
            credentials.set_param("tenantId", t.id.as_str());
        }
        let connection = Connection::new(
            ConnectionId::new_random(),
            route.widget_id.clone(),
            route.business_name.clone(),
            route.service_name.clone(),
            now,
        )
        .with_tenant(tenant)
        // A validity no connection has is clamped, never an overflow.
        .with_expires_at(now.checked_add(validity).unwrap_or_else(|| TokenSet::expiry(now, TokenSet::MAX_LIFETIME)));
        let sealed = self.sealer().seal_credentials(&connection, &credentials)?;
        let events = [Event::connected(&connection, now)];
        // The code is spent: losing these credentials would force the user to start over, so
        // a failing store gets a few more tries.
        let mut attempt = 0;
        loop {
            match self.inner.store.insert_connection(&connection, &sealed, &events).await {
                Ok(()) => break,
                Err(StoreError::Backend(e)) if attempt < 3 => {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, "storing the new connection failed; retrying");
                    tokio::time::sleep(StdDuration::from_millis(50 << attempt)).await;
                }
                // A failed attempt may have committed after all (the id is fresh and random:
                // nobody else has it), so a retry that conflicts found our own write.
                Err(StoreError::Conflict(_))
                    if attempt > 0 && self.inner.store.get_connection(&connection.id).await?.is_some() =>
                {
                    break;
                }
                Err(e) => {
                    self.revoke_unused(provider, &credentials).await;
                    return Err(e.into());
                }
            }
        }
        tracing::info!(connection_id = %connection.id, business_name = %connection.business_name, "connection created");
        self.emit(&events);
        let landing = Landing {
            url: with_params(
                route.success_url.clone(),
                &[
                    ("connectionId", &connection.id.to_string()),
                    ("serviceName", connection.service_name.as_str()),
                    ("businessName", connection.business_name.as_str()),
                ],
            ),
        };
        Ok(Completion::Connected { connection, landing })
    }

    fn failure(&self, route: &Route, reason: ReasonCode, error: Option<ProviderError>) -> Failure {
        self.emit(&[Event::auth_failed(
            route.widget_id.clone(),
            route.business_name.clone(),
            route.service_name.clone(),
            reason,
            self.now(),
        )]);
        let landing = Landing {
            url: with_params(
                route.failure_url.clone(),
                &[
                    ("reason", reason.as_str()),
                    ("serviceName", route.service_name.as_str()),
                    ("businessName", route.business_name.as_str()),
                ],
            ),
        };
        Failure {
            reason,
            provider_error: None,
            provider_error_description: None,
            business_name: route.business_name.clone(),
            service_name: route.service_name.clone(),
            landing,
            error,
        }
    }

    fn fail(&self, route: &Route, reason: ReasonCode, error: Option<ProviderError>) -> Completion {
        Completion::Failed(self.failure(route, reason, error))
    }
}
