-- Workflows' shared state: group counters and joins (see workflow.rs).

-- name: counter
INSERT INTO counters (key, value, expires) VALUES (?1, ?2, ?3)
ON CONFLICT (key) DO UPDATE SET
    value = CASE WHEN counters.expires <= ?4 THEN excluded.value ELSE counters.value + excluded.value END,
    expires = excluded.expires
RETURNING value;

-- name: join_sweep
DELETE FROM joins WHERE until <= ?1 RETURNING key;

-- name: join_slots_drop
DELETE FROM join_slots WHERE key = ?1;

-- name: join_head
INSERT INTO joins (key, total, until) VALUES (?1, ?2, ?3)
ON CONFLICT (key) DO UPDATE SET total = max(joins.total, excluded.total), until = excluded.until
RETURNING total;

-- name: join_fill
INSERT OR IGNORE INTO join_slots (key, slot, value) VALUES (?1, ?2, ?3);

-- name: join_values
SELECT value FROM join_slots WHERE key = ?1 AND slot < ?2 ORDER BY slot;
