//! Exchange-neutral market and account types.
//!
//! Everything above `exchange::upbit` speaks these. Money and sizes are
//! `rust_decimal::Decimal` end to end ([`Price`], [`Qty`]); times from the exchange are
//! Unix milliseconds as the exchange stamped them.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A price in the quote currency.
pub type Price = Decimal;
/// A quantity of the base currency.
pub type Qty = Decimal;

// ---------------------------------------------------------------------------------------
// Values the exchange may add later

/// A bounded, process-wide set of (key, detail) pairs already reported: "log this once".
/// Past its capacity (only a peer inventing values gets there) nothing new is recorded,
/// so memory stays bounded and the caller stops logging.
#[derive(Debug)]
pub(crate) struct SeenOnce {
    cap: usize,
    set: std::sync::Mutex<std::collections::BTreeSet<(String, String)>>,
}

impl SeenOnce {
    /// An empty set holding at most `cap` pairs.
    pub const fn new(cap: usize) -> Self {
        SeenOnce { cap, set: std::sync::Mutex::new(std::collections::BTreeSet::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<(String, String)>> {
        self.set.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// True the first time (key, detail) is offered while there is room (and records it).
    pub fn first(&self, key: &str, detail: &str) -> bool {
        let mut set = self.lock();
        let pair = (key.to_string(), detail.to_string());
        if set.len() >= self.cap || set.contains(&pair) {
            return false;
        }
        set.insert(pair);
        true
    }

    /// Whether (key, detail) was recorded.
    pub fn contains(&self, key: &str, detail: &str) -> bool {
        self.lock().contains(&(key.to_string(), detail.to_string()))
    }

    /// How many pairs are recorded.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Most distinct (field, value) pairs [`note_unknown`] and [`note_out_of_band`] remember.
const MAX_UNKNOWN_SEEN: usize = 256;

static UNKNOWN_SEEN: SeenOnce = SeenOnce::new(MAX_UNKNOWN_SEEN);

/// Records a value of a wire enum this version of hoga does not know (`change:
/// "NEUTRAL"`, a new `stream_type`, a new order `state`) and logs it once per (field,
/// value) for the whole process. The value is cut to 40 characters.
pub(crate) fn note_unknown(field: &'static str, value: &str) {
    if first_sighting(field, value) {
        tracing::warn!(field, value = %value.escape_debug(), "the exchange sent a value hoga does not know; the rest of the message is used");
    }
}

/// Records a secondary number outside its band that was dropped ("not known") so the rest
/// of the message could be used (see [`Ticker::context_in_band`]); logged once per
/// (field, value), like [`note_unknown`].
pub(crate) fn note_out_of_band(field: &'static str, value: &str) {
    if first_sighting(field, value) {
        tracing::warn!(field, value = %value.escape_debug(), "the exchange sent a number outside its band; it is shown as not known and the rest of the message is used");
    }
}

/// True the first time (field, value) is seen (the value cut to 40 characters).
fn first_sighting(field: &'static str, value: &str) -> bool {
    let value: String = value.chars().take(40).collect();
    UNKNOWN_SEEN.first(field, &value)
}

/// True when [`note_unknown`] has seen this (field, value) (for tests and diagnostics).
pub fn unknown_seen(field: &str, value: &str) -> bool {
    UNKNOWN_SEEN.contains(field, value)
}

/// A `Deserialize` for a wire enum that maps each known spelling to its variant and any
/// other string to `Unknown` (noted once by [`note_unknown`]), without allocating.
macro_rules! lenient_enum {
    ($ty:ident, $field:literal, { $($text:literal => $var:ident),* $(,)? }) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("a string (", $field, ")"))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        Ok(match v {
                            $($text => $ty::$var,)*
                            other => {
                                $crate::exchange::types::note_unknown($field, other);
                                $ty::Unknown
                            }
                        })
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}
pub(crate) use lenient_enum;

// ---------------------------------------------------------------------------------------
// The band of numbers accepted from the network

/// The band every number from the exchange must fall in before anything uses it
/// (docs/RELIABILITY.md case 16). A message with a number outside it is refused as malformed,
/// like a frame that does not parse, and counted the same way.
///
/// | kind | band | why |
/// |---|---|---|
/// | price | `1e-12 ≤ p ≤ 1e15` | no real quote is below 1e-12 or above a quadrillion |
/// | price that may be unknown (ticker open/high/low, previous close, 52-week, order-book slot) | `0` or a price | a new listing has no previous close; an empty book slot is 0 |
/// | size (of one trade, order, fill or book level) | `0 ≤ s ≤ 1e15` | |
/// | value (price × size, funds, fees, balances, accumulations: traded value and volume, book totals) | `0 ≤ v ≤ 1e20` | |
/// | change (signed price change) | `|c| ≤ 1e15`; ratio `|r| ≤ 1e6` | |
/// | time | `0 ≤ ms ≤ 253402300799999` (year 9999) | |
///
/// Every product of a price and a size is checked against the value band too. The bands
/// keep every sum and product hoga makes of such numbers far below `Decimal::MAX`
/// (≈7.9e28); arithmetic downstream is still checked (`checked_*`), because the paper
/// venue, REST replies and the simulator feed numbers in as well.
pub mod band {
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;

    /// Smallest price accepted.
    pub(crate) const MIN_PRICE: Decimal = dec!(0.000000000001);
    /// Largest price accepted.
    pub const MAX_PRICE: Decimal = dec!(1_000_000_000_000_000);
    /// Largest size accepted.
    pub(crate) const MAX_SIZE: Decimal = dec!(1_000_000_000_000_000);
    /// Largest value (quote amount) accepted.
    pub const MAX_VALUE: Decimal = dec!(100_000_000_000_000_000_000);
    /// Largest absolute change ratio accepted.
    pub(crate) const MAX_RATIO: Decimal = dec!(1_000_000);
    /// Latest timestamp accepted (9999-12-31T23:59:59.999Z).
    pub(crate) const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;

    /// A number outside its band: names the field and the value.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    #[error("{field} = {value} is outside the accepted band ({band})")]
    pub struct OutOfBand {
        /// The field.
        pub field: &'static str,
        /// The value as text.
        pub value: String,
        /// The band, for people.
        pub band: &'static str,
    }

    fn out(field: &'static str, value: impl ToString, band: &'static str) -> OutOfBand {
        OutOfBand { field, value: value.to_string(), band }
    }

    /// A price: `1e-12 ≤ p ≤ 1e15`.
    pub fn price(field: &'static str, v: Decimal) -> Result<Decimal, OutOfBand> {
        if (MIN_PRICE..=MAX_PRICE).contains(&v) {
            Ok(v)
        } else {
            Err(out(field, v, "1e-12 ≤ price ≤ 1e15"))
        }
    }

    /// A price that may be 0 (not known).
    pub(crate) fn price_or_zero(field: &'static str, v: Decimal) -> Result<Decimal, OutOfBand> {
        if v.is_zero() || (MIN_PRICE..=MAX_PRICE).contains(&v) {
            Ok(v)
        } else {
            Err(out(field, v, "0, or 1e-12 ≤ price ≤ 1e15"))
        }
    }

    /// `v ≥ 0` by the sign bit (a "-0" counts as 0): cheaper than a comparison, and the
    /// decoder runs these checks on every level of every book.
    fn non_negative(v: Decimal) -> bool {
        !v.is_sign_negative() || v.is_zero()
    }

    /// A size: `0 ≤ s ≤ 1e15`.
    pub fn size(field: &'static str, v: Decimal) -> Result<Decimal, OutOfBand> {
        if non_negative(v) && v <= MAX_SIZE { Ok(v) } else { Err(out(field, v, "0 ≤ size ≤ 1e15")) }
    }

    /// A value: `0 ≤ v ≤ 1e20`.
    pub fn value(field: &'static str, v: Decimal) -> Result<Decimal, OutOfBand> {
        if non_negative(v) && v <= MAX_VALUE { Ok(v) } else { Err(out(field, v, "0 ≤ value ≤ 1e20")) }
    }

    /// A signed price change: `|c| ≤ 1e15`.
    pub fn change(field: &'static str, v: Decimal) -> Result<Decimal, OutOfBand> {
        if v.abs() <= MAX_PRICE { Ok(v) } else { Err(out(field, v, "|change| ≤ 1e15")) }
    }

    /// A signed ratio: `|r| ≤ 1e6`.
    pub fn ratio(field: &'static str, v: Decimal) -> Result<Decimal, OutOfBand> {
        if v.abs() <= MAX_RATIO { Ok(v) } else { Err(out(field, v, "|ratio| ≤ 1e6")) }
    }

    /// A time in Unix milliseconds: `0 ≤ ms ≤ 253402300799999`.
    pub fn time(field: &'static str, ms: i64) -> Result<i64, OutOfBand> {
        if (0..=MAX_TIMESTAMP_MS).contains(&ms) {
            Ok(ms)
        } else {
            Err(out(field, ms, "0 ≤ ms ≤ year 9999"))
        }
    }

    /// Below this, a price × size of two in-band numbers cannot leave the value band
    /// (1e10 × 1e10 = 1e20): the product is not computed (real books never get near it).
    const SMALL: Decimal = dec!(10_000_000_000);

    /// Whether price × size is within the value band (checked; the product is only
    /// computed when a factor is 1e10 or more).
    pub fn notional(field: &'static str, price: Decimal, size: Decimal) -> Result<(), OutOfBand> {
        if non_negative(price) && non_negative(size) && price <= SMALL && size <= SMALL {
            return Ok(());
        }
        match price.checked_mul(size) {
            Some(v) => value(field, v).map(|_| ()),
            None => Err(out(field, format!("{price} × {size}"), "price × size ≤ 1e20")),
        }
    }

    /// An optional value checked by `f`.
    pub(crate) fn opt(
        v: Option<Decimal>,
        f: impl FnOnce(Decimal) -> Result<Decimal, OutOfBand>,
    ) -> Result<(), OutOfBand> {
        v.map_or(Ok(()), |v| f(v).map(|_| ()))
    }
}

pub use band::OutOfBand;

/// A market code such as `KRW-BTC` (`QUOTE-BASE`, upper case). Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MarketId(Arc<str>);

/// A market code that is not `QUOTE-BASE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a market code (expected QUOTE-BASE such as KRW-BTC): {0:?}")]
pub struct BadMarketId(pub String);

impl MarketId {
    /// Builds a market id from a code, upper-casing it. Does not validate; see `FromStr`.
    pub fn new(code: &str) -> Self {
        if code.bytes().any(|b| b.is_ascii_lowercase()) {
            MarketId(Arc::from(code.to_ascii_uppercase()))
        } else {
            MarketId(Arc::from(code))
        }
    }

    /// The code as text, e.g. `KRW-BTC`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The quote currency (`KRW` of `KRW-BTC`).
    pub fn quote(&self) -> &str {
        self.0.split_once('-').map(|(q, _)| q).unwrap_or(&self.0)
    }

    /// The base currency (`BTC` of `KRW-BTC`).
    pub fn base(&self) -> &str {
        self.0.split_once('-').map(|(_, b)| b).unwrap_or(&self.0)
    }
}

impl FromStr for MarketId {
    type Err = BadMarketId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let ok = match t.split_once('-') {
            Some((q, b)) => {
                !q.is_empty()
                    && !b.is_empty()
                    && q.chars().all(|c| c.is_ascii_alphanumeric())
                    && b.chars().all(|c| c.is_ascii_alphanumeric())
            }
            None => false,
        };
        if ok { Ok(MarketId::new(t)) } else { Err(BadMarketId(s.to_string())) }
    }
}

impl fmt::Display for MarketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for MarketId {
    fn from(s: &str) -> Self {
        MarketId::new(s)
    }
}

/// Buy or sell. Upbit calls them `bid` and `ask`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Buy.
    Bid,
    /// Sell.
    Ask,
}

impl Side {
    /// The other side.
    pub(crate) fn opposite(self) -> Side {
        match self {
            Side::Bid => Side::Ask,
            Side::Ask => Side::Bid,
        }
    }

    /// `BUY` / `SELL`, for people.
    pub fn label(self) -> &'static str {
        match self {
            Side::Bid => "BUY",
            Side::Ask => "SELL",
        }
    }
}

/// Direction against the previous close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum Change {
    /// Above the previous close.
    Rise,
    /// Equal to the previous close.
    #[default]
    Even,
    /// Below the previous close.
    Fall,
    /// A value this version of hoga does not know (logged once; the frame is used).
    Unknown,
}

