//! The Redis and PostgreSQL servers of the sink tests, started by the tests themselves: one
//! `redis-server` and one PostgreSQL cluster (`initdb`) per test binary, started on first use,
//! each in a temporary directory and on a free port of 127.0.0.1, and stopped (their
//! directory removed) when the test binary exits. Nothing is written to servers that happen to
//! run on the machine.
//!
//! Each server runs under a small `sh` watchdog whose stdin is a pipe from the test binary:
//! when the binary exits, however it exits, the pipe closes and the watchdog stops the server.
//!
//! A test whose server binary is missing prints `SKIPPED: <test>: <why>` on stderr and checks
//! nothing; a server that is installed but does not start fails the test.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{free_port, is_root, skipped, tool_exists};

/// A running server of the tests': its port and the end of the pipe that keeps it alive.
struct Running {
    port: u16,
    _lifeline: Mutex<ChildStdin>,
}

/// The tests' `redis-server`.
pub struct RedisServer(Running);

impl RedisServer {
    /// `host:port` of the server.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.0.port)
    }

    /// Its URL, as sync targets name it.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.address())
    }

    pub fn connect(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("connect to the tests' redis-server")
    }
}

/// The tests' PostgreSQL server, with a database `test` that user `postgres` may use freely.
pub struct PostgresServer(Running);

impl PostgresServer {
    /// Its connection string (database `test`), as sync targets name it.
    pub fn url(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=test",
            self.0.port
        )
    }

    pub fn connect(&self) -> postgres::Client {
        postgres::Client::connect(&self.url(), postgres::NoTls)
            .expect("connect to the tests' PostgreSQL")
    }
}

/// The tests' `redis-server`, started on first use; `None` (after saying why) when
/// `redis-server` is not installed.
pub fn redis_server() -> Option<&'static RedisServer> {
    static SERVER: OnceLock<Result<RedisServer, String>> = OnceLock::new();
    available(SERVER.get_or_init(start_redis))
}

/// The tests' PostgreSQL server, started on first use; `None` (after saying why) when
/// PostgreSQL's binaries are not installed.
pub fn postgres_server() -> Option<&'static PostgresServer> {
    static SERVER: OnceLock<Result<PostgresServer, String>> = OnceLock::new();
    available(SERVER.get_or_init(start_postgres))
}

fn available<T>(server: &Result<T, String>) -> Option<&T> {
    match server {
        Ok(server) => Some(server),
        Err(why) => {
            skipped(why);
            None
        }
    }
}

fn start_redis() -> Result<RedisServer, String> {
    if !tool_exists("redis-server") {
        return Err("redis-server not found (apt-get install redis-server)".into());
    }
    let dir = kept_temp_dir("kvflow-test-redis-");
    let port = free_port();
    let script = r#"redis-server --port "$1" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$2" >"$2/server.log" 2>&1 &
server=$!
read -r _ || true
kill "$server" 2>/dev/null
wait "$server"
rm -rf "$2""#;
    let mut watchdog = watchdog(script, &[&port.to_string(), &path_arg(&dir)]);
    wait_until_ready("redis-server", &dir.join("server.log"), || {
        redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .and_then(|c| c.get_connection())
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok()
    });
    Ok(RedisServer(running(port, &mut watchdog)))
}

const NO_POSTGRES: &str = "PostgreSQL's initdb and postgres not found (in \
    /usr/lib/postgresql/*/bin or on PATH; apt-get install postgresql)";

const NO_POSTGRES_USER: &str =
    "running as root, and no `postgres` user and `runuser` to run PostgreSQL as";

