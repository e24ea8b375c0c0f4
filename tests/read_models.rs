//! The read models against a real PostgreSQL: scripted stories written through the event log
//! (registration, surveys, decisions through exit and relapse, supports, corrections, a move
//! between communes, a closed household) checked against every read model; time travel; a full
//! rebuild giving the same rows as the inline path; generated histories whose movement report
//! from the database equals the one computed in memory.

mod common;

#[path = "../projections/tests/support/histories.rs"]
mod histories;

use std::collections::BTreeMap;

use ansinh::store::{Appended, EventLog};
use ansinh_events::household::*;
use ansinh_events::standards::{Category, Standards};
use ansinh_events::{Actor, CommandContext, Source, Vnd};
use ansinh_projections::disbursements::{self, DisbursementFilter};
use ansinh_projections::movements::{self, MovementReport};
use ansinh_projections::re_poverty::{self, RePovertyFilter};
use ansinh_projections::rebuild::{self, Projection};
use ansinh_projections::status::{self, SearchQuery};
use ansinh_projections::{history, inline, log, time_travel, StoredEvent};
use chrono::{NaiveDate, TimeZone, Utc};
use sqlx::PgPool;
use uuid::Uuid;

fn d(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

/// Writes one household's story through the event log, each command recorded on a given day.
struct Story<'a> {
    log: &'a EventLog,
    pool: &'a PgPool,
    id: Uuid,
    standards: Standards,
}

impl<'a> Story<'a> {
    fn new(log: &'a EventLog, pool: &'a PgPool) -> Self {
        Story {
            log,
            pool,
            id: Uuid::now_v7(),
            standards: Standards::builtin().expect("standards"),
        }
    }

    /// Runs a command recorded at 10:00 Vietnam time on `recorded_on`.
    async fn run(&self, recorded_on: &str, action: HouseholdCommand) -> Appended {
        let at = Utc
            .from_local_datetime(&d(recorded_on).and_hms_opt(3, 0, 0).expect("time"))
            .single()
            .expect("instant");
        let actor = Actor {
            user_id: Uuid::nil(),
            name: "Trần Văn Bình".into(),
            role: "commune_officer".into(),
            unit: "25459".into(),
        };
        let command = Command {
            ctx: CommandContext::new(self.id, actor, Source::Api, at),
            action,
        };
        let what = format!("{:?}", command.action);
        self.log
            .execute(command, None)
            .await
            .unwrap_or_else(|e| panic!("{what} was refused: {e}"))
    }

    async fn unit(&self, code: &str, on: &str) -> Option<UnitValidity> {
        ansinh_projections::units::valid_on(self.pool, code, d(on))
            .await
            .expect("units")
            .map(|u| u.validity())
    }

    async fn register(&self, recorded_on: &str, on: &str, r: HouseholdRegistered) -> Appended {
        let unit = self.unit(&r.unit_code, on).await;
        self.run(
            recorded_on,
            HouseholdCommand::Register {
                registration: r,
                effective_on: d(on),
                unit,
            },
        )
        .await
    }

    async fn survey(
        &self,
        recorded_on: &str,
        on: &str,
        income: i64,
        deprivations: &[&str],
        working_capacity: bool,
        cause: Option<&str>,
    ) -> Appended {
        let input = SurveyInput {
            period: format!("{}-annual", &on[..4]),
            survey_date: d(on),
            income_per_capita_vnd: Vnd::new(income).expect("income"),
            deprivations: deprivations.iter().map(|s| s.to_string()).collect(),
            measures: BTreeMap::new(),
            working_capacity,
            loan_demand: true,
            cause_of_poverty: cause.map(str::to_owned),
            surveyor: "Lê Văn Tám".into(),
        };
        self.run(recorded_on, input.into_command(&self.standards))
            .await
    }

    async fn decide(
        &self,
        recorded_on: &str,
        standard: &str,
        category: Category,
        on: &str,
        no: &str,
    ) -> Appended {
        let standard = self.standards.get(standard).expect("standard").clone();
        self.run(
            recorded_on,
            HouseholdCommand::Decide {
                standard,
                decision: DecisionInput {
                    category,
                    decision_no: no.into(),
                    decided_on: d(on),
                    reason: None,
                },
            },
        )
        .await
    }

    async fn support(&self, recorded_on: &str, s: SupportReceived) -> Appended {
        self.run(recorded_on, HouseholdCommand::RecordSupport(s))
            .await
    }

    /// A support from mobilised funds, disbursed `on`, recorded on `recorded_on`.
    async fn paid(&self, recorded_on: &str, on: &str, policy: Policy, amount: i64) -> Appended {
        let s = support(on, policy, amount, FundingSource::Mobilized, None);
        self.support(recorded_on, s).await
    }

    async fn moved(&self, recorded_on: &str, on: &str, unit_code: &str) -> Appended {
        let unit = self.unit(unit_code, on).await;
        self.run(
            recorded_on,
            HouseholdCommand::Move {
                moved: HouseholdMoved {
                    moved_on: d(on),
                    unit_code: unit_code.into(),
                    hamlet: "Ấp Tân Lợi".into(),
                    area: Area::Rural,
                },
                unit,
            },
        )
        .await
    }
}

fn member(name: &str, birth_year: i32, sex: Sex, relation: &str) -> Member {
    Member {
        name: name.into(),
        birth_year,
        sex,
        relation: relation.into(),
        id_number: None,
    }
}

fn support(
    on: &str,
    policy: Policy,
    amount: i64,
    source: FundingSource,
    fund: Option<&str>,
) -> SupportReceived {
    SupportReceived {
        policy,
        amount_vnd: Vnd::new(amount).expect("amount"),
        in_kind: None,
        funding_source: source,
        fund_id: fund.map(str::to_owned),
        disbursed_on: d(on),
        disbursed_by: "UBND phường 3".into(),
        decision_no: format!("{on}/QĐ-HT"),
        recipient_member: None,
        override_reason: None,
    }
}

/// Lan's household in Phường 3 (25459, district 703): poor under the old standard in 2021,
/// carried over as poor in 2022, exits to near-poor in 2023 with supports in between, falls
/// back in 2024 (the decision entered ten days late), moves to Xã Tân Lập (25489, district 705)
/// in 2025. Returns the story and the sequence of the corrected support.
async fn lan<'a>(log: &'a EventLog, pool: &'a PgPool) -> (Story<'a>, i64) {
    let s = Story::new(log, pool);
    s.register(
        "2021-09-21",
        "2021-09-20",
        HouseholdRegistered {
            head_name: "Nguyễn Thị Lan".into(),
            unit_code: "25459".into(),
            hamlet: "Khu phố 2".into(),
            area: Area::Rural,
            ethnic_minority: false,
            merit_family: true,
            members: vec![
                member("Nguyễn Thị Lan", 1978, Sex::Female, "head"),
                member("Trần Văn Hùng", 1975, Sex::Male, "spouse"),
                member("Trần Minh Khoa", 2008, Sex::Male, "child"),
            ],
        },
    )
    .await;
    let poor3 = ["health_insurance", "housing_area", "hygienic_latrine"];
    s.survey("2021-10-06", "2021-10-05", 650_000, &poor3, true, None)
        .await;
    s.decide(
        "2021-12-11",
        "vn-2016-2020",
        Category::Poor,
        "2021-12-10",
        "45/QĐ-UBND",
    )
    .await;
    s.survey(
        "2022-10-06",
        "2022-10-05",
        1_200_000,
        &poor3,
        true,
        Some("thiếu vốn"),
    )
    .await;
    s.decide(
        "2022-12-11",
        "vn-2022-2025",
        Category::Poor,
        "2022-12-10",
        "123/QĐ-UBND",
    )
    .await;
    s.support(
        "2023-03-02",
        support(
            "2023-03-01",
            Policy::PreferentialCredit,
            30_000_000,
            FundingSource::CentralBudget,
            None,
        ),
    )
    .await;
    s.survey(
        "2023-10-06",
        "2023-10-05",
        1_400_000,
        &["housing_area"],
        true,
        None,
    )
    .await;
    s.decide(
        "2023-12-09",
        "vn-2022-2025",
        Category::NearPoor,
        "2023-12-08",
        "200/QĐ-UBND",
    )
    .await;
    let insurance = s
        .support(
            "2024-02-16",
            support(
                "2024-02-15",
                Policy::HealthInsurance,
                1_200_000,
                FundingSource::LocalBudget,
                None,
            ),
        )
        .await
        .version;
    s.support(
        "2024-03-02",
        support(
            "2024-03-01",
            Policy::ElectricitySubsidy,
            46_000,
            FundingSource::Mobilized,
            Some("quy-vi-nguoi-ngheo"),
        ),
    )
    .await;
    let corrected = support(
        "2024-02-15",
        Policy::HealthInsurance,
        1_500_000,
        FundingSource::LocalBudget,
        None,
    );
    s.run(
        "2024-03-10",
        HouseholdCommand::Correct {
            corrects_sequence: insurance,
            reason: "nhập sai số tiền".into(),
            replacement: Some(ReplacementInput::Support(corrected)),
        },
    )
    .await;
    s.survey(
        "2024-10-05",
        "2024-10-04",
        1_100_000,
        &[
            "health_insurance",
            "housing_area",
            "hygienic_latrine",
            "employment",
        ],
        false,
        Some("ốm đau"),
    )
    .await;
    s.decide(
        "2024-12-20",
        "vn-2022-2025",
        Category::Poor,
        "2024-12-10",
        "310/QĐ-UBND",
    )
    .await;
    s.moved("2025-02-03", "2025-02-01", "25489").await;
    (s, insurance)
}

