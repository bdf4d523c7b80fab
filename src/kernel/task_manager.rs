//! `TaskManager`: the only place in hoga that spawns tokio tasks.
//!
//! Every task has a component and a name, runs under a child of the root cancellation
//! token, is tracked until it ends, and shows up in a live table the System pane reads.
//! A panic inside a task is caught here (never silently lost), logged, published to the
//! kernel's event sink, and then handled as the spawner chose: restart with backoff, or
//! start ordered shutdown.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_util::FutureExt;
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::kernel::sync::lock;

/// Identifies one spawned task for its whole life (restarts keep the id).
pub(crate) type TaskId = u64;

/// What a task is doing right now, as the System pane shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Running its future.
    Running,
    /// Waiting out the backoff before a supervised restart.
    Restarting,
    /// Returned `Ok` (or was cancelled and returned).
    Finished,
    /// Returned an error or panicked, and will not be restarted.
    Failed,
    /// Aborted by the shutdown sequence because it ignored cancellation.
    Aborted,
}

impl TaskState {
    /// Short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            TaskState::Running => "running",
            TaskState::Restarting => "restarting",
            TaskState::Finished => "finished",
            TaskState::Failed => "failed",
            TaskState::Aborted => "aborted",
        }
    }
}

/// One row of the live task table.
#[derive(Debug, Clone)]
pub struct TaskInfo {
    /// Stable id.
    pub id: TaskId,
    /// Subsystem the task belongs to (`feed`, `ui`, `sim`…).
    pub component: &'static str,
    /// Human name, unique enough to find it in the log.
    pub name: String,
    /// Current state.
    pub state: TaskState,
    /// When the task was first spawned.
    pub(crate) started_at: SystemTime,
    /// How many times the supervisor restarted it.
    pub restarts: u32,
    /// The last error or panic message, if any.
    pub last_error: Option<String>,
}

/// Something that happened to a task; forwarded to the bus by whoever installed the sink.
#[derive(Debug, Clone)]
pub enum TaskEvent {
    /// A task panicked; `restarting` says whether the supervisor will run it again.
    Panicked {
        /// Task id.
        id: TaskId,
        /// Component.
        component: &'static str,
        /// Task name.
        name: String,
        /// Panic payload rendered as text.
        message: String,
        /// True when a supervised restart follows.
        restarting: bool,
    },
    /// A task returned an error.
    Failed {
        /// Task id.
        id: TaskId,
        /// Component.
        component: &'static str,
        /// Task name.
        name: String,
        /// Error chain rendered as text.
        error: String,
        /// True when a supervised restart follows.
        restarting: bool,
    },
    /// A supervised task is running again after a failure.
    Restarted {
        /// Task id.
        id: TaskId,
        /// Component.
        component: &'static str,
        /// Task name.
        name: String,
        /// Restart count so far.
        restarts: u32,
    },
}

/// What to do when a task fails (error or panic).
#[derive(Debug, Clone, Copy)]
pub enum OnFailure {
    /// Record it and let the task end (the default for one-shot work).
    Record,
    /// Run the task again after a backoff that doubles from `initial` up to `max`.
    Restart {
        /// First backoff.
        initial: Duration,
        /// Backoff cap.
        max: Duration,
    },
    /// Start ordered shutdown of the whole process (for tasks hoga cannot live without).
    Shutdown,
    /// Restart like [`OnFailure::Restart`], unless the task failed more than `limit` times
    /// within `window`: then it is gone for good, and ordered shutdown starts (exit status
    /// 1). For a task the process is useless without but that may survive a one-off bug:
    /// the UI loop.
    RestartOrShutdown {
        /// First backoff.
        initial: Duration,
        /// Backoff cap.
        max: Duration,
        /// Failures tolerated within `window`.
        limit: u32,
        /// The window the failures are counted in.
        window: Duration,
    },
}

impl OnFailure {
    /// A sensible supervised restart: 100 ms doubling to 10 s.
    pub fn restart() -> Self {
        OnFailure::Restart { initial: Duration::from_millis(100), max: Duration::from_secs(10) }
    }

    /// The UI loop's policy: restart quickly (50 ms doubling to 2 s), but 5 failures within
    /// a minute mean it cannot draw, and the process shuts down.
    pub(crate) fn vital() -> Self {
        OnFailure::RestartOrShutdown {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(2),
            limit: 5,
            window: Duration::from_secs(60),
        }
    }

    fn backoff(self) -> Option<(Duration, Duration)> {
        match self {
            OnFailure::Restart { initial, max } | OnFailure::RestartOrShutdown { initial, max, .. } => {
                Some((initial, max))
            }
            OnFailure::Record | OnFailure::Shutdown => None,
        }
    }
}

