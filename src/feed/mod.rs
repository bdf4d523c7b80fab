//! The market-data feed: one [`FeedManager`] per process owns one public and one private
//! upstream websocket and fans events out to many cheap [`FeedProxy`]s, one per pane
//! (docs/ARCHITECTURE.md, "Market data").
//!
//! ```text
//!  panes ── FeedProxy::subscribe_*(markets, strategy) ──► Subscription (bounded queue)
//!                │ demand (ref-counted per stream × market)          ▲
//!                ▼                                                   │ router
//!  manager task: debounce → consolidated upstream set (+ grace) ──► connection tasks
//!                                                 public / private ws, recovery, epochs
//! ```
//!
//! Upbit replaces the subscription on every request, so each request carries the whole
//! consolidated set. Every event carries the epoch of the connection it came from; a
//! subscription never yields an event older than an epoch it has already seen.

pub mod backpressure;
pub mod manager;
pub mod metrics;
pub mod proxy;
pub mod recovery;
pub mod router;
pub mod stream_cli;
pub mod subscription;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::exchange::api::{StreamEvent, StreamKind};
use crate::exchange::credentials::Credentials;
use crate::exchange::rest::RestApi;
use crate::exchange::stream::{StreamSession, StreamVenue, WsConfig};
use crate::exchange::types::{Balance, MarketId, Order};

pub use backpressure::Strategy;
pub use manager::{FeedHandle, FeedManager};
pub use metrics::{
    ConnSnapshot, ConnState, FeedHealth, Health, LatencySummary, StreamRate, SubscriberSnapshot,
};
pub use proxy::{FeedProxy, FromFeed, MyAssetEvent, MyOrderEvent, Subscription};

/// What a subscriber receives.
// Lives inside an `Arc<FeedEvent>` shared by all subscribers; boxing the big variant would
// cost an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum FeedPayload {
    /// A streamed (or REST-snapshot) market/private event.
    Stream(StreamEvent),
    /// Open orders fetched by REST to close a private-stream gap or while polling.
    OpenOrders(Vec<Order>),
    /// Balances fetched by REST to close a private-stream gap or while polling.
    Balances(Vec<Balance>),
}

/// One routed event, shared (`Arc`) between all subscribers that want it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    /// Epoch of the connection that produced it (REST gap fills use the new epoch).
    pub epoch: u64,
    /// When the frame was read (monotonic).
    pub received: Instant,
    /// The event.
    pub payload: FeedPayload,
}

impl FeedEvent {
    /// The stream kind this event belongs to.
    pub fn kind(&self) -> StreamKind {
        match &self.payload {
            FeedPayload::Stream(e) => StreamKind::of(e),
            FeedPayload::OpenOrders(_) => StreamKind::MyOrder,
            FeedPayload::Balances(_) => StreamKind::MyAsset,
        }
    }

    /// The market, when the event is about one.
    pub fn market(&self) -> Option<&MarketId> {
        match &self.payload {
            FeedPayload::Stream(e) => e.market(),
            _ => None,
        }
    }

    /// Exchange timestamp (ms), 0 for REST lists.
    pub(crate) fn exchange_ts(&self) -> i64 {
        match &self.payload {
            FeedPayload::Stream(e) => e.exchange_ts(),
            _ => 0,
        }
    }
}

