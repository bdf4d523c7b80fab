//! Feed metrics and health: lock-free counters on the hot path, a log2 latency histogram,
//! and a [`FeedHealth`]: the one health report, carried as is into the store and drawn
//! by the status bar and the System pane.
//!
//! Health thresholds (documented here because the UI shows the verdict, not the rules):
//! - **critical**: a connection with demand has been down (connecting / backing off) longer
//!   than `FeedConfig::critical_after` (default 30 s); REST blocked by a 418; delivery
//!   latency p99 over 1 s.
//! - **degraded**: a connection with demand is (re)connecting; the public connection is
//!   connected with tickers or order books subscribed but has not delivered one decoded
//!   event yet on this session (open but silent, or sending only what does not decode:
//!   connected is not healthy until data arrives); the private stream is on
//!   REST polling (auth refused or no keys); more than 5 % of frames failed to parse (after
//!   at least 20 frames); a lossless subscriber lost events (stall timeout); a connected
//!   stream has delivered no ticker or order book event on any market for longer than
//!   `FeedConfig::silent_after` (10 s); a *watched* market (the chart's, or one with open
//!   orders or armed rules, `FeedHandle::set_watched`) has been silent longer than six of
//!   its usual gaps between events (at least `silent_after`, at most 10 min). A thin
//!   market nobody watches is quiet for minutes on a healthy Upbit feed: its silence is
//!   shown by its greyed row in the markets table, not here.
//!   Coalescing and drop-oldest losses are by design and do not degrade health.
//! - **healthy**: otherwise. `reasons` lists every finding.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::exchange::api::StreamKind;
use crate::exchange::rest::LimitsStatus;

const BUCKETS: usize = 40;

/// A log2 histogram of microseconds: bucket i holds values < 2^i µs.
#[derive(Debug)]
pub(crate) struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    count: AtomicU64,
    sum: AtomicU64,
    max: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }
}

/// Average / p99 / max of a histogram, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Mean (µs).
    pub avg_us: u64,
    /// 50th percentile upper bound (µs).
    pub p50_us: u64,
    /// 99th percentile upper bound (µs).
    pub p99_us: u64,
    /// Maximum (µs).
    pub max_us: u64,
}

impl Histogram {
    /// Records one sample.
    pub fn record(&self, us: u64) {
        let idx = (64 - us.leading_zeros() as usize).min(BUCKETS - 1);
        self.buckets[idx].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(us, Ordering::Relaxed);
        self.max.fetch_max(us, Ordering::Relaxed);
    }

    /// Summary of everything recorded.
    pub fn summary(&self) -> LatencySummary {
        let count = self.count.load(Ordering::Relaxed);
        if count == 0 {
            return LatencySummary::default();
        }
        let max = self.max.load(Ordering::Relaxed);
        let quantile = |q: f64| {
            let target = ((count as f64) * q).ceil() as u64;
            let mut seen = 0;
            for (i, b) in self.buckets.iter().enumerate() {
                seen += b.load(Ordering::Relaxed);
                if seen >= target {
                    return if i == 0 { 0 } else { (1u64 << i).min(max.max(1)) };
                }
            }
            max
        };
        LatencySummary {
            count,
            avg_us: self.sum.load(Ordering::Relaxed) / count,
            p50_us: quantile(0.50),
            p99_us: quantile(0.99),
            max_us: max,
        }
    }
}

/// Slot of a stream kind in the per-kind counters.
fn slot(kind: StreamKind) -> usize {
    match kind {
        StreamKind::Ticker => 0,
        StreamKind::Trade => 1,
        StreamKind::OrderBook | StreamKind::GroupedBook(_) => 2,
        StreamKind::Candle(_) => 3,
        StreamKind::MyOrder => 4,
        StreamKind::MyAsset => 5,
        StreamKind::Announcement => 6,
    }
}

const SLOT_NAMES: [&str; SLOTS] =
    ["ticker", "trade", "orderbook", "candle", "my_order", "my_asset", "announcement"];

/// Number of per-kind counters.
const SLOTS: usize = 7;

