//! Upbit's wire format: the JSON shapes of REST responses and WebSocket messages
//! (DEFAULT format), shared by the client and by the simulator (which serializes the very
//! same structs), plus conversions into the neutral types of `exchange::types`.
//!
//! Numbers: quotation and websocket payloads carry JSON numbers that can exceed f64
//! precision, exchange REST payloads carry decimal strings. Every amount is a `Decimal`;
//! the `num` fields serialize as exact JSON numbers and the `dec_str` fields as strings,
//! and both kinds accept either form when reading.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::exchange::types::{
    Balance, BookLevel, Candle, Change, Fill, MarketId, MarketInfo, Order, OrderBook, OrderState, OrderType,
    Side, StreamType, Ticker, TimeInForce, Timeframe, Trade, lenient_enum, note_unknown,
};

/// Serde adapter: `Decimal` written as an exact JSON number, read from a number or string.
pub mod num {
    use rust_decimal::Decimal;
    use serde::{Deserializer, Serializer};

    /// Writes an exact JSON number.
    pub(crate) fn serialize<S: Serializer>(v: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        rust_decimal::serde::arbitrary_precision::serialize(v, s)
    }

    /// Reads a number or a decimal string.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        rust_decimal::serde::arbitrary_precision::deserialize(d)
    }

    /// The same for optional values (`null` or absent → `None`).
    pub(crate) mod opt {
        use rust_decimal::Decimal;
        use serde::{Deserializer, Serializer};

        /// Writes an exact JSON number or `null`.
        pub(crate) fn serialize<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => rust_decimal::serde::arbitrary_precision::serialize(v, s),
                None => s.serialize_none(),
            }
        }

        /// Reads a number, a decimal string or `null`.
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
            rust_decimal::serde::arbitrary_precision_option::deserialize(d)
        }
    }
}

/// Serde adapter: `Decimal` written as a JSON string (exchange REST), read from either.
pub(crate) mod dec_str {
    use rust_decimal::Decimal;
    use serde::{Deserializer, Serializer};

    /// Writes a decimal string.
    pub(crate) fn serialize<S: Serializer>(v: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    /// Reads a number or a decimal string.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        rust_decimal::serde::arbitrary_precision::deserialize(d)
    }

    /// The same for optional values.
    pub(crate) mod opt {
        use rust_decimal::Decimal;
        use serde::{Deserializer, Serializer};

        /// Writes a decimal string or `null`.
        pub(crate) fn serialize<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => s.collect_str(v),
                None => s.serialize_none(),
            }
        }

        /// Reads a number, a decimal string or `null`.
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
            rust_decimal::serde::arbitrary_precision_option::deserialize(d)
        }
    }
}

/// `ASK` / `BID` as websocket payloads spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AskBid {
    /// Sell side.
    #[serde(rename = "ASK")]
    Ask,
    /// Buy side.
    #[serde(rename = "BID")]
    Bid,
    /// A side this version of hoga does not know (logged once). A public trade keeps it
    /// as "side not known"; an order or fill carries it as `None` (see [`lenient_side`]).
    #[serde(rename = "UNKNOWN")]
    Unknown,
}

lenient_enum!(AskBid, "ask_bid", { "ASK" => Ask, "BID" => Bid });

impl AskBid {
    /// The neutral side; `None` when unknown.
    pub fn side(self) -> Option<Side> {
        match self {
            AskBid::Ask => Some(Side::Ask),
            AskBid::Bid => Some(Side::Bid),
            AskBid::Unknown => None,
        }
    }
}

/// Serde adapter for the `side` of an order or fill (`bid` / `ask`). Any other value is
/// noted once (see [`note_unknown`]) and read as `None`: hoga never guesses a side (acting
/// on a guessed side could buy what was meant to be sold). The rest of the order is still
/// used; the order manager takes the side of an order it tracks from its own record and
/// keeps a foreign order with no known side out of tracking (see
/// `crate::trading::manager`). `null` or a missing side reads as `None` too.
pub(crate) fn lenient_side<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Side>, D::Error> {
    let s = Option::<std::borrow::Cow<'de, str>>::deserialize(d)?;
    Ok(match s.as_deref() {
        Some("bid") => Some(Side::Bid),
        Some("ask") => Some(Side::Ask),
        Some(other) => {
            note_unknown("side", other);
            None
        }
        None => None,
    })
}

/// Serde adapter for an order's optional `time_in_force`: an unknown value is noted once
/// and read as "none" (the time in force only matters when hoga sends an order).
pub(crate) fn lenient_tif<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<TimeInForce>, D::Error> {
    let s = Option::<std::borrow::Cow<'de, str>>::deserialize(d)?;
    Ok(match s.as_deref() {
        None => None,
        Some("ioc") => Some(TimeInForce::Ioc),
        Some("fok") => Some(TimeInForce::Fok),
        Some("post_only") => Some(TimeInForce::PostOnly),
        Some(other) => {
            note_unknown("time_in_force", other);
            None
        }
    })
}

impl From<Side> for AskBid {
    fn from(v: Side) -> AskBid {
        match v {
            Side::Ask => AskBid::Ask,
            Side::Bid => AskBid::Bid,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Errors

/// `{"error":{"name":…,"message":…}}`; `name` is a string (exchange) or an integer
/// (quotation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of an error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ErrorDetail {
    /// `insufficient_funds_bid`, `INVALID_AUTH`, or an HTTP status as a number.
    pub name: ErrorName,
    /// Human message (often Korean).
    #[serde(default)]
    pub message: String,
}

/// Error name: string code or integer status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum ErrorName {
    /// Exchange API and websocket codes.
    Code(String),
    /// Quotation API: the HTTP status.
    Status(i64),
}

impl ErrorName {
    /// The name as text.
    pub(crate) fn as_text(&self) -> String {
        match self {
            ErrorName::Code(s) => s.clone(),
            ErrorName::Status(n) => n.to_string(),
        }
    }
}

impl ErrorBody {
    /// Builds a string-named error body.
    pub fn new(name: &str, message: &str) -> Self {
        ErrorBody {
            error: ErrorDetail { name: ErrorName::Code(name.to_string()), message: message.to_string() },
        }
    }
}

// ---------------------------------------------------------------------------------------
// REST quotation

/// `GET /v1/market/all` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MarketAllItem {
    /// Code.
    pub market: String,
    /// Korean name.
    pub korean_name: String,
    /// English name.
    pub english_name: String,
    /// Present with `is_details=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_event: Option<MarketEvent>,
    /// Deprecated `NONE` / `CAUTION`: read and written (the simulator sends it as Upbit
    /// does) but never used; warnings come from `market_event`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_warning: Option<String>,
}

/// Serde adapter for a key whose presence matters: present (even `null`) → `Some`.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Warning flags of a market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub(crate) struct MarketEvent {
    /// Investment warning.
    pub warning: bool,
    /// Caution sub-flags.
    #[serde(default)]
    pub caution: MarketCaution,
}

/// Caution sub-flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[allow(non_snake_case)]
pub(crate) struct MarketCaution {
    /// Price fluctuations.
    #[serde(default)]
    pub PRICE_FLUCTUATIONS: bool,
    /// Volume soaring.
    #[serde(default)]
    pub TRADING_VOLUME_SOARING: bool,
    /// Deposits soaring.
    #[serde(default)]
    pub DEPOSIT_AMOUNT_SOARING: bool,
    /// Global price difference.
    #[serde(default)]
    pub GLOBAL_PRICE_DIFFERENCES: bool,
    /// Concentration of small accounts.
    #[serde(default)]
    pub CONCENTRATION_OF_SMALL_ACCOUNTS: bool,
}

impl MarketCaution {
    /// True when any flag is set.
    pub fn any(&self) -> bool {
        self.PRICE_FLUCTUATIONS
            || self.TRADING_VOLUME_SOARING
            || self.DEPOSIT_AMOUNT_SOARING
            || self.GLOBAL_PRICE_DIFFERENCES
            || self.CONCENTRATION_OF_SMALL_ACCOUNTS
    }
}

impl From<&MarketAllItem> for MarketInfo {
    fn from(m: &MarketAllItem) -> MarketInfo {
        // Upbit deprecated `market_warning` for `market_event`: only the latter is used.
        let event = m.market_event.clone().unwrap_or_default();
        MarketInfo {
            market: MarketId::new(&m.market),
            korean_name: m.korean_name.clone(),
            english_name: m.english_name.clone(),
            warning: event.warning,
            caution: event.caution.any(),
        }
    }
}

