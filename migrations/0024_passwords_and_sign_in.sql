-- Passwords for the web pages, and the sign-in log auditors read.
--
-- A password is stored only as its argon2id hash in PHC string form (`$argon2id$v=19$…`);
-- users without one (API-only users, everyone before this migration) cannot sign in on the
-- web pages and keep using their bearer tokens as before.
ALTER TABLE users ADD COLUMN password_hash text;

-- The username on the sign-in form is the user's name. Names were never unique (tests and
-- `ansinh demo` create several users of one name), so they stay so for API-only users, but
-- two users who can sign in cannot share a name: the form's name picks exactly one user.
CREATE UNIQUE INDEX users_name_signs_in ON users (name) WHERE password_hash IS NOT NULL;

-- Every sign-in attempt on the web pages, append-only like the access log:
--   success  the password was right and a session began;
--   failure  a wrong password (user_id NULL: no user who can sign in has that name);
--   locked   the account was locked for 15 minutes (written with the failure that locked it);
--   refused  an attempt while the account was locked (the password was not even checked).
CREATE TABLE sign_in_events (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    user_id         uuid        REFERENCES users (id),
    -- The name typed on the form (at most 200 characters of it).
    user_name       text        NOT NULL,
    outcome         text        NOT NULL CHECK (outcome IN ('success', 'failure', 'locked', 'refused')),
    -- The client's address as the server saw it (a proxy's address behind a proxy).
    client_address  text
);
CREATE INDEX sign_in_events_user ON sign_in_events (user_id, at);
CREATE INDEX sign_in_events_at ON sign_in_events (at);

CREATE TRIGGER sign_in_events_no_update_delete
    BEFORE UPDATE OR DELETE ON sign_in_events
    FOR EACH ROW EXECUTE FUNCTION ansinh_refuse_change();
CREATE TRIGGER sign_in_events_no_truncate
    BEFORE TRUNCATE ON sign_in_events
    FOR EACH STATEMENT EXECUTE FUNCTION ansinh_refuse_change();
