//! Helpers shared by the benchmarks.

use std::io::{Read, Write};

/// Peak RSS (MiB) and CPU seconds (user + system) of process `pid`, from /proc.
pub fn proc_sample(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hwm_kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some((hwm_kib / 1024.0, ticks / 100.0))
}

/// The number after `name` on the command line (`-- --minutes 10`), or `default`.
#[allow(dead_code)] // not every benchmark takes every helper
pub fn arg(name: &str, default: f64) -> f64 {
    std::env::args()
        .skip_while(|a| a != name)
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one measured run of a child process did.
#[allow(dead_code)] // not every benchmark measures child processes
pub struct Figures {
    /// Wall time until it exited.
    pub wall: std::time::Duration,
    /// Its CPU seconds (user + system), as last sampled.
    pub cpu_s: f64,
    /// Its peak RSS, MiB.
    pub peak_rss_mib: f64,
    /// What it wrote to stderr.
    pub stderr: String,
    /// Whether it exited 0.
    pub ok: bool,
}

/// Runs the built `ccxt-cli` with `args` (no `CCXT_*`/`RUST_LOG` from the environment),
/// measured by [`measure`].
#[allow(dead_code)]
pub fn run_cli(args: &[&str]) -> Figures {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ccxt-cli"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CCXT_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.args(args);
    measure(cmd)
}

/// Runs `cmd` (stdout discarded) and samples its CPU and peak RSS until it ends.
#[allow(dead_code)]
pub fn measure(mut cmd: std::process::Command) -> Figures {
    use std::process::Stdio;
    let started = std::time::Instant::now();
    let mut child = match cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start {:?}: {e}", cmd.get_program());
            std::process::exit(1);
        }
    };
    let pid = child.id();
    let stderr_pipe = child.stderr.take();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = stderr_pipe {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
        }
        text
    });
    let (mut rss, mut cpu) = (0.0, 0.0);
    let status = loop {
        if let Some((r, c)) = proc_sample(pid) {
            rss = f64::max(rss, r);
            cpu = c;
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(20)),
            Err(e) => {
                eprintln!("wait failed: {e}");
                std::process::exit(1);
            }
        }
    };
    Figures {
        wall: started.elapsed(),
        cpu_s: cpu,
        peak_rss_mib: rss,
        stderr: stderr_reader.join().unwrap_or_default(),
        ok: status.success(),
    }
}

/// A blocking HTTP/1.1 GET on loopback: status (0 when nothing answers) and body.
#[allow(dead_code)]
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    let _ = write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    );
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
