//! The bus itself: publishing into lanes, and the dispatcher task that drains them into
//! handlers by priority, retries failing handlers and reports what it gives up on.
//!
//! One dispatcher task (spawned through the kernel's `TaskManager`) consumes every lane.
//! Scheduling is strict priority with a per-round budget: the highest non-empty lane that
//! still has budget goes next, and when every non-empty lane has spent its `batch`, all
//! budgets refill. So a trading event never waits behind a queue of log lines, and a
//! saturated trading lane still lets every lower lane move `batch` messages per round.
//!
//! Handlers run one after another on the dispatcher task, in lane order; they must be
//! quick (hand long work to a task of their own). A handler that errors or panics is
//! retried after `attempt × retry_backoff` (2 s, 4 s by default) without holding up the
//! other messages; after `max_attempts` it is dead-lettered and a
//! [`CriticalFailure`](super::CriticalFailure) goes out on the safety lane.
//!
//! The queue mutex is a plain `std` mutex held for a push or a pop only, never across an
//! `.await`, and nothing logs while holding it (the log layer may publish to the bus).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use chrono::Utc;
use futures_util::FutureExt;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::conflate::{ConflatingQueue, Key, Pushed};
use super::event::{BusMessage, Cause, CriticalFailure, Envelope, Receipt};
use super::lane::{BusMetrics, Lane, LaneCounters, LaneSpec, Overflow};
use super::trace::TraceRing;
use crate::kernel::{OnFailure, TaskId, TaskManager, task_manager::panic_message};

