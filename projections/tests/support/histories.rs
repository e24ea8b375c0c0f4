//! Generated household histories for property tests: random command streams run through the
//! pure aggregate (commands the rules refuse are dropped), with moves, closures and supports
//! recorded late, corrections of moves, surveys, closures and registrations, decisions under
//! both national standards, exits and relapses. Shared by `projections/tests` and the root
//! crate's `tests/read_models.rs` (which replays the kept commands through the real store).
#![allow(dead_code, clippy::unwrap_used)]

use ansinh_events::household::*;
use ansinh_events::standards::{Category, Standards};
use ansinh_events::{Actor, CommandContext, Recorded, Source, Vnd};
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use esrs::Aggregate;
use proptest::prelude::*;
use uuid::Uuid;

/// Communes of two districts of old Tây Ninh: 703 has the first three, 705 the last two.
pub const UNITS: [&str; 5] = ["25456", "25459", "25462", "25486", "25489"];
/// Report units: the province, both districts, one commune.
pub const REPORT_UNITS: [&str; 4] = ["72", "703", "705", "25459"];
pub const STANDARDS: [&str; 2] = ["vn-2016-2020", "vn-2022-2025"];

/// Whether `ancestor` covers `unit` in the units above, as a movement report counts it: the
/// code 25459 also names the new commune that took over 25456, 25459 and 25462 on 2025-07-01,
/// and a new commune's report counts its predecessors' households.
pub fn covers(ancestor: &str, unit: &str) -> bool {
    match ancestor {
        "72" => UNITS.contains(&unit),
        "703" | "25459" => UNITS[..3].contains(&unit),
        "705" => UNITS[3..].contains(&unit),
        code => code == unit,
    }
}

pub fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub fn start() -> NaiveDate {
    day("2020-06-01")
}

/// The old units' validity ends here.
pub fn last_day() -> NaiveDate {
    day("2025-06-30")
}

const COMMON_INDICATORS: [&str; 6] = [
    "health_insurance",
    "housing_quality",
    "housing_area",
    "domestic_water",
    "hygienic_latrine",
    "information_access",
];
const INCOMES: [i64; 7] = [
    500_000, 800_000, 950_000, 1_200_000, 1_450_000, 1_900_000, 2_600_000,
];

#[derive(Debug, Clone)]
pub enum Op {
    Survey {
        advance: i64,
        income: usize,
        deprivations: usize,
        working_capacity: bool,
    },
    Decide {
        advance: i64,
        standard: usize,
        category: usize,
    },
    Move {
        back: i64,
        unit: usize,
    },
    Close {
        back: i64,
    },
    Support {
        back: i64,
        amount: i64,
    },
    /// Replace the latest survey's income and working capacity.
    CorrectSurvey {
        income: usize,
        working_capacity: bool,
    },
    /// Replace the latest move's date and unit.
    CorrectMove {
        back: i64,
        unit: usize,
    },
    /// Void the latest move, closure or support (0, 1, 2).
    Void {
        kind: usize,
    },
    CorrectRegistration {
        ethnic_minority: bool,
        merit_family: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub unit: usize,
    pub ethnic_minority: bool,
    pub merit_family: bool,
    pub start_after: i64,
    pub ops: Vec<Op>,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..200_i64, 0..INCOMES.len(), 0..5_usize, any::<bool>()).prop_map(
            |(advance, income, deprivations, working_capacity)| Op::Survey {
                advance,
                income,
                deprivations,
                working_capacity,
            }
        ),
        10 => (0..90_i64, 0..2_usize, 0..4_usize).prop_map(|(advance, standard, category)| {
            Op::Decide {
                advance,
                standard,
                category,
            }
        }),
        2 => (0..150_i64, 0..UNITS.len()).prop_map(|(back, unit)| Op::Move { back, unit }),
        1 => (0..60_i64).prop_map(|back| Op::Close { back }),
        3 => (0..200_i64, 1..50_i64).prop_map(|(back, amount)| Op::Support {
            back,
            amount: amount * 100_000,
        }),
        1 => (0..INCOMES.len(), any::<bool>()).prop_map(|(income, working_capacity)| {
            Op::CorrectSurvey {
                income,
                working_capacity,
            }
        }),
        1 => (0..300_i64, 0..UNITS.len()).prop_map(|(back, unit)| Op::CorrectMove { back, unit }),
        1 => (0..3_usize).prop_map(|kind| Op::Void { kind }),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(ethnic_minority, merit_family)| {
            Op::CorrectRegistration {
                ethnic_minority,
                merit_family,
            }
        }),
    ]
}

