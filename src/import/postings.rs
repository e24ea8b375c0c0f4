//! The postings an import's rows name (`posted_from`, `posted_to`): one per commune and
//! period, listing the households of those rows with the category their survey of the period
//! proposed. Gathered while the households are decided, written once they all are; a posting
//! already in the log is left as it is, so importing a file again adds nothing.

use std::collections::BTreeMap;

use ansinh_events::household::HouseholdState;
use ansinh_events::posting::{handle, posting_id, PostedItem, PostingCommand, PostingInput};
use ansinh_events::review_deadlines::{ReviewDeadlines, POSTING_MIN};
use ansinh_events::CommandContext;
use chrono::NaiveDate;
use sqlx::PgPool;
use uuid::Uuid;

use super::commands::parse_date;
use super::format::ReviewRow;
use crate::posting_log::{self, PostingLogError};

/// Where the commune's office posts when the file names no place.
pub const DEFAULT_PLACE: &str = "Trụ sở UBND xã, phường";

/// Postings by (unit, period): the first row's dates, and the households listed.
#[derive(Debug, Default)]
pub struct Gathered {
    pub postings: BTreeMap<(String, String), (NaiveDate, NaiveDate, Vec<PostedItem>)>,
}

impl Gathered {
    /// Adds the household `id` (decided into `state`) to the postings its rows name.
    pub fn add(&mut self, id: Uuid, reviews: &[(u64, ReviewRow)], state: &HouseholdState) {
        for (_, row) in reviews {
            let (Some(from), Some(to)) = (parse_date(&row.posted_from), parse_date(&row.posted_to))
            else {
                continue;
            };
            let period = row.period.trim();
            let proposal = state
                .surveys
                .values()
                .filter(|s| s.period == period)
                .max_by_key(|s| s.survey_date)
                .and_then(|s| {
                    let standard = row.standard.trim();
                    s.proposed
                        .get(standard)
                        .or_else(|| s.proposed.values().next_back())
                });
            let Some(proposal) = proposal else {
                continue;
            };
            let entry = self
                .postings
                .entry((row.unit_code.trim().to_owned(), period.to_owned()))
                .or_insert_with(|| (from, to, Vec::new()));
            if !entry.2.iter().any(|i| i.household_id == id) {
                entry.2.push(PostedItem {
                    household_id: id,
                    head_name: ansinh_events::text::nfc(&row.head_name),
                    hamlet: ansinh_events::text::nfc(&row.hamlet),
                    proposed_category: proposal.category,
                });
            }
        }
    }

    pub fn merge(&mut self, other: Gathered) {
        for (key, (from, to, items)) in other.postings {
            let entry = self.postings.entry(key).or_insert((from, to, Vec::new()));
            entry.2.extend(items);
        }
    }

    /// Writes every posting not yet in the log; how many were written. A posting the rules
    /// refuse (shorter than the minimum) is skipped with a warning: its households are in.
    pub async fn write(self, pool: &PgPool, ctx: &CommandContext) -> Result<u64, PostingLogError> {
        let mut written = 0;
        for ((unit_code, period), (from, to, mut items)) in self.postings {
            let id = posting_id(&unit_code, &period);
            let (state, _) = posting_log::load(pool, id).await?;
            if state.opened.is_some() {
                continue;
            }
            items.sort_by_key(|i| i.household_id);
            let mut ctx = ctx.clone();
            ctx.household_id = id;
            let command = PostingCommand::Open {
                posting: PostingInput {
                    unit_code: unit_code.clone(),
                    period: period.clone(),
                    posted_from: from,
                    posted_to: to,
                    places: vec![DEFAULT_PLACE.to_owned()],
                },
                items,
                minimum: ReviewDeadlines::shipped().on(POSTING_MIN, from).cloned(),
            };
            match handle(&state, command, &ctx) {
                Ok(events) => {
                    posting_log::append(pool, id, &events).await?;
                    written += 1;
                }
                Err(e) => tracing::warn!(%unit_code, %period, error = %e, "posting not imported"),
            }
        }
        Ok(written)
    }
}
