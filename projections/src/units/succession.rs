//! Which new commune(s) took over each old commune at a reform of the units (the 2025 merger,
//! Resolution 1682/NQ-UBTVQH15): reference data, like the units, that coverage, the reform of
//! households and the refusal of an ended commune all read.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::RowError;

/// The shipped mapping of every old commune of old Tây Ninh and old Long An to the new
/// communes of Tây Ninh (see `data/README-units.md` for sources and known errors).
pub const SHIPPED_MAPPING_CSV: &str = include_str!("../../../data/units-2025-mapping.csv");

/// The day the shipped mapping took effect: the new communes operate from 1 July 2025.
pub fn shipped_effective_on() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 7, 1).expect("a valid date")
}

/// The legal basis of the shipped mapping.
pub const SHIPPED_LEGAL_BASIS: &str = "1682/NQ-UBTVQH15";

/// One (old commune → new commune) pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Succession {
    pub old_code: String,
    pub new_code: String,
    /// The whole old commune went into this new one; `false`: only part of it (a split).
    pub whole: bool,
    /// The first day of the new commune.
    pub effective_on: NaiveDate,
    pub legal_basis: String,
}

#[derive(Debug, Deserialize)]
struct RawRow {
    old_code: String,
    new_code: String,
    whole: String,
}

