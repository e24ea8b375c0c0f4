//! The public review over HTTP: village meetings, complaints and their resolution, how they
//! hold back the chair's decision, and who sees a complainant's contact details.

use ansinh::users::Role;
use serde_json::{json, Value};

use crate::helpers::{decision, spawn_app, survey, TestApp};

const UNIT: &str = "25459";

fn meeting(attendees: i64, votes_for: i64) -> Value {
    json!({
        "period": "2022-annual", "held_on": "2022-10-20", "hamlet": "Ấp Thạnh Hiệp",
        "attendees": attendees, "votes_for": votes_for, "votes_against": attendees - votes_for,
        "minutes_no": "07/BB-ÂTH"
    })
}

fn complaint() -> Value {
    json!({
        "period": "2022-annual", "received_on": "2022-11-01",
        "from_name": "Phạm Văn Bảy", "contact": "0912 345 678",
        "content": "Hộ có xe máy mới, không thuộc diện nghèo."
    })
}

/// A household of UNIT surveyed poor in the 2022 review; its path.
async fn surveyed(app: &TestApp, officer: &str) -> String {
    let id = app.register(officer, UNIT).await;
    let base = format!("/api/v1/households/{id}");
    let r = app
        .post(
            &format!("{base}/surveys"),
            officer,
            &survey("2022-10-05", 1_200_000, 3),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    base
}

#[tokio::test]
async fn a_meeting_below_half_sends_the_household_back_until_it_is_surveyed_again() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, UNIT).await;
    let base = surveyed(&app, &officer).await;

    let r = app
        .post(&format!("{base}/meetings"), &officer, &meeting(41, 20))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["outcome"], "review_again");
    assert_eq!(r.body["version"], 3);

    let r = app
        .post(
            &format!("{base}/decisions"),
            &officer,
            &decision("poor", "2022-12-10"),
        )
        .await;
    let p = r.problem(422);
    assert_eq!(p["field"], "reason");
    assert_eq!(p["code"], "sent_back_by_meeting");
    assert!(
        p["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("new survey"),
        "{}",
        r.text
    );

    let r = app.get(&format!("{base}/review"), &officer).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["sent_back"]["by"], "meeting");
    assert_eq!(r.body["meetings"][0]["votes_for"], 20);

    let r = app
        .post(
            &format!("{base}/surveys"),
            &officer,
            &survey("2022-11-02", 1_200_000, 3),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .post(
            &format!("{base}/decisions"),
            &officer,
            &decision("poor", "2022-12-10"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn meeting_counts_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, UNIT).await;
    let base = surveyed(&app, &officer).await;
    let mut body = meeting(10, 6);
    body["votes_against"] = json!(5);
    let r = app.post(&format!("{base}/meetings"), &officer, &body).await;
    assert_eq!(r.problem(422)["field"], "votes_for");
    let r = app
        .post(&format!("{base}/meetings"), &officer, &meeting(0, 0))
        .await;
    assert_eq!(r.problem(422)["field"], "attendees");
    body = meeting(10, 6);
    body["attendees"] = json!("ten");
    let r = app.post(&format!("{base}/meetings"), &officer, &body).await;
    assert_eq!(r.problem(422)["field"], "attendees");
}

#[tokio::test]
async fn an_open_complaint_refuses_a_decision_without_reason_until_it_is_resolved() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, UNIT).await;
    let base = surveyed(&app, &officer).await;

    let r = app
        .post(&format!("{base}/complaints"), &officer, &complaint())
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let complaint_id = r.body["complaint_id"]
        .as_str()
        .expect("complaint_id")
        .to_owned();
    assert_eq!(r.body["version"], 3);
    assert_eq!(r.body["resolve_by"], "2022-12-01");
    assert_eq!(r.body["deadline_confirmed"], false);

    let r = app
        .post(
            &format!("{base}/decisions"),
            &officer,
            &decision("poor", "2022-12-10"),
        )
        .await;
    let p = r.problem(422);
    assert_eq!(
        (p["field"].as_str(), p["code"].as_str()),
        (Some("reason"), Some("open_complaint"))
    );
    assert!(p["detail"]
        .as_str()
        .unwrap_or_default()
        .contains(&complaint_id));

    // Unknown, malformed and rejected-without-reason resolutions.
    let other = uuid::Uuid::now_v7();
    let resolution = json!({"outcome": "rejected", "decided_on": "2022-11-10",
        "decision_no": "12/QĐ-UBND", "reason": "Xác minh: xe mượn của người thân."});
    let r = app
        .post(
            &format!("{base}/complaints/{other}/resolution"),
            &officer,
            &resolution,
        )
        .await;
    r.problem(404);
    let r = app
        .post(
            &format!("{base}/complaints/not-a-uuid/resolution"),
            &officer,
            &resolution,
        )
        .await;
    assert_eq!(r.problem(400)["field"], "complaint_id");
    let mut no_reason = resolution.clone();
    no_reason["reason"] = Value::Null;
    let r = app
        .post(
            &format!("{base}/complaints/{complaint_id}/resolution"),
            &officer,
            &no_reason,
        )
        .await;
    assert_eq!(r.problem(422)["field"], "reason");

    let r = app
        .post(
            &format!("{base}/complaints/{complaint_id}/resolution"),
            &officer,
            &resolution,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .post(
            &format!("{base}/complaints/{complaint_id}/resolution"),
            &officer,
            &resolution,
        )
        .await;
    assert_eq!(r.problem(409)["code"], "complaint_already_resolved");

    let r = app
        .post(
            &format!("{base}/decisions"),
            &officer,
            &decision("poor", "2022-12-10"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn a_decision_with_a_reason_over_an_open_complaint_is_recorded_and_flagged() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, UNIT).await;
    let base = surveyed(&app, &officer).await;
    let r = app
        .post(&format!("{base}/complaints"), &officer, &complaint())
        .await;
    let complaint_id = r.body["complaint_id"].clone();
    let mut d = decision("poor", "2022-12-10");
    d["reason"] = json!("Hết thời hạn niêm yết; Ban chỉ đạo xã đã xác minh.");
    let r = app.post(&format!("{base}/decisions"), &officer, &d).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app.get(&format!("{base}/history"), &officer).await;
    let classified = r.body["events"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["type"] == "household_classified"))
        .expect("a decision")
        .clone();
    assert_eq!(classified["data"]["open_complaints"], json!([complaint_id]));
}

