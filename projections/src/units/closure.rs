//! Which unit covers which, and over which days: the rows of `admin_unit_closure`.
//!
//! Codes are reused (80 was Long An and is now Tây Ninh; a new commune takes the code of one of
//! its predecessors), so "unit A covers code D" only means something for a day. An edge
//! `(ancestor, descendant, from, to)` says: what lies in `descendant` on a day in `from..=to`
//! lies in `ancestor`. A household's day is the day it was placed in its unit (registered or
//! moved there), so a household left in an ended commune is judged by that commune's version.
//!
//! * Every unit version covers itself over its validity.
//! * A version's ancestors (by parent code, versions overlapping it) cover it over the days
//!   both hold.
//! * A new commune and everything above it cover each predecessor over the predecessor's days
//!   before the reform: its officers assign the households of a split commune, and its reports
//!   reach back before it existed.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use super::succession::Succession;
use super::Unit;

/// The last day of an open range.
pub const OPEN_END: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(day) => day,
    None => panic!("a valid date"),
};

/// One row of `admin_unit_closure`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    pub ancestor: String,
    pub descendant: String,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
}

type Range = (NaiveDate, NaiveDate);

fn range(u: &Unit) -> Range {
    (u.valid_from, u.valid_to.unwrap_or(OPEN_END))
}

fn overlap(a: Range, b: Range) -> Option<Range> {
    let r = (a.0.max(b.0), a.1.min(b.1));
    (r.0 <= r.1).then_some(r)
}

/// The closure of `units` with `successions`: every covering pair with its days, overlapping and
/// adjacent ranges of one pair merged.
pub fn edges(units: &[Unit], successions: &[Succession]) -> Vec<Edge> {
    let mut by_code: HashMap<&str, Vec<&Unit>> = HashMap::new();
    for u in units {
        by_code.entry(&u.code).or_default().push(u);
    }
    // (ancestor, descendant) → ranges.
    let mut pairs: BTreeMap<(String, String), Vec<Range>> = BTreeMap::new();
    let mut memo: HashMap<(String, NaiveDate), Vec<(String, Range)>> = HashMap::new();
    for u in units {
        for (ancestor, r) in ancestors(u, &by_code, &mut memo, 0) {
            pairs.entry((ancestor, u.code.clone())).or_default().push(r);
        }
    }
    // A successor covers its predecessor's days before the reform, and everything the
    // predecessor covered on those days (a new province covers an old one's communes).
    let mut inherited = Vec::new();
    for s in successions {
        let Some(before) = s.effective_on.pred_opt() else {
            continue;
        };
        let Some(first) = by_code
            .get(s.old_code.as_str())
            .into_iter()
            .flatten()
            .filter(|u| u.valid_from <= before)
            .map(|u| u.valid_from)
            .min()
        else {
            continue;
        };
        let below: Vec<(String, Range)> = pairs
            .iter()
            .filter(|((ancestor, _), _)| *ancestor == s.old_code)
            .flat_map(|((_, descendant), ranges)| {
                ranges
                    .iter()
                    .filter_map(|r| overlap(*r, (first, before)))
                    .map(|r| (descendant.clone(), r))
            })
            .collect();
        let new = by_code
            .get(s.new_code.as_str())
            .into_iter()
            .flatten()
            .filter(|u| u.valid_on(s.effective_on));
        for n in new {
            for (ancestor, _) in ancestors(n, &by_code, &mut memo, 0) {
                for (descendant, r) in &below {
                    inherited.push(((ancestor.clone(), descendant.clone()), *r));
                }
            }
        }
    }
    for (pair, r) in inherited {
        pairs.entry(pair).or_default().push(r);
    }
    let mut out = Vec::new();
    for ((ancestor, descendant), mut ranges) in pairs {
        ranges.sort();
        let mut merged: Vec<Range> = Vec::new();
        for r in ranges {
            match merged.last_mut() {
                Some(last) if r.0 <= last.1.succ_opt().unwrap_or(last.1) => {
                    last.1 = last.1.max(r.1)
                }
                _ => merged.push(r),
            }
        }
        out.extend(merged.into_iter().map(|(from, to)| Edge {
            ancestor: ancestor.clone(),
            descendant: descendant.clone(),
            valid_from: from,
            valid_to: to,
        }));
    }
    out
}

