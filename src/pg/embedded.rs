//! A private PostgreSQL cluster, run from the machine's server binaries when the
//! user gave no `DATABASE_URL`.
//!
//! Layout under the data directory:
//!
//! - `pgdata/`: the cluster (initdb on first use);
//! - `run/`: the unix socket directory, or `/tmp/ansinh-<hash>` when that path is
//!   too long for a socket address;
//! - `postgres.log`: the server log;
//! - `.ansinh-pg.lock`: serialises start and stop decisions of ansinh processes;
//! - `.ansinh-pg.users`: share-locked by every live [`EmbeddedPg`], so the server is
//!   stopped only by the last ansinh process using it;
//! - `.ansinh-pg.started`: the postmaster PID when an ansinh process started it, so
//!   we never stop a server its administrator started by hand.
//!
//! The server listens on the unix socket only, in a directory only its owner may
//! enter, so `trust` authentication admits nobody but that user and root.

use std::ffi::CString;
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{Gid, Uid, User};
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::Connection;

/// A fixed port is fine: it only names the socket file in our private directory.
const PORT: u16 = 5432;
const SOCKET_FILE: &str = ".s.PGSQL.5432";
/// `sun_path` holds 108 bytes on Linux and 104 on macOS; keep a margin.
const MAX_SOCKET_PATH: usize = 100;
const SUPERUSER: &str = "ansinh";
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";
const SERVER_BINARIES: [&str; 3] = ["initdb", "pg_ctl", "postgres"];
const CONF_FILE: &str = "ansinh.conf";
const START_LOCK: &str = ".ansinh-pg.lock";
const USERS_LOCK: &str = ".ansinh-pg.users";
const STARTED_MARKER: &str = ".ansinh-pg.started";

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedPgError {
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found; install them with \
         `apt-get install postgresql` (Debian/Ubuntu) or set DATABASE_URL"
    )]
    BinariesNotFound,
    #[error(
        "ansinh runs as root but neither a `postgres` nor a `nobody` user exists to run \
         PostgreSQL as; create one or set DATABASE_URL"
    )]
    NoServiceUser,
    #[error(
        "the `{user}` user that runs PostgreSQL cannot enter {dir}; choose a data directory \
         it can reach, such as `--data-dir /var/lib/ansinh`"
    )]
    NotTraversable { user: String, dir: PathBuf },
    #[error("could not {action} {path}: {cause}")]
    Io {
        action: &'static str,
        path: PathBuf,
        cause: io::Error,
    },
    #[error("`{program}` failed ({status}): {detail}")]
    Command {
        program: &'static str,
        status: String,
        detail: String,
    },
    #[error("could not create database {name}: {cause}")]
    CreateDatabase { name: String, cause: sqlx::Error },
}

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> EmbeddedPgError + 'a {
    move |cause| EmbeddedPgError::Io {
        action,
        path: path.to_path_buf(),
        cause,
    }
}

/// A running private cluster; stops it on drop when we are its last ansinh user.
#[derive(Debug)]
pub struct EmbeddedPg {
    data_dir: PathBuf,
    pgdata: PathBuf,
    socket_dir: PathBuf,
    bin_dir: PathBuf,
    /// Who the server runs as when ansinh runs as root (PostgreSQL refuses root).
    run_as: Option<(Uid, Gid)>,
    /// Whether this value started the server (rather than finding it running).
    started: bool,
    /// Our share of `.ansinh-pg.users`; `None` once stopped.
    share: Option<Flock<File>>,
}

impl EmbeddedPg {
    /// Starts (or reuses) the cluster in `data_dir`; `ANSINH_PG_FAST=1` trades
    /// durability for speed, for throwaway clusters.
    pub fn start(data_dir: &Path) -> Result<Self, EmbeddedPgError> {
        let fast = std::env::var_os("ANSINH_PG_FAST").is_some_and(|v| v == "1");
        Self::start_with(data_dir, fast)
    }

