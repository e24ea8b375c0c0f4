//! Fixtures and a tiny given/when/then harness for the household aggregate.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;

use ansinh_events::household::*;
use ansinh_events::standards::{Category, Standard, Standards};
use ansinh_events::{chain, Actor, CommandContext, Facts, Recorded, Source, Vnd};
use chrono::{NaiveDate, TimeZone, Utc};
use esrs::Aggregate;
use uuid::Uuid;

pub const HH: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001);

pub fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Registration date of the fixture household.
pub fn reg_on() -> NaiveDate {
    d("2021-03-01")
}

/// A request made on 2025-06-30 (Vietnam time).
pub fn ctx() -> CommandContext {
    let at = Utc.with_ymd_and_hms(2025, 6, 30, 3, 0, 0).unwrap();
    CommandContext::new(HH, Actor::system("test"), Source::Cli, at)
}

pub fn today() -> NaiveDate {
    ctx().today
}

pub fn standards() -> Standards {
    Standards::builtin().unwrap()
}

pub fn standard(id: &str) -> Standard {
    standards().get(id).unwrap().clone()
}

pub fn member(name: &str, birth_year: i32, sex: Sex, relation: &str) -> Member {
    Member {
        name: name.to_owned(),
        birth_year,
        sex,
        relation: relation.to_owned(),
        id_number: None,
    }
}

pub fn registration() -> HouseholdRegistered {
    HouseholdRegistered {
        head_name: "Nguyễn Thị Lan".to_owned(),
        unit_code: "25630".to_owned(),
        hamlet: "Ấp Thạnh Hiệp".to_owned(),
        area: Area::Rural,
        ethnic_minority: false,
        merit_family: false,
        members: vec![
            Member {
                id_number: Some("072178000123".to_owned()),
                ..member("Nguyễn Thị Lan", 1978, Sex::Female, "head")
            },
            member("Trần Văn Hùng", 1975, Sex::Male, "spouse"),
            member("Trần Minh Khoa", 2008, Sex::Male, "child"),
        ],
    }
}

pub fn unit() -> Option<UnitValidity> {
    Some(UnitValidity {
        valid_from: d("2008-01-01"),
        valid_to: Some(d("2025-06-30")),
        commune: true,
    })
}

pub fn register() -> HouseholdCommand {
    HouseholdCommand::Register {
        registration: registration(),
        effective_on: reg_on(),
        unit: unit(),
    }
}

pub fn survey_input(date: &str, income: i64, deprivations: &[&str]) -> SurveyInput {
    SurveyInput {
        period: format!("{}-annual", &date[..4]),
        survey_date: d(date),
        income_per_capita_vnd: Vnd::new(income).unwrap(),
        deprivations: deprivations.iter().map(|s| s.to_string()).collect(),
        measures: BTreeMap::new(),
        working_capacity: true,
        loan_demand: false,
        cause_of_poverty: None,
        surveyor: "Lê Văn Tám".to_owned(),
    }
}

/// A survey command with the built-in standards in force on its date.
pub fn survey(date: &str, income: i64, deprivations: &[&str]) -> HouseholdCommand {
    survey_input(date, income, deprivations).into_command(&standards())
}

pub fn decision(standard_id: &str, category: Category, on: &str, no: &str) -> HouseholdCommand {
    decision_with_reason(standard_id, category, on, no, None)
}

pub fn decision_with_reason(
    standard_id: &str,
    category: Category,
    on: &str,
    no: &str,
    reason: Option<&str>,
) -> HouseholdCommand {
    HouseholdCommand::Decide {
        standard: standard(standard_id),
        decision: DecisionInput {
            category,
            decision_no: no.to_owned(),
            decided_on: d(on),
            reason: reason.map(str::to_owned),
        },
    }
}

pub fn support(on: &str, amount: i64) -> SupportReceived {
    SupportReceived {
        policy: Policy::PreferentialCredit,
        amount_vnd: Vnd::new(amount).unwrap(),
        in_kind: None,
        funding_source: FundingSource::CentralBudget,
        fund_id: None,
        disbursed_on: d(on),
        disbursed_by: "NHCSXH Tân Biên".to_owned(),
        decision_no: "15/QĐ-UBND".to_owned(),
        recipient_member: None,
        override_reason: None,
    }
}

// ------------------------------------------------------------------ the harness

/// A household whose history is given.
pub struct Given {
    pub state: HouseholdState,
    pub history: Vec<Recorded<HouseholdEvent>>,
}

/// Starts from no events.
pub fn nothing() -> Given {
    Given {
        state: HouseholdState::default(),
        history: Vec::new(),
    }
}

