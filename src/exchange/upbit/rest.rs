//! The Upbit REST client: one shared `reqwest::Client` (rustls, a timeout on every call,
//! a User-Agent, never an `Origin` header), per-group rate limiting, JWT signing, typed
//! errors, and bounded retries for reads only.
//!
//! Order creation is NEVER retried: a lost answer becomes
//! [`UpbitError::UnknownOutcome`] and the caller looks the order up by its `identifier`.
//! Every attempt signs a fresh token (new nonce), so a retry is never a replay.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::exchange::types::{
    Balance, Candle, MarketId, MarketInfo, Order, OrderBook, OrderState, OutOfBand, SeenOnce, Ticker,
    Timeframe, Trade,
};
use crate::exchange::upbit::auth::{Credentials, Sign as _, SignedBody, SignedQuery};
use crate::exchange::upbit::error::{AuthKind, NetworkKind, UpbitError, snippet};
use crate::exchange::upbit::limits::{Group, LimitsStatus, RemainingReq, RestLimits, parse_block_duration};
use crate::exchange::upbit::wire::{
    MarketAllItem, NewOrderBody, OrderbookInstrument, RestTradeTick, WireAccount, WireCandle, WireChance,
    WireOrder, WireOrderBook, WireTicker,
};

/// Upbit's REST base (KR).
pub(crate) const DEFAULT_REST_URL: &str = "https://api.upbit.com/v1";

/// REST client settings.
#[derive(Debug, Clone)]
pub struct RestConfig {
    /// Base URL including `/v1` (injectable: the simulator or a fake server).
    pub base_url: String,
    /// Whole-call timeout.
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Attempts for reads (1 = no retry).
    pub read_attempts: u32,
    /// First backoff between read attempts (doubles).
    pub retry_backoff: Duration,
}

impl Default for RestConfig {
    fn default() -> Self {
        RestConfig {
            base_url: DEFAULT_REST_URL.to_string(),
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            read_attempts: 3,
            retry_backoff: Duration::from_millis(200),
        }
    }
}

/// Look an order up by server id or by our client id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRef {
    /// Upbit `uuid`.
    Uuid(String),
    /// Our `identifier`.
    Identifier(String),
}

impl OrderRef {
    fn pair(&self) -> (String, String) {
        match self {
            OrderRef::Uuid(u) => ("uuid".into(), u.clone()),
            OrderRef::Identifier(i) => ("identifier".into(), i.clone()),
        }
    }
}

/// Whether a call may be repeated after a network failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallKind {
    /// Reads and cancels: bounded retries.
    Retryable,
    /// Order creation: one attempt; a lost answer is an unknown outcome.
    Create,
}

struct Call<'a> {
    method: Method,
    path: &'a str,
    group: Group,
    query: Vec<(String, String)>,
    body: Option<Vec<(String, String)>>,
    auth: bool,
    kind: CallKind,
}

/// The Upbit REST client. Cheap to clone; every clone shares the HTTP pool and limits.
#[derive(Clone)]
pub struct RestClient {
    http: reqwest::Client,
    config: Arc<RestConfig>,
    pub(super) credentials: Option<Arc<Credentials>>,
    limits: Arc<RestLimits>,
}

impl std::fmt::Debug for RestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestClient")
            .field("base_url", &self.config.base_url)
            .field("credentials", &self.credentials)
            .finish()
    }
}

/// Items of list replies skipped so far (see [`usable_items`]), for diagnostics and tests.
static SKIPPED_ITEMS: AtomicU64 = AtomicU64::new(0);

/// The (path, reason) pairs [`skip_item`] logged; past 256 (only a peer inventing errors
/// gets there) skipped items are counted but no longer logged.
static SKIP_REASONS: SeenOnce = SeenOnce::new(256);

/// How many items of REST list replies were skipped since the process started (an item
/// that did not decode, or had a number outside the band).
pub fn skipped_items() -> u64 {
    SKIPPED_ITEMS.load(Ordering::Relaxed)
}

