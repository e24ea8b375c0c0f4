//! The officers' forms in a real browser: an officer registers a household, surveys it,
//! decides against the proposal (the browser asks for a reason first; the server refuses
//! without one and accepts with one) and records a support; a stale form is refused without
//! writing; a forged cross-site post writes nothing; every form passes axe in both languages
//! and is photographed at a desktop and a phone width.

use ansinh::users::Role;
use serde_json::Value;

use crate::browser::{Browser, TestUser};
use crate::forge::Digest;

impl Browser {
    /// Sets the field `name` to `value` by script (date inputs and selects take no typing
    /// that is the same in every locale), as a change the page's script hears.
    async fn set(&self, name: &str, value: &str) {
        let script = format!(
            "var f = document.querySelector('[name=\"{name}\"]'); f.value = {value}; \
             f.dispatchEvent(new Event('change')); return f.value",
            value = Value::String(value.to_owned())
        );
        assert_eq!(
            self.js(&script).await,
            Value::String(value.to_owned()),
            "{name}"
        );
    }

    /// The household page's id after a form's 303 (`/households/{id}?saved=…`).
    async fn saved(&self, what: &str) -> String {
        let path = self.path().await;
        let rest = path
            .strip_prefix("/households/")
            .unwrap_or_else(|| panic!("not a household page: {path}"));
        let (id, query) = rest.split_once('?').expect("a notice");
        assert!(query.starts_with(&format!("saved={what}")), "{path}");
        id.to_owned()
    }

    /// axe in both languages and screenshots at both widths of the form at `path`; ends on
    /// the Vietnamese page (`lang=vi` said, as the English one is remembered).
    async fn look_at(&self, path: &str, name: &str) {
        for lang in ["en", "vi"] {
            let sep = if path.contains('?') { '&' } else { '?' };
            self.open(&format!("{path}{sep}lang={lang}")).await;
            self.axe_check().await;
            self.screenshot(name).await;
        }
    }

    /// What a write changes at once: the event log and the idempotency keys (the read models
    /// follow the log on their own time, so they are not compared).
    async fn written(&self) -> Digest {
        let mut digest = self.digest().await;
        digest.retain(|table, _| {
            ["public.household_events", "public.idempotency_keys"].contains(&table.as_str())
        });
        assert_eq!(digest.len(), 2, "{digest:?}");
        digest
    }

    async fn events(&self, officer: &TestUser, id: &str) -> Vec<Value> {
        let reply = self
            .app
            .get(&format!("/api/v1/households/{id}/history"), &officer.token)
            .await;
        reply.body["events"].as_array().cloned().expect("events")
    }
}

