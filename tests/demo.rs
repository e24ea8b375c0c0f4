//! `ansinh demo` on a fresh data dir with no DATABASE_URL: it runs its own PostgreSQL, seeds a
//! province (new Tây Ninh, its households moved across the 2025 reform), prints one token per
//! role in units that exist today, serves the province to those tokens, stops everything on
//! Ctrl-C, and keeps the province for the next start.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use ansinh::import::run::household_id;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

const HOUSEHOLDS: usize = 200;

/// The postmaster's process id, from the first line of its pid file.
fn postmaster_pid(data_dir: &Path) -> Option<Pid> {
    let text = std::fs::read_to_string(data_dir.join("pgdata/postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok().map(Pid::from_raw)
}

/// Running, not merely a zombie waiting for a parent (PID 1 in a container may never reap it).
fn alive(pid: Pid) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|s| s.split_whitespace().next());
    kill(pid, None).is_ok() && !matches!(state, Some("Z") | Some("X") | None)
}

/// A data dir the unprivileged PostgreSQL user can reach (ansinh runs it as `postgres` when
/// the tests run as root).
fn data_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let data = tmp.path().join("data");
    (tmp, data)
}

fn ansinh(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ansinh"));
    cmd.arg("--data-dir")
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .env("ANSINH_PG_FAST", "1");
    cmd
}

/// A running `ansinh demo`, its address and its tokens by role.
struct Demo {
    child: Child,
    url: String,
    tokens: HashMap<String, String>,
    /// The unit printed for each role.
    units: HashMap<String, String>,
    /// Username and password by role.
    sign_ins: HashMap<String, (String, String)>,
    stderr: PathBuf,
    stdout: std::thread::JoinHandle<()>,
}

/// Starts `ansinh demo` and reads its stdout until every role's token is printed (the address
/// line comes first); stderr goes to a file, read on failure.
fn start(data_dir: &Path, run: usize) -> Demo {
    let stderr = data_dir.with_file_name(format!("demo-{run}.stderr"));
    let mut child = ansinh(data_dir)
        .args(["demo", "--bind", "127.0.0.1:0", "--households"])
        .arg(HOUSEHOLDS.to_string())
        .stdout(Stdio::piped())
        .stderr(File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("spawn ansinh demo");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let (mut url, mut tokens, mut seen) = (None, HashMap::new(), String::new());
    let mut sign_ins = HashMap::new();
    let mut units = HashMap::new();
    let mut line = String::new();
    // Ends at the sixth token, or at end of file if the demo fails.
    while tokens.len() < 6 && out.read_line(&mut line).expect("read stdout") > 0 {
        seen.push_str(&line);
        if let Some(rest) = line.strip_prefix("ansinh demo: ") {
            url = rest.split_whitespace().next().map(str::to_owned);
        } else if let [role, "unit", unit, token, "user", name, "password", password] =
            line.split_whitespace().collect::<Vec<_>>()[..]
        {
            tokens.insert(role.to_owned(), token.to_owned());
            units.insert(role.to_owned(), unit.to_owned());
            sign_ins.insert(role.to_owned(), (name.to_owned(), password.to_owned()));
        }
        line.clear();
    }
    let Some(url) = url.filter(|_| tokens.len() == 6) else {
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGINT);
        let _ = child.wait();
        panic!(
            "the demo printed no address and tokens; stdout:\n{seen}\nstderr:\n{}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
    };
    // Nothing more is expected on stdout; drain it anyway so the demo never blocks on it.
    let stdout = std::thread::spawn(move || for _ in out.lines().map_while(Result::ok) {});
    Demo {
        child,
        url,
        tokens,
        units,
        sign_ins,
        stderr,
        stdout,
    }
}

impl Demo {
    async fn get(&self, role: &str, path: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.tokens[role])
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// Signs in on the form with the printed username and password of `role`; the status.
    async fn sign_in(&self, role: &str) -> u16 {
        let (name, password) = &self.sign_ins[role];
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([("username", name), ("password", password)])
            .finish();
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
            .post(format!("{}/login", self.url))
            .header("origin", &self.url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST /login")
            .status()
            .as_u16()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Ctrl-C; the exit status and everything the demo wrote on stderr.
    fn interrupt(mut self) -> (ExitStatus, String) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGINT).expect("send SIGINT");
        let status = self.child.wait().expect("wait");
        let stderr = self.stderr();
        self.stdout.join().expect("stdout drained");
        (status, stderr)
    }
}

/// `ansinh verify` on the data dir: exit 0 and the number of events it checked. While a demo
/// runs, it uses the demo's cluster and leaves it running.
fn verified_events(data_dir: &Path) -> u64 {
    let out = ansinh(data_dir).arg("verify").output().expect("verify");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "verify: {:?}\n{stderr}", out.status);
    // "200 households, 1822 events checked in 0.23s …"
    stderr
        .lines()
        .find_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let at = words.iter().position(|w| *w == "events")?;
            words.get(at.checked_sub(1)?)?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no event count in:\n{stderr}"))
}

