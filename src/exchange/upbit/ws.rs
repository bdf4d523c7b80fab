//! One Upbit WebSocket session over tokio-tungstenite: connect (public, or private with a
//! JWT on the upgrade request), send subscription requests, read frames with keep-alive
//! pings and an idle watchdog, and decode DEFAULT-format messages into neutral events.
//! [`WsSession`] and [`Decoder`] are Upbit's [`StreamSession`] and [`StreamDecoder`].
//!
//! A session is one connection; reconnecting, epochs and resubscription belong to
//! `feed::recovery`. Liveness rule (docs/RELIABILITY.md case 22): only DATA frames count as life;
//! pongs and pings alone do not, so a half-open connection that still answers pings is
//! detected by the idle watchdog.

use std::future::Future;
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use reqwest::header::HeaderValue;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Error as WsLibError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

use crate::exchange::api::{AssetBalance, AssetUpdate, OrderUpdate, StreamEvent, StreamKind};
pub use crate::exchange::stream::{DataFrame, DecodeError, Decoded, WsConfig, WsError};
use crate::exchange::stream::{StreamDecoder, StreamSession};
use crate::exchange::types::{Candle, Fill, MarketId, OrderBook, OutOfBand, Ticker, Trade, band};
use crate::exchange::upbit::auth::{Credentials, Sign as _};
use crate::exchange::upbit::wire::{self, ErrorBody, WireMyAsset, WireMyOrder, view};

/// Public quotation websocket.
pub(crate) const PUBLIC_URL: &str = "wss://api.upbit.com/websocket/v1";
/// Private (myOrder, myAsset) websocket.
pub(crate) const PRIVATE_URL: &str = "wss://api.upbit.com/websocket/v1/private";

