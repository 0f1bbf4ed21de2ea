-- 0002_features: what workflows, schedules, operators and retention need beyond the core.
--
-- `{schema}` / `{schema_name}` as in 0001_core.sql.
--
--   once       ids that went through publish_once (workflow steps), until when they count:
--              a step that runs twice never starts its successors twice.
--   join_slot  the values of a join (chord, DAG fan-in), the first write of a slot kept;
--   join_head  one row per join: how many slots it has and how many are filled. The filling
--              write increments it, so concurrent writers are ordered by its row lock and the
--              one that fills the last slot (only it) sees `filled = total`.
--   schedule   periodic schedules: the spec (taskq::schedule::ScheduleSpec JSON) and the state
--              every scheduler agrees on (taskq::schedule::ScheduleState JSON), with the
--              message of a tick kept by overlap `buffer_one`. A claim locks the row
--              (SELECT .. FOR UPDATE), so of concurrent claims of a tick exactly one wins, and
--              it publishes in the same transaction.
--   worker     heartbeats (UNLOGGED: they are rewritten every few seconds and worth nothing
--              after a crash, so they cost no WAL): a worker is live while expires_at is
--              ahead.
--   event      the event log, partitioned by day on `at` and retired by dropping whole
--              partitions (no DELETE). One row per flush and queue holding its events as
--              JSON lines; an event's position is "<seq>.<line>". Writers take an advisory
--              lock around their insert so rows commit in `seq` order: a reader that has
--              seen seq N has seen everything below it.
--   tasks      a view of every task as a SQL user expects it (see below).
--   maintain() creates partitions ahead of time and drops the expired ones, for `result`
--              and `event`, and deletes expired rows of the small tables.

CREATE TABLE {schema}.once (
    id     uuid        PRIMARY KEY,
    until  timestamptz NOT NULL
);
CREATE INDEX once_until ON {schema}.once (until);

