//! This crate re-exports the workspace's crates under one name: [`core`]
//! (`railz-connect-core`; its main types are also at the root) and [`providers`]
//! (`railz-connect-providers`).
//!
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub use railz_connect_core as core;
pub use railz_connect_core::*;
pub use railz_connect_providers as providers;
