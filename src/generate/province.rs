//! Which province `ansinh generate` makes, and its communes: old Tây Ninh alone (province 72,
//! histories 2021–2024), or new Tây Ninh (code 80 since 1 July 2025), whose households lived in
//! the communes of old Tây Ninh and old Long An until the reform and in its 96 new communes
//! since (Resolution 1682/NQ-UBTVQH15).

use std::collections::HashMap;
use std::ops::RangeInclusive;

use ansinh_events::Area;
use ansinh_projections::units::{self, Level, Unit};
use chrono::NaiveDate;

use super::trajectory::{Baseline, BASELINE_LONG_AN_80, BASELINE_TAY_NINH_72};
use super::{date, shipped_units, Commune, GenerateError};

/// The province a generated file covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Province {
    /// New Tây Ninh (80): households of old Tây Ninh's 94 and old Long An's 186 communes,
    /// registered in 2021 and reviewed 2021–2024 there, then reviewed in 2025 and 2026 in
    /// the new communes the reform of 1 July 2025 put them in.
    #[default]
    #[value(name = "tay-ninh")]
    TayNinh,
    /// Old Tây Ninh (72) only, histories 2021–2024 (before the reform).
    #[value(name = "tay-ninh-72")]
    TayNinh72,
}

impl Province {
    /// The old provinces whose communes the households are registered in.
    pub fn old_provinces(self) -> &'static [OldProvince] {
        match self {
            Province::TayNinh => &OLD_PROVINCES,
            Province::TayNinh72 => &OLD_PROVINCES[..1],
        }
    }

    /// Whether the histories go on past the reform (the 2025 and 2026 reviews).
    pub fn crosses_the_reform(self) -> bool {
        self == Province::TayNinh
    }
}

/// A province as it was until 30 June 2025.
#[derive(Debug, Clone, PartialEq)]
pub struct OldProvince {
    pub code: &'static str,
    pub name: &'static str,
    /// Its districts' codes (their communes are the ones generated on).
    pub districts: RangeInclusive<u32>,
    /// The province part of its citizens' ID numbers.
    pub id_prefix: &'static str,
    /// The shares of poor, near-poor and middle-income households at the 2022 baseline.
    pub baseline: Baseline,
}

/// Old Tây Ninh first: the old-province file is its part of the merged one's communes.
pub const OLD_PROVINCES: [OldProvince; 2] = [
    OldProvince {
        code: "72",
        name: "Tây Ninh",
        districts: 703..=712,
        id_prefix: "072",
        baseline: BASELINE_TAY_NINH_72,
    },
    OldProvince {
        code: "80",
        name: "Long An",
        districts: 794..=808,
        id_prefix: "080",
        baseline: BASELINE_LONG_AN_80,
    },
];

/// A commune as the generator uses it: its area from its kind (phường and thị trấn are
/// urban, xã rural) and the people's committee that disburses.
pub(super) fn commune(u: Unit, old_province: usize) -> Commune {
    let folded = ansinh_events::text::fold(&u.name);
    let urban = folded.starts_with("phuong") || folded.starts_with("thi tran");
    let mut chars = u.name.chars();
    let lowered: String = chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default();
    Commune {
        disbursed_by: format!("UBND {lowered}"),
        code: u.code,
        name: u.name,
        area: if urban { Area::Urban } else { Area::Rural },
        old_province,
    }
}

/// The communes of `province` (an index into [`OLD_PROVINCES`]) valid on every day from
/// `from` to `to`, in code order.
pub(super) fn old_communes(
    units: &[Unit],
    province: usize,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<Commune> {
    let districts = &OLD_PROVINCES[province].districts;
    let mut communes: Vec<Commune> = units
        .iter()
        .filter(|u| u.level == Level::Commune)
        .filter(|u| {
            u.parent_code
                .as_deref()
                .and_then(|p| p.parse::<u32>().ok())
                .is_some_and(|p| districts.contains(&p))
        })
        .filter(|u| u.valid_on(from) && u.valid_on(to))
        .map(|u| commune(u.clone(), province))
        .collect();
    communes.sort_by(|a, b| a.code.cmp(&b.code));
    communes
}

/// Where the reform put the households of each old commune.
#[derive(Debug, Clone)]
pub struct Reform {
    /// The new communes by code.
    pub new_communes: HashMap<String, Commune>,
    /// Each old commune's new commune(s), in code order (two or more: it was split).
    successors: HashMap<String, Vec<String>>,
}

impl Reform {
    /// The shipped mapping, for the `old` communes; every one of them must have a successor.
    pub fn shipped(old: &[Commune]) -> Result<Reform, GenerateError> {
        let day = units::succession::shipped_effective_on();
        let mut new_communes = HashMap::new();
        for u in shipped_units()? {
            if u.level == Level::Commune
                && u.parent_code.as_deref() == Some("80")
                && u.valid_on(day)
            {
                new_communes.insert(u.code.clone(), commune(u, 0));
            }
        }
        let mapping =
            units::succession::shipped().map_err(|e| GenerateError::Units(e.to_string()))?;
        let mut successors: HashMap<String, Vec<String>> = HashMap::new();
        for s in mapping {
            if new_communes.contains_key(&s.new_code) {
                successors.entry(s.old_code).or_default().push(s.new_code);
            }
        }
        for list in successors.values_mut() {
            list.sort();
        }
        if let Some(lost) = old.iter().find(|c| !successors.contains_key(&c.code)) {
            return Err(GenerateError::Units(format!(
                "the 2025 mapping names no new commune for {} {}",
                lost.code, lost.name
            )));
        }
        Ok(Reform {
            new_communes,
            successors,
        })
    }

    /// The new commune of a household of `old` living in hamlet number `hamlet`: the one
    /// successor of a whole commune; of a split one, the hamlet decides (so every household of
    /// a hamlet goes to the same new commune, the same on every run).
    pub fn new_commune(&self, old: &str, hamlet: usize) -> Option<&Commune> {
        let list = self.successors.get(old)?;
        let code = list.get(hamlet % list.len().max(1))?;
        self.new_communes.get(code)
    }
}

/// The first day of the new communes.
pub fn reform_day() -> NaiveDate {
    units::succession::shipped_effective_on()
}

/// The communes the households of `province` are registered in: valid from registration
/// (August 2021) to the end of the old province's histories (2024, or the eve of the reform).
pub fn communes_of(province: Province) -> Result<Vec<Commune>, GenerateError> {
    let units = shipped_units()?;
    let to = if province.crosses_the_reform() {
        reform_day().pred_opt().unwrap_or_default()
    } else {
        date(2024, 12, 31)
    };
    let communes: Vec<Commune> = (0..province.old_provinces().len())
        .flat_map(|p| old_communes(&units, p, date(2021, 8, 1), to))
        .collect();
    if communes.is_empty() {
        return Err(GenerateError::Units(format!(
            "no commune of {province:?} is valid from 2021 to {to}"
        )));
    }
    Ok(communes)
}
