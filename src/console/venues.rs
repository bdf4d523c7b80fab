//! The second venue: Binance's public market data beside Upbit's, read-only.
//!
//! ```text
//!  BinanceRest ──► FeedManager (its own) ──proxies──► market pumps ──► Binance store ──► ui::App
//!                                                      ▲ Selection / ChartWant (its own)   (`:venue binance`)
//!  UI commands ── SetVenue ──► Routes: the market commands after it go to that venue's watch
//! ```
//!
//! The same pumps as Upbit's (`super::market`) fill a store of its own, with no price
//! sinks: Binance prices never reach the order manager, the monitor or the paper engine,
//! which price Upbit's orders. Its feed is not watched by `super::safety` either, so an
//! outage there never degrades trading or Upbit's feed status; the System pane's `Venues`
//! table shows each venue's connection, rates and REST limits side by side.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::{Mode, Settings};
use crate::exchange::VenueId;
use crate::exchange::binance::rest::BinanceRest;
use crate::exchange::rest::{LimitsStatus, RestApi};
use crate::exchange::types::{MarketId, Timeframe};
use crate::feed::{ConnState, FeedConfig, FeedHandle, FeedHealth, FeedManager};
use crate::kernel::{OnFailure, TaskManager};
use crate::store::{StoreConfig, StoreEvent, StoreHandle};
use crate::trading::intent::{Outcome, TradeIntent, TradeReply, TradeRequest};
use crate::ui::UiCommand;

use super::market::{self, ChartWant, Selection};

/// The System pane's table of venues.
pub const TABLE: &str = "Venues";

/// What a trading request is told while the screen shows a venue hoga does not trade on.
pub const READ_ONLY: &str = "Binance is read-only here: :venue upbit to trade";

/// What `:venue binance` is told when `[venues]` leaves Binance off.
pub const BINANCE_OFF: &str = "Binance is off: set [venues] binance = true";

/// A market-data venue's running parts, for whatever reads its data besides the panes
/// (the premium engine, the Venues table).
#[derive(Clone)]
pub struct VenueLink {
    /// Which venue.
    pub venue: VenueId,
    /// Its feed (its own connections, health and rates).
    pub feed: FeedHandle,
    /// Its REST client (public data; its own rate limits).
    pub rest: Arc<dyn RestApi>,
    /// Its market-data store.
    pub store: StoreHandle,
}

/// Where a venue's market commands go: its selection and its chart's wants.
#[derive(Clone)]
pub(crate) struct Route {
    pub selection: Arc<watch::Sender<Selection>>,
    pub chart: Arc<watch::Sender<ChartWant>>,
}

impl Route {
    /// A route with the starting selection (the book's depth from the settings).
    pub(crate) fn new(depth: u16) -> (Route, watch::Receiver<Selection>, watch::Receiver<ChartWant>) {
        let (selection, sel_rx) =
            watch::channel(Selection { market: None, timeframe: Timeframe::M1, depth, group: 0 });
        let (chart, chart_rx) = watch::channel(ChartWant::default());
        (Route { selection: Arc::new(selection), chart: Arc::new(chart) }, sel_rx, chart_rx)
    }
}

/// A REST client's request weight used this minute and its per-minute limit (Binance).
pub(crate) type Weight = Arc<dyn Fn() -> (u32, u32) + Send + Sync>;

/// The second venue, started: its parts, and the route of its market commands.
pub(crate) struct SecondVenue {
    pub link: VenueLink,
    pub route: Route,
    /// Its REST client's weight budget, for the Venues table.
    pub weight: Weight,
}

