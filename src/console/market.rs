//! Market-data pumps: each pane's own [`FeedProxy`] feeding the store.
//!
//! * `markets` — the market list (REST), then every market's ticker (coalesced per market)
//!   to the store and, for the venue orders go to (Upbit), the order manager's price
//!   board, the monitor and the paper engine.
//! * `orderbook`, `trades`, `chart` — one proxy each, following the selected market (and
//!   the chart's timeframe, the book's depth). Switching market ends the pane's old
//!   subscriptions and opens new ones; the feed keeps a released market upstream for its
//!   grace period, so flicking back and forth costs no resubscription.
//! * `system` — samples the task table, feed health and bus counters once a second.
//!
//! The pumps are the venue's: each takes its venue's feed, REST client ([`RestApi`]) and
//! store, so the second venue's market data (`super::venues`) comes through the same code.
//! Its prices have no [`PriceSinks`]: they never reach the order manager, the monitor or
//! the paper engine, which price Upbit's orders.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::bus::Bus;
use crate::exchange::VenueId;
use crate::exchange::rest::RestApi;
use crate::exchange::types::{Candle, MarketId, Timeframe};
use crate::feed::{FeedHandle, FeedProxy, FromFeed, Strategy, Subscription};
use crate::kernel::{OnFailure, TaskManager};
use crate::store::market::{HistoryState, MAX_SERIES_CANDLES};
use crate::store::{StoreEvent, StoreHandle, StreamState};
use crate::trading::manager::PriceBoard;
use crate::trading::monitor::TickSender;
use crate::trading::paper::PaperVenue;
use crate::ui::chart_view::MAX_COMPARED;

use super::event::AppEvent;
use super::notices::NoticeSinks;

/// What the market panes show; changed by the UI's commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selection {
    /// Selected market.
    pub market: Option<MarketId>,
    /// Chart timeframe.
    pub timeframe: Timeframe,
    /// Order book levels per side.
    pub depth: u16,
    /// Order book grouping step (0 = none; `crate::store::grouping::unit`).
    pub group: u8,
}

/// Where the price of every market goes besides the store.
#[derive(Clone)]
pub(crate) struct PriceSinks {
    /// The order manager's latest prices (market orders, price band).
    pub(crate) board: PriceBoard,
    /// The trading monitor's conflating tick slot.
    pub monitor: TickSender,
    /// Paper mode: the local engine fills resting orders against prices.
    pub paper: Option<PaperVenue>,
    /// Paper fills, on their way to the order manager as venue updates. Handed off, never
    /// awaited: a busy order manager must not hold up the price pumps (and with them the
    /// monitor's ticks). Unbounded, and bounded in practice by the paper engine's open
    /// orders: each fills once.
    pub(crate) paper_fills: tokio::sync::mpsc::UnboundedSender<crate::exchange::types::Order>,
}

impl PriceSinks {
    fn paper_filled(&self, orders: Vec<crate::exchange::types::Order>) -> anyhow::Result<()> {
        for o in orders {
            self.paper_fills.send(o).map_err(|_| anyhow::anyhow!("the paper fills forwarder has stopped"))?;
        }
        Ok(())
    }
}

/// The task-table component a venue's pumps run under: Upbit's keep `console`.
pub(crate) fn component(venue: VenueId) -> &'static str {
    match venue {
        VenueId::Upbit => "console",
        VenueId::Binance => "binance",
    }
}

/// Loads the market list, then streams every market's ticker into the store and sinks.
/// `sinks` and `notices`: the trading venue's only (None for a market-data venue).
pub(crate) fn spawn_markets(
    tasks: &TaskManager,
    venue: VenueId,
    feed: &FeedHandle,
    rest: Arc<dyn RestApi>,
    store: StoreHandle,
    sinks: Option<PriceSinks>,
    notices: Option<NoticeSinks>,
) {
    let proxy = Arc::new(feed.proxy("markets"));
    tasks.spawn_supervised(component(venue), "markets-pump", OnFailure::restart(), move |cancel| {
        let proxy = proxy.clone();
        let rest = rest.clone();
        let store = store.clone();
        let sinks = sinks.clone();
        let notices = notices.clone();
        async move { markets_loop(cancel, venue, proxy, rest, store, sinks, notices).await }
    });
}

