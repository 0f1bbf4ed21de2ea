-- Retention: what has expired goes, in bounded batches (see retention.rs).

-- name: results
DELETE FROM results WHERE id IN (SELECT id FROM results WHERE expires <= ?1 LIMIT ?2);

-- name: counters
DELETE FROM counters WHERE key IN (SELECT key FROM counters WHERE expires <= ?1 LIMIT ?2);

-- name: once
DELETE FROM once WHERE id IN (SELECT id FROM once WHERE until <= ?1 LIMIT ?2);

-- name: workers
DELETE FROM workers WHERE until <= ?1;

-- name: uniques
DELETE FROM uniques WHERE (queue, key) IN (SELECT queue, key FROM uniques WHERE until <= ?1 LIMIT ?2);