    /// Like [`EmbeddedPg::start`], with `fast` instead of the environment variable.
    /// A fast cluster skips fsync: a crash of the machine can lose or corrupt it.
    pub fn start_with(data_dir: &Path, fast: bool) -> Result<Self, EmbeddedPgError> {
        let bin_dir = find_bin_dir(&data_dir.join("pgdata"))?;
        let created = !data_dir.exists();
        fs::create_dir_all(data_dir).map_err(io_err("create", data_dir))?;
        let data_dir = data_dir
            .canonicalize()
            .map_err(io_err("resolve", data_dir))?;
        let _start = lock(&data_dir.join(START_LOCK), FlockArg::LockExclusive)?;
        let pgdata = data_dir.join("pgdata");
        let run_as = match nix::unistd::geteuid().is_root() {
            false => None,
            true => {
                let user = service_user(&pgdata)?;
                if created {
                    chown(&data_dir, Some((user.uid, user.gid)))?;
                }
                check_traversable(&data_dir, &user)?;
                Some((user.uid, user.gid))
            }
        };
        let mut pg = EmbeddedPg {
            socket_dir: socket_dir_for(&data_dir),
            data_dir,
            pgdata,
            bin_dir,
            run_as,
            started: false,
            share: None,
        };
        pg.prepare_dirs()?;
        if !pg.is_running() {
            if !pg.pgdata.join("PG_VERSION").exists() {
                pg.initdb(fast)?;
            }
            pg.write_conf(fast)?;
            pg.start_server()?;
        }
        pg.share = Some(lock(&pg.data_dir.join(USERS_LOCK), FlockArg::LockShared)?);
        Ok(pg)
    }

    /// Whether this value started the server, rather than reusing a running one.
    pub fn started_server(&self) -> bool {
        self.started
    }

    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    pub fn port(&self) -> u16 {
        PORT
    }

