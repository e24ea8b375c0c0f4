//! Checks and normalisation of each correctable fact, shared by the commands that record a fact
//! and the corrections that replace one.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};
use unicode_normalization::UnicodeNormalization;

use crate::area::Area;
use crate::envelope::CommandContext;
use crate::standards::{Category, Standard};

use super::command::{SurveyInput, UnitValidity};
use super::error::HouseholdError;
use super::event::*;
use super::state::HouseholdState;

/// Earliest birth year accepted for a living household member.
const EARLIEST_BIRTH_YEAR: i32 = 1880;

/// The longest text accepted in each kind of field, in characters after trimming and NFC
/// normalisation. The API and `ansinh import` share them (both decide through this crate), and
/// they keep every value far below what a PostgreSQL index entry can hold.
pub mod limits {
    /// Names of people and places: heads, members, surveyors, disbursers, hamlets.
    pub const NAME: usize = 200;
    /// Codes and numbers: unit codes, review periods, decision numbers, fund ids, relations.
    pub const CODE: usize = 100;
    /// Free texts: reasons, notes, causes of poverty, in-kind descriptions.
    pub const TEXT: usize = 2000;
}

/// Trimmed and NFC-normalised, so Vietnamese names compare and hash the same however typed.
pub(super) fn nfc(s: &str) -> String {
    s.trim().nfc().collect()
}

/// Trimmed and NFC-normalised, and at most `max` characters long.
pub(super) fn limited(field: &'static str, s: &str, max: usize) -> Result<String, HouseholdError> {
    let s = nfc(s);
    let length = s.chars().count();
    if length > max {
        Err(HouseholdError::TooLong { field, length, max })
    } else {
        Ok(s)
    }
}

/// An optional text: `None` when absent or blank, else as [`limited`].
pub(super) fn optional(
    field: &'static str,
    s: &Option<String>,
    max: usize,
) -> Result<Option<String>, HouseholdError> {
    match s.as_deref() {
        None => Ok(None),
        Some(s) => limited(field, s, max).map(|s| Some(s).filter(|s| !s.is_empty())),
    }
}

/// A text that must not be blank, as [`limited`].
pub(super) fn required(field: &'static str, s: &str, max: usize) -> Result<String, HouseholdError> {
    let s = limited(field, s, max)?;
    if s.is_empty() {
        Err(HouseholdError::Empty { field })
    } else {
        Ok(s)
    }
}

pub(super) fn not_future(
    field: &'static str,
    date: NaiveDate,
    ctx: &CommandContext,
) -> Result<(), HouseholdError> {
    if date > ctx.today {
        Err(HouseholdError::FutureDate { field, date })
    } else {
        Ok(())
    }
}

/// Not in the future and not before the registration.
pub(super) fn dated(
    field: &'static str,
    date: NaiveDate,
    ctx: &CommandContext,
    registered_on: NaiveDate,
) -> Result<(), HouseholdError> {
    not_future(field, date, ctx)?;
    if date < registered_on {
        return Err(HouseholdError::BeforeRegistration {
            field,
            date,
            registered_on,
        });
    }
    Ok(())
}

/// The placement rule, decided here only: a household is registered in, moved to or corrected
/// into `unit_code` on `date` only if that code is a commune-level unit valid on that day.
/// `unit` is the code's record as the application looked it up (see [`UnitValidity`]).
pub fn placement(
    unit_code: &str,
    unit: Option<UnitValidity>,
    date: NaiveDate,
) -> Result<(), HouseholdError> {
    let unit = unit.ok_or_else(|| HouseholdError::UnknownUnit {
        unit_code: unit_code.to_owned(),
    })?;
    if !unit.holds_on(date) {
        return Err(HouseholdError::UnitNotValid {
            unit_code: unit_code.to_owned(),
            date,
            valid_from: unit.valid_from,
            valid_to: unit.valid_to,
        });
    }
    if !unit.commune {
        return Err(HouseholdError::NotACommune {
            unit_code: unit_code.to_owned(),
            date,
        });
    }
    Ok(())
}

