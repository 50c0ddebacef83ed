//! Starting `kvflow serve` (the real binary) and a real `redis-server` on free ports for the
//! serve tests, and the tools they drive (`redis-cli`, `redis-benchmark`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, kvflow, skipped, tool_exists};

/// Whether the Redis tool `tool` is installed; when it is not, says that the running test is
/// skipped and why.
pub fn have_tool(tool: &str) -> bool {
    let found = tool_exists(tool);
    if !found {
        let package = match tool {
            "redis-server" => "redis-server",
            _ => "redis-tools",
        };
        skipped(&format!("{tool} not found (apt-get install {package})"));
    }
    found
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} did not listen on port {port}");
}

/// A running `kvflow serve`.
pub struct Serve {
    pub child: Child,
    pub port: u16,
    pub stderr: PathBuf,
}

impl Serve {
    /// Starts `kvflow serve --listen 127.0.0.1:<port> <args>`; stderr goes to `log_dir`.
    pub fn start(args: &[&str], log_dir: &Path) -> Serve {
        Serve::start_on(free_port(), args, log_dir)
    }

    pub fn start_on(port: u16, args: &[&str], log_dir: &Path) -> Serve {
        Serve::launch(kvflow(), port, args, log_dir)
    }

    /// Starts it under a limit of `open_files` descriptors (`ulimit -n`).
    pub fn start_with_open_files(open_files: u32, args: &[&str], log_dir: &Path) -> Serve {
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(format!("ulimit -n {open_files} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_kvflow"));
        Serve::launch(shell, free_port(), args, log_dir)
    }

    fn launch(mut command: Command, port: u16, args: &[&str], log_dir: &Path) -> Serve {
        let stderr = log_dir.join(format!("serve-{port}.log"));
        let log = std::fs::File::create(&stderr).expect("log file");
        let mut child = command
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start kvflow serve");
        wait_for_port(port, &mut child, "kvflow serve");
        Serve {
            child,
            port,
            stderr,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("connect to kvflow serve")
    }

    /// A client that authenticates with `password`.
    pub fn client_with_password(&self, password: &str) -> redis::Connection {
        redis::Client::open(format!("redis://:{password}@127.0.0.1:{}/", self.port))
            .and_then(|c| c.get_connection())
            .expect("connect to kvflow serve")
    }

    /// The server's resident memory in KiB (`VmRSS` of /proc/<pid>/status).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/<pid>/status")
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let status = self.child.wait().expect("wait");
        std::mem::forget(self);
        status
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real `redis-server` without persistence, for comparisons.
pub struct RealRedis {
    child: Child,
    pub port: u16,
}

impl RealRedis {
    /// A new server, or `None` (after saying why) when `redis-server` is not installed.
    pub fn start() -> Option<RealRedis> {
        if !have_tool("redis-server") {
            return None;
        }
        let port = free_port();
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        wait_for_port(port, &mut child, "redis-server");
        Some(RealRedis { child, port })
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .and_then(|c| c.get_connection())
            .expect("connect to redis-server")
    }
}

impl Drop for RealRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends raw bytes and reads until the server closes the connection (or 20 s pass).
pub fn raw_exchange(port: u16, bytes: &[u8]) -> (Vec<u8>, bool) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    // NB: the server may close before it has read everything (a limit it enforces); the
    // write then fails, and what it replied before closing is still read below.
    let _ = stream.write_all(bytes);
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    let closed = loop {
        match stream.read(&mut chunk) {
            Ok(0) => break true,
            Ok(n) => reply.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    (reply, closed)
}

/// A numeric field of `INFO` (panics when it is missing).
pub fn info_number(conn: &mut redis::Connection, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").query(conn).expect("INFO");
    let prefix = format!("{field}:");
    info.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO:\n{info}"))
}

/// Runs `kvflow <args>`, which must exit by itself; its output (a run still going after
/// 20 s is killed and fails the test: it did not refuse what it was given).
pub fn run_to_exit(args: &[&str]) -> std::process::Output {
    let mut child = kvflow()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kvflow");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait");
            panic!(
                "kvflow {args:?} kept running; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("wait")
}