async fn markets_loop(
    cancel: CancellationToken,
    venue: VenueId,
    proxy: Arc<FeedProxy>,
    rest: Arc<dyn RestApi>,
    store: StoreHandle,
    sinks: Option<PriceSinks>,
    notices: Option<NoticeSinks>,
) -> anyhow::Result<()> {
    let mut backoff = Duration::from_millis(500);
    let markets = loop {
        match rest.markets().await {
            Ok(list) => break list,
            Err(e) => {
                tracing::warn!(%venue, error = %e, retry_in_ms = backoff.as_millis() as u64, "market list not loaded");
                // On screen too: the markets pane and the Venues table say why, not `loading…`.
                store.try_send(StoreEvent::MarketsFailed { error: e.to_string(), retry_in: backoff });
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    };
    let mut ids: Vec<MarketId> = markets.iter().map(|m| m.market.clone()).collect();
    tracing::info!(%venue, markets = ids.len(), "market list loaded");
    let mut listed = markets.clone();
    store.send(StoreEvent::MarketsLoaded(markets)).await?;
    // The list again every few minutes (a 주의 flag comes without a notice) and on a notice.
    let refresh = notices.as_ref().map(|n| n.refresh.clone());
    let mut reread = tokio::time::interval_at(tokio::time::Instant::now() + MARKETS_REREAD, MARKETS_REREAD);
    reread.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Start from a REST snapshot so the list is full before the first stream message.
    if let Ok(tickers) = proxy.ticker(&ids).await {
        for t in &tickers {
            price_sinks(sinks.as_ref(), t)?;
        }
        store.send(StoreEvent::TickersUpdated(tickers)).await?;
    }
    // Coalesced: the markets pane and the monitor only ever need the latest price.
    let mut sub = proxy.subscribe_ticker(&ids, Strategy::CoalesceByMarket);
    let mut burst = Vec::with_capacity(ids.len().min(TICKER_BURST));
    loop {
        let t = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(()),
            t = sub.recv() => match t { Some(t) => Some(t), None => return Ok(()) },
            _ = reread.tick() => None,
            _ = async {
                match &refresh {
                    Some(r) => r.notified().await,
                    None => std::future::pending().await,
                }
            } => None,
        };
        let Some(t) = t else {
            let list = match rest.markets().await {
                Ok(list) => list,
                Err(e) => {
                    tracing::info!(error = %e, "market list not read again; next try in a few minutes");
                    continue;
                }
            };
            let changes = super::notices::market_changes(&listed, &list);
            if changes.is_empty() {
                continue;
            }
            let now_ids: Vec<MarketId> = list.iter().map(|m| m.market.clone()).collect();
            listed = list.clone();
            store.send(StoreEvent::MarketsLoaded(list)).await?;
            // A market-data venue's listings are not Upbit's news: its list is updated only.
            if let Some(notices) = &notices {
                super::notices::tell_market_changes(notices, changes).await?;
            }
            if now_ids != ids {
                // A new market's price from now on (the old subscription ends as this one
                // starts: the feed keeps the markets both want).
                let fresh: Vec<MarketId> = now_ids.iter().filter(|m| !ids.contains(m)).cloned().collect();
                sub = proxy.subscribe_ticker(&now_ids, Strategy::CoalesceByMarket);
                ids = now_ids;
                if !fresh.is_empty()
                    && let Ok(tickers) = proxy.ticker(&fresh).await
                {
                    for t in &tickers {
                        price_sinks(sinks.as_ref(), t)?;
                    }
                    store.send(StoreEvent::TickersUpdated(tickers)).await?;
                }
            }
            continue;
        };
        // Whatever else is already queued goes with it: one store event (one snapshot)
        // per burst off the socket instead of one per ticker.
        burst.push(t);
        while burst.len() < TICKER_BURST
            && let Some(t) = sub.try_recv()
        {
            burst.push(t);
        }
        for t in &burst {
            price_sinks(sinks.as_ref(), t)?;
        }
        store.send(StoreEvent::TickersUpdated(std::mem::take(&mut burst))).await?;
    }
}

/// How often the market list (with its 유의 / 주의 flags) is read again.
const MARKETS_REREAD: Duration = Duration::from_secs(180);

/// Most tickers handed to the store as one event (a burst beyond it makes two).
const TICKER_BURST: usize = 256;

/// The monitor, the price board and the paper venue see every ticker before the screen
/// (the trading venue's; a market-data venue has no sinks).
fn price_sinks(sinks: Option<&PriceSinks>, t: &crate::exchange::types::Ticker) -> anyhow::Result<()> {
    let Some(sinks) = sinks else { return Ok(()) };
    if let Some(m) = &t.market {
        sinks.board.set_last(m, t.trade_price);
        sinks.monitor.send(m, t.trade_price, Instant::now());
    }
    if let Some(paper) = &sinks.paper {
        sinks.paper_filled(paper.on_ticker(t))?;
    }
    Ok(())
}

/// The order book pane's pump: the selected market's book, `depth` levels. `sinks`: the
/// trading venue's only.
pub(crate) fn spawn_orderbook(
    tasks: &TaskManager,
    venue: VenueId,
    feed: &FeedHandle,
    store: StoreHandle,
    selection: watch::Receiver<Selection>,
    sinks: Option<PriceSinks>,
) {
    let proxy = Arc::new(feed.proxy("orderbook"));
    tasks.spawn_supervised(component(venue), "orderbook-pump", OnFailure::restart(), move |cancel| {
        let proxy = proxy.clone();
        let store = store.clone();
        let sinks = sinks.clone();
        let selection = selection.clone();
        async move {
            follow(cancel, selection, |sel| {
                let proxy = proxy.clone();
                let store = store.clone();
                let sinks = sinks.clone();
                async move {
                    let Some(m) = sel.market else { return Ok(None) };
                    proxy.unsubscribe_all();
                    match proxy.orderbook(std::slice::from_ref(&m), u32::from(sel.depth)).await {
                        Ok(books) => {
                            for b in books {
                                store.send(StoreEvent::BookUpdated(b)).await?;
                            }
                        }
                        // The stream may still bring it; why the snapshot did not is logged.
                        Err(e) => {
                            tracing::warn!(%venue, market = %m, error = %e, "order book snapshot not loaded")
                        }
                    }
                    let sub = proxy.subscribe_orderbook(&[m], Strategy::CoalesceByMarket);
                    Ok(Some(Pump::boxed(sub, move |b: crate::exchange::types::OrderBook| {
                        let store = store.clone();
                        let sinks = sinks.clone();
                        async move {
                            if let Some(sinks) = &sinks {
                                if let Some(m) = &b.market {
                                    sinks.board.set_book(m, b.best_bid(), b.best_ask());
                                }
                                if let Some(paper) = &sinks.paper {
                                    sinks.paper_filled(paper.on_orderbook(&b))?;
                                }
                            }
                            store.send(StoreEvent::BookUpdated(b)).await?;
                            Ok(())
                        }
                    })))
                }
            })
            .await
        }
    });
}

/// The order book pane's grouped book (호가 모아보기): while the pane groups a KRW market,
/// Upbit's book grouped by the step's unit (the tick at the best bid times 10, 100 or
/// 1000). A unit the market does not support gets nothing from Upbit; the pane groups
/// the plain book itself meanwhile, so nothing waits on it.
pub(crate) fn spawn_grouped_orderbook(
    tasks: &TaskManager,
    feed: &FeedHandle,
    store: StoreHandle,
    selection: watch::Receiver<Selection>,
) {
    let proxy = Arc::new(feed.proxy("orderbook-grouped"));
    tasks.spawn_supervised("console", "orderbook-grouped-pump", OnFailure::restart(), move |cancel| {
        let proxy = proxy.clone();
        let store = store.clone();
        let selection = selection.clone();
        async move {
            follow(cancel, selection, |sel| {
                let proxy = proxy.clone();
                let store = store.clone();
                async move {
                    proxy.unsubscribe_all();
                    let Some(m) = sel.market.filter(|m| sel.group > 0 && m.quote() == "KRW") else {
                        return Ok(None);
                    };
                    // The unit follows the price's tick, as the pane's does.
                    let Ok(books) = proxy.orderbook(std::slice::from_ref(&m), 1).await else {
                        return Ok(None);
                    };
                    let Some(bid) = books.first().and_then(|b| b.best_bid()) else { return Ok(None) };
                    let tick = crate::exchange::grid().tick_size(m.quote(), bid);
                    let level = crate::store::grouping::unit(tick, sel.group);
                    let sub = proxy.subscribe_grouped_orderbook(&[m], level, Strategy::CoalesceByMarket);
                    Ok(Some(Pump::boxed(sub, move |b: crate::exchange::types::OrderBook| {
                        let store = store.clone();
                        async move {
                            store.send(StoreEvent::BookUpdated(b)).await?;
                            Ok(())
                        }
                    })))
                }
            })
            .await
        }
    });
}

/// The trades tape's pump: recent trades by REST, then the stream.
pub(crate) fn spawn_trades(
    tasks: &TaskManager,
    venue: VenueId,
    feed: &FeedHandle,
    rest: Arc<dyn RestApi>,
    store: StoreHandle,
    selection: watch::Receiver<Selection>,
) {
    let proxy = Arc::new(feed.proxy("trades"));
    tasks.spawn_supervised(component(venue), "trades-pump", OnFailure::restart(), move |cancel| {
        let proxy = proxy.clone();
        let rest = rest.clone();
        let store = store.clone();
        let selection = selection.clone();
        async move {
            follow(cancel, selection, |sel| {
                let proxy = proxy.clone();
                let rest = rest.clone();
                let store = store.clone();
                async move {
                    let Some(m) = sel.market else { return Ok(None) };
                    proxy.unsubscribe_all();
                    // Every print counts on a tape: drop-oldest only under real overload.
                    let sub = proxy.subscribe_trade(std::slice::from_ref(&m), Strategy::DropOldest);
                    if let Ok(mut recent) = rest.trades(&m, 50).await {
                        recent.reverse(); // REST is newest first; the tape appends.
                        for t in recent {
                            store.send(StoreEvent::TradePrinted(t)).await?;
                        }
                    }
                    Ok(Some(Pump::boxed(sub, move |t| {
                        let store = store.clone();
                        async move {
                            store.send(StoreEvent::TradePrinted(t)).await?;
                            Ok(())
                        }
                    })))
                }
            })
            .await
        }
    });
}

/// What the chart asks of its pump besides the selection: how far back its view reaches
/// and the markets drawn beside the shown one. Changed by the UI's commands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ChartWant {
    /// Candles back from the newest the view reaches (its scroll offset plus what it
    /// shows), for the series it was asked for: a reach meant for another market or
    /// timeframe pages nothing.
    pub reach: Option<(MarketId, Timeframe, usize)>,
    /// Markets compared with the shown one, at the chart's timeframe.
    pub compare: Vec<MarketId>,
}

