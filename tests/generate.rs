//! `ansinh generate`: deterministic files in the import format whose histories the pure
//! household aggregate accepts, command by command, with realistic shares; the merged province
//! (new Tây Ninh) names old communes until 2024 and new ones after the reform, and imports
//! without a rejected row.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::process::Command as Process;

use ansinh::generate::{self, Generated, Province};
use ansinh::import::commands::{row_commands, RowCommand, RowError};
use ansinh::import::format::{ReviewRow, SupportRow};
use ansinh_events::household::{Command, Household, HouseholdEvent};
use ansinh_events::standards::{Category, Standards};
use ansinh_events::{Actor, CommandContext, Source};
use chrono::Utc;
use esrs::Aggregate;
use uuid::Uuid;

/// Rows grouped by household, each with its spreadsheet line (header = line 1).
type Grouped<'a> = BTreeMap<&'a str, (Vec<(u64, &'a ReviewRow)>, Vec<(u64, &'a SupportRow)>)>;

fn grouped(g: &Generated) -> Grouped<'_> {
    let mut out: Grouped<'_> = BTreeMap::new();
    for (i, r) in g.reviews.iter().enumerate() {
        out.entry(r.household_key.as_str())
            .or_default()
            .0
            .push((i as u64 + 2, r));
    }
    for (i, s) in g.supports.iter().enumerate() {
        out.entry(s.household_key.as_str())
            .or_default()
            .1
            .push((i as u64 + 2, s));
    }
    out
}

#[derive(Debug, Default)]
struct Replayed {
    households: usize,
    events: usize,
    by_type: HashMap<&'static str, usize>,
    overridden: usize,
    decisions: usize,
}

/// Runs every household through the aggregate as the importer would; panics on a refusal.
fn replay(g: &Generated) -> Replayed {
    let standards = Standards::builtin().unwrap();
    let units = generate::shipped_unit_validity().unwrap();
    let mut out = Replayed::default();
    for (key, (reviews, supports)) in grouped(g) {
        let commands: Vec<RowCommand> = row_commands(&reviews, &supports, &standards, &units)
            .unwrap_or_else(|e| panic!("household {key}: {e:?}"));
        let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, key.as_bytes());
        let mut state = Default::default();
        for row in commands {
            let ctx = CommandContext::new(id, Actor::system("test"), Source::Cli, Utc::now());
            let events = Household::handle_command(
                &state,
                Command {
                    ctx,
                    action: row.command.clone(),
                },
            )
            .unwrap_or_else(|e| {
                panic!(
                    "household {key}: {} ({:?})",
                    RowError::from_domain(&row, &e),
                    row.command
                )
            });
            for e in events {
                *out.by_type.entry(e.event.type_name()).or_default() += 1;
                if let HouseholdEvent::HouseholdClassified(c) = &e.event {
                    out.decisions += 1;
                    if c.category != c.proposed {
                        assert!(c.reason.is_some());
                        out.overridden += 1;
                    }
                }
                out.events += 1;
                state = Household::apply_event(state, e);
            }
        }
        out.households += 1;
    }
    out
}

#[test]
fn every_generated_history_passes_the_domain_rules() {
    let g = generate::generate(300, 11).unwrap();
    assert_eq!(g.households, 300);
    assert_eq!(g.reviews.len(), 1200);
    let r = replay(&g);
    assert_eq!(r.households, 300);
    assert_eq!(r.by_type["household_registered"], 300);
    assert_eq!(r.by_type["household_surveyed"], 1200);
    assert_eq!(r.by_type["household_classified"], 1200);
    let per_household = r.events as f64 / r.households as f64;
    assert!((8.0..=15.0).contains(&per_household), "{per_household}");
}