    /// Options for `database` as the `ansinh` superuser over the private socket.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        // No pgpass: trust auth needs no password. TLS off: a unix socket needs none,
        // and a PGSSLMODE=require in the environment must not break us.
        PgConnectOptions::new_without_pgpass()
            .socket(&self.socket_dir)
            .port(PORT)
            .username(SUPERUSER)
            .database(database)
            .ssl_mode(PgSslMode::Disable)
    }

    /// The same as a URL, e.g. for a child process's `DATABASE_URL`
    /// (`postgres:///DB?host=/socket/dir&port=5432&user=ansinh&sslmode=disable`;
    /// sqlx rejects a user with an empty host, `postgres://ansinh@/DB`).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres:///{}?host={}&port={PORT}&user={SUPERUSER}&sslmode=disable",
            percent_encode(database.as_bytes()),
            percent_encode(self.socket_dir.as_os_str().as_bytes()),
        )
    }

    /// Creates `name` unless it exists (racing creators are fine).
    pub async fn create_database_if_missing(&self, name: &str) -> Result<(), EmbeddedPgError> {
        let err = |cause| EmbeddedPgError::CreateDatabase {
            name: name.to_owned(),
            cause,
        };
        let mut conn = sqlx::PgConnection::connect_with(&self.connect_options("postgres"))
            .await
            .map_err(err)?;
        let exists: bool =
            sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
                .bind(name)
                .fetch_one(&mut conn)
                .await
                .map_err(err)?;
        if !exists {
            let sql = format!("create database \"{}\"", name.replace('"', "\"\""));
            match sqlx::query(&sql).execute(&mut conn).await {
                Ok(_) => {}
                // duplicate_database: another process created it since our check.
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
                Err(e) => return Err(err(e)),
            }
        }
        conn.close().await.map_err(err)
    }

    /// Gives up our use of the server, and stops it when we are the last ansinh
    /// process using it and an ansinh process started it. Idempotent.
    pub fn stop(&mut self) -> Result<(), EmbeddedPgError> {
        let Some(share) = self.share.take() else {
            return Ok(());
        };
        // Under the start lock, so no other process starts using the server while
        // we decide to stop it.
        let _start = lock(&self.data_dir.join(START_LOCK), FlockArg::LockExclusive)?;
        drop(share);
        let Ok(_last) = lock(
            &self.data_dir.join(USERS_LOCK),
            FlockArg::LockExclusiveNonblock,
        ) else {
            tracing::debug!("another ansinh process still uses the embedded PostgreSQL");
            return Ok(());
        };
        let marker = self.data_dir.join(STARTED_MARKER);
        let ours = fs::read_to_string(&marker).ok();
        if !self.is_running() || ours.is_none() || ours != self.postmaster_pid() {
            return Ok(());
        }
        let mut cmd = self.pg_ctl("stop");
        cmd.args(["-m", "fast", "-w"]);
        run(cmd, "pg_ctl stop")?;
        remove_if_exists(&marker)
    }

    fn log_path(&self) -> PathBuf {
        self.data_dir.join("postgres.log")
    }

    /// The first line of `postmaster.pid`, the PID of a running (or crashed) server.
    fn postmaster_pid(&self) -> Option<String> {
        let text = fs::read_to_string(self.pgdata.join("postmaster.pid")).ok()?;
        Some(text.lines().next()?.trim().to_owned())
    }

    fn tool(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(name));
        // The service user may not be allowed into our working directory (/root).
        cmd.current_dir(&self.data_dir)
            .stdin(Stdio::null())
            .env_remove("PGDATA")
            .env_remove("PGPORT");
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid.as_raw()).gid(gid.as_raw());
        }
        cmd
    }

    fn pg_ctl(&self, action: &str) -> Command {
        let mut cmd = self.tool("pg_ctl");
        cmd.arg(action).arg("-D").arg(&self.pgdata);
        cmd
    }

    /// pg_ctl status exits 0 only for a live server: a stale postmaster.pid gives 3. It
    /// takes a zombie for a live server, though (a postmaster killed outright stays one where
    /// PID 1 does not reap orphans, as in many containers), so that is checked too.
    fn is_running(&self) -> bool {
        let status = self
            .pg_ctl("status")
            .output()
            .is_ok_and(|out| out.status.success());
        status && !self.postmaster_pid().is_some_and(|pid| is_zombie(&pid))
    }

    /// Whether the postmaster this cluster's pid file names is alive: a running process (not
    /// a zombie) whose command line names this cluster's directory (not a reused PID).
    pub(super) fn postmaster_alive(&self) -> bool {
        if !Path::new("/proc/self").exists() {
            return self.is_running();
        }
        let Some(pid) = self.postmaster_pid() else {
            return false;
        };
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let pgdata = self.pgdata.as_os_str().as_bytes();
        !is_zombie(&pid) && cmdline.windows(pgdata.len()).any(|w| w == pgdata)
    }

    /// A handle on the same cluster that does not count as one of its users: dropping it
    /// stops nothing. For the [`super::Supervisor`].
    pub(super) fn detached(&self) -> EmbeddedPg {
        EmbeddedPg {
            data_dir: self.data_dir.clone(),
            pgdata: self.pgdata.clone(),
            socket_dir: self.socket_dir.clone(),
            bin_dir: self.bin_dir.clone(),
            run_as: self.run_as,
            started: false,
            share: None,
        }
    }

    /// The server binaries' folder (pg_dump and pg_restore of the same version live there).
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// Starts the server again after its postmaster died, under the start lock; `false` when
    /// another ansinh process already had. Crash recovery runs as at any start.
    pub(super) fn restart(&mut self) -> Result<bool, EmbeddedPgError> {
        let _start = lock(&self.data_dir.join(START_LOCK), FlockArg::LockExclusive)?;
        if self.postmaster_alive() {
            return Ok(false);
        }
        self.prepare_dirs()?;
        self.start_server()?;
        Ok(true)
    }

    /// Waits until no process of an earlier server runs in this cluster (the children of a
    /// postmaster killed outright exit once they notice, within moments). Until then the old
    /// shared memory is in use and a new postmaster must not start.
    fn wait_for_old_processes(&self) -> Result<(), EmbeddedPgError> {
        const PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);
        let started = std::time::Instant::now();
        loop {
            let left = old_server_processes(&self.pgdata);
            if left.is_empty() {
                return Ok(());
            }
            if started.elapsed() > PATIENCE {
                return Err(EmbeddedPgError::Command {
                    program: "postgres",
                    status: "still running".into(),
                    detail: format!(
                        "processes {left:?} of the previous server still run in {}",
                        self.pgdata.display()
                    ),
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    fn prepare_dirs(&self) -> Result<(), EmbeddedPgError> {
        for dir in [&self.pgdata, &self.socket_dir] {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io_err("create", dir))?;
            // PostgreSQL demands a private pgdata, and the socket dir is what keeps
            // trust auth safe.
            fs::set_permissions(dir, Permissions::from_mode(0o700))
                .map_err(io_err("set permissions of", dir))?;
            chown(dir, self.run_as)?;
        }
        // pg_ctl opens the log as the service user, which may not write data_dir.
        let log = self.log_path();
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(io_err("create", &log))?;
        chown(&log, self.run_as)
    }

    fn initdb(&self, fast: bool) -> Result<(), EmbeddedPgError> {
        let attempt = |locale: &str| {
            let mut cmd = self.tool("initdb");
            cmd.arg("-D").arg(&self.pgdata).args([
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                locale,
            ]);
            if fast {
                cmd.arg("--no-sync");
            }
            run(cmd, "initdb")
        };
        // C.UTF-8 sorts like C but knows UTF-8 character classes; some systems lack
        // it. A failed initdb empties pgdata, so a retry starts clean.
        attempt("--locale=C.UTF-8")
            .or_else(|_| attempt("--no-locale"))
            .map(drop)
    }

    /// `lz4` when these binaries take it (PostgreSQL 15+, built `--with-lz4` as `pg_config
    /// --configure` says), else `on` (pglz, always there).
    fn wal_compression(&self, major: Option<u32>) -> &'static str {
        if major.is_none_or(|v| v < 15) {
            return "on";
        }
        let configure = Command::new(self.bin_dir.join("pg_config"))
            .arg("--configure")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if configure.contains("--with-lz4") {
            "lz4"
        } else {
            "on"
        }
    }

    /// Our settings live in their own file, rewritten at every start, so the data
    /// dir can move and `ANSINH_PG_FAST` can change without editing postgresql.conf.
    fn write_conf(&self, fast: bool) -> Result<(), EmbeddedPgError> {
        let major = fs::read_to_string(self.pgdata.join("PG_VERSION"))
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok());
        let mut conf = format!(
            "# Rewritten by ansinh at every start; use ALTER SYSTEM for your own settings.\n\
             listen_addresses = ''\n\
             port = {PORT}\n\
             unix_socket_directories = '{}'\n\
             max_connections = 200\n\
             shared_buffers = 128MB\n",
            socket_dir_setting(&self.socket_dir)
        );
        if fast {
            conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        } else {
            // A command updates rows scattered over the tables, so after each checkpoint its
            // first touch of a page writes the whole page to the WAL: 2–3 pages, 16–18 KB of
            // WAL per support measured. Compressed, about half; lz4 costs little CPU.
            conf.push_str(&format!(
                "wal_compression = {}\n",
                self.wal_compression(major)
            ));
        }
        // Crash recovery (after a kill -9, say) first syncs the data directory; file by file
        // that took seconds here, one syncfs() call takes a fraction (Linux, PostgreSQL 14+).
        if cfg!(target_os = "linux") && major.is_some_and(|v| v >= 14) {
            conf.push_str("recovery_init_sync_method = syncfs\n");
        }
        let path = self.pgdata.join(CONF_FILE);
        fs::write(&path, conf).map_err(io_err("write", &path))?;
        chown(&path, self.run_as)?;

        let main = self.pgdata.join("postgresql.conf");
        let text = fs::read_to_string(&main).map_err(io_err("read", &main))?;
        let include = format!("include_if_exists = '{CONF_FILE}'");
        if !text.lines().any(|line| line.trim() == include) {
            // Last in the file, so it wins over initdb's defaults.
            let mut file = OpenOptions::new()
                .append(true)
                .open(&main)
                .map_err(io_err("open", &main))?;
            writeln!(file, "\n{include}").map_err(io_err("write", &main))?;
        }
        Ok(())
    }

    fn start_server(&mut self) -> Result<(), EmbeddedPgError> {
        self.wait_for_old_processes()?;
        // No live server and none of its processes are left, so these are stale; postgres
        // would usually ignore them, but not when their PID names a zombie or now names
        // another process of the service user.
        remove_if_exists(&self.pgdata.join("postmaster.pid"))?;
        remove_if_exists(&self.socket_dir.join(format!("{SOCKET_FILE}.lock")))?;

        let log = self.log_path();
        let log_start = fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        let mut cmd = self.pg_ctl("start");
        // -w returns once the server accepts connections: nobody sleeps.
        cmd.args(["-w", "-t", "120", "-l"]).arg(&log);
        run(cmd, "pg_ctl start").map_err(|e| match e {
            // pg_ctl only says "examine the log output": quote the log instead.
            EmbeddedPgError::Command {
                program, status, ..
            } => {
                let text = fs::read(&log).unwrap_or_default();
                let new = text.get(log_start as usize..).unwrap_or_default();
                EmbeddedPgError::Command {
                    program,
                    status,
                    detail: format!(
                        "{} (see {})",
                        tail(&String::from_utf8_lossy(new)),
                        log.display()
                    ),
                }
            }
            other => other,
        })?;
        self.started = true;
        let marker = self.data_dir.join(STARTED_MARKER);
        let pid = self.postmaster_pid().unwrap_or_default();
        fs::write(&marker, pid).map_err(io_err("write", &marker))
    }
}