/// Đặng Văn Đức's household in Phường 1 (25456, district 703): near-poor from 2022, closed in
/// 2023 when it left the province.
async fn duc<'a>(log: &'a EventLog, pool: &'a PgPool) -> Story<'a> {
    let s = Story::new(log, pool);
    s.register(
        "2022-03-02",
        "2022-03-01",
        HouseholdRegistered {
            head_name: "Đặng Văn Đức".into(),
            unit_code: "25456".into(),
            hamlet: "Khu phố 1".into(),
            area: Area::Rural,
            ethnic_minority: true,
            merit_family: false,
            members: vec![member("Đặng Văn Đức", 1960, Sex::Male, "head")],
        },
    )
    .await;
    s.survey(
        "2022-10-02",
        "2022-10-01",
        1_300_000,
        &["housing_area"],
        true,
        None,
    )
    .await;
    s.decide(
        "2022-12-11",
        "vn-2022-2025",
        Category::NearPoor,
        "2022-12-10",
        "124/QĐ-UBND",
    )
    .await;
    s.run(
        "2023-06-16",
        HouseholdCommand::Close(HouseholdClosed {
            closed_on: d("2023-06-15"),
            reason: ClosureReason::LeftProvince,
            merged_into: None,
            note: Some("chuyển đi Bình Dương".into()),
        }),
    )
    .await;
    s
}

/// Võ Thị Hoa's household in Phường 4 (25462, district 703): newly poor in 2022, a support
/// recorded for the wrong household and voided, a move to Thị trấn Tân Biên (25486, district
/// 705) entered as 1 May 2023 and corrected to 1 February, and a new head after a death.
/// Returns the story and the voided support's sequence.
async fn hoa<'a>(log: &'a EventLog, pool: &'a PgPool) -> (Story<'a>, i64) {
    let s = Story::new(log, pool);
    s.register(
        "2022-01-11",
        "2022-01-10",
        HouseholdRegistered {
            head_name: "Võ Thị Hoa".into(),
            unit_code: "25462".into(),
            hamlet: "Khu phố 3".into(),
            area: Area::Rural,
            ethnic_minority: false,
            merit_family: false,
            members: vec![
                member("Võ Thị Hoa", 1950, Sex::Female, "head"),
                member("Lý Văn Tâm", 1980, Sex::Male, "child"),
            ],
        },
    )
    .await;
    s.survey(
        "2022-10-02",
        "2022-10-01",
        900_000,
        &["health_insurance", "housing_quality", "domestic_water"],
        false,
        Some("già yếu"),
    )
    .await;
    s.decide(
        "2022-12-10",
        "vn-2022-2025",
        Category::Poor,
        "2022-12-09",
        "125/QĐ-UBND",
    )
    .await;
    let wrong = s
        .support(
            "2023-01-06",
            support(
                "2023-01-05",
                Policy::EmergencyAid,
                2_000_000,
                FundingSource::Mobilized,
                Some("quy-vi-nguoi-ngheo"),
            ),
        )
        .await
        .version;
    s.run(
        "2023-01-20",
        HouseholdCommand::Correct {
            corrects_sequence: wrong,
            reason: "ghi nhầm hộ".into(),
            replacement: None,
        },
    )
    .await;
    let moved = s.moved("2023-05-03", "2023-05-01", "25486").await.version;
    let unit = s.unit("25486", "2023-02-01").await;
    s.run(
        "2023-05-10",
        HouseholdCommand::Correct {
            corrects_sequence: moved,
            reason: "sai ngày chuyển đến".into(),
            replacement: Some(ReplacementInput::Move {
                moved: HouseholdMoved {
                    moved_on: d("2023-02-01"),
                    unit_code: "25486".into(),
                    hamlet: "Khu phố 5".into(),
                    area: Area::Rural,
                },
                unit,
            }),
        },
    )
    .await;
    s.run(
        "2023-08-05",
        HouseholdCommand::ChangeMembers(MembersChanged {
            changed_on: d("2023-08-01"),
            added: vec![],
            removed: vec![MemberRemoved {
                name: "Võ Thị Hoa".into(),
                birth_year: 1950,
                reason: MemberChangeReason::Death,
            }],
            new_head_name: Some("Lý Văn Tâm".into()),
        }),
    )
    .await;
    (s, wrong)
}

async fn setup() -> (common::TestDb, EventLog) {
    let db = common::migrated_db().await;
    let log = EventLog::new(db.pool.clone()).await.expect("event log");
    (db, log)
}

async fn catch_up(pool: &PgPool) {
    ansinh::projection_runner::catch_up(pool)
        .await
        .expect("movements catch up");
}

async fn report(pool: &PgPool, unit: &str, from: &str, to: &str, standard: &str) -> MovementReport {
    movements::report(pool, unit, d(from), d(to), standard)
        .await
        .expect("report")
}

// ------------------------------------------------------------------------------ status

#[tokio::test]
async fn status_follows_the_story_through_exit_relapse_and_move() {
    let (db, log) = setup().await;
    let (lan, _) = lan(&log, &db.pool).await;
    let s = status::status_on(&db.pool, lan.id, d("2025-03-01"))
        .await
        .expect("status")
        .expect("known");
    assert_eq!(s.head_name, "Nguyễn Thị Lan");
    assert_eq!(s.unit_code, "25489");
    assert_eq!(s.hamlet, "Ấp Tân Lợi");
    assert_eq!(s.member_count, 3);
    assert!(s.merit_family && !s.ethnic_minority);
    assert!(s.no_working_capacity, "the 2024 survey found none");
    assert_eq!(s.closed_on, None);
    let new = &s.status["vn-2022-2025"];
    assert_eq!(new.category, Category::Poor);
    assert_eq!(new.since, d("2024-12-10"));
    assert_eq!(new.decision_no, "310/QĐ-UBND");
    assert_eq!(new.exited_poverty_on, Some(d("2023-12-08")));
    assert!(!new.recently_exited, "poor again");
    let old = &s.status["vn-2016-2020"];
    assert_eq!((old.category, old.since), (Category::Poor, d("2021-12-10")));
    let events = log.events(lan.id).await.expect("events");
    assert_eq!(s.version, events.len() as i64);

    // The contract's shape.
    let json = serde_json::to_value(&s).expect("json");
    assert_eq!(json["status"]["vn-2022-2025"]["category"], "poor");
    assert_eq!(json["status"]["vn-2022-2025"]["since"], "2024-12-10");
    assert_eq!(json["area"], "rural");
    assert!(json.get("as_of").is_none());

    // The read model and a replay of the whole log agree.
    let replayed = status::status_as_of(&db.pool, lan.id, Some(d("2025-03-01")), None)
        .await
        .expect("replay")
        .expect("known");
    assert_eq!(
        status::HouseholdStatus {
            as_of: None,
            ..replayed
        },
        s
    );
    assert_eq!(
        status::status(&db.pool, Uuid::now_v7())
            .await
            .expect("status"),
        None
    );
}

