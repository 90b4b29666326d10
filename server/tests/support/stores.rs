//! Real Redis and Postgres servers for the session-store tests, each in its own temp dir on a free loopback
//! port, stopped by PID when the handle is dropped.
//!
//! The binaries come from the Debian packages `redis-server` and `postgresql` (`./dev setup` installs
//! them). A missing binary fails the test with that hint: these tests never skip. Postgres refuses to run as
//! root, so as root its `initdb` and `postgres` run as the `postgres` user (`setpriv`, which execs, so the
//! PID we hold is the server's own), in a temp dir handed to that user.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// How long a server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A free loopback port (free when asked; the servers bind it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap().port()
}

/// The log of a server that failed, for the panic message.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Stops `child` by PID: `signal` first (a clean shutdown), SIGKILL after 10 s.
fn stop(child: &mut Child, signal: &str) {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args([signal, &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits until `ready()` or the child exits or time runs out; panics with the log in the latter cases.
fn wait_ready(what: &str, child: &mut Child, log: &Path, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if ready() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited at start ({status}); its log:\n{}", log_tail(log));
        }
        assert!(
            Instant::now() < deadline,
            "{what} not ready after {READY_TIMEOUT:?}; its log:\n{}",
            log_tail(log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `redis-server` of our own.
pub struct RedisServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Child,
    // Last: removed after the server stopped.
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts `redis-server` without persistence on a free port.
    pub fn start() -> Self {
        let binary = which("redis-server").unwrap_or_else(|| {
            panic!("redis-server is not installed: run `./dev setup` (it installs the Debian package redis-server)")
        });
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("redis.log");
        let port = free_port();
        let mut child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server: {e}"));
        wait_ready("redis-server", &mut child, &log, || ping_redis(port));
        Self { port, child, _dir: dir }
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        stop(&mut self.child, "-TERM");
    }
}

/// Whether Redis answers `PING` (a bare RESP inline command) on `port`.
fn ping_redis(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 16];
    s.write_all(b"PING\r\n").is_ok() && s.read(&mut buf).is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
}

/// A Postgres cluster of our own: `initdb` in a temp dir, then `postgres` on a free port, trust auth on
/// loopback for the user `postgres`.
pub struct PostgresServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Child,
    // Last: removed after the server stopped.
    _dir: tempfile::TempDir,
}

impl PostgresServer {
    /// Creates a cluster and starts it.
    pub fn start() -> Self {
        let bin = postgres_bin_dir().unwrap_or_else(|| {
            panic!(
                "postgres is not installed (no /usr/lib/postgresql/*/bin/postgres): run `./dev setup` (it installs \
                 the Debian package postgresql)"
            )
        });
        let as_root = is_root();
        let dir = tempfile::tempdir().unwrap();
        if as_root {
            let status = Command::new("chown").arg("postgres:postgres").arg(dir.path()).status().unwrap();
            assert!(status.success(), "chown postgres {}: {status}", dir.path().display());
        }
        let data = dir.path().join("data");
        let log = dir.path().join("postgres.log");
        let command = |program: &str| {
            let mut c = if as_root {
                let mut c = Command::new("setpriv");
                c.args(["--reuid=postgres", "--regid=postgres", "--init-groups", "--"])
                    .arg(bin.join(program));
                c
            } else {
                Command::new(bin.join(program))
            };
            c.stdin(Stdio::null()).env("LC_ALL", "C").env_remove("PGDATA");
            c
        };
        let initdb = command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "--no-sync", "--no-locale", "-E", "UTF8"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run initdb: {e}"));
        assert!(
            initdb.status.success(),
            "initdb failed ({}):\n{}{}",
            initdb.status,
            String::from_utf8_lossy(&initdb.stdout),
            String::from_utf8_lossy(&initdb.stderr)
        );
        let port = free_port();
        let log_file = std::fs::File::create(&log).unwrap();
        let mut child = command("postgres")
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .arg("-k")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start postgres: {e}"));
        let pg_isready = bin.join("pg_isready");
        wait_ready("postgres", &mut child, &log, || {
            Command::new(&pg_isready)
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "-d", "postgres"])
                .status()
                .is_ok_and(|s| s.success())
        });
        Self { port, child, _dir: dir }
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        // SIGINT: "fast shutdown", the backends end with the postmaster.
        stop(&mut self.child, "-INT");
    }
}

/// `program` on `PATH` (or in /usr/sbin, /usr/bin).
fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `postgres`.
fn postgres_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Whether this process runs as root (`id -u`; the crate forbids the unsafe a libc call would need).
fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
