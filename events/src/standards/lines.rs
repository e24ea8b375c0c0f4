//! A standard's income lines as written (one object, or a dated list when the lines change
//! within the standard) and the checks that name the bad field.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{invalid, AreaLines, IncomeLines, Rule, StandardError};
use crate::area::Area;

/// The income lines in force from `from` until the next dated lines (or the standard's end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatedLines {
    pub from: NaiveDate,
    pub rural: IncomeLines,
    pub urban: IncomeLines,
}

impl DatedLines {
    pub fn get(&self, area: Area) -> &IncomeLines {
        match area {
            Area::Rural => &self.rural,
            Area::Urban => &self.urban,
        }
    }
}

/// A standard's `lines` as written: one object for the whole standard, or a dated list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub(super) enum LinesFile {
    Single(AreaLines),
    Dated(Vec<DatedLines>),
}

impl<'de> Deserialize<'de> for LinesFile {
    // By hand rather than `untagged`, so a bad entry is named (`lines[1]: missing field …`).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    serde_json::from_value(v)
                        .map_err(|e| D::Error::custom(format!("lines[{i}]: {e}")))
                })
                .collect::<Result<Vec<DatedLines>, _>>()
                .map(LinesFile::Dated),
            v @ serde_json::Value::Object(_) => serde_json::from_value(v)
                .map(LinesFile::Single)
                .map_err(|e| D::Error::custom(format!("lines: {e}"))),
            _ => Err(D::Error::custom(
                "lines must be an object {\"rural\", \"urban\"} or a list of dated lines",
            )),
        }
    }
}

/// Dated lines: at least one, the first from `valid_from`, strictly in date order, all
/// inside the standard's validity.
pub(super) fn check_dated_lines(
    id: &str,
    dated: &[DatedLines],
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
) -> Result<(), StandardError> {
    let Some(first) = dated.first() else {
        return Err(invalid(id, "lines: the list of dated lines is empty"));
    };
    if first.from != valid_from {
        return Err(invalid(
            id,
            format!(
                "lines[0].from is {}, but the first dated lines must start on valid_from ({valid_from})",
                first.from
            ),
        ));
    }
    for (i, pair) in dated.windows(2).enumerate() {
        if pair[1].from <= pair[0].from {
            return Err(invalid(
                id,
                format!(
                    "lines[{}].from ({}) must be after lines[{i}].from ({})",
                    i + 1,
                    pair[1].from,
                    pair[0].from
                ),
            ));
        }
    }
    if let Some(to) = valid_to {
        if let Some((i, l)) = dated.iter().enumerate().find(|(_, l)| l.from > to) {
            return Err(invalid(
                id,
                format!(
                    "lines[{i}].from ({}) is after the standard's valid_to ({to})",
                    l.from
                ),
            ));
        }
    }
    Ok(())
}

/// The lines of both areas of one period, in the order the rule needs them; `field` names
/// them in errors (`lines`, `lines[1]`).
pub(super) fn check_area_lines(
    id: &str,
    field: &str,
    lines: &DatedLines,
    rule: Rule,
) -> Result<(), StandardError> {
    let point_based = matches!(rule, Rule::PointBased { .. });
    for area in Area::ALL {
        let lines = lines.get(area);
        let mut highest = lines.poverty_vnd;
        match (point_based, lines.near_poverty_vnd) {
            (true, None) => {
                return Err(invalid(
                    id,
                    format!("{field}.{area} needs near_poverty_vnd for a point-based rule"),
                ))
            }
            (false, Some(_)) => {
                return Err(invalid(
                    id,
                    format!("{field}.{area}: a count-based rule has no near_poverty_vnd line"),
                ))
            }
            (true, Some(near)) => {
                if near <= highest {
                    return Err(invalid(
                        id,
                        format!("{field}.{area}.near_poverty_vnd must be above poverty_vnd"),
                    ));
                }
                highest = near;
            }
            (false, None) => {}
        }
        if let Some(middle) = lines.middle_income_vnd {
            if middle <= highest {
                return Err(invalid(
                    id,
                    format!("{field}.{area}.middle_income_vnd must be above the lower lines"),
                ));
            }
        }
    }
    if lines.rural.middle_income_vnd.is_some() != lines.urban.middle_income_vnd.is_some() {
        return Err(invalid(
            id,
            format!("{field}: middle_income_vnd must be given for both areas or for neither"),
        ));
    }
    Ok(())
}