impl Drop for EmbeddedPg {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            tracing::warn!(%error, "could not stop the embedded PostgreSQL server");
        }
    }
}

/// Whether `pid` is a zombie: dead, but not yet reaped by its parent.
fn is_zombie(pid: &str) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit(')').next().unwrap_or("").trim_start();
        state.starts_with('Z') || state.starts_with('X')
    })
}

/// PIDs of live PostgreSQL processes whose working directory is `pgdata` (every server
/// process changes into its data directory). Processes we may not inspect are not seen.
fn old_server_processes(pgdata: &Path) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let comm = fs::read_to_string(entry.path().join("comm")).ok()?;
            let postgres = matches!(comm.trim(), "postgres" | "postmaster");
            let here = fs::read_link(entry.path().join("cwd")).ok()? == pgdata;
            (postgres && here && !is_zombie(&pid.to_string())).then_some(pid)
        })
        .collect()
}

/// Server binaries: on PATH, else `pg_config --bindir`, else the newest Debian
/// `/usr/lib/postgresql/<N>/bin`, except that an existing cluster gets the Debian
/// folder of its own major version, the only one that can run it.
fn find_bin_dir(pgdata: &Path) -> Result<PathBuf, EmbeddedPgError> {
    if let Ok(version) = fs::read_to_string(pgdata.join("PG_VERSION")) {
        let dir = Path::new(DEBIAN_ROOT).join(version.trim()).join("bin");
        if has_server_binaries(&dir) {
            return Ok(dir);
        }
    }
    on_path()
        .or_else(pg_config_bindir)
        .or_else(|| {
            let dirs = fs::read_dir(DEBIAN_ROOT).ok()?.flatten().map(|e| e.path());
            newest_versioned_bin(dirs.filter(|d| has_server_binaries(&d.join("bin"))))
        })
        .ok_or(EmbeddedPgError::BinariesNotFound)
}