/// A member at `at` in the request (`members[2]`) of the list `field`.
fn member(
    field: &'static str,
    at: String,
    m: &Member,
    today: NaiveDate,
) -> Result<Member, HouseholdError> {
    let name = required(field, &m.name, limits::NAME)?;
    if m.birth_year < EARLIEST_BIRTH_YEAR || m.birth_year > today.year() {
        return Err(HouseholdError::InvalidBirthYear {
            field,
            at,
            name,
            birth_year: m.birth_year,
        });
    }
    let id_number = m
        .id_number
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(id) = id_number {
        if !(id.len() == 9 || id.len() == 12) || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HouseholdError::InvalidIdNumber { field, at, name });
        }
    }
    Ok(Member {
        name,
        birth_year: m.birth_year,
        sex: m.sex,
        relation: limited(field, &m.relation, limits::CODE)?,
        id_number: id_number.map(str::to_owned),
    })
}

pub(super) fn registration(
    r: &HouseholdRegistered,
    effective_on: NaiveDate,
    unit: Option<UnitValidity>,
    ctx: &CommandContext,
) -> Result<HouseholdRegistered, HouseholdError> {
    not_future("effective_on", effective_on, ctx)?;
    let head_name = required("head_name", &r.head_name, limits::NAME)?;
    let unit_code = required("unit_code", &r.unit_code, limits::CODE)?;
    let hamlet = limited("hamlet", &r.hamlet, limits::NAME)?;
    if r.members.is_empty() {
        return Err(HouseholdError::Empty { field: "members" });
    }
    let members = r
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| member("members", format!("members[{i}]"), m, ctx.today))
        .collect::<Result<Vec<_>, _>>()?;
    placement(&unit_code, unit, effective_on)?;
    Ok(HouseholdRegistered {
        head_name,
        unit_code,
        hamlet,
        area: r.area,
        ethnic_minority: r.ethnic_minority,
        merit_family: r.merit_family,
        members,
    })
}

/// `check_members`: removed members and the new head must be members at this point (false for
/// corrections of earlier changes, where "this point" is in the past).
pub(super) fn members_change(
    change: &MembersChanged,
    state: &HouseholdState,
    registered_on: NaiveDate,
    ctx: &CommandContext,
    check_members: bool,
) -> Result<MembersChanged, HouseholdError> {
    dated("changed_on", change.changed_on, ctx, registered_on)?;
    if change.added.is_empty() && change.removed.is_empty() && change.new_head_name.is_none() {
        return Err(HouseholdError::NothingChanged);
    }
    let mut added = Vec::with_capacity(change.added.len());
    for (i, a) in change.added.iter().enumerate() {
        if a.reason == MemberChangeReason::Death {
            return Err(HouseholdError::ReasonDoesNotFit {
                reason: a.reason,
                change: "add",
            });
        }
        added.push(MemberAdded {
            member: member("added", format!("added[{i}].member"), &a.member, ctx.today)?,
            reason: a.reason,
        });
    }
    let mut removed = Vec::with_capacity(change.removed.len());
    for r in &change.removed {
        if r.reason == MemberChangeReason::Birth {
            return Err(HouseholdError::ReasonDoesNotFit {
                reason: r.reason,
                change: "remove",
            });
        }
        removed.push(MemberRemoved {
            name: required("removed", &r.name, limits::NAME)?,
            birth_year: r.birth_year,
            reason: r.reason,
        });
    }
    let new_head_name = match &change.new_head_name {
        Some(name) => Some(required("new_head_name", name, limits::NAME)?),
        None => None,
    };
    if check_members {
        let current = state.current.as_ref();
        let head = current.map(|c| c.head_name.as_str()).unwrap_or_default();
        let mut members: Vec<Member> = current.map(|c| c.members.clone()).unwrap_or_default();
        for r in &removed {
            let found = members
                .iter()
                .position(|m| m.name == r.name && m.birth_year == r.birth_year);
            match found {
                Some(i) => {
                    members.remove(i);
                }
                None => {
                    return Err(HouseholdError::MemberNotFound {
                        field: "removed",
                        name: r.name.clone(),
                    })
                }
            }
        }
        members.extend(added.iter().map(|a| a.member.clone()));
        let head_left =
            removed.iter().any(|r| r.name == head) && !members.iter().any(|m| m.name == head);
        match &new_head_name {
            Some(name) if !members.iter().any(|m| &m.name == name) => {
                return Err(HouseholdError::MemberNotFound {
                    field: "new_head_name",
                    name: name.clone(),
                })
            }
            None if head_left => return Err(HouseholdError::HeadRemoved),
            _ => {}
        }
    }
    Ok(MembersChanged {
        changed_on: change.changed_on,
        added,
        removed,
        new_head_name,
    })
}

