//! Result waiters: one pub/sub connection per backend instance, subscribed to the
//! `celery-task-meta-<id>` channel of every result someone waits for (the channel Celery's
//! worker publishes on), and unsubscribed when nobody waits any more.
//!
//! A waiter registers, makes sure the channel is subscribed, then reads the stored result, so
//! a result stored before the subscription is not missed. When the connection drops, every
//! waiter is woken, subscribes again on a new connection and reads again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use futures_util::StreamExt;
use redis::aio::PubSubSink;
use redis::RedisError;
use tokio::sync::oneshot;

type Waiters = HashMap<String, Vec<(u64, oneshot::Sender<String>)>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The subscriptions of one backend instance.
pub(crate) struct Subscriptions {
    client: redis::Client,
    sink: tokio::sync::Mutex<Option<PubSubSink>>,
    waiters: Mutex<Waiters>,
    next: std::sync::atomic::AtomicU64,
}

/// One registered waiter; unregisters (and unsubscribes the channel if it was the last) when
/// dropped.
pub(crate) struct Waiter {
    pub(crate) rx: oneshot::Receiver<String>,
    subs: Weak<Subscriptions>,
    channel: String,
    token: u64,
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let Some(subs) = self.subs.upgrade() else {
            return;
        };
        let last = {
            let mut w = lock(&subs.waiters);
            match w.get_mut(&self.channel) {
                Some(list) => {
                    list.retain(|(t, _)| *t != self.token);
                    let empty = list.is_empty();
                    if empty {
                        w.remove(&self.channel);
                    }
                    empty
                }
                None => true,
            }
        };
        if last {
            let channel = std::mem::take(&mut self.channel);
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    let sink = subs.sink.lock().await.clone();
                    if let Some(mut sink) = sink {
                        // Unless a new waiter came for it meanwhile.
                        if !lock(&subs.waiters).contains_key(&channel) {
                            let _ = sink.unsubscribe(&channel).await;
                        }
                    }
                });
            }
        }
    }
}

impl Subscriptions {
    pub(crate) fn new(client: redis::Client) -> Arc<Self> {
        Arc::new(Self {
            client,
            sink: tokio::sync::Mutex::new(None),
            waiters: Mutex::new(HashMap::new()),
            next: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Registers a waiter for `channel` and makes sure the channel is subscribed.
    pub(crate) async fn watch(self: &Arc<Self>, channel: &str) -> Result<Waiter, RedisError> {
        let (tx, rx) = oneshot::channel();
        let token = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        lock(&self.waiters)
            .entry(channel.to_owned())
            .or_default()
            .push((token, tx));
        let waiter = Waiter {
            rx,
            subs: Arc::downgrade(self),
            channel: channel.to_owned(),
            token,
        };
        let mut guard = self.sink.lock().await;
        let mut sink = match guard.as_ref() {
            Some(s) => s.clone(),
            None => {
                let (sink, stream) = self.client.get_async_pubsub().await?.split();
                let subs = Arc::downgrade(self);
                tokio::spawn(async move {
                    let mut stream = stream;
                    while let Some(msg) = stream.next().await {
                        let Some(subs) = subs.upgrade() else { return };
                        let channel = msg.get_channel_name().to_owned();
                        let Ok(payload) = msg.get_payload::<String>() else {
                            continue;
                        };
                        let woken = lock(&subs.waiters).remove(&channel).unwrap_or_default();
                        for (_, tx) in woken {
                            let _ = tx.send(payload.clone());
                        }
                    }
                    // The connection is gone: forget it and wake everyone (their senders are
                    // dropped), so they subscribe again on a new one and read again.
                    if let Some(subs) = subs.upgrade() {
                        *subs.sink.lock().await = None;
                        lock(&subs.waiters).clear();
                    }
                });
                *guard = Some(sink.clone());
                sink
            }
        };
        drop(guard);
        if let Err(e) = sink.subscribe(channel).await {
            *self.sink.lock().await = None;
            return Err(e);
        }
        Ok(waiter)
    }
}
