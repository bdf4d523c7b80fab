//! The simulator's Binance spot side: Binance's public REST (`/api/v3/…`, [`rest`]) and
//! market-data websocket (`/stream`, `/ws`, [`ws`]) on the same port as Upbit's, and the
//! USD/KRW reference rate (`GET /fx/usd-krw`).
//!
//! Binance trades follow Upbit's: every Upbit trade on `KRW-X` (generated, scripted or an
//! order's fill, as it is published) prints a trade on `XUSDT` at Upbit's price divided
//! by the dollar rate and the premium of that instant ([`prices`]), snapped to the
//! symbol's tick, at the touch of a one-tick book around it. Candles from the trades
//! since the generator's start; before it, Upbit's drawn history divided the same way.
//! Only coins Binance lists ([`SPECS`]); Upbit's Korean-only coins have no symbol.

pub(crate) mod prices;
mod rest;
mod ws;

use crate::sim::history::{mix, unit};
use std::collections::VecDeque;
use std::sync::Mutex;

use axum::Router;
use axum::routing::get;
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::history::Span;
use super::market::{CandleRec, Generator, SimEvent, bucket_start};
use super::server::{Shared, lock};
use crate::exchange::types::Timeframe;
use prices::{Model, f};

use std::sync::Arc;

/// One listed coin: its tick and lot step (as Binance's `PRICE_FILTER` / `LOT_SIZE`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    /// Base asset (`BTC`).
    pub coin: &'static str,
    /// `PRICE_FILTER.tickSize`.
    pub tick: &'static str,
    /// `LOT_SIZE.stepSize`.
    pub step: &'static str,
}

const fn spec(coin: &'static str, tick: &'static str, step: &'static str) -> Spec {
    Spec { coin, tick, step }
}

/// The coins of Upbit's fixture that Binance lists against USDT, with Binance's filters.
pub(crate) const SPECS: &[Spec] = &[
    spec("BTC", "0.01", "0.00001"),
    spec("ETH", "0.01", "0.0001"),
    spec("XRP", "0.0001", "0.1"),
    spec("SOL", "0.01", "0.001"),
    spec("DOGE", "0.00001", "1"),
    spec("ADA", "0.0001", "0.1"),
    spec("TRX", "0.0001", "0.1"),
    spec("AVAX", "0.01", "0.01"),
    spec("LINK", "0.01", "0.01"),
    spec("DOT", "0.001", "0.01"),
    spec("BCH", "0.1", "0.001"),
    spec("ETC", "0.01", "0.01"),
    spec("XLM", "0.0001", "1"),
    spec("SHIB", "0.00000001", "1"),
    spec("HBAR", "0.00001", "1"),
    spec("SUI", "0.0001", "0.1"),
    spec("NEAR", "0.001", "0.1"),
    spec("APT", "0.001", "0.01"),
    spec("ARB", "0.0001", "0.1"),
    spec("SEI", "0.0001", "0.1"),
    spec("STX", "0.0001", "0.1"),
    spec("SAND", "0.0001", "1"),
    spec("MANA", "0.0001", "1"),
    spec("AXS", "0.001", "0.01"),
    spec("ATOM", "0.001", "0.01"),
    spec("NEO", "0.01", "0.01"),
    spec("QTUM", "0.001", "0.1"),
    spec("IOST", "0.000001", "1"),
    spec("PEPE", "0.00000001", "1"),
    spec("BONK", "0.00000001", "1"),
];

/// Binance's `NOTIONAL.minNotional` of the USDT symbols.
pub(crate) const MIN_NOTIONAL: &str = "5";
/// Binance trades this many times Upbit's volume on a coin.
const VOLUME_SCALE: Decimal = rust_decimal_macros::dec!(4);
/// Trades, and candles per interval, kept per symbol (1m: a day and then some, for the
/// rolling 24 h statistics).
const TRADES_KEPT: usize = 1000;
const KLINES_KEPT: usize = 1500;