/// The error a Close frame from the server ends the session with. A close whose reason
/// speaks of authentication (`INVALID_AUTH`, "unauthorized"…) is a refusal of our
/// credentials, like a 401 on the upgrade, so the private stream backs off for long
/// instead of reconnecting at once (RELIABILITY case 24); any other close is a plain end.
fn closed(frame: Option<tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> WsError {
    let Some(f) = frame else { return WsError::Closed { detail: "close without code".into() } };
    let detail = format!("{} {}", f.code, f.reason);
    if f.reason.to_ascii_lowercase().contains("auth") {
        WsError::Unauthorized { detail: format!("close frame {detail}") }
    } else {
        WsError::Closed { detail }
    }
}

fn bad(msg: &[u8], e: impl std::fmt::Display) -> DecodeError {
    let n = msg.len().min(160);
    DecodeError { detail: e.to_string(), sample: String::from_utf8_lossy(&msg[..n]).into_owned() }
}

/// Decodes one DEFAULT-format message: peek the `type`, then parse the concrete struct.
/// Builds a fresh market id per message; a session keeps a [`Decoder`] instead.
pub fn decode(msg: &[u8]) -> Result<Decoded, DecodeError> {
    Decoder::default().decode(msg)
}

/// Most distinct market codes a [`Decoder`] remembers; past that (only a peer sending
/// garbage codes gets there) it forgets them all and starts again.
const MARKET_CACHE_CAP: usize = 4096;

/// A decoder that remembers market ids, so the `Arc<str>` of a code is built once per
/// market instead of once per message. One per session (not shared: no lock).
#[derive(Debug, Default)]
pub struct Decoder {
    markets: rustc_hash::FxHashMap<Box<str>, MarketId>,
}

impl Decoder {
    /// The market id of a code (as `MarketId::new` builds it), cached.
    pub fn market(&mut self, code: &str) -> MarketId {
        if let Some(m) = self.markets.get(code) {
            return m.clone();
        }
        if self.markets.len() >= MARKET_CACHE_CAP {
            self.markets.clear();
        }
        let m = MarketId::new(code);
        self.markets.insert(code.into(), m.clone());
        m
    }

    /// Decodes one DEFAULT-format message (see [`decode`]). Market data (ticker, trade,
    /// orderbook, candle) goes through the borrowed views of `wire::view`: numbers are
    /// parsed from their exact JSON text, unused fields are skipped.
    pub fn decode(&mut self, msg: &[u8]) -> Result<Decoded, DecodeError> {
        // Validate UTF-8 once for the whole frame (std's check is word-at-a-time): parsing
        // from `&str` then spares serde_json a separate check of every key and string.
        let text = std::str::from_utf8(msg).map_err(|e| bad(msg, e))?;
        match wire::peek_type(msg) {
            Some(ty) => self.decode_typed(ty, msg, text),
            None => self.decode_untyped(msg, text),
        }
    }

    /// Decodes a message whose top-level `type` is `ty`.
    fn decode_typed(&mut self, ty: &str, msg: &[u8], text: &str) -> Result<Decoded, DecodeError> {
        let ev = match ty {
            "trade" => {
                let t: view::Trade<'_> = serde_json::from_str(text).map_err(|e| bad(msg, e))?;
                StreamEvent::Trade(Trade {
                    market: self.market(&t.code),
                    price: t.trade_price,
                    volume: t.trade_volume,
                    side: t.ask_bid.side(),
                    trade_timestamp: t.trade_timestamp,
                    timestamp: t.timestamp,
                    sequential_id: t.sequential_id,
                    stream_type: t.stream_type,
                })
            }
            "orderbook" => {
                let b: view::OrderBook<'_> = serde_json::from_str(text).map_err(|e| bad(msg, e))?;
                StreamEvent::OrderBook(OrderBook {
                    market: Some(self.market(b.code())),
                    levels: b.orderbook_units.0,
                    total_ask_size: b.total_ask_size,
                    total_bid_size: b.total_bid_size,
                    level: b.level.unwrap_or_default(),
                    timestamp: b.timestamp,
                    stream_type: b.stream_type.unwrap_or_default(),
                })
            }
            "ticker" => {
                let t: view::Ticker<'_> = serde_json::from_str(text).map_err(|e| bad(msg, e))?;
                StreamEvent::Ticker(
                    Ticker {
                        market: Some(self.market(t.code())),
                        trade_price: t.trade_price,
                        opening_price: t.opening_price,
                        high_price: t.high_price,
                        low_price: t.low_price,
                        prev_closing_price: t.prev_closing_price,
                        change: t.change,
                        signed_change_price: t.signed_change_price,
                        signed_change_rate: t.signed_change_rate,
                        trade_volume: t.trade_volume,
                        acc_trade_price: t.acc_trade_price,
                        acc_trade_price_24h: t.acc_trade_price_24h,
                        acc_trade_volume_24h: t.acc_trade_volume_24h,
                        highest_52_week_price: t.highest_52_week_price,
                        lowest_52_week_price: t.lowest_52_week_price,
                        trade_timestamp: t.trade_timestamp,
                        timestamp: t.timestamp,
                        stream_type: t.stream_type.unwrap_or_default(),
                    }
                    .context_in_band(),
                )
            }
            "myOrder" => StreamEvent::Order(
                order_update(&serde_json::from_str(text).map_err(|e| bad(msg, e))?)
                    .map_err(|e| bad(msg, e))?,
            ),
            "myAsset" => {
                StreamEvent::Asset(asset_update(&serde_json::from_str(text).map_err(|e| bad(msg, e))?))
            }
            "announcement" => StreamEvent::Announcement(
                serde_json::from_str::<super::announce::WireAnnouncement>(text)
                    .map_err(|e| bad(msg, e))?
                    .to_event()
                    .map_err(|e| bad(msg, e))?,
            ),
            other if other.starts_with("candle.") => {
                let Some(tf) = wire::timeframe_of_candle_type(other) else {
                    return Ok(Decoded::Unknown(other.to_string()));
                };
                let c: view::Candle<'_> = serde_json::from_str(text).map_err(|e| bad(msg, e))?;
                let start =
                    chrono::NaiveDateTime::parse_from_str(&c.candle_date_time_utc, "%Y-%m-%dT%H:%M:%S")
                        .map_err(|_| bad(msg, "candle time does not parse"))?
                        .and_utc()
                        .timestamp_millis();
                StreamEvent::Candle(Candle {
                    market: self.market(c.code()),
                    timeframe: tf,
                    start,
                    open: c.opening_price,
                    high: c.high_price,
                    low: c.low_price,
                    close: c.trade_price,
                    volume: c.candle_acc_trade_volume,
                    value: c.candle_acc_trade_price,
                    timestamp: c.timestamp,
                })
            }
            other => return Ok(Decoded::Unknown(other.to_string())),
        };
        check_event(&ev).map_err(|e| bad(msg, e))?;
        Ok(Decoded::Event(ev))
    }

    /// Messages without a leading `"type":"…"`: status, errors, list answers, or a typed
    /// message whose `type` key `peek_type` did not find first (spaces around the colon,
    /// fields in another order): parsed fully to find it, then decoded as that type.
    fn decode_untyped(&mut self, msg: &[u8], text: &str) -> Result<Decoded, DecodeError> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(msg, e))?;
        if v.get("status").is_some() {
            return Ok(Decoded::Status);
        }
        if v.get("error").is_some() {
            let b: ErrorBody = serde_json::from_value(v).map_err(|e| bad(msg, e))?;
            let name = b.error.name.as_text();
            let refuses_auth = name == "INVALID_AUTH";
            return Ok(Decoded::Error { name, message: b.error.message, refuses_auth });
        }
        if v.get("method").and_then(|m| m.as_str()) == Some("LIST_SUBSCRIPTIONS") {
            return Ok(Decoded::ListSubscriptions(v));
        }
        // SIMPLE-format announcements (`ty`) read the same.
        match v.get("type").or_else(|| v.get("ty").filter(|t| *t == "announcement")) {
            Some(serde_json::Value::String(ty)) => self.decode_typed(ty, msg, text),
            Some(_) => Err(bad(msg, "type is not a string")),
            None => Err(bad(msg, "no type, status or error key")),
        }
    }
}

