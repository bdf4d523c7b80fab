//! `FeedProxy`: the cheap per-pane face of the feed.
//!
//! A proxy registers demand with the manager and hands back typed [`Subscription`]s, each
//! with its own bounded queue and strategy. Dropping a subscription releases its demand;
//! dropping the proxy releases everything it subscribed. REST snapshots go straight to the
//! shared REST client (its limiter keeps all panes together within Upbit's budget).

use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use crate::exchange::api::{Announcement, AssetUpdate, OrderUpdate, StreamEvent, StreamKind};
use crate::exchange::error::ExchangeError;
use crate::exchange::types::{Balance, Candle, MarketId, Order, OrderBook, Ticker, Timeframe, Trade};
use crate::feed::backpressure::{Strategy, SubQueue};
use crate::feed::manager::Shared;
use crate::feed::metrics::{FeedHealth, SubscriberSnapshot};
use crate::feed::{FeedEvent, FeedPayload};

/// Identifies one subscription.
pub(crate) type SubId = u64;

/// Extracts a subscriber's item type from a routed event.
pub trait FromFeed: Sized {
    /// The item, or `None` when the event is not of this type.
    fn from_feed(ev: &FeedEvent) -> Option<Self>;
}

macro_rules! from_stream {
    ($ty:ty, $variant:ident) => {
        impl FromFeed for $ty {
            fn from_feed(ev: &FeedEvent) -> Option<Self> {
                match &ev.payload {
                    FeedPayload::Stream(StreamEvent::$variant(x)) => Some(x.clone()),
                    _ => None,
                }
            }
        }
    };
}
from_stream!(Ticker, Ticker);
from_stream!(Trade, Trade);
from_stream!(OrderBook, OrderBook);
from_stream!(Candle, Candle);
from_stream!(Announcement, Announcement);

/// What a `my_order` subscriber receives.
// Updates dominate and are handed over by value once; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum MyOrderEvent {
    /// A live order change from the private websocket.
    Update(OrderUpdate),
    /// Open orders by REST: after a (re)connect to close the gap, or while polling because
    /// the private websocket is unavailable. Reconcile against it.
    Snapshot(Vec<Order>),
}

impl FromFeed for MyOrderEvent {
    fn from_feed(ev: &FeedEvent) -> Option<Self> {
        match &ev.payload {
            FeedPayload::Stream(StreamEvent::Order(o)) => Some(MyOrderEvent::Update(o.clone())),
            FeedPayload::OpenOrders(list) => Some(MyOrderEvent::Snapshot(list.clone())),
            _ => None,
        }
    }
}

/// What a `my_asset` subscriber receives.
#[derive(Debug, Clone, PartialEq)]
pub enum MyAssetEvent {
    /// Changed balances from the private websocket.
    Update(AssetUpdate),
    /// All balances by REST (gap fill or polling).
    Snapshot(Vec<Balance>),
}

impl FromFeed for MyAssetEvent {
    fn from_feed(ev: &FeedEvent) -> Option<Self> {
        match &ev.payload {
            FeedPayload::Stream(StreamEvent::Asset(a)) => Some(MyAssetEvent::Update(a.clone())),
            FeedPayload::Balances(list) => Some(MyAssetEvent::Snapshot(list.clone())),
            _ => None,
        }
    }
}

impl FromFeed for Arc<FeedEvent> {
    fn from_feed(ev: &FeedEvent) -> Option<Self> {
        Some(Arc::new(ev.clone()))
    }
}

/// A live subscription: a bounded queue with a strategy. Dropping it releases its demand.
pub struct Subscription<T> {
    inner: SubInner,
    _item: PhantomData<fn() -> T>,
}

/// The untyped part; its `Drop` releases the demand (so a subscription can change its item
/// type without releasing anything).
struct SubInner {
    id: SubId,
    queue: Arc<SubQueue>,
    shared: Arc<Shared>,
    last_epoch: u64,
}

impl Drop for SubInner {
    fn drop(&mut self) {
        self.shared.unregister(self.id);
    }
}