/// Binance's kline intervals, shortest first.
pub(crate) const INTERVALS: [&str; 16] =
    ["1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"];

const MIN_MS: i64 = 60_000;

/// Length of a fixed interval (ms); `None` for weeks and months (calendar buckets).
fn fixed_ms(i: usize) -> Option<i64> {
    Some(match INTERVALS[i] {
        "1s" => 1000,
        "1m" => MIN_MS,
        "3m" => 3 * MIN_MS,
        "5m" => 5 * MIN_MS,
        "15m" => 15 * MIN_MS,
        "30m" => 30 * MIN_MS,
        "1h" => 60 * MIN_MS,
        "2h" => 120 * MIN_MS,
        "4h" => 240 * MIN_MS,
        "6h" => 360 * MIN_MS,
        "8h" => 480 * MIN_MS,
        "12h" => 720 * MIN_MS,
        "1d" => 1440 * MIN_MS,
        "3d" => 3 * 1440 * MIN_MS,
        _ => return None,
    })
}

/// Start of the bucket of interval `i` holding `ts` (UTC; 3d counted from the epoch, weeks
/// from Monday, months from the 1st).
pub(crate) fn bucket(i: usize, ts: i64) -> i64 {
    match fixed_ms(i) {
        Some(len) => ts - ts.rem_euclid(len),
        None if INTERVALS[i] == "1w" => bucket_start(Timeframe::W1, ts),
        None => bucket_start(Timeframe::Mo1, ts),
    }
}

/// Start of the bucket after the one starting at `start`.
pub(crate) fn next_bucket(i: usize, start: i64) -> i64 {
    match fixed_ms(i) {
        Some(len) => start + len,
        None if INTERVALS[i] == "1w" => start + 7 * 1440 * MIN_MS,
        None => Span::Tf(Timeframe::Mo1).next(start),
    }
}

/// Start of the bucket before the one starting at `start`.
pub(crate) fn prev_bucket(i: usize, start: i64) -> i64 {
    match fixed_ms(i) {
        Some(len) => start - len,
        None if INTERVALS[i] == "1w" => start - 7 * 1440 * MIN_MS,
        None => Span::Tf(Timeframe::Mo1).prev(start),
    }
}

/// The interval index of a Binance name (`1m`), case-sensitive as Binance's.
pub(crate) fn interval_of(name: &str) -> Option<usize> {
    INTERVALS.iter().position(|i| *i == name)
}

/// One trade.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Trade {
    pub id: i64,
    pub price: Decimal,
    pub qty: Decimal,
    pub time: i64,
    /// The buyer was the maker (the taker sold).
    pub buyer_maker: bool,
}

/// One kline.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Kline {
    pub start: i64,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
    pub quote: Decimal,
    pub count: i64,
    /// First and last trade id (-1: none, a drawn or empty kline).
    pub first_id: i64,
    pub last_id: i64,
    pub taker_base: Decimal,
    pub taker_quote: Decimal,
}

impl Kline {
    /// A kline with no trade at `price` (Binance keeps every bucket of a trading symbol).
    fn flat(start: i64, price: Decimal) -> Kline {
        Kline {
            start,
            open: price,
            high: price,
            low: price,
            close: price,
            volume: Decimal::ZERO,
            quote: Decimal::ZERO,
            count: 0,
            first_id: -1,
            last_id: -1,
            taker_base: Decimal::ZERO,
            taker_quote: Decimal::ZERO,
        }
    }

    fn add(&mut self, t: &Trade) {
        let q = t.price * t.qty;
        self.high = self.high.max(t.price);
        self.low = self.low.min(t.price);
        self.close = t.price;
        self.volume += t.qty;
        self.quote += q;
        self.count += 1;
        if self.first_id < 0 {
            self.first_id = t.id;
        }
        self.last_id = t.id;
        if !t.buyer_maker {
            self.taker_base += t.qty;
            self.taker_quote += q;
        }
    }
}