/// Checks every number of a decoded event against the band of
/// [`crate::exchange::types::band`]; an event outside it is a malformed message (counted
/// with the parse errors, never delivered).
pub fn check_event(ev: &StreamEvent) -> Result<(), OutOfBand> {
    match ev {
        // The decoder kept the context figures in band (`Ticker::context_in_band`).
        StreamEvent::Ticker(t) => t.check_price_and_times(),
        StreamEvent::Trade(t) => t.check(),
        StreamEvent::OrderBook(b) => b.check(),
        StreamEvent::Candle(c) => c.check(),
        StreamEvent::Order(o) => {
            // `price` is a unit price, a total (market buy) or, on a fill, the fill price
            // (checked as a price with the fill below): a value here, like REST's.
            band::opt(o.price, |v| band::value("price", v))?;
            band::opt(o.avg_price, |v| band::value("avg_price", v))?;
            band::opt(o.volume, |v| band::size("volume", v))?;
            band::opt(o.remaining_volume, |v| band::size("remaining_volume", v))?;
            band::size("executed_volume", o.executed_volume)?;
            band::value("executed_funds", o.executed_funds)?;
            band::value("paid_fee", o.paid_fee)?;
            band::value("locked", o.locked)?;
            band::size("prevented_volume", o.prevented_volume)?;
            band::value("prevented_locked", o.prevented_locked)?;
            band::time("timestamp", o.timestamp)?;
            o.fill.as_ref().map_or(Ok(()), Fill::check)
        }
        StreamEvent::Asset(a) => {
            for x in &a.assets {
                band::value("balance", x.balance)?;
                band::value("locked", x.locked)?;
            }
            band::time("timestamp", a.timestamp).map(|_| ())
        }
        StreamEvent::Announcement(a) => band::time("timestamp", a.timestamp).map(|_| ()),
    }
}

/// The neutral order update. A side hoga does not know is `None` (noted once, never
/// guessed): the order manager takes the side of the order it tracks, so the state, the
/// volumes and the fill of the frame are still used (issue 15, item 4).
fn order_update(w: &WireMyOrder) -> Result<OrderUpdate, String> {
    let side = w.ask_bid.side();
    Ok(OrderUpdate {
        uuid: w.uuid.clone(),
        identifier: w.identifier.clone(),
        market: MarketId::new(&w.code),
        side,
        ord_type: w.order_type,
        state: w.state,
        price: w.price,
        avg_price: w.avg_price,
        volume: w.volume,
        remaining_volume: w.remaining_volume,
        executed_volume: w.executed_volume,
        executed_funds: w.executed_funds,
        paid_fee: w.paid_fee,
        locked: w.locked,
        trades_count: w.trades_count,
        time_in_force: w.time_in_force,
        fill: w.fill(),
        smp_type: w.smp_type.clone(),
        prevented_volume: w.prevented_volume.unwrap_or_default(),
        prevented_locked: w.prevented_locked.unwrap_or_default(),
        timestamp: w.timestamp,
    })
}

fn asset_update(w: &WireMyAsset) -> AssetUpdate {
    AssetUpdate {
        assets: w
            .assets
            .iter()
            .map(|a| AssetBalance { currency: a.currency.clone(), balance: a.balance, locked: a.locked })
            .collect(),
        timestamp: w.timestamp,
    }
}

/// The Upbit `type` of a stream kind; `None` for candle timeframes Upbit does not stream
/// (days and longer: those come from REST only).
pub(crate) fn wire_type(kind: StreamKind) -> Option<String> {
    Some(match kind {
        StreamKind::Ticker => "ticker".into(),
        StreamKind::Trade => "trade".into(),
        StreamKind::OrderBook | StreamKind::GroupedBook(_) => "orderbook".into(),
        StreamKind::Candle(tf) => wire::candle_stream_type(tf)?,
        StreamKind::MyOrder => "myOrder".into(),
        StreamKind::MyAsset => "myAsset".into(),
        StreamKind::Announcement => "announcement".into(),
    })
}

/// Builds one request message carrying the WHOLE subscription set (Upbit replaces the
/// previous subscription on every request): ticket, one object per stream kind, format.
/// `myAsset` gets no `codes` (Upbit rejects them); `myOrder` with no markets means all.
/// Kinds Upbit cannot stream are left out (their subscribers get REST data only).
pub(crate) fn build_request(ticket: &str, streams: &[(StreamKind, Vec<MarketId>)]) -> String {
    let mut items = vec![serde_json::json!({ "ticket": ticket })];
    for (kind, markets) in streams {
        let Some(ty) = wire_type(*kind) else {
            tracing::debug!("{} is not streamed by Upbit; left out of the request", kind.label());
            continue;
        };
        // `myAsset` takes no codes; announcements neither, and no `categories` either: all
        // of them come and the console filters (a category Upbit does not know would be
        // an INVALID_PARAM that cost the whole private subscription).
        let item = if matches!(kind, StreamKind::MyAsset | StreamKind::Announcement) {
            serde_json::json!({ "type": ty })
        } else {
            let codes: Vec<&str> = markets.iter().map(MarketId::as_str).collect();
            match kind {
                // Grouped (호가 모아보기): its own `orderbook` object beside the plain one;
                // the level as a JSON number, as in Upbit's examples (`"level": 10000`).
                StreamKind::GroupedBook(level) => {
                    let level = serde_json::from_str::<serde_json::Value>(&level.normalize().to_string())
                        .unwrap_or_else(|_| serde_json::Value::String(level.normalize().to_string()));
                    serde_json::json!({ "type": ty, "codes": codes, "level": level })
                }
                _ => serde_json::json!({ "type": ty, "codes": codes }),
            }
        };
        items.push(item);
    }
    items.push(serde_json::json!({ "format": "DEFAULT" }));
    serde_json::Value::Array(items).to_string()
}