#[tokio::test]
async fn the_demo_serves_a_populated_province_to_its_tokens_and_keeps_it_for_the_next_start() {
    let (_tmp, data_dir) = data_dir();
    let generated = ansinh::generate::generate_in(
        ansinh::generate::Province::TayNinh,
        HOUSEHOLDS,
        ansinh::generate::DEFAULT_SEED,
    )
    .expect("the province the demo generates");
    assert!(!generated.supports.is_empty());

    let demo = start(&data_dir, 1);
    assert!(demo.url.starts_with("http://127.0.0.1:"), "{}", demo.url);
    assert!(!demo.url.ends_with(":0"), "the bound address is printed");
    for role in [
        "commune_officer",
        "district_officer",
        "province_officer",
        "auditor",
        "monitor",
        "admin",
    ] {
        assert!(demo.tokens.contains_key(role), "no token for {role}");
        assert_eq!(demo.sign_in(role).await, 303, "{role} signs in on the form");
    }
    // Users act for units that exist today: Tây Ninh (80 since the reform), and a commune of
    // the new province the households were moved to, not an ended one.
    for role in [
        "district_officer",
        "province_officer",
        "auditor",
        "monitor",
        "admin",
    ] {
        assert_eq!(demo.units[role], "80", "{role}");
    }
    let commune = &demo.units["commune_officer"];
    let new_communes: Vec<&str> = generated
        .reviews
        .iter()
        .filter(|r| r.period == "2026-annual")
        .map(|r| r.unit_code.as_str())
        .collect();
    assert!(new_communes.contains(&commune.as_str()), "{commune}");
    let (status, mine) = demo.get("commune_officer", "/api/v1/households").await;
    assert_eq!(status, 200, "{mine}");
    assert!(
        !mine["items"].as_array().expect("items").is_empty(),
        "the commune officer of {commune} sees its households: {mine}"
    );

    // The province's support trail, to the province officer: every generated support.
    let (status, trail) = demo
        .get("province_officer", "/api/v1/disbursements?unit=80")
        .await;
    assert_eq!(status, 200, "{trail}");
    // Every generated support, and the ones the demo fund paid (src/generate/funds.rs).
    let stderr = demo.stderr();
    let planted = stderr
        .lines()
        .find_map(|l| {
            l.split("supports recorded; red flags planted: ")
                .nth(1)
                .map(str::to_owned)
        })
        .expect("the demo fund was opened");
    let paid: u64 = stderr
        .lines()
        .find_map(|l| {
            let after = l.split("opened the demo fund ").nth(1)?;
            after.split(": ").nth(1)?.split(' ').next()?.parse().ok()
        })
        .expect("the number of supports the demo recorded");
    assert_eq!(
        trail["totals"]["count"].as_u64(),
        Some(generated.supports.len() as u64 + paid),
        "{trail}"
    );
    // The fund and the planted red flags, to the monitor.
    let (status, funds) = demo.get("monitor", "/api/v1/funds").await;
    assert_eq!(status, 200, "{funds}");
    assert_eq!(funds["total"], 1, "{funds}");
    let fund = funds["items"][0]["fund_id"]
        .as_str()
        .expect("fund id")
        .to_owned();
    let (status, reconciliation) = demo
        .get("monitor", &format!("/api/v1/funds/{fund}/reconciliation"))
        .await;
    assert_eq!(status, 200, "{reconciliation}");
    assert!(
        reconciliation["disbursed_vnd"].as_i64() > Some(0),
        "{reconciliation} {stderr}"
    );
    for rule in planted.split(", ").filter(|r| !r.is_empty()) {
        let (status, flags) = demo
            .get("monitor", &format!("/api/v1/flags?unit=80&rule={rule}"))
            .await;
        assert_eq!(status, 200, "{flags}");
        assert!(flags["total"].as_i64() > Some(0), "{rule}: {flags}");
    }
    // The monitor reads it too.
    let (status, _) = demo.get("monitor", "/api/v1/disbursements?unit=80").await;
    assert_eq!(status, 200);
    // The re-poverty register, to the auditor.
    let (status, register) = demo.get("auditor", "/api/v1/re-poverty?unit=80").await;
    assert_eq!(status, 200, "{register}");
    assert!(register["total"].is_i64(), "{register}");

    // A household found by its head's name (folded: no diacritics, any case), then its
    // status and history.
    let first = &generated.reviews[0];
    let id = household_id(&first.household_key);
    let query = ansinh_events::text::fold(&first.head_name).replace(' ', "%20");
    let (status, found) = demo
        .get(
            "province_officer",
            &format!("/api/v1/households?name={query}"),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    let items = found["items"].as_array().expect("items");
    assert!(
        items.iter().any(|h| h["id"] == id.to_string()),
        "{} not found: {found}",
        first.head_name
    );
    let (status, household) = demo
        .get("auditor", &format!("/api/v1/households/{id}"))
        .await;
    assert_eq!(status, 200, "{household}");
    let (status, history) = demo
        .get("auditor", &format!("/api/v1/households/{id}/history"))
        .await;
    assert_eq!(status, 200, "{history}");
    assert!(history["total"].as_i64() > Some(1), "{history}");
    assert_eq!(history["events"][0]["type"], "household_registered");
    // The import moved it across the reform.
    let types: Vec<&str> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(types.contains(&"household_moved"), "{history}");

    let events = verified_events(&data_dir);
    assert!(events > HOUSEHOLDS as u64, "{events}");
    assert!(
        demo.stderr().contains("first start only"),
        "{}",
        demo.stderr()
    );

    // Ctrl-C: a clean exit, and no PostgreSQL left running.
    let postmaster = postmaster_pid(&data_dir).expect("the cluster is running");
    assert!(alive(postmaster));
    let (status, stderr) = demo.interrupt();
    assert!(status.success(), "exit {status:?}; stderr:\n{stderr}");
    assert!(!alive(postmaster), "PostgreSQL was left running");
    assert!(!data_dir.join("pgdata/postmaster.pid").exists());

    // The next start keeps the province: no second generation or import.
    let demo = start(&data_dir, 2);
    let stderr = demo.stderr();
    // The new start's passwords sign in (the name passed to its new users).
    assert_eq!(demo.sign_in("auditor").await, 303, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "using the {HOUSEHOLDS} households already in this data dir"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("generating"), "{stderr}");
    assert_eq!(verified_events(&data_dir), events);
    let (status, trail) = demo.get("auditor", "/api/v1/disbursements?unit=80").await;
    assert_eq!(status, 200, "{trail}");
    // Nothing planted again on a restart.
    assert_eq!(
        trail["totals"]["count"].as_u64(),
        Some(generated.supports.len() as u64 + paid)
    );
    let postmaster = postmaster_pid(&data_dir).expect("the cluster is running");
    let (status, stderr) = demo.interrupt();
    assert!(status.success(), "exit {status:?}; stderr:\n{stderr}");
    assert!(!alive(postmaster), "PostgreSQL was left running");
}

#[tokio::test]
async fn ctrl_c_while_the_province_is_seeded_stops_postgres_and_keeps_nothing() {
    let (_tmp, data_dir) = data_dir();
    // Big enough that seeding is still going when the signal comes (it stops at once).
    let mut child = ansinh(&data_dir)
        .args(["demo", "--bind", "127.0.0.1:0", "--households", "5000"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ansinh demo");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    let mut line = String::new();
    while err.read_line(&mut line).expect("read stderr") > 0 {
        seen.push_str(&line);
        if line.contains("generating a province") {
            break;
        }
        line.clear();
    }
    assert!(seen.contains("generating a province"), "{seen}");
    let postmaster = postmaster_pid(&data_dir).expect("the cluster is running");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("send SIGINT");
    let mut rest = String::new();
    for l in err.lines().map_while(Result::ok) {
        rest.push_str(&l);
        rest.push('\n');
    }
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(1), "{seen}{rest}");
    assert!(rest.contains("interrupted"), "{rest}");
    assert!(!alive(postmaster), "PostgreSQL was left running:\n{rest}");
    assert!(!data_dir.join("pgdata/postmaster.pid").exists());
    // Nothing of the province was kept: the next start seeds it again, whole.
    assert_eq!(verified_events(&data_dir), 0);
}
