//! What the rules need to know about a household, folded from its events.
//!
//! Correctable facts (registration, member changes, moves, closure, surveys) are kept by their
//! original sequence with their current content; a correction replaces that content and the
//! derived views (current profile, closed, surveys) are folded again from the facts in sequence
//! order. Supports, the facts that grow with every month of an allowance, keep only what the
//! rules read ([`SupportFact`]): their content is in the log and the disbursement rows, so the
//! state — and a snapshot of it — stays small however long the history. Decisions and
//! lifecycle events are not correctable and update the per-standard status directly.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use imbl::OrdMap;
use serde::{Deserialize, Serialize};

use crate::area::Area;
use crate::chain::ChainHead;
use crate::envelope::Recorded;
use crate::standards::Category;

use uuid::Uuid;

use super::compact::{SupportFact, SupportFacts, TypeRuns};
use super::event::{
    ComplaintOutcome, ComplaintReceived, ComplaintResolved, HouseholdEvent, HouseholdRegistered,
    HouseholdSurveyed, MeetingOutcome, Member, MembersChanged, Replacement, ReviewMeetingHeld,
};
use super::lifecycle::Prior;

/// A correctable fact: its original type and date, and its content after corrections
/// (`None` once voided).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fact {
    pub type_name: &'static str,
    pub effective_on: NaiveDate,
    pub current: Option<Replacement>,
}

/// A household's standing under one standard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandardStatus {
    pub category: Category,
    /// When the current category was first decided (re-confirmations keep it).
    pub since: NaiveDate,
    /// The decision that set the current category.
    pub decision_no: String,
    pub last_decided_on: NaiveDate,
    pub last_decision_no: String,
    pub exited_poverty_on: Option<NaiveDate>,
    pub exited_near_poverty_on: Option<NaiveDate>,
    /// What the survey behind the latest decision proposed, and the chair's reason when the
    /// decision departs from it.
    pub last_proposed: Category,
    pub last_reason: Option<String>,
}

/// A complaint and, once resolved, how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complaint {
    pub sequence: i64,
    pub received: ComplaintReceived,
    pub resolved: Option<ComplaintResolved>,
    pub resolved_sequence: Option<i64>,
}

/// Why the household is back in review: the latest village meeting voted fewer than half for
/// the proposal, or a complaint about it was upheld, and no survey was recorded since.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SentBack {
    Meeting {
        held_on: NaiveDate,
        sequence: i64,
    },
    UpheldComplaint {
        decided_on: NaiveDate,
        sequence: i64,
    },
}

impl SentBack {
    pub fn since(self) -> NaiveDate {
        match self {
            SentBack::Meeting { held_on, .. } => held_on,
            SentBack::UpheldComplaint { decided_on, .. } => decided_on,
        }
    }

    fn sequence(self) -> i64 {
        match self {
            SentBack::Meeting { sequence, .. } | SentBack::UpheldComplaint { sequence, .. } => {
                sequence
            }
        }
    }
}

/// Serialisable as a snapshot's state (see `ansinh_projections::snapshots`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HouseholdState {
    /// Where this household's hash chain stands; new events link onto it.
    pub chain: ChainHead,
    /// The registration facts (after corrections).
    pub registration: Option<HouseholdRegistered>,
    pub registered_on: Option<NaiveDate>,
    /// The household as it is now: registration plus member changes and moves.
    pub current: Option<HouseholdRegistered>,
    /// Members who left, kept so late-recorded supports can still name them.
    pub former_members: Vec<Member>,
    pub closed: bool,
    /// Current surveys by sequence.
    pub surveys: OrdMap<i64, HouseholdSurveyed>,
    /// Supports by original sequence, voided ones kept (a correction may restore them). The
    /// maps that grow with the history are persistent (`imbl`): a command clones the state to
    /// fold its events onto, and that clone shares everything it does not change, so its cost
    /// does not grow with the history.
    pub supports: SupportFacts,
    /// Standard id → standing.
    pub statuses: BTreeMap<String, StandardStatus>,
    /// Correctable facts by original sequence, supports aside.
    pub facts: OrdMap<i64, Fact>,
    /// Correction sequence → original sequence it corrects.
    pub corrections: OrdMap<i64, i64>,
    /// The type of every event, by sequence.
    pub types: TypeRuns,
    /// Village meetings by sequence.
    pub meetings: BTreeMap<i64, ReviewMeetingHeld>,
    /// Complaints by id.
    pub complaints: BTreeMap<Uuid, Complaint>,
    /// Red flags (rule, sequence) → who explained them last and whether that was accepted.
    #[serde(with = "flag_keys")]
    pub flag_explanations: BTreeMap<(String, i64), FlagExplanation>,
}

