//! Dated time limits of the public review: the shortest posting of the results and the time to
//! resolve a complaint. Kept as data (`events/parameters/review-deadlines.json`, replaceable by
//! an installation's own file of the same layout) because neither is confirmed here against the
//! published texts; each value says whether it is.
//!
//! Working days are Monday to Friday. Public holidays (Tết, 30/4, 1/5, 2/9…) are not modelled,
//! so a limit in working days that spans one ends a little early; the value is a floor for
//! checks and a date for reminders, never a legal computation.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// `events/parameters/review-deadlines.json`.
pub const REVIEW_DEADLINES_JSON: &str = include_str!("../parameters/review-deadlines.json");

/// The shortest public posting of the review's results.
pub const POSTING_MIN: &str = "posting_min_working_days";
/// The time to resolve a complaint.
pub const COMPLAINT_RESOLUTION: &str = "complaint_resolution";

/// One value of a time limit and the period it holds for (both ends inclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatedLimit {
    pub valid_from: NaiveDate,
    #[serde(default)]
    pub valid_to: Option<NaiveDate>,
    pub days: u32,
    /// Counted in working days (Monday–Friday) rather than calendar days.
    pub working_days: bool,
    pub confirmed: bool,
    pub source: String,
    #[serde(default)]
    pub note: Option<String>,
}

impl DatedLimit {
    pub fn holds_on(&self, date: NaiveDate) -> bool {
        date >= self.valid_from && self.valid_to.is_none_or(|to| date <= to)
    }

    /// The last day of a limit that starts counting the day after `from`.
    pub fn ends(&self, from: NaiveDate) -> NaiveDate {
        if self.working_days {
            add_working_days(from, self.days)
        } else {
            from.checked_add_days(Days::new(u64::from(self.days)))
                .unwrap_or(NaiveDate::MAX)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadline {
    pub name: String,
    pub description: String,
    pub values: Vec<DatedLimit>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeadlinesFile {
    deadlines: Vec<Deadline>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("review deadline file {source_name} is not valid: {message}")]
pub struct DeadlineFileError {
    pub source_name: String,
    pub message: String,
}

/// Every dated review limit, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewDeadlines {
    by_name: BTreeMap<String, Deadline>,
}

impl ReviewDeadlines {
    /// The shipped limits, parsed once per process.
    pub fn shipped() -> Arc<ReviewDeadlines> {
        static SHIPPED: OnceLock<Arc<ReviewDeadlines>> = OnceLock::new();
        SHIPPED
            .get_or_init(|| {
                // A unit test checks the shipped file; an empty set (no limit known, so the
                // commands refuse with `no_deadline`) is the safe fallback.
                Arc::new(
                    ReviewDeadlines::from_json("review-deadlines.json", REVIEW_DEADLINES_JSON)
                        .unwrap_or_default(),
                )
            })
            .clone()
    }

    /// Parses and checks a file: unique names, values in order and not overlapping.
    pub fn from_json(source_name: &str, text: &str) -> Result<ReviewDeadlines, DeadlineFileError> {
        let bad = |message: String| DeadlineFileError {
            source_name: source_name.to_owned(),
            message,
        };
        let file: DeadlinesFile = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut by_name = BTreeMap::new();
        for mut deadline in file.deadlines {
            deadline.values.sort_by_key(|v| v.valid_from);
            let mut end: Option<Option<NaiveDate>> = None;
            for v in &deadline.values {
                let overlaps = match end {
                    Some(None) => true,
                    Some(Some(end)) => v.valid_from <= end,
                    None => false,
                };
                if overlaps || v.valid_to.is_some_and(|to| to < v.valid_from) {
                    return Err(bad(format!(
                        "{}: values overlap or end early",
                        deadline.name
                    )));
                }
                end = Some(v.valid_to);
            }
            let name = deadline.name.clone();
            if by_name.insert(name.clone(), deadline).is_some() {
                return Err(bad(format!("{name} is defined twice")));
            }
        }
        Ok(ReviewDeadlines { by_name })
    }

    /// The value of limit `name` holding on `date`.
    pub fn on(&self, name: &str, date: NaiveDate) -> Option<&DatedLimit> {
        self.by_name
            .get(name)?
            .values
            .iter()
            .find(|v| v.holds_on(date))
    }
}

/// The `n`th working day after `from` (`from` itself for 0).
pub fn add_working_days(from: NaiveDate, n: u32) -> NaiveDate {
    let mut day = from;
    let mut left = n;
    while left > 0 {
        day = day.succ_opt().unwrap_or(NaiveDate::MAX);
        if day == NaiveDate::MAX {
            break;
        }
        if is_working_day(day) {
            left -= 1;
        }
    }
    day
}

pub fn is_working_day(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Working days from `from` to `to`, both included (0 when `to` is before `from`).
pub fn working_days_between(from: NaiveDate, to: NaiveDate) -> u32 {
    from.iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| is_working_day(*d))
        .count()
        .try_into()
        .unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_shipped_file_parses_and_says_it_is_not_confirmed() {
        let shipped =
            ReviewDeadlines::from_json("review-deadlines.json", REVIEW_DEADLINES_JSON).unwrap();
        let posting = shipped.on(POSTING_MIN, d("2025-10-01")).unwrap();
        assert_eq!((posting.days, posting.working_days), (3, true));
        assert!(!posting.confirmed);
        let complaint = shipped.on(COMPLAINT_RESOLUTION, d("2025-10-01")).unwrap();
        assert_eq!((complaint.days, complaint.working_days), (30, false));
        assert!(shipped.on(POSTING_MIN, d("2020-01-01")).is_none());
    }

    #[test]
    fn working_days_skip_the_weekend() {
        // Friday 2025-10-03 + 1 working day = Monday 2025-10-06.
        assert_eq!(add_working_days(d("2025-10-03"), 1), d("2025-10-06"));
        assert_eq!(add_working_days(d("2025-10-01"), 3), d("2025-10-06"));
        assert_eq!(working_days_between(d("2025-10-03"), d("2025-10-06")), 2);
        assert_eq!(working_days_between(d("2025-10-06"), d("2025-10-03")), 0);
    }

    #[test]
    fn overlapping_values_are_refused() {
        let text = r#"{"deadlines":[{"name":"x","description":"","values":[
            {"valid_from":"2021-01-01","days":3,"working_days":true,"confirmed":false,"source":"s"},
            {"valid_from":"2022-01-01","days":3,"working_days":true,"confirmed":false,"source":"s"}]}]}"#;
        assert!(ReviewDeadlines::from_json("t", text).is_err());
    }

    proptest! {
        #[test]
        fn n_working_days_after_a_day_span_n_working_days(
            offset in 0i64..3000, n in 0u32..40,
        ) {
            let from = d("2020-01-01") + chrono::Duration::days(offset);
            let end = add_working_days(from, n);
            prop_assert!(end >= from);
            prop_assert_eq!(working_days_between(from.succ_opt().unwrap(), end), n);
            if n > 0 {
                prop_assert!(is_working_day(end));
            }
        }
    }
}
