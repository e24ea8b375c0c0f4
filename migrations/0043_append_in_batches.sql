-- Appends of several commands (of distinct households) in one statement and one transaction:
-- src/store/append.rs gathers the commands that are ready at the same moment, so a busy
-- server pays one round trip, one commit and one statement per table for all of them, where
-- each command paid its own. A single command is a batch of one. Each table is written with
-- one set-based statement, in LOCK_ORDER (projections/src/locking.rs) as in 0031; rows arrive
-- sorted by household, so two batches racing on the same households take their keys in the
-- same order and the later one waits instead of deadlocking.
--
-- Changed rows are upserted (`ON CONFLICT … DO UPDATE` of every column but the key) and rows
-- that are gone deleted by key one by one (rare: a correction that takes a row away), so no
-- statement's plan depends on the planner choosing an index for a join.
--
-- The whole batch stands or falls together: on any error the caller sends each command again
-- on its own, which gives each its own answer (a lost race, a refused draw).
DROP FUNCTION ansinh_append(uuid, uuid[], integer[], text[], timestamptz, jsonb, jsonb);

CREATE FUNCTION ansinh_append(
    p_event_households uuid[],        -- per event, grouped by household
    p_ids              uuid[],
    p_sequences        integer[],
    p_payloads         text[],
    p_occurred_on      timestamptz[],
    p_households       uuid[],        -- per command, in the same household order
    p_versions         integer[],     -- the command's last sequence
    p_idempotency      jsonb[],       -- {user_id, key, request_digest, first_sequence} or NULL
    p_changes          jsonb[],       -- RowChanges (projections/src/changes.rs)
    p_parts            text[]         -- the parts of RowChanges some command has, and
                                      -- 'idempotency': the statements of the others are skipped
) RETURNS void LANGUAGE plpgsql
-- The statements' plans are made once per connection, not again at every call: with array
-- parameters the planner would otherwise keep making custom plans, which cost more than
-- running them.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_draw    jsonb;
    v_gone    record;
    v_fund    uuid;
    v_unit    text;
    v_balance bigint;