/// Feed settings. [`FeedConfig::new`] gives production values; tests shorten the timers.
#[derive(Debug, Clone)]
pub struct FeedConfig {
    /// The venue this feed streams, for its task names and log lines (a console runs one
    /// feed per venue). [`FeedConfig::new`] says Upbit.
    pub venue: crate::exchange::VenueId,
    /// Public quotation stream (the venue's, or the simulator's).
    pub ws_public_url: String,
    /// Private stream.
    pub ws_private_url: String,
    /// REST client for snapshots, gap fills and private polling.
    pub rest: Arc<dyn RestApi>,
    /// The venue's stream session, fixed by the client given to [`FeedConfig::new`].
    pub(crate) session: manager::SessionType,
    /// API keys for the private websocket; `None` = public data only.
    pub credentials: Option<Credentials>,
    /// Websocket session timing and size cap.
    pub ws: WsConfig,
    /// A released market stays upstream this long, so an immediate re-subscribe is free.
    pub grace: Duration,
    /// Subscription changes within this window are merged into one upstream request.
    pub debounce: Duration,
    /// First reconnect backoff (doubles, with jitter).
    pub backoff_initial: Duration,
    /// Reconnect backoff cap.
    pub backoff_max: Duration,
    /// Default queue capacity of lossy subscribers (events, or markets when coalescing).
    pub queue_capacity: usize,
    /// Capacity of lossless subscribers.
    pub lossless_capacity: usize,
    /// How long the router waits on a full lossless queue before dropping (and counting).
    /// A drop on the private stream is not silent: the account pump sees the count grow
    /// and resyncs orders and balances by REST at once (`console::trade::DropWatch`).
    pub lossless_stall: Duration,
    /// Fetch REST snapshots (tickers, books; open orders, balances) after each (re)connect.
    pub rest_gap_fill: bool,
    /// REST polling period when the private websocket is refused.
    pub private_poll: Duration,
    /// A wanted connection down longer than this makes health critical.
    pub(crate) critical_after: Duration,
    /// A connected stream with no ticker or order book event on any market for this long,
    /// or a watched market silent this long and beyond its usual pace, makes health
    /// degraded (`feed::metrics`).
    pub silent_after: Duration,
    /// Public stream only: after a light burst (fewer than [`GATHER_BELOW`] frames, so the
    /// socket is not saturated) that followed another within [`GATHER_IF_WITHIN`] gathers,
    /// wait this long before reading again, so the messages that
    /// arrive meanwhile are read, routed and delivered with one wake-up instead of one
    /// each. Zero (the default) reads as soon as anything arrives. A screen drawn at 30 fps
    /// loses nothing to a couple of milliseconds; the private stream (our orders and fills)
    /// never waits.
    pub public_read_gather: Duration,
}

/// A burst of at least this many frames means the socket is busy: read on at once.
pub(crate) const GATHER_BELOW: usize = 16;

/// Gather only when the previous burst ended less than this many gathers ago: a stream
/// that sends a message now and then is read as it comes.
pub(crate) const GATHER_IF_WITHIN: u32 = 4;

impl FeedConfig {
    /// Production defaults against the endpoints of the client's venue; the streams are
    /// that venue's sessions ([`StreamVenue::Session`]).
    pub fn new<R: StreamVenue>(rest: Arc<R>, credentials: Option<Credentials>) -> Self {
        FeedConfig {
            venue: crate::exchange::VenueId::Upbit,
            ws_public_url: R::Session::PUBLIC_URL.to_string(),
            ws_private_url: R::Session::PRIVATE_URL.to_string(),
            rest,
            session: manager::SessionType::of::<R::Session>(),
            credentials,
            ws: WsConfig::default(),
            grace: Duration::from_secs(10),
            debounce: Duration::from_millis(50),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            queue_capacity: 1024,
            lossless_capacity: 65_536,
            lossless_stall: Duration::from_secs(2),
            rest_gap_fill: true,
            private_poll: Duration::from_secs(5),
            critical_after: Duration::from_secs(30),
            silent_after: Duration::from_secs(10),
            public_read_gather: Duration::ZERO,
        }
    }

    /// Same defaults with both stream URLs derived from one base, as the venue lays them
    /// out (Upbit: `ws://127.0.0.1:port` → `…/websocket/v1` and `…/websocket/v1/private`;
    /// a base given as the public URL itself, as `hoga sim` prints it, is not doubled).
    pub fn with_ws_base(mut self, base: &str) -> Self {
        (self.ws_public_url, self.ws_private_url) = (self.session.urls_for_base)(base);
        self
    }
}
