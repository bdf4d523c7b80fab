//! Whole-process figures of the real console: `cargo bench --bench console`.
//!
//! Runs the release `hoga --demo --seed 7` in a 120x40 pseudo-terminal (HOME in a temp
//! dir), reads its output with a terminal emulator (`vt100`), and measures:
//!
//! - start → first frame (the status bar shows `DEMO`) and start → first live price (a
//!   row of the markets pane shows a code, a price and a change %, and a `KRW-` market is
//!   on screen), over several launches;
//! - over 10 one-second samples: bytes written to the terminal per second, and CPU of the
//!   hoga process (utime + stime from `/proc/PID/stat` in clock ticks, and the sum of the
//!   threads' `schedstat` run time in ns, which has finer resolution), under
//!   1. the demo's default stream,
//!   2. `HOGA_DEMO__RATE=1000` and `=5000` (simulated trades per second across the demo
//!      markets; each also moves its ticker, book and candles),
//!   3. idle: the embedded simulator told to go silent over its admin endpoint
//!      (`POST /admin/faults {"action":"silent","on":true}`), so nothing changes;
//! - the same CPU figures for `hoga sim` alone (demo seed and market count, no client):
//!   the demo console runs its simulator in-process, and this is the generator's share.
//!
//! Every console is quit the way a user quits the demo (`q`, no question asked; see
//! demo.tape), and the bench says so on stderr if it had to kill one instead.
//!
//! The binary is the one cargo builds for benches (`CARGO_BIN_EXE_hoga`, i.e.
//! `target/release/hoga`), or `HOGA_BENCH_BIN`. Figures go to BENCHMARKS.md, never into
//! assertions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

mod common;
use common::{cpu_ns, external_sim, locate_binary};

const COLS: u16 = 120;
const ROWS: u16 = 40;
/// Measured launches for the startup figures (after one unmeasured warm-up).
const LAUNCHES: usize = 10;
/// One-second samples per stream window.
const SAMPLES: usize = 10;
/// Give up on a launch after this long.
const LAUNCH_DEADLINE: Duration = Duration::from_secs(20);

/// What the output pump has seen so far.
struct Probe {
    parser: vt100::Parser,
    bytes: u64,
    first_frame: Option<Instant>,
    first_price: Option<Instant>,
}

/// A markets-pane row: `│ BTC    95,000,000  +1.23% …`: a code, a price, a change %.
fn has_market_price_row(contents: &str) -> bool {
    contents.lines().any(|line| {
        line.split('│').any(|seg| {
            let t: Vec<&str> = seg.split_whitespace().collect();
            let Some(code) = t.first() else { return false };
            // A name column may sit between the code and the price.
            code.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                && t.windows(2).skip(1).any(|w| {
                    w[0].chars().next().is_some_and(|c| c.is_ascii_digit())
                        && w[0].chars().all(|c| c.is_ascii_digit() || c == ',' || c == '.')
                        && w[1].ends_with('%')
                })
        })
    })
}

/// One running console in a pseudo-terminal.
struct Session {
    child: Box<dyn Child + Send + Sync>,
    pid: u32,
    started: Instant,
    probe: Arc<Mutex<Probe>>,
    master: Option<Box<dyn MasterPty + Send>>,
    writer: Option<Box<dyn Write + Send>>,
    pump: Option<std::thread::JoinHandle<()>>,
    _home: tempfile::TempDir,
}