#[test]
fn shares_land_near_the_provincial_figures() {
    let households = 20_000;
    let g = generate::generate(households, generate::DEFAULT_SEED).unwrap();
    let mut by_year: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in &g.reviews {
        *by_year
            .entry((r.period.clone(), r.category.clone()))
            .or_default() += 1;
    }
    let share = |period: &str, c: Category| {
        by_year
            .get(&(period.to_owned(), c.as_str().to_owned()))
            .copied()
            .unwrap_or(0) as f64
            / households as f64
    };
    let poor_2022 = share("2022-annual", Category::Poor);
    let near_2022 = share("2022-annual", Category::NearPoor);
    let middle_2022 = share("2022-annual", Category::MiddleIncome);
    assert!((0.003..=0.010).contains(&poor_2022), "{poor_2022}");
    assert!((0.008..=0.016).contains(&near_2022), "{near_2022}");
    assert!((0.02..=0.08).contains(&middle_2022), "{middle_2022}");
    assert!(share("2021-annual", Category::Poor) < poor_2022);
    assert!(share("2024-annual", Category::Poor) < poor_2022);

    // Every household has a survey and a decision each year, and the aggregate agrees.
    let r = replay(&g);
    assert_eq!(r.by_type["household_classified"], households * 4);
    let overridden = r.overridden as f64 / r.decisions as f64;
    assert!((0.005..=0.015).contains(&overridden), "{overridden}");
    for movement in [
        "became_poor",
        "became_near_poor",
        "exited_poverty",
        "exited_near_poverty",
        "fell_back_into_poverty",
    ] {
        assert!(
            r.by_type.get(movement).copied().unwrap_or(0) > 0,
            "{movement}"
        );
    }
    let exits = r.by_type["exited_poverty"] as f64;
    let fell_back = r.by_type["fell_back_into_poverty"] as f64;
    assert!(
        fell_back < exits / 2.0,
        "{fell_back} relapses for {exits} exits"
    );
    for policy in [
        "health_insurance",
        "electricity_subsidy",
        "preferential_credit",
        "education",
        "emergency_aid",
    ] {
        assert!(
            g.supports.iter().any(|s| s.policy == policy),
            "no {policy} support"
        );
    }
    let supports_per_household = r.by_type["support_received"] as f64 / households as f64;
    eprintln!(
        "2022: poor {:.2}%, near-poor {:.2}%, middle {:.2}%; overridden {:.2}%; \
         {:.1} events and {:.3} supports per household; by type {:?}",
        poor_2022 * 100.0,
        near_2022 * 100.0,
        middle_2022 * 100.0,
        overridden * 100.0,
        r.events as f64 / households as f64,
        supports_per_household,
        r.by_type
    );
}

#[test]
fn supports_fit_their_rules() {
    let g = generate::generate(5_000, 3).unwrap();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for s in &g.supports {
        *counts.entry(s.household_key.as_str()).or_default() += 1;
        let amount: i64 = s.amount_vnd.parse().unwrap();
        assert!(amount > 0);
        assert!(s.disbursed_on.as_str() <= "2024-12-31", "{s:?}");
        assert!(s.disbursed_by.starts_with("UBND "), "{s:?}");
        assert!(!s.decision_no.is_empty());
        match s.policy.as_str() {
            "preferential_credit" => {
                assert!((20_000_000..=100_000_000).contains(&amount), "{s:?}");
                assert_eq!(
                    (s.funding_source.as_str(), s.fund_id.as_str()),
                    ("central_budget", "NHCSXH")
                );
            }
            "emergency_aid" => {
                assert_eq!(
                    (s.funding_source.as_str(), s.fund_id.as_str()),
                    ("mobilized", "QUY_VI_NGUOI_NGHEO")
                );
            }
            "electricity_subsidy" => {
                let expected = if s.disbursed_on.starts_with("2021") {
                    30_000 * 12
                } else {
                    46_000 * 12
                };
                assert_eq!(amount, expected, "{s:?}");
            }
            _ => {}
        }
    }
    assert!(counts.values().all(|n| *n <= 6));
}

#[test]
fn the_same_seed_gives_the_same_files_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let a = generate::generate(400, 99).unwrap();
    let b = generate::generate(400, 99).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, generate::generate(400, 100).unwrap());
    for ext in ["csv", "xlsx"] {
        let first = dir.path().join(format!("a.{ext}"));
        let second = dir.path().join(format!("b.{ext}"));
        let files_a = generate::write(&first, &a).unwrap();
        let files_b = generate::write(&second, &b).unwrap();
        assert_eq!(files_a.len(), files_b.len());
        for (fa, fb) in files_a.iter().zip(&files_b) {
            assert_eq!(
                std::fs::read(fa).unwrap(),
                std::fs::read(fb).unwrap(),
                "{} differs from {}",
                fa.display(),
                fb.display()
            );
        }
    }
}