pub fn plan() -> impl Strategy<Value = Plan> {
    (
        0..UNITS.len(),
        any::<bool>(),
        any::<bool>(),
        0..900_i64,
        prop::collection::vec(op(), 6..36),
    )
        .prop_map(
            |(unit, ethnic_minority, merit_family, start_after, ops)| Plan {
                unit,
                ethnic_minority,
                merit_family,
                start_after,
                ops,
            },
        )
}

pub fn context(id: Uuid) -> CommandContext {
    let at = Utc.with_ymd_and_hms(2025, 12, 1, 3, 0, 0).unwrap();
    CommandContext::new(id, Actor::system("generator"), Source::Cli, at)
}

fn validity() -> Option<UnitValidity> {
    Some(UnitValidity {
        valid_from: day("2000-01-01"),
        valid_to: Some(last_day()),
        commune: true,
    })
}

fn registration(plan: &Plan, ethnic_minority: bool, merit_family: bool) -> HouseholdRegistered {
    HouseholdRegistered {
        head_name: "Nguyễn Văn Thử".to_owned(),
        unit_code: UNITS[plan.unit].to_owned(),
        hamlet: "Ấp 1".to_owned(),
        area: Area::Rural,
        ethnic_minority,
        merit_family,
        members: vec![Member {
            name: "Nguyễn Văn Thử".to_owned(),
            birth_year: 1970,
            sex: Sex::Male,
            relation: "head".to_owned(),
            id_number: None,
        }],
    }
}

fn survey_input(on: NaiveDate, income: usize, deprived: usize, working: bool) -> SurveyInput {
    SurveyInput {
        period: format!("{}-regular", on.format("%Y-%m")),
        survey_date: on,
        income_per_capita_vnd: Vnd::new(INCOMES[income]).unwrap(),
        deprivations: COMMON_INDICATORS[..deprived]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        measures: Default::default(),
        working_capacity: working,
        loan_demand: false,
        cause_of_poverty: Some("ốm đau".to_owned()),
        surveyor: "Lê Văn Tám".to_owned(),
    }
}

/// The latest fact of a type whose content still counts.
fn latest_fact(state: &HouseholdState, type_name: &str) -> Option<i64> {
    if type_name == "support_received" {
        return state.current_supports().next_back().map(|(seq, _)| seq);
    }
    state
        .facts
        .iter()
        .rev()
        .find(|(_, f)| f.type_name == type_name && f.current.is_some())
        .map(|(seq, _)| *seq)
}