/// The chart's pump: candle history by REST (in parallel with the live stream, which is
/// subscribed first so nothing between the two is missed), then live candles, for the
/// shown market and the compared ones; older pages of the shown market as the view
/// scrolls back (one request at a time, whatever the keys do).
pub(crate) fn spawn_chart(
    tasks: &TaskManager,
    venue: VenueId,
    feed: &FeedHandle,
    store: StoreHandle,
    selection: watch::Receiver<Selection>,
    want: watch::Receiver<ChartWant>,
) {
    let proxy = Arc::new(feed.proxy("chart"));
    let feed = feed.clone();
    tasks.spawn_supervised(component(venue), "chart-pump", OnFailure::restart(), move |cancel| {
        let chart = ChartPump { proxy: proxy.clone(), feed: feed.clone(), store: store.clone() };
        chart.run(cancel, selection.clone(), want.clone())
    });
}

/// Candles asked for per older page: Upbit's most (Binance allows more).
const PAGE: u32 = 200;

/// An older page is asked for while fewer than this many candles lie beyond the view's
/// reach: the next page is there before the view gets to the oldest candle.
const PREFETCH: usize = 100;

/// An older page's answer: its market, the time it was asked before, and the candles.
type PageAnswer = (MarketId, i64, Result<Vec<Candle>, crate::exchange::error::ExchangeError>);

