//! The household event catalogue. Type names and field names are part of the outside contract:
//! add fields freely, rename or remove none.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::area::Area;
use crate::money::Vnd;
use crate::standards::{Category, DecidingRule};

/// Every fact that can be recorded about a household, stored as `{"type", "data"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum HouseholdEvent {
    HouseholdRegistered(HouseholdRegistered),
    MembersChanged(MembersChanged),
    HouseholdMoved(HouseholdMoved),
    HouseholdClosed(HouseholdClosed),
    HouseholdSurveyed(HouseholdSurveyed),
    HouseholdClassified(HouseholdClassified),
    BecamePoor(BecamePoor),
    BecameNearPoor(BecameNearPoor),
    ExitedPoverty(ExitedPoverty),
    ExitedNearPoverty(ExitedNearPoverty),
    FellBackIntoPoverty(FellBack),
    FellBackIntoNearPoverty(FellBack),
    SupportReceived(SupportReceived),
    EventCorrected(EventCorrected),
    ReviewMeetingHeld(ReviewMeetingHeld),
    ComplaintReceived(ComplaintReceived),
    ComplaintResolved(ComplaintResolved),
    FlagExplained(FlagExplained),
    FlagAccepted(FlagAccepted),
}

impl HouseholdEvent {
    /// Every contract name, in catalogue order.
    pub const TYPE_NAMES: [&'static str; 19] = [
        "household_registered",
        "members_changed",
        "household_moved",
        "household_closed",
        "household_surveyed",
        "household_classified",
        "became_poor",
        "became_near_poor",
        "exited_poverty",
        "exited_near_poverty",
        "fell_back_into_poverty",
        "fell_back_into_near_poverty",
        "support_received",
        "event_corrected",
        "review_meeting_held",
        "complaint_received",
        "complaint_resolved",
        "flag_explained",
        "flag_accepted",
    ];

    /// The contract name of this event (`household_registered`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            HouseholdEvent::HouseholdRegistered(_) => "household_registered",
            HouseholdEvent::MembersChanged(_) => "members_changed",
            HouseholdEvent::HouseholdMoved(_) => "household_moved",
            HouseholdEvent::HouseholdClosed(_) => "household_closed",
            HouseholdEvent::HouseholdSurveyed(_) => "household_surveyed",
            HouseholdEvent::HouseholdClassified(_) => "household_classified",
            HouseholdEvent::BecamePoor(_) => "became_poor",
            HouseholdEvent::BecameNearPoor(_) => "became_near_poor",
            HouseholdEvent::ExitedPoverty(_) => "exited_poverty",
            HouseholdEvent::ExitedNearPoverty(_) => "exited_near_poverty",
            HouseholdEvent::FellBackIntoPoverty(_) => "fell_back_into_poverty",
            HouseholdEvent::FellBackIntoNearPoverty(_) => "fell_back_into_near_poverty",
            HouseholdEvent::SupportReceived(_) => "support_received",
            HouseholdEvent::EventCorrected(_) => "event_corrected",
            HouseholdEvent::ReviewMeetingHeld(_) => "review_meeting_held",
            HouseholdEvent::ComplaintReceived(_) => "complaint_received",
            HouseholdEvent::ComplaintResolved(_) => "complaint_resolved",
            HouseholdEvent::FlagExplained(_) => "flag_explained",
            HouseholdEvent::FlagAccepted(_) => "flag_accepted",
        }
    }

    /// True for the events derived from a decision (`became_*`, `exited_*`, `fell_back_*`).
    pub fn is_lifecycle(&self) -> bool {
        matches!(
            self,
            HouseholdEvent::BecamePoor(_)
                | HouseholdEvent::BecameNearPoor(_)
                | HouseholdEvent::ExitedPoverty(_)
                | HouseholdEvent::ExitedNearPoverty(_)
                | HouseholdEvent::FellBackIntoPoverty(_)
                | HouseholdEvent::FellBackIntoNearPoverty(_)
        )
    }

    /// The fact a correction can replace, when this event is one.
    pub fn as_correctable(&self) -> Option<Replacement> {
        Some(match self {
            HouseholdEvent::HouseholdRegistered(e) => Replacement::HouseholdRegistered(e.clone()),
            HouseholdEvent::MembersChanged(e) => Replacement::MembersChanged(e.clone()),
            HouseholdEvent::HouseholdMoved(e) => Replacement::HouseholdMoved(e.clone()),
            HouseholdEvent::HouseholdClosed(e) => Replacement::HouseholdClosed(e.clone()),
            HouseholdEvent::HouseholdSurveyed(e) => Replacement::HouseholdSurveyed(e.clone()),
            HouseholdEvent::SupportReceived(e) => Replacement::SupportReceived(e.clone()),
            _ => return None,
        })
    }
}

