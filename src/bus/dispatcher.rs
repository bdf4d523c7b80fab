//! The bus itself: publishing into lanes, and one worker per lane that delivers its
//! messages to the handlers, retries failing handlers and reports what it gives up on.
//!
//! Each lane has its own worker task (spawned through the kernel's `TaskManager`), so a
//! slow handler holds up only the lane it serves: the order manager being busy never
//! delays a log line, and a flood of log lines never delays a trading message. Inside a
//! lane, messages are delivered in acceptance order and handlers run in registration
//! order. Priority between lanes: after `batch` messages a lower lane's worker yields
//! while a higher lane has work waiting, so under load the runtime's threads go to the
//! higher lane first.
//!
//! A handler that errors or panics is retried after `attempt × retry_backoff` (2 s, 4 s
//! by default) without holding up the other messages of its lane; after `max_attempts` it
//! is dead-lettered and a [`CriticalFailure`] goes out on the
//! safety lane.
//!
//! Each lane's queue mutex is a plain `std` mutex held for a push or a pop only, never
//! across an `.await`, and nothing logs while holding it (the log layer may publish to
//! the bus).

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use chrono::Utc;
use futures_util::FutureExt;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::event::{BusMessage, Cause, CorrelationId, CriticalFailure, Envelope, Receipt};
use super::lane::{BusMetrics, Lane, LaneCounters, LaneSpec, Overflow, SLOW_HANDLER};
use super::trace::TraceRing;
use crate::kernel::sync::lock;
use crate::kernel::{OnFailure, TaskId, TaskManager, task_manager::panic_message};

/// Most handler retries waiting at once per lane. Beyond this a failure is dead-lettered
/// at once (counted), so a storm of failing handlers cannot grow memory without bound.
const MAX_PENDING_RETRIES: usize = 1024;

/// Bus settings: one [`LaneSpec`] per lane, retry policy, trace ring size.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// Per lane, indexed by [`Lane::index`].
    pub lanes: [LaneSpec; Lane::COUNT],
    /// Backoff unit: attempt `n` failing waits `n × retry_backoff` before attempt `n+1`.
    pub retry_backoff: Duration,
    /// Attempts per handler and message, the first included (at least 1).
    pub max_attempts: u32,
    /// How many delivered envelopes the trace ring keeps.
    pub(crate) trace_capacity: usize,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            lanes: Lane::ALL.map(LaneSpec::default_for),
            retry_backoff: Duration::from_secs(2),
            max_attempts: 3,
            trace_capacity: 256,
        }
    }
}

impl BusConfig {
    /// Replaces one lane's spec (tests and tuning).
    #[cfg(test)]
    pub(crate) fn with_lane(mut self, lane: Lane, spec: LaneSpec) -> Self {
        self.lanes[lane.index()] = spec;
        self
    }

    /// From the `[bus]` section of the settings.
    pub fn from_settings(s: &crate::config::BusSettings) -> Self {
        BusConfig {
            retry_backoff: Duration::from_millis(s.retry_backoff_ms),
            max_attempts: s.max_attempts,
            trace_capacity: s.trace_capacity,
            ..BusConfig::default()
        }
    }
}

/// Why a publish did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The lane is full and its policy refuses new messages (or `try_publish` on a
    /// blocking lane).
    #[error("bus lane {lane} is full ({capacity} queued); message from {from} refused")]
    Full {
        /// The lane.
        lane: Lane,
        /// Its capacity.
        capacity: usize,
        /// The publisher.
        from: &'static str,
    },
    /// The bus has stopped (shutdown); nothing will be delivered any more.
    #[error("bus is closed (dispatcher stopped); message from {from} on lane {lane} refused")]
    Closed {
        /// The lane.
        lane: Lane,
        /// The publisher.
        from: &'static str,
    },
}

type HandlerFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
type HandlerFn<M> = dyn Fn(Arc<Envelope<M>>) -> HandlerFuture + Send + Sync;
type FilterFn<M> = dyn Fn(&Envelope<M>) -> bool + Send + Sync;

struct Handler<M> {
    name: String,
    filter: Box<FilterFn<M>>,
    call: Box<HandlerFn<M>>,
}