/// Most handler retries waiting at once. Beyond this a failure is dead-lettered at once
/// (counted), so a storm of failing handlers cannot grow memory without bound.
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
    pub trace_capacity: usize,
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
    pub fn with_lane(mut self, lane: Lane, spec: LaneSpec) -> Self {
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
    /// The dispatcher has stopped (shutdown); nothing will be delivered any more.
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

enum Queue<M> {
    Fifo(std::collections::VecDeque<Arc<Envelope<M>>>),
    Conflating(ConflatingQueue<Arc<Envelope<M>>>),
}

impl<M> Queue<M> {
    fn len(&self) -> usize {
        match self {
            Queue::Fifo(q) => q.len(),
            Queue::Conflating(q) => q.len(),
        }
    }
    fn pop(&mut self) -> Option<Arc<Envelope<M>>> {
        match self {
            Queue::Fifo(q) => q.pop_front(),
            Queue::Conflating(q) => q.pop(),
        }
    }
}

struct Shared<M> {
    config: BusConfig,
    queues: Mutex<Vec<Queue<M>>>,
    counters: [LaneCounters; Lane::COUNT],
    /// Wakes publishers blocked on a full lane when the dispatcher takes from it.
    space: [Notify; Lane::COUNT],
    /// Wakes the dispatcher when something was queued (`notify_one` keeps a permit, so a
    /// push between "found nothing" and "wait" is not missed).
    work: Notify,
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

/// Locks a mutex even if poisoned: the queues hold plain data, consistent between
/// statements, so the poison flag carries no information.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A message on its way in, before it gets its sequence number.
struct Pending<M> {
    lane: Lane,
    source: &'static str,
    parent: Option<(u64, u64)>,
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
        let queues = Lane::ALL
            .iter()
            .map(|lane| {
                let spec = config.lanes[lane.index()];
                match spec.overflow {
                    Overflow::Conflate => Queue::Conflating(ConflatingQueue::new(spec.capacity)),
                    _ => Queue::Fifo(std::collections::VecDeque::with_capacity(spec.capacity.min(1024))),
                }
            })
            .collect();
        let trace = TraceRing::new(config.trace_capacity);
        Bus {
            shared: Arc::new(Shared {
                config,
                queues: Mutex::new(queues),
                counters: std::array::from_fn(|_| LaneCounters::default()),
                space: std::array::from_fn(|_| Notify::new()),
                work: Notify::new(),
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
    /// registration order. A handler may be added while the dispatcher runs.
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

    /// Publishes a message that starts a new causal chain. On a blocking lane this waits
    /// for room (backpressure); on other lanes it never waits.
    pub async fn publish(&self, source: &'static str, msg: M) -> Result<Receipt, PublishError> {
        self.publish_inner(source, msg, None).await
    }

    /// Publishes a message caused by `parent` (an envelope being handled, or a receipt):
    /// it joins the parent's chain (same correlation id).
    pub async fn publish_caused_by(
        &self,
        parent: &impl Cause,
        source: &'static str,
        msg: M,
    ) -> Result<Receipt, PublishError> {
        self.publish_inner(source, msg, Some((parent.cause_seq(), parent.cause_correlation()))).await
    }

    /// Publishes without waiting: on a full blocking lane this fails with
    /// [`PublishError::Full`] (counted as dropped). For synchronous callers such as the
    /// log layer and the task manager's event sink.
    pub fn try_publish(&self, source: &'static str, msg: M) -> Result<Receipt, PublishError> {
        self.try_publish_inner(source, msg, None)
    }

    /// [`Bus::try_publish`] joining `parent`'s chain.
    pub fn try_publish_caused_by(
        &self,
        parent: &impl Cause,
        source: &'static str,
        msg: M,
    ) -> Result<Receipt, PublishError> {
        self.try_publish_inner(source, msg, Some((parent.cause_seq(), parent.cause_correlation())))
    }

    fn try_publish_inner(
        &self,
        source: &'static str,
        msg: M,
        parent: Option<(u64, u64)>,
    ) -> Result<Receipt, PublishError> {
        let lane = msg.lane();
        let pending = Pending { lane, source, parent, failure_depth: 0, payload: msg };
        match self.push(pending, false)? {
            PushResult::Accepted(r) => Ok(r),
            PushResult::Full(_) => {
                LaneCounters::bump(&self.shared.counters[lane.index()].dropped);
                Err(self.full_error(lane, source))
            }
        }
    }

    async fn publish_inner(
        &self,
        source: &'static str,
        msg: M,
        parent: Option<(u64, u64)>,
    ) -> Result<Receipt, PublishError> {
        let lane = msg.lane();
        let mut pending = Pending { lane, source, parent, failure_depth: 0, payload: msg };
        loop {
            // Register for the wake-up before looking, so a pop between the look and the
            // wait is not missed.
            let space = self.shared.space[lane.index()].notified();
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
    /// blocking lane (used only by the dispatcher for its own failure reports: it is the
    /// lane's only consumer and must not wait on itself).
    fn push(&self, p: Pending<M>, force: bool) -> Result<PushResult<M>, PublishError> {
        let shared = &*self.shared;
        let lane = p.lane;
        let i = lane.index();
        if shared.closed.load(Ordering::Acquire) {
            return Err(PublishError::Closed { lane, from: p.source });
        }
        let spec = shared.config.lanes[i];
        let counters = &shared.counters[i];
        let key = match spec.overflow {
            Overflow::Conflate => Some(p.payload.conflation_key()),
            _ => None,
        };
        let mut queues = lock(&shared.queues);
        let queue = &mut queues[i];
        let full = queue.len() >= spec.capacity;
        if full && !force {
            match spec.overflow {
                Overflow::Block | Overflow::RejectNew => return Ok(PushResult::Full(p)),
                Overflow::DropOldest | Overflow::Conflate => {}
            }
        }
        let seq = shared.next_seq.fetch_add(1, Ordering::Relaxed);
        let (caused_by, correlation) = match p.parent {
            Some((parent_seq, corr)) => (Some(parent_seq), corr),
            None => (None, seq),
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
        // Dropped envelopes are released after the lock is gone (their payload's drop
        // could be arbitrary code).
        let mut released = None;
        match queue {
            Queue::Fifo(q) => {
                if full && spec.overflow == Overflow::DropOldest {
                    released = q.pop_front();
                    LaneCounters::bump(&counters.dropped);
                } else {
                    counters.depth.fetch_add(1, Ordering::Relaxed);
                }
                q.push_back(env);
            }
            Queue::Conflating(q) => {
                let key = match key.flatten() {
                    Some(k) => Key::Named(k),
                    None => Key::Unique(seq),
                };
                match q.push(key, env) {
                    Pushed::Inserted => {
                        counters.depth.fetch_add(1, Ordering::Relaxed);
                    }
                    Pushed::Replaced(old) => {
                        released = Some(old);
                        LaneCounters::bump(&counters.conflated);
                    }
                    Pushed::Evicted(old) => {
                        released = Some(old);
                        LaneCounters::bump(&counters.dropped);
                    }
                }
            }
        }
        drop(queues);
        drop(released);
        LaneCounters::bump(&counters.published);
        shared.work.notify_one();
        Ok(PushResult::Accepted(Receipt { seq, correlation, lane }))
    }

    /// Per-lane counters, for the System pane.
    pub fn metrics(&self) -> BusMetrics {
        let s = &*self.shared;
        BusMetrics {
            lanes: Lane::ALL
                .iter()
                .map(|l| s.counters[l.index()].snapshot(*l, &s.config.lanes[l.index()]))
                .collect(),
        }
    }

    /// The last delivered envelopes, oldest first (the System pane's event monitor).
    pub fn recent(&self) -> Vec<Arc<Envelope<M>>> {
        lock(&self.shared.trace).recent()
    }

    /// Every delivered envelope of one causal chain still in the trace ring.
    pub fn chain(&self, correlation: u64) -> Vec<Arc<Envelope<M>>> {
        lock(&self.shared.trace).chain(correlation)
    }

    /// True once the dispatcher has stopped; publishes then fail with `Closed`.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Spawns the dispatcher under the task manager (component `bus`, task
    /// `bus-dispatcher`), restarted with backoff should it ever fail.
    pub fn spawn_dispatcher(&self, tasks: &TaskManager) -> TaskId {
        let bus = self.clone();
        tasks.spawn_supervised("bus", "bus-dispatcher", OnFailure::restart(), move |cancel| {
            bus.clone().run(cancel)
        })
    }

    /// The dispatcher loop: drains lanes into handlers until `cancel` fires, then closes
    /// the bus (blocked publishers are released with `Closed`).
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let mut budget = [0usize; Lane::COUNT];
        let mut retries: Vec<Retry<M>> = Vec::new();
        loop {
            if cancel.is_cancelled() {
                break;
            }
            let now = Instant::now();
            if let Some(i) = retries.iter().position(|r| r.due <= now) {
                let r = retries.swap_remove(i);
                self.run_retry(r, &mut retries).await;
                tokio::task::consume_budget().await;
                continue;
            }
            if let Some(env) = self.pick(&mut budget) {
                self.deliver(env, &mut retries).await;
                // Keep the worker thread fair to other tasks under a flood.
                tokio::task::consume_budget().await;
                continue;
            }
            let next_due = retries.iter().map(|r| r.due).min();
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break,
                _ = self.shared.work.notified() => {}
                _ = sleep_until_opt(next_due) => {}
            }
        }
        self.close();
        let left: u64 = self.shared.counters.iter().map(|c| c.depth.load(Ordering::Relaxed)).sum::<u64>();
        tracing::info!(undelivered = left, pending_retries = retries.len(), "bus dispatcher stopped");
        Ok(())
    }

    fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        for n in &self.shared.space {
            n.notify_waiters();
        }
    }

    /// Takes the next envelope: the highest non-empty lane with budget left; when every
    /// non-empty lane has spent its budget, all budgets refill (a new round).
    fn pick(&self, budget: &mut [usize; Lane::COUNT]) -> Option<Arc<Envelope<M>>> {
        let shared = &*self.shared;
        let mut queues = lock(&shared.queues);
        for _round in 0..2 {
            for lane in Lane::ALL {
                let i = lane.index();
                if budget[i] == 0 {
                    continue;
                }
                if let Some(env) = queues[i].pop() {
                    budget[i] -= 1;
                    drop(queues);
                    shared.counters[i].depth.fetch_sub(1, Ordering::Relaxed);
                    shared.space[i].notify_waiters();
                    return Some(env);
                }
            }
            if queues.iter().all(|q| q.len() == 0) {
                return None;
            }
            for lane in Lane::ALL {
                budget[lane.index()] = shared.config.lanes[lane.index()].batch.max(1);
            }
        }
        None
    }

    async fn deliver(&self, env: Arc<Envelope<M>>, retries: &mut Vec<Retry<M>>) {
        let shared = &*self.shared;
        LaneCounters::bump(&shared.counters[env.lane.index()].delivered);
        lock(&shared.trace).record(env.clone());
        let handlers = shared.handlers.read().unwrap_or_else(PoisonError::into_inner).clone();
        for h in handlers.iter() {
            if !(h.filter)(&env) {
                continue;
            }
            if let Err(error) = call(h, env.clone()).await {
                self.failed(h.clone(), env.clone(), 1, error, retries).await;
            }
        }
    }

    async fn run_retry(&self, r: Retry<M>, retries: &mut Vec<Retry<M>>) {
        LaneCounters::bump(&self.shared.counters[r.env.lane.index()].retried);
        if let Err(error) = call(&r.handler, r.env.clone()).await {
            self.failed(r.handler, r.env, r.attempt, error, retries).await;
        } else {
            tracing::info!(handler = %r.handler.name, seq = r.env.seq, attempt = r.attempt, "bus handler succeeded on retry");
        }
    }

    /// Attempt `attempt` of `handler` on `env` failed: schedule the next one, or give up.
    async fn failed(
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
        LaneCounters::bump(&self.shared.counters[env.lane.index()].dead_lettered);
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
