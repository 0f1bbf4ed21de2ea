-- The whole schema of version 1. Times are milliseconds since the Unix epoch on the wall
-- clock, so that several processes on one file agree on them; ids are the task's UUID as 16
-- bytes. Values taskq defines (envelopes, outcomes, gates, schedule specs and states, worker
-- heartbeats, events) are stored as their serde JSON: the columns beside them are only what a
-- query filters or orders by.

-- Live tasks only (the hot table): a task leaves it in the same transaction as its end, which
-- stores its outcome in `results`. `seq` (the rowid) breaks ties in FIFO order.
--   state 0 ready     at = when it became ready (enqueued, due, handed back)
--   state 1 delayed   at = when it is due (countdown, eta, retry backoff, rate limit, breaker)
--   state 2 leased    at = the lease's deadline
--   state 3 waiting   at = when it became ready; it waits for a permit of concurrency key `ckey`
CREATE TABLE tasks (
    seq         INTEGER PRIMARY KEY,
    id          BLOB    NOT NULL UNIQUE,
    queue       TEXT    NOT NULL,
    priority    INTEGER NOT NULL,
    state       INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    -- Deliveries so far; the current lease's fencing token while leased.
    attempt     INTEGER NOT NULL DEFAULT 0,
    -- Fails as expired when not started by then.
    expires     INTEGER,
    -- When the current lease began.
    leased_at   INTEGER,
    -- Revoked while running: its worker is told at its next extension.
    cancel      INTEGER NOT NULL DEFAULT 0,
    progress    TEXT,
    -- The concurrency key the task waits for or holds (state 3), from its gate.
    ckey        TEXT,
    -- The envelope; its `attempt` field is stale, the column is the truth.
    env         TEXT    NOT NULL
);
-- The claim: ready tasks of a queue by priority, then FIFO.
CREATE INDEX tasks_ready ON tasks (queue, priority DESC, at, seq) WHERE state = 0;
-- Due delayed tasks, expired leases, permit waiters and counts per state.
CREATE INDEX tasks_timed ON tasks (queue, state, at);
CREATE INDEX tasks_waiting ON tasks (queue, ckey, seq) WHERE state = 3;

-- Outcomes of finished tasks until they expire, with what inspection tells of them.
CREATE TABLE results (
    id          BLOB    PRIMARY KEY,
    outcome     TEXT    NOT NULL,
    expires     INTEGER NOT NULL,
    progress    TEXT,
    task        TEXT,
    queue       TEXT,
    attempt     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER,
    started_at  INTEGER,
    finished_at INTEGER,
    args        TEXT
) WITHOUT ROWID;
CREATE INDEX results_expiry ON results (expires);

-- Dead letters, oldest first per queue: the whole `taskq::DeadLetter` as JSON.
CREATE TABLE dead (
    seq         INTEGER PRIMARY KEY,
    id          BLOB    NOT NULL,
    queue       TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    letter      TEXT    NOT NULL
);
CREATE INDEX dead_queue ON dead (queue, seq);
CREATE INDEX dead_id ON dead (id);

-- Every queue ever published to, and the paused ones.
CREATE TABLE queues (name TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE paused (queue TEXT PRIMARY KEY) WITHOUT ROWID;

-- Counters (workflows' group counts), each gone `ttl` after its last change.
CREATE TABLE counters (
    key         TEXT    PRIMARY KEY,
    value       INTEGER NOT NULL,
    expires     INTEGER NOT NULL
) WITHOUT ROWID;

-- Ids that went through publish_once, until when they count.
CREATE TABLE once (
    id          BLOB    PRIMARY KEY,
    until       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX once_until ON once (until);

-- Joins (chords, DAG fan-in): one row per filled slot, the first write kept.
CREATE TABLE joins (
    key         TEXT    PRIMARY KEY,
    total       INTEGER NOT NULL,
    until       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE join_slots (
    key         TEXT    NOT NULL,
    slot        INTEGER NOT NULL,
    value       TEXT    NOT NULL,
    PRIMARY KEY (key, slot)
) WITHOUT ROWID;
CREATE INDEX joins_until ON joins (until);

-- Unique keys and their holders, each held at most until `until` (the safety net).
CREATE TABLE uniques (
    queue       TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    holder      BLOB    NOT NULL,
    until       INTEGER NOT NULL,
    PRIMARY KEY (queue, key)
) WITHOUT ROWID;
CREATE INDEX uniques_holder ON uniques (holder);

-- Rate limits: each key's theoretical arrival time (GCRA), in microseconds.
CREATE TABLE rates (
    queue       TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    tat_us      INTEGER NOT NULL,
    PRIMARY KEY (queue, key)
) WITHOUT ROWID;

-- Concurrency limits: the leased tasks holding a permit of a key.
CREATE TABLE permits (
    id          BLOB    PRIMARY KEY,
    queue       TEXT    NOT NULL,
    key         TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX permits_key ON permits (queue, key);

-- Circuit breakers: the state as JSON (open until, probes left, failures of the window).
CREATE TABLE breakers (
    queue       TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    PRIMARY KEY (queue, key)
) WITHOUT ROWID;

-- Periodic schedules: spec and shared state as JSON, and the kept tick of `buffer_one`.
CREATE TABLE schedules (
    id          TEXT    PRIMARY KEY,
    spec        TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    buffered    TEXT
) WITHOUT ROWID;

-- Worker heartbeats: live while `until` is ahead.
CREATE TABLE workers (
    id          TEXT    PRIMARY KEY,
    info        TEXT    NOT NULL,
    until       INTEGER NOT NULL
) WITHOUT ROWID;

-- The event log: a position is the rowid; retention keeps the newest per queue.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    queue       TEXT    NOT NULL,
    event       TEXT    NOT NULL
);
CREATE INDEX events_queue ON events (queue, seq);
