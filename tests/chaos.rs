//! Console chaos: the real `hoga --demo` in a pseudo-terminal, read with a terminal
//! emulator (`vt100`), while things go wrong around it (issue 15, item 1).
//!
//! - a panic injected into a supervised task (failpoints, `HOGA_FAILPOINTS`) leaves the
//!   screen drawing, with the alarm on it; the monitor's also turns trading REDUCING;
//! - a panic in the UI loop itself restarts the loop on the same terminal;
//! - the terminal hanging up ends the process without a panic;
//! - SIGTERM and SIGHUP exit with 143 and 129, the terminal restored;
//! - Ctrl-Z stops the process with the terminal restored, and `fg` redraws it;
//! - a storm of resizes leaves a correct screen.
//!
//! Every wait has a deadline; nothing sleeps for correctness.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TempHome;
use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

/// How long the console gets to start, or to show what a check waits for. Generous: the
/// debug binary on a busy 2-core machine.
const DEADLINE: Duration = Duration::from_secs(40);

type Screen = Arc<Mutex<vt100::Parser>>;

/// One console in a pseudo-terminal.
struct Console {
    child: Box<dyn Child + Send + Sync>,
    master: Option<Box<dyn MasterPty + Send>>,
    writer: Option<Box<dyn Write + Send>>,
    screen: Screen,
    /// Every byte the program wrote (the screen forgets what was overwritten).
    raw: Arc<Mutex<Vec<u8>>>,
    stop_pump: Arc<AtomicBool>,
    pump: Option<std::thread::JoinHandle<()>>,
    _home: TempHome,
}

/// The environment of a clean run (a fresh HOME, no user config), with these failpoints.
fn command(program: &str, args: &[&str], failpoints: &str, home: &TempHome) -> CommandBuilder {
    let mut cmd = home.command(program);
    cmd.args(args);
    cmd.env("HOGA_FAILPOINTS", failpoints);
    cmd
}

impl Console {
    /// `hoga --demo` with these failpoints armed.
    fn start(failpoints: &str) -> Console {
        Console::spawn(|home| {
            command(env!("CARGO_BIN_EXE_hoga"), &["--demo", "--seed", "7"], failpoints, home)
        })
    }