/// One lane: its queue, its counters, and the two wake-ups around it.
struct LaneQueue<M> {
    queue: Mutex<VecDeque<Arc<Envelope<M>>>>,
    counters: LaneCounters,
    /// Wakes publishers blocked on a full lane when the worker takes from it.
    space: Notify,
    /// Wakes the lane's worker when something was queued (`notify_one` keeps a permit,
    /// so a push between "found nothing" and "wait" is not missed).
    work: Notify,
}

struct Shared<M> {
    config: BusConfig,
    lanes: [LaneQueue<M>; Lane::COUNT],
    next_seq: AtomicU64,
    closed: AtomicBool,
    handlers: RwLock<Arc<[Arc<Handler<M>>]>>,
    trace: Mutex<TraceRing<M>>,
}

/// The event bus. Cheap to clone: every clone is a handle to the same lanes.
pub struct Bus<M> {
    shared: Arc<Shared<M>>,
}

impl<M> Clone for Bus<M> {
    fn clone(&self) -> Self {
        Bus { shared: self.shared.clone() }
    }
}

impl<M> std::fmt::Debug for Bus<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").field("config", &self.shared.config).finish()
    }
}

/// A message on its way in, before it gets its sequence number.
struct Pending<M> {
    lane: Lane,
    source: &'static str,
    parent: Option<(u64, CorrelationId)>,
    failure_depth: u8,
    payload: M,
}

enum PushResult<M> {
    Accepted(Receipt),
    Full(Pending<M>),
}

/// A handler delivery waiting for its next attempt.
struct Retry<M> {
    due: Instant,
    env: Arc<Envelope<M>>,
    handler: Arc<Handler<M>>,
    /// The attempt number the retry will be.
    attempt: u32,
}

impl<M: BusMessage> Bus<M> {
    /// A bus with the given lane specs; nothing is delivered until [`Bus::run`] (or
    /// [`Bus::spawn_dispatcher`]) runs.
    pub fn new(config: BusConfig) -> Self {
        let lanes = std::array::from_fn(|i| LaneQueue {
            queue: Mutex::new(VecDeque::with_capacity(config.lanes[i].capacity.min(1024))),
            counters: LaneCounters::default(),
            space: Notify::new(),
            work: Notify::new(),
        });
        let trace = TraceRing::new(config.trace_capacity);
        Bus {
            shared: Arc::new(Shared {
                config,
                lanes,
                next_seq: AtomicU64::new(1),
                closed: AtomicBool::new(false),
                handlers: RwLock::new(Arc::from(Vec::new())),
                trace: Mutex::new(trace),
            }),
        }
    }

    /// The configuration the bus was built with.
    pub fn config(&self) -> &BusConfig {
        &self.shared.config
    }

    /// Registers a handler for every message `filter` accepts. Handlers run in
    /// registration order on the worker of the message's lane. A handler may be added
    /// while the workers run.
    pub fn subscribe<F, H, Fut>(&self, name: impl Into<String>, filter: F, handler: H)
    where
        F: Fn(&Envelope<M>) -> bool + Send + Sync + 'static,
        H: Fn(Arc<Envelope<M>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let entry = Arc::new(Handler {
            name: name.into(),
            filter: Box::new(filter),
            call: Box::new(move |env| Box::pin(handler(env)) as HandlerFuture),
        });
        let mut slot = self.shared.handlers.write().unwrap_or_else(PoisonError::into_inner);
        let mut list: Vec<Arc<Handler<M>>> = slot.iter().cloned().collect();
        list.push(entry);
        *slot = Arc::from(list);
    }

    /// Publishes a message that starts a new causal chain (or joins the one it names,
    /// see [`BusMessage::correlation`]). On a blocking lane this waits for room
    /// (backpressure); on other lanes it never waits.
    pub async fn publish(&self, source: &'static str, msg: M) -> Result<Receipt, PublishError> {
        self.publish_inner(source, msg, None).await
    }

    /// Publishes without waiting: on a full blocking lane this fails with
    /// [`PublishError::Full`] (counted as dropped). For synchronous callers such as the
    /// log layer and the task manager's event sink.
    pub fn try_publish(&self, source: &'static str, msg: M) -> Result<Receipt, PublishError> {
        self.try_publish_inner(source, msg, None)
    }