// ---------------------------------------------------------------- registration and members

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// NFC-normalised.
    pub name: String,
    pub birth_year: i32,
    pub sex: Sex,
    /// Relation to the head (`head`, `spouse`, `child`, …).
    pub relation: String,
    /// CMND (9 digits) or CCCD (12 digits).
    pub id_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseholdRegistered {
    /// NFC-normalised.
    pub head_name: String,
    pub unit_code: String,
    pub hamlet: String,
    pub area: Area,
    pub ethnic_minority: bool,
    /// Family of a person with merit (người có công).
    pub merit_family: bool,
    pub members: Vec<Member>,
}

/// Why a member joined or left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberChangeReason {
    /// Added only.
    Birth,
    /// Removed only.
    Death,
    Marriage,
    Moved,
    Other,
}

impl MemberChangeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberChangeReason::Birth => "birth",
            MemberChangeReason::Death => "death",
            MemberChangeReason::Marriage => "marriage",
            MemberChangeReason::Moved => "moved",
            MemberChangeReason::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberAdded {
    pub member: Member,
    pub reason: MemberChangeReason,
}

/// A member leaving, named by name and birth year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRemoved {
    pub name: String,
    pub birth_year: i32,
    pub reason: MemberChangeReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersChanged {
    pub changed_on: NaiveDate,
    #[serde(default)]
    pub added: Vec<MemberAdded>,
    #[serde(default)]
    pub removed: Vec<MemberRemoved>,
    /// The new head, when the head changes (required when the head leaves).
    #[serde(default)]
    pub new_head_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseholdMoved {
    pub moved_on: NaiveDate,
    pub unit_code: String,
    pub hamlet: String,
    pub area: Area,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosureReason {
    Dissolved,
    Merged,
    LeftProvince,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseholdClosed {
    pub closed_on: NaiveDate,
    pub reason: ClosureReason,
    /// The household it merged into, for `merged`.
    #[serde(default)]
    pub merged_into: Option<Uuid>,
    #[serde(default)]
    pub note: Option<String>,
}

// ---------------------------------------------------------------- surveys and decisions

/// One indicator as the surveyor found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorFinding {
    pub indicator: String,
    pub deprived: bool,
    /// The raw measure, in the unit the standard names for it (m² per person for
    /// `housing_area`).
    pub measure: Option<f64>,
}

/// The category a survey proposes under one standard, with the reasons, as computed when the
/// survey was recorded (kept in the event so a later change of rules never rewrites it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub category: Category,
    pub deprivation_count: u32,
    pub deprivation_score: Option<u32>,
    pub income_line_vnd: Vnd,
    pub rule: DecidingRule,
    pub explanation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HouseholdSurveyed {
    /// The review it belongs to (`2022-annual`, `2023-06-regular`).
    pub period: String,
    pub survey_date: NaiveDate,
    /// The household's area on the survey date, which the proposals used.
    pub area: Area,
    pub income_per_capita_vnd: Vnd,
    /// Every indicator of every standard in force on the survey date, deprived or not.
    pub indicators: Vec<IndicatorFinding>,
    pub working_capacity: bool,
    pub loan_demand: bool,
    pub cause_of_poverty: Option<String>,
    pub surveyor: String,
    /// Standard id → proposed category, for every standard in force on the survey date.
    pub proposed: BTreeMap<String, Proposal>,
}

impl HouseholdSurveyed {
    /// The deprived indicators, in recorded order.
    pub fn deprivations(&self) -> impl Iterator<Item = &str> {
        self.indicators
            .iter()
            .filter(|f| f.deprived)
            .map(|f| f.indicator.as_str())
    }
}

/// The commune chair's decision recognising a category under one standard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseholdClassified {
    pub standard: String,
    pub category: Category,
    pub decision_no: String,
    pub decided_on: NaiveDate,
    /// Required when `category` differs from `proposed`.
    pub reason: Option<String>,
    /// The latest survey's proposal under this standard, which the decision was checked against.
    pub proposed: Category,
    /// Sequence of that survey.
    pub survey_sequence: i64,
    /// The category under this standard before the decision (`None` for the first decision).
    pub previous: Option<Category>,
    /// Complaints still unresolved when the chair decided (the decision then carries a reason
    /// and supervisors see it flagged). Absent from older events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_complaints: Vec<Uuid>,
    /// The village meeting that sent the household back to review, when the chair decided
    /// without a new survey (the decision then carries a reason and is flagged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_back_on: Option<NaiveDate>,
}

impl HouseholdClassified {
    /// Decided over an open complaint or a meeting's "review again": supervisors look at it.
    pub fn flagged(&self) -> bool {
        !self.open_complaints.is_empty() || self.sent_back_on.is_some()
    }
}

/// Where a household that became poor came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoorFrom {
    /// Neither poor nor near-poor before (no decision, middle-income or not poor).
    None,
    NearPoor,
}