/// Ticker, as REST `/v1/ticker` returns it and as the websocket `ticker` type sends it
/// (the websocket adds `type`, `code`, `ask_bid`, `acc_*_volume`, `market_state`,
/// `stream_type`; REST has `market`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireTicker {
    /// `ticker` on the websocket.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
    /// Market on REST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
    /// Market on the websocket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// UTC `yyyyMMdd`.
    pub trade_date: String,
    /// UTC `HHmmss`.
    pub trade_time: String,
    /// KST date (REST only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_date_kst: Option<String>,
    /// KST time (REST only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_time_kst: Option<String>,
    /// Last trade time (ms).
    pub trade_timestamp: i64,
    /// Day open.
    #[serde(with = "num")]
    pub opening_price: Decimal,
    /// Day high.
    #[serde(with = "num")]
    pub high_price: Decimal,
    /// Day low.
    #[serde(with = "num")]
    pub low_price: Decimal,
    /// Last price.
    #[serde(with = "num")]
    pub trade_price: Decimal,
    /// Previous close.
    #[serde(with = "num")]
    pub prev_closing_price: Decimal,
    /// `RISE` / `EVEN` / `FALL`.
    pub change: Change,
    /// Absolute change.
    #[serde(with = "num")]
    pub change_price: Decimal,
    /// Absolute change ratio.
    #[serde(with = "num")]
    pub change_rate: Decimal,
    /// Signed change.
    #[serde(with = "num")]
    pub signed_change_price: Decimal,
    /// Signed change ratio.
    #[serde(with = "num")]
    pub signed_change_rate: Decimal,
    /// Last trade size.
    #[serde(with = "num")]
    pub trade_volume: Decimal,
    /// Value since UTC 00:00.
    #[serde(with = "num")]
    pub acc_trade_price: Decimal,
    /// Value over 24 h.
    #[serde(with = "num")]
    pub acc_trade_price_24h: Decimal,
    /// Volume since UTC 00:00.
    #[serde(with = "num")]
    pub acc_trade_volume: Decimal,
    /// Volume over 24 h.
    #[serde(with = "num")]
    pub acc_trade_volume_24h: Decimal,
    /// Websocket: side of the last trade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask_bid: Option<AskBid>,
    /// Websocket: accumulated ask volume.
    #[serde(default, with = "num::opt", skip_serializing_if = "Option::is_none")]
    pub acc_ask_volume: Option<Decimal>,
    /// Websocket: accumulated bid volume.
    #[serde(default, with = "num::opt", skip_serializing_if = "Option::is_none")]
    pub acc_bid_volume: Option<Decimal>,
    /// 52-week high.
    #[serde(with = "num")]
    pub highest_52_week_price: Decimal,
    /// Its date, `yyyy-MM-dd`.
    pub highest_52_week_date: String,
    /// 52-week low.
    #[serde(with = "num")]
    pub lowest_52_week_price: Decimal,
    /// Its date.
    pub lowest_52_week_date: String,
    /// Websocket: `PREVIEW` / `ACTIVE` / `DELISTED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_state: Option<String>,
    /// Websocket, deprecated by Upbit (to be removed): sent, never used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_trading_suspended: Option<bool>,
    /// Websocket, deprecated by Upbit (to be removed): sent, never used; warnings come
    /// from `market/all`'s `market_event`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_warning: Option<String>,
    /// Websocket: the delisting date, `null` when none is set (`Some(None)`: Upbit sends
    /// the key with `null`); absent on REST (`None`).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub delisting_date: Option<Option<String>>,
    /// Message time (ms).
    pub timestamp: i64,
    /// Websocket: snapshot or realtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_type: Option<StreamType>,
}

impl WireTicker {
    /// Converts into the neutral ticker. A `market_state` hoga does not know is noted once
    /// (it is not carried further). The deprecated `market_warning` and
    /// `is_trading_suspended` are not looked at.
    pub fn to_ticker(&self) -> Ticker {
        if let Some(s) =
            self.market_state.as_deref().filter(|s| !matches!(*s, "PREVIEW" | "ACTIVE" | "DELISTED"))
        {
            note_unknown("market_state", s);
        }
        let code = self.code.as_deref().or(self.market.as_deref()).unwrap_or_default();
        Ticker {
            market: Some(MarketId::new(code)),
            trade_price: self.trade_price,
            opening_price: self.opening_price,
            high_price: self.high_price,
            low_price: self.low_price,
            prev_closing_price: self.prev_closing_price,
            change: self.change,
            signed_change_price: self.signed_change_price,
            signed_change_rate: self.signed_change_rate,
            trade_volume: self.trade_volume,
            acc_trade_price: self.acc_trade_price,
            acc_trade_price_24h: self.acc_trade_price_24h,
            acc_trade_volume_24h: self.acc_trade_volume_24h,
            highest_52_week_price: self.highest_52_week_price,
            lowest_52_week_price: self.lowest_52_week_price,
            trade_timestamp: self.trade_timestamp,
            timestamp: self.timestamp,
            stream_type: self.stream_type.unwrap_or_default(),
        }
    }
}

/// Websocket `trade` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireTrade {
    /// `trade`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Market.
    pub code: String,
    /// Price.
    #[serde(with = "num")]
    pub trade_price: Decimal,
    /// Size.
    #[serde(with = "num")]
    pub trade_volume: Decimal,
    /// Taker side.
    pub ask_bid: AskBid,
    /// Previous close.
    #[serde(with = "num")]
    pub prev_closing_price: Decimal,
    /// Direction.
    pub change: Change,
    /// Absolute change.
    #[serde(with = "num")]
    pub change_price: Decimal,
    /// UTC `yyyy-MM-dd`.
    pub trade_date: String,
    /// UTC `HH:mm:ss`.
    pub trade_time: String,
    /// Trade time (ms).
    pub trade_timestamp: i64,
    /// Message time (ms).
    pub timestamp: i64,
    /// Unique id.
    pub sequential_id: i64,
    /// Best ask at the trade.
    #[serde(default, with = "num::opt", skip_serializing_if = "Option::is_none")]
    pub best_ask_price: Option<Decimal>,
    /// Its size.
    #[serde(default, with = "num::opt", skip_serializing_if = "Option::is_none")]
    pub best_ask_size: Option<Decimal>,
    /// Best bid at the trade.
    #[serde(default, with = "num::opt", skip_serializing_if = "Option::is_none")]
    pub best_bid_price: Option<Decimal>,
    /// Its size.
    #[serde(default, with = "num::opt", skip_serializing_if = "Option::is_none")]
    pub best_bid_size: Option<Decimal>,
    /// Snapshot or realtime.
    #[serde(default)]
    pub stream_type: StreamType,
}

impl WireTrade {
    /// Converts into the neutral trade.
    pub fn to_trade(&self) -> Trade {
        Trade {
            market: MarketId::new(&self.code),
            price: self.trade_price,
            volume: self.trade_volume,
            side: self.ask_bid.side(),
            trade_timestamp: self.trade_timestamp,
            timestamp: self.timestamp,
            sequential_id: self.sequential_id,
            stream_type: self.stream_type,
        }
    }
}

/// REST `/v1/trades/ticks` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RestTradeTick {
    /// Market.
    pub market: String,
    /// UTC `yyyy-MM-dd`.
    pub trade_date_utc: String,
    /// UTC `HH:mm:ss`.
    pub trade_time_utc: String,
    /// Time (ms).
    pub timestamp: i64,
    /// Price.
    #[serde(with = "num")]
    pub trade_price: Decimal,
    /// Size.
    #[serde(with = "num")]
    pub trade_volume: Decimal,
    /// Previous close.
    #[serde(with = "num")]
    pub prev_closing_price: Decimal,
    /// Change.
    #[serde(with = "num")]
    pub change_price: Decimal,
    /// Taker side.
    pub ask_bid: AskBid,
    /// Unique id.
    pub sequential_id: i64,
}

impl RestTradeTick {
    /// Converts into the neutral trade.
    pub fn to_trade(&self) -> Trade {
        Trade {
            market: MarketId::new(&self.market),
            price: self.trade_price,
            volume: self.trade_volume,
            side: self.ask_bid.side(),
            trade_timestamp: self.timestamp,
            timestamp: self.timestamp,
            sequential_id: self.sequential_id,
            stream_type: StreamType::Snapshot,
        }
    }
}