/// `d` with Binance's eight decimals (`"4.00000200"`).
pub(crate) fn fmt8(d: Decimal) -> String {
    let mut x = d;
    x.rescale(8);
    x.to_string()
}

/// A book level: (price, quantity).
pub(crate) type Level = (Decimal, Decimal);

/// A symbol's live state.
#[derive(Debug, Clone)]
pub(crate) struct Sym {
    pub spec: Spec,
    /// `BTCUSDT`.
    pub symbol: String,
    /// `btcusdt` (stream names).
    pub lower: String,
    /// `KRW-BTC`.
    pub upbit: String,
    pub tick: Decimal,
    pub step: Decimal,
    pub price: Decimal,
    pub bid: Decimal,
    pub ask: Decimal,
    pub update_id: i64,
    next_id: i64,
    pub trades: VecDeque<Trade>,
    /// Per interval (index of [`INTERVALS`]), oldest first.
    pub klines: Vec<VecDeque<Kline>>,
    /// Drawn hourly klines before the trades began (the rolling 24 h before then).
    pre_hours: Vec<Kline>,
    /// Where the trades begin (ms): klines of earlier buckets are drawn.
    pub live_from: i64,
    key: u64,
    /// Typical value of one book level (USDT).
    level_value: f64,
}

/// `v` snapped down to `step` (at least one step).
fn lot(v: Decimal, step: Decimal) -> Decimal {
    if step.is_zero() {
        return v;
    }
    ((v / step).floor() * step).max(step).normalize()
}

impl Sym {
    fn new(spec: Spec, seed: u64, index: usize, live_from: i64) -> Sym {
        let tick: Decimal = spec.tick.parse().unwrap_or(Decimal::ONE);
        let step: Decimal = spec.step.parse().unwrap_or(Decimal::ONE);
        let key = spec.coin.bytes().fold(mix(seed ^ 0xB1_0A_4C_E0), |k, b| mix(k ^ u64::from(b)));
        // Binance's own trade ids: large, per symbol, seeded.
        let next_id = 100_000_000 * (index as i64 + 3) + (key % 50_000_000) as i64;
        let level_value = match spec.coin {
            "BTC" => 40_000.0,
            "ETH" => 20_000.0,
            "XRP" | "SOL" | "DOGE" => 8_000.0,
            _ => 2_500.0,
        };
        Sym {
            spec,
            symbol: format!("{}USDT", spec.coin),
            lower: format!("{}usdt", spec.coin.to_ascii_lowercase()),
            upbit: format!("KRW-{}", spec.coin),
            tick,
            step,
            price: tick,
            bid: tick,
            ask: tick,
            update_id: 1_000_000_000 + (key % 1_000_000_000) as i64,
            next_id,
            trades: VecDeque::new(),
            klines: vec![VecDeque::new(); INTERVALS.len()],
            pre_hours: Vec::new(),
            live_from,
            key,
            level_value,
        }
    }

    /// The symbol without its trades and klines (what [`Sym::drawn`] needs).
    fn light(&self) -> Sym {
        Sym {
            spec: self.spec,
            symbol: self.symbol.clone(),
            lower: self.lower.clone(),
            upbit: self.upbit.clone(),
            tick: self.tick,
            step: self.step,
            price: self.price,
            bid: self.bid,
            ask: self.ask,
            update_id: self.update_id,
            next_id: self.next_id,
            trades: VecDeque::new(),
            klines: Vec::new(),
            pre_hours: Vec::new(),
            live_from: self.live_from,
            key: self.key,
            level_value: self.level_value,
        }
    }

