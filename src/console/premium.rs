//! The kimchi premium task: Upbit's KRW prices against the second venue's USDT prices
//! (`crate::store::premium` says what the premium is, on which bases).
//!
//! * `premium-board` — the market lists of both venues (by REST, again every few
//!   minutes), paired by coin; every pair's ticker on both venues and `KRW-USDT` through
//!   proxies of their own; a whole [`PremiumBoard`] into the store at most
//!   [`PUBLISH_EVERY`] (coalesced), and to the monitor while a premium alert is armed.
//!   A quiet market's ticker is read again by REST ([`REFRESH_QUIET`]), so a price that
//!   is merely not trading is not taken for a stale one (`board::STALE_AFTER`).
//! * `premium-reference` — the USD/KRW reference rate, when a URL gives it
//!   (`reference`): read every `refresh_secs`, the last good rate kept on errors.
//! * `premium-history` — the selected market's premium per candle at the chart's
//!   timeframe ([`PremiumSeries`], basis `KRW-USDT`): the candles of the market and of
//!   `KRW-USDT` on Upbit and of the coin abroad, aligned by start; the last point follows
//!   the live premium, and each new candle is read again. Nothing for a market with no
//!   pair abroad.

mod board;
mod history;
pub(crate) mod reference;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::exchange::rest::RestApi;
use crate::exchange::types::{MarketId, Ticker, Timeframe};
use crate::feed::{FeedHandle, FeedProxy, Strategy};
use crate::kernel::{OnFailure, TaskManager};
use crate::store::premium::{PremiumBasis, PremiumBoard, PremiumSeries, RefRate};
use crate::store::{StoreEvent, StoreHandle};
use crate::trading::monitor::{MonitorHandle, MonitorInput};
use crate::trading::rules::AlertCondition;

use super::market::Selection;
use board::{Inputs, KRW_USDT, Quote};
use reference::Source;

/// The other venue's name on the board.
pub(crate) const VENUE: &str = "Binance";

/// The board goes to the store at most this often (4 a second): prices arrive far
/// faster, and the screen needs no more.
pub(crate) const PUBLISH_EVERY: Duration = Duration::from_millis(250);

/// Unchanged inputs still publish this often, so a price going stale leaves the board.
const REPUBLISH_EVERY: Duration = Duration::from_secs(1);

/// A market with no ticker for this long has its ticker read again by REST.
pub(crate) const REFRESH_QUIET: Duration = Duration::from_secs(20);

/// How often both venues' market lists are read again (listings, delistings).
const LISTS_REREAD: Duration = Duration::from_secs(600);

/// Candles read for a premium line.
const HISTORY_COUNT: u32 = 200;

/// A new candle's premium is read from the venues at most this often (1-second candles
/// would otherwise cost three reads a second).
const HISTORY_REFRESH_MIN: Duration = Duration::from_secs(5);

/// What the premium task reads and where it writes.
pub(crate) struct PremiumLinks {
    /// Upbit's feed (the KRW prices and `KRW-USDT`).
    pub upbit: FeedHandle,
    /// Upbit's REST client (its market list).
    pub upbit_rest: Arc<dyn RestApi>,
    /// The other venue's feed (USDT prices).
    pub binance: FeedHandle,
    /// The other venue's REST client (its market list).
    pub binance_rest: Arc<dyn RestApi>,
    /// Upbit's store: the board and the premium lines go there.
    pub store: StoreHandle,
    /// The monitor: premium alerts are evaluated on each board.
    pub monitor: MonitorHandle,
    /// Upbit's selection: the chart's market and timeframe (the premium line).
    pub selection: watch::Receiver<Selection>,
    /// The venue the screen shows: on Binance's view the line follows its selection.
    pub shown: watch::Receiver<crate::exchange::VenueId>,
    /// Binance's selection (its chart's market and timeframe).
    pub binance_selection: watch::Receiver<Selection>,
}

