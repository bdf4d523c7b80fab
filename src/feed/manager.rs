//! The feed manager: one per process. It owns the subscriber registry, the consolidated
//! upstream plan and the two upstream connections (public, private), each a task under the
//! [`TaskManager`].
//!
//! ```text
//!  proxies ─ register/unregister ─► Registry ── notify ──► manager task
//!                                     │ route table              │ debounce, count demand,
//!                                     ▼                          │ grace (Planner)
//!  connection task ─ decode ─► Router ─► SubQueues               ▼
//!      ▲                                          watch<UpstreamSet> (latest desired set)
//!      └─────────────── full set re-sent on every change and after every reconnect
//! ```
//!
//! Recovery (RELIABILITY 21–28): a session that ends for any reason is replaced after a
//! jittered exponential backoff; each successful connect starts a new epoch, the full set is
//! re-sent and REST snapshots close the gap. Subscriptions never yield an event of an epoch
//! older than one they already delivered. A private stream that cannot authenticate falls
//! back to REST polling of open orders and balances, visibly.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::exchange::api::{StreamEvent, StreamKind};
use crate::exchange::stream::{DataFrame, DecodeError, Decoded, StreamDecoder, StreamSession, WsError};
use crate::exchange::types::MarketId;
use crate::feed::backpressure::{Strategy, SubQueue};
use crate::feed::metrics::{ConnSnapshot, ConnState, FeedHealth, FeedMetrics, Health, SubscriberSnapshot};
use crate::feed::proxy::FeedProxy;
use crate::feed::recovery::{Backoff, MessageLimiter};
use crate::feed::router::{self, CachedRoutes, RouteTable, Router};
use crate::feed::subscription::{self, Planner, UpstreamSet};
use crate::feed::{FeedConfig, FeedEvent, FeedPayload};
use crate::kernel::sync::lock;
use crate::kernel::{OnFailure, TaskManager};

/// Index of the public connection.
pub(crate) const PUBLIC: usize = 0;
/// Index of the private connection.
pub(crate) const PRIVATE: usize = 1;

/// One registered subscriber.
#[derive(Debug)]
pub(crate) struct SubEntry {
    pub proxy: Arc<str>,
    pub kind: StreamKind,
    pub markets: Vec<MarketId>,
    pub queue: Arc<SubQueue>,
}

/// Mutable view of one upstream connection, for health.
#[derive(Debug)]
pub(crate) struct ConnStatus {
    state: ConnState,
    since: Instant,
    /// The set last sent upstream.
    upstream: UpstreamSet,
}

/// One upstream connection's shared state.
#[derive(Debug)]
pub(crate) struct ConnShared {
    name: &'static str,
    status: Mutex<ConnStatus>,
    /// Epoch of the current (or last) session; 0 before the first connect.
    pub epoch: AtomicU64,
    reconnects: AtomicU64,
    requests_sent: AtomicU64,
    /// True once the current session delivered a decoded event: until then a connected
    /// socket is not counted as healthy (it may be open and saying nothing we can use).
    delivering: AtomicBool,
    /// The desired set. `watch` conflates: the connection only ever needs the latest set,
    /// because every Upbit request replaces the previous one.
    desired: watch::Sender<UpstreamSet>,
}

impl ConnShared {
    fn new(name: &'static str) -> Self {
        ConnShared {
            name,
            status: Mutex::new(ConnStatus {
                state: ConnState::Idle,
                since: Instant::now(),
                upstream: UpstreamSet::new(),
            }),
            epoch: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            requests_sent: AtomicU64::new(0),
            delivering: AtomicBool::new(false),
            desired: watch::Sender::new(UpstreamSet::new()),
        }
    }

    fn set_state(&self, state: ConnState) {
        let mut st = lock(&self.status);
        if st.state != state {
            st.state = state;
            st.since = Instant::now();
        }
    }

    fn set_upstream(&self, set: &UpstreamSet) {
        lock(&self.status).upstream = set.clone();
    }

    /// Notes that the current session delivered an event (cheap after the first).
    fn mark_delivering(&self) {
        if !self.delivering.load(Ordering::Relaxed) {
            self.delivering.store(true, Ordering::Relaxed);
        }
    }
}

/// Keeps a connection's state truthful when its task ends for any reason, a panic
/// included: a task that is gone is not connected. On cancellation (shutdown) the
/// connection is idle; otherwise it is waiting for the supervisor's restart.
struct ConnTaskGuard<'a> {
    conn: &'a ConnShared,
    cancel: &'a CancellationToken,
}

impl Drop for ConnTaskGuard<'_> {
    fn drop(&mut self) {
        self.conn.delivering.store(false, Ordering::Relaxed);
        if self.cancel.is_cancelled() {
            self.conn.set_state(ConnState::Idle);
        } else {
            self.conn.set_state(ConnState::Backoff {
                reason: "connection task failed; restarting".into(),
                retry_in_ms: 0,
            });
        }
    }
}