lenient_enum!(Change, "change", { "RISE" => Rise, "EVEN" => Even, "FALL" => Fall });

/// Whether a streamed message is the one-off snapshot or a live update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum StreamType {
    /// The state at subscription time.
    Snapshot,
    /// A live update.
    #[default]
    Realtime,
    /// A value this version of hoga does not know (logged once; the frame is used as a
    /// live update).
    Unknown,
}

lenient_enum!(StreamType, "stream_type", { "SNAPSHOT" => Snapshot, "REALTIME" => Realtime });

/// A market listed by the exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketInfo {
    /// Code, e.g. `KRW-BTC`.
    pub market: MarketId,
    /// Korean name.
    pub korean_name: String,
    /// English name.
    pub english_name: String,
    /// Investment warning (유의 종목).
    pub warning: bool,
    /// Any caution flag (주의 종목) is set.
    pub caution: bool,
}

/// Ticker: the day's statistics and the last trade of one market.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Ticker {
    /// Market.
    pub market: Option<MarketId>,
    /// Last trade price.
    pub trade_price: Price,
    /// Day open (since UTC 00:00).
    pub opening_price: Price,
    /// Day high.
    pub high_price: Price,
    /// Day low.
    pub low_price: Price,
    /// Previous UTC-midnight close.
    pub prev_closing_price: Price,
    /// Direction against the previous close.
    pub change: Change,
    /// Signed change against the previous close.
    pub signed_change_price: Price,
    /// Signed change as a ratio (0.0126 = 1.26 %).
    pub signed_change_rate: Decimal,
    /// Size of the last trade.
    pub trade_volume: Qty,
    /// Traded value since UTC 00:00.
    pub acc_trade_price: Decimal,
    /// Traded value over the last 24 h.
    pub acc_trade_price_24h: Decimal,
    /// Traded volume over the last 24 h.
    pub acc_trade_volume_24h: Qty,
    /// 52-week high.
    pub highest_52_week_price: Price,
    /// 52-week low.
    pub lowest_52_week_price: Price,
    /// Time of the last trade (ms).
    pub trade_timestamp: i64,
    /// Time the message was produced (ms).
    pub timestamp: i64,
    /// Snapshot or live.
    pub stream_type: StreamType,
}