impl Session {
    fn start(bin: &PathBuf, env: &[(&str, &str)]) -> Session {
        let home = tempfile::tempdir().unwrap();
        let pty = native_pty_system()
            .openpty(PtySize { rows: ROWS, cols: COLS, pixel_width: 0, pixel_height: 0 })
            .unwrap();
        let mut cmd = CommandBuilder::new(bin);
        // `--demo` applies the demo preset (30 markets, 300 trades/s) over the environment;
        // a window that sets its own rate runs demo mode (the default) without it.
        if env.iter().any(|(k, _)| *k == "HOGA_EXCHANGE__REST_URL") {
            // Paper mode on an external `hoga sim`: the console's own cost, alone.
            cmd.args(["--mode", "paper"]);
        } else if env.iter().any(|(k, _)| *k == "HOGA_DEMO__RATE") {
            cmd.args(["--seed", "7"]);
        } else {
            cmd.args(["--demo", "--seed", "7"]);
        }
        cmd.env_clear();
        let h = home.path();
        for (k, v) in [
            ("HOME", h.to_string_lossy().into_owned()),
            ("XDG_CONFIG_HOME", h.join("config").to_string_lossy().into_owned()),
            ("XDG_STATE_HOME", h.join("state").to_string_lossy().into_owned()),
            ("XDG_DATA_HOME", h.join("data").to_string_lossy().into_owned()),
            ("TERM", "xterm-256color".to_string()),
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            // The embedded simulator's admin token, so the idle window can silence it.
            ("HOGA_SIM_ADMIN_TOKEN", BENCH_ADMIN_TOKEN.to_string()),
        ] {
            cmd.env(k, v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.cwd(h);
        let probe = Arc::new(Mutex::new(Probe {
            parser: vt100::Parser::new(
                std::num::NonZeroU16::new(ROWS).unwrap(),
                std::num::NonZeroU16::new(COLS).unwrap(),
                0,
            ),
            bytes: 0,
            first_frame: None,
            first_price: None,
        }));
        let mut reader = pty.master.try_clone_reader().unwrap();
        let writer = pty.master.take_writer().unwrap();
        let started = Instant::now();
        let child = pty.slave.spawn_command(cmd).unwrap();
        drop(pty.slave);
        let pid = child.process_id().expect("no pid for the console");
        let feed = probe.clone();
        // The conditions are checked as the bytes arrive, so the startup figures do not
        // carry a polling interval.
        let pump = std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let now = Instant::now();
                let mut p = feed.lock().unwrap();
                p.parser.process(&buf[..n]);
                p.bytes += n as u64;
                if p.first_price.is_none() {
                    let contents = p.parser.screen().contents();
                    if p.first_frame.is_none() && (contents.contains("DEMO") || contents.contains("PAPER")) {
                        p.first_frame = Some(now);
                    }
                    if contents.contains("KRW-") && has_market_price_row(&contents) {
                        p.first_price = Some(now);
                    }
                }
            }
        });
        Session {
            child,
            pid,
            started,
            probe,
            master: Some(pty.master),
            writer: Some(writer),
            pump: Some(pump),
            _home: home,
        }
    }

    /// Waits for the first price; returns (first frame, first price) after start.
    fn wait_ready(&mut self) -> (Duration, Duration) {
        let end = Instant::now() + LAUNCH_DEADLINE;
        loop {
            {
                let p = self.probe.lock().unwrap();
                if let (Some(f), Some(l)) = (p.first_frame, p.first_price) {
                    return (f - self.started, l - self.started);
                }
                if Instant::now() > end || self.child.try_wait().unwrap().is_some() {
                    panic!(
                        "the console showed no price within {LAUNCH_DEADLINE:?} (or exited)\n--- screen ---\n{}",
                        p.parser.screen().contents()
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn bytes(&self) -> u64 {
        self.probe.lock().unwrap().bytes
    }

    fn screen(&self) -> String {
        self.probe.lock().unwrap().parser.screen().contents()
    }

    /// Quits the way a user does: `q` (demo asks no question, see demo.tape), then waits
    /// for a successful exit with the terminal restored. Falls back to SIGHUP, then
    /// SIGKILL, and says so: an unclean quit is a finding, not a reason to hang the bench.
    fn stop(mut self) {
        let mut clean = false;
        if let Some(w) = self.writer.as_mut() {
            let _ = w.write_all(b"q");
            let _ = w.flush();
        }
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    clean = status.success();
                    if !clean {
                        eprintln!("console bench: hoga exited with {status:?} after `q`");
                    }
                    break;
                }
                Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    eprintln!("console bench: hoga did not exit within 5 s of `q`; killing it");
                    // portable-pty's kill is SIGHUP, handled like a closed terminal.
                    let _ = self.child.kill();
                    let end = Instant::now() + Duration::from_secs(5);
                    while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < end {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    if matches!(self.child.try_wait(), Ok(None)) {
                        let _ =
                            std::process::Command::new("kill").args(["-9", &self.pid.to_string()]).status();
                        let _ = self.child.wait();
                    }
                    break;
                }
            }
        }
        drop(self.writer.take());
        drop(self.master.take());
        if let Some(p) = self.pump.take() {
            let _ = p.join();
        }
        if clean {
            let p = self.probe.lock().unwrap();
            if p.parser.screen().alternate_screen() || p.parser.screen().hide_cursor() {
                eprintln!("console bench: hoga exited but left the terminal in the alternate screen");
            }
        }
    }
}

/// Clock ticks per second for `/proc/PID/stat`.
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of the whole process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of proc(5); `after` starts at field 3.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// Loopback TCP ports the process listens on (its sockets matched against /proc/net/tcp).
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter_map(|l| {
                    l.to_str().and_then(|s| s.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_string))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9
                && f[3] == "0A"
                && inodes.contains(f[9])
                && let Some(port) = f[1].rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok())
            {
                ports.push(port);
            }
        }
    }
    ports
}

