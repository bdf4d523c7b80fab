//! Where orders go: the [`OrderVenue`] trait the order manager talks to, the order it is
//! given, and the error split every venue's answers are cut into.
//!
//! The error split is the heart of docs/RELIABILITY.md rule 1: a venue call ends in a definitive
//! answer ([`VenueError::Final`]), a provable non-send ([`VenueError::NotSent`]), or an
//! unknown outcome ([`VenueError::Ambiguous`]). Only the first two may close an intent,
//! and even a non-send is verified by one identifier query before it is closed. An
//! ambiguous create is never retried; the manager looks it up by identifier.
//! [`classify`] makes the split from the neutral [`ErrorKind`], so it is the same on
//! every venue; the adapter only says what kind each of its errors is.
//!
//! Methods take owned arguments and return `'static` boxed futures so the manager can keep
//! many calls in flight in one `FuturesUnordered` without spawning a task per call.

use std::future::Future;
use std::pin::Pin;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::exchange::error::{ErrorKind, ExchangeError};
use crate::exchange::types::{Balance, MarketId, Order, OrderType, Price, Qty, Side, TimeInForce};

/// A venue call in flight. Boxed and `'static` so the manager can poll many at once.
pub type VenueFuture<T> = Pin<Box<dyn Future<Output = Result<T, VenueError>> + Send + 'static>>;

/// The code of a refusal for a reused identifier. Adapters give it this code whatever the
/// venue calls it (Upbit's own name is this spelling).
pub const DUPLICATE_IDENTIFIER: &str = "duplicated_identifier";
/// The code of a refusal for an order the venue does not know (Upbit's spelling).
pub(crate) const ORDER_NOT_FOUND: &str = "order_not_found";

/// How a venue call failed. Never carries a secret or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VenueError {
    /// The venue answered: this request is definitively refused (business error, auth,
    /// 429 on a create, 418). `halt` says the whole trading state should stop (auth
    /// failures, blocks), with `message` as the hint for the person.
    #[error("venue refused ({code}): {message}")]
    Final {
        /// Venue error name (`insufficient_funds_bid`, `rate_limited`, …).
        code: String,
        /// Message, with a hint where one exists.
        message: String,
        /// True when trading must halt (auth/permission/IP/block).
        halt: bool,
    },
    /// The request provably never left (connect refused, request not built, our own
    /// limiter): safe to treat as not placed after one identifier query.
    #[error("request not sent: {0}")]
    NotSent(String),
    /// The request may have reached the venue and the answer was lost (timeout, reset,
    /// 5xx, truncated body): the outcome is UNKNOWN until the order is looked up.
    #[error("outcome unknown: {0}")]
    Ambiguous(String),
}

