//! The two parts of a household's state that grow with every event — the type of each event
//! and its supports — held so that a command's copy of the state shares them (`imbl`), an
//! append adds at the end, and a snapshot of a thousand events reads back in microseconds:
//! types as runs of one type, supports as a list in sequence order (both arrive in sequence
//! order, so neither needs a search tree).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use imbl::Vector;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use super::event::SupportReceived;

/// The type of every event by sequence, as runs `(first, last, type)` of consecutive sequences.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeRuns(Vector<(i64, i64, &'static str)>);

impl TypeRuns {
    pub fn get(&self, sequence: i64) -> Option<&'static str> {
        let i = self
            .0
            .binary_search_by(|(first, last, _)| {
                if *last < sequence {
                    Ordering::Less
                } else if *first > sequence {
                    Ordering::Greater
                } else {
                    Ordering::Equal
                }
            })
            .ok()?;
        Some(self.0[i].2)
    }

    pub fn contains(&self, sequence: i64) -> bool {
        self.get(sequence).is_some()
    }

    /// Records the type of `sequence`; events come in sequence order, anything else (never
    /// done by a fold) is still kept right, by rebuilding the runs.
    pub fn insert(&mut self, sequence: i64, name: &'static str) {
        match self.0.back_mut() {
            Some((_, last, run)) if *last + 1 == sequence && *run == name => *last = sequence,
            Some((_, last, _)) if *last >= sequence => {
                let mut all: BTreeMap<i64, &'static str> = self.iter().collect();
                all.insert(sequence, name);
                *self = all.into_iter().collect();
            }
            _ => self.0.push_back((sequence, sequence, name)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (i64, &'static str)> + '_ {
        self.0
            .iter()
            .flat_map(|(first, last, name)| (*first..=*last).map(move |s| (s, *name)))
    }
}

impl FromIterator<(i64, &'static str)> for TypeRuns {
    fn from_iter<I: IntoIterator<Item = (i64, &'static str)>>(items: I) -> Self {
        let mut runs = TypeRuns::default();
        for (sequence, name) in items {
            runs.insert(sequence, name);
        }
        runs
    }
}

/// Stored as the runs themselves, `[first, last, type]`.
impl Serialize for TypeRuns {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl<'de> Deserialize<'de> for TypeRuns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut runs = Vector::new();
        let mut previous = i64::MIN;
        for (first, last, name) in Vec::<(i64, i64, String)>::deserialize(d)? {
            let known = super::state::known_type(&name)
                .ok_or_else(|| de::Error::custom(format!("unknown event type {name:?}")))?;
            if first <= previous || last < first {
                return Err(de::Error::custom(format!("bad run {first}..={last}")));
            }
            previous = last;
            runs.push_back((first, last, known));
        }
        Ok(TypeRuns(runs))
    }
}

/// What the rules read of a support: its days and amount, after corrections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupportFact {
    /// The original event's effective day (a correction does not move it).
    pub effective_on: NaiveDate,
    pub disbursed_on: NaiveDate,
    pub amount_vnd: i64,
    pub voided: bool,
}

impl SupportFact {
    pub(super) fn of(support: &SupportReceived, effective_on: NaiveDate) -> Self {
        SupportFact {
            effective_on,
            disbursed_on: support.disbursed_on,
            amount_vnd: support.amount_vnd.get(),
            voided: false,
        }
    }
}

/// Supports by original sequence, in sequence order, voided ones kept (a correction may
/// restore them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SupportFacts(Vector<(i64, SupportFact)>);

impl SupportFacts {
    fn index(&self, sequence: i64) -> Option<usize> {
        self.0.binary_search_by_key(&sequence, |(s, _)| *s).ok()
    }

    pub fn get(&self, sequence: i64) -> Option<&SupportFact> {
        Some(&self.0.get(self.index(sequence)?)?.1)
    }

    pub fn get_mut(&mut self, sequence: i64) -> Option<&mut SupportFact> {
        let i = self.index(sequence)?;
        Some(&mut self.0.get_mut(i)?.1)
    }

    /// Adds the support first recorded at `sequence` (after every one held, as a fold adds
    /// them; anything else is put in its place).
    pub fn insert(&mut self, sequence: i64, fact: SupportFact) {
        match self.0.binary_search_by_key(&sequence, |(s, _)| *s) {
            Ok(i) => self.0[i].1 = fact,
            Err(i) if i == self.0.len() => self.0.push_back((sequence, fact)),
            Err(i) => self.0.insert(i, (sequence, fact)),
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (i64, &SupportFact)> {
        self.0.iter().map(|(s, f)| (*s, f))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = i64> + '_ {
        self.0.iter().map(|(s, _)| *s)
    }
}

impl std::ops::Index<i64> for SupportFacts {
    type Output = SupportFact;

    fn index(&self, sequence: i64) -> &SupportFact {
        self.get(sequence)
            .unwrap_or_else(|| panic!("no support at sequence {sequence}"))
    }
}

/// A support as stored: `[sequence, effective day, disbursement day, amount, voided]`, days
/// counted from 1 January of year 1 — integers read back several times faster than dates.
type Row = (i64, i32, i32, i64, u8);

impl Serialize for SupportFacts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|(sequence, f)| -> Row {
            (
                *sequence,
                f.effective_on.num_days_from_ce(),
                f.disbursed_on.num_days_from_ce(),
                f.amount_vnd,
                u8::from(f.voided),
            )
        }))
    }
}