    /// Publishes a message a lane's own work produced (a reply to a request, the order
    /// manager's facts about an order a request placed), joining `parent`'s chain when
    /// given. It never waits: on a full lane it is queued past the capacity (counted as
    /// `over_capacity`). Waiting here could wait on the very worker that must make room —
    /// the trading worker waits on the order manager, which waits on whoever forwards its
    /// facts onto the trading lane — so these are bounded by the work that caused them
    /// instead of by the lane.
    pub(crate) fn publish_follow_up(
        &self,
        parent: Option<&dyn Cause>,
        source: &'static str,
        msg: M,
    ) -> Result<Receipt, PublishError> {
        let lane = msg.lane();
        let parent = parent.map(|p| (p.cause_seq(), p.cause_correlation()));
        let pending = Pending { lane, source, parent, failure_depth: 0, payload: msg };
        match self.push(pending, true)? {
            PushResult::Accepted(r) => Ok(r),
            PushResult::Full(_) => Err(self.full_error(lane, source)),
        }
    }

    fn try_publish_inner(
        &self,
        source: &'static str,
        msg: M,
        parent: Option<(u64, CorrelationId)>,
    ) -> Result<Receipt, PublishError> {
        let lane = msg.lane();
        let pending = Pending { lane, source, parent, failure_depth: 0, payload: msg };
        match self.push(pending, false)? {
            PushResult::Accepted(r) => Ok(r),
            PushResult::Full(_) => {
                LaneCounters::bump(&self.shared.lanes[lane.index()].counters.dropped);
                Err(self.full_error(lane, source))
            }
        }
    }

    async fn publish_inner(
        &self,
        source: &'static str,
        msg: M,
        parent: Option<(u64, CorrelationId)>,
    ) -> Result<Receipt, PublishError> {
        let lane = msg.lane();
        let mut pending = Pending { lane, source, parent, failure_depth: 0, payload: msg };
        loop {
            // Register for the wake-up before looking, so a pop between the look and the
            // wait is not missed.
            let space = self.shared.lanes[lane.index()].space.notified();
            tokio::pin!(space);
            space.as_mut().enable();
            match self.push(pending, false)? {
                PushResult::Accepted(r) => return Ok(r),
                PushResult::Full(p) => pending = p,
            }
            space.await;
        }
    }

    fn full_error(&self, lane: Lane, from: &'static str) -> PublishError {
        PublishError::Full { lane, capacity: self.shared.config.lanes[lane.index()].capacity, from }
    }

    /// Queues a message according to its lane's policy. `force` ignores the capacity of a
    /// blocking lane (used only by a worker for its own failure reports, which must not
    /// wait on a lane whose worker may be itself).
    fn push(&self, p: Pending<M>, force: bool) -> Result<PushResult<M>, PublishError> {
        let shared = &*self.shared;
        let lane = p.lane;
        let i = lane.index();
        if shared.closed.load(Ordering::Acquire) {
            return Err(PublishError::Closed { lane, from: p.source });
        }
        let spec = shared.config.lanes[i];
        let slot = &shared.lanes[i];
        // The message's own id wins (a command its sender numbered, a reply to it); then
        // the parent's chain; else a new chain.
        let own = p.payload.correlation();
        let mut queue = lock(&slot.queue);
        let full = queue.len() >= spec.capacity;
        if full && !force && spec.overflow != Overflow::DropOldest {
            return Ok(PushResult::Full(p));
        }
        let seq = shared.next_seq.fetch_add(1, Ordering::Relaxed);
        let (caused_by, correlation) = match p.parent {
            Some((parent_seq, corr)) => (Some(parent_seq), own.unwrap_or(corr)),
            None => (None, own.unwrap_or_else(CorrelationId::mint)),
        };
        let env = Arc::new(Envelope {
            seq,
            lane,
            source: p.source,
            published_at: Utc::now(),
            correlation,
            caused_by,
            failure_depth: p.failure_depth,
            payload: p.payload,
        });
        // A dropped envelope is released after the lock is gone (its payload's drop could
        // be arbitrary code).
        let released = if full && spec.overflow == Overflow::DropOldest && !force {
            LaneCounters::bump(&slot.counters.dropped);
            queue.pop_front()
        } else {
            if full {
                LaneCounters::bump(&slot.counters.over_capacity);
            }
            slot.counters.depth.fetch_add(1, Ordering::Relaxed);
            None
        };
        queue.push_back(env);
        drop(queue);
        drop(released);
        LaneCounters::bump(&slot.counters.published);
        slot.work.notify_one();
        Ok(PushResult::Accepted(Receipt { seq, correlation, lane }))
    }

