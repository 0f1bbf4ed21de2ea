-- join, step 2 of 2 (same transaction, head row locked): keep the first value of slot $2 and
-- return every slot's value in slot order, counting this write (which the statement's own
-- snapshot does not see). The caller returns the values when there are `total` of them.
-- $1 key, $2 slot, $3 value (JSON text).
WITH ins AS (
    INSERT INTO {schema}.join_slot (key, slot, value) VALUES ($1, $2, $3)
    ON CONFLICT (key, slot) DO NOTHING
    RETURNING slot, value
)
SELECT slot, value FROM {schema}.join_slot WHERE key = $1
UNION ALL
SELECT slot, value FROM ins
ORDER BY slot
