-- Read model "flags" (projections/src/flags.rs), kept by the projection runner (its rules read a
-- household's whole history, which a command no longer loads): one row per red flag, keyed by
-- household, rule and the event flagged; explained and accepted flags stay, marked.
CREATE TABLE flags (
    household_id            uuid    NOT NULL,
    rule                    text    NOT NULL,
    sequence                integer NOT NULL,
    head_name               text    NOT NULL,
    unit_code               text    NOT NULL,
    on_date                 date    NOT NULL,
    evidence                integer[] NOT NULL,
    visible_from            date    NOT NULL,
    status                  text    NOT NULL CHECK (status IN ('open', 'explained', 'accepted')),
    explained_by            text,
    explanation             text,
    explanation_decision_no text,
    accepted_by             text,
    PRIMARY KEY (household_id, rule, sequence)
);
CREATE INDEX flags_unit_date ON flags (unit_code, on_date);
CREATE INDEX flags_rule ON flags (rule, status);

CREATE TABLE flag_households (
    household_id uuid    PRIMARY KEY,
    version      integer NOT NULL
) WITH (fillfactor = 70);

-- ansinh_append as in 0030, its rows deleted by key as in 0028 (`sequence = ANY (ARRAY(…))`, an
-- index condition, where `IN (SELECT …)` read every row of the household).
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
           AND standard = ANY (ARRAY(
                   SELECT r.standard FROM jsonb_populate_recordset(NULL::household_standard_status, p_changes->'standings') r
                   UNION ALL SELECT jsonb_array_elements_text(p_changes->'standings_gone')));
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
           AND sequence = ANY (ARRAY(
                   SELECT r.sequence FROM jsonb_populate_recordset(NULL::disbursements, p_changes->'disbursements') r
                   UNION ALL SELECT jsonb_array_elements_text(p_changes->'disbursements_gone')::integer));
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
           AND sequence = ANY (ARRAY(
                   SELECT r.sequence FROM jsonb_populate_recordset(NULL::re_poverty, p_changes->'relapses') r
                   UNION ALL SELECT jsonb_array_elements_text(p_changes->'relapses_gone')::integer));
        INSERT INTO re_poverty
        SELECT * FROM jsonb_populate_recordset(NULL::re_poverty, p_changes->'relapses');
    END IF;


END;
$$;
