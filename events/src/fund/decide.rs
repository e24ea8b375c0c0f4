//! The rules of a fund: a command on a state gives one event, or the rule it breaks.

use chrono::NaiveDate;

use crate::envelope::Facts;
use crate::text::nfc;

use super::error::FundError;
use super::event::{
    AllocatedToUnit, AllocationTransferred, FundClosed, FundEvent, FundOpened, MoneyReceived,
};
use super::state::FundState;

/// Longest name, legal basis, decision number or unit code; longest reason.
const NAME: usize = 200;
const CODE: usize = 100;
const TEXT: usize = 2000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FundCommand {
    Open(FundOpened),
    Receive(MoneyReceived),
    Allocate(AllocatedToUnit),
    /// `drawn_from`: what supports have drawn on the `from_unit` allocation so far (a fact the
    /// store reads; the transfer may move only what is left).
    Transfer {
        transfer: AllocationTransferred,
        drawn_from: i64,
    },
    Close(FundClosed),
}

/// Decides `command` on `state`; `today` is the date in Vietnam.
pub fn decide(
    state: &FundState,
    command: FundCommand,
    today: NaiveDate,
) -> Result<(FundEvent, Facts), FundError> {
    if let FundCommand::Open(o) = command {
        if state.opened.is_some() {
            return Err(FundError::AlreadyOpened);
        }
        let opened = FundOpened {
            name: required("name", &o.name, NAME)?,
            funding_source: o.funding_source,
            managing_unit: required("managing_unit", &o.managing_unit, CODE)?,
            legal_basis: required("legal_basis", &o.legal_basis, NAME)?,
            valid_from: o.valid_from,
            valid_to: o.valid_to,
        };
        if let Some(to) = o.valid_to {
            if to < o.valid_from {
                return Err(FundError::PeriodReversed {
                    valid_from: o.valid_from,
                    valid_to: to,
                });
            }
        }
        let facts = Facts {
            effective_on: Some(opened.valid_from),
            legal_basis: Some(opened.legal_basis.clone()),
            ..Facts::default()
        };
        return Ok((FundEvent::FundOpened(opened), facts));
    }
    let Some(opened) = &state.opened else {
        return Err(FundError::NotOpened);
    };
    if let Some(closed_on) = state.closed_on {
        return Err(FundError::Closed { closed_on });
    }
    let in_period = |field: &'static str, date: NaiveDate| -> Result<(), FundError> {
        if date > today {
            return Err(FundError::FutureDate { field, date });
        }
        if date < opened.valid_from || opened.valid_to.is_some_and(|to| date > to) {
            return Err(FundError::OutsidePeriod {
                field,
                date,
                from: opened.valid_from,
                to: opened.valid_to,
            });
        }
        Ok(())
    };
    let event = match command {
        FundCommand::Open(_) => unreachable!("handled above"),
        FundCommand::Receive(r) => {
            positive("amount_vnd", r.amount_vnd.get())?;
            in_period("received_on", r.received_on)?;
            state
                .received_vnd
                .checked_add(r.amount_vnd.get())
                .ok_or(FundError::TooMuch {
                    field: "amount_vnd",
                })?;
            FundEvent::MoneyReceived(MoneyReceived {
                decision_no: required("decision_no", &r.decision_no, CODE)?,
                ..r
            })
        }
        FundCommand::Allocate(a) => {
            let amount = a.amount_vnd.get();
            positive("amount_vnd", amount)?;
            let unit_code = required("unit_code", &a.unit_code, CODE)?;
            in_period("decided_on", a.decided_on)?;
            let available = state.received_vnd.saturating_sub(state.allocated_vnd());
            if amount > available {
                return Err(FundError::AllocationAboveReceived { amount, available });
            }
            FundEvent::AllocatedToUnit(AllocatedToUnit {
                unit_code,
                decision_no: required("decision_no", &a.decision_no, CODE)?,
                ..a
            })
        }
        FundCommand::Transfer {
            transfer: t,
            drawn_from,
        } => {
            let amount = t.amount_vnd.get();
            positive("amount_vnd", amount)?;
            let from_unit = required("from_unit", &t.from_unit, CODE)?;
            let to_unit = required("to_unit", &t.to_unit, CODE)?;
            if from_unit == to_unit {
                return Err(FundError::SameUnit);
            }
            in_period("decided_on", t.decided_on)?;
            let allocated = state.allocations.get(&from_unit).copied().unwrap_or(0);
            let available = allocated.saturating_sub(drawn_from).max(0);
            if amount > available {
                return Err(FundError::TransferAboveBalance {
                    unit_code: from_unit,
                    amount,
                    available,
                });
            }
            FundEvent::AllocationTransferred(AllocationTransferred {
                from_unit,
                to_unit,
                decision_no: required("decision_no", &t.decision_no, CODE)?,
                ..t
            })
        }
        FundCommand::Close(c) => {
            if c.closed_on > today {
                return Err(FundError::FutureDate {
                    field: "closed_on",
                    date: c.closed_on,
                });
            }
            if c.closed_on < opened.valid_from {
                return Err(FundError::OutsidePeriod {
                    field: "closed_on",
                    date: c.closed_on,
                    from: opened.valid_from,
                    to: opened.valid_to,
                });
            }
            FundEvent::FundClosed(FundClosed {
                closed_on: c.closed_on,
                decision_no: required("decision_no", &c.decision_no, CODE)?,
                reason: required("reason", &c.reason, TEXT)?,
            })
        }
    };
    let facts = Facts {
        effective_on: Some(event.effective_on()),
        reason: match &event {
            FundEvent::FundClosed(c) => Some(c.reason.clone()),
            _ => None,
        },
        legal_basis: None,
        decision_no: decision_no(&event),
    };
    Ok((event, facts))
}

