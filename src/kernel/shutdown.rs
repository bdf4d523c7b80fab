//! Ordered shutdown: "cancel every task → gather them → close sessions" as phases with
//! deadlines (docs/ARCHITECTURE.md, "Shutdown").
//!
//! Phases, in order: stop input → cancel tasks → await tasks (deadline) → abort
//! stragglers → close connections (deadline) → flush logs → restore terminal. Each phase
//! is timed and logged; the report is returned so tests (and the System pane's last
//! words in the log) can see what happened. Shutdown always completes: a task that
//! ignores cancellation is aborted at the deadline, a closer that hangs is abandoned.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::task_manager::TaskManager;

/// One phase of ordered shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Stop reading keys and accepting commands.
    StopInput,
    /// Cancel every task's token.
    CancelTasks,
    /// Wait for tasks to end, up to the deadline.
    AwaitTasks,
    /// Abort tasks that ignored cancellation.
    AbortStragglers,
    /// Close sockets (websocket close frames) and other connections.
    CloseConnections,
    /// Flush the non-blocking log writer.
    FlushLogs,
    /// Leave raw mode and the alternate screen.
    RestoreTerminal,
}

/// Deadlines for the phases that wait.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// How long tasks get to end after cancellation.
    pub tasks: Duration,
    /// How long aborted tasks get to unwind.
    pub(crate) abort: Duration,
    /// How long connection closers get, together.
    pub connections: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            tasks: Duration::from_secs(3),
            abort: Duration::from_millis(500),
            connections: Duration::from_secs(2),
        }
    }
}

type Closer = Pin<Box<dyn Future<Output = ()> + Send>>;
type Hook = Box<dyn FnOnce() + Send>;

/// What the shutdown sequence runs besides task cancellation. Components register here
/// at bootstrap.
#[derive(Default)]
pub struct ShutdownHooks {
    /// Cancelled first, so the UI stops taking keys before anything else goes away.
    pub input: CancellationToken,
    closers: Vec<(String, Closer)>,
    flush: Vec<Hook>,
    restore: Vec<Hook>,
}

impl std::fmt::Debug for ShutdownHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownHooks")
            .field("closers", &self.closers.len())
            .field("flush", &self.flush.len())
            .field("restore", &self.restore.len())
            .finish()
    }
}

impl ShutdownHooks {
    /// Adds a connection closer (for example: send websocket close frames).
    pub(crate) fn on_close(
        &mut self,
        name: impl Into<String>,
        fut: impl Future<Output = ()> + Send + 'static,
    ) {
        self.closers.push((name.into(), Box::pin(fut)));
    }

    /// Adds a log flush step (usually: drop the appender's worker guard).
    pub(crate) fn on_flush(&mut self, hook: impl FnOnce() + Send + 'static) {
        self.flush.push(Box::new(hook));
    }

    /// Adds a terminal restore step.
    pub(crate) fn on_restore(&mut self, hook: impl FnOnce() + Send + 'static) {
        self.restore.push(Box::new(hook));
    }
}

/// What ordered shutdown did.
#[derive(Debug, Clone)]
pub struct ShutdownReport {
    /// Why it ran.
    pub reason: String,
    /// Each phase with its duration.
    #[cfg_attr(
        not(test),
        allow(
            dead_code,
            reason = "read by the shutdown tests; shutdown logs aborted tasks and abandoned closers as it goes"
        )
    )]
    pub(crate) phases: Vec<(Phase, Duration)>,
    /// Tasks aborted because they ignored cancellation.
    #[cfg_attr(
        not(test),
        allow(
            dead_code,
            reason = "read by the shutdown tests; shutdown logs aborted tasks and abandoned closers as it goes"
        )
    )]
    pub(crate) aborted: Vec<String>,
    /// Closers that did not finish in time.
    #[cfg_attr(
        not(test),
        allow(
            dead_code,
            reason = "read by the shutdown tests; shutdown logs aborted tasks and abandoned closers as it goes"
        )
    )]
    pub(crate) abandoned_closers: Vec<String>,
}

