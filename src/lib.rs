//! # railz-connect
//!
//! Connect your business customers' accounting software and keep those connections alive.
//! This crate re-exports the workspace's crates under one name:
//!
//! - [`core`] (`railz-connect-core`): the connection lifecycle, the provider adapter trait,
//!   credential encryption and the storage traits; its main types are re-exported at the root.
//! - [`providers`] (`railz-connect-providers`): the accounting-service adapters.
//!
//! See the README for a walkthrough; `cargo run --example quickstart` runs the whole flow
//! against the Railz Cloud Accounting sandbox.

#![forbid(unsafe_code)]

pub use railz_connect_core as core;
pub use railz_connect_core::*;
pub use railz_connect_providers as providers;