fn has_server_binaries(dir: &Path) -> bool {
    SERVER_BINARIES.iter().all(|b| dir.join(b).is_file())
}

fn on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| {
        // Resolve symlinks (/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb)
        // so pg_ctl and postgres come from the same installation as initdb.
        let initdb = dir.join("initdb").canonicalize().ok()?;
        let bin = initdb.parent()?.to_path_buf();
        has_server_binaries(&bin).then_some(bin)
    })
}

fn pg_config_bindir() -> Option<PathBuf> {
    let out = Command::new("pg_config")
        .arg("--bindir")
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    (out.status.success() && has_server_binaries(&dir)).then_some(dir)
}

/// The `bin` folder of the highest version folder, compared numerically
/// (`9.6` < `10` < `15`); folders not named like a version are ignored.
fn newest_versioned_bin(dirs: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
    dirs.into_iter()
        .filter_map(|dir| {
            let name = dir.file_name()?.to_str()?;
            let version: Vec<u32> = name
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<_>>()?;
            Some((version, dir))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, dir)| dir.join("bin"))
}

/// `<data_dir>/run`, or a short directory under /tmp named by a hash of the data
/// dir (stable, so every process on that dir finds the same socket).
fn socket_dir_for(data_dir: &Path) -> PathBuf {
    let dir = data_dir.join("run");
    if dir.join(SOCKET_FILE).as_os_str().len() <= MAX_SOCKET_PATH {
        return dir;
    }
    let hash = Sha256::digest(data_dir.as_os_str().as_bytes());
    PathBuf::from(format!("/tmp/ansinh-{}", hex::encode(&hash[..8])))
}

