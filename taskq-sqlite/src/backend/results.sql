-- Results and the live state of a task (see results.rs).

-- name: result
SELECT outcome, progress FROM results WHERE id = ?1 AND expires > ?2;

-- name: live
SELECT state, attempt, progress FROM tasks WHERE id = ?1;

-- name: state_of
SELECT state FROM tasks WHERE id = ?1;

-- name: signal
UPDATE tasks SET cancel = 1 WHERE id = ?1 AND state = 2;

