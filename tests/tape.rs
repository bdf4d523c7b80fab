//! Plays `demo.tape` (the VHS recording script of the demo tour) against the real `hoga`
//! binary in a pseudo-terminal, reads the screen with a terminal emulator (`vt100`), and
//! checks it at the tape's `# expect: TEXT` checkpoints.
//!
//! VHS cannot be installed here, so this test is what keeps the tape honest: it uses the
//! tape's own keystrokes, fails on any tape command it does not understand, and fails when
//! an expected text does not appear. The tape's first `Type` (inside `Hide`) is the launch
//! command; it must start with `hoga`, and its arguments are passed to the binary.
//!
//! `Sleep` is pacing for the recording, not synchronisation: it is shortened here, and
//! every check waits for its condition with a deadline instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TempHome;
use portable_pty::{PtySize, native_pty_system};

/// One instruction of the tape, as this player understands it.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// Bytes to write to the terminal, `count` times.
    Keys { bytes: Vec<u8>, count: usize },
    /// Pacing for the recording.
    Sleep(Duration),
    /// Wait until the screen contains this text.
    Expect(String),
    /// Wait until the process has exited with success and left the terminal clean.
    ExpectExit,
}

/// The parsed tape: the launch arguments and the steps after launch.
#[derive(Debug)]
struct Tape {
    args: Vec<String>,
    cols: u16,
    rows: u16,
    steps: Vec<Step>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    Ok(Duration::from_secs_f64(v * unit))
}

/// The bytes a terminal sends for a VHS key name.
fn key_bytes(name: &str) -> Result<Vec<u8>, String> {
    if let Some(k) = name.strip_prefix("Ctrl+") {
        let c = k.chars().next().filter(|_| k.len() == 1).ok_or(format!("bad key {name:?}"))?;
        return Ok(vec![(c.to_ascii_lowercase() as u8) & 0x1f]);
    }
    if let Some(k) = name.strip_prefix("Alt+") {
        let mut b = vec![0x1b];
        b.extend(key_bytes(k).or_else(|_| Ok::<_, String>(k.as_bytes().to_vec()))?);
        return Ok(b);
    }
    Ok(match name {
        "Enter" => b"\r".to_vec(),
        "Tab" => b"\t".to_vec(),
        "Shift+Tab" => b"\x1b[Z".to_vec(),
        "Space" => b" ".to_vec(),
        "Backspace" => b"\x7f".to_vec(),
        "Delete" => b"\x1b[3~".to_vec(),
        "Escape" => b"\x1b".to_vec(),
        "Up" => b"\x1b[A".to_vec(),
        "Down" => b"\x1b[B".to_vec(),
        "Right" => b"\x1b[C".to_vec(),
        "Left" => b"\x1b[D".to_vec(),
        "PageUp" => b"\x1b[5~".to_vec(),
        "PageDown" => b"\x1b[6~".to_vec(),
        "Home" => b"\x1b[H".to_vec(),
        "End" => b"\x1b[F".to_vec(),
        _ => return Err(format!("unknown key {name:?}")),
    })
}

/// Parses a VHS tape. Unknown commands are errors, so the tape cannot drift into
/// something this player silently skips.
fn parse_tape(text: &str) -> Result<Tape, String> {
    let mut tape = Tape { args: Vec::new(), cols: 120, rows: 40, steps: Vec::new() };
    let mut launched = false;
    // The Enter that runs the launch command is the shell's, not the console's.
    let mut launch_enter = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let at = |e: String| format!("demo.tape line {}: {e}", i + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            let c = c.trim();
            if let Some(t) = c.strip_prefix("expect:") {
                tape.steps.push(Step::Expect(t.trim().to_string()));
            } else if c == "expect-exit" {
                tape.steps.push(Step::ExpectExit);
            } else if let Some(size) = c.strip_prefix("terminal:") {
                let (w, h) = size.trim().split_once('x').ok_or_else(|| at(format!("bad size {size:?}")))?;
                tape.cols = w.parse().map_err(|_| at(format!("bad width {w:?}")))?;
                tape.rows = h.parse().map_err(|_| at(format!("bad height {h:?}")))?;
            }
            continue;
        }
        let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
        let (cmd, _speed) = cmd.split_once('@').unwrap_or((cmd, ""));
        let rest = rest.trim();
        match cmd {
            "Output" | "Set" | "Require" | "Hide" | "Show" | "Screenshot" | "Source" => {}
            "Sleep" => tape.steps.push(Step::Sleep(parse_duration(rest).map_err(at)?)),
            "Type" => {
                let s = rest
                    .strip_prefix('"')
                    .and_then(|s| s.strip_suffix('"'))
                    .or_else(|| rest.strip_prefix('`').and_then(|s| s.strip_suffix('`')))
                    .ok_or_else(|| at(format!("Type needs a quoted string, got {rest}")))?;
                if !launched {
                    let mut words = s.split_whitespace().map(str::to_string);
                    if words.next().as_deref() != Some("hoga") {
                        return Err(at(format!("the first Type must launch hoga, got {s:?}")));
                    }
                    tape.args = words.collect();
                    launched = true;
                    launch_enter = true;
                    continue;
                }
                tape.steps.push(Step::Keys { bytes: s.as_bytes().to_vec(), count: 1 });
            }
            key => {
                let bytes = key_bytes(key).map_err(at)?;
                if launch_enter && key == "Enter" {
                    launch_enter = false;
                    continue;
                }
                launch_enter = false;
                let count = if rest.is_empty() {
                    1
                } else {
                    rest.parse().map_err(|_| at(format!("bad repeat count {rest:?}")))?
                };
                tape.steps.push(Step::Keys { bytes, count });
            }
        }
    }
    if !launched {
        return Err("demo.tape never launches hoga".into());
    }
    Ok(tape)
}

