//! Read model **flags** (kept by the projection runner): red flags a Fatherland Front monitor holds a disbursement
//! trail to account with. Each rule is data ([`RULES`]: an id, a plain explanation in
//! Vietnamese and English, whether it applies) and a pure check of one household's history;
//! every flag carries its evidence (the household and the event sequences behind it).
//!
//! A flag is never deleted because someone looked at it: `flag_explained` (an officer's reason
//! and decision number) and `flag_accepted` (a supervisor) are household events, and the row
//! shows the latest explanation, who gave it and whether it was accepted. Rows are rewritten
//! from the household's folded history behind `flag_households`, except that a batch bringing
//! only supports is judged from the household's stored [`Context`] and those supports.

use std::collections::{BTreeMap, BTreeSet};

use ansinh_events::household::{HouseholdEvent, Policy, SupportReceived};
use ansinh_events::policy_params::{PolicyParameters, ELECTRICITY_SUBSIDY_MONTHLY};
use ansinh_events::{Category, Recorded, Source};
use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::log::{self, HouseholdLog, StoredEvent};
use crate::status::{recently_exited, to_i32};

/// A rule as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub vi: &'static str,
    pub en: &'static str,
    /// Switched off rules raise nothing (segregation of duties where one person must do both).
    pub applies: bool,
}

pub const RULES: [Rule; 8] = [
    Rule { id: "not_eligible", applies: true,
        vi: "Hỗ trợ cho hộ không thuộc diện nghèo, cận nghèo hoặc mới thoát nghèo vào ngày chi theo điều kiện của chính sách.",
        en: "Support to a household that was not poor, near-poor or recently exited on the disbursement day, as the policy requires." },
    Rule { id: "repeated_once_per_period", applies: true,
        vi: "Chính sách chỉ hỗ trợ một lần mỗi kỳ nhưng hộ nhận hai lần trong cùng kỳ.",
        en: "A policy paid once per period was paid twice in the same period." },
    Rule { id: "after_closure", applies: true,
        vi: "Hỗ trợ chi sau ngày hồ sơ hộ đã đóng.",
        en: "Support disbursed after the household's file was closed." },
    Rule { id: "amount_differs", applies: true,
        vi: "Số tiền khác với mức quy định của chính sách vào ngày chi (ví dụ tiền điện mỗi tháng).",
        en: "The amount differs from the policy's dated parameter (e.g. the monthly electricity subsidy)." },
    Rule { id: "late_entry", applies: true,
        vi: "Hỗ trợ được ghi nhận hơn 90 ngày sau ngày chi ghi trên phiếu.",
        en: "Support recorded more than 90 days after the day it says it was disbursed." },
    Rule { id: "same_user", applies: true,
        vi: "Cùng một người vừa ghi rà soát vừa ghi quyết định, hoặc vừa ghi quyết định vừa ghi hỗ trợ (không tách bạch nhiệm vụ).",
        en: "The same user recorded a survey and the decision on it, or a decision and a support on it (no segregation of duties)." },
    Rule { id: "unreviewed_override", applies: true,
        vi: "Quyết định khác đề xuất của rà soát chưa được cấp trên xem xét trong 30 ngày.",
        en: "A decision against the survey's proposal not looked at by a supervisor within 30 days." },
    Rule { id: "overdrawn", applies: true,
        vi: "Hỗ trợ chi vượt số còn lại của phần phân bổ quỹ, có lý do vượt.",
        en: "A support overdrew a fund allocation with an override reason." },
];

pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// Who may receive a policy's supports, from a day on: poor, near-poor, recently exited.
pub struct Eligibility {
    pub policy: Policy,
    pub valid_from: NaiveDate,
    pub poor: bool,
    pub near_poor: bool,
    pub recently_exited: bool,
}

const fn eligible(
    policy: Policy,
    poor: bool,
    near_poor: bool,
    recently_exited: bool,
) -> Eligibility {
    Eligibility {
        policy,
        valid_from: NaiveDate::MIN,
        poor,
        near_poor,
        recently_exited,
    }
}