/// The latest explanation of a red flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagExplanation {
    pub explained_by: uuid::Uuid,
    pub accepted: bool,
}

impl HouseholdState {
    pub fn apply(mut self, recorded: &Recorded<HouseholdEvent>) -> Self {
        let sequence = recorded.meta.sequence;
        self.chain.advance(&recorded.meta);
        self.types.insert(sequence, recorded.event.type_name());
        // Supports are most of a long history: kept as their facts, not cloned as a whole.
        if let HouseholdEvent::SupportReceived(s) = &recorded.event {
            let fact = SupportFact::of(s, recorded.meta.effective_on);
            self.supports.insert(sequence, fact);
            return self;
        }
        if let Some(content) = recorded.event.as_correctable() {
            if matches!(content, Replacement::HouseholdRegistered(_)) {
                self.registered_on = Some(recorded.meta.effective_on);
            }
            self.apply_fact(sequence, &content);
            self.facts.insert(
                sequence,
                Fact {
                    type_name: recorded.event.type_name(),
                    effective_on: recorded.meta.effective_on,
                    current: Some(content),
                },
            );
            return self;
        }
        match &recorded.event {
            HouseholdEvent::HouseholdClassified(c) => {
                let status = self.statuses.get(&c.standard);
                let unchanged = status.is_some_and(|s| s.category == c.category);
                let (since, decision_no) = match status {
                    Some(s) if unchanged => (s.since, s.decision_no.clone()),
                    _ => (c.decided_on, c.decision_no.clone()),
                };
                let exits = status.map(|s| (s.exited_poverty_on, s.exited_near_poverty_on));
                let (exited_poverty_on, exited_near_poverty_on) = exits.unwrap_or_default();
                self.statuses.insert(
                    c.standard.clone(),
                    StandardStatus {
                        category: c.category,
                        since,
                        decision_no,
                        last_decided_on: c.decided_on,
                        last_decision_no: c.decision_no.clone(),
                        exited_poverty_on,
                        exited_near_poverty_on,
                        last_proposed: c.proposed,
                        last_reason: c.reason.clone(),
                    },
                );
            }
            HouseholdEvent::ExitedPoverty(e) => {
                if let Some(s) = self.statuses.get_mut(&e.standard) {
                    s.exited_poverty_on = Some(e.decided_on);
                }
            }
            HouseholdEvent::ExitedNearPoverty(e) => {
                if let Some(s) = self.statuses.get_mut(&e.standard) {
                    s.exited_near_poverty_on = Some(e.decided_on);
                }
            }
            HouseholdEvent::ReviewMeetingHeld(m) => {
                self.meetings.insert(sequence, m.clone());
            }
            HouseholdEvent::ComplaintReceived(c) => {
                self.complaints.insert(
                    c.complaint_id,
                    Complaint {
                        sequence,
                        received: c.clone(),
                        resolved: None,
                        resolved_sequence: None,
                    },
                );
            }
            HouseholdEvent::ComplaintResolved(r) => {
                if let Some(c) = self.complaints.get_mut(&r.complaint_id) {
                    c.resolved = Some(r.clone());
                    c.resolved_sequence = Some(sequence);
                }
            }
            HouseholdEvent::FlagExplained(f) => {
                self.flag_explanations.insert(
                    (f.rule.clone(), f.sequence),
                    FlagExplanation {
                        explained_by: recorded.meta.actor.user_id,
                        accepted: false,
                    },
                );
            }
            HouseholdEvent::FlagAccepted(f) => {
                if let Some(e) = self
                    .flag_explanations
                    .get_mut(&(f.rule.clone(), f.sequence))
                {
                    e.accepted = true;
                }
            }
            HouseholdEvent::EventCorrected(c) => {
                self.corrections.insert(sequence, c.original_sequence);
                if let Some(support) = self.supports.get_mut(c.original_sequence) {
                    match &c.replacement {
                        Some(Replacement::SupportReceived(r)) => {
                            *support = SupportFact::of(r, support.effective_on);
                        }
                        _ => support.voided = true,
                    }
                } else if let Some(fact) = self.facts.get_mut(&c.original_sequence) {
                    fact.current.clone_from(&c.replacement);
                    self.refold();
                }
            }
            _ => {}
        }
        self
    }

