//! The optional hamlet file of `ansinh units reform` (`old_code,hamlet,new_code`): which new
//! commune each hamlet of a split old commune went to. The resolution does not say; a province
//! that knows it writes it down, and households of hamlets it does not name wait on the
//! worklist for an officer.

use std::collections::HashMap;

use ansinh_events::text::fold;
use ansinh_projections::units::succession::Successors;
use serde::Deserialize;

/// A bad row of a hamlet file, named by its line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {field}: {problem}")]
pub struct HamletError {
    pub line: u64,
    pub field: &'static str,
    pub problem: String,
}

#[derive(Debug, Deserialize)]
struct RawRow {
    old_code: String,
    hamlet: String,
    new_code: String,
}

/// (old commune, hamlet folded: no case, no diacritics) → new commune.
#[derive(Debug, Clone, Default)]
pub struct HamletRules(HashMap<(String, String), String>);

impl HamletRules {
    /// Parses and checks a hamlet file against the successions: the old commune must have been
    /// split and the new one must be among its successors. Every problem is reported; no rules
    /// are returned unless the whole file is good.
    pub fn parse(text: &str, successors: &Successors) -> Result<HamletRules, Vec<HamletError>> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut rules = HashMap::new();
        let mut errors = Vec::new();
        for (index, record) in reader.deserialize::<RawRow>().enumerate() {
            let line = index as u64 + 2;
            let bad = |field: &'static str, problem: String| HamletError {
                line,
                field,
                problem,
            };
            let raw = match record {
                Ok(raw) => raw,
                Err(e) => {
                    errors.push(bad("row", format!("cannot be read ({e})")));
                    continue;
                }
            };
            let takers = successors.of(&raw.old_code);
            if takers.is_empty() {
                errors.push(bad(
                    "old_code",
                    format!("{:?} is not an old commune of the mapping", raw.old_code),
                ));
                continue;
            }
            if takers.iter().any(|s| s.whole) {
                errors.push(bad(
                    "old_code",
                    format!(
                        "{} went whole into {}; its households move without a hamlet rule",
                        raw.old_code, takers[0].new_code
                    ),
                ));
                continue;
            }
            if raw.hamlet.is_empty() {
                errors.push(bad("hamlet", "must not be empty".into()));
                continue;
            }
            if !takers.iter().any(|s| s.new_code == raw.new_code) {
                let codes: Vec<&str> = takers.iter().map(|s| s.new_code.as_str()).collect();
                errors.push(bad(
                    "new_code",
                    format!(
                        "{:?} did not take over part of {}; it went to {}",
                        raw.new_code,
                        raw.old_code,
                        codes.join(", ")
                    ),
                ));
                continue;
            }
            let key = (raw.old_code.clone(), fold(&raw.hamlet));
            match rules.get(&key) {
                Some(other) if *other != raw.new_code => errors.push(bad(
                    "new_code",
                    format!(
                        "hamlet {:?} of {} is sent to {other} by an earlier line",
                        raw.hamlet, raw.old_code
                    ),
                )),
                _ => {
                    rules.insert(key, raw.new_code);
                }
            }
        }
        if errors.is_empty() {
            Ok(HamletRules(rules))
        } else {
            Err(errors)
        }
    }

    /// The new commune of a household of `old_code` living in `hamlet`, if a rule names it.
    pub fn target(&self, old_code: &str, hamlet: &str) -> Option<&str> {
        self.0
            .get(&(old_code.to_owned(), fold(hamlet)))
            .map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ansinh_projections::units::{self, succession};

    fn successors() -> Successors {
        Successors::new(
            &succession::shipped().expect("mapping"),
            &units::shipped().expect("units"),
        )
    }

    #[test]
    fn a_rule_finds_its_hamlet_however_it_is_spelled() {
        let text = "old_code,hamlet,new_code\n25510,Ấp Trà Sim,25549\n";
        let rules = HamletRules::parse(text, &successors()).expect("valid");
        assert_eq!(rules.target("25510", "ấp tra sim"), Some("25549"));
        assert_eq!(rules.target("25510", "Ấp Khác"), None);
    }

    #[test]
    fn every_bad_row_is_named() {
        let text = "old_code,hamlet,new_code\n\
                    25456,Ấp 1,25459\n\
                    25510,Ấp 2,25459\n\
                    99999,Ấp 3,25459\n\
                    25510,,25549\n\
                    25510,Ấp 4,25549\n\
                    25510,ap 4,25510\n";
        let errors = HamletRules::parse(text, &successors()).expect_err("invalid");
        let named: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.field)).collect();
        assert_eq!(
            named,
            [
                (2, "old_code"),
                (3, "new_code"),
                (4, "old_code"),
                (5, "hamlet"),
                (7, "new_code")
            ],
            "{errors:?}"
        );
    }
}
