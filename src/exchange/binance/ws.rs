//! Binance spot market-data websocket: one combined-stream session over tokio-tungstenite
//! ([`BinanceSession`]) and the decoder of its frames ([`BinanceDecoder`]), Binance's
//! [`StreamSession`] and [`StreamDecoder`].
//!
//! * The session connects to `/stream` (combined streams: every payload is wrapped as
//!   `{"stream":"<name>","data":<payload>}`, which is where a partial book's symbol is)
//!   and subscribes live with `SUBSCRIBE` / `UNSUBSCRIBE` messages. The feed hands it the
//!   WHOLE wanted set each time; the session keeps the current set and sends only the
//!   difference, unsubscribing first so the connection never holds more than Binance's
//!   1024 streams.
//! * Binance counts every message a client sends (pings, pongs, JSON requests) against
//!   5 per second per connection and drops a connection over it; the session sends at
//!   most [`MESSAGES_PER_WINDOW`] per [`WINDOW`], leaving room for the pong tungstenite
//!   sends on its own to the server's ping (every 20 s; no pong within a minute closes).
//! * Liveness as for Upbit: only data counts. A quiet connection (an illiquid market's
//!   trades only) asks `LIST_SUBSCRIPTIONS` at the keep-alive tick, whose answer is data
//!   from the server's application; a half-open socket still goes idle.
//! * Binance closes every connection at 24 hours and announces restarts with a
//!   `serverShutdown` event: both end the session and the feed reconnects at once (the
//!   session had delivered, so its backoff starts from the shortest delay).
//! * Public data only: Binance has no private stream here, and no key is ever sent to it.
//!
//! Stream names (all lowercase): ticker `<sym>@ticker` (rolling 24 h), trade
//! `<sym>@trade`, order book `<sym>@depth20@100ms` (the partial book: 5, 10 or 20 levels
//! exist, so a 30-level ladder shows 20 on Binance), candles `<sym>@kline_<interval>`
//! (no 10-minute interval on Binance: those charts come from REST).

use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rust_decimal::Decimal;
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Error as WsLibError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

use super::Symbols;
use super::rest::BinanceRest;
use crate::exchange::api::{StreamEvent, StreamKind};
use crate::exchange::credentials::Credentials;
pub use crate::exchange::stream::{DataFrame, DecodeError, Decoded, WsConfig, WsError};
use crate::exchange::stream::{StreamDecoder, StreamSession, StreamVenue};
use crate::exchange::types::{
    BookLevel, Candle, Change, MarketId, OrderBook, Side, StreamType, Ticker, Timeframe, Trade,
};
use crate::exchange::upbit::wire::decimal_from_json;

/// Binance's public market-data stream (combined streams).
pub const PUBLIC_URL: &str = "wss://stream.binance.com:9443/stream";
/// Binance has no private stream here: connecting to this "URL" fails with a clear error.
pub const PRIVATE_URL: &str = "binance:no-private-stream";

/// Most streams one connection may hold (Binance: "a single connection can listen to a
/// maximum of 1024 streams"). The feed asks far fewer (one ticker per USDT market, a few
/// hundred, plus the selected market's book, trades and candles); a set beyond this is
/// refused by [`BinanceSession`]'s `subscribe`, and would have to be split over
/// connections by the feed.
pub const MAX_STREAMS: usize = 1024;

/// Stream names per `SUBSCRIBE` / `UNSUBSCRIBE` message (our choice, not a documented
/// limit: a few KiB per request, and 1024 streams still fit in six messages).
pub const PARAMS_PER_MESSAGE: usize = 200;

/// Messages the session sends per [`WINDOW`]: Binance allows 5 per second (pings, pongs
/// and JSON requests alike); one is left for the pong tungstenite answers the server's
/// ping with, which the session does not schedule.
pub const MESSAGES_PER_WINDOW: usize = 4;

/// The pacing window: a second, with a margin for the server's clock and our send delay.
pub const WINDOW: Duration = Duration::from_millis(1100);

/// Partial-book depth asked for: the deepest Binance streams (5, 10 or 20). The UI's 15
/// levels are covered; a 30-level ladder shows 20 rows on Binance.
pub const BOOK_DEPTH: usize = 20;

/// Frames at most this long are looked at for `serverShutdown` (the event is a few dozen
/// bytes; market data frames are longer, so they are not searched).
const SHUTDOWN_FRAME_MAX: usize = 256;

/// Binance's kline interval of a timeframe (the REST client's); `None` for 10 minutes
/// (Binance has no such interval: those candles come from REST, built from 5-minute ones).
pub fn interval_of(tf: Timeframe) -> Option<&'static str> {
    super::wire::interval(tf)
}

/// The timeframe of a Binance kline interval; `None` for intervals hoga has no timeframe
/// for (`2h`, `6h`, `8h`, `12h`, `3d`).
pub fn timeframe_of(interval: &str) -> Option<Timeframe> {
    Timeframe::ALL.into_iter().find(|tf| interval_of(*tf) == Some(interval))
}

/// The stream-name suffix (after `<symbol>@`) of a kind; `None` for what Binance does not
/// stream here (grouped books, 10-minute candles, private kinds).
pub fn stream_suffix(kind: StreamKind) -> Option<String> {
    Some(match kind {
        StreamKind::Ticker => "ticker".into(),
        StreamKind::Trade => "trade".into(),
        StreamKind::OrderBook => format!("depth{BOOK_DEPTH}@100ms"),
        StreamKind::Candle(tf) => format!("kline_{}", interval_of(tf)?),
        StreamKind::GroupedBook(_) | StreamKind::MyOrder | StreamKind::MyAsset | StreamKind::Announcement => {
            return None;
        }
    })
}

/// The stream kind of a stream name, with or without its `<symbol>@` (`btcusdt@trade` or
/// `trade`; `depth20@100ms`, `depth5` …; `kline_1m`).
pub fn kind_of(name: &str) -> Option<StreamKind> {
    let suffix = match name.split_once('@') {
        // `depth20@100ms` is a name without its symbol; `btcusdt@…` (or `depthusdt@…`) one with.
        Some((head, tail))
            if !head.strip_prefix("depth").is_some_and(|n| n.bytes().all(|c| c.is_ascii_digit())) =>
        {
            tail
        }
        _ => name,
    };
    match suffix {
        "ticker" => Some(StreamKind::Ticker),
        "trade" => Some(StreamKind::Trade),
        s if s.starts_with("kline_") => timeframe_of(&s["kline_".len()..]).map(StreamKind::Candle),
        s => {
            let levels = s.strip_prefix("depth")?;
            let levels =
                levels.strip_suffix("@100ms").or_else(|| levels.strip_suffix("@1000ms")).unwrap_or(levels);
            matches!(levels, "5" | "10" | "20").then_some(StreamKind::OrderBook)
        }
    }
}

/// Every stream name of a subscription set (lowercase, sorted); kinds Binance does not
/// stream are left out (their subscribers get REST data only).
pub fn stream_names(streams: &[(StreamKind, Vec<MarketId>)]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (kind, markets) in streams {
        let Some(suffix) = stream_suffix(*kind) else {
            tracing::debug!("{} is not streamed by Binance; left out of the request", kind.label());
            continue;
        };
        for m in markets {
            out.insert(format!("{}@{suffix}", super::symbol_of(m).to_ascii_lowercase()));
        }
    }
    out
}

/// The messages that take a connection from `current` to `wanted`: `UNSUBSCRIBE` first (so
/// the connection never holds more than the wanted number of streams), then `SUBSCRIBE`,
/// at most [`PARAMS_PER_MESSAGE`] names each, with ids from `next_id` on.
pub fn diff_requests(
    current: &BTreeSet<String>,
    wanted: &BTreeSet<String>,
    next_id: &mut u64,
) -> Vec<String> {
    let gone: Vec<&str> = current.difference(wanted).map(String::as_str).collect();
    let new: Vec<&str> = wanted.difference(current).map(String::as_str).collect();
    let mut out = Vec::new();
    for (method, names) in [("UNSUBSCRIBE", gone), ("SUBSCRIBE", new)] {
        for chunk in names.chunks(PARAMS_PER_MESSAGE) {
            let id = *next_id;
            *next_id += 1;
            out.push(serde_json::json!({ "method": method, "params": chunk, "id": id }).to_string());
        }
    }
    out
}

/// Keeps the session's own messages under Binance's per-connection rate: at most
/// [`MESSAGES_PER_WINDOW`] in any [`WINDOW`].
#[derive(Debug, Default)]
pub struct Pacer {
    sent: VecDeque<Instant>,
    /// How many times a message had to wait for the window (for tests and metrics).
    pub waits: u64,
}

