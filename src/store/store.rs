//! The store task: receives [`StoreEvent`]s on a bounded channel, applies them in batches
//! and publishes an `Arc<Snapshot>` on a `watch` channel.
//!
//! Why this shape: one writer means no locks anywhere on the read side; `recv_many`
//! batches a burst of ticks into one publish; `watch` is latest-wins, so a slow reader
//! (the UI between frames) never queues old snapshots.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use super::account::{Mode, RuleRow, TradingState};
use super::market::MarketsFailed;
use super::snapshot::Snapshot;
use super::system::{AlertRecord, LogLevel, LogRecord, StreamState, StreamStatus, SystemTable};
use crate::bus::BusMetrics;
use crate::exchange::types::{
    Balance, Candle, Fill, MarketId, MarketInfo, Order, OrderBook, Ticker, Timeframe, Trade,
};
use crate::feed::FeedHealth;
use crate::kernel::{OnFailure, TaskInfo, TaskManager};

/// A fact the store applies. Producers name what happened; the store decides where it goes.
#[derive(Debug, Clone)]
pub enum StoreEvent {
    /// The exchange's market list was loaded (replaces the list).
    MarketsLoaded(Vec<MarketInfo>),
    /// Reading the market list failed (before it first loaded): why, and when it is tried
    /// again. The markets pane and the Venues table say it instead of `loading…`.
    MarketsFailed {
        /// The error, as the REST client words it.
        error: String,
        /// When the list is read again.
        retry_in: std::time::Duration,
    },
    /// A ticker arrived (latest wins per market).
    TickerUpdated(Ticker),
    /// Several tickers that arrived together (one burst off the socket): one event, so
    /// the store applies and publishes them as one batch.
    TickersUpdated(Vec<Ticker>),
    /// A trade printed on the tape.
    TradePrinted(Trade),
    /// A full order book arrived (latest wins per market).
    BookUpdated(OrderBook),
    /// Candle history for a series was loaded from REST (merged with live bars).
    CandlesLoaded {
        /// Market.
        market: MarketId,
        /// Timeframe.
        timeframe: Timeframe,
        /// Bars in any order.
        candles: Vec<Candle>,
    },
    /// A page of candles older than a series' oldest (the chart scrolled back): prepended,
    /// an overlap taken once; nothing older marks the start of the market's history.
    OlderCandlesLoaded {
        /// Market.
        market: MarketId,
        /// Timeframe.
        timeframe: Timeframe,
        /// Bars in any order.
        candles: Vec<Candle>,
    },
    /// The chart's pager asked for an older page of a series (`Some(Loading)`), or
    /// stopped waiting for one (`None`: it failed and may be asked again).
    HistoryPaging {
        /// Market.
        market: MarketId,
        /// Timeframe.
        timeframe: Timeframe,
        /// Where paging stands.
        state: Option<super::market::HistoryState>,
    },
    /// A live candle was opened or updated.
    CandleUpdated(Candle),
    /// A market's last day in hourly candles was loaded (the markets table's sparkline
    /// and 24 h high and low; replaces the market's earlier day).
    DayLoaded {
        /// Market.
        market: MarketId,
        /// Hourly candles in any order.
        candles: Vec<Candle>,
        /// When they were read (Unix ms): hours before the last day are left out.
        at_ms: i64,
    },
    /// Upbit sent indicator values or a signal (`crate::indicators`).
    IndicatorReceived(crate::indicators::IndicatorEvent),
    /// Balances were refreshed (replaces all).
    BalancesUpdated(Vec<Balance>),
    /// The pockets and the other pockets' balances were refreshed (replaces all).
    PocketsUpdated(crate::exchange::upbit::pockets::PocketsState),
    /// The open-order set was refreshed (replaces all; terminal orders are dropped).
    OrdersUpdated(Vec<Order>),
    /// A fill was applied (deduplicated by trade id).
    FillApplied(Fill),
    /// The order manager's position of a market changed (a fill): its average cost and
    /// realized P&L, computed there (replaces that market's).
    PositionUpdated(super::account::Position),
    /// A fill realized this P&L (after fees) at `at`: it counts toward that Korean day's.
    Realized {
        /// P&L, quote currency.
        pnl: rust_decimal::Decimal,
        /// When the fill was counted.
        at: DateTime<Utc>,
    },
    /// The process mode and exchange name became known.
    ModeSet {
        /// Demo, paper or live.
        mode: Mode,
        /// Exchange name for the status bar.
        exchange: String,
    },
    /// A stream changed state.
    FeedStatus {
        /// Stream name (`public`, `private`).
        stream: String,
        /// New state.
        state: StreamState,
        /// Time to the next attempt when reconnecting.
        retry_in: Option<Duration>,
    },
    /// The feed manager's periodic health report (shared: it is large, and the snapshot
    /// keeps it as is).
    FeedHealthUpdated(Arc<FeedHealth>),
    /// The bus's lane counters were sampled, with the last envelopes it delivered.
    BusUpdated(BusMetrics, Vec<super::system::EnvelopeRow>),
    /// A log record was emitted.
    LogRecord {
        /// Level.
        level: LogLevel,
        /// Target (module path).
        target: String,
        /// Message.
        message: String,
        /// Wall-clock time.
        time: DateTime<Utc>,
    },
    /// The kernel's task table was sampled.
    TasksUpdated(Vec<TaskInfo>),
    /// A generic system table (bus lanes, subscriptions…) was refreshed, by title.
    SystemStats {
        /// Table title; the same title replaces the previous rows.
        title: String,
        /// Column headers.
        header: Vec<String>,
        /// Rows of cells.
        rows: Vec<Vec<String>>,
    },
    /// An alert fired.
    Alert {
        /// Wall-clock time.
        time: DateTime<Utc>,
        /// Text for the status bar.
        message: String,
    },
    /// An alert about something that may be said again (an exchange notice and its
    /// updates): it replaces the earlier alert with the same key, as news.
    KeyedAlert {
        /// What it is about.
        key: String,
        /// Wall-clock time.
        time: DateTime<Utc>,
        /// Text for the status bar.
        message: String,
    },
    /// The exchange's notices about markets, by source (a notice's id): replaces every
    /// badge that source set before, and takes away `clear` (a warning lifted).
    Badges {
        /// The notice (or event) the badges come from.
        source: String,
        /// Badges it sets.
        set: Vec<(MarketId, super::market::Badge)>,
        /// Badges it takes away, whoever set them.
        clear: Vec<(MarketId, super::market::Badge)>,
    },
    /// All alerts were seen by the user.
    AlertsAcknowledged,
    /// The risk gate changed state.
    TradingState(TradingState),
    /// The monitor's rule set changed (replaces all).
    RulesUpdated(Vec<RuleRow>),
    /// The monitor's price alerts changed (replaces all).
    AlertsUpdated(Vec<crate::trading::monitor::AlertRow>),
    /// The premium task's board (replaces the whole board).
    PremiumUpdated(Arc<super::premium::PremiumBoard>),
    /// The premium line of the market and timeframe the chart shows (replaces every line:
    /// only the shown one is kept current).
    PremiumHistory(Arc<super::premium::PremiumSeries>),
    /// The answer to a trading or config request (routed to the UI by its id).
    Reply(crate::trading::intent::TradeReply),
    /// What the change gate holds now, and why (`None`: nothing waits).
    ConfigWaiting(Option<String>),
}