/// The eligibility table (data; policies not listed, such as emergency aid, are for anyone).
pub const ELIGIBILITY: [Eligibility; 8] = [
    eligible(Policy::PreferentialCredit, true, true, true),
    eligible(Policy::HealthInsurance, true, true, true),
    eligible(Policy::Education, true, true, false),
    eligible(Policy::Housing, true, true, false),
    eligible(Policy::CleanWater, true, true, false),
    eligible(Policy::ElectricitySubsidy, true, false, false),
    eligible(Policy::MonthlyAllowance, true, true, false),
    eligible(Policy::Livelihood, true, true, true),
];

/// Policies paid at most once per calendar year (data).
pub const ONCE_PER_YEAR: [Policy; 2] = [Policy::HealthInsurance, Policy::Housing];

/// Days after the disbursement within which a support must be recorded.
pub const LATE_ENTRY_DAYS: i64 = 90;
/// Days within which a supervisor must look at a decision against the proposal.
pub const REVIEW_DAYS: i64 = 30;

/// One flag as the read model holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Flag {
    pub household_id: Uuid,
    pub rule: String,
    /// The event flagged.
    pub sequence: i32,
    pub head_name: String,
    /// The household's unit on `on_date`.
    pub unit_code: String,
    /// The day of the fact flagged (a disbursement, a decision).
    pub on_date: NaiveDate,
    /// Every event sequence behind the flag, the flagged one included.
    pub evidence: Vec<i32>,
    /// The flag counts from this day (a decision's review is due 30 days after it).
    pub visible_from: NaiveDate,
    /// `open`, `explained` or `accepted`.
    pub status: String,
    pub explained_by: Option<String>,
    pub explanation: Option<String>,
    pub explanation_decision_no: Option<String>,
    pub accepted_by: Option<String>,
}

struct Found {
    rule: &'static str,
    sequence: i64,
    on: NaiveDate,
    evidence: Vec<i64>,
    visible_from: NaiveDate,
}

/// What the flags of a support appended at the end of a household's history depend on, besides
/// the support: its head, units, closure, decisions and who recorded the latest one. A support
/// changes none of these, so `flag_households.context` keeps them from one full reading of the
/// history to the next, and a runner batch that brings a household only supports is judged
/// from them without reading its history again (the common case: allowances paid month by
/// month to households whose histories only grow).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    head_name: String,
    registered_unit: Option<String>,
    /// Moves in force, in the order they were recorded: (moved on, unit).
    moves: Vec<(NaiveDate, String)>,
    closed_on: Option<NaiveDate>,
    classifications: Vec<Classified>,
    /// The latest decision in log order, and who recorded it (none for a system account).
    last_decision: Option<(i64, Option<Uuid>)>,
}

impl Context {
    pub fn of(l: &HouseholdLog) -> Context {
        let state = &l.state;
        Context {
            head_name: state
                .current
                .as_ref()
                .map(|c| c.head_name.clone())
                .unwrap_or_default(),
            registered_unit: state.registration.as_ref().map(|r| r.unit_code.clone()),
            moves: log::moves(state)
                .map(|(on, unit)| (on, unit.to_owned()))
                .collect(),
            closed_on: log::closed_on(state),
            classifications: classifications(l),
            last_decision: l
                .events
                .iter()
                .rev()
                .find(|e| matches!(e.event, HouseholdEvent::HouseholdClassified(_)))
                .map(|e| (e.meta.sequence, recorder(e))),
        }
    }

    fn unit_on(&self, date: NaiveDate) -> Option<String> {
        let registered = self.registered_unit.as_deref()?;
        let moves = self.moves.iter().map(|(on, unit)| (*on, unit.as_str()));
        Some(log::unit_among(registered, moves, date))
    }
}

/// Who recorded an event; system accounts (nil user) are nobody, for segregation of duties.
fn recorder(e: &Recorded<HouseholdEvent>) -> Option<Uuid> {
    Some(e.meta.actor.user_id).filter(|u| !u.is_nil())
}

