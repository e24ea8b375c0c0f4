//! Read model **disbursements** (inline): the support trail, one row per support.
//!
//! Table (`migrations/0005_disbursements.sql`): `disbursements`, keyed by household and the
//! sequence of the original `support_received`. A row shows the support as it counts now: the
//! latest correction's content (amount, date, fund…), the amount first recorded, and a link to
//! that correction with its reason; a support voided by a correction stays, marked `voided`, and
//! is left out of lists and totals unless asked for. The unit is the household's unit on the day
//! of the disbursement (so a later move does not carry old supports along), the head name is the
//! current one. A household's rows are rewritten from its folded state when a batch brings one
//! of its supports, a correction, a move, a registration or a change of head, guarded by
//! `disbursement_households.version`.

use std::collections::{BTreeMap, BTreeSet};

use imbl::OrdMap;

use ansinh_events::household::{
    FundingSource, HouseholdEvent, HouseholdState, Policy, Replacement, SupportReceived,
};
use ansinh_events::Recorded;
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::log::{self, enum_name, parse_enum, HouseholdLog, StoredEvent};
use crate::status::to_i32;

/// The events that can change a household's rows.
pub(crate) const RELEVANT: [&str; 5] = [
    "household_registered",
    "members_changed",
    "household_moved",
    "support_received",
    "event_corrected",
];

/// One support as the trail shows it (the contract's item plus its links).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Disbursement {
    pub household_id: Uuid,
    /// Sequence of the original `support_received`.
    pub sequence: i64,
    pub head_name: String,
    /// The household's unit on the day of the disbursement.
    pub unit_code: String,
    pub policy: Policy,
    pub amount_vnd: i64,
    pub in_kind: Option<String>,
    pub funding_source: FundingSource,
    pub fund_id: Option<String>,
    pub disbursed_on: NaiveDate,
    pub disbursed_by: String,
    pub decision_no: String,
    pub recipient_member: Option<String>,
    pub recorded_at: DateTime<Utc>,
    /// The amount first recorded, when a correction changed it.
    pub original_amount_vnd: Option<i64>,
    /// The correction that counts (the latest), if any.
    pub corrected_by: Option<i64>,
    pub correction_reason: Option<String>,
    pub voided: bool,
    /// Why this support may take its fund's allocation below zero, if it may.
    pub override_reason: Option<String>,
}

/// Filters of the trail; `None` = any. Units include the units below them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisbursementFilter {
    pub unit: Option<String>,
    pub policy: Option<Policy>,
    pub source: Option<FundingSource>,
    pub fund: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub household: Option<Uuid>,
    /// Also list supports voided by a correction (never counted in totals).
    pub include_voided: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Totals {
    pub count: i64,
    /// Summed as PostgreSQL `numeric` and held in an i128, so no set of stored rows can make
    /// the total overflow (each support is at most a thousand billion VND).
    #[cfg_attr(feature = "openapi", schema(value_type = i64, format = Int64))]
    pub amount_vnd: i128,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DisbursementList {
    pub items: Vec<Disbursement>,
    /// Over every matching support that counts (not only this page; voided ones never).
    pub totals: Totals,
    pub limit: i64,
    pub offset: i64,
}

/// The rows a household's history gives, in sequence order.
pub fn rows(l: &HouseholdLog) -> Vec<Disbursement> {
    let rows = DisbursementRows::of(l.household_id, &l.state, &l.events);
    rows.rows.values().cloned().collect()
}

/// The events after which every row takes the head's name and its unit from the state again:
/// a new head, or a move (recorded late, it changes the unit of supports after its day).
const RESHAPING: [&str; 3] = ["household_registered", "members_changed", "household_moved"];

/// A household's support rows, kept up to date event by event, so a command computes the rows
/// its events change without the history before them (snapshots keep this too).
///
/// Each row's content comes from the events (the support, or the latest correction of it);
/// the head's name and the unit on the disbursement day come from the folded state afterwards
/// ([`DisbursementRows::finish`]), for the rows the events touched — or every row after a
/// registration, a change of head or a move.
///
/// The rows may be **partial**: a household loaded from a snapshot holds only the rows of the
/// supports after it (a snapshot keeps none, so its size does not grow with the supports).
/// The rows held are always right; a batch of events that needs a row not held — a correction
/// of a support, or a change that takes every row again ([`needs_every_row`]) — is taken in
/// after the store has read the whole set back ([`DisbursementRows::of`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DisbursementRows {
    /// By the sequence of the original `support_received`; persistent, like the state's maps,
    /// so a command's copy shares every row it does not touch.
    pub rows: OrdMap<i64, Disbursement>,
    /// A corrected support's row as first recorded: a void shows that content again.
    originals: OrdMap<i64, Disbursement>,
    /// Only the rows of supports after a snapshot are held.
    #[serde(default)]
    pub partial: bool,
}

