//! Seeded market-data generator, calibrated to real markets (docs/SIMULATOR.md): per market
//! a fair price that moves in virtual time (volatility per √second by market class, with
//! quiet and busy periods and occasional bursts), a 30-level book on Upbit's tick grid that
//! makers keep around it, and trades that take the best bid or ask of that book; from the
//! trades, tickers with every day / 24 h / 52-week statistic and candles for every
//! timeframe. History before the start is drawn on demand ([`super::history`]).
//!
//! The generator owns a virtual clock and is driven by [`Generator::step`], never by the
//! wall clock, so the same seed and start time give the same message stream (tests rely on
//! it). The server task calls `step` at the configured rate; each step is one trade on a
//! market chosen by its class's trade rate and its current activity.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use chrono::{Datelike, TimeZone, Timelike, Utc};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde::Deserialize;

use super::history::{self, PricePath, Span};
use super::persist::{SavedAnchor, SavedDay, SavedMarket};
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

/// Upbit's `KRW-USDT`: kept in every cut of the market list.
pub(crate) const RATE_MARKET: &str = "KRW-USDT";

/// The embedded market list, optionally cut to the first `limit` KRW markets (other quotes
/// are kept so BTC/USDT markets always exist, and `KRW-USDT` too: see [`RATE_MARKET`]).
pub(crate) fn load_markets(limit: Option<usize>) -> Result<Vec<MarketDef>, MarketError> {
    let all: Vec<MarketDef> = serde_json::from_str(FIXTURE)?;
    let Some(limit) = limit else { return Ok(all) };
    let mut krw = 0usize;
    Ok(all
        .into_iter()
        .filter(|m| {
            // Tether stays whatever the cut: it is the won's dollar rate on the exchange, the
            // rate the kimchi premium is measured against (and a market traders watch).
            if m.market == RATE_MARKET {
                return true;
            }
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

/// A book level: (price, size).
type Level = (Decimal, Decimal);

/// The live state of one market.
#[derive(Debug, Clone)]
pub(crate) struct MarketSim {
    /// Fixture entry.
    pub(crate) def: MarketDef,
    /// Last price.
    pub price: Decimal,
    /// What the market is calibrated to.
    pub(crate) cal: Calibration,
    /// The fair price the makers quote around (moves in virtual time).
    fair: f64,
    /// Log of the activity level (volatility and trade-rate multiplier), mean-reverting.
    ln_act: f64,
    /// The activity level of `ln_act` (kept: every step weighs every market by it).
    act: f64,
    /// Virtual time the fair price was last moved to (ms).
    last_ms: i64,
    /// The book's best ask and bid (price, size) when the last generated trade printed:
    /// the trade message's `best_*` fields, keyed by the trade's sequential id.
    print_touch: Option<(i64, Level, Level)>,
    /// The best (bid, ask) of the last book message sent for this market (`None`: none
    /// yet). A trade that meets another touch sends its book first: on the wire, quotes
    /// move before trades meet them.
    published: Option<(Option<Decimal>, Option<Decimal>)>,
    /// The past before `live_from`, drawn on demand.
    path: PricePath,
    /// What `path`'s kept past is made from (saved: a restart draws the same past).
    anchor: SavedAnchor,
    /// Where the generated trades begin (ms): candles from the bucket holding it on are
    /// built from trades; earlier ones come from `path`.
    live_from: i64,
    /// No drawn candle starts before this (ms; `i64::MIN`: as far back as the path goes).
    /// A market listed during the session sets it to the listing time: it has no past.
    pub(crate) history_from: i64,
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
    /// `KRW-USDT` only: the seed of the USD/KRW model its fair price is pulled toward
    /// (Upbit's tether trades near the dollar rate times its own premium).
    usdt_anchor: Option<u64>,
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
pub(crate) fn volume_units(v: f64) -> Decimal {
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

/// What one market is calibrated to: how far it moves, how often it trades, how tight its
/// book is. The figures and what they come from are in docs/SIMULATOR.md.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Calibration {
    /// Standard deviation of the log price over one hour at ordinary activity.
    pub hourly_vol: f64,
    /// Relative rate of trades (the share of the generator's steps this market gets).
    pub weight: f64,
    /// Spread the makers keep, in ticks.
    pub spread_ticks: i32,
    /// Typical trade value in the quote currency.
    pub notional: f64,
    /// Trades per second at ordinary activity (sets the volume of the drawn history).
    pub trades_per_s: f64,
}

/// Coins traded like large caps (about 1 %/h).
const LARGE_CAPS: [&str; 12] =
    ["XRP", "SOL", "DOGE", "ADA", "TRX", "AVAX", "LINK", "DOT", "BCH", "ETC", "XLM", "SUI"];

impl Calibration {
    /// The class of a market code (`KRW-BTC`): by its coin, then thinned for the BTC and
    /// USDT quote markets, which trade far less than the KRW ones.
    pub(crate) fn for_market(market: &str) -> Calibration {
        let mut parts = market.split('-');
        let quote = parts.next().unwrap_or("KRW");
        let coin = parts.next().unwrap_or("");
        let mut c = match coin {
            "BTC" => Calibration {
                hourly_vol: 0.0035,
                weight: 30.0,
                spread_ticks: 1,
                notional: 0.0,
                trades_per_s: 6.0,
            },
            "ETH" => Calibration {
                hourly_vol: 0.005,
                weight: 15.0,
                spread_ticks: 1,
                notional: 0.0,
                trades_per_s: 3.0,
            },
            "USDT" | "USDC" => Calibration {
                hourly_vol: 0.0008,
                weight: 4.0,
                spread_ticks: 1,
                notional: 0.0,
                trades_per_s: 1.5,
            },
            c if LARGE_CAPS.contains(&c) => Calibration {
                hourly_vol: 0.01,
                weight: 5.0,
                spread_ticks: 1,
                notional: 0.0,
                trades_per_s: 1.0,
            },
            _ => Calibration {
                hourly_vol: 0.02,
                weight: 1.0,
                spread_ticks: 2,
                notional: 0.0,
                trades_per_s: 0.2,
            },
        };
        match quote {
            "KRW" => c.notional = if coin == "BTC" { 700_000.0 } else { 300_000.0 },
            "BTC" => {
                c.notional = 0.003;
                c.weight *= 0.02;
                c.spread_ticks += 2;
                c.trades_per_s *= 0.02;
            }
            _ => {
                c.notional = 250.0;
                c.weight *= if coin == "BTC" { 0.1 } else { 0.05 };
                c.spread_ticks += 1;
                c.trades_per_s *= 0.05;
            }
        }
        c
    }

    /// Log-price standard deviation per √second.
    fn sigma(&self) -> f64 {
        self.hourly_vol / 60.0
    }
}

/// Time scale of the activity level's mean reversion (s): busy and quiet spells last tens
/// of minutes.
const ACTIVITY_TAU_S: f64 = 1200.0;
/// Stationary standard deviation of the log activity level.
const ACTIVITY_SD: f64 = 0.45;
/// Mean time between bursts (s) per market: a burst multiplies activity (volatility and
/// trade rate) by about three to five, then decays with the activity's time scale.
const BURST_EVERY_S: f64 = 3.0 * 3600.0;

impl MarketSim {
    fn new(def: MarketDef, seed: u64, start: i64, live_from: i64) -> Self {
        let quote = def.quote().to_string();
        let price =
            ticks::snap(&quote, def.price, Rounding::Nearest).max(ticks::tick_size(&quote, def.price));
        let cal = Calibration::for_market(&def.market);
        let fair = price.to_f64().unwrap_or(1.0);
        let key = history::market_key(seed, &def.market);
        let path = PricePath::new(key, &quote, start, fair, &cal);
        let anchor = SavedAnchor { start, price, key, pin: None };
        let day_start = bucket_start(Timeframe::D1, live_from);
        MarketSim {
            def,
            price,
            cal,
            fair,
            ln_act: 0.0,
            act: (-ACTIVITY_SD * ACTIVITY_SD).exp(),
            last_ms: start,
            print_touch: None,
            published: None,
            path,
            anchor,
            live_from,
            history_from: i64::MIN,
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
            high52: (price, start),
            low52: (price, start),
            trades: VecDeque::new(),
            candles: BTreeMap::new(),
            asks: Vec::new(),
            bids: Vec::new(),
            book_ts: start,
            usdt_anchor: None,
        }
    }

    /// Quote currency.
    pub fn quote(&self) -> &str {
        self.def.quote()
    }

    /// Where the generated trades begin (ms): buckets before it are drawn from the path.
    pub(crate) fn live_from(&self) -> i64 {
        self.live_from
    }

    /// The drawn candle of `[s_ms, e_ms)` (before [`MarketSim::live_from`]); `None` before
    /// the market's history begins.
    pub(crate) fn drawn_candle(&self, s_ms: i64, e_ms: i64) -> Option<CandleRec> {
        (s_ms >= self.path.floor_ms().max(self.history_from) && e_ms > s_ms)
            .then(|| self.path.candle(s_ms, e_ms))
    }

    /// Tick at the current price.
    pub fn tick(&self) -> Decimal {
        ticks::tick_size(self.quote(), self.price)
    }

    /// The activity level (multiplies volatility and trade rate; mean square one).
    pub(crate) fn activity(&self) -> f64 {
        self.act
    }

    fn set_ln_act(&mut self, x: f64) {
        self.ln_act = x.clamp(-2.0, 1.6);
        self.act = (self.ln_act - ACTIVITY_SD * ACTIVITY_SD).exp();
    }

    /// Moves the activity level and the fair price on to `now`: the move's size follows the
    /// virtual time elapsed, not the number of trades.
    fn advance(&mut self, now: i64, rng: &mut StdRng) {
        let dt = (now - self.last_ms).max(0) as f64 / 1000.0;
        self.last_ms = self.last_ms.max(now);
        if dt <= 0.0 {
            return;
        }
        let a = (-dt / ACTIVITY_TAU_S).exp();
        self.ln_act = self.ln_act * a + ACTIVITY_SD * (1.0 - a * a).sqrt() * normal(rng);
        if rng.random_range(0.0..1.0) < 1.0 - (-dt / BURST_EVERY_S).exp() {
            self.ln_act += 1.2 + 0.4 * normal(rng).abs();
        }
        self.set_ln_act(self.ln_act);
        let step = self.cal.sigma() * self.activity() * dt.sqrt() * normal(rng);
        let floor = ticks::tick_size(self.quote(), Decimal::ZERO).to_f64().unwrap_or(1e-8);
        self.fair = (self.fair * step.exp()).max(floor);
        if let Some(seed) = self.usdt_anchor {
            self.fair = super::binance::prices::pull_krw_usdt(seed, now, dt, self.fair);
        }
    }

    /// A maker's size for a level `depth` ticks from the touch: heavy-tailed (Pareto),
    /// deeper levels larger.
    fn level_size(&self, rng: &mut StdRng, price: Decimal, depth: usize) -> Decimal {
        let u: f64 = rng.random_range(f64::EPSILON..1.0);
        let value = 1.5 * self.cal.notional * u.powf(-1.0 / 1.6).min(30.0) * (1.0 + depth as f64 / 8.0);
        volume_units(value / price.to_f64().unwrap_or(1.0).max(1e-12))
    }

    /// A taker's size: heavy-tailed, most trades small, a few many times the typical.
    fn trade_size(&self, rng: &mut StdRng, price: Decimal) -> Decimal {
        let u: f64 = rng.random_range(f64::EPSILON..1.0);
        let value = 0.5 * self.cal.notional * u.powf(-1.0 / 1.3).min(200.0);
        volume_units(value / price.to_f64().unwrap_or(1.0).max(1e-12))
    }

    /// Puts the touch at (`bid`, `ask`): levels that stay on their side keep their sizes
    /// (the book is the same makers' orders), new ones get fresh sizes, 30 per side. Only
    /// the levels that change are stepped to (a shift of a few ticks costs a few steps).
    fn requote(&mut self, rng: &mut StdRng, bid: Decimal, ask: Decimal, ts: i64) {
        let quote = self.quote().to_string();
        let floor = ticks::tick_size(&quote, Decimal::ZERO);
        let ask = ask.max(ticks::step(&quote, floor, 1));
        let old = std::mem::take(&mut self.asks);
        let asks = self.side_from(rng, &quote, ask, old, 1, floor);
        let bid = bid.min(ticks::step(&quote, asks[0].0, -1));
        let old = std::mem::take(&mut self.bids);
        let bids = if bid < floor { Vec::new() } else { self.side_from(rng, &quote, bid, old, -1, floor) };
        self.asks = asks;
        self.bids = bids;
        self.book_ts = ts;
    }

    /// One side of the book starting at `touch` and going away from it (`dir` 1: asks
    /// upward, −1: bids downward): fresh levels up to where `old` still holds, then the old
    /// levels, then fresh ones to 30.
    fn side_from(
        &self,
        rng: &mut StdRng,
        quote: &str,
        touch: Decimal,
        old: Vec<(Decimal, Decimal)>,
        dir: i32,
        floor: Decimal,
    ) -> Vec<(Decimal, Decimal)> {
        let behind = |p: Decimal, q: Decimal| if dir > 0 { p < q } else { p > q };
        let kept: Vec<(Decimal, Decimal)> = old.into_iter().filter(|o| !behind(o.0, touch)).collect();
        let mut out = Vec::with_capacity(BOOK_DEPTH);
        let mut p = touch;
        while out.len() < BOOK_DEPTH && kept.first().is_none_or(|k| behind(p, k.0)) && p >= floor {
            let size = self.level_size(rng, p, out.len());
            out.push((p, size));
            p = ticks::step(quote, p, dir);
        }
        // The kept levels are consecutive ticks from where the fresh ones stop.
        out.extend(kept.into_iter().take(BOOK_DEPTH - out.len()));
        while out.len() < BOOK_DEPTH {
            let Some(last) = out.last() else { break };
            let p = ticks::step(quote, last.0, dir);
            if p < floor || p == last.0 {
                break;
            }
            let size = self.level_size(rng, p, out.len());
            out.push((p, size));
        }
        out
    }

    /// The touch the makers want around the fair price: the bid at or below it, the ask
    /// `spread_ticks` above.
    fn quotes_at_fair(&self) -> (Decimal, Decimal) {
        let quote = self.quote();
        let floor = ticks::tick_size(quote, Decimal::ZERO);
        let bid = ticks::snap(quote, dec(self.fair), Rounding::Down).max(floor);
        (bid, ticks::step(quote, bid, self.cal.spread_ticks.max(1)))
    }

    /// Moves the market on to `now`, before a trade: the fair price walks over the time
    /// since it last moved, and makers whose quotes it left behind requote around it. The
    /// requote is stamped just before `now` (not before the market's last event): the
    /// quotes moved while the price did, and the trade meets them after.
    fn move_to(&mut self, now: i64, rng: &mut StdRng) {
        let since = self.last_ms;
        self.advance(now, rng);
        let quote = self.quote();
        let fair = self.fair;
        let stale = match (self.bids.first(), self.asks.first()) {
            (Some(b), Some(a)) => {
                // A gap a trade left (a level taken whole and not refilled) lasts until the
                // next trade: makers step into a spread wider than they keep. Left open, the
                // gaps added up to spreads of a quarter of the price on thin markets, and
                // the trades printed at both ends of it.
                let wide = ticks::step(quote, b.0, self.cal.spread_ticks.max(1)) < a.0;
                let tick = ticks::tick_size(quote, b.0).to_f64().unwrap_or(0.0);
                let (b, a) = (b.0.to_f64().unwrap_or(0.0), a.0.to_f64().unwrap_or(0.0));
                wide || fair > a + 2.0 * tick || fair < b - 2.0 * tick
            }
            _ => true,
        };
        if stale {
            // Makers follow the price between trades: the book is where the fair price is.
            let (b, a) = self.quotes_at_fair();
            self.requote(rng, b, a, (now - 1).max(since).min(now));
        }
    }

    /// The book as it stands, as a message, when its touch is not the one last sent for
    /// this market (a trade is about to meet it); `None` when the last book sent shows it.
    fn moved_book(&mut self) -> Option<WireOrderBook> {
        let touch = (self.bids.first().map(|b| b.0), self.asks.first().map(|a| a.0));
        if self.published == Some(touch) {
            return None;
        }
        self.published = Some(touch);
        self.book(BOOK_DEPTH, Decimal::ZERO, Some(StreamType::Realtime))
    }

    /// The book as a realtime message, noted as the last one sent for this market.
    fn published_book(&mut self) -> Option<WireOrderBook> {
        self.published = Some((self.bids.first().map(|b| b.0), self.asks.first().map(|a| a.0)));
        self.book(BOOK_DEPTH, Decimal::ZERO, Some(StreamType::Realtime))
    }

    /// One generated trade at `now` on the book [`MarketSim::move_to`] left: a taker takes
    /// the best ask (buy) or bid (sell), and a level taken whole moves the touch. Returns
    /// (price, volume, taker side); the touch before the trade is kept for the trade
    /// message.
    fn take(&mut self, now: i64, rng: &mut StdRng) -> (Decimal, Decimal, Side) {
        let quote = self.quote().to_string();
        let fair = self.fair;
        let (Some(&(bid, bid_size)), Some(&(ask, ask_size))) = (self.bids.first(), self.asks.first()) else {
            // No bid fits above zero: a sell at the ask side's floor cannot happen; buy.
            let (p, s) = self.asks.first().copied().unwrap_or((self.price, Decimal::ONE));
            return (p, s.min(self.trade_size(rng, p)), Side::Bid);
        };
        let (bf, af) = (bid.to_f64().unwrap_or(0.0), ask.to_f64().unwrap_or(0.0));
        let buy = if fair >= af {
            true
        } else if fair <= bf {
            false
        } else {
            rng.random_range(0.0..1.0) < (fair - bf) / (af - bf).max(f64::MIN_POSITIVE)
        };
        self.print_touch = Some((0, (ask, ask_size), (bid, bid_size)));
        let (price, level) = if buy { (ask, ask_size) } else { (bid, bid_size) };
        let through = if buy { fair > af } else { fair < bf };
        let want = self.trade_size(rng, price);
        let volume = if through { level } else { want.min(level) };
        let side = if buy { Side::Bid } else { Side::Ask };
        let tight = self.cal.spread_ticks <= 1;
        if volume >= level {
            // The level is gone: the price moved through it (the other side steps up to
            // it) or it refills; now and then the gap stays a moment (a wider spread).
            if buy {
                self.asks.remove(0);
            } else {
                self.bids.remove(0);
            }
            let gap_stays = rng.random_range(0.0..1.0) < if tight { 0.1 } else { 0.4 };
            if !gap_stays {
                let s = self.cal.spread_ticks.max(1);
                if through {
                    let (b, a) = if buy {
                        (price, ticks::step(&quote, price, s))
                    } else {
                        (ticks::step(&quote, price, -s), price)
                    };
                    self.requote(rng, b, a, now);
                } else {
                    let fresh = self.level_size(rng, price, 0);
                    if buy {
                        self.asks.insert(0, (price, fresh));
                        self.asks.truncate(BOOK_DEPTH);
                    } else {
                        self.bids.insert(0, (price, fresh));
                        self.bids.truncate(BOOK_DEPTH);
                    }
                }
            }
            self.fill_depth(rng);
        } else if buy {
            self.asks[0].1 -= volume;
        } else {
            self.bids[0].1 -= volume;
        }
        // Makers elsewhere in the book add and cancel.
        if rng.random_range(0.0..1.0) < 0.3 {
            let depth = rng.random_range(1..10usize);
            let bid_side = rng.random_range(0..2) == 0;
            let levels = if bid_side { &self.bids } else { &self.asks };
            if let Some(&(p, _)) = levels.get(depth) {
                let size = self.level_size(rng, p, depth);
                let levels = if bid_side { &mut self.bids } else { &mut self.asks };
                levels[depth].1 = size;
            }
        }
        self.book_ts = now;
        (price, volume, side)
    }

    /// Tops both sides back up to 30 levels at their far ends.
    fn fill_depth(&mut self, rng: &mut StdRng) {
        let quote = self.quote().to_string();
        let floor = ticks::tick_size(&quote, Decimal::ZERO);
        while self.asks.len() < BOOK_DEPTH {
            let p = match self.asks.last() {
                Some(l) => ticks::step(&quote, l.0, 1),
                None => self.bids.first().map_or(self.price, |b| ticks::step(&quote, b.0, 2)),
            };
            let depth = self.asks.len();
            let size = self.level_size(rng, p, depth);
            self.asks.push((p, size));
        }
        while self.bids.len() < BOOK_DEPTH {
            let p = match self.bids.last() {
                Some(l) => ticks::step(&quote, l.0, -1),
                None => ticks::step(&quote, self.asks[0].0, -2),
            };
            if p < floor {
                break;
            }
            let depth = self.bids.len();
            let size = self.level_size(rng, p, depth);
            self.bids.push((p, size));
        }
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
                    // A market's first candle (a new listing's) closes on from the day's
                    // previous close: the listing price.
                    let prev_close = last.map(|c| c.close).unwrap_or(self.prev_close);
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
            delisting_date: is_ws.then_some(None),
            timestamp: now,
            stream_type: ws,
        }
    }

    /// A websocket trade message for a trade record.
    pub(crate) fn wire_trade(&self, t: &TradeRec, now: i64, st: StreamType) -> WireTrade {
        let change_price = t.price - self.prev_close;
        // The touch the trade printed against (a generated trade), else the book now.
        let (ask, bid) = match self.print_touch {
            Some((seq, a, b)) if seq == t.seq => (Some(a), Some(b)),
            _ => (self.asks.first().copied(), self.bids.first().copied()),
        };
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
            best_ask_price: ask.map(|a| a.0),
            best_ask_size: ask.map(|a| a.1),
            best_bid_price: bid.map(|b| b.0),
            best_bid_size: bid.map(|b| b.1),
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
            (
                group(&self.deepen(&self.asks, level, count, true), level, Rounding::Up),
                group(&self.deepen(&self.bids, level, count, false), level, Rounding::Down),
            )
        };
        let units = book_units(&asks, &bids, count);
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

    /// One side of the book (best first) with the depth past its kept levels that a book
    /// grouped by `unit` reaches: Upbit groups its whole book, so a grouped book has
    /// `count` buckets however coarse, while this book keeps 30 ticks a side. The ticks
    /// of the last kept level's bucket past it, and each further bucket, get the size
    /// their ticks would hold, drawn from the bucket's price (the same bucket has the same
    /// size in every message while the book stays there).
    fn deepen(&self, side: &[Level], unit: Decimal, count: usize, ask: bool) -> Vec<Level> {
        let mut out: Vec<Level> = side.iter().copied().filter(|l| !l.0.is_zero()).collect();
        let (Some(&(touch, _)), Some(&(last, _))) = (out.first(), out.last()) else { return out };
        let rounding = if ask { Rounding::Up } else { Rounding::Down };
        let mut g = ticks::snap_to(last, unit, rounding);
        let ticks_between = |a: Decimal, b: Decimal| {
            let tick = ticks::tick_size(self.quote(), a.min(b));
            ((a - b).abs() / tick).to_f64().unwrap_or(0.0)
        };
        let missing = ticks_between(g, last);
        if missing > 0.0 {
            out.push((g, self.deep_size(g, missing, ticks_between(g, touch))));
        }
        let mut buckets = group(&out, unit, rounding).len();
        while buckets < count.clamp(1, BOOK_DEPTH) {
            g = if ask { g + unit } else { g - unit };
            if g <= Decimal::ZERO {
                break;
            }
            let n = (unit / ticks::tick_size(self.quote(), g)).to_f64().unwrap_or(1.0);
            out.push((g, self.deep_size(g, n, ticks_between(g, touch))));
            buckets += 1;
        }
        out
    }

    /// The size `ticks` ticks of resting orders around `price`, `depth` ticks from the
    /// touch, hold: a maker's mean size per tick (as [`Self::level_size`] draws them, deeper
    /// larger up to five times) with ±30 % drawn from the price.
    fn deep_size(&self, price: Decimal, ticks: f64, depth: f64) -> Decimal {
        use std::hash::{Hash, Hasher};
        // Fixed keys: the same draw in every run and message.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.def.market.hash(&mut h);
        price.normalize().to_string().hash(&mut h);
        let u = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
        let per_tick = 1.5 * self.cal.notional * 2.3 * (0.7 + 0.6 * u) * (1.0 + depth / 8.0).min(5.0);
        volume_units(per_tick * ticks / price.to_f64().unwrap_or(1.0).max(1e-12))
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

    /// Candles newest first, starting strictly before `to` (ms), at most `count`: those
    /// built from trades, then the drawn history before them, back as far as the path
    /// reaches (seconds: three months before `now`, as Upbit keeps them). Buckets with no
    /// trade are left out, as Upbit does; drawn buckets always have one.
    pub(crate) fn candles_page(&self, span: Span, to: i64, count: usize, now: i64) -> Vec<WireCandle> {
        let tf = match span {
            Span::Tf(tf) => tf,
            Span::Year => return self.years_page(to, count, now),
        };
        let mut out: Vec<WireCandle> = self
            .candles
            .get(&tf)
            .map(|l| {
                l.iter()
                    .rev()
                    .filter(|c| c.start < to)
                    .take(count)
                    .map(|c| self.wire_candle(tf, c, None))
                    .collect()
            })
            .unwrap_or_default();
        let front = bucket_start(tf, self.live_from);
        let floor = if tf == Timeframe::S1 { now - history::SECONDS_WINDOW_MS } else { self.path.floor_ms() }
            .max(self.history_from);
        let mut b = if to > front { span.prev(front) } else { span.start(to.saturating_sub(1)) };
        while out.len() < count && b >= floor {
            let c = self.path.candle(b, span.next(b));
            out.push(self.wire_candle(tf, &c, None));
            b = span.prev(b);
        }
        out
    }

    /// Year candles: the drawn history up to the month the trades began, then the monthly
    /// candles built from trades, per calendar year.
    fn years_page(&self, to: i64, count: usize, now: i64) -> Vec<WireCandle> {
        let span = Span::Year;
        let front = bucket_start(Timeframe::Mo1, self.live_from);
        let months = self.candles.get(&Timeframe::Mo1);
        let mut out = Vec::new();
        let mut b = span.start(to.saturating_sub(1).min(now));
        let floor = self.path.floor_ms().max(self.history_from);
        // Down to the year holding the first drawn or traded month.
        while out.len() < count && span.next(b) > floor.min(front) {
            let e = span.next(b);
            let mut year = (b < front && b >= floor).then(|| self.path.candle(b, e.min(front)));
            for m in months.into_iter().flatten().filter(|m| m.start >= b && m.start < e) {
                year = Some(match year {
                    None => CandleRec { start: b, ..m.clone() },
                    Some(mut y) => {
                        y.high = y.high.max(m.high);
                        y.low = y.low.min(m.low);
                        y.close = m.close;
                        y.volume += m.volume;
                        y.value += m.value;
                        y.last_ts = m.last_ts;
                        y
                    }
                });
            }
            if let Some(y) = year {
                // Shaped like a month: the same fields (`first_day_of_period`, no `unit`).
                out.push(self.wire_candle(Timeframe::Mo1, &y, None));
            }
            b = span.prev(b);
        }
        out
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

/// The first `count` (1 to 30) levels of both sides as book units.
fn book_units(asks: &[Level], bids: &[Level], count: usize) -> Vec<WireBookUnit> {
    let n = count.clamp(1, BOOK_DEPTH);
    (0..n.min(asks.len().max(bids.len())))
        .map(|i| {
            let a = asks.get(i).copied().unwrap_or_default();
            let b = bids.get(i).copied().unwrap_or_default();
            WireBookUnit { ask_price: a.0, bid_price: b.0, ask_size: a.1, bid_size: b.1 }
        })
        .collect()
}

/// A full native-tick book message grouped by `level` and cut to `count` levels: what a
/// grouped subscription is sent for that message (the book it shows, not the market's
/// book by the time it is sent, which may have moved since).
pub(crate) fn group_book(m: &MarketSim, b: &WireOrderBook, count: usize, level: Decimal) -> WireOrderBook {
    let side = |f: fn(&WireBookUnit) -> Level| -> Vec<Level> {
        b.orderbook_units.iter().map(f).filter(|l| !l.0.is_zero()).collect()
    };
    let asks =
        group(&m.deepen(&side(|u| (u.ask_price, u.ask_size)), level, count, true), level, Rounding::Up);
    let bids =
        group(&m.deepen(&side(|u| (u.bid_price, u.bid_size)), level, count, false), level, Rounding::Down);
    let units = book_units(&asks, &bids, count);
    WireOrderBook {
        ty: b.ty.clone(),
        market: b.market.clone(),
        code: b.code.clone(),
        timestamp: b.timestamp,
        total_ask_size: units.iter().map(|u| u.ask_size).sum(),
        total_bid_size: units.iter().map(|u| u.bid_size).sum(),
        orderbook_units: units,
        level,
        stream_type: b.stream_type,
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
    /// Builds the markets and seeds `history_secs` of past trades (every 10 s per market,
    /// along the drawn history) so tickers and recent trades answer from the start.
    #[cfg(test)]
    pub fn new(defs: Vec<MarketDef>, seed: u64, start_ms: i64, history_secs: i64) -> Self {
        Generator::resumed(defs, seed, start_ms, history_secs, &BTreeMap::new())
    }

    /// As [`Generator::new`], but the markets in `saved` (a restarted demo session's) end
    /// their history at the saved price with the saved activity level, so the market goes
    /// on from where it was: the history before the start is drawn backwards from that
    /// price. A market not in `saved` starts from the seed's price as always. With
    /// anything saved, the random source also takes the start time, so a restart does not
    /// replay the last session's moves.
    pub(crate) fn resumed(
        defs: Vec<MarketDef>,
        seed: u64,
        start_ms: i64,
        history_secs: i64,
        saved: &BTreeMap<String, SavedMarket>,
    ) -> Self {
        // The premium model keeps the configured seed: the other venue's prices use it too.
        let model_seed = seed;
        let seed = if saved.is_empty() { seed } else { seed ^ (start_ms as u64).rotate_left(17) };
        let mut rng = StdRng::seed_from_u64(seed);
        let hist_start = start_ms - history_secs.max(0) * 1000;
        let today = bucket_start(Timeframe::D1, start_ms);
        let mut markets: Vec<MarketSim> = defs
            .into_iter()
            .map(|mut d| {
                let kept = saved.get(&d.market).filter(|s| s.price > Decimal::ZERO);
                if let Some(s) = kept {
                    d.price = s.price;
                }
                let usdt = d.market == super::binance::prices::KRW_USDT;
                if usdt && kept.is_none() {
                    d.price = super::binance::prices::krw_usdt_start(model_seed, start_ms);
                }
                let mut m = MarketSim::new(d, seed, start_ms, hist_start);
                m.usdt_anchor = usdt.then_some(model_seed);
                m
            })
            .collect();
        let mut seq = 0i64;
        for m in markets.iter_mut() {
            let kept = saved.get(&m.def.market).filter(|s| s.price > Decimal::ZERO);
            // The saved activity level (older state files kept a per-step volatility far
            // below any level: those start at the ordinary level).
            if let Some(v) = kept.map(|s| s.vol).filter(|v| v.is_finite() && (0.1..20.0).contains(v)) {
                m.set_ln_act(v.ln() + ACTIVITY_SD * ACTIVITY_SD);
            }
            // The saved day goes on only within the same UTC day: its previous close stays.
            // A later day starts from the saved price as its previous close. Either way the
            // drawn past passes through that price at the day's start, so the day's open,
            // range and change and every candle before the start describe one path (the
            // saved day's range is not put back: the drawn hours would not reach it).
            let day = kept.and_then(|s| s.day.clone()).filter(|d| {
                d.start == today
                    && [d.open, d.high, d.low, d.prev_close].iter().all(|p| *p > Decimal::ZERO)
                    && d.low <= d.high
            });
            let prev_close = match (day, kept) {
                (Some(d), _) => Some(d.prev_close),
                (None, Some(s)) => Some(s.price),
                (None, None) => None,
            };
            m.keep_past(kept.and_then(|s| s.anchor.as_ref()), today, prev_close, start_ms);
            m.seed_history(&mut rng, hist_start, start_ms, &mut seq);
            let (b, a) = m.quotes_at_fair();
            m.requote(&mut rng, b, a, start_ms);
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
                let saved = SavedMarket {
                    price: m.price,
                    vol: m.activity(),
                    day: Some(day),
                    anchor: Some(m.anchor.clone()),
                };
                (m.def.market.clone(), saved)
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
    /// not regenerated: the taken levels stay gone until the makers requote) and returns
    /// the trade, ticker, book and candle events they cause. The fair price moves to the
    /// last fill: the order's impact stays.
    pub(crate) fn record_fills(&mut self, code: &str, fills: &[(Decimal, Decimal, Side)]) -> Vec<SimEvent> {
        let Some(&i) = self.index.get(code) else { return Vec::new() };
        if fills.is_empty() {
            return Vec::new();
        }
        let now = self.now;
        let mut out = Vec::with_capacity(fills.len() * 2 + 2);
        self.markets[i].print_touch = None;
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
        m.fair = m.price.to_f64().unwrap_or(m.fair);
        m.last_ms = m.last_ms.max(now);
        m.book_ts = now;
        if let Some(b) = m.published_book() {
            out.push(SimEvent::OrderBook(Arc::new(b)));
        }
        out.push(SimEvent::Candles(Arc::new(m.stream_candles())));
        out
    }

    /// Advances the clock by `dt_ms` and produces one trade on a market chosen by its trade
    /// rate and activity, with the ticker, book and candles it causes. When the price's
    /// move since the market's last message moved its touch, the moved book comes first
    /// (stamped no later than the trade) and the trade meets it: on the wire, as on a real
    /// exchange, quotes move before trades hit them.
    pub fn step(&mut self, dt_ms: i64) -> Vec<SimEvent> {
        let Some(i) = self.move_market(dt_ms) else { return Vec::new() };
        let moved = self.markets[i].moved_book();
        let (price, volume, side) = self.markets[i].take(self.now, &mut self.rng);
        let t = self.record_trade(i, price, volume, side);
        let mut out = Vec::with_capacity(5);
        out.extend(moved.map(|b| SimEvent::OrderBook(Arc::new(b))));
        self.events_into(i, &t, &mut out);
        out
    }

    /// One generated trade, as [`Generator::step`], but only the message of `kind` is built
    /// (the benchmark flood sends one kind per message). The trade updates the market's
    /// book, price, statistics and candles as always.
    pub(crate) fn step_one(&mut self, dt_ms: i64, kind: FloodKind) -> Option<SimEvent> {
        let (i, price, volume, side) = self.next_trade(dt_ms)?;
        let t = self.record_trade(i, price, volume, side);
        let now = self.now;
        let m = &mut self.markets[i];
        Some(match kind {
            FloodKind::Ticker => SimEvent::Ticker(Arc::new(m.ticker(now, Some(StreamType::Realtime)))),
            FloodKind::Trade => SimEvent::Trade(Arc::new(m.wire_trade(&t, now, StreamType::Realtime))),
            FloodKind::OrderBook => SimEvent::OrderBook(Arc::new(m.published_book()?)),
        })
    }

    /// Advances the clock by `dt_ms` and generates the next trade: (market index, price,
    /// volume, side), without the book message a moved touch sends ([`Generator::step`]).
    fn next_trade(&mut self, dt_ms: i64) -> Option<(usize, Decimal, Decimal, Side)> {
        let i = self.move_market(dt_ms)?;
        let (price, volume, side) = self.markets[i].take(self.now, &mut self.rng);
        Some((i, price, volume, side))
    }

    /// Advances the clock by `dt_ms`, draws the market of the next trade by weight (class
    /// trade rate × activity) and moves it on to now ([`MarketSim::move_to`]). Its index.
    fn move_market(&mut self, dt_ms: i64) -> Option<usize> {
        self.now += dt_ms.max(0);
        let n = self.markets.len();
        if n == 0 {
            return None;
        }
        let total: f64 = self.markets.iter().map(|m| m.cal.weight * m.activity()).sum();
        let mut u = self.rng.random_range(0.0..1.0) * total;
        let mut i = n - 1;
        for (k, m) in self.markets.iter().enumerate() {
            let w = m.cal.weight * m.activity();
            if u < w {
                i = k;
                break;
            }
            u -= w;
        }
        let now = self.now;
        self.markets[i].move_to(now, &mut self.rng);
        Some(i)
    }

    /// Applies a trade on market `i` at the current time to its statistics.
    fn record_trade(&mut self, i: usize, price: Decimal, volume: Decimal, side: Side) -> TradeRec {
        self.seq += 1;
        let now = self.now;
        let t = TradeRec { price, volume, side, ts: now, seq: now * 10_000 + self.seq % 10_000 };
        let m = &mut self.markets[i];
        if let Some(touch) = m.print_touch.as_mut().filter(|p| p.0 == 0) {
            touch.0 = t.seq;
        }
        m.apply_trade(&t);
        t
    }

    /// Forces a trade at `price` (snapped onto the grid) on `code`: scripted ticks for tests.
    /// The fair price jumps there and the makers requote around it (a buy leaves the ask at
    /// the trade price, a sell the bid); the requoted book is sent before the trade when
    /// its touch moved.
    pub fn script_trade(&mut self, code: &str, price: Decimal, volume: Decimal, side: Side) -> Vec<SimEvent> {
        let Some(&i) = self.index.get(code) else { return Vec::new() };
        let now = self.now;
        let m = &mut self.markets[i];
        let quote = m.quote().to_string();
        // Never at or below zero: the lowest price is one minimum tick.
        let price =
            ticks::snap(&quote, price, Rounding::Nearest).max(ticks::tick_size(&quote, Decimal::ZERO));
        let volume = volume.max(Decimal::new(1, ticks::VOLUME_SCALE));
        m.print_touch = None;
        m.fair = price.to_f64().unwrap_or(m.fair);
        m.last_ms = m.last_ms.max(now);
        let s = m.cal.spread_ticks.max(1);
        let (b, a) = match side {
            Side::Bid => (ticks::step(&quote, price, -s), price),
            Side::Ask => (price, ticks::step(&quote, price, s)),
        };
        m.requote(&mut self.rng, b, a, now);
        // The jumped book goes out before the trade that meets it, as in `step`.
        let moved = m.moved_book();
        let t = self.record_trade(i, price, volume, side);
        let mut out = Vec::with_capacity(5);
        out.extend(moved.map(|b| SimEvent::OrderBook(Arc::new(b))));
        self.events_into(i, &t, &mut out);
        out
    }

    /// The trade, ticker, book and candle messages of a trade just recorded on market `i`,
    /// appended to `out`.
    fn events_into(&mut self, i: usize, t: &TradeRec, out: &mut Vec<SimEvent>) {
        let now = self.now;
        let m = &mut self.markets[i];
        out.push(SimEvent::Trade(Arc::new(m.wire_trade(t, now, StreamType::Realtime))));
        out.push(SimEvent::Ticker(Arc::new(m.ticker(now, Some(StreamType::Realtime)))));
        if let Some(b) = m.published_book() {
            out.push(SimEvent::OrderBook(Arc::new(b)));
        }
        out.push(SimEvent::Candles(Arc::new(m.stream_candles())));
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

impl MarketSim {
    /// Draws a resumed market's past from the path its first session drew (`anchor`): the
    /// same candles before that session's start, then a bridge, seeded by this start, from
    /// there to the saved price now, through the day's previous close at `today` when the
    /// day began after the anchor. Without an anchor (a file of an older hoga), or when the
    /// saved day's previous close is not the anchored path's (a day begun before the
    /// anchor, on a path drawn by an older hoga), the past is drawn afresh through the
    /// previous close as before, and that path is the anchor from now on.
    fn keep_past(
        &mut self,
        anchor: Option<&SavedAnchor>,
        today: i64,
        prev_close: Option<Decimal>,
        start: i64,
    ) {
        let pin = prev_close.and_then(|p| p.to_f64().map(|f| (p, f)));
        let anchor = anchor.filter(|a| a.start < start && a.price > Decimal::ZERO);
        if let Some(a) = anchor {
            let mut past =
                PricePath::new(a.key, self.quote(), a.start, a.price.to_f64().unwrap_or(1.0), &self.cal);
            if let Some((at, p)) = a.pin.and_then(|(at, p)| p.to_f64().map(|f| (at, f))) {
                past.pin(at, p);
            }
            let agrees = today > a.start || prev_close.is_none_or(|p| past.price_at(today) == p);
            if agrees {
                self.path.keep_before(a.start, past);
                if let Some((_, f)) = pin {
                    self.path.pin(today, f);
                }
                self.anchor = a.clone();
                return;
            }
        }
        if let Some((p, f)) = pin {
            self.path.pin(today, f);
            self.anchor.pin = Some((today, p));
        }
    }

    /// The market before the generator starts: the drawn part of every bucket the trades
    /// begin in (so the current candles, the day's open and range and the previous close
    /// are the history's), the 24 h turnover and 52-week range of the drawn past, then a
    /// trade every 10 s along the drawn path from `hist_start` to `start`, the last at the
    /// start price.
    fn seed_history(&mut self, rng: &mut StdRng, hist_start: i64, start: i64, seq: &mut i64) {
        let quote = self.quote().to_string();
        let end_price = ticks::snap(&quote, dec(self.fair), Rounding::Nearest)
            .max(ticks::tick_size(&quote, Decimal::ZERO));
        for tf in Timeframe::ALL {
            let b = bucket_start(tf, hist_start);
            if b < hist_start {
                self.candles.insert(tf, VecDeque::from([self.path.candle(b, hist_start)]));
            }
        }
        let day = bucket_start(Timeframe::D1, hist_start);
        let day_open = self.path.price_at(day);
        self.prev_close = day_open;
        self.day_start = day;
        self.open = day_open;
        self.high = day_open;
        self.low = day_open;
        if let Some(c) = self.candles.get(&Timeframe::D1).and_then(|l| l.back()) {
            self.high = c.high;
            self.low = c.low;
            self.acc_price = c.value;
            self.acc_volume = c.volume;
            // Takers split about evenly.
            self.acc_bid = (c.volume / Decimal::TWO).round_dp(ticks::VOLUME_SCALE);
            self.acc_ask = c.volume - self.acc_bid;
        }
        // The rolling 24 h sums, in six 4 h parts each counted at its middle.
        for j in (1..=6i64).rev() {
            let s = hist_start - j * 4 * 3_600_000;
            let c = self.path.candle(s, s + 4 * 3_600_000);
            self.minutes.push_back((bucket_start(Timeframe::M1, s + 2 * 3_600_000), c.value, c.volume));
        }
        // The 52-week range of the drawn past, in four-week parts.
        self.price = self.path.price_at(hist_start);
        let (mut h, mut l) = ((self.price, hist_start), (self.price, hist_start));
        for j in 0..13i64 {
            let e = hist_start - j * 28 * 86_400_000;
            let c = self.path.candle(e - 28 * 86_400_000, e);
            let when = e - 14 * 86_400_000;
            if c.high > h.0 {
                h = (c.high, when);
            }
            if c.low < l.0 {
                l = (c.low, when);
            }
        }
        self.high52 = h;
        self.low52 = l;
        let stamps: Vec<i64> = (0..).map(|k| hist_start + k * 10_000).take_while(|ts| *ts < start).collect();
        let last = stamps.len().saturating_sub(1);
        for (k, ts) in stamps.into_iter().enumerate() {
            let price = if k == last { end_price } else { self.path.price_at(ts) };
            let volume = self.trade_size(rng, price);
            let side = side_for(self.price, price, rng);
            *seq += 1;
            let t = TradeRec { price, volume, side, ts, seq: ts * 10_000 + *seq % 10_000 };
            self.apply_trade(&t);
        }
        self.price = end_price;
    }
}

impl MarketSim {
    /// Draws a relisted market's past from its listing (`listed_at`, at `listing_price`)
    /// to `start`: trades every 10 s from `hist_start` (the other markets' window, never
    /// before the listing) ending at the current price, and the part of the time since the
    /// listing before `hist_start` as drawn candles. Nothing before the listing.
    fn seed_since_listing(
        &mut self,
        rng: &mut StdRng,
        listed_at: i64,
        listing_price: Decimal,
        hist_start: i64,
        start: i64,
        seq: &mut i64,
    ) {
        let quote = self.quote().to_string();
        let end_price = ticks::snap(&quote, dec(self.fair), Rounding::Nearest)
            .max(ticks::tick_size(&quote, Decimal::ZERO));
        let opens_at_listing = |b: i64| b <= listed_at;
        for tf in Timeframe::ALL {
            let b = bucket_start(tf, hist_start);
            let from = b.max(listed_at);
            if from < hist_start {
                let mut c = self.path.candle(from, hist_start);
                c.start = b;
                if opens_at_listing(b) {
                    c.open = listing_price;
                    c.high = c.high.max(listing_price);
                    c.low = c.low.min(listing_price);
                    c.prev_close = listing_price;
                }
                self.candles.insert(tf, VecDeque::from([c]));
            }
        }
        let day = bucket_start(Timeframe::D1, hist_start);
        self.day_start = day;
        self.prev_close = if opens_at_listing(day) { listing_price } else { self.path.price_at(day) };
        let first = if hist_start == listed_at { listing_price } else { self.path.price_at(hist_start) };
        self.price = first;
        (self.open, self.high, self.low) = (first, first, first);
        if let Some(c) = self.candles.get(&Timeframe::D1).and_then(|l| l.back()) {
            (self.open, self.high, self.low) = (c.open, c.high, c.low);
            self.acc_price = c.value;
            self.acc_volume = c.volume;
            self.acc_bid = (c.volume / Decimal::TWO).round_dp(ticks::VOLUME_SCALE);
            self.acc_ask = c.volume - self.acc_bid;
        }
        // The rolling 24 h sums before the trades, since the listing, in 4 h parts.
        for j in (1..=6i64).rev() {
            let s = (hist_start - j * 4 * 3_600_000).max(listed_at);
            let e = hist_start - (j - 1) * 4 * 3_600_000;
            if s < e && e <= hist_start && hist_start > listed_at {
                let c = self.path.candle(s, e);
                self.minutes.push_back((bucket_start(Timeframe::M1, (s + e) / 2), c.value, c.volume));
            }
        }
        let stamps: Vec<i64> = (0..).map(|k| hist_start + k * 10_000).take_while(|ts| *ts < start).collect();
        let last = stamps.len().saturating_sub(1);
        for (k, ts) in stamps.into_iter().enumerate() {
            let price = match k {
                _ if k == last => end_price,
                0 => first,
                _ => self.path.price_at(ts),
            };
            let volume = self.trade_size(rng, price);
            let side = side_for(self.price, price, rng);
            *seq += 1;
            let t = TradeRec { price, volume, side, ts, seq: ts * 10_000 + *seq % 10_000 };
            self.apply_trade(&t);
        }
        self.price = end_price;
    }
}

/// Markets listed and flagged during a session (the demo's scripted news, [`super::script`]).
impl Generator {
    /// Lists `def` now: it appears in `/market/all` and trades from the next steps on, from
    /// its listing price with no history (as a new listing has none). False when a market
    /// of that code exists.
    pub(crate) fn list_market(&mut self, def: MarketDef) -> bool {
        if self.index.contains_key(&def.market) {
            return false;
        }
        let now = self.now;
        // No history before now: the market opens at its listing price, which is its
        // previous close (no change at the listing), its day's range and its 52-week range.
        let mut m = MarketSim::new(def, now.unsigned_abs(), now, now);
        m.history_from = now;
        let (bid, ask) = m.quotes_at_fair();
        m.requote(&mut self.rng, bid, ask, now);
        self.index.insert(m.def.market.clone(), self.markets.len());
        self.markets.push(m);
        true
    }

    /// Puts back a market listed at `listed_at` in an earlier run of a kept demo session,
    /// at its `saved` price (else its listing price): its history is drawn from the
    /// listing on and none before it; its day goes on when the listing or the saved day is
    /// today's, and its 52-week range is that of the time since the listing. False when a
    /// market of that code exists.
    pub(crate) fn relist_market(
        &mut self,
        mut def: MarketDef,
        listed_at: i64,
        saved: Option<&SavedMarket>,
    ) -> bool {
        if self.index.contains_key(&def.market) {
            return false;
        }
        let quote = def.quote().to_string();
        let listing_price =
            ticks::snap(&quote, def.price, Rounding::Nearest).max(ticks::tick_size(&quote, def.price));
        if let Some(s) = saved.filter(|s| s.price > Decimal::ZERO) {
            def.price = s.price;
        }
        let now = self.now;
        let listed_at = listed_at.min(now);
        // Its trades are drawn over the same window as every other market's (none before
        // the listing), ending at the saved price.
        let hist_start = self.markets.iter().map(|m| m.live_from).min().unwrap_or(now).clamp(listed_at, now);
        // The listing's path key, as when it was first listed: the same market each restart.
        let mut m = MarketSim::new(def, listed_at.unsigned_abs(), now, hist_start);
        m.history_from = listed_at;
        if let Some(v) = saved.map(|s| s.vol).filter(|v| v.is_finite() && (0.1..20.0).contains(v)) {
            m.set_ln_act(v.ln() + ACTIVITY_SD * ACTIVITY_SD);
        }
        m.seed_since_listing(&mut self.rng, listed_at, listing_price, hist_start, now, &mut self.seq);
        let today = bucket_start(Timeframe::D1, now);
        let day = saved.and_then(|s| s.day.as_ref()).filter(|d| {
            d.start == today
                && [d.open, d.high, d.low, d.prev_close].iter().all(|p| *p > Decimal::ZERO)
                && d.low <= d.high
        });
        if let Some(d) = day {
            // The day the trader saw, in the ticker and the day candle alike.
            m.resume_day(d);
        }
        // The 52-week range since the listing: the drawn days between it and now (a year
        // at most), the listing price and today's range.
        let (mut h, mut l) = ((m.high.max(listing_price), now), (m.low.min(listing_price), now));
        let mut b = listed_at.max(now - 364 * 86_400_000);
        while b < now {
            let e = (bucket_start(Timeframe::D1, b) + 86_400_000).min(now);
            let c = m.path.candle(b, e);
            if c.high > h.0 {
                h = (c.high, b);
            }
            if c.low < l.0 {
                l = (c.low, b);
            }
            b = e;
        }
        m.high52 = h;
        m.low52 = l;
        let (bid, ask) = m.quotes_at_fair();
        m.requote(&mut self.rng, bid, ask, now);
        self.index.insert(m.def.market.clone(), self.markets.len());
        self.markets.push(m);
        true
    }

    /// Sets a market's 유의 flag and its 주의 flags (by name) as `/market/all` reports them.
    /// False when there is no such market.
    pub(crate) fn set_market_event(&mut self, code: &str, warning: bool, caution: &[&str]) -> bool {
        let Some(m) = self.market_mut(code) else { return false };
        m.def.warning = warning;
        m.def.caution = caution.iter().map(|c| c.to_string()).collect();
        true
    }
}

/// Stablecoins: never a new listing's or a warning's market in the demo's story.
const STABLECOINS: [&str; 4] = ["USDT", "USDC", "USDS", "DAI"];

/// BTC, ETH or a stablecoin (`KRW-USDT`): markets no scripted warning names.
pub(crate) fn is_major_or_stable(market: &str) -> bool {
    let coin = market.split_once('-').map_or(market, |(_, c)| c);
    matches!(coin, "BTC" | "ETH") || STABLECOINS.contains(&coin)
}

/// A small cap (the class that moves most, [`Calibration::for_market`]): not a major, a
/// stablecoin or one of the large caps.
pub(crate) fn is_small_cap(market: &str) -> bool {
    let coin = market.split_once('-').map_or(market, |(_, c)| c);
    !is_major_or_stable(market) && !LARGE_CAPS.contains(&coin)
}

/// What a run of the generator did on one market: the figures its calibration is checked
/// against (docs/SIMULATOR.md). Moves and ranges are in percent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CalibrationReport {
    /// The market measured.
    pub market: String,
    /// Virtual seconds run.
    pub secs: i64,
    /// Trades generated on the market.
    pub trades: usize,
    /// |close / open − 1| of each whole hour.
    pub hourly_moves: Vec<f64>,
    /// (high − low) / open of each whole hour.
    pub hourly_ranges: Vec<f64>,
    /// The largest |move| over a 5-minute interval.
    pub max_5min_move: f64,
    /// (high − low) / open over the whole run.
    pub range: f64,
    /// Trades that printed away from the best bid or ask they met (always 0).
    pub outside_touch: usize,
    /// Book spread after each trade, in ticks → how many times.
    pub spreads: BTreeMap<i64, usize>,
}

impl CalibrationReport {
    /// Share of books with a one-tick spread.
    pub fn one_tick_share(&self) -> f64 {
        let total: usize = self.spreads.values().sum();
        self.spreads.get(&1).copied().unwrap_or(0) as f64 / total.max(1) as f64
    }

    /// The report as text, one figure a line.
    pub fn render(&self) -> String {
        let pct = |v: &[f64], q: f64| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            v.get(((v.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0.0)
        };
        let spreads: Vec<String> = self.spreads.iter().map(|(k, n)| format!("{k} tick: {n}")).collect();
        format!(
            "{} over {:.1} h of virtual time: {} trades ({:.2}/s)\n\
             hourly |move| %: median {:.3}, max {:.3} ({} hours)\n\
             hourly range %: median {:.3}, max {:.3}\n\
             largest 5-minute move %: {:.3}\n\
             range over the run %: {:.3}\n\
             trades away from the touch: {}\n\
             spread after each trade: {} (one tick {:.1} %)\n",
            self.market,
            self.secs as f64 / 3600.0,
            self.trades,
            self.trades as f64 / self.secs.max(1) as f64,
            pct(&self.hourly_moves, 0.5),
            pct(&self.hourly_moves, 1.0),
            self.hourly_moves.len(),
            pct(&self.hourly_ranges, 0.5),
            pct(&self.hourly_ranges, 1.0),
            self.max_5min_move,
            self.range,
            self.outside_touch,
            spreads.join(", "),
            self.one_tick_share() * 100.0,
        )
    }
}

/// Runs the generator over `defs` for `secs` of virtual time, one trade per `step_ms` (the
/// server's tick), and measures `market`: what a demo session of that length would show.
/// `None` when the market is not in `defs`.
pub(crate) fn calibration_run(
    defs: Vec<MarketDef>,
    seed: u64,
    start_ms: i64,
    market: &str,
    secs: i64,
    step_ms: i64,
) -> Option<CalibrationReport> {
    let mut g = Generator::resumed(defs, seed, start_ms, 60, &BTreeMap::new());
    let target = *g.index.get(market)?;
    let f = |d: Decimal| d.to_f64().unwrap_or(0.0);
    let first = f(g.markets[target].price);
    let mut rep = CalibrationReport {
        market: market.to_string(),
        secs,
        trades: 0,
        hourly_moves: Vec::new(),
        hourly_ranges: Vec::new(),
        max_5min_move: 0.0,
        range: 0.0,
        outside_touch: 0,
        spreads: BTreeMap::new(),
    };
    let (mut hour_open, mut hour_hi, mut hour_lo) = (first, first, first);
    let (mut run_hi, mut run_lo) = (first, first);
    let mut five_open = first;
    let end = start_ms + secs * 1000;
    let (mut next_hour, mut next_five) = (start_ms + 3_600_000, start_ms + 300_000);
    while g.now < end {
        let Some((i, price, volume, side)) = g.next_trade(step_ms) else { break };
        let t = g.record_trade(i, price, volume, side);
        let m = &g.markets[target];
        let last = f(m.price);
        while g.now >= next_five {
            rep.max_5min_move = rep.max_5min_move.max((last / five_open - 1.0).abs() * 100.0);
            five_open = last;
            next_five += 300_000;
        }
        while g.now >= next_hour {
            rep.hourly_moves.push((last / hour_open - 1.0).abs() * 100.0);
            rep.hourly_ranges.push((hour_hi - hour_lo) / hour_open * 100.0);
            (hour_open, hour_hi, hour_lo) = (last, last, last);
            next_hour += 3_600_000;
        }
        if i != target {
            continue;
        }
        rep.trades += 1;
        let p = f(t.price);
        (hour_hi, hour_lo) = (hour_hi.max(p), hour_lo.min(p));
        (run_hi, run_lo) = (run_hi.max(p), run_lo.min(p));
        let at_touch = match m.print_touch {
            Some((seq, ask, bid)) if seq == t.seq => match t.side {
                Side::Bid => t.price == ask.0,
                Side::Ask => t.price == bid.0,
            },
            _ => false,
        };
        if !at_touch {
            rep.outside_touch += 1;
        }
        if let (Some(b), Some(a)) = (m.bids.first(), m.asks.first()) {
            let tick = ticks::tick_size(m.quote(), b.0);
            let n = ((a.0 - b.0) / tick).round().to_i64().unwrap_or(-1);
            *rep.spreads.entry(n).or_default() += 1;
        }
    }
    rep.range = (run_hi - run_lo) / first * 100.0;
    Some(rep)
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

    /// A demo restart within the same UTC day keeps the day's previous close: the 24 h
    /// change goes on from where it was (every market read 0.00% after a restart, the
    /// resumed history starting the day at the saved price). The drawn day opens there.
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
        assert_eq!((t.opening_price, t.prev_closing_price), (day.prev_close, day.prev_close));
        assert!(t.signed_change_rate > dec(0.1), "the change goes on: {}", t.signed_change_rate);
        assert!(t.low_price <= day.prev_close && t.high_price >= price);
        let d1 = r.market(&code).unwrap().candles[&Timeframe::D1].back().unwrap().clone();
        assert_eq!((d1.open, d1.prev_close), (day.prev_close, day.prev_close));

        // The next day, the saved day is over: its last price is the previous close.
        let tomorrow = bucket_start(Timeframe::D1, start) + 86_400_000 + 3_600_000;
        let r = Generator::resumed(load_markets(Some(3)).unwrap(), 7, tomorrow, 600, &saved);
        assert_eq!(r.market(&code).unwrap().ticker(tomorrow, None).prev_closing_price, price);
    }

    /// A market listed during a session and put back after a restart keeps its past: its
    /// trades are drawn from the listing to the restart (ending at the saved price), its
    /// 1-minute candles start at the listing's minute, and its day candle agrees with its
    /// ticker on the saved day. Before, its candles began at the restart, the day candle
    /// opened at the first trade after it while the ticker said the listing price, and the
    /// day's volume began again at zero.
    #[test]
    fn a_relisted_market_keeps_its_past_since_the_listing() {
        let start = 1_750_000_000_000;
        let mut g = Generator::new(load_markets(Some(3)).unwrap(), 7, start, 600);
        for _ in 0..180 {
            g.step(500);
        }
        let def = crate::sim::script::made_up_listing();
        let listed_at = g.now;
        assert!(g.list_market(def.clone()));
        for _ in 0..1200 {
            g.step(500);
        }
        let saved = g.saved_market();
        let (price, volume) = {
            let t = g.market("KRW-HGA").unwrap().ticker(g.now, None);
            (t.trade_price, t.acc_trade_volume)
        };

        let restart = g.now + 5_000;
        let mut r = Generator::resumed(load_markets(Some(3)).unwrap(), 7, restart, 600, &saved);
        assert!(r.relist_market(def, listed_at, saved.get("KRW-HGA")));
        let m = r.market("KRW-HGA").unwrap();
        let t = m.ticker(restart, None);
        assert_eq!(t.trade_price, price);
        assert_eq!(t.opening_price, Decimal::from(1250), "the day opened at the listing");
        assert!(
            t.acc_trade_volume > volume / Decimal::TWO,
            "the day's volume goes on: {}",
            t.acc_trade_volume
        );
        let mins = m.candles_page(Span::Tf(Timeframe::M1), i64::MAX, 200, restart);
        let first = iso_naive(bucket_start(Timeframe::M1, listed_at), 0);
        assert_eq!(
            mins.last().map(|c| c.candle_date_time_utc.clone()),
            Some(first),
            "from the listing's minute"
        );
        assert!(mins.len() >= 10, "{} minutes", mins.len());
        for _ in 0..200 {
            r.step(500);
        }
        let now = r.now;
        let m = r.market("KRW-HGA").unwrap();
        let t = m.ticker(now, None);
        let d = m.candles_page(Span::Tf(Timeframe::D1), i64::MAX, 1, now).remove(0);
        assert_eq!(
            (d.opening_price, d.high_price, d.low_price),
            (t.opening_price, t.high_price, t.low_price),
            "the day candle and the ticker agree"
        );
        assert_eq!(d.prev_closing_price, Some(t.prev_closing_price));
    }

    /// One virtual hour of a demo session (every market, a trade each 50 ms as the server
    /// ticks): BTC moves a fraction of a percent, every trade takes the best bid or ask,
    /// the spread is one tick nearly always. The old walk moved BTC 2-3 % in minutes and
    /// printed hundreds of ticks away from a one-tick book.
    #[test]
    fn one_virtual_hour_of_btc_stays_within_its_calibration() {
        let r =
            calibration_run(load_markets(None).unwrap(), 42, 1_750_000_000_000, "KRW-BTC", 3600, 50).unwrap();
        eprintln!("{}", r.render());
        assert_eq!(r.hourly_moves.len(), 1);
        assert!(r.hourly_moves[0] < 1.5, "hourly move {:.3} %", r.hourly_moves[0]);
        assert!(
            r.hourly_ranges[0] > 0.05 && r.hourly_ranges[0] < 2.0,
            "hourly range {:.3} %",
            r.hourly_ranges[0]
        );
        assert!(r.max_5min_move < 0.6, "5-minute move {:.3} %", r.max_5min_move);
        assert_eq!(r.outside_touch, 0);
        assert!(r.one_tick_share() > 0.8, "{:?}", r.spreads);
        // Several trades a second on average (busy spells more, quiet ones fewer).
        assert!(r.trades > 3 * 3600, "{} trades", r.trades);
    }

    /// A virtual day of BTC (alone, a trade a second): a daily range like BTC's (a few
    /// percent), no hour moving more than a couple of percent.
    #[test]
    fn a_virtual_day_of_btc_has_a_believable_range() {
        let btc: Vec<MarketDef> =
            load_markets(None).unwrap().into_iter().filter(|m| m.market == "KRW-BTC").collect();
        for seed in [1, 2] {
            let r = calibration_run(btc.clone(), seed, 1_750_000_000_000, "KRW-BTC", 86_400, 1000).unwrap();
            eprintln!("{}", r.render());
            assert_eq!(r.hourly_moves.len(), 24);
            assert!(r.range > 0.7 && r.range < 9.0, "daily range {:.3} %", r.range);
            let max = r.hourly_moves.iter().copied().fold(0.0, f64::max);
            assert!(max < 2.5, "largest hourly move {max:.3} %");
            assert_eq!(r.outside_touch, 0);
        }
    }

    /// On the wire, every generated trade is at the touch its message names (a buy at the
    /// best ask, a sell at the best bid), and the book sent with it shows what it took: a
    /// level partly taken is smaller by the trade's size, one taken whole is gone from
    /// its side. The old walk printed at a fresh random price and rebuilt the book after.
    #[test]
    fn trades_print_at_the_touch_and_the_book_shows_what_they_took() {
        let mut g = Generator::new(load_markets(Some(5)).unwrap(), 3, 1_750_000_000_000, 60);
        let (mut partial, mut whole) = (0, 0);
        for _ in 0..3000 {
            let ev = g.step(50);
            // A moved book may come first; then the trade, its ticker and the book after it.
            let k = ev.iter().position(|e| matches!(e, SimEvent::Trade(_))).unwrap();
            let (Some(SimEvent::Trade(t)), Some(SimEvent::OrderBook(b))) = (ev.get(k), ev.get(k + 2)) else {
                panic!("a trade, a ticker and a book: {ev:?}");
            };
            let top = &b.orderbook_units[0];
            let buy = matches!(t.ask_bid, AskBid::Bid);
            let (touch, size) = if buy {
                (t.best_ask_price.unwrap(), t.best_ask_size.unwrap())
            } else {
                (t.best_bid_price.unwrap(), t.best_bid_size.unwrap())
            };
            assert_eq!(t.trade_price, touch, "{t:?}");
            assert!(top.bid_price < top.ask_price);
            if t.trade_volume < size {
                partial += 1;
                let (p, left) =
                    if buy { (top.ask_price, top.ask_size) } else { (top.bid_price, top.bid_size) };
                assert_eq!((p, left), (touch, size - t.trade_volume), "{t:?}");
            } else {
                whole += 1;
                assert_eq!(t.trade_volume, size);
                if buy {
                    assert!(top.ask_price >= touch);
                } else {
                    assert!(top.bid_price <= touch);
                }
            }
        }
        assert!(partial > 100 && whole > 100, "both kinds happen: {partial} partial, {whole} whole");
    }

    /// On the wire, quotes move before trades meet them: over a virtual hour of a demo
    /// session (every market, a trade each 50 ms), every trade on BTC and on a small cap
    /// prints at the best ask (a buy) or bid (a sell) of the last book message sent for its
    /// market before it, names that touch, and is stamped no earlier than that book; and
    /// the stream still shows the calibrated market. The generator used to move the price,
    /// requote and print in one step with no book message before the trade: most of BTC's
    /// trades printed outside the spread last quoted.
    #[test]
    fn every_trade_meets_the_book_last_published_before_it() {
        let start = 1_750_000_000_000;
        let mut g = Generator::new(load_markets(None).unwrap(), 1, start, 60);
        let watched = ["KRW-BTC", "KRW-MOCA"];
        // What a subscriber holds first: the books as they stand (its snapshot).
        let mut last: BTreeMap<String, Arc<WireOrderBook>> = g
            .markets
            .iter()
            .map(|m| {
                let b = m.book(BOOK_DEPTH, Decimal::ZERO, Some(StreamType::Snapshot)).unwrap();
                (m.def.market.clone(), Arc::new(b))
            })
            .collect();
        let mut prices: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
        let (mut btc_books, mut btc_one_tick, mut moved) = (0usize, 0usize, 0usize);
        while g.now < start + 3_600_000 {
            let ev = g.step(50);
            if matches!(ev.first(), Some(SimEvent::OrderBook(_))) {
                moved += 1;
            }
            for e in ev {
                match e {
                    SimEvent::OrderBook(b) => {
                        let code = b.code.clone().unwrap();
                        if code == "KRW-BTC" {
                            let top = &b.orderbook_units[0];
                            btc_books += 1;
                            btc_one_tick += usize::from(top.ask_price - top.bid_price == Decimal::from(1000));
                        }
                        last.insert(code, b);
                    }
                    SimEvent::Trade(t) if watched.contains(&t.code.as_str()) => {
                        let b = last.get(&t.code).unwrap_or_else(|| panic!("no book before {t:?}"));
                        let top = &b.orderbook_units[0];
                        let (touch, size) = match t.ask_bid {
                            AskBid::Bid => (top.ask_price, top.ask_size),
                            AskBid::Ask => (top.bid_price, top.bid_size),
                            AskBid::Unknown => panic!("a generated trade has a side: {t:?}"),
                        };
                        assert_eq!(t.trade_price, touch, "{t:?} after {top:?}");
                        assert!(t.trade_volume <= size, "{t:?} after {top:?}");
                        assert_eq!(
                            (t.best_ask_price, t.best_bid_price),
                            (Some(top.ask_price), Some(top.bid_price)),
                            "{t:?}"
                        );
                        assert!(b.timestamp <= t.trade_timestamp, "{} after {t:?}", b.timestamp);
                        let p = t.trade_price.to_f64().unwrap();
                        prices.entry(t.code.clone()).or_default().push((t.trade_timestamp, p));
                    }
                    _ => {}
                }
            }
        }
        // Only the steps whose move shifted the touch send a book before the trade.
        let steps = 3_600_000 / 50;
        eprintln!("{moved} moved books in {steps} steps; {btc_one_tick} of {btc_books} BTC books one tick");
        assert!(moved > steps / 10 && moved < steps, "{moved} moved books in {steps} steps");
        // The calibration, measured on the stream.
        let btc = &prices["KRW-BTC"];
        let (open, close) = (btc[0].1, btc[btc.len() - 1].1);
        let hi = btc.iter().map(|p| p.1).fold(open, f64::max);
        let lo = btc.iter().map(|p| p.1).fold(open, f64::min);
        assert!((close / open - 1.0).abs() < 0.015, "hourly move {open} → {close}");
        let range = (hi - lo) / open;
        assert!(range > 0.0005 && range < 0.02, "hourly range {:.3} %", range * 100.0);
        let fives: Vec<f64> = (0..=12)
            .map(|k| btc.iter().take_while(|p| p.0 < start + k * 300_000).last().map_or(open, |p| p.1))
            .collect();
        let max5 = fives.windows(2).map(|w| (w[1] / w[0] - 1.0).abs()).fold(0.0, f64::max);
        assert!(max5 < 0.006, "5-minute move {:.3} %", max5 * 100.0);
        // Several trades a second (this seed's hour is a quiet one: about three).
        assert!(btc.len() > 2 * 3600, "{} BTC trades", btc.len());
        assert!(btc_one_tick * 10 > btc_books * 8, "{btc_one_tick} of {btc_books} books one tick");
        let small = &prices["KRW-MOCA"];
        assert!(small.len() > 20 && small.len() * 10 < btc.len(), "{} small-cap trades", small.len());
    }

    /// A grouped subscription's message is the book message it is sent for, grouped: the
    /// same as the market's grouped book while the market has not moved on.
    #[test]
    fn a_book_message_groups_like_the_market_book() {
        let mut g = Generator::new(load_markets(Some(5)).unwrap(), 9, 1_750_000_000_000, 60);
        for _ in 0..300 {
            g.step(50);
        }
        let m = g.market("KRW-BTC").unwrap();
        let st = Some(StreamType::Realtime);
        let full = m.book(BOOK_DEPTH, Decimal::ZERO, st).unwrap();
        for level in m.supported_levels().into_iter().filter(|l| !l.is_zero()) {
            for count in [1, 5, 15, 30] {
                assert_eq!(
                    group_book(m, &full, count, level),
                    m.book(count, level, st).unwrap(),
                    "{level} {count}"
                );
            }
        }
    }

    /// Upbit groups its whole book: a coarse grouping still has the levels asked for,
    /// past the 30 ticks the simulated book keeps, each on the level's grid and the same
    /// in every message while the book stays; the kept levels' sizes are all in it.
    #[test]
    fn a_coarse_grouping_reaches_the_levels_asked_for() {
        let mut g = Generator::new(load_markets(Some(5)).unwrap(), 9, 1_750_000_000_000, 60);
        for _ in 0..300 {
            g.step(50);
        }
        let m = g.market("KRW-BTC").unwrap();
        let st = Some(StreamType::Realtime);
        let plain = m.book(BOOK_DEPTH, Decimal::ZERO, st).unwrap();
        for level in m.supported_levels().into_iter().filter(|l| !l.is_zero()) {
            let b = m.book(15, level, st).unwrap();
            assert_eq!(b.orderbook_units.len(), 15, "{level}");
            // (Bids stop at a price of 0: ten-million buckets under 145M run out.)
            for u in &b.orderbook_units {
                assert!((u.ask_price % level).is_zero() && (u.bid_price % level).is_zero(), "{level} {u:?}");
                assert!(u.ask_size > Decimal::ZERO, "{level} {u:?}");
                assert_eq!(u.bid_price.is_zero(), u.bid_size.is_zero(), "{level} {u:?}");
            }
            assert!(b.orderbook_units.iter().filter(|u| !u.bid_price.is_zero()).count() >= 10, "{level}");
            assert_eq!(b, m.book(15, level, st).unwrap(), "drawn from the price, not anew");
            let kept: Decimal = plain.orderbook_units.iter().map(|u| u.bid_size).sum();
            let grouped: Decimal = b.orderbook_units.iter().map(|u| u.bid_size).sum();
            assert!(grouped >= kept, "{level}: {grouped} < {kept}");
        }
    }

    /// A market whose history starts at its listing serves only the candles it traded,
    /// the current year's included; the others draw as deep as asked.
    #[test]
    fn history_starts_at_a_listing_and_reaches_far_otherwise() {
        let start = 1_750_000_000_000;
        let mut g = Generator::new(load_markets(Some(3)).unwrap(), 5, start, 0);
        let code = g.markets[1].def.market.clone();
        g.market_mut(&code).unwrap().history_from = start;
        for _ in 0..400 {
            g.step(500);
        }
        let now = g.now;
        let m = g.market(&code).unwrap();
        let mins = m.candles_page(Span::Tf(Timeframe::M1), i64::MAX, 200, now);
        assert!(!mins.is_empty() && mins.len() <= 5, "{} minutes", mins.len());
        let first = iso_naive(bucket_start(Timeframe::M1, start), 0);
        assert!(mins.iter().all(|c| c.candle_date_time_utc >= first));
        assert_eq!(m.candles_page(Span::Year, i64::MAX, 200, now).len(), 1);
        let day = bucket_start(Timeframe::D1, start);
        assert!(m.candles_page(Span::Tf(Timeframe::D1), day, 200, now).is_empty());
        let btc = g.market("KRW-BTC").unwrap();
        assert_eq!(btc.candles_page(Span::Year, i64::MAX, 200, now).len(), 200);
        assert_eq!(btc.candles_page(Span::Tf(Timeframe::D1), start, 200, now).len(), 200);
    }

    /// In the same two virtual hours a small cap trades far less often than BTC, moves
    /// more and keeps a wider book.
    #[test]
    fn a_small_cap_moves_more_and_trades_less_than_btc() {
        let run = |code| {
            calibration_run(load_markets(None).unwrap(), 11, 1_750_000_000_000, code, 7200, 50).unwrap()
        };
        let (btc, small) = (run("KRW-BTC"), run("KRW-MOCA"));
        let median = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            (v[0] + v[v.len() - 1]) / 2.0
        };
        assert!(median(&small.hourly_ranges) > 2.0 * median(&btc.hourly_ranges), "{small:?} vs {btc:?}");
        assert!(small.trades * 10 < btc.trades, "{} vs {} trades", small.trades, btc.trades);
        assert!(small.one_tick_share() < 0.5 && btc.one_tick_share() > 0.8);
        assert_eq!(small.outside_touch, 0);
    }

    /// Small caps move more than BTC, a stablecoin hardly at all.
    #[test]
    fn market_classes_move_by_their_class() {
        let btc = Calibration::for_market("KRW-BTC");
        let small = Calibration::for_market("KRW-MOCA");
        let usdt = Calibration::for_market("KRW-USDT");
        assert!(small.hourly_vol >= 3.0 * btc.hourly_vol);
        assert!(usdt.hourly_vol < btc.hourly_vol / 3.0);
        assert!(small.spread_ticks > btc.spread_ticks);
        assert!(Calibration::for_market("BTC-ETH").weight < Calibration::for_market("KRW-ETH").weight);
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

    /// The ticker's day and the candle history are one price path: the previous close
    /// and the price lie within the range of the hourly candles of the last 24 h, the hour
    /// the day began in opens at the previous close, the change is the price against the
    /// previous close, and the day candle is the ticker's day.
    fn assert_one_path(m: &MarketSim, now: i64, when: &str) {
        let code = &m.def.market;
        let t = m.ticker(now, None);
        let hours = m.candles_page(Span::Tf(Timeframe::H1), i64::MAX, 25, now);
        let hi = hours.iter().map(|c| c.high_price).max().unwrap();
        let lo = hours.iter().map(|c| c.low_price).min().unwrap();
        let prev = t.prev_closing_price;
        assert!(lo <= prev && prev <= hi, "{when} {code}: previous close {prev} outside the 24 h {lo}-{hi}");
        assert!(
            lo <= t.trade_price && t.trade_price <= hi,
            "{when} {code}: {} outside {lo}-{hi}",
            t.trade_price
        );
        assert_eq!(t.signed_change_price, t.trade_price - prev, "{when} {code}");
        assert_eq!(t.signed_change_rate, ((t.trade_price - prev) / prev).round_dp(8), "{when} {code}");
        let day = iso_naive(bucket_start(Timeframe::D1, now), 0);
        let first = hours.iter().find(|c| c.candle_date_time_utc == day).unwrap();
        assert_eq!(
            first.opening_price, prev,
            "{when} {code}: the day's first hour opens at the previous close"
        );
        let d = m.candles_page(Span::Tf(Timeframe::D1), i64::MAX, 1, now).remove(0);
        assert_eq!(
            (d.opening_price, d.high_price, d.low_price, d.trade_price, d.prev_closing_price),
            (t.opening_price, t.high_price, t.low_price, t.trade_price, Some(prev)),
            "{when} {code}: the day candle is the ticker's day"
        );
    }

    /// Every market's day agrees with its candles at the start, after a stretch of
    /// trading, and after a restart whose kept day had moved (here: fell 15 %) before it.
    /// A restart used to put the saved day back on a past drawn afresh from the saved
    /// price: a previous close a day's move away from every candle of the last 24 h.
    #[test]
    fn the_day_and_the_candles_describe_one_path() {
        let start = 1_750_000_000_000;
        for seed in [7, 3] {
            let mut g = Generator::new(load_markets(None).unwrap(), seed, start, 3600);
            for m in &g.markets {
                assert_one_path(m, g.now, "start");
            }
            while g.now < start + 1_200_000 {
                g.step(50);
            }
            for m in &g.markets {
                assert_one_path(m, g.now, "traded");
            }
            let mut saved = g.saved_market();
            for (code, s) in saved.iter_mut().filter(|(c, _)| c.starts_with("KRW-")) {
                let day = s.day.as_mut().unwrap();
                let quote = code.split('-').next().unwrap();
                day.prev_close = ticks::snap(quote, s.price / dec(0.85), Rounding::Nearest);
                day.open = day.prev_close;
                day.high = day.high.max(day.prev_close);
            }
            let later = g.now + 60_000;
            let r = Generator::resumed(load_markets(None).unwrap(), seed, later, 3600, &saved);
            for m in &r.markets {
                assert_one_path(m, later, "resumed");
                if m.quote() == "KRW" {
                    let t = m.ticker(later, None);
                    assert_eq!(t.prev_closing_price, saved[&m.def.market].day.as_ref().unwrap().prev_close);
                }
            }
        }
    }

    /// A restart draws its past before the first session's start from that session's
    /// path: the same hours there, the next day too, with the day still one path with its
    /// candles. A file of an older hoga (no anchor) draws afresh once, and that past is
    /// kept from the restart after.
    #[test]
    fn a_restart_keeps_the_first_sessions_past_and_an_older_file_keeps_its_next() {
        let start = 1_750_000_000_000;
        let hours = |g: &Generator, to: i64| -> Vec<(String, Decimal, Decimal, Decimal, Decimal, Decimal)> {
            let m = g.market("KRW-BTC").unwrap();
            m.candles_page(Span::Tf(Timeframe::H1), to, 48, g.now)
                .into_iter()
                .map(|c| {
                    (
                        c.candle_date_time_utc,
                        c.opening_price,
                        c.high_price,
                        c.low_price,
                        c.trade_price,
                        c.candle_acc_trade_volume,
                    )
                })
                .collect()
        };
        let mut g = Generator::new(load_markets(Some(5)).unwrap(), 7, start, 600);
        while g.now < start + 600_000 {
            g.step(50);
        }
        let kept = bucket_start(Timeframe::H1, start - 600_000);
        let before = hours(&g, kept);
        let next_day = start + 30 * 3_600_000;
        let r = Generator::resumed(load_markets(Some(5)).unwrap(), 7, next_day, 600, &g.saved_market());
        assert_eq!(hours(&r, kept), before);
        for m in &r.markets {
            assert_one_path(m, next_day, "next day");
        }
        // An older file: no anchor. Drawn afresh, then kept.
        let mut old = g.saved_market();
        for s in old.values_mut() {
            s.anchor = None;
        }
        let later = start + 3_600_000;
        let a = Generator::resumed(load_markets(Some(5)).unwrap(), 7, later, 600, &old);
        assert_ne!(hours(&a, kept), before, "an older file's past is drawn afresh");
        let kept_a = bucket_start(Timeframe::H1, later - 600_000);
        let b =
            Generator::resumed(load_markets(Some(5)).unwrap(), 7, later + 7_200_000, 600, &a.saved_market());
        assert_eq!(hours(&b, kept_a), hours(&a, kept_a));
        for m in &b.markets {
            assert_one_path(m, b.now, "kept after an older file");
        }
    }

    /// A market priced under one won (KRW-SHIB, 0.0001 a tick) keeps a book of a few
    /// ticks like any market of its class, and its trades print at that book's touch. A
    /// level taken whole used to leave its gap open until the fair price left the book:
    /// gaps added up to a spread of a quarter of the price, and the prints alternated
    /// between its two ends.
    #[test]
    fn a_sub_won_market_keeps_a_tight_book_and_prints_inside_it() {
        let start = 1_750_000_000_000;
        let mut g = Generator::new(load_markets(None).unwrap(), 7, start, 60);
        let code = "KRW-SHIB";
        let cal = g.market(code).unwrap().cal;
        let tick = Decimal::new(1, 4);
        assert_eq!(g.market(code).unwrap().tick(), tick);
        let (mut books, mut trades) = (0usize, 0usize);
        let mut last: Option<Arc<WireOrderBook>> = None;
        while g.now < start + 3_600_000 {
            for e in g.step(50) {
                match e {
                    SimEvent::OrderBook(b) if b.code.as_deref() == Some(code) => {
                        let top = &b.orderbook_units[0];
                        assert!(
                            (top.ask_price % tick).is_zero() && (top.bid_price % tick).is_zero(),
                            "{top:?}"
                        );
                        // After a trade a level taken whole may leave one more tick.
                        let spread = (top.ask_price - top.bid_price) / tick;
                        assert!(
                            spread >= Decimal::ONE && spread <= Decimal::from(cal.spread_ticks + 1),
                            "{spread} ticks at {}: {top:?}",
                            b.timestamp
                        );
                        assert_eq!(b.orderbook_units.len(), BOOK_DEPTH);
                        books += 1;
                        last = Some(b);
                    }
                    SimEvent::Trade(t) if t.code == code => {
                        let top = &last.as_ref().unwrap().orderbook_units[0];
                        let touch =
                            if matches!(t.ask_bid, AskBid::Bid) { top.ask_price } else { top.bid_price };
                        assert_eq!(t.trade_price, touch, "{t:?}");
                        trades += 1;
                    }
                    _ => {}
                }
            }
        }
        assert!(trades > 50, "{trades} trades, {books} books");
    }
}