/// State shared by the manager task, the connection tasks, proxies and subscriptions.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: FeedConfig,
    registry: Mutex<BTreeMap<u64, SubEntry>>,
    pub router: Router,
    pub metrics: FeedMetrics,
    /// Wakes the manager task. `Notify` keeps one permit, so bursts of changes conflate
    /// into one wake-up (the manager re-reads the whole registry anyway).
    demand_changed: Notify,
    pub conns: [ConnShared; 2],
    next_id: AtomicU64,
    /// Last event per (stream, market): silence detection and staleness for consumers.
    /// One writer (the connection task); readers are rare.
    last_seen: Mutex<rustc_hash::FxHashMap<(StreamKind, MarketId), Seen>>,
    /// The markets the user is watching or trading (the chart's market, markets with open
    /// orders or armed rules): only their silence counts against health. A thin market
    /// elsewhere is quiet for minutes on a healthy feed.
    watched: Mutex<Vec<MarketId>>,
}

/// When a (stream, market) last spoke and how often it usually does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seen {
    at: Instant,
    /// Moving average of the time between its bursts; `None` after the first.
    gap: Option<Duration>,
}

/// A watched market is silent after this many of its usual gaps (and at least
/// `FeedConfig::silent_after`): a market that ticks once a minute is not dead at 15 s.
const USUAL_GAPS: u32 = 6;

/// However thin a watched market, silence this long counts against health.
const WATCHED_SILENT_MAX: Duration = Duration::from_secs(10 * 60);

impl Shared {
    /// Adds a subscriber; returns its id and queue.
    pub(crate) fn register(
        &self,
        proxy: &Arc<str>,
        kind: StreamKind,
        markets: &[MarketId],
        strategy: Strategy,
    ) -> (u64, Arc<SubQueue>) {
        let capacity = match strategy {
            Strategy::Lossless => self.config.lossless_capacity,
            _ => self.config.queue_capacity,
        };
        let queue = Arc::new(SubQueue::new(strategy, capacity));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut markets = markets.to_vec();
        markets.sort();
        markets.dedup();
        let mut reg = lock(&self.registry);
        reg.insert(id, SubEntry { proxy: proxy.clone(), kind, markets, queue: queue.clone() });
        self.publish_routes(&reg);
        drop(reg);
        self.demand_changed.notify_one();
        (id, queue)
    }

    /// Removes a subscriber (idempotent); its queue is closed so `recv` ends after draining.
    pub(crate) fn unregister(&self, id: u64) -> bool {
        let mut reg = lock(&self.registry);
        let Some(entry) = reg.remove(&id) else { return false };
        entry.queue.close();
        self.publish_routes(&reg);
        drop(reg);
        self.demand_changed.notify_one();
        true
    }

    fn publish_routes(&self, reg: &BTreeMap<u64, SubEntry>) {
        let table = RouteTable::build(reg.values().map(|e| (e.kind, e.markets.as_slice(), e.queue.clone())));
        self.router.publish(table);
    }

    /// Subscribers, optionally of one proxy.
    pub fn subscribers(&self, proxy: Option<&str>) -> Vec<SubscriberSnapshot> {
        lock(&self.registry)
            .iter()
            .filter(|(_, e)| proxy.is_none_or(|p| &*e.proxy == p))
            .map(|(id, e)| SubscriberSnapshot {
                proxy: e.proxy.to_string(),
                id: *id,
                stream: e.kind.label(),
                markets: e.markets.iter().map(|m| m.as_str().to_string()).collect(),
                strategy: e.queue.strategy().label(),
                depth: e.queue.depth(),
                drops: e.queue.drops(),
                delivered: e.queue.delivered(),
            })
            .collect()
    }