    fn spawn(make: impl FnOnce(&TempHome) -> CommandBuilder) -> Console {
        let (rows, cols) = (40, 200);
        let home = TempHome::new();
        let pty =
            native_pty_system().openpty(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 }).unwrap();
        let child = pty.slave.spawn_command(make(&home)).unwrap();
        drop(pty.slave);
        let screen: Screen = Arc::new(Mutex::new(vt100::Parser::new(nz(rows), nz(cols), 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let stop_pump = Arc::new(AtomicBool::new(false));
        // Non-blocking reads, so the pump can be stopped and every descriptor of the
        // master closed (that is what hangs the terminal up).
        set_nonblocking(pty.master.as_raw_fd().unwrap());
        let mut reader = pty.master.try_clone_reader().unwrap();
        let (feed, log, stop) = (screen.clone(), raw.clone(), stop_pump.clone());
        let pump = std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            while !stop.load(Ordering::SeqCst) {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        feed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).process(&buf[..n]);
                        log.lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .extend_from_slice(&buf[..n]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    // EIO: the slave side is closed (the program exited).
                    Err(_) => break,
                }
            }
        });
        let writer = pty.master.take_writer().unwrap();
        Console {
            child,
            master: Some(pty.master),
            writer: Some(writer),
            screen,
            raw,
            stop_pump,
            pump: Some(pump),
            _home: home,
        }
    }

    fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Waits until `ok` holds for the screen, or fails showing it.
    fn wait_for(&self, what: &str, ok: impl Fn(&vt100::Screen) -> bool) {
        let end = Instant::now() + DEADLINE;
        loop {
            {
                let p = self.screen.lock().unwrap();
                if ok(p.screen()) {
                    return;
                }
                if Instant::now() > end {
                    panic!("timed out waiting for {what}\n--- screen ---\n{}", p.screen().contents());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for_text(&self, text: &str) {
        self.wait_for(&format!("{text:?} on screen"), |s| s.contents().contains(text));
    }

    /// The console is up: the demo's status bar and a market's price.
    fn wait_until_up(&self) {
        self.wait_for("the console with prices", |s| {
            let c = s.contents();
            s.alternate_screen() && c.contains("DEMO") && c.contains("KRW-BTC")
        });
    }

    /// The screen keeps changing outside the status bar (the clock): prices and tapes move,
    /// so frames are still reaching the terminal. Waits for two changes in a row.
    fn wait_for_live_screen(&self) {
        for _ in 0..2 {
            let before = self.body();
            let end = Instant::now() + DEADLINE;
            loop {
                std::thread::sleep(Duration::from_millis(100));
                let now = self.body();
                if now != before && self.screen.lock().unwrap().screen().alternate_screen() {
                    break;
                }
                assert!(
                    Instant::now() < end,
                    "the screen stopped changing (frozen console)\n--- screen ---\n{}",
                    self.contents()
                );
            }
        }
    }

    /// The screen without the rows that show the clock (the status bar).
    fn body(&self) -> String {
        self.contents().lines().filter(|l| !l.contains("KST")).collect::<Vec<_>>().join("\n")
    }

    fn keys(&mut self, bytes: &[u8]) {
        let w = self.writer.as_mut().unwrap();
        w.write_all(bytes).unwrap();
        w.flush().unwrap();
    }

    fn pid(&self) -> u32 {
        self.child.process_id().unwrap()
    }

    fn signal(&self, name: &str) {
        let status =
            std::process::Command::new("kill").args([&format!("-{name}"), &self.pid().to_string()]).status();
        assert!(status.unwrap().success(), "kill -{name}");
    }

    /// Waits for the exit; returns its status.
    fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let end = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < end,
                "hoga did not exit\n{}\n--- screen ---\n{}",
                self.diagnose(),
                self.contents()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What a stuck process is doing: each thread's state and wait channel, and the end of
    /// its log file.
    fn diagnose(&self) -> String {
        let pid = self.pid();
        let mut out = String::new();
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for t in tasks.flatten() {
                let p = t.path();
                let read = |f: &str| std::fs::read_to_string(p.join(f)).unwrap_or_default();
                let stat = read("stat");
                let state = stat.split(") ").nth(1).and_then(|s| s.chars().next()).unwrap_or('?');
                out.push_str(&format!(
                    "thread {} {} {state} {}\n",
                    t.file_name().to_string_lossy(),
                    read("comm").trim(),
                    read("wchan")
                ));
            }
        }
        if std::env::var("CHAOS_GDB").is_ok() {
            let bt = std::process::Command::new("gdb")
                .args(["-p", &pid.to_string(), "-batch", "-ex", "thread apply all bt 30"])
                .output()
                .unwrap();
            out.push_str(&String::from_utf8_lossy(&bt.stdout));
        }
        let mut logs = Vec::new();
        let mut dirs = vec![self._home.path().to_path_buf()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.to_string_lossy().contains("log") {
                    logs.push(p);
                }
            }
        }
        for l in logs {
            let text = std::fs::read_to_string(&l).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(25).collect();
            out.push_str(&format!("--- {} ---\n", l.display()));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// The terminal's local modes (`ICANON`, `ECHO`… as words), read on the master side.
    fn local_modes(&self) -> Vec<String> {
        let termios = self.master.as_ref().unwrap().get_termios().unwrap();
        format!("{:?}", termios.local_flags)
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Cooked mode again (canonical input, echo) and the normal screen with a cursor.
    fn assert_terminal_restored(&self) {
        self.wait_for("the normal screen with a cursor", |s| !s.alternate_screen() && !s.hide_cursor());
        let modes = self.local_modes();
        assert!(
            modes.iter().any(|m| m == "ICANON") && modes.iter().any(|m| m == "ECHO"),
            "the terminal is still raw: {modes:?}"
        );
    }

    fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().unwrap()).into_owned()
    }

    /// Quits with `q` and expects a clean exit.
    fn quit(&mut self) {
        self.keys(b"q");
        let status = self.wait_exit();
        assert!(status.success(), "hoga exited with {status:?}\n--- output ---\n{}", self.raw_text());
        self.assert_terminal_restored();
    }

    /// Waits for the exit, expects status `code`, and the terminal given back.
    fn expect_exit(&mut self, code: u32) {
        let status = self.wait_exit();
        assert_eq!(status.exit_code(), code, "{status:?}\n--- output ---\n{}", self.raw_text());
        self.assert_terminal_restored();
    }

    /// Closes every descriptor of the master side: the terminal hangs up.
    fn hang_up(&mut self) {
        self.stop_pump.store(true, Ordering::SeqCst);
        if let Some(p) = self.pump.take() {
            p.join().unwrap();
        }
        self.writer.take();
        self.master.take();
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.stop_pump.store(true, Ordering::SeqCst);
        if let Some(p) = self.pump.take() {
            let _ = p.join();
        }
    }
}

fn nz(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).unwrap()
}

fn set_nonblocking(fd: i32) {
    // SAFETY: fcntl on a descriptor this process owns (the pty master), flags only.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        assert!(flags >= 0);
        assert!(libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) >= 0);
    }
}

