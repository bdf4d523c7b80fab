//! Seeded market-data generator: a random walk with volatility clustering and jumps per
//! market, on Upbit's tick grid, producing trades, 30-level books, tickers with every day /
//! 24 h / 52-week statistic, and candles for every timeframe.
//!
//! The generator owns a virtual clock and is driven by [`Generator::step`], never by the
//! wall clock, so the same seed and start time give the same message stream (tests rely on
//! it). The server task calls `step` at the configured rate.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use chrono::{Datelike, TimeZone, Timelike, Utc};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde::Deserialize;

use super::persist::{SavedDay, SavedMarket};
use crate::exchange::types::{Change, Side, StreamType, Timeframe};
use crate::exchange::upbit::ticks::{self, Rounding};
use crate::exchange::upbit::wire::{
    AskBid, MarketAllItem, MarketCaution, MarketEvent, RestTradeTick, WireBookUnit, WireCandle,
    WireOrderBook, WireTicker, WireTrade,
};

/// Book depth the generator keeps (Upbit's maximum).
pub(crate) const BOOK_DEPTH: usize = 30;
/// Trades kept per market for `/trades/ticks`.
const TRADE_HISTORY: usize = 2000;
/// Candles kept per market and timeframe.
const CANDLE_HISTORY: usize = 1000;
/// KST offset in milliseconds.
const KST_MS: i64 = 9 * 3600 * 1000;

const FIXTURE: &str = include_str!("markets.json");

/// One market of the fixture.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MarketDef {
    /// Code, `KRW-BTC`.
    pub market: String,
    /// Korean name.
    pub korean_name: String,
    /// English name.
    pub english_name: String,
    /// Starting price (on the tick grid after snapping).
    pub price: Decimal,
    /// 유의 종목.
    pub warning: bool,
    /// Set caution flags by name.
    pub caution: Vec<String>,
}

impl MarketDef {
    /// Quote currency (`KRW` of `KRW-BTC`).
    pub fn quote(&self) -> &str {
        self.market.split('-').next().unwrap_or("KRW")
    }

    /// The `/market/all` item.
    pub(crate) fn all_item(&self, details: bool) -> MarketAllItem {
        let has = |f: &str| self.caution.iter().any(|c| c == f);
        MarketAllItem {
            market: self.market.clone(),
            korean_name: self.korean_name.clone(),
            english_name: self.english_name.clone(),
            market_event: details.then(|| MarketEvent {
                warning: self.warning,
                caution: MarketCaution {
                    PRICE_FLUCTUATIONS: has("PRICE_FLUCTUATIONS"),
                    TRADING_VOLUME_SOARING: has("TRADING_VOLUME_SOARING"),
                    DEPOSIT_AMOUNT_SOARING: has("DEPOSIT_AMOUNT_SOARING"),
                    GLOBAL_PRICE_DIFFERENCES: has("GLOBAL_PRICE_DIFFERENCES"),
                    CONCENTRATION_OF_SMALL_ACCOUNTS: has("CONCENTRATION_OF_SMALL_ACCOUNTS"),
                },
            }),
            // The deprecated flag still comes with the details (older clients read it).
            market_warning: details.then(|| if self.warning { "CAUTION" } else { "NONE" }.to_string()),
        }
    }
}

/// Errors of the fixture loader.
#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    /// The embedded JSON did not parse.
    #[error("bad markets fixture: {0}")]
    Fixture(#[from] serde_json::Error),
}

/// The embedded market list, optionally cut to the first `limit` KRW markets (other quotes
/// are kept so BTC/USDT markets always exist).
pub(crate) fn load_markets(limit: Option<usize>) -> Result<Vec<MarketDef>, MarketError> {
    let all: Vec<MarketDef> = serde_json::from_str(FIXTURE)?;
    let Some(limit) = limit else { return Ok(all) };
    let mut krw = 0usize;
    Ok(all
        .into_iter()
        .filter(|m| {
            if m.quote() == "KRW" {
                krw += 1;
                krw <= limit
            } else {
                true
            }
        })
        .collect())
}

/// One generated trade, the source of every other statistic.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TradeRec {
    /// Price.
    pub price: Decimal,
    /// Size.
    pub volume: Decimal,
    /// Taker side.
    pub side: Side,
    /// Time (ms).
    pub ts: i64,
    /// Unique id.
    pub seq: i64,
}

/// A candle under construction or finished.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CandleRec {
    /// Bucket start (ms, UTC).
    pub start: i64,
    /// Open.
    pub open: Decimal,
    /// High.
    pub high: Decimal,
    /// Low.
    pub low: Decimal,
    /// Close.
    pub close: Decimal,
    /// Volume.
    pub volume: Decimal,
    /// Value.
    pub value: Decimal,
    /// Last tick (ms).
    pub(crate) last_ts: i64,
    /// Close of the bucket before (days: previous close).
    pub(crate) prev_close: Decimal,
}

/// Bucket start of `ts` for a timeframe (UTC; weeks start on Monday, months on the 1st).
pub(crate) fn bucket_start(tf: Timeframe, ts: i64) -> i64 {
    match tf {
        Timeframe::W1 | Timeframe::Mo1 => {
            let Some(dt) = Utc.timestamp_millis_opt(ts).single() else { return ts };
            let date = dt.date_naive();
            let first = if tf == Timeframe::W1 {
                date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday()))
            } else {
                date.with_day(1).unwrap_or(date)
            };
            first.and_hms_opt(0, 0, 0).map(|d| d.and_utc().timestamp_millis()).unwrap_or(ts)
        }
        _ => {
            let len = tf.seconds() * 1000;
            ts - ts.rem_euclid(len)
        }
    }
}