    /// Builds the health snapshot. Thresholds are documented in `feed::metrics`.
    pub fn health(&self) -> FeedHealth {
        let now = Instant::now();
        let mut reasons = Vec::new();
        let mut level = Health::Healthy;
        let mut worse = |l: Health, why: String, reasons: &mut Vec<String>| {
            if matches!((level, l), (Health::Healthy, _) | (Health::Degraded, Health::Critical)) {
                level = l;
            }
            reasons.push(why);
        };
        let mut connections = Vec::new();
        for c in &self.conns {
            let st = lock(&c.status);
            let wanted = !c.desired.borrow().is_empty();
            let age = now.duration_since(st.since);
            match &st.state {
                ConnState::Connecting(_) | ConnState::Backoff { .. } if wanted => {
                    if age > self.config.critical_after {
                        worse(
                            Health::Critical,
                            format!("{} down for {}s: {}", c.name, age.as_secs(), st.state.label()),
                            &mut reasons,
                        );
                    } else {
                        worse(Health::Degraded, format!("{} {}", c.name, st.state.label()), &mut reasons);
                    }
                }
                ConnState::DegradedRest { reason } if wanted => {
                    worse(
                        Health::Degraded,
                        format!("{} stream on REST polling: {reason}", c.name),
                        &mut reasons,
                    );
                }
                _ => {}
            }
            // Connected is not healthy until the session delivered something: a socket that
            // is open but silent (or that sends only what we cannot decode) is degraded.
            // Only where data is due at once: Upbit answers a ticker or orderbook
            // subscription with a snapshot; the private streams speak only on changes.
            let streaming =
                st.upstream.keys().any(|k| matches!(k, StreamKind::Ticker | StreamKind::OrderBook));
            if st.state == ConnState::Connected
                && wanted
                && streaming
                && !c.delivering.load(Ordering::Relaxed)
            {
                worse(
                    Health::Degraded,
                    format!("{} connected for {}s but no data yet", c.name, age.as_secs()),
                    &mut reasons,
                );
            }
            // Silence: the connection's (no ticker or order book event on any market: the
            // socket is open but nothing flows) and that of a watched market, measured
            // against its own usual pace. A thin market nobody watches is quiet for minutes
            // on a healthy Upbit feed; the markets table greys its row by age instead.
            // A socket that stops answering pings is the idle watchdog's: it reconnects,
            // and the reconnect shows above.
            if st.state == ConnState::Connected && age > self.config.silent_after {
                let silent_after = self.config.silent_after;
                let seen = lock(&self.last_seen);
                let watched = lock(&self.watched);
                let mut liveliest: Option<Duration> = None;
                for (kind, markets) in &st.upstream {
                    if !matches!(kind, StreamKind::Ticker | StreamKind::OrderBook) {
                        continue;
                    }
                    for market in markets {
                        let s = seen.get(&(*kind, market.clone()));
                        let quiet = s.map_or(age, |s| now.duration_since(s.at));
                        liveliest = Some(liveliest.map_or(quiet, |l| l.min(quiet)));
                        if !watched.contains(market) {
                            continue;
                        }
                        let limit = s
                            .and_then(|s| s.gap)
                            .map_or(silent_after, |g| (g * USUAL_GAPS).min(WATCHED_SILENT_MAX))
                            .max(silent_after);
                        if quiet > limit {
                            worse(
                                Health::Degraded,
                                format!(
                                    "{} {} silent for {}s",
                                    market.as_str(),
                                    kind.label(),
                                    quiet.as_secs()
                                ),
                                &mut reasons,
                            );
                        }
                    }
                }
                if let Some(quiet) = liveliest.filter(|q| *q > silent_after) {
                    worse(
                        Health::Degraded,
                        format!(
                            "{} stream silent for {}s: no ticker or order book on any market",
                            c.name,
                            quiet.as_secs()
                        ),
                        &mut reasons,
                    );
                }
            }
            connections.push(ConnSnapshot {
                name: c.name,
                state: st.state.clone(),
                epoch: c.epoch.load(Ordering::Relaxed),
                reconnects: c.reconnects.load(Ordering::Relaxed),
                state_age_secs: age.as_secs_f64(),
                upstream: st
                    .upstream
                    .iter()
                    .map(|(k, ms)| (k.label(), ms.iter().map(|m| m.as_str().to_string()).collect()))
                    .collect(),
                requests_sent: c.requests_sent.load(Ordering::Relaxed),
            });
        }
        let m = &self.metrics;
        let parse_errors = m.parse_errors.load(Ordering::Relaxed);
        let total = m.total_msgs() + parse_errors;
        if total >= 20 && parse_errors * 20 > total {
            worse(
                Health::Degraded,
                format!("{parse_errors} of {total} frames failed to parse (> 5%)"),
                &mut reasons,
            );
        }
        let delivery = m.delivery_latency.summary();
        if delivery.p99_us > 1_000_000 {
            worse(
                Health::Critical,
                format!("delivery p99 {} ms (> 1 s)", delivery.p99_us / 1000),
                &mut reasons,
            );
        }
        let subscribers = self.subscribers(None);
        let lossless_drops: u64 =
            subscribers.iter().filter(|s| s.strategy == Strategy::Lossless.label()).map(|s| s.drops).sum();
        if lossless_drops > 0 {
            worse(
                Health::Degraded,
                format!("{lossless_drops} events lost by stalled lossless subscribers"),
                &mut reasons,
            );
        }
        let rest = self.config.rest.limits_status();
        // Market data is hurt by an IP ban only: a pocket's ban (a 418 answering an
        // exchange call) leaves quotation calls, and so the gap fill, going.
        if let Some(left) = rest.ip_blocked_for {
            worse(
                Health::Critical,
                format!("REST blocked (418) for another {}s", left.as_secs()),
                &mut reasons,
            );
        }
        FeedHealth {
            health: level,
            reasons,
            uptime_secs: m.uptime().as_secs_f64(),
            connections,
            streams: m.stream_rates(),
            exchange_latency: m.exchange_latency.summary(),
            delivery_latency: delivery,
            parse_errors,
            unknown_types: m.unknown_types.load(Ordering::Relaxed),
            error_frames: m.error_frames.load(Ordering::Relaxed),
            oversize: m.oversize.load(Ordering::Relaxed),
            idle_timeouts: m.idle_timeouts.load(Ordering::Relaxed),
            unrouted: m.unrouted.load(Ordering::Relaxed),
            handler_panics: m.handler_panics.load(Ordering::Relaxed),
            subscribers,
            stale_dropped: m.stale_dropped.load(Ordering::Relaxed),
            rest,
        }
    }
}

