//! Where orders go: the [`OrderVenue`] trait the order manager talks to, its error split,
//! and [`UpbitVenue`], the implementation over the Upbit REST client (live and demo
//! mode; demo points the same client at the simulator).
//!
//! The error split is the heart of docs/RELIABILITY.md rule 1: a venue call ends in a definitive
//! answer ([`VenueError::Final`]), a provable non-send ([`VenueError::NotSent`]), or an
//! unknown outcome ([`VenueError::Ambiguous`]). Only the first two may close an intent,
//! and even a non-send is verified by one identifier query before it is closed. An
//! ambiguous create is never retried; the manager looks it up by identifier.
//!
//! Methods take owned arguments and return `'static` boxed futures so the manager can keep
//! many calls in flight in one `FuturesUnordered` without spawning a task per call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::exchange::types::{Balance, MarketId, Order, OrderState};
use crate::exchange::upbit::error::{NetworkKind, UpbitError};
use crate::exchange::upbit::rest::{OrderRef, RestClient};
use crate::trading::orders::ValidOrder;

/// A venue call in flight. Boxed and `'static` so the manager can poll many at once.
pub type VenueFuture<T> = Pin<Box<dyn Future<Output = Result<T, VenueError>> + Send + 'static>>;

/// Upbit's error name for a reused identifier.
pub const DUPLICATE_IDENTIFIER: &str = "duplicated_identifier";
/// Upbit's error name for an unknown order.
pub const ORDER_NOT_FOUND: &str = "order_not_found";

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

/// Which order: by venue uuid or by our identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VenueRef {
    /// Venue uuid.
    Uuid(String),
    /// Our identifier.
    Identifier(String),
}

/// What the order manager needs from a venue. Implemented by [`UpbitVenue`], the paper
/// engine ([`crate::trading::paper::PaperVenue`]) and the tests' fake venues.
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

/// Maps a REST client error onto the venue split.
pub fn classify(e: UpbitError) -> VenueError {
    match e {
        UpbitError::UnknownOutcome { kind: NetworkKind::Connect, detail, path } => {
            // A connect failure wrote no byte of the request.
            VenueError::NotSent(format!("{path}: connect failed: {detail}"))
        }
        UpbitError::Network { kind: NetworkKind::Connect, path, detail, .. } => {
            VenueError::NotSent(format!("{path}: connect failed: {detail}"))
        }
        e @ (UpbitError::UnknownOutcome { .. } | UpbitError::Network { .. }) => {
            VenueError::Ambiguous(e.to_string())
        }
        UpbitError::Request { path, detail } => VenueError::NotSent(format!("{path}: {detail}")),
        UpbitError::Exchange { name, message, .. } => VenueError::Final { code: name, message, halt: false },
        e @ UpbitError::Auth { .. } => {
            let code = e.name().unwrap_or("auth").to_string();
            VenueError::Final { code, message: e.to_string(), halt: true }
        }
        e @ UpbitError::RateLimited { .. } => {
            VenueError::Final { code: "rate_limited".into(), message: e.to_string(), halt: false }
        }
        e @ UpbitError::Blocked { .. } => {
            VenueError::Final { code: "blocked".into(), message: e.to_string(), halt: true }
        }
    }
}

/// Live and demo venue: the Upbit REST client (the simulator speaks the same protocol).
#[derive(Debug, Clone)]
pub struct UpbitVenue {
    rest: Arc<RestClient>,
}

impl UpbitVenue {
    /// Wraps a client that has credentials.
    pub fn new(rest: Arc<RestClient>) -> Self {
        UpbitVenue { rest }
    }

    /// The client.
    pub fn rest(&self) -> &Arc<RestClient> {
        &self.rest
    }
}

fn to_ref(r: VenueRef) -> OrderRef {
    match r {
        VenueRef::Uuid(u) => OrderRef::Uuid(u),
        VenueRef::Identifier(i) => OrderRef::Identifier(i),
    }
}

