//! Market data section of the snapshot: market list, tickers, books, trades, candles.
//!
//! Every ticker and book carries the [`Instant`] it was received, so the UI can grey
//! stale data with its age instead of showing it as live.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::exchange::types::{Candle, MarketId, MarketInfo, OrderBook, Ticker, Timeframe, Trade};

/// A value and the moment the store received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamped<T> {
    /// The value.
    pub value: T,
    /// When the store applied it (monotonic clock).
    pub received: Instant,
}

impl<T> Stamped<T> {
    /// How old the value is at `now`.
    pub fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.received)
    }
}

/// How many trades per market the tape keeps (the pane shows at most a screenful).
pub(crate) const TRADES_PER_MARKET: usize = 200;
/// How many candles per series are kept (history load plus live bars).
pub(crate) const CANDLES_PER_SERIES: usize = 1000;

/// What the exchange said of a market this session, as the markets table shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Badge {
    /// Newly listed.
    New,
    /// Designated an investment warning (유의) by a notice.
    Warning,
    /// Its trading support ends (거래지원 종료).
    Delisting,
}

/// Market data, latest value per key. Sub-maps sit behind their own `Arc` so a batch that
/// changes tickers does not copy the order books.
#[derive(Debug, Clone, Default)]
pub struct MarketSection {
    /// Bumped whenever anything in this section changes.
    pub version: u64,
    /// Listed markets, in exchange order.
    pub markets: Arc<Vec<MarketInfo>>,
    /// Latest ticker per market. Values sit behind their own `Arc`: the map is copied
    /// whenever a batch changes a ticker while the UI still holds the previous snapshot,
    /// and with every KRW market streaming that copy must be pointers, not tickers.
    pub tickers: Arc<HashMap<MarketId, Arc<Stamped<Ticker>>>>,
    /// Latest order book per market (values shared like the tickers').
    pub books: Arc<HashMap<MarketId, Arc<Stamped<OrderBook>>>>,
    /// Recent trades per market, newest first.
    pub trades: Arc<HashMap<MarketId, VecDeque<Trade>>>,
    /// Candle series per (market, timeframe), oldest first.
    pub candles: Arc<HashMap<(MarketId, Timeframe), Vec<Candle>>>,
    /// Badges per market, each with the source that set it (a notice's id).
    pub badges: Arc<HashMap<MarketId, Vec<(Badge, String)>>>,
    /// Indicators per candle series: local values and Upbit's (`crate::indicators`).
    pub indicators: Arc<HashMap<(MarketId, Timeframe), crate::indicators::Board>>,
}

impl MarketSection {
    /// The listing of one market.
    pub fn info(&self, market: &MarketId) -> Option<&MarketInfo> {
        self.markets.iter().find(|m| &m.market == market)
    }

    /// Candles of a series, oldest first (empty when not loaded).
    pub(crate) fn series(&self, market: &MarketId, tf: Timeframe) -> &[Candle] {
        self.candles.get(&(market.clone(), tf)).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The weightiest badge of a market (a delisting over a warning over a listing).
    pub fn badge(&self, market: &MarketId) -> Option<Badge> {
        self.badges.get(market).and_then(|b| b.iter().map(|(b, _)| *b).max())
    }

    pub(crate) fn set_badges(
        &mut self,
        source: &str,
        set: Vec<(MarketId, Badge)>,
        clear: &[(MarketId, Badge)],
    ) {
        let badges = Arc::make_mut(&mut self.badges);
        for list in badges.values_mut() {
            list.retain(|(_, s)| s != source);
        }
        for (m, b) in clear {
            if let Some(list) = badges.get_mut(m) {
                list.retain(|(x, _)| x != b);
            }
        }
        for (m, b) in set {
            badges.entry(m).or_default().push((b, source.to_string()));
        }
        badges.retain(|_, l| !l.is_empty());
    }

    pub(crate) fn set_markets(&mut self, list: Vec<MarketInfo>) {
        self.markets = Arc::new(list);
    }

    pub(crate) fn put_ticker(&mut self, t: Ticker, now: Instant) -> bool {
        let Some(m) = t.market.clone() else { return false };
        Arc::make_mut(&mut self.tickers).insert(m, Arc::new(Stamped { value: t, received: now }));
        true
    }

    pub(crate) fn put_book(&mut self, b: OrderBook, now: Instant) -> bool {
        let Some(m) = b.market.clone() else { return false };
        Arc::make_mut(&mut self.books).insert(m, Arc::new(Stamped { value: b, received: now }));
        true
    }

    pub(crate) fn push_trade(&mut self, t: Trade) {
        let tape = Arc::make_mut(&mut self.trades).entry(t.market.clone()).or_default();
        // The REST history and the stream's snapshot overlap: one print is shown once.
        if t.sequential_id != 0 && tape.iter().any(|x| x.sequential_id == t.sequential_id) {
            return;
        }
        tape.push_front(t);
        tape.truncate(TRADES_PER_MARKET);
    }

    pub(crate) fn load_candles(&mut self, market: MarketId, tf: Timeframe, mut candles: Vec<Candle>) {
        candles.sort_by_key(|c| c.start);
        candles.dedup_by_key(|c| c.start);
        let key = (market, tf);
        let series = Arc::make_mut(&mut self.candles).entry(key.clone()).or_default();
        // History may arrive after live bars: merge so live bars (newer data) win.
        let live: Vec<Candle> = std::mem::take(series);
        let mut merged = candles;
        for c in live {
            match merged.binary_search_by_key(&c.start, |x| x.start) {
                Ok(i) => merged[i] = c,
                Err(i) => merged.insert(i, c),
            }
        }
        trim_front(&mut merged);
        let bars: Vec<crate::indicators::Bar> = merged.iter().map(Into::into).collect();
        *series = merged;
        Arc::make_mut(&mut self.indicators).entry(key).or_default().load(&bars);
    }

    pub(crate) fn update_candle(&mut self, c: Candle) {
        let key = (c.market.clone(), c.timeframe);
        let bar = crate::indicators::Bar::from(&c);
        let series = Arc::make_mut(&mut self.candles).entry(key.clone()).or_default();
        let late = series.last().is_some_and(|last| last.start > c.start);
        match series.last() {
            Some(last) if last.start == c.start => {
                let n = series.len();
                series[n - 1] = c;
            }
            Some(last) if last.start > c.start => {
                if let Ok(i) = series.binary_search_by_key(&c.start, |x| x.start) {
                    series[i] = c;
                }
            }
            _ => series.push(c),
        }
        trim_front(series);
        // A late update of a closed candle changes the history the trackers summed up.
        let board = Arc::make_mut(&mut self.indicators).entry(key).or_default();
        if late {
            board.load(&series.iter().map(Into::into).collect::<Vec<_>>());
        } else {
            board.update(bar);
        }
    }

    /// A message of Upbit's indicator streams.
    pub(crate) fn apply_indicator(&mut self, ev: crate::indicators::IndicatorEvent) {
        let key = (ev.market().clone(), ev.timeframe());
        Arc::make_mut(&mut self.indicators).entry(key).or_default().apply(ev);
    }
}

fn trim_front(series: &mut Vec<Candle>) {
    if series.len() > CANDLES_PER_SERIES {
        let extra = series.len() - CANDLES_PER_SERIES;
        series.drain(..extra);
    }
}
