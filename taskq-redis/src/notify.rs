//! Result notifications: one pub/sub subscription per backend instance, on its own reply
//! channel, and the waiters it wakes.
//!
//! Completions publish one message per batch and reply channel. The listener reconnects with
//! backoff after a connection loss and, once subscribed again, bumps a generation counter so
//! every waiter re-reads the stored result (a notification sent while the subscription was
//! down is lost; the stored result is not).
//!
//! A notification that arrives before anyone waits (a quick task) is kept for a while in a
//! bounded stash. So a waiter for a task this instance sent while subscribed, on a subscription
//! that has not dropped since, finds its outcome in the stash or is told later, and never
//! needs to read the stored result: one command less per task on the server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use futures_util::StreamExt;
use taskq::{Outcome, TaskId};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::codec::Note;
use crate::conn::backoff;

type Waiters = HashMap<TaskId, Vec<(u64, oneshot::Sender<Outcome>)>>;

/// How many unclaimed notifications are kept.
const STASH: usize = 20_000;

/// Notifications nobody waited for yet, oldest first.
#[derive(Default)]
struct Stash {
    outcomes: HashMap<TaskId, Box<str>>,
    order: std::collections::VecDeque<(TaskId, u64)>,
    /// Sequence number of the next entry.
    next: u64,
    /// Every entry below this number may have been evicted.
    evicted_below: u64,
}

/// Where the subscription stood when a task was sent: a waiter may skip reading the stored
/// result if nothing since could have made it miss the notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mark {
    generation: u64,
    stash_seq: u64,
}

pub(crate) struct Notifier {
    client: redis::Client,
    channel: String,
    waiters: Mutex<Waiters>,
    next: AtomicU64,
    generation: watch::Sender<u64>,
    /// Whether the subscription is in place (the generation it belongs to is current).
    subscribed: std::sync::atomic::AtomicBool,
    stash: Mutex<Stash>,
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        if let Some(h) = lock(&self.listener).take() {
            h.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A registered waiter; unregisters when dropped.
pub(crate) struct Waiter {
    pub(crate) rx: oneshot::Receiver<Outcome>,
    notifier: Weak<Notifier>,
    id: TaskId,
    token: u64,
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(n) = self.notifier.upgrade() {
            let mut w = lock(&n.waiters);
            if let Some(list) = w.get_mut(&self.id) {
                list.retain(|(t, _)| *t != self.token);
                if list.is_empty() {
                    w.remove(&self.id);
                }
            }
        }
    }
}

impl Notifier {
    pub(crate) fn new(client: redis::Client, channel: String) -> Arc<Self> {
        Arc::new(Self {
            client,
            channel,
            waiters: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
            generation: watch::Sender::new(0),
            subscribed: std::sync::atomic::AtomicBool::new(false),
            stash: Mutex::new(Stash::default()),
            listener: Mutex::new(None),
        })
    }

    /// This instance's reply channel.
    pub(crate) fn channel(&self) -> &str {
        &self.channel
    }

    /// Starts the listener unless it runs already (on the current tokio runtime).
    pub(crate) fn ensure_listening(self: &Arc<Self>) {
        let mut l = lock(&self.listener);
        if l.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        *l = Some(tokio::spawn(listen(
            Arc::downgrade(self),
            self.client.clone(),
            self.channel.clone(),
        )));
    }