/// One trade print.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    /// Market.
    pub market: MarketId,
    /// Price.
    pub price: Price,
    /// Size.
    pub volume: Qty,
    /// Taker side (`Bid` = a buyer lifted the offer); `None` when the exchange sent a
    /// side this version of hoga does not know.
    pub side: Option<Side>,
    /// Trade time (ms).
    pub trade_timestamp: i64,
    /// Message time (ms).
    pub timestamp: i64,
    /// Unique id (not ordered).
    pub sequential_id: i64,
    /// Snapshot or live.
    pub stream_type: StreamType,
}

/// One price level pair of the order book; index 0 is the best ask and best bid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct BookLevel {
    /// Ask price.
    pub ask_price: Price,
    /// Ask size.
    pub ask_size: Qty,
    /// Bid price.
    pub bid_price: Price,
    /// Bid size.
    pub bid_size: Qty,
}

/// A full top-N order book (Upbit sends complete snapshots, never deltas).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct OrderBook {
    /// Market.
    pub market: Option<MarketId>,
    /// Levels, best first.
    pub levels: Vec<BookLevel>,
    /// Total ask size over the delivered levels.
    pub total_ask_size: Qty,
    /// Total bid size over the delivered levels.
    pub total_bid_size: Qty,
    /// Grouping unit (0 = native tick).
    pub level: Decimal,
    /// Message time (ms).
    pub timestamp: i64,
    /// Snapshot or live.
    pub stream_type: StreamType,
}