/// A task's panic (injected at the start of its first run) is an alarm on a screen that
/// keeps drawing, and the console still quits cleanly.
fn panic_in_task_keeps_the_screen(task: &str) {
    let mut c = Console::start(&format!("task.{task}=panic@1"));
    c.wait_until_up();
    let (component, name) = task.split_once('.').unwrap();
    // The alert on the status bar, and the fault at the top of the System pane's table
    // (the Log pane and the log file have the "task panicked" line).
    c.wait_for_text(&format!("PANIC {component}/{name}: failpoint"));
    c.wait_for_live_screen();
    // (A panic before the console took the terminal is printed as usual, on the shell's
    // screen: only what came after the switch to the alternate screen counts.)
    let raw = c.raw_text();
    let console = raw.find("\x1b[?1049h").map_or("", |at| &raw[at..]);
    assert!(!console.contains("panicked at"), "a panic message was printed over the console");
    c.quit();
}

#[test]
fn a_panic_in_the_order_manager_is_an_alarm_on_a_live_screen() {
    panic_in_task_keeps_the_screen("trading.order-manager");
}

#[test]
fn a_panic_in_the_markets_pump_is_an_alarm_on_a_live_screen() {
    panic_in_task_keeps_the_screen("console.markets-pump");
}

#[test]
fn a_panic_in_the_account_task_is_an_alarm_on_a_live_screen() {
    panic_in_task_keeps_the_screen("console.account-pump");
}

/// docs/RELIABILITY.md case 18 on screen: while the monitor task is down, trading is REDUCING and
/// the status bar says which task is down.
#[test]
fn a_monitor_that_keeps_panicking_shows_reducing_and_the_alarm_while_the_screen_draws() {
    // Every run panics: the monitor stays down (restarting with backoff).
    let mut c = Console::start("task.trading.monitor=panic");
    c.wait_until_up();
    c.wait_for_text("PANIC trading/monitor");
    c.wait_for("trading REDUCING with the monitor down", |s| {
        let status = s.contents();
        status.contains("REDUCING") && status.contains("TASK DOWN trading/monitor")
    });
    c.wait_for_live_screen();
    // The System pane leads with the fault.
    c.keys(b":layout system");
    c.keys(b"\r");
    c.wait_for_text("fault trading/monitor");
    c.quit();
}