/// One orderbook unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WireBookUnit {
    /// Ask price.
    #[serde(with = "num")]
    pub ask_price: Decimal,
    /// Bid price.
    #[serde(with = "num")]
    pub bid_price: Decimal,
    /// Ask size.
    #[serde(with = "num")]
    pub ask_size: Decimal,
    /// Bid size.
    #[serde(with = "num")]
    pub bid_size: Decimal,
}

/// Orderbook, REST (`market`) or websocket (`type`, `code`, `stream_type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireOrderBook {
    /// `orderbook` on the websocket.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
    /// Market on REST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
    /// Market on the websocket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Message time (ms).
    pub timestamp: i64,
    /// Total ask size.
    #[serde(with = "num")]
    pub total_ask_size: Decimal,
    /// Total bid size.
    #[serde(with = "num")]
    pub total_bid_size: Decimal,
    /// Levels, best first.
    pub orderbook_units: Vec<WireBookUnit>,
    /// Grouping unit.
    #[serde(default, with = "num")]
    pub level: Decimal,
    /// Websocket: snapshot or realtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_type: Option<StreamType>,
}

impl WireOrderBook {
    /// Converts into the neutral book.
    pub fn to_book(&self) -> OrderBook {
        let code = self.code.as_deref().or(self.market.as_deref()).unwrap_or_default();
        OrderBook {
            market: Some(MarketId::new(code)),
            levels: self
                .orderbook_units
                .iter()
                .map(|u| BookLevel {
                    ask_price: u.ask_price,
                    ask_size: u.ask_size,
                    bid_price: u.bid_price,
                    bid_size: u.bid_size,
                })
                .collect(),
            total_ask_size: self.total_ask_size,
            total_bid_size: self.total_bid_size,
            level: self.level,
            timestamp: self.timestamp,
            stream_type: self.stream_type.unwrap_or_default(),
        }
    }
}

/// `GET /v1/orderbook/instruments` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderbookInstrument {
    /// Market.
    pub market: String,
    /// Quote currency.
    pub quote_currency: String,
    /// Tick size as a decimal string.
    #[serde(with = "dec_str")]
    pub tick_size: Decimal,
    /// Supported grouping levels.
    pub(crate) supported_levels: Vec<String>,
}

/// Candle, REST (`market`, `unit`, `first_day_of_period`, …) or websocket
/// (`type` = `candle.1m`, `code`, `stream_type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WireCandle {
    /// `candle.{unit}` on the websocket.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
    /// Market on REST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
    /// Market on the websocket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Bucket start UTC, `yyyy-MM-ddTHH:mm:ss`.
    pub candle_date_time_utc: String,
    /// Bucket start KST.
    pub candle_date_time_kst: String,
    /// Open.
    #[serde(with = "num")]
    pub opening_price: Decimal,
    /// High.
    #[serde(with = "num")]
    pub high_price: Decimal,
    /// Low.
    #[serde(with = "num")]
    pub low_price: Decimal,
    /// Close.
    #[serde(with = "num")]
    pub trade_price: Decimal,
    /// Last tick time (ms).
    pub timestamp: i64,
    /// Value.
    #[serde(with = "num")]
    pub candle_acc_trade_price: Decimal,
    /// Volume.
    #[serde(with = "num")]
    pub candle_acc_trade_volume: Decimal,
    /// Minute candles: the unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<u32>,
    /// Day candles: previous close.
    #[serde(default, with = "num::opt", skip_serializing_if = "Option::is_none")]
    pub prev_closing_price: Option<Decimal>,
    /// Day candles: change.
    #[serde(default, with = "num::opt", skip_serializing_if = "Option::is_none")]
    pub change_price: Option<Decimal>,
    /// Day candles: change ratio.
    #[serde(default, with = "num::opt", skip_serializing_if = "Option::is_none")]
    pub change_rate: Option<Decimal>,
    /// Week/month candles: first day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) first_day_of_period: Option<String>,
    /// Websocket: snapshot or realtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_type: Option<StreamType>,
}

impl WireCandle {
    /// Converts into the neutral candle for the given timeframe. `None` when the bucket
    /// time does not parse.
    pub(crate) fn to_candle(&self, timeframe: Timeframe) -> Option<Candle> {
        let code = self.code.as_deref().or(self.market.as_deref()).unwrap_or_default();
        let start = chrono::NaiveDateTime::parse_from_str(&self.candle_date_time_utc, "%Y-%m-%dT%H:%M:%S")
            .ok()?
            .and_utc()
            .timestamp_millis();
        Some(Candle {
            market: MarketId::new(code),
            timeframe,
            start,
            open: self.opening_price,
            high: self.high_price,
            low: self.low_price,
            close: self.trade_price,
            volume: self.candle_acc_trade_volume,
            value: self.candle_acc_trade_price,
            timestamp: self.timestamp,
        })
    }
}

/// The websocket candle type name for a timeframe (`candle.1m`), if streamable.
pub(crate) fn candle_stream_type(tf: Timeframe) -> Option<String> {
    match tf {
        Timeframe::S1 => Some("candle.1s".to_string()),
        other => other.minutes().map(|m| format!("candle.{m}m")),
    }
}

/// The timeframe of a websocket candle type name.
pub(crate) fn timeframe_of_candle_type(ty: &str) -> Option<Timeframe> {
    match ty.strip_prefix("candle.")? {
        "1s" => Some(Timeframe::S1),
        "1m" => Some(Timeframe::M1),
        "3m" => Some(Timeframe::M3),
        "5m" => Some(Timeframe::M5),
        "10m" => Some(Timeframe::M10),
        "15m" => Some(Timeframe::M15),
        "30m" => Some(Timeframe::M30),
        "60m" => Some(Timeframe::H1),
        "240m" => Some(Timeframe::H4),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// REST exchange

/// `GET /v1/accounts` item (decimal strings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireAccount {
    /// Currency.
    pub currency: String,
    /// Available.
    #[serde(with = "dec_str")]
    pub balance: Decimal,
    /// Locked.
    #[serde(with = "dec_str")]
    pub locked: Decimal,
    /// Average buy price.
    #[serde(with = "dec_str")]
    pub avg_buy_price: Decimal,
    /// Whether the average was edited.
    pub avg_buy_price_modified: bool,
    /// Unit of the average.
    pub unit_currency: String,
}

impl From<&WireAccount> for Balance {
    fn from(a: &WireAccount) -> Balance {
        Balance {
            currency: a.currency.clone(),
            balance: a.balance,
            locked: a.locked,
            avg_buy_price: a.avg_buy_price,
            unit_currency: a.unit_currency.clone(),
        }
    }
}

/// A fill inside `GET /v1/order`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireOrderTrade {
    /// Market.
    pub market: String,
    /// Fill id.
    pub uuid: String,
    /// Price.
    #[serde(with = "dec_str")]
    pub price: Decimal,
    /// Volume.
    #[serde(with = "dec_str")]
    pub volume: Decimal,
    /// price × volume.
    #[serde(with = "dec_str")]
    pub funds: Decimal,
    /// `up` (caused by a buy) / `down`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) trend: Option<String>,
    /// ISO time.
    pub created_at: String,
    /// `bid` / `ask`; `None` when not one hoga knows (see [`lenient_side`]).
    #[serde(default, deserialize_with = "lenient_side")]
    pub side: Option<Side>,
}

/// The REST order object (§5.9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireOrder {
    /// Exchange id.
    pub uuid: String,
    /// Side; `None` when missing or not one hoga knows (see [`lenient_side`]).
    #[serde(default, deserialize_with = "lenient_side")]
    pub side: Option<Side>,
    /// Type; [`OrderType::Other`] (noted once) for one hoga does not know.
    pub ord_type: OrderType,
    /// Price or null.
    #[serde(default, with = "dec_str::opt")]
    pub price: Option<Decimal>,
    /// State.
    pub state: OrderState,
    /// Market.
    pub market: String,
    /// Creation time.
    pub created_at: String,
    /// Volume (absent for market buys).
    #[serde(default, with = "dec_str::opt", skip_serializing_if = "Option::is_none")]
    pub volume: Option<Decimal>,
    /// Remaining volume.
    #[serde(default, with = "dec_str::opt", skip_serializing_if = "Option::is_none")]
    pub remaining_volume: Option<Decimal>,
    /// Executed volume.
    #[serde(with = "dec_str")]
    pub executed_volume: Decimal,
    /// Executed funds (list endpoints).
    #[serde(default, with = "dec_str::opt", skip_serializing_if = "Option::is_none")]
    pub executed_funds: Option<Decimal>,
    /// Fee reserved.
    #[serde(with = "dec_str")]
    pub reserved_fee: Decimal,
    /// Fee remaining.
    #[serde(with = "dec_str")]
    pub remaining_fee: Decimal,
    /// Fee paid.
    #[serde(with = "dec_str")]
    pub paid_fee: Decimal,
    /// Locked.
    #[serde(with = "dec_str")]
    pub locked: Decimal,
    /// SMP volume.
    #[serde(default, with = "dec_str::opt", skip_serializing_if = "Option::is_none")]
    pub(crate) prevented_volume: Option<Decimal>,
    /// SMP funds.
    #[serde(default, with = "dec_str::opt", skip_serializing_if = "Option::is_none")]
    pub(crate) prevented_locked: Option<Decimal>,
    /// Number of fills (a string in some cancel_and_new replies).
    #[serde(deserialize_with = "int_or_string")]
    pub trades_count: u32,
    /// Time in force.
    #[serde(default, deserialize_with = "lenient_tif", skip_serializing_if = "Option::is_none")]
    pub time_in_force: Option<TimeInForce>,
    /// Client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// SMP type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smp_type: Option<String>,
    /// Fills (`GET /v1/order` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trades: Option<Vec<WireOrderTrade>>,
}