/// `yyyy-MM-ddTHH:mm:ss` of a ms time shifted by `offset_ms`.
pub(crate) fn iso_naive(ts: i64, offset_ms: i64) -> String {
    Utc.timestamp_millis_opt(ts + offset_ms)
        .single()
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default()
}

/// The date of a ms time shifted by `offset_ms`: `yyyy{sep}MM{sep}dd`. Written field by
/// field: chrono's `format` parses its pattern on every call, and a ticker has four of
/// these.
fn date_str(ts: i64, offset_ms: i64, sep: &str) -> String {
    Utc.timestamp_millis_opt(ts + offset_ms)
        .single()
        .map(|d| format!("{:04}{sep}{:02}{sep}{:02}", d.year(), d.month(), d.day()))
        .unwrap_or_default()
}

/// The time of day of a ms time shifted by `offset_ms`: `HH{sep}mm{sep}ss`.
fn time_str(ts: i64, offset_ms: i64, sep: &str) -> String {
    Utc.timestamp_millis_opt(ts + offset_ms)
        .single()
        .map(|d| format!("{:02}{sep}{:02}{sep}{:02}", d.hour(), d.minute(), d.second()))
        .unwrap_or_default()
}

/// The live state of one market.
#[derive(Debug, Clone)]
pub(crate) struct MarketSim {
    /// Fixture entry.
    pub(crate) def: MarketDef,
    /// Last price.
    pub price: Decimal,
    /// Current volatility per step (log-return standard deviation).
    vol: f64,
    base_vol: f64,
    /// Typical trade value in the quote currency.
    notional: f64,
    day_start: i64,
    open: Decimal,
    high: Decimal,
    low: Decimal,
    prev_close: Decimal,
    acc_price: Decimal,
    acc_volume: Decimal,
    acc_ask: Decimal,
    acc_bid: Decimal,
    /// Rolling 24 h sums in minute buckets: (minute start, value, volume).
    minutes: VecDeque<(i64, Decimal, Decimal)>,
    high52: (Decimal, i64),
    low52: (Decimal, i64),
    /// Recent trades, oldest first.
    pub trades: VecDeque<TradeRec>,
    /// Candles per timeframe, oldest first.
    pub candles: BTreeMap<Timeframe, VecDeque<CandleRec>>,
    /// Asks, best first: (price, size).
    pub asks: Vec<(Decimal, Decimal)>,
    /// Bids, best first.
    pub bids: Vec<(Decimal, Decimal)>,
    /// Time of the last book change (ms).
    pub(crate) book_ts: i64,
}

/// The message kinds of the benchmark flood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FloodKind {
    /// A ticker.
    Ticker,
    /// A trade.
    Trade,
    /// A full order book.
    OrderBook,
}

/// A generated message, shared by every connection that wants it.
#[derive(Debug, Clone)]
pub(crate) enum SimEvent {
    /// Ticker after a trade.
    Ticker(Arc<WireTicker>),
    /// A trade.
    Trade(Arc<WireTrade>),
    /// Full 30-level book.
    OrderBook(Arc<WireOrderBook>),
    /// Current candles of every streamable timeframe after a trade.
    Candles(Arc<Vec<(Timeframe, WireCandle)>>),
}

impl SimEvent {
    /// Market code of the event.
    pub fn code(&self) -> &str {
        match self {
            SimEvent::Ticker(t) => t.code.as_deref().unwrap_or(""),
            SimEvent::Trade(t) => &t.code,
            SimEvent::OrderBook(b) => b.code.as_deref().unwrap_or(""),
            SimEvent::Candles(c) => c.first().and_then(|(_, c)| c.code.as_deref()).unwrap_or(""),
        }
    }
}

fn dec(v: f64) -> Decimal {
    Decimal::from_f64(v).unwrap_or(Decimal::ONE)
}

/// A generated volume at the exchange's volume scale (8 decimals), at least one unit.
/// Counted in units as an integer: `Decimal::from_f64` + `round_dp` cost ~1 µs each, and
/// a book rebuild draws 30 volumes per trade (most of a flood's CPU).
fn volume_units(v: f64) -> Decimal {
    let scale = 10f64.powi(ticks::VOLUME_SCALE as i32);
    let units = (v * scale).round();
    if units.is_finite() && units < i64::MAX as f64 {
        Decimal::new((units as i64).max(1), ticks::VOLUME_SCALE)
    } else {
        dec(v).round_dp(ticks::VOLUME_SCALE)
    }
}

/// Standard normal sample (Box–Muller). The walk's arithmetic is in f64 because it is a
/// statistical model, not money; every price it produces is snapped to a Decimal tick.
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

const STREAM_TFS: [Timeframe; 9] = [
    Timeframe::S1,
    Timeframe::M1,
    Timeframe::M3,
    Timeframe::M5,
    Timeframe::M10,
    Timeframe::M15,
    Timeframe::M30,
    Timeframe::H1,
    Timeframe::H4,
];

impl MarketSim {
    fn new(def: MarketDef, now: i64) -> Self {
        let quote = def.quote().to_string();
        let price =
            ticks::snap(&quote, def.price, Rounding::Nearest).max(ticks::tick_size(&quote, def.price));
        let notional = match quote.as_str() {
            "KRW" => 300_000.0,
            "BTC" => 0.002,
            _ => 200.0,
        };
        let day_start = bucket_start(Timeframe::D1, now);
        MarketSim {
            def,
            price,
            vol: 0.0008,
            base_vol: 0.0008,
            notional,
            day_start,
            open: price,
            high: price,
            low: price,
            prev_close: price,
            acc_price: Decimal::ZERO,
            acc_volume: Decimal::ZERO,
            acc_ask: Decimal::ZERO,
            acc_bid: Decimal::ZERO,
            minutes: VecDeque::new(),
            high52: (price, now),
            low52: (price, now),
            trades: VecDeque::new(),
            candles: BTreeMap::new(),
            asks: Vec::new(),
            bids: Vec::new(),
            book_ts: now,
        }
    }