pub(super) fn moved(
    m: &HouseholdMoved,
    unit: Option<UnitValidity>,
    registered_on: NaiveDate,
    ctx: &CommandContext,
) -> Result<HouseholdMoved, HouseholdError> {
    dated("moved_on", m.moved_on, ctx, registered_on)?;
    let unit_code = required("unit_code", &m.unit_code, limits::CODE)?;
    let hamlet = limited("hamlet", &m.hamlet, limits::NAME)?;
    placement(&unit_code, unit, m.moved_on)?;
    Ok(HouseholdMoved {
        moved_on: m.moved_on,
        unit_code,
        hamlet,
        area: m.area,
    })
}

pub(super) fn closed(
    c: &HouseholdClosed,
    registered_on: NaiveDate,
    ctx: &CommandContext,
) -> Result<HouseholdClosed, HouseholdError> {
    dated("closed_on", c.closed_on, ctx, registered_on)?;
    Ok(HouseholdClosed {
        closed_on: c.closed_on,
        reason: c.reason,
        merged_into: c.merged_into,
        note: optional("note", &c.note, limits::TEXT)?,
    })
}

pub(super) fn survey(
    input: &SurveyInput,
    standards: &[Standard],
    area: Area,
    registered_on: NaiveDate,
    ctx: &CommandContext,
) -> Result<HouseholdSurveyed, HouseholdError> {
    dated("survey_date", input.survey_date, ctx, registered_on)?;
    let period = required("period", &input.period, limits::CODE)?;
    let surveyor = required("surveyor", &input.surveyor, limits::NAME)?;
    let cause_of_poverty = optional("cause_of_poverty", &input.cause_of_poverty, limits::TEXT)?;
    // The standards in force, each once, in id order.
    let mut in_force: Vec<&Standard> = Vec::new();
    for s in standards {
        if !s.in_force_on(input.survey_date) {
            return Err(HouseholdError::StandardNotInForce {
                standard: s.id().to_owned(),
                date: input.survey_date,
            });
        }
        if !in_force.iter().any(|k| k.id() == s.id()) {
            in_force.push(s);
        }
    }
    if in_force.is_empty() {
        return Err(HouseholdError::NoStandardInForce {
            date: input.survey_date,
        });
    }
    in_force.sort_by(|a, b| a.id().cmp(b.id()));
    let known = |name: &str| in_force.iter().any(|s| s.has_indicator(name));
    let mut deprived = BTreeSet::new();
    for name in &input.deprivations {
        if !known(name) {
            return Err(HouseholdError::UnknownIndicator {
                field: "deprivations",
                indicator: name.clone(),
            });
        }
        if !deprived.insert(name.as_str()) {
            return Err(HouseholdError::DuplicateIndicator {
                field: "deprivations",
                indicator: name.clone(),
            });
        }
    }
    for (name, value) in &input.measures {
        if !known(name) {
            return Err(HouseholdError::UnknownIndicator {
                field: "measures",
                indicator: name.clone(),
            });
        }
        if !value.is_finite() || *value < 0.0 {
            return Err(HouseholdError::InvalidMeasure {
                indicator: name.clone(),
            });
        }
    }
    let mut indicators: Vec<IndicatorFinding> = Vec::new();
    for s in &in_force {
        for i in s.indicators() {
            if !indicators.iter().any(|f| f.indicator == i.name) {
                indicators.push(IndicatorFinding {
                    indicator: i.name.clone(),
                    deprived: deprived.contains(i.name.as_str()),
                    measure: input.measures.get(&i.name).copied(),
                });
            }
        }
    }
    let mut proposed = std::collections::BTreeMap::new();
    for s in &in_force {
        let own: Vec<&str> = deprived
            .iter()
            .copied()
            .filter(|n| s.has_indicator(n))
            .collect();
        let c = s
            .classify_on(input.survey_date, area, input.income_per_capita_vnd, &own)
            .map_err(|e| HouseholdError::UnknownIndicator {
                field: "deprivations",
                indicator: match e {
                    crate::standards::ClassifyError::UnknownIndicator { indicator, .. }
                    | crate::standards::ClassifyError::DuplicateIndicator { indicator } => {
                        indicator
                    }
                    // `classify_on` has the date, so it never asks for one.
                    crate::standards::ClassifyError::SurveyDateRequired { standard } => standard,
                },
            })?;
        proposed.insert(
            s.id().to_owned(),
            Proposal {
                category: c.category,
                deprivation_count: c.deprivation_count,
                deprivation_score: c.deprivation_score,
                income_line_vnd: c.income_line_vnd,
                rule: c.explanation.rule,
                explanation: c.explain(),
            },
        );
    }
    Ok(HouseholdSurveyed {
        period,
        survey_date: input.survey_date,
        area,
        income_per_capita_vnd: input.income_per_capita_vnd,
        indicators,
        working_capacity: input.working_capacity,
        loan_demand: input.loan_demand,
        cause_of_poverty,
        surveyor,
        proposed,
    })
}

