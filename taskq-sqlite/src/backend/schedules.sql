-- Periodic schedules (see schedules.rs).

-- name: get
SELECT spec, state, buffered FROM schedules WHERE id = ?1;

-- name: insert
INSERT INTO schedules (id, spec, state, buffered) VALUES (?1, ?2, ?3, NULL);

-- name: set_spec
UPDATE schedules SET spec = ?2 WHERE id = ?1;

-- name: set_state
UPDATE schedules SET state = ?2, buffered = ?3 WHERE id = ?1;

-- name: list
SELECT spec, state FROM schedules ORDER BY id;

-- name: delete
DELETE FROM schedules WHERE id = ?1;
