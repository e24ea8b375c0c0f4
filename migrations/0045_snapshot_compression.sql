-- A snapshot's supports are now a run of small differences ("1,0,30,0,0" for a monthly
-- allowance, events/src/household/compact.rs), which compress to a small fraction: kept
-- compressed in the row (STORAGE MAIN), a long household's snapshot is read from its own row
-- rather than from a dozen TOAST chunks, and decompressing it costs less than fetching them.
-- lz4 where the server was built with it (Debian's is), else PostgreSQL's own pglz.
ALTER TABLE household_snapshots ALTER COLUMN body SET STORAGE MAIN;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings
                WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE household_snapshots ALTER COLUMN body SET COMPRESSION lz4;
    END IF;
END
$$;
