-- The fetch (see fetch.rs). `{queues}` is replaced by one placeholder per queue, from ?2 on.

-- name: paused
SELECT queue FROM paused;

-- name: expired_leases
SELECT id FROM tasks WHERE queue = ?1 AND state = 2 AND at <= ?2;

-- name: promote
UPDATE tasks SET state = 0 WHERE queue = ?1 AND state = 1 AND at <= ?2;

-- name: candidates
SELECT seq, id, queue, attempt, expires, env FROM tasks
WHERE state = 0 AND queue IN ({queues})
ORDER BY priority DESC, at, seq LIMIT ?1;

-- name: lease
UPDATE tasks SET state = 2, attempt = attempt + 1, at = ?2, leased_at = ?3, cancel = 0
WHERE seq = ?1;

-- name: wait_permit
UPDATE tasks SET state = 3, ckey = ?2 WHERE seq = ?1;

-- name: next_due
SELECT min(at) FROM tasks WHERE state IN (1, 2) AND queue IN ({queues});
