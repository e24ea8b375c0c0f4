//! Red flags: each rule fires on a history that breaks it and stays quiet on one that does not;
//! an explained flag stays listed as explained, with who and why, and a supervisor accepts it.

use ansinh::users::Role;
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::funds::{drawn, open_fund};
use crate::helpers::{decision, spawn_app, support, survey, TestApp};

const UNIT: &str = "25459";

struct Scene {
    app: TestApp,
    officer: String,
    other: String,
    district: String,
}

async fn scene() -> Scene {
    let app = spawn_app().await;
    Scene {
        officer: app.token(Role::CommuneOfficer, UNIT).await,
        other: app.token(Role::CommuneOfficer, UNIT).await,
        district: app.token(Role::DistrictOfficer, "703").await,
        app,
    }
}

impl Scene {
    async fn post(&self, token: &str, h: Uuid, what: &str, body: &Value) -> Value {
        let r = self
            .app
            .post(&format!("/api/v1/households/{h}/{what}"), token, body)
            .await;
        assert_eq!(r.status, 201, "{what}: {}", r.text);
        r.body
    }

    /// A poor household: surveyed by `officer`, decided by `other`.
    async fn poor(&self) -> Uuid {
        let h = self.app.register(&self.officer, UNIT).await;
        self.post(
            &self.officer,
            h,
            "surveys",
            &survey("2022-10-05", 1_200_000, 3),
        )
        .await;
        self.post(&self.other, h, "decisions", &decision("poor", "2022-12-10"))
            .await;
        h
    }

    /// (rule, sequence) of the household's flags.
    /// The household's flags, once the runner (which keeps them) has caught up.
    async fn flags(&self, h: Uuid) -> Vec<(String, i64)> {
        self.app.projected().await;
        let r = self
            .app
            .get(
                &format!("/api/v1/flags?household={h}&unit={UNIT}"),
                &self.district,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|f| {
                (
                    f["rule"].as_str().unwrap_or_default().to_owned(),
                    f["sequence"].as_i64().unwrap_or(0),
                )
            })
            .collect()
    }
}

fn policy(mut body: Value, policy: &str, amount: i64) -> Value {
    body["policy"] = json!(policy);
    body["amount_vnd"] = json!(amount);
    body
}

fn fired(flags: &[(String, i64)], rule: &str, sequence: i64) -> bool {
    flags.iter().any(|(r, s)| r == rule && *s == sequence)
}

fn any(flags: &[(String, i64)], rule: &str) -> bool {
    flags.iter().any(|(r, _)| r == rule)
}

fn days_ago(n: i64) -> String {
    ((Utc::now() + Duration::hours(7)).date_naive() - Duration::days(n)).to_string()
}

/// The bench's commands are supports of the day: were they late entries (as a fixed past date
/// made them once the calendar moved on), each would also raise a flag, and the bench would
/// measure a red flag per command that real supports rarely raise.
#[tokio::test]
async fn the_bench_support_raises_no_flag() {
    let s = scene().await;
    let h = s.poor().await;
    let r = s
        .post(
            &s.officer,
            h,
            "supports",
            &ansinh::cli::bench::support_body(),
        )
        .await;
    let sequence = r["sequence"].as_i64().expect("the support's sequence");
    let raised: Vec<_> = s
        .flags(h)
        .await
        .into_iter()
        .filter(|(_, flagged)| *flagged == sequence)
        .collect();
    assert!(raised.is_empty(), "the bench's support raised {raised:?}");
}

