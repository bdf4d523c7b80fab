//! Market data section of the snapshot: market list, tickers, books, trades, candles.
//!
//! Every ticker and book carries the [`Instant`] it was received, so the UI can grey
//! stale data with its age instead of showing it as live.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;

use super::tape::Tape;
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

/// How many trades per market the tape keeps: a screenful for the pane, and the window of
/// the median notional and the buy/sell split it shows.
pub(crate) const TRADES_PER_MARKET: usize = 200;
/// How many candles per series are kept (history load plus live bars) until the chart
/// scrolls further back: a series keeps what older pages brought (see [`SeriesHistory`]).
pub(crate) const CANDLES_PER_SERIES: usize = 1000;
/// The most candles a series holds however far back the chart scrolls: 50 pages of 200,
/// a week of minutes or 27 years of days. Beyond it the chart pager stops asking.
pub const MAX_SERIES_CANDLES: usize = 10_000;

/// A candle series: its market and timeframe.
pub type SeriesKey = (MarketId, Timeframe);

/// What the chart's pager knows of the older history of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryState {
    /// An older page was asked for and has not come back.
    Loading,
    /// The exchange had nothing older: the series begins here.
    Start,
    /// The series holds [`MAX_SERIES_CANDLES`]: nothing older is asked for.
    Limit,
}

impl HistoryState {
    /// What the chart's title says.
    pub fn label(self) -> &'static str {
        match self {
            HistoryState::Loading => "loading older…",
            HistoryState::Start => "start of history",
            HistoryState::Limit => "oldest kept",
        }
    }
}

/// A series' older history: where paging stands, and how many candles it keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeriesHistory {
    /// Paging back, or where it ended.
    pub state: Option<HistoryState>,
    /// Candles the series keeps: at least [`CANDLES_PER_SERIES`], more once older pages
    /// came (the history scrolled to is not trimmed away by the live bars that follow;
    /// the oldest go first, away from the newest the chart shows when live).
    pub kept: usize,
}

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

/// A failed read of the market list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketsFailed {
    /// The error, as the REST client words it.
    pub error: String,
    /// When the list is read again, from `at`.
    pub retry_in: std::time::Duration,
    /// When it failed.
    pub at: Instant,
}

/// Market data, latest value per key. Sub-maps sit behind their own `Arc` so a batch that
/// changes tickers does not copy the order books.
#[derive(Debug, Clone, Default)]
pub struct MarketSection {
    /// Bumped whenever anything in this section changes.
    pub version: u64,
    /// Listed markets, in exchange order.
    pub markets: Arc<Vec<MarketInfo>>,
    /// Why the market list has not loaded, while reading it fails (cleared when it loads).
    pub markets_failed: Option<Arc<MarketsFailed>>,
    /// Latest ticker per market. Values sit behind their own `Arc`: the map is copied
    /// whenever a batch changes a ticker while the UI still holds the previous snapshot,
    /// and with every KRW market streaming that copy must be pointers, not tickers.
    pub tickers: Arc<HashMap<MarketId, Arc<Stamped<Ticker>>>>,
    /// Latest order book per market (values shared like the tickers').
    pub books: Arc<HashMap<MarketId, Arc<Stamped<OrderBook>>>>,
    /// Latest book per market grouped by Upbit (its `level`, 호가 모아보기), for the
    /// order book pane only: prices are buckets, not prices to trade at, so nothing else
    /// reads them (fills, the price board and the order form use `books`).
    pub grouped_books: Arc<HashMap<MarketId, Arc<Stamped<OrderBook>>>>,
    /// Recent trades per market, newest first, with their median notional and buy/sell
    /// split.
    pub trades: Arc<HashMap<MarketId, Tape>>,
    /// Candle series per (market, timeframe), oldest first. Each series sits behind its
    /// own `Arc`: a live bar copies its series, not every series (a compared market's, a
    /// long scrolled-back one).
    pub candles: Arc<HashMap<SeriesKey, Arc<Vec<Candle>>>>,
    /// Older history paged in per series (`HistoryState`, candles kept).
    pub history: Arc<HashMap<(MarketId, Timeframe), SeriesHistory>>,
    /// Badges per market, each with the source that set it (a notice's id).
    pub badges: Arc<HashMap<MarketId, Vec<(Badge, String)>>>,
    /// Indicators per candle series: local values and Upbit's (`crate::indicators`).
    pub indicators: Arc<HashMap<(MarketId, Timeframe), crate::indicators::Board>>,
    /// The last day per market in hourly candles (the markets table's sparkline), loaded
    /// for the markets on screen.
    pub days: Arc<HashMap<MarketId, Arc<DayLine>>>,
    /// The kimchi premium of every market the other venue lists (`super::premium`).
    pub premium: Arc<super::premium::PremiumBoard>,
    /// The premium line of the market and timeframe the chart shows (only that one is kept).
    pub premium_history: Arc<HashMap<(MarketId, Timeframe), Arc<super::premium::PremiumSeries>>>,
}