    /// A drawn Upbit candle as this symbol's kline: prices divided at the bucket's start.
    fn drawn(&self, model: &Model, c: &CandleRec) -> Kline {
        let factor = model.factor(self.spec.coin, c.start);
        let p = |krw: Decimal| prices::usdt_price(krw, factor, self.tick);
        let volume = if c.volume.is_zero() { Decimal::ZERO } else { lot(c.volume * VOLUME_SCALE, self.step) };
        let quote =
            if factor.is_zero() { Decimal::ZERO } else { (c.value * VOLUME_SCALE / factor).round_dp(8) };
        let h = mix(self.key ^ c.start as u64);
        let share = Decimal::from_f64(0.4 + 0.2 * unit(h)).unwrap_or(Decimal::ONE / Decimal::TWO).round_dp(4);
        let count = (f(quote) / (self.level_value / 40.0)).round().max(1.0) as i64;
        Kline {
            start: c.start,
            open: p(c.open),
            high: p(c.high),
            low: p(c.low),
            close: p(c.close),
            volume,
            quote,
            count,
            first_id: -1,
            last_id: -1,
            taker_base: (volume * share / self.step).floor() * self.step,
            taker_quote: (quote * share).round_dp(8),
        }
    }

    /// Prints a trade at `price` (the taker bought when `buy`), the book's touch moving to
    /// it first.
    fn print(&mut self, price: Decimal, qty: Decimal, buy: bool, time: i64) -> Trade {
        if buy {
            self.ask = price;
            self.bid = (price - self.tick).max(Decimal::ZERO);
        } else {
            self.bid = price;
            self.ask = price + self.tick;
        }
        self.update_id += 1;
        let t = Trade { id: self.next_id, price, qty, time, buyer_maker: !buy };
        self.next_id += 1;
        self.price = price;
        self.trades.push_back(t.clone());
        if self.trades.len() > TRADES_KEPT {
            self.trades.pop_front();
        }
        for (i, list) in self.klines.iter_mut().enumerate() {
            let b = bucket(i, time);
            match list.back_mut() {
                Some(k) if k.start == b => k.add(&t),
                _ => {
                    let mut k = Kline::flat(b, price);
                    k.add(&t);
                    list.push_back(k);
                    if list.len() > KLINES_KEPT {
                        list.pop_front();
                    }
                }
            }
        }
        t
    }

    /// The size of the book level at `price`, `depth` levels from the touch: drawn from
    /// the price and the book's version in tens, so a level keeps its size for a while.
    fn level_qty(&self, price: Decimal, depth: usize) -> Decimal {
        let units = (price / self.tick).trunc().mantissa() as u64;
        let h = mix(self.key ^ mix(units ^ ((self.update_id / 16) as u64).rotate_left(32)));
        let tail = unit(h).powf(-1.0 / 1.6).min(25.0);
        let value = self.level_value * 0.15 * tail * (1.0 + depth as f64 / 10.0);
        let qty = Decimal::from_f64(value / f(self.price).max(1e-12)).unwrap_or(self.step);
        lot(qty, self.step)
    }

    /// The top `n` levels a side (bids best first, asks best first).
    pub(crate) fn book(&self, n: usize) -> (Vec<Level>, Vec<Level>) {
        let mut bids = Vec::with_capacity(n);
        let mut p = self.bid;
        while bids.len() < n && p >= self.tick {
            bids.push((p, self.level_qty(p, bids.len())));
            p -= self.tick;
        }
        let asks = (0..n)
            .map(|k| {
                let p = self.ask + self.tick * Decimal::from(k);
                (p, self.level_qty(p, k))
            })
            .collect();
        (bids, asks)
    }

    /// The book as Binance writes it (REST depth and the partial-book stream).
    pub(crate) fn depth_json(&self, n: usize) -> Value {
        let (bids, asks) = self.book(n);
        let side = |l: Vec<(Decimal, Decimal)>| -> Vec<[String; 2]> {
            l.into_iter().map(|(p, q)| [fmt8(p), fmt8(q)]).collect()
        };
        json!({"lastUpdateId": self.update_id, "bids": side(bids), "asks": side(asks)})
    }