#[tokio::test]
async fn not_eligible_fires_for_a_household_never_poor_and_not_for_a_poor_one() {
    let s = scene().await;
    let never = s.app.register(&s.officer, UNIT).await;
    let r = s
        .post(
            &s.officer,
            never,
            "supports",
            &policy(support(500_000, "2025-01-15"), "health_insurance", 500_000),
        )
        .await;
    assert!(fired(
        &s.flags(never).await,
        "not_eligible",
        r["sequence"].as_i64().unwrap_or(0)
    ));
    let poor = s.poor().await;
    s.post(
        &s.officer,
        poor,
        "supports",
        &policy(support(500_000, "2025-01-15"), "health_insurance", 500_000),
    )
    .await;
    assert!(!any(&s.flags(poor).await, "not_eligible"));
    // A page of another list asks for its households' flags at once.
    s.app.projected().await;
    let both = s
        .app
        .get(
            &format!("/api/v1/flags?unit={UNIT}&households={never},{poor}"),
            &s.district,
        )
        .await;
    assert_eq!(both.status, 200, "{}", both.text);
    assert!(both.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|f| f["household_id"] == never.to_string() || f["household_id"] == poor.to_string()));
    let bad = s
        .app
        .get("/api/v1/flags?households=nope", &s.district)
        .await;
    assert_eq!(bad.problem(400)["field"], "households");
    // Emergency aid is for anyone: no flag.
    s.post(
        &s.officer,
        never,
        "supports",
        &policy(support(500_000, "2025-02-15"), "emergency_aid", 500_000),
    )
    .await;
    assert_eq!(
        s.flags(never)
            .await
            .iter()
            .filter(|(r, _)| r == "not_eligible")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_once_a_year_policy_paid_twice_in_a_year_is_flagged_on_the_second() {
    let s = scene().await;
    let h = s.poor().await;
    let first = s
        .post(
            &s.officer,
            h,
            "supports",
            &policy(support(700_000, "2024-03-01"), "health_insurance", 700_000),
        )
        .await;
    s.post(
        &s.officer,
        h,
        "supports",
        &policy(support(700_000, "2025-03-01"), "health_insurance", 700_000),
    )
    .await;
    assert!(!any(&s.flags(h).await, "repeated_once_per_period"));
    let again = s
        .post(
            &s.officer,
            h,
            "supports",
            &policy(support(700_000, "2025-09-01"), "health_insurance", 700_000),
        )
        .await;
    let flags = s.flags(h).await;
    assert!(fired(
        &flags,
        "repeated_once_per_period",
        again["sequence"].as_i64().unwrap_or(0)
    ));
    assert!(!fired(
        &flags,
        "repeated_once_per_period",
        first["sequence"].as_i64().unwrap_or(0)
    ));
}

#[tokio::test]
async fn a_support_dated_after_the_closure_is_flagged_and_one_before_it_is_not() {
    let s = scene().await;
    let h = s.poor().await;
    let before = s
        .post(&s.officer, h, "supports", &support(1_000_000, "2025-02-01"))
        .await;
    let after = s
        .post(&s.officer, h, "supports", &support(1_000_000, "2025-03-05"))
        .await;
    s.post(
        &s.officer,
        h,
        "closure",
        &json!({"closed_on": "2025-03-01", "reason": "left_province"}),
    )
    .await;
    let flags = s.flags(h).await;
    assert!(fired(
        &flags,
        "after_closure",
        after["sequence"].as_i64().unwrap_or(0)
    ));
    assert!(!fired(
        &flags,
        "after_closure",
        before["sequence"].as_i64().unwrap_or(0)
    ));
}

#[tokio::test]
async fn an_electricity_subsidy_off_the_monthly_parameter_is_flagged() {
    let s = scene().await;
    let h = s.poor().await;
    // 3 months at 46,000–49,000 VND: 140,000 fits, 100,000 does not.
    let fits = s
        .post(
            &s.officer,
            h,
            "supports",
            &policy(
                support(140_000, "2025-04-01"),
                "electricity_subsidy",
                140_000,
            ),
        )
        .await;
    let off = s
        .post(
            &s.officer,
            h,
            "supports",
            &policy(
                support(100_000, "2025-07-01"),
                "electricity_subsidy",
                100_000,
            ),
        )
        .await;
    let flags = s.flags(h).await;
    assert!(fired(
        &flags,
        "amount_differs",
        off["sequence"].as_i64().unwrap_or(0)
    ));
    assert!(!fired(
        &flags,
        "amount_differs",
        fits["sequence"].as_i64().unwrap_or(0)
    ));
}

#[tokio::test]
async fn a_support_recorded_more_than_90_days_after_its_date_is_a_late_entry() {
    let s = scene().await;
    let h = s.poor().await;
    let late = s
        .post(
            &s.officer,
            h,
            "supports",
            &support(1_000_000, &days_ago(100)),
        )
        .await;
    let timely = s
        .post(
            &s.officer,
            h,
            "supports",
            &support(1_000_000, &days_ago(10)),
        )
        .await;
    let flags = s.flags(h).await;
    assert!(fired(
        &flags,
        "late_entry",
        late["sequence"].as_i64().unwrap_or(0)
    ));
    assert!(!fired(
        &flags,
        "late_entry",
        timely["sequence"].as_i64().unwrap_or(0)
    ));
}

#[tokio::test]
async fn the_same_user_surveying_and_deciding_or_deciding_and_paying_is_flagged() {
    let s = scene().await;
    // Separated: surveyed by one, decided by another, paid by the first.
    let separated = s.poor().await;
    s.post(
        &s.officer,
        separated,
        "supports",
        &support(1_000_000, "2025-01-15"),
    )
    .await;
    assert!(!any(&s.flags(separated).await, "same_user"));
    // One officer does it all.
    let h = s.app.register(&s.officer, UNIT).await;
    s.post(
        &s.officer,
        h,
        "surveys",
        &survey("2022-10-05", 1_200_000, 3),
    )
    .await;
    s.post(&s.officer, h, "decisions", &decision("poor", "2022-12-10"))
        .await;
    let paid = s
        .post(&s.officer, h, "supports", &support(1_000_000, "2025-01-15"))
        .await;
    let flags = s.flags(h).await;
    // Registered (1), surveyed (2), classified (3) by the same officer.
    assert!(fired(&flags, "same_user", 3), "{flags:?}");
    assert!(
        fired(&flags, "same_user", paid["sequence"].as_i64().unwrap_or(0)),
        "{flags:?}"
    );
}

#[tokio::test]
async fn a_decision_against_the_proposal_unreviewed_after_30_days_is_flagged() {
    let s = scene().await;
    // The survey proposes poor; deciding near-poor is against it.
    let h = s.app.register(&s.officer, UNIT).await;
    s.post(
        &s.officer,
        h,
        "surveys",
        &survey("2022-10-05", 1_200_000, 3),
    )
    .await;
    let mut against = decision("near_poor", "2022-12-10");
    against["reason"] = json!("Hộ có thu nhập ổn định từ con đi làm");
    s.post(&s.other, h, "decisions", &against).await;
    assert!(any(&s.flags(h).await, "unreviewed_override"));
    // A decision as proposed raises nothing.
    let as_proposed = s.poor().await;
    assert!(!any(&s.flags(as_proposed).await, "unreviewed_override"));
}

#[tokio::test]
async fn an_override_of_a_fund_allocation_is_flagged_and_a_draw_within_it_is_not() {
    let s = scene().await;
    let province = s.app.token(Role::ProvinceOfficer, "72").await;
    let fund = open_fund(&s.app, &province, 10_000_000, 5_000_000).await;
    let h = s.poor().await;
    let within = s
        .post(
            &s.officer,
            h,
            "supports",
            &drawn(&fund, 4_000_000, "2026-02-01"),
        )
        .await;
    let mut over = drawn(&fund, 4_000_000, "2026-03-01");
    over["override_reason"] = json!("Thiên tai");
    let over = s.post(&s.officer, h, "supports", &over).await;
    let flags = s.flags(h).await;
    assert!(fired(
        &flags,
        "overdrawn",
        over["sequence"].as_i64().unwrap_or(0)
    ));
    assert!(!fired(
        &flags,
        "overdrawn",
        within["sequence"].as_i64().unwrap_or(0)
    ));
}

#[tokio::test]
async fn an_explained_flag_stays_listed_as_explained_and_a_supervisor_accepts_it() {
    let s = scene().await;
    let h = s.poor().await;
    let late = s
        .post(
            &s.officer,
            h,
            "supports",
            &support(1_000_000, &days_ago(120)),
        )
        .await;
    let seq = late["sequence"].as_i64().unwrap_or(0);
    let explanation = json!({"rule": "late_entry", "sequence": seq,
        "reason": "Phiếu chi bị thất lạc, nhập bổ sung", "decision_no": "05/BB-UBND"});
    // A monitor reads flags but may not explain them.
    let monitor = s.app.token(Role::Monitor, "72").await;
    let r = s
        .app
        .post(
            &format!("/api/v1/households/{h}/flags/explanations"),
            &monitor,
            &explanation,
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    s.post(&s.officer, h, "flags/explanations", &explanation)
        .await;

    s.app.projected().await;
    let listed = s
        .app
        .get(
            &format!("/api/v1/flags?unit={UNIT}&rule=late_entry&status=explained"),
            &monitor,
        )
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body["total"], 1, "{}", listed.text);
    let item = &listed.body["items"][0];
    assert_eq!(item["household_id"], h.to_string());
    assert_eq!(item["sequence"], seq);
    assert_eq!(item["reason"], "Phiếu chi bị thất lạc, nhập bổ sung");
    assert_eq!(item["decision_no"], "05/BB-UBND");
    assert!(item["explanation"]
        .as_str()
        .is_some_and(|e| e.contains("90 ngày")));
    assert!(!listed.text.contains("id_number") && !listed.text.contains("072178000123"));

    // A commune officer is no supervisor; the district officer accepts.
    let accept = json!({"rule": "late_entry", "sequence": seq});
    let r = s
        .app
        .post(
            &format!("/api/v1/households/{h}/flags/acceptances"),
            &s.other,
            &accept,
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    s.post(&s.district, h, "flags/acceptances", &accept).await;
    s.app.projected().await;
    let listed = s
        .app
        .get(
            &format!("/api/v1/flags?unit={UNIT}&status=accepted"),
            &monitor,
        )
        .await;
    assert_eq!(listed.body["total"], 1, "{}", listed.text);
    assert!(listed.body["items"][0]["accepted_by"].is_string());

    // Nobody accepts their own explanation; unknown rules and events are named.
    let unexplained =
        json!({"rule": "same_user", "sequence": 3, "reason": "x", "decision_no": "y"});
    s.post(&s.district, h, "flags/explanations", &unexplained)
        .await;
    let r = s
        .app
        .post(
            &format!("/api/v1/households/{h}/flags/acceptances"),
            &s.district,
            &json!({"rule": "same_user", "sequence": 3}),
        )
        .await;
    assert_eq!(r.problem(422)["code"], "own_explanation");
    let r = s
        .app
        .post(
            &format!("/api/v1/households/{h}/flags/explanations"),
            &s.officer,
            &json!({"rule": "made_up", "sequence": 1, "reason": "x", "decision_no": "y"}),
        )
        .await;
    assert_eq!(r.problem(422)["field"], "rule");
    let r = s
        .app
        .post(
            &format!("/api/v1/households/{h}/flags/explanations"),
            &s.officer,
            &json!({"rule": "late_entry", "sequence": 99, "reason": "x", "decision_no": "y"}),
        )
        .await;
    assert_eq!(r.problem(422)["field"], "sequence");

    // The summary counts per unit and rule.
    s.app.projected().await;
    let summary = s
        .app
        .get(&format!("/api/v1/flags/summary?unit={UNIT}"), &monitor)
        .await;
    assert_eq!(summary.status, 200, "{}", summary.text);
    let late_line = summary.body["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["rule"] == "late_entry")
        .cloned()
        .expect("a late_entry line");
    assert_eq!(late_line["accepted"], 1);
    assert_eq!(late_line["unit_code"], UNIT);
    s.app.projected().await;
    let csv = s
        .app
        .client
        .get(format!(
            "{}/api/v1/flags?unit={UNIT}&format=csv",
            s.app.base
        ))
        .bearer_auth(&monitor)
        .send()
        .await
        .expect("csv");
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.expect("text");
    assert!(
        text.contains("late_entry") && text.contains("05/BB-UBND"),
        "{text}"
    );
}