/// An older page in flight.
type OlderPage = std::pin::Pin<Box<dyn Future<Output = PageAnswer> + Send>>;

/// Paging back the chart's series: the shown market's as far as the view reaches, the
/// compared markets' as far back as the shown one's goes. One request at a time.
#[derive(Default)]
struct Paging {
    /// Per market, read from the store when first needed.
    pagers: HashMap<MarketId, Pager>,
    /// The page in flight, and its market.
    page: Option<(MarketId, OlderPage)>,
}

/// Where paging back one series stands, as the pump knows it (the store's copy may lag by
/// a batch).
#[derive(Debug, Default)]
struct Pager {
    /// Candles the series holds.
    have: usize,
    /// Start of its oldest candle (`None`: not read from the store yet).
    before: Option<i64>,
    /// Nothing older (the exchange's start of history, or the most a series keeps).
    done: bool,
}

struct ChartPump {
    proxy: Arc<FeedProxy>,
    feed: FeedHandle,
    store: StoreHandle,
}

/// The markets the chart follows: the shown one first, then the compared ones (the shown
/// one and repeats left out, at most [`MAX_COMPARED`]).
fn chart_markets(shown: &MarketId, compare: &[MarketId]) -> Vec<MarketId> {
    let mut out = vec![shown.clone()];
    for m in compare {
        if !out.contains(m) && out.len() <= MAX_COMPARED {
            out.push(m.clone());
        }
    }
    out
}

