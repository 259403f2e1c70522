use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{
    BusinessRecord, ConnectionStore, CredentialStore, DueRefresh, Page, PendingAuthorization, PendingKind,
    PendingStore, SealedCredentials, StatusChange, StoreError, StoredCredentials,
};
use crate::connection::{Connection, ConnectionFilter, ConnectionStatus, ReasonCode};
use crate::crypto::KeyId;
use crate::event::Event;
use crate::ids::{BusinessName, ConnectionId};

#[derive(Debug, Default)]
struct State {
    businesses: HashMap<BusinessName, BusinessRecord>,
    connections: HashMap<ConnectionId, Connection>,
    /// The connections of each business (a business's listing does not scan the store).
    by_business: HashMap<BusinessName, Vec<ConnectionId>>,
    credentials: HashMap<ConnectionId, StoredCredentials>,
    leases: HashMap<ConnectionId, (String, OffsetDateTime)>,
    pending: HashMap<String, PendingAuthorization>,
}

/// A store in memory, for tests and examples. Clones share nothing; wrap it in an `Arc` to
/// share one store between several [`crate::Connect`] instances. It has no outbox: the events
/// a mutation carries are left to [`crate::Connect`]'s sinks.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl ConnectionStore for MemoryStore {
    async fn reserve_business(&self, business: &BusinessRecord) -> Result<bool, StoreError> {
        let mut s = self.state();
        if s.businesses.contains_key(&business.name) {
            return Ok(false);
        }
        s.businesses.insert(business.name.clone(), business.clone());
        Ok(true)
    }

    async fn get_business(&self, name: &BusinessName) -> Result<Option<BusinessRecord>, StoreError> {
        Ok(self.state().businesses.get(name).cloned())
    }

    async fn insert_connection(
        &self,
        connection: &Connection,
        credentials: &SealedCredentials,
        _events: &[Event],
    ) -> Result<(), StoreError> {
        let mut s = self.state();
        if s.connections.contains_key(&connection.id) {
            return Err(StoreError::Conflict(format!("connection {}", connection.id)));
        }
        s.connections.insert(connection.id, connection.clone());
        s.by_business.entry(connection.business_name.clone()).or_default().push(connection.id);
        s.credentials.insert(connection.id, StoredCredentials::new(1, credentials.clone()));
        Ok(())
    }

    async fn get_connection(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        Ok(self.state().connections.get(id).cloned())
    }

    async fn list_connections(&self, filter: &ConnectionFilter, page: &Page) -> Result<Vec<Connection>, StoreError> {
        let wanted = |c: &&Connection| filter.matches(c) && page.after.is_none_or(|after| after.precedes(c));
        let s = self.state();
        let mut out: Vec<Connection> = match &filter.business_name {
            Some(business) => s
                .by_business
                .get(business)
                .into_iter()
                .flatten()
                .filter_map(|id| s.connections.get(id))
                .filter(wanted)
                .cloned()
                .collect(),
            None => s.connections.values().filter(wanted).cloned().collect(),
        };
        drop(s);
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        out.truncate(page.limit);
        Ok(out)
    }

    async fn set_connection_status(
        &self,
        id: &ConnectionId,
        change: &StatusChange,
        _events: &[Event],
    ) -> Result<Option<Connection>, StoreError> {
        let mut s = self.state();
        Ok(s.connections.get_mut(id).filter(|c| c.status == change.expected).map(|c| {
            c.status = change.status;
            c.status_reason = change.reason;
            c.updated_at = change.at;
            c.clone()
        }))
    }

    async fn disconnect(
        &self,
        id: &ConnectionId,
        reason: ReasonCode,
        at: OffsetDateTime,
        _events: &[Event],
    ) -> Result<Option<Connection>, StoreError> {
        let mut s = self.state();
        let Some(c) = s.connections.get_mut(id).filter(|c| c.status != ConnectionStatus::Disconnected) else {
            return Ok(None);
        };
        c.status = ConnectionStatus::Disconnected;
        c.status_reason = Some(reason);
        c.updated_at = at;
        let c = c.clone();
        s.credentials.remove(id);
        s.leases.remove(id);
        Ok(Some(c))
    }
}