/// One hour of a market's last day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hour {
    /// Hour start, Unix ms UTC.
    pub start: i64,
    /// Highest trade of the hour.
    pub high: Decimal,
    /// Lowest trade of the hour.
    pub low: Decimal,
    /// Last trade of the hour.
    pub close: Decimal,
}

/// An hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
/// Hours in a day line: Upbit's 24 hourly candles, the forming one included.
pub const DAY_HOURS: usize = 24;

/// A market's last day, one point per hour, oldest first. Upbit sends no candle for an
/// hour without trades: such an hour carries the close before it (the price did not
/// move), and hours before the first candle of the day are left out (a shorter line, not
/// an invented one).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DayLine {
    /// One per hour, consecutive, the last one the hour of the read.
    pub hours: Vec<Hour>,
}

/// A day line with the live price folded into its last hour: what the table draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayView {
    /// Closes per hour, oldest first.
    pub closes: Vec<Decimal>,
    /// Highest trade of those hours.
    pub high: Decimal,
    /// Lowest trade of those hours.
    pub low: Decimal,
}

impl DayLine {
    /// The hours of `candles` (hourly, any order) in the day ending with the hour of
    /// `at_ms`, gaps filled with the close before them.
    pub fn from_candles(candles: &[Candle], at_ms: i64) -> DayLine {
        let current = at_ms.div_euclid(HOUR_MS) * HOUR_MS;
        let first = current - (DAY_HOURS as i64 - 1) * HOUR_MS;
        let mut day: Vec<&Candle> = candles
            .iter()
            .filter(|c| c.start >= first && c.start <= current && c.start % HOUR_MS == 0)
            .collect();
        day.sort_by_key(|c| c.start);
        day.dedup_by_key(|c| c.start);
        let mut hours: Vec<Hour> = Vec::with_capacity(DAY_HOURS);
        let fill = |hours: &mut Vec<Hour>, until: i64| {
            while let Some(prev) = hours.last().copied()
                && prev.start + HOUR_MS < until
            {
                let c = prev.close;
                hours.push(Hour { start: prev.start + HOUR_MS, high: c, low: c, close: c });
            }
        };
        for c in day {
            fill(&mut hours, c.start);
            hours.push(Hour { start: c.start, high: c.high, low: c.low, close: c.close });
        }
        // Quiet hours up to the hour of the read.
        fill(&mut hours, current + HOUR_MS);
        DayLine { hours }
    }

    /// The line with the live price (`price` traded at `at_ms`) in its last hour, or in a
    /// new hour that starts the next day window. None when there is no point, or when the
    /// live price is more than an hour past the line (the line is out of date: better no
    /// line than a wrong one until it is read again).
    pub fn view(&self, live: Option<(Decimal, i64)>) -> Option<DayView> {
        let last = self.hours.last()?;
        let mut extra = None;
        let mut last_close = last.close;
        let (mut high, mut low) = (last.high, last.low);
        if let Some((price, at)) = live {
            let hour = at.div_euclid(HOUR_MS) * HOUR_MS;
            if hour == last.start {
                last_close = price;
                high = high.max(price);
                low = low.min(price);
            } else if hour == last.start + HOUR_MS {
                extra = Some(price);
            } else if hour > last.start + HOUR_MS {
                return None;
            }
        }
        // A new hour pushes the oldest out: the line stays one day long.
        let skip = usize::from(extra.is_some() && self.hours.len() >= DAY_HOURS);
        let n = self.hours.len();
        let mut closes = Vec::with_capacity(n + 1);
        for (i, h) in self.hours.iter().enumerate().skip(skip) {
            if i + 1 == n {
                closes.push(last_close);
            } else {
                closes.push(h.close);
                high = high.max(h.high);
                low = low.min(h.low);
            }
        }
        if let Some(p) = extra {
            closes.push(p);
            high = high.max(p);
            low = low.min(p);
        }
        Some(DayView { closes, high, low })
    }
}

impl MarketSection {
    /// The listing of one market.
    pub fn info(&self, market: &MarketId) -> Option<&MarketInfo> {
        self.markets.iter().find(|m| &m.market == market)
    }

