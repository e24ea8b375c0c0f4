-- Read model "status" (projections/src/status.rs), written inline with every append.
-- One row per household, rewritten from its folded history; replaced only by a newer version.
CREATE TABLE household_status (
    household_id        uuid        PRIMARY KEY,
    version             integer     NOT NULL,
    head_name           text        NOT NULL,
    -- Lowercase, no diacritics, đ as d, single spaces (ansinh_events::text::fold), for search.
    head_name_folded    text        NOT NULL,
    unit_code           text        NOT NULL,
    hamlet              text        NOT NULL,
    area                text        NOT NULL,
    member_count        integer     NOT NULL,
    ethnic_minority     boolean     NOT NULL,
    merit_family        boolean     NOT NULL,
    no_working_capacity boolean     NOT NULL,
    registered_on       date        NOT NULL,
    closed_on           date,
    last_recorded_at    timestamptz NOT NULL
);
CREATE INDEX household_status_unit ON household_status (unit_code);
-- Prefix search on the folded name ("nguyen van" → LIKE 'nguyen van%').
CREATE INDEX household_status_name ON household_status (head_name_folded text_pattern_ops);

-- One row per household and standard it was decided under.
CREATE TABLE household_standard_status (
    household_id           uuid NOT NULL,
    standard               text NOT NULL,
    category               text NOT NULL CHECK (category IN ('poor', 'near_poor', 'middle_income', 'not_poor')),
    since                  date NOT NULL,
    decision_no            text NOT NULL,
    last_decided_on        date NOT NULL,
    last_decision_no       text NOT NULL,
    exited_poverty_on      date,
    exited_near_poverty_on date,
    PRIMARY KEY (household_id, standard)
);
CREATE INDEX household_standard_status_category ON household_standard_status (standard, category);

-- Search inside names ("van a" finds "Nguyễn Văn A") uses a trigram index where pg_trgm is
-- installed (postgresql-contrib); without it the same query runs as a scan.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS pg_trgm;
            CREATE INDEX household_status_name_trgm
                ON household_status USING gin (head_name_folded gin_trgm_ops);
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'pg_trgm not usable (%); name search inside names will scan', SQLERRM;
        END;
    END IF;
END;
$$;
