//! [`Browser`]: the real application on a fresh database, driven by headless chromium, with
//! the steps page tests repeat (open, fill, submit, sign in, read the page).

use std::time::{Duration, Instant};

use ansinh::users::{self, Role};
use fantoccini::elements::Element;
use fantoccini::{Client, Locator};
use serde_json::Value;

use crate::driver::{Driver, HEIGHT, WIDTH};
use crate::helpers::{spawn_app, TestApp};

/// Every test user's password (typed into the form, so with diacritics and spaces).
pub const PASSWORD: &str = "mật khẩu đúng 2026";

/// How long a page may take to arrive before the test gives up (a ceiling, not a measure).
const PAGE_WAIT: Duration = Duration::from_secs(30);

pub struct Browser {
    /// WebDriver commands not wrapped here: `b.client.find(Locator::Css("…"))`, …
    pub client: Client,
    /// The application under test: `app.base`, `app.pool`, `app.token(…)`, `app.register(…)`.
    pub app: TestApp,
    _driver: Driver,
}

/// A user with a password for the web pages, and a token for the API.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: uuid::Uuid,
    pub name: String,
    pub password: String,
    pub role: Role,
    pub unit: String,
    pub token: String,
}

/// The unit and the name of [`Browser::user`]'s user of each role: a commune of Tây Ninh city,
/// the city, the province.
fn default_user(role: Role) -> (&'static str, &'static str) {
    match role {
        Role::CommuneOfficer => ("25459", "Nguyễn Thị Hồng"),
        Role::DistrictOfficer => ("703", "Trần Văn Đức"),
        Role::ProvinceOfficer => ("72", "Lê Thị Thủy"),
        Role::Auditor => ("72", "Phạm Quốc Bảo"),
        Role::Monitor => ("72", "Huỳnh Thị Ngọc Ánh"),
        Role::Admin => ("72", "Võ Minh Khôi"),
    }
}

/// `path` in `lang` (`"vi"`, the default, or `"en"`).
pub fn in_lang(path: &str, lang: &str) -> String {
    match lang {
        "vi" => path.to_owned(),
        _ if path.contains('?') => format!("{path}&lang={lang}"),
        _ => format!("{path}?lang={lang}"),
    }
}

impl Browser {
    /// The application on a fresh database and a browser of its own (waits while
    /// [`crate::driver::MAX_BROWSERS`] other tests hold theirs).
    pub async fn start() -> Browser {
        let driver = Driver::start().await;
        let app = spawn_app().await;
        Browser {
            client: driver.client.clone(),
            app,
            _driver: driver,
        }
    }

    /// The application's absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.app.base)
    }

    /// Opens `path` of the application and waits for it to load.
    pub async fn open(&self, path: &str) {
        self.client
            .goto(&self.url(path))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    /// The path and query of the page shown (`/`, `/login?lang=en`).
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current URL");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// The text the page shows, as a reader sees it.
    pub async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .expect("a body")
            .text()
            .await
            .expect("the body's text")
    }

    /// The `lang` attribute of the page's `<html>`.
    pub async fn lang(&self) -> String {
        self.js("return document.documentElement.lang")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs `script` in the page and returns what it returns.
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// The first element `css` selects; panics naming the page when there is none.
    pub async fn find(&self, css: &str) -> Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("nothing matches {css} on {}: {e}", self.path().await),
        }
    }

    /// Types `value` into the form field named `name` (replacing what it held).
    pub async fn fill(&self, name: &str, value: &str) {
        let field = self.find(&format!("[name=\"{name}\"]")).await;
        field.clear().await.expect("clear the field");
        field.send_keys(value).await.expect("type into the field");
    }

    /// Clicks what `css` selects (a submit button, a link) and waits until the page it leads
    /// to has loaded, even when that page has the same URL (a form posting to itself).
    pub async fn click_and_wait(&self, css: &str) {
        self.js("window.__ansinh_old_page = true; return null")
            .await;
        self.find(css).await.click().await.expect("click");
        self.wait_for_new_page().await;
    }

    /// Waits until the page marked by [`Browser::click_and_wait`] has been replaced by a
    /// loaded one.
    pub(crate) async fn wait_for_new_page(&self) {
        let script =
            "return window.__ansinh_old_page !== true && document.readyState === 'complete'";
        let start = Instant::now();
        // A script run while the page is being replaced may fail; that is not an answer.
        while self.client.execute(script, vec![]).await.ok() != Some(Value::Bool(true)) {
            assert!(
                start.elapsed() < PAGE_WAIT,
                "no new page after {PAGE_WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Back to the window every test starts with.
    pub async fn reset_window(&self) {
        self.client
            .set_window_size(WIDTH, HEIGHT)
            .await
            .expect("window size");
    }

    /// A user of `role` with [`PASSWORD`], named and placed as [`default_user`] says (a user
    /// of each role at most, as names are unique; [`Browser::user_named`] for more).
    pub async fn user(&self, role: Role) -> TestUser {
        let (unit, name) = default_user(role);
        self.user_named(name, role, unit).await
    }

    /// A user with this name, role and unit, and [`PASSWORD`].
    pub async fn user_named(&self, name: &str, role: Role, unit: &str) -> TestUser {
        let (user, token) =
            users::create_with_password(&self.app.pool, name, role, unit, Some(PASSWORD))
                .await
                .unwrap_or_else(|e| panic!("create {name}: {e}"));
        TestUser {
            id: user.id,
            name: user.name,
            password: PASSWORD.to_owned(),
            role,
            unit: user.unit_code,
            token,
        }
    }

    /// Fills and sends the sign-in form of `/login` in `lang`; waits for the answer.
    pub async fn submit_sign_in(&self, username: &str, password: &str, lang: &str) {
        self.open(&in_lang("/login", lang)).await;
        self.fill("username", username).await;
        self.fill("password", password).await;
        self.click_and_wait("form [type=submit]").await;
    }

    /// Signs `user` in through the form (Vietnamese) and checks the start page greets them.
    pub async fn sign_in_as(&self, user: &TestUser) {
        self.submit_sign_in(&user.name, &user.password, "vi").await;
        let path = self.path().await;
        let text = self.text().await;
        assert!(
            path == "/" && text.contains(&user.name),
            "{} ({}) was not signed in: {path} shows\n{text}",
            user.name,
            user.role
        );
    }

    /// A new user of `role` (see [`Browser::user`]), signed in through the form.
    pub async fn sign_in(&self, role: Role) -> TestUser {
        let user = self.user(role).await;
        self.sign_in_as(&user).await;
        user
    }
}
