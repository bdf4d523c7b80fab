//! The one owner of the terminal: raw mode, the alternate screen and the window title.
//!
//! [`TerminalGuard::enter`] switches the terminal into the console's mode and hands back a
//! ratatui `Terminal`. The terminal is put back exactly once, whichever path gets there
//! first: the guard's `Drop` (normal quit), the panic hook (a panic in any task), or the
//! shutdown sequence's restore phase ([`TerminalGuard::restorer`], which is how SIGTERM and
//! SIGHUP restore it). A process-wide flag makes every path idempotent.

use std::io::{self, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, SetTitle, disable_raw_mode, enable_raw_mode,
};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

/// True while the terminal is in raw mode / the alternate screen because of us.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The panic hook is installed once per process, chaining whatever hook was there.
static HOOK: Once = Once::new();

/// Owns raw mode and the alternate screen; restores them on drop.
#[derive(Debug)]
pub struct TerminalGuard {
    _private: (),
}

impl TerminalGuard {
    /// Enters raw mode and the alternate screen, installs the panic hook and returns the
    /// guard with a terminal drawing to stdout.
    pub fn enter() -> io::Result<(TerminalGuard, Terminal<CrosstermBackend<FrameWriter>>)> {
        Self::enter_with(false)
    }

    /// Like [`TerminalGuard::enter`], optionally capturing the mouse (click to focus,
    /// wheel to scroll). Off by default: capture takes text selection away from tmux.
    pub fn enter_with(mouse: bool) -> io::Result<(TerminalGuard, Terminal<CrosstermBackend<FrameWriter>>)> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let guard = TerminalGuard { _private: () };
        // From here on, an error still restores the terminal through the guard's drop.
        execute!(io::stdout(), EnterAlternateScreen, EnableBracketedPaste)?;
        if mouse {
            execute!(io::stdout(), EnableMouseCapture)?;
        }
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
    pub fn restorer(&self) -> impl FnOnce() + Send + 'static {
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
/// several system calls. Why not `BufWriter`: after a panic the hook restores the terminal
/// first, and a `BufWriter` dropped during unwinding would then flush half a frame onto
/// the user's normal screen. This writer sends nothing once the terminal is given back.
#[derive(Debug, Default)]
pub struct FrameWriter {
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

/// Puts the terminal back (leave the alternate screen, show the cursor, cooked mode).
/// Safe to call any number of times from any thread; only the first call acts.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let mut out = io::stdout();
        // Best effort: on a hung-up terminal these fail and there is nothing left to fix.
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

/// Whether the terminal is currently in the console's mode.
pub fn is_active() -> bool {
    ACTIVE.load(Ordering::SeqCst)
}

/// Installs (once) a panic hook that restores the terminal before the previous hook prints
/// the panic, so the message lands on the normal screen and the shell stays usable.
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
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

    #[test]
    fn frame_writer_sends_nothing_when_the_terminal_is_not_ours() {
        let mut w = FrameWriter::default();
        w.write_all(b"\x1b[2Jhalf a frame").unwrap();
        assert_eq!(w.buf.len(), 16);
        // Not active (never entered): the bytes are discarded, not written to stdout.
        w.flush().unwrap();
        assert!(w.buf.is_empty());
    }

    #[test]
    fn restore_without_enter_is_a_no_op_and_idempotent() {
        assert!(!is_active());
        restore();
        restore();
        assert!(!is_active());
        install_panic_hook();
        install_panic_hook();
    }
}
