//! The public review: village meetings, complaints, and how they hold back the chair's decision.
#![allow(clippy::unwrap_used)]

mod common;

use ansinh_events::household::*;
use ansinh_events::review_deadlines::{ReviewDeadlines, COMPLAINT_RESOLUTION};
use ansinh_events::standards::Category;
use common::*;
use proptest::prelude::*;
use uuid::Uuid;

const STD: &str = "vn-2022-2025";
const C1: Uuid = Uuid::from_u128(0xc1);
const C2: Uuid = Uuid::from_u128(0xc2);

fn surveyed() -> Given {
    given_commands(vec![register()]).and(survey(
        "2022-10-05",
        1_200_000,
        &["health_insurance", "housing_area", "hygienic_latrine"],
    ))
}

fn meeting(on: &str, attendees: i64, votes_for: i64, votes_against: i64) -> HouseholdCommand {
    HouseholdCommand::HoldMeeting(MeetingInput {
        period: "2022-annual".to_owned(),
        held_on: d(on),
        hamlet: "Ấp Thạnh Hiệp".to_owned(),
        attendees,
        votes_for,
        votes_against,
        minutes_no: "07/BB-ÂTH".to_owned(),
    })
}

fn complaint(id: Uuid, on: &str) -> HouseholdCommand {
    let received_on = d(on);
    HouseholdCommand::ReceiveComplaint {
        complaint_id: id,
        complaint: ComplaintInput {
            period: "2022-annual".to_owned(),
            received_on,
            from_name: Some("Phạm Văn Bảy".to_owned()),
            contact: Some("0912 345 678".to_owned()),
            content: "Hộ có xe máy mới, không thuộc diện nghèo.".to_owned(),
        },
        received_by: "Cán bộ LĐTBXH".to_owned(),
        deadline: ReviewDeadlines::shipped()
            .on(COMPLAINT_RESOLUTION, received_on)
            .cloned(),
    }
}

fn resolve(
    id: Uuid,
    outcome: ComplaintOutcome,
    on: &str,
    reason: Option<&str>,
) -> HouseholdCommand {
    HouseholdCommand::ResolveComplaint(ResolutionInput {
        complaint_id: id,
        outcome,
        decided_on: d(on),
        decision_no: "12/QĐ-UBND".to_owned(),
        reason: reason.map(str::to_owned),
    })
}

fn poor_decision(on: &str, reason: Option<&str>) -> HouseholdCommand {
    decision_with_reason(STD, Category::Poor, on, "123/QĐ-UBND", reason)
}

#[test]
fn a_meeting_with_half_in_favour_agrees_and_records_the_proposal_voted_on() {
    let events = surveyed().when(meeting("2022-10-20", 40, 20, 20)).ok();
    let HouseholdEvent::ReviewMeetingHeld(m) = &events[0].event else {
        panic!("not a meeting: {events:?}");
    };
    assert_eq!(m.outcome, MeetingOutcome::Agreed);
    assert_eq!(m.survey_sequence, 2);
    assert_eq!(m.proposed[STD], Category::Poor);
    assert_eq!(m.hamlet, "Ấp Thạnh Hiệp");
    assert_eq!(events[0].meta.effective_on, d("2022-10-20"));
    assert_eq!(events[0].meta.decision_no.as_deref(), Some("07/BB-ÂTH"));
    // Agreed: the decision goes ahead without a reason.
    surveyed()
        .and(meeting("2022-10-20", 40, 20, 20))
        .when(poor_decision("2022-12-10", None))
        .then_types(&["household_classified", "became_poor"]);
}

#[test]
fn fewer_than_half_in_favour_sends_the_household_back_and_the_decision_is_refused() {
    let g = surveyed().and(meeting("2022-10-20", 41, 20, 21));
    assert_eq!(
        g.state.meetings.values().next().unwrap().outcome,
        MeetingOutcome::ReviewAgain
    );
    let e = g
        .when(poor_decision("2022-12-10", None))
        .then_error(Some("reason"), |e| {
            matches!(e, HouseholdError::SentBackByMeeting { held_on } if *held_on == d("2022-10-20"))
        });
    assert_eq!(e.code(), "sent_back_by_meeting");
    assert!(e.to_string().contains("new survey"), "{e}");
}