/// Where Binance is: the simulator's base in demo (REST and websocket on its one port),
/// else `[venues] binance_rest_url` / `binance_ws_url` or Binance's own. `sim`: the
/// simulator's REST and websocket bases (`http://127.0.0.1:PORT`, `ws://127.0.0.1:PORT`).
pub(crate) fn binance_bases(settings: &Settings, sim: Option<&(String, String)>) -> (String, Option<String>) {
    let v = &settings.venues;
    if let Some((rest, ws)) = sim {
        if !v.binance_rest_url.is_empty() || !v.binance_ws_url.is_empty() {
            tracing::warn!(
                "[venues] binance_rest_url / binance_ws_url are for paper and live: demo reads Binance from its simulator"
            );
        }
        return (rest.clone(), Some(ws.clone()));
    }
    let rest = if v.binance_rest_url.is_empty() {
        crate::exchange::binance::REST_URL.to_string()
    } else {
        v.binance_rest_url.clone()
    };
    (rest, (!v.binance_ws_url.is_empty()).then(|| v.binance_ws_url.clone()))
}

/// Starts Binance's market core when `[venues]` turns it on for the mode: its REST
/// client, its feed (the same timing settings as Upbit's), its store (`store`, else one
/// of its own) named `Binance (simulator)` or `Binance`, and the same pumps as Upbit's
/// (markets and tickers, book, trades, chart with paging back, the markets table's day
/// lines) with no price sinks. None when the venue is off.
pub(crate) async fn start_binance(
    settings: &Settings,
    tasks: &TaskManager,
    sim: Option<&(String, String)>,
    store: Option<StoreHandle>,
    on_screen: Option<watch::Receiver<Vec<MarketId>>>,
) -> anyhow::Result<Option<SecondVenue>> {
    let mode = settings.general.mode;
    if !settings.venues.binance_on(mode) {
        tracing::info!(mode = mode.as_str(), "Binance is off ([venues] binance = true turns it on)");
        return Ok(None);
    }
    let venue = VenueId::Binance;
    let (rest_base, ws_base) = binance_bases(settings, sim);
    let client = Arc::new(BinanceRest::new(&rest_base)?);
    let mut config = FeedConfig::new(client.clone(), None);
    config.venue = venue;
    if let Some(base) = &ws_base {
        config = config.with_ws_base(base);
    }
    timing(&mut config, settings);
    tracing::info!(rest = %rest_base, ws = %config.ws_public_url, "Binance market data (read-only)");
    let feed = FeedManager::start(config, tasks);
    let weighed = client.clone();
    let weight: Weight = Arc::new(move || weighed.weight_used());
    let rest: Arc<dyn RestApi> = client;
    let store = match store {
        Some(s) => s,
        None => crate::store::Store::start(tasks, StoreConfig::default()),
    };
    let exchange = if sim.is_some() { "Binance (simulator)" } else { "Binance" };
    let mode_now = match mode {
        Mode::Demo => crate::store::Mode::Demo,
        Mode::Paper => crate::store::Mode::Paper,
        Mode::Live => crate::store::Mode::Live,
    };
    store.send(StoreEvent::ModeSet { mode: mode_now, exchange: exchange.into() }).await?;

    let (route, selection, chart) = Route::new(settings.ui.orderbook_levels as u16);
    market::spawn_markets(tasks, venue, &feed, rest.clone(), store.clone(), None, None);
    market::spawn_orderbook(tasks, venue, &feed, store.clone(), selection.clone(), None);
    market::spawn_trades(tasks, venue, &feed, rest.clone(), store.clone(), selection.clone());
    market::spawn_chart(tasks, venue, &feed, store.clone(), selection.clone(), chart);
    if let Some(on_screen) = on_screen {
        let listed = listed_only(tasks, venue, store.clone(), on_screen);
        super::sparklines::spawn_as(
            tasks,
            market::component(venue),
            &feed,
            store.clone(),
            listed,
            super::sparklines::SparkConfig::default(),
        );
    }
    spawn_watched(tasks, venue, &feed, selection);
    Ok(Some(SecondVenue { link: VenueLink { venue, feed, rest, store }, route, weight }))
}

