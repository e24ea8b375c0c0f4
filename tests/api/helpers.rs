//! `spawn_app()`: the real application on 127.0.0.1:0 over a fresh migrated database, with
//! typed helpers for users, households and requests.

use ansinh::server::Application;
use ansinh::users::{self, Role};
use ansinh::web::WebConfig;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use uuid::Uuid;

use crate::common;

pub struct TestApp {
    pub base: String,
    pub pool: PgPool,
    pub client: reqwest::Client,
    /// The server's access-log writer: `ship()` puts every read answered so far in the table.
    pub access_log: ansinh::api::access_log::AccessLog,
    _db: common::TestDb,
}

/// What came back: status, headers and the JSON body (or `Null`).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn content_type(&self) -> &str {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts a problem document with this status and returns it.
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "{}",
            self.text
        );
        for key in ["type", "title", "status", "detail"] {
            assert!(self.body.get(key).is_some(), "no {key} in {}", self.text);
        }
        assert_eq!(self.body["status"], status);
        &self.body
    }
}

impl TestApp {
    /// Ships the server's access-log journal: the table then holds every read answered so far.
    pub async fn ship_access_log(&self) {
        self.access_log.ship().await.expect("ship the access log");
    }
}

/// Makes the `access_log` table refuse every row, as a full disk or a broken table would.
pub async fn refuse_access_log(pool: &PgPool) {
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_access_log() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION 'access log unavailable'; END; $$;
         CREATE TRIGGER refuse_access_log BEFORE INSERT ON access_log
             FOR EACH ROW EXECUTE FUNCTION refuse_access_log();",
    )
    .execute(pool)
    .await
    .expect("break the access log");
}

/// Undoes [`refuse_access_log`].
pub async fn mend_access_log(pool: &PgPool) {
    sqlx::raw_sql("DROP TRIGGER refuse_access_log ON access_log")
        .execute(pool)
        .await
        .expect("mend the access log");
}

/// A client that follows no redirect and keeps no cookie (page tests send the cookie by hand).
pub fn page_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A new user who signs in through `/login` with `password`: the `name=value` of the signed-in
/// session's cookie, and the user's bearer token (to compare pages with the API).
pub async fn signed_in(
    app: &TestApp,
    name: &str,
    role: Role,
    unit: &str,
    password: &str,
) -> (String, String) {
    let (_, token) = users::create_with_password(&app.pool, name, role, unit, Some(password))
        .await
        .expect("create user");
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("username", name), ("password", password)])
        .finish();
    let response = page_client()
        .post(format!("{}/login", app.base))
        .header(reqwest::header::ORIGIN, &app.base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("sign in");
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "signed in");
    let cookie = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("ansinh_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    (cookie, token)
}

/// A server with `web`'s configuration over `pool`, built and run on the current runtime: its
/// base URL and access-log writer.
pub async fn server_with(
    pool: PgPool,
    web: WebConfig,
) -> (String, ansinh::api::access_log::AccessLog) {
    let standards = ansinh_events::standards::Standards::builtin().expect("standards");
    let app = Application::build_with_config(
        pool,
        "127.0.0.1:0".parse().expect("address"),
        standards,
        web,
    )
    .await
    .expect("build the server");
    let base = format!("http://{}", app.local_addr().expect("address"));
    let access_log = app.access_log();
    tokio::spawn(app.run(std::future::pending()));
    (base, access_log)
}

pub async fn spawn_app() -> TestApp {
    let db = common::migrated_db().await;
    // More connections than the harness's pool: the concurrency tests send 20 at once.
    let pool = PgPoolOptions::new()
        .max_connections(25)
        .connect_with((*db.pool.connect_options()).clone())
        .await
        .expect("connect the application's pool");
    let (base, access_log) = server_with(pool.clone(), WebConfig::default()).await;
    TestApp {
        base,
        access_log,
        pool,
        client: reqwest::Client::new(),
        _db: db,
    }
}

/// The ceiling of [`TestApp::projected`]: the runner looks every 2 s, so this is only reached
/// when it is stuck.
const PROJECTED_CEILING: std::time::Duration = std::time::Duration::from_secs(120);

