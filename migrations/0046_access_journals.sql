-- Each server's access-log journal: a file of its own where a read's row goes before the read
-- is answered, shipped here in batches (src/api/access_log/). A journal is registered before
-- its first row, so whoever finds the file of a server that died ships it to the database it
-- belongs to, and only from the row after `shipped_through`: a batch and this mark are
-- committed together, so no row is shipped twice.
CREATE TABLE access_journals (
    journal          uuid        PRIMARY KEY,
    shipped_through  bigint      NOT NULL DEFAULT 0,
    opened_at        timestamptz NOT NULL DEFAULT now(),
    closed_at        timestamptz
);
