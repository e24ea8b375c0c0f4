//! What an admin may change in the units: only rows that lie below its own unit both before
//! and after the change. Scope is about units (who covers which), so these rules decide before
//! the hierarchy is even looked at.

use std::collections::HashSet;

use super::Unit;

/// Why an admin of `admin` may not write `row`, or `None` when it may. `below` is every code
/// the admin's unit covers (itself included, as `admin_unit_closure` holds it); `existing` the
/// stored units.
///
/// * A row must hang below the admin's unit afterwards: its parent is covered (a province, with
///   no parent, is above every admin).
/// * A stored row (same code and `valid_from`) must have hung there before, and every stored
///   version of a code must lie below the admin (a new version of a unit elsewhere would pull
///   it, and all below it, into the admin's scope).
/// * Moving a row to another parent takes an admin strictly above both parents.
/// * The admin's own unit is placed from above: only its name may change.
pub fn refusal(
    admin: &str,
    below: &HashSet<String>,
    row: &Unit,
    existing: &[Unit],
) -> Option<String> {
    let stored = existing
        .iter()
        .find(|u| u.code == row.code && u.valid_from == row.valid_from);
    if row.code == admin {
        let unchanged = stored.is_some_and(|s| {
            s.level == row.level && s.parent_code == row.parent_code && s.valid_to == row.valid_to
        });
        return (!unchanged).then(|| {
            format!(
                "unit {admin} is this admin's own unit: its level, parent and validity are decided above it"
            )
        });
    }
    let outside = |what: &str| format!("{what} is outside the scope of this admin (unit {admin})");
    if existing.iter().any(|u| u.code == row.code) && !below.contains(&row.code) {
        return Some(outside(&format!("unit {}", row.code)));
    }
    if let Some(old) = stored.and_then(|s| s.parent_code.as_ref()) {
        if !below.contains(old) {
            return Some(outside(&format!("unit {}'s parent {old}", row.code)));
        }
    }
    let Some(new) = &row.parent_code else {
        return Some(outside(&format!("a unit with no parent ({})", row.code)));
    };
    if !below.contains(new) {
        return Some(outside(&format!("parent {new}")));
    }
    match stored.map(|s| &s.parent_code) {
        Some(Some(old)) if old != new && (old == admin || new == admin) => Some(format!(
            "moving unit {} from {old} to {new} takes an admin of a unit above both",
            row.code
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::Level;
    use super::*;

    fn unit(code: &str, level: Level, parent: Option<&str>) -> Unit {
        Unit {
            code: code.into(),
            name: format!("Unit {code}"),
            level,
            parent_code: parent.map(Into::into),
            valid_from: "2000-01-01".parse().expect("date"),
            valid_to: "2025-06-30".parse().ok(),
        }
    }

    fn stored() -> Vec<Unit> {
        vec![
            unit("72", Level::Province, None),
            unit("703", Level::District, Some("72")),
            unit("705", Level::District, Some("72")),
            unit("25456", Level::Commune, Some("703")),
            unit("25459", Level::Commune, Some("703")),
            unit("25486", Level::Commune, Some("705")),
        ]
    }

    fn below(codes: &[&str]) -> HashSet<String> {
        codes.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn a_commune_admin_takes_over_nothing() {
        let admin = below(&["25456"]);
        let sibling = unit("25459", Level::Commune, Some("25456"));
        assert!(refusal("25456", &admin, &sibling, &stored()).is_some());
        let promoted = unit("25456", Level::Province, None);
        assert!(refusal("25456", &admin, &promoted, &stored()).is_some());
        let mut renamed = unit("25456", Level::Commune, Some("703"));
        renamed.name = "Phường Một".into();
        assert_eq!(refusal("25456", &admin, &renamed, &stored()), None);
    }

    #[test]
    fn re_parenting_takes_an_admin_strictly_above_both_parents() {
        let district = below(&["703", "25456", "25459"]);
        let province = below(&["72", "703", "705", "25456", "25459", "25486"]);
        let to_705 = unit("25459", Level::Commune, Some("705"));
        assert!(refusal("703", &district, &to_705, &stored()).is_some());
        assert_eq!(refusal("72", &province, &to_705, &stored()), None);
        let to_72 = unit("25459", Level::Commune, Some("72"));
        assert!(refusal("72", &province, &to_72, &stored()).is_some());
        // Nothing stored elsewhere is pulled below the district: not 705, nor a new version.
        let mut taken = unit("705", Level::District, Some("703"));
        taken.valid_from = "2030-01-01".parse().expect("date");
        assert!(refusal("703", &district, &taken, &stored()).is_some());
        let new = unit("99001", Level::Commune, Some("703"));
        assert_eq!(refusal("703", &district, &new, &stored()), None);
    }
}