/// The admin token the console's embedded simulator is given (`HOGA_SIM_ADMIN_TOKEN`).
const BENCH_ADMIN_TOKEN: &str = "hoga-bench-admin-token-0001";

/// Tells the console's embedded simulator to go silent; true when one listener accepted.
fn silence_simulator(pid: u32) -> bool {
    let body = r#"{"action":"silent","on":true}"#;
    for port in listening_ports(pid) {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { continue };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let req = format!(
            "POST /admin/faults HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
             Authorization: Bearer {BENCH_ADMIN_TOKEN}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        if s.write_all(req.as_bytes()).is_err() {
            continue;
        }
        let mut resp = String::new();
        let _ = s.read_to_string(&mut resp);
        if resp.starts_with("HTTP/1.1 200") {
            return true;
        }
    }
    false
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    // Nearest rank: with 10 samples p99 is the largest.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    (pct(&v, 50.0), pct(&v, 99.0), mean)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Window {
    bytes_per_s: Vec<f64>,
    cpu_ticks_pct: Vec<f64>,
    cpu_ns_pct: Vec<f64>,
    total_bytes_per_s: f64,
    total_ticks_pct: f64,
    total_ns_pct: f64,
    rss_kb: u64,
}

/// SAMPLES one-second samples of output bytes (as `bytes` counts them) and CPU of `pid`.
fn measure_window(pid: u32, bytes: impl Fn() -> u64, hz: f64) -> Window {
    let mut w = Window {
        bytes_per_s: Vec::new(),
        cpu_ticks_pct: Vec::new(),
        cpu_ns_pct: Vec::new(),
        total_bytes_per_s: 0.0,
        total_ticks_pct: 0.0,
        total_ns_pct: 0.0,
        rss_kb: 0,
    };
    let (t0, b0, k0, n0) = (Instant::now(), bytes(), cpu_ticks(pid), cpu_ns(pid));
    let (mut t, mut b, mut k, mut n) = (t0, b0, k0, n0);
    for i in 1..=SAMPLES {
        // Sample on a fixed grid, so a late wake-up does not accumulate.
        let target = t0 + Duration::from_secs(i as u64);
        std::thread::sleep(target.saturating_duration_since(Instant::now()));
        let (t1, b1, k1, n1) = (Instant::now(), bytes(), cpu_ticks(pid), cpu_ns(pid));
        let dt = (t1 - t).as_secs_f64();
        w.bytes_per_s.push((b1 - b) as f64 / dt);
        w.cpu_ticks_pct.push((k1 - k) as f64 / hz / dt * 100.0);
        w.cpu_ns_pct.push(n1.saturating_sub(n) as f64 / 1e9 / dt * 100.0);
        (t, b, k, n) = (t1, b1, k1, n1);
    }
    let dt = (t - t0).as_secs_f64();
    w.total_bytes_per_s = (b - b0) as f64 / dt;
    w.total_ticks_pct = (k - k0) as f64 / hz / dt * 100.0;
    w.total_ns_pct = n.saturating_sub(n0) as f64 / 1e9 / dt * 100.0;
    w.rss_kb = rss_kb(pid);
    w
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` / `--all-targets` does not, and
    // gets a quick skip instead of minutes of measuring.
    if !std::env::args().any(|a| a == "--bench") {
        println!("console bench: skipped (run it with `cargo bench --bench console`)");
        return;
    }
    let Some(bin) = locate_binary() else {
        eprintln!(
            "console bench: no release `hoga` binary next to {:?}.\n\
             Run `cargo build --release` first (or set HOGA_BENCH_BIN=/path/to/hoga).",
            std::env::current_exe().ok()
        );
        std::process::exit(2);
    };
    let hz = clock_ticks();
    println!("console: {} --demo --seed 7 in a {COLS}x{ROWS} pty", bin.display());
    println!();

    // --- startup
    let warm = Session::start(&bin, &[]);
    let mut w = warm;
    w.wait_ready();
    w.stop();
    let mut frame = Vec::new();
    let mut price = Vec::new();
    for _ in 0..LAUNCHES {
        let mut s = Session::start(&bin, &[]);
        let (f, p) = s.wait_ready();
        frame.push(ms(f));
        price.push(ms(p));
        s.stop();
    }
    let (f50, f99, fmean) = stats(frame.clone());
    let (p50, p99, pmean) = stats(price.clone());
    println!("startup, {LAUNCHES} launches after one warm-up (ms)");
    println!("{:<36} {:>8} {:>8} {:>8} {:>8}", "measure", "p50", "p99", "mean", "target");
    println!(
        "{:<36} {:>8.1} {:>8.1} {:>8.1} {:>8}",
        "start -> first frame (DEMO)", f50, f99, fmean, "<= 100"
    );
    println!(
        "{:<36} {:>8.1} {:>8.1} {:>8.1} {:>8}",
        "start -> first price in markets", p50, p99, pmean, "<= 500"
    );
    println!("  first frame samples: {frame:.1?}");
    println!("  first price samples: {price:.1?}");
    println!();

    // --- streams
    println!("stream windows: {SAMPLES} one-second samples each, 2 s after the first price (CLK_TCK {hz})");
    println!(
        "{:<30} {:>10} {:>10} {:>10} | {:>7} {:>7} {:>7} | {:>7} {:>7} {:>7} | {:>7}",
        "window",
        "B/s p50",
        "B/s p99",
        "B/s mean",
        "cpu p50",
        "p99",
        "mean",
        "ns p50",
        "p99",
        "mean",
        "RSS MB"
    );
    /// Name, extra environment, silence the simulator first.
    type StreamWindow<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
    let windows: [StreamWindow; 5] = [
        ("--demo preset (300 trades/s)", &[], false),
        ("HOGA_DEMO__RATE=20 (default)", &[("HOGA_DEMO__RATE", "20")], false),
        ("HOGA_DEMO__RATE=1000", &[("HOGA_DEMO__RATE", "1000")], false),
        ("HOGA_DEMO__RATE=5000", &[("HOGA_DEMO__RATE", "5000")], false),
        ("idle (rate 1, then silent)", &[("HOGA_DEMO__RATE", "1")], true),
    ];
    for (name, env, silent) in windows {
        let mut s = Session::start(&bin, env);
        s.wait_ready();
        std::thread::sleep(Duration::from_secs(2));
        if silent {
            if !silence_simulator(s.pid) {
                println!("{name:<30} could not reach the simulator's admin endpoint; skipped");
                s.stop();
                continue;
            }
            // Let the last updates drain and the screen settle.
            std::thread::sleep(Duration::from_secs(3));
        }
        let w = measure_window(s.pid, || s.bytes(), hz);
        print_window(name, &w);
        if std::env::var_os("HOGA_BENCH_SCREEN").is_some() {
            println!("{}", s.screen());
        }
        s.stop();
    }
    // The flood publishes a ticker / trade / order book mix over the 20 markets; the
    // console subscribes to every ticker but to the trades and book of one market, so
    // about a third reaches it: 15,000 published ≈ 5,000 msgs/s received (the status
    // bar's figure is printed under the row).
    let flood: &[&str] = &["--flood", "1000000000", "--flood-rate", "15000", "--no-rate-limits"];
    for (name, sim_args, port) in [
        ("paper, external sim 20 trades/s", &["--tick-ms", "50"][..], 17_731u16),
        ("paper, external sim 1000 trades/s", &["--tick-ms", "1"][..], 17_732),
        ("paper, external sim ~5k msgs/s", flood, 17_733),
    ] {
        let Some(mut sim) = external_sim(&bin, sim_args, port) else {
            println!("{name:<30} could not start `hoga sim`; skipped");
            continue;
        };
        let rest = format!("http://127.0.0.1:{port}/v1");
        let ws = format!("ws://127.0.0.1:{port}");
        let mut s = Session::start(
            &bin,
            &[("HOGA_EXCHANGE__REST_URL", rest.as_str()), ("HOGA_EXCHANGE__WS_URL", ws.as_str())],
        );
        s.wait_ready();
        std::thread::sleep(Duration::from_secs(2));
        let w = measure_window(s.pid, || s.bytes(), hz);
        print_window(name, &w);
        let screen = s.screen();
        let status = screen.lines().next().unwrap_or("");
        if let Some(rate) = status.split('│').find(|part| part.contains("msg/s")) {
            println!("{:<30} received (status bar):{rate}", "");
        }
        s.stop();
        let _ = sim.kill();
        let _ = sim.wait();
    }
    match sim_alone(&bin, hz) {
        Some(w) => print_window("hoga sim alone, no client", &w),
        None => println!("{:<30} could not start `hoga sim`; skipped", "hoga sim alone, no client"),
    }
    println!();
    println!("The demo console runs its simulator in-process: its CPU figures include the market");
    println!("generator, whose cost alone is the last row (a lower bound: it sends nothing there).");
    println!("targets: terminal output <= 1 MB/s under a full-market stream; CPU idle <= 0.2% of one core;");
    println!("         whole console at 5k msgs/s, 30 fps <= 5% of one core (the demo stream is lighter).");
}

fn print_window(name: &str, w: &Window) {
    let (b50, b99, bmean) = stats(w.bytes_per_s.clone());
    let (c50, c99, cmean) = stats(w.cpu_ticks_pct.clone());
    let (n50, n99, nmean) = stats(w.cpu_ns_pct.clone());
    println!(
        "{name:<30} {b50:>10.0} {b99:>10.0} {bmean:>10.0} | {c50:>6.2}% {c99:>6.2}% {cmean:>6.2}% | \
         {n50:>6.2}% {n99:>6.2}% {nmean:>6.2}% | {:>7.1}",
        w.rss_kb as f64 / 1024.0
    );
    println!(
        "{:<30} whole window: {:.0} B/s, CPU {:.2}% (ticks) / {:.2}% (schedstat)",
        "", w.total_bytes_per_s, w.total_ticks_pct, w.total_ns_pct
    );
}

/// The demo's simulator as its own process (`hoga sim` with the demo's seed and market
/// count, nobody connected), measured like the console: the generator's share of the
/// demo console's CPU. Stopped with SIGINT, as Ctrl-C would.
fn sim_alone(bin: &PathBuf, hz: f64) -> Option<Window> {
    let mut child = std::process::Command::new(bin)
        .args(["sim", "--seed", "7", "--markets", "20"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let pid = child.id();
    std::thread::sleep(Duration::from_secs(2));
    let w = match child.try_wait() {
        Ok(None) => Some(measure_window(pid, || 0, hz)),
        _ => None,
    };
    let _ = std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status();
    let end = Instant::now() + Duration::from_secs(5);
    while matches!(child.try_wait(), Ok(None)) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    if matches!(child.try_wait(), Ok(None)) {
        eprintln!("console bench: `hoga sim` ignored SIGINT for 5 s; killing it");
        let _ = child.kill();
        let _ = child.wait();
    }
    w
}