/// The household's latest category under the standard that the decision's standard supersedes,
/// on its first decision under the new standard (a baseline carried over, not a movement).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarriedOver {
    pub standard: String,
    pub category: Category,
}

/// Recognised poor for the first time under the standard, or coming from near-poor without
/// ever having exited poverty (newly poor, phát sinh).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BecamePoor {
    pub standard: String,
    pub from: PoorFrom,
    pub decided_on: NaiveDate,
    pub decision_no: String,
    pub carried_over: Option<CarriedOver>,
}

/// Recognised near-poor, never having exited near-poverty under the standard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BecameNearPoor {
    pub standard: String,
    pub decided_on: NaiveDate,
    pub decision_no: String,
    pub carried_over: Option<CarriedOver>,
}

/// Recognised as having exited poverty (thoát nghèo); `to` is near_poor, middle_income or
/// not_poor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitedPoverty {
    pub standard: String,
    pub to: Category,
    pub decided_on: NaiveDate,
    pub decision_no: String,
}

/// Recognised as having exited near-poverty (thoát cận nghèo); `to` is middle_income or
/// not_poor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitedNearPoverty {
    pub standard: String,
    pub to: Category,
    pub decided_on: NaiveDate,
    pub decision_no: String,
}

/// Recognised poor (or near-poor) again after having been recognised as exited under the same
/// standard (tái nghèo / tái cận nghèo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FellBack {
    pub standard: String,
    /// The category just before (near_poor, middle_income or not_poor).
    pub from: Category,
    /// When the latest recognised exit was decided.
    pub exited_on: NaiveDate,
    pub decided_on: NaiveDate,
    pub decision_no: String,
}

// ---------------------------------------------------------------- the review in public

/// What the village meeting concluded about the proposed category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingOutcome {
    /// At least half of those present voted for the proposal.
    Agreed,
    /// Fewer than half: the household is reviewed again.
    ReviewAgain,
}