/// Which sections an event touches (coarse `Arc` sections and fine version counters).
#[derive(Debug, Clone, Copy, Default)]
struct Touched {
    market: bool,
    account: bool,
    system: bool,
    markets: bool,
    books: bool,
    trades: bool,
    candles: bool,
    orders: bool,
    log: bool,
    /// Streams, feed health, alerts.
    status: bool,
    /// Tasks, bus lanes, named tables.
    tables: bool,
}

/// The pure state machine of the store: apply events, publish snapshots. The task wraps
/// it; tests drive it directly.
#[derive(Debug, Default)]
pub struct Store {
    current: Arc<Snapshot>,
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Store::default()
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.clone()
    }

    /// Applies a batch received at `now` and returns the new snapshot. Sections the batch
    /// does not touch are shared with the previous snapshot (same `Arc`).
    pub fn apply_batch(
        &mut self,
        events: impl IntoIterator<Item = StoreEvent>,
        now: Instant,
    ) -> Arc<Snapshot> {
        let prev = &self.current;
        let mut market = prev.market.clone();
        let mut account = prev.account.clone();
        let mut system = prev.system.clone();
        let mut touched = Touched::default();
        for ev in events {
            apply(ev, now, &mut market, &mut account, &mut system, &mut touched);
        }
        if !(touched.market || touched.account || touched.system) {
            return self.current.clone();
        }
        if touched.market {
            Arc::make_mut(&mut market).version += 1;
        }
        if touched.account {
            Arc::make_mut(&mut account).version += 1;
        }
        if touched.system {
            Arc::make_mut(&mut system).version += 1;
        }
        let mut v = prev.versions;
        let bump = |flag: bool, n: &mut u64| *n += u64::from(flag);
        bump(touched.markets, &mut v.markets);
        bump(touched.books, &mut v.books);
        bump(touched.trades, &mut v.trades);
        bump(touched.candles, &mut v.candles);
        bump(touched.orders, &mut v.orders);
        bump(touched.log, &mut v.log);
        bump(touched.account && !touched.orders, &mut v.account);
        bump(touched.status, &mut v.system);
        bump(touched.tables, &mut v.tables);
        self.current = Arc::new(Snapshot { version: prev.version + 1, versions: v, market, account, system });
        self.current.clone()
    }

    /// Starts the store task under `tasks` and returns the handle producers and readers use.
    pub fn start(tasks: &TaskManager, config: StoreConfig) -> StoreHandle {
        // Capacity: one second of a busy feed. Overflow policy: market data producers use
        // `try_send` and drop on full (counted; the next tick supersedes it anyway);
        // order, fill and state producers use `send().await` and wait, so they are never
        // dropped. Why bounded: a stalled store must push back, not grow without limit.
        let (tx, rx) = mpsc::channel::<StoreEvent>(config.capacity.max(1));
        let store = Store::new();
        let (snap_tx, snap_rx) = watch::channel(store.snapshot());
        let batch = config.batch.max(1);
        // Supervised: everything the screen shows comes through here, so a panic (a bug
        // in applying some event) must not freeze it. The state outlives the run: a batch
        // replaces the snapshot only once it is fully applied, so the restart goes on from
        // the last good snapshot (the batch that panicked is lost).
        let parts = Arc::new(tokio::sync::Mutex::new((store, rx, snap_tx, Vec::with_capacity(batch))));
        tasks.spawn_supervised("store", "store", OnFailure::restart(), move |cancel| {
            let parts = parts.clone();
            async move {
                let mut parts = parts.lock_owned().await;
                let (store, rx, snap_tx, buf) = &mut *parts;
                buf.clear();
                loop {
                    tokio::select! {
                        biased;
                        _ = cancel.cancelled() => break,
                        n = rx.recv_many(buf, batch) => {
                            if n == 0 {
                                break; // every producer is gone
                            }
                            let before = store.current.version;
                            let snap = store.apply_batch(buf.drain(..), Instant::now());
                            if snap.version != before {
                                // `send_replace` never fails; readers may all be gone.
                                snap_tx.send_replace(snap);
                            }
                        }
                    }
                }
                Ok(())
            }
        });
        StoreHandle { tx, snapshots: snap_rx, dropped: Arc::new(AtomicU64::new(0)) }
    }
}

