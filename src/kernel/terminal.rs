//! The one owner of the terminal: raw mode, the alternate screen and the window title.
//!
//! [`TerminalGuard::enter`] switches the terminal into the console's mode and hands back a
//! ratatui `Terminal`. The terminal is given back for good only when the process is
//! exiting or the UI is gone for good, exactly once, whichever path gets there first: the
//! shutdown sequence's restore phase ([`TerminalGuard::restorer`]: quit, SIGTERM, SIGHUP,
//! the UI task failing for good) or the guard's `Drop` (also while a panic unwinds the
//! main thread). A process-wide flag makes every path idempotent.
//!
//! A panic in a task is *not* a reason to give the terminal back: the task manager catches
//! it, restarts the task and raises an alarm, and the console keeps drawing. So while the
//! console owns the terminal, the panic hook prints nothing on it (the message would land
//! in the middle of a frame); it notes where the panic happened for the task manager's
//! log line, and keeps the text for `main` to print should the panic end the process.
//!
//! Ctrl-Z gives the terminal back for a while: [`suspend`] restores it, stops the process
//! with `SIGTSTP`, and takes the terminal again when the shell continues it; [`reenter`]
//! does the taking again after a stop someone else caused (`SIGSTOP`, then `SIGCONT`).

use std::cell::RefCell;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};

use crossterm::event::{DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, SetTitle, disable_raw_mode, enable_raw_mode,
};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

/// True while the terminal is in raw mode / the alternate screen because of us.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// True from [`TerminalGuard::enter`] to the final [`restore`]: the console owns the
/// terminal, even while suspended by Ctrl-Z (then `ACTIVE` is false).
static OWNED: AtomicBool = AtomicBool::new(false);
/// Whether the console captures the mouse (re-enabled when the terminal is taken again).
static MOUSE: AtomicBool = AtomicBool::new(false);
/// The panic hook is installed once per process, chaining whatever hook was there.
static HOOK: Once = Once::new();
/// The last panic seen while the console owned the terminal (message and location), for
/// `main` to print on the restored screen if it ends the process.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

thread_local! {
    /// Where the last panic on this thread happened: the task manager, which catches the
    /// panic on the same thread, puts it in its log line.
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Owns raw mode and the alternate screen; restores them on drop.
#[derive(Debug)]
pub(crate) struct TerminalGuard {
    _private: (),
}

impl TerminalGuard {
    /// Enters raw mode and the alternate screen, optionally capturing the mouse (`[ui]
    /// mouse`: clicks and the wheel; capture takes plain text selection away from the
    /// terminal and tmux), installs the panic hook and returns the guard with a terminal
    /// drawing to stdout.
    pub fn enter(mouse: bool) -> io::Result<(TerminalGuard, Terminal<CrosstermBackend<FrameWriter>>)> {
        install_panic_hook();
        enable_raw_mode()?;
        MOUSE.store(mouse, Ordering::SeqCst);
        OWNED.store(true, Ordering::SeqCst);
        ACTIVE.store(true, Ordering::SeqCst);
        let guard = TerminalGuard { _private: () };
        // From here on, an error still restores the terminal through the guard's drop.
        enter_screen()?;
        // A fixed viewport, resized by the UI on each resize event: a fullscreen one asks
        // the terminal its size before every frame, and crossterm opens /dev/tty to do it.
        let (cols, rows) = crossterm::terminal::size()?;
        let terminal = Terminal::with_options(
            CrosstermBackend::new(FrameWriter::default()),
            TerminalOptions { viewport: Viewport::Fixed(Rect::new(0, 0, cols, rows)) },
        )?;
        Ok((guard, terminal))
    }

    /// A hook for [`crate::kernel::ShutdownHooks::on_restore`]: restores the terminal in the
    /// shutdown's last phase (SIGTERM, SIGHUP, fatal task failure).
    pub(crate) fn restorer(&self) -> impl FnOnce() + Send + 'static {
        restore
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// The console's output: a frame's escape sequences collect in memory and reach the
/// terminal in one `write` when ratatui flushes at the end of the frame.
///
/// Why not `io::stdout()`: its `LineWriter` takes the stdout lock for every queued
/// command and writes whenever 1 KiB fills or a newline appears, so one frame became
/// several system calls. Why not `BufWriter`: a `BufWriter` dropped while a panic unwinds
/// the UI task would flush half a frame, perhaps onto the user's normal screen after the
/// terminal was given back. This writer sends whole frames only, and nothing while the
/// terminal is not the console's (suspended or given back).
#[derive(Debug, Default)]
pub(crate) struct FrameWriter {
    buf: Vec<u8>,
}

impl Write for FrameWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let result = if is_active() && !self.buf.is_empty() {
            let mut out = io::stdout().lock();
            out.write_all(&self.buf).and_then(|()| out.flush())
        } else {
            Ok(())
        };
        // Written or not, a frame is never sent twice: the next one starts clean.
        self.buf.clear();
        result
    }
}

