-- One meaning of `occurred_on` in every log: when the command was decided, the event's own
-- (hashed) `meta.recorded_at`, whether it came by the API, the import or the reform. Before,
-- a command stored its append's wall clock and the fund log its transaction's start.
COMMENT ON COLUMN household_events.occurred_on IS
    'When the command was decided: the event''s meta.recorded_at (API, import and reform alike).';
COMMENT ON COLUMN fund_events.occurred_on IS
    'When the command was decided: the event''s meta.recorded_at.';
COMMENT ON COLUMN posting_events.occurred_on IS
    'When the command was decided: the event''s meta.recorded_at.';
