-- join, step 1 of 2 (one transaction): create or touch the join's head row and hold its lock
-- until commit. Writers of the same join queue here, so step 2, whose READ COMMITTED snapshot
-- is taken after this lock is granted, sees every slot written before it.
-- $1 key, $2 total, $3 ttl in milliseconds.
INSERT INTO {schema}.join_head (key, total, filled, expires_at)
VALUES ($1, $2, 0, now() + $3 * interval '1 millisecond')
ON CONFLICT (key) DO UPDATE
    SET expires_at = EXCLUDED.expires_at,
        total      = GREATEST({schema}.join_head.total, EXCLUDED.total)
RETURNING total
