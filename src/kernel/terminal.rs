//! The one owner of the terminal: raw mode, the alternate screen and the window title.
//!
//! [`TerminalGuard::enter`] switches the terminal into the console's mode and hands back a
//! ratatui `Terminal`. The terminal is put back exactly once, whichever path gets there
//! first: the guard's `Drop` (normal quit), the panic hook (a panic in any task), or the
//! shutdown sequence's restore phase ([`TerminalGuard::restorer`], which is how SIGTERM and
//! SIGHUP restore it). A process-wide flag makes every path idempotent.

use std::io::{self, Stdout, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, SetTitle, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

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
    pub fn enter() -> io::Result<(TerminalGuard, Terminal<CrosstermBackend<Stdout>>)> {
        Self::enter_with(false)
    }

    /// Like [`TerminalGuard::enter`], optionally capturing the mouse (click to focus,
    /// wheel to scroll). Off by default: capture takes text selection away from tmux.
    pub fn enter_with(mouse: bool) -> io::Result<(TerminalGuard, Terminal<CrosstermBackend<Stdout>>)> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let guard = TerminalGuard { _private: () };
        // From here on, an error still restores the terminal through the guard's drop.
        execute!(io::stdout(), EnterAlternateScreen, EnableBracketedPaste)?;
        if mouse {
            execute!(io::stdout(), EnableMouseCapture)?;
        }
        let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
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
    fn restore_without_enter_is_a_no_op_and_idempotent() {
        assert!(!is_active());
        restore();
        restore();
        assert!(!is_active());
        install_panic_hook();
        install_panic_hook();
    }
}