impl MeetingOutcome {
    /// The rule of the review procedure: agreed iff `votes_for` is at least half of
    /// `attendees`.
    pub fn of(attendees: u32, votes_for: u32) -> MeetingOutcome {
        if u64::from(votes_for) * 2 >= u64::from(attendees) {
            MeetingOutcome::Agreed
        } else {
            MeetingOutcome::ReviewAgain
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MeetingOutcome::Agreed => "agreed",
            MeetingOutcome::ReviewAgain => "review_again",
        }
    }
}

/// The village meeting's vote on the household's proposed category (họp dân ở thôn, ấp).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewMeetingHeld {
    pub period: String,
    pub held_on: NaiveDate,
    pub hamlet: String,
    pub attendees: u32,
    pub votes_for: u32,
    pub votes_against: u32,
    pub minutes_no: String,
    /// Decided by the domain from the votes (see [`MeetingOutcome::of`]).
    pub outcome: MeetingOutcome,
    /// The survey whose proposal was voted on.
    pub survey_sequence: i64,
    /// Its proposals, standard id → category, as put to the meeting.
    pub proposed: BTreeMap<String, Category>,
}

/// A complaint (khiếu nại) about the household's classification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplaintReceived {
    pub complaint_id: Uuid,
    pub period: String,
    pub received_on: NaiveDate,
    /// The officer who received it.
    pub received_by: String,
    /// `None` for an anonymous complaint. Personal data: never shown without sign-in.
    pub from_name: Option<String>,
    /// How to reach the complainant; shown only to officers of the unit and auditors.
    pub contact: Option<String>,
    pub content: String,
    /// The day by which it must be resolved, from the dated limit in force on `received_on`.
    pub resolve_by: NaiveDate,
    /// Whether that limit is confirmed against the published text.
    pub deadline_confirmed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintOutcome {
    /// The household is re-surveyed or its proposal changes.
    Upheld,
    Rejected,
}

impl ComplaintOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ComplaintOutcome::Upheld => "upheld",
            ComplaintOutcome::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplaintResolved {
    pub complaint_id: Uuid,
    pub outcome: ComplaintOutcome,
    pub decided_on: NaiveDate,
    pub decision_no: String,
    /// Required for a rejection.
    pub reason: Option<String>,
    /// Resolved after the complaint's `resolve_by`.
    pub late: bool,
}

// ---------------------------------------------------------------- supports

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    PreferentialCredit,
    HealthInsurance,
    Education,
    Housing,
    LegalAid,
    CleanWater,
    ElectricitySubsidy,
    MonthlyAllowance,
    EmergencyAid,
    VocationalTraining,
    JobPlacement,
    Livelihood,
    Other,
}