impl Pacer {
    /// When a message may go at `now`: `None` = at once, else the instant the oldest
    /// message of the window leaves it.
    pub fn not_before(&mut self, now: Instant) -> Option<Instant> {
        while self.sent.front().is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW) {
            self.sent.pop_front();
        }
        if self.sent.len() < MESSAGES_PER_WINDOW { None } else { self.sent.front().map(|t| *t + WINDOW) }
    }

    /// Notes a message sent at `now`.
    pub fn record(&mut self, now: Instant) {
        self.sent.push_back(now);
    }

    /// Records a message at `now` if the window has room; false (nothing recorded) if not.
    pub fn try_record(&mut self, now: Instant) -> bool {
        let free = self.not_before(now).is_none();
        if free {
            self.record(now);
        }
        free
    }

    /// Waits until a message may go, and records it.
    pub async fn acquire(&mut self) {
        loop {
            let now = Instant::now();
            match self.not_before(now) {
                None => return self.record(now),
                Some(at) => {
                    self.waits += 1;
                    tokio::time::sleep_until(at.into()).await;
                }
            }
        }
    }
}

/// One open connection to Binance's combined-stream endpoint.
pub struct BinanceSession {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    config: WsConfig,
    last_data: Instant,
    next_ping: Instant,
    /// One timer for the idle watchdog and the keep-alive, armed for the earlier of the
    /// two and re-armed when it fires (not moved on every frame).
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
    url: String,
    /// The streams subscribed on this connection.
    current: BTreeSet<String>,
    /// The id of the next request (Binance echoes it in its answer).
    next_id: u64,
    pacer: Pacer,
}

/// tungstenite's read buffer (see the Upbit session: a smaller buffer than the default
/// spares a large memset per read).
const READ_BUFFER: usize = 16 << 10;

impl std::fmt::Debug for BinanceSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceSession")
            .field("url", &self.url)
            .field("streams", &self.current.len())
            .finish()
    }
}

fn closed(frame: Option<tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> WsError {
    WsError::Closed {
        detail: frame.map_or_else(|| "close without code".into(), |f| format!("{} {}", f.code, f.reason)),
    }
}

/// True for a short frame announcing `serverShutdown` (raw, wrapped or as a connection
/// `event`). Market data as Binance writes it (`{"e":"trade",…`, wrapped or not) is told
/// apart by its head, without searching the frame.
fn is_server_shutdown(bytes: &[u8]) -> bool {
    const NEEDLE: &[u8] = b"\"serverShutdown\"";
    const EVENT: &[u8] = b"{\"e\":\"";
    if bytes.len() > SHUTDOWN_FRAME_MAX {
        return false;
    }
    let data = bytes
        .strip_prefix(b"{\"stream\":\"")
        .and_then(|rest| rest.iter().position(|&c| c == b'"').map(|end| &rest[end..]))
        .and_then(|rest| rest.strip_prefix(b"\",\"data\":"))
        .unwrap_or(bytes);
    if let Some(ty) = data.strip_prefix(EVENT) {
        return ty.starts_with(&NEEDLE[1..]);
    }
    // Replies, the `{"event":…}` form, other spellings: short and rare, searched.
    bytes.windows(NEEDLE.len()).any(|w| w == NEEDLE)
}

impl BinanceSession {
    /// Connects to `url` (Binance's `/stream`, or the simulator's). Credentials are
    /// refused, never sent: Binance is public market data only here.
    pub async fn connect(
        url: &str,
        credentials: Option<&Credentials>,
        config: &WsConfig,
    ) -> Result<Self, WsError> {
        if credentials.is_some() || url == PRIVATE_URL {
            return Err(WsError::Connect {
                url: url.to_string(),
                detail: "Binance is public market data only here: there is no private stream, and no key \
                         is ever sent to Binance"
                    .into(),
            });
        }
        let request = url
            .into_client_request()
            .map_err(|e| WsError::Connect { url: url.to_string(), detail: e.to_string() })?;
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(config.max_message_size))
            .max_frame_size(Some(config.max_message_size))
            .read_buffer_size(READ_BUFFER);
        let connect = connect_async_with_config(request, Some(ws_config), true);
        let (stream, _resp) = match tokio::time::timeout(config.connect_timeout, connect).await {
            Err(_) => {
                return Err(WsError::ConnectTimeout { url: url.to_string(), after: config.connect_timeout });
            }
            Ok(Err(e)) => return Err(WsError::Connect { url: url.to_string(), detail: e.to_string() }),
            Ok(Ok(x)) => x,
        };
        let now = Instant::now();
        Ok(BinanceSession {
            stream,
            last_data: now,
            next_ping: now + config.ping_interval,
            timer: Box::pin(tokio::time::sleep_until(
                (now + config.ping_interval.min(config.idle_timeout)).into(),
            )),
            config: config.clone(),
            url: url.to_string(),
            current: BTreeSet::new(),
            next_id: 1,
            pacer: Pacer::default(),
        })
    }

    /// The streams this connection is subscribed to.
    pub fn streams(&self) -> &BTreeSet<String> {
        &self.current
    }

    /// How many times a request waited for Binance's message rate.
    pub fn pacing_waits(&self) -> u64 {
        self.pacer.waits
    }

    /// Subscribes to exactly `streams`: sends the difference from the current set, paced.
    /// A set over [`MAX_STREAMS`] is refused before anything is sent.
    pub async fn subscribe(&mut self, streams: &[(StreamKind, Vec<MarketId>)]) -> Result<(), WsError> {
        let wanted = stream_names(streams);
        if wanted.len() > MAX_STREAMS {
            return Err(WsError::Io(format!(
                "Binance allows at most {MAX_STREAMS} streams per connection; {} were asked",
                wanted.len()
            )));
        }
        for request in diff_requests(&self.current, &wanted, &mut self.next_id) {
            self.pacer.acquire().await;
            self.stream.send(Message::text(request)).await.map_err(|e| WsError::Io(e.to_string()))?;
        }
        self.current = wanted;
        Ok(())
    }

    /// Reads the next data frame, answering pings (tungstenite queues the pong and sends it
    /// with the next read), sending keep-alives and enforcing the idle timeout.
    /// Cancel-safe between frames.
    pub async fn next_frame(&mut self) -> Result<DataFrame, WsError> {
        loop {
            tokio::select! {
                biased;
                msg = self.stream.next() => match self.classify(msg) {
                    Some(r) => return r,
                    None => continue,
                },
                _ = self.timer.as_mut() => {
                    let now = Instant::now();
                    if now >= self.last_data + self.config.idle_timeout {
                        return Err(WsError::Idle { after: self.config.idle_timeout });
                    }
                    if now >= self.next_ping {
                        self.next_ping = now + self.config.ping_interval;
                        self.keep_alive(now).await?;
                    }
                    let next = (self.last_data + self.config.idle_timeout).min(self.next_ping);
                    self.timer.as_mut().reset(next.into());
                }
            }
        }
    }

    /// A ping frame, and on a quiet connection a `LIST_SUBSCRIPTIONS` whose answer is data
    /// (pongs never count as life). Each only if the message rate has room: a skipped one
    /// is tried again at the next tick, long before the idle timeout.
    async fn keep_alive(&mut self, now: Instant) -> Result<(), WsError> {
        if self.pacer.try_record(now) {
            self.stream.send(Message::Ping(Bytes::new())).await.map_err(|e| WsError::Io(e.to_string()))?;
        }
        let quiet = now.saturating_duration_since(self.last_data) >= self.config.ping_interval;
        if quiet && self.pacer.try_record(now) {
            let id = self.next_id;
            self.next_id += 1;
            let request = serde_json::json!({ "method": "LIST_SUBSCRIPTIONS", "id": id }).to_string();
            self.stream.send(Message::text(request)).await.map_err(|e| WsError::Io(e.to_string()))?;
        }
        Ok(())
    }

    /// The next data frame if one is already readable, without waiting.
    pub async fn try_next_frame(&mut self) -> Option<Result<DataFrame, WsError>> {
        loop {
            let polled =
                std::future::poll_fn(|cx| std::task::Poll::Ready(self.stream.poll_next_unpin(cx))).await;
            let msg = match polled {
                std::task::Poll::Pending => return None,
                std::task::Poll::Ready(m) => m,
            };
            if let Some(r) = self.classify(msg) {
                return Some(r);
            }
        }
    }

    /// A data frame, the end of the session (`Some(Err)`), or a control frame to skip.
    /// Data frames refresh the idle watchdog; `serverShutdown` ends the session so the
    /// feed reconnects before the server goes.
    fn classify(&mut self, msg: Option<Result<Message, WsLibError>>) -> Option<Result<DataFrame, WsError>> {
        let received = Instant::now();
        let bytes = match msg {
            Some(Ok(Message::Binary(bytes))) => bytes,
            Some(Ok(Message::Text(text))) => Bytes::from(text),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => return None,
            Some(Ok(Message::Close(frame))) => return Some(Err(closed(frame))),
            Some(Err(WsLibError::Capacity(CapacityError::MessageTooLong { .. }))) => {
                return Some(Err(WsError::Oversize { limit: self.config.max_message_size }));
            }
            Some(Err(WsLibError::Utf8(detail))) => return Some(Err(WsError::InvalidText { detail })),
            Some(Err(e)) => return Some(Err(WsError::Io(e.to_string()))),
            None => return Some(Err(WsError::Closed { detail: "eof".into() })),
        };
        if is_server_shutdown(&bytes) {
            return Some(Err(WsError::Closed {
                detail: "serverShutdown: Binance is restarting this server; reconnecting".into(),
            }));
        }
        self.last_data = received;
        Some(Ok(DataFrame { bytes, received }))
    }

    /// Closes politely (best effort).
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}