/// Starts from these events, sealed onto a chain and applied (no rules run, as on replay).
/// Each event takes effect on its own date, a registration on [`reg_on`].
pub fn given(events: Vec<HouseholdEvent>) -> Given {
    let mut g = nothing();
    for event in events {
        let effective_on = effective_of(&event);
        let facts = Facts {
            effective_on: Some(effective_on),
            ..Facts::default()
        };
        let sealed = chain::seal(&g.state.chain, &ctx(), vec![(event, facts)]).unwrap();
        g.push(sealed);
    }
    g
}

/// Starts from the events these commands produce (each must succeed).
pub fn given_commands(commands: Vec<HouseholdCommand>) -> Given {
    let mut g = nothing();
    for c in commands {
        g = g.and(c);
    }
    g
}

/// The date an event takes effect in `given`.
pub fn effective_of(event: &HouseholdEvent) -> NaiveDate {
    use HouseholdEvent::*;
    match event {
        HouseholdRegistered(_) => reg_on(),
        MembersChanged(e) => e.changed_on,
        HouseholdMoved(e) => e.moved_on,
        HouseholdClosed(e) => e.closed_on,
        HouseholdSurveyed(e) => e.survey_date,
        HouseholdClassified(e) => e.decided_on,
        BecamePoor(e) => e.decided_on,
        BecameNearPoor(e) => e.decided_on,
        ExitedPoverty(e) => e.decided_on,
        ExitedNearPoverty(e) => e.decided_on,
        FellBackIntoPoverty(e) | FellBackIntoNearPoverty(e) => e.decided_on,
        SupportReceived(e) => e.disbursed_on,
        EventCorrected(_) | FlagExplained(_) | FlagAccepted(_) => today(),
        ReviewMeetingHeld(e) => e.held_on,
        ComplaintReceived(e) => e.received_on,
        ComplaintResolved(e) => e.decided_on,
    }
}

impl Given {
    fn push(&mut self, sealed: Vec<Recorded<HouseholdEvent>>) {
        for r in sealed {
            self.state = std::mem::take(&mut self.state).apply(&r);
            self.history.push(r);
        }
    }

    /// Runs a command that must succeed and records its events.
    pub fn and(mut self, command: HouseholdCommand) -> Given {
        let cmd = Command {
            ctx: ctx(),
            action: command.clone(),
        };
        match Household::handle_command(&self.state, cmd) {
            Ok(events) => self.push(events),
            Err(e) => panic!("given command {command:?} was refused: {e}"),
        }
        self
    }

    /// Runs a command against the given history.
    pub fn when(&self, command: HouseholdCommand) -> Then {
        self.when_in(ctx(), command)
    }

    /// Runs a command in a context of the test's own (other policy parameters, say).
    pub fn when_in(&self, ctx: CommandContext, command: HouseholdCommand) -> Then {
        let cmd = Command {
            ctx,
            action: command,
        };
        Then {
            result: Household::handle_command(&self.state, cmd),
        }
    }
}

pub struct Then {
    pub result: Result<Vec<Recorded<HouseholdEvent>>, HouseholdError>,
}

impl Then {
    /// The command succeeded with exactly these events (envelopes ignored).
    pub fn then(self, expected: Vec<HouseholdEvent>) -> Vec<Recorded<HouseholdEvent>> {
        let recorded = self.ok();
        let events: Vec<HouseholdEvent> = recorded.iter().map(|r| r.event.clone()).collect();
        assert_eq!(events, expected);
        recorded
    }

    /// The command succeeded; its recorded events.
    pub fn ok(self) -> Vec<Recorded<HouseholdEvent>> {
        match self.result {
            Ok(r) => r,
            Err(e) => panic!("expected events, got error: {e}"),
        }
    }

    /// The command succeeded with events of these types.
    pub fn then_types(self, types: &[&str]) -> Vec<Recorded<HouseholdEvent>> {
        let recorded = self.ok();
        let names: Vec<&str> = recorded.iter().map(|r| r.event.type_name()).collect();
        assert_eq!(names, types);
        recorded
    }

    /// The command was refused with an error naming `field`, for which `check` holds.
    pub fn then_error(
        self,
        field: Option<&str>,
        check: impl FnOnce(&HouseholdError) -> bool,
    ) -> HouseholdError {
        match self.result {
            Ok(events) => panic!("expected an error, got events {events:?}"),
            Err(e) => {
                assert!(check(&e), "unexpected error: {e:?}");
                assert_eq!(e.field(), field, "field of {e:?}");
                let message = e.to_string();
                assert!(!message.is_empty() && !message.contains('\n'));
                e
            }
        }
    }
}

/// The event data of a command run on a fresh registered household (for `given` lists).
pub fn event_of(command: HouseholdCommand) -> HouseholdEvent {
    let g = given_commands(vec![register()]);
    g.when(command).ok().remove(0).event
}