/// Starts the premium tasks under `tasks`. The board the store gets at once names the
/// venue and the reference rate (if any), before any price: the command desk reads it to
/// refuse a premium alert that can never fire (see
/// [`crate::trading::monitor::premium_alerts::refusal`]).
pub(crate) fn spawn(tasks: &TaskManager, links: PremiumLinks, settings: &Settings) {
    let source = reference::source(settings, links.upbit_rest.base_url());
    let initial = source.as_ref().map(Source::initial);
    let first = PremiumBoard { reference: initial.clone(), venue: VENUE.into(), ..PremiumBoard::default() };
    links.store.try_send(StoreEvent::PremiumUpdated(Arc::new(first.clone())));
    let reference_tx = Arc::new(watch::channel(initial).0);
    let board_tx = Arc::new(watch::channel(Arc::new(first)).0);
    let pairs_tx = Arc::new(watch::channel(Arc::new(HashMap::<MarketId, MarketId>::new())).0);

    if let Some(Source::Url { url, field, every, label }) = source {
        let tx = reference_tx.clone();
        tasks.spawn_supervised("console", "premium-reference", OnFailure::restart(), move |cancel| {
            let (tx, url, field, label) = (tx.clone(), url.clone(), field.clone(), label.clone());
            async move { reference_loop(cancel, tx, url, field, every, label).await }
        });
    }

    let board = BoardLinks {
        upbit: Arc::new(links.upbit.proxy("premium")),
        binance: Arc::new(links.binance.proxy("premium")),
        upbit_rest: links.upbit_rest.clone(),
        binance_rest: links.binance_rest.clone(),
        store: links.store.clone(),
        monitor: links.monitor.clone(),
        reference: reference_tx,
        board: board_tx.clone(),
        pairs: pairs_tx.clone(),
    };
    tasks.spawn_supervised("console", "premium-board", OnFailure::restart(), move |cancel| {
        let board = board.clone();
        async move { board_loop(cancel, board).await }
    });

    let history = HistoryLinks {
        upbit: Arc::new(links.upbit.proxy("premium-history")),
        binance: Arc::new(links.binance.proxy("premium-history")),
        store: links.store,
        selection: links.selection,
        shown: links.shown,
        binance_selection: links.binance_selection,
        pairs: pairs_tx,
        board: board_tx,
    };
    tasks.spawn_supervised("console", "premium-history", OnFailure::restart(), move |cancel| {
        let history = history.clone();
        async move { history_loop(cancel, history).await }
    });
}

/// Now, Unix ms.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Reads the rate every `every`; each result (the rate, or the error beside the last good
/// one) goes to the board. Only the host is logged.
async fn reference_loop(
    cancel: CancellationToken,
    tx: Arc<watch::Sender<Option<RefRate>>>,
    url: String,
    field: String,
    every: Duration,
    label: String,
) -> anyhow::Result<()> {
    let client = reference::client().map_err(|e| anyhow::anyhow!("the USD/KRW rate's HTTP client: {e}"))?;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        let read = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(()),
            r = reference::read(&client, &url, &field) => r,
        };
        match &read {
            Ok(rate) => tracing::debug!(source = %label, %rate, "USD/KRW reference rate read"),
            Err(e) => {
                tracing::warn!(source = %label, error = %e, "USD/KRW reference rate not read; the last good one is kept")
            }
        }
        tx.send_modify(|r| {
            let last =
                r.clone().unwrap_or(RefRate { rate: None, source: label.clone(), at_ms: None, error: None });
            *r = Some(reference::after_read(&last, read, now_ms()));
        });
    }
}

#[derive(Clone)]
struct BoardLinks {
    upbit: Arc<FeedProxy>,
    binance: Arc<FeedProxy>,
    upbit_rest: Arc<dyn RestApi>,
    binance_rest: Arc<dyn RestApi>,
    store: StoreHandle,
    monitor: MonitorHandle,
    reference: Arc<watch::Sender<Option<RefRate>>>,
    board: Arc<watch::Sender<Arc<PremiumBoard>>>,
    pairs: Arc<watch::Sender<Arc<HashMap<MarketId, MarketId>>>>,
}