    /// Per-lane counters, for the System pane.
    pub fn metrics(&self) -> BusMetrics {
        let s = &*self.shared;
        BusMetrics {
            lanes: Lane::ALL
                .iter()
                .map(|l| s.lanes[l.index()].counters.snapshot(*l, &s.config.lanes[l.index()]))
                .collect(),
        }
    }

    /// The last delivered envelopes, oldest first (the System pane's event monitor).
    pub fn recent(&self) -> Vec<Arc<Envelope<M>>> {
        lock(&self.shared.trace).recent()
    }

    /// Every delivered envelope of one causal chain still in the trace ring.
    pub fn chain(&self, correlation: CorrelationId) -> Vec<Arc<Envelope<M>>> {
        lock(&self.shared.trace).chain(correlation)
    }

    /// True once the workers have stopped; publishes then fail with `Closed`.
    #[cfg(test)]
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Spawns one worker per lane under the task manager (component `bus`, task
    /// `lane-<name>`), each restarted with backoff should it ever fail. The bus closes
    /// once every worker has stopped (shutdown).
    pub fn spawn_dispatcher(&self, tasks: &TaskManager) -> Vec<TaskId> {
        let running = Arc::new(AtomicU64::new(Lane::COUNT as u64));
        Lane::ALL
            .iter()
            .map(|&lane| {
                let (bus, running) = (self.clone(), running.clone());
                let name = format!("lane-{}", lane.label());
                tasks.spawn_supervised("bus", name, OnFailure::restart(), move |cancel| {
                    let (bus, running) = (bus.clone(), running.clone());
                    async move {
                        bus.run_lane(lane, cancel).await;
                        // The last worker to stop closes the bus (a restarted worker never
                        // gets here: it only returns on cancel).
                        if running.fetch_sub(1, Ordering::AcqRel) == 1 {
                            bus.close();
                        }
                        Ok(())
                    }
                })
            })
            .collect()
    }

    /// Every lane's worker on the calling task, until `cancel` fires; then the bus closes
    /// (blocked publishers are released with `Closed`). For tests and tools without a task
    /// manager; the console uses [`Bus::spawn_dispatcher`].
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        futures_util::future::join_all(Lane::ALL.map(|lane| self.run_lane(lane, cancel.clone()))).await;
        self.close();
        Ok(())
    }

