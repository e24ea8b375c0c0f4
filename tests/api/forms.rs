//! The officers' forms over HTTP with a signed-in session: a household registered, surveyed,
//! decided against the proposal (refused without a reason, accepted with one) and supported,
//! all through form posts and checked through the API; a stale form, a double submit and a
//! cross-site post write nothing more; errors stand beside their field in both languages.

use ansinh::users::Role;
use reqwest::header::{COOKIE, LOCATION, ORIGIN};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{self, spawn_app, TestApp};

const PASSWORD: &str = "mật khẩu của cán bộ xã";
const COMMUNE: &str = "25459";

/// A signed-in browser, as far as the forms care: its session cookie and language.
struct Browser<'a> {
    app: &'a TestApp,
    cookie: String,
    client: reqwest::Client,
    /// The user's bearer token, to check through the API what the forms wrote.
    token: String,
}

/// What a page answered.
struct Page {
    status: StatusCode,
    location: Option<String>,
    html: String,
}

impl Page {
    /// The value of the hidden (or any) input `name` as rendered.
    fn input(&self, name: &str) -> String {
        let marker = format!(r#"name="{name}" value=""#);
        let start = self
            .html
            .find(&marker)
            .unwrap_or_else(|| panic!("no input {name} in {}", self.html))
            + marker.len();
        let end = self.html[start..].find('"').expect("end of value") + start;
        self.html[start..end].to_owned()
    }

    /// The error shown beside input `name` (its `aria-invalid` input and its message).
    fn error_beside(&self, name: &str) -> String {
        let id = format!(r#"id="f-{name}""#);
        let at = self
            .html
            .find(&id)
            .unwrap_or_else(|| panic!("no input {name} in {}", self.html));
        let tag_end = self.html[at..].find('>').expect("end of tag") + at;
        let tag = &self.html[at..tag_end];
        assert!(tag.contains(r#"aria-invalid="true""#), "{tag}");
        assert!(tag.contains(&format!("err-{name}")), "{tag}");
        let marker = format!(r#"<p class="field-error" id="err-{name}">"#);
        let start = self
            .html
            .find(&marker)
            .unwrap_or_else(|| panic!("no error beside {name} in {}", self.html))
            + marker.len();
        let end = self.html[start..].find("</p>").expect("end") + start;
        self.html[start..end].to_owned()
    }
}

impl<'a> Browser<'a> {
    async fn officer(app: &'a TestApp, name: &str) -> Browser<'a> {
        Browser::signed_in(app, name, Role::CommuneOfficer).await
    }

    async fn signed_in(app: &'a TestApp, name: &str, role: Role) -> Browser<'a> {
        let (cookie, token) = helpers::signed_in(app, name, role, COMMUNE, PASSWORD).await;
        let client = helpers::page_client();
        Browser {
            app,
            cookie,
            client,
            token,
        }
    }

    fn english(mut self) -> Self {
        self.cookie.push_str("; ansinh_lang=en");
        self
    }

    async fn page(response: reqwest::Response) -> Page {
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let html = response.text().await.expect("html");
        Page {
            status,
            location,
            html,
        }
    }

    async fn get(&self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.app.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .expect("send");
        Browser::page(response).await
    }

    /// Posts `pairs` to `path` as this site's own page would.
    async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> Page {
        self.post_from(&self.app.base, path, pairs).await
    }

    async fn post_from(&self, origin: &str, path: &str, pairs: &[(&str, &str)]) -> Page {
        let response = self
            .client
            .post(format!("{}{path}", self.app.base))
            .header(COOKIE, &self.cookie)
            .header(ORIGIN, origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(pairs))
            .send()
            .await
            .expect("send");
        Browser::page(response).await
    }

    /// The API's JSON for `path`, with the user's bearer token.
    async fn api(&self, path: &str) -> Value {
        let reply = self.app.get(path, &self.token).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.body
    }

    async fn events(&self, id: &str) -> Vec<Value> {
        self.api(&format!("/api/v1/households/{id}/history")).await["events"]
            .as_array()
            .cloned()
            .expect("events")
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The household id of a 303 to `/households/{id}?saved=…`.
fn household_of(page: &Page, saved: &str) -> String {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let location = page.location.clone().expect("a redirect");
    let rest = location
        .strip_prefix("/households/")
        .expect("household page");
    let (id, query) = rest.split_once('?').expect("a notice");
    assert!(query.starts_with(&format!("saved={saved}")), "{location}");
    id.to_owned()
}

/// Registers through the form: the head and a child in rows 0 and 2, row 1 left blank.
async fn register(browser: &Browser<'_>) -> String {
    let new = browser.get("/households/new").await;
    assert_eq!(new.status, StatusCode::OK, "{}", new.html);
    assert_eq!(
        new.input("unit_code"),
        COMMUNE,
        "the user's unit is the default"
    );
    let key = new.input("idempotency_key");
    let page = browser
        .post(
            "/households/new",
            &[
                ("version", ""),
                ("idempotency_key", &key),
                ("head_name", "Nguyễn Thị Lan"),
                ("unit_code", COMMUNE),
                ("hamlet", "Ấp Thạnh Hiệp"),
                ("area", "rural"),
                ("effective_on", "2025-09-01"),
                ("ethnic_minority", "on"),
                ("members[0].name", "Nguyễn Thị Lan"),
                ("members[0].birth_year", "1978"),
                ("members[0].sex", "female"),
                ("members[0].relation", "head"),
                ("members[0].id_number", "072178000123"),
                ("members[1].name", ""),
                ("members[1].birth_year", ""),
                ("members[1].sex", ""),
                ("members[1].relation", ""),
                ("members[2].name", "Trần Văn Nam"),
                ("members[2].birth_year", "2012"),
                ("members[2].sex", "male"),
                ("members[2].relation", "child"),
            ],
        )
        .await;
    household_of(&page, "household")
}

#[tokio::test]
async fn an_officer_registers_surveys_decides_against_the_proposal_and_records_a_support() {
    let app = spawn_app().await;
    let officer = Browser::officer(&app, "Trần Thị Mai").await;

    let id = register(&officer).await;
    let household = officer.api(&format!("/api/v1/households/{id}")).await;
    assert_eq!(household["head_name"], "Nguyễn Thị Lan");
    assert_eq!(household["ethnic_minority"], true);
    assert_eq!(household["merit_family"], false);
    assert_eq!(household["member_count"], 2, "the blank row is left out");

    // Survey: three deprivations and an income under the rural line propose "poor".
    let survey = officer.get(&format!("/households/{id}/surveys/new")).await;
    assert_eq!(survey.status, StatusCode::OK, "{}", survey.html);
    for indicator in ["employment", "health_insurance", "information_access"] {
        assert!(
            survey
                .html
                .contains(&format!(r#"name="deprivations" value="{indicator}""#)),
            "{indicator}"
        );
    }
    assert!(survey.html.contains("Bảo hiểm y tế"), "Vietnamese labels");
    let page = officer
        .post(
            &format!("/households/{id}/surveys/new"),
            &[
                ("version", &survey.input("version")),
                ("idempotency_key", &survey.input("idempotency_key")),
                ("period", "2025-annual"),
                ("survey_date", "2025-10-01"),
                ("income_per_capita_vnd", "1.200.000"),
                ("deprivations", "health_insurance"),
                ("deprivations", "housing_area"),
                ("deprivations", "hygienic_latrine"),
                ("measures.housing_area", "6,5"),
                ("working_capacity", "on"),
            ],
        )
        .await;
    household_of(&page, "survey");
    let location = page.location.clone().unwrap_or_default();
    assert!(
        location.contains("proposed=vn-2022-2025%3Apoor"),
        "the proposal the API returned goes to the household page: {location}"
    );
    let shown = officer.get(&location).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.html);
    let notice = shown
        .html
        .split(r#"id="saved">"#)
        .nth(1)
        .and_then(|rest| rest.split("</div>").next())
        .expect("the household page's notice");
    assert!(
        notice.contains("Đã lưu phiếu khảo sát") && notice.contains("Hộ nghèo"),
        "the proposed category is shown after saving: {notice}"
    );
    let surveyed = officer.api(&format!("/api/v1/households/{id}")).await;
    assert_eq!(surveyed["proposals"]["vn-2022-2025"]["category"], "poor");

    // Decision against the proposal: the form shows the proposal; refused without a reason.
    let decision = officer
        .get(&format!("/households/{id}/decisions/new"))
        .await;
    assert_eq!(decision.status, StatusCode::OK, "{}", decision.html);
    assert!(decision.html.contains("Hộ nghèo"), "the proposal is shown");
    assert!(
        decision
            .html
            .contains(r#"data-proposals="{&quot;vn-2022-2025&quot;:&quot;poor&quot;}""#),
        "{}",
        decision.html
    );
    let before = officer.events(&id).await.len();
    let version = decision.input("version");
    let refused = officer
        .post(
            &format!("/households/{id}/decisions/new"),
            &[
                ("version", &version),
                ("idempotency_key", &decision.input("idempotency_key")),
                ("standard", "vn-2022-2025"),
                ("category", "near_poor"),
                ("decision_no", "125/QĐ-UBND"),
                ("decided_on", "2025-11-20"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let error = refused.error_beside("reason");
    assert!(error.contains("cần ghi lý do"), "{error}");
    assert!(refused.html.contains(r#"id="reason-explained""#));
    assert!(
        refused.html.contains("125&#x2f;QĐ-UBND"),
        "what was typed stays"
    );
    assert_eq!(officer.events(&id).await.len(), before, "nothing written");

    let accepted = officer
        .post(
            &format!("/households/{id}/decisions/new"),
            &[
                ("version", &refused.input("version")),
                ("idempotency_key", &refused.input("idempotency_key")),
                ("standard", "vn-2022-2025"),
                ("category", "near_poor"),
                ("decision_no", "125/QĐ-UBND"),
                ("decided_on", "2025-11-20"),
                (
                    "reason",
                    "Họp dân ấp Thạnh Hiệp: hộ có thu nhập thêm từ chăn nuôi",
                ),
            ],
        )
        .await;
    household_of(&accepted, "decision");
    let decided = officer.api(&format!("/api/v1/households/{id}")).await;
    assert_eq!(decided["status"]["vn-2022-2025"]["category"], "near_poor");
    let classified = officer
        .events(&id)
        .await
        .into_iter()
        .find(|e| e["type"] == "household_classified")
        .expect("the decision");
    assert_eq!(
        classified["reason"],
        "Họp dân ấp Thạnh Hiệp: hộ có thu nhập thêm từ chăn nuôi"
    );

    // Support: an amount written with dots is whole đồng.
    let support = officer.get(&format!("/households/{id}/supports/new")).await;
    assert_eq!(support.status, StatusCode::OK, "{}", support.html);
    let page = officer
        .post_owned(
            &format!("/households/{id}/supports/new"),
            &support_form(&support, "2.000.000"),
        )
        .await;
    household_of(&page, "support");
    let supports: Vec<Value> = officer
        .events(&id)
        .await
        .into_iter()
        .filter(|e| e["type"] == "support_received")
        .collect();
    assert_eq!(supports.len(), 1);
    assert_eq!(supports[0]["data"]["amount_vnd"], 2_000_000);
    assert_eq!(supports[0]["data"]["funding_source"], "mobilized");
    // A fund is named by its id (a support naming no fund draws on none).
    assert!(supports[0]["data"]["fund_id"].is_null());
    assert_eq!(supports[0]["data"]["recipient_member"], "Nguyễn Thị Lan");
}

fn support_form(page: &Page, amount: &str) -> Vec<(&'static str, String)> {
    vec![
        ("version", page.input("version")),
        ("idempotency_key", page.input("idempotency_key")),
        ("policy", "livelihood".into()),
        ("amount_vnd", amount.into()),
        ("in_kind", String::new()),
        ("recipient_member", "Nguyễn Thị Lan".into()),
        ("funding_source", "mobilized".into()),
        ("fund_id", String::new()),
        ("disbursed_on", "2025-12-01".into()),
        ("disbursed_by", "UBND xã".into()),
        ("decision_no", "17/QĐ-UBND".into()),
    ]
}

fn pairs<'a>(owned: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    owned.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

impl<'a> Browser<'a> {
    async fn post_owned(&self, path: &str, owned: &[(&'static str, String)]) -> Page {
        self.post(path, &pairs(owned)).await
    }
}

#[tokio::test]
async fn a_stale_form_a_double_submit_and_a_cross_site_post_write_nothing_more() {
    let app = spawn_app().await;
    let officer = Browser::officer(&app, "Lê Văn Hùng").await;
    let id = register(&officer).await;
    let path = format!("/households/{id}/supports/new");

    // Two forms opened at the same version; the first is sent twice (a double click).
    let first = officer.get(&path).await;
    let second = officer.get(&path).await;
    assert_ne!(
        first.input("idempotency_key"),
        second.input("idempotency_key"),
        "every rendered form has its own key"
    );
    let sent = support_form(&first, "500000");
    let once = officer.post_owned(&path, &sent).await;
    let twice = officer.post_owned(&path, &sent).await;
    household_of(&once, "support");
    household_of(&twice, "support");
    let count = |events: &[Value]| {
        events
            .iter()
            .filter(|e| e["type"] == "support_received")
            .count()
    };
    let events = officer.events(&id).await;
    assert_eq!(count(&events), 1, "a double submit records once");

    // The second form is stale now: refused with the new state, nothing written.
    let stale = officer
        .post_owned(&path, &support_form(&second, "700000"))
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.html);
    assert!(
        stale
            .html
            .contains("Hộ này đã thay đổi — đây là tình trạng mới"),
        "{}",
        stale.html
    );
    assert!(stale.html.contains("Nhận hỗ trợ"), "what changed is listed");
    assert!(stale.html.contains("700000"), "what was typed stays");
    assert_eq!(
        officer.events(&id).await.len(),
        events.len(),
        "nothing written"
    );
    let version = officer.api(&format!("/api/v1/households/{id}")).await["version"].clone();
    assert_eq!(
        stale.input("version"),
        version.to_string(),
        "the form comes back at the new version"
    );

    // A forged post from another site, with the officer's cookie: refused, nothing written.
    let forged = support_form(&second, "900000");
    let cross = officer
        .post_from("http://evil.example", &path, &pairs(&forged))
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert!(
        cross.html.contains("không được gửi từ chính trang"),
        "{}",
        cross.html
    );
    let register_forged = officer
        .post_from(
            "http://evil.example",
            "/households/new",
            &[("head_name", "Giả mạo"), ("unit_code", COMMUNE)],
        )
        .await;
    assert_eq!(register_forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        officer.events(&id).await.len(),
        events.len(),
        "nothing written"
    );
    assert_eq!(
        app.event_count().await,
        events.len() as i64,
        "no other household"
    );

    // Sent again from the refreshed stale form, it is written.
    let again = support_form(&stale, "700000");
    household_of(&officer.post_owned(&path, &again).await, "support");
    assert_eq!(count(&officer.events(&id).await), 2);
}

#[tokio::test]
async fn errors_stand_beside_their_field_in_vietnamese_and_in_english() {
    let app = spawn_app().await;
    let vi = Browser::officer(&app, "Phạm Thị Hoa").await;
    let en = Browser::officer(&app, "Võ Minh Tâm").await.english();
    let bad_row = [
        ("head_name", "Nguyễn Văn Bình"),
        ("unit_code", COMMUNE),
        ("area", "rural"),
        ("effective_on", "2025-09-01"),
        ("members[0].name", "Nguyễn Văn Bình"),
        ("members[0].birth_year", "1970"),
        ("members[0].sex", "male"),
        ("members[0].relation", "head"),
        ("members[3].name", "Nguyễn Thị Út"),
        ("members[3].birth_year", "năm 2010"),
        ("members[3].sex", "female"),
        ("members[3].relation", "child"),
    ];
    let page = vi.post("/households/new", &bad_row).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.html
    );
    let error = page.error_beside("members[3].birth_year");
    assert!(error.contains("Giá trị không hợp lệ"), "{error}");
    assert!(page.html.contains("năm 2010"), "what was typed stays");
    let page = en.post("/households/new", &bad_row).await;
    let error = page.error_beside("members[3].birth_year");
    assert!(error.contains("This value is not valid"), "{error}");
    assert!(page.html.contains(r#"<html lang="en">"#));

    // A domain rule's refusal (an ID number of 10 digits), translated by its code.
    let mut bad_id = bad_row.to_vec();
    bad_id[9] = ("members[3].birth_year", "2010");
    bad_id.push(("members[3].id_number", "0721780001"));
    let page = vi.post("/households/new", &bad_id).await;
    let error = page.error_beside("members[3].id_number");
    assert!(error.contains("9 hoặc 12 chữ số"), "{error}");
    let page = en.post("/households/new", &bad_id).await;
    let error = page.error_beside("members[3].id_number");
    assert!(error.contains("9 or 12 digits"), "{error}");

    // A missing field of a household form, in both languages.
    let id = register(&vi).await;
    let path = format!("/households/{id}/supports/new");
    let form = vi.get(&path).await;
    let mut no_date = support_form(&form, "100000");
    no_date.retain(|(k, _)| *k != "disbursed_on");
    let page = vi.post_owned(&path, &no_date).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.html
    );
    assert!(page
        .error_beside("disbursed_on")
        .contains("Hãy điền mục này"));
    let page = en.post_owned(&path, &no_date).await;
    assert!(page
        .error_beside("disbursed_on")
        .contains("This field is required"));
    assert_eq!(
        vi.events(&id).await.len(),
        1,
        "only the registration was written"
    );
}

#[tokio::test]
async fn only_officers_get_the_forms_and_others_read_why() {
    let app = spawn_app().await;
    let officer = Browser::officer(&app, "Đỗ Thị Lệ").await;
    let id = register(&officer).await;
    let monitor = Browser::signed_in(&app, "Hồ Văn Giám", Role::Monitor).await;
    for path in [
        "/households/new".to_owned(),
        format!("/households/{id}/surveys/new"),
        format!("/households/{id}/decisions/new"),
        format!("/households/{id}/supports/new"),
        format!("/households/{id}/corrections/new"),
    ] {
        let page = monitor.get(&path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            page.html.contains("may not record facts about households"),
            "{path}: {}",
            page.html
        );
    }
    let form = officer.get(&format!("/households/{id}/supports/new")).await;
    let sent = monitor
        .post_owned(
            &format!("/households/{id}/supports/new"),
            &support_form(&form, "100000"),
        )
        .await;
    assert_eq!(sent.status, StatusCode::FORBIDDEN, "the API's refusal");
    assert_eq!(officer.events(&id).await.len(), 1);
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{}/households/new", app.base))
        .send()
        .await
        .expect("send");
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_correction_picks_the_event_and_sends_the_corrected_values() {
    let app = spawn_app().await;
    let officer = Browser::officer(&app, "Ngô Thị Sen").await;
    let id = register(&officer).await;
    let path = format!("/households/{id}/supports/new");
    let form = officer.get(&path).await;
    household_of(
        &officer
            .post_owned(&path, &support_form(&form, "300000"))
            .await,
        "support",
    );
    let support = officer
        .events(&id)
        .await
        .into_iter()
        .find(|e| e["type"] == "support_received")
        .expect("support");
    let sequence = support["sequence"].to_string();

    let path = format!("/households/{id}/corrections/new");
    let pick = officer.get(&path).await;
    assert_eq!(pick.status, StatusCode::OK, "{}", pick.html);
    assert!(pick.html.contains(&format!("#{sequence} · Nhận hỗ trợ")));
    let chosen = officer
        .get(&format!("{path}?corrects_sequence={sequence}"))
        .await;
    assert!(
        chosen.html.contains("&quot;amount_vnd&quot;: 300000"),
        "{}",
        chosen.html
    );

    // Without a reason: refused beside the reason.
    let replacement = chosen
        .html
        .split("name=\"replacement\"")
        .nth(1)
        .and_then(|rest| rest.split_once('>'))
        .and_then(|(_, rest)| rest.split_once("</textarea>"))
        .map(|(json, _)| json.replace("&quot;", "\"").replace("&#x2f;", "/"))
        .expect("the current values");
    let corrected = replacement.replace("300000", "350000");
    let mut sent = vec![
        ("version", chosen.input("version")),
        ("idempotency_key", chosen.input("idempotency_key")),
        ("corrects_sequence", sequence.clone()),
        ("reason", String::new()),
        ("replacement", corrected.clone()),
    ];
    let refused = officer.post_owned(&path, &sent).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.html
    );
    refused.error_beside("reason");
    sent[1].1 = refused.input("idempotency_key");
    sent[3].1 = "Nhập nhầm số tiền".into();
    household_of(&officer.post_owned(&path, &sent).await, "correction");
    let correction = officer
        .events(&id)
        .await
        .into_iter()
        .find(|e| e["type"] == "event_corrected")
        .expect("the correction");
    assert_eq!(
        correction["data"]["replacement"]["data"]["amount_vnd"],
        350000
    );
    assert_eq!(correction["reason"], "Nhập nhầm số tiền");
}