impl ChartPump {
    async fn run(
        self,
        cancel: CancellationToken,
        mut selection: watch::Receiver<Selection>,
        mut want: watch::Receiver<ChartWant>,
    ) -> anyhow::Result<()> {
        loop {
            let sel = selection.borrow_and_update().clone();
            let Some(m) = sel.market else {
                self.proxy.unsubscribe_all();
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    r = selection.changed() => if r.is_err() { return Ok(()) },
                }
                continue;
            };
            let tf = sel.timeframe;
            let mut compare = want.borrow_and_update().compare.clone();
            // Markets whose history this session loaded (and whose candles it follows since).
            let mut loaded: Vec<MarketId> = Vec::new();
            let mut source = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(()),
                s = self.open(&m, tf, &compare, &mut loaded) => Some(s?),
            };
            // A reach already there is an old view's (the view starts at the newest again):
            // only a reach sent from now on pages back.
            want.borrow_and_update();
            let mut reach: Option<usize> = None;
            let mut paging = Paging::default();
            loop {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    r = selection.changed() => {
                        if r.is_err() {
                            return Ok(());
                        }
                        // The book's depth or grouping is not the chart's business.
                        let sel = selection.borrow();
                        if sel.market.as_ref() != Some(&m) || sel.timeframe != tf {
                            break;
                        }
                    }
                    r = want.changed() => {
                        if r.is_err() {
                            return Ok(());
                        }
                        let w = want.borrow_and_update().clone();
                        if w.compare != compare {
                            compare = w.compare;
                            source = Some(self.open(&m, tf, &compare, &mut loaded).await?);
                            // A market compared again was loaded again: its paging starts over.
                            paging.pagers.retain(|x, _| loaded.contains(x));
                        }
                        // A reach for another series (the view of an earlier selection).
                        reach = w.reach.filter(|(rm, rtf, _)| *rm == m && *rtf == tf).map(|r| r.2);
                        self.page_if_needed(&m, tf, reach, &compare, &mut paging).await?;
                    }
                    (x, before, answer) = async {
                        match paging.page.as_mut() {
                            Some((_, p)) => p.await,
                            None => std::future::pending().await,
                        }
                    } => {
                        paging.page = None;
                        if self.older_page(&x, tf, before, answer, &mut paging).await? {
                            self.page_if_needed(&m, tf, reach, &compare, &mut paging).await?;
                        }
                    }
                    work = async {
                        match source.as_mut() {
                            Some(s) => s.next().await,
                            None => std::future::pending().await,
                        }
                    } => match work {
                        Some(work) => work.await?,
                        // The feed ended the subscription (shutdown): wait for a change.
                        None => source = None,
                    },
                }
            }
            if let Some((x, _)) = paging.page.take() {
                // The page is dropped with the session: the title must not wait for it.
                let state = StoreEvent::HistoryPaging { market: x, timeframe: tf, state: None };
                self.store.send(state).await?;
            }
        }
    }

    /// Follows the shown market and the compared ones on `tf`: ends the old subscriptions,
    /// subscribes every market's candles (one subscription), then loads the history of
    /// those not loaded yet in this session. A market no longer compared leaves `loaded`:
    /// its series stops updating, so compared again it is loaded again.
    async fn open(
        &self,
        m: &MarketId,
        tf: Timeframe,
        compare: &[MarketId],
        loaded: &mut Vec<MarketId>,
    ) -> anyhow::Result<Box<dyn Source>> {
        self.proxy.unsubscribe_all();
        let markets = chart_markets(m, compare);
        loaded.retain(|x| markets.contains(x));
        let store = self.store.clone();
        // Subscribed before the history is fetched, so nothing between is missed.
        let source = if self.feed.can_stream(crate::exchange::api::StreamKind::Candle(tf)) {
            let sub = self.proxy.subscribe_candle(&markets, tf, Strategy::CoalesceByMarket);
            Pump::boxed(sub, move |c| {
                let store = store.clone();
                async move {
                    store.send(StoreEvent::CandleUpdated(c)).await?;
                    Ok(())
                }
            })
        } else {
            // Upbit streams candles up to 240m only: day, week and month candles are
            // refreshed by REST, at most every few seconds per market and only while the
            // market trades (a throttled ticker is the trigger).
            let ticks = self.proxy.subscribe_ticker(&markets, Strategy::Throttle(LONG_CANDLE_REFRESH));
            let proxy = self.proxy.clone();
            Pump::boxed(ticks, move |t: crate::exchange::types::Ticker| {
                let (proxy, store) = (proxy.clone(), store.clone());
                async move {
                    let Some(m) = t.market else { return Ok(()) };
                    match proxy.candles(&m, tf, 2).await {
                        Ok(latest) => {
                            for c in latest.into_iter().rev() {
                                store.send(StoreEvent::CandleUpdated(c)).await?;
                            }
                        }
                        Err(e) => {
                            tracing::debug!(market = %m, tf = tf.label(), error = %e, "candle refresh failed")
                        }
                    }
                    Ok(())
                }
            })
        };
        for x in markets {
            if loaded.contains(&x) {
                continue;
            }
            match self.proxy.candles(&x, tf, PAGE).await {
                Ok(candles) => {
                    self.store
                        .send(StoreEvent::CandlesLoaded { market: x.clone(), timeframe: tf, candles })
                        .await?
                }
                Err(e) => {
                    tracing::warn!(market = %x, tf = tf.label(), error = %e, "candle history not loaded")
                }
            }
            loaded.push(x);
        }
        Ok(source)
    }

    /// Asks for the next older page, unless one is in flight: the shown market's when the
    /// view (`reach` candles back) comes within [`PREFETCH`] candles of its oldest, else a
    /// compared market's whose oldest candle is newer than the shown one's (their lines
    /// then span the same time). Nothing for a series whose history ended.
    async fn page_if_needed(
        &self,
        m: &MarketId,
        tf: Timeframe,
        reach: Option<usize>,
        compare: &[MarketId],
        paging: &mut Paging,
    ) -> anyhow::Result<()> {
        if paging.page.is_some() {
            return Ok(());
        }
        let snap = self.store.snapshot();
        let pager = |x: &MarketId, pagers: &mut HashMap<MarketId, Pager>| -> Option<(i64, usize, bool)> {
            if !pagers.contains_key(x) {
                let series = snap.market.series(x, tf);
                // The newest page is not in yet: nothing to page back from.
                let oldest = series.first()?.start;
                let done = snap.market.history(x, tf).is_some_and(|h| h != HistoryState::Loading);
                pagers.insert(x.clone(), Pager { have: series.len(), before: Some(oldest), done });
            }
            let p = pagers.get_mut(x)?;
            if p.have >= MAX_SERIES_CANDLES {
                p.done = true;
            }
            Some((p.before?, p.have, p.done))
        };
        let mut next = None;
        if let Some(reach) = reach
            && let Some((before, have, done)) = pager(m, &mut paging.pagers)
            && !done
            && have < reach.saturating_add(PREFETCH)
        {
            next = Some((m.clone(), before));
        }
        // The compared markets follow once the view has paged back.
        let shown_from = reach.and(paging.pagers.get(m)).and_then(|p| p.before);
        if let (None, Some(shown_from)) = (&next, shown_from) {
            for x in chart_markets(m, compare).into_iter().skip(1) {
                if let Some((before, _, false)) = pager(&x, &mut paging.pagers)
                    && before > shown_from
                {
                    next = Some((x, before));
                    break;
                }
            }
        }
        let Some((x, before)) = next else { return Ok(()) };
        let state = Some(HistoryState::Loading);
        self.store.send(StoreEvent::HistoryPaging { market: x.clone(), timeframe: tf, state }).await?;
        let proxy = self.proxy.clone();
        let asked = x.clone();
        let page: OlderPage = Box::pin(async move {
            let answer = proxy.candles_before(&asked, tf, PAGE, before).await;
            (asked, before, answer)
        });
        paging.page = Some((x, page));
        Ok(())
    }

    /// An older page of `m` came back: into the store (which tells the start of the
    /// history when nothing is older). True when another page may be asked for now; after
    /// a failure the next scroll asks again, not a loop of retries.
    async fn older_page(
        &self,
        m: &MarketId,
        tf: Timeframe,
        before: i64,
        answer: Result<Vec<Candle>, crate::exchange::error::ExchangeError>,
        paging: &mut Paging,
    ) -> anyhow::Result<bool> {
        match answer {
            Ok(candles) => {
                let older: Vec<i64> = candles.iter().map(|c| c.start).filter(|s| *s < before).collect();
                if let Some(pager) = paging.pagers.get_mut(m) {
                    match older.iter().min() {
                        Some(oldest) => {
                            pager.before = Some(*oldest);
                            pager.have += older.len();
                        }
                        None => pager.done = true,
                    }
                }
                let ev = StoreEvent::OlderCandlesLoaded { market: m.clone(), timeframe: tf, candles };
                self.store.send(ev).await?;
                Ok(true)
            }
            Err(e) => {
                tracing::warn!(market = %m, tf = tf.label(), error = %e, "older candles not loaded; the next scroll asks again");
                let ev = StoreEvent::HistoryPaging { market: m.clone(), timeframe: tf, state: None };
                self.store.send(ev).await?;
                Ok(false)
            }
        }
    }
}