#[test]
fn streaming_writes_the_same_files_as_writing_from_memory() {
    let dir = tempfile::tempdir().unwrap();
    let g = generate::generate(300, 8).unwrap();
    for ext in ["csv", "xlsx"] {
        let from_memory = generate::write(&dir.path().join(format!("m.{ext}")), &g).unwrap();
        let summary = generate::generate_to(
            generate::Province::TayNinh72,
            &dir.path().join(format!("s.{ext}")),
            300,
            8,
            |_| {},
        )
        .unwrap();
        assert_eq!(summary.reviews, g.reviews.len());
        assert_eq!(summary.supports, g.supports.len());
        for (a, b) in from_memory.iter().zip(&summary.files) {
            assert_eq!(
                std::fs::read(a).unwrap(),
                std::fs::read(b).unwrap(),
                "{ext}"
            );
        }
    }
}

#[test]
fn csv_and_xlsx_read_back_to_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let g = generate::generate(150, 5).unwrap();
    let csv = dir.path().join("province.csv");
    let xlsx = dir.path().join("province.xlsx");
    let csv_files = generate::write(&csv, &g).unwrap();
    assert_eq!(csv_files[1], dir.path().join("province.supports.csv"));
    generate::write(&xlsx, &g).unwrap();
    let from_csv = ansinh::import::read::read(&csv).unwrap();
    let from_xlsx = ansinh::import::read::read(&xlsx).unwrap();
    let reviews: Vec<ReviewRow> = from_csv.reviews.iter().map(|(_, r)| r.clone()).collect();
    let supports: Vec<SupportRow> = from_csv.supports.iter().map(|(_, r)| r.clone()).collect();
    assert_eq!(reviews, g.reviews);
    assert_eq!(supports, g.supports);
    assert_eq!(from_csv.reviews, from_xlsx.reviews);
    assert_eq!(from_csv.supports, from_xlsx.supports);
    assert_eq!(from_csv.reviews[0].0, 2, "the header is line 1");
}

