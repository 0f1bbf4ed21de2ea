-- publish_once, step 1 (one transaction with the inserts of step 2): claim the ids that have
-- not gone through publish_once within their ttl. A fresh id is inserted; an id whose window
-- ran out is taken again; an id still in its window is not returned. Concurrent callers with
-- the same id are ordered by the primary key: exactly one gets it back.
-- $1 ids (uuid[]), $2 ttl in milliseconds.
INSERT INTO {schema}.once (id, until)
SELECT DISTINCT id, now() + $2 * interval '1 millisecond' FROM unnest($1::uuid[]) AS t(id)
ON CONFLICT (id) DO UPDATE
    SET until = EXCLUDED.until
    WHERE {schema}.once.until <= now()
RETURNING id
