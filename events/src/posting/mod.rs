//! The public posting of a review's results (niêm yết công khai), one stream per commune and
//! review period (`posting_events`). The posted list holds, per household, only its id, the
//! head's name, the hamlet and the proposed category: never ID numbers, birth years or incomes.
//! The posting lasts at least the dated minimum of working days (see
//! [`crate::review_deadlines`]); it closes by its dates, not by an event.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::chain::{seal, ChainError, ChainHead};
use crate::envelope::{CommandContext, Facts, Recorded};
use crate::review_deadlines::{working_days_between, DatedLimit};
use crate::standards::Category;
use crate::text;

/// Names the posting streams (v5 UUIDs of `unit_code/period`).
const NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_52a0_8e0b_4c1e_9a57_0d3b_2e44_1f90);

/// The stream of the posting of `unit_code`'s review `period`: one per commune and period.
pub fn posting_id(unit_code: &str, period: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("{unit_code}/{period}").as_bytes())
}

/// One household as posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostedItem {
    pub household_id: Uuid,
    pub head_name: String,
    pub hamlet: String,
    pub proposed_category: Category,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostingOpened {
    pub unit_code: String,
    pub period: String,
    pub posted_from: NaiveDate,
    pub posted_to: NaiveDate,
    /// Where the list hangs (the commune's office, each hamlet's hall).
    pub places: Vec<String>,
    pub items: Vec<PostedItem>,
    /// The minimum the posting was checked against, and whether it is confirmed.
    pub minimum_working_days: u32,
    pub minimum_confirmed: bool,
}