impl OrderVenue for UpbitVenue {
    fn name(&self) -> &'static str {
        "upbit"
    }

    fn place(&self, identifier: String, order: ValidOrder) -> VenueFuture<Order> {
        let rest = self.rest.clone();
        Box::pin(async move { rest.create_order(&order.to_body(&identifier)).await.map_err(classify) })
    }

    fn cancel(&self, target: VenueRef) -> VenueFuture<Order> {
        let rest = self.rest.clone();
        Box::pin(async move { rest.cancel_order(&to_ref(target)).await.map_err(classify) })
    }

    fn get(&self, target: VenueRef) -> VenueFuture<Option<Order>> {
        let rest = self.rest.clone();
        Box::pin(async move {
            match rest.get_order(&to_ref(target)).await {
                Ok(o) => Ok(Some(o)),
                Err(UpbitError::Exchange { status: 404, .. }) => Ok(None),
                Err(e) if e.name() == Some(ORDER_NOT_FOUND) => Ok(None),
                Err(e) => Err(classify(e)),
            }
        })
    }

    fn open_orders(&self, market: Option<MarketId>) -> VenueFuture<Vec<Order>> {
        let rest = self.rest.clone();
        Box::pin(async move {
            let mut out = Vec::new();
            // Pages of 100 until a short page; capped so a broken server cannot loop us.
            for page in 1..=20 {
                // `n` counts the page's items, skipped ones included (see
                // `RestClient::open_orders_page`).
                let (batch, n) = rest
                    .open_orders_page(market.as_ref(), &[OrderState::Wait, OrderState::Watch], page, 100)
                    .await
                    .map_err(classify)?;
                out.extend(batch);
                if n < 100 {
                    break;
                }
            }
            Ok(out)
        })
    }

    fn balances(&self) -> VenueFuture<Vec<Balance>> {
        let rest = self.rest.clone();
        Box::pin(async move { rest.accounts().await.map_err(classify) })
    }
}

/// Makes a REST ban (418) the trading state, whichever call drew it. The ban is one per
/// host for the whole process, so a 418 answered to a quotation call of the market panes
/// stops orders and protective exits as surely as one answered to an order; without this
/// the state said ACTIVE (and the monitor "protected") until the next order call met the
/// ban. Every `every`, the client's ban is read (a lock, no request); when a ban starts,
/// trading goes HALTED with the time left as the reason — lifted by `:resume`, like the
/// halt of an order call's 418 — so the status bar and the monitor's "protection
/// degraded" alarm say so at once (RELIABILITY case 6).
pub fn spawn_ban_watch(
    tasks: &crate::kernel::TaskManager,
    rest: Arc<RestClient>,
    trading: crate::trading::monitor::TradingStateHandle,
    every: std::time::Duration,
) {
    tasks.spawn("trading", "rest-ban-watch", move |cancel| async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut banned = false;
        loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(()),
                _ = tick.tick() => {}
            }
            let left = rest.limits_status().blocked_for;
            if let Some(left) = left
                && !banned
                && trading.state() != crate::trading::risk::TradingState::Halted
            {
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                tracing::warn!(secs, "REST banned by the exchange (418); trading halted");
                trading.halt(format!(
                    "REST banned by the exchange (418) for {secs}s: no order or exit can be sent; :resume after it ends"
                ));
            }
            banned = left.is_some();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn errors_split_into_final_not_sent_and_ambiguous() {
        let unknown = UpbitError::UnknownOutcome {
            kind: NetworkKind::Timeout,
            path: "/orders".into(),
            detail: "timed out".into(),
        };
        assert!(matches!(classify(unknown), VenueError::Ambiguous(_)));
        let refused = UpbitError::UnknownOutcome {
            kind: NetworkKind::Connect,
            path: "/orders".into(),
            detail: "refused".into(),
        };
        assert!(matches!(classify(refused), VenueError::NotSent(_)));
        let five = UpbitError::from_response(502, "<html>", "/orders", "POST");
        assert!(matches!(classify(five), VenueError::Ambiguous(_)));
        let biz = UpbitError::from_response(
            400,
            r#"{"error":{"name":"insufficient_funds_bid","message":"no money"}}"#,
            "/orders",
            "POST",
        );
        assert_eq!(classify(biz).code(), Some("insufficient_funds_bid"));
        let auth = UpbitError::from_response(
            401,
            r#"{"error":{"name":"no_authorization_i_p","message":"ip"}}"#,
            "/orders",
            "POST",
        );
        let e = classify(auth);
        assert!(matches!(e, VenueError::Final { halt: true, .. }), "{e:?}");
        assert!(e.to_string().contains("allowlist"), "{e}");
        let rl = UpbitError::RateLimited { group: "order".into(), retry_after: Duration::from_secs(1) };
        assert!(matches!(classify(rl), VenueError::Final { halt: false, .. }));
        let blocked = UpbitError::Blocked { remaining: Duration::from_secs(60) };
        assert!(matches!(classify(blocked), VenueError::Final { halt: true, .. }));
    }
}
