-- The log's read horizon: every transaction that may still write this database's log has an id
-- at or above it, so a reader that stops below it never skips an event committed late
-- (src/store/position.rs).
--
-- `pg_snapshot_xmin` alone is cluster-wide: a transaction left open in another database of the
-- same server (another deployment, a psql session, a test) would hold every reader here back,
-- though it cannot write this database's tables. So the horizon is the oldest transaction of
-- the reader's snapshot that is not known to run in another database. A transaction that ended
-- since the snapshot was taken is no longer listed anywhere and stays in (the safe side), as
-- does one whose session this role may not see (its backend_xid reads NULL).
CREATE FUNCTION ansinh_log_horizon() RETURNS xid8
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(
        (SELECT min(x)
           FROM pg_snapshot_xip(pg_current_snapshot()) AS x
          WHERE NOT EXISTS (
                SELECT 1 FROM pg_stat_get_activity(NULL) AS a
                 WHERE a.backend_xid IS NOT NULL
                   AND a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database())
                   -- backend_xid is the 32-bit form of the 64-bit id in the snapshot.
                   AND a.backend_xid::text::bigint = x::text::bigint % 4294967296)),
        pg_snapshot_xmax(pg_current_snapshot()))
$$;