fn int_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrString {
        Int(u32),
        Str(String),
    }
    match IntOrString::deserialize(d)? {
        IntOrString::Int(n) => Ok(n),
        IntOrString::Str(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

impl WireOrder {
    /// Converts into the neutral order.
    pub fn to_order(&self) -> Order {
        let market = MarketId::new(&self.market);
        Order {
            uuid: self.uuid.clone(),
            identifier: self.identifier.clone(),
            market: market.clone(),
            side: self.side,
            ord_type: self.ord_type,
            price: self.price,
            volume: self.volume,
            remaining_volume: self.remaining_volume.unwrap_or_default(),
            executed_volume: self.executed_volume,
            executed_funds: self.executed_funds,
            reserved_fee: self.reserved_fee,
            remaining_fee: self.remaining_fee,
            paid_fee: self.paid_fee,
            locked: self.locked,
            state: self.state,
            time_in_force: self.time_in_force,
            created_at: self.created_at.clone(),
            trades_count: self.trades_count,
            trades: self
                .trades
                .iter()
                .flatten()
                .map(|t| Fill {
                    trade_uuid: t.uuid.clone(),
                    order_uuid: self.uuid.clone(),
                    market: market.clone(),
                    // The order's side; a fill never gets a side the order does not have
                    // (both unknown: `None`, resolved by the order manager).
                    side: self.side.or(t.side),
                    price: t.price,
                    volume: t.volume,
                    funds: t.funds,
                    fee: None,
                    is_maker: None,
                    timestamp: chrono::DateTime::parse_from_rfc3339(&t.created_at)
                        .map(|d| d.timestamp_millis())
                        .unwrap_or_default(),
                })
                .collect(),
        }
    }
}

/// `POST /v1/orders` body. Values are strings; `None` fields are omitted (never `null`),
/// because the hash input is built from the body's keys in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NewOrderBody {
    /// Market.
    pub market: String,
    /// `bid` / `ask`.
    pub side: String,
    /// Volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// Price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    /// `limit` / `price` / `market` / `best`.
    pub ord_type: String,
    /// Client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// `ioc` / `fok` / `post_only`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_in_force: Option<String>,
    /// SMP type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smp_type: Option<String>,
}

/// `orders/chance` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireChance {
    /// Taker buy fee.
    #[serde(with = "dec_str")]
    pub bid_fee: Decimal,
    /// Taker sell fee.
    #[serde(with = "dec_str")]
    pub(crate) ask_fee: Decimal,
    /// Maker buy fee.
    #[serde(with = "dec_str")]
    pub(crate) maker_bid_fee: Decimal,
    /// Maker sell fee.
    #[serde(with = "dec_str")]
    pub(crate) maker_ask_fee: Decimal,
    /// Market rules.
    pub market: WireChanceMarket,
    /// Quote account.
    pub(crate) bid_account: WireAccount,
    /// Base account.
    pub(crate) ask_account: WireAccount,
}

/// Market rules inside `orders/chance`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireChanceMarket {
    /// Market.
    pub id: String,
    /// `BTC/KRW`.
    pub name: String,
    /// Deprecated.
    #[serde(default)]
    pub(crate) order_types: Vec<String>,
    /// `ask`, `bid`.
    pub(crate) order_sides: Vec<String>,
    /// Allowed buy types (`limit`, `limit_ioc`, `price`, `best_fok`, …).
    pub(crate) bid_types: Vec<String>,
    /// Allowed sell types.
    pub(crate) ask_types: Vec<String>,
    /// Buy side limits.
    pub bid: WireChanceSide,
    /// Sell side limits.
    pub ask: WireChanceSide,
    /// Max order total.
    #[serde(with = "dec_str")]
    pub(crate) max_total: Decimal,
    /// `active`.
    pub state: String,
}

/// Side limits inside `orders/chance`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireChanceSide {
    /// Currency.
    pub currency: String,
    /// Deprecated.
    #[serde(default)]
    pub(crate) price_unit: Option<String>,
    /// Minimum total.
    #[serde(with = "dec_str")]
    pub min_total: Decimal,
}

/// Bulk cancel response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireBulkCancel {
    /// Accepted cancels.
    pub success: WireBulkCancelPart,
    /// Rejected cancels.
    pub failed: WireBulkCancelPart,
}

/// One half of a bulk cancel response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub(crate) struct WireBulkCancelPart {
    /// How many.
    pub count: u32,
    /// Which.
    pub orders: Vec<WireBulkCancelOrder>,
}

/// An order named in a bulk cancel response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireBulkCancelOrder {
    /// Exchange id.
    pub uuid: String,
    /// Market.
    pub market: String,
    /// Client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Websocket private

/// Websocket `myOrder` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireMyOrder {
    /// `myOrder`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Market.
    pub code: String,
    /// Order id.
    pub uuid: String,
    /// Side.
    pub ask_bid: AskBid,
    /// Order type; [`OrderType::Other`] (noted once) for one hoga does not know.
    pub order_type: OrderType,
    /// `wait`, `trade`, `done`, `cancel`, …
    pub state: OrderState,
    /// Fill id when `state = trade`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_uuid: Option<String>,
    /// Order price, or fill price when `state = trade`.
    #[serde(default, with = "num::opt")]
    pub price: Option<Decimal>,
    /// Average fill price.
    #[serde(default, with = "num::opt")]
    pub avg_price: Option<Decimal>,
    /// Order volume, or fill volume when `state = trade`.
    #[serde(default, with = "num::opt")]
    pub volume: Option<Decimal>,
    /// Remaining.
    #[serde(default, with = "num::opt")]
    pub remaining_volume: Option<Decimal>,
    /// Executed.
    #[serde(with = "num")]
    pub executed_volume: Decimal,
    /// Fills so far.
    pub trades_count: u32,
    /// Reserved fee.
    #[serde(with = "num")]
    pub reserved_fee: Decimal,
    /// Remaining fee.
    #[serde(with = "num")]
    pub remaining_fee: Decimal,
    /// Paid fee.
    #[serde(with = "num")]
    pub paid_fee: Decimal,
    /// Locked.
    #[serde(with = "num")]
    pub locked: Decimal,
    /// Executed funds.
    #[serde(with = "num")]
    pub executed_funds: Decimal,
    /// Time in force.
    #[serde(default, deserialize_with = "lenient_tif")]
    pub time_in_force: Option<TimeInForce>,
    /// Fee of this fill.
    #[serde(default, with = "num::opt")]
    pub trade_fee: Option<Decimal>,
    /// Maker or taker.
    #[serde(default)]
    pub is_maker: Option<bool>,
    /// Client id.
    #[serde(default)]
    pub identifier: Option<String>,
    /// SMP type.
    #[serde(default)]
    pub smp_type: Option<String>,
    /// Volume cancelled by self-match prevention (SMP).
    #[serde(default, with = "num::opt")]
    pub prevented_volume: Option<Decimal>,
    /// Released by SMP: funds of a bid, volume of an ask.
    #[serde(default, with = "num::opt")]
    pub prevented_locked: Option<Decimal>,
    /// Fill time (ms).
    #[serde(default)]
    pub trade_timestamp: Option<i64>,
    /// Order time (ms).
    pub order_timestamp: i64,
    /// Message time (ms).
    pub timestamp: i64,
    /// Stream type.
    #[serde(default)]
    pub stream_type: StreamType,
}