#[test]
fn the_command_line_writes_files_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_ansinh");
    let out = dir.path().join("tn.csv");
    let ok = Process::new(bin)
        .args(["generate", "--households", "50", "--seed", "1", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(out.exists() && dir.path().join("tn.supports.csv").exists());
    let summary = String::from_utf8_lossy(&ok.stderr);
    assert!(summary.contains("50 households"), "{summary}");
    for (n, file) in [("0", "x.csv"), ("10", "x.txt")] {
        let bad = Process::new(bin)
            .args(["generate", "--households", n, "--out"])
            .arg(dir.path().join(file))
            .output()
            .unwrap();
        assert_eq!(bad.status.code(), Some(2), "{n} {file}");
    }
}

// ------------------------------------------------------------------------ the merged province

/// The unit record `code` names on `day` (codes are reused: the day says which).
fn unit_on(
    units: &[ansinh_projections::units::Unit],
    code: &str,
    day: &str,
) -> Option<(bool, String)> {
    let day: chrono::NaiveDate = day.parse().unwrap();
    let reform = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
    units
        .iter()
        .find(|u| u.code == code && u.valid_on(day))
        .map(|u| {
            (
                u.valid_from >= reform,
                u.parent_code.clone().unwrap_or_default(),
            )
        })
}

#[test]
fn the_merged_province_names_old_communes_until_2024_and_new_ones_after_the_reform() {
    let g = generate::generate_in(Province::TayNinh, 2_000, 21).unwrap();
    assert_eq!(g.reviews.len(), 2_000 * 6);
    let units = ansinh_projections::units::shipped().unwrap();
    let old_tay_ninh = 703..=712u32;
    let old_long_an = 794..=808u32;
    let (mut registered_in, mut new_communes) = (HashMap::new(), HashMap::new());
    for r in &g.reviews {
        let (new, parent) = unit_on(&units, &r.unit_code, &r.survey_date)
            .unwrap_or_else(|| panic!("{} is not valid on {}: {r:?}", r.unit_code, r.survey_date));
        if r.survey_date.as_str() < "2025-07-01" {
            assert!(!new, "{r:?}");
            let district: u32 = parent.parse().unwrap();
            let province = if old_tay_ninh.contains(&district) {
                "72"
            } else {
                assert!(old_long_an.contains(&district), "{r:?}");
                "80"
            };
            registered_in.insert(r.unit_code.clone(), province);
            // ID numbers carry the old province of the household.
            for id in r.members.split(';').filter_map(|m| m.split('/').nth(4)) {
                if !id.is_empty() {
                    assert!(id.starts_with(&format!("0{province}")), "{id} in {r:?}");
                }
            }
        } else {
            assert!(new && parent == "80", "{r:?}");
            assert!(
                r.period == "2025-annual" || r.period == "2026-annual",
                "{r:?}"
            );
            let expected = if r.period == "2025-annual" {
                "vn-2022-2025"
            } else {
                "vn-2026-2030"
            };
            assert_eq!(r.standard, expected, "{r:?}");
            *new_communes.entry(r.unit_code.clone()).or_insert(0) += 1;
        }
    }
    // Every old commune of both old provinces, and every new commune, has households.
    let count = |p: &str| registered_in.values().filter(|v| **v == p).count();
    assert_eq!((count("72"), count("80")), (94, 186));
    assert_eq!(new_communes.len(), 96);
    assert!(g
        .supports
        .iter()
        .all(|s| s.disbursed_on.as_str() <= "2026-11-20"));
    assert!(g
        .supports
        .iter()
        .any(|s| s.disbursed_on.as_str() >= "2025-07-01"));
}

#[test]
fn the_merged_province_is_the_same_for_the_same_seed_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let a = generate::generate_in(Province::TayNinh, 400, 99).unwrap();
    assert_eq!(
        a,
        generate::generate_in(Province::TayNinh, 400, 99).unwrap()
    );
    assert_ne!(
        a,
        generate::generate_in(Province::TayNinh, 400, 100).unwrap()
    );
    let from_memory = generate::write(&dir.path().join("m.csv"), &a).unwrap();
    let streamed = generate::generate_to(
        Province::TayNinh,
        &dir.path().join("s.csv"),
        400,
        99,
        |_| {},
    )
    .unwrap();
    for (m, s) in from_memory.iter().zip(&streamed.files) {
        assert_eq!(std::fs::read(m).unwrap(), std::fs::read(s).unwrap());
    }
}

#[tokio::test]
async fn the_merged_province_imports_without_a_rejected_row_into_the_new_communes() {
    let dir = tempfile::tempdir().unwrap();
    let households = 300;
    let file = dir.path().join("tay-ninh.csv");
    let g = generate::generate_in(Province::TayNinh, households, 5).unwrap();
    generate::write(&file, &g).unwrap();
    let db = common::migrated_db().await;
    let out = common::ansinh(&db.url, &["import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["rejected_households"], 0, "{summary}");
    assert_eq!(summary["households"], households, "{summary}");

    // Every household sits in a new commune since the reform, moved once with its basis.
    let placed: Vec<(String, chrono::NaiveDate)> =
        sqlx::query_as("SELECT unit_code, placed_on FROM household_status")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(placed.len(), households);
    let units = ansinh_projections::units::shipped().unwrap();
    for (code, on) in &placed {
        assert_eq!(on.to_string(), "2025-07-01");
        let (new, parent) = unit_on(&units, code, "2026-01-01").unwrap();
        assert!(new && parent == "80", "{code}");
    }
    let moves: Vec<(Option<String>, String)> = sqlx::query_as(
        "SELECT payload->'meta'->>'legal_basis', payload->'meta'->'actor'->>'name'
           FROM household_events WHERE payload->>'type' = 'household_moved'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(moves.len(), households);
    assert!(moves
        .iter()
        .all(|(basis, actor)| basis.as_deref() == Some("1682/NQ-UBTVQH15") && actor == "reform"));

    // A second import adds nothing.
    let again = common::ansinh(&db.url, &["import", file.to_str().unwrap()]);
    assert!(again.status.success(), "{}", common::text(&again.stderr));
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["events_written"], 0, "{again}");
}