/// Counts a skipped item and logs it once per (path, reason), with the index of the first
/// item skipped for that reason. The reason is cut to 120 characters.
fn skip_item(path: &str, index: usize, reason: &str) {
    SKIPPED_ITEMS.fetch_add(1, Ordering::Relaxed);
    let reason: String = reason.chars().take(120).collect();
    if SKIP_REASONS.first(path, &reason) {
        tracing::warn!(
            path,
            index,
            reason = %reason.escape_debug(),
            "item of a REST list reply skipped; the other items are used (logged once per reason)"
        );
    }
}

/// Decodes a list reply item by item (issue 15, item 4): an item that does not decode as
/// `W`, that `convert` cannot use, or whose numbers `check` finds outside the band
/// ([`crate::exchange::types::band`]) is skipped and logged once ([`skip_item`]); the other
/// items are used. One odd item (a new field shape, an airdropped token's balance, a
/// malformed number) never refuses the whole reply.
fn usable_items<W: DeserializeOwned, T>(
    path: &str,
    raw: Vec<Box<RawValue>>,
    convert: impl Fn(W) -> Result<T, String>,
    check: impl Fn(&T) -> Result<(), OutOfBand>,
) -> Vec<T> {
    let mut out = Vec::with_capacity(raw.len());
    for (index, item) in raw.iter().enumerate() {
        let usable = serde_json::from_str::<W>(item.get())
            .map_err(|e| e.to_string())
            .and_then(&convert)
            .and_then(|t| check(&t).map(|()| t).map_err(|e| e.to_string()));
        match usable {
            Ok(t) => out.push(t),
            Err(reason) => skip_item(path, index, &reason),
        }
    }
    out
}

/// One order of a REST reply, refused as a bad body when a number is outside the band.
fn one_in_band(method: &str, path: &str, o: Order) -> Result<Order, UpbitError> {
    match o.check() {
        Ok(()) => Ok(o),
        Err(e) => Err(out_of_band(method, path, &e)),
    }
}

fn out_of_band(method: &str, path: &str, e: &OutOfBand) -> UpbitError {
    UpbitError::Network {
        kind: NetworkKind::BadBody,
        method: method.to_string(),
        path: path.to_string(),
        detail: e.to_string(),
    }
}

/// A candle list's query: `market`, `to` when given, `count` (1…200, Upbit's most).
fn candles_query(market: &MarketId, count: u32, to: Option<&str>) -> Vec<(String, String)> {
    let mut q = vec![p("market", market.as_str())];
    if let Some(to) = to {
        q.push(p("to", to));
    }
    q.push(p("count", count.clamp(1, 200).to_string()));
    q
}