impl WireMyOrder {
    /// The fill carried by a `state = trade` message.
    pub fn fill(&self) -> Option<Fill> {
        if self.state != OrderState::Trade {
            return None;
        }
        let price = self.price?;
        let volume = self.volume?;
        Some(Fill {
            trade_uuid: self.trade_uuid.clone()?,
            order_uuid: self.uuid.clone(),
            market: MarketId::new(&self.code),
            // `None` when unknown: the order manager takes the side of the order it tracks.
            side: self.ask_bid.side(),
            price,
            volume,
            // Checked: an out-of-band product is refused by `check` before this is used.
            funds: price.checked_mul(volume).unwrap_or(Decimal::MAX),
            fee: self.trade_fee,
            is_maker: self.is_maker,
            timestamp: self.trade_timestamp.unwrap_or(self.timestamp),
        })
    }
}

/// Websocket `myAsset` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireMyAsset {
    /// `myAsset`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Asset message id.
    pub asset_uuid: String,
    /// Changed currencies only.
    pub assets: Vec<WireAsset>,
    /// Asset time (ms).
    pub asset_timestamp: i64,
    /// Message time (ms).
    pub timestamp: i64,
    /// Stream type.
    #[serde(default)]
    pub stream_type: StreamType,
}

/// One currency inside `myAsset`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireAsset {
    /// Currency.
    pub currency: String,
    /// Available.
    #[serde(with = "num")]
    pub balance: Decimal,
    /// Locked.
    #[serde(with = "num")]
    pub locked: Decimal,
}

// ---------------------------------------------------------------------------------------
// Websocket requests

/// Finds the value of the top-level `"type"` key of a websocket message without parsing
/// the whole message: Upbit puts `type` first, so this is a short scan. Falls back to
/// `None` when the key is not found in the expected spelling, or when something nested
/// comes before it; callers then parse fully.
pub(crate) fn peek_type(msg: &[u8]) -> Option<&str> {
    const KEY: &[u8] = b"\"type\":\"";
    let at = msg.windows(KEY.len()).position(|w| w == KEY)?;
    // Only the top-level key: when anything nested comes before it (fields in another
    // order), the caller parses the whole message instead.
    if msg[..at].iter().filter(|&&b| b == b'{' || b == b'[').count() != 1 {
        return None;
    }
    let start = at + KEY.len();
    let len = msg[start..].iter().position(|&b| b == b'"')?;
    std::str::from_utf8(&msg[start..start + len]).ok()
}

// ---------------------------------------------------------------------------------------
// Websocket fast path: borrowed views
//
// The `Wire*` structs above are the full shapes, shared with REST and with the simulator's
// serializer. Decoding a websocket frame through them costs a `String` per number
// (serde_json's `arbitrary_precision`), a `String` per text field and the parsing of every
// field, used or not. The views below borrow from the frame instead: numbers arrive as
// the exact JSON text (`&RawValue`, no allocation) and go straight into a `Decimal` by
// [`decimal_from_json`]; codes are borrowed; fields the neutral types do not carry are
// skipped unparsed. They are only ever read with `serde_json::from_slice` (borrowing);
// the field names are the DEFAULT-format names of the `Wire*` structs. Optional codes are
// `&str`: market codes never carry JSON escapes, and one that did would fail to decode
// (counted as a parse error), not be misread.

/// A JSON number (or decimal string) that is not a valid `Decimal`: names the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a decimal number: {text:?} ({why})")]
pub(crate) struct BadDecimal {
    /// The offending JSON text (cut to 64 bytes).
    pub text: String,
    /// Why.
    pub why: String,
}

fn bad_decimal(text: &str, why: impl std::fmt::Display) -> BadDecimal {
    let mut end = text.len().min(64);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    BadDecimal { text: text[..end].to_string(), why: why.to_string() }
}

/// Parses the exact text of a JSON value into a `Decimal`, never through `f64`.
///
/// Accepts a JSON number (`100473000`, `-0.5`, `0.00014208`, `1.5e-7`, `2E+3`) or a
/// string holding one (`"1.5"`), as the `num` adapter does. Up to 19 significant digits
/// take a fast path (integer accumulation, no allocation); longer numbers and exponent
/// forms go to `rust_decimal`'s own parsers (more than 28 fractional digits round there,
/// as everywhere else in hoga). Anything else (`null`, `true`, objects, out-of-range
/// values such as `1e309`) is an error, never a panic.
pub(crate) fn decimal_from_json(text: &str) -> Result<Decimal, BadDecimal> {
    let b = text.as_bytes();
    if let Some(inner) = text.strip_prefix('"') {
        let inner = inner.strip_suffix('"').ok_or_else(|| bad_decimal(text, "unterminated string"))?;
        if inner.contains('\\') || inner.trim() != inner || inner.is_empty() {
            return Err(bad_decimal(text, "not a plain decimal string"));
        }
        return slow_decimal(inner).map_err(|e| bad_decimal(text, e));
    }
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'0'..=b'9') => (false, b),
        _ => return Err(bad_decimal(text, "not a number")),
    };
    // Integer part, then fraction; the mantissa may wrap when there are more than 19
    // digits, in which case it is discarded for the slow path below.
    let mut mantissa: u64 = 0;
    let mut i = 0;
    while let Some(c) = digits.get(i).filter(|c| c.is_ascii_digit()) {
        mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
        i += 1;
    }
    let int_digits = i;
    let mut scale = 0usize;
    if digits.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(c) = digits.get(i).filter(|c| c.is_ascii_digit()) {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
            i += 1;
        }
        scale = i - start;
        if scale == 0 {
            return Err(bad_decimal(text, "no digits after the point"));
        }
    }
    if int_digits == 0 {
        return Err(bad_decimal(text, "no digits"));
    }
    if i != digits.len() {
        return match digits[i] {
            b'e' | b'E' => slow_decimal(text).map_err(|e| bad_decimal(text, e)),
            _ => Err(bad_decimal(text, "not a number")),
        };
    }
    if int_digits + scale > 19 {
        // 19 decimal digits always fit a u64; longer numbers go to rust_decimal.
        return slow_decimal(text).map_err(|e| bad_decimal(text, e));
    }
    let signed = if neg { -i128::from(mantissa) } else { i128::from(mantissa) };
    Decimal::try_from_i128_with_scale(signed, scale as u32).map_err(|e| bad_decimal(text, e))
}

fn slow_decimal(t: &str) -> Result<Decimal, rust_decimal::Error> {
    use std::str::FromStr;
    if t.bytes().any(|c| c == b'e' || c == b'E') { Decimal::from_scientific(t) } else { Decimal::from_str(t) }
}

/// Views and their serde helpers (`#[serde(deserialize_with)]` targets).
pub mod view {
    use std::borrow::Cow;

    use rust_decimal::Decimal;
    use serde::de::{Error as _, SeqAccess, Visitor};
    use serde::{Deserialize, Deserializer};
    use serde_json::value::RawValue;

    use super::{AskBid, decimal_from_json};
    use crate::exchange::types::{BookLevel, Change, StreamType};