    /// Counts (re)subscriptions: a waiter re-reads the stored result whenever it changes.
    pub(crate) fn generation(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Where the subscription stands now, if it is in place.
    pub(crate) fn mark(&self) -> Option<Mark> {
        if !self.subscribed.load(Ordering::Acquire) {
            return None;
        }
        let generation = *self.generation.borrow();
        let stash_seq = lock(&self.stash).next;
        // Subscribed before and after reading the generation: the mark is of a live one.
        self.subscribed.load(Ordering::Acquire).then_some(Mark {
            generation,
            stash_seq,
        })
    }

    /// Whether a waiter registered now can rely on being told about a task sent at `mark`: the
    /// subscription has been in place ever since, and no notification since was evicted from
    /// the stash unclaimed.
    pub(crate) fn unbroken_since(&self, mark: Mark) -> bool {
        self.subscribed.load(Ordering::Acquire)
            && *self.generation.borrow() == mark.generation
            && lock(&self.stash).evicted_below <= mark.stash_seq
    }

    /// Takes a notification that arrived before its waiter.
    pub(crate) fn take_stashed(&self, id: TaskId) -> Option<Outcome> {
        let json = lock(&self.stash).outcomes.remove(&id)?;
        serde_json::from_str(&json).ok()
    }

    /// Registers a waiter for `id` (before the stored result is read, so nothing falls between).
    pub(crate) fn register(self: &Arc<Self>, id: TaskId) -> Waiter {
        let (tx, rx) = oneshot::channel();
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.waiters).entry(id).or_default().push((token, tx));
        Waiter {
            rx,
            notifier: Arc::downgrade(self),
            id,
            token,
        }
    }

    /// Drops what the stash holds for `id`: the task was requeued, so an outcome told before is
    /// not its result any more (its next run's is). Dead letters requeued by this instance are
    /// forgotten at once; the script's `requeued` notification covers other instances.
    pub(crate) fn forget(&self, id: TaskId) {
        lock(&self.stash).outcomes.remove(&id);
    }

    fn keep(&self, id: TaskId, outcome: &str) {
        let mut stash = lock(&self.stash);
        let seq = stash.next;
        stash.next += 1;
        stash.outcomes.insert(id, outcome.into());
        stash.order.push_back((id, seq));
        while stash.order.len() > STASH {
            if let Some((old, old_seq)) = stash.order.pop_front() {
                if stash.outcomes.remove(&old).is_some() {
                    stash.evicted_below = old_seq + 1;
                }
            }
        }
    }

    fn dispatch(&self, payload: &[u8]) {
        let notes: Vec<Note<'_>> = match serde_json::from_slice(payload) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring a malformed result notification");
                return;
            }
        };
        let mut waiters = lock(&self.waiters);
        for note in notes {
            let outcome = match note.outcome {
                Some(outcome) if !note.requeued => outcome,
                _ => {
                    self.forget(note.id);
                    continue;
                }
            };
            let Some(list) = waiters.remove(&note.id) else {
                self.keep(note.id, outcome.get());
                continue;
            };
            match serde_json::from_str::<Outcome>(outcome.get()) {
                Ok(outcome) => {
                    for (_, tx) in list {
                        let _ = tx.send(outcome.clone());
                    }
                }
                Err(e) => {
                    tracing::warn!(id = %note.id, error = %e, "a result notification does not decode")
                }
            }
        }
    }
}

async fn listen(notifier: Weak<Notifier>, client: redis::Client, channel: String) {
    let mut failures = 0u32;
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    failures = 0;
                    match notifier.upgrade() {
                        Some(n) => {
                            n.generation.send_modify(|g| *g += 1);
                            n.subscribed.store(true, Ordering::Release);
                        }
                        None => return,
                    }
                    let mut stream = pubsub.into_on_message();
                    while let Some(msg) = stream.next().await {
                        let Some(n) = notifier.upgrade() else {
                            return;
                        };
                        n.dispatch(msg.get_payload_bytes());
                    }
                    if let Some(n) = notifier.upgrade() {
                        n.subscribed.store(false, Ordering::Release);
                    }
                    tracing::warn!(%channel, "lost the result subscription; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "could not subscribe for results"),
            },
            Err(e) => tracing::debug!(error = %e, "could not connect for results"),
        }
        if notifier.strong_count() == 0 {
            return;
        }
        failures = failures.saturating_add(1);
        tokio::time::sleep(backoff(failures)).await;
    }
}
