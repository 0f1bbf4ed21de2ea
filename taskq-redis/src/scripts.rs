//! The Lua scripts: one per state change that must be atomic, each small and named after the
//! transition (see `src/lua/`). Each is the shared prelude followed by its body.

use std::sync::LazyLock;

use redis::Script;

macro_rules! scripts {
    ($($(#[$doc:meta])* $name:ident = $file:literal;)*) => {$(
        $(#[$doc])*
        pub(crate) static $name: LazyLock<Script> = LazyLock::new(|| {
            Script::new(concat!(include_str!("lua/prelude.lua"), include_str!(concat!("lua/", $file))))
        });
    )*};
}

scripts! {
    /// Reclaim, promote, pop and lease.
    FETCH = "fetch.lua";
    /// Leases whose message was gone by the time the fetch read it.
    VANISHED = "vanished.lua";
    /// Fenced completion of a batch.
    COMPLETE = "complete.lua";
    /// The same when every lease checks out and nothing else is pending: no per-item Lua.
    COMPLETE_FAST = "complete_fast.lua";
    /// Fenced move to the dead letters.
    DEAD_LETTER = "dead_letter.lua";
    /// Fenced burial of an undecodable message.
    BURY = "bury.lua";
    /// Fenced retry later.
    RETRY = "retry.lua";
    /// Fenced hand-back.
    RELEASE = "release.lua";
    /// Fenced lease extension.
    EXTEND = "extend.lua";
    /// Revocation.
    CANCEL = "cancel.lua";
    /// Fenced progress report.
    PROGRESS = "progress.lua";
    /// A queue's waiting messages deleted, each resolved as cancelled.
    PURGE = "purge.lua";
    /// Dead letters back to ready.
    REQUEUE = "requeue.lua";
    /// Dead letters deleted.
    PURGE_DEAD = "purge_dead.lua";
    /// A foreign waiter's registration.
    WATCH = "watch.lua";
    /// A worker's heartbeat, and the registry's clean-up.
    HEARTBEAT = "heartbeat.lua";
    /// Publish unless published within a TTL (workflows).
    PUBLISH_ONCE = "publish_once.lua";
    /// Publish holding a unique key unless a live task holds it (unique tasks).
    PUBLISH_UNIQUE = "publish_unique.lua";
    /// A circuit breaker's report, forced state or read (flow control).
    BREAKER = "breaker.lua";
    /// First write wins per slot; all values once complete (chords, fan-in).
    JOIN = "join.lua";
    /// Store an outcome unless there is one (workflows).
    RESOLVE = "resolve.lua";
}