    /// Rolling 24 h statistics at `now`: (open, high, low, volume, quote, count, last id,
    /// prev close).
    fn rolling(&self, now: i64) -> Rolling {
        let from = now - 86_400_000;
        let mut r = Rolling { open: None, high: self.price, low: self.price, ..Rolling::default() };
        let minutes = &self.klines[1];
        let live_first = minutes.front().map_or(now, |k| k.start);
        let drawn = self.pre_hours.iter().filter(|k| k.start + 3_600_000 > from && k.start < live_first);
        for k in drawn.chain(minutes.iter().filter(|k| k.start + MIN_MS > from)) {
            r.open.get_or_insert(k.open);
            r.high = r.high.max(k.high);
            r.low = r.low.min(k.low);
            r.volume += k.volume;
            r.quote += k.quote;
            r.count += k.count;
        }
        r
    }

    /// The 24 h ticker (REST `ticker/24hr` FULL); `ws`: the `24hrTicker` event's
    /// one-letter fields instead.
    pub(crate) fn ticker_json(&self, now: i64, ws: bool) -> Value {
        let r = self.rolling(now);
        let open = r.open.unwrap_or(self.price);
        let change = self.price - open;
        let pct =
            if open.is_zero() { Decimal::ZERO } else { (change * Decimal::ONE_HUNDRED / open).round_dp(3) };
        let wavg = if r.volume.is_zero() { self.price } else { (r.quote / r.volume).round_dp(8) };
        let last = self.trades.back();
        let last_id = last.map_or(self.next_id - 1, |t| t.id);
        let first_id = last_id - r.count.max(1) + 1;
        let (bids, asks) = self.book(1);
        let (bid, bid_q) = bids.first().copied().unwrap_or_default();
        let (ask, ask_q) = asks.first().copied().unwrap_or_default();
        let last_q = last.map_or(Decimal::ZERO, |t| t.qty);
        let mut pct_s = pct;
        pct_s.rescale(3);
        if ws {
            json!({
                "e": "24hrTicker", "E": now, "s": self.symbol,
                "p": fmt8(change), "P": pct_s.to_string(), "w": fmt8(wavg), "x": fmt8(open),
                "c": fmt8(self.price), "Q": fmt8(last_q), "b": fmt8(bid), "B": fmt8(bid_q),
                "a": fmt8(ask), "A": fmt8(ask_q), "o": fmt8(open), "h": fmt8(r.high),
                "l": fmt8(r.low), "v": fmt8(r.volume), "q": fmt8(r.quote.round_dp(8)),
                "O": now - 86_400_000, "C": now, "F": first_id, "L": last_id, "n": r.count.max(1),
            })
        } else {
            json!({
                "symbol": self.symbol, "priceChange": fmt8(change), "priceChangePercent": pct_s.to_string(),
                "weightedAvgPrice": fmt8(wavg), "prevClosePrice": fmt8(open), "lastPrice": fmt8(self.price),
                "lastQty": fmt8(last_q), "bidPrice": fmt8(bid), "bidQty": fmt8(bid_q), "askPrice": fmt8(ask),
                "askQty": fmt8(ask_q), "openPrice": fmt8(open), "highPrice": fmt8(r.high),
                "lowPrice": fmt8(r.low), "volume": fmt8(r.volume), "quoteVolume": fmt8(r.quote.round_dp(8)),
                "openTime": now - 86_400_000, "closeTime": now, "firstId": first_id, "lastId": last_id,
                "count": r.count.max(1),
            })
        }
    }

    /// A trade as the REST `trades` list writes it.
    pub(crate) fn trade_json(t: &Trade) -> Value {
        json!({
            "id": t.id, "price": fmt8(t.price), "qty": fmt8(t.qty),
            "quoteQty": fmt8((t.price * t.qty).round_dp(8)), "time": t.time,
            "isBuyerMaker": t.buyer_maker, "isBestMatch": true,
        })
    }

    /// A trade as the `@trade` stream writes it.
    pub(crate) fn trade_event(&self, t: &Trade, now: i64) -> Value {
        json!({
            "e": "trade", "E": now, "s": self.symbol, "t": t.id, "p": fmt8(t.price),
            "q": fmt8(t.qty), "T": t.time, "m": t.buyer_maker, "M": true,
        })
    }