/// A connection task's future (one per task start, not per frame).
type ConnectionFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// The venue's stream session type, carried as plain functions so that [`FeedConfig`]
/// stays one type whatever the venue: each connection task runs [`run_connection`]
/// monomorphized for the session, so reading and decoding a frame has no dynamic
/// dispatch; only starting the task goes through the pointer.
#[derive(Clone, Copy)]
pub(crate) struct SessionType {
    run: fn(Arc<Shared>, usize, CancellationToken) -> ConnectionFuture,
    /// The venue's public and private URLs under one base.
    pub(crate) urls_for_base: fn(&str) -> (String, String),
    /// Whether the venue streams a kind.
    can_stream: fn(StreamKind) -> bool,
}

impl SessionType {
    /// The functions of session type `S`.
    pub fn of<S: StreamSession>() -> Self {
        SessionType {
            run: |shared, idx, cancel| Box::pin(run_connection::<S>(shared, idx, cancel)),
            urls_for_base: S::urls_for_base,
            can_stream: S::can_stream,
        }
    }
}

impl std::fmt::Debug for SessionType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionType")
    }
}

/// The feed manager. [`FeedManager::start`] spawns its tasks and returns the handle.
#[derive(Debug)]
pub struct FeedManager;

/// Handle to the running feed: makes proxies and reports health. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FeedHandle {
    shared: Arc<Shared>,
}

impl FeedManager {
    /// Starts the manager task and the two connection tasks under `tasks`. Connections are
    /// opened only while something is subscribed.
    pub fn start(config: FeedConfig, tasks: &TaskManager) -> FeedHandle {
        let shared = Arc::new(Shared {
            config,
            registry: Mutex::new(BTreeMap::new()),
            router: Router::default(),
            metrics: FeedMetrics::default(),
            demand_changed: Notify::new(),
            conns: [ConnShared::new("public"), ConnShared::new("private")],
            next_id: AtomicU64::new(0),
            last_seen: Mutex::new(rustc_hash::FxHashMap::default()),
            watched: Mutex::new(Vec::new()),
        });
        // Supervised: a task that fails or panics is run again after a backoff (the
        // reconnect pacing of the feed's own backoff), never left dead behind a state
        // that still says "connected".
        let restart =
            OnFailure::Restart { initial: shared.config.backoff_initial, max: shared.config.backoff_max };
        let s = shared.clone();
        // Upbit's feed keeps its names; another venue's tasks are named after it.
        let prefix = match shared.config.venue {
            crate::exchange::VenueId::Upbit => "feed",
            other => other.as_str(),
        };
        tasks.spawn_supervised("feed", format!("{prefix}-manager"), restart, move |cancel| {
            run_manager(s.clone(), cancel)
        });
        for idx in [PUBLIC, PRIVATE] {
            let s = shared.clone();
            let name = format!("{prefix}-{}", shared.conns[idx].name);
            tasks.spawn_supervised("feed", name, restart, move |cancel| {
                (s.config.session.run)(s.clone(), idx, cancel)
            });
        }
        FeedHandle { shared }
    }
}

impl FeedHandle {
    /// A new proxy for one pane or component. Dropping it releases all its subscriptions.
    pub fn proxy(&self, name: &str) -> FeedProxy {
        FeedProxy::new(name, self.shared.clone())
    }

    /// True when the venue streams `kind`; a kind it does not (Upbit: day candles and
    /// longer) is left out of the upstream request, so its subscribers get nothing and the
    /// caller refreshes it by REST.
    pub(crate) fn can_stream(&self, kind: StreamKind) -> bool {
        (self.shared.config.session.can_stream)(kind)
    }

    /// Health and statistics for the System pane.
    pub fn health(&self) -> FeedHealth {
        self.shared.health()
    }

    /// Time since the last event of `kind` for `market` (websocket or REST snapshot);
    /// `None` if none has arrived. Consumers use it to refuse acting on stale data.
    pub fn last_event_age(&self, kind: StreamKind, market: &MarketId) -> Option<Duration> {
        lock(&self.shared.last_seen).get(&(kind, market.clone())).map(|s| s.at.elapsed())
    }

    /// The markets the user is watching or trading: only their silence (against their
    /// usual pace) degrades health, besides the connection's own.
    pub fn set_watched(&self, markets: impl IntoIterator<Item = MarketId>) {
        let mut markets: Vec<MarketId> = markets.into_iter().collect();
        markets.sort();
        markets.dedup();
        *lock(&self.shared.watched) = markets;
    }
}

