//! Complaints for a generated province (they are not in the import format: a complaint is
//! recorded as it comes, not in a yearly file). A few households of each commune's latest
//! posted review get one: most rejected with a reason within the deadline, one upheld (the
//! household is then back in review), and [`OVERDUE`] left unresolved past their deadline so
//! supervisors' lists show them. Chosen and worded deterministically from the rows.

use chrono::{Duration, NaiveDate};
use uuid::Uuid;

use ansinh_events::household::{ComplaintInput, ComplaintOutcome, ResolutionInput};

use crate::import::commands::parse_date;
use crate::import::format::ReviewRow;
use crate::import::run::household_id;

/// How many complaints are left unresolved past their deadline.
pub const OVERDUE: usize = 2;
/// Most complaints played out.
pub const MAX_COMPLAINTS: usize = 8;
/// One household in this many of a posted review gets a complaint (until [`MAX_COMPLAINTS`]).
const EVERY: usize = 97;

const NAMESPACE: Uuid = Uuid::from_u128(0x3c0f_7e21_5b9a_4d6e_8f10_2a4b_6c8d_0e1f);

const CONTENTS: [&str; 3] = [
    "Đề nghị xem xét lại: hộ có người đi làm công nhân, thu nhập ổn định.",
    "Hộ tôi bị bỏ sót, đề nghị rà soát lại điều kiện nhà ở.",
    "Gia đình mới mua xe máy, đề nghị xác minh lại thu nhập.",
];

/// A complaint to play out: on which household, received when, and how (if) it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedComplaint {
    pub household_id: Uuid,
    pub complaint_id: Uuid,
    pub complaint: ComplaintInput,
    pub resolution: Option<ResolutionInput>,
}

/// The complaints of `reviews` (the generator's rows), none dated after `today`.
pub fn plan(reviews: &[ReviewRow], today: NaiveDate) -> Vec<PlannedComplaint> {
    let Some(latest) = reviews
        .iter()
        .filter(|r| !r.posted_from.is_empty())
        .map(|r| r.period.as_str())
        .max()
    else {
        return Vec::new();
    };
    let mut planned = Vec::new();
    for (i, row) in reviews
        .iter()
        .filter(|r| r.period == latest)
        .enumerate()
        .filter(|(i, _)| i % EVERY == EVERY / 2)
    {
        if planned.len() == MAX_COMPLAINTS {
            break;
        }
        let Some(posted_from) = parse_date(&row.posted_from) else {
            continue;
        };
        let received_on = posted_from + Duration::days(1);
        if received_on > today {
            continue;
        }
        let n = planned.len();
        let complaint_id = Uuid::new_v5(
            &NAMESPACE,
            format!("{}/{latest}", row.household_key).as_bytes(),
        );
        let resolution = if n < OVERDUE {
            None
        } else {
            let outcome = if n == OVERDUE {
                ComplaintOutcome::Upheld
            } else {
                ComplaintOutcome::Rejected
            };
            Some(ResolutionInput {
                complaint_id,
                outcome,
                decided_on: (received_on + Duration::days(7)).min(today),
                decision_no: format!("{}/QĐ-UBND-KN", 10 + n),
                reason: Some(
                    match outcome {
                        ComplaintOutcome::Upheld => {
                            "Xác minh đúng nội dung khiếu nại; rà soát lại hộ."
                        }
                        ComplaintOutcome::Rejected => {
                            "Xác minh không có căn cứ; giữ kết quả rà soát."
                        }
                    }
                    .to_owned(),
                ),
            })
        };
        planned.push(PlannedComplaint {
            household_id: household_id(&row.household_key),
            complaint_id,
            complaint: ComplaintInput {
                period: latest.to_owned(),
                received_on,
                from_name: (i % 2 == 0).then(|| "Người dân trong ấp".to_owned()),
                contact: (i % 2 == 0).then(|| "Liên hệ qua trưởng ấp".to_owned()),
                content: CONTENTS[i % CONTENTS.len()].to_owned(),
            },
            resolution,
        });
    }
    planned
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_province_gets_a_few_complaints_two_of_them_left_open() {
        let g = crate::generate::generate(600, crate::generate::DEFAULT_SEED).unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let planned = plan(&g.reviews, today);
        assert!(planned.len() > OVERDUE, "{}", planned.len());
        assert_eq!(
            planned.iter().filter(|p| p.resolution.is_none()).count(),
            OVERDUE
        );
        assert_eq!(plan(&g.reviews, today), planned, "deterministic");
        assert!(planned.iter().all(|p| p.complaint.received_on <= today));
    }
}