fn start_postgres() -> Result<PostgresServer, String> {
    let bin = postgres_bin_dir().ok_or(NO_POSTGRES)?;
    let as_user = postgres_runner()?;
    let dir = kept_temp_dir("kvflow-test-postgres-");
    init_cluster(&bin, &dir, &as_user);
    let port = free_port();
    let script = r#"dir="$1"; port="$2"; shift 2
"$@" -D "$dir/data" -p "$port" -k "$dir" -c listen_addresses=127.0.0.1 \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off >"$dir/server.log" 2>&1 &
read -r _ || true
kill -INT "$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)" 2>/dev/null
wait
rm -rf "$dir""#;
    let mut args = vec![path_arg(&dir), port.to_string()];
    args.extend(as_user);
    args.push(path_arg(&bin.join("postgres")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut watchdog = watchdog(script, &args);
    let admin = format!("host=127.0.0.1 port={port} user=postgres dbname=postgres");
    wait_until_ready("postgres", &dir.join("server.log"), || {
        postgres::Client::connect(&admin, postgres::NoTls).is_ok()
    });
    postgres::Client::connect(&admin, postgres::NoTls)
        .and_then(|mut c| c.batch_execute("CREATE DATABASE test"))
        .expect("CREATE DATABASE test");
    Ok(PostgresServer(running(port, &mut watchdog)))
}

/// The prefix that runs PostgreSQL's programs: nothing, or as root (which PostgreSQL refuses
/// to run as) `runuser -u postgres --`.
fn postgres_runner() -> Result<Vec<String>, String> {
    if !is_root() {
        return Ok(Vec::new());
    }
    if !tool_exists("runuser") || !user_exists("postgres") {
        return Err(NO_POSTGRES_USER.into());
    }
    Ok(["runuser", "-u", "postgres", "--"]
        .map(String::from)
        .to_vec())
}

/// `initdb` of a cluster in `dir/data` whose superuser `postgres` needs no password; as root,
/// `dir` is handed to the `postgres` user first.
fn init_cluster(bin: &Path, dir: &Path, as_user: &[String]) {
    if !as_user.is_empty() {
        let chowned = Command::new("chown").arg("postgres:").arg(dir).status();
        assert!(
            chowned.is_ok_and(|s| s.success()),
            "chown postgres {}",
            dir.display()
        );
    }
    let initdb = command_as(as_user, &bin.join("initdb"))
        .args(["-D", &path_arg(&dir.join("data")), "-U", "postgres"])
        .args(["--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"])
        .current_dir(dir)
        .output()
        .expect("run initdb");
    assert!(
        initdb.status.success(),
        "initdb failed:\n{}",
        String::from_utf8_lossy(&initdb.stderr)
    );
}

/// The newest `/usr/lib/postgresql/<version>/bin`, else the directory of `initdb` on PATH,
/// when it holds both `initdb` and `postgres`.
fn postgres_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .collect();
    versions.sort();
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    versions
        .into_iter()
        .rev()
        .map(|(_, bin)| bin)
        .chain(on_path)
        .find(|bin| bin.join("initdb").is_file() && bin.join("postgres").is_file())
}

/// `program` run by `as_user` (a `runuser` prefix, or nothing to run it as this user).
fn command_as(as_user: &[String], program: &Path) -> Command {
    match as_user.split_first() {
        Some((runner, runner_args)) => {
            let mut command = Command::new(runner);
            command.args(runner_args).arg(program);
            command
        }
        None => Command::new(program),
    }
}

fn user_exists(user: &str) -> bool {
    std::fs::read_to_string("/etc/passwd")
        .is_ok_and(|passwd| passwd.lines().any(|l| l.split(':').next() == Some(user)))
}

/// A new temporary directory that outlives this process's handles (the watchdog removes it).
fn kept_temp_dir(prefix: &str) -> PathBuf {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temp dir")
        .keep()
}

fn path_arg(path: &Path) -> String {
    path.to_str().expect("a UTF-8 path").to_string()
}

/// Starts `sh -c script sh args...` with its stdin a pipe from this process.
fn watchdog(script: &str, args: &[&str]) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sh")
}

fn running(port: u16, watchdog: &mut Child) -> Running {
    let lifeline = watchdog.stdin.take().expect("the watchdog's stdin");
    Running {
        port,
        _lifeline: Mutex::new(lifeline),
    }
}

/// Polls `ready` for up to 30 s; fails with the server's log (`log`) if it never is.
fn wait_until_ready(what: &str, log: &Path, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        if start.elapsed() > Duration::from_secs(30) {
            let mut text = String::new();
            let _ = std::fs::File::open(log).map(|mut f| f.read_to_string(&mut text));
            panic!("the tests' {what} did not start within 30 s; its log:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