/// The public URL under a base (`ws://127.0.0.1:PORT` → `ws://127.0.0.1:PORT/stream`); a
/// base given as the stream URL itself (or the raw `/ws`) is not extended twice. The
/// private "URL" is [`PRIVATE_URL`], which never connects.
pub fn urls_for_base(base: &str) -> (String, String) {
    let base = base.trim_end_matches('/');
    let base = base.strip_suffix("/stream").or_else(|| base.strip_suffix("/ws")).unwrap_or(base);
    (format!("{base}/stream"), PRIVATE_URL.to_string())
}

impl StreamSession for BinanceSession {
    const PUBLIC_URL: &'static str = PUBLIC_URL;
    const PRIVATE_URL: &'static str = PRIVATE_URL;

    type Decoder = BinanceDecoder;

    fn urls_for_base(base: &str) -> (String, String) {
        urls_for_base(base)
    }

    fn can_stream(kind: StreamKind) -> bool {
        stream_suffix(kind).is_some()
    }

    fn kind_of(name: &str) -> Option<StreamKind> {
        kind_of(name)
    }

    fn connect(
        url: &str,
        credentials: Option<&Credentials>,
        config: &WsConfig,
    ) -> impl Future<Output = Result<Self, WsError>> + Send {
        BinanceSession::connect(url, credentials, config)
    }

    fn subscribe(
        &mut self,
        streams: &[(StreamKind, Vec<MarketId>)],
    ) -> impl Future<Output = Result<(), WsError>> + Send {
        BinanceSession::subscribe(self, streams)
    }

    fn next_frame(&mut self) -> impl Future<Output = Result<DataFrame, WsError>> + Send {
        BinanceSession::next_frame(self)
    }

    fn try_next_frame(&mut self) -> impl Future<Output = Option<Result<DataFrame, WsError>>> + Send {
        BinanceSession::try_next_frame(self)
    }

    fn close(self) -> impl Future<Output = ()> + Send {
        BinanceSession::close(self)
    }
}

impl StreamVenue for BinanceRest {
    type Session = BinanceSession;
}

// ---------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------

fn bad(msg: &[u8], e: impl std::fmt::Display) -> DecodeError {
    let n = msg.len().min(160);
    DecodeError { detail: e.to_string(), sample: String::from_utf8_lossy(&msg[..n]).into_owned() }
}

/// A number from its JSON text: Binance sends decimals as strings (`"0.0024"`), read
/// exactly (never through f64); plain JSON numbers are read the same way.
fn number(raw: &str) -> Result<Decimal, String> {
    let plain = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).filter(|inner| {
        !inner.is_empty() && inner.bytes().all(|c| c.is_ascii_digit() || c == b'.' || c == b'-')
    });
    decimal_from_json(plain.unwrap_or(raw)).map_err(|e| e.to_string())
}

/// `#[serde(deserialize_with)]`: a required number from its borrowed JSON text.
fn dec<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    let raw = <&'de RawValue>::deserialize(d)?;
    number(raw.get()).map_err(D::Error::custom)
}

/// A number as an array element (a book level's price or size).
struct Num(Decimal);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        dec(d).map(Num)
    }
}

/// `trade` payload.
#[derive(Debug, Deserialize)]
struct TradeView<'a> {
    #[serde(rename = "E")]
    event_time: i64,
    #[serde(rename = "s", borrow)]
    symbol: &'a str,
    #[serde(rename = "t")]
    id: i64,
    #[serde(rename = "p", deserialize_with = "dec")]
    price: Decimal,
    #[serde(rename = "q", deserialize_with = "dec")]
    qty: Decimal,
    #[serde(rename = "T")]
    trade_time: i64,
    #[serde(rename = "m")]
    buyer_is_maker: bool,
}

/// `24hrTicker` payload (rolling 24 h window, not the UTC day).
#[derive(Debug, Deserialize)]
struct TickerView<'a> {
    #[serde(rename = "E")]
    event_time: i64,
    #[serde(rename = "s", borrow)]
    symbol: &'a str,
    #[serde(rename = "p", deserialize_with = "dec")]
    change: Decimal,
    #[serde(rename = "P", deserialize_with = "dec")]
    change_percent: Decimal,
    #[serde(rename = "c", deserialize_with = "dec")]
    last: Decimal,
    #[serde(rename = "Q", deserialize_with = "dec")]
    last_qty: Decimal,
    #[serde(rename = "o", deserialize_with = "dec")]
    open: Decimal,
    #[serde(rename = "h", deserialize_with = "dec")]
    high: Decimal,
    #[serde(rename = "l", deserialize_with = "dec")]
    low: Decimal,
    #[serde(rename = "v", deserialize_with = "dec")]
    volume: Decimal,
    #[serde(rename = "q", deserialize_with = "dec")]
    quote_volume: Decimal,
}

/// `kline` payload.
#[derive(Debug, Deserialize)]
struct KlineView<'a> {
    #[serde(rename = "E")]
    event_time: i64,
    #[serde(rename = "s", borrow)]
    symbol: &'a str,
    #[serde(rename = "k", borrow)]
    k: KlineBody<'a>,
}

/// The candle of a `kline` payload. Its `x` (closed) is not read: the neutral candle is
/// "last update of a bucket wins", and the next bucket's start closes this one.
#[derive(Debug, Deserialize)]
struct KlineBody<'a> {
    #[serde(rename = "t")]
    start: i64,
    #[serde(rename = "i", borrow)]
    interval: &'a str,
    #[serde(rename = "o", deserialize_with = "dec")]
    open: Decimal,
    #[serde(rename = "c", deserialize_with = "dec")]
    close: Decimal,
    #[serde(rename = "h", deserialize_with = "dec")]
    high: Decimal,
    #[serde(rename = "l", deserialize_with = "dec")]
    low: Decimal,
    #[serde(rename = "v", deserialize_with = "dec")]
    volume: Decimal,
    #[serde(rename = "q", deserialize_with = "dec")]
    quote_volume: Decimal,
}

/// Most levels a partial book may carry (Binance sends at most 20; REST depth at most
/// 5000): a peer sending more is sending garbage.
const MAX_LEVELS: usize = 5000;

/// A partial book payload (`{"lastUpdateId":…,"bids":[[p,q]…],"asks":[[p,q]…]}`), read
/// straight into the neutral levels (one allocation, both sides side by side).
#[derive(Debug, Default)]
struct DepthView {
    levels: Vec<BookLevel>,
    total_bid: Decimal,
    total_ask: Decimal,
}

/// One side of a partial book, written into `levels` in place.
struct SideSeed<'l> {
    levels: &'l mut Vec<BookLevel>,
    ask: bool,
}

impl<'de> DeserializeSeed<'de> for SideSeed<'_> {
    type Value = Decimal;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Decimal, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for SideSeed<'_> {
    type Value = Decimal;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of [price, quantity] pairs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Decimal, A::Error> {
        let mut total = Decimal::ZERO;
        let mut i = 0;
        while let Some((Num(price), Num(qty))) = seq.next_element::<(Num, Num)>()? {
            if i >= MAX_LEVELS {
                return Err(A::Error::custom(format!("more than {MAX_LEVELS} book levels")));
            }
            if i == self.levels.len() {
                self.levels.push(BookLevel::default());
            }
            let l = &mut self.levels[i];
            if self.ask {
                (l.ask_price, l.ask_size) = (price, qty);
            } else {
                (l.bid_price, l.bid_size) = (price, qty);
            }
            total = total.checked_add(qty).ok_or_else(|| A::Error::custom("book size total overflows"))?;
            i += 1;
        }
        Ok(total)
    }
}

impl<'de> Deserialize<'de> for DepthView {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DepthView;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a partial book object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DepthView, A::Error> {
                let mut out = DepthView { levels: Vec::with_capacity(BOOK_DEPTH), ..DepthView::default() };
                let (mut bids, mut asks) = (false, false);
                while let Some(key) = map.next_key::<&'de str>()? {
                    match key {
                        "bids" if !bids => {
                            out.total_bid =
                                map.next_value_seed(SideSeed { levels: &mut out.levels, ask: false })?;
                            bids = true;
                        }
                        "asks" if !asks => {
                            out.total_ask =
                                map.next_value_seed(SideSeed { levels: &mut out.levels, ask: true })?;
                            asks = true;
                        }
                        "bids" | "asks" => return Err(A::Error::custom(format!("duplicate field `{key}`"))),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                match (bids, asks) {
                    (false, _) => Err(A::Error::missing_field("bids")),
                    (_, false) => Err(A::Error::missing_field("asks")),
                    _ => Ok(out),
                }
            }
        }
        d.deserialize_map(V)
    }
}