/// Debounces demand changes, applies the grace period and publishes the desired sets.
async fn run_manager(shared: Arc<Shared>, cancel: CancellationToken) -> anyhow::Result<()> {
    let mut planner = Planner::new();
    let mut next_expiry: Option<Instant> = None;
    // A (re)started manager plans after one debounce without waiting for news: the
    // registry may have changed while a failed run was down.
    let mut first = true;
    loop {
        let wake = next_expiry.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        if std::mem::take(&mut first) {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(shared.config.debounce) => {}
            }
        } else {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(()),
                _ = shared.demand_changed.notified() => {
                    // Debounce: let a burst of pane changes settle into one upstream request.
                    tokio::select! {
                        biased;
                        _ = cancel.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(shared.config.debounce) => {}
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
        }
        let demand = {
            let reg = lock(&shared.registry);
            subscription::count_demand(reg.values().map(|e| (e.kind, e.markets.as_slice())))
        };
        let (keys, next) = planner.plan(&demand, Instant::now(), shared.config.grace);
        next_expiry = next;
        let (public, private) = subscription::split(&keys);
        for (idx, set) in [(PUBLIC, public), (PRIVATE, private)] {
            shared.conns[idx].desired.send_if_modified(|cur| {
                if *cur == set {
                    false
                } else {
                    *cur = set;
                    true
                }
            });
        }
    }
}

/// How a session ended.
enum SessionEnd {
    Cancelled,
    /// Nothing is wanted any more; the socket was closed on purpose.
    Unwanted,
    /// The server refused our credentials (private).
    AuthRefused(String),
    /// The server refused our subscription request (an error frame such as
    /// `WRONG_FORMAT` or `INVALID_PARAM`, then its close): a bug on our side that
    /// reconnecting at once cannot fix.
    RequestRefused(String),
    /// Anything else; `healthy` when the session had delivered data (resets the backoff).
    Failed {
        error: String,
        healthy: bool,
    },
}

/// Runs one upstream connection forever: idle while nothing is wanted, otherwise connect,
/// subscribe, read, and recover.
async fn run_connection<S: StreamSession>(
    shared: Arc<Shared>,
    idx: usize,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let conn = &shared.conns[idx];
    let _guard = ConnTaskGuard { conn, cancel: &cancel };
    let mut desired = conn.desired.subscribe();
    let cfg = &shared.config;
    let url = if idx == PRIVATE { cfg.ws_private_url.clone() } else { cfg.ws_public_url.clone() };
    let mut backoff = Backoff::new(cfg.backoff_initial, cfg.backoff_max);
    let mut attempt: u32 = 0;
    // The last refusal reported, so a refusal repeated on every retry is said once.
    let mut refused_before: Option<String> = None;
    loop {
        if desired.borrow_and_update().is_empty() {
            conn.set_state(ConnState::Idle);
            conn.set_upstream(&UpstreamSet::new());
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(()),
                r = desired.changed() => if r.is_err() { return Ok(()) },
            }
            continue;
        }
        let credentials = if idx == PRIVATE {
            match &cfg.credentials {
                Some(c) => Some(c),
                None => {
                    if !degraded(&shared, idx, "no API credentials configured", &mut desired, &cancel).await {
                        return Ok(());
                    }
                    continue;
                }
            }
        } else {
            None
        };
        attempt += 1;
        conn.set_state(ConnState::Connecting(attempt));
        let connected = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(()),
            r = S::connect(&url, credentials, &cfg.ws) => r,
        };
        let end = match connected {
            Ok(session) => {
                // Tests make the task fail right here (in-process, by this URL, so only the
                // test's own feed is hit) to prove the supervisor restarts it.
                if crate::kernel::failpoint::any_armed() {
                    crate::kernel::failpoint::hit(&format!("feed.connected.{url}"));
                }
                attempt = 0;
                let epoch = conn.epoch.fetch_add(1, Ordering::AcqRel) + 1;
                if epoch > 1 {
                    conn.reconnects.fetch_add(1, Ordering::Relaxed);
                    shared.metrics.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                tracing::info!(venue = %cfg.venue, conn = conn.name, epoch, "feed websocket connected");
                run_session(&shared, idx, session, epoch, &mut desired, &cancel).await
            }
            Err(WsError::Unauthorized { detail }) => SessionEnd::AuthRefused(detail),
            Err(e) => SessionEnd::Failed { error: e.to_string(), healthy: false },
        };
        match end {
            SessionEnd::Cancelled => return Ok(()),
            SessionEnd::Unwanted => {
                backoff.reset();
                continue;
            }
            SessionEnd::AuthRefused(why) => {
                tracing::warn!(
                    conn = conn.name,
                    "private websocket refused our credentials: {why}; polling REST"
                );
                if !degraded(&shared, idx, &why, &mut desired, &cancel).await {
                    return Ok(());
                }
            }
            SessionEnd::RequestRefused(why) => {
                // Upbit closes the socket after such an error; the same request would be
                // refused again, so wait the longest backoff (or a changed subscription).
                if refused_before.as_deref() != Some(why.as_str()) {
                    tracing::error!(
                        conn = conn.name,
                        "{} refused our websocket request ({why}): a bug in hoga, please report it",
                        cfg.venue
                    );
                    refused_before = Some(why.clone());
                }
                let delay = cfg.backoff_max;
                conn.set_state(ConnState::Backoff {
                    reason: format!("{} refused our request: {why}", cfg.venue),
                    retry_in_ms: delay.as_millis() as u64,
                });
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    r = desired.changed() => if r.is_err() { return Ok(()) },
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            SessionEnd::Failed { error, healthy } => {
                if healthy {
                    backoff.reset();
                }
                let delay = backoff.next_delay();
                tracing::warn!(venue = %cfg.venue, conn = conn.name, "feed websocket ended: {error}; retry in {delay:?}");
                conn.set_state(ConnState::Backoff { reason: error, retry_in_ms: delay.as_millis() as u64 });
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

/// One connected session: subscribe with the full set, gap-fill by REST, then read until
/// something ends it.
async fn run_session<S: StreamSession>(
    shared: &Arc<Shared>,
    idx: usize,
    mut session: S,
    epoch: u64,
    desired: &mut watch::Receiver<UpstreamSet>,
    cancel: &CancellationToken,
) -> SessionEnd {
    let conn = &shared.conns[idx];
    let mut limiter = MessageLimiter::default();
    let mut routes = CachedRoutes::default();
    let mut decoder = S::Decoder::default();
    let mut batch = Batch::default();
    let mut set = desired.borrow_and_update().clone();
    if set.is_empty() {
        session.close().await;
        return SessionEnd::Unwanted;
    }
    if let Err(e) = send_set(conn, &mut session, &mut limiter, &set).await {
        return SessionEnd::Failed { error: e.to_string(), healthy: false };
    }
    // Connected, but not healthy until the first event arrives (see `Shared::health`).
    conn.delivering.store(false, Ordering::Relaxed);
    conn.set_state(ConnState::Connected);
    if shared.config.rest_gap_fill {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return SessionEnd::Cancelled,
            _ = gap_fill(shared, idx, &set, epoch, &mut routes) => {}
        }
    }
    let mut healthy = false;
    let gather = if conn.name == "public" { shared.config.public_read_gather } else { Duration::ZERO };
    // Set after a light burst that came soon after the previous one, when gathering: no
    // read until then (see `public_read_gather`). A lone message (a quiet stream) is not
    // followed by a hold: there is nothing to gather and the timer would be a second
    // wake-up for it.
    let mut hold: Option<tokio::time::Instant> = None;
    let mut last_burst: Option<tokio::time::Instant> = None;
    // A request-refusing error frame: Upbit closes the socket right after it, and that
    // close is then reported as the refusal, not as a plain end.
    let mut refusal: Option<String> = None;
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                session.close().await;
                return SessionEnd::Cancelled;
            }
            _ = async { if let Some(t) = hold { tokio::time::sleep_until(t).await } }, if hold.is_some() => {
                hold = None;
            }
            r = desired.changed() => {
                if r.is_err() {
                    return SessionEnd::Cancelled;
                }
                let new = desired.borrow_and_update().clone();
                if new.is_empty() {
                    session.close().await;
                    return SessionEnd::Unwanted;
                }
                if new != set {
                    set = new;
                    if let Err(e) = send_set(conn, &mut session, &mut limiter, &set).await {
                        return SessionEnd::Failed { error: e.to_string(), healthy };
                    }
                }
            }
            frame = session.next_frame(), if hold.is_none() => match frame {
                Ok(frame) => {
                    healthy = true;
                    // Drain the burst already readable (up to MAX_BURST frames), routing each
                    // frame as it is decoded; consumers are woken once at the end.
                    let mut next = Some(Ok(frame));
                    let mut n = 0;
                    while let Some(item) = next {
                        let frame = match item {
                            Ok(f) => f,
                            Err(e) => {
                                batch.flush(shared);
                                return session_failed(shared, idx, e, healthy, refusal);
                            }
                        };
                        let end = handle_frame(
                            shared, idx, epoch, &mut decoder, &frame, &mut routes, &mut batch, &mut refusal,
                        )
                        .await;
                        if let Some(end) = end {
                            batch.flush(shared);
                            session.close().await;
                            return end;
                        }
                        n += 1;
                        next = if n < MAX_BURST { session.try_next_frame().await } else { None };
                    }
                    batch.flush(shared);
                    if !gather.is_zero() {
                        let now = tokio::time::Instant::now();
                        let busy = last_burst.is_some_and(|t| now - t < gather * crate::feed::GATHER_IF_WITHIN);
                        if busy && n < crate::feed::GATHER_BELOW {
                            hold = Some(now + gather);
                        }
                        last_burst = Some(now);
                    }
                }
                Err(e) => return session_failed(shared, idx, e, healthy, refusal),
            },
        }
    }
}

/// Most frames read back to back before consumers are woken and the session loop looks at
/// cancellation and subscription changes again. Bounds the extra latency of the first
/// frame of a burst (64 × well under 1 µs) while amortising wake-ups under load.
const MAX_BURST: usize = 64;

/// Counts a session-ending read error and says how the session ended. A refusal of our
/// credentials on the private stream (a Close frame about auth) is `AuthRefused`: the long
/// REST-polling backoff, not a quick reconnect (RELIABILITY case 24).
fn session_failed(
    shared: &Shared,
    idx: usize,
    e: WsError,
    healthy: bool,
    refusal: Option<String>,
) -> SessionEnd {
    // The socket ending after such an error frame (Upbit's close, code 1000, or the
    // connection dropped) is the refusal; an end of another kind (a frame over the cap…)
    // is that end.
    if let Some(why) = refusal
        && matches!(e, WsError::Closed { .. } | WsError::Io(_))
    {
        return SessionEnd::RequestRefused(why);
    }
    match &e {
        WsError::Idle { .. } => {
            shared.metrics.idle_timeouts.fetch_add(1, Ordering::Relaxed);
        }
        WsError::Oversize { .. } => {
            shared.metrics.oversize.fetch_add(1, Ordering::Relaxed);
        }
        WsError::InvalidText { detail } => {
            let err = DecodeError { detail: detail.clone(), sample: "(text frame, not UTF-8)".into() };
            note_parse_error(shared, &err);
        }
        WsError::Unauthorized { detail } if idx == PRIVATE => {
            return SessionEnd::AuthRefused(detail.clone());
        }
        _ => {}
    }
    SessionEnd::Failed { error: e.to_string(), healthy }
}

/// Work deferred to the end of a burst of frames: subscriber wake-ups, last-seen times
/// (one lock per burst instead of one per event) and the wall clock for exchange latency.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    wakeups: router::Wakeups,
    /// Last event time per (stream, market) in this burst; bursts repeat few keys.
    seen: Vec<(StreamKind, MarketId, Instant)>,
    now_ms: Option<i64>,
}