/// Both market lists, paired by coin (one attempt).
async fn read_pairs(
    l: &BoardLinks,
) -> Result<Vec<(MarketId, MarketId)>, crate::exchange::error::ExchangeError> {
    let (upbit, abroad) = tokio::try_join!(l.upbit_rest.markets(), l.binance_rest.markets())?;
    let pairs = board::pairs(&upbit, &abroad);
    tracing::info!(pairs = pairs.len(), venue = VENUE, "kimchi premium: markets paired by coin");
    Ok(pairs)
}

/// The Upbit markets (the pairs' and `KRW-USDT`) and the markets abroad, to subscribe.
fn markets_of(pairs: &[(MarketId, MarketId)]) -> (Vec<MarketId>, Vec<MarketId>) {
    let upbit = pairs.iter().map(|(k, _)| k.clone()).chain([MarketId::new(KRW_USDT)]).collect();
    (upbit, pairs.iter().map(|(_, f)| f.clone()).collect())
}

/// A ticker's price, confirmed now.
fn take(prices: &mut HashMap<MarketId, Quote>, t: Ticker) {
    if let Some(m) = t.market {
        prices.insert(m, Quote { price: t.trade_price, at_ms: now_ms(), seen: Instant::now() });
    }
}

/// Reads by REST the tickers of `markets` not heard from for [`REFRESH_QUIET`] (all of
/// them the first time).
async fn refresh_quiet(proxy: &FeedProxy, markets: &[MarketId], prices: &mut HashMap<MarketId, Quote>) {
    let quiet: Vec<MarketId> = markets
        .iter()
        .filter(|m| prices.get(*m).is_none_or(|q| q.seen.elapsed() >= REFRESH_QUIET))
        .cloned()
        .collect();
    if quiet.is_empty() {
        return;
    }
    match proxy.ticker(&quiet).await {
        Ok(tickers) => tickers.into_iter().for_each(|t| take(prices, t)),
        Err(e) => {
            tracing::debug!(markets = quiet.len(), error = %e, "kimchi premium: quiet tickers not read")
        }
    }
}

/// Whether the monitor has a premium alert waiting to fire.
fn wants_premium(monitor: &MonitorHandle) -> bool {
    monitor
        .view()
        .borrow()
        .alerts
        .iter()
        .any(|a| !a.fired && matches!(a.condition, AlertCondition::Premium(_)))
}