    /// Quote currency.
    pub fn quote(&self) -> &str {
        self.def.quote()
    }

    /// Tick at the current price.
    pub fn tick(&self) -> Decimal {
        ticks::tick_size(self.quote(), self.price)
    }

    /// Next random price (volatility clustering + rare jumps), on the grid.
    fn next_price(&mut self, rng: &mut StdRng) -> Decimal {
        let shock = normal(rng);
        // GARCH-like: volatility follows the size of recent shocks, mean-reverting to base.
        self.vol =
            (0.9 * self.vol + 0.1 * self.base_vol * (0.5 + shock.abs())).clamp(self.base_vol * 0.2, 0.02);
        let mut ret = self.vol * shock;
        if rng.random_range(0.0..1.0) < 0.002 {
            ret += normal(rng) * 0.01;
        }
        let px = self.price.to_f64().unwrap_or(1.0) * ret.exp();
        let quote = self.def.quote().to_string();
        let candidate = ticks::snap(&quote, dec(px), Rounding::Nearest);
        let floor = ticks::tick_size(&quote, Decimal::ZERO);
        candidate.max(floor)
    }

    fn next_volume(&self, rng: &mut StdRng, price: Decimal) -> Decimal {
        let value = self.notional * (normal(rng) * 1.2).exp();
        let p = price.to_f64().unwrap_or(1.0).max(1e-12);
        volume_units(value / p)
    }

    /// Applies a trade to every statistic. Returns the trade.
    pub(crate) fn apply_trade(&mut self, t: &TradeRec) {
        // Day rollover at UTC midnight (Upbit resets day statistics at 00:00 UTC).
        let day = bucket_start(Timeframe::D1, t.ts);
        if day > self.day_start {
            self.prev_close = self.price;
            self.day_start = day;
            self.open = t.price;
            self.high = t.price;
            self.low = t.price;
            self.acc_price = Decimal::ZERO;
            self.acc_volume = Decimal::ZERO;
            self.acc_ask = Decimal::ZERO;
            self.acc_bid = Decimal::ZERO;
        }
        self.price = t.price;
        self.high = self.high.max(t.price);
        self.low = self.low.min(t.price);
        let value = t.price * t.volume;
        self.acc_price += value;
        self.acc_volume += t.volume;
        match t.side {
            Side::Ask => self.acc_ask += t.volume,
            Side::Bid => self.acc_bid += t.volume,
        }
        let minute = bucket_start(Timeframe::M1, t.ts);
        match self.minutes.back_mut() {
            Some(m) if m.0 == minute => {
                m.1 += value;
                m.2 += t.volume;
            }
            _ => self.minutes.push_back((minute, value, t.volume)),
        }
        while self.minutes.front().is_some_and(|m| m.0 <= t.ts - 86_400_000) {
            self.minutes.pop_front();
        }
        if t.price >= self.high52.0 {
            self.high52 = (t.price, t.ts);
        }
        if t.price <= self.low52.0 {
            self.low52 = (t.price, t.ts);
        }
        self.trades.push_back(t.clone());
        if self.trades.len() > TRADE_HISTORY {
            self.trades.pop_front();
        }
        for tf in Timeframe::ALL {
            let start = bucket_start(tf, t.ts);
            let list = self.candles.entry(tf).or_default();
            match list.back_mut() {
                Some(c) if c.start == start => {
                    c.high = c.high.max(t.price);
                    c.low = c.low.min(t.price);
                    c.close = t.price;
                    c.volume += t.volume;
                    c.value += value;
                    c.last_ts = t.ts;
                }
                last => {
                    let prev_close = last.map(|c| c.close).unwrap_or(t.price);
                    list.push_back(CandleRec {
                        start,
                        open: t.price,
                        high: t.price,
                        low: t.price,
                        close: t.price,
                        volume: t.volume,
                        value,
                        last_ts: t.ts,
                        prev_close,
                    });
                    if list.len() > CANDLE_HISTORY {
                        list.pop_front();
                    }
                }
            }
        }
    }

    /// Puts a saved day's open, range and previous close back (the day's statistics and
    /// its daily candle), once the history before the start has been played: the history
    /// is drawn afresh, the day a trader saw is not.
    fn resume_day(&mut self, d: &SavedDay) {
        if self.day_start != d.start {
            return;
        }
        self.open = d.open;
        self.high = self.high.max(d.high);
        self.low = self.low.min(d.low);
        self.prev_close = d.prev_close;
        if let Some(c) =
            self.candles.get_mut(&Timeframe::D1).and_then(|l| l.back_mut()).filter(|c| c.start == d.start)
        {
            c.open = d.open;
            c.high = c.high.max(d.high);
            c.low = c.low.min(d.low);
            c.prev_close = d.prev_close;
        }
    }

    /// Rebuilds the 30-level book around the last trade.
    fn rebuild_book(&mut self, rng: &mut StdRng, last_side: Side, ts: i64) {
        let quote = self.def.quote().to_string();
        let tick = ticks::tick_size(&quote, self.price);
        let (mut ask, mut bid) = match last_side {
            // A buyer lifted the ask: the ask sits at the trade price.
            Side::Bid => (self.price, ticks::step(&quote, self.price, -1)),
            Side::Ask => (ticks::step(&quote, self.price, 1), self.price),
        };
        if bid <= Decimal::ZERO {
            bid = tick;
            ask = ticks::step(&quote, bid, 1);
        }
        self.asks.clear();
        self.bids.clear();
        for _ in 0..BOOK_DEPTH {
            let a = self.next_volume(rng, ask);
            let b = self.next_volume(rng, bid.max(tick));
            self.asks.push((ask, a));
            if bid > Decimal::ZERO {
                self.bids.push((bid, b));
            }
            ask = ticks::step(&quote, ask, 1);
            bid = ticks::step(&quote, bid, -1);
        }
        self.book_ts = ts;
    }

