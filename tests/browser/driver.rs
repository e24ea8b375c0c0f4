//! One chromedriver per test, driving one headless chromium; both die with the test.
//!
//! Each runs in a process group of its own, so dropping [`Driver`] kills chromedriver and every
//! chromium process under it at once, even when the test panicked half-way. At most
//! [`MAX_BROWSERS`] run at a time in a test process, so 2 cores are not swamped.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::json;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Browsers at once in one test process (each test holds one for its whole run).
pub const MAX_BROWSERS: usize = 2;
static BROWSERS: Semaphore = Semaphore::const_new(MAX_BROWSERS);

/// The window every test starts with (screenshots change the width and put it back).
pub const WIDTH: u32 = 1280;
pub const HEIGHT: u32 = 900;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL: &str = "apt-get install -y chromium chromium-driver";

/// A running chromedriver with its browser session.
pub struct Driver {
    pub client: Client,
    // Fields drop in order: the processes die before their profile directory is removed.
    _group: ProcessGroup,
    _profile: tempfile::TempDir,
    _permit: SemaphorePermit<'static>,
}

impl Driver {
    pub async fn start() -> Driver {
        for (binary, package) in [(CHROMEDRIVER, "chromium-driver"), (CHROMIUM, "chromium")] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing (Debian package {package}): the browser tests need \
                 `{INSTALL}`"
            );
        }
        let permit = BROWSERS
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let profile = tempfile::Builder::new()
            .prefix("ansinh-chromium-")
            .tempdir()
            .expect("a profile directory for chromium");
        let mut child = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {CHROMEDRIVER} ({e}); `{INSTALL}`"));
        let stdout = child.stdout.take().expect("piped stdout");
        let group = ProcessGroup(child);
        let port = listening_port(stdout);
        let client = new_session(port, profile.path()).await;
        Driver {
            client,
            _group: group,
            _profile: profile,
            _permit: permit,
        }
    }
}

/// chromedriver and the chromium it started: killed together when dropped.
struct ProcessGroup(Child);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // process_group(0) made chromedriver's pid its group's id.
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// Reads chromedriver's "ChromeDriver was started successfully on port N." (it was told port
/// 0), then keeps draining its output on a thread so it never blocks on a full pipe.
fn listening_port(stdout: ChildStdout) -> u16 {
    let mut lines = BufReader::new(stdout).lines();
    let mut said = String::new();
    while let Some(Ok(line)) = lines.next() {
        if let Some(rest) = line.split("started successfully on port ").nth(1) {
            let port = rest
                .trim_end_matches('.')
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("chromedriver said {line:?}"));
            std::thread::spawn(move || lines.for_each(drop));
            return port;
        }
        said.push_str(&line);
        said.push('\n');
    }
    panic!("chromedriver exited before listening; it said:\n{said}\n(`{INSTALL}`)");
}

/// A session of headless chromium, `WIDTH`×`HEIGHT`, its profile in `profile`.
async fn new_session(port: u16, profile: &Path) -> Client {
    let args = [
        "--headless".to_owned(),
        // As root in a container there is no sandbox to have.
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--disable-crash-reporter".to_owned(),
        "--no-first-run".to_owned(),
        // Vietnamese, as the people who use ansinh have their browsers.
        "--lang=vi-VN".to_owned(),
        format!("--window-size={WIDTH},{HEIGHT}"),
        format!("--user-data-dir={}", profile.display()),
    ];
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": CHROMIUM, "args": args }),
    );
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|e| panic!("chromedriver could not start chromium: {e} (`{INSTALL}`)"))
}
