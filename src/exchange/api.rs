//! Exchange-neutral streaming events: what a venue's websocket adapter produces and what
//! the feed routes. Market data reuses [`crate::exchange::types`]; private order and asset
//! updates get their own neutral shapes here.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::exchange::types::{
    Candle, Fill, MarketId, OrderBook, OrderState, OrderType, Side, StreamType, Ticker, TimeInForce, Trade,
};

/// A change to one of our orders (Upbit `myOrder`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderUpdate {
    /// Exchange order id.
    pub uuid: String,
    /// Our client id, if set.
    pub identifier: Option<String>,
    /// Market.
    pub market: MarketId,
    /// Side; `None` when the exchange sent one hoga does not know (never guessed: the
    /// order manager uses the side of the order it tracks).
    pub side: Option<Side>,
    /// Order type.
    pub ord_type: OrderType,
    /// New state (`Trade` = a fill happened).
    pub state: OrderState,
    /// Order price (or fill price on a fill).
    pub price: Option<Decimal>,
    /// Average fill price.
    pub avg_price: Option<Decimal>,
    /// Order volume (or fill volume on a fill).
    pub volume: Option<Decimal>,
    /// Volume still open.
    pub remaining_volume: Option<Decimal>,
    /// Volume filled so far.
    pub executed_volume: Decimal,
    /// Funds filled so far.
    pub executed_funds: Decimal,
    /// Fee paid so far.
    pub paid_fee: Decimal,
    /// Funds still locked.
    pub locked: Decimal,
    /// Fills so far.
    pub trades_count: u32,
    /// Time in force, if set.
    pub time_in_force: Option<TimeInForce>,
    /// The fill this update carries, when `state == Trade`.
    pub fill: Option<Fill>,
    /// Self-match prevention type as applied (`cancel_maker` by default since 2026-11-09).
    #[serde(default)]
    pub smp_type: Option<String>,
    /// Volume self-match prevention cancelled so far.
    #[serde(default)]
    pub prevented_volume: Decimal,
    /// What self-match prevention released so far: funds of a buy, volume of a sell.
    #[serde(default)]
    pub prevented_locked: Decimal,
    /// Message time (ms).
    pub timestamp: i64,
}

/// One currency's new balance (Upbit `myAsset` carries only the changed currencies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetBalance {
    /// Currency code.
    pub currency: String,
    /// Available.
    pub balance: Decimal,
    /// Locked.
    pub locked: Decimal,
}

/// A balance change (Upbit `myAsset`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetUpdate {
    /// Changed currencies.
    pub assets: Vec<AssetBalance>,
    /// Message time (ms).
    pub timestamp: i64,
}

/// An exchange announcement (Upbit `announcement`, private stream, realtime only): a new
/// notice or an update of one (same `id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    /// The exchange's id of the notice; an update carries the id of the notice it changes.
    pub id: String,
    /// True for an update of an earlier notice (`UPDATED`), false for a new one.
    pub updated: bool,
    /// Category as the exchange names it (`trade`, `notice`, …; lower case).
    pub category: String,
    /// Title.
    pub title: String,
    /// Link to the notice.
    pub url: Option<String>,
    /// Body (Markdown), when asked for and not too large.
    pub body: Option<String>,
    /// First publication time as sent (KST, ISO 8601).
    pub first_listed_at: Option<String>,
    /// Latest publication time as sent (KST, ISO 8601).
    pub listed_at: Option<String>,
    /// Message time (ms).
    pub timestamp: i64,
}

/// One decoded streaming message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum StreamEvent {
    /// Ticker update.
    Ticker(Ticker),
    /// Trade print.
    Trade(Trade),
    /// Full top-N book.
    OrderBook(OrderBook),
    /// Candle update (the same bucket may repeat; last wins).
    Candle(Candle),
    /// One of our orders changed.
    Order(OrderUpdate),
    /// Our balances changed.
    Asset(AssetUpdate),
    /// An exchange announcement.
    Announcement(Announcement),
}

impl StreamEvent {
    /// The market the event is about (`None` for balance updates).
    pub fn market(&self) -> Option<&MarketId> {
        match self {
            StreamEvent::Ticker(t) => t.market.as_ref(),
            StreamEvent::Trade(t) => Some(&t.market),
            StreamEvent::OrderBook(b) => b.market.as_ref(),
            StreamEvent::Candle(c) => Some(&c.market),
            StreamEvent::Order(o) => Some(&o.market),
            StreamEvent::Asset(_) | StreamEvent::Announcement(_) => None,
        }
    }

