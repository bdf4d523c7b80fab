//! What neutral code asks of a venue's REST client: the market list, the feed's
//! snapshots, pane reads and private polling, the rate-limit state health and the ban watch read, and the startup
//! key check. [`RestApi`] is object-safe (`Arc<dyn RestApi>`): these calls are rare next
//! to a network round trip, so one boxed future per call costs nothing that matters.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::exchange::error::ExchangeError;
use crate::exchange::types::{
    Balance, Candle, MarketId, MarketInfo, Order, OrderBook, Ticker, Timeframe, Trade,
};

/// A REST call in flight.
pub(crate) type RestFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ExchangeError>> + Send + 'a>>;

/// What the client's rate limiter is doing, for health and the System pane.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LimitsStatus {
    /// Time left on a ban (Upbit: 418) of any kind: some REST calls are halted (see
    /// `ip_blocked_for` and `pocket_blocked_for` for which).
    pub blocked_for: Option<Duration>,
    /// Time left on a ban of the IP (a 418 answering a quotation call): every REST call is
    /// halted; also counted in `blocked_for`.
    pub ip_blocked_for: Option<Duration>,
    /// Rate-limit groups paused after a 429 (or an exhausted budget), by the venue's group
    /// name, with time left.
    pub paused: Vec<(&'static str, Duration)>,
    /// Bans seen.
    pub blocks: u32,
    /// 429 answers seen.
    pub rate_limited: u64,
    /// The pocket whose exchange budget this client draws on (Upbit counts the exchange
    /// groups and their 418 bans per pocket), once known.
    pub pocket: Option<String>,
    /// Time left on a ban of that pocket alone (exchange calls halted, quotation calls
    /// not); also counted in `blocked_for`.
    pub pocket_blocked_for: Option<Duration>,
}

/// The REST reads neutral code makes of a venue.
pub trait RestApi: Send + Sync + fmt::Debug + 'static {
    /// True when account endpoints can be called (keys configured).
    fn has_credentials(&self) -> bool;

    /// The base URL calls go to (the exchange, the simulator, a test server).
    fn base_url(&self) -> &str;

    /// The rate limiter's state (a lock, no request).
    fn limits_status(&self) -> LimitsStatus;

    /// Every listed market, with its names and warnings.
    fn markets(&self) -> RestFuture<'_, Vec<MarketInfo>>;

    /// The latest `count` trades of a market, newest first.
    fn trades<'a>(&'a self, market: &'a MarketId, count: u32) -> RestFuture<'a, Vec<Trade>>;

    /// Tickers of some markets.
    fn tickers<'a>(&'a self, markets: &'a [MarketId]) -> RestFuture<'a, Vec<Ticker>>;

    /// Order books of some markets, `depth` levels a side.
    fn orderbook<'a>(&'a self, markets: &'a [MarketId], depth: u32) -> RestFuture<'a, Vec<OrderBook>>;

    /// The latest `count` candles of a market, newest first.
    fn candles<'a>(
        &'a self,
        market: &'a MarketId,
        timeframe: Timeframe,
        count: u32,
    ) -> RestFuture<'a, Vec<Candle>>;

    /// Up to `count` candles of a market that start before `before` (ms since the epoch),
    /// newest first: the page older than the oldest one loaded. Empty when the exchange
    /// has nothing older (the start of the market's history).
    fn candles_before<'a>(
        &'a self,
        market: &'a MarketId,
        timeframe: Timeframe,
        count: u32,
        before: i64,
    ) -> RestFuture<'a, Vec<Candle>>;

    /// Open orders of every market: the first page (Upbit: 100), enough for a poll that
    /// stands in for the private stream, not an inventory.
    fn open_orders(&self) -> RestFuture<'_, Vec<Order>>;

    /// Account balances.
    fn balances(&self) -> RestFuture<'_, Vec<Balance>>;

    /// Checks the keys with harmless calls and returns one finding per permission the
    /// venue refused for authentication (the permission, the venue's error name and the
    /// fix). Empty when the keys may trade; anything that proves nothing either way (a
    /// business refusal, a network error) is only logged.
    fn probe_key<'a>(
        &'a self,
        market: &'a MarketId,
    ) -> Pin<Box<dyn Future<Output = Vec<String>> + Send + 'a>>;
}

/// `host:port` of a base URL, the part a venue's per-IP limits and bans are about (every
/// client of one host shares them); the whole URL when it does not parse.
pub(crate) fn host_of(base_url: &str) -> String {
    match reqwest::Url::parse(base_url) {
        Ok(u) => format!(
            "{}:{}",
            u.host_str().unwrap_or_default().to_ascii_lowercase(),
            u.port_or_known_default().unwrap_or(0)
        ),
        Err(_) => base_url.to_string(),
    }
}
