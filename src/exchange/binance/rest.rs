//! The Binance spot REST client: public market data only (the market list, tickers,
//! trades, order books, candles), behind the neutral [`RestApi`].
//!
//! One shared `reqwest::Client` (rustls, a timeout on every call, a User-Agent), the
//! per-IP request-weight budget of [`WeightLimits`] (shared by every client of the same
//! host in the process), Binance's `{"code","msg"}` errors turned into clear
//! [`ExchangeError`]s, and bounded retries (every call here is a read). No keys: account
//! calls are refused without a request.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::exchange::binance::limits::{WeightLimits, ban_from_message, parse_retry_after, weight};
use crate::exchange::binance::wire::{
    ErrorBody, ExchangeInfo, KlineRow, WireDepth, WireSymbol, WireTicker24h, WireTrade, interval, merge_pairs,
};
use crate::exchange::binance::{Symbols, set_rules, symbol_of};
use crate::exchange::error::{ErrorKind, ExchangeError};
use crate::exchange::rest::{LimitsStatus, RestApi, RestFuture};
use crate::exchange::types::{
    Balance, Candle, MarketId, MarketInfo, Order, OrderBook, SeenOnce, Ticker, Timeframe, Trade,
};

/// What account calls answer: this adapter has no keys and places no orders.
pub const MARKET_DATA_ONLY: &str = "Binance is market data only in hoga (no keys, no orders, no balances)";

/// The largest response body read: 32 MiB. Binance's largest answer hoga asks for, the
/// whole `exchangeInfo`, is a few MiB; a body past the cap is refused as unreadable
/// instead of growing memory without bound.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Order book depths `GET /api/v3/depth` is asked for: a wanted depth is rounded up to one
/// of these (all weigh 5), at most 100 levels a side.
const DEPTHS: [u32; 5] = [5, 10, 20, 50, 100];

/// Symbols per `ticker/24hr` call when the tickers are fetched in batches: 1-20 symbols
/// weigh 2, so batches of 20 cost a tenth of a weight per symbol, against 40 for 21-100
/// symbols and 80 for more in one call.
const TICKER_BATCH: usize = 20;
/// Batches of [`TICKER_BATCH`] are used up to this many calls (20 weight); past it one
/// call for every symbol (80 weight) costs fewer round trips.
const MAX_TICKER_BATCHES: usize = 10;

/// Binance's most klines, trades per call.
const MAX_LIMIT: u32 = 1000;

/// Binance's "Invalid symbol." error code.
const BAD_SYMBOL: i64 = -1121;

/// The Binance spot REST client. Cheap to clone; clones share the HTTP pool and budget.
#[derive(Debug, Clone)]
pub struct BinanceRest {
    http: reqwest::Client,
    base_url: String,
    limits: Arc<WeightLimits>,
    /// Attempts per call for network failures (1 = no retry).
    attempts: u32,
    /// First wait between attempts (doubles).
    backoff: Duration,
}

/// Items of list replies skipped, logged once per (path, reason).
static SKIP_REASONS: SeenOnce = SeenOnce::new(256);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn error(
    kind: ErrorKind,
    code: Option<String>,
    status: Option<u16>,
    reason: String,
    message: String,
) -> ExchangeError {
    ExchangeError { kind, code, status, reason, message, hint: None }
}

/// The account calls' refusal.
fn market_data_only(call: &str) -> ExchangeError {
    error(
        ErrorKind::Rejected,
        None,
        None,
        MARKET_DATA_ONLY.to_string(),
        format!("Binance {call}: {MARKET_DATA_ONLY}"),
    )
}

/// The first 120 characters of a body, on one line.
fn snippet(body: &str) -> String {
    let s: String = body.chars().take(120).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if body.chars().count() > 120 { format!("{s}…") } else { s }
}

/// A failure to reach Binance or to read its answer.
fn network(path: &str, e: &reqwest::Error) -> ExchangeError {
    let (kind, what) = if e.is_connect() {
        (ErrorKind::Connect, "connect failed")
    } else if e.is_timeout() {
        (ErrorKind::Network, "timed out")
    } else if e.is_builder() {
        (ErrorKind::NotSent, "request not built")
    } else {
        (ErrorKind::Network, "http error")
    };
    let reason = format!("{path}: {what}: {}", root_cause(e));
    error(kind, None, None, reason.clone(), format!("Binance GET {reason}"))
}

