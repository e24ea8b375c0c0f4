//! Supports appended to a household are flagged from its stored context (`flags::Context`,
//! kept as JSON beside the version its flags stand at) without reading its history: that must
//! give exactly the rows a reading of the whole history gives, the earlier flags unchanged.
#![allow(clippy::unwrap_used)]

#[path = "support/histories.rs"]
mod histories;

use ansinh_events::household::{HouseholdEvent, Policy};
use ansinh_events::policy_params::PolicyParameters;
use ansinh_events::Recorded;
use ansinh_projections::flags::{self, appended_rows, judged_from_context, Context, Flag};
use ansinh_projections::log::fold;
use ansinh_projections::HouseholdLog;
use histories::{plan, simulate};
use proptest::prelude::*;
use uuid::Uuid;

/// Policies with and without eligibility conditions, once-per-period ones (never judged from
/// context) and the electricity subsidy (whose amount is checked).
const POLICIES: [Policy; 6] = [
    Policy::PreferentialCredit,
    Policy::EmergencyAid,
    Policy::ElectricitySubsidy,
    Policy::HealthInsurance,
    Policy::MonthlyAllowance,
    Policy::Housing,
];

fn log(id: Uuid, events: &[Recorded<HouseholdEvent>]) -> HouseholdLog {
    HouseholdLog {
        household_id: id,
        events: events.to_vec(),
        state: fold(events),
        first_new: 1,
    }
}

fn sorted(mut rows: Vec<Flag>) -> Vec<Flag> {
    rows.sort_by(|a, b| (&a.rule, a.sequence).cmp(&(&b.rule, b.sequence)));
    rows
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn supports_judged_from_context_get_the_flags_of_the_whole_history(
        plan in plan(),
        policies in prop::collection::vec(0..POLICIES.len(), 8),
        recorders in prop::collection::vec(0..3_usize, 8),
    ) {
        let id = Uuid::from_u128(9);
        let (_, mut events) = simulate(id, &plan);
        // Two officers and a system account record events; supports vary in policy.
        let users = [Uuid::nil(), Uuid::from_u128(1), Uuid::from_u128(2)];
        for (i, e) in events.iter_mut().enumerate() {
            e.meta.actor.user_id = users[recorders[i % recorders.len()]];
            if let HouseholdEvent::SupportReceived(s) = &mut e.event {
                s.policy = POLICIES[policies[i % policies.len()]];
            }
        }
        let parameters = PolicyParameters::shipped();
        for start in 1..events.len() {
            // Every run of supports judged from context, as one runner batch or several.
            let run = events[start..]
                .iter()
                .take_while(|e| judged_from_context(e))
                .count();
            for len in 1..=run {
                let before = log(id, &events[..start]);
                let context: Context =
                    serde_json::from_value(serde_json::to_value(Context::of(&before)).unwrap())
                        .unwrap();
                let batch: Vec<&Recorded<HouseholdEvent>> =
                    events[start..start + len].iter().collect();
                let mut incremental = flags::rows(&before);
                incremental.extend(appended_rows(id, &context, &batch, &parameters));
                let whole = flags::rows(&log(id, &events[..start + len]));
                prop_assert_eq!(sorted(incremental), whole);
            }
        }
    }
}
