//! Binance spot's public REST payloads (`exchangeInfo`, `ticker/24hr`, `depth`, `trades`,
//! `klines`) and their conversion into the neutral types.
//!
//! Numbers: Binance writes every price and amount as a decimal string (`"0.01634790"`).
//! The structs keep that text as it came and [`dec`] reads it into a `Decimal` exactly
//! (never through `f64`, never rounded: a string with more digits than a `Decimal` holds
//! is refused, not shortened). A field that is not a number (`""`, `"NaN"`, `"1e400"`) is
//! an error that names the field. Times are integers (Unix ms). The structs serialize
//! back to the same shapes, so a fake server (the simulator, a test) can write them.

use std::fmt;

use rust_decimal::Decimal;
use serde::de::{self, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::exchange::binance::{QUOTE, SymbolRules, market_of};
use crate::exchange::types::{
    BookLevel, Candle, Change, MarketId, MarketInfo, OrderBook, Side, StreamType, Ticker, Timeframe, Trade,
    band,
};

/// Reads a decimal string exactly; `field` names it in the error. Binance pads every
/// number to eight decimals (`"4.00000200"`); the padding is dropped (the value is the
/// same), so a price reads `4.000002` wherever hoga shows it in full.
pub fn dec(field: &str, text: &str) -> Result<Decimal, String> {
    Decimal::from_str_exact(text.trim())
        .map(|d| d.normalize())
        .map_err(|e| format!("{field} = {:?} is not a decimal number ({e})", cut(text)))
}

/// The first 40 characters of a value, for error messages.
fn cut(text: &str) -> String {
    text.chars().take(40).collect()
}

/// A band failure as a message.
fn band_err(e: band::OutOfBand) -> String {
    e.to_string()
}

// ---------------------------------------------------------------------------------------
// Errors

/// Binance's error body: `{"code":-1121,"msg":"Invalid symbol."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Binance's error code (negative: `-1121`).
    pub code: i64,
    /// Its message.
    pub msg: String,
}

// ---------------------------------------------------------------------------------------
// exchangeInfo

/// `GET /api/v3/exchangeInfo`. `symbols` is kept raw and decoded one by one, so one
/// symbol of a shape hoga does not know never refuses the whole list.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeInfo {
    /// The server's rate limits (`REQUEST_WEIGHT` per minute among them). An entry that
    /// does not read (a negative limit, a new shape) is left out, as an odd symbol is:
    /// without its weight limit hoga keeps its default budget.
    #[serde(default, deserialize_with = "readable_limits")]
    pub rate_limits: Vec<RateLimit>,
    /// Every symbol, raw.
    #[serde(default)]
    pub symbols: Vec<Box<serde_json::value::RawValue>>,
}

/// The entries of `rateLimits` that read, the others logged and left out.
fn readable_limits<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<RateLimit>, D::Error> {
    let raw: Vec<serde_json::Value> = Deserialize::deserialize(d)?;
    Ok(raw
        .into_iter()
        .filter_map(|v| match serde_json::from_value::<RateLimit>(v) {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(error = %e, "Binance exchangeInfo: a rate limit left out (unreadable)");
                None
            }
        })
        .collect())
}

/// One entry of `rateLimits`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    /// `REQUEST_WEIGHT`, `ORDERS`, `RAW_REQUESTS`.
    pub rate_limit_type: String,
    /// `SECOND`, `MINUTE`, `DAY`.
    pub interval: String,
    /// How many intervals (`5` × `MINUTE`).
    pub interval_num: u32,
    /// The limit.
    pub limit: u32,
}

impl ExchangeInfo {
    /// The `REQUEST_WEIGHT` limit per one minute, when the server publishes a usable one
    /// (a limit of 0 would stop every call: it is not taken).
    pub fn weight_per_minute(&self) -> Option<u32> {
        self.rate_limits
            .iter()
            .find(|r| r.rate_limit_type == "REQUEST_WEIGHT" && r.interval == "MINUTE" && r.interval_num == 1)
            .map(|r| r.limit)
            .filter(|l| *l > 0)
    }
}

/// One symbol of `exchangeInfo` (the fields hoga reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireSymbol {
    /// `BTCUSDT`.
    pub symbol: String,
    /// `TRADING`, `HALT`, `BREAK`, ...
    pub status: String,
    /// `BTC`.
    pub base_asset: String,
    /// `USDT`.
    pub quote_asset: String,
    /// The symbol's filters; those hoga does not read decode as [`Filter::Other`].
    #[serde(default)]
    pub filters: Vec<Filter>,
}