impl Batch {
    fn saw(&mut self, kind: StreamKind, market: &MarketId, at: Instant) {
        match self.seen.iter_mut().rev().find(|(k, m, _)| *k == kind && m == market) {
            Some(slot) => slot.2 = at,
            None => self.seen.push((kind, market.clone(), at)),
        }
    }

    fn now_ms(&mut self) -> i64 {
        *self.now_ms.get_or_insert_with(now_ms)
    }

    /// Publishes the last-seen times and wakes every consumer that got events.
    pub(crate) fn flush(&mut self, shared: &Shared) {
        if !self.seen.is_empty() {
            let mut seen = lock(&shared.last_seen);
            for (kind, market, at) in self.seen.drain(..) {
                match seen.entry((kind, market)) {
                    std::collections::hash_map::Entry::Occupied(mut e) => {
                        let s = e.get_mut();
                        let gap = at.saturating_duration_since(s.at);
                        // An average over the last several gaps: a market's pace, not one lull.
                        s.gap = Some(s.gap.map_or(gap, |g| g.mul_f64(0.875) + gap.mul_f64(0.125)));
                        s.at = at;
                    }
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(Seen { at, gap: None });
                    }
                }
            }
        }
        self.now_ms = None;
        self.wakeups.flush();
    }
}

/// Sends the whole set as one request (Upbit replaces the previous subscription).
async fn send_set<S: StreamSession>(
    conn: &ConnShared,
    session: &mut S,
    limiter: &mut MessageLimiter,
    set: &UpstreamSet,
) -> Result<(), WsError> {
    limiter.acquire().await;
    session.subscribe(&subscription::as_request(set)).await?;
    conn.requests_sent.fetch_add(1, Ordering::Relaxed);
    conn.set_upstream(set);
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Upbit's websocket errors that refuse the request itself (its format, ticket, type or
/// codes): the same request would be refused again.
fn refuses_request(name: &str) -> bool {
    matches!(name, "WRONG_FORMAT" | "NO_TICKET" | "NO_TYPE" | "NO_CODES" | "INVALID_PARAM")
}

/// Counts parse failures and logs a sample: the 1st, 2nd, 4th, 8th… so a flood of garbage
/// cannot flood the log.
fn note_parse_error(shared: &Shared, err: &DecodeError) {
    let n = shared.metrics.parse_errors.fetch_add(1, Ordering::Relaxed) + 1;
    if n.is_power_of_two() {
        tracing::warn!(count = n, "undecodable websocket frame: {err}");
    }
}

/// Decodes and routes one frame. Returns `Some` when the session must end; an error frame
/// refusing our request is noted in `refusal` (the close that follows reports it).
#[allow(clippy::too_many_arguments)]
async fn handle_frame<D: StreamDecoder>(
    shared: &Shared,
    idx: usize,
    epoch: u64,
    decoder: &mut D,
    frame: &DataFrame,
    routes: &mut CachedRoutes,
    batch: &mut Batch,
    refusal: &mut Option<String>,
) -> Option<SessionEnd> {
    let received = frame.received;
    match decoder.decode(&frame.bytes) {
        Ok(Decoded::Event(ev)) => {
            shared.conns[idx].mark_delivering();
            route_batched(shared, epoch, received, FeedPayload::Stream(ev), true, routes, batch).await;
            None
        }
        Ok(Decoded::Status | Decoded::ListSubscriptions(_)) => None,
        Ok(Decoded::Unknown(ty)) => {
            let n = shared.metrics.unknown_types.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::info!(count = n, "websocket message of unknown type {ty:?} ignored");
            }
            None
        }
        Ok(Decoded::Error { name, message, refuses_auth }) => {
            shared.metrics.error_frames.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(conn = shared.conns[idx].name, "websocket error frame {name}: {message}");
            // INVALID_AUTH on the public socket: we asked it for a private type.
            if refuses_request(&name) || (idx != PRIVATE && refuses_auth) {
                *refusal = Some(format!("{name}: {message}"));
            }
            (idx == PRIVATE && refuses_auth).then(|| SessionEnd::AuthRefused(format!("{name}: {message}")))
        }
        Err(e) => {
            note_parse_error(shared, &e);
            None
        }
    }
}