/// The feed's timing from `[feed]`, the same for every venue.
pub(crate) fn timing(config: &mut FeedConfig, settings: &Settings) {
    config.ws.idle_timeout = Duration::from_secs(settings.feed.idle_timeout_secs);
    // Three keep-alives per idle budget: one lost answer does not cost a reconnect.
    config.ws.ping_interval = config.ws.idle_timeout / 3;
    config.grace = Duration::from_secs(settings.feed.grace_period_secs);
    config.debounce = Duration::from_millis(settings.feed.debounce_ms);
    config.public_read_gather = Duration::from_millis(settings.feed.read_gather_ms);
}

/// The markets on screen that `store` lists: a venue's day-line reader asks its venue for
/// its own markets only (the screen shows one venue at a time, and a market the other
/// venue lists would only cost failed requests). Read again every few seconds, so a list
/// loaded after the screen changed counts.
pub(crate) fn listed_only(
    tasks: &TaskManager,
    venue: VenueId,
    store: StoreHandle,
    on_screen: watch::Receiver<Vec<MarketId>>,
) -> watch::Receiver<Vec<MarketId>> {
    let (tx, rx) = watch::channel(Vec::new());
    let tx = Arc::new(tx);
    tasks.spawn_supervised(market::component(venue), "on-screen", OnFailure::restart(), move |cancel| {
        let (tx, store, mut on_screen) = (tx.clone(), store.clone(), on_screen.clone());
        async move {
            let mut every = tokio::time::interval(Duration::from_secs(2));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let snap = store.snapshot();
                let listed: Vec<MarketId> = on_screen
                    .borrow_and_update()
                    .iter()
                    .filter(|m| snap.market.markets.iter().any(|x| &x.market == *m))
                    .cloned()
                    .collect();
                tx.send_if_modified(|v| (*v != listed).then(|| *v = listed).is_some());
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    r = on_screen.changed() => if r.is_err() { return Ok(()) },
                    _ = every.tick() => {}
                }
            }
        }
    });
    rx
}

/// Tells a market-data venue's feed which market the user watches (its silence counts
/// in that feed's health, which only the Venues table reads).
fn spawn_watched(
    tasks: &TaskManager,
    venue: VenueId,
    feed: &FeedHandle,
    selection: watch::Receiver<Selection>,
) {
    let feed = feed.clone();
    tasks.spawn_supervised(market::component(venue), "watched", OnFailure::restart(), move |cancel| {
        let (feed, mut selection) = (feed.clone(), selection.clone());
        async move {
            loop {
                let m = selection.borrow_and_update().market.clone();
                feed.set_watched(m);
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    r = selection.changed() => if r.is_err() { return Ok(()) },
                }
            }
        }
    });
}

/// The venue the screen's market panes show, as one party knows it (the command lane and
/// the forwarder each keep their own: each follows the commands in its own order).
/// A watch, so a task can follow it too (the premium line follows the market shown).
#[derive(Debug, Clone)]
pub(crate) struct Shown(Arc<watch::Sender<VenueId>>);

impl Default for Shown {
    fn default() -> Self {
        Shown(Arc::new(watch::Sender::new(VenueId::Upbit)))
    }
}

impl Shown {
    pub(crate) fn get(&self) -> VenueId {
        *self.0.borrow()
    }

    pub(crate) fn set(&self, v: VenueId) {
        self.0.send_if_modified(|s| std::mem::replace(s, v) != v);
    }

    /// Follows the venue shown.
    pub(crate) fn subscribe(&self) -> watch::Receiver<VenueId> {
        self.0.subscribe()
    }
}

/// Each venue's market-command route and the venue the commands go to now.
#[derive(Clone)]
pub(crate) struct Routes {
    pub upbit: Route,
    /// None: Binance is off (`:venue binance` is answered on the status bar).
    pub binance: Option<Route>,
    pub shown: Shown,
}