/// Whether an event can be judged from its household's [`Context`]: a support, of a policy not
/// paid once per period (whose flags depend on the household's other supports).
pub fn judged_from_context(e: &Recorded<HouseholdEvent>) -> bool {
    matches!(&e.event, HouseholdEvent::SupportReceived(s) if !ONCE_PER_YEAR.contains(&s.policy))
}

/// The flags a household's history raises, in (rule, sequence) order, judged with the
/// shipped policy parameters (both write paths must give the same rows).
pub fn rows(l: &HouseholdLog) -> Vec<Flag> {
    rows_with(l, &PolicyParameters::shipped())
}

pub fn rows_with(l: &HouseholdLog, parameters: &PolicyParameters) -> Vec<Flag> {
    rows_in(l, &Context::of(l), parameters)
}

/// [`rows_with`] given the history's [`Context`] (taken once where it is also stored).
fn rows_in(l: &HouseholdLog, context: &Context, parameters: &PolicyParameters) -> Vec<Flag> {
    let mut found = Vec::new();
    let mut seen_in_year: BTreeMap<(&str, i32), i64> = BTreeMap::new();
    let mut by_date = l.supports();
    by_date.sort_by_key(|(seq, s)| (s.disbursed_on, *seq));
    for (seq, s) in &by_date {
        support_flags(context, parameters, *seq, s, l.event(*seq), &mut found);
        if ONCE_PER_YEAR.contains(&s.policy) {
            let key = (s.policy.as_str(), s.disbursed_on.year());
            match seen_in_year.get(&key) {
                Some(first) => found.push(Found {
                    rule: "repeated_once_per_period",
                    sequence: *seq,
                    on: s.disbursed_on,
                    evidence: vec![*first, *seq],
                    visible_from: s.disbursed_on,
                }),
                None => {
                    seen_in_year.insert(key, *seq);
                }
            }
        }
    }
    same_user(l, &mut found);
    unreviewed(l, &mut found);
    flags(l.household_id, context, found, |rule, sequence| {
        explanation(l, rule, sequence)
    })
}

/// The flags of supports appended to the history `context` was taken from (each
/// [`judged_from_context`]); the same rows [`rows_with`] gives them from the whole history.
pub fn appended_rows(
    household_id: Uuid,
    context: &Context,
    supports: &[&Recorded<HouseholdEvent>],
    parameters: &PolicyParameters,
) -> Vec<Flag> {
    let mut found = Vec::new();
    for e in supports {
        if let HouseholdEvent::SupportReceived(s) = &e.event {
            support_flags(context, parameters, e.meta.sequence, s, Some(e), &mut found);
            found.extend(same_recorder(context.last_decision, e, s.disbursed_on));
        }
    }
    // An explanation names an event that exists, so none can name these yet.
    flags(household_id, context, found, |_, _| ("open", None))
}

/// The rules judged on one support alone with its household's context: eligibility, closure,
/// amount, overdraft, late entry. `original` is the support's own event (its recorder and
/// recording time; a correction does not change them).
fn support_flags(
    context: &Context,
    parameters: &PolicyParameters,
    seq: i64,
    s: &SupportReceived,
    original: Option<&Recorded<HouseholdEvent>>,
    found: &mut Vec<Found>,
) {
    let flag = |rule, evidence: Vec<i64>| Found {
        rule,
        sequence: seq,
        on: s.disbursed_on,
        evidence,
        visible_from: s.disbursed_on,
    };
    let categories = &context.classifications;
    if let Some(e) = ELIGIBILITY
        .iter()
        .rfind(|e| e.policy == s.policy && e.valid_from <= s.disbursed_on)
    {
        if !eligible_on(categories, e, s.disbursed_on) {
            let mut evidence: Vec<i64> = categories
                .iter()
                .filter(|c| c.decided_on <= s.disbursed_on)
                .map(|c| c.sequence)
                .collect();
            evidence.push(seq);
            found.push(flag("not_eligible", evidence));
        }
    }
    if context.closed_on.is_some_and(|c| s.disbursed_on >= c) {
        found.push(flag("after_closure", vec![seq]));
    }
    if s.policy == Policy::ElectricitySubsidy && !amount_fits(parameters, s) {
        found.push(flag("amount_differs", vec![seq]));
    }
    if s.override_reason.is_some() && s.fund_id.is_some() {
        found.push(flag("overdrawn", vec![seq]));
    }
    // A record imported from an earlier system was entered there, not on import.
    let imported = |e: &&Recorded<HouseholdEvent>| matches!(e.meta.source, Source::Import { .. });
    if let Some(original) = original.filter(|e| !imported(e)) {
        let recorded = log::vietnam_date(original.meta.recorded_at);
        if (recorded - s.disbursed_on).num_days() > LATE_ENTRY_DAYS {
            found.push(flag("late_entry", vec![seq]));
        }
    }
}