    /// The ticker in REST shape (`market` set) or websocket shape (`code` set).
    pub fn ticker(&self, now: i64, ws: Option<StreamType>) -> WireTicker {
        let last = self.trades.back();
        let last_ts = last.map(|t| t.ts).unwrap_or(now);
        let change_price = self.price - self.prev_close;
        let change = if change_price > Decimal::ZERO {
            Change::Rise
        } else if change_price < Decimal::ZERO {
            Change::Fall
        } else {
            Change::Even
        };
        let rate = if self.prev_close.is_zero() {
            Decimal::ZERO
        } else {
            (change_price / self.prev_close).round_dp(8)
        };
        let (p24, v24) =
            self.minutes.iter().fold((Decimal::ZERO, Decimal::ZERO), |a, m| (a.0 + m.1, a.1 + m.2));
        let is_ws = ws.is_some();
        WireTicker {
            ty: is_ws.then(|| "ticker".to_string()),
            market: (!is_ws).then(|| self.def.market.clone()),
            code: is_ws.then(|| self.def.market.clone()),
            trade_date: date_str(last_ts, 0, ""),
            trade_time: time_str(last_ts, 0, ""),
            trade_date_kst: (!is_ws).then(|| date_str(last_ts, KST_MS, "")),
            trade_time_kst: (!is_ws).then(|| time_str(last_ts, KST_MS, "")),
            trade_timestamp: last_ts,
            opening_price: self.open,
            high_price: self.high,
            low_price: self.low,
            trade_price: self.price,
            prev_closing_price: self.prev_close,
            change,
            change_price: change_price.abs(),
            change_rate: rate.abs(),
            signed_change_price: change_price,
            signed_change_rate: rate,
            trade_volume: last.map(|t| t.volume).unwrap_or_default(),
            acc_trade_price: self.acc_price,
            acc_trade_price_24h: p24,
            acc_trade_volume: self.acc_volume,
            acc_trade_volume_24h: v24,
            ask_bid: if is_ws { last.map(|t| t.side.into()).or(Some(AskBid::Bid)) } else { None },
            acc_ask_volume: is_ws.then_some(self.acc_ask),
            acc_bid_volume: is_ws.then_some(self.acc_bid),
            highest_52_week_price: self.high52.0,
            highest_52_week_date: date_str(self.high52.1, 0, "-"),
            lowest_52_week_price: self.low52.0,
            lowest_52_week_date: date_str(self.low52.1, 0, "-"),
            market_state: is_ws.then(|| "ACTIVE".to_string()),
            is_trading_suspended: is_ws.then_some(false),
            market_warning: is_ws.then(|| if self.def.warning { "CAUTION" } else { "NONE" }.to_string()),
            delisting_date: None,
            timestamp: now,
            stream_type: ws,
        }
    }

    /// A websocket trade message for a trade record.
    pub(crate) fn wire_trade(&self, t: &TradeRec, now: i64, st: StreamType) -> WireTrade {
        let change_price = t.price - self.prev_close;
        WireTrade {
            ty: "trade".to_string(),
            code: self.def.market.clone(),
            trade_price: t.price,
            trade_volume: t.volume,
            ask_bid: t.side.into(),
            prev_closing_price: self.prev_close,
            change: change_of(change_price),
            change_price: change_price.abs(),
            trade_date: date_str(t.ts, 0, "-"),
            trade_time: time_str(t.ts, 0, ":"),
            trade_timestamp: t.ts,
            timestamp: now,
            sequential_id: t.seq,
            best_ask_price: self.asks.first().map(|a| a.0),
            best_ask_size: self.asks.first().map(|a| a.1),
            best_bid_price: self.bids.first().map(|b| b.0),
            best_bid_size: self.bids.first().map(|b| b.1),
            stream_type: st,
        }
    }

    /// A REST trade tick.
    pub(crate) fn rest_trade(&self, t: &TradeRec) -> RestTradeTick {
        let change_price = t.price - self.prev_close;
        RestTradeTick {
            market: self.def.market.clone(),
            trade_date_utc: date_str(t.ts, 0, "-"),
            trade_time_utc: time_str(t.ts, 0, ":"),
            timestamp: t.ts,
            trade_price: t.price,
            trade_volume: t.volume,
            prev_closing_price: self.prev_close,
            change_price,
            ask_bid: t.side.into(),
            sequential_id: t.seq,
        }
    }

    /// The book with `count` levels grouped by `level` (0 = native tick). `None` when the
    /// level is not supported for this market.
    pub fn book(&self, count: usize, level: Decimal, ws: Option<StreamType>) -> Option<WireOrderBook> {
        let (asks, bids) = if level.is_zero() {
            (self.asks.clone(), self.bids.clone())
        } else {
            if !self.supported_levels().contains(&level) {
                return None;
            }
            (group(&self.asks, level, Rounding::Up), group(&self.bids, level, Rounding::Down))
        };
        let n = count.clamp(1, BOOK_DEPTH);
        let units: Vec<WireBookUnit> = (0..n.min(asks.len().max(bids.len())))
            .map(|i| {
                let a = asks.get(i).copied().unwrap_or_default();
                let b = bids.get(i).copied().unwrap_or_default();
                WireBookUnit { ask_price: a.0, bid_price: b.0, ask_size: a.1, bid_size: b.1 }
            })
            .collect();
        let is_ws = ws.is_some();
        Some(WireOrderBook {
            ty: is_ws.then(|| "orderbook".to_string()),
            market: (!is_ws).then(|| self.def.market.clone()),
            code: is_ws.then(|| self.def.market.clone()),
            timestamp: self.book_ts,
            total_ask_size: units.iter().map(|u| u.ask_size).sum(),
            total_bid_size: units.iter().map(|u| u.bid_size).sum(),
            orderbook_units: units,
            level,
            stream_type: ws,
        })
    }