#[tokio::test]
async fn a_complainants_contact_is_shown_only_to_commune_officers_and_auditors() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, UNIT).await;
    let base = surveyed(&app, &officer).await;
    let auditor = app.token(Role::Auditor, "72").await;
    let district = app.token(Role::DistrictOfficer, "703").await;
    let province = app.token(Role::ProvinceOfficer, "72").await;
    let monitor = app.token(Role::Monitor, "72").await;

    // Without a complaint there is no contact to hide: the page goes out as the log wrote it,
    // not parsed and written again (which would reorder its keys).
    let as_written = app.get(&format!("{base}/history"), &auditor).await;
    let r = app.get(&format!("{base}/history"), &province).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, as_written.text);

    let r = app
        .post(&format!("{base}/complaints"), &officer, &complaint())
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    for (who, token) in [("officer", &officer), ("auditor", &auditor)] {
        let r = app.get(&format!("{base}/review"), token).await;
        assert_eq!(r.status, 200, "{who}: {}", r.text);
        assert_eq!(r.body["complaints"][0]["contact"], "0912 345 678", "{who}");
        let r = app.get(&format!("{base}/history"), token).await;
        assert!(
            r.text.contains("0912 345 678"),
            "{who} should see the contact in the history"
        );
    }
    for (who, token) in [
        ("district", &district),
        ("province", &province),
        ("monitor", &monitor),
    ] {
        let r = app.get(&format!("{base}/review"), token).await;
        assert_eq!(r.status, 200, "{who}: {}", r.text);
        assert!(
            !r.text.contains("0912"),
            "{who} saw the contact: {}",
            r.text
        );
        assert_eq!(r.body["complaints"][0]["contact_hidden"], true, "{who}");
        assert_eq!(
            r.body["complaints"][0]["from_name"], "Phạm Văn Bảy",
            "{who}"
        );
    }
    for (who, token) in [("district", &district), ("province", &province)] {
        let r = app.get(&format!("{base}/history"), token).await;
        assert_eq!(r.status, 200, "{who}: {}", r.text);
        assert!(
            !r.text.contains("0912"),
            "{who} saw the contact in the history"
        );
    }
}

#[tokio::test]
async fn an_upheld_complaint_needs_a_new_survey_and_an_idempotent_retry_names_the_same_complaint() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, UNIT).await;
    let base = surveyed(&app, &officer).await;
    let path = format!("{base}/complaints");
    let key = [("Idempotency-Key", "complaint-1")];
    let first = app
        .request(
            reqwest::Method::POST,
            &path,
            Some(&officer),
            Some(&complaint()),
            &key,
        )
        .await;
    let again = app
        .request(
            reqwest::Method::POST,
            &path,
            Some(&officer),
            Some(&complaint()),
            &key,
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["complaint_id"], again.body["complaint_id"]);
    let id = first.body["complaint_id"].as_str().expect("id").to_owned();
    let upheld =
        json!({"outcome": "upheld", "decided_on": "2022-11-10", "decision_no": "13/QĐ-UBND"});
    let r = app
        .post(
            &format!("{base}/complaints/{id}/resolution"),
            &officer,
            &upheld,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .post(
            &format!("{base}/decisions"),
            &officer,
            &decision("poor", "2022-12-10"),
        )
        .await;
    assert_eq!(r.problem(422)["code"], "sent_back_by_complaint");
    let r = app
        .post(
            &format!("{base}/surveys"),
            &officer,
            &survey("2022-11-15", 3_000_000, 0),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .post(
            &format!("{base}/decisions"),
            &officer,
            &decision("not_poor", "2022-12-10"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}
