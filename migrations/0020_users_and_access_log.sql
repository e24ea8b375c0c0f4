-- Users of the HTTP API and the log of who read whose personal data.
--
-- A user acts with one role for one administrative unit (which covers itself and the units
-- below it). The bearer token is never stored: only its SHA-256, in lowercase hex.
CREATE TABLE users (
    id            uuid        PRIMARY KEY,
    name          text        NOT NULL CHECK (name <> ''),
    role          text        NOT NULL CHECK (role IN ('commune_officer', 'district_officer',
                                  'province_officer', 'auditor', 'monitor', 'admin')),
    unit_code     text        NOT NULL,
    token_sha256  text        NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- A disabled user's token is refused; users are never deleted, so the log keeps its names.
    disabled_at   timestamptz
);

-- Every read of a household's personal data: who, when, which household, which endpoint.
-- Append-only like the event log (the trigger function comes from 0001).
CREATE TABLE access_log (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    user_id       uuid        NOT NULL,
    user_name     text        NOT NULL,
    role          text        NOT NULL,
    user_unit     text        NOT NULL,
    household_id  uuid        NOT NULL,
    -- The household's unit when it was read, so auditors see the log of their own units.
    unit_code     text        NOT NULL,
    -- Method and route, e.g. `GET /api/v1/households/{id}/history`.
    endpoint      text        NOT NULL,
    request_id    text
);
CREATE INDEX access_log_household ON access_log (household_id, at);
CREATE INDEX access_log_at ON access_log (at);

CREATE TRIGGER access_log_no_update_delete
    BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION ansinh_refuse_change();
CREATE TRIGGER access_log_no_truncate
    BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION ansinh_refuse_change();