/// Which rows a batch of events touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    pub all: bool,
    pub keys: BTreeSet<i64>,
}

/// Whether taking in `e` may change a row other than its own new one: a correction of a support,
/// or a change of head or unit.
pub fn needs_every_row(e: &Recorded<HouseholdEvent>) -> bool {
    matches!(&e.event, HouseholdEvent::EventCorrected(c) if c.corrects_type == "support_received")
        || reshapes(e)
}

impl DisbursementRows {
    /// Every row of a history, `state` folded past all of it.
    pub fn of(
        household_id: Uuid,
        state: &HouseholdState,
        events: &[Recorded<HouseholdEvent>],
    ) -> Self {
        let mut rows = DisbursementRows::default();
        let touched = rows.take_in(household_id, events);
        rows.finish(state, &touched);
        rows
    }

    /// None held: what a snapshot keeps, and where a household read from one starts.
    pub fn none_held() -> Self {
        DisbursementRows {
            partial: true,
            ..DisbursementRows::default()
        }
    }

    /// Takes in events in sequence order; says which rows they touched.
    pub fn take_in<'a>(
        &mut self,
        household_id: Uuid,
        events: impl IntoIterator<Item = &'a Recorded<HouseholdEvent>>,
    ) -> Touched {
        let mut touched = Touched::default();
        for e in events {
            let sequence = e.meta.sequence;
            match &e.event {
                HouseholdEvent::SupportReceived(s) => {
                    let row = content(household_id, sequence, s, e.meta.recorded_at);
                    self.rows.insert(sequence, row);
                    touched.keys.insert(sequence);
                }
                HouseholdEvent::EventCorrected(c) if c.corrects_type == "support_received" => {
                    let o = c.original_sequence;
                    let Some(current) = self.rows.get(&o) else {
                        continue;
                    };
                    // Without what the state fills in, which is taken afresh for every row.
                    let original = self.originals.entry(o).or_insert_with(|| Disbursement {
                        head_name: String::new(),
                        unit_code: String::new(),
                        ..current.clone()
                    });
                    let mut row = match &c.replacement {
                        Some(Replacement::SupportReceived(s)) => {
                            let mut row = content(household_id, o, s, original.recorded_at);
                            row.original_amount_vnd =
                                Some(original.amount_vnd).filter(|a| *a != row.amount_vnd);
                            row
                        }
                        _ => Disbursement {
                            voided: true,
                            ..original.clone()
                        },
                    };
                    row.corrected_by = Some(sequence);
                    row.correction_reason = Some(c.reason.clone());
                    self.rows.insert(o, row);
                    touched.keys.insert(o);
                }
                _ if reshapes(e) => touched.all = true,
                _ => {}
            }
        }
        touched
    }

    /// The rows `events` may change, as they stand before them: the supports they correct, or
    /// every row when one of them takes the head or the units again.
    pub fn before(&self, events: &[Recorded<HouseholdEvent>]) -> BTreeMap<i64, Disbursement> {
        if events.iter().any(reshapes) {
            return self.rows.iter().map(|(k, row)| (*k, row.clone())).collect();
        }
        events
            .iter()
            .filter_map(|e| match &e.event {
                HouseholdEvent::EventCorrected(c) => self
                    .rows
                    .get_key_value(&c.original_sequence)
                    .map(|(k, row)| (*k, row.clone())),
                _ => None,
            })
            .collect()
    }

    /// The rows `touched` names, as they stand now.
    pub fn touched(&self, touched: &Touched) -> BTreeMap<i64, Disbursement> {
        if touched.all {
            return self.rows.iter().map(|(k, row)| (*k, row.clone())).collect();
        }
        touched
            .keys
            .iter()
            .filter_map(|k| self.rows.get_key_value(k))
            .map(|(k, row)| (*k, row.clone()))
            .collect()
    }

    /// Gives the touched rows the head's name and the unit on their day from `state`, folded
    /// past every event taken in.
    pub fn finish(&mut self, state: &HouseholdState, touched: &Touched) {
        let head_name = state
            .current
            .as_ref()
            .map(|c| c.head_name.as_str())
            .unwrap_or_default();
        let refresh = |row: &mut Disbursement| {
            head_name.clone_into(&mut row.head_name);
            row.unit_code = log::unit_on(state, row.disbursed_on).unwrap_or_default();
        };
        if touched.all {
            let keys: Vec<i64> = self.rows.keys().copied().collect();
            for key in keys {
                if let Some(row) = self.rows.get_mut(&key) {
                    refresh(row);
                }
            }
        } else {
            for key in &touched.keys {
                if let Some(row) = self.rows.get_mut(key) {
                    refresh(row);
                }
            }
        }
    }
}