#[test]
fn a_new_survey_after_the_meeting_lets_the_decision_through_unflagged() {
    let events = surveyed()
        .and(meeting("2022-10-20", 41, 20, 21))
        .and(survey(
            "2022-11-02",
            1_200_000,
            &["health_insurance", "housing_area", "hygienic_latrine"],
        ))
        .when(poor_decision("2022-12-10", None))
        .ok();
    let HouseholdEvent::HouseholdClassified(c) = &events[0].event else {
        panic!()
    };
    assert!(!c.flagged());
}

#[test]
fn a_reason_lets_a_sent_back_household_be_decided_and_flags_the_decision() {
    let events = surveyed()
        .and(meeting("2022-10-20", 41, 20, 21))
        .when(poor_decision(
            "2022-12-10",
            Some("Họp lại không được; Ban chỉ đạo xã xác minh."),
        ))
        .ok();
    let HouseholdEvent::HouseholdClassified(c) = &events[0].event else {
        panic!()
    };
    assert_eq!(c.sent_back_on, Some(d("2022-10-20")));
    assert!(c.flagged());
}

#[test]
fn meeting_counts_are_checked_naming_the_field() {
    let g = surveyed();
    g.when(meeting("2022-10-20", 0, 0, 0))
        .then_error(Some("attendees"), |e| {
            matches!(e, HouseholdError::OutOfRange { .. })
        });
    g.when(meeting("2022-10-20", 10, -1, 0))
        .then_error(Some("votes_for"), |e| {
            matches!(e, HouseholdError::OutOfRange { .. })
        });
    g.when(meeting("2022-10-20", 10, 6, 5))
        .then_error(Some("votes_for"), |e| {
            matches!(e, HouseholdError::MoreVotesThanAttendees { .. })
        });
    g.when(meeting("2022-10-01", 10, 6, 4))
        .then_error(Some("held_on"), |e| {
            matches!(e, HouseholdError::MeetingBeforeSurvey { .. })
        });
    given_commands(vec![register()])
        .when(meeting("2022-10-20", 10, 6, 4))
        .then_error(Some("period"), |e| {
            matches!(e, HouseholdError::NoSurveyForPeriod { .. })
        });
}

#[test]
fn a_complaint_is_due_by_the_dated_limit_and_records_who_received_it() {
    let events = surveyed().when(complaint(C1, "2022-11-01")).ok();
    let HouseholdEvent::ComplaintReceived(c) = &events[0].event else {
        panic!()
    };
    assert_eq!(c.resolve_by, d("2022-12-01"));
    assert!(!c.deadline_confirmed);
    assert_eq!(c.received_by, "Cán bộ LĐTBXH");
    assert!(events[0]
        .meta
        .legal_basis
        .as_deref()
        .unwrap()
        .contains("Khiếu nại"));
}

#[test]
fn a_complaint_without_a_known_limit_is_refused_on_received_on() {
    let HouseholdCommand::ReceiveComplaint {
        complaint_id,
        complaint: c,
        received_by,
        ..
    } = complaint(C1, "2022-11-01")
    else {
        panic!()
    };
    surveyed()
        .when(HouseholdCommand::ReceiveComplaint {
            complaint_id,
            complaint: c,
            received_by,
            deadline: None,
        })
        .then_error(Some("received_on"), |e| {
            matches!(e, HouseholdError::NoDeadline { .. })
        });
}

#[test]
fn an_open_complaint_refuses_a_decision_without_reason_and_flags_one_with_a_reason() {
    let g = surveyed().and(complaint(C1, "2022-11-01"));
    g.when(poor_decision("2022-12-10", None)).then_error(
        Some("reason"),
        |e| matches!(e, HouseholdError::OpenComplaint { complaint_id, .. } if *complaint_id == C1),
    );
    let events = g
        .when(poor_decision(
            "2022-12-10",
            Some("Hết hạn niêm yết, chủ tịch quyết định."),
        ))
        .ok();
    let HouseholdEvent::HouseholdClassified(c) = &events[0].event else {
        panic!()
    };
    assert_eq!(c.open_complaints, vec![C1]);
}

#[test]
fn a_rejected_complaint_needs_a_reason_and_then_frees_the_decision() {
    let g = surveyed().and(complaint(C1, "2022-11-01"));
    g.when(resolve(C1, ComplaintOutcome::Rejected, "2022-11-10", None))
        .then_error(Some("reason"), |e| {
            matches!(e, HouseholdError::RejectionNeedsReason)
        });
    g.and(resolve(
        C1,
        ComplaintOutcome::Rejected,
        "2022-11-10",
        Some("Xác minh: xe mượn."),
    ))
    .when(poor_decision("2022-12-10", None))
    .then_types(&["household_classified", "became_poor"]);
}