/// Hot-path counters shared by the connection tasks and subscribers.
#[derive(Debug)]
pub(crate) struct FeedMetrics {
    started: Instant,
    msgs: [AtomicU64; SLOTS],
    /// Frames that failed to decode.
    pub parse_errors: AtomicU64,
    /// Frames of an unknown type.
    pub unknown_types: AtomicU64,
    /// `{"error":…}` frames from the server.
    pub error_frames: AtomicU64,
    /// Frames over the size cap.
    pub oversize: AtomicU64,
    /// Reconnects (sessions after the first).
    pub reconnects: AtomicU64,
    /// Sessions ended by the idle watchdog.
    pub idle_timeouts: AtomicU64,
    /// Events nobody wanted (e.g. still upstream during grace).
    pub(crate) unrouted: AtomicU64,
    /// Events dropped because an older epoch arrived after a newer one.
    pub stale_dropped: AtomicU64,
    /// Panics caught in subscriber handlers.
    pub(crate) handler_panics: AtomicU64,
    /// Exchange timestamp → frame received (µs; wall clocks, so skew shows here).
    pub exchange_latency: Histogram,
    /// Frame received → handed to the subscriber (µs, monotonic).
    pub(crate) delivery_latency: Histogram,
    rates: Mutex<RateWindow>,
}

/// The shortest window a message rate is measured over.
const RATE_WINDOW: Duration = Duration::from_secs(1);

/// Message rates measured over whole windows of at least [`RATE_WINDOW`], so the figure
/// does not depend on who asks or how often: `health()` is called by the 1 s sampler
/// and by others (the trade pump asks whether the private stream is up), and a rate "since
/// the previous call" flickered between 0 and double the real rate on screen.
#[derive(Debug)]
struct RateWindow {
    /// Start of the window being counted.
    start: Instant,
    /// Totals at `start`.
    totals: [u64; SLOTS],
    /// Rates of the last completed window.
    last: Option<[f64; SLOTS]>,
}

impl Default for FeedMetrics {
    fn default() -> Self {
        let now = Instant::now();
        FeedMetrics {
            started: now,
            msgs: std::array::from_fn(|_| AtomicU64::new(0)),
            parse_errors: AtomicU64::new(0),
            unknown_types: AtomicU64::new(0),
            error_frames: AtomicU64::new(0),
            oversize: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            idle_timeouts: AtomicU64::new(0),
            unrouted: AtomicU64::new(0),
            stale_dropped: AtomicU64::new(0),
            handler_panics: AtomicU64::new(0),
            exchange_latency: Histogram::default(),
            delivery_latency: Histogram::default(),
            rates: Mutex::new(RateWindow { start: now, totals: [0; SLOTS], last: None }),
        }
    }
}

impl FeedMetrics {
    /// Counts one decoded message of `kind`.
    pub(crate) fn count_msg(&self, kind: StreamKind) {
        self.msgs[slot(kind)].fetch_add(1, Ordering::Relaxed);
    }

    /// Total decoded messages.
    pub(crate) fn total_msgs(&self) -> u64 {
        self.msgs.iter().map(|m| m.load(Ordering::Relaxed)).sum()
    }

    /// Time since the feed started.
    pub(crate) fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Per-kind totals, and rates over the last completed window of at least a second
    /// (before the first one completes: since the start). Any number of callers may ask.
    pub(crate) fn stream_rates(&self) -> Vec<StreamRate> {
        self.stream_rates_at(Instant::now())
    }

    fn stream_rates_at(&self, now: Instant) -> Vec<StreamRate> {
        let totals: [u64; SLOTS] = std::array::from_fn(|i| self.msgs[i].load(Ordering::Relaxed));
        let mut w = self.rates.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let elapsed = now.saturating_duration_since(w.start);
        let dt = elapsed.as_secs_f64().max(1e-3);
        let since_start: [f64; SLOTS] =
            std::array::from_fn(|i| totals[i].saturating_sub(w.totals[i]) as f64 / dt);
        if elapsed >= RATE_WINDOW {
            *w = RateWindow { start: now, totals, last: Some(since_start) };
        }
        let per_sec = w.last.unwrap_or(since_start);
        (0..SLOTS)
            .map(|i| StreamRate { stream: SLOT_NAMES[i], total: totals[i], per_sec: per_sec[i] })
            .collect()
    }
}

/// Messages of one stream kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamRate {
    /// Stream name.
    pub stream: &'static str,
    /// Total messages.
    pub total: u64,
    /// Messages per second since the previous snapshot.
    pub per_sec: f64,
}

/// Overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Everything wanted is flowing (also the verdict before the first report).
    #[default]
    Healthy,
    /// Working, with a visible problem (reconnecting, REST fallback, drops).
    Degraded,
    /// Data is not flowing (down past the threshold, REST blocked).
    Critical,
}

/// State of one upstream connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ConnState {
    /// Nothing is wanted, so no connection is open.
    Idle,
    /// Connecting (attempt number).
    Connecting(u32),
    /// Connected and subscribed.
    Connected,
    /// Waiting before the next attempt.
    Backoff {
        /// Why the last session ended.
        reason: String,
        /// Milliseconds until the next attempt.
        retry_in_ms: u64,
    },
    /// Private stream refused our credentials; REST polling instead.
    DegradedRest {
        /// Why.
        reason: String,
    },
}

impl ConnState {
    /// Short label ("connecting (retry in 4s)").
    pub fn label(&self) -> String {
        match self {
            ConnState::Idle => "idle".into(),
            ConnState::Connecting(n) => format!("connecting (attempt {n})"),
            ConnState::Connected => "connected".into(),
            ConnState::Backoff { retry_in_ms, reason } => {
                format!("connecting (retry in {}s): {reason}", retry_in_ms.div_ceil(1000))
            }
            ConnState::DegradedRest { reason } => format!("REST polling: {reason}"),
        }
    }
}

/// One upstream connection, as the System pane shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnSnapshot {
    /// `public` / `private`.
    pub name: &'static str,
    /// State.
    pub state: ConnState,
    /// Current epoch (increments on every successful connect).
    pub epoch: u64,
    /// Sessions that ended and were replaced.
    pub reconnects: u64,
    /// Seconds since the state last changed.
    pub state_age_secs: f64,
    /// The consolidated set last requested: (stream, markets).
    pub upstream: Vec<(String, Vec<String>)>,
    /// Subscription requests sent on this connection (all sessions).
    pub requests_sent: u64,
}

/// One subscriber.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubscriberSnapshot {
    /// Owning proxy's name.
    pub proxy: String,
    /// Subscription id.
    pub id: u64,
    /// Stream.
    pub stream: String,
    /// Markets (empty = all / none).
    pub markets: Vec<String>,
    /// Strategy label.
    pub strategy: String,
    /// Events waiting.
    pub depth: usize,
    /// Events dropped or coalesced.
    pub drops: u64,
    /// Events delivered.
    pub delivered: u64,
}

/// Everything the status bar and the System pane show about the feed. The default is the
/// report before the feed has made one: healthy, nothing connected, nothing counted.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct FeedHealth {
    /// Verdict.
    pub health: Health,
    /// Why it is not healthy.
    pub reasons: Vec<String>,
    /// Seconds since start.
    pub uptime_secs: f64,
    /// Connections.
    pub connections: Vec<ConnSnapshot>,
    /// Message rates per stream.
    pub streams: Vec<StreamRate>,
    /// Exchange → received.
    pub exchange_latency: LatencySummary,
    /// Received → delivered.
    pub delivery_latency: LatencySummary,
    /// Parse failures.
    pub parse_errors: u64,
    /// Unknown message types.
    pub unknown_types: u64,
    /// Server error frames.
    pub error_frames: u64,
    /// Oversize frames.
    pub oversize: u64,
    /// Idle-timeout reconnects.
    pub idle_timeouts: u64,
    /// Unrouted events.
    pub unrouted: u64,
    /// Handler panics caught.
    pub handler_panics: u64,
    /// Subscribers (per proxy).
    pub subscribers: Vec<SubscriberSnapshot>,
    /// Events skipped because a newer epoch had already been delivered.
    pub stale_dropped: u64,
    /// REST limiter status.
    #[serde(skip)]
    pub rest: LimitsStatus,
}

impl FeedHealth {
    /// The public connection (market data).
    fn public(&self) -> Option<&ConnSnapshot> {
        self.connections.iter().find(|c| c.name == "public")
    }

    /// The public stream is connected.
    pub(crate) fn public_connected(&self) -> bool {
        self.public().is_some_and(|c| c.state == ConnState::Connected)
    }

    /// The public connection's epoch (bumps on every reconnect).
    pub(crate) fn public_epoch(&self) -> u64 {
        self.public().map_or(0, |c| c.epoch)
    }

