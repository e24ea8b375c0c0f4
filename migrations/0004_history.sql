-- Read model "history" (projections/src/history.rs), written inline. The trail is the log
-- itself; this table links each correction to the event it names and the original fact.
CREATE TABLE history_corrections (
    household_id        uuid    NOT NULL,
    correction_sequence integer NOT NULL,
    corrects_sequence   integer NOT NULL,
    original_sequence   integer NOT NULL,
    corrects_type       text    NOT NULL,
    -- The correction voids the fact (recorded in error, no replacement).
    voids               boolean NOT NULL,
    PRIMARY KEY (household_id, correction_sequence)
);
CREATE INDEX history_corrections_original ON history_corrections (household_id, original_sequence);
