-- Worker heartbeats (see workers.rs).

-- name: beat
INSERT OR REPLACE INTO workers (id, info, until) VALUES (?1, ?2, ?3);

-- name: remove
DELETE FROM workers WHERE id = ?1;

-- name: live
SELECT info FROM workers WHERE until > ?1 ORDER BY id;
