//! What the rules need to know about a household, folded from its events.
//!
//! Correctable facts (registration, member changes, moves, closure, surveys, supports) are kept
//! by their original sequence with their current content; a correction replaces that content
//! and the derived views (current profile, closed, surveys, supports) are folded again from the
//! facts in sequence order. Decisions and lifecycle events are not correctable and update the
//! per-standard status directly.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::area::Area;
use crate::chain::ChainHead;
use crate::envelope::Recorded;
use crate::standards::Category;

use super::event::{
    HouseholdEvent, HouseholdRegistered, HouseholdSurveyed, Member, MembersChanged, Replacement,
    SupportReceived,
};
use super::lifecycle::Prior;

/// A correctable fact: its original type and date, and its content after corrections
/// (`None` once voided).
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub type_name: &'static str,
    pub effective_on: NaiveDate,
    pub current: Option<Replacement>,
}

/// A household's standing under one standard.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

#[derive(Debug, Clone, Default, PartialEq)]
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
    pub surveys: BTreeMap<i64, HouseholdSurveyed>,
    /// Current supports by sequence.
    pub supports: BTreeMap<i64, SupportReceived>,
    /// Standard id → standing.
    pub statuses: BTreeMap<String, StandardStatus>,
    /// Correctable facts by original sequence.
    pub facts: BTreeMap<i64, Fact>,
    /// Correction sequence → original sequence it corrects.
    pub corrections: BTreeMap<i64, i64>,
    /// The type of every event, by sequence.
    pub types: BTreeMap<i64, &'static str>,
    /// Red flags (rule, sequence) → who explained them last and whether that was accepted.
    pub flag_explanations: BTreeMap<(String, i64), FlagExplanation>,
}

/// The latest explanation of a red flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagExplanation {
    pub explained_by: uuid::Uuid,
    pub accepted: bool,
}

impl HouseholdState {
    pub fn apply(mut self, recorded: &Recorded<HouseholdEvent>) -> Self {
        let sequence = recorded.meta.sequence;
        self.chain.advance(&recorded.meta);
        self.types.insert(sequence, recorded.event.type_name());
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
                if let Some(fact) = self.facts.get_mut(&c.original_sequence) {
                    fact.current.clone_from(&c.replacement);
                }
                self.refold();
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
        self.types.get(&sequence).copied()
    }

    /// The original fact a sequence stands for: itself, or what the correction at it corrects.
    pub fn original_of(&self, sequence: i64) -> i64 {
        self.corrections.get(&sequence).copied().unwrap_or(sequence)
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
            Replacement::SupportReceived(s) => {
                self.supports.insert(sequence, s.clone());
            }
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
        self.supports.clear();
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