/// A symbol filter (the ones hoga reads; the others are skipped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "filterType")]
pub enum Filter {
    /// Price limits and tick.
    #[serde(rename = "PRICE_FILTER", rename_all = "camelCase")]
    Price {
        /// Lowest price (0: no limit).
        min_price: String,
        /// Highest price (0: no limit).
        max_price: String,
        /// Price step (0: none).
        tick_size: String,
    },
    /// Quantity limits and step.
    #[serde(rename = "LOT_SIZE", rename_all = "camelCase")]
    LotSize {
        /// Smallest quantity.
        min_qty: String,
        /// Largest quantity.
        max_qty: String,
        /// Quantity step (0: none).
        step_size: String,
    },
    /// Any other filter.
    #[serde(other)]
    Other,
}

impl WireSymbol {
    /// Whether hoga lists the symbol: trading now, quoted in [`QUOTE`].
    pub fn listed(&self) -> bool {
        self.status == "TRADING" && self.quote_asset == QUOTE
    }

    /// The neutral market id (`USDT-BTC`), when base and quote are plain codes.
    pub fn market(&self) -> Result<MarketId, String> {
        let ok = |s: &str| !s.is_empty() && s.len() <= 20 && s.chars().all(|c| c.is_ascii_alphanumeric());
        if ok(&self.base_asset) && ok(&self.quote_asset) {
            Ok(market_of(&self.base_asset.to_ascii_uppercase(), &self.quote_asset.to_ascii_uppercase()))
        } else {
            Err(format!(
                "symbol {:?}: base {:?} / quote {:?} are not asset codes",
                cut(&self.symbol),
                cut(&self.base_asset),
                cut(&self.quote_asset)
            ))
        }
    }

    /// The market as hoga lists it. Binance publishes no names, so both names are the
    /// base asset's code.
    pub fn to_market_info(&self) -> Result<MarketInfo, String> {
        let market = self.market()?;
        let base = market.base().to_string();
        Ok(MarketInfo {
            market,
            korean_name: base.clone(),
            english_name: base,
            warning: false,
            caution: false,
        })
    }

    /// The tick and step sizes (`PRICE_FILTER` `tickSize`, `LOT_SIZE` `stepSize`); a
    /// size of 0 means "no step" and reads as `None`.
    pub fn rules(&self) -> Result<SymbolRules, String> {
        let mut rules = SymbolRules::default();
        let step = |field: &str, text: &str| -> Result<Option<Decimal>, String> {
            let v = dec(field, text)?;
            if v.is_zero() {
                return Ok(None);
            }
            band::price("tickSize/stepSize", v).map(|v| Some(v.normalize())).map_err(band_err)
        };
        for f in &self.filters {
            match f {
                Filter::Price { tick_size, .. } => rules.tick_size = step("tickSize", tick_size)?,
                Filter::LotSize { step_size, .. } => rules.step_size = step("stepSize", step_size)?,
                Filter::Other => {}
            }
        }
        Ok(rules)
    }
}

// ---------------------------------------------------------------------------------------
// ticker/24hr

/// `GET /api/v3/ticker/24hr` (type `FULL`): statistics over a rolling 24-hour window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireTicker24h {
    /// `BNBBTC`.
    pub symbol: String,
    /// `lastPrice − openPrice`.
    pub price_change: String,
    /// The change in percent (`"-95.960"`).
    pub price_change_percent: String,
    /// Last trade price.
    pub last_price: String,
    /// Last trade quantity.
    #[serde(default)]
    pub last_qty: Option<String>,
    /// The window's first price.
    pub open_price: String,
    /// The window's high.
    pub high_price: String,
    /// The window's low.
    pub low_price: String,
    /// Base volume over the window.
    pub volume: String,
    /// Quote volume over the window.
    pub quote_volume: String,
    /// Window start (ms).
    pub open_time: i64,
    /// Window end (ms): the time of the statistics.
    pub close_time: i64,
}