    /// The exchange's timestamp of the message (ms), for latency measurement.
    pub(crate) fn exchange_ts(&self) -> i64 {
        match self {
            StreamEvent::Ticker(t) => t.timestamp,
            StreamEvent::Trade(t) => t.timestamp,
            StreamEvent::OrderBook(b) => b.timestamp,
            StreamEvent::Candle(c) => c.timestamp,
            StreamEvent::Order(o) => o.timestamp,
            StreamEvent::Asset(a) => a.timestamp,
            StreamEvent::Announcement(a) => a.timestamp,
        }
    }

    /// Whether the event is news: a live update, not the state replayed on subscribing
    /// (a quiet market's ticker snapshot can be minutes old). Candles are not counted as
    /// news either: they are pushed at most once a second and their snapshot may be an
    /// older bucket. Only news measures how far behind the exchange we are.
    pub(crate) fn is_live_news(&self) -> bool {
        match self {
            StreamEvent::Ticker(t) => t.stream_type == StreamType::Realtime,
            StreamEvent::Trade(t) => t.stream_type == StreamType::Realtime,
            StreamEvent::OrderBook(b) => b.stream_type == StreamType::Realtime,
            // A notice's timestamp is when it was published, not how late the stream is.
            StreamEvent::Candle(_) | StreamEvent::Announcement(_) => false,
            StreamEvent::Order(_) | StreamEvent::Asset(_) => true,
        }
    }
}

/// A kind of stream a subscriber can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// Tickers.
    Ticker,
    /// Trade prints.
    Trade,
    /// Order books.
    OrderBook,
    /// Order books grouped by the exchange into price buckets of this unit (Upbit's
    /// orderbook `level`, KRW markets only), for display: bucket prices are not prices.
    GroupedBook(rust_decimal::Decimal),
    /// Candles of one timeframe.
    Candle(crate::exchange::types::Timeframe),
    /// Our order updates (private).
    MyOrder,
    /// Our balance updates (private).
    MyAsset,
    /// Exchange announcements (private: the exchange wants a key, not a permission).
    Announcement,
}

impl StreamKind {
    /// True for streams that need an authenticated connection.
    pub(crate) fn is_private(self) -> bool {
        matches!(self, StreamKind::MyOrder | StreamKind::MyAsset | StreamKind::Announcement)
    }

    /// True when the stream is addressed by market (everything but `MyAsset` and
    /// announcements).
    pub(crate) fn has_markets(self) -> bool {
        !matches!(self, StreamKind::MyAsset | StreamKind::Announcement)
    }

    /// Short label for tables and the CLI.
    pub fn label(self) -> String {
        match self {
            StreamKind::Ticker => "ticker".into(),
            StreamKind::Trade => "trade".into(),
            StreamKind::OrderBook => "orderbook".into(),
            StreamKind::GroupedBook(level) => format!("orderbook.level{}", level.normalize()),
            StreamKind::Candle(tf) => format!("candle.{}", tf.label()),
            StreamKind::MyOrder => "my_order".into(),
            StreamKind::MyAsset => "my_asset".into(),
            StreamKind::Announcement => "announcement".into(),
        }
    }

    /// The kind of a decoded event.
    pub fn of(event: &StreamEvent) -> StreamKind {
        match event {
            StreamEvent::Ticker(_) => StreamKind::Ticker,
            StreamEvent::Trade(_) => StreamKind::Trade,
            StreamEvent::OrderBook(b) if !b.level.is_zero() => StreamKind::GroupedBook(b.level.normalize()),
            StreamEvent::OrderBook(_) => StreamKind::OrderBook,
            StreamEvent::Candle(c) => StreamKind::Candle(c.timeframe),
            StreamEvent::Order(_) => StreamKind::MyOrder,
            StreamEvent::Asset(_) => StreamKind::MyAsset,
            StreamEvent::Announcement(_) => StreamKind::Announcement,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_live_updates_count_as_news() {
        let snapshot = Ticker { stream_type: StreamType::Snapshot, ..Ticker::default() };
        assert!(!StreamEvent::Ticker(snapshot).is_live_news());
        assert!(StreamEvent::Ticker(Ticker::default()).is_live_news());
        let book = OrderBook { stream_type: StreamType::Snapshot, ..OrderBook::default() };
        assert!(!StreamEvent::OrderBook(book).is_live_news());
    }
}
