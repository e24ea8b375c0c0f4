-- Funds (events/src/fund): their own event log in esrs's layout, with the same columns,
-- stream index and append-only triggers as household_events (0001), and the same envelope and
-- hash chain inside the payload.
CREATE TABLE fund_events (
    id              uuid        NOT NULL,
    aggregate_id    uuid        NOT NULL,
    payload         jsonb       NOT NULL,
    occurred_on     timestamptz NOT NULL DEFAULT current_timestamp,
    sequence_number integer     NOT NULL DEFAULT 1,
    version         integer,
    global_position bigint      GENERATED ALWAYS AS IDENTITY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    CONSTRAINT fund_events_pkey PRIMARY KEY (id),
    -- Keeps a fund's chain from forking: the loser of a race gets a unique violation.
    CONSTRAINT fund_events_stream UNIQUE (aggregate_id, sequence_number)
);
CREATE INDEX fund_events_commit_order ON fund_events (transaction_id, global_position);

CREATE TRIGGER fund_events_no_update_delete
    BEFORE UPDATE OR DELETE ON fund_events
    FOR EACH ROW EXECUTE FUNCTION ansinh_refuse_change();
CREATE TRIGGER fund_events_no_truncate
    BEFORE TRUNCATE ON fund_events
    FOR EACH STATEMENT EXECUTE FUNCTION ansinh_refuse_change();

-- Read model "funds", written in each fund command's own transaction (src/funds/store.rs).
CREATE TABLE funds (
    fund_id        uuid    PRIMARY KEY,
    version        integer NOT NULL,
    name           text    NOT NULL,
    funding_source text    NOT NULL,
    managing_unit  text    NOT NULL,
    legal_basis    text    NOT NULL,
    valid_from     date    NOT NULL,
    valid_to       date,
    closed_on      date,
    received_vnd   bigint  NOT NULL CHECK (received_vnd >= 0)
);

-- One row per fund and allocated unit: what the fund allocated there and what supports drew on
-- it. `drawn_vnd` moves in the same statement as the support that draws (ansinh_append below),
-- under this row's lock, so two supports at once cannot both take the last of an allocation.
CREATE TABLE fund_allocations (
    fund_id       uuid   NOT NULL REFERENCES funds (fund_id),
    unit_code     text   NOT NULL,
    allocated_vnd bigint NOT NULL CHECK (allocated_vnd >= 0),
    drawn_vnd     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (fund_id, unit_code)
);

-- A support may take an allocation below zero only with an override reason (kept on the row).
ALTER TABLE disbursements ADD COLUMN override_reason text;

-- The allocation of fund `p_fund` that pays for a household in `p_unit`: the most specific
-- allocated unit covering it (a commune's own allocation before its district's).
CREATE FUNCTION ansinh_fund_allocation_for(p_fund uuid, p_unit text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT a.unit_code
      FROM fund_allocations a
      JOIN admin_unit_closure c ON c.ancestor = a.unit_code AND c.descendant = p_unit
     WHERE a.fund_id = p_fund
     ORDER BY (SELECT count(*) FROM admin_unit_closure x WHERE x.descendant = a.unit_code) DESC,
              a.unit_code
     LIMIT 1
$$;

-- `drawn_vnd` of a fund's allocations (every fund's with NULL) computed again from the
-- disbursements: after a batch write of disbursements (import, rebuild) and after an
-- allocation changes which allocation covers a unit.
CREATE FUNCTION ansinh_fund_redraw(p_fund uuid) RETURNS void LANGUAGE sql AS $$
    WITH drawn AS (
        SELECT f.fund_id, d.unit_code, sum(d.amount_vnd) AS amount
          FROM disbursements d JOIN funds f ON d.fund_id = f.fund_id::text
         WHERE NOT d.voided AND (p_fund IS NULL OR f.fund_id = p_fund)
         GROUP BY 1, 2
    ), sums AS (
        SELECT fund_id, ansinh_fund_allocation_for(fund_id, unit_code) AS unit_code,
               sum(amount) AS amount
          FROM drawn GROUP BY 1, 2
    )
    UPDATE fund_allocations a
       SET drawn_vnd = coalesce((SELECT s.amount FROM sums s
                                  WHERE s.fund_id = a.fund_id AND s.unit_code = a.unit_code), 0)
     WHERE p_fund IS NULL OR a.fund_id = p_fund
$$;

