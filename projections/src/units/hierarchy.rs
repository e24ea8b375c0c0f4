//! Levels, parents and validity: the shape every set of units must keep, checked on a batch
//! together with the stored units it adds to or replaces.

use std::collections::HashMap;

use chrono::{Days, NaiveDate};

use super::{Level, RowError, Unit};

/// What is wrong with one unit's place in the hierarchy.
enum Flaw {
    /// A province with a parent, or a unit below province level without one.
    Parent(String),
    /// No unit has the parent code.
    UnknownParent(String),
    /// The parent is of a level this unit cannot hang under.
    Level(String),
    /// The parent is not valid over this unit's whole validity; `at_start` when the gap is at
    /// its `valid_from`.
    Validity { at_start: bool, problem: String },
}

impl Flaw {
    /// The field of the unit's own row the flaw is about.
    fn own_field(&self) -> &'static str {
        match self {
            Flaw::Parent(_) | Flaw::UnknownParent(_) | Flaw::Level(_) => "parent_code",
            Flaw::Validity { at_start: true, .. } => "valid_from",
            Flaw::Validity { .. } => "valid_to",
        }
    }

    /// The field of the parent's row that, changed, caused the flaw.
    fn parent_field(&self) -> &'static str {
        match self {
            Flaw::Level(_) | Flaw::Parent(_) | Flaw::UnknownParent(_) => "level",
            Flaw::Validity { at_start: true, .. } => "valid_from",
            Flaw::Validity { .. } => "valid_to",
        }
    }

    fn problem(&self) -> &str {
        match self {
            Flaw::Parent(p) | Flaw::UnknownParent(p) | Flaw::Level(p) => p,
            Flaw::Validity { problem, .. } => problem,
        }
    }
}

/// Problems of `batch` (line = index + 2, after the header) and of the stored units below the
/// codes it changes, once the batch replaces what `existing` holds under the same keys.
pub(super) fn check(batch: &[Unit], existing: &[Unit]) -> Vec<RowError> {
    let mut merged: HashMap<(&str, NaiveDate), &Unit> = existing
        .iter()
        .map(|u| ((u.code.as_str(), u.valid_from), u))
        .collect();
    for u in batch {
        merged.insert((u.code.as_str(), u.valid_from), u);
    }
    let mut by_code: HashMap<&str, Vec<&Unit>> = HashMap::new();
    for u in merged.values() {
        by_code.entry(u.code.as_str()).or_default().push(u);
    }
    for versions in by_code.values_mut() {
        versions.sort_by_key(|u| u.valid_from);
    }
    let line_of = |i: usize| i as u64 + 2;
    let mut errors = Vec::new();
    for (i, unit) in batch.iter().enumerate() {
        if let Some(flaw) = flaw(unit, &by_code) {
            errors.push(RowError {
                line: line_of(i),
                field: flaw.own_field().to_owned(),
                problem: flaw.problem().to_owned(),
            });
        }
    }
    // Stored units below a changed code keep their parent only if it still fits them.
    let in_batch = |u: &Unit| {
        batch
            .iter()
            .any(|b| b.code == u.code && b.valid_from == u.valid_from)
    };
    for child in existing.iter().filter(|u| !in_batch(u)) {
        let Some(parent) = &child.parent_code else {
            continue;
        };
        let Some(i) = batch.iter().position(|b| &b.code == parent) else {
            continue;
        };
        if errors.iter().any(|e| e.line == line_of(i)) {
            continue;
        }
        if let Some(flaw) = flaw(child, &by_code) {
            errors.push(RowError {
                line: line_of(i),
                field: flaw.parent_field().to_owned(),
                problem: format!(
                    "unit {} ({}) below it would break: {}",
                    child.code,
                    level_name(child.level),
                    flaw.problem()
                ),
            });
        }
    }
    errors.sort_by_key(|e| e.line);
    errors
}

fn flaw(unit: &Unit, by_code: &HashMap<&str, Vec<&Unit>>) -> Option<Flaw> {
    let allowed: &[Level] = match unit.level {
        Level::Province => &[],
        Level::District => &[Level::Province],
        Level::Commune => &[Level::District, Level::Province],
    };
    let parent = match (&unit.parent_code, unit.level) {
        (None, Level::Province) => return None,
        (Some(p), Level::Province) => {
            return Some(Flaw::Parent(format!(
                "a province has no parent, but {p} is given"
            )))
        }
        (None, _) => {
            return Some(Flaw::Parent(
                "must not be empty below province level".into(),
            ))
        }
        (Some(p), _) => p,
    };
    let Some(versions) = by_code.get(parent.as_str()) else {
        return Some(Flaw::UnknownParent(format!("no unit has code {parent}")));
    };
    // Walk the child's validity from its first day, through the parent's consecutive versions.
    let mut day = unit.valid_from;
    loop {
        let Some(v) = versions.iter().find(|v| v.valid_on(day)) else {
            return Some(Flaw::Validity {
                at_start: day == unit.valid_from,
                problem: format!(
                    "parent {parent} is not valid on {day}, within this unit's validity {}",
                    span(unit)
                ),
            });
        };
        if !allowed.contains(&v.level) {
            return Some(Flaw::Level(format!(
                "parent {parent} is a {} on {day}; a {}'s parent must be {}",
                level_name(v.level),
                level_name(unit.level),
                match unit.level {
                    Level::District => "a province",
                    _ => "a district or a province",
                }
            )));
        }
        match (v.valid_to, unit.valid_to) {
            (None, _) => return None,
            (Some(end), Some(until)) if end >= until => return None,
            (Some(end), _) => day = end.checked_add_days(Days::new(1))?,
        }
    }
}

