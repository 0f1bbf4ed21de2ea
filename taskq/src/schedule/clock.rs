//! The scheduler's clock: the system clock in production, one a test moves by hand.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::Notify;

use crate::message::Timestamp;

/// What the scheduler loop reads the time from and sleeps on.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> Timestamp;
    /// Resolves at `at` (at once if it has passed), or earlier; callers look at
    /// [`Clock::now`] again.
    fn sleep_until(&self, at: Timestamp) -> BoxFuture<'_, ()>;
}

/// The system clock, with tokio's timer.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn sleep_until(&self, at: Timestamp) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(at.remaining()))
    }
}

/// A clock a test sets: [`ManualClock::set`] moves it and wakes every sleeper.
///
/// ```
/// use taskq::schedule::clock::{Clock, ManualClock};
/// let clock = ManualClock::new(taskq::Timestamp(1_000));
/// clock.advance(std::time::Duration::from_millis(500));
/// assert_eq!(clock.now(), taskq::Timestamp(1_500));
/// ```
#[derive(Clone, Default)]
pub struct ManualClock {
    inner: Arc<(AtomicU64, Notify)>,
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ManualClock").field(&self.now()).finish()
    }
}

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: Timestamp) -> Self {
        let c = Self::default();
        c.inner.0.store(at.0, Ordering::SeqCst);
        c
    }

    /// Sets the time (backwards too) and wakes the sleepers.
    pub fn set(&self, at: Timestamp) {
        self.inner.0.store(at.0, Ordering::SeqCst);
        self.inner.1.notify_waiters();
    }

    /// Moves the time on by `by`.
    pub fn advance(&self, by: Duration) {
        self.set(self.now().after(by));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.inner.0.load(Ordering::SeqCst))
    }

    fn sleep_until(&self, at: Timestamp) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            loop {
                let notified = self.inner.1.notified();
                if self.now() >= at {
                    return;
                }
                // A bounded wait, so a missed wake costs a few milliseconds, never a hang.
                let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
            }
        })
    }
}