/// Whether `e` changes the head's name or the units of a household's rows.
fn reshapes(e: &Recorded<HouseholdEvent>) -> bool {
    match &e.event {
        HouseholdEvent::EventCorrected(c) => RESHAPING.contains(&c.corrects_type.as_str()),
        other => RESHAPING.contains(&other.type_name()),
    }
}

/// A support's row as its content says, before the state's head and unit are filled in.
fn content(
    household_id: Uuid,
    sequence: i64,
    support: &SupportReceived,
    recorded_at: DateTime<Utc>,
) -> Disbursement {
    Disbursement {
        household_id,
        sequence,
        head_name: String::new(),
        unit_code: String::new(),
        policy: support.policy,
        amount_vnd: support.amount_vnd.get(),
        in_kind: support.in_kind.clone(),
        funding_source: support.funding_source,
        fund_id: support.fund_id.clone(),
        disbursed_on: support.disbursed_on,
        disbursed_by: support.disbursed_by.clone(),
        decision_no: support.decision_no.clone(),
        recipient_member: support.recipient_member.clone(),
        // PostgreSQL keeps microseconds: truncated as sqlx truncates a bound timestamp, so
        // every write path stores the same instant.
        recorded_at: recorded_at.trunc_subsecs(6),
        original_amount_vnd: None,
        corrected_by: None,
        correction_reason: None,
        voided: false,
        override_reason: support.override_reason.clone(),
    }
}

// ------------------------------------------------------------------------------ writing

/// Whether the events `l` brings can change its rows (its version guard then moves on).
pub fn rewrites(l: &HouseholdLog) -> bool {
    l.touches(&RELEVANT)
}