async fn board_loop(cancel: CancellationToken, l: BoardLinks) -> anyhow::Result<()> {
    // Until both lists are read there are no pairs, but the USDT premium (KRW-USDT
    // against the reference rate) needs neither Binance nor the pairs: the board starts at
    // once with KRW-USDT alone, and the lists are read (again, with a backoff, while
    // they fail; then every LISTS_REREAD).
    let mut inputs = Inputs::default();
    let mut reference = l.reference.subscribe();
    inputs.reference = reference.borrow_and_update().clone();
    let (mut upbit_ids, mut abroad_ids) = markets_of(&inputs.pairs);
    let mut upbit = l.upbit.subscribe_ticker(&upbit_ids, Strategy::CoalesceByMarket);
    let mut abroad = l.binance.subscribe_ticker(&abroad_ids, Strategy::CoalesceByMarket);
    refresh_quiet(&l.upbit, &upbit_ids, &mut inputs.upbit).await;
    let mut lists_due = tokio::time::Instant::now();
    let mut lists_backoff = Duration::from_millis(500);

    let mut publish = tokio::time::interval(PUBLISH_EVERY);
    publish.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut quiet = tokio::time::interval_at(tokio::time::Instant::now() + REFRESH_QUIET, REFRESH_QUIET);
    quiet.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<Arc<PremiumBoard>> = None;
    let mut last_at = Instant::now();
    let mut dirty = true;
    let mut told: HashSet<MarketId> = HashSet::new();
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(()),
            t = upbit.recv() => match t {
                Some(t) => { take(&mut inputs.upbit, t); dirty = true; }
                None => return Ok(()),
            },
            t = abroad.recv() => match t {
                Some(t) => { take(&mut inputs.foreign, t); dirty = true; }
                None => return Ok(()),
            },
            changed = reference.changed() => {
                if changed.is_ok() {
                    inputs.reference = reference.borrow_and_update().clone();
                    dirty = true;
                }
            }
            _ = quiet.tick() => {
                refresh_quiet(&l.upbit, &upbit_ids, &mut inputs.upbit).await;
                refresh_quiet(&l.binance, &abroad_ids, &mut inputs.foreign).await;
            }
            _ = tokio::time::sleep_until(lists_due) => {
                let pairs = match read_pairs(&l).await {
                    Ok(pairs) => {
                        lists_backoff = Duration::from_millis(500);
                        lists_due = tokio::time::Instant::now() + LISTS_REREAD;
                        pairs
                    }
                    // The pairs read last stand; the board goes on.
                    Err(e) => {
                        tracing::warn!(error = %e, retry_in_ms = lists_backoff.as_millis() as u64, "kimchi premium: market lists not loaded");
                        lists_due = tokio::time::Instant::now() + lists_backoff;
                        lists_backoff = (lists_backoff * 2).min(Duration::from_secs(30));
                        continue;
                    }
                };
                if pairs != inputs.pairs {
                    inputs.pairs = pairs;
                    (upbit_ids, abroad_ids) = markets_of(&inputs.pairs);
                    inputs.paired = Arc::new(inputs.pairs.iter().cloned().collect());
                    l.pairs.send_replace(inputs.paired.clone());
                    // The new subscriptions start before the old ones end (the feed keeps
                    // what both want).
                    upbit = l.upbit.subscribe_ticker(&upbit_ids, Strategy::CoalesceByMarket);
                    abroad = l.binance.subscribe_ticker(&abroad_ids, Strategy::CoalesceByMarket);
                    refresh_quiet(&l.upbit, &upbit_ids, &mut inputs.upbit).await;
                    refresh_quiet(&l.binance, &abroad_ids, &mut inputs.foreign).await;
                    dirty = true;
                }
            }
            _ = publish.tick() => {
                if dirty || last_at.elapsed() >= REPUBLISH_EVERY {
                    let now = Instant::now();
                    let board = Arc::new(board::compute(&inputs, VENUE, now));
                    for (m, p) in board::namesakes(&inputs, now) {
                        if told.insert(m.clone()) {
                            tracing::info!(market = %m, premium = %p.round_dp(4), venue = VENUE, "kimchi premium left off: the same ticker looks like another coin abroad");
                        }
                    }
                    if last.as_deref() != Some(&*board) {
                        l.store.send(StoreEvent::PremiumUpdated(board.clone())).await?;
                        l.board.send_replace(board.clone());
                        last = Some(board);
                    }
                    dirty = false;
                    last_at = now;
                }
                // Every tick while an alert waits: one armed since the last board is
                // evaluated on the board that stands.
                // A board is worth no wait: while the monitor is restarting (its queue
                // full) the next one stands in for this.
                if let Some(board) = &last
                    && wants_premium(&l.monitor)
                {
                    let sent = l.monitor.send(MonitorInput::Premium(board.clone()));
                    if !matches!(tokio::time::timeout(PUBLISH_EVERY, sent).await, Ok(Ok(()))) {
                        tracing::debug!("kimchi premium: the monitor took no board; the next one goes");
                    }
                }
            }
        }
    }
}

#[derive(Clone)]
struct HistoryLinks {
    upbit: Arc<FeedProxy>,
    binance: Arc<FeedProxy>,
    store: StoreHandle,
    selection: watch::Receiver<Selection>,
    shown: watch::Receiver<crate::exchange::VenueId>,
    binance_selection: watch::Receiver<Selection>,
    pairs: Arc<watch::Sender<Arc<HashMap<MarketId, MarketId>>>>,
    board: Arc<watch::Sender<Arc<PremiumBoard>>>,
}