/// The wrapper of a combined stream, for the rare frame the fast split does not read.
#[derive(Debug, Deserialize)]
struct Wrapper<'a> {
    #[serde(borrow)]
    stream: Option<&'a str>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

/// A combined-stream frame split into its stream name and payload without parsing the
/// payload twice: `{"stream":"<name>","data":<payload>}` as Binance writes it. `None`
/// for anything else (a raw payload, a reply, another spelling of the wrapper).
fn split_combined(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix(r#"{"stream":""#)?;
    let (name, rest) = rest.split_at(rest.find('"')?);
    if name.contains('\\') {
        return None;
    }
    let data = rest.strip_prefix(r#"","data":"#)?.trim_end().strip_suffix('}')?;
    Some((name, data))
}

/// The event type at the head of a payload (`{"e":"trade",…`), as Binance writes it.
fn peek_event(data: &str) -> Option<&str> {
    let rest = data.strip_prefix(r#"{"e":""#)?;
    rest.find('"').map(|end| &rest[..end]).filter(|ty| !ty.contains('\\'))
}

/// Most distinct symbols a [`BinanceDecoder`] remembers; past that (only a peer sending
/// garbage symbols gets there) it forgets them all and starts again.
const MARKET_CACHE_CAP: usize = 4096;

/// Decodes Binance's market-data frames (combined or raw) into neutral events. Remembers
/// the market id of each symbol, so the symbol table is read once per market, not once
/// per message. One per session, no lock.
#[derive(Debug)]
pub struct BinanceDecoder {
    symbols: Symbols,
    markets: rustc_hash::FxHashMap<Box<str>, MarketId>,
}

impl Default for BinanceDecoder {
    /// A decoder reading the process-wide symbol table the REST client fills.
    fn default() -> Self {
        BinanceDecoder::with_symbols(Symbols::global().clone())
    }
}

/// The wall clock (ms), for a partial book: Binance's carries no time of its own.
fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A 24 h change percent as a ratio (`"250.00"` → 2.5), exactly: the decimal point moves.
fn ratio_of_percent(p: Decimal) -> Option<Decimal> {
    let mut r = p;
    match r.set_scale(p.scale() + 2) {
        Ok(()) => Some(r),
        Err(_) => p.checked_div(Decimal::ONE_HUNDRED),
    }
}

impl BinanceDecoder {
    /// A decoder reading `symbols` (tests give their own table).
    pub fn with_symbols(symbols: Symbols) -> Self {
        BinanceDecoder { symbols, markets: rustc_hash::FxHashMap::default() }
    }

    /// The market of a symbol (any case), cached; `None` for a symbol that is not a listed
    /// market (nor splittable at the listed quote).
    fn market(&mut self, symbol: &str) -> Option<MarketId> {
        if let Some(m) = self.markets.get(symbol) {
            return Some(m.clone());
        }
        let m = self.symbols.market(symbol)?;
        if self.markets.len() >= MARKET_CACHE_CAP {
            self.markets.clear();
        }
        self.markets.insert(symbol.into(), m.clone());
        Some(m)
    }

    fn market_or_err(&mut self, msg: &[u8], symbol: &str) -> Result<MarketId, DecodeError> {
        self.market(symbol).ok_or_else(|| bad(msg, format!("unknown symbol {symbol:?}")))
    }

    /// Decodes one frame: a combined-stream wrapper or a raw payload, a subscription
    /// reply or an error.
    pub fn decode(&mut self, msg: &[u8]) -> Result<Decoded, DecodeError> {
        // Validate UTF-8 once for the whole frame; the views then borrow from it.
        let text = std::str::from_utf8(msg).map_err(|e| bad(msg, e))?;
        if let Some((stream, data)) = split_combined(text) {
            return self.decode_payload(msg, Some(stream), data);
        }
        if text.contains(r#""stream""#)
            && let Ok(Wrapper { stream: Some(stream), data: Some(data) }) =
                serde_json::from_str::<Wrapper<'_>>(text)
        {
            return self.decode_payload(msg, Some(stream), data.get());
        }
        self.decode_payload(msg, None, text)
    }

    fn decode_payload(
        &mut self,
        msg: &[u8],
        stream: Option<&str>,
        data: &str,
    ) -> Result<Decoded, DecodeError> {
        let data = data.trim_start();
        if let Some(ty) = peek_event(data) {
            return self.decode_event(msg, ty, data);
        }
        if data.starts_with(r#"{"lastUpdateId""#) {
            return self.decode_depth(msg, stream, data);
        }
        self.decode_other(msg, stream, data)
    }

    /// A payload of event type `ty` (its `e`).
    fn decode_event(&mut self, msg: &[u8], ty: &str, data: &str) -> Result<Decoded, DecodeError> {
        let ev = match ty {
            "trade" => {
                let t: TradeView<'_> = serde_json::from_str(data).map_err(|e| bad(msg, e))?;
                let trade = Trade {
                    market: self.market_or_err(msg, t.symbol)?,
                    price: t.price,
                    volume: t.qty,
                    // The buyer made the resting order: the taker sold.
                    side: Some(if t.buyer_is_maker { Side::Ask } else { Side::Bid }),
                    trade_timestamp: t.trade_time,
                    timestamp: t.event_time,
                    sequential_id: t.id,
                    stream_type: StreamType::Realtime,
                };
                trade.check().map_err(|e| bad(msg, e))?;
                StreamEvent::Trade(trade)
            }
            "24hrTicker" => {
                let t: TickerView<'_> = serde_json::from_str(data).map_err(|e| bad(msg, e))?;
                let rate = ratio_of_percent(t.change_percent)
                    .ok_or_else(|| bad(msg, format!("change percent {} out of range", t.change_percent)))?;
                let ticker = Ticker {
                    market: Some(self.market_or_err(msg, t.symbol)?),
                    trade_price: t.last,
                    // Rolling 24 h: the window's open stands for both the open and the
                    // previous close (the change and its rate are against it).
                    opening_price: t.open,
                    high_price: t.high,
                    low_price: t.low,
                    prev_closing_price: t.open,
                    change: if t.change.is_zero() {
                        Change::Even
                    } else if t.change.is_sign_negative() {
                        Change::Fall
                    } else {
                        Change::Rise
                    },
                    signed_change_price: t.change,
                    signed_change_rate: rate,
                    trade_volume: t.last_qty,
                    acc_trade_price: t.quote_volume,
                    acc_trade_price_24h: t.quote_volume,
                    acc_trade_volume_24h: t.volume,
                    // Not in the stream: not known.
                    highest_52_week_price: Decimal::ZERO,
                    lowest_52_week_price: Decimal::ZERO,
                    // The ticker carries no last-trade time; the event time is when the
                    // window was computed.
                    trade_timestamp: t.event_time,
                    timestamp: t.event_time,
                    stream_type: StreamType::Realtime,
                }
                .context_in_band();
                ticker.check_price_and_times().map_err(|e| bad(msg, e))?;
                StreamEvent::Ticker(ticker)
            }
            "kline" => {
                let k: KlineView<'_> = serde_json::from_str(data).map_err(|e| bad(msg, e))?;
                let Some(timeframe) = timeframe_of(k.k.interval) else {
                    return Ok(Decoded::Unknown(format!("kline_{}", k.k.interval)));
                };
                let candle = Candle {
                    market: self.market_or_err(msg, k.symbol)?,
                    timeframe,
                    start: k.k.start,
                    open: k.k.open,
                    high: k.k.high,
                    low: k.k.low,
                    close: k.k.close,
                    volume: k.k.volume,
                    value: k.k.quote_volume,
                    timestamp: k.event_time,
                };
                candle.check().map_err(|e| bad(msg, e))?;
                StreamEvent::Candle(candle)
            }
            // The session ends on it before the feed sees it; a decoder given one alone
            // (a test, a capture) reads it as liveness.
            "serverShutdown" => return Ok(Decoded::Status),
            other => return Ok(Decoded::Unknown(other.to_string())),
        };
        Ok(Decoded::Event(ev))
    }

    /// A partial book: its symbol is only in the stream name.
    fn decode_depth(&mut self, msg: &[u8], stream: Option<&str>, data: &str) -> Result<Decoded, DecodeError> {
        let Some((symbol, _)) = stream.and_then(|s| s.split_once('@')) else {
            return Err(bad(
                msg,
                "partial book without a stream name (its symbol): use the combined /stream endpoint",
            ));
        };
        let market = self.market_or_err(msg, symbol)?;
        let d: DepthView = serde_json::from_str(data).map_err(|e| bad(msg, e))?;
        let book = OrderBook {
            market: Some(market),
            levels: d.levels,
            total_ask_size: d.total_ask,
            total_bid_size: d.total_bid,
            level: Decimal::ZERO,
            timestamp: now_ms(),
            stream_type: StreamType::Realtime,
        };
        book.check().map_err(|e| bad(msg, e))?;
        Ok(Decoded::Event(StreamEvent::OrderBook(book)))
    }

    /// Replies, errors, and payloads whose keys are not in Binance's usual order.
    fn decode_other(&mut self, msg: &[u8], stream: Option<&str>, data: &str) -> Result<Decoded, DecodeError> {
        let v: serde_json::Value = serde_json::from_str(data).map_err(|e| bad(msg, e))?;
        let Some(obj) = v.as_object() else {
            // `!ticker@arr` and the like: not asked for by hoga.
            return Ok(Decoded::Unknown(stream.map_or_else(|| "array".to_string(), str::to_string)));
        };
        if let Some(serde_json::Value::String(ty)) = obj.get("e") {
            return self.decode_event(msg, ty, data);
        }
        if obj.contains_key("lastUpdateId") {
            return self.decode_depth(msg, stream, data);
        }
        if let Some(event) = obj.get("event") {
            return Ok(match event.get("e").and_then(|e| e.as_str()) {
                Some("serverShutdown") => Decoded::Status,
                Some(other) => Decoded::Unknown(other.to_string()),
                None => Decoded::Unknown("event".into()),
            });
        }
        let error = match obj.get("error") {
            Some(e @ serde_json::Value::Object(_)) => Some(e),
            _ if obj.contains_key("code") && obj.contains_key("msg") => Some(&v),
            _ => None,
        };
        if let Some(e) = error {
            let name = match e.get("code") {
                Some(serde_json::Value::Number(n)) => n.to_string(),
                Some(serde_json::Value::String(s)) => s.clone(),
                _ => "error".to_string(),
            };
            let message = e.get("msg").and_then(|m| m.as_str()).unwrap_or_default().to_string();
            return Ok(Decoded::Error { name, message, refuses_auth: false });
        }
        if obj.contains_key("result") {
            return Ok(if obj.get("result").is_some_and(serde_json::Value::is_array) {
                Decoded::ListSubscriptions(v)
            } else {
                Decoded::Status
            });
        }
        // A stream hoga does not ask for whose payload has no `e` (`@bookTicker`).
        match stream {
            Some(name) => Ok(Decoded::Unknown(name.to_string())),
            None => Err(bad(msg, "no event type, book, result or error")),
        }
    }
}

impl StreamDecoder for BinanceDecoder {
    fn decode(&mut self, msg: &[u8]) -> Result<Decoded, DecodeError> {
        BinanceDecoder::decode(self, msg)
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::exchange::binance::market_of;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    /// A decoder with its own table: Binance's documented examples use `BNBBTC`, which is
    /// not a USDT market (the process-wide table is left alone).
    fn decoder() -> BinanceDecoder {
        let symbols = Symbols::default();
        symbols.set([("BNBBTC".to_string(), market_of("BNB", "BTC"))]);
        BinanceDecoder::with_symbols(symbols)
    }

    fn wrap(stream: &str, data: &str) -> String {
        format!(r#"{{"stream":"{stream}","data":{data}}}"#)
    }

    fn event(d: &mut BinanceDecoder, frame: &str) -> StreamEvent {
        match d.decode(frame.as_bytes()) {
            Ok(Decoded::Event(ev)) => ev,
            other => panic!("{frame}: {other:?}"),
        }
    }

    // Binance's documented payloads (web-socket-streams.md), comments removed.
    const TRADE: &str = r#"{
  "e": "trade",
  "E": 1672515782136,
  "s": "BNBBTC",
  "t": 12345,
  "p": "0.001",
  "q": "100",
  "b": 88,
  "a": 50,
  "T": 1672515782136,
  "m": true,
  "M": true
}"#;
    const KLINE: &str = r#"{
  "e": "kline",
  "E": 1672515782136,
  "s": "BNBBTC",
  "k": {
    "t": 1672515780000,
    "T": 1672515839999,
    "s": "BNBBTC",
    "i": "1m",
    "f": 100,
    "L": 200,
    "o": "0.0010",
    "c": "0.0020",
    "h": "0.0025",
    "l": "0.0015",
    "v": "1000",
    "n": 100,
    "x": false,
    "q": "1.0000",
    "V": "500",
    "Q": "0.500",
    "B": "123456"
  }
}"#;
    const TICKER: &str = r#"{
  "e": "24hrTicker",
  "E": 1672515782136,
  "s": "BNBBTC",
  "p": "0.0015",
  "P": "250.00",
  "w": "0.0018",
  "x": "0.0009",
  "c": "0.0025",
  "Q": "10",
  "b": "0.0024",
  "B": "10",
  "a": "0.0026",
  "A": "100",
  "o": "0.0010",
  "h": "0.0025",
  "l": "0.0010",
  "v": "10000",
  "q": "18",
  "O": 0,
  "C": 86400000,
  "F": 0,
  "L": 18150,
  "n": 18151
}"#;
    const DEPTH: &str = r#"{
  "lastUpdateId": 160,
  "bids": [
    [
      "0.0024",
      "10"
    ]
  ],
  "asks": [
    [
      "0.0026",
      "100"
    ]
  ]
}"#;
    const AGG_TRADE: &str = r#"{
  "e": "aggTrade",
  "E": 1672515782136,
  "s": "BNBBTC",
  "a": 12345,
  "p": "0.001",
  "q": "100",
  "f": 100,
  "l": 105,
  "T": 1672515782136,
  "m": true,
  "M": true
}"#;
    const BOOK_TICKER: &str = r#"{
  "u":400900217,
  "s":"BNBUSDT",
  "b":"25.35190000",
  "B":"31.21000000",
  "a":"25.36520000",
  "A":"40.66000000"
}"#;

    /// Binance writes its frames compactly, keys in the documented order; the documented
    /// examples are pretty-printed. Drops the whitespace outside strings, nothing else.
    fn compact(json: &str) -> String {
        let (mut out, mut in_string, mut escaped) = (String::new(), false, false);
        for c in json.chars() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_string => escaped = true,
                '"' => in_string = !in_string,
                c if c.is_whitespace() && !in_string => continue,
                _ => {}
            }
            out.push(c);
        }
        out
    }

    #[test]
    fn the_documented_trade_decodes_wrapped_raw_and_pretty() {
        let mut dec = decoder();
        let want = StreamEvent::Trade(Trade {
            market: MarketId::new("BTC-BNB"),
            price: d("0.001"),
            volume: d("100"),
            // m = true: the buyer was the maker, so the taker sold.
            side: Some(Side::Ask),
            trade_timestamp: 1672515782136,
            timestamp: 1672515782136,
            sequential_id: 12345,
            stream_type: StreamType::Realtime,
        });
        assert!(compact(TRADE).starts_with(r#"{"e":"trade","#), "the fast path is the one tested");
        assert_eq!(event(&mut dec, &wrap("bnbbtc@trade", &compact(TRADE))), want);
        // Keys in another order (sorted: `e` is no longer first) read the same.
        let sorted = serde_json::from_str::<serde_json::Value>(TRADE).unwrap().to_string();
        assert_eq!(event(&mut dec, &wrap("bnbbtc@trade", &sorted)), want);
        let spaced = format!(r#"{{ "stream" : "bnbbtc@trade" , "data" : {sorted} }}"#);
        assert_eq!(event(&mut dec, &spaced), want, "another spelling of the wrapper");
        assert_eq!(event(&mut dec, &compact(TRADE)), want, "raw payload (/ws)");
        assert_eq!(event(&mut dec, TRADE), want, "keys after whitespace");
        assert_eq!(event(&mut dec, &wrap("bnbbtc@trade", TRADE)), want);
        let taker_bought = compact(TRADE).replace(r#""m":true"#, r#""m":false"#);
        let StreamEvent::Trade(t) = event(&mut dec, &taker_bought) else { panic!() };
        assert_eq!(t.side, Some(Side::Bid));
    }

    #[test]
    fn the_documented_kline_is_a_candle() {
        let mut dec = decoder();
        let ev = event(&mut dec, &wrap("bnbbtc@kline_1m", &compact(KLINE)));
        assert_eq!(
            ev,
            StreamEvent::Candle(Candle {
                market: MarketId::new("BTC-BNB"),
                timeframe: Timeframe::M1,
                start: 1672515780000,
                open: d("0.0010"),
                high: d("0.0025"),
                low: d("0.0015"),
                close: d("0.0020"),
                volume: d("1000"),
                value: d("1.0000"),
                timestamp: 1672515782136,
            })
        );
        // An interval hoga has no timeframe for is tolerated, not guessed.
        let two_hours = compact(KLINE).replace(r#""i":"1m""#, r#""i":"2h""#);
        assert_eq!(dec.decode(two_hours.as_bytes()).unwrap(), Decoded::Unknown("kline_2h".into()));
    }

    #[test]
    fn the_documented_24h_ticker_is_a_ticker_against_the_window_open() {
        let mut dec = decoder();
        let StreamEvent::Ticker(t) = event(&mut dec, &wrap("bnbbtc@ticker", &compact(TICKER))) else {
            panic!()
        };
        assert_eq!(t.market, Some(MarketId::new("BTC-BNB")));
        assert_eq!(t.trade_price, d("0.0025"));
        assert_eq!((t.opening_price, t.prev_closing_price), (d("0.0010"), d("0.0010")));
        assert_eq!((t.high_price, t.low_price), (d("0.0025"), d("0.0010")));
        assert_eq!((t.change, t.signed_change_price), (Change::Rise, d("0.0015")));
        // P = 250.00 % → 2.5, exactly.
        assert_eq!(t.signed_change_rate, d("2.5"));
        assert_eq!(t.signed_change_rate.to_string(), "2.5000");
        assert_eq!(
            (t.trade_volume, t.acc_trade_volume_24h, t.acc_trade_price_24h),
            (d("10"), d("10000"), d("18"))
        );
        assert_eq!((t.highest_52_week_price, t.lowest_52_week_price), (Decimal::ZERO, Decimal::ZERO));
        assert_eq!((t.timestamp, t.trade_timestamp), (1672515782136, 1672515782136));
        let falling =
            compact(TICKER).replace(r#""p":"0.0015","P":"250.00""#, r#""p":"-0.0003","P":"-12.34""#);
        let StreamEvent::Ticker(t) = event(&mut dec, &falling) else { panic!() };
        assert_eq!((t.change, t.signed_change_rate), (Change::Fall, d("-0.1234")));
    }

    #[test]
    fn the_documented_partial_book_takes_its_symbol_from_the_stream_name() {
        let mut dec = decoder();
        let StreamEvent::OrderBook(b) = event(&mut dec, &wrap("bnbbtc@depth20@100ms", &compact(DEPTH)))
        else {
            panic!()
        };
        assert_eq!(b.market, Some(MarketId::new("BTC-BNB")));
        assert_eq!(
            b.levels,
            vec![BookLevel {
                ask_price: d("0.0026"),
                ask_size: d("100"),
                bid_price: d("0.0024"),
                bid_size: d("10")
            }]
        );
        assert_eq!((b.total_ask_size, b.total_bid_size), (d("100"), d("10")));
        assert_eq!(b.level, Decimal::ZERO);
        assert!(b.timestamp > 1_700_000_000_000, "stamped when read: Binance's has no time");
        // Sides of different depth: the short side's slots are empty (0, 0).
        let lopsided =
            r#"{"lastUpdateId":1,"bids":[["0.0024","10"],["0.0023","5"]],"asks":[["0.0026","100"]]}"#;
        let StreamEvent::OrderBook(b) = event(&mut dec, &wrap("bnbbtc@depth5", lopsided)) else { panic!() };
        assert_eq!(b.levels.len(), 2);
        assert_eq!(
            (b.levels[1].bid_price, b.levels[1].ask_price, b.levels[1].ask_size),
            (d("0.0023"), d("0"), d("0"))
        );
        assert_eq!(b.total_bid_size, d("15"));
        // Without the wrapper there is no symbol: a clear error, not a guess.
        let e = dec.decode(compact(DEPTH).as_bytes()).unwrap_err();
        assert!(e.detail.contains("stream name"), "{e}");
    }

    #[test]
    fn replies_errors_and_unknown_events() {
        let mut dec = decoder();
        assert_eq!(dec.decode(br#"{"result":null,"id":1}"#).unwrap(), Decoded::Status);
        assert_eq!(dec.decode(br#"{"result": null, "id": 312}"#).unwrap(), Decoded::Status);
        assert_eq!(dec.decode(br#"{"result":true,"id":2}"#).unwrap(), Decoded::Status);
        match dec.decode(br#"{"result":["btcusdt@aggTrade"],"id":3}"#).unwrap() {
            Decoded::ListSubscriptions(v) => assert_eq!(v["result"][0], "btcusdt@aggTrade"),
            other => panic!("{other:?}"),
        }
        for (frame, code, msg) in [
            (r#"{"code": 0, "msg": "Unknown property","id": 5}"#, "0", "Unknown property"),
            (
                r#"{"code": 1, "msg": "Invalid value type: expected Boolean"}"#,
                "1",
                "Invalid value type: expected Boolean",
            ),
            (
                r#"{"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}"#,
                "2",
                "Invalid request: request ID must be an unsigned integer",
            ),
            (
                r#"{"code":3,"msg":"Invalid JSON: expected value at line 1 column 2"}"#,
                "3",
                "Invalid JSON: expected value at line 1 column 2",
            ),
            (r#"{"error":{"code":2,"msg":"Invalid request"},"id":7}"#, "2", "Invalid request"),
        ] {
            assert_eq!(
                dec.decode(frame.as_bytes()).unwrap(),
                Decoded::Error { name: code.into(), message: msg.into(), refuses_auth: false },
                "{frame}"
            );
        }
        assert_eq!(dec.decode(compact(AGG_TRADE).as_bytes()).unwrap(), Decoded::Unknown("aggTrade".into()));
        assert_eq!(
            dec.decode(wrap("bnbusdt@bookTicker", &compact(BOOK_TICKER)).as_bytes()).unwrap(),
            Decoded::Unknown("bnbusdt@bookTicker".into())
        );
        assert_eq!(
            dec.decode(wrap("!ticker@arr", "[]").as_bytes()).unwrap(),
            Decoded::Unknown("!ticker@arr".into())
        );
        for shutdown in [
            r#"{"e":"serverShutdown","E":1770123456789}"#,
            r#"{"event":{"e":"serverShutdown","E":1770123456789}}"#,
        ] {
            assert_eq!(dec.decode(shutdown.as_bytes()).unwrap(), Decoded::Status, "{shutdown}");
        }
        assert!(dec.decode(b"not json").is_err());
        assert!(dec.decode(&[0xff, 0xfe, b'{']).is_err());
        assert!(dec.decode(br#"{"x":1}"#).is_err());
    }

    #[test]
    fn absurd_numbers_and_symbols_are_errors_naming_them() {
        let mut dec = decoder();
        let trade = compact(TRADE);
        for (from, to, needle) in [
            (r#""p":"0.001""#, r#""p":"1O0""#, "1O0"),
            (r#""p":"0.001""#, r#""p":"1e999""#, "1e999"),
            (r#""p":"0.001""#, r#""p":"0""#, "trade_price"),
            (r#""p":"0.001""#, r#""p":"-0.001""#, "trade_price"),
            (r#""p":"0.001""#, r#""p":null"#, "null"),
            (r#""q":"100""#, r#""q":"-5""#, "trade_volume"),
            (r#""q":"100""#, r#""q":"79228162514264337593543950336""#, "79228162514264337593543950336"),
            (r#""T":1672515782136"#, r#""T":-1"#, "trade_timestamp"),
            (r#""s":"BNBBTC""#, r#""s":"BTCEUR""#, "BTCEUR"),
            (r#""t":12345,"#, "", "missing field `t`"),
        ] {
            let frame = trade.replace(from, to);
            assert_ne!(frame, trade, "{from}");
            let e = dec.decode(frame.as_bytes()).unwrap_err();
            assert!(e.detail.contains(needle), "{frame}: {e}");
        }
        let book = wrap("bnbbtc@depth20@100ms", r#"{"lastUpdateId":1,"bids":[["0.0024","x"]],"asks":[]}"#);
        assert!(dec.decode(book.as_bytes()).unwrap_err().detail.contains("x"));
        let book = wrap("bnbbtc@depth20@100ms", r#"{"lastUpdateId":1,"bids":[["0.0024"]],"asks":[]}"#);
        assert!(dec.decode(book.as_bytes()).is_err());
        let book = wrap("bnbbtc@depth20@100ms", r#"{"lastUpdateId":1,"bids":[]}"#);
        assert!(dec.decode(book.as_bytes()).unwrap_err().detail.contains("asks"));
        let kline = compact(KLINE).replace(r#""o":"0.0010""#, r#""o":"1e20""#);
        assert!(dec.decode(kline.as_bytes()).unwrap_err().detail.contains("opening_price"));
    }

    #[test]
    fn usdt_symbols_decode_through_the_shared_table() {
        // The default decoder reads the process-wide table; a USDT symbol not (yet) in it
        // is split at the quote.
        let mut dec = BinanceDecoder::default();
        let frame = compact(TRADE).replace("BNBBTC", "BTCUSDT");
        let StreamEvent::Trade(t) = event(&mut dec, &wrap("btcusdt@trade", &frame)) else { panic!() };
        assert_eq!(t.market.as_str(), "USDT-BTC");
    }

    #[test]
    fn stream_names_kinds_and_what_binance_streams() {
        let btc = MarketId::new("USDT-BTC");
        let names = stream_names(&[
            (StreamKind::Ticker, vec![btc.clone(), MarketId::new("USDT-ETH")]),
            (StreamKind::Trade, vec![btc.clone()]),
            (StreamKind::OrderBook, vec![btc.clone()]),
            (StreamKind::Candle(Timeframe::H1), vec![btc.clone()]),
            (StreamKind::Candle(Timeframe::M10), vec![btc.clone()]),
            (StreamKind::GroupedBook(Decimal::ONE), vec![btc.clone()]),
            (StreamKind::MyOrder, vec![btc]),
        ]);
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            [
                "btcusdt@depth20@100ms",
                "btcusdt@kline_1h",
                "btcusdt@ticker",
                "btcusdt@trade",
                "ethusdt@ticker"
            ]
        );
        type S = BinanceSession;
        for tf in Timeframe::ALL {
            assert_eq!(S::can_stream(StreamKind::Candle(tf)), tf != Timeframe::M10, "{tf:?}");
            let name = format!("kline_{}", interval_of(tf).unwrap_or("10m"));
            let want = (tf != Timeframe::M10).then_some(StreamKind::Candle(tf));
            assert_eq!(S::kind_of(&name), want, "{name}");
        }
        assert_eq!(interval_of(Timeframe::Mo1), Some("1M"));
        for k in [
            StreamKind::GroupedBook(Decimal::TEN),
            StreamKind::MyOrder,
            StreamKind::MyAsset,
            StreamKind::Announcement,
        ] {
            assert!(!S::can_stream(k), "{k:?}");
        }
        assert_eq!(S::kind_of("btcusdt@trade"), Some(StreamKind::Trade));
        assert_eq!(S::kind_of("ticker"), Some(StreamKind::Ticker));
        assert_eq!(S::kind_of("btcusdt@depth20@100ms"), Some(StreamKind::OrderBook));
        assert_eq!(S::kind_of("depth5"), Some(StreamKind::OrderBook));
        assert_eq!(S::kind_of("depth"), None, "the diff stream is not a book");
        assert_eq!(S::kind_of("depth15"), None);
        assert_eq!(S::kind_of("depthusdt@trade"), Some(StreamKind::Trade), "a symbol that starts with depth");
        assert_eq!(S::kind_of("btcusdt@kline_1m"), Some(StreamKind::Candle(Timeframe::M1)));
        assert_eq!(S::kind_of("candle.1m"), None, "hoga's label, not Binance's name");
    }

    #[test]
    fn the_stream_url_under_a_base_is_not_doubled() {
        for base in [
            "ws://127.0.0.1:9000",
            "ws://127.0.0.1:9000/",
            "ws://127.0.0.1:9000/stream",
            "ws://127.0.0.1:9000/stream/",
            "ws://127.0.0.1:9000/ws",
        ] {
            assert_eq!(
                urls_for_base(base),
                ("ws://127.0.0.1:9000/stream".to_string(), PRIVATE_URL.to_string())
            );
        }
        assert_eq!(urls_for_base("wss://stream.binance.com:9443").0, PUBLIC_URL);
    }

    #[test]
    fn a_new_set_is_sent_as_its_difference_unsubscribing_first() {
        let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let mut id = 1;
        let first = diff_requests(&BTreeSet::new(), &set(&["btcusdt@ticker", "ethusdt@ticker"]), &mut id);
        assert_eq!(first, [r#"{"id":1,"method":"SUBSCRIBE","params":["btcusdt@ticker","ethusdt@ticker"]}"#]);
        let next = diff_requests(
            &set(&["btcusdt@ticker", "ethusdt@ticker"]),
            &set(&["btcusdt@ticker", "btcusdt@trade"]),
            &mut id,
        );
        assert_eq!(
            next,
            [
                r#"{"id":2,"method":"UNSUBSCRIBE","params":["ethusdt@ticker"]}"#,
                r#"{"id":3,"method":"SUBSCRIBE","params":["btcusdt@trade"]}"#,
            ]
        );
        assert!(diff_requests(&set(&["a@trade"]), &set(&["a@trade"]), &mut id).is_empty());
        // Batches of PARAMS_PER_MESSAGE.
        let many: BTreeSet<String> = (0..450).map(|i| format!("s{i:03}usdt@ticker")).collect();
        let batches = diff_requests(&BTreeSet::new(), &many, &mut id);
        assert_eq!(batches.len(), 3);
        let counts: Vec<usize> = batches
            .iter()
            .map(|b| {
                serde_json::from_str::<serde_json::Value>(b).unwrap()["params"].as_array().unwrap().len()
            })
            .collect();
        assert_eq!(counts, [200, 200, 50]);
        assert_eq!(id, 7);
    }

    /// Counted, not timed: whatever the instants asked at, no window ever holds more than
    /// MESSAGES_PER_WINDOW messages, and a full window says exactly when the next may go.
    #[test]
    fn the_pacer_never_lets_a_window_hold_more_than_its_share() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        let mut sent = Vec::new();
        let mut now = t0;
        for _ in 0..20 {
            if let Some(at) = p.not_before(now) {
                assert!(at > now);
                now = at;
                assert!(p.not_before(now).is_none(), "free at the instant it named");
            }
            p.record(now);
            sent.push(now);
        }
        for (i, t) in sent.iter().enumerate() {
            let within = sent[i..].iter().filter(|u| u.duration_since(*t) < WINDOW).count();
            assert!(within <= MESSAGES_PER_WINDOW, "{within} messages within one window from #{i}");
        }
        // 20 messages at 4 per window need 4 full windows after the first.
        assert_eq!(sent.last().map(|t| t.duration_since(t0)), Some(WINDOW * 4));
        // try_record never waits: on a full window it refuses and records nothing.
        let mut p = Pacer::default();
        assert!((0..MESSAGES_PER_WINDOW).all(|_| p.try_record(t0)));
        assert!(!p.try_record(t0));
        assert!(p.try_record(t0 + WINDOW));
    }

    #[test]
    fn server_shutdown_is_seen_in_each_form_and_market_data_is_not() {
        for yes in [
            r#"{"e":"serverShutdown","E":1770123456789}"#,
            r#"{"stream":"btcusdt@trade","data":{"e":"serverShutdown","E":1770123456789}}"#,
            r#"{"event":{"e":"serverShutdown","E":1770123456789}}"#,
            r#"{ "e" : "serverShutdown" }"#,
        ] {
            assert!(is_server_shutdown(yes.as_bytes()), "{yes}");
        }
        let trade = compact(TRADE).replace("BNBBTC", "BTCUSDT");
        for no in [trade.clone(), wrap("btcusdt@trade", &trade), r#"{"result":null,"id":1}"#.into()] {
            assert!(!is_server_shutdown(no.as_bytes()), "{no}");
        }
    }

    #[tokio::test]
    async fn no_key_and_no_private_stream_ever_reach_binance() {
        let cfg = WsConfig::default();
        let creds = Credentials::new("access", "secret");
        // Nothing listens there: the refusal comes before any connection is tried.
        let e = BinanceSession::connect("ws://127.0.0.1:9/stream", Some(&creds), &cfg).await.unwrap_err();
        assert!(matches!(&e, WsError::Connect { detail, .. } if detail.contains("no key")), "{e}");
        let e = BinanceSession::connect(PRIVATE_URL, None, &cfg).await.unwrap_err();
        assert!(e.to_string().contains("no private stream"), "{e}");
    }

    /// A tiny Binance-like server: records the client's text messages and pongs, and sends
    /// what the test tells it to.
    mod fake {
        use std::sync::{Arc, Mutex};

        use futures_util::{SinkExt, StreamExt};
        use tokio::net::TcpListener;
        use tokio::sync::mpsc;
        use tokio_tungstenite::tungstenite::Message;

        #[derive(Debug, Default)]
        pub struct Seen {
            pub texts: Vec<String>,
            pub pongs: Vec<Vec<u8>>,
            pub path: String,
        }

        pub async fn bind() -> (TcpListener, String) {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("ws://{}", l.local_addr().unwrap());
            (l, base)
        }

        /// Serves one connection until the test drops `rx`'s sender or the client leaves.
        pub async fn serve(l: TcpListener, seen: Arc<Mutex<Seen>>, mut rx: mpsc::UnboundedReceiver<Message>) {
            let (tcp, _) = l.accept().await.unwrap();
            let seen2 = seen.clone();
            #[allow(clippy::result_large_err)] // the signature tungstenite's callback wants
            let cb =
                move |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                      resp: tokio_tungstenite::tungstenite::handshake::server::Response| {
                    seen2.lock().unwrap().path = req.uri().path().to_string();
                    Ok(resp)
                };
            let mut ws = tokio_tungstenite::accept_hdr_async(tcp, cb).await.unwrap();
            loop {
                tokio::select! {
                    msg = ws.next() => match msg {
                        Some(Ok(Message::Text(t))) => seen.lock().unwrap().texts.push(t.to_string()),
                        Some(Ok(Message::Pong(p))) => seen.lock().unwrap().pongs.push(p.to_vec()),
                        Some(Ok(_)) => {}
                        _ => return,
                    },
                    out = rx.recv() => match out {
                        Some(m) => if ws.send(m).await.is_err() { return },
                        None => return,
                    },
                }
            }
        }
    }

    /// Waits (with a deadline) until `cond` holds, reading the session meanwhile so pings
    /// are answered; frames read are returned.
    async fn read_until(s: &mut BinanceSession, what: &str, cond: impl Fn() -> bool) -> Vec<DataFrame> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut frames = Vec::new();
        while !cond() {
            match tokio::time::timeout_at(deadline, async {
                tokio::select! {
                    f = s.next_frame() => Some(f),
                    _ = tokio::time::sleep(Duration::from_millis(20)) => None,
                }
            })
            .await
            {
                Err(_) => panic!("timed out waiting for {what}"),
                Ok(Some(f)) => frames.push(f.unwrap()),
                Ok(None) => {}
            }
        }
        frames
    }

    #[tokio::test]
    async fn a_session_sends_differences_paced_answers_pings_and_ends_on_server_shutdown() {
        use std::sync::{Arc, Mutex};
        let (listener, base) = fake::bind().await;
        let seen = Arc::new(Mutex::new(fake::Seen::default()));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let server = fake::serve(listener, seen.clone(), rx);
        let client = async {
            let url = urls_for_base(&base).0;
            let mut s = BinanceSession::connect(&url, None, &WsConfig::default()).await.unwrap();
            let texts = || seen.lock().unwrap().texts.clone();
            let btc = MarketId::new("USDT-BTC");
            let eth = MarketId::new("USDT-ETH");
            s.subscribe(&[
                (StreamKind::Ticker, vec![btc.clone(), eth.clone()]),
                (StreamKind::Trade, vec![btc.clone()]),
            ])
            .await
            .unwrap();
            s.subscribe(&[
                (StreamKind::Ticker, vec![btc.clone()]),
                (StreamKind::OrderBook, vec![btc.clone()]),
                (StreamKind::Candle(Timeframe::M10), vec![btc.clone()]),
            ])
            .await
            .unwrap();
            read_until(&mut s, "the first requests", || texts().len() == 3).await;
            assert_eq!(
                texts(),
                [
                    r#"{"id":1,"method":"SUBSCRIBE","params":["btcusdt@ticker","btcusdt@trade","ethusdt@ticker"]}"#,
                    r#"{"id":2,"method":"UNSUBSCRIBE","params":["btcusdt@trade","ethusdt@ticker"]}"#,
                    r#"{"id":3,"method":"SUBSCRIBE","params":["btcusdt@depth20@100ms"]}"#,
                ]
            );
            assert_eq!(s.pacing_waits(), 0, "three messages fit in one window");
            // The same set again: nothing to send.
            s.subscribe(&[
                (StreamKind::Ticker, vec![btc.clone()]),
                (StreamKind::OrderBook, vec![btc.clone()]),
            ])
            .await
            .unwrap();
            // 1000 tickers more: five SUBSCRIBE messages, which cannot all go within the
            // window the first three used.
            let many: Vec<MarketId> = (0..1000).map(|i| MarketId::new(&format!("USDT-C{i:04}"))).collect();
            let mut big = many.clone();
            big.push(btc.clone());
            s.subscribe(&[(StreamKind::Ticker, big.clone()), (StreamKind::OrderBook, vec![btc.clone()])])
                .await
                .unwrap();
            assert!(s.pacing_waits() >= 1, "the fifth message in a window waited");
            read_until(&mut s, "the batches", || texts().len() == 8).await;
            let mut asked = BTreeSet::new();
            for (i, t) in texts().iter().enumerate().skip(3) {
                let v: serde_json::Value = serde_json::from_str(t).unwrap();
                assert_eq!((v["method"].as_str(), v["id"].as_u64()), (Some("SUBSCRIBE"), Some(i as u64 + 1)));
                asked.extend(v["params"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()));
            }
            assert_eq!(asked.len(), 1000);
            assert_eq!(s.streams().len(), 1002);
            // Over Binance's 1024: refused, nothing sent, the set kept.
            big.extend((0..30).map(|i| MarketId::new(&format!("USDT-D{i:02}"))));
            let e = s.subscribe(&[(StreamKind::Ticker, big)]).await.unwrap_err();
            assert!(e.to_string().contains("1024"), "{e}");
            assert_eq!(s.streams().len(), 1002);

            // The server's ping is answered with its payload.
            tx.send(Message::Ping(Bytes::from_static(b"hello"))).unwrap();
            read_until(&mut s, "the pong", || !seen.lock().unwrap().pongs.is_empty()).await;
            assert_eq!(seen.lock().unwrap().pongs[0], b"hello");

            // An error reply is a data frame the decoder surfaces with its code and message.
            tx.send(Message::text(
                r#"{"error":{"code":2,"msg":"Invalid request: too many parameters"},"id":9}"#,
            ))
            .unwrap();
            let frame = s.next_frame().await.unwrap();
            assert_eq!(
                BinanceDecoder::default().decode(&frame.bytes).unwrap(),
                Decoded::Error {
                    name: "2".into(),
                    message: "Invalid request: too many parameters".into(),
                    refuses_auth: false
                }
            );
            // Market data flows; then serverShutdown ends the session (the feed reconnects).
            let trade = compact(TRADE).replace("BNBBTC", "BTCUSDT");
            tx.send(Message::text(wrap("btcusdt@trade", &trade))).unwrap();
            tx.send(Message::text(r#"{"e":"serverShutdown","E":1770123456789}"#)).unwrap();
            let frame = s.next_frame().await.unwrap();
            assert!(matches!(
                BinanceDecoder::default().decode(&frame.bytes),
                Ok(Decoded::Event(StreamEvent::Trade(_)))
            ));
            let end = s.next_frame().await.unwrap_err();
            assert!(matches!(&end, WsError::Closed { detail } if detail.contains("serverShutdown")), "{end}");
            assert_eq!(seen.lock().unwrap().path, "/stream");
            drop(tx);
            s.close().await;
        };
        tokio::join!(server, client);
    }

    /// As on Upbit's session: a frame over the cap and a text frame that is not UTF-8 end
    /// the session with their own errors (the feed counts them and reconnects).
    #[tokio::test]
    async fn oversize_and_non_utf8_text_frames_end_the_session() {
        use std::sync::{Arc, Mutex};

        use tokio_tungstenite::tungstenite::protocol::frame::Frame;
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
        let cfg = WsConfig { max_message_size: 1024, ..WsConfig::default() };
        for (frame, want) in [
            (
                Message::text(format!(r#"{{"stream":"btcusdt@trade","data":"{}"}}"#, "x".repeat(2000))),
                "oversize",
            ),
            (
                Message::Frame(Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true)),
                "utf8",
            ),
        ] {
            let (listener, base) = fake::bind().await;
            let seen = Arc::new(Mutex::new(fake::Seen::default()));
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let server = fake::serve(listener, seen, rx);
            let client = async {
                let mut s = BinanceSession::connect(&urls_for_base(&base).0, None, &cfg).await.unwrap();
                tx.send(frame).unwrap();
                let end =
                    tokio::time::timeout(Duration::from_secs(10), s.next_frame()).await.unwrap().unwrap_err();
                match want {
                    "oversize" => assert_eq!(end, WsError::Oversize { limit: 1024 }),
                    _ => assert!(matches!(end, WsError::InvalidText { .. }), "{end}"),
                }
                drop(tx);
            };
            tokio::join!(server, client);
        }
    }

    /// A quiet connection asks `LIST_SUBSCRIPTIONS` at the keep-alive tick: its answer is
    /// data and keeps the session; a server that never answers (half-open) goes idle.
    #[tokio::test]
    async fn a_quiet_connection_asks_for_its_list_and_a_silent_one_goes_idle() {
        use std::sync::{Arc, Mutex};
        let cfg = WsConfig {
            ping_interval: Duration::from_millis(100),
            idle_timeout: Duration::from_millis(600),
            ..WsConfig::default()
        };
        let (listener, base) = fake::bind().await;
        let seen = Arc::new(Mutex::new(fake::Seen::default()));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let server = fake::serve(listener, seen.clone(), rx);
        let client = async {
            let mut s = BinanceSession::connect(&urls_for_base(&base).0, None, &cfg).await.unwrap();
            let asked = || seen.lock().unwrap().texts.iter().any(|t| t.contains("LIST_SUBSCRIPTIONS"));
            read_until(&mut s, "a LIST_SUBSCRIPTIONS", asked).await;
            tx.send(Message::text(r#"{"result":[],"id":1}"#)).unwrap();
            let frame = tokio::time::timeout(Duration::from_secs(10), s.next_frame()).await.unwrap().unwrap();
            assert!(matches!(
                BinanceDecoder::default().decode(&frame.bytes),
                Ok(Decoded::ListSubscriptions(_))
            ));
            // From now on the server stays silent: the watchdog ends the session.
            let end = loop {
                match tokio::time::timeout(Duration::from_secs(10), s.next_frame()).await.unwrap() {
                    Ok(_) => continue,
                    Err(e) => break e,
                }
            };
            assert_eq!(end, WsError::Idle { after: cfg.idle_timeout });
            drop(tx);
        };
        tokio::join!(server, client);
    }
}
