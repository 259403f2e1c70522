//! Credentials and refresh: reading a connection's credentials, refreshing them exactly once
//! across instances (lease + compare-and-swap), and authorizing API requests with them. A
//! background refresher reuses [`Connect::refresh`] over
//! [`CredentialStore::due_for_refresh`](crate::store::CredentialStore::due_for_refresh).

use std::sync::Arc;
use std::time::Duration as StdDuration;

use super::Connect;
use crate::connection::{Connection, ConnectionStatus, ReasonCode};
use crate::error::Error;
use crate::event::Event;
use crate::ids::ConnectionId;
use crate::provider::{AccountInfo, Credentials, Provider, ProviderExt};
use crate::store::{StatusChange, StoreError};

impl Connect {
    pub(super) async fn load_credentials(&self, connection: &Connection) -> Result<(u64, Credentials), Error> {
        let stored = self
            .inner
            .store
            .load_credentials(&connection.id)
            .await?
            .ok_or(Error::CredentialsNotFound(connection.id))?;
        Ok((stored.version, self.sealer().open_credentials(connection, &stored.sealed.blob)?))
    }

    /// The connection, if its status allows using its credentials. A connection past its
    /// validity becomes `expired` (only if its status did not change meanwhile).
    async fn usable(&self, id: &ConnectionId) -> Result<Connection, Error> {
        let connection = self.connection(id).await?;
        match connection.status {
            ConnectionStatus::Active | ConnectionStatus::Inactive => {}
            status => return Err(Error::ConnectionUnusable { id: *id, status }),
        }
        if self.now() >= connection.expires_at {
            let status =
                match self.set_status(&connection, ConnectionStatus::Expired, ReasonCode::ExpiredCredentials).await? {
                    Some(c) => c.status,
                    // Changed meanwhile (disconnected, say): report what it is now.
                    None => self.connection(id).await?.status,
                };
            return Err(Error::ConnectionUnusable { id: *id, status });
        }
        Ok(connection)
    }

    /// Moves `connection` from the status it was read with to `status`, with its event in the
    /// same write. `None` when its status changed meanwhile (nothing written, no event).
    async fn set_status(
        &self,
        connection: &Connection,
        status: ConnectionStatus,
        reason: ReasonCode,
    ) -> Result<Option<Connection>, Error> {
        let now = self.now();
        let after = connection.clone().with_status(status, Some(reason)).with_updated_at(now);
        let events = [Event::status_changed(&after, now)];
        let change = StatusChange::new(connection.status, status, now).with_reason(reason);
        let written = self.inner.store.set_connection_status(&connection.id, &change, &events).await?;
        if written.is_some() {
            self.emit(&events);
        } else {
            tracing::debug!(%status, "the connection's status changed meanwhile; not overwritten");
        }
        Ok(written)
    }

    /// The decrypted credentials of a connection, refreshed first if the access token expires
    /// within the refresh margin ([`ConnectBuilder::with_refresh_margin`](super::ConnectBuilder::with_refresh_margin)).
    /// Use them to call the provider's API (or let [`Connect::authorize_request`] do it); never
    /// log them.
    #[tracing::instrument(skip_all, fields(connection_id = %id))]
    pub async fn credentials(&self, id: &ConnectionId) -> Result<Credentials, Error> {
        let connection = self.usable(id).await?;
        self.fresh_credentials(&connection).await
    }

    /// The credentials of a usable connection, refreshed first when due.
    async fn fresh_credentials(&self, connection: &Connection) -> Result<Credentials, Error> {
        let (version, credentials) = self.load_credentials(connection).await?;
        if credentials.access_expires_within(self.now(), self.inner.refresh_margin)
            && credentials.can_refresh()
            && self.provider(&connection.service_name)?.capabilities().refresh
        {
            return self.refresh_from(connection, version).await;
        }
        Ok(credentials)
    }

    /// Authorizes a request to the connection's provider API: fresh credentials
    /// ([`Connect::credentials`]), applied the provider's way
    /// ([`Provider::authorize_request`]: a bearer token by default).
    pub async fn authorize_request(
        &self,
        id: &ConnectionId,
        request: &mut http::Request<Vec<u8>>,
    ) -> Result<(), Error> {
        let connection = self.usable(id).await?;
        let credentials = self.fresh_credentials(&connection).await?;
        let provider = self.provider(&connection.service_name)?;
        let tenant = connection.tenant.as_ref().map(|t| &t.id);
        provider
            .authorize_request(&self.cx().with_tenant(tenant), &credentials, request)
            .map_err(|source| Error::Provider { service: connection.service_name.clone(), source })
    }

    /// Checks a connection's credentials with the provider's verify call
    /// ([`Provider::verify`](crate::provider::Provider::verify): company info, the organisation,
    /// a session), for the connection's tenant, and answers the account it reaches. Refreshes
    /// first when due, like [`Connect::credentials`].
    #[tracing::instrument(skip_all, fields(connection_id = %id))]
    pub async fn verify(&self, id: &ConnectionId) -> Result<AccountInfo, Error> {
        let connection = self.usable(id).await?;
        let credentials = self.fresh_credentials(&connection).await?;
        let provider = self.provider(&connection.service_name)?;
        let tenant = connection.tenant.as_ref().map(|t| &t.id);
        provider
            .verify(&self.cx().with_tenant(tenant), &credentials, tenant)
            .await
            .map_err(|source| Error::Provider { service: connection.service_name.clone(), source })
    }