/// Exit status for a shutdown a task's failure caused.
pub(crate) const EXIT_TASK_FAILED: u8 = 1;

type EventSink = Arc<dyn Fn(TaskEvent) + Send + Sync>;

struct Inner {
    root: CancellationToken,
    /// Cancelled to ask the kernel for ordered shutdown (quit, signal, fatal task failure).
    shutdown_request: CancellationToken,
    /// The first reason given, with the exit status it asks for.
    shutdown_reason: Mutex<Option<(String, u8)>>,
    tracker: TaskTracker,
    next_id: AtomicU64,
    table: Mutex<BTreeMap<TaskId, TaskInfo>>,
    aborts: Mutex<BTreeMap<TaskId, AbortHandle>>,
    sink: Mutex<Option<EventSink>>,
    /// Events emitted before any sink was installed (a task that failed while the process
    /// was still starting), handed to the first sink: an alarm is never lost to timing.
    early: Mutex<std::collections::VecDeque<TaskEvent>>,
}

/// Most events kept for a sink not installed yet (the oldest are dropped beyond).
const EARLY_EVENTS: usize = 256;

/// Spawns, tracks and supervises every task of the process. Cheap to clone.
#[derive(Clone)]
pub struct TaskManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TaskManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskManager").field("tasks", &self.len()).finish()
    }
}

impl Default for TaskManager {
    fn default() -> Self {
        Self::new()
    }
}

/// Renders a panic payload (usually `&str` or `String`) as text.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

impl TaskManager {
    /// A manager with a fresh root token.
    pub fn new() -> Self {
        TaskManager {
            inner: Arc::new(Inner {
                root: CancellationToken::new(),
                shutdown_request: CancellationToken::new(),
                shutdown_reason: Mutex::new(None),
                tracker: TaskTracker::new(),
                next_id: AtomicU64::new(1),
                table: Mutex::new(BTreeMap::new()),
                aborts: Mutex::new(BTreeMap::new()),
                sink: Mutex::new(None),
                early: Mutex::new(std::collections::VecDeque::new()),
            }),
        }
    }

    /// Installs the function that receives task events (the kernel points it at the bus).
    /// The first sink also receives the events emitted before it was installed.
    pub(crate) fn set_event_sink(&self, sink: impl Fn(TaskEvent) + Send + Sync + 'static) {
        let sink: EventSink = Arc::new(sink);
        // Held while the early events are replayed, so a new event cannot overtake them.
        let mut slot = lock(&self.inner.sink);
        for event in std::mem::take(&mut *lock(&self.inner.early)) {
            sink(event);
        }
        *slot = Some(sink);
    }

    /// The root token; cancelling it asks every task to stop.
    pub fn root_token(&self) -> CancellationToken {
        self.inner.root.clone()
    }

    /// A token that fires when someone requested ordered shutdown.
    pub(crate) fn shutdown_requested(&self) -> CancellationToken {
        self.inner.shutdown_request.clone()
    }

    /// Asks the kernel to shut down in order (exit status 0: a quit); the first reason
    /// given wins.
    pub(crate) fn request_shutdown(&self, reason: impl Into<String>) {
        self.request_shutdown_with_status(reason, 0);
    }

    /// Asks the kernel to shut down in order and the process to exit with `status` (a
    /// fatal task failure: [`EXIT_TASK_FAILED`]; the terminal hung up: 129). The first
    /// request wins, reason and status together.
    pub(crate) fn request_shutdown_with_status(&self, reason: impl Into<String>, status: u8) {
        let mut slot = lock(&self.inner.shutdown_reason);
        if slot.is_none() {
            *slot = Some((reason.into(), status));
        }
        drop(slot);
        self.inner.shutdown_request.cancel();
    }

    /// Why shutdown was requested, if it was.
    pub(crate) fn shutdown_reason(&self) -> Option<String> {
        lock(&self.inner.shutdown_reason).as_ref().map(|(r, _)| r.clone())
    }

    /// The exit status the shutdown request asked for (0 when none was made).
    pub(crate) fn shutdown_status(&self) -> u8 {
        lock(&self.inner.shutdown_reason).as_ref().map_or(0, |(_, s)| *s)
    }

    /// Spawns a one-shot task; a failure is recorded and reported but nothing restarts it.
    pub fn spawn<F, Fut>(&self, component: &'static str, name: impl Into<String>, f: F) -> TaskId
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let mut f = Some(f);
        self.spawn_with(component, name, OnFailure::Record, move |token| {
            let f = f.take();
            async move {
                match f {
                    Some(f) => f(token).await,
                    None => Ok(()),
                }
            }
        })
    }