/// Counts, timestamps and delivers one event to every queue that wants it, waking the
/// consumers at once (REST snapshots and polls: one event at a time).
pub(crate) async fn route_event(
    shared: &Shared,
    epoch: u64,
    received: Instant,
    payload: FeedPayload,
    from_ws: bool,
    routes: &mut CachedRoutes,
) {
    let mut batch = Batch::default();
    route_batched(shared, epoch, received, payload, from_ws, routes, &mut batch).await;
    batch.flush(shared);
}

/// [`route_event`] within a burst: wake-ups and last-seen times go to `batch`, which the
/// caller flushes when the burst ends.
async fn route_batched(
    shared: &Shared,
    epoch: u64,
    received: Instant,
    payload: FeedPayload,
    from_ws: bool,
    routes: &mut CachedRoutes,
    batch: &mut Batch,
) {
    let ev = Arc::new(FeedEvent { epoch, received, payload });
    let kind = ev.kind();
    shared.metrics.count_msg(kind);
    if let Some(market) = ev.market() {
        batch.saw(kind, market, received);
    }
    let ts = ev.exchange_ts();
    // REST snapshots and the state replayed on subscribing carry old exchange times: only
    // live websocket updates measure how far behind the exchange we are.
    let news = matches!(&ev.payload, FeedPayload::Stream(e) if e.is_live_news());
    if ts > 0 && from_ws && news {
        let lag = batch.now_ms() - ts;
        if lag >= 0 {
            shared.metrics.exchange_latency.record(lag as u64 * 1000);
        }
    }
    let table = shared.router.current(routes);
    if router::deliver_deferred(table, ev, shared.config.lossless_stall, &mut batch.wakeups).await == 0 {
        shared.metrics.unrouted.fetch_add(1, Ordering::Relaxed);
    }
}

