#![allow(clippy::unwrap_used)]

use super::*;
use crate::review_deadlines::{ReviewDeadlines, POSTING_MIN};
use crate::{Actor, Source};
use chrono::{TimeZone, Utc};
use proptest::prelude::*;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn item(n: u128) -> PostedItem {
    PostedItem {
        household_id: Uuid::from_u128(n),
        head_name: "Nguyễn Thị Lan".to_owned(),
        hamlet: "Ấp Thạnh Hiệp".to_owned(),
        proposed_category: Category::Poor,
    }
}

fn open(from: &str, to: &str, items: Vec<PostedItem>) -> PostingCommand {
    let posted_from = d(from);
    PostingCommand::Open {
        posting: PostingInput {
            unit_code: "25459".to_owned(),
            period: "2025-annual".to_owned(),
            posted_from,
            posted_to: d(to),
            places: vec![
                "Trụ sở UBND phường".to_owned(),
                "Nhà văn hóa khu phố 1".to_owned(),
            ],
        },
        items,
        minimum: ReviewDeadlines::shipped()
            .on(POSTING_MIN, posted_from)
            .cloned(),
    }
}

fn ctx() -> CommandContext {
    let at = Utc.with_ymd_and_hms(2025, 11, 1, 3, 0, 0).unwrap();
    CommandContext::new(
        posting_id("25459", "2025-annual"),
        Actor::system("test"),
        Source::Cli,
        at,
    )
}

#[test]
fn a_posting_of_three_working_days_is_opened_and_sealed_on_its_own_chain() {
    // Wednesday to Friday.
    let events = handle(
        &PostingState::default(),
        open("2025-10-01", "2025-10-03", vec![item(1), item(2)]),
        &ctx(),
    )
    .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].meta.sequence, 1);
    assert_eq!(
        events[0].meta.household_id,
        posting_id("25459", "2025-annual")
    );
    assert_eq!(events[0].meta.hash.len(), 64);
    let PostingEvent::PostingOpened(o) = &events[0].event;
    assert!(o.open_on(d("2025-10-03")) && !o.open_on(d("2025-10-04")));
    assert!(!o.minimum_confirmed);
    let state = PostingState::default().apply(&events[0]);
    let again = decide(&state, open("2025-10-01", "2025-10-03", vec![item(1)])).unwrap_err();
    assert_eq!(again.field(), Some("period"));
}

#[test]
fn a_posting_over_a_weekend_counts_only_working_days() {
    // Friday to Monday: two working days.
    let e = decide(
        &PostingState::default(),
        open("2025-10-03", "2025-10-06", vec![item(1)]),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            PostingError::TooShort {
                days: 2,
                minimum: 3,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.field(), Some("posted_to"));
    assert!(e.to_string().contains("not confirmed"), "{e}");
}

#[test]
fn bad_postings_are_refused_naming_the_field() {
    let s = PostingState::default();
    let e = decide(&s, open("2025-10-01", "2025-10-03", vec![])).unwrap_err();
    assert_eq!(e.field(), Some("households"));
    let e = decide(&s, open("2025-10-01", "2025-10-03", vec![item(1), item(1)])).unwrap_err();
    assert_eq!(e.field(), Some("households"));
    let e = decide(&s, open("2025-10-03", "2025-10-01", vec![item(1)])).unwrap_err();
    assert_eq!(e.code(), "ends_before_start");
    let e = decide(&s, open("2019-10-01", "2019-10-30", vec![item(1)])).unwrap_err();
    assert_eq!(e.field(), Some("posted_from"));
}

#[test]
fn the_stream_id_is_one_per_commune_and_period() {
    assert_eq!(
        posting_id("25459", "2025-annual"),
        posting_id("25459", "2025-annual")
    );
    assert_ne!(
        posting_id("25459", "2025-annual"),
        posting_id("25459", "2024-annual")
    );
    assert_ne!(
        posting_id("25459", "2025-annual"),
        posting_id("25456", "2025-annual")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Opened exactly when the posting spans at least the minimum of working days.
    #[test]
    fn opened_iff_long_enough(start in 0i64..700, length in 0i64..12) {
        let from = d("2024-01-01") + chrono::Duration::days(start);
        let to = from + chrono::Duration::days(length);
        let result = decide(&PostingState::default(), open(&from.to_string(), &to.to_string(), vec![item(1)]));
        prop_assert_eq!(result.is_ok(), working_days_between(from, to) >= 3);
    }
}