impl VenueError {
    /// The venue error name, for `Final`.
    pub fn code(&self) -> Option<&str> {
        match self {
            VenueError::Final { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Cuts a venue's error into the split: a connect failure or a request never built was
/// not sent; a lost answer is ambiguous; a refusal is final, and halts trading when it is
/// about our keys or a ban.
pub(crate) fn classify(e: ExchangeError) -> VenueError {
    match e.kind {
        ErrorKind::Connect | ErrorKind::NotSent => VenueError::NotSent(e.reason),
        ErrorKind::Network | ErrorKind::UnknownOutcome => VenueError::Ambiguous(e.message),
        ErrorKind::Rejected => {
            VenueError::Final { code: e.code.unwrap_or_default(), message: e.reason, halt: false }
        }
        ErrorKind::Auth => VenueError::Final {
            code: e.code.unwrap_or_else(|| "auth".into()),
            message: e.message,
            halt: true,
        },
        ErrorKind::RateLimited => {
            VenueError::Final { code: "rate_limited".into(), message: e.message, halt: false }
        }
        ErrorKind::Blocked => VenueError::Final { code: "blocked".into(), message: e.message, halt: true },
    }
}

/// Which order: by venue uuid or by our identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VenueRef {
    /// Venue uuid.
    Uuid(String),
    /// Our identifier.
    Identifier(String),
}

/// What the user (or a rule) wants, in the order types of [`crate::exchange::types`],
/// before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRequest {
    /// Market.
    pub market: MarketId,
    /// Side.
    pub side: Side,
    /// `limit`, `price` (market buy by total), `market` (market sell by volume), `best`.
    pub ord_type: OrderType,
    /// Unit price (`limit`) or total amount (`price`, `best` bid).
    pub price: Option<Price>,
    /// Volume (`limit`, `market`, `best` ask).
    pub volume: Option<Qty>,
    /// Time in force.
    pub time_in_force: Option<TimeInForce>,
}

impl OrderRequest {
    /// A limit order.
    pub fn limit(market: MarketId, side: Side, price: Price, volume: Qty) -> Self {
        OrderRequest {
            market,
            side,
            ord_type: OrderType::Limit,
            price: Some(price),
            volume: Some(volume),
            time_in_force: None,
        }
    }

    /// A market buy spending `total` of the quote currency.
    pub fn market_buy(market: MarketId, total: Decimal) -> Self {
        OrderRequest {
            market,
            side: Side::Bid,
            ord_type: OrderType::Price,
            price: Some(total),
            volume: None,
            time_in_force: None,
        }
    }

    /// A market sell of `volume`.
    pub fn market_sell(market: MarketId, volume: Qty) -> Self {
        OrderRequest {
            market,
            side: Side::Ask,
            ord_type: OrderType::Market,
            price: None,
            volume: Some(volume),
            time_in_force: None,
        }
    }

    /// The same request with a time in force.
    #[cfg(test)]
    pub(crate) fn with_tif(mut self, tif: TimeInForce) -> Self {
        self.time_in_force = Some(tif);
        self
    }
}

/// A request that passed validation (`trading::orders::validate`), with its money figures
/// for the confirmation dialog and the risk gate. The venue turns it into its own request
/// body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidOrder {
    /// The request.
    pub request: OrderRequest,
    /// Notional in the quote currency (price × volume, the total of a market buy, or
    /// volume × reference price of a market sell; zero when unknown).
    pub notional: Decimal,
    /// Estimated fee in the quote currency.
    pub fee: Decimal,
}

impl ValidOrder {
    /// What a buy locks (notional + fee) or a sell yields (notional − fee).
    pub(crate) fn total_with_fee(&self) -> Decimal {
        match self.request.side {
            Side::Bid => self.notional.saturating_add(self.fee),
            Side::Ask => self.notional.saturating_sub(self.fee),
        }
    }
}

/// What the order manager needs from a venue. Implemented by the Upbit adapter
/// (`upbit::venue::UpbitVenue`), the paper engine (`trading::paper::PaperVenue`) and the
/// tests' fake venues.
pub trait OrderVenue: Send + Sync + 'static {
    /// Short name for logs (`upbit`, `paper`, …).
    fn name(&self) -> &'static str;

    /// Creates an order under our `identifier`. Called once per intent, never retried.
    fn place(&self, identifier: String, order: ValidOrder) -> VenueFuture<Order>;

    /// Requests a cancel; returns the venue's view of the order (usually still open).
    /// Cancels are idempotent and may be repeated.
    fn cancel(&self, target: VenueRef) -> VenueFuture<Order>;

    /// Looks an order up; `Ok(None)` when the venue does not know it.
    fn get(&self, target: VenueRef) -> VenueFuture<Option<Order>>;

    /// Looks an order up by our identifier (the recovery handle).
    fn get_by_identifier(&self, identifier: String) -> VenueFuture<Option<Order>> {
        self.get(VenueRef::Identifier(identifier))
    }

    /// Open orders (all markets, or one).
    fn open_orders(&self, market: Option<MarketId>) -> VenueFuture<Vec<Order>>;

    /// Account balances.
    fn balances(&self) -> VenueFuture<Vec<Balance>>;
}