/// The commands the rules accepted, and the events they produced, for one household.
pub fn simulate(id: Uuid, plan: &Plan) -> (Vec<Command>, Vec<Recorded<HouseholdEvent>>) {
    let registry = Standards::builtin().unwrap();
    let mut state = HouseholdState::default();
    let mut commands = Vec::new();
    let mut events = Vec::new();
    let run = |action: HouseholdCommand,
               state: &mut HouseholdState,
               commands: &mut Vec<Command>,
               events: &mut Vec<Recorded<HouseholdEvent>>| {
        let command = Command {
            ctx: context(id),
            action,
        };
        if let Ok(new) = Household::handle_command(state, command.clone()) {
            for e in &new {
                *state = std::mem::take(state).apply(e);
            }
            events.extend(new);
            commands.push(command);
        }
    };
    let registered_on = start() + Duration::days(plan.start_after);
    run(
        HouseholdCommand::Register {
            registration: registration(plan, plan.ethnic_minority, plan.merit_family),
            effective_on: registered_on,
            unit: validity(),
        },
        &mut state,
        &mut commands,
        &mut events,
    );
    let mut cursor = registered_on;
    for op in &plan.ops {
        let back = |n: i64| (cursor - Duration::days(n)).max(registered_on);
        let action = match op {
            Op::Survey {
                advance,
                income,
                deprivations,
                working_capacity,
            } => {
                cursor += Duration::days(*advance);
                survey_input(cursor, *income, *deprivations, *working_capacity)
                    .into_command(&registry)
            }
            Op::Decide {
                advance,
                standard,
                category,
            } => {
                cursor += Duration::days(*advance);
                HouseholdCommand::Decide {
                    standard: registry.get(STANDARDS[*standard]).unwrap().clone(),
                    decision: DecisionInput {
                        category: Category::ALL[*category],
                        decision_no: format!("{}/QĐ-UBND", events.len()),
                        decided_on: cursor,
                        reason: Some("họp dân thống nhất".to_owned()),
                    },
                }
            }
            Op::Move { back: b, unit } => HouseholdCommand::Move {
                moved: HouseholdMoved {
                    moved_on: back(*b),
                    unit_code: UNITS[*unit].to_owned(),
                    hamlet: "Ấp 2".to_owned(),
                    area: Area::Rural,
                },
                unit: validity(),
            },
            Op::Close { back: b } => HouseholdCommand::Close(HouseholdClosed {
                closed_on: back(*b),
                reason: ClosureReason::Dissolved,
                merged_into: None,
                note: None,
            }),
            Op::Support { back: b, amount } => HouseholdCommand::RecordSupport(SupportReceived {
                policy: Policy::PreferentialCredit,
                amount_vnd: Vnd::new(*amount).unwrap(),
                in_kind: None,
                funding_source: FundingSource::CentralBudget,
                fund_id: None,
                disbursed_on: back(*b),
                disbursed_by: "NHCSXH".to_owned(),
                decision_no: "1/QĐ".to_owned(),
                recipient_member: None,
                override_reason: None,
            }),
            Op::CorrectSurvey {
                income,
                working_capacity,
            } => {
                let Some(seq) = latest_fact(&state, "household_surveyed") else {
                    continue;
                };
                let on = state.surveys[&seq].survey_date;
                let deprived = state.surveys[&seq].deprivations().count();
                HouseholdCommand::Correct {
                    corrects_sequence: seq,
                    reason: "nhập sai".to_owned(),
                    replacement: Some(ReplacementInput::Survey {
                        survey: survey_input(on, *income, deprived, *working_capacity),
                        standards: registry.in_force_on(on),
                    }),
                }
            }
            Op::CorrectMove { back: b, unit } => {
                let Some(seq) = latest_fact(&state, "household_moved") else {
                    continue;
                };
                HouseholdCommand::Correct {
                    corrects_sequence: seq,
                    reason: "sai ngày chuyển".to_owned(),
                    replacement: Some(ReplacementInput::Move {
                        moved: HouseholdMoved {
                            moved_on: back(*b),
                            unit_code: UNITS[*unit].to_owned(),
                            hamlet: "Ấp 3".to_owned(),
                            area: Area::Rural,
                        },
                        unit: validity(),
                    }),
                }
            }
            Op::Void { kind } => {
                let type_name = ["household_moved", "household_closed", "support_received"][*kind];
                let Some(seq) = latest_fact(&state, type_name) else {
                    continue;
                };
                HouseholdCommand::Correct {
                    corrects_sequence: seq,
                    reason: "ghi nhầm".to_owned(),
                    replacement: None,
                }
            }
            Op::CorrectRegistration {
                ethnic_minority,
                merit_family,
            } => HouseholdCommand::Correct {
                corrects_sequence: 1,
                reason: "sai thông tin".to_owned(),
                replacement: Some(ReplacementInput::Registration {
                    registration: registration(plan, *ethnic_minority, *merit_family),
                    unit: validity(),
                }),
            },
        };
        if cursor > last_day() {
            break;
        }
        run(action, &mut state, &mut commands, &mut events);
    }
    (commands, events)
}