    /// The current kline of interval `i` as the `@kline_<i>` stream writes it.
    pub(crate) fn kline_event(&self, i: usize, now: i64) -> Value {
        let b = bucket(i, now);
        let k = match self.klines[i].back() {
            Some(k) if k.start == b => k.clone(),
            _ => Kline::flat(b, self.price),
        };
        json!({
            "e": "kline", "E": now, "s": self.symbol,
            "k": {
                "t": k.start, "T": next_bucket(i, k.start) - 1, "s": self.symbol, "i": INTERVALS[i],
                "f": k.first_id, "L": k.last_id, "o": fmt8(k.open), "c": fmt8(k.close),
                "h": fmt8(k.high), "l": fmt8(k.low), "v": fmt8(k.volume), "n": k.count,
                "x": false, "q": fmt8(k.quote.round_dp(8)), "V": fmt8(k.taker_base),
                "Q": fmt8(k.taker_quote.round_dp(8)), "B": "0",
            }
        })
    }
}

/// A kline as the REST `klines` list writes it.
pub(crate) fn kline_row(i: usize, k: &Kline) -> Value {
    json!([
        k.start,
        fmt8(k.open),
        fmt8(k.high),
        fmt8(k.low),
        fmt8(k.close),
        fmt8(k.volume),
        next_bucket(i, k.start) - 1,
        fmt8(k.quote.round_dp(8)),
        k.count,
        fmt8(k.taker_base),
        fmt8(k.taker_quote.round_dp(8)),
        "0"
    ])
}

#[derive(Debug, Default)]
struct Rolling {
    open: Option<Decimal>,
    high: Decimal,
    low: Decimal,
    volume: Decimal,
    quote: Decimal,
    count: i64,
}

/// A Binance trade as broadcast to the websocket connections.
#[derive(Debug, Clone)]
pub(crate) struct Tick {
    /// Index into [`Market::syms`].
    pub sym: usize,
    pub trade: Trade,
}

/// Every symbol.
#[derive(Debug)]
pub(crate) struct Market {
    pub syms: Vec<Sym>,
    /// Virtual time of the last trade printed (ms).
    pub now: i64,
}

impl Market {
    /// The index of `symbol` (`BTCUSDT`).
    pub(crate) fn index(&self, symbol: &str) -> Option<usize> {
        self.syms.iter().position(|s| s.symbol == symbol)
    }
}

/// The per-minute request-weight budget (Binance's `REQUEST_WEIGHT`, 6,000 per minute).
pub(crate) const WEIGHT_PER_MINUTE: u32 = 6000;

/// The weight used in the current wall-clock minute.
#[derive(Debug, Default)]
pub(crate) struct Weight {
    minute: i64,
    used: u32,
}

impl Weight {
    /// Adds a request's weight: `Ok(used)` or, over the budget, `Err((used, seconds to
    /// the next minute))` (the refused request counts too, as Binance counts it).
    pub(crate) fn add(&mut self, w: u32, now_ms: i64, enforce: bool) -> Result<u32, (u32, i64)> {
        let minute = now_ms.div_euclid(MIN_MS);
        if minute != self.minute {
            self.minute = minute;
            self.used = 0;
        }
        self.used = self.used.saturating_add(w);
        if enforce && self.used > WEIGHT_PER_MINUTE {
            let retry = ((minute + 1) * MIN_MS - now_ms + 999) / 1000;
            return Err((self.used, retry.max(1)));
        }
        Ok(self.used)
    }
}

/// The simulator's Binance venue.
#[derive(Debug)]
pub(crate) struct Venue {
    pub model: Model,
    pub market: Mutex<Market>,
    pub tx: broadcast::Sender<Tick>,
    pub weight: Mutex<Weight>,
}

