//! Units that have ended (the 2025 reform abolished districts and merged communes and
//! provinces) and what replaced them, in words: for the notice to their users, the refusal of a
//! report past their end and the refusal to move a user into one.

use ansinh_events::text::ascii;
use ansinh_projections::units::{self, Succession, Unit};
use chrono::NaiveDate;
use sqlx::PgPool;

/// A unit none of whose versions is valid on the day asked about, the last having ended before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedUnit {
    pub code: String,
    /// Its name on its last day.
    pub name: String,
    /// Its last day.
    pub ended_on: NaiveDate,
    /// What replaced it ("since 2025-07-01 (1682/NQ-UBTVQH15) it is part of 25459 Phường Tân
    /// Ninh", from `Successors::explain`); `None` when no succession is recorded.
    pub replaced_by: Option<String>,
    /// The same in Vietnamese.
    pub replaced_by_vi: Option<String>,
    /// [`EndedUnit::header_value`], made once: it goes out with every response to its users.
    notice: String,
}

impl EndedUnit {
    pub fn new(
        code: String,
        name: String,
        ended_on: NaiveDate,
        replaced_by: Option<String>,
        replaced_by_vi: Option<String>,
    ) -> EndedUnit {
        let mut ended = EndedUnit {
            code,
            name,
            ended_on,
            replaced_by,
            replaced_by_vi,
            notice: String::new(),
        };
        ended.notice = ascii(&format!(
            "{}; ask an admin to move this user (ansinh users set-unit)",
            ended.sentence()
        ));
        ended
    }

    /// "unit 703 (Thành phố Tây Ninh) ended on 2025-06-30; it lay in 72 …".
    pub fn sentence(&self) -> String {
        let mut text = format!(
            "unit {} ({}) ended on {}",
            self.code, self.name, self.ended_on
        );
        if let Some(replaced) = &self.replaced_by {
            text.push_str("; ");
            text.push_str(replaced);
        }
        text
    }

    /// The `Ansinh-Unit-Notice` header of every API response to a user of this unit: the
    /// sentence and what to do, in ASCII (diacritics dropped).
    pub fn header_value(&self) -> &str {
        &self.notice
    }
}

/// `code` as an ended unit if it has versions, none valid on `day`, and the latest ended
/// before `day`; `None` when it is valid that day, unknown, or only begins later.
pub async fn ended_by(
    pool: &PgPool,
    code: &str,
    day: NaiveDate,
) -> Result<Option<EndedUnit>, sqlx::Error> {
    let versions = units::by_code(pool, code).await?;
    if versions.iter().any(|u| u.valid_on(day)) {
        return Ok(None);
    }
    let Some(last) = versions.iter().max_by_key(|u| u.valid_from) else {
        return Ok(None);
    };
    let Some(ended_on) = last.valid_to.filter(|to| *to < day) else {
        return Ok(None);
    };
    let mut conn = pool.acquire().await?;
    let all = units::all(&mut conn).await?;
    let successions = units::successions(&mut conn).await?;
    drop(conn);
    let (replaced_by, replaced_by_vi) = replacement(&all, &successions, last, day).unzip();
    Ok(Some(EndedUnit::new(
        code.to_owned(),
        last.name.clone(),
        ended_on,
        replaced_by,
        replaced_by_vi,
    )))
}

/// What replaced `unit` by `day`, in English and Vietnamese: its own successors, else (a
/// district, abolished without successors of its own) those of the unit it lay in on its last
/// day, and so on up.
fn replacement(
    all: &[Unit],
    successions: &[Succession],
    unit: &Unit,
    day: NaiveDate,
) -> Option<(String, String)> {
    let successors = units::succession::Successors::new(successions, all);
    let mut current = unit.clone();
    let mut via_parent = false;
    // A unit lies at most two levels below a province.
    for _ in 0..3 {
        if let Some(english) = successors.explain(&current.code, day) {
            let vietnamese = in_vietnamese(all, successions, &current.code, day)?;
            return Some(match via_parent {
                false => (english, vietnamese),
                true => (
                    format!("it lay in {} {}: {english}", current.code, current.name),
                    format!("thuộc {} {}: {vietnamese}", current.code, current.name),
                ),
            });
        }
        let last_day = current.valid_to?;
        let parent = all
            .iter()
            .find(|u| Some(&u.code) == current.parent_code.as_ref() && u.valid_on(last_day))?;
        via_parent = true;
        current = parent.clone();
    }
    None
}