/// The monitor panics once and is restarted: the alarm stays, trading is ACTIVE again.
#[test]
fn a_monitor_that_panicked_once_is_back_and_trading_is_active_again() {
    let mut c = Console::start("task.trading.monitor=panic@1");
    c.wait_until_up();
    c.wait_for_text("PANIC trading/monitor: failpoint");
    // On the status bar (the Log pane shows older "state=ACTIVE" lines): REDUCING first,
    // then ACTIVE once the restarted monitor has run for its grace period.
    let status_bar = |s: &vt100::Screen| s.contents().lines().next().unwrap_or_default().to_string();
    c.wait_for("REDUCING on the status bar", |s| status_bar(s).contains("REDUCING"));
    c.wait_for("trading ACTIVE again", |s| status_bar(s).contains("ACTIVE"));
    c.wait_for_live_screen();
    c.quit();
}

/// A rendering bug mid-session: the 30th frame panics. The UI loop is restarted on the
/// same terminal, redraws everything and goes on.
#[test]
fn a_panic_in_the_ui_loop_restarts_it_on_the_same_terminal() {
    let mut c = Console::start("ui.draw=panic@30");
    c.wait_until_up();
    c.wait_for_text("PANIC ui/console: failpoint ui.draw");
    c.wait_for_live_screen();
    c.quit();
}

/// The UI loop's first run panics before drawing anything: the restart draws the console.
#[test]
fn a_panic_in_the_ui_task_at_start_is_restarted() {
    let mut c = Console::start("task.ui.console=panic@1");
    c.wait_until_up();
    c.wait_for_text("PANIC ui/console: failpoint task.ui.console");
    c.wait_for_live_screen();
    c.quit();
}

/// A UI that cannot draw at all is given up: the terminal is given back and the process
/// exits 1 naming the failure.
#[test]
fn a_ui_loop_that_keeps_panicking_gives_the_terminal_back_and_exits_1() {
    let mut c = Console::start("ui.draw=panic");
    c.expect_exit(1);
    c.wait_for_text("ui/console failed");
}

#[test]
fn sigterm_exits_143_with_the_terminal_restored() {
    let mut c = Console::start("");
    c.wait_until_up();
    c.signal("TERM");
    c.expect_exit(143);
    c.wait_for_text("hoga: stopped (SIGTERM)");
}

#[test]
fn sighup_exits_129_with_the_terminal_restored() {
    let mut c = Console::start("");
    c.wait_until_up();
    c.signal("HUP");
    c.expect_exit(129);
}

/// The terminal goes away under the console (the window closed, the ssh link dropped):
/// the process ends on its own, without a panic.
#[test]
fn a_hung_up_terminal_ends_the_process_without_a_panic() {
    let mut c = Console::start("");
    c.wait_until_up();
    let before = c.raw_text();
    c.hang_up();
    let status = c.wait_exit();
    assert_ne!(status.exit_code(), 101, "hoga panicked on the hung-up terminal: {status:?}");
    assert!(status.signal().is_none(), "hoga died of a signal: {status:?}");
    // SIGHUP, or the terminal's input / output failing first: the same status.
    assert_eq!(status.exit_code(), 129, "{status:?}");
    assert!(!before.contains("panicked"), "{before}");
}

/// Ctrl-Z under a job-control shell: the console stops with the terminal given back to
/// the shell; `fg` brings it back, redrawn whole.
#[test]
fn ctrl_z_suspends_with_the_terminal_restored_and_fg_redraws() {
    // `set -m`: the shell runs hoga as a job in its own process group, as an interactive
    // shell would (a process group without a job-control parent cannot be stopped).
    let script = r#"set -m
"$0" --demo --seed 7
echo "hoga suspended, status $?"
read line
fg >/dev/null
echo "hoga exited, status $?"
read line
"#;
    let hoga = env!("CARGO_BIN_EXE_hoga");
    let mut c = Console::spawn(|home| command("sh", &["-c", script, hoga], "", home));
    c.wait_until_up();
    c.keys(b"\x1a");
    // 148 = 128 + SIGTSTP: the shell saw the job stop.
    c.wait_for_text("hoga suspended, status 148");
    c.assert_terminal_restored();
    let stopped_at = c.contents();
    c.keys(b"\n");
    c.wait_for("the console redrawn after fg", |s| {
        let text = s.contents();
        s.alternate_screen()
            && text.contains("DEMO")
            && text.contains("KRW-BTC")
            && !text.contains("hoga suspended, status")
    });
    assert_ne!(c.contents(), stopped_at);
    c.wait_for_live_screen();
    c.keys(b"q");
    c.wait_for_text("hoga exited, status 0");
    c.assert_terminal_restored();
    c.keys(b"\n");
    assert!(c.wait_exit().success());
}