/// Mouse reporting of presses, releases and the wheel (`?1000h`), in SGR encoding
/// (`?1006h`: no limit at column 223). Not crossterm's `EnableMouseCapture`, which also
/// asks for every motion (`?1003h`): each move of the pointer over the window would wake
/// the console for nothing. Turned off with crossterm's `DisableMouseCapture`, which
/// clears every mode either could have set.
#[derive(Debug, Clone, Copy)]
struct EnableMouseClicks;

/// The bytes of [`EnableMouseClicks`].
const MOUSE_CLICKS_ON: &str = "\x1b[?1000h\x1b[?1006h";

impl crossterm::Command for EnableMouseClicks {
    fn write_ansi(&self, f: &mut impl std::fmt::Write) -> std::fmt::Result {
        f.write_str(MOUSE_CLICKS_ON)
    }

    #[cfg(windows)]
    fn execute_winapi(&self) -> io::Result<()> {
        crossterm::event::EnableMouseCapture.execute_winapi()
    }
}

/// The alternate screen, bracketed paste and (when asked) the mouse.
fn enter_screen() -> io::Result<()> {
    execute!(io::stdout(), EnterAlternateScreen, EnableBracketedPaste)?;
    if MOUSE.load(Ordering::SeqCst) {
        execute!(io::stdout(), EnableMouseClicks)?;
    }
    Ok(())
}

/// Leaves the console's mode if it is on (mouse reporting included, whether or not it was
/// asked for: a terminal left reporting clicks prints escape sequences into the shell).
/// Best effort: on a hung-up terminal the writes
/// fail and there is nothing left to fix.
fn leave() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let mut out = io::stdout();
        let _ = execute!(
            out,
            DisableMouseCapture,
            DisableBracketedPaste,
            LeaveAlternateScreen,
            crossterm::cursor::Show
        );
        let _ = disable_raw_mode();
        let _ = out.flush();
    }
}

/// Gives the terminal back for good (leave the alternate screen, show the cursor, cooked
/// mode): the process is exiting or the UI is gone. Safe to call any number of times from
/// any thread; only the first call acts.
pub fn restore() {
    OWNED.store(false, Ordering::SeqCst);
    leave();
}

/// Whether the terminal is currently in the console's mode.
pub(crate) fn is_active() -> bool {
    ACTIVE.load(Ordering::SeqCst)
}

/// Whether the console owns the terminal (entered and not yet given back for good), even
/// if it is suspended right now.
pub(crate) fn is_owned() -> bool {
    OWNED.load(Ordering::SeqCst)
}

/// Takes the terminal again after the process was stopped and continued (Ctrl-Z, or a
/// `SIGSTOP` someone else sent): raw mode and the alternate screen, set afresh even if
/// the flags say they are on, because a shell resets the terminal's modes when it takes
/// it back. The caller redraws the whole screen afterwards (the alternate screen comes
/// back blank). Does nothing once the terminal was given back for good; returns whether
/// the terminal is the console's.
pub(crate) fn reenter() -> bool {
    if !is_owned() {
        return false;
    }
    // crossterm skips `enable_raw_mode` when it thinks raw mode is on: drop its record.
    let _ = disable_raw_mode();
    let ok = enable_raw_mode().and_then(|()| enter_screen());
    match ok {
        Ok(()) => {
            ACTIVE.store(true, Ordering::SeqCst);
            // Given back for good meanwhile (shutdown on another thread): undo at once.
            if !is_owned() {
                leave();
            }
        }
        // A terminal that cannot be set up is a hung-up one: leave it cooked; the UI's
        // next write fails and it shuts the console down.
        Err(_) => leave(),
    }
    is_active()
}

/// Ctrl-Z: gives the terminal back, stops the process with `SIGTSTP` as the shell's job
/// control expects, and takes the terminal again when the shell continues it (`fg`). The
/// calling thread (and the whole process) stands still in between. Where nobody can
/// continue the process (an orphaned process group: no job-control shell) the kernel
/// ignores `SIGTSTP` and this returns at once. Returns whether the terminal is the
/// console's again.
pub fn suspend() -> bool {
    if !is_owned() {
        return false;
    }
    leave();
    #[cfg(unix)]
    if let Err(e) = signal_hook::low_level::raise(signal_hook::consts::SIGTSTP) {
        tracing::warn!(error = %e, "cannot stop the process for Ctrl-Z");
    }
    reenter()
}