/// `to=` for candles starting before `ms`: ISO 8601 in UTC with a `Z`
/// (`2025-06-24T04:56:53Z`, one of the forms Upbit documents), to the second. Upbit's `to`
/// is exclusive and candles start on whole seconds, so a time between two seconds is
/// rounded up: the candle of the second before it is still included. `None` past
/// chrono's range.
pub(crate) fn to_param(ms: i64) -> Option<String> {
    let secs = ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0);
    let at = chrono::DateTime::from_timestamp(secs, 0)?;
    Some(at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn join(markets: &[MarketId]) -> String {
    markets.iter().map(MarketId::as_str).collect::<Vec<_>>().join(",")
}

fn p(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

impl RestClient {
    /// Builds the client. `credentials = None` allows quotation calls only.
    pub fn new(config: RestConfig, credentials: Option<Credentials>) -> Result<Self, UpbitError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("hoga/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| UpbitError::Request { path: config.base_url.clone(), detail: e.to_string() })?;
        let base_url = config.base_url.trim_end_matches('/').to_string();
        // One limiter and ban state per host and key for the whole process: the market-data
        // client and the order client must not keep separate books (issue 15, item 5).
        let limits = RestLimits::shared(&base_url, credentials.as_ref().map(Credentials::key_id).as_deref());
        Ok(RestClient {
            http,
            config: Arc::new(RestConfig { base_url, ..config }),
            credentials: credentials.map(Arc::new),
            limits: Arc::new(limits),
        })
    }

    /// True when account endpoints can be called.
    pub(crate) fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }

    /// The base URL in use.
    pub fn base_url(&self) -> &str {
        &self.config.base_url
    }

    /// Rate-limit state (paused groups, 418 block) for the System pane.
    pub fn limits_status(&self) -> LimitsStatus {
        self.limits.status()
    }

    /// Attributes the key's exchange budget to its pocket (see
    /// [`RestLimits::attribute_pocket`]).
    pub(crate) fn attribute_pocket(&self, uuid: Option<&str>, label: &str) {
        self.limits.attribute_pocket(uuid, label);
    }

    // ---------------------------------------------------------------- quotation

    /// `GET /market/all?is_details=true`.
    pub async fn market_all(&self) -> Result<Vec<MarketInfo>, UpbitError> {
        let raw = self.get("/market/all", Group::Market, vec![p("is_details", "true")], false).await?;
        Ok(usable_items("/market/all", raw, |m: MarketAllItem| Ok(MarketInfo::from(&m)), |_| Ok(())))
    }

    /// `GET /ticker?markets=…`.
    pub async fn tickers(&self, markets: &[MarketId]) -> Result<Vec<Ticker>, UpbitError> {
        let raw = self.get("/ticker", Group::Ticker, vec![p("markets", join(markets))], false).await?;
        Ok(usable_items("/ticker", raw, |t: WireTicker| Ok(t.to_ticker().context_in_band()), Ticker::check))
    }

    /// `GET /orderbook?markets=…&count=…` (count 1…30).
    pub async fn orderbook(&self, markets: &[MarketId], count: u32) -> Result<Vec<OrderBook>, UpbitError> {
        let q = vec![p("markets", join(markets)), p("count", count.clamp(1, 30).to_string())];
        let raw = self.get("/orderbook", Group::Orderbook, q, false).await?;
        Ok(usable_items("/orderbook", raw, |b: WireOrderBook| Ok(b.to_book()), OrderBook::check))
    }

    /// `GET /orderbook?markets=…&count=…&level=…`: books grouped by Upbit into price
    /// buckets of `level` (호가 모아보기; KRW markets only). A level the market does not
    /// support (`orderbook/instruments` lists them) is answered with an empty list.
    pub async fn orderbook_grouped(
        &self,
        markets: &[MarketId],
        count: u32,
        level: rust_decimal::Decimal,
    ) -> Result<Vec<OrderBook>, UpbitError> {
        let q = vec![
            p("markets", join(markets)),
            p("count", count.clamp(1, 30).to_string()),
            p("level", level.normalize().to_string()),
        ];
        let raw = self.get("/orderbook", Group::Orderbook, q, false).await?;
        Ok(usable_items("/orderbook", raw, |b: WireOrderBook| Ok(b.to_book()), OrderBook::check))
    }

    /// `GET /orderbook/instruments?markets=…` (tick sizes).
    pub async fn instruments(&self, markets: &[MarketId]) -> Result<Vec<OrderbookInstrument>, UpbitError> {
        let raw = self
            .get("/orderbook/instruments", Group::Orderbook, vec![p("markets", join(markets))], false)
            .await?;
        Ok(usable_items("/orderbook/instruments", raw, Ok, |_| Ok(())))
    }

    /// `GET /trades/ticks?market=…&count=…` (newest first).
    pub async fn trades(&self, market: &MarketId, count: u32) -> Result<Vec<Trade>, UpbitError> {
        let q = vec![p("market", market.as_str()), p("count", count.clamp(1, 500).to_string())];
        let raw = self.get("/trades/ticks", Group::Trade, q, false).await?;
        Ok(usable_items("/trades/ticks", raw, |t: RestTradeTick| Ok(t.to_trade()), Trade::check))
    }

    /// `GET /candles/…?market=…&count=…[&to=…]` (newest first, gaps omitted by Upbit).
    pub async fn candles(
        &self,
        market: &MarketId,
        tf: Timeframe,
        count: u32,
        to: Option<&str>,
    ) -> Result<Vec<Candle>, UpbitError> {
        let path = match tf {
            Timeframe::S1 => "/candles/seconds".to_string(),
            Timeframe::D1 => "/candles/days".to_string(),
            Timeframe::W1 => "/candles/weeks".to_string(),
            Timeframe::Mo1 => "/candles/months".to_string(),
            other => format!("/candles/minutes/{}", other.minutes().unwrap_or(1)),
        };
        let raw = self.get(&path, Group::Candle, candles_query(market, count, to), false).await?;
        let candle = |c: WireCandle| c.to_candle(tf).ok_or_else(|| "candle time does not parse".to_string());
        Ok(usable_items(&path, raw, candle, Candle::check))
    }

    /// The candles that start before `before` (ms since the epoch), newest first: the page
    /// older than a loaded one (`to=` is exclusive; see [`to_param`]).
    pub async fn candles_before(
        &self,
        market: &MarketId,
        tf: Timeframe,
        count: u32,
        before: i64,
    ) -> Result<Vec<Candle>, UpbitError> {
        let to = to_param(before).ok_or_else(|| UpbitError::Request {
            path: "/candles".into(),
            detail: format!("no date at {before} ms"),
        })?;
        self.candles(market, tf, count, Some(&to)).await
    }

    // ---------------------------------------------------------------- exchange

    /// `GET /accounts`. Decoded item by item: a balance that cannot be used (a new field
    /// shape, an airdropped token with an odd number) is skipped and logged once; the
    /// others are used. Safe: a currency missing from the list reads as nothing available,
    /// which can only refuse an order, never send one.
    pub async fn accounts(&self) -> Result<Vec<Balance>, UpbitError> {
        let raw = self.get("/accounts", Group::Default, vec![], true).await?;
        Ok(usable_items("/accounts", raw, |a: WireAccount| Ok(Balance::from(&a)), Balance::check))
    }

    /// `GET /orders/chance?market=…`.
    pub async fn chance(&self, market: &MarketId) -> Result<WireChance, UpbitError> {
        self.get("/orders/chance", Group::Default, vec![p("market", market.as_str())], true).await
    }

    /// `POST /orders`. One attempt only; a lost answer is [`UpbitError::UnknownOutcome`].
    pub async fn create_order(&self, body: &NewOrderBody) -> Result<Order, UpbitError> {
        let call = Call {
            method: Method::POST,
            path: "/orders",
            group: Group::Order,
            query: vec![],
            body: Some(order_pairs(body)),
            auth: true,
            kind: CallKind::Create,
        };
        let o: WireOrder = self.call(call).await?;
        // A reply with a number outside the band: the order may exist, so its outcome is
        // unknown (looked up by identifier), never "refused".
        let o = o.to_order();
        o.check().map_err(|e| UpbitError::UnknownOutcome {
            kind: NetworkKind::BadBody,
            path: "/orders".into(),
            detail: e.to_string(),
        })?;
        Ok(o)
    }

    /// `POST /orders/test`: validates without creating. Retried like a read (no side effect).
    pub(crate) async fn orders_test(&self, body: &NewOrderBody) -> Result<Order, UpbitError> {
        let call = Call {
            method: Method::POST,
            path: "/orders/test",
            group: Group::OrderTest,
            query: vec![],
            body: Some(order_pairs(body)),
            auth: true,
            kind: CallKind::Retryable,
        };
        let o: WireOrder = self.call(call).await?;
        one_in_band("POST", "/orders/test", o.to_order())
    }

    /// `GET /order?uuid=…|identifier=…` (with fills).
    pub async fn get_order(&self, r: &OrderRef) -> Result<Order, UpbitError> {
        let o: WireOrder = self.get("/order", Group::Default, vec![r.pair()], true).await?;
        one_in_band("GET", "/order", o.to_order())
    }

    /// `DELETE /order?uuid=…|identifier=…`: a cancel request; returns the pre-cancel state.
    /// Retried on network failure: a second cancel is harmless (404 at worst).
    pub(crate) async fn cancel_order(&self, r: &OrderRef) -> Result<Order, UpbitError> {
        let o: WireOrder = self.delete("/order", Group::Default, vec![r.pair()]).await?;
        one_in_band("DELETE", "/order", o.to_order())
    }

    /// `GET /orders/open` with `states[]` (`wait`, `watch`), page and limit (≤100).
    ///
    /// Decoded item by item: an order that cannot be used (a malformed number, a missing
    /// field) is skipped and logged once; the others are used, so one odd order never
    /// stalls reconciliation or blinds the periodic poll. Skipping is safe here: an order
    /// hoga tracks that is missing from a listing is looked up on its own (never taken for
    /// gone), and a foreign one is merely not adopted. Unknown types and sides are not
    /// "cannot be used": they decode ([`crate::exchange::types::OrderType::Other`], side
    /// `None`).
    pub async fn open_orders(
        &self,
        market: Option<&MarketId>,
        states: &[OrderState],
        page: u32,
        limit: u32,
    ) -> Result<Vec<Order>, UpbitError> {
        Ok(self.open_orders_page(market, states, page, limit).await?.0)
    }

    /// [`RestClient::open_orders`], with the number of items the page held (skipped ones
    /// included): a pager must compare that with the limit, not the usable orders, or one
    /// skipped order on a full page would end the paging early.
    pub(crate) async fn open_orders_page(
        &self,
        market: Option<&MarketId>,
        states: &[OrderState],
        page: u32,
        limit: u32,
    ) -> Result<(Vec<Order>, usize), UpbitError> {
        let mut q = Vec::new();
        if let Some(m) = market {
            q.push(p("market", m.as_str()));
        }
        for s in states {
            q.push(p("states[]", state_name(*s)));
        }
        q.push(p("page", page.max(1).to_string()));
        q.push(p("limit", limit.clamp(1, 100).to_string()));
        let raw: Vec<Box<RawValue>> = self.get("/orders/open", Group::Default, q, true).await?;
        let n = raw.len();
        Ok((usable_items("/orders/open", raw, |o: WireOrder| Ok(o.to_order()), Order::check), n))
    }

    /// `GET /orders/closed` within a ≤7-day window (ISO 8601 or ms), limit ≤1000. Decoded
    /// item by item like [`RestClient::open_orders`] (history: a skipped order is logged).
    pub async fn closed_orders(
        &self,
        market: Option<&MarketId>,
        start_time: Option<&str>,
        end_time: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Order>, UpbitError> {
        let mut q = Vec::new();
        if let Some(m) = market {
            q.push(p("market", m.as_str()));
        }
        if let Some(s) = start_time {
            q.push(p("start_time", s));
        }
        if let Some(e) = end_time {
            q.push(p("end_time", e));
        }
        q.push(p("limit", limit.clamp(1, 1000).to_string()));
        let raw = self.get("/orders/closed", Group::Default, q, true).await?;
        Ok(usable_items("/orders/closed", raw, |o: WireOrder| Ok(o.to_order()), Order::check))
    }

    // ---------------------------------------------------------------- plumbing

    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        group: Group,
        query: Vec<(String, String)>,
        auth: bool,
    ) -> Result<T, UpbitError> {
        self.call(Call {
            method: Method::GET,
            path,
            group,
            query,
            body: None,
            auth,
            kind: CallKind::Retryable,
        })
        .await
    }

    /// One authenticated `POST` with a JSON body, never retried (a transfer, like an
    /// order, must not be sent twice: a lost answer is [`UpbitError::UnknownOutcome`]).
    pub(super) async fn post_once<T: DeserializeOwned>(
        &self,
        path: &str,
        group: Group,
        body: Vec<(String, String)>,
    ) -> Result<T, UpbitError> {
        self.call(Call {
            method: Method::POST,
            path,
            group,
            query: vec![],
            body: Some(body),
            auth: true,
            kind: CallKind::Create,
        })
        .await
    }

    async fn delete<T: DeserializeOwned>(
        &self,
        path: &str,
        group: Group,
        query: Vec<(String, String)>,
    ) -> Result<T, UpbitError> {
        self.call(Call {
            method: Method::DELETE,
            path,
            group,
            query,
            body: None,
            auth: true,
            kind: CallKind::Retryable,
        })
        .await
    }

    async fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, UpbitError> {
        // Built once per call; every attempt sends exactly these bytes (with a new token).
        let query = SignedQuery::new(&call.query);
        let body = call.body.as_deref().map(SignedBody::new);
        let attempts = match call.kind {
            CallKind::Create => 1,
            CallKind::Retryable => self.config.read_attempts.max(1),
        };
        let mut backoff = self.config.retry_backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.attempt::<T>(&call, &query, body.as_ref()).await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() && attempt < attempts => {
                    tracing::debug!(path = call.path, attempt, error = %e, "upbit read failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                }
                Err(UpbitError::Network { kind, path, detail, .. }) if call.kind == CallKind::Create => {
                    return Err(UpbitError::UnknownOutcome { kind, path, detail });
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
        query: &SignedQuery,
        body: Option<&SignedBody>,
    ) -> Result<T, UpbitError> {
        self.limits.acquire(call.group).await?;
        let mut url = format!("{}{}", self.config.base_url, call.path);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.wire);
        }
        let mut req = self.http.request(call.method.clone(), &url);
        if call.auth {
            let creds = self.credentials.as_ref().ok_or_else(|| UpbitError::Auth {
                kind: AuthKind::NoToken,
                status: 0,
                name: "no_authorization_token".into(),
                message: "no API key configured".into(),
                path: call.path.to_string(),
            })?;
            let hash_input = body.map_or(query.hash_input.as_str(), |b| b.hash_input.as_str());
            let token = creds
                .token_for(hash_input)
                .map_err(|e| UpbitError::Request { path: call.path.to_string(), detail: e.to_string() })?;
            let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|e| UpbitError::Request { path: call.path.to_string(), detail: e.to_string() })?;
            // Keeps the token out of reqwest's Debug output and HTTP/2 header tables.
            value.set_sensitive(true);
            req = req.header(AUTHORIZATION, value);
        }
        if let Some(b) = body {
            req = req.header(CONTENT_TYPE, "application/json; charset=utf-8").body(b.json.clone());
        }
        let method = call.method.as_str();
        let resp = req.send().await.map_err(|e| network(method, call.path, &e))?;
        let status = resp.status().as_u16();
        if let Some(rr) =
            resp.headers().get("Remaining-Req").and_then(|v| v.to_str().ok()).and_then(RemainingReq::parse)
        {
            self.limits.on_remaining(&rr, call.group);
        }
        let retry_after = resp.headers().get("Retry-After").and_then(|v| v.to_str().ok()).map(str::to_string);
        let text = read_body(resp, method, call.path).await?;
        match status {
            200..=299 => {
                self.limits.on_success(call.group);
                serde_json::from_str(&text).map_err(|e| UpbitError::Network {
                    kind: NetworkKind::BadBody,
                    method: method.to_string(),
                    path: call.path.to_string(),
                    detail: format!("{e} in {}", snippet(&text)),
                })
            }
            429 => {
                let retry_after = self.limits.on_429(call.group);
                Err(UpbitError::RateLimited { group: call.group.name().to_string(), retry_after })
            }
            418 => {
                let block =
                    self.limits.on_418(call.group, parse_block_duration(retry_after.as_deref(), &text));
                Err(UpbitError::Blocked { remaining: block })
            }
            _ => Err(UpbitError::from_response(status, &text, call.path, method)),
        }
    }
}

/// The largest REST response body read: 8 MiB. Upbit's largest answers (a 1000-order page
/// of `/orders/closed`, the whole market list) are well under 1 MiB; a body past the cap
/// is refused as [`NetworkKind::BadBody`] (for an order creation: an unknown outcome)
/// instead of growing memory without bound.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Reads the body, at most [`MAX_BODY_BYTES`] (checked against `Content-Length` first,
/// then while reading, since a chunked body has none). Invalid UTF-8 is replaced, as
/// `Response::text` would.
async fn read_body(mut resp: reqwest::Response, method: &str, path: &str) -> Result<String, UpbitError> {
    let too_large = |n: String| UpbitError::Network {
        kind: NetworkKind::BadBody,
        method: method.to_string(),
        path: path.to_string(),
        detail: format!("response body of {n} bytes exceeds the {MAX_BODY_BYTES}-byte limit"),
    };
    if let Some(len) = resp.content_length().filter(|n| *n > MAX_BODY_BYTES as u64) {
        return Err(too_large(len.to_string()));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| network(method, path, &e))? {
        if bytes.len().saturating_add(chunk.len()) > MAX_BODY_BYTES {
            return Err(too_large(format!("more than {}", bytes.len())));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

fn network(method: &str, path: &str, e: &reqwest::Error) -> UpbitError {
    let kind = if e.is_timeout() {
        NetworkKind::Timeout
    } else if e.is_connect() {
        NetworkKind::Connect
    } else if e.is_body() || e.is_decode() {
        NetworkKind::BadBody
    } else {
        NetworkKind::Other
    };
    UpbitError::Network { kind, method: method.to_string(), path: path.to_string(), detail: e.to_string() }
}

fn state_name(s: OrderState) -> &'static str {
    match s {
        OrderState::Wait => "wait",
        OrderState::Watch => "watch",
        OrderState::Trade => "trade",
        OrderState::Done => "done",
        OrderState::Cancel => "cancel",
        OrderState::Prevented => "prevented",
        // Never asked for: a state hoga does not know cannot be a filter.
        OrderState::Unknown => "wait",
    }
}

/// The order body as ordered pairs, in the struct's field order (absent fields omitted).
pub(crate) fn order_pairs(b: &NewOrderBody) -> Vec<(String, String)> {
    let mut v = vec![p("market", b.market.as_str()), p("side", b.side.as_str())];
    if let Some(x) = &b.volume {
        v.push(p("volume", x.as_str()));
    }
    if let Some(x) = &b.price {
        v.push(p("price", x.as_str()));
    }
    v.push(p("ord_type", b.ord_type.as_str()));
    for (k, x) in
        [("identifier", &b.identifier), ("time_in_force", &b.time_in_force), ("smp_type", &b.smp_type)]
    {
        if let Some(x) = x {
            v.push(p(k, x.as_str()));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_is_utc_iso_8601_to_the_second_and_exclusive() {
        // 2025-06-24T04:56:53Z, Upbit's own example.
        let at = 1_750_741_013_000;
        assert_eq!(to_param(at).as_deref(), Some("2025-06-24T04:56:53Z"));
        // A time within a second: the candle of that second starts before it.
        assert_eq!(to_param(at - 999).as_deref(), Some("2025-06-24T04:56:53Z"));
        assert_eq!(to_param(at + 1).as_deref(), Some("2025-06-24T04:56:54Z"));
        assert_eq!(to_param(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(to_param(i64::MAX), None);
    }

    #[test]
    fn the_older_page_query_is_what_upbit_documents() {
        let to = to_param(1_750_741_013_000).unwrap();
        let q = SignedQuery::new(&candles_query(&MarketId::new("KRW-BTC"), 200, Some(&to)));
        assert_eq!(q.wire, "market=KRW-BTC&to=2025-06-24T04%3A56%3A53Z&count=200");
        assert_eq!(q.hash_input, "market=KRW-BTC&to=2025-06-24T04:56:53Z&count=200");
        // Past Upbit's most, the count is its most; the latest page has no `to`.
        let q = SignedQuery::new(&candles_query(&MarketId::new("KRW-ETH"), 500, None));
        assert_eq!(q.wire, "market=KRW-ETH&count=200");
    }
}