    /// A required number, from its borrowed JSON text.
    pub fn dec<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let raw = <&'de RawValue>::deserialize(d)?;
        decimal_from_json(raw.get()).map_err(D::Error::custom)
    }

    /// An optional number (`null` or absent → `None`).
    pub(crate) fn dec_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        match Option::<&'de RawValue>::deserialize(d)? {
            None => Ok(None),
            Some(raw) => decimal_from_json(raw.get()).map(Some).map_err(D::Error::custom),
        }
    }

    /// `trade` message.
    #[derive(Debug, Deserialize)]
    pub struct Trade<'a> {
        /// Market.
        #[serde(borrow)]
        pub code: Cow<'a, str>,
        /// Price.
        #[serde(deserialize_with = "dec")]
        pub trade_price: Decimal,
        /// Size.
        #[serde(deserialize_with = "dec")]
        pub trade_volume: Decimal,
        /// Taker side.
        pub ask_bid: AskBid,
        /// Trade time (ms).
        pub trade_timestamp: i64,
        /// Message time (ms).
        pub timestamp: i64,
        /// Unique id.
        pub sequential_id: i64,
        /// Snapshot or realtime.
        #[serde(default)]
        pub stream_type: StreamType,
    }

    /// `ticker` message.
    #[derive(Debug, Deserialize)]
    pub struct Ticker<'a> {
        /// Market (websocket).
        #[serde(borrow, default)]
        pub code: Option<&'a str>,
        /// Market (REST spelling).
        #[serde(borrow, default)]
        pub market: Option<&'a str>,
        /// Last trade time (ms).
        pub trade_timestamp: i64,
        /// Day open.
        #[serde(deserialize_with = "dec")]
        pub opening_price: Decimal,
        /// Day high.
        #[serde(deserialize_with = "dec")]
        pub high_price: Decimal,
        /// Day low.
        #[serde(deserialize_with = "dec")]
        pub low_price: Decimal,
        /// Last price.
        #[serde(deserialize_with = "dec")]
        pub trade_price: Decimal,
        /// Previous close.
        #[serde(deserialize_with = "dec")]
        pub prev_closing_price: Decimal,
        /// Direction.
        pub change: Change,
        /// Signed change.
        #[serde(deserialize_with = "dec")]
        pub signed_change_price: Decimal,
        /// Signed change ratio.
        #[serde(deserialize_with = "dec")]
        pub signed_change_rate: Decimal,
        /// Last trade size.
        #[serde(deserialize_with = "dec")]
        pub trade_volume: Decimal,
        /// Value since UTC 00:00.
        #[serde(deserialize_with = "dec")]
        pub acc_trade_price: Decimal,
        /// Value over 24 h.
        #[serde(deserialize_with = "dec")]
        pub acc_trade_price_24h: Decimal,
        /// Volume over 24 h.
        #[serde(deserialize_with = "dec")]
        pub acc_trade_volume_24h: Decimal,
        /// 52-week high.
        #[serde(deserialize_with = "dec")]
        pub highest_52_week_price: Decimal,
        /// 52-week low.
        #[serde(deserialize_with = "dec")]
        pub lowest_52_week_price: Decimal,
        /// Message time (ms).
        pub timestamp: i64,
        /// Snapshot or realtime.
        #[serde(default)]
        pub stream_type: Option<StreamType>,
    }

    impl Ticker<'_> {
        /// The market code, websocket or REST spelling.
        pub fn code(&self) -> &str {
            self.code.or(self.market).unwrap_or_default()
        }
    }

    /// One orderbook unit.
    #[derive(Debug, Clone, Copy, Deserialize)]
    struct Unit {
        #[serde(deserialize_with = "dec")]
        ask_price: Decimal,
        #[serde(deserialize_with = "dec")]
        bid_price: Decimal,
        #[serde(deserialize_with = "dec")]
        ask_size: Decimal,
        #[serde(deserialize_with = "dec")]
        bid_size: Decimal,
    }

    /// `orderbook_units`, read straight into the neutral levels (one allocation).
    #[derive(Debug, Default)]
    pub struct Levels(pub Vec<BookLevel>);

    impl<'de> Deserialize<'de> for Levels {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Levels;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an array of orderbook units")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Levels, A::Error> {
                    // Upbit sends 15 or 30 levels; cap the hint so a lying peer cannot make
                    // us reserve much.
                    let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(30).min(64));
                    while let Some(u) = seq.next_element::<Unit>()? {
                        out.push(BookLevel {
                            ask_price: u.ask_price,
                            ask_size: u.ask_size,
                            bid_price: u.bid_price,
                            bid_size: u.bid_size,
                        });
                    }
                    Ok(Levels(out))
                }
            }
            d.deserialize_seq(V)
        }
    }

    /// `orderbook` message.
    #[derive(Debug, Deserialize)]
    pub struct OrderBook<'a> {
        /// Market (websocket).
        #[serde(borrow, default)]
        pub code: Option<&'a str>,
        /// Market (REST spelling).
        #[serde(borrow, default)]
        pub market: Option<&'a str>,
        /// Message time (ms).
        pub timestamp: i64,
        /// Total ask size.
        #[serde(deserialize_with = "dec")]
        pub total_ask_size: Decimal,
        /// Total bid size.
        #[serde(deserialize_with = "dec")]
        pub total_bid_size: Decimal,
        /// Levels, best first.
        pub orderbook_units: Levels,
        /// Grouping unit.
        #[serde(default, deserialize_with = "dec_opt")]
        pub level: Option<Decimal>,
        /// Snapshot or realtime.
        #[serde(default)]
        pub stream_type: Option<StreamType>,
    }

    impl OrderBook<'_> {
        /// The market code, websocket or REST spelling.
        pub fn code(&self) -> &str {
            self.code.or(self.market).unwrap_or_default()
        }
    }

    /// `candle.*` message.
    #[derive(Debug, Deserialize)]
    pub struct Candle<'a> {
        /// Market (websocket).
        #[serde(borrow, default)]
        pub code: Option<&'a str>,
        /// Market (REST spelling).
        #[serde(borrow, default)]
        pub market: Option<&'a str>,
        /// Bucket start UTC, `yyyy-MM-ddTHH:mm:ss`.
        #[serde(borrow)]
        pub candle_date_time_utc: Cow<'a, str>,
        /// Open.
        #[serde(deserialize_with = "dec")]
        pub opening_price: Decimal,
        /// High.
        #[serde(deserialize_with = "dec")]
        pub high_price: Decimal,
        /// Low.
        #[serde(deserialize_with = "dec")]
        pub low_price: Decimal,
        /// Close.
        #[serde(deserialize_with = "dec")]
        pub trade_price: Decimal,
        /// Last tick time (ms).
        pub timestamp: i64,
        /// Value.
        #[serde(deserialize_with = "dec")]
        pub candle_acc_trade_price: Decimal,
        /// Volume.
        #[serde(deserialize_with = "dec")]
        pub candle_acc_trade_volume: Decimal,
    }

    impl Candle<'_> {
        /// The market code, websocket or REST spelling.
        pub fn code(&self) -> &str {
            self.code.or(self.market).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn trade_example_from_the_reference_parses_exactly() {
        let raw = r#"{"type":"trade","code":"KRW-BTC","timestamp":1730336862082,"trade_date":"2024-10-31","trade_time":"01:07:42",
 "trade_timestamp":1730336862047,"trade_price":100473000.00000000,"trade_volume":0.00014208,"ask_bid":"BID",
 "prev_closing_price":100571000.00000000,"change":"FALL","change_price":98000.00000000,
 "sequential_id":17303368620470000,"best_ask_price":100473000,"best_ask_size":0.43139478,
 "best_bid_price":100465000,"best_bid_size":0.01990656,"stream_type":"SNAPSHOT"}"#;
        let t: WireTrade = serde_json::from_str(raw).unwrap();
        let n = t.to_trade();
        assert_eq!(n.price, Decimal::from_str("100473000").unwrap());
        assert_eq!(n.volume, Decimal::from_str("0.00014208").unwrap());
        assert_eq!(n.side, Some(Side::Bid));
        assert_eq!(n.stream_type, StreamType::Snapshot);
        assert_eq!(peek_type(raw.as_bytes()), Some("trade"));
    }

    #[test]
    fn numbers_beyond_f64_keep_every_digit() {
        let raw = r#"{"currency":"KRW","balance":1386929.37231066771348207,"locked":0}"#;
        let a: WireAsset = serde_json::from_str(raw).unwrap();
        assert_eq!(a.balance.to_string(), "1386929.37231066771348207");
        let back = serde_json::to_string(&a).unwrap();
        assert!(back.contains("1386929.37231066771348207"), "{back}");
    }

    #[test]
    fn error_name_is_string_or_integer() {
        let a: ErrorBody =
            serde_json::from_str(r#"{"error":{"name":"insufficient_funds_bid","message":"x"}}"#).unwrap();
        assert_eq!(a.error.name.as_text(), "insufficient_funds_bid");
        let b: ErrorBody =
            serde_json::from_str(r#"{"error":{"name":404,"message":"Code not found"}}"#).unwrap();
        assert_eq!(b.error.name, ErrorName::Status(404));
    }

    #[test]
    fn rest_order_with_strings_and_trades_converts() {
        let raw = r#"{"market":"KRW-USDT","uuid":"3b67","side":"ask","ord_type":"market","price":null,"state":"done",
 "created_at":"2025-08-09T16:44:00+09:00","volume":"5.377594","remaining_volume":"0",
 "executed_volume":"5.377594","reserved_fee":"0","remaining_fee":"0","paid_fee":"3.697095875",
 "locked":"0","prevented_volume":"0","prevented_locked":"0","trades_count":1,
 "trades":[{"market":"KRW-USDT","uuid":"795d","price":"1375","volume":"5.377594",
   "funds":"7394.19175","trend":"down","created_at":"2025-08-09T16:44:00.597751+09:00","side":"ask"}]}"#;
        let o: WireOrder = serde_json::from_str(raw).unwrap();
        let n = o.to_order();
        assert_eq!(n.state, OrderState::Done);
        assert_eq!(n.price, None);
        assert_eq!(n.trades.len(), 1);
        assert_eq!(n.trades[0].funds, Decimal::from_str("7394.19175").unwrap());
        assert!(n.trades[0].timestamp > 0);
    }

    #[test]
    fn bad_numbers_are_parse_errors_not_panics() {
        for bad in [r#""abc""#, "1e309", r#""""#, "null"] {
            let raw = format!(r#"{{"currency":"KRW","balance":{bad},"locked":0}}"#);
            assert!(serde_json::from_str::<WireAsset>(&raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn decimal_from_json_keeps_the_exact_text() {
        let d = |t: &str| decimal_from_json(t).unwrap();
        let s = |t: &str| Decimal::from_str(t).unwrap();
        assert_eq!(d("100473000"), s("100473000"));
        assert_eq!(d("100473000.00000000"), s("100473000"));
        assert_eq!(d("100473000.00000000").scale(), 8, "same scale as Decimal::from_str");
        assert_eq!(d("0.00014208"), s("0.00014208"));
        assert_eq!(d("-98000.5"), s("-98000.5"));
        assert_eq!(d("0"), Decimal::ZERO);
        assert_eq!(d("-0"), Decimal::ZERO);
        // Exponent forms, never through f64.
        assert_eq!(d("1.5e-7"), s("0.00000015"));
        assert_eq!(d("1.5E-7"), s("0.00000015"));
        assert_eq!(d("2e3"), s("2000"));
        assert_eq!(d("2E+3"), s("2000"));
        assert_eq!(d("-4.25e2"), s("-425"));
        // Big: 19 digits on the fast path, more through rust_decimal, all exact.
        assert_eq!(d("9999999999999999999"), s("9999999999999999999"));
        assert_eq!(d("17303368620470000"), s("17303368620470000"));
        assert_eq!(d("1386929.37231066771348207").to_string(), "1386929.37231066771348207");
        assert_eq!(d("79228162514264337593543950335"), Decimal::MAX);
        assert_eq!(d("-79228162514264337593543950335"), Decimal::MIN);
        // Decimal strings, as the `num` adapter accepts.
        assert_eq!(d("\"0.5\""), s("0.5"));
        assert_eq!(d("\"1e-2\""), s("0.01"));
    }

    #[test]
    fn decimal_from_json_rejects_what_is_not_a_decimal() {
        for bad in [
            "",
            "null",
            "true",
            "{}",
            "[1]",
            "\"\"",
            "\"abc\"",
            "\" 1\"",
            "\"1\\u0030\"",
            "\"1",
            "-",
            "1.",
            ".5",
            "1.2.3",
            "1x",
            "--1",
            "1e309",
            "1e",
            "1e-",
            "79228162514264337593543950336",
            "792281625142643375935439503350000",
        ] {
            let e = decimal_from_json(bad);
            assert!(e.is_err(), "{bad:?} → {e:?}");
            if let Err(e) = e {
                assert!(e.to_string().contains("not a decimal number"), "{e}");
            }
        }
        // Long junk is named, cut, and never splits a character.
        let long = format!("\"{}\"", "가".repeat(100));
        let e = decimal_from_json(&long).unwrap_err();
        assert!(e.text.len() <= 64 && e.text.starts_with('"'), "{e:?}");
    }

    #[test]
    fn decimal_from_json_never_panics() {
        use proptest::prelude::*;
        proptest!(|(t in "[-+0-9.eE\"a ]{0,40}")| {
            let _ = decimal_from_json(&t);
        });
        proptest!(|(m in any::<i64>(), scale in 0u32..=18)| {
            let text = Decimal::new(m, scale).to_string();
            prop_assert_eq!(decimal_from_json(&text).unwrap(), Decimal::from_str(&text).unwrap());
        });
    }

    #[test]
    fn views_read_the_same_values_as_the_wire_structs() {
        let raw = r#"{"type":"orderbook","code":"KRW-BTC","timestamp":1751606867762,"total_ask_size":10.37591054,
 "total_bid_size":9.49577219,"orderbook_units":[{"ask_price":148520000,"bid_price":148490000,"ask_size":0.0134662,
 "bid_size":0.04296774},{"ask_price":1.4853e8,"bid_price":148480000,"ask_size":1e-8,"bid_size":2}],"level":0,
 "stream_type":"REALTIME"}"#;
        let full: WireOrderBook = serde_json::from_str(raw).unwrap();
        let v: view::OrderBook<'_> = serde_json::from_str(raw).unwrap();
        let want = full.to_book();
        assert_eq!(v.code(), "KRW-BTC");
        assert_eq!(v.orderbook_units.0, want.levels);
        assert_eq!((v.total_ask_size, v.total_bid_size), (want.total_ask_size, want.total_bid_size));
        assert_eq!(v.level, Some(Decimal::ZERO));
        assert_eq!(v.orderbook_units.0[1].ask_price, Decimal::from(148_530_000));
        assert_eq!(v.orderbook_units.0[1].ask_size, Decimal::from_str("0.00000001").unwrap());
        let bad = raw.replace("10.37591054", "\"ten\"");
        let e = serde_json::from_str::<view::OrderBook<'_>>(&bad).unwrap_err();
        assert!(e.to_string().contains("ten"), "{e}");
    }
    /// Every spelling Upbit uses for a number, as a JSON number and as a string, and the
    /// exact value each must read as (never through f64).
    const SPELLINGS: [(&str, &str); 14] = [
        ("91200000", "91200000"),
        ("91200000.0", "91200000"),
        ("163248000.00000000", "163248000"),
        ("1.16539E8", "116539000"),
        ("1.16539e8", "116539000"),
        ("1.16539E+8", "116539000"),
        ("1.0E8", "100000000"),
        ("5.485e-05", "0.00005485"),
        ("7.9276E-4", "0.00079276"),
        ("5.0E-4", "0.0005"),
        ("0.00077720", "0.0007772"),
        ("-1.5E-7", "-0.00000015"),
        ("-282000.00000000", "-282000"),
        ("1386929.37231066771348207", "1386929.37231066771348207"),
    ];

    #[test]
    fn every_spelling_decodes_exactly_in_every_adapter() {
        #[derive(Deserialize)]
        struct Both {
            #[serde(with = "num")]
            n: Decimal,
            #[serde(with = "dec_str")]
            s: Decimal,
            #[serde(default, with = "num::opt")]
            no: Option<Decimal>,
            #[serde(default, with = "dec_str::opt")]
            so: Option<Decimal>,
        }
        #[derive(Deserialize)]
        struct View {
            #[serde(deserialize_with = "view::dec")]
            n: Decimal,
        }
        for (text, want) in SPELLINGS {
            let want = Decimal::from_str(want).unwrap();
            for json in [text.to_string(), format!("\"{text}\"")] {
                let raw = format!(r#"{{"n":{json},"s":{json},"no":{json},"so":{json}}}"#);
                let b: Both = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
                assert_eq!((b.n, b.s, b.no, b.so), (want, want, Some(want), Some(want)), "{raw}");
                let v: View = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
                assert_eq!(v.n, want, "{raw}");
                assert_eq!(decimal_from_json(&json).unwrap(), want, "{json}");
            }
        }
    }

    #[test]
    fn a_value_beyond_decimal_is_a_clear_error_not_a_panic() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct One {
            #[serde(with = "num")]
            n: Decimal,
        }
        for bad in ["1E29", "1.0E30", "7.9228162514264337593543950336E28", "1e-29", "\"1E29\""] {
            let raw = format!(r#"{{"n":{bad}}}"#);
            let e = serde_json::from_str::<One>(&raw).unwrap_err().to_string();
            assert!(!e.is_empty(), "{raw}");
            let e = decimal_from_json(bad).unwrap_err();
            assert!(e.to_string().contains("not a decimal number"), "{e}");
        }
    }

    /// Recorded-style frames with Upbit's own spellings (websocket book prices in exponent
    /// form, REST ticker numbers with eight decimals, trade ticks with `.0` and `e-05`,
    /// exchange strings with `.0`) decode to the exact values, through the full structs
    /// and through the websocket views.
    #[test]
    fn recorded_payloads_with_upbits_spellings_decode_exactly() {
        let d = |t: &str| Decimal::from_str(t).unwrap();
        let book = r#"{"type":"orderbook","code":"KRW-BTC","timestamp":1790134742106,"total_ask_size":2.51469375,"total_bid_size":1.63815297,"orderbook_units":[{"ask_price":1.16539E8,"bid_price":1.16538E8,"ask_size":0.02054761,"bid_size":0.08120946},{"ask_price":1.16542E8,"bid_price":1.16537E8,"ask_size":0.00077720,"bid_size":7.9276E-4}],"stream_type":"SNAPSHOT","level":0}"#;
        let full: WireOrderBook = serde_json::from_str(book).unwrap();
        let v: view::OrderBook<'_> = serde_json::from_str(book).unwrap();
        assert_eq!(v.orderbook_units.0, full.to_book().levels);
        let l = &v.orderbook_units.0;
        assert_eq!((l[0].ask_price, l[0].bid_price), (d("116539000"), d("116538000")));
        assert_eq!((l[1].ask_size, l[1].bid_size), (d("0.0007772"), d("0.00079276")));

        let ticker = r#"{"market":"KRW-BTC","trade_date":"20250730","trade_time":"170315","trade_date_kst":"20250731","trade_time_kst":"020315","trade_timestamp":1753894995076,"opening_price":163248000.00000000,"high_price":163708000.00000000,"low_price":162248000.00000000,"trade_price":162876000.00000000,"prev_closing_price":163158000.00000000,"change":"FALL","change_price":282000.00000000,"change_rate":0.0017283860,"signed_change_price":-282000.00000000,"signed_change_rate":-0.0017283860,"trade_volume":5.485e-05,"acc_trade_price":57163946207.18284000,"acc_trade_price_24h":1.6539E11,"acc_trade_volume":350.63017654,"acc_trade_volume_24h":1012.3E0,"highest_52_week_price":1.638E8,"highest_52_week_date":"2025-07-14","lowest_52_week_price":72100000.0,"lowest_52_week_date":"2024-08-05","timestamp":1753894995106}"#;
        let t: WireTicker = serde_json::from_str(ticker).unwrap();
        let t = t.to_ticker();
        assert_eq!(t.opening_price, d("163248000"));
        assert_eq!(t.signed_change_price, d("-282000"));
        assert_eq!(t.trade_volume, d("0.00005485"));
        assert_eq!(t.acc_trade_price_24h, d("165390000000"));
        assert_eq!(t.acc_trade_volume_24h, d("1012.3"));
        assert_eq!((t.highest_52_week_price, t.lowest_52_week_price), (d("163800000"), d("72100000")));

        let ws_ticker = ticker.replace(r#""market":"KRW-BTC""#, r#""type":"ticker","code":"KRW-BTC""#);
        let v: view::Ticker<'_> = serde_json::from_str(&ws_ticker).unwrap();
        assert_eq!((v.trade_price, v.trade_volume), (d("162876000"), d("0.00005485")));

        let trade = r#"{"type":"trade","code":"KRW-BTC","timestamp":1785397260652,"trade_date":"2026-07-30","trade_time":"07:41:00","trade_timestamp":1785397260652,"trade_price":91200000.0,"trade_volume":5.485e-05,"ask_bid":"BID","prev_closing_price":91424000.0,"change":"FALL","change_price":2.24E5,"sequential_id":17853972606520000,"best_ask_price":9.1201E7,"best_ask_size":1.0E-4,"best_bid_price":91200000,"best_bid_size":0.5,"stream_type":"REALTIME"}"#;
        let full: WireTrade = serde_json::from_str(trade).unwrap();
        let v: view::Trade<'_> = serde_json::from_str(trade).unwrap();
        assert_eq!((v.trade_price, v.trade_volume), (d("91200000"), d("0.00005485")));
        assert_eq!(full.to_trade().price, v.trade_price);

        let account = r#"{"currency":"KRW","balance":"1000000.0","locked":"0.00000000"}"#;
        let a: WireAsset = serde_json::from_str(account).unwrap();
        assert_eq!((a.balance, a.locked), (d("1000000"), Decimal::ZERO));
    }

    /// A `myOrder` frame shaped like Upbit's documented example carries the SMP fields.
    #[test]
    fn my_order_carries_the_smp_prevented_amounts() {
        let raw = r#"{"type":"myOrder","code":"KRW-BTC","uuid":"ac2dc2a3-fce9-40a2-a4f6-5987c25c438f","ask_bid":"BID","order_type":"limit","state":"trade","trade_uuid":"68315169-fba4-4175-ade3-aff14a616657","price":0.001453,"avg_price":0.00145372,"volume":30925891.29839369,"remaining_volume":29968038.09235948,"executed_volume":30925891.29839369,"trades_count":1,"reserved_fee":44.23943970238743,"remaining_fee":21.77177455028114,"paid_fee":22.467665152106296,"locked":43565.33151741639,"executed_funds":44935.33030421259,"time_in_force":null,"trade_fee":22.467665152106296,"is_maker":true,"identifier":"test-1","smp_type":"cancel_maker","prevented_volume":1.174291929,"prevented_locked":0.001706246173,"trade_timestamp":1710751590421,"order_timestamp":1710751590000,"timestamp":1710751597500,"stream_type":"REALTIME"}"#;
        let o: WireMyOrder = serde_json::from_str(raw).unwrap();
        assert_eq!(o.prevented_volume, Some(Decimal::from_str("1.174291929").unwrap()));
        assert_eq!(o.prevented_locked, Some(Decimal::from_str("0.001706246173").unwrap()));
        let back = serde_json::to_string(&o).unwrap();
        assert!(back.contains(r#""prevented_volume":1.174291929"#), "{back}");
    }

    /// The websocket ticker's `delisting_date` is sent as `null` when none is set (the key
    /// is there); REST has no such key.
    #[test]
    fn delisting_date_null_is_kept_on_the_websocket_and_absent_on_rest() {
        let raw = r#"{"type":"ticker","code":"KRW-BTC","trade_date":"20250730","trade_time":"170315","trade_timestamp":1,"opening_price":1,"high_price":1,"low_price":1,"trade_price":1,"prev_closing_price":1,"change":"EVEN","change_price":0,"change_rate":0,"signed_change_price":0,"signed_change_rate":0,"trade_volume":1,"acc_trade_price":1,"acc_trade_price_24h":1,"acc_trade_volume":1,"acc_trade_volume_24h":1,"highest_52_week_price":1,"highest_52_week_date":"2025-01-01","lowest_52_week_price":1,"lowest_52_week_date":"2025-01-01","market_state":"ACTIVE","is_trading_suspended":false,"market_warning":"NONE","delisting_date":null,"timestamp":1,"stream_type":"REALTIME"}"#;
        let t: WireTicker = serde_json::from_str(raw).unwrap();
        assert_eq!(t.delisting_date, Some(None));
        assert!(serde_json::to_string(&t).unwrap().contains(r#""delisting_date":null"#));
        let dated = raw.replace(r#""delisting_date":null"#, r#""delisting_date":"2026-12-31""#);
        let t: WireTicker = serde_json::from_str(&dated).unwrap();
        assert_eq!(t.delisting_date, Some(Some("2026-12-31".to_string())));
        let rest = raw.replace(r#","delisting_date":null"#, "");
        let t: WireTicker = serde_json::from_str(&rest).unwrap();
        assert_eq!(t.delisting_date, None);
        assert!(!serde_json::to_string(&t).unwrap().contains("delisting_date"));
    }

    /// Upbit deprecated `market_warning` (market/all) for `market_event`: hoga's warning
    /// flags come from `market_event` alone.
    #[test]
    fn warnings_come_from_market_event_not_the_deprecated_market_warning() {
        let item = |json: &str| MarketInfo::from(&serde_json::from_str::<MarketAllItem>(json).unwrap());
        let base = r#""market":"KRW-X","korean_name":"엑스","english_name":"X""#;
        let stale = item(&format!(
            r#"{{{base},"market_warning":"CAUTION","market_event":{{"warning":false,"caution":{{}}}}}}"#
        ));
        assert!(!stale.warning, "the deprecated field is not relied on");
        let only_old = item(&format!(r#"{{{base},"market_warning":"CAUTION"}}"#));
        assert!(!only_old.warning);
        let new = item(&format!(
            r#"{{{base},"market_warning":"NONE","market_event":{{"warning":true,"caution":{{"PRICE_FLUCTUATIONS":true}}}}}}"#
        ));
        assert!(new.warning && new.caution);
    }
}