/// The premium of `market` (paired with `abroad`) at each of its last `count` `tf`
/// candles.
async fn read_history(
    l: &HistoryLinks,
    market: &MarketId,
    abroad: &MarketId,
    tf: Timeframe,
    count: u32,
) -> Result<Vec<(i64, rust_decimal::Decimal)>, crate::exchange::error::ExchangeError> {
    let usdt = MarketId::new(KRW_USDT);
    let (up, rate, foreign) = tokio::try_join!(
        l.upbit.candles(market, tf, count),
        l.upbit.candles(&usdt, tf, count),
        l.binance.candles(abroad, tf, count),
    )?;
    Ok(history::align(&up, &rate, &foreign))
}

/// The market and timeframe the chart shows, as Upbit's KRW market: Upbit's selection,
/// or on Binance's view its selection's coin (`USDT-ETH` → `KRW-ETH`) at its timeframe.
fn shown_selection(l: &mut HistoryLinks) -> Selection {
    let upbit = l.selection.borrow_and_update().clone();
    let binance = l.binance_selection.borrow_and_update().clone();
    match *l.shown.borrow_and_update() {
        crate::exchange::VenueId::Binance => Selection {
            market: binance.market.map(|m| MarketId::new(&format!("KRW-{}", m.base()))),
            ..binance
        },
        crate::exchange::VenueId::Upbit => upbit,
    }
}

async fn history_loop(cancel: CancellationToken, mut l: HistoryLinks) -> anyhow::Result<()> {
    let mut pairs = l.pairs.subscribe();
    let mut boards = l.board.subscribe();
    loop {
        let sel = shown_selection(&mut l);
        let abroad = sel.market.as_ref().and_then(|m| pairs.borrow_and_update().get(m).cloned());
        let tf = sel.timeframe;
        let mut series: Option<PremiumSeries> = None;
        // Read the line (or its newest candles) once `next_read` has come.
        let mut want_read = abroad.is_some();
        let mut next_read = tokio::time::Instant::now();
        loop {
            if let (Some(m), Some(f)) = (&sel.market, &abroad)
                && want_read
                && tokio::time::Instant::now() >= next_read
            {
                // The whole line first, then the newest candles as each closes.
                let count = if series.is_some() { 3 } else { HISTORY_COUNT };
                let read = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    r = read_history(&l, m, f, tf, count) => r,
                };
                match read {
                    Ok(points) => {
                        let s = series.get_or_insert_with(|| PremiumSeries {
                            market: m.clone(),
                            timeframe: tf,
                            basis: PremiumBasis::Usdt,
                            points: Vec::new(),
                        });
                        history::merge(&mut s.points, points);
                        l.store.send(StoreEvent::PremiumHistory(Arc::new(s.clone()))).await?;
                        want_read = false;
                        next_read = tokio::time::Instant::now() + HISTORY_REFRESH_MIN;
                    }
                    Err(e) => {
                        tracing::info!(market = %m, tf = tf.label(), error = %e, "premium line not read; tried again in 30 s");
                        next_read = tokio::time::Instant::now() + Duration::from_secs(30);
                    }
                }
            }
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(()),
                changed = l.selection.changed() => {
                    if changed.is_err() { return Ok(()) }
                    break;
                }
                changed = l.shown.changed() => {
                    if changed.is_err() { return Ok(()) }
                    break;
                }
                changed = l.binance_selection.changed() => {
                    if changed.is_err() { return Ok(()) }
                    break;
                }
                changed = pairs.changed() => {
                    if changed.is_err() { return Ok(()) }
                    break;
                }
                changed = boards.changed() => {
                    if changed.is_err() { return Ok(()) }
                    let board = boards.borrow_and_update().clone();
                    let live = sel.market.as_ref().and_then(|m| board.of(m)).and_then(|p| p.vs_usdt);
                    if let (Some(s), Some(live)) = (series.as_mut(), live) {
                        let period_ms = tf.seconds().saturating_mul(1000);
                        if history::follow(&mut s.points, period_ms, now_ms(), live) {
                            l.store.send(StoreEvent::PremiumHistory(Arc::new(s.clone()))).await?;
                        } else {
                            // A new candle: its first premium comes from the venues.
                            want_read = true;
                        }
                    }
                }
                _ = tokio::time::sleep_until(next_read), if want_read => {}
            }
        }
    }
}