/// `u` itself and every unit above it, each with the days over which it covers `u`.
fn ancestors(
    u: &Unit,
    by_code: &HashMap<&str, Vec<&Unit>>,
    memo: &mut HashMap<(String, NaiveDate), Vec<(String, Range)>>,
    depth: usize,
) -> Vec<(String, Range)> {
    let key = (u.code.clone(), u.valid_from);
    if let Some(found) = memo.get(&key) {
        return found.clone();
    }
    let own = range(u);
    let mut found = vec![(u.code.clone(), own)];
    // Levels are at most three deep; the bound only guards against a cycle in bad data.
    if depth < 8 {
        if let Some(parent) = &u.parent_code {
            for p in by_code.get(parent.as_str()).into_iter().flatten() {
                let Some(both) = overlap(own, range(p)) else {
                    continue;
                };
                for (ancestor, r) in ancestors(p, by_code, memo, depth + 1) {
                    if let Some(days) = overlap(both, r) {
                        found.push((ancestor, days));
                    }
                }
            }
        }
    }
    memo.insert(key, found.clone());
    found
}

/// Whether `ranges` (one pair's edges) hold `day`; `None` asks whether there is any.
pub fn holds(ranges: &[Range], day: Option<NaiveDate>) -> bool {
    match day {
        None => !ranges.is_empty(),
        Some(day) => ranges.iter().any(|(from, to)| *from <= day && day <= *to),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::shipped;
    use crate::units::succession;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn covers(edges: &[Edge], ancestor: &str, descendant: &str, on: &str) -> bool {
        let ranges: Vec<Range> = edges
            .iter()
            .filter(|e| e.ancestor == ancestor && e.descendant == descendant)
            .map(|e| (e.valid_from, e.valid_to))
            .collect();
        holds(&ranges, Some(day(on)))
    }

    #[test]
    fn the_shipped_units_cover_by_day_across_the_reform() {
        let edges = edges(
            &shipped().expect("units"),
            &succession::shipped().expect("mapping"),
        );
        // Old Tây Ninh covers its communes before the reform, not the new commune of the same
        // code after it.
        assert!(covers(&edges, "72", "25459", "2024-05-01"));
        assert!(!covers(&edges, "72", "25459", "2025-07-01"));
        assert!(covers(&edges, "703", "25456", "2022-01-01"));
        // The new province covers both old provinces' communes before the reform and its own
        // communes after.
        assert!(covers(&edges, "80", "25456", "2022-01-01"));
        assert!(covers(&edges, "80", "27739", "2022-01-01"));
        assert!(covers(&edges, "80", "25459", "2026-01-01"));
        // A new commune covers its predecessors' past, not another commune's present.
        assert!(covers(&edges, "25459", "25456", "2022-01-01"));
        assert!(!covers(&edges, "25459", "25456", "2025-07-01"));
        assert!(covers(&edges, "27721", "27739", "2024-01-01"));
        // Split 25510 went to 25510 and 25549: the second covers old 25510, not new 25510.
        assert!(covers(&edges, "25549", "25510", "2024-01-01"));
        assert!(!covers(&edges, "25549", "25510", "2026-01-01"));
        assert!(covers(&edges, "25510", "25510", "2026-01-01"));
        // The new province succeeds old Tây Ninh: it covers its districts' past.
        assert!(covers(&edges, "80", "703", "2024-01-01"));
        assert!(!covers(&edges, "703", "25459", "2026-01-01"));
        // District 703 held its earlier name too: one merged range from 2000.
        let ranges: Vec<_> = edges
            .iter()
            .filter(|e| e.ancestor == "72" && e.descendant == "703")
            .collect();
        assert_eq!(ranges.len(), 1, "{ranges:?}");
        assert_eq!(ranges[0].valid_to, day("2025-06-30"));
    }
}
