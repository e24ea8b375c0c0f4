//! The registry of standards: the shipped national files plus files from a user folder.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;

use super::{Standard, StandardError};
use crate::policy_params::PolicyParameters;

/// The file of a standards folder that replaces the shipped policy parameters.
pub const PARAMETERS_FILE: &str = "policy-parameters.json";

/// `events/standards/vn-2016-2020.json`: Decision 59/2015/QĐ-TTg.
pub const VN_2016_2020_JSON: &str = include_str!("../../standards/vn-2016-2020.json");
/// `events/standards/vn-2022-2025.json`: Decree 07/2021/NĐ-CP.
pub const VN_2022_2025_JSON: &str = include_str!("../../standards/vn-2022-2025.json");
/// `events/standards/vn-2026-2030.json`: Decree 351/2025/NĐ-CP (lines change on 2027-01-01;
/// indicators and middle-income line not confirmed).
pub const VN_2026_2030_JSON: &str = include_str!("../../standards/vn-2026-2030.json");
/// `events/standards/example-provincial-tay-ninh.json`: an EXAMPLE of a provincial standard with
/// invented thresholds. Not part of [`Standards::builtin`]; the loader refuses it unless a user
/// copies it, enters confirmed thresholds and clears its `example` flag.
pub const EXAMPLE_PROVINCIAL_JSON: &str =
    include_str!("../../standards/example-provincial-tay-ninh.json");

/// The standards an installation knows, by id, with the dated policy parameters the rules
/// consult (a folder's `policy-parameters.json`, else the shipped ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standards {
    by_id: BTreeMap<String, (Standard, String)>,
    parameters: Arc<PolicyParameters>,
}

impl Default for Standards {
    fn default() -> Self {
        Standards {
            by_id: BTreeMap::new(),
            parameters: PolicyParameters::shipped(),
        }
    }
}

impl Standards {
    /// The national standards shipped with the crate: `vn-2016-2020`, `vn-2022-2025` and
    /// `vn-2026-2030`.
    pub fn builtin() -> Result<Standards, StandardError> {
        let mut standards = Standards::default();
        for (name, text) in [
            ("vn-2016-2020.json", VN_2016_2020_JSON),
            ("vn-2022-2025.json", VN_2022_2025_JSON),
            ("vn-2026-2030.json", VN_2026_2030_JSON),
        ] {
            standards.add_json(&format!("built-in {name}"), text)?;
        }
        Ok(standards)
    }

    /// The built-in standards plus every `*.json` file of `dir` (see [`Standards::add_dir`]).
    pub fn builtin_with_dir(dir: &Path) -> Result<Standards, StandardError> {
        let mut standards = Standards::builtin()?;
        standards.add_dir(dir)?;
        Ok(standards)
    }

    /// Adds every `*.json` file of `dir`, in file-name order. A user file with the id of a
    /// built-in standard replaces it (so a shipped number can be corrected without a release);
    /// two user files with one id, a file marked as an example, or an invalid file are errors.
    /// `policy-parameters.json` is not a standard: it replaces the shipped policy parameters.
    pub fn add_dir(&mut self, dir: &Path) -> Result<(), StandardError> {
        let io = |e: std::io::Error| StandardError::Io {
            path: dir.display().to_string(),
            message: e.to_string(),
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.file_name().and_then(|n| n.to_str()) == Some(PARAMETERS_FILE) {
                self.parameters = Arc::new(PolicyParameters::load_file(&path)?);
            } else if path.extension().and_then(|e| e.to_str()) == Some("json") && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        for path in files {
            let source_name = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| StandardError::Io {
                path: source_name.clone(),
                message: e.to_string(),
            })?;
            self.add_json(&source_name, &text)?;
        }
        Ok(())
    }

    /// Adds one standard file. Refuses examples and ids already added from a non-built-in file.
    pub fn add_json(&mut self, source_name: &str, text: &str) -> Result<(), StandardError> {
        let standard = Standard::from_json(source_name, text)?;
        if standard.is_example() {
            return Err(StandardError::Example {
                source_name: source_name.to_owned(),
            });
        }
        if let Some((_, first)) = self.by_id.get(standard.id()) {
            if !first.starts_with("built-in ") {
                return Err(StandardError::DuplicateId {
                    id: standard.id().to_owned(),
                    first: first.clone(),
                    second: source_name.to_owned(),
                });
            }
        }
        self.by_id
            .insert(standard.id().to_owned(), (standard, source_name.to_owned()));
        Ok(())
    }

    /// Adds (or replaces) a standard built elsewhere, for tests and tools.
    pub fn insert(&mut self, standard: Standard) {
        self.by_id
            .insert(standard.id().to_owned(), (standard, "inserted".to_owned()));
    }

    /// The dated policy parameters commands are checked against.
    pub fn parameters(&self) -> &Arc<PolicyParameters> {
        &self.parameters
    }

    pub fn get(&self, id: &str) -> Option<&Standard> {
        self.by_id.get(id).map(|(s, _)| s)
    }

    /// Where a standard came from: `built-in vn-2022-2025.json` or a file path.
    pub fn source_of(&self, id: &str) -> Option<&str> {
        self.by_id.get(id).map(|(_, source)| source.as_str())
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.by_id.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Standard> {
        self.by_id.values().map(|(s, _)| s)
    }

    /// Every standard in force on `date`, in id order: what a survey on that date is
    /// classified under.
    pub fn in_force_on(&self, date: NaiveDate) -> Vec<Standard> {
        self.iter()
            .filter(|s| s.in_force_on(date))
            .cloned()
            .collect()
    }
}