impl<T> std::fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("id", &self.inner.id).field("queue", &self.inner.queue).finish()
    }
}

impl<T: FromFeed> Subscription<T> {
    /// The next item. `None` once unsubscribed (after draining what was queued).
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            let ev = self.recv_event().await?;
            if let Some(item) = T::from_feed(&ev) {
                return Some(item);
            }
        }
    }

    /// The next item without waiting.
    pub fn try_recv(&mut self) -> Option<T> {
        loop {
            let ev = self.inner.queue.try_recv()?;
            if let Some(ev) = self.accept(ev)
                && let Some(item) = T::from_feed(&ev)
            {
                return Some(item);
            }
        }
    }
}

impl<T> Subscription<T> {
    /// The next raw event, with its epoch and receive time.
    pub async fn recv_event(&mut self) -> Option<Arc<FeedEvent>> {
        loop {
            let ev = self.inner.queue.recv().await?;
            if let Some(ev) = self.accept(ev) {
                return Some(ev);
            }
        }
    }

    /// Epoch filter and delivery latency: an event older than the newest epoch already
    /// delivered is skipped and counted (it describes a connection that no longer exists).
    fn accept(&mut self, ev: Arc<FeedEvent>) -> Option<Arc<FeedEvent>> {
        let m = &self.inner.shared.metrics;
        if ev.epoch < self.inner.last_epoch {
            m.stale_dropped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        self.inner.last_epoch = ev.epoch;
        m.delivery_latency.record(ev.received.elapsed().as_micros() as u64);
        Some(ev)
    }

    /// This subscription's id (for [`FeedProxy::unsubscribe`]).
    pub fn id(&self) -> SubId {
        self.inner.id
    }

    /// Events dropped or coalesced for this subscriber.
    pub fn drops(&self) -> u64 {
        self.inner.queue.drops()
    }

    /// Events waiting.
    pub fn depth(&self) -> usize {
        self.inner.queue.depth()
    }

    /// Newest epoch delivered so far (0 before the first event).
    pub fn epoch(&self) -> u64 {
        self.inner.last_epoch
    }

    /// The same subscription yielding raw events (`Arc<FeedEvent>`); demand is kept.
    pub fn into_raw(self) -> Subscription<Arc<FeedEvent>> {
        Subscription { inner: self.inner, _item: PhantomData }
    }
}

/// One pane's access to the feed. Create with [`crate::feed::FeedHandle::proxy`].
pub struct FeedProxy {
    name: Arc<str>,
    shared: Arc<Shared>,
    ids: Mutex<Vec<SubId>>,
}

impl std::fmt::Debug for FeedProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedProxy").field("name", &self.name).finish()
    }
}

impl FeedProxy {
    pub(crate) fn new(name: &str, shared: Arc<Shared>) -> Self {
        FeedProxy { name: Arc::from(name), shared, ids: Mutex::new(Vec::new()) }
    }