#[tokio::test]
async fn a_closed_household_shows_its_closure_and_a_new_head_shows_everywhere() {
    let (db, log) = setup().await;
    let duc = duc(&log, &db.pool).await;
    let (hoa, _) = hoa(&log, &db.pool).await;
    let s = status::status(&db.pool, duc.id)
        .await
        .expect("status")
        .expect("known");
    assert_eq!(s.closed_on, Some(d("2023-06-15")));
    assert!(s.ethnic_minority);
    assert_eq!(s.status["vn-2022-2025"].category, Category::NearPoor);
    // A closed household takes no new facts.
    let refused = log
        .execute(
            Command {
                ctx: CommandContext::new(duc.id, Actor::system("t"), Source::Cli, Utc::now()),
                action: HouseholdCommand::Close(HouseholdClosed {
                    closed_on: d("2023-07-01"),
                    reason: ClosureReason::Dissolved,
                    merged_into: None,
                    note: None,
                }),
            },
            None,
        )
        .await;
    assert!(refused.is_err());

    let h = status::status(&db.pool, hoa.id)
        .await
        .expect("status")
        .expect("known");
    assert_eq!(h.head_name, "Lý Văn Tâm");
    assert_eq!(h.member_count, 1);
    assert_eq!(h.unit_code, "25486");
    assert!(h.no_working_capacity);
}