impl Venue {
    /// The venue of the Upbit markets in `gen_`: the symbols of the listed coins among
    /// them, their trades since the history's start replayed from Upbit's, and the drawn
    /// part of the buckets and hours before it.
    pub(crate) fn new(gen_: &Generator, seed: u64) -> Venue {
        let model = Model::new(seed);
        let mut syms = Vec::new();
        let mut replay: Vec<(i64, i64, usize, Decimal, Decimal, bool)> = Vec::new();
        for (index, spec) in SPECS.iter().enumerate() {
            let Some(m) = gen_.market(&format!("KRW-{}", spec.coin)) else { continue };
            let live_from = m.live_from();
            let mut s = Sym::new(*spec, seed, index, live_from);
            let factor = model.factor(spec.coin, live_from);
            let first = m.trades.front().map_or(m.price, |t| t.price);
            s.price = prices::usdt_price(first, factor, s.tick);
            s.bid = (s.price - s.tick).max(Decimal::ZERO);
            s.ask = s.price;
            // The drawn part of each interval's first bucket, as Upbit's candles hold it.
            for i in 0..INTERVALS.len() {
                let b = bucket(i, live_from);
                if let Some(c) = m.drawn_candle(b, live_from) {
                    let k = s.drawn(&model, &c);
                    s.klines[i].push_back(k);
                }
            }
            let first_hour = bucket(6, live_from - 86_400_000);
            let mut h = first_hour;
            let minute = bucket(1, live_from);
            while h < minute {
                let e = (h + 3_600_000).min(minute);
                if let Some(c) = m.drawn_candle(h, e) {
                    s.pre_hours.push(s.drawn(&model, &c));
                }
                h += 3_600_000;
            }
            let at = syms.len();
            for t in &m.trades {
                replay.push((
                    t.ts,
                    t.seq,
                    at,
                    t.price,
                    t.volume,
                    t.side == crate::exchange::types::Side::Bid,
                ));
            }
            syms.push(s);
        }
        replay.sort_by_key(|r| (r.0, r.1));
        let mut market = Market { syms, now: gen_.now };
        for (ts, _, at, krw, vol, buy) in replay {
            let s = &mut market.syms[at];
            let price = prices::usdt_price(krw, model.factor(s.spec.coin, ts), s.tick);
            let qty = lot(vol * VOLUME_SCALE, s.step);
            s.print(price, qty, buy, ts);
        }
        let (tx, _) = broadcast::channel(4096);
        Venue { model, market: Mutex::new(market), tx, weight: Mutex::new(Weight::default()) }
    }

    /// Prints the Binance trades of Upbit's published trades and broadcasts them.
    pub(crate) fn on_upbit(&self, events: &[SimEvent]) {
        let mut ticks = Vec::new();
        {
            let mut m = lock(&self.market);
            for e in events {
                let SimEvent::Trade(t) = e else { continue };
                let Some(at) = m.syms.iter().position(|s| s.upbit == t.code) else { continue };
                let ts = t.trade_timestamp;
                m.now = m.now.max(ts);
                let s = &mut m.syms[at];
                let price = prices::usdt_price(t.trade_price, self.model.factor(s.spec.coin, ts), s.tick);
                let qty = lot(t.trade_volume * VOLUME_SCALE, s.step);
                let buy = matches!(t.ask_bid, crate::exchange::upbit::wire::AskBid::Bid);
                let trade = s.print(price, qty, buy, ts);
                ticks.push(Tick { sym: at, trade });
            }
        }
        for t in ticks {
            let _ = self.tx.send(t);
        }
    }

