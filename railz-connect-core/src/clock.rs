//! Time as the SDK sees it; tests swap in a [`ManualClock`].

use std::fmt;
use std::sync::Mutex;

use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: fmt::Debug + Send + Sync + 'static {
    /// Now, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that moves only when told to: for tests of expiry.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// A clock that reads `start` until advanced.
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Mutex::new(start))
    }

    /// Moves the clock forward (saturating at the end of time).
    pub fn advance(&self, by: std::time::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let by = time::Duration::try_from(by).unwrap_or(time::Duration::MAX);
        *now = now.checked_add(by).unwrap_or(*now);
    }

    /// Moves the clock back.
    pub fn rewind(&self, by: std::time::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let by = time::Duration::try_from(by).unwrap_or(time::Duration::MAX);
        *now = now.checked_sub(by).unwrap_or(*now);
    }

    /// Sets the clock.
    pub fn set(&self, to: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