#[test]
fn an_upheld_complaint_needs_a_new_survey_before_the_decision() {
    let g = surveyed().and(complaint(C1, "2022-11-01")).and(resolve(
        C1,
        ComplaintOutcome::Upheld,
        "2022-11-10",
        None,
    ));
    g.when(poor_decision("2022-12-10", None))
        .then_error(Some("reason"), |e| {
            matches!(e, HouseholdError::SentBackByComplaint { .. })
        });
    g.and(survey("2022-11-15", 3_000_000, &[]))
        .when(decision(
            STD,
            Category::NotPoor,
            "2022-12-10",
            "123/QĐ-UBND",
        ))
        .then_types(&["household_classified"]);
}

#[test]
fn resolutions_are_checked() {
    let g = surveyed().and(complaint(C1, "2022-11-01"));
    g.when(resolve(C2, ComplaintOutcome::Upheld, "2022-11-10", None))
        .then_error(Some("complaint_id"), |e| {
            matches!(e, HouseholdError::NoSuchComplaint { .. })
        });
    g.when(resolve(C1, ComplaintOutcome::Upheld, "2022-10-30", None))
        .then_error(Some("decided_on"), |e| {
            matches!(e, HouseholdError::ResolvedBeforeReceived { .. })
        });
    let done = g.and(resolve(C1, ComplaintOutcome::Upheld, "2022-11-10", None));
    done.when(resolve(
        C1,
        ComplaintOutcome::Rejected,
        "2022-11-11",
        Some("x"),
    ))
    .then_error(Some("complaint_id"), |e| {
        matches!(e, HouseholdError::ComplaintAlreadyResolved { .. })
    });
    surveyed()
        .and(complaint(C1, "2022-11-01"))
        .when(complaint(C1, "2022-11-02"))
        .then_error(Some("complaint_id"), |e| {
            matches!(e, HouseholdError::DuplicateComplaint { .. })
        });
}

#[test]
fn a_late_resolution_is_marked_late() {
    let events = surveyed()
        .and(complaint(C1, "2022-11-01"))
        .when(resolve(
            C1,
            ComplaintOutcome::Rejected,
            "2022-12-05",
            Some("Đã xác minh."),
        ))
        .ok();
    let HouseholdEvent::ComplaintResolved(r) = &events[0].event else {
        panic!()
    };
    assert!(r.late);
}

#[test]
fn older_decisions_keep_their_stored_shape() {
    // The new fields are left out while empty, so events stored before them hash the same.
    let events = surveyed().when(poor_decision("2022-12-10", None)).ok();
    let json = serde_json::to_value(&events[0].event).unwrap();
    assert!(json["data"].get("open_complaints").is_none());
    assert!(json["data"].get("sent_back_on").is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Agreed exactly when at least half of those present voted for; a decision without a
    /// reason goes through exactly then.
    #[test]
    fn the_meeting_rule_is_votes_for_at_least_half(attendees in 1i64..500, share in 0.0f64..=1.0) {
        let votes_for = ((attendees as f64) * share).floor() as i64;
        let g = surveyed().and(meeting("2022-10-20", attendees, votes_for, attendees - votes_for));
        let outcome = g.state.meetings.values().next().unwrap().outcome;
        prop_assert_eq!(outcome == MeetingOutcome::Agreed, votes_for * 2 >= attendees);
        let decided = g.when(poor_decision("2022-12-10", None)).result.is_ok();
        prop_assert_eq!(decided, votes_for * 2 >= attendees);
    }

    /// A decision without a reason goes through iff no complaint is open, whatever order
    /// complaints were received and resolved in.
    #[test]
    fn a_decision_without_reason_needs_every_complaint_resolved(resolved in proptest::collection::vec(any::<bool>(), 0..5)) {
        let mut g = surveyed();
        for (i, done) in resolved.iter().enumerate() {
            let id = Uuid::from_u128(0x100 + i as u128);
            g = g.and(complaint(id, "2022-11-01"));
            if *done {
                g = g.and(resolve(id, ComplaintOutcome::Rejected, "2022-11-05", Some("Không có cơ sở.")));
            }
        }
        let decided = g.when(poor_decision("2022-12-10", None)).result.is_ok();
        prop_assert_eq!(decided, resolved.iter().all(|r| *r));
    }
}
