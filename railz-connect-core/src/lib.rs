//! # railz-connect-core
//!
//! The core of railz-connect: the connection lifecycle ([`Connect`]), generated business
//! names, the provider adapter trait and registry ([`provider`]), credential encryption
//! ([`crypto`]) and the storage traits integrators implement ([`store`]).
//!
//! ```no_run
//! # async fn run(provider: std::sync::Arc<dyn railz_connect_core::provider::Provider>) -> Result<(), railz_connect_core::Error> {
//! use std::sync::Arc;
//! use railz_connect_core::provider::Inputs;
//! use railz_connect_core::{Callback, Completion, Connect, SessionRequest, WidgetConfig};
//! use railz_connect_core::crypto::{DataKey, Keyring};
//! use railz_connect_core::store::SqliteStore;
//!
//! let widget = WidgetConfig::builder("my-widget".parse()?)
//!     .with_redirect_uri("https://app.example/connect/callback".parse().unwrap())
//!     .with_success_url("https://app.example/connected".parse().unwrap())
//!     .with_failure_url("https://app.example/connect-failed".parse().unwrap())
//!     .build()?;
//! let connect = Connect::builder()
//!     .with_provider(provider)
//!     .with_store(Arc::new(SqliteStore::open("railz-connect.db").await?))
//!     .with_keyring(Keyring::from_env()?)
//!     .with_widget(widget)
//!     .build()?;
//!
//! // Server side, before showing the widget: a session (a businessName is generated).
//! let session = connect.create_session(&"my-widget".parse()?, SessionRequest::new()).await?;
//! // The user picked a service: send them to the provider.
//! let start = connect.begin(&session.token, &"railzSandbox".parse()?, Inputs::new()).await?;
//! println!("redirect to {}", start.url);
//! // ... later, on the callback route:
//! let callback = Callback::from_query("code=...&state=...")?;
//! match connect.complete(&callback).await? {
//!     Completion::Connected { connection, landing } => println!("{} -> {}", connection.id, landing.url),
//!     Completion::ChooseTenant { tenants, .. } => println!("choose one of {}", tenants.len()),
//!     Completion::Failed(f) => println!("failed: {} -> {}", f.reason, f.landing.url),
//!     _ => {}
//! }
//! # Ok(()) }
//! ```
//!
//! Secrets (tokens, client secrets, `state`, PKCE verifiers, session tokens, keys) are
//! newtypes whose `Debug` prints `[redacted]`; nothing here logs or returns them except
//! through an explicit `secret()` call.

#![forbid(unsafe_code)]

mod business_name;
mod callback;
mod clock;
mod config;
mod connect;
mod connection;
pub mod crypto;
mod error;
mod event;
pub mod http;
mod ids;
pub mod provider;
pub mod secret;
pub mod store;
mod text;

pub use business_name::generate as generate_business_name;
pub use callback::Callback;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{WidgetConfig, WidgetConfigBuilder};
pub use connect::{
    AuthorizationStart, Completion, Connect, ConnectBuilder, ConnectionList, Disconnection, Failure, Landing,
    Revocation, ServiceInput, ServiceSummary, SessionInfo, SessionRequest, WidgetSession,
};
pub use connection::{Connection, ConnectionFilter, ConnectionStatus, ReasonCode, Tenant};
pub use error::{CallbackError, Error, ErrorKind, SessionError};
pub use event::{BroadcastSink, Event, EventKind, EventSink};
pub use ids::{BusinessName, ConnectionId, InvalidId, ServiceName, TenantId, WidgetId};

/// The `time` crate, re-exported: its `OffsetDateTime` is in this crate's API ([`Clock::now`],
/// connection and event timestamps), so an app can name it without depending on `time` itself
/// or on a version that differs from the SDK's. (Durations in the API are
/// `std::time::Duration`. The `time::macros`, such as `datetime!`, expand to paths under
/// `::time` and still need `time` as a direct dependency.)
///
/// ```
/// use std::time::Duration;
/// use railz_connect_core::time::OffsetDateTime;
/// use railz_connect_core::{Clock, ManualClock};
///
/// let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH);
/// clock.advance(Duration::from_secs(300));
/// assert_eq!(clock.now().unix_timestamp(), 300);
/// ```
pub use time;