/// The socket dir as one double-quoted list entry (it may hold commas), inside
/// a single-quoted postgresql.conf string.
fn socket_dir_setting(dir: &Path) -> String {
    let entry = format!("\"{}\"", dir.to_string_lossy().replace('"', "\"\""));
    entry.replace('\\', "\\\\").replace('\'', "''")
}

/// The service user for root: whoever owns an existing cluster (so installing a
/// `postgres` user later does not strand a cluster made as `nobody`), else
/// `postgres`, else `nobody`.
fn service_user(pgdata: &Path) -> Result<User, EmbeddedPgError> {
    let owner = fs::metadata(pgdata)
        .ok()
        .map(|m| m.uid())
        .filter(|&uid| uid != 0);
    if let Some(Ok(Some(user))) = owner.map(|uid| User::from_uid(Uid::from_raw(uid))) {
        return Ok(user);
    }
    ["postgres", "nobody"]
        .into_iter()
        .find_map(|name| User::from_name(name).ok().flatten())
        .ok_or(EmbeddedPgError::NoServiceUser)
}

/// Every directory from `/` down to `dir` must be searchable by `user`.
fn check_traversable(dir: &Path, user: &User) -> Result<(), EmbeddedPgError> {
    let groups = CString::new(user.name.as_str())
        .ok()
        .and_then(|name| nix::unistd::getgrouplist(&name, user.gid).ok())
        .unwrap_or_else(|| vec![user.gid]);
    for ancestor in dir.ancestors() {
        let meta = fs::metadata(ancestor).map_err(io_err("inspect", ancestor))?;
        let search_bit = if meta.uid() == user.uid.as_raw() {
            0o100
        } else if groups.iter().any(|g| g.as_raw() == meta.gid()) {
            0o010
        } else {
            0o001
        };
        if meta.mode() & search_bit == 0 {
            return Err(EmbeddedPgError::NotTraversable {
                user: user.name.clone(),
                dir: ancestor.to_path_buf(),
            });
        }
    }
    Ok(())
}

fn chown(path: &Path, owner: Option<(Uid, Gid)>) -> Result<(), EmbeddedPgError> {
    match owner {
        None => Ok(()),
        Some((uid, gid)) => nix::unistd::chown(path, Some(uid), Some(gid))
            .map_err(|errno| io_err("change the owner of", path)(errno.into())),
    }
}

fn lock(path: &Path, arg: FlockArg) -> Result<Flock<File>, EmbeddedPgError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_err("open", path))?;
    Flock::lock(file, arg).map_err(|(_, errno)| io_err("lock", path)(errno.into()))
}

fn remove_if_exists(path: &Path) -> Result<(), EmbeddedPgError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("remove", path)(e)),
        _ => Ok(()),
    }
}

fn run(mut cmd: Command, program: &'static str) -> Result<Output, EmbeddedPgError> {
    let out = cmd
        .output()
        .map_err(io_err("run", Path::new(cmd.get_program())))?;
    if out.status.success() {
        return Ok(out);
    }
    Err(EmbeddedPgError::Command {
        program,
        status: out.status.to_string(),
        detail: match tail(&String::from_utf8_lossy(&out.stderr)) {
            detail if detail.is_empty() => tail(&String::from_utf8_lossy(&out.stdout)),
            detail => detail,
        },
    })
}

/// The last few non-empty lines, on one line (for a tool's stderr in a one-line error).
pub(crate) fn tail(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(3)..].join("; ")
}

