-- Fleet-wide limits, decided inside the fetch's transaction (see flow.rs).

-- name: breaker
SELECT state FROM breakers WHERE queue = ?1 AND key = ?2;

-- name: put_breaker
INSERT INTO breakers (queue, key, state) VALUES (?1, ?2, ?3)
ON CONFLICT (queue, key) DO UPDATE SET state = excluded.state;

-- name: drop_breaker
DELETE FROM breakers WHERE queue = ?1 AND key = ?2;

-- name: held
SELECT count(*) FROM permits WHERE queue = ?1 AND key = ?2;

-- name: take_permit
INSERT OR REPLACE INTO permits (id, queue, key) VALUES (?1, ?2, ?3);

-- name: tat
SELECT tat_us FROM rates WHERE queue = ?1 AND key = ?2;

-- name: put_tat
INSERT INTO rates (queue, key, tat_us) VALUES (?1, ?2, ?3)
ON CONFLICT (queue, key) DO UPDATE SET tat_us = excluded.tat_us;

-- name: sweep_rates
DELETE FROM rates WHERE tat_us < ?1;
