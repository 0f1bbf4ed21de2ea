-- Operating a queue: pause, resume, purge (see queues.rs).

-- name: pause
INSERT OR IGNORE INTO paused (queue) VALUES (?1);

-- name: resume
DELETE FROM paused WHERE queue = ?1;

-- name: waiting
SELECT id FROM tasks WHERE queue = ?1 AND state IN (0, 1, 3);
