-- What the flags of a support appended to a household depend on besides the support (its head,
-- units, closure, decisions; `ansinh_projections::flags::Context`), stored with the version its
-- flags stand at, so that a runner batch bringing only supports is judged without reading the
-- household's history. NULL (rows written before this migration) means: read the history.
ALTER TABLE flag_households ADD COLUMN context jsonb;