#[tokio::test]
async fn an_officer_registers_surveys_decides_and_supports_through_the_forms() {
    let b = Browser::start().await;
    let officer = b.sign_in(Role::CommuneOfficer).await;

    b.look_at("/households/new", "form-register").await;
    b.fill("head_name", "Nguyễn Thị Lan").await;
    b.fill("hamlet", "Ấp Thạnh Hiệp").await;
    b.set("effective_on", "2025-09-01").await;
    b.fill("members[0].name", "Nguyễn Thị Lan").await;
    b.fill("members[0].birth_year", "1978").await;
    b.set("members[0].sex", "female").await;
    b.fill("members[2].name", "Trần Văn Nam").await;
    b.fill("members[2].birth_year", "2012").await;
    b.set("members[2].sex", "male").await;
    b.set("members[2].relation", "child").await;
    b.click_and_wait("form.officer-form [type=submit]").await;
    let id = b.saved("household").await;

    let survey = format!("/households/{id}/surveys/new");
    b.look_at(&survey, "form-survey").await;
    b.set("survey_date", "2025-10-01").await;
    b.fill("income_per_capita_vnd", "1.200.000").await;
    for indicator in ["health_insurance", "housing_area", "hygienic_latrine"] {
        b.find(&format!("#f-dep-{indicator}"))
            .await
            .click()
            .await
            .expect("tick");
    }
    b.click_and_wait("form.officer-form [type=submit]").await;
    b.saved("survey").await;
    assert!(
        b.path().await.contains("proposed=vn-2022-2025%3Apoor"),
        "{}",
        b.path().await
    );

    let notice = b.find("#saved").await.text().await.expect("the notice");
    assert!(
        notice.contains("Đã lưu phiếu khảo sát") && notice.contains("Hộ nghèo"),
        "the proposed category is shown after saving: {notice}"
    );
    let decision = format!("/households/{id}/decisions/new");
    b.look_at(&decision, "form-decision").await;
    assert!(b.text().await.contains("Hộ nghèo"), "the proposal is shown");
    let hidden = "return document.getElementById('reason-field').hidden";
    assert_eq!(
        b.js(hidden).await,
        Value::Bool(true),
        "as proposed: no reason asked"
    );
    b.set("category", "near_poor").await;
    assert_eq!(
        b.js(hidden).await,
        Value::Bool(false),
        "against it: the reason is asked"
    );
    b.fill("decision_no", "125/QĐ-UBND").await;
    b.set("decided_on", "2025-11-20").await;
    let before = b.events(&officer, &id).await.len();
    // The browser will not send it without a reason …
    b.find("#decision-form [type=submit]")
        .await
        .click()
        .await
        .expect("click");
    let missing = "return document.getElementById('f-reason').validity.valueMissing";
    assert_eq!(b.js(missing).await, Value::Bool(true));
    // … and the API refuses it without one (sent anyway), beside the reason field.
    b.js("document.getElementById('f-reason').required = false; return null")
        .await;
    b.click_and_wait("#decision-form [type=submit]").await;
    let invalid = "return document.getElementById('f-reason').getAttribute('aria-invalid')";
    assert_eq!(b.js(invalid).await, Value::from("true"));
    assert!(
        b.text().await.contains("cần ghi lý do"),
        "{}",
        b.text().await
    );
    assert_eq!(
        b.events(&officer, &id).await.len(),
        before,
        "nothing written"
    );
    b.fill("reason", "Họp dân ấp: hộ có thêm thu nhập từ chăn nuôi")
        .await;
    b.click_and_wait("#decision-form [type=submit]").await;
    b.saved("decision").await;
    let household = b
        .app
        .get(&format!("/api/v1/households/{id}"), &officer.token)
        .await;
    assert_eq!(
        household.body["status"]["vn-2022-2025"]["category"],
        "near_poor"
    );

    let support = format!("/households/{id}/supports/new");
    b.look_at(&support, "form-support").await;
    b.set("policy", "livelihood").await;
    b.fill("amount_vnd", "2.000.000").await;
    b.set("funding_source", "mobilized").await;
    b.set("disbursed_on", "2025-12-01").await;
    b.fill("disbursed_by", "UBND xã").await;
    b.fill("decision_no", "17/QĐ-UBND").await;
    b.click_and_wait("form.officer-form [type=submit]").await;
    b.saved("support").await;
    let supports: Vec<Value> = b
        .events(&officer, &id)
        .await
        .into_iter()
        .filter(|e| e["type"] == "support_received")
        .collect();
    assert_eq!(supports.len(), 1);
    assert_eq!(supports[0]["data"]["amount_vnd"], 2_000_000);

    b.look_at(
        &format!("/households/{id}/corrections/new?corrects_sequence=1"),
        "form-correction",
    )
    .await;
}

#[tokio::test]
async fn a_stale_form_and_a_forged_post_write_nothing() {
    let b = Browser::start().await;
    let officer = b.sign_in(Role::CommuneOfficer).await;
    let id = b.app.register(&officer.token, &officer.unit).await;
    let support = format!("/households/{id}/supports/new");
    b.open(&support).await;
    // Someone else records a member change meanwhile.
    let change = serde_json::json!({"changed_on": "2022-01-15", "added": [{"reason": "birth",
        "member": {"name": "Trần Thị Bé", "birth_year": 2022, "sex": "female", "relation": "child"}}]});
    let reply = b
        .app
        .post(
            &format!("/api/v1/households/{id}/member-changes"),
            &officer.token,
            &change,
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.text);
    let before = b.written().await;
    b.set("policy", "livelihood").await;
    b.fill("amount_vnd", "500000").await;
    b.set("funding_source", "mobilized").await;
    b.set("disbursed_on", "2025-12-01").await;
    b.fill("disbursed_by", "UBND xã").await;
    b.fill("decision_no", "17/QĐ-UBND").await;
    b.click_and_wait("form.officer-form [type=submit]").await;
    let text = b.text().await;
    assert!(
        text.contains("Hộ này đã thay đổi — đây là tình trạng mới"),
        "{text}"
    );
    assert!(
        text.contains("Thay đổi nhân khẩu"),
        "what changed is listed: {text}"
    );
    b.axe_check().await;
    b.screenshot("form-stale").await;
    assert_eq!(b.written().await, before, "the stale form wrote nothing");
    // Sent again at the new version it shows, it is written.
    b.click_and_wait("form.officer-form [type=submit]").await;
    b.saved("support").await;
    let before = b.written().await;
    b.forge_post(
        &support,
        &[
            ("policy", "livelihood"),
            ("amount_vnd", "1"),
            ("funding_source", "mobilized"),
            ("disbursed_on", "2025-12-01"),
            ("disbursed_by", "x"),
            ("decision_no", "1"),
        ],
    )
    .await;
    b.forge_post(
        "/households/new",
        &[("head_name", "Giả mạo"), ("unit_code", "25459")],
    )
    .await;
    assert_eq!(b.written().await, before, "the forged posts wrote nothing");
}
