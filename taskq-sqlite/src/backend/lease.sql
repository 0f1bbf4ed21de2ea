-- Transitions of a running task by its worker (see lease.rs).

-- name: undo_attempt
UPDATE tasks SET attempt = attempt - 1 WHERE id = ?1 AND attempt > 0;

-- name: extend
UPDATE tasks SET at = ?3 WHERE id = ?1 AND state = 2 AND attempt = ?2 RETURNING cancel;

-- name: progress
UPDATE tasks SET progress = ?3 WHERE id = ?1 AND state = 2 AND attempt = ?2;
