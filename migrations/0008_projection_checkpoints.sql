-- Where each asynchronous projection stands in the log's commit order
-- (projections/src/runner.rs; cursor of src/store/position.rs).
CREATE TABLE projection_checkpoints (
    projection      text        PRIMARY KEY,
    transaction_id  bigint      NOT NULL,
    global_position bigint      NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