/// One open websocket connection.
pub struct WsSession {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    config: WsConfig,
    last_data: Instant,
    next_ping: Instant,
    /// One timer for both the idle watchdog and the keep-alive ping, armed for the earlier
    /// of the two. It is not moved on every frame: when it fires, the deadlines are
    /// checked against the current `last_data` and it is re-armed, so a busy stream costs
    /// one timer update per idle period instead of two timer registrations per frame.
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
    url: String,
}

/// tungstenite's read buffer. Every read zero-fills the whole buffer before the syscall
/// (128 KiB by default: two 128 KiB memsets per wake-up at low rates, the final read being
/// the one that finds the socket empty); 16 KiB still takes ~30 trade frames per read.
const READ_BUFFER: usize = 16 << 10;

impl std::fmt::Debug for WsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsSession").field("url", &self.url).finish()
    }
}

impl WsSession {
    /// Connects; with `credentials` the upgrade carries `Authorization: Bearer <jwt>` (a
    /// new token per connect, since Upbit validates it only then).
    pub async fn connect(
        url: &str,
        credentials: Option<&Credentials>,
        config: &WsConfig,
    ) -> Result<Self, WsError> {
        let mut request = url
            .into_client_request()
            .map_err(|e| WsError::Connect { url: url.to_string(), detail: e.to_string() })?;
        if let Some(c) = credentials {
            let token =
                c.token().map_err(|e| WsError::Connect { url: url.to_string(), detail: e.to_string() })?;
            let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|e| WsError::Connect { url: url.to_string(), detail: e.to_string() })?;
            value.set_sensitive(true);
            request.headers_mut().insert("Authorization", value);
        }
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(config.max_message_size))
            .max_frame_size(Some(config.max_message_size))
            .read_buffer_size(READ_BUFFER);
        let connect = connect_async_with_config(request, Some(ws_config), true);
        let (stream, _resp) = match tokio::time::timeout(config.connect_timeout, connect).await {
            Err(_) => {
                return Err(WsError::ConnectTimeout { url: url.to_string(), after: config.connect_timeout });
            }
            Ok(Err(WsLibError::Http(resp))) if matches!(resp.status().as_u16(), 401 | 403) => {
                return Err(WsError::Unauthorized { detail: format!("HTTP {} on upgrade", resp.status()) });
            }
            Ok(Err(e)) => return Err(WsError::Connect { url: url.to_string(), detail: e.to_string() }),
            Ok(Ok(x)) => x,
        };
        let now = Instant::now();
        Ok(WsSession {
            stream,
            last_data: now,
            next_ping: now + config.ping_interval,
            timer: Box::pin(tokio::time::sleep_until(
                (now + config.ping_interval.min(config.idle_timeout)).into(),
            )),
            config: config.clone(),
            url: url.to_string(),
        })
    }

    /// Sends a text message (a subscription request).
    pub(crate) async fn send_text(&mut self, text: String) -> Result<(), WsError> {
        self.stream.send(Message::text(text)).await.map_err(|e| WsError::Io(e.to_string()))
    }

    /// Reads the next data frame, answering pings, sending keep-alive pings and enforcing
    /// the idle timeout. Cancel-safe between frames (use inside `select!`).
    pub async fn next_frame(&mut self) -> Result<DataFrame, WsError> {
        loop {
            tokio::select! {
                biased;
                msg = self.stream.next() => match self.classify(msg) {
                    Some(r) => return r,
                    // Control frames: tungstenite queues the pong itself. Not liveness.
                    None => continue,
                },
                _ = self.timer.as_mut() => {
                    let now = Instant::now();
                    if now >= self.last_data + self.config.idle_timeout {
                        return Err(WsError::Idle { after: self.config.idle_timeout });
                    }
                    if now >= self.next_ping {
                        self.next_ping = now + self.config.ping_interval;
                        self.stream.send(Message::Ping(Bytes::new())).await.map_err(|e| WsError::Io(e.to_string()))?;
                        // Also the text `PING`: its `{"status":"UP"}` answer is data from the
                        // server's application, so a quiet but healthy stream (the private one
                        // with no orders; `myAsset` can be silent for hours) stays alive, while a
                        // half-open socket still goes idle. Pongs alone never count.
                        self.stream.send(Message::text("PING")).await.map_err(|e| WsError::Io(e.to_string()))?;
                    }
                    let next = (self.last_data + self.config.idle_timeout).min(self.next_ping);
                    self.timer.as_mut().reset(next.into());
                }
            }
        }
    }

    /// The next data frame if one is already readable, without waiting: `None` when the
    /// socket has nothing buffered (the caller then goes back to [`Self::next_frame`]).
    /// Lets a reader drain a burst of frames and wake its consumers once per burst.
    /// Control frames are handled as in `next_frame`; errors end the session the same way.
    pub(crate) async fn try_next_frame(&mut self) -> Option<Result<DataFrame, WsError>> {
        loop {
            let polled =
                std::future::poll_fn(|cx| std::task::Poll::Ready(self.stream.poll_next_unpin(cx))).await;
            let msg = match polled {
                std::task::Poll::Pending => return None,
                std::task::Poll::Ready(m) => m,
            };
            match self.classify(msg) {
                Some(r) => return Some(r),
                None => continue,
            }
        }
    }

    /// What one read from the socket means for the session: a data frame, the end of the
    /// session (`Some(Err)`), or a control frame to skip (`None`). Data frames refresh
    /// the idle watchdog; control frames never do.
    fn classify(&mut self, msg: Option<Result<Message, WsLibError>>) -> Option<Result<DataFrame, WsError>> {
        let received = Instant::now();
        Some(match msg {
            Some(Ok(Message::Binary(bytes))) => {
                self.last_data = received;
                Ok(DataFrame { bytes, received })
            }
            Some(Ok(Message::Text(text))) => {
                self.last_data = received;
                Ok(DataFrame { bytes: Bytes::from(text), received })
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => return None,
            Some(Ok(Message::Close(frame))) => Err(closed(frame)),
            Some(Err(WsLibError::Capacity(CapacityError::MessageTooLong { .. }))) => {
                Err(WsError::Oversize { limit: self.config.max_message_size })
            }
            Some(Err(WsLibError::Utf8(detail))) => Err(WsError::InvalidText { detail }),
            Some(Err(e)) => Err(WsError::Io(e.to_string())),
            None => Err(WsError::Closed { detail: "eof".into() }),
        })
    }

    /// Closes politely (best effort).
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}