pub async fn apply(conn: &mut PgConnection, events: &[StoredEvent<'_>]) -> Result<(), sqlx::Error> {
    let logs = log::load(conn, events).await?;
    write(conn, &logs).await
}

pub async fn write(conn: &mut PgConnection, logs: &[HouseholdLog]) -> Result<(), sqlx::Error> {
    let touched: Vec<&HouseholdLog> = logs.iter().filter(|l| rewrites(l)).collect();
    if touched.is_empty() {
        return Ok(());
    }
    let advanced = log::advance(conn, "disbursement_households", "disbursements", &touched).await?;
    if advanced.is_empty() {
        return Ok(());
    }
    let mut c = Columns::default();
    for l in touched
        .iter()
        .filter(|l| advanced.contains(&l.household_id))
    {
        for row in rows(l) {
            c.push(row);
        }
    }
    if c.ids.is_empty() {
        return Ok(());
    }
    let t = crate::tables::DISBURSEMENTS;
    sqlx::query(&format!(
        "INSERT INTO {} ({})
         SELECT * FROM UNNEST($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[],
                              $6::bigint[], $7::text[], $8::text[], $9::text[], $10::date[],
                              $11::text[], $12::text[], $13::text[], $14::timestamptz[],
                              $15::bigint[], $16::int[], $17::text[], $18::bool[], $19::text[])",
        t.name,
        t.column_list()
    ))
    .bind(&c.ids)
    .bind(&c.sequences)
    .bind(&c.head_names)
    .bind(&c.units)
    .bind(&c.policies)
    .bind(&c.amounts)
    .bind(&c.in_kind)
    .bind(&c.sources)
    .bind(&c.funds)
    .bind(&c.disbursed_on)
    .bind(&c.disbursed_by)
    .bind(&c.decision_no)
    .bind(&c.recipients)
    .bind(&c.recorded_at)
    .bind(&c.original_amounts)
    .bind(&c.corrected_by)
    .bind(&c.correction_reasons)
    .bind(&c.voided)
    .bind(&c.overrides)
    .execute(&mut *conn)
    .await?;
    // What the rewritten supports draw on fund allocations follows their rows.
    sqlx::query("SELECT ansinh_fund_redraw(NULL)")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[derive(Default)]
struct Columns {
    ids: Vec<Uuid>,
    sequences: Vec<i32>,
    head_names: Vec<String>,
    units: Vec<String>,
    policies: Vec<String>,
    amounts: Vec<i64>,
    in_kind: Vec<Option<String>>,
    sources: Vec<String>,
    funds: Vec<Option<String>>,
    disbursed_on: Vec<NaiveDate>,
    disbursed_by: Vec<String>,
    decision_no: Vec<String>,
    recipients: Vec<Option<String>>,
    recorded_at: Vec<DateTime<Utc>>,
    original_amounts: Vec<Option<i64>>,
    corrected_by: Vec<Option<i32>>,
    correction_reasons: Vec<Option<String>>,
    voided: Vec<bool>,
    overrides: Vec<Option<String>>,
}

impl Columns {
    fn push(&mut self, d: Disbursement) {
        self.ids.push(d.household_id);
        self.sequences.push(to_i32(d.sequence));
        self.head_names.push(d.head_name);
        self.units.push(d.unit_code);
        self.policies.push(enum_name(&d.policy));
        self.amounts.push(d.amount_vnd);
        self.in_kind.push(d.in_kind);
        self.sources.push(enum_name(&d.funding_source));
        self.funds.push(d.fund_id);
        self.disbursed_on.push(d.disbursed_on);
        self.disbursed_by.push(d.disbursed_by);
        self.decision_no.push(d.decision_no);
        self.recipients.push(d.recipient_member);
        self.recorded_at.push(d.recorded_at);
        self.original_amounts.push(d.original_amount_vnd);
        self.corrected_by.push(d.corrected_by.map(to_i32));
        self.correction_reasons.push(d.correction_reason);
        self.voided.push(d.voided);
        self.overrides.push(d.override_reason);
    }
}

// ------------------------------------------------------------------------------ reading

#[derive(Debug, thiserror::Error)]
pub enum DisbursementError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored value {value:?} of {field} is not valid")]
    Corrupt { field: &'static str, value: String },
}

const FILTER: &str = "($1::text IS NULL OR unit_code IN
                        (SELECT descendant FROM admin_unit_closure WHERE ancestor = $1))
                  AND ($2::text IS NULL OR policy = $2)
                  AND ($3::text IS NULL OR funding_source = $3)
                  AND ($4::text IS NULL OR fund_id = $4)
                  AND ($5::date IS NULL OR disbursed_on >= $5)
                  AND ($6::date IS NULL OR disbursed_on <= $6)
                  AND ($7::uuid IS NULL OR household_id = $7)";

/// A stored row, enums as their contract names.
#[derive(sqlx::FromRow)]
struct Row {
    household_id: Uuid,
    sequence: i32,
    head_name: String,
    unit_code: String,
    policy: String,
    amount_vnd: i64,
    in_kind: Option<String>,
    funding_source: String,
    fund_id: Option<String>,
    disbursed_on: NaiveDate,
    disbursed_by: String,
    decision_no: String,
    recipient_member: Option<String>,
    recorded_at: DateTime<Utc>,
    original_amount_vnd: Option<i64>,
    corrected_by: Option<i32>,
    correction_reason: Option<String>,
    voided: bool,
    override_reason: Option<String>,
}

impl Row {
    fn into_disbursement(self) -> Result<Disbursement, DisbursementError> {
        let policy = parse_enum(&self.policy).ok_or(DisbursementError::Corrupt {
            field: "policy",
            value: self.policy.clone(),
        })?;
        let funding_source =
            parse_enum(&self.funding_source).ok_or(DisbursementError::Corrupt {
                field: "funding_source",
                value: self.funding_source.clone(),
            })?;
        Ok(Disbursement {
            household_id: self.household_id,
            sequence: self.sequence.into(),
            head_name: self.head_name,
            unit_code: self.unit_code,
            policy,
            amount_vnd: self.amount_vnd,
            in_kind: self.in_kind,
            funding_source,
            fund_id: self.fund_id,
            disbursed_on: self.disbursed_on,
            disbursed_by: self.disbursed_by,
            decision_no: self.decision_no,
            recipient_member: self.recipient_member,
            recorded_at: self.recorded_at,
            original_amount_vnd: self.original_amount_vnd,
            corrected_by: self.corrected_by.map(i64::from),
            correction_reason: self.correction_reason,
            voided: self.voided,
            override_reason: self.override_reason,
        })
    }
}

/// The matching supports, by date then household and sequence, with totals over all of them.
pub async fn list(
    pool: &PgPool,
    filter: &DisbursementFilter,
    limit: i64,
    offset: i64,
) -> Result<DisbursementList, DisbursementError> {
    let limit = limit.clamp(1, 1000);
    let offset = offset.max(0);
    let policy = filter.policy.as_ref().map(enum_name);
    let source = filter.source.as_ref().map(enum_name);
    let (count, amount): (i64, Option<String>) = sqlx::query_as(&format!(
        "SELECT count(*), sum(amount_vnd)::text FROM disbursements
          WHERE NOT voided AND {FILTER}"
    ))
    .bind(&filter.unit)
    .bind(&policy)
    .bind(&source)
    .bind(&filter.fund)
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.household)
    .fetch_one(pool)
    .await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT household_id, sequence, head_name, unit_code, policy, amount_vnd, in_kind,
                funding_source, fund_id, disbursed_on, disbursed_by, decision_no,
                recipient_member, recorded_at, original_amount_vnd, corrected_by,
                correction_reason, voided, override_reason
           FROM disbursements
          WHERE ($8 OR NOT voided) AND {FILTER}
          ORDER BY disbursed_on, household_id, sequence
          LIMIT $9 OFFSET $10"
    ))
    .bind(&filter.unit)
    .bind(&policy)
    .bind(&source)
    .bind(&filter.fund)
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.household)
    .bind(filter.include_voided)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let items = rows
        .into_iter()
        .map(Row::into_disbursement)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DisbursementList {
        items,
        totals: Totals {
            count,
            amount_vnd: match amount {
                None => 0,
                Some(total) => total.parse().map_err(|_| DisbursementError::Corrupt {
                    field: "sum(amount_vnd)",
                    value: total,
                })?,
            },
        },
        limit,
        offset,
    })
}