CREATE TABLE {schema}.join_head (
    key         text        PRIMARY KEY,
    total       integer     NOT NULL,
    filled      integer     NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX join_head_expires ON {schema}.join_head (expires_at);

CREATE TABLE {schema}.join_slot (
    key    text    NOT NULL,
    slot   integer NOT NULL,
    value  text    NOT NULL,
    PRIMARY KEY (key, slot)
);

CREATE TABLE {schema}.schedule (
    id          text        PRIMARY KEY,
    queue       text        NOT NULL,
    spec        jsonb       NOT NULL,
    state       jsonb       NOT NULL DEFAULT '{}',
    -- the message of the tick kept by overlap `buffer_one` (taskq::Envelope JSON).
    buffered    text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE UNLOGGED TABLE {schema}.worker (
    id          text        PRIMARY KEY,
    info        jsonb       NOT NULL,
    expires_at  timestamptz NOT NULL
);

CREATE SEQUENCE {schema}.event_seq;
CREATE TABLE {schema}.event (
    seq    bigint      NOT NULL DEFAULT nextval('{schema}.event_seq'),
    queue  text        NOT NULL,
    at     timestamptz NOT NULL DEFAULT now(),
    n      integer     NOT NULL,
    -- n events, one taskq::events::Event JSON per line.
    body   text        NOT NULL
) PARTITION BY RANGE (at);
CREATE TABLE {schema}.event_default PARTITION OF {schema}.event DEFAULT;
CREATE INDEX event_queue ON {schema}.event (queue, seq);

-- A text that may not be JSON (a garbage row) as jsonb, or NULL: the view must never fail.
CREATE FUNCTION {schema}.try_jsonb(p text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
    RETURN p::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$fn$;

-- Every task as a SQL user expects it: live ones from `job`, finished ones from `result` (the
-- newest live row of each id), dead letters without a kept result from `dead`.
--   status: pending | scheduled | running | retrying | succeeded | failed | cancelled | dead
CREATE VIEW {schema}.tasks AS
    SELECT j.id,
           j.task,
           j.queue,
           {schema}.try_jsonb(j.envelope) -> 'args' AS parameters,
           CASE j.state
               WHEN 1 THEN 'running'
               WHEN 2 THEN CASE WHEN j.attempt > 0 THEN 'retrying' ELSE 'scheduled' END
               ELSE 'pending'
           END AS status,
           NULL::jsonb AS output,
           NULL::text AS error,
           j.attempt,
           j.enqueued_at AS created_at,
           j.started_at,
           NULL::timestamptz AS completed_at
    FROM {schema}.job j
    UNION ALL
    SELECT r.id,
           r.task,
           r.queue,
           {schema}.try_jsonb(r.args) AS parameters,
           CASE r.state WHEN 4 THEN 'succeeded' WHEN 6 THEN 'cancelled'
                ELSE CASE WHEN r.dead_reason IS NOT NULL THEN 'dead' ELSE 'failed' END
           END AS status,
           {schema}.try_jsonb(r.outcome) -> 'success' AS output,
           {schema}.try_jsonb(r.outcome) #>> '{failure,message}' AS error,
           r.attempt,
           r.enqueued_at AS created_at,
           r.started_at,
           r.finished_at AS completed_at
    FROM (
        SELECT DISTINCT ON (x.id) x.* FROM {schema}.result x
        WHERE x.expires_at > now()
        ORDER BY x.id, x.finished_at DESC
    ) r
    UNION ALL
    SELECT d.id,
           {schema}.try_jsonb(d.envelope) ->> 'task' AS task,
           d.queue,
           {schema}.try_jsonb(d.envelope) -> 'args' AS parameters,
           'dead' AS status,
           NULL::jsonb AS output,
           d.reason || ': ' || d.message AS error,
           coalesce(({schema}.try_jsonb(d.envelope) ->> 'attempt')::integer, 0) AS attempt,
           to_timestamp(({schema}.try_jsonb(d.envelope) ->> 'enqueued_at')::double precision / 1000)
               AS created_at,
           NULL::timestamptz AS started_at,
           d.at AS completed_at
    FROM {schema}.dead d
    WHERE NOT EXISTS (
        SELECT 1 FROM {schema}.result x WHERE x.id = d.id AND x.expires_at > now());

-- Retention, run by every process now and then (idempotent; one at a time through an
-- advisory lock, the others return at once): for `result` (by expires_at) and `event` (by at),
-- daily partitions (UTC) up to p_ahead days ahead exist (events from yesterday, results from
-- today: a result partition whose day has passed would be dropped at once), and those whose whole day
-- is older than the retention are dropped (results: every row expired; events: older than
-- p_event_days). Rows that the DEFAULT partition took for a day that gets its partition now
-- (a result kept longer than p_ahead days) move into it first. Also deletes expired rows of
-- once, join_head/join_slot, counter and worker (small tables). Returns what it did, a line
-- each.
CREATE FUNCTION {schema}.maintain(p_ahead integer, p_event_days integer)
RETURNS SETOF text LANGUAGE plpgsql AS $fn$
DECLARE
    v_today  date := (now() AT TIME ZONE 'UTC')::date;
    v_day    date;
    v_name   text;
    v_parent text;
    v_col    text;
    v_keep   date;
    r        record;
    n        bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('{schema_name}' || E'\x1f' || 'maintain', 0)) THEN
        RETURN;
    END IF;
    FOREACH v_parent IN ARRAY ARRAY['result', 'event'] LOOP
        v_col := CASE v_parent WHEN 'result' THEN 'expires_at' ELSE 'at' END;
        FOR v_day IN SELECT generate_series(CASE v_parent WHEN 'result' THEN v_today ELSE v_today - 1 END,
                                              v_today + p_ahead, interval '1 day')::date LOOP
            v_name := v_parent || '_' || to_char(v_day, 'YYYYMMDD');
            CONTINUE WHEN to_regclass('{schema}.' || quote_ident(v_name)) IS NOT NULL;
            EXECUTE format('CREATE TABLE {schema}.%I (LIKE {schema}.%I INCLUDING DEFAULTS)',
                           v_name, v_parent);
            EXECUTE format('WITH moved AS (DELETE FROM {schema}.%I WHERE %I >= %L::timestamptz AND %I < %L::timestamptz RETURNING *) '
                           'INSERT INTO {schema}.%I SELECT * FROM moved',
                           v_parent || '_default', v_col, v_day::text || ' 00:00:00+00', v_col,
                           (v_day + 1)::text || ' 00:00:00+00', v_name);
            EXECUTE format('ALTER TABLE {schema}.%I ATTACH PARTITION {schema}.%I FOR VALUES FROM (%L) TO (%L)',
                           v_parent, v_name, v_day::text || ' 00:00:00+00',
                           (v_day + 1)::text || ' 00:00:00+00');
            RETURN NEXT 'created ' || v_name;
        END LOOP;
        -- results: a partition whose day has passed holds only expired rows; events: keep
        -- p_event_days.
        v_keep := CASE v_parent WHEN 'result' THEN v_today ELSE v_today - p_event_days END;
        FOR r IN
            SELECT c.relname FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            JOIN pg_class p ON p.oid = i.inhparent
            JOIN pg_namespace s ON s.oid = p.relnamespace
            WHERE s.nspname = '{schema_name}' AND p.relname = v_parent
              AND c.relname ~ ('^' || v_parent || '_[0-9]{8}$')
              AND to_date(right(c.relname, 8), 'YYYYMMDD') < v_keep
        LOOP
            EXECUTE format('DROP TABLE {schema}.%I', r.relname);
            RETURN NEXT 'dropped ' || r.relname;
        END LOOP;
    END LOOP;
    DELETE FROM {schema}.once WHERE until < now();
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN RETURN NEXT 'deleted ' || n || ' once'; END IF;
    WITH gone AS (DELETE FROM {schema}.join_head WHERE expires_at < now() RETURNING key)
    DELETE FROM {schema}.join_slot s USING gone WHERE s.key = gone.key;
    DELETE FROM {schema}.counter WHERE expires_at < now();
    DELETE FROM {schema}.worker WHERE expires_at < now() - interval '1 minute';
    -- Expired results the DEFAULT partition took (beyond the partitions ahead) go by DELETE:
    -- only results kept longer than p_ahead days ever land there.
    DELETE FROM {schema}.result_default WHERE expires_at < now();
    DELETE FROM {schema}.event_default WHERE at < now() - p_event_days * interval '1 day';
END
$fn$;
