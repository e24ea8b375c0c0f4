//! Funds on a scripted province: a fund receives 100,000,000 VND and allocates 60,000,000 to a
//! commune; supports drawn on it reconcile to the VND with the disbursement trail; an overdraft
//! is refused without a reason and recorded with one; a void gives the money back; two supports
//! at once cannot both take the last of an allocation.

use std::sync::Arc;

use ansinh::users::Role;
use serde_json::{json, Value};

use crate::helpers::{occurred_on_is_when_decided, spawn_app, support, TestApp};

const COMMUNE: &str = "25459";

pub async fn open_fund(app: &TestApp, token: &str, received: i64, allocated: i64) -> String {
    let r = app
        .post(
            "/api/v1/funds",
            token,
            &json!({"name": "Quỹ Vì người nghèo tỉnh Tây Ninh", "funding_source": "mobilized",
                    "managing_unit": "72", "legal_basis": "Quyết định 12/QĐ-MTTQ",
                    "valid_from": "2026-01-01", "valid_to": "2026-12-31"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["version"], 1);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let r = app
        .post(
            &format!("/api/v1/funds/{id}/receipts"),
            token,
            &json!({"amount_vnd": received, "received_on": "2026-01-10", "decision_no": "01/PT"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/funds/{id}/allocations"),
            token,
            &json!({"unit_code": COMMUNE, "amount_vnd": allocated, "decided_on": "2026-01-15",
                    "decision_no": "02/QĐ-UBND"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    id
}

pub fn drawn(fund: &str, amount: i64, on: &str) -> Value {
    let mut s = support(amount, on);
    s["fund_id"] = json!(fund);
    s["funding_source"] = json!("mobilized");
    s
}

async fn reconciliation(app: &TestApp, token: &str, fund: &str, query: &str) -> Value {
    let r = app
        .get(
            &format!("/api/v1/funds/{fund}/reconciliation?{query}"),
            token,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

async fn trail_total(app: &TestApp, token: &str, fund: &str, query: &str) -> i64 {
    let r = app
        .get(&format!("/api/v1/disbursements?fund={fund}&{query}"), token)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["totals"]["amount_vnd"].as_i64().expect("total")
}

#[tokio::test]
async fn a_fund_reconciles_to_the_vnd_refuses_an_overdraft_without_a_reason_and_gets_a_void_back() {
    let app = spawn_app().await;
    let province = app.token(Role::ProvinceOfficer, "72").await;
    let officer = app.token(Role::CommuneOfficer, COMMUNE).await;
    let monitor = app.token(Role::Monitor, "72").await;
    let fund = open_fund(&app, &province, 100_000_000, 60_000_000).await;
    let h = app.register(&officer, COMMUNE).await;
    let supports = format!("/api/v1/households/{h}/supports");

    let first = app
        .post(&supports, &officer, &drawn(&fund, 20_000_000, "2026-02-01"))
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let second = app
        .post(&supports, &officer, &drawn(&fund, 30_000_000, "2026-03-01"))
        .await;
    assert_eq!(second.status, 201, "{}", second.text);

    // 10,000,000 left: 15,000,000 is short by 5,000,000, named with the allocation.
    let over = app
        .post(&supports, &officer, &drawn(&fund, 15_000_000, "2026-04-01"))
        .await;
    let p = over.problem(422);
    assert_eq!(p["field"], "amount_vnd");
    assert_eq!(p["code"], "allocation_overdrawn");
    let detail = p["detail"].as_str().expect("detail");
    assert!(
        detail.contains(COMMUNE) && detail.contains("5000000"),
        "{detail}"
    );
    assert!(detail.contains(&fund), "{detail}");

    let mut with_reason = drawn(&fund, 15_000_000, "2026-04-01");
    with_reason["override_reason"] = json!("Lũ lụt, UBND tỉnh cho ứng trước");
    let r = app.post(&supports, &officer, &with_reason).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let trail = app
        .get(
            &format!("/api/v1/disbursements?fund={fund}&unit={COMMUNE}"),
            &officer,
        )
        .await;
    let overridden: Vec<&Value> = trail.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|d| d["override_reason"].is_string())
        .collect();
    assert_eq!(overridden.len(), 1, "{}", trail.text);

    let all = reconciliation(&app, &monitor, &fund, "").await;
    assert_eq!(all["received_vnd"], 100_000_000);
    assert_eq!(all["allocated_vnd"], 60_000_000);
    assert_eq!(all["disbursed_vnd"], 65_000_000);
    assert_eq!(all["balance_vnd"], -5_000_000);
    assert_eq!(all["units"][0]["unit_code"], COMMUNE);
    assert_eq!(all["units"][0]["balance_vnd"], -5_000_000);

    // Voiding the 30,000,000 support gives it back.
    let void = app
        .post(
            &format!("/api/v1/households/{h}/corrections"),
            &officer,
            &json!({"corrects_sequence": second.body["sequence"], "reason": "Ghi nhầm hộ",
                    "replacement": null}),
        )
        .await;
    assert_eq!(void.status, 201, "{}", void.text);
    let after = reconciliation(&app, &monitor, &fund, &format!("unit={COMMUNE}")).await;
    assert_eq!(after["disbursed_vnd"], 35_000_000);
    assert_eq!(after["voided_vnd"], 30_000_000);
    assert_eq!(after["balance_vnd"], 25_000_000);
    let (drawn_vnd,): (i64,) =
        sqlx::query_as("SELECT drawn_vnd FROM fund_allocations WHERE fund_id = $1::uuid")
            .bind(&fund)
            .fetch_one(&app.pool)
            .await
            .expect("allocation");
    assert_eq!(drawn_vnd, 35_000_000);

    // A correction lowering a support gives the difference back too.
    let fix = app
        .post(
            &format!("/api/v1/households/{h}/corrections"),
            &officer,
            &json!({"corrects_sequence": first.body["sequence"], "reason": "Sai số tiền",
                    "replacement": drawn(&fund, 18_000_000, "2026-02-01")}),
        )
        .await;
    assert_eq!(fix.status, 201, "{}", fix.text);
    let fixed = reconciliation(&app, &monitor, &fund, "").await;
    assert_eq!(fixed["disbursed_vnd"], 33_000_000);
    assert_eq!(fixed["corrected_vnd"], 2_000_000);
    assert_eq!(fixed["balance_vnd"], 27_000_000);

    // The trail ties out for the same filters.
    for query in [
        "",
        "unit=25459",
        "from=2026-02-15",
        "to=2026-03-31",
        "from=2026-03-01&to=2026-04-30",
    ] {
        let r = reconciliation(&app, &province, &fund, query).await;
        let unit = if query.is_empty() {
            "unit=72".to_owned()
        } else {
            format!("unit=72&{query}")
        };
        let unit = if query.contains("unit=") {
            query.to_owned()
        } else {
            unit
        };
        assert_eq!(
            r["disbursed_vnd"].as_i64(),
            Some(trail_total(&app, &province, &fund, &unit).await),
            "{query}"
        );
    }

    let detail = app.get(&format!("/api/v1/funds/{fund}"), &monitor).await;
    assert_eq!(detail.status, 200, "{}", detail.text);
    assert_eq!(detail.body["allocations"][0]["drawn_vnd"], 33_000_000);
    assert_eq!(detail.body["history"].as_array().map(Vec::len), Some(3));
    let list = app.get("/api/v1/funds", &officer).await;
    assert_eq!(list.body["total"], 1, "{}", list.text);
    occurred_on_is_when_decided(&app.pool, &["household_events", "fund_events"]).await;
}

#[tokio::test]
async fn a_support_must_name_a_fund_open_that_day_with_an_allocation_for_the_household() {
    let app = spawn_app().await;
    let province = app.token(Role::ProvinceOfficer, "72").await;
    let officer = app.token(Role::CommuneOfficer, COMMUNE).await;
    let fund = open_fund(&app, &province, 10_000_000, 5_000_000).await;
    let h = app.register(&officer, COMMUNE).await;
    let supports = format!("/api/v1/households/{h}/supports");
    let t = app.token(Role::CommuneOfficer, "25486").await;
    let other = app.register(&t, "25486").await;

    let r = app
        .post(
            &supports,
            &officer,
            &drawn("QUY_KHONG_CO", 1_000, "2026-02-01"),
        )
        .await;
    assert_eq!(r.problem(422)["field"], "fund_id");
    let r = app
        .post(&supports, &officer, &drawn(&fund, 1_000, "2025-12-31"))
        .await;
    assert_eq!(r.problem(422)["code"], "fund_not_open");
    let r = app
        .post(
            &format!("/api/v1/households/{other}/supports"),
            &t,
            &drawn(&fund, 1_000, "2026-02-01"),
        )
        .await;
    assert_eq!(r.problem(422)["code"], "no_allocation");
    // Without a fund nothing changes.
    let r = app
        .post(&supports, &officer, &support(1_000_000, "2026-02-01"))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // Closed funds take no support from the closing day on.
    let r = app
        .post(
            &format!("/api/v1/funds/{fund}/closure"),
            &province,
            &json!({"closed_on": "2026-06-01", "decision_no": "09/QĐ", "reason": "Hết kỳ"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .post(&supports, &officer, &drawn(&fund, 1_000, "2026-06-01"))
        .await;
    assert_eq!(r.problem(422)["code"], "fund_not_open");
    let r = app
        .post(&supports, &officer, &drawn(&fund, 1_000, "2026-05-31"))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn funds_are_managed_by_district_and_province_officers_of_their_unit_and_read_by_monitors() {
    let app = spawn_app().await;
    let province = app.token(Role::ProvinceOfficer, "72").await;
    let commune = app.token(Role::CommuneOfficer, COMMUNE).await;
    let other_district = app.token(Role::DistrictOfficer, "705").await;
    let monitor = app.token(Role::Monitor, "72").await;
    let body = json!({"name": "Quỹ", "funding_source": "local_budget", "managing_unit": "72",
                      "legal_basis": "NQ 01", "valid_from": "2026-01-01"});
    assert_eq!(app.post("/api/v1/funds", &commune, &body).await.status, 403);
    assert_eq!(app.post("/api/v1/funds", &monitor, &body).await.status, 403);
    assert_eq!(
        app.post("/api/v1/funds", &other_district, &body)
            .await
            .status,
        403
    );
    let fund = open_fund(&app, &province, 1_000_000, 500_000).await;
    // A district outside sees the province's fund but may not manage it.
    let r = app
        .post(
            &format!("/api/v1/funds/{fund}/receipts"),
            &other_district,
            &json!({"amount_vnd": 5, "received_on": "2026-02-01", "decision_no": "x"}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(
        app.get(&format!("/api/v1/funds/{fund}"), &monitor)
            .await
            .status,
        200
    );

    // Fields are named.
    let bad = |v: Value| {
        let mut b = body.clone();
        for (k, x) in v.as_object().expect("object") {
            b[k] = x.clone();
        }
        b
    };
    let r = app
        .post("/api/v1/funds", &province, &bad(json!({"name": " "})))
        .await;
    assert_eq!(r.problem(422)["field"], "name");
    let r = app
        .post(
            "/api/v1/funds",
            &province,
            &bad(json!({"valid_to": "2025-01-01"})),
        )
        .await;
    assert_eq!(r.problem(422)["field"], "valid_to");
    let r = app
        .post(
            "/api/v1/funds",
            &province,
            &bad(json!({"managing_unit": "99999"})),
        )
        .await;
    assert_eq!(r.problem(422)["field"], "managing_unit");
    let r = app
        .post(
            &format!("/api/v1/funds/{fund}/allocations"),
            &province,
            &json!({"unit_code": COMMUNE, "amount_vnd": 600_000, "decided_on": "2026-02-01",
                    "decision_no": "x"}),
        )
        .await;
    assert_eq!(r.problem(422)["code"], "allocation_above_received");
    let r = app
        .post(
            &format!("/api/v1/funds/{fund}/transfers"),
            &province,
            &json!({"from_unit": COMMUNE, "to_unit": "25462", "amount_vnd": 600_000,
                    "decided_on": "2026-02-01", "decision_no": "x"}),
        )
        .await;
    assert_eq!(r.problem(422)["code"], "transfer_above_balance");
    let r = app
        .post(
            &format!("/api/v1/funds/{fund}/transfers"),
            &province,
            &json!({"from_unit": COMMUNE, "to_unit": "25462", "amount_vnd": 200_000,
                    "decided_on": "2026-02-01", "decision_no": "x"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app.get("/api/v1/funds/not-a-uuid", &monitor).await;
    assert_eq!(r.problem(400)["field"], "id");
}

/// Two supports sent at once that together overdraw: the database lets exactly one through,
/// every round, and what was drawn never exceeds the allocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_supports_at_once_cannot_both_take_the_last_of_an_allocation() {
    let app = Arc::new(spawn_app().await);
    let province = app.token(Role::ProvinceOfficer, "72").await;
    let officer = app.token(Role::CommuneOfficer, COMMUNE).await;
    for round in 0..6 {
        let fund = open_fund(&app, &province, 10_000_000, 10_000_000).await;
        let a = app.register(&officer, COMMUNE).await;
        let b = app.register(&officer, COMMUNE).await;
        let send = |h: uuid::Uuid| {
            let (app, officer, fund) = (Arc::clone(&app), officer.clone(), fund.clone());
            tokio::spawn(async move {
                app.post(
                    &format!("/api/v1/households/{h}/supports"),
                    &officer,
                    &drawn(&fund, 6_000_000, "2026-02-01"),
                )
                .await
                .status
                .as_u16()
            })
        };
        let (x, y) = (send(a), send(b));
        let mut statuses = vec![x.await.expect("a"), y.await.expect("b")];
        statuses.sort_unstable();
        assert_eq!(statuses, vec![201, 422], "round {round}");
        let (drawn_vnd,): (i64,) =
            sqlx::query_as("SELECT drawn_vnd FROM fund_allocations WHERE fund_id = $1::uuid")
                .bind(&fund)
                .fetch_one(&app.pool)
                .await
                .expect("allocation");
        assert_eq!(drawn_vnd, 6_000_000, "round {round}");
    }
}

/// `verify` walks the fund chains too and names the fund whose event was edited.
#[tokio::test]
async fn verify_covers_fund_chains_and_finds_a_tampered_fund_event() {
    let app = spawn_app().await;
    let province = app.token(Role::ProvinceOfficer, "72").await;
    let fund = open_fund(&app, &province, 100_000_000, 60_000_000).await;
    let bar = indicatif::ProgressBar::hidden();
    let report = ansinh::verify::verify(&app.pool, None, None, &bar)
        .await
        .expect("verify");
    assert!(report.intact(), "{:?}", report.broken);
    assert_eq!(report.other_chains, 1);
    assert_eq!((report.events, report.other_events), (0, 3));

    let mut tx = app.pool.begin().await.expect("begin");
    for sql in [
        "ALTER TABLE fund_events DISABLE TRIGGER USER".to_owned(),
        format!(
            "UPDATE fund_events SET payload = jsonb_set(payload, '{{data,amount_vnd}}', '90000000')
              WHERE aggregate_id = '{fund}' AND sequence_number = 3"
        ),
        "ALTER TABLE fund_events ENABLE TRIGGER USER".to_owned(),
    ] {
        sqlx::query(&sql).execute(&mut *tx).await.expect("tamper");
    }
    tx.commit().await.expect("commit");
    let report = ansinh::verify::verify(&app.pool, None, None, &bar)
        .await
        .expect("verify");
    assert_eq!(report.broken.len(), 1, "{:?}", report.broken);
    let b = &report.broken[0];
    assert_eq!(b.table, "fund_events");
    assert_eq!(b.household_id.to_string(), fund);
    assert_eq!(b.first_bad_sequence, 3);

    // The log refuses plain changes.
    let refused = sqlx::query("DELETE FROM fund_events")
        .execute(&app.pool)
        .await;
    assert!(refused.is_err());
}

/// The reconciliation downloads as XLSX and CSV with the JSON's figures, cell by cell.
#[tokio::test]
async fn the_reconciliation_downloads_as_xlsx_and_csv_with_the_json_figures() {
    use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
    let app = spawn_app().await;
    let province = app.token(Role::ProvinceOfficer, "72").await;
    let officer = app.token(Role::CommuneOfficer, COMMUNE).await;
    let fund = open_fund(&app, &province, 100_000_000, 60_000_000).await;
    let h = app.register(&officer, COMMUNE).await;
    for (amount, on) in [(12_345_678, "2026-02-01"), (7_000_000, "2026-03-05")] {
        let r = app
            .post(
                &format!("/api/v1/households/{h}/supports"),
                &officer,
                &drawn(&fund, amount, on),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let json = reconciliation(&app, &province, &fund, "").await;
    let get = |format: &'static str| {
        let url = format!(
            "{}/api/v1/funds/{fund}/reconciliation?format={format}",
            app.base
        );
        let client = app.client.clone();
        let token = province.clone();
        async move {
            let r = client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), 200);
            assert!(r
                .headers()
                .get("content-disposition")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("attachment")));
            r.bytes().await.expect("body").to_vec()
        }
    };
    let xlsx = get("xlsx").await;
    let mut book: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(xlsx)).expect("an XLSX");
    let range = book
        .worksheet_range_at(0)
        .expect("a sheet")
        .expect("readable");
    let number = |row: u32, col: u32| match range.get_value((row, col)) {
        Some(Data::Float(f)) => *f as i64,
        Some(Data::Int(n)) => *n,
        other => panic!("({row}, {col}) is not a number: {other:?}"),
    };
    assert_eq!(
        range.get_value((0, 4)),
        Some(&Data::String("Đã chi (đ)".into()))
    );
    let fields = [
        "received_vnd",
        "allocated_vnd",
        "disbursed_vnd",
        "corrected_vnd",
        "voided_vnd",
        "balance_vnd",
    ];
    for (i, field) in fields.iter().enumerate() {
        assert_eq!(
            Some(number(1, 2 + i as u32)),
            json[field].as_i64(),
            "{field}"
        );
    }
    assert_eq!(range.get_value((2, 1)), Some(&Data::String(COMMUNE.into())));
    assert_eq!(
        Some(number(2, 4)),
        json["units"][0]["disbursed_vnd"].as_i64()
    );
    assert_eq!(Some(number(2, 7)), json["units"][0]["balance_vnd"].as_i64());
    assert_eq!(number(1, 4), 19_345_678);

    let csv = get("csv").await;
    let mut reader = csv::Reader::from_reader(&csv[3..]);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows[0].get(4), Some("19345678"));
    assert_eq!(rows[1].get(1), Some(COMMUNE));
    assert_eq!(
        rows[1].get(7),
        json["units"][0]["balance_vnd"]
            .as_i64()
            .map(|b| b.to_string())
            .as_deref()
    );
}

/// Over generated histories (supports on random days in two communes, some corrected, some
/// voided, some overdrawn with a reason) and random filters, the reconciliation's disbursed
/// total is the disbursement trail's total for the same fund, unit and period, to the VND.
#[tokio::test]
async fn reconciliation_ties_out_with_the_trail_over_generated_histories() {
    use rand::{Rng, SeedableRng};
    let app = spawn_app().await;
    let province = app.token(Role::ProvinceOfficer, "72").await;
    let officers = [
        (COMMUNE, app.token(Role::CommuneOfficer, COMMUNE).await),
        ("25486", app.token(Role::CommuneOfficer, "25486").await),
    ];
    for seed in 0..3u64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let fund = open_fund(&app, &province, 500_000_000, 100_000_000).await;
        let r = app
            .post(
                &format!("/api/v1/funds/{fund}/allocations"),
                &province,
                &json!({"unit_code": "25486", "amount_vnd": 80_000_000, "decided_on": "2026-01-20",
                        "decision_no": "03/QĐ"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        for _ in 0..4 {
            let (unit, token) = &officers[rng.gen_range(0..2)];
            let h = app.register(token, unit).await;
            for _ in 0..rng.gen_range(1..5) {
                let day = format!(
                    "2026-{:02}-{:02}",
                    rng.gen_range(1..=10),
                    rng.gen_range(1..=28)
                );
                let mut body = drawn(&fund, rng.gen_range(1..40) * 1_000_000, &day);
                if rng.gen_bool(0.3) {
                    body["override_reason"] = json!("Ứng trước theo chỉ đạo");
                }
                let s = app
                    .post(&format!("/api/v1/households/{h}/supports"), token, &body)
                    .await;
                assert!(s.status == 201 || s.status == 422, "{}", s.text);
                if s.status != 201 || rng.gen_bool(0.5) {
                    continue;
                }
                let replacement = if rng.gen_bool(0.5) {
                    Value::Null
                } else {
                    let mut lower = body.clone();
                    lower["amount_vnd"] = json!(body["amount_vnd"].as_i64().unwrap_or(0) / 2);
                    lower
                };
                let c = app
                    .post(
                        &format!("/api/v1/households/{h}/corrections"),
                        token,
                        &json!({"corrects_sequence": s.body["sequence"], "reason": "Sửa",
                                "replacement": replacement}),
                    )
                    .await;
                assert_eq!(c.status, 201, "{}", c.text);
            }
        }
        for _ in 0..8 {
            let unit = ["72", COMMUNE, "25486", "703"][rng.gen_range(0..4)];
            let mut query = format!("unit={unit}");
            if rng.gen_bool(0.5) {
                query += &format!("&from=2026-{:02}-01", rng.gen_range(1..=10));
            }
            if rng.gen_bool(0.5) {
                query += &format!("&to=2026-{:02}-28", rng.gen_range(1..=10));
            }
            let r = app
                .get(
                    &format!("/api/v1/funds/{fund}/reconciliation?{query}"),
                    &province,
                )
                .await;
            if r.status == 400 {
                continue; // from after to
            }
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(
                r.body["disbursed_vnd"].as_i64(),
                Some(trail_total(&app, &province, &fund, &query).await),
                "seed {seed}: {query}"
            );
        }
        // What the allocations hold drawn is what the trail says they paid.
        let all = reconciliation(&app, &province, &fund, "").await;
        let detail = app.get(&format!("/api/v1/funds/{fund}"), &province).await;
        for (unit, line) in detail.body["allocations"]
            .as_array()
            .expect("allocations")
            .iter()
            .zip(all["units"].as_array().expect("units"))
        {
            assert_eq!(unit["drawn_vnd"], line["disbursed_vnd"], "seed {seed}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retried_fund_command_with_its_idempotency_key_records_the_money_once() {
    let app = Arc::new(spawn_app().await);
    let province = app.token(Role::ProvinceOfficer, "72").await;
    let opening = json!({"name": "Quỹ Vì người nghèo", "funding_source": "mobilized",
                         "managing_unit": "72", "legal_basis": "Quyết định 12/QĐ-MTTQ",
                         "valid_from": "2026-01-01"});
    let post = |path: String, body: Value, key: &'static str| {
        let (app, token) = (app.clone(), province.clone());
        async move {
            app.request(
                reqwest::Method::POST,
                &path,
                Some(&token),
                Some(&body),
                &[("Idempotency-Key", key)],
            )
            .await
        }
    };
    let first = post("/api/v1/funds".into(), opening.clone(), "open-1").await;
    let again = post("/api/v1/funds".into(), opening.clone(), "open-1").await;
    assert_eq!(
        (first.status.as_u16(), again.status.as_u16()),
        (201, 201),
        "{}",
        again.text
    );
    assert_eq!(
        again.body["id"], first.body["id"],
        "the retry names the first fund"
    );
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let list = app.get("/api/v1/funds", &province).await;
    assert_eq!(list.body["total"], 1, "one fund opened: {}", list.text);

    // Five copies of one receipt sent at once: one is recorded, the others answer with it.
    let id = first.body["id"].as_str().expect("id").to_owned();
    let receipt =
        json!({"amount_vnd": 50_000_000, "received_on": "2026-01-10", "decision_no": "01/PT"});
    let replies = futures::future::join_all((0..5).map(|_| {
        post(
            format!("/api/v1/funds/{id}/receipts"),
            receipt.clone(),
            "receipt-1",
        )
    }))
    .await;
    assert!(
        replies.iter().all(|r| r.status == 201),
        "{:?}",
        replies.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    assert!(replies.iter().all(|r| r.body["version"] == 2));
    let detail = app.get(&format!("/api/v1/funds/{id}"), &province).await;
    assert_eq!(detail.body["received_vnd"], 50_000_000, "{}", detail.text);
    assert_eq!(detail.body["history"].as_array().map(Vec::len), Some(2));

    // The same key on another request is refused, naming the header; nothing is recorded.
    let other =
        json!({"amount_vnd": 70_000_000, "received_on": "2026-01-10", "decision_no": "01/PT"});
    let reused = post(format!("/api/v1/funds/{id}/receipts"), other, "receipt-1").await;
    assert_eq!(reused.problem(422)["field"], "Idempotency-Key");
    let detail = app.get(&format!("/api/v1/funds/{id}"), &province).await;
    assert_eq!(detail.body["received_vnd"], 50_000_000);
}

#[tokio::test]
async fn a_fund_command_with_a_stale_if_match_is_refused_with_409_and_a_fresh_one_accepted() {
    let app = spawn_app().await;
    let province = app.token(Role::ProvinceOfficer, "72").await;
    let fund = open_fund(&app, &province, 100_000_000, 60_000_000).await;
    let path = format!("/api/v1/funds/{fund}/receipts");
    let receipt =
        json!({"amount_vnd": 1_000_000, "received_on": "2026-02-01", "decision_no": "03/PT"});
    let stale = app
        .request(
            reqwest::Method::POST,
            &path,
            Some(&province),
            Some(&receipt),
            &[("If-Match", "\"1\"")],
        )
        .await;
    assert_eq!(stale.problem(409)["current_version"], 3, "{}", stale.text);
    let fresh = app
        .request(
            reqwest::Method::POST,
            &path,
            Some(&province),
            Some(&receipt),
            &[("If-Match", "\"3\"")],
        )
        .await;
    assert_eq!(fresh.status, 201, "{}", fresh.text);
    assert_eq!(fresh.body["version"], 4);
    assert_eq!(fresh.headers["etag"], "\"4\"");
}
