//! This crate re-exports the workspace's crates under one name, each item by one path: the
//! core (`railz-connect-core`) at the root (its modules too: [`store`], [`provider`],
//! [`crypto`], ...) and the adapters under [`providers`] (`railz-connect-providers`).
//!
//! Features: `sqlite` (default: the embedded store), `providers-all` (default: every adapter),
//! or one adapter at a time (`railz-sandbox`). `postgres`, the widget and the real providers'
//! features are forwarded from here as they arrive.
//!
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub use railz_connect_core::*;
pub use railz_connect_providers as providers;
/// The Connect widget (feature `widget`).
#[cfg(feature = "widget")]
pub use railz_connect_widget as widget;
