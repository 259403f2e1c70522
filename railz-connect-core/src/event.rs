//! Events the SDK emits about connections. They carry ids, never tokens.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::broadcast;

use crate::connection::{Connection, ConnectionStatus, ReasonCode};
use crate::ids::{BusinessName, ConnectionId, ServiceName, WidgetId};

/// What happened (Railz's event names where one exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum EventKind {
    /// A business authorized a service: a new connection exists (Railz's `auth`).
    Auth,
    /// An authorization failed or was denied; `reason` says why.
    AuthFailed,
    /// A connection's status changed (Railz's `connectionStatus`).
    ConnectionStatus,
    /// A connection's access token was refreshed (ids only, never tokens).
    TokenRefreshed,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Event {
    /// Unique id of the event (stable across deliveries).
    pub id: uuid::Uuid,
    /// What happened.
    pub kind: EventKind,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// The widget.
    pub widget_id: WidgetId,
    /// The business.
    pub business_name: BusinessName,
    /// The service, when one was chosen.
    pub service_name: Option<ServiceName>,
    /// The connection, when one exists.
    pub connection_id: Option<ConnectionId>,
    /// The connection's status after the event.
    pub status: Option<ConnectionStatus>,
    /// Why, for failures and status changes.
    pub reason: Option<ReasonCode>,
}

impl Event {
    fn new(kind: EventKind, occurred_at: OffsetDateTime, widget_id: WidgetId, business_name: BusinessName) -> Self {
        Self {
            id: uuid::Uuid::new_v4(),
            kind,
            occurred_at,
            widget_id,
            business_name,
            service_name: None,
            connection_id: None,
            status: None,
            reason: None,
        }
    }

    fn about(kind: EventKind, connection: &Connection, at: OffsetDateTime) -> Self {
        Self {
            service_name: Some(connection.service_name.clone()),
            connection_id: Some(connection.id),
            status: Some(connection.status),
            reason: connection.status_reason,
            ..Self::new(kind, at, connection.widget_id.clone(), connection.business_name.clone())
        }
    }

    /// A business authorized a service: `connection` is new ([`EventKind::Auth`]).
    pub fn connected(connection: &Connection, at: OffsetDateTime) -> Self {
        Self::about(EventKind::Auth, connection, at)
    }

    /// `connection`'s status changed to the one it now has ([`EventKind::ConnectionStatus`]).
    pub fn status_changed(connection: &Connection, at: OffsetDateTime) -> Self {
        Self::about(EventKind::ConnectionStatus, connection, at)
    }

    /// `connection`'s access token was refreshed ([`EventKind::TokenRefreshed`]).
    pub fn refreshed(connection: &Connection, at: OffsetDateTime) -> Self {
        Self::about(EventKind::TokenRefreshed, connection, at)
    }

    /// An authorization of `service` for a business failed ([`EventKind::AuthFailed`]).
    pub fn auth_failed(
        widget_id: WidgetId,
        business_name: BusinessName,
        service_name: ServiceName,
        reason: ReasonCode,
        at: OffsetDateTime,
    ) -> Self {
        Self {
            service_name: Some(service_name),
            reason: Some(reason),
            ..Self::new(EventKind::AuthFailed, at, widget_id, business_name)
        }
    }
}

/// Receives events as they happen. Implementations must not block; hand work off to a task.
pub trait EventSink: fmt::Debug + Send + Sync + 'static {
    /// Called once per event, after the change it describes is stored.
    fn emit(&self, event: &Event);
}

/// Fans events out to any number of subscribers ([`crate::Connect::subscribe`]).
#[derive(Debug, Clone)]
pub struct BroadcastSink(broadcast::Sender<Event>);

impl BroadcastSink {
    /// A sink buffering up to `capacity` events per slow subscriber.
    pub fn new(capacity: usize) -> Self {
        Self(broadcast::channel(capacity.max(1)).0)
    }

    /// A new subscriber that sees every event emitted from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0.subscribe()
    }
}

impl EventSink for BroadcastSink {
    fn emit(&self, event: &Event) {
        // No subscriber is not an error.
        let _ = self.0.send(event.clone());
    }
}
