//! The reconciliation of a fund over a unit and a period: what it received, allocated, paid
//! out, what corrections gave back and voids returned, and the balance, in whole VND.
//!
//! Computed purely ([`reconcile`]) from the fund's events and its supports' trail rows, so its
//! `disbursed_vnd` is by construction the trail's total for the same filters (the supports of
//! the fund, not voided, disbursed in the period, in units under `unit`).

use std::collections::{BTreeMap, HashSet};

use ansinh_events::fund::FundEvent;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

/// The filters of a reconciliation; `None` = any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl Period {
    pub fn holds(&self, day: NaiveDate) -> bool {
        self.from.is_none_or(|f| day >= f) && self.to.is_none_or(|t| day <= t)
    }
}

/// One support of the fund as the trail holds it, with the allocation it draws on.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Line {
    pub unit_code: String,
    /// The allocated unit that pays for it (the most specific covering one), if any.
    pub allocation_unit: Option<String>,
    pub amount_vnd: i64,
    pub original_amount_vnd: Option<i64>,
    pub disbursed_on: NaiveDate,
    pub voided: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnitLine {
    pub unit_code: String,
    pub allocated_vnd: i64,
    pub disbursed_vnd: i64,
    pub balance_vnd: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reconciliation {
    pub fund_id: Uuid,
    pub unit: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Money the fund received in the period.
    pub received_vnd: i64,
    /// Net allocations (transfers in less transfers out) to units under `unit` in the period.
    pub allocated_vnd: i64,
    /// Supports of the fund that count (not voided), disbursed in the period under `unit`.
    pub disbursed_vnd: i64,
    pub disbursed_count: i64,
    /// What corrections gave back (first recorded less corrected amounts; negative when
    /// corrections raised supports).
    pub corrected_vnd: i64,
    pub corrected_count: i64,
    /// Supports recorded in error and voided: their amounts went back to the allocation.
    pub voided_vnd: i64,
    pub voided_count: i64,
    /// `allocated_vnd - disbursed_vnd`.
    pub balance_vnd: i64,
    /// Per allocated unit under `unit`.
    pub units: Vec<UnitLine>,
}

/// The reconciliation of a fund's `events` and support `lines` over `period`, for the units
/// `in_scope` says lie under the filter unit.
pub fn reconcile<'a>(
    events: impl IntoIterator<Item = &'a FundEvent>,
    lines: &[Line],
    period: &Period,
    in_scope: &dyn Fn(&str) -> bool,
) -> Reconciliation {
    let mut r = Reconciliation {
        from: period.from,
        to: period.to,
        ..Reconciliation::default()
    };
    let mut units: BTreeMap<String, UnitLine> = BTreeMap::new();
    fn unit<'u>(
        units: &'u mut BTreeMap<String, UnitLine>,
        in_scope: &dyn Fn(&str) -> bool,
        code: &str,
    ) -> Option<&'u mut UnitLine> {
        in_scope(code).then(|| {
            units.entry(code.to_owned()).or_insert_with(|| UnitLine {
                unit_code: code.to_owned(),
                ..UnitLine::default()
            })
        })
    }
    for e in events {
        match e {
            FundEvent::MoneyReceived(m) if period.holds(m.received_on) => {
                r.received_vnd += m.amount_vnd.get();
            }
            FundEvent::AllocatedToUnit(a) => {
                if let Some(u) = unit(&mut units, in_scope, &a.unit_code) {
                    if period.holds(a.decided_on) {
                        u.allocated_vnd += a.amount_vnd.get();
                    }
                }
            }
            FundEvent::AllocationTransferred(t) => {
                let amount = t.amount_vnd.get();
                let counted = period.holds(t.decided_on);
                if let Some(u) = unit(&mut units, in_scope, &t.from_unit) {
                    u.allocated_vnd -= if counted { amount } else { 0 };
                }
                if let Some(u) = unit(&mut units, in_scope, &t.to_unit) {
                    u.allocated_vnd += if counted { amount } else { 0 };
                }
            }
            _ => {}
        }
    }
    for l in lines
        .iter()
        .filter(|l| period.holds(l.disbursed_on) && in_scope(&l.unit_code))
    {
        if l.voided {
            r.voided_vnd += l.amount_vnd;
            r.voided_count += 1;
            continue;
        }
        r.disbursed_vnd += l.amount_vnd;
        r.disbursed_count += 1;
        if let Some(original) = l.original_amount_vnd {
            r.corrected_vnd += original - l.amount_vnd;
            r.corrected_count += 1;
        }
        if let Some(u) = l
            .allocation_unit
            .as_deref()
            .and_then(|code| unit(&mut units, in_scope, code))
        {
            u.disbursed_vnd += l.amount_vnd;
        }
    }
    r.units = units
        .into_values()
        .map(|u| UnitLine {
            balance_vnd: u.allocated_vnd - u.disbursed_vnd,
            ..u
        })
        .collect();
    r.allocated_vnd = r.units.iter().map(|u| u.allocated_vnd).sum();
    r.balance_vnd = r.allocated_vnd - r.disbursed_vnd;
    r
}

