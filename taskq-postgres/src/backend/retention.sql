-- Retention: create the coming days' partitions of `result` and `event`, drop the expired ones
-- whole, delete expired rows of the small tables (see maintain() in 0002_features.sql).
-- Returns one line per action. $1 days of partitions ahead, $2 days events are kept.
SELECT line FROM {schema}.maintain($1, $2) AS t(line)