    /// One lane's worker: delivers the lane's messages in order, runs due retries, and
    /// yields to higher lanes after each batch while they have work.
    async fn run_lane(&self, lane: Lane, cancel: CancellationToken) {
        let slot = &self.shared.lanes[lane.index()];
        let batch = self.shared.config.lanes[lane.index()].batch.max(1);
        let mut retries: Vec<Retry<M>> = Vec::new();
        let mut run = 0usize;
        while !cancel.is_cancelled() {
            let now = Instant::now();
            if let Some(i) = retries.iter().position(|r| r.due <= now) {
                let r = retries.swap_remove(i);
                self.run_retry(r, &mut retries).await;
                continue;
            }
            if run >= batch {
                run = 0;
                if self.higher_lane_busy(lane) {
                    tokio::task::yield_now().await;
                }
            }
            if let Some(env) = self.pop(lane) {
                run += 1;
                self.deliver(env, &mut retries).await;
                // Keep the worker thread fair to other tasks under a flood.
                tokio::task::consume_budget().await;
                continue;
            }
            run = 0;
            let next_due = retries.iter().map(|r| r.due).min();
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break,
                _ = slot.work.notified() => {}
                _ = sleep_until_opt(next_due) => {}
            }
        }
        let left = slot.counters.depth.load(Ordering::Relaxed);
        tracing::debug!(lane = %lane, undelivered = left, pending_retries = retries.len(), "bus lane stopped");
    }

    fn higher_lane_busy(&self, lane: Lane) -> bool {
        Lane::ALL[..lane.index()]
            .iter()
            .any(|l| self.shared.lanes[l.index()].counters.depth.load(Ordering::Relaxed) > 0)
    }

    fn pop(&self, lane: Lane) -> Option<Arc<Envelope<M>>> {
        let slot = &self.shared.lanes[lane.index()];
        let env = lock(&slot.queue).pop_front()?;
        slot.counters.depth.fetch_sub(1, Ordering::Relaxed);
        slot.space.notify_waiters();
        Some(env)
    }

    fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        for l in &self.shared.lanes {
            l.space.notify_waiters();
        }
    }

    async fn deliver(&self, env: Arc<Envelope<M>>, retries: &mut Vec<Retry<M>>) {
        let shared = &*self.shared;
        LaneCounters::bump(&shared.lanes[env.lane.index()].counters.delivered);
        lock(&shared.trace).record(env.clone());
        let handlers = shared.handlers.read().unwrap_or_else(PoisonError::into_inner).clone();
        for h in handlers.iter() {
            if !(h.filter)(&env) {
                continue;
            }
            if let Err(error) = self.call(h, env.clone()).await {
                self.failed(h.clone(), env.clone(), 1, error, retries);
            }
        }
    }

    async fn run_retry(&self, r: Retry<M>, retries: &mut Vec<Retry<M>>) {
        LaneCounters::bump(&self.shared.lanes[r.env.lane.index()].counters.retried);
        if let Err(error) = self.call(&r.handler, r.env.clone()).await {
            self.failed(r.handler, r.env, r.attempt, error, retries);
        } else {
            tracing::info!(handler = %r.handler.name, seq = r.env.seq, attempt = r.attempt, "bus handler succeeded on retry");
        }
    }

    /// Runs one handler on one envelope; a panic becomes an error, a slow call is counted.
    async fn call(&self, h: &Handler<M>, env: Arc<Envelope<M>>) -> Result<(), String> {
        let lane = env.lane;
        let started = Instant::now();
        let out = call(h, env).await;
        if started.elapsed() > SLOW_HANDLER {
            LaneCounters::bump(&self.shared.lanes[lane.index()].counters.slow);
        }
        out
    }

    /// Attempt `attempt` of `handler` on `env` failed: schedule the next one, or give up.
    fn failed(
        &self,
        handler: Arc<Handler<M>>,
        env: Arc<Envelope<M>>,
        attempt: u32,
        error: String,
        retries: &mut Vec<Retry<M>>,
    ) {
        let cfg = &self.shared.config;
        if attempt < cfg.max_attempts && retries.len() < MAX_PENDING_RETRIES {
            let delay = cfg.retry_backoff * attempt;
            tracing::warn!(handler = %handler.name, seq = env.seq, lane = %env.lane, attempt, %error,
                retry_in_ms = delay.as_millis() as u64, "bus handler failed; will retry");
            retries.push(Retry { due: Instant::now() + delay, env, handler, attempt: attempt + 1 });
            return;
        }
        LaneCounters::bump(&self.shared.lanes[env.lane.index()].counters.dead_lettered);
        tracing::error!(handler = %handler.name, seq = env.seq, lane = %env.lane, attempts = attempt, %error,
            "bus handler gave up; message dead-lettered");
        if env.failure_depth > 0 {
            // A failure report whose handler failed: logged above, not reported again.
            return;
        }
        let report = M::critical_failure(CriticalFailure {
            failed: env.clone(),
            handler: handler.name.clone(),
            error,
            attempts: attempt,
        });
        let pending = Pending {
            lane: Lane::Safety,
            source: "bus",
            parent: Some((env.seq, env.correlation)),
            failure_depth: env.failure_depth.saturating_add(1),
            payload: report,
        };
        if let Err(e) = self.push(pending, true) {
            tracing::error!(error = %e, "could not publish a critical failure");
        }
    }
}