/// REST snapshots after a (re)connect, stamped with the new epoch: tickers and books for
/// the public set; open orders and balances for the private one.
async fn gap_fill(shared: &Shared, idx: usize, set: &UpstreamSet, epoch: u64, routes: &mut CachedRoutes) {
    let rest = shared.config.rest.clone();
    if idx == PUBLIC {
        let tickers = subscription::markets_of(set, StreamKind::Ticker);
        if !tickers.is_empty() {
            match rest.tickers(&tickers).await {
                Ok(list) => {
                    for t in list {
                        route_event(
                            shared,
                            epoch,
                            Instant::now(),
                            FeedPayload::Stream(StreamEvent::Ticker(t)),
                            false,
                            routes,
                        )
                        .await;
                    }
                }
                Err(e) => tracing::info!("ticker gap fill failed: {e}"),
            }
        }
        let books = subscription::markets_of(set, StreamKind::OrderBook);
        if !books.is_empty() {
            match rest.orderbook(&books, 30).await {
                Ok(list) => {
                    for b in list {
                        route_event(
                            shared,
                            epoch,
                            Instant::now(),
                            FeedPayload::Stream(StreamEvent::OrderBook(b)),
                            false,
                            routes,
                        )
                        .await;
                    }
                }
                Err(e) => tracing::info!("orderbook gap fill failed: {e}"),
            }
        }
    } else {
        poll_private(shared, set, epoch, routes).await;
    }
}

/// Open orders and balances by REST, routed to private subscribers.
async fn poll_private(shared: &Shared, set: &UpstreamSet, epoch: u64, routes: &mut CachedRoutes) {
    let rest = shared.config.rest.clone();
    if !rest.has_credentials() {
        return;
    }
    if set.contains_key(&StreamKind::MyOrder) {
        match rest.open_orders().await {
            Ok(orders) => {
                route_event(shared, epoch, Instant::now(), FeedPayload::OpenOrders(orders), false, routes)
                    .await
            }
            Err(e) => tracing::info!("open-orders poll failed: {e}"),
        }
    }
    if set.contains_key(&StreamKind::MyAsset) {
        match rest.balances().await {
            Ok(balances) => {
                route_event(shared, epoch, Instant::now(), FeedPayload::Balances(balances), false, routes)
                    .await
            }
            Err(e) => tracing::info!("balances poll failed: {e}"),
        }
    }
}

/// REST polling instead of the private websocket, until `backoff_max` passes (then the
/// websocket is tried again) or nothing private is wanted. Returns false on cancel.
async fn degraded(
    shared: &Arc<Shared>,
    idx: usize,
    reason: &str,
    desired: &mut watch::Receiver<UpstreamSet>,
    cancel: &CancellationToken,
) -> bool {
    let conn = &shared.conns[idx];
    conn.set_state(ConnState::DegradedRest { reason: reason.to_string() });
    let retry_at = Instant::now() + shared.config.backoff_max;
    let mut routes = CachedRoutes::default();
    let epoch = conn.epoch.load(Ordering::Acquire);
    loop {
        let set = desired.borrow_and_update().clone();
        if set.is_empty() {
            return true;
        }
        conn.set_upstream(&set);
        poll_private(shared, &set, epoch, &mut routes).await;
        // Without credentials there is nothing to retry: wait for the set to change.
        let retry = shared.config.credentials.is_some() && Instant::now() >= retry_at;
        if retry {
            return true;
        }
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return false,
            r = desired.changed() => if r.is_err() { return false },
            _ = tokio::time::sleep(shared.config.private_poll) => {}
        }
    }
}