impl Routes {
    /// The route of the venue shown now.
    pub(crate) fn current(&self) -> &Route {
        match (self.shown.get(), &self.binance) {
            (VenueId::Binance, Some(b)) => b,
            _ => &self.upbit,
        }
    }

    /// `SetVenue`: later market commands go to `v`'s route. A venue that is off is not
    /// switched to; the returned text says why.
    pub(crate) fn switch(&self, v: VenueId) -> Option<&'static str> {
        if v == VenueId::Binance && self.binance.is_none() {
            return Some(BINANCE_OFF);
        }
        self.shown.set(v);
        None
    }
}

/// The refusal of a UI request that would trade while the screen shows a venue hoga does
/// not trade on: a new order or a new rule. Cancels, the kill switch, disarming, alerts and
/// transfers act on Upbit whatever the screen shows.
pub(crate) fn refusal(shown: VenueId, req: &TradeRequest) -> Option<TradeReply> {
    if shown.trades() {
        return None;
    }
    let new_risk = matches!(req.intent, TradeIntent::Place { .. } | TradeIntent::ArmRule { .. });
    new_risk.then(|| TradeReply {
        id: req.id,
        to: req.from,
        what: req.intent.summary(),
        outcome: Outcome::Denied(READ_ONLY.into()),
    })
}

/// Whether the forwarder's view of the shown venue changes with this command (the
/// venue switched to, when it is on).
pub(crate) fn follow_shown(shown: &Shown, binance_on: bool, cmd: &UiCommand) {
    if let UiCommand::SetVenue(v) = cmd
        && (*v != VenueId::Binance || binance_on)
    {
        shown.set(*v);
    }
}

/// One venue the Venues table samples: its feed and every REST client it calls through
/// (Upbit: the market-data client and the trading one, each with its own limiter).
#[derive(Clone)]
pub(crate) struct Probe {
    pub venue: VenueId,
    pub feed: FeedHandle,
    pub rest: Vec<Arc<dyn RestApi>>,
    /// The request weight used this minute, for a venue that budgets by weight.
    pub weight: Option<Weight>,
    /// Its market store: a market list that fails to load is said in the REST column.
    pub store: watch::Receiver<Arc<crate::store::Snapshot>>,
}

/// Samples each venue into the System pane's Venues table (in `store`, Upbit's) once a
/// second, and logs each venue's connection changes. `off`: venues `[venues]` leaves off.
pub(crate) fn spawn_table(tasks: &TaskManager, store: StoreHandle, probes: Vec<Probe>, off: Vec<VenueId>) {
    tasks.spawn_supervised("console", "venues-table", OnFailure::restart(), move |cancel| {
        let (store, probes, off) = (store.clone(), probes.clone(), off.clone());
        async move {
            let mut seen: HashMap<VenueId, Seen> = HashMap::new();
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    _ = every.tick() => {}
                }
                let now = Instant::now();
                let mut rows = Vec::with_capacity(probes.len() + off.len());
                for p in &probes {
                    let health = p.feed.health();
                    let limits: Vec<LimitsStatus> = p.rest.iter().map(|r| r.limits_status()).collect();
                    let s = seen.entry(p.venue).or_default();
                    let conn = s.judge(p.venue, &health, now);
                    s.count(&health, now);
                    let mut rest = rest_word(&limits, p.weight.as_ref().map(|w| w()));
                    let market = p.store.borrow().market.clone();
                    if let Some(f) = market.markets_failed.as_ref().filter(|_| market.markets.is_empty()) {
                        rest = format!("market list failing: {} · {rest}", f.error);
                    }
                    rows.push(row(p.venue, &conn, &health, rest, s.last_data.map(|at| now - at)));
                }
                for v in &off {
                    rows.push(off_row(*v));
                }
                // try_send: a sample that does not fit is replaced by the next one.
                store.try_send(StoreEvent::SystemStats { title: TABLE.into(), header: header(), rows });
            }
        }
    });
}

