//! The two parts of a household's state that grow with every event — the type of each event
//! and its supports — held so that a command's copy of the state shares them (`imbl`), an
//! append adds at the end, and a snapshot of a thousand events reads back in microseconds:
//! types as runs of one type, supports as a list in sequence order (both arrive in sequence
//! order, so neither needs a search tree).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD_NO_PAD as BASE64;
use base64::Engine as _;
use chrono::{Datelike, NaiveDate};
use imbl::Vector;
use integer_encoding::VarInt;
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

/// Supports as stored: five integers per support — sequence, effective day, disbursement day,
/// amount, voided (0 or 1) — the first four each as the difference from the support before
/// (days counted from 1 January of year 1), written as zigzag varints and the bytes as one
/// base64 string. A monthly allowance is then `1,0,30,0,0`, five bytes: a thousand supports
/// are a few kilobytes of a snapshot, read back without parsing five thousand JSON numbers
/// (which was most of a long household's cold load).
const FIELDS: usize = 5;

impl Serialize for SupportFacts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::with_capacity(self.0.len() * FIELDS * 2);
        let mut buffer = [0u8; 10];
        let mut before = [0i64; 4];
        for (sequence, f) in &self.0 {
            let now = [
                *sequence,
                i64::from(f.effective_on.num_days_from_ce()),
                i64::from(f.disbursed_on.num_days_from_ce()),
                f.amount_vnd,
            ];
            let deltas = now.iter().zip(before).map(|(n, b)| n.wrapping_sub(b));
            for value in deltas.chain([i64::from(f.voided)]) {
                let used = value.encode_var(&mut buffer);
                bytes.extend_from_slice(&buffer[..used]);
            }
            before = now;
        }
        s.serialize_str(&BASE64.encode(bytes))
    }
}

impl<'de> Deserialize<'de> for SupportFacts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = BASE64
            .decode(text)
            .map_err(|e| de::Error::custom(format!("supports: {e}")))?;
        let day = |n: i64| {
            i32::try_from(n)
                .ok()
                .and_then(NaiveDate::from_num_days_from_ce_opt)
                .ok_or_else(|| de::Error::custom(format!("day {n} is out of range")))
        };
        let mut facts = Vector::new();
        let mut now = [0i64; 4];
        let mut rest = bytes.as_slice();
        while !rest.is_empty() {
            let n = facts.len() + 1;
            let mut row = [0i64; FIELDS];
            for field in &mut row {
                let (value, used) = i64::decode_var(rest)
                    .ok_or_else(|| de::Error::custom(format!("support {n} is cut short")))?;
                *field = value;
                rest = &rest[used..];
            }
            if n > 1 && row[0] <= 0 {
                return Err(de::Error::custom(format!("support {n} out of order")));
            }
            // Wrapping, as written: any amount reads back exactly.
            for (field, delta) in now.iter_mut().zip(row) {
                *field = field.wrapping_add(delta);
            }
            let fact = SupportFact {
                effective_on: day(now[1])?,
                disbursed_on: day(now[2])?,
                amount_vnd: now[3],
                voided: match row[4] {
                    0 => false,
                    1 => true,
                    v => return Err(de::Error::custom(format!("support {n}: voided is {v}"))),
                },
            };
            facts.push_back((now[0], fact));
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
        // Bytes that are not supports: not base64, sequence 2 then one before it, a row cut
        // short, voided neither 0 nor 1, a day out of range.
        let stored = |numbers: &[i64]| {
            let mut bytes = Vec::new();
            for n in numbers {
                bytes.extend(n.encode_var_vec());
            }
            serde_json::to_string(&BASE64.encode(bytes)).expect("a string")
        };
        assert!(serde_json::from_str::<SupportFacts>(r#""not base64!""#).is_err());
        for numbers in [
            &[2, 738_000, 738_000, 5, 0, -1, 0, 0, 0, 0][..],
            &[2, 738_000, 738_000, 5],
            &[2, 738_000, 738_000, 5, 2],
            &[2, i64::MAX, 0, 0, 0],
        ] {
            assert!(
                serde_json::from_str::<SupportFacts>(&stored(numbers)).is_err(),
                "{numbers:?}"
            );
        }
        let two = stored(&[2, 738_000, 738_000, 5, 0, 1, 0, 30, -2, 1]);
        let read: SupportFacts = serde_json::from_str(&two).expect("two supports");
        assert_eq!(read.len(), 2);
        assert_eq!(read[3].amount_vnd, 3);
        assert!(read[3].voided && !read[2].voided);
    }

    #[test]
    fn a_monthly_allowance_costs_a_few_bytes_per_support() {
        let mut facts = SupportFacts::default();
        let mut day = NaiveDate::from_ymd_opt(2024, 1, 15).expect("day");
        for sequence in 2..=13 {
            let fact = SupportFact {
                effective_on: day,
                disbursed_on: day,
                amount_vnd: 500_000,
                voided: false,
            };
            facts.insert(sequence, fact);
            day = day + chrono::Days::new(30);
        }
        let json = serde_json::to_string(&facts).expect("encode");
        // The first support's days and amount take a few bytes each; each later one five.
        assert!(json.len() < 2 + (16 + 5 * 11) * 4 / 3 + 1, "{json}");
        assert_eq!(
            serde_json::from_str::<SupportFacts>(&json).expect("decode"),
            facts
        );
    }
}
