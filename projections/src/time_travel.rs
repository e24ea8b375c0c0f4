//! A household as it was: replaying its events through the pure domain, cut at a date.
//!
//! * **as of** a day: the facts that had taken effect by the end of that day (by effective
//!   date), with corrections applied — a fact counts with its corrected content and on its
//!   corrected date, a voided fact not at all, whenever the correction was recorded. Decisions
//!   and their lifecycle events count from the day they were decided.
//! * **as known on** a day: only the events recorded by the end of that day (Vietnam time),
//!   corrections recorded later included not — what an auditor would have read that evening.
//!
//! Both can be combined ("the status on 30 June 2023 as the system knew it on 1 July 2023").

use std::collections::BTreeMap;

use ansinh_events::household::{HouseholdEvent, HouseholdState, Replacement};
use ansinh_events::Recorded;
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// The end of a Vietnamese day (UTC+7) as an instant: events recorded before it were known
/// that day.
pub fn end_of_day_in_vietnam(day: NaiveDate) -> DateTime<Utc> {
    let next_midnight = day
        .succ_opt()
        .unwrap_or(day)
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    next_midnight - Duration::hours(7)
}

/// The state of a household as of the end of `as_of` (by effective date) as known at the end of
/// `known_on` (by recording time); `None` for either means no cut.
pub fn replay(
    events: &[Recorded<HouseholdEvent>],
    as_of: Option<NaiveDate>,
    known_on: Option<NaiveDate>,
) -> HouseholdState {
    let known_by = known_on.map(end_of_day_in_vietnam);
    let known: Vec<&Recorded<HouseholdEvent>> = events
        .iter()
        .filter(|e| known_by.is_none_or(|at| e.meta.recorded_at < at))
        .collect();
    let Some(as_of) = as_of else {
        return known
            .into_iter()
            .fold(HouseholdState::default(), |s, e| s.apply(e));
    };
    // The content each correctable fact has after the corrections known.
    let mut content: BTreeMap<i64, Option<Replacement>> = BTreeMap::new();
    for e in &known {
        if let Some(c) = e.event.as_correctable() {
            content.insert(e.meta.sequence, Some(c));
        } else if let HouseholdEvent::EventCorrected(c) = &e.event {
            content.insert(c.original_sequence, c.replacement.clone());
        }
    }
    let mut state = HouseholdState::default();
    for e in known {
        match &e.event {
            HouseholdEvent::EventCorrected(_) => {}
            event if event.as_correctable().is_some() => {
                let Some(Some(fact)) = content.get(&e.meta.sequence) else {
                    continue; // voided
                };
                let on = fact.own_date().unwrap_or(e.meta.effective_on);
                if on <= as_of {
                    let corrected = Recorded {
                        event: as_event(fact.clone()),
                        meta: e.meta.clone(),
                    };
                    state = state.apply(&corrected);
                }
            }
            _ => {
                if e.meta.effective_on <= as_of {
                    state = state.apply(e);
                }
            }
        }
    }
    state
}

/// The event a correctable fact's content stands for.
pub fn as_event(content: Replacement) -> HouseholdEvent {
    match content {
        Replacement::HouseholdRegistered(e) => HouseholdEvent::HouseholdRegistered(e),
        Replacement::MembersChanged(e) => HouseholdEvent::MembersChanged(e),
        Replacement::HouseholdMoved(e) => HouseholdEvent::HouseholdMoved(e),
        Replacement::HouseholdClosed(e) => HouseholdEvent::HouseholdClosed(e),
        Replacement::HouseholdSurveyed(e) => HouseholdEvent::HouseholdSurveyed(e),
        Replacement::SupportReceived(e) => HouseholdEvent::SupportReceived(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vietnamese_day_ends_at_17_utc() {
        let day: NaiveDate = "2023-06-30".parse().expect("date");
        assert_eq!(
            end_of_day_in_vietnam(day).to_rfc3339(),
            "2023-06-30T17:00:00+00:00"
        );
    }
}