    /// Spawns a task that the manager runs again, with backoff, when it fails or panics.
    pub(crate) fn spawn_supervised<F, Fut>(
        &self,
        component: &'static str,
        name: impl Into<String>,
        on_failure: OnFailure,
        f: F,
    ) -> TaskId
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.spawn_with(component, name, on_failure, f)
    }

    fn spawn_with<F, Fut>(
        &self,
        component: &'static str,
        name: impl Into<String>,
        on_failure: OnFailure,
        mut make: F,
    ) -> TaskId
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let name = name.into();
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.inner.table).insert(
            id,
            TaskInfo {
                id,
                component,
                name: name.clone(),
                state: TaskState::Running,
                started_at: SystemTime::now(),
                restarts: 0,
                last_error: None,
            },
        );
        let token = self.inner.root.child_token();
        let manager = self.clone();
        let span_name = name.clone();
        // The tracker lets shutdown wait for every task; the abort handle lets it end the
        // ones that ignore cancellation.
        let handle = self.inner.tracker.spawn(async move {
            let mut backoff = on_failure.backoff().map_or(Duration::ZERO, |(initial, _)| initial);
            // When the recent failures happened (RestartOrShutdown counts them).
            let mut failures: std::collections::VecDeque<tokio::time::Instant> = Default::default();
            loop {
                // The failpoint `task.COMPONENT.NAME` and the making of the future are inside
                // the catch too: a panic there is a failure of this run like any other.
                let run = async {
                    super::failpoint::hit_task(component, &span_name);
                    make(token.clone()).await
                };
                let outcome = AssertUnwindSafe(run).catch_unwind().await;
                let failure = match outcome {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some((false, format!("{e:#}"))),
                    Err(payload) => Some((true, panic_message(payload.as_ref()))),
                };
                let Some((panicked, message)) = failure else {
                    manager.set_state(id, TaskState::Finished, None);
                    break;
                };
                // Where it panicked, for the log (the hook notes it on this thread).
                let location = if panicked { super::terminal::take_panic_location() } else { None };
                let now = tokio::time::Instant::now();
                failures.push_back(now);
                let gone_for_good = match on_failure {
                    OnFailure::RestartOrShutdown { limit, window, .. } => {
                        while failures.front().is_some_and(|t| now.duration_since(*t) > window) {
                            failures.pop_front();
                        }
                        failures.len() > limit as usize
                    }
                    _ => {
                        failures.clear();
                        false
                    }
                };
                let restarting = on_failure.backoff().is_some() && !gone_for_good && !token.is_cancelled();
                if panicked {
                    let at = location.as_deref().unwrap_or("unknown location");
                    tracing::error!(task = %span_name, component, panic = %message, at, restarting, "task panicked");
                } else {
                    tracing::error!(task = %span_name, component, error = %message, restarting, "task failed");
                }
                manager.emit(if panicked {
                    TaskEvent::Panicked {
                        id,
                        component,
                        name: span_name.clone(),
                        message: message.clone(),
                        restarting,
                    }
                } else {
                    TaskEvent::Failed {
                        id,
                        component,
                        name: span_name.clone(),
                        error: message.clone(),
                        restarting,
                    }
                });
                match on_failure {
                    OnFailure::Restart { max, .. } | OnFailure::RestartOrShutdown { max, .. } if restarting => {
                        manager.set_state(id, TaskState::Restarting, Some(message));
                        tokio::select! {
                            biased;
                            _ = token.cancelled() => {
                                manager.set_state(id, TaskState::Finished, None);
                                break;
                            }
                            _ = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(max);
                        let restarts = manager.bump_restarts(id);
                        manager.emit(TaskEvent::Restarted { id, component, name: span_name.clone(), restarts });
                    }
                    OnFailure::Shutdown => {
                        manager.set_state(id, TaskState::Failed, Some(message.clone()));
                        manager.request_shutdown_with_status(
                            format!("task {span_name} failed: {message}"),
                            EXIT_TASK_FAILED,
                        );
                        break;
                    }
                    OnFailure::RestartOrShutdown { limit, window, .. } if gone_for_good => {
                        manager.set_state(id, TaskState::Failed, Some(message.clone()));
                        manager.request_shutdown_with_status(
                            format!(
                                "task {component}/{span_name} failed {} times within {}s, last: {message}",
                                limit + 1,
                                window.as_secs()
                            ),
                            EXIT_TASK_FAILED,
                        );
                        break;
                    }
                    _ => {
                        manager.set_state(id, TaskState::Failed, Some(message));
                        break;
                    }
                }
            }
            lock(&manager.inner.aborts).remove(&id);
        });
        if !handle.is_finished() {
            lock(&self.inner.aborts).insert(id, handle.abort_handle());
        }
        id
    }

    fn set_state(&self, id: TaskId, state: TaskState, error: Option<String>) {
        if let Some(info) = lock(&self.inner.table).get_mut(&id) {
            info.state = state;
            if error.is_some() {
                info.last_error = error;
            }
        }
    }

    fn bump_restarts(&self, id: TaskId) -> u32 {
        let mut table = lock(&self.inner.table);
        match table.get_mut(&id) {
            Some(info) => {
                info.restarts += 1;
                info.state = TaskState::Running;
                info.restarts
            }
            None => 0,
        }
    }

    fn emit(&self, event: TaskEvent) {
        let sink = {
            let slot = lock(&self.inner.sink);
            if slot.is_none() {
                let mut early = lock(&self.inner.early);
                if early.len() == EARLY_EVENTS {
                    early.pop_front();
                }
                early.push_back(event);
                return;
            }
            slot.clone()
        };
        if let Some(sink) = sink {
            sink(event);
        }
    }

    /// A copy of the live task table, in spawn order.
    pub fn table(&self) -> Vec<TaskInfo> {
        lock(&self.inner.table).values().cloned().collect()
    }

    /// Number of tasks ever spawned and still listed.
    pub fn len(&self) -> usize {
        lock(&self.inner.table).len()
    }

    /// True when no task was ever spawned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tasks currently alive (running or waiting to restart).
    #[cfg(test)]
    pub(crate) fn live_count(&self) -> usize {
        lock(&self.inner.table)
            .values()
            .filter(|t| matches!(t.state, TaskState::Running | TaskState::Restarting))
            .count()
    }

    /// Cancels every task's token (shutdown phase "cancel tasks").
    pub fn cancel_all(&self) {
        self.inner.root.cancel();
    }

    /// Waits until every task has ended, or the deadline passes; true when all ended.
    pub async fn wait_all(&self, deadline: Duration) -> bool {
        self.inner.tracker.close();
        tokio::time::timeout(deadline, self.inner.tracker.wait()).await.is_ok()
    }

    /// Aborts tasks that are still alive (shutdown phase "abort stragglers"); returns
    /// their names.
    pub(crate) fn abort_stragglers(&self) -> Vec<String> {
        let aborts: Vec<(TaskId, AbortHandle)> =
            std::mem::take(&mut *lock(&self.inner.aborts)).into_iter().collect();
        let mut names = Vec::new();
        for (id, handle) in aborts {
            if handle.is_finished() {
                continue;
            }
            handle.abort();
            let mut table = lock(&self.inner.table);
            if let Some(info) = table.get_mut(&id) {
                info.state = TaskState::Aborted;
                names.push(info.name.clone());
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    async fn wait_until(mut cond: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(tokio::time::Instant::now() < deadline, "condition not reached in time");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Installs an event sink that keeps every task event, and returns what it keeps.
    fn record_events(tm: &TaskManager) -> Arc<Mutex<Vec<TaskEvent>>> {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        tm.set_event_sink(move |e| sink.lock().unwrap().push(e));
        events
    }

    /// Restarts after 1 ms, backing off to 4 ms at the most.
    fn quick_restart() -> OnFailure {
        OnFailure::Restart { initial: Duration::from_millis(1), max: Duration::from_millis(4) }
    }

    #[tokio::test]
    async fn spawned_task_is_tracked_and_finishes() {
        let tm = TaskManager::new();
        let id = tm.spawn("test", "one-shot", |_c| async { Ok(()) });
        assert!(tm.wait_all(Duration::from_secs(5)).await);
        let row = tm.table().into_iter().find(|t| t.id == id).unwrap();
        assert_eq!(row.state, TaskState::Finished);
        assert_eq!(row.component, "test");
        assert_eq!(row.name, "one-shot");
    }

    #[tokio::test]
    async fn panic_is_caught_reported_and_restarted() {
        let tm = TaskManager::new();
        let events = record_events(&tm);
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        let id = tm.spawn_supervised("test", "flaky", quick_restart(), move |cancel| {
            let n = r.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    panic!("boom {n}");
                }
                cancel.cancelled().await;
                Ok(())
            }
        });
        wait_until(|| runs.load(Ordering::SeqCst) >= 3).await;
        let row = tm.table().into_iter().find(|t| t.id == id).unwrap();
        assert_eq!(row.restarts, 2);
        assert_eq!(row.state, TaskState::Running);
        assert!(row.last_error.unwrap().contains("boom 1"));
        let panics = events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e, TaskEvent::Panicked { restarting: true, .. }))
            .count();
        assert_eq!(panics, 2);
        tm.cancel_all();
        assert!(tm.wait_all(Duration::from_secs(5)).await);
    }

    #[tokio::test]
    async fn failure_with_shutdown_policy_requests_shutdown() {
        let tm = TaskManager::new();
        tm.spawn_supervised("test", "vital", OnFailure::Shutdown, |_c| async {
            anyhow::bail!("disk on fire")
        });
        tokio::time::timeout(Duration::from_secs(5), tm.shutdown_requested().cancelled()).await.unwrap();
        assert!(tm.shutdown_reason().unwrap().contains("disk on fire"));
    }

    #[tokio::test]
    async fn the_task_failpoint_panics_a_run_and_the_supervisor_restarts_it() {
        crate::kernel::failpoint::set(
            "task.test.failpoint-target",
            crate::kernel::failpoint::Action::Panic,
            Some(1),
        );
        let tm = TaskManager::new();
        let events = record_events(&tm);
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        let id = tm.spawn_supervised("test", "failpoint-target", quick_restart(), move |cancel| {
            r.fetch_add(1, Ordering::SeqCst);
            async move {
                cancel.cancelled().await;
                Ok(())
            }
        });
        // The first run panicked before its future was even made; the second one runs.
        wait_until(|| runs.load(Ordering::SeqCst) == 1).await;
        let row = tm.table().into_iter().find(|t| t.id == id).unwrap();
        assert_eq!((row.restarts, row.state), (1, TaskState::Running));
        assert!(row.last_error.unwrap().contains("failpoint task.test.failpoint-target"));
        assert!(
            events
                .lock()
                .unwrap()
                .iter()
                .any(|e| matches!(e, TaskEvent::Panicked { component: "test", restarting: true, .. }))
        );
        crate::kernel::failpoint::clear("task.test.failpoint-target");
        tm.cancel_all();
        assert!(tm.wait_all(Duration::from_secs(5)).await);
    }

    #[tokio::test]
    async fn a_vital_task_failing_too_often_is_given_up_and_shuts_the_process_down() {
        let tm = TaskManager::new();
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        let policy = OnFailure::RestartOrShutdown {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(2),
            limit: 3,
            window: Duration::from_secs(60),
        };
        let id = tm.spawn_supervised("test", "vital-ui", policy, move |_c| {
            r.fetch_add(1, Ordering::SeqCst);
            async { anyhow::bail!("cannot draw") }
        });
        tokio::time::timeout(Duration::from_secs(5), tm.shutdown_requested().cancelled()).await.unwrap();
        // Three failures are tolerated and restarted; the fourth is one too many.
        assert_eq!(runs.load(Ordering::SeqCst), 4);
        let row = tm.table().into_iter().find(|t| t.id == id).unwrap();
        assert_eq!((row.state, row.restarts), (TaskState::Failed, 3));
        assert!(tm.shutdown_reason().unwrap().contains("cannot draw"));
        assert_eq!(tm.shutdown_status(), EXIT_TASK_FAILED);
    }

    #[tokio::test]
    async fn events_before_the_sink_is_installed_reach_the_first_sink() {
        let tm = TaskManager::new();
        tm.spawn("test", "early-bird", |_c| async { anyhow::bail!("failed while starting") });
        wait_until(|| tm.table().iter().any(|t| t.state == TaskState::Failed)).await;
        let events = record_events(&tm);
        assert!(matches!(events.lock().unwrap().as_slice(), [TaskEvent::Failed { restarting: false, .. }]));
    }

    #[tokio::test]
    async fn a_quit_asks_for_status_zero_and_the_first_request_wins() {
        let tm = TaskManager::new();
        assert_eq!(tm.shutdown_status(), 0);
        tm.request_shutdown_with_status("terminal hung up", 129);
        tm.request_shutdown("quit");
        assert_eq!(tm.shutdown_reason().as_deref(), Some("terminal hung up"));
        assert_eq!(tm.shutdown_status(), 129);
    }

    #[tokio::test]
    async fn stragglers_are_aborted() {
        let tm = TaskManager::new();
        tm.spawn("test", "stubborn", |_c| async {
            // Ignores cancellation on purpose.
            std::future::pending::<()>().await;
            Ok(())
        });
        tm.cancel_all();
        assert!(!tm.wait_all(Duration::from_millis(50)).await);
        assert_eq!(tm.abort_stragglers(), vec!["stubborn".to_string()]);
        assert!(tm.wait_all(Duration::from_secs(5)).await);
    }
}