    /// Candles of a series, oldest first (empty when not loaded).
    pub fn series(&self, market: &MarketId, tf: Timeframe) -> &[Candle] {
        self.candles.get(&(market.clone(), tf)).map(|s| s.as_slice()).unwrap_or(&[])
    }

    /// Where paging back a series stands (`None`: idle, more may be older).
    pub fn history(&self, market: &MarketId, tf: Timeframe) -> Option<HistoryState> {
        self.history.get(&(market.clone(), tf)).and_then(|h| h.state)
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

    /// A market's last day, the live ticker's price folded in (see [`DayLine::view`]).
    pub fn day(&self, market: &MarketId) -> Option<DayView> {
        let line = self.days.get(market)?;
        let live = self.tickers.get(market).map(|t| (t.value.trade_price, t.value.trade_timestamp));
        line.view(live)
    }

    pub(crate) fn load_day(&mut self, market: MarketId, candles: &[Candle], at_ms: i64) {
        let line = DayLine::from_candles(candles, at_ms);
        let days = Arc::make_mut(&mut self.days);
        if line.hours.is_empty() {
            days.remove(&market);
        } else {
            days.insert(market, Arc::new(line));
        }
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
        let books = if b.level.is_zero() { &mut self.books } else { &mut self.grouped_books };
        Arc::make_mut(books).insert(m, Arc::new(Stamped { value: b, received: now }));
        true
    }

    pub(crate) fn push_trade(&mut self, t: Trade) {
        Arc::make_mut(&mut self.trades).entry(t.market.clone()).or_default().push(t);
    }

    /// The newest page of a series (REST), merged with what the series holds: live bars
    /// (newer data) win. What the series held before the page is kept only when it reaches
    /// the page (it holds the page's oldest candle); a series left alone for a while (the
    /// chart on another timeframe) would otherwise keep a hidden gap behind the page.
    pub(crate) fn load_candles(&mut self, market: MarketId, tf: Timeframe, mut candles: Vec<Candle>) {
        candles.sort_by_key(|c| c.start);
        candles.dedup_by_key(|c| c.start);
        let key = (market, tf);
        let series = Arc::make_mut(Arc::make_mut(&mut self.candles).entry(key.clone()).or_default());
        let mut held: Vec<Candle> = std::mem::take(series);
        if let Some(first) = candles.first().map(|c| c.start)
            && held.binary_search_by_key(&first, |x| x.start).is_err()
        {
            held.retain(|c| c.start >= first);
            Arc::make_mut(&mut self.history).remove(&key);
        }
        let mut merged = candles;
        for c in held {
            match merged.binary_search_by_key(&c.start, |x| x.start) {
                Ok(i) => merged[i] = c,
                Err(i) => merged.insert(i, c),
            }
        }
        trim_front(&mut merged, self.history.get(&key).map_or(0, |h| h.kept));
        let bars: Vec<crate::indicators::Bar> = merged.iter().map(Into::into).collect();
        *series = merged;
        Arc::make_mut(&mut self.indicators).entry(key).or_default().load(&bars);
    }

    /// A page older than the series' oldest candle (REST, `to=`): prepended; candles the
    /// series already holds (an overlapping page) are not taken twice, and the series' own
    /// win. A page with nothing older is the start of the market's history. The series
    /// then keeps what it holds (up to [`MAX_SERIES_CANDLES`]) instead of trimming back to
    /// [`CANDLES_PER_SERIES`].
    pub(crate) fn load_older(&mut self, market: MarketId, tf: Timeframe, candles: Vec<Candle>) {
        let key = (market, tf);
        let series = Arc::make_mut(Arc::make_mut(&mut self.candles).entry(key.clone()).or_default());
        let oldest = series.first().map_or(i64::MAX, |c| c.start);
        let mut older: Vec<Candle> = candles.into_iter().filter(|c| c.start < oldest).collect();
        older.sort_by_key(|c| c.start);
        older.dedup_by_key(|c| c.start);
        let history = Arc::make_mut(&mut self.history).entry(key.clone()).or_default();
        if older.is_empty() {
            history.state = Some(HistoryState::Start);
            return;
        }
        older.append(series);
        let limit = older.len() >= MAX_SERIES_CANDLES;
        history.kept = older.len().min(MAX_SERIES_CANDLES);
        history.state = limit.then_some(HistoryState::Limit);
        trim_front(&mut older, history.kept);
        let bars: Vec<crate::indicators::Bar> = older.iter().map(Into::into).collect();
        *series = older;
        Arc::make_mut(&mut self.indicators).entry(key).or_default().load(&bars);
    }

    /// The chart's pager asked for an older page of a series, or gave up on one (`None`).
    pub(crate) fn set_history_state(&mut self, market: MarketId, tf: Timeframe, state: Option<HistoryState>) {
        let history = Arc::make_mut(&mut self.history);
        let h = history.entry((market, tf)).or_default();
        // The end of the history stays known: a retry after an error does not forget it.
        if h.state != Some(HistoryState::Start) || state.is_some() {
            h.state = state;
        }
    }

    pub(crate) fn update_candle(&mut self, c: Candle) {
        let key = (c.market.clone(), c.timeframe);
        let bar = crate::indicators::Bar::from(&c);
        let kept = self.history.get(&key).map_or(0, |h| h.kept);
        let series = Arc::make_mut(Arc::make_mut(&mut self.candles).entry(key.clone()).or_default());
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
        trim_front(series, kept);
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

/// Trims a series to what it keeps (`kept`, at least [`CANDLES_PER_SERIES`]), oldest
/// first: the newest candles are the live ones and the ones a chart shows by default.
fn trim_front(series: &mut Vec<Candle>, kept: usize) {
    let cap = kept.clamp(CANDLES_PER_SERIES, MAX_SERIES_CANDLES);
    if series.len() > cap {
        let extra = series.len() - cap;
        series.drain(..extra);
    }
}

#[cfg(test)]
mod day_tests {
    use super::*;
    use rust_decimal_macros::dec;

    const H: i64 = HOUR_MS;
    /// An hour boundary (2026-12-05 09:00 UTC).
    const T: i64 = 1_796_461_200_000;

    fn hour(start: i64, close: Decimal) -> Candle {
        Candle {
            market: MarketId::new("KRW-BTC"),
            timeframe: Timeframe::H1,
            start,
            open: close,
            high: close + dec!(5),
            low: close - dec!(5),
            close,
            volume: dec!(1),
            value: close,
            timestamp: start,
        }
    }

    fn closes(line: &DayLine) -> Vec<Decimal> {
        line.hours.iter().map(|h| h.close).collect()
    }

    /// Upbit sends no candle for an hour without trades: that hour carries the close
    /// before it, up to the hour of the read; hours before the day and duplicates go.
    #[test]
    fn quiet_hours_carry_the_last_close_and_only_the_last_day_is_kept() {
        let candles = vec![
            hour(T - 30 * H, dec!(1)),
            hour(T - 3 * H, dec!(10)),
            hour(T - H, dec!(20)),
            hour(T - 3 * H, dec!(10)),
        ];
        let line = DayLine::from_candles(&candles, T + 25 * 60_000);
        assert_eq!(closes(&line), [dec!(10), dec!(10), dec!(20), dec!(20)]);
        assert_eq!(line.hours.iter().map(|h| h.start).collect::<Vec<_>>(), [T - 3 * H, T - 2 * H, T - H, T]);
        // A quiet hour's high and low are its price, not the hour before's range.
        assert_eq!((line.hours[1].high, line.hours[1].low), (dec!(10), dec!(10)));
        assert!(
            DayLine::from_candles(&[hour(T - 30 * H, dec!(1))], T).hours.is_empty(),
            "nothing in the day"
        );
    }

    /// The live price moves the last hour; the next hour's price starts a new point and
    /// pushes the oldest out; a price more than an hour past the line hides it.
    #[test]
    fn the_live_price_moves_the_last_point() {
        let candles: Vec<Candle> = (0..24).map(|i| hour(T - (23 - i) * H, Decimal::from(100 + i))).collect();
        let line = DayLine::from_candles(&candles, T + 60_000);
        let v = line.view(None).expect("a line");
        assert_eq!((v.closes.len(), v.high, v.low), (24, dec!(128), dec!(95)));
        let v = line.view(Some((dec!(200), T + 30 * 60_000))).expect("a line");
        assert_eq!((v.closes.len(), v.closes[23], v.high), (24, dec!(200), dec!(200)));
        let v = line.view(Some((dec!(50), T + H + 1))).expect("a line");
        assert_eq!((v.closes.len(), v.closes[0], v.closes[23], v.low), (24, dec!(101), dec!(50), dec!(50)));
        assert_eq!(v.high, dec!(128), "the oldest hour's range went with it");
        assert_eq!(line.view(Some((dec!(50), T + 2 * H))), None, "out of date: no line");
        assert_eq!(
            line.view(Some((dec!(1), T - 5 * H))).map(|v| v.low),
            Some(dec!(95)),
            "an older price is ignored"
        );
        assert_eq!(DayLine::default().view(Some((dec!(1), T))), None);
    }
}