    /// Reconnects of all connections.
    pub fn reconnects(&self) -> u64 {
        self.connections.iter().map(|c| c.reconnects).sum()
    }

    /// The consolidated upstream subscription set, as `type:MARKET` (or `type` alone for a
    /// stream without markets).
    pub fn upstream(&self) -> Vec<String> {
        self.connections
            .iter()
            .flat_map(|c| c.upstream.iter())
            .flat_map(|(kind, markets)| {
                if markets.is_empty() {
                    vec![kind.clone()]
                } else {
                    markets.iter().map(|m| format!("{kind}:{m}")).collect()
                }
            })
            .collect()
    }

    /// Subscribers grouped by their proxy, in proxy name order.
    pub(crate) fn by_proxy(&self) -> std::collections::BTreeMap<&str, Vec<&SubscriberSnapshot>> {
        let mut out: std::collections::BTreeMap<&str, Vec<&SubscriberSnapshot>> = Default::default();
        for s in &self.subscribers {
            out.entry(s.proxy.as_str()).or_default().push(s);
        }
        out
    }

    /// Events dropped or coalesced by all subscriber queues.
    pub fn drops(&self) -> u64 {
        self.subscribers.iter().map(|s| s.drops).sum()
    }

    /// Decoded messages per second, all streams.
    pub fn msgs_per_sec(&self) -> u64 {
        self.streams.iter().map(|s| s.per_sec.max(0.0) as u64).sum()
    }

    /// Whole seconds left on a 418 ban (of the IP: every REST call halted; or of the
    /// key's pocket: its exchange calls halted), rounded up: a countdown never shows 0 s
    /// while calls are still refused.
    pub fn rest_blocked_secs(&self) -> Option<u64> {
        self.rest.blocked_for.map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
    }

    /// True when the ban is the pocket's alone (Upbit, since 2026-06-25: a 418 answering
    /// an exchange call): orders, cancels and balances are refused, quotation calls go on.
    pub fn rest_ban_is_pocket_only(&self) -> bool {
        self.rest.pocket_blocked_for.is_some() && self.rest.ip_blocked_for.is_none()
    }

    /// Whether this report says anything `prev` did not. The clocks (uptime, time in the
    /// current connection state) move on every report and are left out, so the report of
    /// a quiet feed, sent every second, is no news and redraws nothing.
    pub(crate) fn is_news_since(&self, prev: &FeedHealth) -> bool {
        fn without_clocks(h: &FeedHealth) -> FeedHealth {
            let mut h = h.clone();
            h.uptime_secs = 0.0;
            for c in &mut h.connections {
                c.state_age_secs = 0.0;
            }
            h
        }
        without_clocks(self) != without_clocks(prev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade_rate(m: &FeedMetrics, at: Instant) -> f64 {
        m.stream_rates_at(at).iter().find(|r| r.stream == "trade").map(|r| r.per_sec).unwrap_or(-1.0)
    }

    #[test]
    fn the_rate_does_not_depend_on_how_often_it_is_asked() {
        let m = FeedMetrics::default();
        let t0 = m.started;
        let count = |n: usize| (0..n).for_each(|_| m.count_msg(StreamKind::Trade));
        // Half a second in, 50 messages: a provisional rate since the start.
        count(50);
        assert_eq!(trade_rate(&m, t0 + Duration::from_millis(500)), 100.0);
        // The first whole window: 100 messages in 1 s.
        count(50);
        assert_eq!(trade_rate(&m, t0 + Duration::from_secs(1)), 100.0);
        // Asked again at once (another caller), and again before the window ends, with
        // messages in between: the same completed-window rate, not 0 or a burst.
        assert_eq!(trade_rate(&m, t0 + Duration::from_millis(1001)), 100.0);
        count(30);
        assert_eq!(trade_rate(&m, t0 + Duration::from_millis(1300)), 100.0);
        count(30);
        // The next window closes: 60 messages in 1 s.
        assert_eq!(trade_rate(&m, t0 + Duration::from_secs(2)), 60.0);
        // Totals are always current.
        let total = m.stream_rates_at(t0 + Duration::from_secs(2)).iter().map(|r| r.total).sum::<u64>();
        assert_eq!(total, 160);
    }
}