    pub fn version(&self) -> i64 {
        self.chain.sequence
    }

    /// The contract type name of event `sequence`, so a caller can read a correction's
    /// replacement in the right shape.
    pub fn event_type(&self, sequence: i64) -> Option<&'static str> {
        self.types.get(sequence)
    }

    /// The original fact a sequence stands for: itself, or what the correction at it corrects.
    pub fn original_of(&self, sequence: i64) -> i64 {
        self.corrections.get(&sequence).copied().unwrap_or(sequence)
    }

    /// The type and effective day of the correctable fact first recorded at `original` (a
    /// voided one included).
    pub fn fact_at(&self, original: i64) -> Option<(&'static str, NaiveDate)> {
        if let Some(s) = self.supports.get(original) {
            return Some(("support_received", s.effective_on));
        }
        let fact = self.facts.get(&original)?;
        Some((fact.type_name, fact.effective_on))
    }

    /// Supports not voided, by original sequence.
    pub fn current_supports(&self) -> impl DoubleEndedIterator<Item = (i64, &SupportFact)> {
        self.supports.iter().filter(|(_, s)| !s.voided)
    }

    /// The latest survey with a proposal under `standard` (latest survey date, then latest
    /// sequence), with its sequence.
    pub fn latest_survey_for(&self, standard: &str) -> Option<(i64, &HouseholdSurveyed)> {
        self.surveys
            .iter()
            .filter(|(_, s)| s.proposed.contains_key(standard))
            .max_by_key(|(seq, s)| (s.survey_date, **seq))
            .map(|(seq, s)| (*seq, s))
    }

    /// Complaints not yet resolved, in the order received.
    pub fn open_complaints(&self) -> Vec<&Complaint> {
        let mut open: Vec<&Complaint> = self
            .complaints
            .values()
            .filter(|c| c.resolved.is_none())
            .collect();
        open.sort_by_key(|c| c.sequence);
        open
    }

    /// Whether the household is back in review (see [`SentBack`]): the latest meeting voted
    /// "review again" or the latest resolution upheld a complaint, and no survey was recorded
    /// after it.
    pub fn sent_back(&self) -> Option<SentBack> {
        let meeting = self
            .meetings
            .iter()
            .next_back()
            .filter(|(_, m)| m.outcome == MeetingOutcome::ReviewAgain)
            .map(|(seq, m)| SentBack::Meeting {
                held_on: m.held_on,
                sequence: *seq,
            });
        let upheld = self
            .resolutions()
            .filter(|(_, r)| r.outcome == ComplaintOutcome::Upheld)
            .max_by_key(|(seq, _)| *seq)
            .map(|(seq, r)| SentBack::UpheldComplaint {
                decided_on: r.decided_on,
                sequence: seq,
            });
        // An agreed meeting after an upheld complaint does not clear it, nor the reverse:
        // only a new survey does.
        let latest = [meeting, upheld]
            .into_iter()
            .flatten()
            .max_by_key(|s| s.sequence())?;
        let surveyed_since = self.surveys.keys().any(|seq| *seq > latest.sequence());
        (!surveyed_since).then_some(latest)
    }

    /// Every resolution with the sequence of its event.
    fn resolutions(&self) -> impl Iterator<Item = (i64, &ComplaintResolved)> {
        self.complaints
            .values()
            .filter_map(|c| Some((c.resolved_sequence?, c.resolved.as_ref()?)))
    }

    /// The household's area on `date`: the registered area changed by every move on or before
    /// that date (after corrections).
    pub fn area_on(&self, date: NaiveDate) -> Option<Area> {
        let mut area = self.registration.as_ref()?.area;
        for fact in self.facts.values() {
            if let Some(Replacement::HouseholdMoved(m)) = &fact.current {
                if m.moved_on <= date {
                    area = m.area;
                }
            }
        }
        Some(area)
    }

    /// The day the household was placed in its current unit: the effective day of the last
    /// registration or move in force (the same fact that set `current.unit_code`). The unit's
    /// code speaks of that day: codes are reused across a reform of the units.
    pub fn placed_on(&self) -> Option<NaiveDate> {
        self.facts
            .values()
            .rev()
            .find_map(|fact| match &fact.current {
                Some(Replacement::HouseholdRegistered(_)) => Some(fact.effective_on),
                Some(Replacement::HouseholdMoved(m)) => Some(m.moved_on),
                _ => None,
            })
    }

    /// What the lifecycle derivation needs under `standard`.
    pub fn prior(&self, standard: &str) -> Prior {
        match self.statuses.get(standard) {
            Some(s) => Prior {
                category: Some(s.category),
                exited_poverty_on: s.exited_poverty_on,
                exited_near_poverty_on: s.exited_near_poverty_on,
            },
            None => Prior::default(),
        }
    }

    /// Whether `name` is or was a member (NFC-normalised comparison).
    pub fn knows_member(&self, name: &str) -> bool {
        let current = self.current.as_ref().map(|c| c.members.as_slice());
        current
            .unwrap_or_default()
            .iter()
            .chain(self.former_members.iter())
            .any(|m| m.name == name)
    }

    fn apply_fact(&mut self, sequence: i64, content: &Replacement) {
        match content {
            Replacement::HouseholdRegistered(r) => {
                self.registration = Some(r.clone());
                self.current = Some(r.clone());
            }
            Replacement::MembersChanged(m) => self.apply_members(m),
            Replacement::HouseholdMoved(m) => {
                if let Some(current) = self.current.as_mut() {
                    current.unit_code.clone_from(&m.unit_code);
                    current.hamlet.clone_from(&m.hamlet);
                    current.area = m.area;
                }
            }
            Replacement::HouseholdClosed(_) => self.closed = true,
            Replacement::HouseholdSurveyed(s) => {
                self.surveys.insert(sequence, s.clone());
            }
            // Kept apart, never in `facts` (see `apply`).
            Replacement::SupportReceived(_) => {}
        }
    }

    /// Removes first the members who leave (first match by name and birth year; one that is not
    /// found, possible after an earlier change was corrected, is skipped), then adds the new.
    fn apply_members(&mut self, change: &MembersChanged) {
        let Some(current) = self.current.as_mut() else {
            return;
        };
        for removed in &change.removed {
            let found = current
                .members
                .iter()
                .position(|m| m.name == removed.name && m.birth_year == removed.birth_year);
            if let Some(i) = found {
                self.former_members.push(current.members.remove(i));
            }
        }
        current
            .members
            .extend(change.added.iter().map(|a| a.member.clone()));
        if let Some(head) = &change.new_head_name {
            current.head_name.clone_from(head);
        }
    }

    /// Folds the derived views again from the current content of every fact.
    fn refold(&mut self) {
        self.registration = None;
        self.current = None;
        self.former_members.clear();
        self.closed = false;
        self.surveys.clear();
        let facts: Vec<(i64, Replacement)> = self
            .facts
            .iter()
            .filter_map(|(seq, f)| f.current.clone().map(|c| (*seq, c)))
            .collect();
        for (sequence, content) in &facts {
            self.apply_fact(*sequence, content);
        }
    }
}

