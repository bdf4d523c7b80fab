//! Helpers shared by the benches: settings from the environment, percentiles, and for
//! the benches that run the release binary (`console`, `orders`), finding and starting it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The release console binary.
pub fn locate_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("HOGA_BENCH_BIN") {
        return Some(PathBuf::from(p));
    }
    if let Some(p) = option_env!("CARGO_BIN_EXE_hoga") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Some(p);
        }
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors().skip(1).map(|d| d.join("hoga")).find(|p| p.is_file())
}

/// `hoga sim` on a fixed port with `args` (a trade every `--tick-ms`, or a flood); ready
/// when its port answers.
pub fn external_sim(bin: &PathBuf, args: &[&str], port: u16) -> Option<std::process::Child> {
    let mut child = std::process::Command::new(bin)
        .args(["sim", "--seed", "7", "--markets", "20", "--port", &port.to_string()])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(child);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Run time of the live threads, in ns (finer than clock ticks).
pub fn cpu_ns(pid: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .sum()
}

/// A count from the environment (`HOGA_BENCH_…`), or `default`.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The `p` quantile (0..=1) of sorted samples, nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One line of a bench's table: `name n=… p50 … p90 … p99 … max …` (truncating rank, as
/// the render and studies tables have always been read).
pub fn percentiles(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let p = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    println!(
        "{name:<28} n={:<5} p50 {:>8.1?} p90 {:>8.1?} p99 {:>8.1?} max {:>8.1?}",
        samples.len(),
        p(0.50),
        p(0.90),
        p(0.99),
        samples[samples.len() - 1]
    );
}
