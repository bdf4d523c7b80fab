//! The neutral streaming session: what the feed's connection tasks drive, whatever the
//! venue. A venue adapter implements [`StreamSession`] (connect, subscribe to the whole
//! set, read frames with keep-alive and an idle watchdog) and [`StreamDecoder`] (a frame
//! into one [`Decoded`] message of neutral [`StreamEvent`]s); its REST client names the
//! session type through [`StreamVenue`], so the feed is built from the client alone.
//!
//! The feed is generic over these traits, not a trait object: every frame goes through
//! monomorphized code, with no dynamic dispatch or allocation added per message.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio_tungstenite::tungstenite::Bytes;

use crate::exchange::api::{StreamEvent, StreamKind};
use crate::exchange::credentials::Credentials;
use crate::exchange::rest::RestApi;
use crate::exchange::types::MarketId;

/// Session timing and size limits.
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// TCP + TLS + upgrade must finish within this.
    pub connect_timeout: Duration,
    /// Send a ping frame this often (Upbit closes after 120 s idle).
    pub ping_interval: Duration,
    /// No DATA frame for this long → the connection is dead (well under 120 s).
    pub idle_timeout: Duration,
    /// Frames/messages larger than this end the session (tungstenite's default is 64 MiB).
    pub max_message_size: usize,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            connect_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(65),
            max_message_size: 4 << 20,
        }
    }
}

/// Why a session could not start or ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsError {
    /// TCP/TLS/upgrade failed.
    #[error("websocket connect to {url} failed: {detail}")]
    Connect {
        /// URL.
        url: String,
        /// Why.
        detail: String,
    },
    /// The upgrade did not finish in time (silent server).
    #[error("websocket connect to {url} timed out after {after:?}")]
    ConnectTimeout {
        /// URL.
        url: String,
        /// The timeout.
        after: Duration,
    },
    /// The server refused our credentials (HTTP 401/403 on upgrade, or a Close frame whose
    /// reason is about authentication, such as `INVALID_AUTH`).
    #[error("websocket authentication refused: {detail}")]
    Unauthorized {
        /// Status or message.
        detail: String,
    },
    /// The server closed the connection.
    #[error("websocket closed by server: {detail}")]
    Closed {
        /// Close code/reason or "eof".
        detail: String,
    },
    /// No data within the idle timeout.
    #[error("websocket idle: no data for {after:?}")]
    Idle {
        /// The idle timeout.
        after: Duration,
    },
    /// A frame over the size cap.
    #[error("websocket frame over the {limit}-byte cap")]
    Oversize {
        /// The cap.
        limit: usize,
    },
    /// A text frame that is not UTF-8. RFC 6455 (§8.1) makes the client fail the
    /// connection: the feed counts it with the parse errors and reconnects. (A binary
    /// frame that is not UTF-8 is only a parse error and the session goes on.)
    #[error("websocket text frame is not UTF-8: {detail}")]
    InvalidText {
        /// The decoder's message.
        detail: String,
    },
    /// Read/write failure.
    #[error("websocket i/o: {0}")]
    Io(String),
}

/// One decoded message.
// The event variant dominates and is moved straight into an `Arc`; boxing it would add an
// allocation per message for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A market or private event.
    Event(StreamEvent),
    /// A liveness answer (Upbit: `{"status":"UP"}` to a text `PING`).
    Status,
    /// An error message from the server (Upbit: `{"error":{"name":…,"message":…}}`).
    Error {
        /// The server's error name (Upbit: `INVALID_AUTH`, `WRONG_FORMAT`, …).
        name: String,
        /// Message.
        message: String,
        /// True when it refuses our credentials (Upbit: `INVALID_AUTH`): on the private
        /// stream that ends the session for REST polling, like a refused upgrade.
        refuses_auth: bool,
    },
    /// An answer listing the current subscriptions (raw JSON).
    ListSubscriptions(serde_json::Value),
    /// A message type we do not know (tolerated, counted).
    Unknown(String),
}

/// A message that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable websocket message ({detail}): {sample}")]
pub struct DecodeError {
    /// Parser message.
    pub detail: String,
    /// The first bytes of the message, lossily decoded.
    pub sample: String,
}

/// One data frame, as [`StreamSession::next_frame`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFrame {
    /// The payload (text or binary frame; both carry UTF-8 JSON).
    pub bytes: Bytes,
    /// When it was read (monotonic).
    pub received: Instant,
}

/// Decodes a venue's frames. One per session (it may cache, e.g. market ids), no lock.
pub trait StreamDecoder: Default + Send + 'static {
    /// Decodes one message.
    fn decode(&mut self, msg: &[u8]) -> Result<Decoded, DecodeError>;
}

/// One open streaming connection of a venue. Reconnecting, epochs and resubscription
/// belong to the feed; a session is one connection.
pub trait StreamSession: Sized + Send + 'static {
    /// The venue's public (market data) stream.
    const PUBLIC_URL: &'static str;
    /// The venue's private (our orders and balances) stream.
    const PRIVATE_URL: &'static str;

    /// The decoder of this venue's frames.
    type Decoder: StreamDecoder;

    /// The public and private URLs under one base (a simulator, a test server). A base
    /// given as the public URL itself is taken as meant, not extended twice.
    fn urls_for_base(base: &str) -> (String, String);

    /// True when the venue streams `kind` (Upbit streams candles up to 240m only; longer
    /// ones come from REST).
    fn can_stream(kind: StreamKind) -> bool;

    /// The stream kind a venue's type name stands for (Upbit: `trade`, `candle.60m`).
    fn kind_of(name: &str) -> Option<StreamKind>;

    /// Connects; with `credentials` the connection is authenticated (private streams).
    fn connect(
        url: &str,
        credentials: Option<&Credentials>,
        config: &WsConfig,
    ) -> impl Future<Output = Result<Self, WsError>> + Send;

    /// Subscribes to the WHOLE set at once (a venue that replaces the previous
    /// subscription on every request, as Upbit does, gets the complete set every time).
    fn subscribe(
        &mut self,
        streams: &[(StreamKind, Vec<MarketId>)],
    ) -> impl Future<Output = Result<(), WsError>> + Send;

    /// Reads the next data frame, answering pings, sending keep-alive pings and enforcing
    /// the idle timeout. Cancel-safe between frames (use inside `select!`).
    fn next_frame(&mut self) -> impl Future<Output = Result<DataFrame, WsError>> + Send;

    /// The next data frame if one is already readable, without waiting: `None` when
    /// nothing is buffered. Lets a reader drain a burst and wake its consumers once.
    fn try_next_frame(&mut self) -> impl Future<Output = Option<Result<DataFrame, WsError>>> + Send;

    /// Closes politely (best effort).
    fn close(self) -> impl Future<Output = ()> + Send;
}

/// A venue's REST client that also names the venue's stream session, so a feed built
/// from the client streams from the same venue.
pub trait StreamVenue: RestApi {
    /// The session type.
    type Session: StreamSession;
}
