//! What a user asks to record about a household, with the outside facts the rules need (unit
//! validity, the standards in force) looked up by the application and carried in the command.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use uuid::Uuid;

use crate::money::Vnd;
use crate::review_deadlines::DatedLimit;
use crate::standards::{Category, Standard, Standards};

use super::event::{
    ComplaintOutcome, FlagAccepted, FlagExplained, HouseholdClosed, HouseholdMoved,
    HouseholdRegistered, MembersChanged, SupportReceived,
};

/// The validity of an administrative unit record, as the application's unit table gives it
/// for the code and date of a command: the record valid on that date if there is one, else the
/// code's latest record. `None` in a command means the code is not known at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitValidity {
    pub valid_from: NaiveDate,
    /// `None`: still valid.
    pub valid_to: Option<NaiveDate>,
    /// The record is a commune-level unit (households live in communes, never in a district
    /// or province).
    pub commune: bool,
}

impl UnitValidity {
    pub fn holds_on(&self, date: NaiveDate) -> bool {
        date >= self.valid_from && self.valid_to.is_none_or(|to| date <= to)
    }
}

/// A survey as the surveyor enters it; the domain adds the area and the proposals.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyInput {
    pub period: String,
    pub survey_date: NaiveDate,
    pub income_per_capita_vnd: Vnd,
    /// The deprived indicators; every other indicator of the standards in force is recorded as
    /// not deprived.
    pub deprivations: Vec<String>,
    /// Raw measures by indicator (m² per person for `housing_area`).
    pub measures: BTreeMap<String, f64>,
    pub working_capacity: bool,
    pub loan_demand: bool,
    pub cause_of_poverty: Option<String>,
    pub surveyor: String,
}

impl SurveyInput {
    /// The survey command with the standards of `registry` in force on the survey date.
    pub fn into_command(self, registry: &Standards) -> HouseholdCommand {
        let standards = registry.in_force_on(self.survey_date);
        HouseholdCommand::Survey {
            survey: self,
            standards,
        }
    }
}

/// The commune chair's decision as entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionInput {
    pub category: Category,
    pub decision_no: String,
    pub decided_on: NaiveDate,
    /// Required when the category differs from the latest survey's proposal.
    pub reason: Option<String>,
}

/// A village meeting's result as entered. Counts are wide integers so that a negative or huge
/// number is refused by a rule naming the field rather than by the parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingInput {
    pub period: String,
    pub held_on: NaiveDate,
    pub hamlet: String,
    pub attendees: i64,
    pub votes_for: i64,
    pub votes_against: i64,
    pub minutes_no: String,
}

/// A complaint as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintInput {
    pub period: String,
    pub received_on: NaiveDate,
    /// `None` or blank for an anonymous complaint.
    pub from_name: Option<String>,
    pub contact: Option<String>,
    pub content: String,
}

/// How a complaint was resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolutionInput {
    pub complaint_id: Uuid,
    pub outcome: ComplaintOutcome,
    pub decided_on: NaiveDate,
    pub decision_no: String,
    /// Required for a rejection.
    pub reason: Option<String>,
}

/// The corrected content of a fact, in the shape its command takes.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplacementInput {
    Registration {
        registration: HouseholdRegistered,
        unit: Option<UnitValidity>,
    },
    MembersChange(MembersChanged),
    Move {
        moved: HouseholdMoved,
        unit: Option<UnitValidity>,
    },
    Closure(HouseholdClosed),
    /// The standards are those in force on the corrected survey date.
    Survey {
        survey: SurveyInput,
        standards: Vec<Standard>,
    },
    Support(SupportReceived),
}

/// What a user asks to record about a household.
#[derive(Debug, Clone, PartialEq)]
pub enum HouseholdCommand {
    /// → `household_registered`.
    Register {
        registration: HouseholdRegistered,
        effective_on: NaiveDate,
        unit: Option<UnitValidity>,
    },
    /// → `members_changed`.
    ChangeMembers(MembersChanged),
    /// → `household_moved`; `unit` is the validity of the new unit.
    Move {
        moved: HouseholdMoved,
        unit: Option<UnitValidity>,
    },
    /// → `household_moved` by a reform of the administrative units (the 2025 merger of
    /// communes): a move with the reform's legal basis on its envelope and, for a household of a
    /// split commune that an officer assigned, the officer's reason.
    Reassign {
        moved: HouseholdMoved,
        unit: Option<UnitValidity>,
        legal_basis: String,
        reason: Option<String>,
    },
    /// → `household_closed`.
    Close(HouseholdClosed),
    /// → `household_surveyed`, with a proposal under each of `standards`, which must be every
    /// standard in force on the survey date (see [`SurveyInput::into_command`]).
    Survey {
        survey: SurveyInput,
        standards: Vec<Standard>,
    },
    /// → `household_classified` plus the lifecycle event it implies.
    Decide {
        standard: Standard,
        decision: DecisionInput,
    },
    /// → `support_received`.
    RecordSupport(SupportReceived),
    /// → `event_corrected`; `replacement: None` voids a fact recorded in error.
    Correct {
        corrects_sequence: i64,
        reason: String,
        replacement: Option<ReplacementInput>,
    },
    /// → `review_meeting_held`.
    HoldMeeting(MeetingInput),
    /// → `complaint_received`. The application names the new complaint and looks up the
    /// resolution limit in force on the day it was received (`None`: no limit is known then).
    ReceiveComplaint {
        complaint_id: Uuid,
        complaint: ComplaintInput,
        /// The officer receiving it.
        received_by: String,
        deadline: Option<DatedLimit>,
    },
    /// → `complaint_resolved`.
    ResolveComplaint(ResolutionInput),
    /// → `flag_explained`.
    ExplainFlag(FlagExplained),
    /// → `flag_accepted`: the latest explanation, by someone other than its author.
    AcceptFlag(FlagAccepted),
}