impl StreamDecoder for Decoder {
    fn decode(&mut self, msg: &[u8]) -> Result<Decoded, DecodeError> {
        Decoder::decode(self, msg)
    }
}

/// Both URLs under a base (`ws://127.0.0.1:port` → `…/websocket/v1` and
/// `…/websocket/v1/private`). A base given as the public URL itself (`…/websocket/v1`, as
/// `hoga sim` prints it) is taken as meant, not doubled.
pub(crate) fn urls_for_base(base: &str) -> (String, String) {
    let base = base.trim_end_matches('/');
    let base = base.strip_suffix("/websocket/v1/private").unwrap_or(base);
    let base = base.strip_suffix("/websocket/v1").unwrap_or(base);
    (format!("{base}/websocket/v1"), format!("{base}/websocket/v1/private"))
}

impl StreamSession for WsSession {
    const PUBLIC_URL: &'static str = PUBLIC_URL;
    const PRIVATE_URL: &'static str = PRIVATE_URL;

    type Decoder = Decoder;

    fn urls_for_base(base: &str) -> (String, String) {
        urls_for_base(base)
    }

    fn can_stream(kind: StreamKind) -> bool {
        wire_type(kind).is_some()
    }

    fn kind_of(name: &str) -> Option<StreamKind> {
        match name {
            "ticker" => Some(StreamKind::Ticker),
            "trade" => Some(StreamKind::Trade),
            "orderbook" => Some(StreamKind::OrderBook),
            "myOrder" => Some(StreamKind::MyOrder),
            "myAsset" => Some(StreamKind::MyAsset),
            "announcement" => Some(StreamKind::Announcement),
            other => wire::timeframe_of_candle_type(other).map(StreamKind::Candle),
        }
    }

    fn connect(
        url: &str,
        credentials: Option<&Credentials>,
        config: &WsConfig,
    ) -> impl Future<Output = Result<Self, WsError>> + Send {
        WsSession::connect(url, credentials, config)
    }

    async fn subscribe(&mut self, streams: &[(StreamKind, Vec<MarketId>)]) -> Result<(), WsError> {
        let ticket = uuid::Uuid::new_v4().to_string();
        self.send_text(build_request(&ticket, streams)).await
    }

    fn next_frame(&mut self) -> impl Future<Output = Result<DataFrame, WsError>> + Send {
        WsSession::next_frame(self)
    }

    fn try_next_frame(&mut self) -> impl Future<Output = Option<Result<DataFrame, WsError>>> + Send {
        WsSession::try_next_frame(self)
    }