#[async_trait]
impl CredentialStore for MemoryStore {
    async fn load_credentials(&self, id: &ConnectionId) -> Result<Option<StoredCredentials>, StoreError> {
        Ok(self.state().credentials.get(id).cloned())
    }

    async fn replace_credentials(
        &self,
        id: &ConnectionId,
        expected_version: u64,
        credentials: &SealedCredentials,
        _events: &[Event],
    ) -> Result<Option<u64>, StoreError> {
        let mut s = self.state();
        match s.credentials.get_mut(id) {
            Some(c) if c.version == expected_version => {
                c.version += 1;
                c.sealed = credentials.clone();
                Ok(Some(c.version))
            }
            _ => Ok(None),
        }
    }

    async fn due_for_refresh(&self, before: OffsetDateTime, limit: usize) -> Result<Vec<DueRefresh>, StoreError> {
        let s = self.state();
        let mut due: Vec<DueRefresh> = s
            .credentials
            .iter()
            .filter_map(|(id, c)| {
                c.sealed.access_expires_at.filter(|at| *at < before).map(|at| DueRefresh::new(*id, at))
            })
            .collect();
        drop(s);
        due.sort_by(|a, b| a.access_expires_at.cmp(&b.access_expires_at).then(a.connection_id.cmp(&b.connection_id)));
        due.truncate(limit);
        Ok(due)
    }

    async fn sealed_with_key(
        &self,
        key_id: KeyId,
        after: Option<ConnectionId>,
        limit: usize,
    ) -> Result<Vec<ConnectionId>, StoreError> {
        let s = self.state();
        let mut ids: Vec<ConnectionId> = s
            .credentials
            .iter()
            .filter(|(id, c)| c.sealed.key_id == key_id && after.is_none_or(|a| **id > a))
            .map(|(id, _)| *id)
            .collect();
        drop(s);
        ids.sort();
        ids.truncate(limit);
        Ok(ids)
    }

    async fn try_lease(
        &self,
        id: &ConnectionId,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut s = self.state();
        if !s.credentials.contains_key(id) {
            return Ok(false);
        }
        match s.leases.get(id) {
            Some((holder, expiry)) if holder != owner && *expiry > now => Ok(false),
            _ => {
                s.leases.insert(*id, (owner.to_owned(), until));
                Ok(true)
            }
        }
    }

    async fn release_lease(&self, id: &ConnectionId, owner: &str) -> Result<(), StoreError> {
        let mut s = self.state();
        if s.leases.get(id).is_some_and(|(holder, _)| holder == owner) {
            s.leases.remove(id);
        }
        Ok(())
    }
}

#[async_trait]
impl PendingStore for MemoryStore {
    async fn insert_pending(&self, pending: &PendingAuthorization) -> Result<(), StoreError> {
        let mut s = self.state();
        if s.pending.contains_key(&pending.key) {
            return Err(StoreError::Conflict("pending authorization".into()));
        }
        s.pending.insert(pending.key.clone(), pending.clone());
        Ok(())
    }

    async fn take_pending(&self, key: &str, kind: PendingKind) -> Result<Option<PendingAuthorization>, StoreError> {
        let mut s = self.state();
        if s.pending.get(key).is_none_or(|p| p.kind != kind) {
            return Ok(None);
        }
        Ok(s.pending.remove(key))
    }

    async fn purge_pending(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut s = self.state();
        let n = s.pending.len();
        s.pending.retain(|_, p| p.expires_at >= before);
        Ok((n - s.pending.len()) as u64)
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn conformance() {
        super::super::conformance::run_all(std::sync::Arc::new(super::MemoryStore::new())).await;
    }
}
