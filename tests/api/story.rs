//! A household's whole story over HTTP, and what each audience sees of it.

use ansinh::users::Role;
use serde_json::{json, Value};

use crate::helpers::{decision, spawn_app, support, survey};

#[tokio::test]
async fn a_household_story_from_registration_to_relapse_and_correction_runs_over_http() {
    let app = spawn_app().await;
    let officer = app.token(Role::CommuneOfficer, "25459").await;
    let id = app.register(&officer, "25459").await;
    let base = format!("/api/v1/households/{id}");

    // Surveyed poor in 2022, recognised poor.
    let r = app
        .post(
            &format!("{base}/surveys"),
            &officer,
            &survey("2022-10-05", 1_200_000, 3),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["proposed"], json!({"vn-2022-2025": "poor"}));
    assert_eq!(r.body["version"], 2);
    let r = app
        .post(
            &format!("{base}/decisions"),
            &officer,
            &decision("poor", "2022-12-10"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.body["events"],
        json!(["household_classified", "became_poor"])
    );
    assert_eq!(r.body["version"], 4);

    // Supported.
    let r = app
        .post(
            &format!("{base}/supports"),
            &officer,
            &support(30_000_000, "2023-03-01"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let credit_sequence = r.body["sequence"].as_i64().expect("sequence");

    // Exits poverty in 2023.
    let r = app
        .post(
            &format!("{base}/surveys"),
            &officer,
            &survey("2023-10-05", 2_500_000, 1),
        )
        .await;
    assert_eq!(r.body["proposed"], json!({"vn-2022-2025": "not_poor"}));
    let r = app
        .post(
            &format!("{base}/decisions"),
            &officer,
            &decision("not_poor", "2023-12-10"),
        )
        .await;
    assert_eq!(
        r.body["events"],
        json!(["household_classified", "exited_poverty"])
    );

    // A support between exit and relapse.
    let r = app
        .post(
            &format!("{base}/supports"),
            &officer,
            &support(1_000_000, "2024-03-01"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // Falls back into poverty in 2024.
    app.post(
        &format!("{base}/surveys"),
        &officer,
        &survey("2024-10-05", 1_100_000, 4),
    )
    .await;
    let r = app
        .post(
            &format!("{base}/decisions"),
            &officer,
            &decision("poor", "2024-12-10"),
        )
        .await;
    assert_eq!(
        r.body["events"],
        json!(["household_classified", "fell_back_into_poverty"])
    );

    // The 2023 credit was entered with a wrong amount: corrected, not overwritten.
    let mut fixed = support(25_000_000, "2023-03-01");
    fixed["decision_no"] = json!("15/QĐ-NHCS");
    let r = app
        .post(
            &format!("{base}/corrections"),
            &officer,
            &json!({"corrects_sequence": credit_sequence, "reason": "amount mistyped", "replacement": fixed}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let version = r.body["version"].as_i64().expect("version");

    // Status now and in the past.
    let now = app.get(&base, &officer).await;
    assert_eq!(now.status, 200, "{}", now.text);
    assert_eq!(now.body["version"], version);
    assert_eq!(now.body["head_name"], "Nguyễn Thị Lan");
    assert_eq!(now.body["unit_code"], "25459");
    assert_eq!(now.body["area"], "rural");
    assert_eq!(now.body["status"]["vn-2022-2025"]["category"], "poor");
    assert_eq!(now.body["status"]["vn-2022-2025"]["since"], "2024-12-10");
    assert_eq!(
        now.headers["etag"].to_str().expect("etag"),
        format!("\"{version}\"")
    );
    for (day, category) in [
        ("2023-06-30", Some("poor")),
        ("2024-06-30", Some("not_poor")),
        ("2022-06-30", None),
    ] {
        let past = app.get(&format!("{base}?as_of={day}"), &officer).await;
        assert_eq!(past.status, 200, "{}", past.text);
        assert_eq!(past.body["as_of"], day);
        match category {
            Some(c) => assert_eq!(past.body["status"]["vn-2022-2025"]["category"], c, "{day}"),
            None => assert!(past.body["status"].get("vn-2022-2025").is_none(), "{day}"),
        }
    }
    let before = app.get(&format!("{base}?as_of=2020-01-01"), &officer).await;
    before.problem(404);

    // The history keeps everything, in order, with the actor from the token.
    let history = app.get(&format!("{base}/history"), &officer).await;
    assert_eq!(history.status, 200, "{}", history.text);
    let events = history.body["events"].as_array().expect("events");
    assert_eq!(events.len() as i64, version);
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types.first(), Some(&"household_registered"));
    assert_eq!(types.last(), Some(&"event_corrected"));
    assert!(types.contains(&"fell_back_into_poverty"));
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["sequence"], i as i64 + 1);
        assert_eq!(e["actor"]["role"], "commune_officer");
        assert_eq!(e["actor"]["unit"], "25459");
        if i > 0 {
            assert_eq!(e["prev_hash"], events[i - 1]["hash"]);
        }
    }
    let credit = &events[credit_sequence as usize - 1];
    assert_eq!(
        credit["data"]["amount_vnd"], 30_000_000,
        "the original stays"
    );
    assert_eq!(
        events
            .last()
            .map(|e| &e["data"]["replacement"]["data"]["amount_vnd"]),
        Some(&json!(25_000_000))
    );

    // The chain is intact.
    let verify = app.get(&format!("{base}/verify"), &officer).await;
    assert_eq!(verify.status, 200, "{}", verify.text);
    assert_eq!(verify.body["intact"], true);
    assert_eq!(verify.body["events"], version);
    assert_eq!(verify.body["head_hash"], events[events.len() - 1]["hash"]);

    // Found by the head's name without diacritics, only within the user's unit.
    let found = app
        .get("/api/v1/households?name=nguyen thi", &officer)
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(found.body["total"], 1, "{}", found.text);
    assert_eq!(found.body["items"][0]["id"], json!(id.to_string()));
    let elsewhere = app.token(Role::CommuneOfficer, "25486").await;
    let found = app.get("/api/v1/households?name=nguyen", &elsewhere).await;
    assert_eq!(found.body["total"], 0, "{}", found.text);
    app.get("/api/v1/households?name=nguyen&unit=703", &officer)
        .await
        .problem(403);

    // The registers for supervision.
    let district = app.token(Role::DistrictOfficer, "703").await;
    let relapses = app
        .get(
            "/api/v1/re-poverty?unit=703&standard=vn-2022-2025",
            &district,
        )
        .await;
    assert_eq!(relapses.status, 200, "{}", relapses.text);
    assert_eq!(relapses.body["total"], 1, "{}", relapses.text);
    let relapse = &relapses.body["items"][0];
    assert_eq!(relapse["household_id"], json!(id.to_string()));
    assert_eq!(relapse["unit_code"], "25459");
    assert_eq!(relapse["exited_on"], "2023-12-10");
    assert_eq!(relapse["fell_back_on"], "2024-12-10");
    assert_eq!(relapse["supports_between"], 1);
    let outside = app
        .get("/api/v1/re-poverty?unit=25459&from=2025-01-01", &district)
        .await;
    assert_eq!(outside.body["total"], 0, "{}", outside.text);

    let trail = app
        .get(
            "/api/v1/disbursements?unit=25459&policy=preferential_credit",
            &district,
        )
        .await;
    assert_eq!(trail.status, 200, "{}", trail.text);
    assert_eq!(trail.body["totals"]["count"], 2, "{}", trail.text);
    assert_eq!(
        trail.body["totals"]["amount_vnd"],
        25_000_000 + 1_000_000,
        "the corrected amount counts"
    );
    assert_eq!(trail.body["items"][0]["head_name"], "Nguyễn Thị Lan");
    assert_eq!(trail.body["items"][0]["original_amount_vnd"], 30_000_000);

    // The movement counts are kept asynchronously, by the runner beside the server: the
    // report answers from what it has projected, and says how far that is.
    app.projected().await;
    let report = app
        .get(
            "/api/v1/reports/movements?unit=703&from=2024-01-01&to=2024-12-31&standard=vn-2022-2025",
            &district,
        )
        .await;
    assert_eq!(report.status, 200, "{}", report.text);
    let head: i64 = sqlx::query_scalar(
        "SELECT global_position FROM household_events
          ORDER BY transaction_id DESC, global_position DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .expect("the log's head");
    assert_eq!(report.body["current_to_position"], head, "{}", report.text);
    assert_eq!(
        report.headers["current-to-position"].to_str().ok(),
        Some(head.to_string().as_str())
    );
    let poor = &report.body["poor"];
    assert_eq!(poor["opening"], 0, "{}", report.text);
    assert_eq!(poor["fell_back"], 1, "{}", report.text);
    assert_eq!(poor["closing"], 1, "{}", report.text);

    // An officer sees ID numbers and birth years; a monitor never does, anywhere.
    assert!(now.text.contains("072178000123"));
    assert!(now.text.contains("birth_year"));
    let monitor = app.token(Role::Monitor, "703").await;
    let mut seen = Vec::new();
    for path in [
        base.clone(),
        format!("{base}?as_of=2023-06-30"),
        "/api/v1/re-poverty?unit=25459".to_owned(),
        "/api/v1/disbursements?unit=25459".to_owned(),
        "/api/v1/reports/movements?unit=703&from=2023-01-01&to=2024-12-31".to_owned(),
    ] {
        let r = app.get(&path, &monitor).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert!(!r.text.contains("072178000123"), "{path}: {}", r.text);
        assert!(!r.text.contains("072205000456"), "{path}: {}", r.text);
        assert!(!r.text.contains("id_number"), "{path}: {}", r.text);
        assert!(!r.text.contains("birth_year"), "{path}: {}", r.text);
        seen.push(r.body);
    }
    assert_eq!(seen[0]["status"]["vn-2022-2025"]["category"], "poor");
    assert_eq!(seen[0]["members"][0]["name"], "Nguyễn Thị Lan");
    // And the monitor may not read the full history.
    app.get(&format!("{base}/history"), &monitor)
        .await
        .problem(403);

    // Every read of personal data is in the access log, for auditors.
    let auditor = app.token(Role::Auditor, "72").await;
    let log = app
        .get(&format!("/api/v1/access-log?household={id}"), &auditor)
        .await;
    assert_eq!(log.status, 200, "{}", log.text);
    let entries = log.body["items"].as_array().expect("items");
    let endpoints: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["endpoint"].as_str())
        .collect();
    assert!(
        endpoints.contains(&"GET /api/v1/households/{id}/history"),
        "{endpoints:?}"
    );
    assert!(
        endpoints.contains(&"GET /api/v1/households/{id}"),
        "{endpoints:?}"
    );
    assert!(entries
        .iter()
        .any(|e| e["role"] == "monitor" && e["household_id"] == json!(id.to_string())));
    assert!(entries.iter().all(|e| e["unit_code"] == "25459"));
    // The verify endpoint carries no personal data and is not logged.
    assert!(!endpoints.contains(&"GET /api/v1/households/{id}/verify"));
    // Auditors may also read the household as the system knew it on a day.
    let today = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive();
    let known = app.get(&format!("{base}?known_on={today}"), &auditor).await;
    assert_eq!(known.status, 200, "{}", known.text);
    assert_eq!(known.body["known_on"], json!(today.to_string()));
    assert_eq!(known.body["status"]["vn-2022-2025"]["category"], "poor");
    let yesterday = today.pred_opt().expect("a day before");
    app.get(&format!("{base}?known_on={yesterday}"), &auditor)
        .await
        .problem(404);
    app.get(&format!("{base}?known_on={today}"), &officer)
        .await
        .problem(403);
    // Other roles may not read the log.
    app.get("/api/v1/access-log", &officer).await.problem(403);
    let _: Value = log.body;
}