impl OrderBook {
    /// Best ask price, if any.
    pub fn best_ask(&self) -> Option<Price> {
        self.levels.first().map(|l| l.ask_price).filter(|p| !p.is_zero())
    }
    /// Best bid price, if any.
    pub fn best_bid(&self) -> Option<Price> {
        self.levels.first().map(|l| l.bid_price).filter(|p| !p.is_zero())
    }
}

/// Candle period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Timeframe {
    /// 1 second.
    S1,
    /// 1 minute.
    M1,
    /// 3 minutes.
    M3,
    /// 5 minutes.
    M5,
    /// 10 minutes.
    M10,
    /// 15 minutes.
    M15,
    /// 30 minutes.
    M30,
    /// 60 minutes.
    H1,
    /// 240 minutes.
    H4,
    /// 1 day (UTC buckets).
    D1,
    /// 1 week.
    W1,
    /// 1 month.
    Mo1,
}

impl Timeframe {
    /// Every timeframe, shortest first.
    pub const ALL: [Timeframe; 12] = [
        Timeframe::S1,
        Timeframe::M1,
        Timeframe::M3,
        Timeframe::M5,
        Timeframe::M10,
        Timeframe::M15,
        Timeframe::M30,
        Timeframe::H1,
        Timeframe::H4,
        Timeframe::D1,
        Timeframe::W1,
        Timeframe::Mo1,
    ];

    /// The label people type: `1s 1m 3m 5m 10m 15m 30m 1h 4h 1D 1W 1M`.
    pub fn label(self) -> &'static str {
        match self {
            Timeframe::S1 => "1s",
            Timeframe::M1 => "1m",
            Timeframe::M3 => "3m",
            Timeframe::M5 => "5m",
            Timeframe::M10 => "10m",
            Timeframe::M15 => "15m",
            Timeframe::M30 => "30m",
            Timeframe::H1 => "1h",
            Timeframe::H4 => "4h",
            Timeframe::D1 => "1D",
            Timeframe::W1 => "1W",
            Timeframe::Mo1 => "1M",
        }
    }

    /// Fixed length in seconds (weeks and months: nominal, for display only).
    pub fn seconds(self) -> i64 {
        match self {
            Timeframe::S1 => 1,
            Timeframe::M1 => 60,
            Timeframe::M3 => 180,
            Timeframe::M5 => 300,
            Timeframe::M10 => 600,
            Timeframe::M15 => 900,
            Timeframe::M30 => 1800,
            Timeframe::H1 => 3600,
            Timeframe::H4 => 14400,
            Timeframe::D1 => 86400,
            Timeframe::W1 => 7 * 86400,
            Timeframe::Mo1 => 30 * 86400,
        }
    }

    /// Minutes, for the minute family (`/candles/minutes/{unit}`, `candle.{n}m`).
    pub fn minutes(self) -> Option<u32> {
        match self {
            Timeframe::M1 => Some(1),
            Timeframe::M3 => Some(3),
            Timeframe::M5 => Some(5),
            Timeframe::M10 => Some(10),
            Timeframe::M15 => Some(15),
            Timeframe::M30 => Some(30),
            Timeframe::H1 => Some(60),
            Timeframe::H4 => Some(240),
            _ => None,
        }
    }
}

impl FromStr for Timeframe {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Case matters only between minutes and months: `1m` is a minute, `1M` a month.
        let t = s.trim();
        let tf = match t {
            "1s" => Timeframe::S1,
            "1m" => Timeframe::M1,
            "3m" => Timeframe::M3,
            "5m" => Timeframe::M5,
            "10m" => Timeframe::M10,
            "15m" => Timeframe::M15,
            "30m" => Timeframe::M30,
            "1h" | "60m" | "1H" => Timeframe::H1,
            "4h" | "240m" | "4H" => Timeframe::H4,
            "1D" | "1d" | "D" => Timeframe::D1,
            "1W" | "1w" | "W" => Timeframe::W1,
            "1M" | "1mo" | "M" => Timeframe::Mo1,
            _ => {
                return Err(format!(
                    "unknown timeframe {t:?} (one of 1s 1m 3m 5m 10m 15m 30m 1h 4h 1D 1W 1M)"
                ));
            }
        };
        Ok(tf)
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One OHLCV bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candle {
    /// Market.
    pub market: MarketId,
    /// Period.
    pub timeframe: Timeframe,
    /// Bucket start, Unix ms UTC.
    pub start: i64,
    /// Open.
    pub open: Price,
    /// High.
    pub high: Price,
    /// Low.
    pub low: Price,
    /// Close (last trade in the bucket).
    pub close: Price,
    /// Volume traded in the bucket.
    pub volume: Qty,
    /// Value traded in the bucket (quote currency).
    pub value: Decimal,
    /// Time of the last tick in the bucket (ms).
    pub timestamp: i64,
}

/// A currency balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Balance {
    /// Currency code (`KRW`, `BTC`).
    pub currency: String,
    /// Available.
    pub balance: Decimal,
    /// Reserved by open orders.
    pub locked: Decimal,
    /// Average buy price in `unit_currency`.
    pub avg_buy_price: Decimal,
    /// Currency of the average buy price.
    pub unit_currency: String,
}