/// The table's columns.
fn header() -> Vec<String> {
    ["venue", "state", "since", "streams", "msg/s", "reconn", "parse err", "REST", "last data"]
        .map(String::from)
        .to_vec()
}

/// A venue's public connection as the table says it: connected, reconnecting, down (a
/// wanted connection not back within [`DOWN_AFTER`], or its stream refused), idle
/// (nothing wanted), and for how long.
#[derive(Debug, Clone, PartialEq)]
struct Conn {
    word: &'static str,
    since: Duration,
}

/// Past this long without its connection, a venue reads as down.
const DOWN_AFTER: Duration = Duration::from_secs(30);

/// The public connection's state word and how long it has held, as the feed says it.
fn public_state(h: &FeedHealth) -> (&'static str, Duration, String) {
    let Some(c) = h.connections.iter().find(|c| c.name == "public") else {
        return ("idle", Duration::ZERO, String::new());
    };
    let age = Duration::from_secs_f64(c.state_age_secs.max(0.0));
    match &c.state {
        ConnState::Idle => ("idle", age, String::new()),
        ConnState::Connected => ("connected", age, String::new()),
        ConnState::Connecting(_) => ("reconnecting", age, String::new()),
        ConnState::Backoff { reason, .. } => ("reconnecting", age, reason.clone()),
        ConnState::DegradedRest { reason } => ("down", age, reason.clone()),
    }
}

/// What the table remembers of a venue between samples.
#[derive(Debug, Default)]
struct Seen {
    /// The connection word last logged.
    logged: Option<&'static str>,
    /// When the outage began: a reconnect loop flips between connecting and waiting,
    /// which is one outage, counted from its start.
    out_since: Option<Instant>,
    /// Messages decoded so far, and when that count last grew.
    messages: u64,
    last_data: Option<Instant>,
}

impl Seen {
    /// The connection as the table says it now, and its change logged.
    fn judge(&mut self, venue: VenueId, h: &FeedHealth, now: Instant) -> Conn {
        let (raw, age, why) = public_state(h);
        let conn = match raw {
            "connected" | "idle" => Conn { word: raw, since: age },
            _ => {
                let from = *self.out_since.get_or_insert(now.checked_sub(age).unwrap_or(now));
                let out = now.saturating_duration_since(from);
                Conn { word: if out >= DOWN_AFTER { "down" } else { raw }, since: out }
            }
        };
        if self.logged != Some(conn.word) {
            match (self.logged, conn.word) {
                // Starting quiet is no news.
                (None, "idle") => {}
                (_, "connected") => {
                    let out = self.out_since.map_or(0, |at| now.saturating_duration_since(at).as_secs());
                    tracing::info!(venue = venue.name(), out_secs = out, "{venue} market data: connected");
                }
                (_, "idle") => {
                    tracing::info!(venue = venue.name(), "{venue} market data: idle (nothing subscribed)")
                }
                (_, word) => tracing::warn!(venue = venue.name(), "{venue} market data: {word}: {why}"),
            }
            self.logged = Some(conn.word);
        }
        if matches!(conn.word, "connected" | "idle") {
            self.out_since = None;
        }
        conn
    }

    fn count(&mut self, h: &FeedHealth, now: Instant) {
        let total: u64 = h.streams.iter().map(|s| s.total).sum();
        if total > self.messages {
            self.messages = total;
            self.last_data = Some(now);
        }
    }
}

fn row(
    venue: VenueId,
    conn: &Conn,
    h: &FeedHealth,
    rest: String,
    last_data: Option<Duration>,
) -> Vec<String> {
    let streams: usize = h
        .connections
        .iter()
        .find(|c| c.name == "public")
        .map(|c| c.upstream.iter().map(|(_, markets)| markets.len().max(1)).sum())
        .unwrap_or(0);
    vec![
        venue.name().into(),
        conn.word.into(),
        age(conn.since),
        streams.to_string(),
        h.msgs_per_sec().to_string(),
        h.reconnects().to_string(),
        h.parse_errors.to_string(),
        rest,
        last_data.map_or_else(|| "none yet".into(), age),
    ]
}