/// Runs one handler on one envelope; a panic becomes an error.
async fn call<M>(h: &Handler<M>, env: Arc<Envelope<M>>) -> Result<(), String> {
    let fut = match std::panic::catch_unwind(AssertUnwindSafe(|| (h.call)(env))) {
        Ok(fut) => fut,
        Err(p) => return Err(format!("handler panicked: {}", panic_message(p.as_ref()))),
    };
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(p) => Err(format!("handler panicked: {}", panic_message(p.as_ref()))),
    }
}

async fn sleep_until_opt(due: Option<Instant>) {
    match due {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use tokio::time::timeout;

    /// A test payload: a lane and a label.
    #[derive(Debug)]
    enum Msg {
        On(Lane, &'static str, Option<CorrelationId>),
        Failure(Box<CriticalFailure<Msg>>),
    }

    impl BusMessage for Msg {
        fn lane(&self) -> Lane {
            match self {
                Msg::On(l, ..) => *l,
                Msg::Failure(_) => Lane::Safety,
            }
        }
        fn correlation(&self) -> Option<CorrelationId> {
            match self {
                Msg::On(_, _, c) => *c,
                Msg::Failure(_) => None,
            }
        }
        fn critical_failure(failure: CriticalFailure<Self>) -> Self {
            Msg::Failure(Box::new(failure))
        }
    }

    fn label(m: &Msg) -> &'static str {
        match m {
            Msg::On(_, l, _) => l,
            Msg::Failure(_) => "failure",
        }
    }

    const WAIT: Duration = Duration::from_secs(10);

    /// A bus whose handler records every label it sees, started under a task manager.
    fn started(config: BusConfig) -> (Bus<Msg>, TaskManager, Arc<Mutex<Vec<&'static str>>>) {
        let bus = Bus::new(config);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        bus.subscribe(
            "record",
            |_| true,
            move |env| {
                let s = s.clone();
                async move {
                    lock(&s).push(label(&env.payload));
                    Ok(())
                }
            },
        );
        let tasks = TaskManager::new();
        bus.spawn_dispatcher(&tasks);
        (bus, tasks, seen)
    }

    async fn until(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + WAIT;
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stuck_trading_handler_holds_up_only_its_own_lane() {
        // The old single dispatcher ran every handler on one task: a trading handler
        // waiting on a slow order manager stopped the log lines, the safety events, all.
        let (bus, tasks, seen) = started(BusConfig::default());
        let release = Arc::new(Notify::new());
        let r = release.clone();
        bus.subscribe(
            "stuck-trading",
            |env| env.lane == Lane::Trading,
            move |_| {
                let r = r.clone();
                async move {
                    r.notified().await;
                    Ok(())
                }
            },
        );
        bus.publish("t", Msg::On(Lane::Trading, "order", None)).await.unwrap();
        bus.publish("t", Msg::On(Lane::Trading, "order-2", None)).await.unwrap();
        bus.publish("t", Msg::On(Lane::Safety, "halt", None)).await.unwrap();
        bus.publish("t", Msg::On(Lane::Logging, "log", None)).await.unwrap();
        until("safety and logging delivered past a stuck trading handler", || {
            let s = lock(&seen);
            s.contains(&"halt") && s.contains(&"log")
        })
        .await;
        assert!(!lock(&seen).contains(&"order-2"), "the trading lane waits for its own handler");
        release.notify_one();
        until("the trading lane moves again", || lock(&seen).contains(&"order-2")).await;
        tasks.cancel_all();
    }

    #[tokio::test]
    async fn a_lane_delivers_in_order_and_its_chain_can_be_followed() {
        let (bus, tasks, seen) = started(BusConfig::default());
        let id = CorrelationId::mint();
        let root = bus.publish("ui", Msg::On(Lane::Trading, "buy", Some(id))).await.unwrap();
        assert_eq!(root.correlation, id, "a message that names its chain keeps it");
        let reply =
            bus.publish_follow_up(Some(&root), "desk", Msg::On(Lane::Trading, "accepted", None)).unwrap();
        assert_eq!(reply.correlation, id, "a follow-up joins its cause's chain");
        let other = bus.publish("x", Msg::On(Lane::Trading, "other", None)).await.unwrap();
        assert_ne!(other.correlation, id, "a root without an id gets a fresh chain");
        until("three delivered", || lock(&seen).len() == 3).await;
        assert_eq!(*lock(&seen), vec!["buy", "accepted", "other"]);
        let chain: Vec<_> = bus.chain(id).iter().map(|e| label(&e.payload)).collect();
        assert_eq!(chain, vec!["buy", "accepted"]);
        assert_eq!(bus.chain(id)[1].caused_by, Some(root.seq));
        tasks.cancel_all();
    }

    #[tokio::test]
    async fn a_failing_handler_is_retried_then_reported_on_the_safety_lane() {
        let config =
            BusConfig { retry_backoff: Duration::from_millis(10), max_attempts: 3, ..BusConfig::default() };
        let (bus, tasks, seen) = started(config);
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        bus.subscribe(
            "broken",
            |env| matches!(env.payload, Msg::On(Lane::Config, ..)),
            move |_| {
                c.fetch_add(1, Ordering::SeqCst);
                async { anyhow::bail!("disk full") }
            },
        );
        let reported = Arc::new(Mutex::new(None));
        let r = reported.clone();
        bus.subscribe(
            "failures",
            |env| matches!(env.payload, Msg::Failure(_)),
            move |env| {
                if let Msg::Failure(f) = &env.payload {
                    *lock(&r) = Some((f.handler.clone(), f.error.clone(), f.attempts, env.lane));
                }
                async { Ok(()) }
            },
        );
        bus.publish("t", Msg::On(Lane::Config, "theme", None)).await.unwrap();
        until("the critical failure", || lock(&seen).contains(&"failure")).await;
        until("the failure handled", || lock(&reported).is_some()).await;
        assert_eq!(*lock(&reported), Some(("broken".into(), "disk full".into(), 3, Lane::Safety)));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let m = bus.metrics();
        assert_eq!(m.lane(Lane::Config).retried, 2);
        assert_eq!(m.lane(Lane::Config).dead_lettered, 1);
        tasks.cancel_all();
    }

    #[tokio::test]
    async fn overflow_policies_hold_and_are_counted() {
        let small = |overflow| LaneSpec { capacity: 2, overflow, batch: 1 };
        let bus: Bus<Msg> = Bus::new(
            BusConfig::default()
                .with_lane(Lane::Logging, small(Overflow::DropOldest))
                .with_lane(Lane::Command, small(Overflow::RejectNew))
                .with_lane(Lane::Trading, small(Overflow::Block)),
        );
        // No workers yet: everything stays queued.
        for l in ["a", "b", "c"] {
            bus.try_publish("t", Msg::On(Lane::Logging, l, None)).unwrap();
        }
        assert_eq!(bus.metrics().lane(Lane::Logging).dropped, 1);
        bus.try_publish("t", Msg::On(Lane::Command, "1", None)).unwrap();
        bus.try_publish("t", Msg::On(Lane::Command, "2", None)).unwrap();
        assert!(matches!(
            bus.try_publish("t", Msg::On(Lane::Command, "3", None)),
            Err(PublishError::Full { .. })
        ));
        bus.publish("t", Msg::On(Lane::Trading, "x", None)).await.unwrap();
        bus.publish("t", Msg::On(Lane::Trading, "y", None)).await.unwrap();
        let blocked =
            timeout(Duration::from_millis(50), bus.publish("t", Msg::On(Lane::Trading, "z", None))).await;
        assert!(blocked.is_err(), "a full blocking lane makes the publisher wait");
        bus.publish_follow_up(None, "desk", Msg::On(Lane::Trading, "reply", None)).unwrap();
        let t = bus.metrics().lane(Lane::Trading).clone();
        assert_eq!((t.depth, t.over_capacity), (3, 1), "a follow-up never waits, and is counted");
    }

    #[tokio::test]
    async fn a_stopped_bus_refuses_with_closed() {
        let (bus, tasks, _seen) = started(BusConfig::default());
        tasks.cancel_all();
        until("closed", || bus.is_closed()).await;
        assert!(matches!(
            bus.publish("t", Msg::On(Lane::Trading, "late", None)).await,
            Err(PublishError::Closed { .. })
        ));
    }
}