/// A storm of resizes (a window dragged about, tmux panes reshuffled), down to 1x1 and
/// back: no panic, and the last size is drawn edge to edge.
#[test]
fn a_resize_storm_leaves_a_correct_screen() {
    let mut c = Console::start("");
    c.wait_until_up();
    let sizes = [(1, 1), (2, 10), (24, 80), (5, 200), (60, 40), (10, 10), (0, 0), (30, 120), (3, 3)];
    let master = c.master.as_ref().unwrap();
    for i in 0..200 {
        let (rows, cols) = sizes[i % sizes.len()];
        master.resize(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 }).unwrap();
    }
    let (rows, cols) = (30u16, 100u16);
    master.resize(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 }).unwrap();
    c.screen.lock().unwrap().set_size(nz(rows), nz(cols));
    // The emulator kept what was drawn for other sizes: wait for a frame drawn for this
    // one, whose status bar ends with its last segment (the streams, or the clock when
    // there is room for it) and whose bottom row holds the key hints.
    c.wait_for("a full frame at 100x30", |s| {
        let lines: Vec<String> = s.rows(0, cols).collect();
        lines.len() == rows as usize
            && lines.iter().any(|l| {
                let l = l.trim_end();
                l.contains("DEMO") && (l.ends_with("KST") || l.ends_with("private:up"))
            })
            && lines.last().is_some_and(|l| l.contains("quit"))
    });
    c.wait_for_live_screen();
    c.quit();
}

/// Stopped and continued by someone else (`kill -STOP`, `kill -CONT`; a shell may have
/// used the terminal meanwhile): on SIGCONT the console takes the terminal again and
/// redraws every cell, not only the ones that changed.
#[test]
fn sigstop_then_sigcont_redraws_the_whole_screen() {
    let c = Console::start("");
    c.wait_until_up();
    c.signal("STOP");
    let stat = format!("/proc/{}/stat", c.pid());
    let end = Instant::now() + DEADLINE;
    while !std::fs::read_to_string(&stat).unwrap().split(") ").nth(1).unwrap().starts_with('T') {
        assert!(Instant::now() < end, "hoga did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    // What the terminal shows while it is stopped is not the console's any more.
    c.screen.lock().unwrap().process(b"\x1b[2J\x1b[Hsomething else was here");
    c.signal("CONT");
    c.wait_for("the whole console drawn again", |s| {
        let text = s.contents();
        !text.contains("something else")
            && text.contains("DEMO")
            && text.contains("Markets")
            && text.contains("Order book")
    });
    c.wait_for_live_screen();
}

/// The store (everything on screen goes through it) panics: it is restarted from its last
/// snapshot, and the alarm — which itself travels through the store — is on screen.
#[test]
fn a_panic_in_the_store_is_an_alarm_on_a_live_screen() {
    panic_in_task_keeps_the_screen("store.store");
}

/// The glue between the order manager and the rest (fills to the store and the monitor,
/// the monitor's exits to the manager) is supervised like every pump: after a panic it
/// comes back with its channel, and a fill placed afterwards still reaches the screen.
#[test]
fn a_panic_in_the_order_event_glue_restarts_it_and_fills_still_reach_the_screen() {
    let mut c = Console::start("task.console.order-events=panic@1;task.console.monitor-actions=panic@1");
    c.wait_until_up();
    c.wait_for_text("PANIC console/");
    c.keys(b":buy 0.001 @ market\r");
    c.wait_for("the fill in the Orders pane", |s| {
        let text = s.contents();
        text.contains(" open \u{b7} ") && !text.contains(" open \u{b7} 0 fills")
    });
    c.wait_for_live_screen();
    c.quit();
}
