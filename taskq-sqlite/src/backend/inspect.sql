-- Inspection: counts, listings and one task's record (see inspect.rs).

-- name: counts
SELECT state, count(*), min(CASE WHEN state IN (0, 3) THEN at END) FROM tasks WHERE queue = ?1 GROUP BY state;

-- name: dead_count
SELECT count(*) FROM dead WHERE queue = ?1;

-- name: is_paused
SELECT 1 FROM paused WHERE queue = ?1;

-- name: queues
SELECT name FROM queues UNION SELECT queue FROM dead UNION SELECT queue FROM paused ORDER BY 1;

-- name: count_ready
SELECT count(*) FROM tasks WHERE queue = ?1 AND state IN (0, 3);

-- name: list_ready
SELECT id, attempt, env, at FROM tasks WHERE queue = ?1 AND state IN (0, 3)
ORDER BY priority DESC, seq LIMIT ?2 OFFSET ?3;

-- name: count_state
SELECT count(*) FROM tasks WHERE queue = ?1 AND state = ?2;

-- name: list_state
SELECT id, attempt, env, at FROM tasks WHERE queue = ?1 AND state = ?2
ORDER BY at, id DESC LIMIT ?3 OFFSET ?4;

-- name: list_dead
SELECT letter FROM dead WHERE queue = ?1 ORDER BY seq LIMIT ?2 OFFSET ?3;

-- name: task
SELECT state, attempt, env, at, leased_at, progress FROM tasks WHERE id = ?1;

-- name: finished
SELECT outcome, progress, task, queue, attempt, created_at, started_at, finished_at, args
FROM results WHERE id = ?1 AND expires > ?2;

-- name: dead_of
SELECT letter FROM dead WHERE id = ?1 ORDER BY seq DESC LIMIT 1;