impl<'de> Deserialize<'de> for SupportFacts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let day = |n: i32| {
            NaiveDate::from_num_days_from_ce_opt(n)
                .ok_or_else(|| de::Error::custom(format!("day {n} is out of range")))
        };
        let mut facts = Vector::new();
        let mut previous = i64::MIN;
        for (sequence, effective_on, disbursed_on, amount_vnd, voided) in
            Vec::<Row>::deserialize(d)?
        {
            if sequence <= previous {
                return Err(de::Error::custom(format!(
                    "support {sequence} out of order"
                )));
            }
            previous = sequence;
            let fact = SupportFact {
                effective_on: day(effective_on)?,
                disbursed_on: day(disbursed_on)?,
                amount_vnd,
                voided: voided != 0,
            };
            facts.push_back((sequence, fact));
        }
        Ok(SupportFacts(facts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NAMES: [&str; 3] = [
        "support_received",
        "household_classified",
        "event_corrected",
    ];

    proptest! {
        /// Whatever order types arrive in, the runs answer as a plain map would, and read
        /// back as written.
        #[test]
        fn type_runs_answer_as_a_map(entries in proptest::collection::vec((1i64..60, 0usize..3), 0..80)) {
            let mut runs = TypeRuns::default();
            let mut map = BTreeMap::new();
            for (sequence, n) in entries {
                runs.insert(sequence, NAMES[n]);
                map.insert(sequence, NAMES[n]);
            }
            prop_assert_eq!(runs.iter().collect::<BTreeMap<_, _>>(), map.clone());
            for sequence in 0..62 {
                prop_assert_eq!(runs.get(sequence), map.get(&sequence).copied());
            }
            let back: TypeRuns = serde_json::from_str(&serde_json::to_string(&runs).expect("encode")).expect("decode");
            prop_assert_eq!(back.iter().collect::<BTreeMap<_, _>>(), map);
        }

        #[test]
        fn support_facts_answer_as_a_map(entries in proptest::collection::vec((1i64..60, 0i64..1_000_000), 0..80)) {
            let day = NaiveDate::from_ymd_opt(2024, 2, 29).expect("a leap day");
            let mut facts = SupportFacts::default();
            let mut map = BTreeMap::new();
            for (sequence, amount_vnd) in entries {
                let fact = SupportFact { effective_on: day, disbursed_on: day, amount_vnd, voided: amount_vnd % 2 == 0 };
                facts.insert(sequence, fact);
                map.insert(sequence, fact);
            }
            prop_assert_eq!(facts.iter().map(|(s, f)| (s, *f)).collect::<Vec<_>>(), map.clone().into_iter().collect::<Vec<_>>());
            let back: SupportFacts = serde_json::from_str(&serde_json::to_string(&facts).expect("encode")).expect("decode");
            prop_assert_eq!(back, facts);
        }
    }

    #[test]
    fn a_long_run_of_one_type_is_one_entry() {
        let runs: TypeRuns = (1..=1000)
            .map(|s| (s, if s == 1 { NAMES[1] } else { NAMES[0] }))
            .collect();
        assert_eq!(
            serde_json::to_string(&runs).expect("encode"),
            r#"[[1,1,"household_classified"],[2,1000,"support_received"]]"#
        );
        assert_eq!(runs.get(1000), Some(NAMES[0]));
        assert_eq!(runs.get(1001), None);
        assert_eq!(runs.get(0), None);
    }

    #[test]
    fn out_of_order_or_unknown_stored_entries_are_refused() {
        assert!(serde_json::from_str::<TypeRuns>(
            r#"[[3,4,"support_received"],[1,2,"support_received"]]"#
        )
        .is_err());
        assert!(serde_json::from_str::<TypeRuns>(r#"[[1,2,"no_such_event"]]"#).is_err());
        assert!(serde_json::from_str::<SupportFacts>("[[2,1,1,5,0],[1,1,1,5,0]]").is_err());
    }
}
