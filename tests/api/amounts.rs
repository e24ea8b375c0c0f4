//! Amounts: a support above its policy's plausible maximum is refused by name, and no stored
//! amount can make a register's totals fail.

use ansinh::users::Role;

use crate::helpers::{spawn_app, support};

#[tokio::test]
async fn a_support_above_the_policy_maximum_is_422_naming_the_field_and_the_maximum() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let id = app.register(&officer, "25459").await;
    let before = app.event_count().await;
    let path = format!("/api/v1/households/{id}/supports");
    for amount in [i64::MAX, 500_000_001] {
        let r = app
            .post(&path, &officer, &support(amount, "2023-03-01"))
            .await;
        let problem = r.problem(422);
        assert_eq!(problem["field"], "amount_vnd", "{}", r.text);
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("500000000 VND"), "{detail}");
    }
    assert_eq!(app.event_count().await, before, "nothing was written");
    let r = app
        .post(&path, &officer, &support(500_000_000, "2023-03-01"))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn the_disbursement_register_sums_any_stored_amounts_without_overflow() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let monitor = app.token(Role::Monitor, "25459").await;
    let id = app.register(&officer, "25459").await;
    let r = app
        .post(
            &format!("/api/v1/households/{id}/supports"),
            &officer,
            &support(1_000, "2023-03-01"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Rows as a release without the bound could have stored them: two of the largest bigint.
    for offset in [1000, 1001] {
        sqlx::query(
            "INSERT INTO disbursements
             SELECT household_id, sequence + $1, head_name, unit_code, policy,
                    9223372036854775807, in_kind, funding_source, fund_id, disbursed_on,
                    disbursed_by, decision_no, recipient_member, recorded_at,
                    original_amount_vnd, corrected_by, correction_reason, voided
               FROM disbursements WHERE household_id = $2 AND sequence < 1000",
        )
        .bind(offset)
        .bind(id)
        .execute(&app.pool)
        .await
        .expect("insert a stored row");
    }
    let r = app.get("/api/v1/disbursements?unit=25459", &monitor).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["totals"]["count"], 3);
    let expected = 2 * i128::from(i64::MAX) + 1_000;
    // Compared as text: the total is above what a JSON number parsed as i64/f64 holds exactly.
    assert!(
        r.text.contains(&format!("\"amount_vnd\":{expected}")),
        "{}",
        r.text
    );
}