fn off_row(v: VenueId) -> Vec<String> {
    let mut row = vec![v.name().to_string(), "off".into()];
    row.extend(std::iter::repeat_n("-".to_string(), header().len() - 3));
    row.push(format!("[venues] {} = true", v.as_str()));
    row
}

/// A REST limiter's state in a few words: `ok`, `banned 42s`, `paused ticker 3s`, with
/// the 429s seen (`ok, 2×429`) and the weight used this minute (`weight 120/6000`).
/// Several clients: the worst of them, the 429s summed.
fn rest_word(limits: &[LimitsStatus], weight: Option<(u32, u32)>) -> String {
    let banned = limits.iter().filter_map(|l| l.blocked_for).max();
    let mut paused: Vec<(&str, Duration)> = limits.iter().flat_map(|l| l.paused.iter().copied()).collect();
    paused.sort_by_key(|p| std::cmp::Reverse(p.1));
    let limited: u64 = limits.iter().map(|l| l.rate_limited).sum();
    let mut word = match (banned, paused.first()) {
        (Some(d), _) => format!("banned {}", secs_up(d)),
        (None, Some((group, d))) => format!("paused {group} {}", secs_up(*d)),
        (None, None) => "ok".into(),
    };
    if limited > 0 {
        word.push_str(&format!(", {limited}×429"));
    }
    if let Some((used, limit)) = weight {
        word.push_str(&format!(", weight {used}/{limit}"));
    }
    word
}

/// Whole seconds, rounded up: a countdown never says 0 s while calls are still refused.
fn secs_up(d: Duration) -> String {
    format!("{}s", d.as_millis().div_ceil(1000))
}

/// An age in its largest unit: `4s`, `12m`, `3h`.
fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        _ => format!("{}h", s / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_limits_read_in_a_few_words() {
        assert_eq!(age(Duration::from_millis(4_900)), "4s");
        assert_eq!(age(Duration::from_secs(125)), "2m");
        assert_eq!(age(Duration::from_secs(7_300)), "2h");
        assert_eq!(rest_word(&[LimitsStatus::default()], None), "ok");
        assert_eq!(rest_word(&[LimitsStatus::default()], Some((120, 6000))), "ok, weight 120/6000");
        let banned = LimitsStatus {
            blocked_for: Some(Duration::from_millis(41_200)),
            rate_limited: 2,
            ..LimitsStatus::default()
        };
        assert_eq!(rest_word(&[LimitsStatus::default(), banned], None), "banned 42s, 2×429");
        let paused =
            LimitsStatus { paused: vec![("candle", Duration::from_millis(300))], ..LimitsStatus::default() };
        assert_eq!(rest_word(&[paused], None), "paused candle 1s");
    }

    #[test]
    fn a_venue_that_is_off_says_how_to_turn_it_on() {
        let row = off_row(VenueId::Binance);
        assert_eq!(row.len(), header().len());
        assert_eq!(row[1], "off");
        assert_eq!(row.last().map(String::as_str), Some("[venues] binance = true"));
    }

    #[test]
    fn a_switch_to_a_venue_that_is_off_stays_put() {
        let (upbit, _, _) = Route::new(15);
        let routes = Routes { upbit, binance: None, shown: Shown::default() };
        assert_eq!(routes.switch(VenueId::Binance), Some(BINANCE_OFF));
        assert_eq!(routes.shown.get(), VenueId::Upbit);
        let shown = Shown::default();
        follow_shown(&shown, false, &UiCommand::SetVenue(VenueId::Binance));
        assert_eq!(shown.get(), VenueId::Upbit);
        follow_shown(&shown, true, &UiCommand::SetVenue(VenueId::Binance));
        assert_eq!(shown.get(), VenueId::Binance);
    }
}