/// How often a day / week / month candle is refreshed by REST while its market trades.
const LONG_CANDLE_REFRESH: Duration = Duration::from_secs(5);

type BoxFut = std::pin::Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// A subscription and what to do with each item.
pub(crate) struct Pump<T> {
    sub: Subscription<T>,
    on_item: Box<dyn FnMut(T) -> BoxFut + Send>,
}

impl<T: FromFeed + Send + 'static> Pump<T> {
    fn boxed<F, Fut>(sub: Subscription<T>, mut f: F) -> Box<dyn Source>
    where
        F: FnMut(T) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        Box::new(Pump { sub, on_item: Box::new(move |t| Box::pin(f(t))) })
    }
}

/// A pump with its item type erased, so one follower can switch between item types (the
/// chart streams minute candles but polls day candles on ticker activity).
pub trait Source: Send {
    /// Waits for the next item (cancel-safe) and returns the work it implies, or `None`
    /// when the feed ended the subscription.
    fn next(&mut self) -> std::pin::Pin<Box<dyn Future<Output = Option<BoxFut>> + Send + '_>>;
}

impl<T: FromFeed + Send + 'static> Source for Pump<T> {
    fn next(&mut self) -> std::pin::Pin<Box<dyn Future<Output = Option<BoxFut>> + Send + '_>> {
        Box::pin(async move {
            let item = self.sub.recv().await?;
            Some((self.on_item)(item))
        })
    }
}