impl WireTicker24h {
    /// The neutral ticker of `market`. Binance's window is rolling, not a UTC day, so the
    /// "day" figures are the window's: `openPrice` is both the opening price and the
    /// reference the change is measured against (`priceChange = lastPrice − openPrice`),
    /// the quote volume is both the day's and the 24 h traded value, and the 52-week
    /// figures are not known (0). Context figures outside their band become 0 ("not
    /// known", [`Ticker::context_in_band`]); the last price and the times are checked.
    pub fn to_ticker(&self, market: MarketId) -> Result<Ticker, String> {
        let change = dec("priceChange", &self.price_change)?;
        let percent = dec("priceChangePercent", &self.price_change_percent)?;
        let rate = percent.checked_div(Decimal::ONE_HUNDRED).ok_or("priceChangePercent / 100 overflowed")?;
        let value = dec("quoteVolume", &self.quote_volume)?;
        let open = dec("openPrice", &self.open_price)?;
        let t = Ticker {
            market: Some(market),
            trade_price: dec("lastPrice", &self.last_price)?,
            opening_price: open,
            high_price: dec("highPrice", &self.high_price)?,
            low_price: dec("lowPrice", &self.low_price)?,
            prev_closing_price: open,
            change: if change.is_sign_positive() && !change.is_zero() {
                Change::Rise
            } else if change.is_zero() {
                Change::Even
            } else {
                Change::Fall
            },
            signed_change_price: change,
            signed_change_rate: rate,
            trade_volume: self
                .last_qty
                .as_deref()
                .map(|q| dec("lastQty", q))
                .transpose()?
                .unwrap_or_default(),
            acc_trade_price: value,
            acc_trade_price_24h: value,
            acc_trade_volume_24h: dec("volume", &self.volume)?,
            highest_52_week_price: Decimal::ZERO,
            lowest_52_week_price: Decimal::ZERO,
            trade_timestamp: self.close_time,
            timestamp: self.close_time,
            stream_type: StreamType::Snapshot,
        }
        .context_in_band();
        t.check_price_and_times().map_err(band_err)?;
        Ok(t)
    }
}

// ---------------------------------------------------------------------------------------
// depth

/// One price level of `depth`: `["4.00000000", "431.00000000"]`. Binance documents a
/// third element to ignore in some versions (`[]`); anything past the first two is
/// skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Level(pub String, pub String);

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Level;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a [price, quantity] pair of decimal strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Level, A::Error> {
                let price: String = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let qty: String = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Level(price, qty))
            }
        }
        d.deserialize_seq(V)
    }
}

/// `GET /api/v3/depth`: bids best (highest) first, asks best (lowest) first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireDepth {
    /// The book's update id.
    pub last_update_id: i64,
    /// Bids.
    pub bids: Vec<Level>,
    /// Asks.
    pub asks: Vec<Level>,
}

impl WireDepth {
    /// The neutral book of `market`, at most `depth` levels a side, stamped `at_ms` (the
    /// REST depth carries no time). A side shorter than the other leaves its slots empty
    /// (0, 0). Every level must parse and be in band, or the book is refused: a book with
    /// a hole in it would show a wrong spread or a wrong total.
    pub fn to_book(&self, market: MarketId, depth: usize, at_ms: i64) -> Result<OrderBook, String> {
        let side = |levels: &[Level], what: &str| -> Result<Vec<(Decimal, Decimal)>, String> {
            levels
                .iter()
                .take(depth)
                .enumerate()
                .map(|(i, Level(p, q))| {
                    let price = dec(&format!("{what}[{i}] price"), p)?;
                    let qty = dec(&format!("{what}[{i}] quantity"), q)?;
                    band::price("price", price).map_err(band_err)?;
                    band::size("quantity", qty).map_err(band_err)?;
                    Ok((price.normalize(), qty.normalize()))
                })
                .collect()
        };
        let bids = side(&self.bids, "bids")?;
        let asks = side(&self.asks, "asks")?;
        let n = bids.len().max(asks.len());
        let mut total_ask = Decimal::ZERO;
        let mut total_bid = Decimal::ZERO;
        let mut levels = Vec::with_capacity(n);
        for i in 0..n {
            let (ask_price, ask_size) = asks.get(i).copied().unwrap_or_default();
            let (bid_price, bid_size) = bids.get(i).copied().unwrap_or_default();
            total_ask = total_ask.checked_add(ask_size).ok_or("total ask size overflowed")?;
            total_bid = total_bid.checked_add(bid_size).ok_or("total bid size overflowed")?;
            levels.push(BookLevel { ask_price, ask_size, bid_price, bid_size });
        }
        let book = OrderBook {
            market: Some(market),
            levels,
            total_ask_size: total_ask,
            total_bid_size: total_bid,
            level: Decimal::ZERO,
            timestamp: at_ms,
            stream_type: StreamType::Snapshot,
        };
        book.check().map_err(band_err)?;
        Ok(book)
    }
}

// ---------------------------------------------------------------------------------------
// trades

/// One trade of `GET /api/v3/trades`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireTrade {
    /// Trade id (increasing per symbol).
    pub id: i64,
    /// Price.
    pub price: String,
    /// Quantity.
    pub qty: String,
    /// price × quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_qty: Option<String>,
    /// Trade time (ms).
    pub time: i64,
    /// True when the buyer was the resting (maker) order: the taker sold.
    pub is_buyer_maker: bool,
    /// Binance's "best match" flag (always true; ignored).
    #[serde(default)]
    pub is_best_match: bool,
}