/// Parses a mapping file (`old_code,old_name,new_code,new_name,whole`; names are informative
/// only) effective on `effective_on`. A `whole` old commune has exactly one row; a split one
/// two or more, all `no`. Every problem is reported; nothing is returned unless all is good.
pub fn parse_csv(
    text: &str,
    effective_on: NaiveDate,
    legal_basis: &str,
) -> Result<Vec<Succession>, Vec<RowError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let bad = |line: u64, field: &str, problem: String| RowError {
        line,
        field: field.to_owned(),
        problem,
    };
    for (index, record) in reader.deserialize::<RawRow>().enumerate() {
        let line = index as u64 + 2;
        let raw = match record {
            Ok(raw) => raw,
            Err(e) => {
                errors.push(bad(line, "row", format!("cannot be read ({e})")));
                continue;
            }
        };
        for (field, code) in [("old_code", &raw.old_code), ("new_code", &raw.new_code)] {
            if code.is_empty() || !code.chars().all(|c| c.is_ascii_digit()) {
                errors.push(bad(
                    line,
                    field,
                    format!("{code:?} is not a numeric unit code"),
                ));
            }
        }
        let whole = match raw.whole.to_lowercase().as_str() {
            "yes" | "true" | "1" => true,
            "no" | "false" | "0" => false,
            other => {
                errors.push(bad(line, "whole", format!("{other:?} is not yes or no")));
                continue;
            }
        };
        rows.push((
            line,
            Succession {
                old_code: raw.old_code,
                new_code: raw.new_code,
                whole,
                effective_on,
                legal_basis: legal_basis.to_owned(),
            },
        ));
    }
    let mut by_old: HashMap<&str, Vec<(u64, &Succession)>> = HashMap::new();
    for (line, s) in &rows {
        by_old.entry(&s.old_code).or_default().push((*line, s));
    }
    for pairs in by_old.values() {
        let (line, first) = pairs[0];
        let wholes = pairs.iter().filter(|(_, s)| s.whole).count();
        if wholes > 0 && pairs.len() > 1 {
            errors.push(bad(
                line,
                "whole",
                format!(
                    "old commune {} has {} rows; one that went whole into a new commune has exactly one",
                    first.old_code,
                    pairs.len()
                ),
            ));
        } else if wholes == 0 && pairs.len() == 1 {
            errors.push(bad(
                line,
                "whole",
                format!(
                    "old commune {} is split (whole = no) but names only one new commune",
                    first.old_code
                ),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (line, s) in pairs {
            if !seen.insert(&s.new_code) {
                errors.push(bad(
                    *line,
                    "new_code",
                    format!("{} → {} is listed twice", s.old_code, s.new_code),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(rows.into_iter().map(|(_, s)| s).collect())
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

/// The shipped mapping, parsed (no database), with the provinces: new Tây Ninh (80) takes over
/// old Tây Ninh (72) and old Long An (80) whole (Resolution 202/2025/QH15 arranged the
/// provinces; 1682 the communes).
pub fn shipped() -> Result<Vec<Succession>, RowError> {
    let mut rows = parse_csv(
        SHIPPED_MAPPING_CSV,
        shipped_effective_on(),
        SHIPPED_LEGAL_BASIS,
    )
    .map_err(|mut errors| errors.swap_remove(0))?;
    for old in ["72", "80"] {
        rows.push(Succession {
            old_code: old.to_owned(),
            new_code: "80".to_owned(),
            whole: true,
            effective_on: shipped_effective_on(),
            legal_basis: "202/2025/QH15".to_owned(),
        });
    }
    Ok(rows)
}

/// The successors of ended communes, with the new communes' names: what a refusal of an ended
/// commune tells the user to write instead.
#[derive(Debug, Clone, Default)]
pub struct Successors(HashMap<String, Vec<(Succession, String)>>);

impl Successors {
    /// From the successions and the units (for the new communes' names on their first day).
    pub fn new(successions: &[Succession], units: &[super::Unit]) -> Self {
        let mut map: HashMap<String, Vec<(Succession, String)>> = HashMap::new();
        for s in successions {
            let name = units
                .iter()
                .find(|u| u.code == s.new_code && u.valid_on(s.effective_on))
                .map(|u| u.name.clone())
                .unwrap_or_default();
            map.entry(s.old_code.clone())
                .or_default()
                .push((s.clone(), name));
        }
        Successors(map)
    }

    /// What replaced `code` by `day`, in words ("since 2025-07-01 (1682/NQ-UBTVQH15) it is
    /// part of 25459 Phường Tân Ninh"); `None` when nothing had replaced it by then.
    pub fn explain(&self, code: &str, day: NaiveDate) -> Option<String> {
        let rows: Vec<&(Succession, String)> = self
            .0
            .get(code)?
            .iter()
            .filter(|(s, _)| s.effective_on <= day)
            .collect();
        let (first, _) = rows.first()?;
        let names: Vec<String> = rows
            .iter()
            .map(|(s, name)| format!("{} {name}", s.new_code).trim_end().to_owned())
            .collect();
        let how = if first.whole {
            format!("it is part of {}", names.join(", "))
        } else {
            format!(
                "it was split between {}; choose the one the household's hamlet went to",
                names.join(" and ")
            )
        };
        Some(format!(
            "since {} ({}) {how}",
            first.effective_on, first.legal_basis
        ))
    }

    /// The new communes that took over `code` (empty when none).
    pub fn of(&self, code: &str) -> Vec<&Succession> {
        self.0
            .get(code)
            .map(|rows| rows.iter().map(|(s, _)| s).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_mapping_has_259_whole_communes_and_21_split_ones() {
        let rows = parse_csv(SHIPPED_MAPPING_CSV, shipped_effective_on(), "t").expect("valid");
        assert_eq!(rows.len(), 302);
        let whole = rows.iter().filter(|s| s.whole).count();
        assert_eq!(whole, 259);
        let split: std::collections::HashSet<_> = rows
            .iter()
            .filter(|s| !s.whole)
            .map(|s| &s.old_code)
            .collect();
        assert_eq!(split.len(), 21);
        let phuong_1 = rows.iter().find(|s| s.old_code == "25456").expect("25456");
        assert_eq!(
            (phuong_1.new_code.as_str(), phuong_1.whole),
            ("25459", true)
        );
        // The NSO table and the resolution, not dvhcvn: old Vĩnh Thạnh went into Tân Hưng.
        let vinh_thanh = rows.iter().find(|s| s.old_code == "27739").expect("27739");
        assert_eq!(vinh_thanh.new_code, "27721");
    }

    #[test]
    fn an_ended_commune_is_explained_by_its_successors() {
        let units = crate::units::shipped().expect("units");
        let successors = Successors::new(&shipped().expect("mapping"), &units);
        let day = |s: &str| s.parse::<NaiveDate>().expect("date");
        assert_eq!(successors.explain("25456", day("2025-06-30")), None);
        let whole = successors
            .explain("25456", day("2026-03-01"))
            .expect("ended");
        assert!(whole.contains("25459 Phường Tân Ninh"), "{whole}");
        assert!(whole.contains("1682/NQ-UBTVQH15"), "{whole}");
        let split = successors
            .explain("25510", day("2026-03-01"))
            .expect("ended");
        assert!(
            split.contains("split between") && split.contains("25549"),
            "{split}"
        );
    }

    #[test]
    fn a_whole_commune_with_two_rows_and_a_lone_split_row_are_named() {
        let text = "old_code,old_name,new_code,new_name,whole\n\
                    1,A,10,X,yes\n1,A,11,Y,yes\n2,B,10,X,no\n3,C,1x,Z,maybe\n";
        let day = shipped_effective_on();
        let errors = parse_csv(text, day, "test").expect_err("invalid");
        let named: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert!(named.contains(&(2, "whole")), "{errors:?}");
        assert!(named.contains(&(4, "whole")), "{errors:?}");
        assert!(named.contains(&(5, "new_code")), "{errors:?}");
        assert!(named.contains(&(5, "whole")), "{errors:?}");
    }
}