    fn close(self) -> impl Future<Output = ()> + Send {
        WsSession::close(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::types::{Side, Timeframe};

    #[test]
    fn request_carries_every_stream_and_the_format_last() {
        let r = build_request(
            "t1",
            &[
                (StreamKind::Ticker, vec![MarketId::new("KRW-BTC"), MarketId::new("KRW-ETH")]),
                (StreamKind::Candle(Timeframe::M1), vec![MarketId::new("KRW-BTC")]),
                (StreamKind::Candle(Timeframe::D1), vec![MarketId::new("KRW-BTC")]),
                (StreamKind::MyAsset, vec![]),
            ],
        );
        assert_eq!(
            r,
            r#"[{"ticket":"t1"},{"codes":["KRW-BTC","KRW-ETH"],"type":"ticker"},{"codes":["KRW-BTC"],"type":"candle.1m"},{"type":"myAsset"},{"format":"DEFAULT"}]"#
        );
    }

    /// A grouped book (호가 모아보기) is its own `orderbook` object with a numeric `level`,
    /// beside the plain one of the same market (Upbit takes several `orderbook` objects
    /// with different levels in one request).
    #[test]
    fn a_grouped_book_is_requested_with_its_level() {
        let btc = || vec![MarketId::new("KRW-BTC")];
        let r = build_request(
            "t1",
            &[
                (StreamKind::OrderBook, btc()),
                (StreamKind::GroupedBook(rust_decimal_macros::dec!(10000.0)), btc()),
                (StreamKind::GroupedBook(rust_decimal_macros::dec!(0.1)), vec![MarketId::new("KRW-DOGE")]),
            ],
        );
        assert_eq!(
            r,
            r#"[{"ticket":"t1"},{"codes":["KRW-BTC"],"type":"orderbook"},{"codes":["KRW-BTC"],"level":10000,"type":"orderbook"},{"codes":["KRW-DOGE"],"level":0.1,"type":"orderbook"},{"format":"DEFAULT"}]"#
        );
    }

    /// Upbit's grouped book message (its documented REST example's numbers, the stream's
    /// fields) decodes with its level and is routed as the grouped stream, not the plain
    /// book that fills and the price board read.
    #[test]
    fn a_grouped_book_message_is_the_grouped_stream() {
        let frame = br#"{"type":"orderbook","code":"KRW-BTC","timestamp":1751606867762,"total_ask_size":10.37591054,"total_bid_size":9.49577219,"orderbook_units":[{"ask_price":148520000,"bid_price":148490000,"ask_size":0.0134662,"bid_size":0.04296774}],"level":10000,"stream_type":"SNAPSHOT"}"#;
        let Ok(Decoded::Event(ev)) = decode(frame) else { panic!("{:?}", decode(frame)) };
        let StreamEvent::OrderBook(b) = &ev else { panic!("{ev:?}") };
        assert_eq!(b.level, rust_decimal_macros::dec!(10000));
        assert_eq!(b.levels[0].ask_price, rust_decimal_macros::dec!(148520000));
        assert_eq!(StreamKind::of(&ev), StreamKind::GroupedBook(rust_decimal_macros::dec!(10000)));
        let plain = String::from_utf8_lossy(frame).replace("\"level\":10000", "\"level\":0");
        let Ok(Decoded::Event(ev)) = decode(plain.as_bytes()) else { panic!() };
        assert_eq!(StreamKind::of(&ev), StreamKind::OrderBook);
    }

    #[test]
    fn a_ws_base_given_as_the_public_url_is_not_doubled() {
        for base in [
            "ws://127.0.0.1:9000",
            "ws://127.0.0.1:9000/",
            "ws://127.0.0.1:9000/websocket/v1",
            "ws://127.0.0.1:9000/websocket/v1/",
            "ws://127.0.0.1:9000/websocket/v1/private",
        ] {
            let (public, private) = urls_for_base(base);
            assert_eq!(public, "ws://127.0.0.1:9000/websocket/v1", "{base}");
            assert_eq!(private, "ws://127.0.0.1:9000/websocket/v1/private", "{base}");
        }
    }

    #[test]
    fn stream_names_and_what_upbit_streams() {
        assert!(<WsSession as StreamSession>::can_stream(StreamKind::Candle(Timeframe::H4)));
        assert!(!<WsSession as StreamSession>::can_stream(StreamKind::Candle(Timeframe::D1)));
        assert!(<WsSession as StreamSession>::can_stream(StreamKind::MyAsset));
        assert_eq!(WsSession::kind_of("candle.60m"), Some(StreamKind::Candle(Timeframe::H1)));
        assert_eq!(WsSession::kind_of("myOrder"), Some(StreamKind::MyOrder));
        assert_eq!(WsSession::kind_of("candle.1h"), None, "hoga's label, not Upbit's name");
    }

    #[test]
    fn decodes_each_kind_and_tolerates_garbage() {
        let trade = br#"{"type":"trade","code":"KRW-BTC","timestamp":1,"trade_date":"2024-10-31","trade_time":"01:07:42","trade_timestamp":1,"trade_price":100,"trade_volume":0.5,"ask_bid":"ASK","prev_closing_price":1,"change":"FALL","change_price":1,"sequential_id":7,"stream_type":"REALTIME"}"#;
        match decode(trade).unwrap() {
            Decoded::Event(StreamEvent::Trade(t)) => {
                assert_eq!((t.side, t.sequential_id), (Some(Side::Ask), 7))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(decode(br#"{"status":"UP"}"#).unwrap(), Decoded::Status);
        assert!(matches!(
            decode(br#"{"error":{"name":"WRONG_FORMAT","message":"x"}}"#).unwrap(),
            Decoded::Error { name, refuses_auth: false, .. } if name == "WRONG_FORMAT"
        ));
        assert!(matches!(
            decode(br#"{"error":{"name":"INVALID_AUTH","message":"x"}}"#).unwrap(),
            Decoded::Error { refuses_auth: true, .. }
        ));
        assert_eq!(decode(br#"{"type":"nft","x":1}"#).unwrap(), Decoded::Unknown("nft".into()));
        assert!(decode(b"not json").is_err());
        assert!(decode(&[0xff, 0xfe, b'{']).is_err());
        assert!(decode(br#"{"type":"trade","code":"KRW-BTC"}"#).is_err());
    }

    #[test]
    fn decoder_reads_what_the_full_wire_structs_read() {
        use crate::exchange::upbit::wire::{WireCandle, WireTicker, WireTrade};
        let ticker = br#"{"type":"ticker","code":"KRW-BTC","opening_price":1.5e3,"high_price":2,"low_price":1,"trade_price":100473000.5,"prev_closing_price":1,"change":"RISE","change_price":0,"signed_change_price":-3,"change_rate":0,"signed_change_rate":-0.0126,"trade_volume":0.00014208,"acc_trade_volume":1,"acc_trade_volume_24h":1,"acc_trade_price":105514711074.18726,"acc_trade_price_24h":1386929.37231066771348207,"trade_date":"20241031","trade_time":"010742","trade_timestamp":1730336862047,"ask_bid":"BID","acc_ask_volume":1,"acc_bid_volume":1,"highest_52_week_price":1,"highest_52_week_date":"2024-01-01","lowest_52_week_price":1,"lowest_52_week_date":"2024-01-01","market_state":"ACTIVE","timestamp":1730336862082,"stream_type":"SNAPSHOT"}"#;
        let trade = br#"{"type":"trade","code":"krw-eth","timestamp":2,"trade_date":"2024-10-31","trade_time":"01:07:42","trade_timestamp":1,"trade_price":1e2,"trade_volume":0.5,"ask_bid":"BID","prev_closing_price":1,"change":"FALL","change_price":1,"sequential_id":17303368620470000}"#;
        let candle = br#"{"type":"candle.1s","code":"KRW-BTC","candle_date_time_utc":"2025-01-02T03:04:05","candle_date_time_kst":"2025-01-02T12:04:05","opening_price":1,"high_price":3,"low_price":0.5,"trade_price":2,"candle_acc_trade_volume":1.25,"candle_acc_trade_price":2.5,"timestamp":1735787045000,"stream_type":"REALTIME"}"#;
        let mut d = Decoder::default();
        let want = serde_json::from_slice::<WireTicker>(ticker).unwrap().to_ticker();
        assert_eq!(d.decode(ticker).unwrap(), Decoded::Event(StreamEvent::Ticker(want)));
        let want = serde_json::from_slice::<WireTrade>(trade).unwrap().to_trade();
        assert_eq!(want.market.as_str(), "KRW-ETH");
        assert_eq!(d.decode(trade).unwrap(), Decoded::Event(StreamEvent::Trade(want.clone())));
        // The cached market id is the same value the second time.
        assert_eq!(d.decode(trade).unwrap(), Decoded::Event(StreamEvent::Trade(want)));
        let want = serde_json::from_slice::<WireCandle>(candle).unwrap().to_candle(Timeframe::S1).unwrap();
        assert_eq!(d.decode(candle).unwrap(), Decoded::Event(StreamEvent::Candle(want)));
        assert_eq!(decode(candle).unwrap(), d.decode(candle).unwrap());
    }

    #[test]
    fn my_order_with_an_unknown_side_is_kept_and_an_out_of_band_number_refused() {
        let o = r#"{"type":"myOrder","code":"KRW-BTC","uuid":"u","ask_bid":"BID","order_type":"limit","state":"trade","trade_uuid":"t","price":100,"volume":1,"remaining_volume":0,"executed_volume":1,"trades_count":1,"reserved_fee":0,"remaining_fee":0,"paid_fee":0,"locked":0,"executed_funds":100,"order_timestamp":1,"timestamp":1}"#;
        match decode(o.as_bytes()).unwrap() {
            Decoded::Event(StreamEvent::Order(u)) => {
                assert_eq!(
                    u.fill.map(|f| (f.side, f.funds)),
                    Some((Some(Side::Bid), rust_decimal::Decimal::from(100)))
                )
            }
            other => panic!("{other:?}"),
        }
        // An unknown side (and type): the frame is used, the side is not guessed.
        let odd = o.replace(r#""BID""#, r#""BOTH""#).replace(r#""limit""#, r#""stop_limit""#);
        match decode(odd.as_bytes()).unwrap() {
            Decoded::Event(StreamEvent::Order(u)) => {
                assert_eq!((u.side, u.ord_type.as_str(), u.executed_volume), (None, "stop_limit", 1.into()));
                assert_eq!(u.fill.map(|f| (f.side, f.volume)), Some((None, 1.into())));
            }
            other => panic!("{other:?}"),
        }
        // On a fill the price is the fill price: 0 is refused.
        let e = decode(o.replace(r#""price":100"#, r#""price":0"#).as_bytes()).unwrap_err();
        assert!(e.detail.contains("fill price"), "{e}");
        let e = decode(o.replace(r#""locked":0"#, r#""locked":-1"#).as_bytes()).unwrap_err();
        assert!(e.detail.contains("locked"), "{e}");
        // An unknown state is kept (never taken for done).
        match decode(o.replace(r#""trade""#, r#""held""#).as_bytes()).unwrap() {
            Decoded::Event(StreamEvent::Order(u)) => {
                assert_eq!(u.state, crate::exchange::types::OrderState::Unknown)
            }
            other => panic!("{other:?}"),
        }
        // A nested object before the top-level type: parsed fully, decoded as its type.
        let nested = o.replacen('{', r#"{"extra":{"type":"x"},"#, 1);
        assert!(matches!(decode(nested.as_bytes()).unwrap(), Decoded::Event(StreamEvent::Order(_))));
    }

    /// One absurd print becomes the day's high (and stays it until midnight): the ticker's
    /// price must still arrive, with the figure outside its band shown as not known. It
    /// used to refuse every ticker of the market for the rest of the day, and every stop
    /// on it went STALE.
    #[test]
    fn a_context_figure_out_of_band_is_not_known_and_the_price_still_arrives() {
        let mut d = Decoder::default();
        let frame = br#"{"type":"ticker","code":"KRW-BTC","opening_price":1,"high_price":79000000000000000000000000000,"low_price":1,"trade_price":146000000,"prev_closing_price":-4,"change":"RISE","signed_change_price":1e20,"signed_change_rate":1e9,"trade_volume":1e20,"acc_trade_price":-1,"acc_trade_price_24h":1,"acc_trade_volume_24h":1,"highest_52_week_price":1,"lowest_52_week_price":1,"trade_timestamp":1730336862047,"timestamp":1730336862082,"stream_type":"REALTIME"}"#;
        let Ok(Decoded::Event(StreamEvent::Ticker(t))) = d.decode(frame) else {
            panic!("the ticker was refused: {:?}", d.decode(frame));
        };
        assert_eq!(t.trade_price, rust_decimal_macros::dec!(146000000));
        for v in [
            t.high_price,
            t.prev_closing_price,
            t.signed_change_price,
            t.signed_change_rate,
            t.trade_volume,
            t.acc_trade_price,
        ] {
            assert_eq!(v, rust_decimal::Decimal::ZERO, "out of band: not known");
        }
        assert_eq!(t.opening_price, rust_decimal::Decimal::ONE, "in-band figures are kept");
        // (Noted once in the log: `note_out_of_band`.)
        // The price itself is still checked: out of band, the ticker is refused.
        let bad = String::from_utf8_lossy(frame).replace("\"trade_price\":146000000", "\"trade_price\":0");
        assert!(d.decode(bad.as_bytes()).is_err());
    }

    #[test]
    fn malformed_numbers_and_frames_are_errors_naming_the_value() {
        let mut d = Decoder::default();
        for (bad, needle) in [
            (
                r#"{"type":"trade","code":"KRW-BTC","trade_price":"1O0","trade_volume":1,"ask_bid":"BID","trade_timestamp":1,"timestamp":1,"sequential_id":1}"#,
                "1O0",
            ),
            (
                r#"{"type":"trade","code":"KRW-BTC","trade_price":1e999,"trade_volume":1,"ask_bid":"BID","trade_timestamp":1,"timestamp":1,"sequential_id":1}"#,
                "1e999",
            ),
            (
                r#"{"type":"trade","code":"KRW-BTC","trade_price":null,"trade_volume":1,"ask_bid":"BID","trade_timestamp":1,"timestamp":1,"sequential_id":1}"#,
                "null",
            ),
            (
                r#"{"type":"orderbook","code":"KRW-BTC","timestamp":1,"total_ask_size":1,"total_bid_size":1,"orderbook_units":[{"ask_price":true,"bid_price":1,"ask_size":1,"bid_size":1}]}"#,
                "true",
            ),
            (
                r#"{"type":"orderbook","code":"KRW-BTC","timestamp":1,"total_ask_size":1,"total_bid_size":1,"orderbook_units":7}"#,
                "orderbook units",
            ),
            (
                r#"{"type":"trade","code":"KRW-BTC","trade_price":1,"trade_volume":1,"ask_bid":"BID","trade_timestamp":1"#,
                "EOF",
            ),
        ] {
            let e = d.decode(bad.as_bytes()).unwrap_err();
            assert!(e.detail.contains(needle), "{bad}: {e}");
        }
        let mut invalid = br#"{"type":"trade","code":"KRW-"#.to_vec();
        invalid.extend_from_slice(&[0xff, b'"', b'}']);
        assert!(d.decode(&invalid).is_err());
    }
}