/// Why the process shuts down: the reason for the log, and the exit status it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Trigger {
    /// `SIGTERM`, `quit from the console`, `task … failed: …`.
    pub reason: String,
    /// 0 for a quit, 1 for a fatal task failure, 128 + the signal's number for a signal
    /// (SIGHUP 129, SIGINT 130, SIGTERM 143), as shells report a death by that signal.
    pub status: u8,
}

/// Exit status for a signal: 128 + its number.
pub(crate) const fn signal_status(signal: i32) -> u8 {
    (128 + signal) as u8
}

/// Waits for a reason to shut down: a request through the task manager (quit, fatal task
/// failure), SIGINT, SIGTERM or SIGHUP. Returns the reason.
pub(crate) async fn wait_for_trigger(tasks: &TaskManager) -> String {
    wait_for_shutdown(tasks).await.reason
}

/// Like [`wait_for_trigger`], with the exit status the trigger asks for.
pub(crate) async fn wait_for_shutdown(tasks: &TaskManager) -> Trigger {
    Signals::register().wait(tasks).await
}

/// The shutdown signals (SIGINT, SIGTERM, SIGHUP), listened to from the moment this is
/// made: register early, so a signal that arrives while the console is still starting is
/// a clean shutdown rather than the default death with the terminal left raw.
#[derive(Debug)]
pub(crate) struct Signals {
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Starts listening (must be called inside the runtime). A signal that cannot be
    /// listened to is left at its default action.
    pub(crate) fn register() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Signals {
                int: signal(SignalKind::interrupt()).ok(),
                term: signal(SignalKind::terminate()).ok(),
                hup: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Waits for a reason to shut down: a request through the task manager (quit, fatal
    /// task failure) or a signal.
    pub async fn wait(mut self, tasks: &TaskManager) -> Trigger {
        let requested = tasks.shutdown_requested();
        let requested_trigger = || Trigger {
            reason: tasks.shutdown_reason().unwrap_or_else(|| "requested".into()),
            status: tasks.shutdown_status(),
        };
        let signalled =
            |name: &str, number: i32| Trigger { reason: name.into(), status: signal_status(number) };
        #[cfg(unix)]
        {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                biased;
                _ = requested.cancelled() => requested_trigger(),
                _ = recv(&mut self.int) => signalled("SIGINT", 2),
                _ = recv(&mut self.term) => signalled("SIGTERM", 15),
                _ = recv(&mut self.hup) => signalled("SIGHUP", 1),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            tokio::select! {
                biased;
                _ = requested.cancelled() => requested_trigger(),
                _ = tokio::signal::ctrl_c() => signalled("SIGINT", 2),
            }
        }
    }
}

/// Runs every phase in order and reports. Never fails and never hangs past the deadlines.
pub async fn shutdown(
    tasks: &TaskManager,
    hooks: ShutdownHooks,
    deadlines: Deadlines,
    reason: String,
) -> ShutdownReport {
    tracing::info!(%reason, "shutdown started");
    let ShutdownHooks { input, closers, flush, restore } = hooks;
    let mut phases = Vec::new();
    let timed = |phase: Phase, started: Instant, phases: &mut Vec<(Phase, Duration)>| {
        let took = started.elapsed();
        tracing::info!(?phase, took_ms = took.as_secs_f64() * 1e3, "shutdown phase done");
        phases.push((phase, took));
    };

    let t = Instant::now();
    input.cancel();
    timed(Phase::StopInput, t, &mut phases);

    let t = Instant::now();
    tasks.cancel_all();
    timed(Phase::CancelTasks, t, &mut phases);

    let t = Instant::now();
    let all_done = tasks.wait_all(deadlines.tasks).await;
    timed(Phase::AwaitTasks, t, &mut phases);

    let t = Instant::now();
    let aborted = if all_done { Vec::new() } else { tasks.abort_stragglers() };
    if !aborted.is_empty() {
        tracing::warn!(?aborted, "tasks ignored cancellation and were aborted");
        tasks.wait_all(deadlines.abort).await;
    }
    timed(Phase::AbortStragglers, t, &mut phases);

    let t = Instant::now();
    let mut abandoned_closers = Vec::new();
    let connection_deadline = tokio::time::Instant::now() + deadlines.connections;
    for (name, closer) in closers {
        if tokio::time::timeout_at(connection_deadline, closer).await.is_err() {
            tracing::warn!(closer = %name, "connection closer abandoned at the deadline");
            abandoned_closers.push(name);
        }
    }
    timed(Phase::CloseConnections, t, &mut phases);

    // The last log line has to go out before the writer is flushed.
    tracing::info!(%reason, "shutdown complete");
    let t = Instant::now();
    for hook in flush {
        hook();
    }
    phases.push((Phase::FlushLogs, t.elapsed()));

    let t = Instant::now();
    for hook in restore {
        hook();
    }
    phases.push((Phase::RestoreTerminal, t.elapsed()));

    ShutdownReport { reason, phases, aborted, abandoned_closers }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn stubborn_task_is_aborted_and_shutdown_completes_in_order() {
        let tasks = TaskManager::new();
        let polite_saw_cancel = Arc::new(AtomicBool::new(false));
        let p = polite_saw_cancel.clone();
        tasks.spawn("test", "polite", move |cancel| async move {
            cancel.cancelled().await;
            p.store(true, Ordering::SeqCst);
            Ok(())
        });
        tasks.spawn("test", "stubborn", |_cancel| async {
            std::future::pending::<()>().await;
            Ok(())
        });
        let mut hooks = ShutdownHooks::default();
        let input = hooks.input.clone();
        let flushed = Arc::new(AtomicBool::new(false));
        let restored = Arc::new(AtomicBool::new(false));
        let (f, r) = (flushed.clone(), restored.clone());
        hooks.on_close("websocket", async {});
        hooks.on_close("hung socket", std::future::pending());
        hooks.on_flush(move || f.store(true, Ordering::SeqCst));
        hooks.on_restore(move || r.store(true, Ordering::SeqCst));
        let deadlines = Deadlines {
            tasks: Duration::from_millis(100),
            abort: Duration::from_secs(2),
            connections: Duration::from_millis(100),
        };
        let report = shutdown(&tasks, hooks, deadlines, "test".into()).await;
        assert!(input.is_cancelled());
        assert!(polite_saw_cancel.load(Ordering::SeqCst));
        assert_eq!(report.aborted, vec!["stubborn".to_string()]);
        assert_eq!(report.abandoned_closers, vec!["hung socket".to_string()]);
        assert!(flushed.load(Ordering::SeqCst) && restored.load(Ordering::SeqCst));
        let order: Vec<Phase> = report.phases.iter().map(|(p, _)| *p).collect();
        assert_eq!(
            order,
            vec![
                Phase::StopInput,
                Phase::CancelTasks,
                Phase::AwaitTasks,
                Phase::AbortStragglers,
                Phase::CloseConnections,
                Phase::FlushLogs,
                Phase::RestoreTerminal
            ]
        );
        assert_eq!(tasks.live_count(), 0);
    }

    #[tokio::test]
    async fn trigger_returns_the_requested_reason() {
        let tasks = TaskManager::new();
        tasks.request_shutdown("quit key");
        tasks.request_shutdown("second reason loses");
        assert_eq!(wait_for_trigger(&tasks).await, "quit key");
    }

    #[tokio::test]
    async fn a_fatal_request_asks_for_its_status_and_signals_for_128_plus_n() {
        let tasks = TaskManager::new();
        tasks.request_shutdown_with_status("task ui/console failed", 1);
        assert_eq!(
            wait_for_shutdown(&tasks).await,
            Trigger { reason: "task ui/console failed".into(), status: 1 }
        );
        assert_eq!((signal_status(1), signal_status(2), signal_status(15)), (129, 130, 143));
    }
}
