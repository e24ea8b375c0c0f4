//! Forged cross-site form posts: a page of another origin whose form posts itself to the
//! application as soon as the browser opens it, as an attacker's page would, and a digest of
//! the whole database to show that nothing was written.

use std::collections::BTreeMap;

use axum::response::Html;
use axum::routing::get;

use crate::browser::Browser;

/// Where a forged form comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forger {
    /// `http://localhost:PORT`: another site, so the `SameSite=Strict` cookie stays home.
    OtherSite,
    /// `http://127.0.0.1:OTHER_PORT`: the same site but another origin, so the cookie goes
    /// along and only the server's Origin check stands in the way.
    OtherOrigin,
    /// A `data:` URL: the browser sends `Origin: null`.
    NullOrigin,
}

impl Forger {
    pub const ALL: [Forger; 3] = [Forger::OtherSite, Forger::OtherOrigin, Forger::NullOrigin];
}

/// Where a forged post ended.
#[derive(Debug)]
pub struct Forged {
    pub from: Forger,
    /// The application's path the browser shows afterwards.
    pub path: String,
    /// That page's text.
    pub text: String,
}

/// The database's content, table by table, as digests.
pub type Digest = BTreeMap<String, String>;

impl Browser {
    /// Posts `fields` to the application's `path` from a page of each [`Forger`], in this
    /// browser (so with whatever cookies it holds). Compare [`Browser::digest`] before and
    /// after to show nothing was written.
    pub async fn forge_post(&self, path: &str, fields: &[(&str, &str)]) -> Vec<Forged> {
        let mut forged = Vec::new();
        for from in Forger::ALL {
            forged.push(self.forge_post_from(from, path, fields).await);
        }
        forged
    }

    /// Posts `fields` to the application's `path` from a page of `from`.
    pub async fn forge_post_from(
        &self,
        from: Forger,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Forged {
        let page = forged_page(&self.url(path), fields);
        let mut server = None;
        let start = match from {
            Forger::NullOrigin => format!(
                "data:text/html;charset=utf-8,{}",
                // byte_serialize writes a space as `+`, which a data: URL keeps as it is.
                form_urlencoded::byte_serialize(page.as_bytes())
                    .collect::<String>()
                    .replace('+', "%20")
            ),
            Forger::OtherSite | Forger::OtherOrigin => {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind the forger");
                let port = listener.local_addr().expect("forger's address").port();
                let router = axum::Router::new().route("/", get(move || async { Html(page) }));
                server = Some(tokio::spawn(
                    async move { axum::serve(listener, router).await },
                ));
                let host = if from == Forger::OtherSite {
                    "localhost"
                } else {
                    "127.0.0.1"
                };
                format!("http://{host}:{port}/")
            }
        };
        self.js("window.__ansinh_old_page = true; return null")
            .await;
        // The forger's page leaves as it loads, which WebDriver may report as an aborted
        // navigation: only where the browser ends up counts.
        if let Err(e) = self.client.goto(&start).await {
            eprintln!("opening the forger's page ({from:?}) said: {e}");
        }
        self.wait_for_app_page(from).await;
        if let Some(server) = server {
            server.abort();
        }
        Forged {
            from,
            path: self.path().await,
            text: self.text().await,
        }
    }

    /// What every table holds, as an MD5 per table. Sessions count by id and data only: their
    /// expiry moves on at every request.
    pub async fn digest(&self) -> Digest {
        let tables: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_schema::text, table_name::text FROM information_schema.tables
              WHERE table_type = 'BASE TABLE'
                AND table_schema NOT IN ('pg_catalog', 'information_schema')",
        )
        .fetch_all(&self.app.pool)
        .await
        .expect("list the tables");
        let mut digest = Digest::new();
        for (schema, table) in tables {
            let rows = if (schema.as_str(), table.as_str()) == ("tower_sessions", "session") {
                "(t.id, t.data)"
            } else {
                "t"
            };
            let sql = format!(
                "SELECT coalesce(md5(string_agg({rows}::text, E'\\n' ORDER BY {rows}::text)), '')
                   FROM \"{schema}\".\"{table}\" t"
            );
            let md5: String = sqlx::query_scalar(&sql)
                .fetch_one(&self.app.pool)
                .await
                .unwrap_or_else(|e| panic!("digest {schema}.{table}: {e}"));
            digest.insert(format!("{schema}.{table}"), md5);
        }
        digest
    }

    /// Panics naming every table whose content differs from `before`.
    pub async fn assert_unchanged(&self, before: &Digest) {
        let after = self.digest().await;
        let changed: Vec<&String> = after
            .iter()
            .filter(|(table, md5)| before.get(*table) != Some(md5))
            .map(|(table, _)| table)
            .collect();
        assert!(changed.is_empty(), "written to: {changed:?}");
    }

    /// Waits until the browser shows a loaded page of the application (and not the page it
    /// showed before).
    async fn wait_for_app_page(&self, from: Forger) {
        let origin = self.app.base.clone();
        self.wait_for_new_page().await;
        // The forger's page loads first; its form then takes the browser to the application.
        let mut waited = 0;
        loop {
            let url = self.client.current_url().await.expect("current URL");
            let loaded = self.js("return document.readyState").await;
            if url.origin().ascii_serialization() == origin && loaded == "complete" {
                return;
            }
            waited += 1;
            assert!(
                waited < 1500,
                "the forged form ({from:?}) never reached the application: at {url}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// A page whose form posts `fields` to `action` as it loads.
fn forged_page(action: &str, fields: &[(&str, &str)]) -> String {
    let inputs: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                r#"<input type="hidden" name="{}" value="{}">"#,
                escape(name),
                escape(value)
            )
        })
        .collect();
    format!(
        r#"<!doctype html><html><body><form method="post" action="{}">{inputs}</form>
<script>document.forms[0].submit()</script></body></html>"#,
        escape(action)
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
