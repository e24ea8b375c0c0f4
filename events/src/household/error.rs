//! Why a command was refused, one named error per rule.

use chrono::NaiveDate;

use crate::chain::ChainError;
use crate::standards::Category;

use super::event::MemberChangeReason;

#[derive(Debug, thiserror::Error)]
pub enum HouseholdError {
    #[error("rule {rule:?} is not a red-flag rule (known: {})", super::event::FLAG_RULES.join(", "))]
    UnknownFlagRule { rule: String },
    #[error("the household has no event {sequence}")]
    NoFlaggedEvent { sequence: i64 },
    #[error("the flag {rule} on event {sequence} has no explanation to accept")]
    FlagNotExplained { rule: String, sequence: i64 },
    #[error("the flag {rule} on event {sequence} was explained by this same user; another supervisor must accept it")]
    OwnExplanation { rule: String, sequence: i64 },
    #[error("the household is already registered")]
    AlreadyRegistered,
    #[error("the household is not registered")]
    NotRegistered,
    #[error("the household is closed; only corrections may be recorded")]
    Closed,
    #[error("{field} {date} is in the future")]
    FutureDate {
        field: &'static str,
        date: NaiveDate,
    },
    #[error("{field} {date} is before the household was registered on {registered_on}")]
    BeforeRegistration {
        field: &'static str,
        date: NaiveDate,
        registered_on: NaiveDate,
    },
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is {length} characters long; at most {max} are accepted")]
    TooLong {
        field: &'static str,
        length: usize,
        max: usize,
    },
    #[error("administrative unit {unit_code} is not known")]
    UnknownUnit { unit_code: String },
    #[error("administrative unit {unit_code} is not valid on {date} (valid from {valid_from}{})", .valid_to.map(|d| format!(" to {d}")).unwrap_or_default())]
    UnitNotValid {
        unit_code: String,
        date: NaiveDate,
        valid_from: NaiveDate,
        valid_to: Option<NaiveDate>,
    },
    #[error("administrative unit {unit_code} is not a commune-level unit on {date}; households live in communes")]
    NotACommune { unit_code: String, date: NaiveDate },
    #[error("birth year {birth_year} of member {name} is not plausible")]
    InvalidBirthYear {
        field: &'static str,
        /// Where the member is in the request (`members[2]`, `added[0].member`).
        at: String,
        name: String,
        birth_year: i32,
    },
    #[error("the ID number of member {name} must be 9 or 12 digits")]
    InvalidIdNumber {
        field: &'static str,
        /// Where the member is in the request (`members[2]`, `added[0].member`).
        at: String,
        name: String,
    },
    #[error("{name} is not a member of the household")]
    MemberNotFound { field: &'static str, name: String },
    #[error("the head of household leaves, so new_head_name must name a remaining member")]
    HeadRemoved,
    #[error("reason {} cannot {change} a member", .reason.as_str())]
    ReasonDoesNotFit {
        reason: MemberChangeReason,
        change: &'static str,
    },
    #[error("the change adds, removes and re-heads nobody")]
    NothingChanged,
    #[error("no poverty standard is in force on {date}")]
    NoStandardInForce { date: NaiveDate },
    #[error("standard {standard} is not in force on {date}")]
    StandardNotInForce { standard: String, date: NaiveDate },
    #[error("indicator {indicator} does not belong to any standard in force on the survey date")]
    UnknownIndicator {
        field: &'static str,
        indicator: String,
    },
    #[error("indicator {indicator} is listed more than once")]
    DuplicateIndicator {
        field: &'static str,
        indicator: String,
    },
    #[error("the measure of indicator {indicator} must be a finite number of at least 0")]
    InvalidMeasure { indicator: String },
    #[error("category {category} does not belong to standard {standard}")]
    CategoryNotInStandard {
        category: Category,
        standard: String,
    },
    #[error("there is no survey with a proposal under standard {standard}")]
    NoSurveyForStandard { standard: String },
    #[error("the decision {decided} differs from the proposed {proposed} and needs a reason")]
    ReasonRequired {
        proposed: Category,
        decided: Category,
    },
    #[error("decided_on {decided_on} is before the survey of {survey_date} it rests on")]
    DecisionBeforeSurvey {
        decided_on: NaiveDate,
        survey_date: NaiveDate,
    },
    #[error(
        "decided_on {decided_on} is before the latest decision under this standard, of {latest}"
    )]
    DecisionOutOfOrder {
        decided_on: NaiveDate,
        latest: NaiveDate,
    },
    #[error("a support needs an amount above 0 or an in-kind description")]
    NothingDisbursed,
    #[error("amount_vnd {amount} is above {maximum}, the most one {policy} support may carry{}", .parameter.as_ref().map(|p| format!(" (policy parameter {p}, a plausibility bound an installation can change)")).unwrap_or_default())]
    AmountAboveMaximum {
        policy: &'static str,
        amount: crate::money::Vnd,
        maximum: crate::money::Vnd,
        parameter: Option<String>,
    },
    #[error("event {sequence} does not exist")]
    NoSuchEvent { sequence: i64 },
    #[error("event {sequence} is a {type_name}, which cannot be corrected; a decision is changed only by a new decision")]
    NotCorrectable {
        sequence: i64,
        type_name: &'static str,
    },
    #[error("event {sequence} is a {expected}, so the replacement must be one too, not a {found}")]
    ReplacementMismatch {
        sequence: i64,
        expected: &'static str,
        found: &'static str,
    },
    #[error("a registration cannot be voided; correct it with a replacement instead")]
    RegistrationCannotBeVoided,
    #[error("{field} is {value}; it must be between {min} and {max}")]
    OutOfRange {
        field: &'static str,
        value: i64,
        min: i64,
        max: i64,
    },
    #[error("votes_for {votes_for} and votes_against {votes_against} add up to more than the {attendees} attendees")]
    MoreVotesThanAttendees {
        attendees: i64,
        votes_for: i64,
        votes_against: i64,
    },
    #[error("there is no survey of period {period} for the meeting to vote on")]
    NoSurveyForPeriod { period: String },
    #[error("held_on {held_on} is before the survey of {survey_date} the meeting votes on")]
    MeetingBeforeSurvey {
        held_on: NaiveDate,
        survey_date: NaiveDate,
    },
    #[error("no time limit for resolving a complaint is known on {date} (review-deadlines data)")]
    NoDeadline { date: NaiveDate },
    #[error("complaint {complaint_id} is already recorded")]
    DuplicateComplaint { complaint_id: uuid::Uuid },
    #[error("complaint {complaint_id} is not a complaint about this household")]
    NoSuchComplaint { complaint_id: uuid::Uuid },
    #[error("complaint {complaint_id} was already resolved on {decided_on}")]
    ComplaintAlreadyResolved {
        complaint_id: uuid::Uuid,
        decided_on: NaiveDate,
    },
    #[error("decided_on {decided_on} is before the complaint was received on {received_on}")]
    ResolvedBeforeReceived {
        decided_on: NaiveDate,
        received_on: NaiveDate,
    },
    #[error("a rejected complaint needs a reason")]
    RejectionNeedsReason,
    #[error("complaint {complaint_id}, received on {received_on}, is not resolved yet; a decision now needs a reason, which supervisors will see flagged")]
    OpenComplaint {
        complaint_id: uuid::Uuid,
        received_on: NaiveDate,
    },
    #[error("the village meeting of {held_on} sent the household back to review (fewer than half voted for the proposal); record a new survey first, or give the decision a reason, which supervisors will see flagged")]
    SentBackByMeeting { held_on: NaiveDate },
    #[error("a complaint about the household was upheld on {decided_on}; record a new survey first, or give the decision a reason, which supervisors will see flagged")]
    SentBackByComplaint { decided_on: NaiveDate },
    #[error("the replacement is not valid: {0}")]
    InvalidReplacement(Box<HouseholdError>),
    #[error(transparent)]
    Chain(#[from] ChainError),
}