impl Policy {
    /// The name as stored and sent (`preferential_credit`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::PreferentialCredit => "preferential_credit",
            Policy::HealthInsurance => "health_insurance",
            Policy::Education => "education",
            Policy::Housing => "housing",
            Policy::LegalAid => "legal_aid",
            Policy::CleanWater => "clean_water",
            Policy::ElectricitySubsidy => "electricity_subsidy",
            Policy::MonthlyAllowance => "monthly_allowance",
            Policy::EmergencyAid => "emergency_aid",
            Policy::VocationalTraining => "vocational_training",
            Policy::JobPlacement => "job_placement",
            Policy::Livelihood => "livelihood",
            Policy::Other => "other",
        }
    }

    pub const ALL: [Policy; 13] = [
        Policy::PreferentialCredit,
        Policy::HealthInsurance,
        Policy::Education,
        Policy::Housing,
        Policy::LegalAid,
        Policy::CleanWater,
        Policy::ElectricitySubsidy,
        Policy::MonthlyAllowance,
        Policy::EmergencyAid,
        Policy::VocationalTraining,
        Policy::JobPlacement,
        Policy::Livelihood,
        Policy::Other,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FundingSource {
    CentralBudget,
    LocalBudget,
    Mobilized,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportReceived {
    pub policy: Policy,
    /// 0 for a support given only in kind.
    pub amount_vnd: Vnd,
    pub in_kind: Option<String>,
    pub funding_source: FundingSource,
    /// A named fund, such as the Fund for the Poor (Quỹ Vì người nghèo).
    pub fund_id: Option<String>,
    pub disbursed_on: NaiveDate,
    /// The unit or body that disbursed it.
    pub disbursed_by: String,
    /// The decision or voucher the support rests on (also copied to `meta.decision_no`).
    pub decision_no: String,
    pub recipient_member: Option<String>,
    /// Why this support may take its fund's allocation below zero; recorded and flagged
    /// (`overdrawn`). Left out of the stored JSON when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<String>,
}

// ---------------------------------------------------------------- corrections

/// The corrected content of an earlier fact. Decisions and the events derived from them are
/// not correctable: a decision is changed only by a new decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Replacement {
    HouseholdRegistered(HouseholdRegistered),
    MembersChanged(MembersChanged),
    HouseholdMoved(HouseholdMoved),
    HouseholdClosed(HouseholdClosed),
    HouseholdSurveyed(HouseholdSurveyed),
    SupportReceived(SupportReceived),
}

impl Replacement {
    /// The event type this content replaces.
    pub fn type_name(&self) -> &'static str {
        match self {
            Replacement::HouseholdRegistered(_) => "household_registered",
            Replacement::MembersChanged(_) => "members_changed",
            Replacement::HouseholdMoved(_) => "household_moved",
            Replacement::HouseholdClosed(_) => "household_closed",
            Replacement::HouseholdSurveyed(_) => "household_surveyed",
            Replacement::SupportReceived(_) => "support_received",
        }
    }

    /// The date the fact itself carries, if it carries one.
    pub fn own_date(&self) -> Option<NaiveDate> {
        match self {
            Replacement::HouseholdRegistered(_) => None,
            Replacement::MembersChanged(e) => Some(e.changed_on),
            Replacement::HouseholdMoved(e) => Some(e.moved_on),
            Replacement::HouseholdClosed(e) => Some(e.closed_on),
            Replacement::HouseholdSurveyed(e) => Some(e.survey_date),
            Replacement::SupportReceived(e) => Some(e.disbursed_on),
        }
    }
}

/// A correction of the fact first recorded at `corrects_sequence`. Nothing is deleted: the
/// original stays in the log and the latest correction of it is what counts. Correcting a
/// correction corrects the same original fact again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventCorrected {
    /// The event this correction targets as the user named it (the original fact or an earlier
    /// correction of it).
    pub corrects_sequence: i64,
    /// The sequence of the original fact (equal to `corrects_sequence` unless that was itself a
    /// correction).
    pub original_sequence: i64,
    /// Type of the original fact.
    pub corrects_type: String,
    pub reason: String,
    /// The corrected content, or `None` when the fact was recorded in error and no longer
    /// counts (registrations cannot be voided).
    pub replacement: Option<Replacement>,
}

// ---------------------------------------------------------------- red flags

/// An officer's explanation of a red flag raised on the event at `sequence` (see
/// `ansinh_projections::flags` for the rules). The flag stays; it shows as explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagExplained {
    /// The rule's id (`late_entry`, …).
    pub rule: String,
    pub sequence: i64,
    pub reason: String,
    /// The decision or minute the explanation rests on.
    pub decision_no: String,
}

/// A supervisor's acceptance of the latest explanation of a red flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagAccepted {
    pub rule: String,
    pub sequence: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The ids of the red-flag rules, as data; their texts and logic live in the read model.
pub const FLAG_RULES: [&str; 8] = [
    "not_eligible",
    "repeated_once_per_period",
    "after_closure",
    "amount_differs",
    "late_entry",
    "same_user",
    "unreviewed_override",
    "overdrawn",
];
