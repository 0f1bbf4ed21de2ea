-- Dead letters (see dead.rs).

-- name: bury
INSERT INTO dead (id, queue, reason, letter) VALUES (?1, ?2, ?3, ?4);

-- name: list
SELECT letter FROM dead WHERE queue = ?1 ORDER BY seq LIMIT ?2;

-- name: all_of_queue
SELECT seq, id, reason, letter FROM dead WHERE queue = ?1 ORDER BY seq;

-- name: unbury
DELETE FROM dead WHERE seq = ?1;

-- name: forget_result
DELETE FROM results WHERE id = ?1;

-- name: drop_row
DELETE FROM tasks WHERE seq = ?1;
