//! The mouse through the real input path: `hoga --demo` in a pseudo-terminal, read with a
//! terminal emulator (`vt100`), sent the SGR mouse reports a terminal sends (`ESC [ < b ;
//! x ; y M` for a press, `m` for a release, button 64 / 65 for the wheel).
//!
//! Mouse reporting used to be asked of the terminal by no code path, so the click handler
//! never ran. These tests check that it is asked for (clicks and the wheel only), that a
//! click focuses the pane under it and selects the row under it, that the wheel scrolls
//! the pane under the pointer, that reporting is turned off again when hoga exits (a
//! terminal left reporting prints escape sequences into the shell), and that `[ui] mouse
//! = false` asks for nothing.
//!
//! Every wait has a deadline; nothing sleeps for correctness.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TempHome;
use portable_pty::{Child, MasterPty, PtySize, native_pty_system};

/// Generous: the debug binary on a busy 2-core machine.
const DEADLINE: Duration = Duration::from_secs(40);
const ROWS: u16 = 40;
const COLS: u16 = 120;

/// Mouse reporting of presses and releases (xterm's mode 1000) and SGR encoding (1006).
const MOUSE_ON: &[u8] = b"\x1b[?1000h";
const MOUSE_OFF: &[u8] = b"\x1b[?1000l";
const SGR_ON: &[u8] = b"\x1b[?1006h";

/// `hoga --demo` in a pseudo-terminal.
struct Console {
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    screen: Arc<Mutex<vt100::Parser>>,
    /// Every byte the program wrote.
    raw: Arc<Mutex<Vec<u8>>>,
    _master: Box<dyn MasterPty + Send>,
    _home: TempHome,
}

