//! Key names. Every key of one queue starts with the hash tag `{prefix:queue}`, so a queue
//! lives in one Redis Cluster slot and its scripts touch one slot only.

use taskq::TaskId;

/// The keys of one queue.
#[derive(Clone, Debug)]
pub(crate) struct QueueKeys {
    tag: String,
}

impl QueueKeys {
    pub(crate) fn new(prefix: &str, queue: &str) -> Self {
        Self {
            tag: format!("{{{prefix}:{queue}}}"),
        }
    }

    fn key(&self, suffix: &str) -> String {
        let mut k = String::with_capacity(self.tag.len() + 1 + suffix.len());
        k.push_str(&self.tag);
        k.push(':');
        k.push_str(suffix);
        k
    }

    /// Hash: id → stored message (`priority|reply channel|envelope JSON`).
    pub(crate) fn env(&self) -> String {
        self.key("env")
    }
    /// Hash: id → stored message of a task published with a due time, until it is due (then
    /// it moves to `env`). Kept apart so that a million scheduled tasks do not make the hash
    /// every ready task goes through large (and its lookups cache misses).
    pub(crate) fn denv(&self) -> String {
        self.key("denv")
    }
    /// Hash: id → how many of its deliveries ended unfinished (absent: none).
    pub(crate) fn attempt(&self) -> String {
        self.key("attempt")
    }
    /// Sorted set: id by lease deadline (ms).
    pub(crate) fn lease(&self) -> String {
        self.key("lease")
    }
    /// Sorted set: id by due time (ms).
    pub(crate) fn delayed(&self) -> String {
        self.key("delayed")
    }
    /// List: wake-up markers idle workers block on.
    pub(crate) fn wake(&self) -> String {
        self.key("wake")
    }
    /// List: dead letters, oldest first.
    pub(crate) fn dead(&self) -> String {
        self.key("dead")
    }
    /// Set: ids of running tasks that were revoked.
    pub(crate) fn cancel(&self) -> String {
        self.key("cancel")
    }
    /// Hash: id → last progress report.
    pub(crate) fn progress(&self) -> String {
        self.key("progress")
    }
    /// Hash: id → channels of waiters in other processes.
    pub(crate) fn watch(&self) -> String {
        self.key("watch")
    }
    /// List: ready ids of priority `p` (0..=9), oldest first.
    pub(crate) fn ready(&self, p: u8) -> String {
        self.key(&format!("r{}", p.min(9)))
    }
    /// Hash: id → stored outcome (`{"outcome":..,"progress":..}`).
    pub(crate) fn results(&self) -> String {
        self.key("results")
    }
    /// Sorted set: id by the time its stored outcome expires (ms).
    pub(crate) fn expiry(&self) -> String {
        self.key("expiry")
    }
    /// String, present while the queue is paused: fetches skip the queue.
    pub(crate) fn paused(&self) -> String {
        self.key("paused")
    }
    /// Stream: the queue's event log, capped (`XADD .. MAXLEN ~`); one entry per write, its
    /// field `c` the events of that write, a line each (see `backend/event_lines.rs`).
    pub(crate) fn events(&self) -> String {
        self.key("events")
    }
    /// String with a TTL: `id` went through `publish_once`.
    pub(crate) fn once(&self, id: &str) -> String {
        self.key(&format!("once:{id}"))
    }
    /// Hash: the state of schedule `id` (whose task goes to this queue): last claimed tick,
    /// pause, counts, the kept tick (see `lua/schedule_common.lua`).
    pub(crate) fn schedule(&self, id: &str) -> String {
        self.key(&format!("sched:{id}"))
    }
    /// List: the latest skipped ticks of schedule `id`, newest first.
    pub(crate) fn schedule_skips(&self, id: &str) -> String {
        self.key(&format!("sched:{id}:skips"))
    }
    /// Hash: id → the line of a gated message's limits (see `backend/flow.rs`; the scripts
    /// name it from `env`: keep the two in step).
    pub(crate) fn gate(&self) -> String {
        self.key("gate")
    }
    /// Hash: a circuit breaker's state (`until`, `left`; see `backend/flow.rs`; the fetch
    /// script names it from `env`: keep the two in step).
    pub(crate) fn breaker(&self, key: &str) -> String {
        self.key(&format!("brk:{key}"))
    }
    /// Sorted set: a circuit breaker's recent failures.
    pub(crate) fn breaker_failures(&self, key: &str) -> String {
        self.key(&format!("brkf:{key}"))
    }
    /// Hash: id → the digest of the unique key it holds (see `backend/unique.rs`; the scripts
    /// name it from `env`: keep the two in step).
    pub(crate) fn uniq(&self) -> String {
        self.key("uniq")
    }
    /// String with a TTL: the id of the task holding the unique key `digest`.
    pub(crate) fn unique(&self, digest: &str) -> String {
        self.key(&format!("uniq:{digest}"))
    }
    /// All ten ready lists, r0 first.
    /// The keys of the scripts that end a leased message in the dead letters (`bury`,
    /// `dead_letter`), in their `KEYS` order: env, lease, cancel, progress, watch, dead,
    /// results, expiry, attempt.
    pub(crate) fn dead_letter_keys(&self, inv: &mut redis::ScriptInvocation<'_>) {
        inv.key(self.env())
            .key(self.lease())
            .key(self.cancel())
            .key(self.progress())
            .key(self.watch())
            .key(self.dead())
            .key(self.results())
            .key(self.expiry())
            .key(self.attempt());
    }

    /// The keys of `complete` and `complete_fast`, in their `KEYS` order: env, lease, cancel,
    /// progress, watch, results, expiry, attempt.
    pub(crate) fn complete_keys(&self, inv: &mut redis::ScriptInvocation<'_>) {
        inv.key(self.env())
            .key(self.lease())
            .key(self.cancel())
            .key(self.progress())
            .key(self.watch())
            .key(self.results())
            .key(self.expiry())
            .key(self.attempt());
    }

    pub(crate) fn ready_all(&self) -> impl Iterator<Item = String> + '_ {
        (0..10u8).map(|p| self.ready(p))
    }
}

/// The set of every queue name this prefix has seen (to find a task by id alone).
pub(crate) fn queues_key(prefix: &str) -> String {
    format!("{prefix}:queues")
}

/// Hash: schedule id → its spec (JSON).
pub(crate) fn schedules_key(prefix: &str) -> String {
    format!("{{{prefix}:~schedules}}:specs")
}

/// Hash: worker id → its last heartbeat (JSON). Beside it, [`worker_deadlines_key`].
pub(crate) fn workers_key(prefix: &str) -> String {
    format!("{{{prefix}:~workers}}:info")
}

/// Sorted set: worker id by the time its heartbeat runs out (ms). A worker is live while its
/// deadline is ahead; heartbeats delete the entries (and infos) whose deadline passed.
pub(crate) fn worker_deadlines_key(prefix: &str) -> String {
    format!("{{{prefix}:~workers}}:deadline")
}

/// A workflow join (first value per slot).
pub(crate) fn join_key(prefix: &str, key: &str) -> String {
    format!("{prefix}:join:{{{key}}}")
}

/// The queue under which outcomes of tasks found in no queue are kept (`resolve` of a workflow
/// whose last step was never sent).
pub(crate) const RESOLVED_QUEUE: &str = "~resolved";

/// A chord counter.
pub(crate) fn counter_key(prefix: &str, key: &str) -> String {
    format!("{prefix}:counter:{{{key}}}")
}

/// The reply channel of one backend instance.
pub(crate) fn reply_channel(prefix: &str) -> String {
    format!("{prefix}:reply:{}", TaskId::new())
}
