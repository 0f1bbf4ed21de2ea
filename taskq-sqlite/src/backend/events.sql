-- The event log (see events.rs).

-- name: append
INSERT INTO events (queue, event) VALUES (?1, ?2);

-- name: trim
DELETE FROM events WHERE queue = ?1 AND seq <= (
    SELECT seq FROM events WHERE queue = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2);

-- name: read
SELECT seq, event FROM events WHERE queue = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3;

-- name: last
SELECT coalesce(max(seq), 0) FROM events;