/// The flag rows of what the rules found: rules switched off left out, one row per (rule,
/// sequence), each with its unit on the day flagged and its explanation.
fn flags(
    household_id: Uuid,
    context: &Context,
    found: Vec<Found>,
    explained: impl Fn(&str, i64) -> (&'static str, Option<Explained>),
) -> Vec<Flag> {
    let mut out: Vec<Flag> = found
        .into_iter()
        .filter(|f| rule(f.rule).is_some_and(|r| r.applies))
        .map(|f| {
            let (status, explained) = explained(f.rule, f.sequence);
            Flag {
                household_id,
                rule: f.rule.to_owned(),
                sequence: to_i32(f.sequence),
                head_name: context.head_name.clone(),
                unit_code: context.unit_on(f.on).unwrap_or_default(),
                on_date: f.on,
                evidence: f.evidence.into_iter().map(to_i32).collect(),
                visible_from: f.visible_from,
                status: status.to_owned(),
                explained_by: explained.as_ref().map(|e| e.0.clone()),
                explanation: explained.as_ref().map(|e| e.1.clone()),
                explanation_decision_no: explained.as_ref().map(|e| e.2.clone()),
                accepted_by: explained.and_then(|e| e.3),
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.rule, a.sequence).cmp(&(&b.rule, b.sequence)));
    out.dedup_by(|a, b| a.rule == b.rule && a.sequence == b.sequence);
    out
}

/// A classification decision, in decision order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Classified {
    sequence: i64,
    standard: String,
    category: Category,
    decided_on: NaiveDate,
}

fn classifications(l: &HouseholdLog) -> Vec<Classified> {
    let mut out: Vec<Classified> = l
        .events
        .iter()
        .filter_map(|e| match &e.event {
            HouseholdEvent::HouseholdClassified(c) => Some(Classified {
                sequence: e.meta.sequence,
                standard: c.standard.clone(),
                category: c.category,
                decided_on: c.decided_on,
            }),
            _ => None,
        })
        .collect();
    out.sort_by_key(|c| (c.decided_on, c.sequence));
    out
}

/// Whether the decisions up to `on` make the household eligible under `e` that day (under any
/// standard).
fn eligible_on(categories: &[Classified], e: &Eligibility, on: NaiveDate) -> bool {
    let mut by_standard: BTreeMap<&str, (Category, Option<NaiveDate>)> = BTreeMap::new();
    for c in categories.iter().filter(|c| c.decided_on <= on) {
        let entry = by_standard
            .entry(c.standard.as_str())
            .or_insert((c.category, None));
        let was_in = matches!(entry.0, Category::Poor | Category::NearPoor);
        let is_in = matches!(c.category, Category::Poor | Category::NearPoor);
        if was_in && !is_in {
            entry.1 = Some(c.decided_on);
        }
        entry.0 = c.category;
    }
    by_standard.values().any(|(category, exited_on)| {
        (e.poor && *category == Category::Poor)
            || (e.near_poor && *category == Category::NearPoor)
            || (e.recently_exited && recently_exited(*category, *exited_on, on))
    })
}

/// An electricity subsidy is whole months of the monthly amount in force (1 to 12 months).
fn amount_fits(parameters: &PolicyParameters, s: &SupportReceived) -> bool {
    let Some(value) = parameters.value_on(ELECTRICITY_SUBSIDY_MONTHLY, s.disbursed_on) else {
        return true;
    };
    let (min, max) = (value.amount_vnd.min().get(), value.amount_vnd.max().get());
    let amount = s.amount_vnd.get();
    (1..=12).any(|months| amount >= min * months && amount <= max * months)
}

/// Segregation of duties: a decision recorded by whoever recorded its survey; a support
/// recorded by whoever recorded the latest decision before it. System accounts are exempt.
fn same_user(l: &HouseholdLog, found: &mut Vec<Found>) {
    let by = |seq: i64| l.event(seq).and_then(recorder);
    let mut last_decision: Option<(i64, Option<Uuid>)> = None;
    for e in &l.events {
        match &e.event {
            HouseholdEvent::HouseholdClassified(c) => {
                if by(c.survey_sequence).is_some() && by(c.survey_sequence) == recorder(e) {
                    found.push(Found {
                        rule: "same_user",
                        sequence: e.meta.sequence,
                        on: c.decided_on,
                        evidence: vec![c.survey_sequence, e.meta.sequence],
                        visible_from: c.decided_on,
                    });
                }
                last_decision = Some((e.meta.sequence, recorder(e)));
            }
            HouseholdEvent::SupportReceived(s) => {
                found.extend(same_recorder(last_decision, e, s.disbursed_on));
            }
            _ => {}
        }
    }
}

/// A support recorded by whoever recorded the latest decision before it.
fn same_recorder(
    decision: Option<(i64, Option<Uuid>)>,
    support: &Recorded<HouseholdEvent>,
    on: NaiveDate,
) -> Option<Found> {
    let (decision, by) = decision?;
    (by.is_some() && by == recorder(support)).then(|| Found {
        rule: "same_user",
        sequence: support.meta.sequence,
        on,
        evidence: vec![decision, support.meta.sequence],
        visible_from: on,
    })
}

/// A decision against its survey's proposal counts from 30 days after it unless a supervisor
/// accepted an explanation of it within those days.
fn unreviewed(l: &HouseholdLog, found: &mut Vec<Found>) {
    for e in &l.events {
        let HouseholdEvent::HouseholdClassified(c) = &e.event else {
            continue;
        };
        if c.category == c.proposed {
            continue;
        }
        let due = c.decided_on + Duration::days(REVIEW_DAYS);
        let reviewed = l.events.iter().any(|a| match &a.event {
            HouseholdEvent::FlagAccepted(f) => {
                f.rule == "unreviewed_override"
                    && f.sequence == e.meta.sequence
                    && log::vietnam_date(a.meta.recorded_at) <= due
            }
            _ => false,
        });
        if !reviewed {
            found.push(Found {
                rule: "unreviewed_override",
                sequence: e.meta.sequence,
                on: c.decided_on,
                evidence: vec![c.survey_sequence, e.meta.sequence],
                visible_from: due,
            });
        }
    }
}

/// The latest explanation of a flag: by, reason, decision, accepted by.
type Explained = (String, String, String, Option<String>);

/// The status of a flag and its latest explanation.
fn explanation(l: &HouseholdLog, rule: &str, sequence: i64) -> (&'static str, Option<Explained>) {
    let mut latest: Option<Explained> = None;
    for e in &l.events {
        match &e.event {
            HouseholdEvent::FlagExplained(f) if f.rule == rule && f.sequence == sequence => {
                latest = Some((
                    e.meta.actor.name.clone(),
                    f.reason.clone(),
                    f.decision_no.clone(),
                    None,
                ));
            }
            HouseholdEvent::FlagAccepted(f) if f.rule == rule && f.sequence == sequence => {
                if let Some(x) = latest.as_mut() {
                    x.3 = Some(e.meta.actor.name.clone());
                }
            }
            _ => {}
        }
    }
    let status = match &latest {
        None => "open",
        Some((_, _, _, None)) => "explained",
        Some(_) => "accepted",
    };
    (status, latest)
}

/// Whether a household's new events can change its flags (every event can: a survey's author,
/// a late record, an explanation).
pub fn rewrites(l: &HouseholdLog) -> bool {
    l.new_events().next().is_some()
}

// ------------------------------------------------------------------------------ writing

/// The runner's entry: the flags of every household a batch of events touches. A household to
/// which the batch brings only supports [`judged_from_context`], right after the version its
/// flags stand at, is judged from its stored [`Context`]; the others are read whole.
pub async fn apply(conn: &mut PgConnection, events: &[StoredEvent<'_>]) -> Result<(), sqlx::Error> {
    let judged = append_from_context(conn, events).await?;
    let rest: Vec<StoredEvent<'_>> = events
        .iter()
        .filter(|e| !judged.contains(&e.household_id))
        .copied()
        .collect();
    let logs = log::load(conn, &rest).await?;
    write(conn, &logs).await
}

/// Flags the supports of the households a batch brings only supports judged from context;
/// returns the households done. The guard moves only a version that stands right before the
/// batch's events and has a context, so anything else (a first reading, a redelivery, a gap)
/// goes the whole-history way.
async fn append_from_context(
    conn: &mut PgConnection,
    events: &[StoredEvent<'_>],
) -> Result<BTreeSet<Uuid>, sqlx::Error> {
    let by_household = log::by_household(events);
    let (mut ids, mut stands_at, mut versions) = (Vec::new(), Vec::new(), Vec::new());
    for (id, batch) in &by_household {
        let Some((first, last)) = log::span(batch) else {
            continue;
        };
        if !log::contiguous(batch) || !batch.values().all(|e| judged_from_context(e)) {
            continue;
        }
        ids.push(*id);
        stands_at.push(to_i32(first - 1));
        versions.push(to_i32(last));
    }
    if ids.is_empty() {
        return Ok(BTreeSet::new());
    }
    let contexts: Vec<(Uuid, i32, serde_json::Value)> = sqlx::query_as(
        "UPDATE flag_households h SET version = b.version
           FROM UNNEST($1::uuid[], $2::int[], $3::int[]) AS b(id, stands_at, version)
          WHERE h.household_id = ANY($1) AND h.household_id = b.id
            AND h.version = b.stands_at AND h.context IS NOT NULL
          RETURNING h.household_id, b.stands_at, h.context",
    )
    .bind(&ids)
    .bind(&stands_at)
    .bind(&versions)
    .fetch_all(&mut *conn)
    .await?;
    let parameters = PolicyParameters::shipped();
    let mut rows = Vec::new();
    let mut done = BTreeSet::new();
    let (mut unreadable, mut back_to) = (Vec::new(), Vec::new());
    for (id, stood_at, context) in contexts {
        // A context an older build wrote in another shape is read again from the history.
        let Ok(context) = serde_json::from_value::<Context>(context) else {
            unreadable.push(id);
            back_to.push(stood_at);
            continue;
        };
        let supports: Vec<&Recorded<HouseholdEvent>> =
            by_household[&id].values().copied().collect();
        rows.extend(appended_rows(id, &context, &supports, &parameters));
        done.insert(id);
    }
    if !unreadable.is_empty() {
        sqlx::query(
            "UPDATE flag_households h SET version = b.stands_at, context = NULL
               FROM UNNEST($1::uuid[], $2::int[]) AS b(id, stands_at)
              WHERE h.household_id = ANY($1) AND h.household_id = b.id",
        )
        .bind(&unreadable)
        .bind(&back_to)
        .execute(&mut *conn)
        .await?;
    }
    insert(conn, &rows).await?;
    Ok(done)
}

pub async fn write(conn: &mut PgConnection, logs: &[HouseholdLog]) -> Result<(), sqlx::Error> {
    let touched: Vec<&HouseholdLog> = logs.iter().filter(|l| rewrites(l)).collect();
    if touched.is_empty() {
        return Ok(());
    }
    let contexts: Vec<Context> = touched.iter().map(|l| Context::of(l)).collect();
    let stored = contexts
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let advanced =
        log::advance_carrying(conn, "flag_households", "flags", &touched, Some(stored)).await?;
    let parameters = PolicyParameters::shipped();
    let rows: Vec<Flag> = touched
        .iter()
        .zip(&contexts)
        .filter(|(l, _)| advanced.contains(&l.household_id))
        .flat_map(|(l, context)| rows_in(l, context, &parameters))
        .collect();
    insert(conn, &rows).await
}

async fn insert(conn: &mut PgConnection, rows: &[Flag]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query("INSERT INTO flags SELECT * FROM jsonb_populate_recordset(NULL::flags, $1)")
        .bind(sqlx::types::Json(rows))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

// ------------------------------------------------------------------------------ reading

/// Filters of the flag list; `None` = any. Units include the units below them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagFilter {
    pub unit: Option<String>,
    pub rule: Option<String>,
    pub status: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub household: Option<Uuid>,
    /// Only these households' flags (a page of another list asks for its rows').
    pub households: Option<Vec<Uuid>>,
    /// Flags count from their `visible_from` day.
    pub today: NaiveDate,
}

const FILTER: &str = "($1::text IS NULL OR unit_code IN
                        (SELECT descendant FROM admin_unit_closure WHERE ancestor = $1))
                  AND ($2::text IS NULL OR rule = $2)
                  AND ($3::text IS NULL OR status = $3)
                  AND ($4::date IS NULL OR on_date >= $4)
                  AND ($5::date IS NULL OR on_date <= $5)
                  AND ($6::uuid IS NULL OR household_id = $6)
                  AND visible_from <= $7
                  AND ($8::uuid[] IS NULL OR household_id = ANY($8))";

pub async fn list(
    pool: &PgPool,
    f: &FlagFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Flag>, i64), sqlx::Error> {
    let (total,): (i64,) = sqlx::query_as(&format!("SELECT count(*) FROM flags WHERE {FILTER}"))
        .bind(&f.unit)
        .bind(&f.rule)
        .bind(&f.status)
        .bind(f.from)
        .bind(f.to)
        .bind(f.household)
        .bind(f.today)
        .bind(&f.households)
        .fetch_one(pool)
        .await?;
    let items = sqlx::query_as(&format!(
        "SELECT * FROM flags WHERE {FILTER}
          ORDER BY on_date DESC, household_id, rule, sequence LIMIT $9 OFFSET $10"
    ))
    .bind(&f.unit)
    .bind(&f.rule)
    .bind(&f.status)
    .bind(f.from)
    .bind(f.to)
    .bind(f.household)
    .bind(f.today)
    .bind(&f.households)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    Ok((items, total))
}

/// Flags counted per unit and rule (and status), over the same filters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SummaryLine {
    pub unit_code: String,
    pub rule: String,
    pub open: i64,
    pub explained: i64,
    pub accepted: i64,
}

pub async fn summary(pool: &PgPool, f: &FlagFilter) -> Result<Vec<SummaryLine>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT unit_code, rule,
                count(*) FILTER (WHERE status = 'open') AS open,
                count(*) FILTER (WHERE status = 'explained') AS explained,
                count(*) FILTER (WHERE status = 'accepted') AS accepted
           FROM flags WHERE {FILTER}
          GROUP BY unit_code, rule ORDER BY unit_code, rule"
    ))
    .bind(&f.unit)
    .bind(&f.rule)
    .bind(&f.status)
    .bind(f.from)
    .bind(f.to)
    .bind(f.household)
    .bind(f.today)
    .bind(&f.households)
    .fetch_all(pool)
    .await
}