/// Writes one line to stderr, ignoring failure: on a hung-up terminal `eprintln!` panics
/// (EIO / EPIPE), and a process on its way out must not.
pub fn report(line: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{line}");
    let _ = err.flush();
}

/// Where the last panic on this thread happened (`file:line:col`), taken once.
pub(crate) fn take_panic_location() -> Option<String> {
    PANIC_LOCATION.with(|l| l.borrow_mut().take())
}

/// The last panic seen while the console owned the terminal (the hook did not print it),
/// taken once: `main` prints it after the terminal is restored.
pub fn take_last_panic() -> Option<String> {
    LAST_PANIC.lock().ok().and_then(|mut p| p.take())
}

/// Installs (once) the panic hook. While the console owns the terminal it only notes the
/// panic (location for the task manager's log line, text for `main`): a task's panic is
/// caught, restarted and shown as an alarm by the console, and printing it would scribble
/// over the screen. Otherwise the previous hook prints it as usual.
pub(crate) fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let location = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
            let _ = PANIC_LOCATION.try_with(|l| {
                if let Ok(mut l) = l.try_borrow_mut() {
                    l.clone_from(&location);
                }
            });
            if is_owned() {
                let thread = std::thread::current();
                let text = format!(
                    "thread '{}' panicked at {}:\n{}",
                    thread.name().unwrap_or("<unnamed>"),
                    location.as_deref().unwrap_or("an unknown location"),
                    payload_text(info.payload())
                );
                // try_lock: a panic while another thread holds it must not hang this one.
                if let Ok(mut last) = LAST_PANIC.try_lock() {
                    *last = Some(text);
                }
            } else {
                previous(info);
            }
        }));
    });
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}

/// Sets the window title (tmux shows it in its status line with `set-titles on`).
/// Writes nothing unless the terminal is ours, so headless runs stay silent.
pub fn set_title(title: &str) {
    if is_active() {
        let _ = execute!(io::stdout(), SetTitle(title));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags are process-wide: these tests take turns.
    static FLAGS: Mutex<()> = Mutex::new(());

    fn flags() -> std::sync::MutexGuard<'static, ()> {
        FLAGS.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[test]
    fn frame_writer_sends_nothing_when_the_terminal_is_not_ours() {
        let _flags = flags();
        let mut w = FrameWriter::default();
        w.write_all(b"\x1b[2Jhalf a frame").unwrap();
        assert_eq!(w.buf.len(), 16);
        // Not active (never entered): the bytes are discarded, not written to stdout.
        w.flush().unwrap();
        assert!(w.buf.is_empty());
    }

    #[test]
    fn restore_without_enter_is_a_no_op_and_idempotent() {
        let _flags = flags();
        assert!(!is_active());
        restore();
        restore();
        assert!(!is_active());
        assert!(!suspend() && !reenter(), "nothing to suspend or take again when not owned");
        install_panic_hook();
        install_panic_hook();
    }

    #[test]
    fn a_panic_while_the_console_owns_the_terminal_keeps_it_and_is_noted_not_printed() {
        let _flags = flags();
        install_panic_hook();
        // Pretend the console owns the terminal (entering needs a real tty): the flags are
        // what the hook and the frame writer look at.
        OWNED.store(true, Ordering::SeqCst);
        ACTIVE.store(true, Ordering::SeqCst);
        let caught = std::panic::catch_unwind(|| panic!("a task's bug"));
        let (owned, active) = (is_owned(), is_active());
        // Back to "not ours" without writing escape sequences to the test's stdout.
        OWNED.store(false, Ordering::SeqCst);
        ACTIVE.store(false, Ordering::SeqCst);
        assert!(caught.is_err());
        assert!(owned && active, "the hook must not give the terminal back");
        let location = take_panic_location().unwrap();
        assert!(location.starts_with("src/kernel/terminal.rs:"), "{location}");
        assert!(take_panic_location().is_none(), "taken once");
        let text = take_last_panic().unwrap();
        assert!(text.contains("a task's bug") && text.contains("src/kernel/terminal.rs"), "{text}");
    }

    #[test]
    fn mouse_reporting_is_clicks_and_wheel_in_sgr_and_disable_clears_it() {
        let mut on = String::new();
        crossterm::Command::write_ansi(&EnableMouseClicks, &mut on).unwrap();
        assert_eq!(on, "\x1b[?1000h\x1b[?1006h", "no motion tracking (?1003h)");
        let mut off = String::new();
        crossterm::Command::write_ansi(&DisableMouseCapture, &mut off).unwrap();
        for mode in ["?1000l", "?1006l"] {
            assert!(off.contains(mode), "disable clears {mode}: {off:?}");
        }
    }

    #[test]
    fn report_never_panics() {
        report("hoga: a line on stderr");
    }
}