/// The reconciliation of fund `fund_id` read from the database.
pub async fn load(
    pool: &PgPool,
    fund_id: Uuid,
    events: &[FundEvent],
    unit: Option<&str>,
    period: &Period,
) -> Result<Reconciliation, sqlx::Error> {
    let lines: Vec<Line> = sqlx::query_as(
        "SELECT unit_code, ansinh_fund_allocation_for($1, unit_code) AS allocation_unit,
                amount_vnd, original_amount_vnd, disbursed_on, voided
           FROM disbursements WHERE fund_id = $1::text",
    )
    .bind(fund_id)
    .fetch_all(pool)
    .await?;
    let below: Option<HashSet<String>> = match unit {
        Some(u) => Some(
            sqlx::query_scalar("SELECT descendant FROM admin_unit_closure WHERE ancestor = $1")
                .bind(u)
                .fetch_all(pool)
                .await?
                .into_iter()
                .chain(std::iter::once(u.to_owned()))
                .collect(),
        ),
        None => None,
    };
    let in_scope = |code: &str| below.as_ref().is_none_or(|b| b.contains(code));
    let mut r = reconcile(events, &lines, period, &in_scope);
    r.fund_id = fund_id;
    r.unit = unit.map(str::to_owned);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ansinh_events::fund::{AllocatedToUnit, AllocationTransferred, MoneyReceived};
    use ansinh_events::Vnd;
    use proptest::prelude::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).expect("date") + chrono::Duration::days(d.into())
    }

    fn vnd(a: i64) -> Vnd {
        Vnd::new(a).expect("amount")
    }

    fn line() -> impl Strategy<Value = Line> {
        (
            prop::sample::select(vec!["A", "B", "C"]),
            0i64..10_000_000,
            prop::option::of(0i64..10_000_000),
            0u32..200,
            any::<bool>(),
        )
            .prop_map(|(u, amount, original, d, voided)| Line {
                unit_code: u.to_owned(),
                allocation_unit: (u != "C").then(|| u.to_owned()),
                amount_vnd: amount,
                original_amount_vnd: original,
                disbursed_on: day(d),
                voided,
            })
    }

    fn events() -> Vec<FundEvent> {
        vec![
            FundEvent::MoneyReceived(MoneyReceived {
                amount_vnd: vnd(100_000_000),
                received_on: day(0),
                decision_no: "1".into(),
            }),
            FundEvent::AllocatedToUnit(AllocatedToUnit {
                unit_code: "A".into(),
                amount_vnd: vnd(60_000_000),
                decided_on: day(1),
                decision_no: "2".into(),
            }),
            FundEvent::AllocationTransferred(AllocationTransferred {
                from_unit: "A".into(),
                to_unit: "B".into(),
                amount_vnd: vnd(10_000_000),
                decided_on: day(50),
                decision_no: "3".into(),
            }),
        ]
    }

    #[test]
    fn a_transfer_moves_allocation_between_units_and_nets_out_over_both() {
        let r = reconcile(&events(), &[], &Period::default(), &|_| true);
        assert_eq!(r.received_vnd, 100_000_000);
        assert_eq!(r.allocated_vnd, 60_000_000);
        assert_eq!(r.units[0].allocated_vnd, 50_000_000);
        assert_eq!(r.units[1].allocated_vnd, 10_000_000);
        let only_b = reconcile(&events(), &[], &Period::default(), &|u| u == "B");
        assert_eq!(only_b.allocated_vnd, 10_000_000);
    }

    proptest! {
        /// Whatever the supports, filters and period: the disbursed total is the trail's (the
        /// lines that count under the filters), voids are never disbursed, the units' draws
        /// add up to the disbursed total less supports no allocation covers, and every balance
        /// is what was allocated less what was disbursed.
        #[test]
        fn disbursed_ties_out_with_the_trail(
            lines in prop::collection::vec(line(), 0..60),
            from in prop::option::of(0u32..200),
            to in prop::option::of(0u32..200),
            scope in prop::sample::subsequence(vec!["A", "B", "C"], 0..=3),
        ) {
            let period = Period { from: from.map(day), to: to.map(day) };
            let in_scope = |u: &str| scope.contains(&u);
            let r = reconcile(&events(), &lines, &period, &in_scope);
            let trail: Vec<&Line> = lines.iter()
                .filter(|l| !l.voided && period.holds(l.disbursed_on) && in_scope(&l.unit_code))
                .collect();
            prop_assert_eq!(r.disbursed_vnd, trail.iter().map(|l| l.amount_vnd).sum::<i64>());
            prop_assert_eq!(r.disbursed_count, trail.len() as i64);
            let uncovered: i64 = trail.iter().filter(|l| l.allocation_unit.is_none()).map(|l| l.amount_vnd).sum();
            prop_assert_eq!(r.units.iter().map(|u| u.disbursed_vnd).sum::<i64>() + uncovered, r.disbursed_vnd);
            prop_assert_eq!(r.balance_vnd, r.allocated_vnd - r.disbursed_vnd);
            for u in &r.units {
                prop_assert_eq!(u.balance_vnd, u.allocated_vnd - u.disbursed_vnd);
            }
        }
    }
}