/// Percent-encodes all but RFC 3986 unreserved characters and `/`.
fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn newest_versioned_folder_wins_numerically() {
        let dirs = ["9.6", "15", "10", "README", "16beta"].map(|v| Path::new(DEBIAN_ROOT).join(v));
        assert_eq!(
            newest_versioned_bin(dirs),
            Some(PathBuf::from("/usr/lib/postgresql/15/bin"))
        );
        assert_eq!(newest_versioned_bin(Vec::new()), None);
    }

    #[test]
    fn long_data_dirs_get_a_short_socket_dir() {
        let short = Path::new("/var/lib/ansinh");
        assert_eq!(socket_dir_for(short), short.join("run"));

        let long = PathBuf::from(format!("/srv/{}", "x".repeat(120)));
        let dir = socket_dir_for(&long);
        assert!(dir.starts_with("/tmp"), "{dir:?}");
        assert!(dir.join(SOCKET_FILE).as_os_str().len() <= MAX_SOCKET_PATH);
        assert_eq!(
            dir,
            socket_dir_for(&long),
            "every process must find the same socket"
        );
        assert_ne!(dir, socket_dir_for(&long.join("other")));
    }

    #[test]
    fn url_parses_to_the_same_options() {
        let pg = EmbeddedPg {
            data_dir: "/d".into(),
            pgdata: "/d/pgdata".into(),
            socket_dir: "/tmp/a dir,x".into(),
            bin_dir: "/bin".into(),
            run_as: None,
            started: false,
            share: None,
        };
        let opts = PgConnectOptions::from_str(&pg.url("t_1")).expect("sqlx parses the URL");
        assert_eq!(opts.get_socket(), Some(&PathBuf::from("/tmp/a dir,x")));
        assert_eq!(opts.get_port(), PORT);
        assert_eq!(opts.get_username(), SUPERUSER);
        assert_eq!(opts.get_database(), Some("t_1"));
    }

    #[test]
    fn root_refuses_a_data_dir_the_service_user_cannot_reach() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(dir.path(), Permissions::from_mode(0o700)).expect("chmod");
        let err = EmbeddedPg::start_with(&dir.path().join("data"), true).expect_err("refused");
        assert!(
            matches!(&err, EmbeddedPgError::NotTraversable { dir: d, .. } if d == dir.path()),
            "{err}"
        );
    }

    /// Alive and not a zombie (our container's init may not reap orphans).
    fn alive(pid: &str) -> bool {
        fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            !stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    }

    #[test]
    fn second_instance_reuses_and_the_last_user_stops_the_server() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(dir.path(), Permissions::from_mode(0o755)).expect("chmod");
        let data = dir.path().join("data");

        let mut a = EmbeddedPg::start_with(&data, true).expect("start");
        assert!(a.started_server());
        let pid = a.postmaster_pid().expect("postmaster.pid");
        assert!(alive(&pid));
        if nix::unistd::geteuid().is_root() {
            let uid = fs::metadata(format!("/proc/{pid}")).expect("proc").uid();
            assert_ne!(uid, 0, "the server must not run as root");
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            a.create_database_if_missing("x").await.expect("create");
            a.create_database_if_missing("x")
                .await
                .expect("exists already");
            let mut conn = sqlx::PgConnection::connect(&a.url("x"))
                .await
                .expect("connect");
            let one: i32 = sqlx::query_scalar("select 1")
                .fetch_one(&mut conn)
                .await
                .expect("q");
            assert_eq!(one, 1);
        });

        let mut b = EmbeddedPg::start_with(&data, true).expect("reuse");
        assert!(!b.started_server());
        assert_eq!(a.socket_dir, b.socket_dir);
        b.stop().expect("stop b");
        assert!(alive(&pid), "a still uses the server");
        a.stop().expect("stop a");
        a.stop().expect("stop is idempotent");
        assert!(!alive(&pid));
        assert!(!a.is_running());
        // As if the server had crashed: its PID file stays behind, naming a dead
        // process (one we reaped: this container's init leaves zombies, which look alive).
        let dead = Command::new("true").spawn().expect("spawn");
        let dead_pid = dead.id();
        dead.wait_with_output().expect("wait");
        let stale = format!("{dead_pid}\n{}\n", a.pgdata.display());
        fs::write(a.pgdata.join("postmaster.pid"), stale).expect("stale pid");

        // The starter leaves first: the server waits for the last user.
        let mut c = EmbeddedPg::start_with(&data, true).expect("restart");
        assert!(
            c.started_server(),
            "a stale postmaster.pid must not block a start"
        );
        let pid = c.postmaster_pid().expect("postmaster.pid");
        let d = EmbeddedPg::start_with(&data, true).expect("reuse");
        c.stop().expect("stop c");
        assert!(alive(&pid), "d still uses the server");
        drop(d);
        assert!(!alive(&pid));
    }
}