impl PostingOpened {
    /// Whether the posting is up on `day`.
    pub fn open_on(&self, day: NaiveDate) -> bool {
        self.posted_from <= day && day <= self.posted_to
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum PostingEvent {
    PostingOpened(PostingOpened),
}

impl PostingEvent {
    pub const TYPE_NAMES: [&'static str; 1] = ["posting_opened"];

    pub fn type_name(&self) -> &'static str {
        match self {
            PostingEvent::PostingOpened(_) => "posting_opened",
        }
    }
}

/// The posting as entered; the application resolves the households into `items`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostingInput {
    pub unit_code: String,
    pub period: String,
    pub posted_from: NaiveDate,
    pub posted_to: NaiveDate,
    pub places: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostingCommand {
    /// → `posting_opened`. `minimum` is the dated limit in force on `posted_from` (`None`:
    /// none is known then).
    Open {
        posting: PostingInput,
        items: Vec<PostedItem>,
        minimum: Option<DatedLimit>,
    },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PostingState {
    pub chain: ChainHead,
    pub opened: Option<PostingOpened>,
}

impl PostingState {
    pub fn apply(mut self, recorded: &Recorded<PostingEvent>) -> Self {
        self.chain.advance(&recorded.meta);
        match &recorded.event {
            PostingEvent::PostingOpened(o) => self.opened = Some(o.clone()),
        }
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PostingError {
    #[error("the results of review {period} in unit {unit_code} are already posted")]
    AlreadyPosted { unit_code: String, period: String },
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is {length} characters long; at most {max} are accepted")]
    TooLong {
        field: &'static str,
        length: usize,
        max: usize,
    },
    #[error("posted_to {posted_to} is before posted_from {posted_from}")]
    EndsBeforeStart {
        posted_from: NaiveDate,
        posted_to: NaiveDate,
    },
    #[error("the posting lasts {days} {}days; at least {minimum} are required ({legal_source}{})", if *.working { "working " } else { "" }, if *.confirmed { "" } else { ", not confirmed" })]
    TooShort {
        days: u32,
        working: bool,
        minimum: u32,
        legal_source: String,
        confirmed: bool,
    },
    #[error("no minimum posting length is known on {date} (review-deadlines data)")]
    NoMinimum { date: NaiveDate },
    #[error("household {household_id} is listed twice")]
    DuplicateHousehold { household_id: Uuid },
    #[error(transparent)]
    Chain(#[from] ChainError),
}

impl PostingError {
    pub fn field(&self) -> Option<&'static str> {
        match self {
            PostingError::AlreadyPosted { .. } => Some("period"),
            PostingError::Empty { field } | PostingError::TooLong { field, .. } => Some(field),
            PostingError::EndsBeforeStart { .. } | PostingError::TooShort { .. } => {
                Some("posted_to")
            }
            PostingError::NoMinimum { .. } => Some("posted_from"),
            PostingError::DuplicateHousehold { .. } => Some("households"),
            PostingError::Chain(_) => None,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            PostingError::AlreadyPosted { .. } => "already_posted",
            PostingError::Empty { .. } => "empty",
            PostingError::TooLong { .. } => "too_long",
            PostingError::EndsBeforeStart { .. } => "ends_before_start",
            PostingError::TooShort { .. } => "posting_too_short",
            PostingError::NoMinimum { .. } => "no_minimum",
            PostingError::DuplicateHousehold { .. } => "duplicate_household",
            PostingError::Chain(_) => "chain",
        }
    }
}

/// Most places one posting names.
pub const MAX_PLACES: usize = 100;

fn text_field(field: &'static str, value: &str, max: usize) -> Result<String, PostingError> {
    let value = text::nfc(value.trim());
    let length = value.chars().count();
    if length == 0 {
        return Err(PostingError::Empty { field });
    }
    if length > max {
        return Err(PostingError::TooLong { field, length, max });
    }
    Ok(value)
}

/// The events a posting command produces.
pub fn decide(
    state: &PostingState,
    command: PostingCommand,
) -> Result<Vec<(PostingEvent, Facts)>, PostingError> {
    let PostingCommand::Open {
        posting,
        items,
        minimum,
    } = command;
    let unit_code = text_field("unit_code", &posting.unit_code, 100)?;
    let period = text_field("period", &posting.period, 100)?;
    if state.opened.is_some() {
        return Err(PostingError::AlreadyPosted { unit_code, period });
    }
    if posting.places.is_empty() {
        return Err(PostingError::Empty { field: "places" });
    }
    if posting.places.len() > MAX_PLACES {
        return Err(PostingError::TooLong {
            field: "places",
            length: posting.places.len(),
            max: MAX_PLACES,
        });
    }
    let places = posting
        .places
        .iter()
        .map(|p| text_field("places", p, 200))
        .collect::<Result<Vec<_>, _>>()?;
    if items.is_empty() {
        return Err(PostingError::Empty {
            field: "households",
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for item in &items {
        if !seen.insert(item.household_id) {
            return Err(PostingError::DuplicateHousehold {
                household_id: item.household_id,
            });
        }
    }
    check_period(posting.posted_from, posting.posted_to)?;
    let minimum =
        minimum
            .filter(|m| m.holds_on(posting.posted_from))
            .ok_or(PostingError::NoMinimum {
                date: posting.posted_from,
            })?;
    let days = if minimum.working_days {
        working_days_between(posting.posted_from, posting.posted_to)
    } else {
        u32::try_from((posting.posted_to - posting.posted_from).num_days() + 1).unwrap_or(0)
    };
    if days < minimum.days {
        return Err(PostingError::TooShort {
            days,
            minimum: minimum.days,
            working: minimum.working_days,
            legal_source: minimum.source.clone(),
            confirmed: minimum.confirmed,
        });
    }
    let posted_from = posting.posted_from;
    Ok(vec![(
        PostingEvent::PostingOpened(PostingOpened {
            unit_code,
            period,
            posted_from,
            posted_to: posting.posted_to,
            places,
            items,
            minimum_working_days: minimum.days,
            minimum_confirmed: minimum.confirmed,
        }),
        Facts {
            effective_on: Some(posted_from),
            legal_basis: Some(minimum.source),
            ..Facts::default()
        },
    )])
}

/// Decides and seals onto the posting's chain (`ctx.household_id` is the posting's stream id).
pub fn handle(
    state: &PostingState,
    command: PostingCommand,
    ctx: &CommandContext,
) -> Result<Vec<Recorded<PostingEvent>>, PostingError> {
    let events = decide(state, command)?;
    Ok(seal(&state.chain, ctx, events)?)
}

#[cfg(test)]
mod tests;

/// A posting's period may not end before it starts (the import checks a row's posting dates
/// with this very rule, so both say it in the same words).
pub fn check_period(posted_from: NaiveDate, posted_to: NaiveDate) -> Result<(), PostingError> {
    if posted_to < posted_from {
        return Err(PostingError::EndsBeforeStart {
            posted_from,
            posted_to,
        });
    }
    Ok(())
}