#[tokio::test]
async fn head_name_search_ignores_case_and_diacritics() {
    let (db, log) = setup().await;
    let (lan, _) = lan(&log, &db.pool).await;
    let duc = duc(&log, &db.pool).await;
    let (hoa, _) = hoa(&log, &db.pool).await;
    let find = |name: &str, unit: Option<&str>| {
        let q = SearchQuery {
            name: name.into(),
            unit: unit.map(str::to_owned),
            limit: 20,
            offset: 0,
            ..SearchQuery::default()
        };
        let pool = db.pool.clone();
        async move {
            let page = status::search(&pool, &q).await.expect("search");
            assert_eq!(page.total, page.items.len() as i64);
            page.items.into_iter().map(|h| h.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(find("nguyen thi lan", None).await, vec![lan.id]);
    assert_eq!(find("NGUYỄN", None).await, vec![lan.id]);
    assert_eq!(find("thi lan", None).await, vec![lan.id]);
    assert_eq!(find("dang van duc", None).await, vec![duc.id]);
    assert_eq!(find("Đặng   văn đ", None).await, vec![duc.id]);
    assert_eq!(find("duc", None).await, vec![duc.id]);
    // The current head, not the registered one.
    assert_eq!(find("ly van tam", None).await, vec![hoa.id]);
    assert!(find("vo thi hoa", None).await.is_empty());
    // Word starts only, and LIKE's wildcards are plain characters.
    assert!(find("an", None).await.is_empty());
    assert!(find("%", None).await.is_empty());
    // By unit, with the units below it: Lan lives in 25489 (district 705) now.
    assert_eq!(find("nguyen", Some("705")).await, vec![lan.id]);
    assert!(find("nguyen", Some("703")).await.is_empty());
    let everyone = find("v", Some("72")).await;
    assert_eq!(everyone.len(), 2, "Đặng Văn Đức and Lý Văn Tâm");
}

// ------------------------------------------------------------------------------ time travel

#[tokio::test]
async fn time_travel_gives_the_category_of_each_date_as_of_and_as_known_on() {
    let (db, log) = setup().await;
    let (lan, insurance) = lan(&log, &db.pool).await;
    let as_of = |on: &str| {
        let pool = db.pool.clone();
        let id = lan.id;
        let on = d(on);
        async move {
            status::status_as_of(&pool, id, Some(on), None)
                .await
                .expect("as of")
        }
    };
    assert_eq!(as_of("2021-09-19").await, None, "not registered yet");
    let before_decision = as_of("2021-11-30").await.expect("registered");
    assert!(before_decision.status.is_empty());
    assert_eq!(before_decision.as_of, Some(d("2021-11-30")));
    let category = |s: &status::HouseholdStatus, standard: &str| {
        s.status.get(standard).map(|x| (x.category, x.since))
    };
    let mid_2022 = as_of("2022-06-30").await.expect("known");
    assert_eq!(
        category(&mid_2022, "vn-2016-2020"),
        Some((Category::Poor, d("2021-12-10")))
    );
    assert_eq!(category(&mid_2022, "vn-2022-2025"), None);
    assert_eq!(
        category(&as_of("2023-06-30").await.expect("known"), "vn-2022-2025"),
        Some((Category::Poor, d("2022-12-10")))
    );
    let exited = as_of("2024-06-30").await.expect("known");
    assert_eq!(
        category(&exited, "vn-2022-2025"),
        Some((Category::NearPoor, d("2023-12-08")))
    );
    assert!(exited.recently_exited);
    assert!(!exited.no_working_capacity, "the 2024 survey is later");
    let relapsed = as_of("2025-01-15").await.expect("known");
    assert_eq!(
        category(&relapsed, "vn-2022-2025"),
        Some((Category::Poor, d("2024-12-10")))
    );
    assert_eq!(relapsed.unit_code, "25459");
    assert_eq!(as_of("2025-02-01").await.expect("known").unit_code, "25489");

    // As known on: the relapse was decided on 10 December but entered on the 20th.
    let known = |as_of: Option<&str>, known_on: &str| {
        let pool = db.pool.clone();
        let id = lan.id;
        let (as_of, known_on) = (as_of.map(d), d(known_on));
        async move {
            status::status_as_of(&pool, id, as_of, Some(known_on))
                .await
                .expect("known on")
                .expect("registered")
        }
    };
    let on_the_15th = known(Some("2024-12-15"), "2024-12-15").await;
    assert_eq!(
        category(&on_the_15th, "vn-2022-2025"),
        Some((Category::NearPoor, d("2023-12-08")))
    );
    assert_eq!(on_the_15th.known_on, Some(d("2024-12-15")));
    assert_eq!(
        category(
            &known(Some("2024-12-15"), "2024-12-20").await,
            "vn-2022-2025"
        ),
        Some((Category::Poor, d("2024-12-10")))
    );
    // Known on alone: everything recorded by then, whatever its effective date.
    assert_eq!(
        category(&known(None, "2024-12-19").await, "vn-2022-2025"),
        Some((Category::NearPoor, d("2023-12-08")))
    );
    // The move took effect on 1 February and was entered on the 3rd.
    assert_eq!(
        known(Some("2025-02-02"), "2025-02-02").await.unit_code,
        "25459"
    );
    assert_eq!(
        known(Some("2025-02-02"), "2025-02-03").await.unit_code,
        "25489"
    );

    // Corrections count as of any date once known, and not before they were recorded.
    let events = log.events(lan.id).await.expect("events");
    let amount = |state: &HouseholdState| state.supports[insurance].amount_vnd;
    let early = time_travel::replay(&events, Some(d("2024-02-20")), Some(d("2024-03-05")));
    assert_eq!(amount(&early), 1_200_000);
    let later = time_travel::replay(&events, Some(d("2024-02-20")), Some(d("2024-03-10")));
    assert_eq!(amount(&later), 1_500_000);
    let before_support = time_travel::replay(&events, Some(d("2024-02-14")), None);
    assert!(before_support.supports.get(insurance).is_none());
}

#[tokio::test]
async fn a_corrected_date_moves_a_fact_in_time_travel() {
    let (db, log) = setup().await;
    let (hoa, _) = hoa(&log, &db.pool).await;
    let unit = |as_of: &str, known_on: Option<&str>| {
        let pool = db.pool.clone();
        let id = hoa.id;
        let (as_of, known_on) = (d(as_of), known_on.map(d));
        async move {
            status::status_as_of(&pool, id, Some(as_of), known_on)
                .await
                .expect("as of")
                .expect("registered")
                .unit_code
        }
    };
    // Moved on 1 February after the correction, on 1 May as first entered.
    assert_eq!(unit("2023-03-01", None).await, "25486");
    assert_eq!(unit("2023-01-31", None).await, "25462");
    assert_eq!(unit("2023-03-01", Some("2023-05-05")).await, "25462");
    assert_eq!(unit("2023-05-02", Some("2023-05-05")).await, "25486");
}

// ------------------------------------------------------------------------------ history

#[tokio::test]
async fn history_pages_the_trail_with_envelopes_and_links_corrections() {
    let (db, log) = setup().await;
    let (lan, insurance) = lan(&log, &db.pool).await;
    let events = log.events(lan.id).await.expect("events");
    let total = events.len() as i64;
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = history::page(&db.pool, lan.id, after, 4)
            .await
            .expect("page")
            .expect("known");
        assert_eq!(page.total, total);
        assert!(page.events.len() <= 4);
        seen.extend(page.events);
        match page.next_after {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(
        seen.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    for (entry, event) in seen.iter().zip(&events) {
        assert_eq!(entry.type_name, event.event.type_name());
        assert_eq!(entry.hash, event.meta.hash);
        assert_eq!(entry.prev_hash, event.meta.prev_hash);
        assert_eq!(entry.effective_on, event.meta.effective_on);
        assert_eq!(entry.actor.user, "Trần Văn Bình");
    }
    let original = &seen[(insurance - 1) as usize];
    assert_eq!(original.type_name, "support_received");
    assert_eq!(
        original.data["amount_vnd"], 1_200_000,
        "the log is never rewritten"
    );
    assert_eq!(original.corrected_by.len(), 1);
    assert!(!original.voided);
    let correction = &seen[(original.corrected_by[0] - 1) as usize];
    assert_eq!(correction.type_name, "event_corrected");
    let corrects = correction.corrects.as_ref().expect("link");
    assert_eq!(
        (corrects.sequence, corrects.original_sequence),
        (insurance, insurance)
    );
    assert_eq!(correction.reason.as_deref(), Some("nhập sai số tiền"));
    let relapse = seen
        .iter()
        .find(|e| e.type_name == "fell_back_into_poverty")
        .expect("relapse");
    assert_eq!(relapse.decision_no.as_deref(), Some("310/QĐ-UBND"));
    assert_eq!(relapse.effective_on, d("2024-12-10"));
    let json = serde_json::to_value(relapse).expect("json");
    for field in [
        "sequence",
        "type",
        "effective_on",
        "recorded_at",
        "actor",
        "reason",
        "data",
        "prev_hash",
        "hash",
    ] {
        assert!(json.get(field).is_some(), "{field} missing");
    }
    assert_eq!(json["actor"]["role"], "commune_officer");
    assert!(history::page(&db.pool, Uuid::now_v7(), 0, 10)
        .await
        .expect("page")
        .is_none());
}

#[tokio::test]
async fn history_marks_a_voided_fact() {
    let (db, log) = setup().await;
    let (hoa, wrong) = hoa(&log, &db.pool).await;
    let page = history::page(&db.pool, hoa.id, wrong - 1, 1)
        .await
        .expect("page")
        .expect("known");
    let entry = &page.events[0];
    assert_eq!(entry.sequence, wrong);
    assert!(entry.voided);
    assert_eq!(entry.corrected_by, vec![wrong + 1]);
}

/// The history is written straight from each event's stored JSON: every page, at every size,
/// shows exactly what the log holds, escapes, corrections and voided facts included, and the
/// JSON reads back as the trail's types.
#[tokio::test]
async fn history_pages_show_each_event_as_stored() {
    let (db, log) = setup().await;
    let (lan, insurance) = lan(&log, &db.pool).await;
    let (hoa, _) = hoa(&log, &db.pool).await;
    // A reason whose JSON needs escapes: quotes, a backslash, a new line, a tab.
    let reason = "ghi \"nhầm\" C:\\sổ\n\tlần hai";
    lan.run(
        "2025-01-20",
        HouseholdCommand::Correct {
            corrects_sequence: insurance,
            reason: reason.into(),
            replacement: None,
        },
    )
    .await;
    for (id, limit) in [(lan.id, 1000), (lan.id, 3), (hoa.id, 2), (hoa.id, 1000)] {
        let stored: Vec<serde_json::Value> = sqlx::query_scalar(
            "SELECT payload FROM household_events WHERE aggregate_id = $1 ORDER BY sequence_number",
        )
        .bind(id)
        .fetch_all(&db.pool)
        .await
        .expect("the log");
        let unit: String =
            sqlx::query_scalar("SELECT unit_code FROM household_status WHERE household_id = $1")
                .bind(id)
                .fetch_one(&db.pool)
                .await
                .expect("status");
        let mut shown = Vec::new();
        let mut after = 0;
        loop {
            let text = history::page_json_in_unit(&db.pool, id, after, limit)
                .await
                .expect("page")
                .expect("known");
            let page: serde_json::Value = serde_json::from_slice(&text.json).expect("JSON");
            let typed: history::HistoryPage =
                serde_json::from_slice(&text.json).expect("the trail's shape");
            assert_eq!(typed.total, stored.len() as i64);
            assert_eq!(text.next_after, typed.next_after);
            assert_eq!(text.unit_code, unit);
            shown.extend(page["events"].as_array().expect("events").iter().cloned());
            match text.next_after {
                Some(next) => after = next,
                None => break,
            }
        }
        assert_eq!(shown.len(), stored.len());
        for (n, (entry, event)) in shown.iter().zip(&stored).enumerate() {
            let meta = &event["meta"];
            assert_eq!(entry["sequence"], n + 1);
            assert_eq!(entry["type"], event["type"]);
            assert_eq!(entry["data"], event["data"]);
            assert_eq!(entry["actor"]["user"], meta["actor"]["name"]);
            for field in ["user_id", "role", "unit"] {
                assert_eq!(entry["actor"][field], meta["actor"][field], "{field}");
            }
            for field in [
                "effective_on",
                "recorded_at",
                "reason",
                "decision_no",
                "legal_basis",
                "source",
                "correlation_id",
                "prev_hash",
                "hash",
            ] {
                assert_eq!(entry[field], meta[field], "{field} of event {}", n + 1);
            }
        }
    }
    let page = history::page(&db.pool, lan.id, 0, 1000)
        .await
        .expect("page")
        .expect("known");
    let last = page.events.last().expect("the correction");
    assert_eq!(last.reason.as_deref(), Some(reason));
    assert_eq!(last.corrects.as_ref().map(|c| c.sequence), Some(insurance));
    let voided = &page.events[(insurance - 1) as usize];
    assert!(voided.voided);
    assert_eq!(voided.corrected_by.last(), Some(&last.sequence));
    assert!(history::page_json_in_unit(&db.pool, Uuid::now_v7(), 0, 10)
        .await
        .expect("page")
        .is_none());
}

// ------------------------------------------------------------------------------ disbursements

#[tokio::test]
async fn the_support_trail_shows_corrected_amounts_filters_and_totals() {
    let (db, log) = setup().await;
    let (lan, insurance) = lan(&log, &db.pool).await;
    let (hoa, wrong) = hoa(&log, &db.pool).await;
    let list = |filter: DisbursementFilter| {
        let pool = db.pool.clone();
        async move {
            disbursements::list(&pool, &filter, 50, 0)
                .await
                .expect("list")
        }
    };
    let all = list(DisbursementFilter::default()).await;
    assert_eq!(all.items.len(), 3, "the voided support is left out");
    assert_eq!(all.totals.count, 3);
    assert_eq!(all.totals.amount_vnd, 30_000_000 + 1_500_000 + 46_000);
    let corrected = all
        .items
        .iter()
        .find(|i| i.sequence == insurance)
        .expect("insurance");
    assert_eq!(corrected.amount_vnd, 1_500_000);
    assert_eq!(corrected.original_amount_vnd, Some(1_200_000));
    assert_eq!(corrected.corrected_by, Some(insurance + 2));
    assert_eq!(
        corrected.correction_reason.as_deref(),
        Some("nhập sai số tiền")
    );
    assert_eq!(corrected.head_name, "Nguyễn Thị Lan");
    // The unit on the day of the disbursement, not after the move.
    assert!(all.items.iter().all(|i| i.unit_code == "25459"));
    let json = serde_json::to_value(&all).expect("json");
    assert_eq!(json["items"][0]["policy"], "preferential_credit");
    assert_eq!(json["items"][0]["funding_source"], "central_budget");
    assert_eq!(json["totals"]["count"], 3);

    let by = |f: DisbursementFilter| list(f);
    let district = by(DisbursementFilter {
        unit: Some("703".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(district.totals.count, 3);
    assert_eq!(
        by(DisbursementFilter {
            unit: Some("705".into()),
            ..Default::default()
        })
        .await
        .totals
        .count,
        0
    );
    let insurance_only = by(DisbursementFilter {
        policy: Some(Policy::HealthInsurance),
        ..Default::default()
    })
    .await;
    assert_eq!(insurance_only.totals.amount_vnd, 1_500_000);
    let fund = by(DisbursementFilter {
        fund: Some("quy-vi-nguoi-ngheo".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(fund.totals.count, 1, "the voided one from the fund is out");
    let mobilized = by(DisbursementFilter {
        source: Some(FundingSource::Mobilized),
        include_voided: true,
        ..Default::default()
    })
    .await;
    assert_eq!(mobilized.items.len(), 2);
    assert_eq!(mobilized.totals.count, 1, "voided never counts");
    let voided = mobilized
        .items
        .iter()
        .find(|i| i.household_id == hoa.id)
        .expect("voided row");
    assert!(voided.voided);
    assert_eq!(voided.sequence, wrong);
    assert_eq!(voided.head_name, "Lý Văn Tâm", "the current head");
    let period = by(DisbursementFilter {
        from: Some(d("2024-01-01")),
        to: Some(d("2024-12-31")),
        ..Default::default()
    })
    .await;
    assert_eq!(period.totals.count, 2);
    let household = by(DisbursementFilter {
        household: Some(lan.id),
        ..Default::default()
    })
    .await;
    assert_eq!(household.totals.count, 3);
    // Paging keeps the totals of the whole selection.
    let page = disbursements::list(&db.pool, &DisbursementFilter::default(), 2, 2)
        .await
        .expect("page");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.totals.count, 3);
}

// ------------------------------------------------------------------------------ re-poverty

#[tokio::test]
async fn the_re_poverty_register_names_the_exit_the_relapse_and_the_supports_between() {
    let (db, log) = setup().await;
    let (lan, _) = lan(&log, &db.pool).await;
    duc(&log, &db.pool).await;
    hoa(&log, &db.pool).await;
    let list = |filter: RePovertyFilter| {
        let pool = db.pool.clone();
        async move { re_poverty::list(&pool, &filter, 50, 0).await.expect("list") }
    };
    let all = list(RePovertyFilter::default()).await;
    assert_eq!(all.total, 1);
    let r = &all.items[0];
    assert_eq!(r.household_id, lan.id);
    assert_eq!(r.standard, "vn-2022-2025");
    assert_eq!(r.category, Category::Poor);
    assert_eq!(r.exited_on, d("2023-12-08"));
    assert_eq!(r.exit_decision_no.as_deref(), Some("200/QĐ-UBND"));
    assert_eq!(r.exited_to, Some(Category::NearPoor));
    assert_eq!(r.fell_back_on, d("2024-12-10"));
    assert_eq!(r.fell_back_decision_no, "310/QĐ-UBND");
    assert_eq!(r.fell_back_from, Category::NearPoor);
    assert_eq!(r.supports_between, 2);
    assert_eq!(
        r.supports_between_vnd,
        1_500_000 + 46_000,
        "corrected amount"
    );
    assert_eq!(r.cause.as_deref(), Some("ốm đau"));
    assert_eq!(r.unit_code, "25459", "where it fell back, before the move");
    let json = serde_json::to_value(r).expect("json");
    for field in [
        "household_id",
        "unit_code",
        "exited_on",
        "fell_back_on",
        "supports_between",
    ] {
        assert!(json.get(field).is_some(), "{field} missing");
    }
    let count = |f: RePovertyFilter| {
        let list = list(f);
        async move { list.await.total }
    };
    let unit = |u: &str| RePovertyFilter {
        unit: Some(u.into()),
        ..Default::default()
    };
    assert_eq!(count(unit("703")).await, 1);
    assert_eq!(count(unit("72")).await, 1);
    assert_eq!(count(unit("705")).await, 0);
    let period = |from: &str, to: &str| RePovertyFilter {
        from: Some(d(from)),
        to: Some(d(to)),
        ..Default::default()
    };
    assert_eq!(count(period("2024-12-10", "2024-12-10")).await, 1);
    assert_eq!(count(period("2024-01-01", "2024-12-09")).await, 0);
    let standard = |s: &str| RePovertyFilter {
        standard: Some(s.into()),
        ..Default::default()
    };
    assert_eq!(count(standard("vn-2016-2020")).await, 0);
    let near = RePovertyFilter {
        category: Some(Category::NearPoor),
        ..Default::default()
    };
    assert_eq!(count(near).await, 0);
}

// ------------------------------------------------------------------------------ movements

#[tokio::test]
async fn movement_tables_follow_the_stories_per_unit_and_period() {
    let (db, log) = setup().await;
    lan(&log, &db.pool).await;
    duc(&log, &db.pool).await;
    hoa(&log, &db.pool).await;
    catch_up(&db.pool).await;
    let std = "vn-2022-2025";

    // 2022, district 703: Lan carried over from the old standard, Hoa newly poor, Đức newly
    // near-poor.
    let y2022 = report(&db.pool, "703", "2022-01-01", "2022-12-31", std).await;
    assert_eq!(y2022.poor.opening, 0);
    assert_eq!(y2022.poor.other_increase, 1);
    assert_eq!(y2022.poor.newly_poor, 1);
    assert_eq!(y2022.poor.closing, 2);
    assert_eq!(y2022.near_poor.newly_near_poor, 1);
    assert_eq!(y2022.near_poor.closing, 1);
    assert_eq!(y2022.breakdowns.merit_family.poor.closing, 1, "Lan");
    assert_eq!(y2022.breakdowns.ethnic_minority.near_poor.closing, 1, "Đức");
    assert_eq!(y2022.breakdowns.no_working_capacity.poor.closing, 1, "Hoa");

    // 2023: Hoa moves out (1 February, as corrected), Lan exits to near-poor, Đức is closed.
    let y2023 = report(&db.pool, "703", "2023-01-01", "2023-12-31", std).await;
    assert_eq!(y2023.poor.opening, 2);
    assert_eq!(y2023.poor.other_decrease, 1);
    assert_eq!(y2023.poor.exited_to_near_poor, 1);
    assert_eq!(y2023.poor.closing, 0);
    assert_eq!(y2023.near_poor.opening, 1);
    assert_eq!(y2023.near_poor.from_poor, 1);
    assert_eq!(y2023.near_poor.other_decrease, 1);
    assert_eq!(y2023.near_poor.closing, 1);
    let tan_bien = report(&db.pool, "705", "2023-01-01", "2023-12-31", std).await;
    assert_eq!(tan_bien.poor.other_increase, 1);
    assert_eq!(tan_bien.poor.closing, 1);
    let before_correction_date = report(&db.pool, "705", "2023-01-01", "2023-01-31", std).await;
    assert_eq!(before_correction_date.poor.closing, 0);

    // 2024: Lan falls back; her survey found no working capacity while she was near-poor.
    let y2024 = report(&db.pool, "703", "2024-01-01", "2024-12-31", std).await;
    assert_eq!(y2024.poor.fell_back, 1);
    assert_eq!(y2024.near_poor.to_poor, 1);
    assert_eq!(y2024.poor.closing, 1);
    assert_eq!(y2024.near_poor.closing, 0);
    let nwc = y2024.breakdowns.no_working_capacity;
    assert_eq!(
        nwc.near_poor.other_increase, 1,
        "flag change while near-poor"
    );
    assert_eq!(nwc.near_poor.to_poor, 1);
    assert_eq!(nwc.poor.fell_back, 1);

    // 2025: Lan moves to district 705; the province sees no movement.
    let y2025 = report(&db.pool, "703", "2025-01-01", "2025-06-30", std).await;
    assert_eq!((y2025.poor.other_decrease, y2025.poor.closing), (1, 0));
    let province = report(&db.pool, "72", "2025-01-01", "2025-06-30", std).await;
    assert_eq!(province.poor.opening, 2);
    assert_eq!(province.poor.increases + province.poor.decreases, 0);
    assert_eq!(province.poor.closing, 2);

    // The old standard: Lan newly poor in 2021.
    let old = report(
        &db.pool,
        "25459",
        "2021-01-01",
        "2021-12-31",
        "vn-2016-2020",
    )
    .await;
    assert_eq!((old.poor.newly_poor, old.poor.closing), (1, 1));

    // The contract's names.
    let json = serde_json::to_value(&y2023).expect("json");
    for field in [
        "opening",
        "newly_poor",
        "fell_back",
        "from_near_poor",
        "exited_to_near_poor",
        "exited_above_near_poor",
        "other_increase",
        "other_decrease",
        "closing",
    ] {
        assert!(json["poor"].get(field).is_some(), "{field} missing");
    }
    assert!(json["near_poor"]["closing"].is_i64());

    assert!(matches!(
        movements::report(&db.pool, "99999", d("2023-01-01"), d("2023-12-31"), std).await,
        Err(movements::ReportError::UnknownUnit(_))
    ));
    assert!(matches!(
        movements::report(&db.pool, "703", d("2023-12-31"), d("2023-01-01"), std).await,
        Err(movements::ReportError::BadPeriod { .. })
    ));
}

#[tokio::test]
async fn the_runner_keeps_a_checkpoint_and_redelivery_changes_nothing() {
    use ansinh_projections::runner::{self, AsyncProjection, Cursor};
    let (db, log) = setup().await;
    lan(&log, &db.pool).await;
    assert_eq!(
        runner::checkpoint(&db.pool, AsyncProjection::Movements)
            .await
            .expect("checkpoint"),
        Cursor::default()
    );
    catch_up(&db.pool).await;
    let first = runner::checkpoint(&db.pool, AsyncProjection::Movements)
        .await
        .expect("checkpoint");
    assert!(first > Cursor::default());
    let before = snapshot(&db.pool).await;
    // Nothing new: nothing applied, checkpoint unchanged.
    assert_eq!(
        ansinh::projection_runner::catch_up(&db.pool)
            .await
            .expect("again"),
        0
    );
    // Everything delivered again (a crash before the checkpoint moved): same rows.
    let mut conn = db.pool.acquire().await.expect("conn");
    runner::set_checkpoint(&mut conn, AsyncProjection::Movements, Cursor::default())
        .await
        .expect("reset");
    drop(conn);
    assert!(
        ansinh::projection_runner::catch_up(&db.pool)
            .await
            .expect("replay")
            > 0
    );
    assert_eq!(snapshot(&db.pool).await, before);
    assert_eq!(
        runner::checkpoint(&db.pool, AsyncProjection::Movements)
            .await
            .expect("checkpoint"),
        first
    );
}

/// The runner reads the log once for both projections, from the checkpoint furthest behind:
/// one projection emptied and sent back to the start is filled again from its own checkpoint,
/// while the other, already current, neither moves nor changes.
#[tokio::test]
async fn a_projection_behind_the_other_catches_up_from_its_own_checkpoint() {
    use ansinh_projections::runner::{self, AsyncProjection, Cursor};
    let (db, log) = setup().await;
    lan(&log, &db.pool).await;
    hoa(&log, &db.pool).await;
    catch_up(&db.pool).await;
    let (movements, flags) = (snapshot(&db.pool).await, flag_tables(&db.pool).await);
    assert!(!movements["movement_counts"].is_empty() && !flags.1.is_empty());
    for (behind, tables) in [
        (
            AsyncProjection::Movements,
            "movement_households, movement_counts",
        ),
        (AsyncProjection::Flags, "flag_households, flags"),
    ] {
        let ahead = AsyncProjection::ALL
            .into_iter()
            .find(|p| *p != behind)
            .expect("the other projection");
        let ahead_at = runner::checkpoint(&db.pool, ahead)
            .await
            .expect("checkpoint");
        let mut conn = db.pool.acquire().await.expect("conn");
        sqlx::query(&format!("TRUNCATE {tables}"))
            .execute(&mut *conn)
            .await
            .expect("empty the projection");
        runner::set_checkpoint(&mut conn, behind, Cursor::default())
            .await
            .expect("reset");
        drop(conn);
        catch_up(&db.pool).await;
        assert_eq!(snapshot(&db.pool).await, movements, "{behind:?} behind");
        assert_eq!(flag_tables(&db.pool).await, flags, "{behind:?} behind");
        assert_eq!(
            runner::checkpoint(&db.pool, behind)
                .await
                .expect("checkpoint"),
            ahead_at,
            "{behind:?} reached the other's checkpoint"
        );
        assert_eq!(
            runner::checkpoint(&db.pool, ahead)
                .await
                .expect("checkpoint"),
            ahead_at
        );
    }
}

/// A batch that brings a household only supports cannot move it between cells: the runner does
/// not read its history for the movements, and its row keeps the sequence of its last event
/// that counts for them, as a rebuild writes it. The next such event moves the row on.
#[tokio::test]
async fn supports_alone_leave_a_household_s_movements_as_they_were_and_as_a_rebuild_writes_them() {
    let (db, log) = setup().await;
    let (lan, _) = lan(&log, &db.pool).await;
    catch_up(&db.pool).await;
    let row = || async {
        sqlx::query_as::<_, (i32, serde_json::Value)>(
            "SELECT version, transitions FROM movement_households WHERE household_id = $1",
        )
        .bind(lan.id)
        .fetch_one(&db.pool)
        .await
        .expect("movement row")
    };
    let before = row().await;
    let paid = lan
        .support(
            "2025-02-21",
            support(
                "2025-02-20",
                Policy::PreferentialCredit,
                10_000_000,
                FundingSource::CentralBudget,
                None,
            ),
        )
        .await;
    catch_up(&db.pool).await;
    assert!(i64::from(before.0) < paid.version);
    assert_eq!(row().await, before);
    // The runner did deliver the batch: the flags, which supports do change, took it.
    let flagged: i32 =
        sqlx::query_scalar("SELECT version FROM flag_households WHERE household_id = $1")
            .bind(lan.id)
            .fetch_one(&db.pool)
            .await
            .expect("flag row");
    assert_eq!(i64::from(flagged), paid.version);

    let movements = rebuild::select(Some("movements")).expect("name");
    rebuild::rebuild(&db.pool, &movements, 5_000, |_, _| {})
        .await
        .expect("rebuild");
    assert_eq!(row().await, before);

    let moved = lan.moved("2025-03-02", "2025-03-01", "25459").await;
    catch_up(&db.pool).await;
    let after = row().await;
    assert_eq!(i64::from(after.0), moved.version);
    assert_ne!(after.1, before.1);
}

/// The flags table and its guard rows (with the stored contexts), in key order.
async fn flag_tables(pool: &PgPool) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let rows = |sql: &'static str| async move {
        sqlx::query_scalar::<_, serde_json::Value>(sql)
            .fetch_all(pool)
            .await
            .expect("flag rows")
    };
    (
        rows("SELECT to_jsonb(f) FROM flags f ORDER BY household_id, rule, sequence").await,
        rows("SELECT to_jsonb(h) FROM flag_households h ORDER BY household_id").await,
    )
}

/// Sets a household's stored flag context to the SQL expression `value` (of the old one).
async fn set_context(pool: &PgPool, household: Uuid, value: &str) {
    sqlx::query(&format!(
        "UPDATE flag_households SET context = {value} WHERE household_id = $1"
    ))
    .bind(household)
    .execute(pool)
    .await
    .expect("set the stored context");
}

/// A runner batch that brings a household only supports is flagged from the context stored
/// beside its flags, not from its history: the rows are the ones a rebuild reads off the whole
/// history, and a context altered in the table shows in the new support's flags only.
#[tokio::test]
async fn supports_are_flagged_from_the_stored_context_as_a_rebuild_flags_them() {
    let (db, log) = setup().await;
    let (lan, _) = lan(&log, &db.pool).await;
    let (hoa, _) = hoa(&log, &db.pool).await;
    catch_up(&db.pool).await;
    let (flags_before, _) = flag_tables(&db.pool).await;
    // Entered late, at an amount that is no whole month of the subsidy, after Lan's move.
    let odd = lan
        .paid(
            "2025-09-01",
            "2025-03-01",
            Policy::ElectricitySubsidy,
            50_000,
        )
        .await;
    catch_up(&db.pool).await;
    lan.support(
        "2025-09-02",
        support(
            "2025-09-01",
            Policy::MonthlyAllowance,
            500_000,
            FundingSource::LocalBudget,
            None,
        ),
    )
    .await;
    hoa.paid("2025-09-02", "2025-05-01", Policy::EmergencyAid, 2_000_000)
        .await;
    catch_up(&db.pool).await;
    let (flags, guards) = flag_tables(&db.pool).await;
    let raised: Vec<(String, String)> = flags
        .iter()
        .filter(|f| f["household_id"] == lan.id.to_string() && f["sequence"] == odd.version)
        .map(|f| (f["rule"].to_string(), f["unit_code"].to_string()))
        .collect();
    let unit = "\"25489\"".to_owned();
    assert_eq!(
        raised,
        [
            ("\"amount_differs\"".to_owned(), unit.clone()),
            ("\"late_entry\"".to_owned(), unit)
        ]
    );
    assert!(flags.len() > flags_before.len() + 2);
    assert!(guards.iter().all(|g| g["context"].is_object()));

    let only_flags = rebuild::select(Some("flags")).expect("name");
    rebuild::rebuild(&db.pool, &only_flags, 5_000, |_, _| {})
        .await
        .expect("rebuild");
    assert_eq!(flag_tables(&db.pool).await, (flags, guards));

    // The proof that the history was not read: a name changed in the stored context only.
    set_context(
        &db.pool,
        lan.id,
        "jsonb_set(context, '{head_name}', '\"Tên khác\"')",
    )
    .await;
    let late = lan
        .paid("2025-09-10", "2025-01-10", Policy::EmergencyAid, 1_000_000)
        .await;
    catch_up(&db.pool).await;
    let names: Vec<(i32, String)> = sqlx::query_as(
        "SELECT sequence, head_name FROM flags WHERE household_id = $1 AND rule = 'late_entry'
          ORDER BY sequence",
    )
    .bind(lan.id)
    .fetch_all(&db.pool)
    .await
    .expect("names");
    let latest = i32::try_from(late.version).expect("sequence");
    let first = i32::try_from(odd.version).expect("sequence");
    assert_eq!(
        names,
        [
            (first, "Nguyễn Thị Lan".to_owned()),
            (latest, "Tên khác".to_owned())
        ]
    );

    // A context in a shape this build cannot read is not trusted: the history is read again.
    set_context(&db.pool, hoa.id, "'{\"shape\": \"old\"}'").await;
    let paid = hoa
        .paid("2025-09-20", "2025-04-01", Policy::EmergencyAid, 1_000_000)
        .await;
    catch_up(&db.pool).await;
    let (version, context): (i32, serde_json::Value) =
        sqlx::query_as("SELECT version, context FROM flag_households WHERE household_id = $1")
            .bind(hoa.id)
            .fetch_one(&db.pool)
            .await
            .expect("guard row");
    assert_eq!(i64::from(version), paid.version);
    assert!(context["head_name"].is_string(), "{context}");
    let late: Vec<String> = sqlx::query_scalar(
        "SELECT rule FROM flags WHERE household_id = $1 AND sequence = $2 ORDER BY rule",
    )
    .bind(hoa.id)
    .bind(i32::try_from(paid.version).expect("sequence"))
    .fetch_all(&db.pool)
    .await
    .expect("flags");
    assert_eq!(late, ["late_entry"]);
}

// ------------------------------------------------------------------------------ rebuild

/// Every read model's rows, in key order (the replay guards' versions left out: they record
/// which batch last touched a household, not what it shows).
async fn snapshot(pool: &PgPool) -> BTreeMap<&'static str, Vec<serde_json::Value>> {
    let tables = [
        ("household_status", "household_id"),
        ("household_standard_status", "household_id, standard"),
        ("history_corrections", "household_id, correction_sequence"),
        ("disbursements", "household_id, sequence"),
        ("re_poverty", "household_id, sequence"),
        ("movement_households", "household_id"),
        (
            "movement_counts",
            "standard, day, label, unit_a, group_a, flags_a, unit_b, group_b, flags_b",
        ),
    ];
    let mut out = BTreeMap::new();
    for (table, order) in tables {
        let rows: Vec<serde_json::Value> = sqlx::query_scalar(&format!(
            "SELECT to_jsonb(t) FROM {table} t ORDER BY {order}"
        ))
        .fetch_all(pool)
        .await
        .expect("snapshot");
        out.insert(table, rows);
    }
    out
}

#[tokio::test]
async fn a_full_rebuild_gives_the_same_rows_as_the_inline_path() {
    let (db, log) = setup().await;
    lan(&log, &db.pool).await;
    duc(&log, &db.pool).await;
    hoa(&log, &db.pool).await;
    catch_up(&db.pool).await;
    let inline_rows = snapshot(&db.pool).await;
    assert!(inline_rows.values().all(|rows| !rows.is_empty()));

    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM household_events")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    let mut calls = Vec::new();
    let report = rebuild::rebuild(&db.pool, &Projection::ALL, 5_000, |done, of| {
        calls.push((done, of))
    })
    .await
    .expect("rebuild");
    assert_eq!(report.events, total as u64);
    assert_eq!(report.households, 3);
    assert_eq!(calls.last(), Some(&(total as u64, total as u64)));
    assert_eq!(snapshot(&db.pool).await, inline_rows);

    // Tiny batches split households across batches: the same rows again.
    rebuild::rebuild(&db.pool, &Projection::ALL, 3, |_, _| {})
        .await
        .expect("rebuild in small batches");
    assert_eq!(snapshot(&db.pool).await, inline_rows);

    // One read model alone, after its rows were damaged.
    sqlx::query("UPDATE disbursements SET amount_vnd = 1")
        .execute(&db.pool)
        .await
        .expect("damage");
    let one = rebuild::select(Some("disbursements")).expect("name");
    rebuild::rebuild(&db.pool, &one, 5_000, |_, _| {})
        .await
        .expect("rebuild one");
    assert_eq!(snapshot(&db.pool).await, inline_rows);
    assert!(rebuild::select(Some("nope")).is_err());
    assert_eq!(
        rebuild::select(Some("re-poverty")).expect("alias"),
        vec![Projection::RePoverty]
    );

    // The runner continues after a rebuild without counting anything twice.
    catch_up(&db.pool).await;
    assert_eq!(snapshot(&db.pool).await, inline_rows);
}

#[tokio::test]
async fn the_batch_entry_point_is_idempotent() {
    let (db, log) = setup().await;
    let (lan, _) = lan(&log, &db.pool).await;
    let (hoa, _) = hoa(&log, &db.pool).await;
    catch_up(&db.pool).await;
    let before = snapshot(&db.pool).await;
    let mut events = log.events(lan.id).await.expect("events");
    events.extend(log.events(hoa.id).await.expect("events"));
    let stored: Vec<StoredEvent<'_>> = events.iter().map(StoredEvent::new).collect();
    let mut tx = db.pool.begin().await.expect("tx");
    inline::apply(&mut tx, &stored).await.expect("apply again");
    // A part of one history, delivered late, is older than what the rows show: ignored.
    inline::apply(&mut tx, &stored[2..5]).await.expect("stale");
    movements::apply(&mut tx, &stored[2..5])
        .await
        .expect("stale");
    tx.commit().await.expect("commit");
    assert_eq!(snapshot(&db.pool).await, before);
}

#[tokio::test]
async fn generated_histories_give_the_same_movement_report_from_the_database_and_in_memory() {
    use proptest::strategy::{Strategy, ValueTree};
    let (db, log) = setup().await;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut histories = Vec::new();
    for _ in 0..40 {
        let plan = histories::plan()
            .new_tree(&mut runner)
            .expect("plan")
            .current();
        let id = Uuid::now_v7();
        let (commands, _) = histories::simulate(id, &plan);
        for command in commands {
            log.execute(command, None).await.expect("generated command");
        }
        histories.push(log.events(id).await.expect("events"));
    }
    catch_up(&db.pool).await;
    let transitions: Vec<movements::Transition> = histories
        .iter()
        .flat_map(|events| movements::transitions(events, &log::fold(events)))
        .collect();
    for standard in histories::STANDARDS {
        for unit in histories::REPORT_UNITS {
            for (from, to) in [
                ("2020-01-01", "2021-12-31"),
                ("2022-01-01", "2022-12-31"),
                ("2023-03-15", "2024-02-29"),
                ("2021-06-01", "2025-06-30"),
            ] {
                let from_db = report(&db.pool, unit, from, to, standard).await;
                let flows = movements::flows_of(&transitions, standard, d(from), d(to), |u| {
                    histories::covers(unit, u)
                });
                let in_memory =
                    movements::report_from_flows(unit, standard, d(from), d(to), &flows);
                assert_eq!(from_db, in_memory, "{standard} {unit} {from}..{to}");
            }
        }
    }
    let inline_rows = snapshot(&db.pool).await;
    rebuild::rebuild(&db.pool, &Projection::ALL, 7, |_, _| {})
        .await
        .expect("rebuild");
    assert_eq!(snapshot(&db.pool).await, inline_rows);
}

#[tokio::test]
async fn appends_during_a_rebuild_wait_for_it_and_are_not_lost() {
    let (db, log) = setup().await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(lan(&log, &db.pool).await.0.id);
    }
    let writers: Vec<_> = ids
        .iter()
        .map(|id| {
            let (log, id) = (log.clone(), *id);
            tokio::spawn(async move {
                for i in 0..8 {
                    let command = Command {
                        ctx: CommandContext::new(id, Actor::system("t"), Source::Cli, Utc::now()),
                        action: HouseholdCommand::RecordSupport(support(
                            "2025-03-01",
                            Policy::ElectricitySubsidy,
                            46_000 + i,
                            FundingSource::CentralBudget,
                            None,
                        )),
                    };
                    log.execute(command, None).await.expect("append");
                }
            })
        })
        .collect();
    let pool = db.pool.clone();
    let rebuilds = tokio::spawn(async move {
        for _ in 0..3 {
            rebuild::rebuild(&pool, &Projection::ALL, 5, |_, _| {})
                .await
                .expect("rebuild");
        }
    });
    for w in writers {
        w.await.expect("writer");
    }
    rebuilds.await.expect("rebuilds");
    catch_up(&db.pool).await;
    let after_both = snapshot(&db.pool).await;
    let supports = disbursements::list(&db.pool, &DisbursementFilter::default(), 10, 0)
        .await
        .expect("list");
    assert_eq!(supports.totals.count, 4 * (3 + 8));
    rebuild::rebuild(&db.pool, &Projection::ALL, 5_000, |_, _| {})
        .await
        .expect("rebuild");
    catch_up(&db.pool).await;
    assert_eq!(snapshot(&db.pool).await, after_both);
}

#[tokio::test]
async fn each_described_table_is_the_schema_s_and_the_command_path_names_every_column() {
    use ansinh_projections::changes::HouseholdRows;
    use ansinh_projections::tables::{self, Table};
    use proptest::strategy::{Strategy, ValueTree};
    let db = common::migrated_db().await;
    for t in tables::DESCRIBED {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns
              WHERE table_schema = current_schema() AND table_name = $1
              ORDER BY ordinal_position",
        )
        .bind(t.name)
        .fetch_all(&db.pool)
        .await
        .expect("columns");
        assert_eq!(columns, t.columns, "{}: the description's columns", t.name);
        let key: Vec<String> = sqlx::query_scalar(
            "SELECT a.attname::text
               FROM pg_index i
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
              WHERE i.indrelid = $1::regclass AND i.indisprimary
              ORDER BY array_position(i.indkey::int2[], a.attnum)",
        )
        .bind(t.name)
        .fetch_all(&db.pool)
        .await
        .expect("key");
        assert_eq!(key, t.key, "{}: the description's key", t.name);
    }

    // The command's statement reads each table's rows with the table's own row type, and its
    // upsert of the status row sets every column but the key.
    let append: String = sqlx::query_scalar(
        "SELECT string_agg(pg_get_functiondef(oid), ' ') FROM pg_proc WHERE proname = 'ansinh_append'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("ansinh_append");
    let append = append.split_whitespace().collect::<Vec<_>>().join(" ");
    for t in tables::DESCRIBED {
        assert!(
            append.contains(&format!("(NULL::{},", t.name)),
            "ansinh_append reads {} rows as its row type",
            t.name
        );
    }
    for set in tables::HOUSEHOLD_STATUS.update_all().split(", ") {
        assert!(append.contains(set), "ansinh_append's status upsert: {set}");
    }

    // The rows `ansinh_append` reads with jsonb_populate_record(set), as the command path
    // serialises them, from generated histories until every part has shown up.
    let parts: [(&str, Table); 5] = [
        ("status", tables::HOUSEHOLD_STATUS),
        ("standings", tables::HOUSEHOLD_STANDARD_STATUS),
        ("links", tables::HISTORY_CORRECTIONS),
        ("disbursements", tables::DISBURSEMENTS),
        ("relapses", tables::RE_POVERTY),
    ];
    let mut seen: BTreeMap<&str, serde_json::Value> = BTreeMap::new();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..500 {
        if seen.len() == parts.len() {
            break;
        }
        let plan = histories::plan()
            .new_tree(&mut runner)
            .expect("plan")
            .current();
        let id = Uuid::from_u128(9);
        let (_, events) = histories::simulate(id, &plan);
        let (mut rows, mut state) = (HouseholdRows::default(), HouseholdState::default());
        for n in 0..events.len() {
            state = state.apply(&events[n]);
            let changes = serde_json::to_value(rows.advance(id, &state, &events[n..=n]))
                .expect("changes as JSON");
            for (part, _) in parts {
                let row = match &changes[part] {
                    serde_json::Value::Array(a) => a.first().cloned(),
                    serde_json::Value::Object(_) => Some(changes[part].clone()),
                    _ => None,
                };
                if let Some(row) = row {
                    seen.entry(part).or_insert(row);
                }
            }
        }
    }
    for (part, t) in parts {
        let row = seen
            .get(part)
            .unwrap_or_else(|| panic!("no generated history changed {part}"));
        for column in t.columns {
            assert!(
                row.get(*column).is_some(),
                "{part}: the command path sends no {column:?} for {} (it would be NULL): {row}",
                t.name
            );
        }
    }
}