fn span(unit: &Unit) -> String {
    match unit.valid_to {
        Some(to) => format!("{} to {to}", unit.valid_from),
        None => format!("from {}", unit.valid_from),
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Province => "province",
        Level::District => "district",
        Level::Commune => "commune",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(code: &str, level: Level, parent: Option<&str>, from: &str, to: Option<&str>) -> Unit {
        let day = |s: &str| s.parse().expect("date");
        Unit {
            code: code.into(),
            name: format!("Unit {code}"),
            level,
            parent_code: parent.map(Into::into),
            valid_from: day(from),
            valid_to: to.map(day),
        }
    }

    fn stored() -> Vec<Unit> {
        vec![
            unit(
                "72",
                Level::Province,
                None,
                "2000-01-01",
                Some("2025-06-30"),
            ),
            unit("80", Level::Province, None, "2025-07-01", None),
            unit(
                "703",
                Level::District,
                Some("72"),
                "2000-01-01",
                Some("2025-06-30"),
            ),
            unit(
                "25456",
                Level::Commune,
                Some("703"),
                "2000-01-01",
                Some("2025-06-30"),
            ),
        ]
    }

    fn fields(batch: &[Unit]) -> Vec<(u64, String)> {
        check(batch, &stored())
            .into_iter()
            .map(|e| (e.line, e.field))
            .collect()
    }

    #[test]
    fn levels_follow_the_hierarchy() {
        let c = |parent: &str| {
            unit(
                "99001",
                Level::Commune,
                Some(parent),
                "2021-01-01",
                Some("2024-12-31"),
            )
        };
        assert!(fields(&[c("703"), c("72")]).is_empty());
        assert_eq!(fields(&[c("25456")]), [(2, "parent_code".to_owned())]);
        let district_under_district = unit(
            "799",
            Level::District,
            Some("703"),
            "2021-01-01",
            Some("2024-12-31"),
        );
        assert_eq!(
            fields(&[district_under_district]),
            [(2, "parent_code".to_owned())]
        );
        let province_with_parent = unit("25456", Level::Province, Some("72"), "2000-01-01", None);
        assert_eq!(
            fields(&[province_with_parent])[0],
            (2, "parent_code".to_owned())
        );
        let orphan = unit("99002", Level::Commune, None, "2021-01-01", None);
        assert_eq!(fields(&[orphan]), [(2, "parent_code".to_owned())]);
        let unknown = unit("99003", Level::Commune, Some("999"), "2021-01-01", None);
        assert_eq!(fields(&[unknown]), [(2, "parent_code".to_owned())]);
    }

    #[test]
    fn a_parent_must_be_valid_over_the_whole_validity() {
        // District 703 ends on 2025-06-30: an open-ended commune under it outlives it.
        let open = unit("99001", Level::Commune, Some("703"), "2021-01-01", None);
        assert_eq!(fields(&[open]), [(2, "valid_to".to_owned())]);
        let early = unit("99001", Level::Commune, Some("80"), "2024-01-01", None);
        assert_eq!(fields(&[early]), [(2, "valid_from".to_owned())]);
        // Two consecutive versions of a parent cover a child together.
        let renamed = unit(
            "703",
            Level::District,
            Some("72"),
            "2013-12-30",
            Some("2025-06-30"),
        );
        let mut before = stored()[2].clone();
        before.valid_to = "2013-12-29".parse().ok();
        assert!(fields(&[before, renamed]).is_empty());
    }

    #[test]
    fn a_changed_unit_must_still_fit_the_units_stored_below_it() {
        let shortened = unit(
            "703",
            Level::District,
            Some("72"),
            "2000-01-01",
            Some("2020-12-31"),
        );
        let errors = check(&[shortened], &stored());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!((errors[0].line, errors[0].field.as_str()), (2, "valid_to"));
        assert!(errors[0].problem.contains("25456"), "{errors:?}");
        let demoted = unit(
            "703",
            Level::Commune,
            Some("72"),
            "2000-01-01",
            Some("2025-06-30"),
        );
        assert_eq!(fields(&[demoted]), [(2, "level".to_owned())]);
    }
}
