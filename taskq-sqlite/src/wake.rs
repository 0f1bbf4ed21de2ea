//! In-process wake-ups: fetchers asleep on an empty queue and callers awaiting a result are
//! woken by the write that concerns them, right after its commit, never by a timer. Commits of
//! other processes on the same file reach them through the writer's `PRAGMA data_version`
//! check ([`Wake::external_change`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use std::collections::HashMap;

use taskq::{Outcome, TaskId};
use tokio::sync::{oneshot, Notify};

/// Who sleeps, and how to wake them.
#[derive(Default)]
pub(crate) struct Wake {
    /// Fetchers: woken when something may have become ready.
    ready: Notify,
    /// How many fetchers sleep on `ready` (publishers skip the notification when none do).
    sleepers: AtomicUsize,
    /// Result waiters by task: woken with the outcome by the completion that commits it.
    waiters: Mutex<HashMap<TaskId, Vec<oneshot::Sender<Outcome>>>>,
    /// Result waiters, all at once: another process committed, look again.
    changed: Notify,
    /// Event readers: an append committed (here or, through `external_change`, elsewhere).
    events: Notify,
}

impl std::fmt::Debug for Wake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wake").finish_non_exhaustive()
    }
}

/// Counts a sleeping fetcher for as long as it lives (also when its future is dropped).
pub(crate) struct Sleeper<'a>(&'a AtomicUsize);

impl Drop for Sleeper<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Wake {
    /// Wakes every sleeping fetcher of this process.
    pub(crate) fn fetchers(&self) {
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            self.ready.notify_waiters();
        }
    }

    /// Counts the caller as a sleeping fetcher until the guard drops.
    pub(crate) fn sleeper(&self) -> Sleeper<'_> {
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        Sleeper(&self.sleepers)
    }

    /// What a sleeping fetcher waits on (arm it with `enable` before looking again).
    pub(crate) fn ready(&self) -> &Notify {
        &self.ready
    }

    /// What a result waiter waits on for other processes' commits.
    pub(crate) fn changed(&self) -> &Notify {
        &self.changed
    }

    /// Registers a waiter for `id`'s outcome.
    pub(crate) fn wait_for(&self, id: TaskId) -> oneshot::Receiver<Outcome> {
        let (tx, rx) = oneshot::channel();
        self.lock().entry(id).or_default().push(tx);
        rx
    }

    /// Forgets the waiters of `id` that gave up.
    pub(crate) fn forget(&self, id: TaskId) {
        let mut w = self.lock();
        if let Some(list) = w.get_mut(&id) {
            list.retain(|tx| !tx.is_closed());
            if list.is_empty() {
                w.remove(&id);
            }
        }
    }

    /// Hands `outcome` to the waiters of `id` (after the commit that stored it).
    pub(crate) fn finished(&self, id: TaskId, outcome: &Outcome) {
        let list = {
            let mut w = self.lock();
            if w.is_empty() {
                return;
            }
            w.remove(&id)
        };
        for tx in list.into_iter().flatten() {
            let _ = tx.send(outcome.clone());
        }
    }

    /// Whether anyone in this process awaits a result (completions skip the hand-over when
    /// nobody does).
    pub(crate) fn has_waiters(&self) -> bool {
        !self.lock().is_empty()
    }

    /// Another process committed: every fetcher, result waiter and event reader looks again.
    pub(crate) fn external_change(&self) {
        self.ready.notify_waiters();
        self.changed.notify_waiters();
        self.events.notify_waiters();
    }

    /// What an event reader waits on.
    pub(crate) fn events(&self) -> &Notify {
        &self.events
    }

    /// Events were appended (after their commit).
    pub(crate) fn events_appended(&self) {
        self.events.notify_waiters();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TaskId, Vec<oneshot::Sender<Outcome>>>> {
        self.waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