impl HouseholdError {
    /// The request field the error is about, for 422 responses that name it. Errors inside a
    /// correction's replacement name `replacement`; [`HouseholdError::replacement_field`] names
    /// the field within it.
    pub fn field(&self) -> Option<&'static str> {
        use HouseholdError::*;
        match self {
            FutureDate { field, .. }
            | BeforeRegistration { field, .. }
            | Empty { field }
            | TooLong { field, .. }
            | InvalidBirthYear { field, .. }
            | InvalidIdNumber { field, .. }
            | MemberNotFound { field, .. }
            | UnknownIndicator { field, .. }
            | DuplicateIndicator { field, .. } => Some(field),
            UnknownUnit { .. } | UnitNotValid { .. } | NotACommune { .. } => Some("unit_code"),
            HeadRemoved => Some("new_head_name"),
            ReasonDoesNotFit { .. } => Some("reason"),
            NothingChanged => Some("members"),
            NoStandardInForce { .. } | StandardNotInForce { .. } => Some("survey_date"),
            InvalidMeasure { .. } => Some("measures"),
            CategoryNotInStandard { .. } => Some("category"),
            NoSurveyForStandard { .. } => Some("standard"),
            ReasonRequired { .. } => Some("reason"),
            DecisionBeforeSurvey { .. } | DecisionOutOfOrder { .. } => Some("decided_on"),
            NothingDisbursed | AmountAboveMaximum { .. } => Some("amount_vnd"),
            NoSuchEvent { .. } | NotCorrectable { .. } => Some("corrects_sequence"),
            ReplacementMismatch { .. } | RegistrationCannotBeVoided | InvalidReplacement(_) => {
                Some("replacement")
            }
            OutOfRange { field, .. } => Some(field),
            MoreVotesThanAttendees { .. } => Some("votes_for"),
            NoSurveyForPeriod { .. } => Some("period"),
            MeetingBeforeSurvey { .. } => Some("held_on"),
            NoDeadline { .. } => Some("received_on"),
            DuplicateComplaint { .. } | NoSuchComplaint { .. } => Some("complaint_id"),
            ComplaintAlreadyResolved { .. } => Some("complaint_id"),
            ResolvedBeforeReceived { .. } => Some("decided_on"),
            RejectionNeedsReason => Some("reason"),
            OpenComplaint { .. } | SentBackByMeeting { .. } | SentBackByComplaint { .. } => {
                Some("reason")
            }
            UnknownFlagRule { .. } => Some("rule"),
            NoFlaggedEvent { .. } | FlagNotExplained { .. } | OwnExplanation { .. } => {
                Some("sequence")
            }
            AlreadyRegistered | NotRegistered | Closed | Chain(_) => None,
        }
    }

    /// A stable, machine-readable name of the kind of error (`reason_required`, `too_long`…)
    /// that clients such as the web pages translate; it never changes with the wording. An
    /// invalid replacement is named by what is wrong inside it.
    pub fn code(&self) -> &'static str {
        use HouseholdError::*;
        match self {
            AlreadyRegistered => "already_registered",
            NotRegistered => "not_registered",
            Closed => "household_closed",
            FutureDate { .. } => "future_date",
            BeforeRegistration { .. } => "before_registration",
            Empty { .. } => "empty",
            TooLong { .. } => "too_long",
            UnknownUnit { .. } => "unknown_unit",
            UnitNotValid { .. } => "unit_not_valid",
            NotACommune { .. } => "not_a_commune",
            InvalidBirthYear { .. } => "invalid_birth_year",
            InvalidIdNumber { .. } => "invalid_id_number",
            MemberNotFound { .. } => "member_not_found",
            HeadRemoved => "head_removed",
            ReasonDoesNotFit { .. } => "reason_does_not_fit",
            NothingChanged => "nothing_changed",
            NoStandardInForce { .. } => "no_standard_in_force",
            StandardNotInForce { .. } => "standard_not_in_force",
            UnknownIndicator { .. } => "unknown_indicator",
            DuplicateIndicator { .. } => "duplicate_indicator",
            InvalidMeasure { .. } => "invalid_measure",
            CategoryNotInStandard { .. } => "category_not_in_standard",
            NoSurveyForStandard { .. } => "no_survey_for_standard",
            ReasonRequired { .. } => "reason_required",
            DecisionBeforeSurvey { .. } => "decision_before_survey",
            DecisionOutOfOrder { .. } => "decision_out_of_order",
            NothingDisbursed => "nothing_disbursed",
            AmountAboveMaximum { .. } => "amount_above_maximum",
            NoSuchEvent { .. } => "no_such_event",
            NotCorrectable { .. } => "not_correctable",
            ReplacementMismatch { .. } => "replacement_mismatch",
            RegistrationCannotBeVoided => "registration_cannot_be_voided",
            OutOfRange { .. } => "out_of_range",
            MoreVotesThanAttendees { .. } => "more_votes_than_attendees",
            NoSurveyForPeriod { .. } => "no_survey_for_period",
            MeetingBeforeSurvey { .. } => "meeting_before_survey",
            NoDeadline { .. } => "no_deadline",
            DuplicateComplaint { .. } => "duplicate_complaint",
            NoSuchComplaint { .. } => "no_such_complaint",
            ComplaintAlreadyResolved { .. } => "complaint_already_resolved",
            ResolvedBeforeReceived { .. } => "resolved_before_received",
            RejectionNeedsReason => "rejection_needs_reason",
            OpenComplaint { .. } => "open_complaint",
            SentBackByMeeting { .. } => "sent_back_by_meeting",
            SentBackByComplaint { .. } => "sent_back_by_complaint",
            InvalidReplacement(inner) => inner.code(),
            Chain(_) => "chain",
            UnknownFlagRule { .. } => "unknown_flag_rule",
            NoFlaggedEvent { .. } => "no_such_event",
            FlagNotExplained { .. } => "flag_not_explained",
            OwnExplanation { .. } => "own_explanation",
        }
    }

    /// The request field at fault as a path into the body: [`HouseholdError::field`], made
    /// precise where the rule knows more (`members[2].birth_year` rather than `members`).
    pub fn path(&self) -> Option<String> {
        match self {
            HouseholdError::InvalidBirthYear { at, .. } => Some(format!("{at}.birth_year")),
            HouseholdError::InvalidIdNumber { at, .. } => Some(format!("{at}.id_number")),
            HouseholdError::InvalidReplacement(inner) => match inner.path() {
                Some(inner) => Some(format!("replacement.{inner}")),
                None => Some("replacement".to_owned()),
            },
            other => other.field().map(str::to_owned),
        }
    }

    /// For an invalid replacement, the field inside the replacement.
    pub fn replacement_field(&self) -> Option<&'static str> {
        match self {
            HouseholdError::InvalidReplacement(inner) => inner.field(),
            _ => None,
        }
    }
}