impl Balance {
    /// Available plus locked (saturating: both come from the network).
    pub fn total(&self) -> Decimal {
        self.balance.saturating_add(self.locked)
    }

    /// The market this balance is valued in (`KRW-BTC` for BTC bought with KRW); `None`
    /// for cash (a currency valued in itself).
    pub fn market(&self) -> Option<MarketId> {
        let unit = if self.unit_currency.is_empty() { "KRW" } else { &self.unit_currency };
        (self.currency != unit).then(|| MarketId::new(&format!("{unit}-{}", self.currency)))
    }
}

/// Order type as Upbit defines them.
///
/// `Copy` on purpose (it travels by value through validation, the risk gate, the paper
/// engine and the simulator), so a type hoga does not know keeps its wire spelling as an
/// interned `&'static str` (see [`OrderType::other`]) rather than a `String`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderType {
    /// Limit order at a unit price.
    Limit,
    /// Market buy for a total quote amount.
    Price,
    /// Market sell of a volume.
    Market,
    /// Best-price order (needs ioc or fok).
    Best,
    /// A type this version of hoga does not know (a new Upbit order type, or one placed on
    /// Upbit's web site), with its wire spelling. Such an order is kept and tracked like any
    /// other (state, fills, cancel; it counts as an open order), but hoga never sends one:
    /// [`crate::trading::orders::validate`] refuses it, and nothing computes a notional,
    /// lock or fill rule for it. Shown as its wire spelling.
    Other(&'static str),
}

/// Most distinct unknown order-type spellings interned; past that (only a peer inventing
/// values gets there) they all read as `"unknown"`, so memory stays bounded.
const MAX_OTHER_TYPES: usize = 64;

static OTHER_TYPES: std::sync::Mutex<std::collections::BTreeSet<&'static str>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

impl OrderType {
    /// The type of a wire spelling: a known one, or [`OrderType::Other`] (noted once by
    /// [`note_unknown`]). Never fails.
    pub(crate) fn from_wire(s: &str) -> OrderType {
        match s {
            "limit" => OrderType::Limit,
            "price" => OrderType::Price,
            "market" => OrderType::Market,
            "best" => OrderType::Best,
            other => {
                note_unknown("ord_type", other);
                OrderType::other(other)
            }
        }
    }

    /// An unknown type, its spelling cut to 40 characters and interned (a bounded set, so
    /// each spelling is leaked at most once; past the set's bound (`MAX_OTHER_TYPES`) it reads `"unknown"`).
    pub fn other(s: &str) -> OrderType {
        let cut: String = s.chars().take(40).collect();
        let mut set = OTHER_TYPES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(known) = set.get(cut.as_str()) {
            return OrderType::Other(known);
        }
        if set.len() >= MAX_OTHER_TYPES {
            return OrderType::Other("unknown");
        }
        let leaked: &'static str = Box::leak(cut.into_boxed_str());
        set.insert(leaked);
        OrderType::Other(leaked)
    }

    /// The wire spelling: `limit`, `price`, `market`, `best`, or an unknown type's own.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Limit => "limit",
            OrderType::Price => "price",
            OrderType::Market => "market",
            OrderType::Best => "best",
            OrderType::Other(s) => s,
        }
    }

    /// True for a type hoga knows (and may send).
    pub fn is_known(self) -> bool {
        !matches!(self, OrderType::Other(_))
    }
}

impl fmt::Display for OrderType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for OrderType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OrderType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(OrderType::from_wire(&s))
    }
}

/// Time in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeInForce {
    /// Immediate or cancel.
    Ioc,
    /// Fill or kill.
    Fok,
    /// Maker only.
    PostOnly,
}

/// Order state as the exchange reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Resting / accepted.
    Wait,
    /// Reserved order waiting for its trigger.
    Watch,
    /// A fill happened (websocket only).
    Trade,
    /// Fully filled.
    Done,
    /// Cancelled (possibly after partial fills).
    Cancel,
    /// Self-match prevention took part of the order away (`myOrder` only); the order
    /// goes on with the rest. When nothing is left Upbit sends `cancel` instead.
    Prevented,
    /// A state this version of hoga does not know (logged once). Never terminal: the
    /// order manager keeps such an order as it was and looks it up again, it never takes
    /// it for done.
    Unknown,
}

lenient_enum!(OrderState, "state", {
    "wait" => Wait, "watch" => Watch, "trade" => Trade, "done" => Done, "cancel" => Cancel,
    "prevented" => Prevented,
});

