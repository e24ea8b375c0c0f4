//! Funds for `ansinh demo`: after the generated province is imported, the Fund for the Poor of
//! the province (Quỹ Vì người nghèo) is opened for the current year, receives money, allocates
//! it to the three communes with the most poor and near-poor households, and pays supports
//! from it to those households — with a few red flags planted on purpose (README, "Funds and red flags"):
//!
//! * `overdrawn`: the third commune's small allocation is overdrawn by a support carrying an
//!   override reason;
//! * `late_entry`: a support recorded 120 days after its disbursement day;
//! * `not_eligible`: a study-cost support to a household that is neither poor nor near-poor;
//! * `repeated_once_per_period`: a poor household's health insurance paid twice this year.
//!
//! Households are picked in id order among the imported ones, so the same import gives the same
//! plantings. Nothing is planted when a fund exists already (a restart of the demo).

use chrono::{Datelike, Duration, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use ansinh_events::fund::{AllocatedToUnit, FundCommand, FundOpened, MoneyReceived};
use ansinh_events::household::{Command, FundingSource, HouseholdCommand, Policy, SupportReceived};
use ansinh_events::{Actor, CommandContext, Source, Vnd};

use crate::funds::FundStore;
use crate::store::EventLog;

/// What was planted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Planted {
    pub fund_id: Option<Uuid>,
    pub supports: usize,
    /// (rule, household) of each planted flag.
    pub flags: Vec<(&'static str, Uuid)>,
}

fn vnd(amount: i64) -> Vnd {
    Vnd::new(amount).unwrap_or(Vnd::ZERO)
}

fn ctx(id: Uuid) -> CommandContext {
    CommandContext::new(id, Actor::system("ansinh demo"), Source::Cli, Utc::now())
}

/// Opens the demo fund in `province` and pays from it; see the module documentation.
pub async fn plant(pool: &PgPool, province: &str) -> Result<Planted, anyhow::Error> {
    let (funds,): (i64,) = sqlx::query_as("SELECT count(*) FROM funds")
        .fetch_one(pool)
        .await?;
    if funds > 0 {
        return Ok(Planted::default());
    }
    let today = crate::verify::today();
    let year_start = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
    let communes: Vec<(String,)> = sqlx::query_as(
        "SELECT s.unit_code FROM household_status s
          JOIN household_standard_status x ON x.household_id = s.household_id
         WHERE s.closed_on IS NULL AND x.category IN ('poor', 'near_poor')
         GROUP BY s.unit_code ORDER BY count(DISTINCT s.household_id) DESC, s.unit_code LIMIT 3",
    )
    .fetch_all(pool)
    .await?;
    if communes.len() < 3 {
        return Ok(Planted::default());
    }
    let store = FundStore::new(pool.clone());
    let fund_id = Uuid::now_v7();
    let run = |command| {
        let store = store.clone();
        async move { store.execute(&ctx(fund_id), command, None).await }
    };
    run(FundCommand::Open(FundOpened {
        name: format!("Quỹ Vì người nghèo tỉnh Tây Ninh năm {}", today.year()),
        funding_source: FundingSource::Mobilized,
        managing_unit: province.to_owned(),
        legal_basis: "Quyết định 01/QĐ-MTTQ về vận động Quỹ Vì người nghèo (dữ liệu mẫu)".into(),
        valid_from: year_start,
        valid_to: NaiveDate::from_ymd_opt(today.year(), 12, 31),
    }))
    .await?;
    run(FundCommand::Receive(MoneyReceived {
        amount_vnd: vnd(500_000_000),
        received_on: year_start + Duration::days(14),
        decision_no: "01/PT-MTTQ".into(),
    }))
    .await?;
    for (i, (unit,)) in communes.iter().enumerate() {
        let amount = if i == 2 { 10_000_000 } else { 100_000_000 };
        run(FundCommand::Allocate(AllocatedToUnit {
            unit_code: unit.clone(),
            amount_vnd: vnd(amount),
            decided_on: year_start + Duration::days(30),
            decision_no: format!("{:02}/QĐ-UBND", 10 + i),
        }))
        .await?;
    }
    let log = EventLog::new(pool.clone()).await?;
    let mut planted = Planted {
        fund_id: Some(fund_id),
        ..Planted::default()
    };
    let support = |policy, amount, on: NaiveDate, fund: bool| SupportReceived {
        policy,
        amount_vnd: vnd(amount),
        in_kind: None,
        funding_source: FundingSource::Mobilized,
        fund_id: fund.then(|| fund_id.to_string()),
        disbursed_on: on,
        disbursed_by: "Ban Thường trực Ủy ban MTTQ xã".into(),
        decision_no: "25/QĐ-MTTQ".into(),
        recipient_member: None,
        override_reason: None,
    };
    let record = |household: Uuid, s: SupportReceived| {
        let log = log.clone();
        async move {
            log.execute_retrying(Command {
                ctx: ctx(household),
                action: HouseholdCommand::RecordSupport(s),
            })
            .await
        }
    };
    let recent = today - Duration::days(20);
    for (i, (unit,)) in communes.iter().enumerate() {
        let poor = households(pool, unit, "poor", 6).await?;
        for (n, h) in poor.iter().enumerate() {
            // The third commune's 10,000,000 takes two supports of 4,000,000; the third one
            // overdraws it, with a reason.
            let mut s = support(Policy::Livelihood, 4_000_000, recent, true);
            if i == 2 && n >= 2 {
                if n > 2 {
                    break;
                }
                s.override_reason =
                    Some("Hộ bị thiệt hại do lốc xoáy, UBND xã đề nghị ứng trước".into());
                planted.flags.push(("overdrawn", *h));
            }
            record(*h, s).await?;
            planted.supports += 1;
        }
    }
    let first = &communes[0].0;
    if let Some(h) = households(pool, first, "poor", 8).await?.get(7) {
        record(
            *h,
            support(
                Policy::Livelihood,
                3_000_000,
                today - Duration::days(120),
                true,
            ),
        )
        .await?;
        planted.flags.push(("late_entry", *h));
        planted.supports += 1;
    }
    if let Some(h) = households(pool, first, "not_poor", 1).await?.first() {
        record(*h, support(Policy::Education, 1_350_000, recent, false)).await?;
        planted.flags.push(("not_eligible", *h));
        planted.supports += 1;
    }
    if let Some(h) = households(pool, first, "poor", 9).await?.get(8) {
        for on in [year_start + Duration::days(40), recent] {
            record(*h, support(Policy::HealthInsurance, 1_263_600, on, false)).await?;
            planted.supports += 1;
        }
        planted.flags.push(("repeated_once_per_period", *h));
    }
    Ok(planted)
}

/// Open households of `unit`, in id order: `poor` ones are poor or near-poor under some
/// standard now;
/// `not_poor` ones were never poor or near-poor under any.
async fn households(
    pool: &PgPool,
    unit: &str,
    category: &str,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT s.household_id FROM household_status s
          WHERE s.unit_code = $1 AND s.closed_on IS NULL
            AND CASE WHEN $2 = 'poor' THEN
                    EXISTS (SELECT 1 FROM household_standard_status x
                             WHERE x.household_id = s.household_id
                               AND x.category IN ('poor', 'near_poor'))
                ELSE
                    EXISTS (SELECT 1 FROM household_standard_status x
                             WHERE x.household_id = s.household_id)
                    AND NOT EXISTS (SELECT 1 FROM household_standard_status x
                                     WHERE x.household_id = s.household_id
                                       AND (x.category IN ('poor', 'near_poor')
                                            OR x.exited_poverty_on IS NOT NULL
                                            OR x.exited_near_poverty_on IS NOT NULL))
                END
          ORDER BY s.household_id LIMIT $3",
    )
    .bind(unit)
    .bind(category)
    .bind(limit)
    .fetch_all(pool)
    .await
}