/// The innermost cause of `e` (`Connection refused (os error 111)`), which says why;
/// reqwest's own text (`error sending request for url (…)`) only repeats the URL.
fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// An answer that is not what the call expects (a truncated body, an HTML page).
fn bad_body(path: &str, detail: String) -> ExchangeError {
    error(
        ErrorKind::Network,
        None,
        None,
        detail.clone(),
        format!("Binance GET {path}: unreadable response body: {detail}"),
    )
}

/// An HTTP error answer other than 429 and 418. Binance's `{"code","msg"}` body names the
/// reason; 5xx (and -1000/-1001/-1006/-1007/-1008, Binance's own "try again") may be
/// repeated; 4xx is Binance refusing the request.
pub(crate) fn from_response(status: u16, body: &str, path: &str) -> ExchangeError {
    let parsed = serde_json::from_str::<ErrorBody>(body).ok();
    let retryable_code =
        parsed.as_ref().is_some_and(|b| matches!(b.code, -1000 | -1001 | -1006 | -1007 | -1008));
    let (kind, reason) = match (&parsed, status) {
        (Some(b), _) => {
            let kind = if status >= 500 || retryable_code {
                ErrorKind::Network
            } else if matches!(b.code, -1002 | -1022 | -2014 | -2015) {
                ErrorKind::Auth
            } else {
                ErrorKind::Rejected
            };
            (kind, format!("{} {}", b.code, b.msg))
        }
        (None, 500..=599) => (ErrorKind::Network, format!("HTTP {status}: {}", snippet(body))),
        (None, 403) => (
            ErrorKind::Rejected,
            format!("HTTP 403: Binance's firewall (WAF) refused the request: {}", snippet(body)),
        ),
        (None, 451) => (
            ErrorKind::Rejected,
            format!("HTTP 451: Binance refuses service from this location: {}", snippet(body)),
        ),
        (None, _) => (ErrorKind::Rejected, format!("HTTP {status}: {}", snippet(body))),
    };
    error(
        kind,
        parsed.map(|b| b.code.to_string()),
        Some(status),
        reason.clone(),
        format!("Binance GET {path}: {reason}"),
    )
}