/// Store task settings.
#[derive(Debug, Clone, Copy)]
pub struct StoreConfig {
    /// Event channel capacity.
    pub capacity: usize,
    /// Most events applied per publish.
    pub batch: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { capacity: 4096, batch: 512 }
    }
}

/// The store task has stopped; the event was not applied.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the store task has stopped")]
pub struct StoreClosed;

/// Cloneable handle: send events, read snapshots.
#[derive(Debug, Clone)]
pub struct StoreHandle {
    tx: mpsc::Sender<StoreEvent>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    dropped: Arc<AtomicU64>,
}

impl StoreHandle {
    /// A clone of the event sender, for pumps that own their send policy (the feed pumps
    /// use `try_send` for latest-wins market data and `send().await` for orders).
    pub fn sender(&self) -> mpsc::Sender<StoreEvent> {
        self.tx.clone()
    }

    /// Sends an event that must not be lost (orders, fills, state), waiting for room.
    pub async fn send(&self, ev: StoreEvent) -> Result<(), StoreClosed> {
        self.tx.send(ev).await.map_err(|_| StoreClosed)
    }

    /// Sends a latest-wins event (market data) without waiting; drops and counts it when
    /// the channel is full. Returns whether it was queued.
    pub fn try_send(&self, ev: StoreEvent) -> bool {
        match self.tx.try_send(ev) {
            Ok(()) => true,
            Err(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Events dropped by [`StoreHandle::try_send`] so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// A receiver of published snapshots (latest wins).
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshots.clone()
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshots.borrow().clone()
    }
}

fn apply(
    ev: StoreEvent,
    now: Instant,
    market: &mut Arc<super::market::MarketSection>,
    account: &mut Arc<super::account::AccountSection>,
    system: &mut Arc<super::system::SystemSection>,
    t: &mut Touched,
) {
    use StoreEvent as E;
    match ev {
        E::MarketsLoaded(list) => {
            let section = Arc::make_mut(market);
            section.set_markets(list);
            section.markets_failed = None;
            t.market = true;
            t.markets = true;
        }
        E::MarketsFailed { error, retry_in } => {
            Arc::make_mut(market).markets_failed = Some(Arc::new(MarketsFailed { error, retry_in, at: now }));
            t.market = true;
            t.markets = true;
        }
        E::TickerUpdated(tk) => {
            let changed = Arc::make_mut(market).put_ticker(tk, now);
            t.market |= changed;
            t.markets |= changed;
        }
        E::TickersUpdated(list) => {
            let section = Arc::make_mut(market);
            for tk in list {
                let changed = section.put_ticker(tk, now);
                t.market |= changed;
                t.markets |= changed;
            }
        }
        E::TradePrinted(tr) => {
            Arc::make_mut(market).push_trade(tr);
            t.market = true;
            t.trades = true;
        }
        E::BookUpdated(b) => {
            let changed = Arc::make_mut(market).put_book(b, now);
            t.market |= changed;
            t.books |= changed;
        }
        E::CandlesLoaded { market: m, timeframe, candles } => {
            Arc::make_mut(market).load_candles(m, timeframe, candles);
            t.market = true;
            t.candles = true;
        }
        E::PremiumUpdated(board) => {
            Arc::make_mut(market).premium = board;
            t.market = true;
            t.markets = true;
        }
        E::PremiumHistory(series) => {
            // Only the line the chart shows is kept current: an older (market, timeframe)'s
            // would be drawn frozen when the view came back to it, so it goes.
            let key = (series.market.clone(), series.timeframe);
            let lines = Arc::make_mut(&mut Arc::make_mut(market).premium_history);
            lines.clear();
            lines.insert(key, series);
            t.market = true;
            t.candles = true;
        }
        E::DayLoaded { market: m, candles, at_ms } => {
            Arc::make_mut(market).load_day(m, &candles, at_ms);
            t.market = true;
            t.markets = true;
        }
        E::OlderCandlesLoaded { market: m, timeframe, candles } => {
            Arc::make_mut(market).load_older(m, timeframe, candles);
            t.market = true;
            t.candles = true;
        }
        E::HistoryPaging { market: m, timeframe, state } => {
            Arc::make_mut(market).set_history_state(m, timeframe, state);
            t.market = true;
            t.candles = true;
        }
        E::CandleUpdated(c) => {
            Arc::make_mut(market).update_candle(c);
            t.market = true;
            t.candles = true;
        }
        E::IndicatorReceived(ev) => {
            Arc::make_mut(market).apply_indicator(ev);
            t.market = true;
            t.candles = true;
        }
        // Balances and orders are also refreshed by polls (every second in paper mode):
        // a refresh that changes nothing is no news, so an idle console does not redraw.
        E::BalancesUpdated(b) => {
            if *account.balances != b {
                Arc::make_mut(account).balances = Arc::new(b);
                t.account = true;
            }
        }
        E::PocketsUpdated(p) => {
            if *account.pockets != p {
                Arc::make_mut(account).pockets = Arc::new(p);
                t.account = true;
            }
        }
        E::OrdersUpdated(mut o) => {
            o.retain(|o| !o.state.is_terminal());
            if *account.open_orders != o {
                Arc::make_mut(account).open_orders = Arc::new(o);
                t.account = true;
                t.orders = true;
            }
        }
        E::FillApplied(f) => {
            let changed = Arc::make_mut(account).apply_fill(f);
            t.account |= changed;
            t.orders |= changed;
        }
        E::PositionUpdated(p) => {
            if account.positions.get(&p.market) != Some(&p) {
                let acc = Arc::make_mut(account);
                Arc::make_mut(&mut acc.positions).insert(p.market.clone(), p);
                t.account = true;
            }
        }
        E::Realized { pnl, at } => {
            if !pnl.is_zero() {
                t.account |= Arc::make_mut(account).add_realized(pnl, at);
            }
        }
        E::ModeSet { mode, exchange } => {
            let a = Arc::make_mut(account);
            a.mode = mode;
            a.exchange = exchange;
            t.account = true;
        }
        E::TradingState(s) => {
            Arc::make_mut(account).trading_state = s;
            t.account = true;
        }
        E::Reply(r) => {
            let acc = Arc::make_mut(account);
            let replies = Arc::make_mut(&mut acc.replies);
            if replies.len() >= crate::store::account::REPLIES_KEPT {
                replies.pop_front();
            }
            replies.push_back(r);
            t.account = true;
            t.status = true;
        }
        E::ConfigWaiting(w) => {
            if account.config_waiting != w {
                Arc::make_mut(account).config_waiting = w;
                t.account = true;
                t.status = true;
            }
        }
        E::RulesUpdated(r) => {
            if *account.rules != r {
                Arc::make_mut(account).rules = Arc::new(r);
                t.account = true;
            }
        }
        E::AlertsUpdated(a) => {
            if *account.alerts != a {
                Arc::make_mut(account).alerts = Arc::new(a);
                t.account = true;
            }
        }
        E::FeedStatus { stream, state, retry_in } => {
            Arc::make_mut(system).set_stream(StreamStatus { name: stream, state, retry_in, since: now });
            t.system = true;
            t.status = true;
        }
        E::FeedHealthUpdated(s) => {
            // The report comes every second; an unchanged one (a quiet feed) is no news.
            if s.is_news_since(&system.feed) {
                Arc::make_mut(system).feed = s;
                t.system = true;
                t.status = true;
            }
        }
        E::BusUpdated(m, envelopes) => {
            let sys = Arc::make_mut(system);
            sys.bus = Some(Arc::new(m));
            if *sys.envelopes != envelopes {
                sys.envelopes = Arc::new(envelopes);
            }
            t.system = true;
            t.tables = true;
        }
        E::LogRecord { level, target, message, time } => {
            Arc::make_mut(system).push_log(LogRecord { level, target, message, time });
            t.system = true;
            t.log = true;
        }
        E::TasksUpdated(tasks) => {
            Arc::make_mut(system).tasks = Arc::new(tasks);
            t.system = true;
            t.tables = true;
        }
        E::SystemStats { title, header, rows } => {
            Arc::make_mut(&mut Arc::make_mut(system).tables).insert(title, SystemTable { header, rows });
            t.system = true;
            t.tables = true;
        }
        E::Alert { time, message } => {
            Arc::make_mut(system).push_alert(AlertRecord { time, message, acknowledged: false, key: None });
            t.system = true;
            t.status = true;
        }
        E::KeyedAlert { key, time, message } => {
            Arc::make_mut(system).push_alert(AlertRecord {
                time,
                message,
                acknowledged: false,
                key: Some(key),
            });
            t.system = true;
            t.status = true;
        }
        E::Badges { source, set, clear } => {
            Arc::make_mut(market).set_badges(&source, set, &clear);
            t.market = true;
            t.markets = true;
        }
        E::AlertsAcknowledged => {
            let sys = Arc::make_mut(system);
            for a in Arc::make_mut(&mut sys.alerts).iter_mut() {
                a.acknowledged = true;
            }
            t.system = true;
            t.status = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn ticker(m: &str, p: rust_decimal::Decimal) -> Ticker {
        Ticker { market: Some(MarketId::new(m)), trade_price: p, ..Ticker::default() }
    }

    #[test]
    fn a_refresh_that_changes_nothing_publishes_nothing() {
        let mut s = Store::new();
        let krw = Balance { currency: "KRW".into(), balance: dec!(1000), ..Balance::default() };
        let a = s.apply_batch([StoreEvent::BalancesUpdated(vec![krw.clone()])], Instant::now());
        let b = s.apply_batch(
            [StoreEvent::BalancesUpdated(vec![krw.clone()]), StoreEvent::RulesUpdated(Vec::new())],
            Instant::now(),
        );
        assert_eq!(b.version, a.version, "the same balances and no rules again: no new snapshot");
        let more = Balance { balance: dec!(2000), ..krw };
        let c = s.apply_batch([StoreEvent::BalancesUpdated(vec![more])], Instant::now());
        assert_eq!(c.versions.account, a.versions.account + 1);
    }

    #[test]
    fn a_feed_report_that_only_aged_is_no_news_but_a_new_verdict_is() {
        use crate::feed::{ConnSnapshot, ConnState, Health};
        let report = |uptime_secs: f64, state_age_secs: f64, health: Health| {
            Arc::new(FeedHealth {
                health,
                uptime_secs,
                connections: vec![ConnSnapshot {
                    name: "public",
                    state: ConnState::Connected,
                    epoch: 1,
                    reconnects: 0,
                    state_age_secs,
                    upstream: Vec::new(),
                    requests_sent: 1,
                }],
                ..FeedHealth::default()
            })
        };
        let mut s = Store::new();
        let a =
            s.apply_batch([StoreEvent::FeedHealthUpdated(report(1.0, 1.0, Health::Healthy))], Instant::now());
        assert!(a.system.feed.public_connected());
        // A second later the feed is as quiet as before: only its clocks moved.
        let b =
            s.apply_batch([StoreEvent::FeedHealthUpdated(report(2.0, 2.0, Health::Healthy))], Instant::now());
        assert_eq!(b.version, a.version, "a quiet feed's report redraws nothing");
        let c = s
            .apply_batch([StoreEvent::FeedHealthUpdated(report(3.0, 3.0, Health::Degraded))], Instant::now());
        assert_eq!(c.versions.system, a.versions.system + 1);
        assert_eq!(c.system.feed.health, Health::Degraded);
    }

    #[test]
    fn a_burst_of_tickers_is_one_publish_and_the_latest_per_market_wins() {
        let mut s = Store::new();
        let a = s.snapshot();
        let b = s.apply_batch(
            [StoreEvent::TickersUpdated(vec![
                ticker("KRW-BTC", dec!(100)),
                ticker("KRW-ETH", dec!(5)),
                ticker("KRW-BTC", dec!(101)),
                Ticker::default(), // no market: ignored
            ])],
            Instant::now(),
        );
        assert_eq!(b.version, a.version + 1);
        assert_eq!(b.versions.markets, a.versions.markets + 1);
        assert_eq!(b.market.tickers.len(), 2);
        assert_eq!(b.market.tickers[&MarketId::new("KRW-BTC")].value.trade_price, dec!(101));
        // An empty burst changes nothing and publishes nothing new.
        let c = s.apply_batch([StoreEvent::TickersUpdated(Vec::new())], Instant::now());
        assert_eq!(c.version, b.version);
    }

    #[test]
    fn untouched_sections_are_shared_and_versions_bump_per_section() {
        let mut s = Store::new();
        let t0 = Instant::now();
        let a = s.apply_batch([StoreEvent::TickerUpdated(ticker("KRW-BTC", dec!(100)))], t0);
        let b = s.apply_batch([StoreEvent::TickerUpdated(ticker("KRW-BTC", dec!(101)))], t0);
        assert_eq!(b.version, a.version + 1);
        assert_eq!(b.market.version, a.market.version + 1);
        assert!(Arc::ptr_eq(&a.account, &b.account));
        assert!(Arc::ptr_eq(&a.system, &b.system));
        assert!(Arc::ptr_eq(&a.market.books, &b.market.books), "books untouched by a ticker");
        assert_eq!(b.versions.markets, a.versions.markets + 1);
        assert_eq!(b.versions.books, a.versions.books, "book version unchanged by a ticker");
        assert_eq!(b.versions.log, a.versions.log);
        let m = MarketId::new("KRW-BTC");
        assert_eq!(b.market.tickers[&m].value.trade_price, dec!(101));
        assert_eq!(a.market.tickers[&m].value.trade_price, dec!(100), "old snapshot unchanged");
    }

    #[test]
    fn a_print_seen_by_rest_and_by_the_stream_is_shown_once() {
        let mut s = Store::new();
        let print = |seq: i64| {
            StoreEvent::TradePrinted(Trade {
                market: MarketId::new("KRW-BTC"),
                price: dec!(100),
                volume: dec!(1),
                side: Some(crate::exchange::types::Side::Bid),
                trade_timestamp: 0,
                timestamp: 0,
                sequential_id: seq,
                stream_type: Default::default(),
            })
        };
        let snap = s.apply_batch([print(1), print(2), print(2), print(3)], Instant::now());
        let tape = &snap.market.trades[&MarketId::new("KRW-BTC")];
        assert_eq!(tape.iter().map(|t| t.sequential_id).collect::<Vec<_>>(), vec![3, 2, 1]);
    }

    #[test]
    fn empty_or_ignored_batch_publishes_nothing() {
        let mut s = Store::new();
        let a = s.apply_batch([], Instant::now());
        let b = s.apply_batch([StoreEvent::TickerUpdated(Ticker::default())], Instant::now());
        assert_eq!(a.version, b.version, "a ticker without a market is ignored");
    }

    #[test]
    fn fills_are_deduplicated_and_terminal_orders_dropped() {
        let mut s = Store::new();
        let fill = Fill {
            trade_uuid: "t1".into(),
            order_uuid: "o1".into(),
            market: MarketId::new("KRW-BTC"),
            side: Some(crate::exchange::types::Side::Bid),
            price: dec!(1),
            volume: dec!(1),
            funds: dec!(1),
            fee: None,
            is_maker: None,
            timestamp: 0,
        };
        let snap = s.apply_batch(
            [StoreEvent::FillApplied(fill.clone()), StoreEvent::FillApplied(fill)],
            Instant::now(),
        );
        assert_eq!(snap.account.fills.len(), 1);
    }

    /// The order manager's positions and what its fills realized reach the snapshot:
    /// the average after a second buy at another price, the realized total after fees and
    /// today's figure; the same position again is no news.
    #[test]
    fn positions_and_realized_pnl_reach_the_account_section() {
        use crate::exchange::types::Side;
        use crate::store::account::Position;
        use chrono::TimeZone;
        let mut s = Store::new();
        let mut btc = Position::new(MarketId::new("KRW-BTC"));
        btc.apply(Side::Bid, dec!(140_000_000), dec!(0.05), dec!(3_500));
        let a = s.apply_batch([StoreEvent::PositionUpdated(btc.clone())], Instant::now());
        btc.apply(Side::Bid, dec!(145_000_000), dec!(0.05), dec!(3_625));
        let realized = btc.apply(Side::Ask, dec!(150_000_000), dec!(0.04), dec!(3_000));
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap();
        let b = s.apply_batch(
            [StoreEvent::PositionUpdated(btc.clone()), StoreEvent::Realized { pnl: realized, at }],
            Instant::now(),
        );
        assert_eq!(b.versions.account, a.versions.account + 1);
        let p = &b.account.positions[&MarketId::new("KRW-BTC")];
        assert_eq!(p.avg_cost, dec!(142_571_250));
        assert_eq!(b.account.realized_total(), dec!(294_150));
        assert_eq!(b.account.realized_today(at), dec!(294_150));
        let c = s.apply_batch([StoreEvent::PositionUpdated(btc)], Instant::now());
        assert_eq!(c.version, b.version, "the same position again publishes nothing");
    }

    #[test]
    fn live_candles_win_over_late_history() {
        let mut s = Store::new();
        let m = MarketId::new("KRW-BTC");
        let c = |start: i64, close| Candle {
            market: m.clone(),
            timeframe: Timeframe::M1,
            start,
            open: close,
            high: close,
            low: close,
            close,
            volume: dec!(1),
            value: dec!(1),
            timestamp: start,
        };
        s.apply_batch([StoreEvent::CandleUpdated(c(120, dec!(9)))], Instant::now());
        let snap = s.apply_batch(
            [StoreEvent::CandlesLoaded {
                market: m.clone(),
                timeframe: Timeframe::M1,
                candles: vec![c(120, dec!(1)), c(0, dec!(1)), c(60, dec!(1))],
            }],
            Instant::now(),
        );
        let series = snap.market.series(&m, Timeframe::M1);
        assert_eq!(series.iter().map(|c| c.start).collect::<Vec<_>>(), vec![0, 60, 120]);
        assert_eq!(series[2].close, dec!(9));
    }

    fn minute(m: &MarketId, start: i64, close: rust_decimal::Decimal) -> Candle {
        Candle {
            market: m.clone(),
            timeframe: Timeframe::M1,
            start: start * 60_000,
            open: close,
            high: close,
            low: close,
            close,
            volume: dec!(1),
            value: dec!(1),
            timestamp: start * 60_000,
        }
    }

    fn starts(snap: &Snapshot, m: &MarketId) -> Vec<i64> {
        snap.market.series(m, Timeframe::M1).iter().map(|c| c.start / 60_000).collect()
    }

    #[test]
    fn an_older_page_is_prepended_once_and_kept_past_the_cap() {
        use crate::store::market::{CANDLES_PER_SERIES, HistoryState};
        let mut s = Store::new();
        let m = MarketId::new("KRW-BTC");
        let newest = (1000..1000 + CANDLES_PER_SERIES as i64).map(|i| minute(&m, i, dec!(1))).collect();
        s.apply_batch(
            [StoreEvent::CandlesLoaded { market: m.clone(), timeframe: Timeframe::M1, candles: newest }],
            Instant::now(),
        );
        // A page that overlaps the series by ten candles, newest first as Upbit sends it:
        // the overlap is not taken twice and the series' own candles stay.
        let page: Vec<Candle> = (810..1010).rev().map(|i| minute(&m, i, dec!(2))).collect();
        let snap = s.apply_batch(
            [StoreEvent::OlderCandlesLoaded { market: m.clone(), timeframe: Timeframe::M1, candles: page }],
            Instant::now(),
        );
        let want: Vec<i64> = (810..1000 + CANDLES_PER_SERIES as i64).collect();
        assert_eq!(starts(&snap, &m), want, "prepended, contiguous, each candle once");
        let series = snap.market.series(&m, Timeframe::M1);
        assert_eq!(series[189].close, dec!(2));
        assert_eq!(series[190].close, dec!(1), "the series' own candle wins the overlap");
        assert_eq!(snap.market.history(&m, Timeframe::M1), None);
        // Live bars go on: the scrolled-back history is kept, the oldest go first.
        let snap = s.apply_batch(
            (0..5).map(|i| StoreEvent::CandleUpdated(minute(&m, 2000 + i, dec!(3)))),
            Instant::now(),
        );
        let got = starts(&snap, &m);
        assert_eq!(got.len(), want.len(), "kept past {CANDLES_PER_SERIES}");
        assert_eq!((got[0], *got.last().unwrap()), (815, 2004));
        // Nothing older: the start of the market's history, and the series unchanged.
        let snap = s.apply_batch(
            [StoreEvent::OlderCandlesLoaded {
                market: m.clone(),
                timeframe: Timeframe::M1,
                candles: vec![minute(&m, 900, dec!(9))],
            }],
            Instant::now(),
        );
        assert_eq!(snap.market.history(&m, Timeframe::M1), Some(HistoryState::Start));
        assert_eq!(starts(&snap, &m), got);
        assert_eq!(HistoryState::Start.label(), "start of history");
    }

    #[test]
    fn a_fresh_page_that_does_not_reach_the_held_series_replaces_it() {
        let mut s = Store::new();
        let m = MarketId::new("KRW-ETH");
        let load = |from: i64, to: i64| StoreEvent::CandlesLoaded {
            market: m.clone(),
            timeframe: Timeframe::M1,
            candles: (from..to).map(|i| minute(&m, i, dec!(1))).collect(),
        };
        s.apply_batch([load(0, 200)], Instant::now());
        // The chart came back after 300 minutes elsewhere: a live bar came first.
        s.apply_batch([StoreEvent::CandleUpdated(minute(&m, 499, dec!(5)))], Instant::now());
        let snap = s.apply_batch([load(300, 500)], Instant::now());
        assert_eq!(starts(&snap, &m), (300..500).collect::<Vec<_>>(), "no hidden gap behind the page");
        assert_eq!(snap.market.series(&m, Timeframe::M1)[199].close, dec!(5), "the live bar wins");
        // A page that reaches the held series keeps what it held.
        let snap = s.apply_batch([load(400, 600)], Instant::now());
        assert_eq!(starts(&snap, &m), (300..600).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn task_publishes_snapshots() {
        let tasks = TaskManager::new();
        let h = Store::start(&tasks, StoreConfig::default());
        let mut rx = h.subscribe();
        h.send(StoreEvent::TradingState(TradingState::Halted)).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            if rx.borrow_and_update().account.trading_state == TradingState::Halted {
                break;
            }
            tokio::time::timeout_at(deadline, rx.changed()).await.unwrap().unwrap();
        }
        tasks.cancel_all();
    }
}
