-- A command's rows are deleted by key: `sequence = ANY (ARRAY(…))` is an index condition on
-- the (household_id, sequence) key, where `sequence IN (SELECT …)` let the planner read every
-- row of the household and filter them — an append to a household of 1,000 supports read its
-- 1,000 disbursement rows. Otherwise as migrations/0026_lock_order.sql.
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

    -- Rows that changed are deleted and written again; rows that are gone are deleted.
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