    /// Klines of interval `i` for `sym`, oldest first: open times in `[from, to]`, the
    /// first `limit` of them when `from` is given, else the last `limit`. Buckets before
    /// the trades are drawn from Upbit's history (`drawn`: the Upbit candle of a span).
    pub(crate) fn klines(
        &self,
        sym: usize,
        i: usize,
        from: Option<i64>,
        to: i64,
        limit: usize,
        drawn: &dyn Fn(i64, i64) -> Option<CandleRec>,
    ) -> Vec<Kline> {
        // Drawn candles come from Upbit's market: asked for with our lock released.
        let mut out: Vec<Result<Kline, (i64, i64)>> = Vec::new();
        let conv = {
            let m = lock(&self.market);
            let Some(s) = m.syms.get(sym) else { return Vec::new() };
            let to = to.min(m.now);
            let last = bucket(i, to);
            let mut starts = Vec::with_capacity(limit);
            match from {
                Some(from) => {
                    let mut b = bucket(i, from);
                    if b < from {
                        b = next_bucket(i, b);
                    }
                    while starts.len() < limit && b <= last {
                        starts.push(b);
                        b = next_bucket(i, b);
                    }
                }
                None => {
                    let mut b = last;
                    while starts.len() < limit {
                        starts.push(b);
                        b = prev_bucket(i, b);
                    }
                    starts.reverse();
                }
            }
            let live = &s.klines[i];
            let front = live.front().map_or(i64::MAX, |k| k.start);
            let mut prev: Option<Decimal> = None;
            for b in starts {
                if b >= front {
                    let k = match live.iter().find(|k| k.start == b) {
                        Some(k) => k.clone(),
                        None => {
                            let p = prev.or_else(|| live.iter().rev().find(|k| k.start < b).map(|k| k.close));
                            Kline::flat(b, p.unwrap_or(s.price))
                        }
                    };
                    prev = Some(k.close);
                    out.push(Ok(k));
                } else {
                    out.push(Err((b, next_bucket(i, b).min(front))));
                }
            }
            s.light()
        };
        out.into_iter()
            .filter_map(|k| match k {
                Ok(k) => Some(k),
                Err((b, e)) => drawn(b, e).map(|c| conv.drawn(&self.model, &c)),
            })
            .collect()
    }
}

/// The simulator's Binance routes and the FX endpoint (mounted beside Upbit's).
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v3/ping", get(rest::ping))
        .route("/api/v3/time", get(rest::time))
        .route("/api/v3/exchangeInfo", get(rest::exchange_info))
        .route("/api/v3/ticker/24hr", get(rest::ticker_24hr))
        .route("/api/v3/depth", get(rest::depth))
        .route("/api/v3/trades", get(rest::trades))
        .route("/api/v3/klines", get(rest::klines))
        .route("/fx/usd-krw", get(rest::fx_usd_krw))
        .route("/stream", get(ws::combined_upgrade))
        .route("/ws", get(ws::raw_upgrade))
        .route("/ws/{*streams}", get(ws::raw_path_upgrade))
}

/// Every Upbit trade published prints its Binance trade (the flood, a benchmark of
/// Upbit's feed, prints none).
pub(crate) fn on_published(sh: &Shared, events: &[SimEvent], flood: bool) {
    if !flood {
        sh.binance.on_upbit(events);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_of_every_interval() {
        let t = 1_733_443_275_123i64; // 2024-12-06 00:01:15.123 UTC, a Friday
        assert_eq!(bucket(0, t), 1_733_443_275_000);
        assert_eq!(bucket(1, t), 1_733_443_260_000);
        assert_eq!(bucket(12, t), 1_733_443_200_000);
        assert_eq!(bucket(14, t), 1_733_097_600_000); // Monday 2024-12-02
        assert_eq!(bucket(15, t), 1_733_011_200_000); // 2024-12-01
        assert_eq!(next_bucket(15, 1_733_011_200_000), 1_735_689_600_000);
        assert_eq!(prev_bucket(15, 1_733_011_200_000), 1_730_419_200_000);
        for (i, name) in INTERVALS.iter().enumerate() {
            let b = bucket(i, t);
            assert!(b <= t && next_bucket(i, b) > t, "{name}");
            assert_eq!(prev_bucket(i, next_bucket(i, b)), b, "{name}");
        }
    }

    #[test]
    fn numbers_have_eight_decimals() {
        assert_eq!(fmt8(Decimal::new(4_000_002, 6)), "4.00000200");
        assert_eq!(fmt8(Decimal::from(97000)), "97000.00000000");
    }
}