impl WireTrade {
    /// The neutral trade. The taker side comes from `isBuyerMaker`: a maker buyer means
    /// the taker sold (`Ask`), otherwise the taker bought (`Bid`).
    pub fn to_trade(&self, market: MarketId) -> Result<Trade, String> {
        let t = Trade {
            market,
            price: dec("price", &self.price)?.normalize(),
            volume: dec("qty", &self.qty)?.normalize(),
            side: Some(if self.is_buyer_maker { Side::Ask } else { Side::Bid }),
            trade_timestamp: self.time,
            timestamp: self.time,
            sequential_id: self.id,
            stream_type: StreamType::Snapshot,
        };
        t.check().map_err(band_err)?;
        Ok(t)
    }
}

// ---------------------------------------------------------------------------------------
// klines

/// One row of `GET /api/v3/klines`: `[openTime, open, high, low, close, volume,
/// closeTime, quoteVolume, trades, takerBuyBase, takerBuyQuote, ignore]`. The first eight
/// are read; the rest may be missing and are skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KlineRow {
    /// Bucket start (ms).
    pub open_time: i64,
    /// Open.
    pub open: String,
    /// High.
    pub high: String,
    /// Low.
    pub low: String,
    /// Close (the last price so far for the current bucket).
    pub close: String,
    /// Base volume.
    pub volume: String,
    /// Bucket end (ms, inclusive: start + length − 1).
    pub close_time: i64,
    /// Quote volume.
    pub quote_volume: String,
    /// Number of trades.
    pub trades: u64,
}

impl Serialize for KlineRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (
            self.open_time,
            &self.open,
            &self.high,
            &self.low,
            &self.close,
            &self.volume,
            self.close_time,
            &self.quote_volume,
            self.trades,
            "0",
            "0",
            "0",
        )
            .serialize(s)
    }
}

impl<'de> Deserialize<'de> for KlineRow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KlineRow;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a kline row [openTime, open, high, low, close, volume, closeTime, quoteVolume, ...]",
                )
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<KlineRow, A::Error> {
                fn next<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(
                    seq: &mut A,
                    i: usize,
                    v: &V,
                ) -> Result<T, A::Error> {
                    seq.next_element()?.ok_or_else(|| de::Error::invalid_length(i, v))
                }
                let row = KlineRow {
                    open_time: next(&mut seq, 0, &self)?,
                    open: next(&mut seq, 1, &self)?,
                    high: next(&mut seq, 2, &self)?,
                    low: next(&mut seq, 3, &self)?,
                    close: next(&mut seq, 4, &self)?,
                    volume: next(&mut seq, 5, &self)?,
                    close_time: next(&mut seq, 6, &self)?,
                    quote_volume: next(&mut seq, 7, &self)?,
                    trades: seq.next_element()?.unwrap_or(0),
                };
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(row)
            }
        }
        d.deserialize_seq(V)
    }
}

impl KlineRow {
    /// The neutral candle. Its time of last tick is the bucket's end, or `now_ms` for the
    /// bucket still open (Binance stamps the end in the future).
    pub fn to_candle(&self, market: MarketId, timeframe: Timeframe, now_ms: i64) -> Result<Candle, String> {
        let c = Candle {
            market,
            timeframe,
            start: self.open_time,
            open: dec("open", &self.open)?.normalize(),
            high: dec("high", &self.high)?.normalize(),
            low: dec("low", &self.low)?.normalize(),
            close: dec("close", &self.close)?.normalize(),
            volume: dec("volume", &self.volume)?.normalize(),
            value: dec("quoteVolume", &self.quote_volume)?.normalize(),
            timestamp: self.close_time.min(now_ms.max(self.open_time)),
        };
        c.check().map_err(band_err)?;
        Ok(c)
    }
}

/// Binance's kline interval of a timeframe; `None` for 10 minutes, which Binance does not
/// have ([`merge_pairs`] builds it from 5-minute candles).
pub fn interval(tf: Timeframe) -> Option<&'static str> {
    Some(match tf {
        Timeframe::S1 => "1s",
        Timeframe::M1 => "1m",
        Timeframe::M3 => "3m",
        Timeframe::M5 => "5m",
        Timeframe::M10 => return None,
        Timeframe::M15 => "15m",
        Timeframe::M30 => "30m",
        Timeframe::H1 => "1h",
        Timeframe::H4 => "4h",
        Timeframe::D1 => "1d",
        Timeframe::W1 => "1w",
        Timeframe::Mo1 => "1M",
    })
}