    /// Refreshes a connection's access token now.
    ///
    /// Exactly one refresh per token even with many callers: callers in one process share one
    /// flight; across processes the store's lease admits one refresher, which re-reads the
    /// credentials after taking it and writes with a compare-and-swap. A caller that finds the
    /// credentials already replaced since it read them uses the winner's. `invalid_grant`
    /// marks the connection `invalid` (reason `reauthorizationRequired`) and is never retried.
    /// A successful refresh records [`EventKind::TokenRefreshed`](crate::EventKind::TokenRefreshed)
    /// with the new credentials.
    #[tracing::instrument(skip_all, fields(connection_id = %id))]
    pub async fn refresh(&self, id: &ConnectionId) -> Result<Credentials, Error> {
        let connection = self.usable(id).await?;
        let (version, _) = self.load_credentials(&connection).await?;
        self.refresh_from(&connection, version).await
    }

    async fn refresh_from(&self, connection: &Connection, seen_version: u64) -> Result<Credentials, Error> {
        let id = connection.id;
        let flight = {
            let mut flights = self.inner.flights.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(flights.entry(id).or_default())
        };
        let result = {
            let _flight = flight.lock().await;
            self.refresh_in_flight(connection, seen_version).await
        };
        // Forget the flight once nobody else waits on it (the map holds one reference, we hold
        // the other).
        let mut flights = self.inner.flights.lock().unwrap_or_else(|e| e.into_inner());
        if flights.get(&id).is_some_and(|f| Arc::ptr_eq(f, &flight) && Arc::strong_count(&flight) == 2) {
            flights.remove(&id);
        }
        result
    }

    async fn refresh_in_flight(&self, connection: &Connection, seen_version: u64) -> Result<Credentials, Error> {
        let id = connection.id;
        let provider = Arc::clone(self.provider(&connection.service_name)?);
        let store = &self.inner.store;
        let poll = StdDuration::from_millis(50);
        let patience = StdDuration::try_from(self.inner.lease_ttl * 2i32).unwrap_or(StdDuration::from_secs(60));
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let (version, credentials) = self.load_credentials(connection).await?;
            if version != seen_version {
                tracing::debug!(version, "credentials were refreshed by someone else");
                return Ok(credentials);
            }
            let now = self.now();
            if !store.try_lease(&id, &self.inner.instance, now, now + self.inner.lease_ttl).await? {
                if tokio::time::Instant::now() > deadline {
                    return Err(Error::RefreshContended(id));
                }
                tokio::time::sleep(poll).await;
                continue;
            }
            // Re-read under the lease: a sibling may have finished just before we took it.
            let (version, credentials) = match self.load_credentials(connection).await {
                Ok(v) => v,
                Err(e) => {
                    let _ = store.release_lease(&id, &self.inner.instance).await;
                    return Err(e);
                }
            };
            if version != seen_version {
                store.release_lease(&id, &self.inner.instance).await?;
                return Ok(credentials);
            }
            let result = self.refresh_under_lease(connection, provider.as_ref(), version, &credentials).await;
            if let Err(e) = store.release_lease(&id, &self.inner.instance).await {
                tracing::warn!(error = %e, "releasing the refresh lease failed; it expires by itself");
            }
            match result? {
                Some(credentials) => return Ok(credentials),
                None => continue,
            }
        }
    }

    /// Answers `Ok(None)` when the compare-and-swap lost (re-read and use the winner's).
    async fn refresh_under_lease(
        &self,
        connection: &Connection,
        provider: &dyn Provider,
        version: u64,
        credentials: &Credentials,
    ) -> Result<Option<Credentials>, Error> {
        let id = connection.id;
        let fresh = match provider.refresh(&self.cx(), credentials).await {
            Ok(c) => c,
            Err(e) if e.is_invalid_grant() => {
                // A sibling may have rotated the token meanwhile: re-read first.
                let (now_version, _) = self.load_credentials(connection).await?;
                if now_version != version {
                    return Ok(None);
                }
                tracing::warn!("the provider refused the credentials; re-authorization required");
                self.set_status(connection, ConnectionStatus::Invalid, ReasonCode::ReauthorizationRequired).await?;
                return Err(Error::NeedsReauthorization(id));
            }
            Err(source) => {
                return Err(Error::Provider { service: connection.service_name.clone(), source });
            }
        };
        let sealed = self.sealer().seal_credentials(connection, &fresh)?;
        let events = [Event::refreshed(connection, self.now())];
        // The provider may have rotated the refresh token: the new one must not be lost.
        let mut attempt = 0;
        loop {
            match self.inner.store.replace_credentials(&id, version, &sealed, &events).await {
                Ok(Some(v)) => {
                    tracing::info!(version = v, "access token refreshed");
                    self.emit(&events);
                    return Ok(Some(fresh));
                }
                Ok(None) => {
                    tracing::warn!("credentials changed during the refresh; using the stored ones");
                    return Ok(None);
                }
                Err(StoreError::Backend(e)) if attempt < 5 => {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, "storing refreshed credentials failed; retrying");
                    tokio::time::sleep(StdDuration::from_millis(50 << attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