    /// The proxy's name (shown in the System pane).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn subscribe<T: FromFeed>(
        &self,
        kind: StreamKind,
        markets: &[MarketId],
        strategy: Strategy,
    ) -> Subscription<T> {
        let (id, queue) = self.shared.register(&self.name, kind, markets, strategy);
        self.ids.lock().unwrap_or_else(PoisonError::into_inner).push(id);
        Subscription {
            inner: SubInner { id, queue, shared: self.shared.clone(), last_epoch: 0 },
            _item: PhantomData,
        }
    }

    /// Tickers of `markets`.
    pub fn subscribe_ticker(&self, markets: &[MarketId], strategy: Strategy) -> Subscription<Ticker> {
        self.subscribe(StreamKind::Ticker, markets, strategy)
    }

    /// Trade prints of `markets`.
    pub fn subscribe_trade(&self, markets: &[MarketId], strategy: Strategy) -> Subscription<Trade> {
        self.subscribe(StreamKind::Trade, markets, strategy)
    }

    /// Order books (full top-N snapshots) of `markets`.
    pub fn subscribe_orderbook(&self, markets: &[MarketId], strategy: Strategy) -> Subscription<OrderBook> {
        self.subscribe(StreamKind::OrderBook, markets, strategy)
    }

    /// Order books of `markets` grouped by the exchange into buckets of `level` (Upbit's
    /// 호가 모아보기; KRW markets, and only the levels the market supports: Upbit sends
    /// nothing for another).
    pub fn subscribe_grouped_orderbook(
        &self,
        markets: &[MarketId],
        level: rust_decimal::Decimal,
        strategy: Strategy,
    ) -> Subscription<OrderBook> {
        self.subscribe(StreamKind::GroupedBook(level.normalize()), markets, strategy)
    }

    /// Candles of one timeframe (Upbit streams 1s … 240m).
    pub(crate) fn subscribe_candle(
        &self,
        markets: &[MarketId],
        tf: Timeframe,
        strategy: Strategy,
    ) -> Subscription<Candle> {
        self.subscribe(StreamKind::Candle(tf), markets, strategy)
    }

    /// Our order updates; empty `markets` = every market. Use [`Strategy::Lossless`].
    pub fn subscribe_my_order(&self, markets: &[MarketId], strategy: Strategy) -> Subscription<MyOrderEvent> {
        self.subscribe(StreamKind::MyOrder, markets, strategy)
    }

    /// Our balance updates (`myAsset` is not addressed by market).
    pub fn subscribe_my_asset(&self, strategy: Strategy) -> Subscription<MyAssetEvent> {
        self.subscribe(StreamKind::MyAsset, &[], strategy)
    }

    /// Exchange announcements (private stream; not addressed by market).
    pub fn subscribe_announcements(&self, strategy: Strategy) -> Subscription<Announcement> {
        self.subscribe(StreamKind::Announcement, &[], strategy)
    }

    /// Ends one subscription: its `recv` returns `None` after draining. Returns false when
    /// the id is not this proxy's (or already ended).
    pub fn unsubscribe(&self, id: SubId) -> bool {
        let mut ids = self.ids.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(pos) = ids.iter().position(|x| *x == id) else { return false };
        ids.swap_remove(pos);
        drop(ids);
        self.shared.unregister(id)
    }

    /// Ends every subscription of this proxy.
    pub fn unsubscribe_all(&self) {
        let ids = std::mem::take(&mut *self.ids.lock().unwrap_or_else(PoisonError::into_inner));
        for id in ids {
            self.shared.unregister(id);
        }
    }

    /// This proxy's live subscriptions.
    pub fn subscriptions(&self) -> Vec<SubscriberSnapshot> {
        self.shared.subscribers(Some(&self.name))
    }

    /// Feed health (the same snapshot for every proxy).
    pub fn health(&self) -> FeedHealth {
        self.shared.health()
    }

    /// REST ticker snapshot.
    pub async fn ticker(&self, markets: &[MarketId]) -> Result<Vec<Ticker>, ExchangeError> {
        self.shared.config.rest.tickers(markets).await
    }

    /// REST order-book snapshot (`count` levels, ≤ 30).
    pub async fn orderbook(&self, markets: &[MarketId], count: u32) -> Result<Vec<OrderBook>, ExchangeError> {
        self.shared.config.rest.orderbook(markets, count).await
    }

    /// REST candles, newest first (`count` ≤ 200).
    pub async fn candles(
        &self,
        market: &MarketId,
        tf: Timeframe,
        count: u32,
    ) -> Result<Vec<Candle>, ExchangeError> {
        self.shared.config.rest.candles(market, tf, count).await
    }

    /// REST candles that start before `before` (ms since the epoch), newest first
    /// (`count` ≤ 200): the page older than the oldest loaded. Empty at the start of the
    /// market's history.
    pub async fn candles_before(
        &self,
        market: &MarketId,
        tf: Timeframe,
        count: u32,
        before: i64,
    ) -> Result<Vec<Candle>, ExchangeError> {
        self.shared.config.rest.candles_before(market, tf, count, before).await
    }
}

impl Drop for FeedProxy {
    fn drop(&mut self) {
        self.unsubscribe_all();
    }
}