fn decision_no(event: &FundEvent) -> Option<String> {
    match event {
        FundEvent::FundOpened(_) => None,
        FundEvent::MoneyReceived(e) => Some(e.decision_no.clone()),
        FundEvent::AllocatedToUnit(e) => Some(e.decision_no.clone()),
        FundEvent::AllocationTransferred(e) => Some(e.decision_no.clone()),
        FundEvent::FundClosed(e) => Some(e.decision_no.clone()),
    }
}

fn positive(field: &'static str, amount: i64) -> Result<(), FundError> {
    if amount > 0 {
        Ok(())
    } else {
        Err(FundError::NotPositive { field })
    }
}

/// Trimmed, NFC, not blank and not longer than `max` characters.
fn required(field: &'static str, s: &str, max: usize) -> Result<String, FundError> {
    let s = nfc(s);
    let length = s.chars().count();
    if length > max {
        return Err(FundError::TooLong { field, length, max });
    }
    if s.is_empty() {
        return Err(FundError::Empty { field });
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::household::FundingSource;
    use crate::money::Vnd;
    use proptest::prelude::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    const TODAY: &str = "2026-06-30";

    fn open() -> FundCommand {
        FundCommand::Open(FundOpened {
            name: "Quỹ Vì người nghèo tỉnh Tây Ninh 2026".into(),
            funding_source: FundingSource::Mobilized,
            managing_unit: "72".into(),
            legal_basis: "Quyết định 01/QĐ-MTTQ".into(),
            valid_from: day("2026-01-01"),
            valid_to: Some(day("2026-12-31")),
        })
    }

    fn run(commands: Vec<FundCommand>) -> Result<FundState, FundError> {
        let mut state = FundState::default();
        for c in commands {
            let (e, _) = decide(&state, c, day(TODAY))?;
            state = state.apply(&e);
        }
        Ok(state)
    }

    fn receive(amount: i64) -> FundCommand {
        FundCommand::Receive(MoneyReceived {
            amount_vnd: Vnd::new(amount).expect("amount"),
            received_on: day("2026-02-01"),
            decision_no: "01/QĐ".into(),
        })
    }

    fn allocate(unit: &str, amount: i64) -> FundCommand {
        FundCommand::Allocate(AllocatedToUnit {
            unit_code: unit.into(),
            amount_vnd: Vnd::new(amount).expect("amount"),
            decided_on: day("2026-02-02"),
            decision_no: "02/QĐ".into(),
        })
    }

    fn transfer(from: &str, to: &str, amount: i64, drawn_from: i64) -> FundCommand {
        FundCommand::Transfer {
            transfer: AllocationTransferred {
                from_unit: from.into(),
                to_unit: to.into(),
                amount_vnd: Vnd::new(amount).expect("amount"),
                decided_on: day("2026-03-01"),
                decision_no: "03/QĐ".into(),
            },
            drawn_from,
        }
    }

    #[test]
    fn a_fund_receives_allocates_and_transfers_in_whole_vnd() {
        let s = run(vec![
            open(),
            receive(100_000_000),
            allocate("25459", 60_000_000),
            transfer("25459", "25460", 10_000_000, 0),
        ])
        .expect("accepted");
        assert_eq!(s.received_vnd, 100_000_000);
        assert_eq!(s.allocations["25459"], 50_000_000);
        assert_eq!(s.allocations["25460"], 10_000_000);
        assert_eq!(s.allocated_vnd(), 60_000_000);
        assert_eq!(s.version, 4);
    }

    #[test]
    fn allocating_more_than_received_names_the_amount_and_what_is_left() {
        let e = run(vec![
            open(),
            receive(100),
            allocate("1", 60),
            allocate("2", 41),
        ])
        .expect_err("refused");
        assert!(matches!(
            e,
            FundError::AllocationAboveReceived {
                amount: 41,
                available: 40
            }
        ));
        assert_eq!(e.field(), Some("amount_vnd"));
    }

    #[test]
    fn a_transfer_moves_only_what_supports_left_of_the_allocation() {
        let e = run(vec![
            open(),
            receive(100),
            allocate("1", 60),
            transfer("1", "2", 30, 40),
        ])
        .expect_err("refused");
        assert!(matches!(
            e,
            FundError::TransferAboveBalance { available: 20, .. }
        ));
        let e = run(vec![
            open(),
            receive(100),
            allocate("1", 60),
            transfer("1", "1", 1, 0),
        ])
        .expect_err("refused");
        assert_eq!(e.field(), Some("to_unit"));
    }

    #[test]
    fn fields_are_named_when_blank_zero_reversed_or_out_of_period() {
        let mut bad = open();
        if let FundCommand::Open(o) = &mut bad {
            o.name = "  ".into();
        }
        assert_eq!(run(vec![bad]).expect_err("blank").field(), Some("name"));
        let mut bad = open();
        if let FundCommand::Open(o) = &mut bad {
            o.valid_to = Some(day("2025-01-01"));
        }
        assert_eq!(
            run(vec![bad]).expect_err("reversed").field(),
            Some("valid_to")
        );
        let e = run(vec![open(), receive(0)]).expect_err("zero");
        assert_eq!(e.field(), Some("amount_vnd"));
        let late = FundCommand::Receive(MoneyReceived {
            amount_vnd: Vnd::new(5).expect("amount"),
            received_on: day("2025-12-31"),
            decision_no: "x".into(),
        });
        let e = run(vec![open(), late]).expect_err("before the period");
        assert_eq!(e.field(), Some("received_on"));
        assert_eq!(e.code(), "outside_fund_period");
    }

    #[test]
    fn a_closed_fund_takes_nothing_more_and_is_not_open_after_closure() {
        let close = FundCommand::Close(FundClosed {
            closed_on: day("2026-06-01"),
            decision_no: "09/QĐ".into(),
            reason: "Hết kỳ hỗ trợ".into(),
        });
        let s = run(vec![open(), receive(100), close.clone()]).expect("closed");
        assert!(s.open_on(day("2026-05-31")));
        assert!(!s.open_on(day("2026-06-01")));
        assert!(!s.open_on(day("2025-12-31")));
        let e = run(vec![open(), receive(100), close, receive(5)]).expect_err("closed");
        assert!(matches!(e, FundError::Closed { .. }));
    }

    #[test]
    fn vietnamese_names_are_stored_nfc() {
        let mut o = open();
        if let FundCommand::Open(f) = &mut o {
            f.name = "Quy\u{0300} Vi\u{0300} người nghèo".into();
        }
        let (e, _) = decide(&FundState::default(), o, day(TODAY)).expect("opened");
        let FundEvent::FundOpened(f) = e else {
            panic!("not an opening")
        };
        assert_eq!(f.name, "Quỳ Vì người nghèo");
    }

    fn command() -> impl Strategy<Value = FundCommand> {
        let unit = prop::sample::select(vec!["1", "2", "3"]);
        prop_oneof![
            (0i64..5_000_000).prop_map(receive),
            (unit.clone(), 0i64..5_000_000).prop_map(|(u, a)| allocate(u, a)),
            (unit.clone(), unit, 0i64..5_000_000, 0i64..3_000_000)
                .prop_map(|(f, t, a, d)| transfer(f, t, a, d)),
        ]
    }

    proptest! {
        /// Whatever is asked, what was accepted never allocates more than was received, no
        /// allocation goes below zero, and folding the events gives the decided state.
        #[test]
        fn allocations_never_exceed_receipts(commands in prop::collection::vec(command(), 0..40)) {
            let mut state = FundState::default();
            let mut events = Vec::new();
            for c in std::iter::once(open()).chain(commands) {
                if let Ok((e, _)) = decide(&state, c, day(TODAY)) {
                    state = state.apply(&e);
                    events.push(e);
                }
            }
            prop_assert!(state.allocated_vnd() <= state.received_vnd);
            prop_assert!(state.allocations.values().all(|a| *a >= 0));
            prop_assert_eq!(FundState::fold(&events), state);
            for e in &events {
                let json = serde_json::to_value(e).expect("json");
                prop_assert_eq!(&serde_json::from_value::<FundEvent>(json).expect("back"), e);
            }
        }
    }
}