/// Runs the pump `open` builds for the current selection until the selection changes,
/// then builds the next one. Ends on cancel or when the selection's sender is gone.
async fn follow<F, Fut>(
    cancel: CancellationToken,
    mut selection: watch::Receiver<Selection>,
    mut open: F,
) -> anyhow::Result<()>
where
    F: FnMut(Selection) -> Fut,
    Fut: Future<Output = anyhow::Result<Option<Box<dyn Source>>>>,
{
    loop {
        let sel = selection.borrow_and_update().clone();
        let mut pump = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(()),
            p = open(sel) => p?,
        };
        loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(()),
                changed = selection.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    break;
                }
                work = async {
                    match pump.as_mut() {
                        Some(p) => p.next().await,
                        None => std::future::pending().await,
                    }
                } => match work {
                    Some(work) => work.await?,
                    // The feed ended this subscription (shutdown): wait for a new selection.
                    None => pump = None,
                },
            }
        }
    }
}

/// Samples the task table, feed health and bus counters into the store once a second,
/// and tells the feed which markets the user watches or trades (their silence counts
/// against health; a thin market elsewhere does not).
pub(crate) fn spawn_system(
    tasks: &TaskManager,
    feed: &FeedHandle,
    store: StoreHandle,
    bus: Bus<AppEvent>,
    selection: watch::Receiver<Selection>,
) {
    let feed = feed.clone();
    let table = tasks.clone();
    tasks.spawn_supervised("console", "system-sampler", OnFailure::restart(), move |cancel| {
        let feed = feed.clone();
        let store = store.clone();
        let bus = bus.clone();
        let table = table.clone();
        let selection = selection.clone();
        async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    _ = every.tick() => {}
                }
                // try_send: a sample that does not fit is replaced by the next one.
                store.try_send(StoreEvent::TasksUpdated(table.table()));
                feed.set_watched(watched_markets(&selection.borrow(), &store.snapshot()));
                let health = feed.health();
                for c in &health.connections {
                    let (state, retry_in) = stream_state(&c.state);
                    store.try_send(StoreEvent::FeedStatus { stream: c.name.to_string(), state, retry_in });
                }
                store.try_send(StoreEvent::FeedHealthUpdated(Arc::new(health)));
                store.try_send(StoreEvent::BusUpdated(bus.metrics(), envelope_rows(&bus)));
            }
        }
    });
}

