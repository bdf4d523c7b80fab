//! Failpoints: named places in the code where a test can make the process panic, abort or
//! stop dead, to prove what survives a crash at exactly that moment.
//!
//! Compiled only into debug builds (the ones `cargo test` builds and runs as a child
//! process); in a release build [`hit`] is an empty inline function and the environment is
//! never read. A test arms failpoints with the environment variable `HOGA_FAILPOINTS`
//! (read once, at the first hit) or, inside one process, with [`set`]:
//!
//! ```text
//! HOGA_FAILPOINTS="manager.after_send=abort;task.trading.monitor=panic@1"
//! ```
//!
//! Each entry is `name=action[@N]`: the action fires on the N-th hit only (1-based), or on
//! every hit without `@N`. Actions:
//! - `panic`: panics at the point (a supervised task is restarted, the UI shows the alarm);
//! - `abort`: `std::process::abort()`, no destructor, no flush: as close to `SIGKILL` as
//!   a process can do to itself;
//! - `pause`: prints `hoga failpoint NAME reached` on stderr and blocks the thread for
//!   ever, so the test can `SIGKILL` the process while it stands there.
//!
//! Names in use: `manager.after_intent`, `manager.after_send`, `journal.fill_write`,
//! `journal.rule_save`, `ui.draw` (each frame the console draws), and `task.COMPONENT.NAME`
//! at the start of every run of a task the task manager spawns.

/// What an armed failpoint does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `panic!` at the point.
    Panic,
    /// `std::process::abort()`.
    Abort,
    /// Announce on stderr, then block the thread for ever.
    Pause,
}

#[cfg(debug_assertions)]
mod imp {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Mutex, OnceLock, PoisonError};

    use super::Action;

    /// Whether any point was ever armed: lets hot paths skip building a name.
    static ANY: AtomicBool = AtomicBool::new(false);

    struct Point {
        action: Action,
        /// Fire on this hit only (1-based); `None`: every hit.
        on_hit: Option<u64>,
        hits: u64,
    }

    fn points() -> &'static Mutex<HashMap<String, Point>> {
        static POINTS: OnceLock<Mutex<HashMap<String, Point>>> = OnceLock::new();
        POINTS.get_or_init(|| {
            let spec = std::env::var("HOGA_FAILPOINTS").unwrap_or_default();
            let map: HashMap<String, Point> = super::parse(&spec)
                .into_iter()
                .map(|(n, a, at)| (n, Point { action: a, on_hit: at, hits: 0 }))
                .collect();
            if !map.is_empty() {
                ANY.store(true, Ordering::SeqCst);
            }
            Mutex::new(map)
        })
    }

    pub(crate) fn any_armed() -> bool {
        let _ = points();
        ANY.load(Ordering::Relaxed)
    }

    pub fn set(name: &str, action: Action, on_hit: Option<u64>) {
        ANY.store(true, Ordering::SeqCst);
        points()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_string(), Point { action, on_hit, hits: 0 });
    }

    pub fn clear(name: &str) {
        points().lock().unwrap_or_else(PoisonError::into_inner).remove(name);
    }

    pub fn hit(name: &str) {
        let fire = {
            let mut map = points().lock().unwrap_or_else(PoisonError::into_inner);
            match map.get_mut(name) {
                None => None,
                Some(p) => {
                    p.hits += 1;
                    match p.on_hit {
                        Some(n) if n != p.hits => None,
                        _ => Some(p.action),
                    }
                }
            }
        };
        match fire {
            None => {}
            Some(Action::Panic) => panic!("failpoint {name}"),
            Some(Action::Abort) => std::process::abort(),
            Some(Action::Pause) => {
                eprintln!("hoga failpoint {name} reached");
                loop {
                    std::thread::park();
                }
            }
        }
    }
}

/// Parses `name=action[@N];…`; unknown actions and malformed entries are skipped.
pub fn parse(spec: &str) -> Vec<(String, Action, Option<u64>)> {
    spec.split(';')
        .filter_map(|entry| {
            let (name, rest) = entry.trim().split_once('=')?;
            let (action, at) = match rest.split_once('@') {
                Some((a, n)) => (a, Some(n.trim().parse::<u64>().ok()?)),
                None => (rest, None),
            };
            let action = match action.trim() {
                "panic" => Action::Panic,
                "abort" => Action::Abort,
                "pause" => Action::Pause,
                _ => return None,
            };
            Some((name.trim().to_string(), action, at))
        })
        .collect()
}

/// Passes the failpoint `name`: does whatever it is armed to do (debug builds only).
#[inline]
pub fn hit(name: &str) {
    #[cfg(debug_assertions)]
    imp::hit(name);
    #[cfg(not(debug_assertions))]
    let _ = name;
}

/// Whether any failpoint is (or ever was) armed in this process: false in release builds
/// and, in debug builds, when `HOGA_FAILPOINTS` is empty and nothing called [`set`]. Lets a
/// hot path skip formatting a point's name.
#[inline]
pub(crate) fn any_armed() -> bool {
    #[cfg(debug_assertions)]
    return imp::any_armed();
    #[cfg(not(debug_assertions))]
    false
}

/// Passes the failpoint `task.COMPONENT.NAME` (the task manager calls it at the start of
/// every run of every task). Allocates the name only when some failpoint is armed.
#[inline]
pub(crate) fn hit_task(component: &str, name: &str) {
    if any_armed() {
        hit(&format!("task.{component}.{name}"));
    }
}

/// Arms `name` in this process (debug builds only; a no-op in release).
pub fn set(name: &str, action: Action, on_hit: Option<u64>) {
    #[cfg(debug_assertions)]
    imp::set(name, action, on_hit);
    #[cfg(not(debug_assertions))]
    let _ = (name, action, on_hit);
}

/// Disarms `name` in this process.
pub fn clear(name: &str) {
    #[cfg(debug_assertions)]
    imp::clear(name);
    #[cfg(not(debug_assertions))]
    let _ = name;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parses_actions_and_hit_numbers_and_skips_junk() {
        let p = parse("a.b=panic; c=abort@2 ;d=pause;e=explode;f;g=panic@x");
        assert_eq!(
            p,
            vec![
                ("a.b".to_string(), Action::Panic, None),
                ("c".to_string(), Action::Abort, Some(2)),
                ("d".to_string(), Action::Pause, None),
            ]
        );
    }

    #[test]
    fn a_point_armed_for_the_second_hit_fires_only_then() {
        set("failpoint.test.second", Action::Panic, Some(2));
        hit("failpoint.test.second");
        let second = std::panic::catch_unwind(|| hit("failpoint.test.second"));
        assert!(second.is_err(), "the second hit must panic");
        hit("failpoint.test.second");
        assert!(any_armed());
        clear("failpoint.test.second");
        hit("failpoint.test.unarmed");
    }
}
