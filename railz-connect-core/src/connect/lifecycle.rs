//! The end of a connection's life: disconnection, and purging expired pending records.

use super::Connect;
use super::outcome::{Disconnection, Revocation};
use crate::connection::{ConnectionStatus, ReasonCode};
use crate::error::Error;
use crate::event::Event;
use crate::ids::ConnectionId;
use crate::provider::ProviderExt;

impl Connect {
    /// Disconnects: revokes the grant at the provider when it supports revocation, deletes the
    /// credentials, keeps the connection record with status `disconnected`, and records an
    /// event with the change. The answer says whether revocation at the provider worked: a
    /// failure there does not stop the local disconnection, but the app learns the grant may
    /// still be live.
    #[tracing::instrument(skip_all, fields(connection_id = %id))]
    pub async fn disconnect(&self, id: &ConnectionId) -> Result<Disconnection, Error> {
        let connection = self.connection(id).await?;
        if connection.status == ConnectionStatus::Disconnected {
            return Ok(Disconnection { connection, revocation: Revocation::AlreadyDisconnected });
        }
        let provider = self.provider(&connection.service_name)?;
        let revocation = if provider.capabilities().revocation {
            match self.load_credentials(&connection).await {
                Ok((_, credentials)) => match provider.revoke(&self.cx(), &credentials).await {
                    Ok(()) => Revocation::Revoked,
                    Err(e) => {
                        tracing::warn!(error = %e, "revocation at the provider failed; disconnecting locally");
                        Revocation::Failed(e)
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "credentials unreadable; disconnecting locally");
                    Revocation::CredentialsUnreadable(Box::new(e))
                }
            }
        } else {
            Revocation::NotSupported
        };
        let now = self.now();
        let reason = ReasonCode::DisconnectedByCustomer;
        let after = connection.clone().with_status(ConnectionStatus::Disconnected, Some(reason)).with_updated_at(now);
        let events = [Event::status_changed(&after, now)];
        match self.inner.store.disconnect(id, reason, now, &events).await? {
            Some(connection) => {
                self.emit(&events);
                Ok(Disconnection { connection, revocation })
            }
            // Disconnected meanwhile by another caller, whose event it was.
            None => Ok(Disconnection {
                connection: self.connection(id).await?,
                revocation: Revocation::AlreadyDisconnected,
            }),
        }
    }

    /// Deletes pending authorizations that expired; answers how many.
    pub async fn purge_expired(&self) -> Result<u64, Error> {
        Ok(self.inner.store.purge_pending(self.now()).await?)
    }
}
