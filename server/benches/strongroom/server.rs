//! The server under test: the release binary started as a separate process
//! on the benchmark's port, waited for until `/readyz` answers, and its
//! memory read from `/proc`.

use std::{
    path::{Path, PathBuf},
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use crate::{PORT, common};

pub(crate) struct Server {
    child: Child,
    pub(crate) url: String,
    pub(crate) data_dir: PathBuf,
    pub(crate) ready_after: Duration,
}

impl Server {
    /// Starts the release binary and waits for `/readyz`.
    pub(crate) fn spawn(bin: &Path, site: &Path, database: Option<&str>, fresh: bool) -> Server {
        Self::start(bin, site, database, fresh, &[])
    }

    /// A fresh server on SQLite with these settings added.
    pub(crate) fn spawn_with(bin: &Path, site: &Path, settings: &[(&str, &str)]) -> Server {
        Self::start(bin, site, None, true, settings)
    }

    fn start(
        bin: &Path,
        site: &Path,
        database: Option<&str>,
        fresh: bool,
        settings: &[(&str, &str)],
    ) -> Server {
        let url = format!("http://127.0.0.1:{PORT}");
        let data_dir = std::env::temp_dir().join(format!("strongroom-bench-{PORT}"));
        if fresh || !data_dir.exists() {
            let _ = std::fs::remove_dir_all(&data_dir);
        }
        // The benchmark reveals thousands of times as one user: the shared
        // command has the rate limit off.
        let mut cmd = common::server_command(bin, PORT, &data_dir);
        cmd.env("STRONGROOM_SITE_ROOT", site)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .envs(settings.iter().copied());
        if let Some(db) = database {
            // Replicas on PostgreSQL need configured audit keys (the same
            // ones the integration tests use on this database).
            cmd.env("STRONGROOM_DATABASE_URL", db)
                .env(
                    "STRONGROOM_AUDIT_HMAC_KEY",
                    "strongroom-test-fingerprint-key",
                )
                .env("STRONGROOM_AUDIT_CHAIN_KEY", "strongroom-test-chain-key");
        }
        let started = Instant::now();
        let child = cmd.spawn().expect("start the release server");
        let ready = format!("{url}/readyz");
        loop {
            if let Ok(r) = ureq_get(&ready)
                && r == 200
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the server did not become ready"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        Server {
            child,
            url,
            data_dir,
            ready_after: started.elapsed(),
        }
    }

    fn status_field(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/PID/status (Linux)");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or_else(|| panic!("{field} not in /proc/PID/status"))
    }

    pub(crate) fn rss(&self) -> u64 {
        self.status_field("VmRSS:")
    }

    /// RSS of anonymous memory (heap, stacks): what the server allocated,
    /// without the binary's pages that the kernel may drop and reload.
    pub(crate) fn rss_anon(&self) -> u64 {
        self.status_field("RssAnon:")
    }

    /// The server's established TCP connections to `port` on this machine
    /// (its sockets in /proc/PID/fd, matched against /proc/PID/net/tcp*).
    pub(crate) fn connections_to(&self, port: u16) -> usize {
        let pid = self.child.id();
        let inodes: std::collections::HashSet<String> =
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .expect("read /proc/PID/fd (Linux)")
                .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
                })
                .collect();
        let remote = format!(":{port:04X}");
        ["tcp", "tcp6"]
            .iter()
            .filter_map(|t| std::fs::read_to_string(format!("/proc/{pid}/net/{t}")).ok())
            .flat_map(|table| {
                table
                    .lines()
                    .skip(1)
                    .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                    .collect::<Vec<_>>()
            })
            // local, remote, state ("01" = established), …, inode (10th).
            .filter(|f| {
                f.len() > 9 && f[2].ends_with(&remote) && f[3] == "01" && inodes.contains(&f[9])
            })
            .count()
    }

    pub(crate) fn hwm(&self) -> u64 {
        self.status_field("VmHWM:")
    }

    pub(crate) fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking GET that returns the status (start-up polling must not wait
/// on a runtime that the measurement shares).
fn ureq_get(url: &str) -> std::io::Result<u16> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut s = std::net::TcpStream::connect(host)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("not HTTP"))
}
