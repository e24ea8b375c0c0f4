-- Snapshots: a household's folded state and inline read-model rows as they stand at one of its
-- events, so a household not in a process's memory is read as its snapshot plus the events
-- after it, whatever the length of its history.
--
-- A cache, not a record: the log stays the only truth. A snapshot is used only when its
-- schema version is the code's, its body's digest matches, and its hash is the hash of the
-- household's event at its sequence (src/store/snapshot.rs); any other is deleted and the
-- household folded from its events. Import, rebuild and every 64th append write them; rebuild
-- rewrites them all.
CREATE TABLE household_snapshots (
    household_id    uuid        PRIMARY KEY,
    sequence        integer     NOT NULL,
    -- The hash of the event at `sequence`, which the snapshot stands for.
    hash            text        NOT NULL,
    schema_version  integer     NOT NULL,
    -- JSON: {"state": HouseholdState, "rows": HouseholdRows}.
    body            text        NOT NULL,
    -- CRC-32 of the body: finds a damaged or hand-edited body (not a forger, who could
    -- recompute it; the events and their chain are the record, this is only a cache).
    body_crc32      bigint      NOT NULL,
    written_at      timestamptz NOT NULL DEFAULT now()
);
-- Read whole on every cold load: uncompressed, so no time goes to decompressing it.
ALTER TABLE household_snapshots ALTER COLUMN body SET STORAGE EXTERNAL;