/// A fact as a snapshot stores it (serde cannot borrow a `&'static str` from a snapshot).
#[derive(Deserialize)]
struct StoredFact {
    type_name: String,
    effective_on: NaiveDate,
    current: Option<Replacement>,
}

impl<'de> Deserialize<'de> for Fact {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = StoredFact::deserialize(d)?;
        Ok(Fact {
            type_name: known_type(&f.type_name).ok_or_else(|| {
                serde::de::Error::custom(format!("unknown event type {:?}", f.type_name))
            })?,
            effective_on: f.effective_on,
            current: f.current,
        })
    }
}

/// A stored state (a snapshot) names event types by their contract names; reading one back
/// gives the catalogue's own `&'static str`, and an unknown name is an error (the snapshot is
/// then dropped and the household folded from its events).
pub(super) fn known_type(name: &str) -> Option<&'static str> {
    HouseholdEvent::TYPE_NAMES
        .iter()
        .copied()
        .find(|known| *known == name)
}

/// JSON maps need string keys: a snapshot keeps the flag explanations as a list of pairs.
mod flag_keys {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::FlagExplanation;

    type Keyed = BTreeMap<(String, i64), FlagExplanation>;

    pub fn serialize<S: Serializer>(map: &Keyed, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Keyed, D::Error> {
        Ok(Vec::<((String, i64), FlagExplanation)>::deserialize(d)?
            .into_iter()
            .collect())
    }
}