impl OrderState {
    /// True when the order can no longer change.
    pub fn is_terminal(self) -> bool {
        matches!(self, OrderState::Done | OrderState::Cancel)
    }
}

/// One fill of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// Fill id (Upbit trade uuid); the dedupe key.
    pub trade_uuid: String,
    /// Order id.
    pub order_uuid: String,
    /// Market.
    pub market: MarketId,
    /// Side of the order. `None` when the exchange sent a side this version of hoga does
    /// not know: hoga never guesses one. The order manager resolves it from the tracked
    /// order (for an order hoga placed its own side is authoritative) before the fill is
    /// journaled, counted in a position or shown; a fill it cannot resolve is not used.
    pub side: Option<Side>,
    /// Fill price.
    pub price: Price,
    /// Fill size.
    pub volume: Qty,
    /// price × volume.
    pub funds: Decimal,
    /// Fee of this fill, when known.
    pub fee: Option<Decimal>,
    /// Maker or taker, when known.
    pub is_maker: Option<bool>,
    /// Fill time (ms), when known.
    pub timestamp: i64,
}

/// An order as the exchange reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Exchange order id.
    pub uuid: String,
    /// Our client id, if set.
    pub identifier: Option<String>,
    /// Market.
    pub market: MarketId,
    /// Side; `None` when the exchange sent a side this version of hoga does not know
    /// (noted once, never guessed). The order manager uses its own side for an order it
    /// tracks and leaves a foreign order with no known side out of tracking and position
    /// maths (counted and logged once); the rest of the order (state, volumes, fills) is
    /// still used.
    pub side: Option<Side>,
    /// Type ([`OrderType::Other`] for one hoga does not know).
    pub ord_type: OrderType,
    /// Unit price (limit) or total amount (price / best bid).
    pub price: Option<Price>,
    /// Requested volume.
    pub volume: Option<Qty>,
    /// Volume still open.
    pub remaining_volume: Qty,
    /// Volume filled.
    pub executed_volume: Qty,
    /// Funds filled (quote currency), when reported.
    pub executed_funds: Option<Decimal>,
    /// Fee reserved at placement.
    pub reserved_fee: Decimal,
    /// Fee still reserved.
    pub remaining_fee: Decimal,
    /// Fee paid so far.
    pub paid_fee: Decimal,
    /// Funds still locked.
    pub locked: Decimal,
    /// State.
    pub state: OrderState,
    /// Time in force, if set.
    pub time_in_force: Option<TimeInForce>,
    /// Creation time as the exchange wrote it (ISO 8601 with offset).
    pub created_at: String,
    /// Number of fills.
    pub trades_count: u32,
    /// Fills (only from single-order queries).
    pub trades: Vec<Fill>,
}

// ---------------------------------------------------------------------------------------
// Band checks (see [`band`])

impl Ticker {
    /// The ticker with its context figures kept in [`band`]: open, high, low, previous
    /// close, the 52-week figures, the change, the last trade's volume and the
    /// accumulations are context, not the price, and one of them outside its band is set
    /// to 0 ("not known", noted once by [`note_out_of_band`]) rather than refusing the
    /// whole ticker. Refusing it would silence the market's price for as long as the bad
    /// figure lasts (one absurd print stays the day's high until midnight) and turn every
    /// stop on it STALE. The last price and the times are checked by [`Ticker::check`].
    pub fn context_in_band(mut self) -> Ticker {
        let keep = |field: &'static str,
                    v: &mut Decimal,
                    ok: fn(&'static str, Decimal) -> Result<Decimal, OutOfBand>| {
            if ok(field, *v).is_err() {
                note_out_of_band(field, &v.to_string());
                *v = Decimal::ZERO;
            }
        };
        keep("opening_price", &mut self.opening_price, band::price_or_zero);
        keep("high_price", &mut self.high_price, band::price_or_zero);
        keep("low_price", &mut self.low_price, band::price_or_zero);
        keep("prev_closing_price", &mut self.prev_closing_price, band::price_or_zero);
        keep("highest_52_week_price", &mut self.highest_52_week_price, band::price_or_zero);
        keep("lowest_52_week_price", &mut self.lowest_52_week_price, band::price_or_zero);
        keep("signed_change_price", &mut self.signed_change_price, band::change);
        keep("signed_change_rate", &mut self.signed_change_rate, band::ratio);
        keep("trade_volume", &mut self.trade_volume, band::size);
        if band::notional("trade_price × trade_volume", self.trade_price, self.trade_volume).is_err() {
            note_out_of_band("trade_volume", &self.trade_volume.to_string());
            self.trade_volume = Decimal::ZERO;
        }
        keep("acc_trade_price", &mut self.acc_trade_price, band::value);
        keep("acc_trade_price_24h", &mut self.acc_trade_price_24h, band::value);
        keep("acc_trade_volume_24h", &mut self.acc_trade_volume_24h, band::value);
        self
    }