/// Records the window title the program sets (the tmux-visible title).
#[derive(Default)]
struct Title(String);

impl vt100::Callbacks for Title {
    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.0 = String::from_utf8_lossy(title).into_owned();
    }
}

type Screen = Arc<Mutex<vt100::Parser<Title>>>;

fn wait_for(screen: &Screen, what: &str, deadline: Duration, ok: impl Fn(&vt100::Parser<Title>) -> bool) {
    let end = Instant::now() + deadline;
    loop {
        {
            let p = screen.lock().unwrap();
            if ok(&p) {
                return;
            }
            if Instant::now() > end {
                panic!(
                    "timed out waiting for {what}\n--- screen ---\n{}\n--- title: {:?}",
                    p.screen().contents(),
                    p.callbacks().0
                );
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn tape_parser_understands_vhs_commands() {
    let tape = parse_tape(
        "Output demo.gif\nSet FontSize 14\nHide\nType \"hoga --demo --seed 7\"\nEnter\nShow\n\
         # expect: DEMO\nType \"/btc\"\nSleep 500ms\nDown 3\nCtrl+C\nSleep 1.5s\n# expect-exit\n",
    )
    .unwrap();
    assert_eq!(tape.args, ["--demo", "--seed", "7"]);
    assert_eq!(
        tape.steps,
        vec![
            Step::Expect("DEMO".into()),
            Step::Keys { bytes: b"/btc".to_vec(), count: 1 },
            Step::Sleep(Duration::from_millis(500)),
            Step::Keys { bytes: b"\x1b[B".to_vec(), count: 3 },
            Step::Keys { bytes: vec![3], count: 1 },
            Step::Sleep(Duration::from_millis(1500)),
            Step::ExpectExit,
        ]
    );
    assert!(parse_tape("Type \"ls\"\n").unwrap_err().contains("must launch hoga"));
    assert!(parse_tape("Type \"hoga\"\nWiggle 3\n").unwrap_err().contains("line 2"));
}

#[test]
fn demo_tape_plays_against_the_real_binary() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/demo.tape")).unwrap();
    let tape = parse_tape(&text).unwrap();
    assert!(tape.steps.iter().any(|s| matches!(s, Step::Expect(_))), "the tape has no checkpoints");

    let home = TempHome::new();
    let pty = native_pty_system()
        .openpty(PtySize { rows: tape.rows, cols: tape.cols, pixel_width: 0, pixel_height: 0 })
        .unwrap();
    let mut cmd = home.command(env!("CARGO_BIN_EXE_hoga"));
    cmd.args(&tape.args);
    let mut child = pty.slave.spawn_command(cmd).unwrap();
    drop(pty.slave);

    let screen: Screen = Arc::new(Mutex::new(vt100::Parser::new_with_callbacks(
        std::num::NonZeroU16::new(tape.rows).unwrap(),
        std::num::NonZeroU16::new(tape.cols).unwrap(),
        0,
        Title::default(),
    )));
    let mut reader = pty.master.try_clone_reader().unwrap();
    let feed = screen.clone();
    let pump = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            feed.lock().unwrap().process(&buf[..n]);
        }
    });
    let mut writer = pty.master.take_writer().unwrap();

    // A first build of the release console is not what is measured here: be generous.
    let deadline = Duration::from_secs(30);
    let mut exited = false;
    for step in &tape.steps {
        match step {
            Step::Keys { bytes, count } => {
                for _ in 0..*count {
                    writer.write_all(bytes).unwrap();
                    writer.flush().unwrap();
                    // Keys typed one after another must each be read as one key, as a
                    // person's would: a lone ESC followed at once by `[` would otherwise
                    // be read as an escape sequence.
                    std::thread::sleep(Duration::from_millis(30));
                }
            }
            Step::Sleep(d) => std::thread::sleep((*d).min(Duration::from_millis(300))),
            Step::Expect(text) => {
                wait_for(&screen, &format!("{text:?} on screen"), deadline, |p| {
                    p.screen().contents().contains(text.as_str())
                });
            }
            Step::ExpectExit => {
                let end = Instant::now() + deadline;
                let status = loop {
                    if let Some(status) = child.try_wait().unwrap() {
                        break status;
                    }
                    assert!(Instant::now() < end, "hoga did not exit");
                    std::thread::sleep(Duration::from_millis(50));
                };
                assert!(status.success(), "hoga exited with {status:?}");
                wait_for(&screen, "the terminal restored", deadline, |p| {
                    !p.screen().alternate_screen() && !p.screen().hide_cursor()
                });
                exited = true;
            }
        }
    }
    if !exited {
        child.kill().unwrap();
        let _ = child.wait();
    }
    drop(writer);
    drop(pty.master);
    let _ = pump.join();
}
