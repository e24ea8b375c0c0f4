//! Dated policy parameters (amounts that change by decision, such as the monthly electricity
//! subsidy), kept as data for read models and reports. The shipped file is
//! `events/parameters/policy-parameters.json`; a user file with the same layout replaces it.
//! Each value says whether it is confirmed; unconfirmed values must be shown as such.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::household::Policy;
use crate::money::Vnd;

/// `events/parameters/policy-parameters.json`.
pub const POLICY_PARAMETERS_JSON: &str = include_str!("../parameters/policy-parameters.json");

/// Name of the monthly electricity subsidy per household (hỗ trợ tiền điện).
pub const ELECTRICITY_SUBSIDY_MONTHLY: &str = "electricity_subsidy_monthly";

/// The plausible maximum of one support is parameter `support_max_<policy>`, or
/// `support_max_default` for a policy without its own.
pub const SUPPORT_MAX_PREFIX: &str = "support_max_";
/// Name of the bound for policies without their own.
pub const SUPPORT_MAX_DEFAULT: &str = "support_max_default";
/// Above any support whatever the parameters say (one thousand billion VND): with it, a
/// register's sums stay far below what any integer type holds.
pub const SUPPORT_CEILING: Vnd = match Vnd::new(1_000_000_000_000) {
    Ok(v) => v,
    Err(_) => Vnd::ZERO,
};

/// The largest amount one support may carry on a date, and the parameter that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportMax {
    pub amount: Vnd,
    /// The parameter's name, or `None` when only [`SUPPORT_CEILING`] applies.
    pub parameter: Option<String>,
}

/// An amount fixed by a decision, or a range when it follows a price (30 kWh at the tier-1
/// electricity price).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Amount {
    Fixed(Vnd),
    Range { min: Vnd, max: Vnd },
}

impl Amount {
    pub fn min(self) -> Vnd {
        match self {
            Amount::Fixed(v) => v,
            Amount::Range { min, .. } => min,
        }
    }

    pub fn max(self) -> Vnd {
        match self {
            Amount::Fixed(v) => v,
            Amount::Range { max, .. } => max,
        }
    }
}

/// One value of a parameter and the period it holds for (both ends inclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatedValue {
    pub valid_from: NaiveDate,
    #[serde(default)]
    pub valid_to: Option<NaiveDate>,
    pub amount_vnd: Amount,
    pub confirmed: bool,
    pub source: String,
    #[serde(default)]
    pub note: Option<String>,
}

impl DatedValue {
    pub fn holds_on(&self, date: NaiveDate) -> bool {
        date >= self.valid_from && self.valid_to.is_none_or(|to| date <= to)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyParameter {
    pub name: String,
    #[serde(default)]
    pub policy: Option<Policy>,
    pub unit: String,
    pub description: String,
    pub values: Vec<DatedValue>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParametersFile {
    parameters: Vec<PolicyParameter>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyParameterError {
    #[error("policy parameter file {source_name} is not valid: {message}")]
    Parse {
        source_name: String,
        message: String,
    },
    #[error("policy parameter {name} is not valid: {message}")]
    Invalid { name: String, message: String },
    #[error("policy parameter file {path} could not be read: {message}")]
    Io { path: String, message: String },
}

/// Every dated parameter, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyParameters {
    by_name: BTreeMap<String, PolicyParameter>,
}

impl PolicyParameters {
    /// The shipped parameters.
    pub fn builtin() -> Result<PolicyParameters, PolicyParameterError> {
        PolicyParameters::from_json("built-in policy-parameters.json", POLICY_PARAMETERS_JSON)
    }

    /// The shipped parameters, parsed once per process and shared.
    pub fn shipped() -> Arc<PolicyParameters> {
        static SHIPPED: OnceLock<Arc<PolicyParameters>> = OnceLock::new();
        SHIPPED
            .get_or_init(|| {
                // The shipped file is checked by a unit test; an empty set (only the ceiling
                // applies) is the safe fallback were it ever broken.
                Arc::new(PolicyParameters::builtin().unwrap_or_default())
            })
            .clone()
    }

    /// Reads a parameter file of the shipped layout.
    pub fn load_file(path: &Path) -> Result<PolicyParameters, PolicyParameterError> {
        let text = std::fs::read_to_string(path).map_err(|e| PolicyParameterError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        PolicyParameters::from_json(&path.display().to_string(), &text)
    }

    /// Parses and checks a parameter file: unique names, periods in order and not overlapping,
    /// ranges with min ≤ max.
    pub fn from_json(
        source_name: &str,
        text: &str,
    ) -> Result<PolicyParameters, PolicyParameterError> {
        let file: ParametersFile =
            serde_json::from_str(text).map_err(|e| PolicyParameterError::Parse {
                source_name: source_name.to_owned(),
                message: e.to_string(),
            })?;
        let mut by_name = BTreeMap::new();
        for mut parameter in file.parameters {
            let bad = |message: &str| PolicyParameterError::Invalid {
                name: parameter.name.clone(),
                message: message.to_owned(),
            };
            if parameter.name.trim().is_empty() {
                return Err(bad("the name must not be empty"));
            }
            if parameter.values.is_empty() {
                return Err(bad("a parameter needs at least one dated value"));
            }
            parameter.values.sort_by_key(|v| v.valid_from);
            let mut previous_end: Option<Option<NaiveDate>> = None;
            for value in &parameter.values {
                if value.valid_to.is_some_and(|to| to < value.valid_from) {
                    return Err(bad("a value ends before it starts"));
                }
                if value.amount_vnd.min() > value.amount_vnd.max() {
                    return Err(bad("a range has min above max"));
                }
                match previous_end {
                    Some(None) => return Err(bad("a value without an end is followed by another")),
                    Some(Some(end)) if value.valid_from <= end => {
                        return Err(bad("two values overlap"))
                    }
                    _ => {}
                }
                previous_end = Some(value.valid_to);
            }
            let name = parameter.name.clone();
            if by_name.insert(name.clone(), parameter).is_some() {
                return Err(PolicyParameterError::Invalid {
                    name,
                    message: "the name is defined twice".to_owned(),
                });
            }
        }
        Ok(PolicyParameters { by_name })
    }

    pub fn get(&self, name: &str) -> Option<&PolicyParameter> {
        self.by_name.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// The largest amount one support of `policy` disbursed on `date` may carry: the policy's
    /// own bound, else the default one, never above [`SUPPORT_CEILING`].
    pub fn support_max(&self, policy: Policy, date: NaiveDate) -> SupportMax {
        let own = format!("{SUPPORT_MAX_PREFIX}{}", policy.as_str());
        let found = [own.as_str(), SUPPORT_MAX_DEFAULT]
            .into_iter()
            .find_map(|name| Some((name, self.value_on(name, date)?)));
        match found {
            Some((name, value)) => SupportMax {
                amount: value.amount_vnd.max().min(SUPPORT_CEILING),
                parameter: Some(name.to_owned()),
            },
            None => SupportMax {
                amount: SUPPORT_CEILING,
                parameter: None,
            },
        }
    }

    /// The value of parameter `name` that holds on `date`, if any.
    pub fn value_on(&self, name: &str, date: NaiveDate) -> Option<&DatedValue> {
        self.get(name)?.values.iter().find(|v| v.holds_on(date))
    }
}