-- ansinh_append (0026) and, right after the disbursements (LOCK_ORDER), what the command's
-- supports draw on fund allocations:
-- p_changes->'fund_draws' = [{"fund_id", "unit_code", "delta_vnd", "check"}] in (fund, unit)
-- order, so concurrent appends lock allocation rows in one order. A draw that would leave the
-- allocation below zero without an override ("check") rolls the whole append back with
-- constraint name fund_allocation_overdrawn and a JSON detail the store reads. Fund ids that
-- name no fund (free-text ids recorded before funds existed) draw on nothing.
CREATE OR REPLACE FUNCTION ansinh_append(
    p_household   uuid,
    p_ids         uuid[],
    p_sequences   integer[],
    p_payloads    text[],
    p_occurred_on timestamptz,
    p_idempotency jsonb,
    p_changes     jsonb
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_version integer := p_sequences[array_upper(p_sequences, 1)];
    v_draw    jsonb;
    v_fund    uuid;
    v_unit    text;
    v_balance bigint;
BEGIN
    INSERT INTO household_events (id, aggregate_id, payload, occurred_on, sequence_number)
    SELECT e.id, p_household, e.payload::jsonb, p_occurred_on, e.seq
      FROM unnest(p_ids, p_sequences, p_payloads) AS e(id, seq, payload);

    IF p_idempotency IS NOT NULL THEN
        INSERT INTO idempotency_keys (user_id, key, request_digest, household_id, first_sequence, last_sequence)
        VALUES ((p_idempotency->>'user_id')::uuid, p_idempotency->>'key',
                p_idempotency->>'request_digest', p_household, p_sequences[1], v_version);
    END IF;

    IF p_changes->'status' IS NOT NULL AND jsonb_typeof(p_changes->'status') = 'object' THEN
        INSERT INTO household_status AS s
        SELECT * FROM jsonb_populate_record(NULL::household_status, p_changes->'status')
        ON CONFLICT (household_id) DO UPDATE SET
            version = EXCLUDED.version, head_name = EXCLUDED.head_name,
            head_name_folded = EXCLUDED.head_name_folded, unit_code = EXCLUDED.unit_code,
            hamlet = EXCLUDED.hamlet, area = EXCLUDED.area,
            member_count = EXCLUDED.member_count, ethnic_minority = EXCLUDED.ethnic_minority,
            merit_family = EXCLUDED.merit_family,
            no_working_capacity = EXCLUDED.no_working_capacity,
            registered_on = EXCLUDED.registered_on, closed_on = EXCLUDED.closed_on,
            last_recorded_at = EXCLUDED.last_recorded_at, placed_on = EXCLUDED.placed_on
        WHERE s.version < EXCLUDED.version;
    END IF;

    IF jsonb_array_length(p_changes->'standings') + jsonb_array_length(p_changes->'standings_gone') > 0 THEN
        DELETE FROM household_standard_status
         WHERE household_id = p_household
           AND standard IN (SELECT r.standard FROM jsonb_populate_recordset(NULL::household_standard_status, p_changes->'standings') r
                            UNION ALL SELECT jsonb_array_elements_text(p_changes->'standings_gone'));
        INSERT INTO household_standard_status
        SELECT * FROM jsonb_populate_recordset(NULL::household_standard_status, p_changes->'standings');
    END IF;

    IF jsonb_array_length(p_changes->'links') > 0 THEN
        INSERT INTO history_corrections
        SELECT * FROM jsonb_populate_recordset(NULL::history_corrections, p_changes->'links')
        ON CONFLICT DO NOTHING;
    END IF;

    IF (p_changes->>'disbursements_guard')::boolean THEN
        INSERT INTO disbursement_households AS h VALUES (p_household, v_version)
        ON CONFLICT (household_id) DO UPDATE SET version = EXCLUDED.version
        WHERE h.version < EXCLUDED.version;
    END IF;
    IF jsonb_array_length(p_changes->'disbursements') + jsonb_array_length(p_changes->'disbursements_gone') > 0 THEN
        DELETE FROM disbursements
         WHERE household_id = p_household
           AND sequence IN (SELECT r.sequence FROM jsonb_populate_recordset(NULL::disbursements, p_changes->'disbursements') r
                            UNION ALL SELECT jsonb_array_elements_text(p_changes->'disbursements_gone')::integer);
        INSERT INTO disbursements
        SELECT * FROM jsonb_populate_recordset(NULL::disbursements, p_changes->'disbursements');
    END IF;

    FOR v_draw IN SELECT * FROM jsonb_array_elements(coalesce(p_changes->'fund_draws', '[]'::jsonb)) LOOP
        v_fund := NULL;
        IF v_draw->>'fund_id' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
            SELECT f.fund_id INTO v_fund FROM funds f WHERE f.fund_id = (v_draw->>'fund_id')::uuid;
        END IF;
        CONTINUE WHEN v_fund IS NULL;
        v_unit := ansinh_fund_allocation_for(v_fund, v_draw->>'unit_code');
        IF v_unit IS NULL THEN
            CONTINUE WHEN NOT (v_draw->>'check')::boolean;
            RAISE EXCEPTION 'fund % has no allocation covering unit %', v_fund, v_draw->>'unit_code'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'fund_allocation_missing',
                      DETAIL = jsonb_build_object('fund_id', v_fund, 'unit_code', v_draw->>'unit_code')::text;
        END IF;
        UPDATE fund_allocations
           SET drawn_vnd = drawn_vnd + (v_draw->>'delta_vnd')::bigint
         WHERE fund_id = v_fund AND unit_code = v_unit
        RETURNING allocated_vnd - drawn_vnd INTO v_balance;
        IF (v_draw->>'check')::boolean AND v_balance < 0 THEN
            RAISE EXCEPTION 'the allocation of fund % to unit % would be overdrawn by % VND', v_fund, v_unit, -v_balance
                USING ERRCODE = 'check_violation', CONSTRAINT = 'fund_allocation_overdrawn',
                      DETAIL = jsonb_build_object('fund_id', v_fund, 'unit_code', v_unit,
                                                  'shortfall_vnd', -v_balance)::text;
        END IF;
    END LOOP;

    IF (p_changes->>'relapses_guard')::boolean THEN
        INSERT INTO re_poverty_households AS h VALUES (p_household, v_version)
        ON CONFLICT (household_id) DO UPDATE SET version = EXCLUDED.version
        WHERE h.version < EXCLUDED.version;
    END IF;
    IF jsonb_array_length(p_changes->'relapses') + jsonb_array_length(p_changes->'relapses_gone') > 0 THEN
        DELETE FROM re_poverty
         WHERE household_id = p_household
           AND sequence IN (SELECT r.sequence FROM jsonb_populate_recordset(NULL::re_poverty, p_changes->'relapses') r
                            UNION ALL SELECT jsonb_array_elements_text(p_changes->'relapses_gone')::integer);
        INSERT INTO re_poverty
        SELECT * FROM jsonb_populate_recordset(NULL::re_poverty, p_changes->'relapses');
    END IF;

END;
$$;
