-- Read model "re_poverty" (projections/src/re_poverty.rs), written inline: one row per
-- fell_back_into_poverty / fell_back_into_near_poverty event.
CREATE TABLE re_poverty (
    household_id          uuid    NOT NULL,
    -- Sequence of the fell_back_* event.
    sequence              integer NOT NULL,
    standard              text    NOT NULL,
    category              text    NOT NULL CHECK (category IN ('poor', 'near_poor')),
    -- The household's unit on the day it fell back.
    unit_code             text    NOT NULL,
    head_name             text    NOT NULL,
    exited_on             date    NOT NULL,
    exit_decision_no      text,
    exited_to             text,
    fell_back_on          date    NOT NULL,
    fell_back_decision_no text    NOT NULL,
    fell_back_from        text    NOT NULL,
    supports_between      integer NOT NULL,
    supports_between_vnd  bigint  NOT NULL,
    cause                 text,
    PRIMARY KEY (household_id, sequence)
);
CREATE INDEX re_poverty_date ON re_poverty (standard, fell_back_on);
CREATE INDEX re_poverty_unit ON re_poverty (unit_code);

CREATE TABLE re_poverty_households (
    household_id uuid    PRIMARY KEY,
    version      integer NOT NULL
);