    /// Grouping levels `orderbook/instruments` advertises (KRW only; `0` everywhere).
    pub(crate) fn supported_levels(&self) -> Vec<Decimal> {
        let mut v = vec![Decimal::ZERO];
        if self.quote() == "KRW" {
            let tick = self.tick();
            let mut l = tick * Decimal::TEN;
            for _ in 0..4 {
                if l <= self.price {
                    v.push(l.normalize());
                }
                l *= Decimal::TEN;
            }
        }
        v
    }

    /// A candle in wire shape.
    pub(crate) fn wire_candle(&self, tf: Timeframe, c: &CandleRec, ws: Option<StreamType>) -> WireCandle {
        let is_ws = ws.is_some();
        let is_day = tf == Timeframe::D1;
        let unit = match tf {
            Timeframe::M1 => Some(1),
            Timeframe::M3 => Some(3),
            Timeframe::M5 => Some(5),
            Timeframe::M10 => Some(10),
            Timeframe::M15 => Some(15),
            Timeframe::M30 => Some(30),
            Timeframe::H1 => Some(60),
            Timeframe::H4 => Some(240),
            _ => None,
        };
        WireCandle {
            ty: if is_ws { crate::exchange::upbit::wire::candle_stream_type(tf) } else { None },
            market: (!is_ws).then(|| self.def.market.clone()),
            code: is_ws.then(|| self.def.market.clone()),
            candle_date_time_utc: iso_naive(c.start, 0),
            candle_date_time_kst: iso_naive(c.start, KST_MS),
            opening_price: c.open,
            high_price: c.high,
            low_price: c.low,
            trade_price: c.close,
            timestamp: c.last_ts,
            candle_acc_trade_price: c.value,
            candle_acc_trade_volume: c.volume,
            unit: if is_ws { None } else { unit },
            prev_closing_price: (is_day && !is_ws).then_some(c.prev_close),
            change_price: (is_day && !is_ws).then_some(c.close - c.prev_close),
            change_rate: (is_day && !is_ws).then(|| {
                if c.prev_close.is_zero() {
                    Decimal::ZERO
                } else {
                    ((c.close - c.prev_close) / c.prev_close).round_dp(8)
                }
            }),
            first_day_of_period: (matches!(tf, Timeframe::W1 | Timeframe::Mo1) && !is_ws)
                .then(|| date_str(c.start, 0, "-")),
            stream_type: ws,
        }
    }

