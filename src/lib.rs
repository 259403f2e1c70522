//! This crate re-exports the workspace's crates under one name: [`core`]
//! (`railz-connect-core`; its main types are also at the root) and [`providers`]
//! (`railz-connect-providers`).
//!
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub use railz_connect_core as core;
/// The `time` crate the SDK uses (also `railz_connect::core::time`): its `OffsetDateTime` and
/// `Duration` are in the SDK's API.
///
/// ```
/// use railz_connect::time::{Duration, OffsetDateTime};
///
/// let later: OffsetDateTime = OffsetDateTime::UNIX_EPOCH + Duration::hours(1);
/// assert_eq!(later.unix_timestamp(), 3600);
/// ```
pub use railz_connect_core::time;
pub use railz_connect_core::*;
pub use railz_connect_providers as providers;
