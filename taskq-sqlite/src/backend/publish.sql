-- The ways a task comes in (see publish.rs).

-- name: once_seen
SELECT 1 FROM once WHERE id = ?1 AND until > ?2;

-- name: once_put
INSERT OR REPLACE INTO once (id, until) VALUES (?1, ?2);

-- name: once_sweep
DELETE FROM once WHERE until <= ?1;

-- name: unique_holder
SELECT holder, until FROM uniques WHERE queue = ?1 AND key = ?2;

-- name: unique_put
INSERT OR REPLACE INTO uniques (queue, key, holder, until) VALUES (?1, ?2, ?3, ?4);