    /// Candles newest first, strictly before `to` (ms), at most `count`.
    pub(crate) fn candles_before(&self, tf: Timeframe, to: i64, count: usize) -> Vec<WireCandle> {
        self.candles
            .get(&tf)
            .map(|l| {
                l.iter()
                    .rev()
                    .filter(|c| c.start < to)
                    .take(count)
                    .map(|c| self.wire_candle(tf, c, None))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn stream_candles(&self) -> Vec<(Timeframe, WireCandle)> {
        STREAM_TFS
            .iter()
            .filter_map(|tf| {
                let c = self.candles.get(tf)?.back()?;
                Some((*tf, self.wire_candle(*tf, c, Some(StreamType::Realtime))))
            })
            .collect()
    }
}

fn change_of(d: Decimal) -> Change {
    if d > Decimal::ZERO {
        Change::Rise
    } else if d < Decimal::ZERO {
        Change::Fall
    } else {
        Change::Even
    }
}

fn group(levels: &[(Decimal, Decimal)], unit: Decimal, r: Rounding) -> Vec<(Decimal, Decimal)> {
    let mut out: Vec<(Decimal, Decimal)> = Vec::new();
    for (p, s) in levels {
        let g = ticks::snap_to(*p, unit, r);
        match out.last_mut() {
            Some(last) if last.0 == g => last.1 += *s,
            _ => out.push((g, *s)),
        }
    }
    out
}

/// All markets plus the seeded random source and the virtual clock.
#[derive(Debug)]
pub(crate) struct Generator {
    rng: StdRng,
    /// Markets in fixture order.
    pub markets: Vec<MarketSim>,
    index: BTreeMap<String, usize>,
    /// Virtual clock (ms).
    pub now: i64,
    seq: i64,
}

impl Generator {
    /// Builds the markets and seeds `history_secs` of past trades (every 10 s per market)
    /// plus a year of daily candles so REST candles answer from the start.
    #[cfg(test)]
    pub fn new(defs: Vec<MarketDef>, seed: u64, start_ms: i64, history_secs: i64) -> Self {
        Generator::resumed(defs, seed, start_ms, history_secs, &BTreeMap::new())
    }

    /// As [`Generator::new`], but the markets in `saved` (a restarted demo session's) end
    /// their history at the saved price with the saved volatility, so the walk goes on
    /// from where it was: the history before the start is drawn backwards from that price.
    /// A market not in `saved` starts from the seed's price as always. With anything
    /// saved, the random source also takes the start time, so a restart does not replay
    /// the last session's moves.
    pub(crate) fn resumed(
        defs: Vec<MarketDef>,
        seed: u64,
        start_ms: i64,
        history_secs: i64,
        saved: &BTreeMap<String, SavedMarket>,
    ) -> Self {
        let seed = if saved.is_empty() { seed } else { seed ^ (start_ms as u64).rotate_left(17) };
        let mut rng = StdRng::seed_from_u64(seed);
        let hist_start = start_ms - history_secs * 1000;
        let today = bucket_start(Timeframe::D1, start_ms);
        let mut markets: Vec<MarketSim> = defs
            .into_iter()
            .map(|mut d| {
                if let Some(s) = saved.get(&d.market).filter(|s| s.price > Decimal::ZERO) {
                    d.price = s.price;
                }
                MarketSim::new(d, hist_start)
            })
            .collect();
        let mut seq = 0i64;
        for m in markets.iter_mut() {
            // The saved day goes on only within the same UTC day: a later day starts from
            // the saved price as its previous close.
            let day = saved.get(&m.def.market).and_then(|s| s.day.clone()).filter(|d| {
                d.start == today
                    && [d.open, d.high, d.low, d.prev_close].iter().all(|p| *p > Decimal::ZERO)
                    && d.low <= d.high
            });
            let last_close = day.as_ref().map_or(m.price, |d| d.prev_close);
            seed_daily_history(m, &mut rng, hist_start, last_close);
            let stamps: Vec<i64> =
                (0..).map(|k| hist_start + k * 10_000).take_while(|ts| *ts < start_ms).collect();
            let prices: Vec<Decimal> = match saved.get(&m.def.market).filter(|s| s.price > Decimal::ZERO) {
                None => Vec::new(),
                Some(s) => {
                    // Walked from the saved price into the past, then played forward: the
                    // last trade before the start is at the saved price.
                    let end = m.price;
                    let mut back = vec![end];
                    while back.len() < stamps.len() {
                        let p = m.next_price(&mut rng);
                        m.price = p;
                        back.push(p);
                    }
                    back.reverse();
                    if let Some(first) = back.first() {
                        m.price = *first;
                    }
                    if s.vol.is_finite() {
                        m.vol = s.vol.clamp(m.base_vol * 0.2, 0.02);
                    }
                    back
                }
            };
            for (k, ts) in stamps.into_iter().enumerate() {
                let price = match prices.get(k) {
                    Some(p) => *p,
                    None => m.next_price(&mut rng),
                };
                let volume = m.next_volume(&mut rng, price);
                let side = side_for(m.price, price, &mut rng);
                seq += 1;
                let t = TradeRec { price, volume, side, ts, seq: ts * 10_000 + seq % 10_000 };
                m.apply_trade(&t);
            }
            if let Some(d) = day {
                m.resume_day(&d);
            }
            m.rebuild_book(&mut rng, Side::Bid, start_ms);
        }
        let index = markets.iter().enumerate().map(|(i, m)| (m.def.market.clone(), i)).collect();
        Generator { rng, markets, index, now: start_ms, seq }
    }

    /// Where every market stands, for the state file.
    pub(crate) fn saved_market(&self) -> BTreeMap<String, SavedMarket> {
        self.markets
            .iter()
            .map(|m| {
                let day = SavedDay {
                    start: m.day_start,
                    open: m.open,
                    high: m.high,
                    low: m.low,
                    prev_close: m.prev_close,
                };
                (m.def.market.clone(), SavedMarket { price: m.price, vol: m.vol, day: Some(day) })
            })
            .collect()
    }

    /// A market by code.
    pub fn market(&self, code: &str) -> Option<&MarketSim> {
        self.index.get(code).map(|i| &self.markets[*i])
    }

    /// A market by code, mutable (orders take liquidity from its book).
    pub(crate) fn market_mut(&mut self, code: &str) -> Option<&mut MarketSim> {
        let i = *self.index.get(code)?;
        self.markets.get_mut(i)
    }

    /// Records fills an order took from the book as public trades (the book itself is
    /// not regenerated: the taken levels stay gone until the next generated trade) and
    /// returns the trade, ticker, book and candle events they cause.
    pub(crate) fn record_fills(&mut self, code: &str, fills: &[(Decimal, Decimal, Side)]) -> Vec<SimEvent> {
        let Some(&i) = self.index.get(code) else { return Vec::new() };
        if fills.is_empty() {
            return Vec::new();
        }
        let now = self.now;
        let mut out = Vec::with_capacity(fills.len() * 2 + 2);
        for (price, volume, side) in fills {
            self.seq += 1;
            let t = TradeRec {
                price: *price,
                volume: *volume,
                side: *side,
                ts: now,
                seq: now * 10_000 + self.seq % 10_000,
            };
            let m = &mut self.markets[i];
            m.apply_trade(&t);
            out.push(SimEvent::Trade(Arc::new(m.wire_trade(&t, now, StreamType::Realtime))));
            out.push(SimEvent::Ticker(Arc::new(m.ticker(now, Some(StreamType::Realtime)))));
        }
        let m = &mut self.markets[i];
        m.book_ts = now;
        if let Some(b) = m.book(BOOK_DEPTH, Decimal::ZERO, Some(StreamType::Realtime)) {
            out.push(SimEvent::OrderBook(Arc::new(b)));
        }
        out.push(SimEvent::Candles(Arc::new(m.stream_candles())));
        out
    }

    /// Advances the clock by `dt_ms` and produces one trade on a random market (weighted
    /// toward the first, most liquid markets) with the ticker, book and candles it causes.
    pub fn step(&mut self, dt_ms: i64) -> Vec<SimEvent> {
        match self.next_trade(dt_ms) {
            Some((i, price, volume, side)) => self.trade_at(i, price, volume, side),
            None => Vec::new(),
        }
    }

    /// One generated trade, as [`Generator::step`], but only the message of `kind` is built
    /// (the benchmark flood sends one kind per message). The trade updates the market's
    /// price, statistics and candles as always; the book is rebuilt only when it is the
    /// kind asked for, so between book messages REST serves the last book built.
    pub(crate) fn step_one(&mut self, dt_ms: i64, kind: FloodKind) -> Option<SimEvent> {
        let (i, price, volume, side) = self.next_trade(dt_ms)?;
        let t = self.record_trade(i, price, volume, side);
        let now = self.now;
        let m = &mut self.markets[i];
        Some(match kind {
            FloodKind::Ticker => SimEvent::Ticker(Arc::new(m.ticker(now, Some(StreamType::Realtime)))),
            FloodKind::Trade => SimEvent::Trade(Arc::new(m.wire_trade(&t, now, StreamType::Realtime))),
            FloodKind::OrderBook => {
                m.rebuild_book(&mut self.rng, side, now);
                SimEvent::OrderBook(Arc::new(m.book(
                    BOOK_DEPTH,
                    Decimal::ZERO,
                    Some(StreamType::Realtime),
                )?))
            }
        })
    }

    /// Advances the clock by `dt_ms` and draws the next trade: (market index, price,
    /// volume, side).
    fn next_trade(&mut self, dt_ms: i64) -> Option<(usize, Decimal, Decimal, Side)> {
        self.now += dt_ms.max(0);
        let n = self.markets.len();
        if n == 0 {
            return None;
        }
        // Square of a uniform: low indices (BTC, ETH, …) trade more often.
        let u: f64 = self.rng.random_range(0.0..1.0);
        let i = ((u * u) * n as f64) as usize % n;
        let m = &mut self.markets[i];
        let price = m.next_price(&mut self.rng);
        let volume = m.next_volume(&mut self.rng, price);
        let side = side_for(m.price, price, &mut self.rng);
        Some((i, price, volume, side))
    }

    /// Applies a trade on market `i` at the current time to its statistics.
    fn record_trade(&mut self, i: usize, price: Decimal, volume: Decimal, side: Side) -> TradeRec {
        self.seq += 1;
        let now = self.now;
        let t = TradeRec { price, volume, side, ts: now, seq: now * 10_000 + self.seq % 10_000 };
        self.markets[i].apply_trade(&t);
        t
    }

    /// Forces a trade at `price` (snapped onto the grid) on `code`: scripted ticks for tests.
    pub fn script_trade(&mut self, code: &str, price: Decimal, volume: Decimal, side: Side) -> Vec<SimEvent> {
        let Some(&i) = self.index.get(code) else { return Vec::new() };
        let quote = self.markets[i].quote().to_string();
        // Never at or below zero: the lowest price is one minimum tick.
        let price =
            ticks::snap(&quote, price, Rounding::Nearest).max(ticks::tick_size(&quote, Decimal::ZERO));
        let volume = volume.max(Decimal::new(1, ticks::VOLUME_SCALE));
        self.trade_at(i, price, volume, side)
    }

    fn trade_at(&mut self, i: usize, price: Decimal, volume: Decimal, side: Side) -> Vec<SimEvent> {
        let t = self.record_trade(i, price, volume, side);
        let now = self.now;
        let m = &mut self.markets[i];
        m.rebuild_book(&mut self.rng, side, now);
        let mut out = Vec::with_capacity(4);
        out.push(SimEvent::Trade(Arc::new(m.wire_trade(&t, now, StreamType::Realtime))));
        out.push(SimEvent::Ticker(Arc::new(m.ticker(now, Some(StreamType::Realtime)))));
        if let Some(b) = m.book(BOOK_DEPTH, Decimal::ZERO, Some(StreamType::Realtime)) {
            out.push(SimEvent::OrderBook(Arc::new(b)));
        }
        out.push(SimEvent::Candles(Arc::new(m.stream_candles())));
        out
    }
}

fn side_for(old: Decimal, new: Decimal, rng: &mut StdRng) -> Side {
    if new > old {
        Side::Bid
    } else if new < old {
        Side::Ask
    } else if rng.random_range(0..2) == 0 {
        Side::Bid
    } else {
        Side::Ask
    }
}

/// A year of daily candles ending with yesterday's close at `last_close` (walked
/// backwards), also setting the previous close and the 52-week range.
fn seed_daily_history(m: &mut MarketSim, rng: &mut StdRng, start: i64, last_close: Decimal) {
    let quote = m.quote().to_string();
    let today = bucket_start(Timeframe::D1, start);
    let mut close = last_close;
    let mut days: Vec<CandleRec> = Vec::new();
    for d in 1..=365i64 {
        let day = today - d * 86_400_000;
        let ret = normal(rng) * 0.03;
        let open = ticks::snap(&quote, dec(close.to_f64().unwrap_or(1.0) * (-ret).exp()), Rounding::Nearest)
            .max(ticks::tick_size(&quote, Decimal::ZERO));
        let wiggle = 1.0 + normal(rng).abs() * 0.01;
        let hi = ticks::snap(&quote, dec(open.max(close).to_f64().unwrap_or(1.0) * wiggle), Rounding::Up);
        let lo = ticks::snap(&quote, dec(open.min(close).to_f64().unwrap_or(1.0) / wiggle), Rounding::Down)
            .max(ticks::tick_size(&quote, Decimal::ZERO));
        let volume =
            dec(m.notional * 3000.0 * (normal(rng) * 0.5).exp() / close.to_f64().unwrap_or(1.0).max(1e-12))
                .round_dp(ticks::VOLUME_SCALE);
        days.push(CandleRec {
            start: day,
            open,
            high: hi,
            low: lo,
            close,
            volume,
            value: (volume * close).round_dp(8),
            last_ts: day + 86_399_000,
            prev_close: open,
        });
        close = open;
    }
    days.reverse();
    // prev_close of each day = close of the day before.
    for i in 1..days.len() {
        days[i].prev_close = days[i - 1].close;
    }
    let (mut h, mut l) = ((m.price, start), (m.price, start));
    for c in &days {
        if c.high >= h.0 {
            h = (c.high, c.start);
        }
        if c.low <= l.0 {
            l = (c.low, c.start);
        }
    }
    m.high52 = h;
    m.low52 = l;
    if let Some(last) = days.last() {
        m.prev_close = last.close;
    }
    // Weeks and months from the days.
    for tf in [Timeframe::W1, Timeframe::Mo1] {
        let mut out: VecDeque<CandleRec> = VecDeque::new();
        for c in &days {
            let s = bucket_start(tf, c.start);
            match out.back_mut() {
                Some(w) if w.start == s => {
                    w.high = w.high.max(c.high);
                    w.low = w.low.min(c.low);
                    w.close = c.close;
                    w.volume += c.volume;
                    w.value += c.value;
                    w.last_ts = c.last_ts;
                }
                _ => out.push_back(CandleRec { start: s, ..c.clone() }),
            }
        }
        m.candles.insert(tf, out);
    }
    m.candles.insert(Timeframe::D1, days.into_iter().collect());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_are_written_like_upbit() {
        // 2024-10-31T01:07:42.047Z
        let ts = 1_730_336_862_047;
        assert_eq!(date_str(ts, 0, ""), "20241031");
        assert_eq!(time_str(ts, 0, ""), "010742");
        assert_eq!(date_str(ts, 0, "-"), "2024-10-31");
        assert_eq!(time_str(ts, 0, ":"), "01:07:42");
        assert_eq!(time_str(ts, KST_MS, ""), "100742");
        assert_eq!(date_str(ts + 23 * 3_600_000, KST_MS, ""), "20241101");
    }

    #[test]
    fn volume_units_are_exact_at_eight_decimals_and_never_zero() {
        assert_eq!(volume_units(0.123456789), Decimal::new(12345679, 8));
        assert_eq!(volume_units(1500.0), Decimal::new(1500, 0));
        assert_eq!(volume_units(1e-12), Decimal::new(1, 8));
        assert_eq!(volume_units(0.0), Decimal::new(1, 8));
        // Past i64 units: the slow exact path, still at the scale.
        assert_eq!(volume_units(1e12).scale(), 0);
        assert!(volume_units(1e12) > Decimal::from(999_999_999_999u64));
    }

    #[test]
    fn fixture_has_enough_krw_markets_with_events() {
        let m = load_markets(None).unwrap();
        assert!(m.iter().filter(|m| m.quote() == "KRW").count() >= 30);
        assert!(m.iter().any(|m| m.quote() == "BTC"));
        assert!(m.iter().any(|m| m.quote() == "USDT"));
        assert!(m.iter().any(|m| m.warning));
        assert!(m.iter().any(|m| !m.caution.is_empty()));
    }

    #[test]
    fn prices_and_book_stay_on_the_grid() {
        let mut g = Generator::new(load_markets(Some(5)).unwrap(), 7, 1_750_000_000_000, 600);
        for _ in 0..500 {
            g.step(100);
        }
        for m in &g.markets {
            assert!(ticks::is_on_tick(m.quote(), m.price), "{} {}", m.def.market, m.price);
            assert_eq!(m.asks.len(), BOOK_DEPTH);
            for w in m.asks.windows(2) {
                assert!(w[0].0 < w[1].0);
            }
            for w in m.bids.windows(2) {
                assert!(w[0].0 > w[1].0);
            }
            assert!(m.bids[0].0 < m.asks[0].0);
            let t = m.ticker(g.now, None);
            assert!(t.high_price >= t.low_price);
            assert_eq!(t.signed_change_price, t.trade_price - t.prev_closing_price);
        }
    }

    /// A demo restart within the same UTC day keeps the day's open and previous close:
    /// the 24 h change goes on from where it was (every market read 0.00% after a
    /// restart, the resumed history starting the day at the saved price).
    #[test]
    fn a_resumed_market_keeps_its_day_and_its_24h_change() {
        let start = 1_750_000_000_000;
        let g = Generator::new(load_markets(Some(3)).unwrap(), 7, start, 600);
        let code = g.markets[0].def.market.clone();
        let mut saved = g.saved_market();
        let s = saved.get_mut(&code).unwrap();
        // A day that has moved: opened and closed yesterday well below the last price.
        let day = s.day.as_mut().unwrap();
        day.prev_close = ticks::snap(g.markets[0].quote(), s.price * dec(0.9), Rounding::Nearest);
        day.open = ticks::snap(g.markets[0].quote(), s.price * dec(0.95), Rounding::Nearest);
        day.low = day.low.min(day.open);
        let (price, day) = (s.price, day.clone());

        let later = start + 60_000;
        let r = Generator::resumed(load_markets(Some(3)).unwrap(), 7, later, 600, &saved);
        let t = r.market(&code).unwrap().ticker(later, None);
        assert_eq!(t.trade_price, price);
        assert_eq!((t.opening_price, t.prev_closing_price), (day.open, day.prev_close));
        assert!(t.signed_change_rate > dec(0.1), "the change goes on: {}", t.signed_change_rate);
        assert!(t.low_price <= day.open && t.high_price >= price);
        let d1 = r.market(&code).unwrap().candles[&Timeframe::D1].back().unwrap().clone();
        assert_eq!((d1.open, d1.prev_close), (day.open, day.prev_close));

        // The next day, the saved day is over: its last price is the previous close.
        let tomorrow = bucket_start(Timeframe::D1, start) + 86_400_000 + 3_600_000;
        let r = Generator::resumed(load_markets(Some(3)).unwrap(), 7, tomorrow, 600, &saved);
        assert_eq!(r.market(&code).unwrap().ticker(tomorrow, None).prev_closing_price, price);
    }

    #[test]
    fn same_seed_same_stream() {
        let run = |seed| {
            let mut g = Generator::new(load_markets(Some(5)).unwrap(), seed, 1_750_000_000_000, 60);
            (0..200).flat_map(|_| g.step(10)).map(|e| format!("{e:?}")).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }
}
