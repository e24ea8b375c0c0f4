-- The household event log: esrs's table layout (so esrs's PgStore reads and writes it) plus
-- what esrs lacks. Applied by ansinh itself; esrs's own migrations are never run.
CREATE TABLE household_events (
    id              uuid        NOT NULL,
    aggregate_id    uuid        NOT NULL,
    payload         jsonb       NOT NULL,
    occurred_on     timestamptz NOT NULL DEFAULT current_timestamp,
    sequence_number integer     NOT NULL DEFAULT 1,
    version         integer,
    -- Total order of the log, for subscribers and rebuilds.
    global_position bigint      GENERATED ALWAYS AS IDENTITY,
    -- Writing transaction, so readers can stop below the oldest running one (see position.rs).
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    CONSTRAINT household_events_pkey PRIMARY KEY (id),
    -- Keeps a household's chain from forking: the loser of a race gets a unique violation.
    CONSTRAINT household_events_stream UNIQUE (aggregate_id, sequence_number),
    CONSTRAINT household_events_position UNIQUE (global_position)
);
-- Subscribers read in (transaction, position) order; see src/store/position.rs.
CREATE INDEX household_events_commit_order ON household_events (transaction_id, global_position);
-- No plain aggregate_id index: the unique (aggregate_id, sequence_number) index serves those
-- lookups, and a second index costs 17-20% of ingest.

-- Append-only, enforced by the database: nothing is ever updated, deleted or truncated.
CREATE FUNCTION ansinh_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is refused: events are never changed or deleted; record a correcting event instead',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'object_not_in_prerequisite_state';
END;
$$;

CREATE TRIGGER household_events_no_update_delete
    BEFORE UPDATE OR DELETE ON household_events
    FOR EACH ROW EXECUTE FUNCTION ansinh_refuse_change();
CREATE TRIGGER household_events_no_truncate
    BEFORE TRUNCATE ON household_events
    FOR EACH STATEMENT EXECUTE FUNCTION ansinh_refuse_change();

-- A retried command returns the first result and appends nothing. Written in the same
-- transaction as the events it answers for.
CREATE TABLE idempotency_keys (
    key             text        PRIMARY KEY,
    request_digest  text        NOT NULL,
    household_id    uuid        NOT NULL,
    first_sequence  integer     NOT NULL,
    last_sequence   integer     NOT NULL,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    created_at      timestamptz NOT NULL DEFAULT now()
);