    /// The checks [`Ticker::context_in_band`] does not make: the last price and the times.
    /// Enough for a ticker that went through it (the websocket decoder), where running
    /// [`Ticker::check`] would compare every context figure a second time.
    pub(crate) fn check_price_and_times(&self) -> Result<(), OutOfBand> {
        band::price("trade_price", self.trade_price)?;
        band::time("trade_timestamp", self.trade_timestamp)?;
        band::time("timestamp", self.timestamp)?;
        Ok(())
    }

    /// Checks every number against [`band`]: the last price must be a price; open, high,
    /// low, previous close and the 52-week figures a price or 0 (not known).
    pub fn check(&self) -> Result<(), OutOfBand> {
        band::price("trade_price", self.trade_price)?;
        for (f, v) in [
            ("opening_price", self.opening_price),
            ("high_price", self.high_price),
            ("low_price", self.low_price),
            ("prev_closing_price", self.prev_closing_price),
            ("highest_52_week_price", self.highest_52_week_price),
            ("lowest_52_week_price", self.lowest_52_week_price),
        ] {
            band::price_or_zero(f, v)?;
        }
        band::change("signed_change_price", self.signed_change_price)?;
        band::ratio("signed_change_rate", self.signed_change_rate)?;
        band::size("trade_volume", self.trade_volume)?;
        band::notional("trade_price × trade_volume", self.trade_price, self.trade_volume)?;
        band::value("acc_trade_price", self.acc_trade_price)?;
        band::value("acc_trade_price_24h", self.acc_trade_price_24h)?;
        band::value("acc_trade_volume_24h", self.acc_trade_volume_24h)?;
        band::time("trade_timestamp", self.trade_timestamp)?;
        band::time("timestamp", self.timestamp)?;
        Ok(())
    }
}

impl Trade {
    /// Checks price, size, their product and the times against [`band`].
    pub fn check(&self) -> Result<(), OutOfBand> {
        band::price("trade_price", self.price)?;
        band::size("trade_volume", self.volume)?;
        band::notional("trade_price × trade_volume", self.price, self.volume)?;
        band::time("trade_timestamp", self.trade_timestamp)?;
        band::time("timestamp", self.timestamp)?;
        Ok(())
    }
}

impl OrderBook {
    /// Checks every level against [`band`]: a price is a price, or 0 for an empty slot
    /// (whose size must then be 0 too); sizes, price × size and the totals are bounded.
    pub fn check(&self) -> Result<(), OutOfBand> {
        for l in &self.levels {
            for (pf, p, sf, q) in [
                ("ask_price", l.ask_price, "ask_size", l.ask_size),
                ("bid_price", l.bid_price, "bid_size", l.bid_size),
            ] {
                band::size(sf, q)?;
                if p.is_zero() && !q.is_zero() {
                    band::price(pf, p)?;
                }
                band::price_or_zero(pf, p)?;
                band::notional("price × size", p, q)?;
            }
        }
        band::value("total_ask_size", self.total_ask_size)?;
        band::value("total_bid_size", self.total_bid_size)?;
        band::value("level", self.level)?;
        band::time("timestamp", self.timestamp)?;
        Ok(())
    }
}

impl Candle {
    /// Checks open, high, low, close (prices), volume and value (accumulations: the value
    /// band) and the times against [`band`].
    pub fn check(&self) -> Result<(), OutOfBand> {
        band::price("opening_price", self.open)?;
        band::price("high_price", self.high)?;
        band::price("low_price", self.low)?;
        band::price("trade_price", self.close)?;
        band::value("candle_acc_trade_volume", self.volume)?;
        band::value("candle_acc_trade_price", self.value)?;
        band::time("candle start", self.start)?;
        band::time("timestamp", self.timestamp)?;
        Ok(())
    }
}

impl Balance {
    /// Checks the amounts against [`band`]: balances are values (cash can exceed any coin
    /// size), and so is the average buy price (an average the exchange computed, 0 for
    /// cash and airdrops; one odd average must not refuse every balance).
    pub fn check(&self) -> Result<(), OutOfBand> {
        band::value("balance", self.balance)?;
        band::value("locked", self.locked)?;
        band::value("avg_buy_price", self.avg_buy_price)?;
        Ok(())
    }
}

impl Fill {
    /// Checks price, volume, funds, fee and their product against [`band`].
    pub fn check(&self) -> Result<(), OutOfBand> {
        band::price("fill price", self.price)?;
        band::size("fill volume", self.volume)?;
        band::notional("fill price × volume", self.price, self.volume)?;
        band::value("fill funds", self.funds)?;
        band::opt(self.fee, |v| band::value("fill fee", v))?;
        Ok(())
    }
}

