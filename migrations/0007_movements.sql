-- Read model "movements" (projections/src/movements.rs), kept by the asynchronous runner.
-- Each household's path through cells (unit, group, flags) per standard, as transitions:
CREATE TABLE movement_households (
    household_id uuid    PRIMARY KEY,
    version      integer NOT NULL,
    transitions  jsonb   NOT NULL
);

-- How many households made each transition: what reports read. Rows grow with units and
-- decision days, not with households or events. group: poor | near_poor | other; flags: 1 ethnic
-- minority, 2 no working capacity, 4 merit family.
CREATE TABLE movement_counts (
    standard   text     NOT NULL,
    day        date     NOT NULL,
    label      text     NOT NULL,
    unit_a     text     NOT NULL,
    group_a    text     NOT NULL,
    flags_a    smallint NOT NULL,
    unit_b     text     NOT NULL,
    group_b    text     NOT NULL,
    flags_b    smallint NOT NULL,
    households bigint   NOT NULL,
    PRIMARY KEY (standard, day, label, unit_a, group_a, flags_a, unit_b, group_b, flags_b)
);
CREATE INDEX movement_counts_from_unit ON movement_counts (standard, unit_a, day);
CREATE INDEX movement_counts_to_unit ON movement_counts (standard, unit_b, day);