/// The markets whose silence matters: the chart's, and those with open orders or armed
/// rules.
fn watched_markets(selection: &Selection, snap: &crate::store::Snapshot) -> Vec<MarketId> {
    let account = &snap.account;
    selection
        .market
        .iter()
        .cloned()
        .chain(account.open_orders.iter().map(|o| o.market.clone()))
        .chain(account.rules.iter().filter(|r| r.is_armed()).map(|r| r.market.clone()))
        .collect()
}

/// Envelopes the System pane lists (the newest this many).
const ENVELOPES_SHOWN: usize = 32;

/// The bus's last delivered envelopes as the System pane lists them, oldest first. Log
/// records are left out: they have their own pane, and would push every trading envelope
/// off the list.
fn envelope_rows(bus: &Bus<AppEvent>) -> Vec<crate::store::system::EnvelopeRow> {
    let recent = bus.recent();
    let mut rows: Vec<_> = recent
        .iter()
        .rev()
        .filter(|e| e.lane != crate::bus::Lane::Logging)
        .take(ENVELOPES_SHOWN)
        .map(|e| crate::store::system::EnvelopeRow {
            seq: e.seq,
            lane: e.lane,
            source: e.source,
            correlation: e.correlation,
            caused_by: e.caused_by,
            what: e.payload.describe(),
            at: e.published_at,
        })
        .collect();
    rows.reverse();
    rows
}

/// A connection's state as the status bar shows it.
fn stream_state(s: &crate::feed::ConnState) -> (StreamState, Option<Duration>) {
    use crate::feed::ConnState;
    match s {
        ConnState::Idle => (StreamState::Idle, None),
        ConnState::Connecting(_) => (StreamState::Connecting, None),
        ConnState::Connected => (StreamState::Connected, None),
        ConnState::Backoff { retry_in_ms, .. } => {
            (StreamState::Reconnecting, Some(Duration::from_millis(*retry_in_ms)))
        }
        // Polling by REST still delivers orders and balances, but not live: degraded.
        ConnState::DegradedRest { .. } => (StreamState::Down, None),
    }
}
