-- Read model "disbursements" (projections/src/disbursements.rs), written inline: one row per
-- support, as corrected; voided supports stay, marked.
CREATE TABLE disbursements (
    household_id        uuid        NOT NULL,
    -- Sequence of the original support_received event.
    sequence            integer     NOT NULL,
    head_name           text        NOT NULL,
    -- The household's unit on the day of the disbursement.
    unit_code           text        NOT NULL,
    policy              text        NOT NULL,
    amount_vnd          bigint      NOT NULL CHECK (amount_vnd >= 0),
    in_kind             text,
    funding_source      text        NOT NULL,
    fund_id             text,
    disbursed_on        date        NOT NULL,
    disbursed_by        text        NOT NULL,
    decision_no         text        NOT NULL,
    recipient_member    text,
    recorded_at         timestamptz NOT NULL,
    -- The amount first recorded, when a correction changed it.
    original_amount_vnd bigint,
    -- The correction that counts (the latest) and its reason.
    corrected_by        integer,
    correction_reason   text,
    voided              boolean     NOT NULL,
    PRIMARY KEY (household_id, sequence)
);
CREATE INDEX disbursements_date ON disbursements (disbursed_on);
CREATE INDEX disbursements_unit_date ON disbursements (unit_code, disbursed_on);
CREATE INDEX disbursements_fund ON disbursements (fund_id) WHERE fund_id IS NOT NULL;

-- The version of each household's history the rows were written from (replay guard).
CREATE TABLE disbursement_households (
    household_id uuid    PRIMARY KEY,
    version      integer NOT NULL
);