/// [`TestApp::projected`] on any pool of the app's database.
pub async fn wait_projected(pool: &PgPool) {
    use ansinh_projections::runner::{self, AsyncProjection, Cursor};
    let started = std::time::Instant::now();
    loop {
        let head: Option<(i64, i64)> = sqlx::query_as(
            "SELECT transaction_id::text::bigint, global_position FROM household_events
              ORDER BY transaction_id DESC, global_position DESC LIMIT 1",
        )
        .fetch_optional(pool)
        .await
        .expect("the log's head");
        let head = head.map_or(Cursor::default(), |(t, g)| Cursor {
            transaction_id: t,
            global_position: g,
        });
        // The projection furthest behind.
        let mut at = head;
        for projection in AsyncProjection::ALL {
            let checkpoint = runner::checkpoint(pool, projection)
                .await
                .expect("the checkpoint");
            at = at.min(checkpoint);
        }
        if at >= head {
            return;
        }
        assert!(
            started.elapsed() < PROJECTED_CEILING,
            "the runner never reached the log's head {head:?}: its checkpoint is {at:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

impl TestApp {
    /// The database URL, for an `ansinh` child process on the same database.
    pub fn db_url(&self) -> &str {
        &self._db.url
    }

    /// A user with this role for this unit; returns the bearer token.
    pub async fn token(&self, role: Role, unit: &str) -> String {
        let (_, token) = users::create(&self.pool, &format!("{role} of {unit}"), role, unit)
            .await
            .expect("create user");
        token
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        reply(request.send().await.expect("send")).await
    }

    /// Waits until the runner beside the app (as in `serve`) has projected the whole log: its
    /// movements checkpoint at or past the log's last event in commit order. Reports answer
    /// from what is projected and never catch up themselves. Panics after 30 s, naming both.
    pub async fn projected(&self) {
        wait_projected(&self.pool).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.request(Method::GET, path, Some(token), None, &[])
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.request(Method::POST, path, Some(token), Some(body), &[])
            .await
    }

    /// A raw body with a content type of our choosing.
    pub async fn post_raw(&self, path: &str, token: &str, body: Vec<u8>) -> Reply {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body);
        reply(request.send().await.expect("send")).await
    }

    /// Registers a household over HTTP and returns its id.
    pub async fn register(&self, token: &str, unit: &str) -> Uuid {
        let reply = self
            .post("/api/v1/households", token, &registration(unit))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.body["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("an id")
    }

    /// The served OpenAPI document.
    pub async fn openapi(&self) -> Value {
        let reply = self
            .client
            .get(format!("{}/api/v1/openapi.json", self.base))
            .send()
            .await
            .expect("send");
        assert_eq!(reply.status(), StatusCode::OK);
        reply.json().await.expect("json")
    }

    /// Another server on the same database (as after a restart, or a second `ansinh serve`);
    /// returns its base URL.
    pub async fn spawn_another(&self) -> String {
        server_with(self.pool.clone(), WebConfig::default()).await.0
    }

    /// How many events the log holds in all.
    pub async fn event_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM household_events")
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

pub fn registration(unit: &str) -> Value {
    json!({
        "head_name": "Nguyễn Thị Lan",
        "unit_code": unit,
        "hamlet": "Ấp Thạnh Hiệp",
        "area": "rural",
        "ethnic_minority": false,
        "members": [
            {"name": "Nguyễn Thị Lan", "birth_year": 1978, "sex": "female", "relation": "head",
             "id_number": "072178000123"},
            {"name": "Trần Văn Nam", "birth_year": 2005, "sex": "male", "relation": "child",
             "id_number": "072205000456"}
        ],
        "effective_on": "2021-09-20"
    })
}

/// A survey on `date` with this income and the first `deprivations` indicators deprived.
pub fn survey(date: &str, income: i64, deprivations: usize) -> Value {
    let names = [
        "health_insurance",
        "housing_area",
        "hygienic_latrine",
        "domestic_water",
        "telecom_use",
    ];
    json!({
        "period": format!("{}-annual", &date[..4]),
        "survey_date": date,
        "income_per_capita_vnd": income,
        "deprivations": names[..deprivations],
        "working_capacity": true,
        "loan_demand": true
    })
}

pub fn decision(category: &str, date: &str) -> Value {
    json!({
        "standard": "vn-2022-2025",
        "category": category,
        "decision_no": format!("{}/QĐ-UBND", &date[5..7]),
        "decided_on": date,
        "reason": null
    })
}

pub fn support(amount: i64, date: &str) -> Value {
    json!({
        "policy": "preferential_credit",
        "amount_vnd": amount,
        "funding_source": "central_budget",
        "fund_id": null,
        "disbursed_on": date,
        "disbursed_by": "Ngân hàng Chính sách xã hội",
        "decision_no": "15/QĐ-NHCS"
    })
}

/// Every row of these logs stores as `occurred_on` the moment its command was decided (the
/// event's hashed `meta.recorded_at`, to the microsecond PostgreSQL keeps), whichever path
/// wrote it.
pub async fn occurred_on_is_when_decided(pool: &PgPool, tables: &[&str]) {
    for table in tables {
        let (rows, off): (i64, i64) = sqlx::query_as(&format!(
            "SELECT count(*),
                    count(*) FILTER (WHERE abs(extract(epoch FROM occurred_on
                        - (payload->'meta'->>'recorded_at')::timestamptz)) > 0.000001)
               FROM {table}"
        ))
        .fetch_one(pool)
        .await
        .expect("occurred_on");
        assert!(rows > 0, "{table} has rows");
        assert_eq!(off, 0, "{table}: occurred_on differs from recorded_at");
    }
}