impl Order {
    /// Checks every amount against [`band`]. `price` is a unit price (limit) or a total
    /// (market buy), so it is checked as a value; 0 is read as "not given", like `null`
    /// (nothing divides by an order's price, and refusing a whole order list for it would
    /// stall reconciliation). Fill prices must be prices.
    pub fn check(&self) -> Result<(), OutOfBand> {
        band::opt(self.price, |v| band::value("price", v))?;
        band::opt(self.volume, |v| band::size("volume", v))?;
        band::size("remaining_volume", self.remaining_volume)?;
        band::size("executed_volume", self.executed_volume)?;
        band::opt(self.executed_funds, |v| band::value("executed_funds", v))?;
        for (f, v) in [
            ("reserved_fee", self.reserved_fee),
            ("remaining_fee", self.remaining_fee),
            ("paid_fee", self.paid_fee),
            ("locked", self.locked),
        ] {
            band::value(f, v)?;
        }
        self.trades.iter().try_for_each(Fill::check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_id_parts_and_parse() {
        let m: MarketId = "krw-btc".parse().unwrap();
        assert_eq!(m.as_str(), "KRW-BTC");
        assert_eq!((m.quote(), m.base()), ("KRW", "BTC"));
        for bad in ["", "KRW", "KRW-", "-BTC", "KRW BTC", "KRW-BT C"] {
            assert!(bad.parse::<MarketId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn band_edges() {
        use rust_decimal_macros::dec;
        assert!(band::price("p", dec!(0.000000000001)).is_ok());
        assert!(band::price("p", dec!(1_000_000_000_000_000)).is_ok());
        for bad in [dec!(0), dec!(-5), dec!(0.000000000000999), dec!(1_000_000_000_000_000.1), Decimal::MAX] {
            let e = band::price("trade_price", bad).unwrap_err();
            assert!(e.to_string().contains("trade_price") && e.to_string().contains("band"), "{e}");
        }
        assert!(band::price_or_zero("p", Decimal::ZERO).is_ok());
        assert!(band::price_or_zero("p", dec!(-0.1)).is_err());
        assert!(band::size("s", Decimal::ZERO).is_ok() && band::size("s", dec!(-0.00000001)).is_err());
        assert!(band::notional("n", dec!(1_000_000_000_000_000), dec!(100_000)).is_ok());
        assert!(band::notional("n", dec!(1_000_000_000_000_000), dec!(100_001)).is_err());
        assert!(
            band::notional("n", Decimal::MAX, Decimal::MAX).is_err(),
            "overflow is out of band, not a panic"
        );
        assert!(band::time("t", -1).is_err() && band::time("t", band::MAX_TIMESTAMP_MS + 1).is_err());
        // A ticker may have no previous close yet; its last price must be a price.
        let t = Ticker { trade_price: dec!(100), ..Ticker::default() };
        assert!(t.check().is_ok());
        assert!(Ticker { trade_price: Decimal::ZERO, ..t.clone() }.check().is_err());
        assert!(Ticker { acc_trade_price_24h: dec!(-1), ..t }.check().is_err());
    }

    #[test]
    fn unknown_values_are_kept_and_noted_once() {
        let c: Change = serde_json::from_str(r#""NEUTRAL""#).unwrap();
        assert_eq!(c, Change::Unknown);
        assert!(unknown_seen("change", "NEUTRAL"));
        let s: OrderState = serde_json::from_str(r#""pending""#).unwrap();
        assert!(s == OrderState::Unknown && !s.is_terminal());
        let s: StreamType = serde_json::from_str(r#""SNAPSHOT""#).unwrap();
        assert_eq!(s, StreamType::Snapshot);
        assert!(serde_json::from_str::<Change>("7").is_err(), "not a string: malformed");
        // Long values are cut; the set is bounded.
        note_unknown("change", &"X".repeat(100));
        assert!(unknown_seen("change", &"X".repeat(40)));
        for i in 0..2 * MAX_UNKNOWN_SEEN {
            note_unknown("stream_type", &format!("V{i}"));
        }
        let n = UNKNOWN_SEEN.len();
        assert!(n <= MAX_UNKNOWN_SEEN, "{n}");
    }

    #[test]
    fn an_unknown_order_type_keeps_its_wire_name_and_round_trips() {
        let t: OrderType = serde_json::from_str(r#""stop_limit""#).unwrap();
        assert_eq!((t, t.as_str(), t.is_known()), (OrderType::Other("stop_limit"), "stop_limit", false));
        assert!(unknown_seen("ord_type", "stop_limit"));
        assert_eq!(serde_json::to_string(&t).unwrap(), r#""stop_limit""#);
        for known in [OrderType::Limit, OrderType::Price, OrderType::Market, OrderType::Best] {
            let back: OrderType = serde_json::from_str(&serde_json::to_string(&known).unwrap()).unwrap();
            assert_eq!(back, known);
            assert!(known.is_known());
        }
        // Interned once; the set is bounded.
        assert!(
            matches!((OrderType::other("x"), OrderType::other("x")), (OrderType::Other(a), OrderType::Other(b)) if std::ptr::eq(a, b))
        );
        for i in 0..2 * MAX_OTHER_TYPES {
            let _ = OrderType::other(&format!("t{i}"));
        }
        assert!(OTHER_TYPES.lock().unwrap().len() <= MAX_OTHER_TYPES);
        assert!(OrderType::other(&"y".repeat(100)).as_str().len() <= 40);
    }

    #[test]
    fn timeframes_round_trip_and_minutes_differ_from_months() {
        for tf in Timeframe::ALL {
            assert_eq!(tf.label().parse::<Timeframe>().unwrap(), tf);
        }
        assert_eq!("1m".parse::<Timeframe>().unwrap(), Timeframe::M1);
        assert_eq!("1M".parse::<Timeframe>().unwrap(), Timeframe::Mo1);
        assert!("2m".parse::<Timeframe>().is_err());
    }
}