/// Builds 10-minute candles from 5-minute ones (oldest first in, oldest first out): the
/// 5-minute candles starting at :00 and :05 of each 10-minute bucket become one (open of
/// the first, close of the last, high and low over both, volumes summed). A bucket whose
/// first half is missing at the old end of the list is dropped (the page began mid-bucket:
/// its open is not known); elsewhere a bucket with one half is kept (the newest is still
/// open; a gap in the middle is the exchange's own).
pub fn merge_pairs(five: &[Candle]) -> Result<Vec<Candle>, String> {
    const TEN: i64 = 600_000;
    let mut out: Vec<Candle> = Vec::with_capacity(five.len() / 2 + 1);
    for c in five {
        let start = c.start.div_euclid(TEN) * TEN;
        match out.last_mut() {
            Some(last) if last.start == start => {
                last.high = last.high.max(c.high);
                last.low = last.low.min(c.low);
                last.close = c.close;
                last.volume = last.volume.checked_add(c.volume).ok_or("10m volume overflowed")?;
                last.value = last.value.checked_add(c.value).ok_or("10m value overflowed")?;
                last.timestamp = c.timestamp;
            }
            _ => {
                if out.is_empty() && c.start != start {
                    continue;
                }
                out.push(Candle { timeframe: Timeframe::M10, start, ..c.clone() });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec as d;

    fn btc() -> MarketId {
        MarketId::new("USDT-BTC")
    }

    /// Binance's documented `exchangeInfo` example (trimmed: one rate limit of each kind,
    /// two symbols, filters as the filters document shows them), plus symbols hoga skips.
    const EXCHANGE_INFO: &str = r#"{
      "timezone": "UTC",
      "serverTime": 1565246363776,
      "rateLimits": [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000}
      ],
      "exchangeFilters": [],
      "symbols": [
        {
          "symbol": "ETHBTC", "status": "TRADING", "baseAsset": "ETH", "baseAssetPrecision": 8,
          "quoteAsset": "BTC", "quotePrecision": 8, "quoteAssetPrecision": 8,
          "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"],
          "icebergAllowed": true, "ocoAllowed": true, "isSpotTradingAllowed": true, "isMarginTradingAllowed": true,
          "filters": [], "permissions": [], "permissionSets": [["SPOT", "MARGIN"]],
          "defaultSelfTradePreventionMode": "NONE", "allowedSelfTradePreventionModes": ["NONE"]
        },
        {
          "symbol": "BTCUSDT", "status": "TRADING", "baseAsset": "BTC", "baseAssetPrecision": 8,
          "quoteAsset": "USDT", "quotePrecision": 8, "quoteAssetPrecision": 8,
          "orderTypes": ["LIMIT", "MARKET"],
          "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
            {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": true, "maxNotional": "9000000.00000000", "applyMaxToMarket": false, "avgPriceMins": 5}
          ],
          "permissions": [], "permissionSets": [["SPOT"]]
        },
        {"symbol": "LUNAUSDT", "status": "BREAK", "baseAsset": "LUNA", "quoteAsset": "USDT", "filters": []},
        {"symbol": "1000SATSUSDT", "status": "TRADING", "baseAsset": "1000SATS", "quoteAsset": "USDT", "filters": []}
      ]
    }"#;

    #[test]
    fn exchange_info_decodes_and_lists_trading_usdt_symbols_with_their_steps() {
        let info: ExchangeInfo = serde_json::from_str(EXCHANGE_INFO).unwrap();
        assert_eq!(info.weight_per_minute(), Some(6000));
        let symbols: Vec<WireSymbol> =
            info.symbols.iter().map(|r| serde_json::from_str(r.get()).unwrap()).collect();
        let listed: Vec<&WireSymbol> = symbols.iter().filter(|s| s.listed()).collect();
        assert_eq!(listed.iter().map(|s| s.symbol.as_str()).collect::<Vec<_>>(), ["BTCUSDT", "1000SATSUSDT"]);
        let m = listed[0].to_market_info().unwrap();
        assert_eq!((m.market.as_str(), m.english_name.as_str()), ("USDT-BTC", "BTC"));
        let rules = listed[0].rules().unwrap();
        assert_eq!((rules.tick_size, rules.step_size), (Some(d!(0.01)), Some(d!(0.00001))));
        assert_eq!(listed[1].rules().unwrap(), SymbolRules::default());
        assert_eq!(listed[1].market().unwrap().as_str(), "USDT-1000SATS");
    }

    /// A rate limit that does not read (a negative limit) is left out, not the list: it
    /// refused the whole exchangeInfo and Binance stayed empty.
    #[test]
    fn an_unreadable_rate_limit_is_left_out_not_the_list() {
        let bad = EXCHANGE_INFO.replacen(r#""limit": 6000"#, r#""limit": -5"#, 1);
        assert_ne!(bad, EXCHANGE_INFO);
        let info: ExchangeInfo = serde_json::from_str(&bad).unwrap();
        assert_eq!(info.weight_per_minute(), None, "no weight limit read: the default budget");
        assert_eq!(info.rate_limits.len(), 2);
        assert!(!info.symbols.is_empty());
        let odd = EXCHANGE_INFO.replacen(r#""intervalNum": 10"#, r#""intervalNum": "ten""#, 1);
        let info: ExchangeInfo = serde_json::from_str(&odd).unwrap();
        assert_eq!(info.weight_per_minute(), Some(6000));
        let zero = EXCHANGE_INFO.replacen(r#""limit": 6000"#, r#""limit": 0"#, 1);
        let info: ExchangeInfo = serde_json::from_str(&zero).unwrap();
        assert_eq!(info.weight_per_minute(), None, "a zero limit would stop every call");
    }

    #[test]
    fn a_symbol_with_a_bad_step_or_asset_code_is_an_error_naming_it() {
        let mut s: WireSymbol = serde_json::from_str(
            r#"{"symbol":"XUSDT","status":"TRADING","baseAsset":"X","quoteAsset":"USDT",
                "filters":[{"filterType":"PRICE_FILTER","minPrice":"0","maxPrice":"0","tickSize":"NaN"}]}"#,
        )
        .unwrap();
        let e = s.rules().unwrap_err();
        assert!(e.contains("tickSize") && e.contains("NaN"), "{e}");
        s.filters.clear();
        s.base_asset = "X-Y".into();
        assert!(s.market().unwrap_err().contains("X-Y"));
    }

    /// Binance's documented `ticker/24hr` example (`FULL`).
    const TICKER: &str = r#"{
      "symbol": "BNBBTC",
      "priceChange": "-94.99999800",
      "priceChangePercent": "-95.960",
      "weightedAvgPrice": "0.29628482",
      "prevClosePrice": "0.10002000",
      "lastPrice": "4.00000200",
      "lastQty": "200.00000000",
      "bidPrice": "4.00000000",
      "bidQty": "100.00000000",
      "askPrice": "4.00000200",
      "askQty": "100.00000000",
      "openPrice": "99.00000000",
      "highPrice": "100.00000000",
      "lowPrice": "0.10000000",
      "volume": "8913.30000000",
      "quoteVolume": "15.30000000",
      "openTime": 1499783499040,
      "closeTime": 1499869899040,
      "firstId": 28385,
      "lastId": 28460,
      "count": 76
    }"#;

    #[test]
    fn ticker_24hr_maps_the_rolling_window() {
        let w: WireTicker24h = serde_json::from_str(TICKER).unwrap();
        let t = w.to_ticker(MarketId::new("BTC-BNB")).unwrap();
        assert_eq!(t.trade_price, d!(4.00000200));
        assert_eq!((t.opening_price, t.prev_closing_price), (d!(99), d!(99)));
        assert_eq!((t.high_price, t.low_price), (d!(100), d!(0.1)));
        assert_eq!(t.change, Change::Fall);
        assert_eq!(t.signed_change_price, d!(-94.999998));
        assert_eq!(t.signed_change_rate, d!(-0.9596));
        assert_eq!(t.trade_volume, d!(200));
        assert_eq!((t.acc_trade_price_24h, t.acc_trade_volume_24h), (d!(15.3), d!(8913.3)));
        assert_eq!((t.trade_timestamp, t.timestamp), (1499869899040, 1499869899040));
        // The array form (`symbols=[...]`) is a list of the same objects.
        let list: Vec<WireTicker24h> = serde_json::from_str(&format!("[{TICKER},{TICKER}]")).unwrap();
        assert_eq!(list.len(), 2);
        // A rise and no change.
        let up =
            WireTicker24h { price_change: "1.5".into(), price_change_percent: "2.5".into(), ..w.clone() };
        let t = up.to_ticker(btc()).unwrap();
        assert_eq!((t.change, t.signed_change_rate), (Change::Rise, d!(0.025)));
        let even = WireTicker24h { price_change: "0.00000000".into(), ..w };
        assert_eq!(even.to_ticker(btc()).unwrap().change, Change::Even);
    }

    /// Binance's documented `depth` example (with the ignored third element some versions
    /// of the document show).
    const DEPTH: &str = r#"{
      "lastUpdateId": 1027024,
      "bids": [["4.00000000", "431.00000000", []]],
      "asks": [["4.00000200", "12.00000000"], ["4.00000300", "1.00000000"]]
    }"#;

    #[test]
    fn depth_pairs_the_sides_best_first() {
        let w: WireDepth = serde_json::from_str(DEPTH).unwrap();
        let b = w.to_book(MarketId::new("BTC-BNB"), 5, 1_700_000_000_000).unwrap();
        assert_eq!(b.levels.len(), 2);
        assert_eq!(
            b.levels[0],
            BookLevel { ask_price: d!(4.000002), ask_size: d!(12), bid_price: d!(4), bid_size: d!(431) }
        );
        // The bid side is shorter: its second slot is empty.
        assert_eq!((b.levels[1].bid_price, b.levels[1].bid_size), (Decimal::ZERO, Decimal::ZERO));
        assert_eq!((b.total_ask_size, b.total_bid_size), (d!(13), d!(431)));
        assert_eq!(b.timestamp, 1_700_000_000_000);
        assert_eq!(w.to_book(btc(), 1, 0).unwrap().levels.len(), 1);
    }

    /// Binance's documented `trades` example.
    const TRADES: &str = r#"[
      {"id": 28457, "price": "4.00000100", "qty": "12.00000000", "quoteQty": "48.000012",
       "time": 1499865549590, "isBuyerMaker": true, "isBestMatch": true}
    ]"#;

    #[test]
    fn a_maker_buyer_means_the_taker_sold() {
        let w: Vec<WireTrade> = serde_json::from_str(TRADES).unwrap();
        let t = w[0].to_trade(btc()).unwrap();
        assert_eq!((t.price, t.volume, t.side), (d!(4.000001), d!(12), Some(Side::Ask)));
        assert_eq!((t.sequential_id, t.trade_timestamp), (28457, 1499865549590));
        let bought = WireTrade { is_buyer_maker: false, ..w[0].clone() };
        assert_eq!(bought.to_trade(btc()).unwrap().side, Some(Side::Bid));
    }

    /// Binance's documented `klines` example.
    const KLINES: &str = r#"[
      [
        1499040000000,
        "0.01634790",
        "0.80000000",
        "0.01575800",
        "0.01577100",
        "148976.11427815",
        1499644799999,
        "2434.19055334",
        308,
        "1756.87402397",
        "28.46694368",
        "0"
      ]
    ]"#;

    #[test]
    fn kline_rows_decode_and_round_trip() {
        let rows: Vec<KlineRow> = serde_json::from_str(KLINES).unwrap();
        let c = rows[0].to_candle(btc(), Timeframe::W1, i64::MAX).unwrap();
        assert_eq!((c.start, c.timestamp), (1499040000000, 1499644799999));
        assert_eq!((c.open, c.high, c.low, c.close), (d!(0.0163479), d!(0.8), d!(0.015758), d!(0.015771)));
        assert_eq!((c.volume, c.value), (d!(148976.11427815), d!(2434.19055334)));
        // The bucket still open is stamped now, not at its future end.
        assert_eq!(rows[0].to_candle(btc(), Timeframe::W1, 1499040000500).unwrap().timestamp, 1499040000500);
        let back: Vec<KlineRow> = serde_json::from_str(&serde_json::to_string(&rows).unwrap()).unwrap();
        assert_eq!(back, rows);
        // A short row (fewer than eight fields) is an error, not a panic.
        assert!(serde_json::from_str::<KlineRow>(r#"[1499040000000, "1", "1", "1"]"#).is_err());
    }

    #[test]
    fn eight_decimal_padding_is_dropped_without_changing_the_value() {
        let v = dec("price", "4.00000200").unwrap();
        assert_eq!((v, v.to_string()), (d!(4.000002), "4.000002".to_string()));
        assert_eq!(dec("qty", "100.00000000").unwrap().to_string(), "100");
    }

    #[test]
    fn the_error_body_decodes() {
        let e: ErrorBody = serde_json::from_str(r#"{"code": -1121, "msg": "Invalid symbol."}"#).unwrap();
        assert_eq!((e.code, e.msg.as_str()), (-1121, "Invalid symbol."));
    }

    #[test]
    fn absurd_numbers_are_errors_naming_the_field() {
        for bad in ["1e400", "NaN", "", "inf", "0x10", "1.2.3", "99999999999999999999999999999999999"] {
            let e = dec("lastPrice", bad).unwrap_err();
            assert!(e.contains("lastPrice"), "{bad:?}: {e}");
        }
        // More decimals than a Decimal holds: refused, never rounded.
        assert!(dec("price", "0.00000000000000000000000000001").is_err());
        let w: WireTicker24h = serde_json::from_str(TICKER).unwrap();
        let e = WireTicker24h { last_price: "NaN".into(), ..w.clone() }.to_ticker(btc()).unwrap_err();
        assert!(e.contains("lastPrice"), "{e}");
        let e = WireTicker24h { last_price: "-4".into(), ..w.clone() }.to_ticker(btc()).unwrap_err();
        assert!(e.contains("trade_price"), "{e}");
        // A negative 24 h volume is context: shown as not known (0), the price is kept.
        let t = WireTicker24h { volume: "-8913.3".into(), ..w }.to_ticker(btc()).unwrap();
        assert_eq!((t.acc_trade_volume_24h, t.trade_price), (Decimal::ZERO, d!(4.000002)));
        // A trade, a level or a candle with a negative or absurd size is refused.
        let tr: Vec<WireTrade> = serde_json::from_str(TRADES).unwrap();
        let e = WireTrade { qty: "-1".into(), ..tr[0].clone() }.to_trade(btc()).unwrap_err();
        assert!(e.contains("trade_volume"), "{e}");
        let e = WireTrade { price: "1e400".into(), ..tr[0].clone() }.to_trade(btc()).unwrap_err();
        assert!(e.contains("price"), "{e}");
        let book: WireDepth =
            serde_json::from_str(r#"{"lastUpdateId":1,"bids":[["4","-1"]],"asks":[]}"#).unwrap();
        assert!(book.to_book(btc(), 5, 0).unwrap_err().contains("quantity"));
        let book: WireDepth =
            serde_json::from_str(r#"{"lastUpdateId":1,"bids":[["",""]],"asks":[]}"#).unwrap();
        assert!(book.to_book(btc(), 5, 0).unwrap_err().contains("bids[0] price"));
        let rows: Vec<KlineRow> = serde_json::from_str(KLINES).unwrap();
        let e = KlineRow { volume: "-5".into(), ..rows[0].clone() }
            .to_candle(btc(), Timeframe::M1, 0)
            .unwrap_err();
        assert!(e.contains("volume"), "{e}");
        let e = KlineRow { high: "NaN".into(), ..rows[0].clone() }
            .to_candle(btc(), Timeframe::M1, 0)
            .unwrap_err();
        assert!(e.contains("high"), "{e}");
        // Numbers sent as JSON numbers (not Binance's strings) are a decode error.
        assert!(
            serde_json::from_str::<WireTrade>(
                r#"{"id":1,"price":4.1,"qty":"1","time":1,"isBuyerMaker":true}"#
            )
            .is_err()
        );
    }

    fn five(start: i64, o: i64, h: i64, l: i64, c: i64, v: i64) -> Candle {
        Candle {
            market: btc(),
            timeframe: Timeframe::M5,
            start,
            open: Decimal::from(o),
            high: Decimal::from(h),
            low: Decimal::from(l),
            close: Decimal::from(c),
            volume: Decimal::from(v),
            value: Decimal::from(v * 10),
            timestamp: start + 299_999,
        }
    }

    #[test]
    fn ten_minute_candles_are_built_from_aligned_five_minute_pairs() {
        let t = 1_733_443_200_000; // a whole 10 minutes
        let five_min = vec![
            five(t - 300_000, 1, 1, 1, 1, 1), // second half of an earlier bucket: dropped
            five(t, 10, 12, 9, 11, 2),
            five(t + 300_000, 11, 15, 8, 14, 3),
            five(t + 600_000, 14, 14, 13, 13, 1), // the bucket still open: kept with one half
        ];
        let ten = merge_pairs(&five_min).unwrap();
        assert_eq!(ten.len(), 2);
        let a = &ten[0];
        assert_eq!((a.timeframe, a.start), (Timeframe::M10, t));
        assert_eq!((a.open, a.high, a.low, a.close), (d!(10), d!(15), d!(8), d!(14)));
        assert_eq!((a.volume, a.value, a.timestamp), (d!(5), d!(50), t + 599_999));
        assert_eq!((ten[1].start, ten[1].open, ten[1].close), (t + 600_000, d!(14), d!(13)));
        assert!(merge_pairs(&[]).unwrap().is_empty());
    }

    #[test]
    fn every_timeframe_but_ten_minutes_has_a_binance_interval() {
        for tf in Timeframe::ALL {
            assert_eq!(interval(tf).is_none(), tf == Timeframe::M10, "{tf}");
        }
        assert_eq!((interval(Timeframe::D1), interval(Timeframe::Mo1)), (Some("1d"), Some("1M")));
    }
}