BEGIN
    INSERT INTO household_events (id, aggregate_id, payload, occurred_on, sequence_number)
    SELECT e.id, e.household, e.payload::jsonb, e.occurred_on, e.seq
      FROM unnest(p_ids, p_event_households, p_sequences, p_payloads, p_occurred_on)
           AS e(id, household, seq, payload, occurred_on);

    IF 'idempotency' = ANY (p_parts) THEN
        INSERT INTO idempotency_keys (user_id, key, request_digest, household_id, first_sequence, last_sequence)
        SELECT (c.idem->>'user_id')::uuid, c.idem->>'key', c.idem->>'request_digest',
               c.household_id, (c.idem->>'first_sequence')::integer, c.version
          FROM unnest(p_households, p_versions, p_idempotency) AS c(household_id, version, idem)
         WHERE c.idem IS NOT NULL;
    END IF;

    IF 'status' = ANY (p_parts) THEN
        INSERT INTO household_status AS s
        SELECT r.*
          FROM unnest(p_changes) AS c(ch),
               jsonb_populate_record(NULL::household_status, c.ch->'status') AS r
         WHERE jsonb_typeof(c.ch->'status') = 'object'
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

    IF 'standings_gone' = ANY (p_parts) THEN
        FOR v_gone IN
            SELECT c.household_id, g.standard
              FROM unnest(p_households, p_changes) AS c(household_id, ch),
                   jsonb_array_elements_text(c.ch->'standings_gone') AS g(standard)
        LOOP
            DELETE FROM household_standard_status
             WHERE household_id = v_gone.household_id AND standard = v_gone.standard;
        END LOOP;
    END IF;
    IF 'standings' = ANY (p_parts) THEN
        INSERT INTO household_standard_status AS t
        SELECT r.*
          FROM unnest(p_changes) AS c(ch),
               jsonb_populate_recordset(NULL::household_standard_status, c.ch->'standings') AS r
        ON CONFLICT (household_id, standard) DO UPDATE SET
            category = EXCLUDED.category, since = EXCLUDED.since,
            decision_no = EXCLUDED.decision_no, last_decided_on = EXCLUDED.last_decided_on,
            last_decision_no = EXCLUDED.last_decision_no,
            exited_poverty_on = EXCLUDED.exited_poverty_on,
            exited_near_poverty_on = EXCLUDED.exited_near_poverty_on;
    END IF;

    IF 'links' = ANY (p_parts) THEN
        INSERT INTO history_corrections
        SELECT r.*
          FROM unnest(p_changes) AS c(ch),
               jsonb_populate_recordset(NULL::history_corrections, c.ch->'links') AS r
        ON CONFLICT DO NOTHING;
    END IF;

    IF 'disbursements_guard' = ANY (p_parts) THEN
        INSERT INTO disbursement_households AS h
        SELECT c.household_id, c.version
          FROM unnest(p_households, p_versions, p_changes) AS c(household_id, version, ch)
         WHERE (c.ch->>'disbursements_guard')::boolean
        ON CONFLICT (household_id) DO UPDATE SET version = EXCLUDED.version
        WHERE h.version < EXCLUDED.version;
    END IF;
    IF 'disbursements_gone' = ANY (p_parts) THEN
        FOR v_gone IN
            SELECT c.household_id, g.sequence::integer AS sequence
              FROM unnest(p_households, p_changes) AS c(household_id, ch),
                   jsonb_array_elements_text(c.ch->'disbursements_gone') AS g(sequence)
        LOOP
            DELETE FROM disbursements
             WHERE household_id = v_gone.household_id AND sequence = v_gone.sequence;
        END LOOP;
    END IF;
    IF 'disbursements' = ANY (p_parts) THEN
        INSERT INTO disbursements AS t
        SELECT r.*
          FROM unnest(p_changes) AS c(ch),
               jsonb_populate_recordset(NULL::disbursements, c.ch->'disbursements') AS r
        ON CONFLICT (household_id, sequence) DO UPDATE SET
            head_name = EXCLUDED.head_name, unit_code = EXCLUDED.unit_code,
            policy = EXCLUDED.policy, amount_vnd = EXCLUDED.amount_vnd,
            in_kind = EXCLUDED.in_kind, funding_source = EXCLUDED.funding_source,
            fund_id = EXCLUDED.fund_id, disbursed_on = EXCLUDED.disbursed_on,
            disbursed_by = EXCLUDED.disbursed_by, decision_no = EXCLUDED.decision_no,
            recipient_member = EXCLUDED.recipient_member, recorded_at = EXCLUDED.recorded_at,
            original_amount_vnd = EXCLUDED.original_amount_vnd,
            corrected_by = EXCLUDED.corrected_by, correction_reason = EXCLUDED.correction_reason,
            voided = EXCLUDED.voided, override_reason = EXCLUDED.override_reason;
    END IF;

    -- Draws in (fund, unit) order, so two batches drawing on the same allocations take them
    -- in the same order.
    IF 'fund_draws' = ANY (p_parts) THEN
        FOR v_draw IN
            SELECT d
              FROM unnest(p_changes) AS c(ch),
                   jsonb_array_elements(coalesce(c.ch->'fund_draws', '[]'::jsonb)) AS d
             ORDER BY d->>'fund_id', d->>'unit_code'
        LOOP
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
    END IF;

    IF 'relapses_guard' = ANY (p_parts) THEN
        INSERT INTO re_poverty_households AS h
        SELECT c.household_id, c.version
          FROM unnest(p_households, p_versions, p_changes) AS c(household_id, version, ch)
         WHERE (c.ch->>'relapses_guard')::boolean
        ON CONFLICT (household_id) DO UPDATE SET version = EXCLUDED.version
        WHERE h.version < EXCLUDED.version;
    END IF;
    IF 'relapses_gone' = ANY (p_parts) THEN
        FOR v_gone IN
            SELECT c.household_id, g.sequence::integer AS sequence
              FROM unnest(p_households, p_changes) AS c(household_id, ch),
                   jsonb_array_elements_text(c.ch->'relapses_gone') AS g(sequence)
        LOOP
            DELETE FROM re_poverty
             WHERE household_id = v_gone.household_id AND sequence = v_gone.sequence;
        END LOOP;
    END IF;
    IF 'relapses' = ANY (p_parts) THEN
        INSERT INTO re_poverty AS t
        SELECT r.*
          FROM unnest(p_changes) AS c(ch),
               jsonb_populate_recordset(NULL::re_poverty, c.ch->'relapses') AS r
        ON CONFLICT (household_id, sequence) DO UPDATE SET
            standard = EXCLUDED.standard, category = EXCLUDED.category,
            unit_code = EXCLUDED.unit_code, head_name = EXCLUDED.head_name,
            exited_on = EXCLUDED.exited_on, exit_decision_no = EXCLUDED.exit_decision_no,
            exited_to = EXCLUDED.exited_to, fell_back_on = EXCLUDED.fell_back_on,
            fell_back_decision_no = EXCLUDED.fell_back_decision_no,
            fell_back_from = EXCLUDED.fell_back_from,
            supports_between = EXCLUDED.supports_between,
            supports_between_vnd = EXCLUDED.supports_between_vnd, cause = EXCLUDED.cause;
    END IF;
END;
$$;