/// Reads the body, at most [`MAX_BODY_BYTES`].
async fn read_body(mut resp: reqwest::Response, path: &str) -> Result<String, ExchangeError> {
    if let Some(len) = resp.content_length().filter(|n| *n > MAX_BODY_BYTES as u64) {
        return Err(bad_body(path, format!("body of {len} bytes exceeds the {MAX_BODY_BYTES}-byte limit")));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| network(path, &e))? {
        if bytes.len().saturating_add(chunk.len()) > MAX_BODY_BYTES {
            return Err(bad_body(path, format!("body exceeds the {MAX_BODY_BYTES}-byte limit")));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// Decodes a list reply item by item: an item that does not decode or convert is skipped
/// and logged once per (path, reason); the others are used, so one odd item never refuses
/// the whole list.
fn usable<W: DeserializeOwned, T>(
    path: &str,
    raw: &[Box<RawValue>],
    convert: impl Fn(W) -> Result<T, String>,
) -> Vec<T> {
    let mut out = Vec::with_capacity(raw.len());
    for (index, item) in raw.iter().enumerate() {
        match serde_json::from_str::<W>(item.get()).map_err(|e| e.to_string()).and_then(&convert) {
            Ok(t) => out.push(t),
            Err(reason) => {
                let reason: String = reason.chars().take(120).collect();
                if SKIP_REASONS.first(path, &reason) {
                    tracing::warn!(path, index, reason = %reason.escape_debug(), "binance: an item of a REST list skipped; the others are used (logged once per reason)");
                }
            }
        }
    }
    out
}

/// The `limit` asked of `depth` for a wanted depth: rounded up to 5, 10, 20, 50 or 100.
pub(crate) fn depth_limit(depth: u32) -> u32 {
    DEPTHS.into_iter().find(|d| *d >= depth).unwrap_or(100)
}

/// `symbols=` of `ticker/24hr`: a JSON array without spaces (`["BTCUSDT","ETHUSDT"]`).
fn symbols_param(symbols: &[String]) -> String {
    let quoted: Vec<String> = symbols.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(","))
}

impl BinanceRest {
    /// A client calling `base_url` (Binance's [`crate::exchange::binance::REST_URL`], the
    /// simulator's `http://127.0.0.1:PORT`, a test server).
    pub fn new(base_url: &str) -> Result<Self, ExchangeError> {
        let base_url = base_url.trim().trim_end_matches('/').to_string();
        let not_sent = |detail: String| {
            error(
                ErrorKind::NotSent,
                None,
                None,
                format!("{base_url}: {detail}"),
                format!("Binance REST client for {base_url}: {detail}"),
            )
        };
        match reqwest::Url::parse(&base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
            Ok(_) => return Err(not_sent("not an http(s) URL with a host".into())),
            Err(e) => return Err(not_sent(format!("not a URL ({e})"))),
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("hoga/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| not_sent(e.to_string()))?;
        let limits = WeightLimits::shared(&base_url);
        Ok(BinanceRest { http, base_url, limits, attempts: 3, backoff: Duration::from_millis(200) })
    }

    /// The weight used in the current minute and the server's per-minute limit (for the
    /// System pane).
    pub fn weight_used(&self) -> (u32, u32) {
        self.limits.used()
    }

    /// One GET of `weight`, decoded as `T`; network failures (and Binance's own "try
    /// again" codes) are retried a bounded number of times, nothing else is.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        weight: u32,
    ) -> Result<T, ExchangeError> {
        let mut backoff = self.backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.attempt(path, query, weight).await {
                Ok(v) => return Ok(v),
                Err(e)
                    if matches!(e.kind, ErrorKind::Network | ErrorKind::Connect)
                        && attempt < self.attempts =>
                {
                    tracing::debug!(path, attempt, error = %e, "binance read failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        weight: u32,
    ) -> Result<T, ExchangeError> {
        if let Err(left) = self.limits.acquire(weight).await {
            let reason =
                format!("this IP is banned by Binance (418) for {}s more; no call goes out", left.as_secs());
            return Err(error(
                ErrorKind::Blocked,
                None,
                Some(418),
                reason.clone(),
                format!("Binance GET {path}: {reason}"),
            ));
        }
        let url = format!("{}{path}", self.base_url);
        let resp = self.http.get(&url).query(query).send().await.map_err(|e| network(path, &e))?;
        let status = resp.status().as_u16();
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        if let Some(used) = header("X-MBX-USED-WEIGHT-1M").and_then(|v| v.trim().parse::<u32>().ok()) {
            self.limits.on_used_weight(used);
        }
        let retry_after = header("Retry-After").as_deref().and_then(parse_retry_after);
        let text = read_body(resp, path).await?;
        match status {
            200..=299 => {
                self.limits.on_success();
                serde_json::from_str(&text).map_err(|e| bad_body(path, format!("{e} in {}", snippet(&text))))
            }
            429 => {
                let pause = self.limits.on_429(retry_after);
                let msg = serde_json::from_str::<ErrorBody>(&text)
                    .map(|b| format!(" ({} {})", b.code, b.msg))
                    .unwrap_or_default();
                let reason = format!(
                    "rate limited (429); REST calls paused for {}s as Retry-After asks{msg}",
                    pause.as_secs()
                );
                Err(error(
                    ErrorKind::RateLimited,
                    Some("429".into()),
                    Some(429),
                    reason.clone(),
                    format!("Binance GET {path}: {reason}"),
                ))
            }
            418 => {
                let body = serde_json::from_str::<ErrorBody>(&text).ok();
                let ban =
                    retry_after.or_else(|| body.as_ref().and_then(|b| ban_from_message(&b.msg, now_ms())));
                let ban = self.limits.on_418(ban);
                let msg = body.map(|b| format!(" ({} {})", b.code, b.msg)).unwrap_or_default();
                let reason = format!(
                    "this IP is banned by Binance (418) for {}s; every REST call halted{msg}",
                    ban.as_secs()
                );
                Err(error(
                    ErrorKind::Blocked,
                    Some("418".into()),
                    Some(418),
                    reason.clone(),
                    format!("Binance GET {path}: {reason}"),
                ))
            }
            _ => Err(from_response(status, &text, path)),
        }
    }

    /// `GET /api/v3/exchangeInfo`: the listed markets (status `TRADING`, quoted in USDT).
    /// Fills the process-wide symbol table and tick/step sizes, and adopts the server's
    /// per-minute weight limit.
    pub async fn exchange_info(&self) -> Result<Vec<MarketInfo>, ExchangeError> {
        const PATH: &str = "/api/v3/exchangeInfo";
        let info: ExchangeInfo = self.get(PATH, &[], weight::EXCHANGE_INFO).await?;
        if let Some(limit) = info.weight_per_minute() {
            self.limits.set_limit(limit);
        }
        let listed = usable(PATH, &info.symbols, |s: WireSymbol| {
            if !s.listed() {
                return Ok(None);
            }
            Ok(Some((s.symbol.to_ascii_uppercase(), s.to_market_info()?, s.rules()?)))
        });
        let listed: Vec<_> = listed.into_iter().flatten().collect();
        if listed.is_empty() {
            return Err(bad_body(
                PATH,
                format!("no {} symbol is TRADING among {} symbols", super::QUOTE, info.symbols.len()),
            ));
        }
        Symbols::global().set(listed.iter().map(|(sym, m, _)| (sym.clone(), m.market.clone())));
        set_rules(listed.iter().map(|(_, m, r)| (m.market.clone(), *r)));
        Ok(listed.into_iter().map(|(_, m, _)| m).collect())
    }

    /// `GET /api/v3/trades`: the latest `count` (≤ 1000) trades, newest first.
    pub async fn recent_trades(&self, market: &MarketId, count: u32) -> Result<Vec<Trade>, ExchangeError> {
        const PATH: &str = "/api/v3/trades";
        let q = [("symbol", symbol_of(market)), ("limit", count.clamp(1, MAX_LIMIT).to_string())];
        let raw: Vec<Box<RawValue>> = self.get(PATH, &q, weight::TRADES).await?;
        let mut trades = usable(PATH, &raw, |t: WireTrade| t.to_trade(market.clone()));
        // Binance lists oldest first.
        trades.reverse();
        trades.truncate(count as usize);
        Ok(trades)
    }

    /// `GET /api/v3/ticker/24hr` for some markets: in batches of 20 (`symbols=[...]`,
    /// weight 2 each) up to 10 batches, else one call for all of them (weight 80). A batch
    /// Binance refuses for an invalid symbol (one delisted since the list was read) is
    /// asked again symbol by symbol, so the others still show.
    pub async fn tickers_24h(&self, markets: &[MarketId]) -> Result<Vec<Ticker>, ExchangeError> {
        if markets.is_empty() {
            return Ok(Vec::new());
        }
        let by_symbol: HashMap<String, MarketId> =
            markets.iter().map(|m| (symbol_of(m), m.clone())).collect();
        let mut symbols: Vec<String> = by_symbol.keys().cloned().collect();
        symbols.sort();
        let batch = if symbols.len().div_ceil(TICKER_BATCH) <= MAX_TICKER_BATCHES {
            TICKER_BATCH
        } else {
            symbols.len()
        };
        let mut out = Vec::with_capacity(symbols.len());
        for chunk in symbols.chunks(batch) {
            match self.ticker_batch(chunk, &by_symbol).await {
                Ok(t) => out.extend(t),
                Err(e) if chunk.len() > 1 && e.code.as_deref() == Some(&BAD_SYMBOL.to_string()) => {
                    for one in chunk {
                        match self.ticker_batch(std::slice::from_ref(one), &by_symbol).await {
                            Ok(t) => out.extend(t),
                            Err(e) if e.code.as_deref() == Some(&BAD_SYMBOL.to_string()) => {
                                tracing::info!(symbol = %one, "binance: ticker of a symbol Binance no longer knows skipped");
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn ticker_batch(
        &self,
        symbols: &[String],
        by_symbol: &HashMap<String, MarketId>,
    ) -> Result<Vec<Ticker>, ExchangeError> {
        const PATH: &str = "/api/v3/ticker/24hr";
        let w = weight::ticker_24hr(symbols.len());
        let raw: Vec<Box<RawValue>> = match symbols {
            [one] => {
                let t: Box<RawValue> = self.get(PATH, &[("symbol", one.clone())], w).await?;
                vec![t]
            }
            _ => self.get(PATH, &[("symbols", symbols_param(symbols))], w).await?,
        };
        Ok(usable(PATH, &raw, |t: WireTicker24h| {
            let upper = t.symbol.to_ascii_uppercase();
            let market = by_symbol
                .get(&upper)
                .cloned()
                .or_else(|| Symbols::global().market(&upper))
                .ok_or_else(|| {
                    format!("ticker of an unknown symbol {:?}", t.symbol.chars().take(40).collect::<String>())
                })?;
            t.to_ticker(market)
        }))
    }

    /// `GET /api/v3/depth` for each market, `depth` levels a side (asked rounded up to 5,
    /// 10, 20, 50 or 100; weight 5 each).
    pub async fn depth(&self, markets: &[MarketId], depth: u32) -> Result<Vec<OrderBook>, ExchangeError> {
        const PATH: &str = "/api/v3/depth";
        let limit = depth_limit(depth);
        let mut out = Vec::with_capacity(markets.len());
        for m in markets {
            let q = [("symbol", symbol_of(m)), ("limit", limit.to_string())];
            let w: WireDepth = self.get(PATH, &q, weight::depth(limit)).await?;
            let book = w
                .to_book(m.clone(), depth.clamp(1, limit) as usize, now_ms())
                .map_err(|e| bad_body(PATH, e))?;
            out.push(book);
        }
        Ok(out)
    }

    /// `GET /api/v3/klines`: up to `count` candles (≤ 1000; 10 minutes: ≤ 499) ending
    /// before `before` when given, newest first. Ten-minute candles are built from
    /// 5-minute ones ([`merge_pairs`]).
    pub async fn klines(
        &self,
        market: &MarketId,
        timeframe: Timeframe,
        count: u32,
        before: Option<i64>,
    ) -> Result<Vec<Candle>, ExchangeError> {
        let (iv, tf, limit) = match interval(timeframe) {
            Some(iv) => (iv, timeframe, count.clamp(1, MAX_LIMIT)),
            // Two 5-minute candles a 10-minute one, plus one: the page may start mid-pair.
            None => (
                "5m",
                Timeframe::M5,
                count.clamp(1, MAX_LIMIT).saturating_mul(2).saturating_add(1).min(MAX_LIMIT),
            ),
        };
        let mut candles = self.klines_page(market, iv, tf, limit, before).await?;
        if timeframe == Timeframe::M10 {
            candles = merge_pairs(&candles).map_err(|e| bad_body("/api/v3/klines", e))?;
        }
        candles.reverse();
        candles.truncate(count as usize);
        Ok(candles)
    }

    /// One page of klines, oldest first (as Binance lists them).
    async fn klines_page(
        &self,
        market: &MarketId,
        iv: &str,
        tf: Timeframe,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<Candle>, ExchangeError> {
        const PATH: &str = "/api/v3/klines";
        let mut q = vec![("symbol", symbol_of(market)), ("interval", iv.to_string())];
        if let Some(before) = before {
            // `endTime` is inclusive (a kline's open time at most endTime).
            q.push(("endTime", before.saturating_sub(1).to_string()));
        }
        q.push(("limit", limit.to_string()));
        let raw: Vec<Box<RawValue>> = self.get(PATH, &q, weight::KLINES).await?;
        let now = now_ms();
        let mut candles = usable(PATH, &raw, |r: KlineRow| r.to_candle(market.clone(), tf, now));
        if let Some(before) = before {
            candles.retain(|c| c.start < before);
        }
        Ok(candles)
    }
}

impl RestApi for BinanceRest {
    fn has_credentials(&self) -> bool {
        false
    }

    fn base_url(&self) -> &str {
        &self.base_url
    }

    fn limits_status(&self) -> LimitsStatus {
        self.limits.status()
    }

    fn markets(&self) -> RestFuture<'_, Vec<MarketInfo>> {
        Box::pin(self.exchange_info())
    }

    fn trades<'a>(&'a self, market: &'a MarketId, count: u32) -> RestFuture<'a, Vec<Trade>> {
        Box::pin(self.recent_trades(market, count))
    }

    fn tickers<'a>(&'a self, markets: &'a [MarketId]) -> RestFuture<'a, Vec<Ticker>> {
        Box::pin(self.tickers_24h(markets))
    }

    fn orderbook<'a>(&'a self, markets: &'a [MarketId], depth: u32) -> RestFuture<'a, Vec<OrderBook>> {
        Box::pin(self.depth(markets, depth))
    }

    fn candles<'a>(
        &'a self,
        market: &'a MarketId,
        timeframe: Timeframe,
        count: u32,
    ) -> RestFuture<'a, Vec<Candle>> {
        Box::pin(self.klines(market, timeframe, count, None))
    }

    fn candles_before<'a>(
        &'a self,
        market: &'a MarketId,
        timeframe: Timeframe,
        count: u32,
        before: i64,
    ) -> RestFuture<'a, Vec<Candle>> {
        Box::pin(async move {
            // Nothing starts before the epoch.
            if before <= 0 {
                return Ok(Vec::new());
            }
            self.klines(market, timeframe, count, Some(before)).await
        })
    }

    fn open_orders(&self) -> RestFuture<'_, Vec<Order>> {
        Box::pin(async { Err(market_data_only("open orders")) })
    }

    fn balances(&self) -> RestFuture<'_, Vec<Balance>> {
        Box::pin(async { Err(market_data_only("balances")) })
    }

    fn probe_key<'a>(
        &'a self,
        _market: &'a MarketId,
    ) -> Pin<Box<dyn Future<Output = Vec<String>> + Send + 'a>> {
        // No key, nothing to probe.
        Box::pin(async { Vec::new() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_rounded_up_to_a_limit_binance_serves() {
        assert_eq!([depth_limit(0), depth_limit(1), depth_limit(5), depth_limit(6)], [5, 5, 5, 10]);
        assert_eq!([depth_limit(15), depth_limit(30), depth_limit(51), depth_limit(500)], [20, 50, 100, 100]);
    }

    #[test]
    fn binance_error_bodies_become_clear_errors() {
        let e = from_response(400, r#"{"code":-1121,"msg":"Invalid symbol."}"#, "/api/v3/depth");
        assert_eq!((e.kind, e.code.as_deref(), e.status), (ErrorKind::Rejected, Some("-1121"), Some(400)));
        assert_eq!(e.reason, "-1121 Invalid symbol.");
        assert_eq!(e.to_string(), "Binance GET /api/v3/depth: -1121 Invalid symbol.");
        let e = from_response(400, r#"{"code":-1120,"msg":"Invalid interval."}"#, "/api/v3/klines");
        assert!(e.to_string().contains("-1120 Invalid interval."), "{e}");
        // Binance's own "try again" and 5xx may be repeated; an HTML page is not JSON.
        assert_eq!(from_response(400, r#"{"code":-1007,"msg":"Timeout"}"#, "/x").kind, ErrorKind::Network);
        assert_eq!(from_response(502, "<html>bad gateway</html>", "/x").kind, ErrorKind::Network);
        let e = from_response(403, "<html>", "/x");
        assert!(e.kind == ErrorKind::Rejected && e.reason.contains("WAF"), "{e}");
        assert!(from_response(451, "", "/x").reason.contains("location"));
        assert_eq!(
            from_response(401, r#"{"code":-2015,"msg":"Invalid API-key"}"#, "/x").kind,
            ErrorKind::Auth
        );
    }

    #[test]
    fn the_symbols_parameter_is_a_json_array() {
        assert_eq!(symbols_param(&["BTCUSDT".into(), "ETHUSDT".into()]), r#"["BTCUSDT","ETHUSDT"]"#);
    }

    #[test]
    fn a_bad_base_url_is_an_error_not_a_panic() {
        for bad in ["", "not a url", "ftp://x", "http://"] {
            let e = BinanceRest::new(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::NotSent, "{bad:?}");
        }
        let ok = BinanceRest::new("http://127.0.0.1:9/").unwrap();
        assert_eq!((ok.base_url(), ok.has_credentials()), ("http://127.0.0.1:9", false));
    }

    /// A server that is not there says why (the connection was refused), not reqwest's
    /// `error sending request for url (…)`, which only repeats the address.
    #[tokio::test]
    async fn a_dead_server_says_why() {
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let r = BinanceRest::new(&format!("http://{dead}")).unwrap();
        let e = r.exchange_info().await.unwrap_err();
        let text = e.to_string();
        assert_eq!(e.kind, ErrorKind::Connect, "{text}");
        assert!(text.contains("exchangeInfo: connect failed: "), "{text}");
        assert!(!text.contains("error sending request"), "{text}");
        assert!(text.to_ascii_lowercase().contains("refused"), "{text}");
    }

    #[tokio::test]
    async fn account_calls_are_refused_without_a_request() {
        let r = BinanceRest::new("http://127.0.0.1:9").unwrap();
        let e = r.open_orders().await.unwrap_err();
        assert!(e.kind == ErrorKind::Rejected && e.to_string().contains("market data only"), "{e}");
        assert!(r.balances().await.unwrap_err().to_string().contains("market data only"));
        assert!(r.probe_key(&MarketId::new("USDT-BTC")).await.is_empty());
        assert_eq!(r.candles_before(&MarketId::new("USDT-BTC"), Timeframe::M1, 10, 0).await.unwrap(), vec![]);
    }
}
