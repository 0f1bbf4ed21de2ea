-- The moves of a task row that every transition shares (see rows.rs).

-- name: queue
INSERT OR IGNORE INTO queues (name) VALUES (?1);

-- name: insert
INSERT OR IGNORE INTO tasks (id, queue, priority, state, at, attempt, expires, env)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8);

-- name: exists
SELECT 1 FROM tasks WHERE id = ?1;

-- name: to_ready
UPDATE tasks SET state = 0, at = ?2, leased_at = NULL, cancel = 0 WHERE id = ?1;

-- name: to_delayed
UPDATE tasks SET state = 1, at = ?2, leased_at = NULL, cancel = 0 WHERE id = ?1;

-- name: drop_permit
DELETE FROM permits WHERE id = ?1 RETURNING queue, key;

-- name: next_waiter
UPDATE tasks SET state = 0, at = ?3
WHERE seq = (SELECT seq FROM tasks WHERE queue = ?1 AND ckey = ?2 AND state = 3 ORDER BY seq LIMIT 1);

-- name: drop_unique
DELETE FROM uniques WHERE holder = ?1;

-- name: take
DELETE FROM tasks WHERE id = ?1 RETURNING env, attempt, progress, leased_at;

-- name: store_result
INSERT OR REPLACE INTO results
    (id, outcome, expires, progress, task, queue, attempt, created_at, started_at, finished_at, args)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11);

-- name: current
SELECT env, progress, leased_at FROM tasks WHERE id = ?1 AND state = 2 AND attempt = ?2;

-- name: take_current
DELETE FROM tasks WHERE id = ?1 AND state = 2 AND attempt = ?2 RETURNING env, progress, leased_at;
