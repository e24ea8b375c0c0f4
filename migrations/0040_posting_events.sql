-- The public postings of the review's results (niêm yết công khai), one stream per commune and
-- review period: esrs's table layout and the same guarantees as household_events (0001): a
-- unique stream index against forks, append-only triggers, the hash chain in the payload.
CREATE TABLE posting_events (
    id              uuid        NOT NULL,
    aggregate_id    uuid        NOT NULL,
    payload         jsonb       NOT NULL,
    occurred_on     timestamptz NOT NULL DEFAULT current_timestamp,
    sequence_number integer     NOT NULL DEFAULT 1,
    version         integer,
    global_position bigint      GENERATED ALWAYS AS IDENTITY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    CONSTRAINT posting_events_pkey PRIMARY KEY (id),
    CONSTRAINT posting_events_stream UNIQUE (aggregate_id, sequence_number),
    CONSTRAINT posting_events_position UNIQUE (global_position)
);

CREATE TRIGGER posting_events_no_update_delete
    BEFORE UPDATE OR DELETE ON posting_events
    FOR EACH ROW EXECUTE FUNCTION ansinh_refuse_change();
CREATE TRIGGER posting_events_no_truncate
    BEFORE TRUNCATE ON posting_events
    FOR EACH STATEMENT EXECUTE FUNCTION ansinh_refuse_change();

-- Postings by commune and period, for reports and the supervisors' lists (the stream id is
-- derived from both, so the public page finds its posting by the unique stream index).
CREATE INDEX posting_events_unit_period
    ON posting_events ((payload->'data'->>'unit_code'), (payload->'data'->>'period'));