/// `Successors::explain` in Vietnamese ("từ 01/07/2025 (1682/NQ-UBTVQH15) thuộc 25459 Phường
/// Tân Ninh").
fn in_vietnamese(
    all: &[Unit],
    successions: &[Succession],
    code: &str,
    day: NaiveDate,
) -> Option<String> {
    let rows: Vec<&Succession> = successions
        .iter()
        .filter(|s| s.old_code == code && s.effective_on <= day)
        .collect();
    let first = rows.first()?;
    let names: Vec<String> = rows
        .iter()
        .map(|s| {
            let name = all
                .iter()
                .find(|u| u.code == s.new_code && u.valid_on(s.effective_on))
                .map_or("", |u| u.name.as_str());
            format!("{} {name}", s.new_code).trim_end().to_owned()
        })
        .collect();
    let how = if first.whole {
        format!("thuộc {}", names.join(", "))
    } else {
        format!(
            "được chia cho {}; chọn nơi ấp của hộ đã về",
            names.join(" và ")
        )
    };
    Some(format!(
        "từ {} ({}) {how}",
        first.effective_on.format("%d/%m/%Y"),
        first.legal_basis
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn shipped() -> (Vec<Unit>, Vec<Succession>) {
        (
            units::shipped().expect("units"),
            units::succession::shipped().expect("mapping"),
        )
    }

    fn last(all: &[Unit], code: &str) -> Unit {
        all.iter()
            .filter(|u| u.code == code)
            .max_by_key(|u| u.valid_from)
            .cloned()
            .expect("unit")
    }

    #[test]
    fn a_merged_commune_names_the_new_commune_in_both_languages() {
        let (all, rows) = shipped();
        let (en, vi) =
            replacement(&all, &rows, &last(&all, "25456"), day("2026-01-01")).expect("replaced");
        assert!(en.contains("since 2025-07-01"), "{en}");
        assert!(en.contains("25459 Phường Tân Ninh"), "{en}");
        assert!(vi.starts_with("từ 01/07/2025"), "{vi}");
        assert!(vi.contains("thuộc 25459 Phường Tân Ninh"), "{vi}");
    }

    #[test]
    fn an_abolished_district_names_what_replaced_its_province() {
        let (all, rows) = shipped();
        let (en, vi) =
            replacement(&all, &rows, &last(&all, "703"), day("2026-01-01")).expect("replaced");
        assert!(en.starts_with("it lay in 72 "), "{en}");
        assert!(en.contains("it is part of 80 Tỉnh Tây Ninh"), "{en}");
        assert!(vi.starts_with("thuộc 72 "), "{vi}");
        // Nothing had replaced it before the reform.
        assert_eq!(
            replacement(&all, &rows, &last(&all, "703"), day("2025-06-30")),
            None
        );
    }

    #[test]
    fn the_header_is_ascii() {
        let ended = EndedUnit::new(
            "703".into(),
            "Thành phố Tây Ninh".into(),
            day("2025-06-30"),
            Some("it is part of 80 Tỉnh Tây Ninh".into()),
            None,
        );
        let header = ended.header_value();
        assert!(header.is_ascii(), "{header}");
        assert!(
            header.starts_with("unit 703 (Thanh pho Tay Ninh) ended on 2025-06-30; it is part of 80 Tinh Tay Ninh; ask an admin"),
            "{header}"
        );
    }
}