/// One group of a [`Summary`]: its key, how many supports and how much.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SummaryGroup {
    /// `YYYY-MM` (by month), the policy (by policy), or `source` or `source/fund` (by fund).
    pub key: String,
    pub count: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = i64, format = Int64))]
    pub amount_vnd: i128,
}

/// Sums of every matching support that counts (voided ones never), by month, by policy and by
/// funding source and fund: computed by the database over all matching rows, never from a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Summary {
    pub totals: Totals,
    /// Matching supports voided by a correction (listed with `include_voided`, never summed).
    pub voided: i64,
    /// Months in order.
    pub by_month: Vec<SummaryGroup>,
    /// Largest amount first.
    pub by_policy: Vec<SummaryGroup>,
    /// Largest amount first; `key` is the funding source, with `/fund` when a fund is named.
    pub by_fund: Vec<SummaryGroup>,
}

/// The sums of the supports `filter` matches (its `include_voided` is ignored: voided supports
/// are never counted).
pub async fn summary(
    pool: &PgPool,
    filter: &DisbursementFilter,
) -> Result<Summary, DisbursementError> {
    let policy = filter.policy.as_ref().map(enum_name);
    let source = filter.source.as_ref().map(enum_name);
    // One pass: GROUPING SETS gives the three groupings and the grand total together.
    let rows: Vec<(i32, Option<String>, i64, Option<String>)> = sqlx::query_as(&format!(
        "SELECT GROUPING(to_char(disbursed_on, 'YYYY-MM'), policy,
                         funding_source || coalesce('/' || fund_id, '')),
                coalesce(to_char(disbursed_on, 'YYYY-MM'), policy,
                         funding_source || coalesce('/' || fund_id, '')),
                count(*), sum(amount_vnd)::text
           FROM disbursements
          WHERE NOT voided AND {FILTER}
          GROUP BY GROUPING SETS ((to_char(disbursed_on, 'YYYY-MM')), (policy),
                                  (funding_source || coalesce('/' || fund_id, '')), ())"
    ))
    .bind(&filter.unit)
    .bind(&policy)
    .bind(&source)
    .bind(&filter.fund)
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.household)
    .fetch_all(pool)
    .await?;
    let voided: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM disbursements WHERE voided AND {FILTER}"
    ))
    .bind(&filter.unit)
    .bind(&policy)
    .bind(&source)
    .bind(&filter.fund)
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.household)
    .fetch_one(pool)
    .await?;
    let mut summary = Summary {
        totals: Totals::default(),
        voided,
        by_month: Vec::new(),
        by_policy: Vec::new(),
        by_fund: Vec::new(),
    };
    for (grouping, key, count, amount) in rows {
        let amount_vnd = match amount {
            None => 0,
            Some(text) => text.parse().map_err(|_| DisbursementError::Corrupt {
                field: "sum(amount_vnd)",
                value: text,
            })?,
        };
        let group = SummaryGroup {
            key: key.unwrap_or_default(),
            count,
            amount_vnd,
        };
        // GROUPING's bits: 4 = month, 2 = policy, 1 = fund left out of the grouping.
        match grouping {
            3 => summary.by_month.push(group),
            5 => summary.by_policy.push(group),
            6 => summary.by_fund.push(group),
            _ => summary.totals = Totals { count, amount_vnd },
        }
    }
    summary.by_month.sort_by(|a, b| a.key.cmp(&b.key));
    for groups in [&mut summary.by_policy, &mut summary.by_fund] {
        groups.sort_by(|a, b| b.amount_vnd.cmp(&a.amount_vnd).then(a.key.cmp(&b.key)));
    }
    Ok(summary)
}