pub(super) fn support(
    s: &SupportReceived,
    state: &HouseholdState,
    registered_on: NaiveDate,
    ctx: &CommandContext,
) -> Result<SupportReceived, HouseholdError> {
    dated("disbursed_on", s.disbursed_on, ctx, registered_on)?;
    let disbursed_by = required("disbursed_by", &s.disbursed_by, limits::NAME)?;
    let decision_no = required("decision_no", &s.decision_no, limits::CODE)?;
    let in_kind = optional("in_kind", &s.in_kind, limits::TEXT)?;
    let fund_id = optional("fund_id", &s.fund_id, limits::CODE)?;
    let override_reason = optional("override_reason", &s.override_reason, limits::TEXT)?;
    let fund_id_given = fund_id.is_some();
    if s.amount_vnd.get() == 0 && in_kind.is_none() {
        return Err(HouseholdError::NothingDisbursed);
    }
    let max = ctx.parameters.support_max(s.policy, s.disbursed_on);
    if s.amount_vnd > max.amount {
        return Err(HouseholdError::AmountAboveMaximum {
            policy: s.policy.as_str(),
            amount: s.amount_vnd,
            maximum: max.amount,
            parameter: max.parameter,
        });
    }
    let recipient_member = optional("recipient_member", &s.recipient_member, limits::NAME)?;
    if let Some(name) = &recipient_member {
        if !state.knows_member(name) {
            return Err(HouseholdError::MemberNotFound {
                field: "recipient_member",
                name: name.clone(),
            });
        }
    }
    Ok(SupportReceived {
        policy: s.policy,
        amount_vnd: s.amount_vnd,
        in_kind,
        funding_source: s.funding_source,
        fund_id,
        disbursed_on: s.disbursed_on,
        disbursed_by,
        decision_no,
        recipient_member,
        // Without a fund there is nothing to overdraw.
        override_reason: override_reason.filter(|_| fund_id_given),
    })
}

/// A decision's category must be one of its standard's (the import checks a row's decision with
/// this very rule).
pub fn category_of(standard: &Standard, category: Category) -> Result<(), HouseholdError> {
    if !standard.has_category(category) {
        return Err(HouseholdError::CategoryNotInStandard {
            category,
            standard: standard.id().to_owned(),
        });
    }
    Ok(())
}