impl Console {
    /// `hoga --demo` with these environment variables (a fresh home, no user config).
    fn start(env: &[(&str, &str)]) -> Console {
        let home = TempHome::new();
        let pty = native_pty_system()
            .openpty(PtySize { rows: ROWS, cols: COLS, pixel_width: 0, pixel_height: 0 })
            .unwrap();
        let mut cmd = home.command(env!("CARGO_BIN_EXE_hoga"));
        cmd.args(["--demo", "--seed", "7"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pty.slave.spawn_command(cmd).unwrap();
        drop(pty.slave);
        let nz = |n: u16| std::num::NonZeroU16::new(n).unwrap();
        let screen = Arc::new(Mutex::new(vt100::Parser::new(nz(ROWS), nz(COLS), 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let mut reader = pty.master.try_clone_reader().unwrap();
        let (feed, log) = (screen.clone(), raw.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            // Ends with EOF or EIO once the program has exited.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                feed.lock().unwrap().process(&buf[..n]);
                log.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let writer = pty.master.take_writer().unwrap();
        Console { child, writer, screen, raw, _master: pty.master, _home: home }
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
                assert!(
                    Instant::now() < end,
                    "timed out waiting for {what}\n--- screen ---\n{}",
                    p.screen().contents()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The console is up, with the markets list and a book on KRW-BTC.
    fn wait_until_up(&self) {
        self.wait_for("the console with prices", |s| {
            let c = s.contents();
            s.alternate_screen() && c.contains("DEMO") && c.contains("KRW-BTC") && c.contains("spread")
        });
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    /// A left click at screen cell (`x`, `y`), 0-based: press and release, as xterm
    /// reports them in SGR mode (1-based).
    fn click(&mut self, x: u16, y: u16) {
        self.send(format!("\x1b[<0;{};{}M\x1b[<0;{};{}m", x + 1, y + 1, x + 1, y + 1).as_bytes());
    }

    /// One notch of the wheel at (`x`, `y`): button 64 up, 65 down (no release).
    fn wheel(&mut self, down: bool, x: u16, y: u16) {
        self.send(format!("\x1b[<{};{};{}M", if down { 65 } else { 64 }, x + 1, y + 1).as_bytes());
    }

    fn raw(&self) -> Vec<u8> {
        self.raw.lock().unwrap().clone()
    }

    /// Waits for the exit; returns whether it succeeded.
    fn wait_exit(&mut self) -> bool {
        let end = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(Instant::now() < end, "hoga did not exit\n--- screen ---\n{}", self.contents());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Where `needle` first starts on screen (column, row), 0-based.
fn find(s: &vt100::Screen, needle: &str) -> Option<(u16, u16)> {
    (0..ROWS).find_map(|y| {
        let row = s.contents_between(y, 0, y, COLS);
        row.find(needle).map(|i| (row[..i].chars().count() as u16, y))
    })
}

/// The text of screen row `y` from column `x`, `w` cells wide.
fn text(s: &vt100::Screen, x: u16, y: u16, w: u16) -> String {
    s.contents_between(y, x, y, x + w)
}

/// The colour of a pane's title (the focused pane's title is drawn in the focus colour).
fn title_colour(s: &vt100::Screen, title: &str) -> vt100::Color {
    let (x, y) = find(s, &format!(" {title} ")).unwrap_or_else(|| panic!("{title} on screen"));
    s.cell(y, x + 1).unwrap().fgcolor()
}

/// The markets table's rows on screen: (row, market code), from the header down.
fn market_rows(s: &vt100::Screen) -> Vec<(u16, String)> {
    let (x, header) = find(s, "code").expect("the markets table's header");
    (header + 1..ROWS)
        .map(|y| (y, text(s, x, y, 7).replace('★', "").trim().to_string()))
        .take_while(|(_, code)| !code.is_empty() && code.chars().all(|c| c.is_ascii_alphanumeric()))
        .collect()
}

/// The market the status bar shows (`KRW-BTC`).
fn shown_market(s: &vt100::Screen) -> String {
    let status = text(s, 0, 0, COLS);
    status.split_whitespace().find(|w| w.starts_with("KRW-")).unwrap_or_default().to_string()
}

#[test]
fn clicks_focus_and_select_the_wheel_scrolls_and_reporting_ends_with_the_console() {
    let mut c = Console::start(&[]);
    c.wait_until_up();
    let raw = c.raw();
    let on = raw.windows(MOUSE_ON.len()).position(|w| w == MOUSE_ON);
    assert!(on.is_some(), "mouse reporting is asked of the terminal");
    assert!(raw.windows(SGR_ON.len()).any(|w| w == SGR_ON), "in SGR encoding");
    assert!(!raw.windows(8).any(|w| w == b"\x1b[?1003h"), "no motion tracking");
    {
        let p = c.screen.lock().unwrap();
        assert_ne!(p.screen().mouse_protocol_mode(), vt100::MouseProtocolMode::None);
    }

    // Sorted by code, A first (▲; the sort key twice, from value through age): rows that stay put
    // while prices move.
    c.send(b"ss");
    c.wait_for("the markets sorted by code", |s| s.contents().contains("code▲"));
    // At start the markets pane has the focus and KRW-BTC is shown.
    let (focused, unfocused, rows) = {
        let p = c.screen.lock().unwrap();
        let s = p.screen();
        assert_eq!(shown_market(s), "KRW-BTC");
        (title_colour(s, "Markets"), title_colour(s, "Order book"), market_rows(s))
    };
    assert_ne!(focused, unfocused, "the focused pane's title stands out");
    assert!(rows.len() >= 6, "markets on screen: {rows:?}\n{}", c.contents());

    // A click on the fourth market's row shows that market.
    let (y, code) = rows.iter().skip(3).find(|(_, code)| code != "BTC").cloned().unwrap();
    let (x, _) = find(c.screen.lock().unwrap().screen(), "code").unwrap();
    c.click(x + 1, y);
    let want = format!("KRW-{code}");
    c.wait_for(&format!("{want} shown after the click"), |s| shown_market(s) == want);

    // A click on the order book focuses it. The new market's book arrives after the
    // click was answered: wait for its spread line before looking for it.
    c.wait_for("the new market's book", |s| s.contents().contains("spread"));
    let (bx, by) = find(c.screen.lock().unwrap().screen(), "spread").expect("the book's spread line");
    c.click(bx + 2, by + 1);
    c.wait_for("the order book focused", |s| {
        title_colour(s, "Order book") == focused && title_colour(s, "Markets") == unfocused
    });

    // Two notches of the wheel over the markets pane, then Enter: the market two rows
    // below the clicked one is shown. The wheel focused the pane under the pointer.
    c.wheel(true, x + 1, y);
    c.wheel(true, x + 1, y);
    c.wait_for("the markets pane focused by the wheel", |s| title_colour(s, "Markets") == focused);
    let below = rows.iter().position(|(row, _)| *row == y).map(|i| rows[i + 2].1.clone()).unwrap();
    c.send(b"\r");
    let want = format!("KRW-{below}");
    c.wait_for(&format!("{want} shown after two notches and Enter"), |s| shown_market(s) == want);

    // Quit: reporting is turned off after it was last turned on.
    c.send(b"q");
    assert!(c.wait_exit(), "a clean exit\n{}", c.contents());
    let raw = c.raw();
    let last_on = raw.windows(MOUSE_ON.len()).rposition(|w| w == MOUSE_ON).unwrap();
    let last_off = raw.windows(MOUSE_OFF.len()).rposition(|w| w == MOUSE_OFF);
    assert!(last_off.is_some_and(|off| off > last_on), "mouse reporting left on at exit");
}

#[test]
fn reporting_is_turned_off_when_a_signal_ends_the_console() {
    let mut c = Console::start(&[]);
    c.wait_until_up();
    let pid = c.child.process_id().unwrap();
    let status = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(status.success());
    let _ = c.wait_exit();
    let raw = c.raw();
    let last_on = raw.windows(MOUSE_ON.len()).rposition(|w| w == MOUSE_ON).expect("reporting was on");
    let last_off = raw.windows(MOUSE_OFF.len()).rposition(|w| w == MOUSE_OFF);
    assert!(last_off.is_some_and(|off| off > last_on), "mouse reporting left on after SIGTERM");
}

#[test]
fn mouse_false_asks_nothing_of_the_terminal_and_ignores_reports() {
    let mut c = Console::start(&[("HOGA_UI__MOUSE", "false")]);
    c.wait_until_up();
    assert!(!c.raw().windows(MOUSE_ON.len()).any(|w| w == MOUSE_ON), "reporting asked for");
    let (rows, x) = {
        let p = c.screen.lock().unwrap();
        (market_rows(p.screen()), find(p.screen(), "code").unwrap().0)
    };
    let (y, code) = rows.iter().skip(3).find(|(_, code)| code != "BTC").cloned().unwrap();
    c.click(x + 1, y);
    // Then a key that shows it was read after the click: the help overlay.
    c.send(b"?");
    c.wait_for("the help overlay", |s| s.contents().contains("from the live keymap"));
    assert_eq!(shown_market(c.screen.lock().unwrap().screen()), "KRW-BTC", "a stray click selected {code}");
}
