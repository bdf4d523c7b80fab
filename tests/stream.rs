//! `hoga stream`, the real binary: it streams from `--demo` and from a `hoga sim` given as
//! a base URL, and against a dead server it says why on stderr and exits non-zero within
//! its connect timeout instead of hanging silently. Its help lists only the global flags
//! it reads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hoga");
/// Generous: a slow, noisy 2-core machine running other tests.
const DEADLINE: Duration = Duration::from_secs(30);

/// A child process killed on drop (a failed assertion must not leave it running).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `hoga ARGS` with stdout's lines sent to the returned channel.
fn spawn_lines(args: &[&str]) -> (Killed, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (Killed(child), rx)
}

/// The first stdout line satisfying `want`, within [`DEADLINE`].
fn line_where(rx: &mpsc::Receiver<String>, what: &str, want: impl Fn(&str) -> bool) -> String {
    let end = Instant::now() + DEADLINE;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if want(&line) => return line,
            Ok(_) => {}
            Err(e) => panic!("no {what} within {DEADLINE:?}: {e}"),
        }
    }
}

/// A loopback port nothing listens on (bound, then released).
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn a_dead_server_is_reported_on_stderr_and_exits_non_zero_within_the_timeout() {
    let url = format!("ws://127.0.0.1:{}", dead_port());
    let started = Instant::now();
    let mut child = Killed(
        Command::new(BIN)
            .args(["stream", "KRW-BTC", "--url", &url, "--connect-timeout", "2"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < DEADLINE, "hoga stream still running after {DEADLINE:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(!status.success(), "{status:?} {stderr}");
    assert!(started.elapsed() >= Duration::from_secs(2), "gave up before its timeout: {stderr}");
    // The base URL got the exchange's path, and the failure names it and why.
    assert!(stderr.contains(&format!("{url}/websocket/v1")), "{stderr}");
    assert!(stderr.contains("no connection for 2s"), "{stderr}");
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
}

#[test]
fn a_base_url_of_a_running_sim_streams_lines() {
    let (_sim, sim_out) = spawn_lines(&["sim", "--port", "0", "--seed", "5", "--markets", "4"]);
    // "hoga sim (seed 5) listening on 127.0.0.1:PORT"
    let line = line_where(&sim_out, "sim address", |l| l.contains("listening on "));
    let addr = line.split_once("listening on ").unwrap().1.trim().to_string();
    let (_stream, out) = spawn_lines(&["stream", "KRW-BTC", "--url", &format!("ws://{addr}")]);
    let line = line_where(&out, "ticker line", |l| l.contains("\"kind\":\"ticker\""));
    assert!(line.contains("KRW-BTC"), "{line}");
}

#[test]
fn demo_streams_from_the_embedded_simulator() {
    for args in [["stream", "--demo", "KRW-BTC"], ["--demo", "stream", "KRW-BTC"]] {
        let (_stream, out) = spawn_lines(&args);
        let line = line_where(&out, "demo ticker line", |l| l.contains("\"kind\":\"ticker\""));
        assert!(line.contains("KRW-BTC"), "{args:?}: {line}");
    }
}

#[test]
fn stream_help_lists_only_the_global_flags_it_reads() {
    let out = Command::new(BIN).args(["stream", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in ["--demo", "--seed", "--url", "--connect-timeout"] {
        assert!(help.contains(flag), "{flag} missing:\n{help}");
    }
    for flag in ["--theme", "--mode", "--log-level", "--new-journal", "--config"] {
        assert!(!help.contains(flag), "{flag} listed though stream ignores it:\n{help}");
    }
    // The console's own help still lists them.
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("--theme") && help.contains("--mode"), "{help}");
}

/// Waits for `child` to exit within [`DEADLINE`]; its status and what it wrote on stderr.
fn finish(mut child: Killed) -> (std::process::ExitStatus, String) {
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < DEADLINE, "still running after {DEADLINE:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    (status, stderr)
}

/// `hoga stream --demo trade KRW-BTC | head -1` panicked ("failed printing to stdout:
/// Broken pipe", status 101, a backtrace). A reader that goes away after the first line
/// ends the stream quietly with status 0, as Unix tools do.
#[test]
fn a_stream_whose_reader_goes_away_ends_quietly_with_success() {
    let mut child = Command::new(BIN)
        .args(["stream", "--demo", "trade", "KRW-BTC"])
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let child = Killed(child);
    // `head -1`: read one line, then close the pipe.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut first = String::new();
        let _ = BufReader::new(out).read_line(&mut first);
        let _ = tx.send(first);
    });
    let first = rx.recv_timeout(DEADLINE).expect("a first line");
    assert!(first.contains("\"kind\":\"trade\""), "{first}");
    let (status, stderr) = finish(child);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
}

/// The same for the other commands that print to stdout: a reader that is already gone
/// (`hoga config default | true`, `hoga sim | head -1`) is a quiet success, never a
/// panic or an error.
#[test]
fn other_commands_end_quietly_when_stdout_is_a_closed_pipe() {
    let dir = std::env::temp_dir().join(format!("hoga-stream-pipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(&config, "").unwrap();
    let config = config.to_str().unwrap().to_string();
    let journal = dir.join("journal.sqlite");
    drop(hoga::trading::journal::Journal::open(&journal, &Default::default()).unwrap());
    let journal = journal.to_str().unwrap().to_string();
    for args in [
        vec!["config", "default"],
        vec!["config", "path"],
        vec!["--config", config.as_str(), "config", "check"],
        vec!["journal", "--journal", journal.as_str()],
        vec!["journal", "--json", "--journal", journal.as_str()],
        // A server too: its banner is all it prints; with no reader it stops.
        vec!["sim", "--port", "0"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let child = Command::new(BIN)
            .args(&args)
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (status, stderr) = finish(Killed(child));
        assert_eq!(status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
