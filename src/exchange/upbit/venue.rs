//! The Upbit adapter's side of the neutral traits: [`UpbitVenue`] (the order manager's
//! venue in live and demo mode; demo points the same client at the simulator), the
//! `POST /v1/orders` body built from a validated order, and [`RestApi`] over the REST
//! client (the feed's reads, the ban watch, the startup key probe).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::exchange::error::ExchangeError;
use crate::exchange::rest::{LimitsStatus, RestApi, RestFuture};
use crate::exchange::stream::StreamVenue;
use crate::exchange::types::{
    Balance, Candle, MarketId, MarketInfo, Order, OrderBook, OrderState, Side, Ticker, TimeInForce,
    Timeframe, Trade,
};
use crate::exchange::upbit::error::{AuthKind, UpbitError};
use crate::exchange::upbit::rest::{OrderRef, RestClient};
use crate::exchange::upbit::wire::NewOrderBody;
use crate::exchange::upbit::ws::WsSession;
use crate::exchange::venue::{
    ORDER_NOT_FOUND, OrderRequest, OrderVenue, ValidOrder, VenueError, VenueFuture, VenueRef, classify,
};

/// The `POST /v1/orders` body of a validated order, under our identifier. Strings, absent
/// fields omitted.
pub(crate) fn order_body(order: &OrderRequest, identifier: Option<&str>) -> NewOrderBody {
    NewOrderBody {
        market: order.market.to_string(),
        side: match order.side {
            Side::Bid => "bid",
            Side::Ask => "ask",
        }
        .to_string(),
        volume: order.volume.map(|v| v.normalize().to_string()),
        price: order.price.map(|p| p.normalize().to_string()),
        ord_type: order.ord_type.as_str().to_string(),
        identifier: identifier.map(str::to_string),
        time_in_force: order.time_in_force.map(|t| {
            match t {
                TimeInForce::Ioc => "ioc",
                TimeInForce::Fok => "fok",
                TimeInForce::PostOnly => "post_only",
            }
            .to_string()
        }),
        smp_type: None,
    }
}

/// An Upbit error cut into the venue split.
fn venue_error(e: UpbitError) -> VenueError {
    classify(ExchangeError::from(e))
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
        Box::pin(async move {
            rest.create_order(&order_body(&order.request, Some(&identifier))).await.map_err(venue_error)
        })
    }

    fn cancel(&self, target: VenueRef) -> VenueFuture<Order> {
        let rest = self.rest.clone();
        Box::pin(async move { rest.cancel_order(&to_ref(target)).await.map_err(venue_error) })
    }

    fn get(&self, target: VenueRef) -> VenueFuture<Option<Order>> {
        let rest = self.rest.clone();
        Box::pin(async move {
            match rest.get_order(&to_ref(target)).await {
                Ok(o) => Ok(Some(o)),
                Err(UpbitError::Exchange { status: 404, .. }) => Ok(None),
                Err(e) if e.name() == Some(ORDER_NOT_FOUND) => Ok(None),
                Err(e) => Err(venue_error(e)),
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
                    .map_err(venue_error)?;
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
        Box::pin(async move { rest.accounts().await.map_err(venue_error) })
    }
}

/// What the startup key probe checks, in order: the permission, the call that needs it
/// (and nothing else), and why that call is harmless.
///
/// - View Orders (주문조회): `GET /v1/orders/chance?market=KRW-BTC`, a read;
/// - Make Orders (주문하기): `POST /v1/orders/test`, Upbit's dry-run order. It takes the
///   same checks as a real create and needs the same permission (Upbit: "[주문하기] 권한",
///   `out_of_scope` otherwise), but never books an order. It is sent without an
///   identifier (a dry run must not spend one), for the minimum KRW total (5,000 KRW), so
///   a key that may trade answers 201 or a business refusal (funds, market offline) —
///   anything but `401 out_of_scope`.
///
/// `GET /v1/api_keys` needs no permission and lists keys with their expiry only, not their
/// permissions, so it cannot tell (hoga reads it for the expiry: `console::key_expiry`).
const PROBES: [(&str, &str); 2] =
    [("View Orders", "GET /v1/orders/chance"), ("Make Orders", "POST /v1/orders/test")];

/// Probes the key with the harmless calls of [`PROBES`] and returns one finding per call
/// refused for authentication: the permission, Upbit's error name and the hint (a missing
/// permission, an IP not on the allowlist, an expired key…). Empty when the key may
/// trade. Anything but a 401 (a business refusal, a network error, a 5xx) proves nothing
/// either way and is only logged: the first real order reports it then.
async fn probe_key(rest: &RestClient, market: &MarketId) -> Vec<String> {
    let dry_run = NewOrderBody {
        market: market.as_str().to_string(),
        side: "bid".into(),
        volume: Some("1".into()),
        price: Some("5000".into()),
        ord_type: "limit".into(),
        ..NewOrderBody::default()
    };
    let answers = [rest.chance(market).await.map(|_| ()), rest.orders_test(&dry_run).await.map(|_| ())];
    let mut findings = Vec::new();
    for ((permission, call), answer) in PROBES.iter().zip(answers) {
        match answer {
            Err(UpbitError::Auth { kind, name, .. }) => {
                let what = match kind {
                    AuthKind::OutOfScope => format!("the API key lacks the {permission} permission"),
                    _ => "the API key was refused".to_string(),
                };
                findings.push(format!("{what} ({call}: {name}); hint: {}", kind.hint()));
            }
            Err(e) => tracing::info!(permission, "key probe {call} told nothing: {e}"),
            Ok(()) => tracing::debug!(permission, "key probe {call}: permission present"),
        }
    }
    findings
}

impl RestApi for RestClient {
    fn has_credentials(&self) -> bool {
        RestClient::has_credentials(self)
    }

    fn base_url(&self) -> &str {
        RestClient::base_url(self)
    }

    fn limits_status(&self) -> LimitsStatus {
        RestClient::limits_status(self)
    }

    fn markets(&self) -> RestFuture<'_, Vec<MarketInfo>> {
        Box::pin(async move { self.market_all().await.map_err(ExchangeError::from) })
    }

    fn trades<'a>(&'a self, market: &'a MarketId, count: u32) -> RestFuture<'a, Vec<Trade>> {
        Box::pin(async move { RestClient::trades(self, market, count).await.map_err(ExchangeError::from) })
    }

    fn tickers<'a>(&'a self, markets: &'a [MarketId]) -> RestFuture<'a, Vec<Ticker>> {
        Box::pin(async move { RestClient::tickers(self, markets).await.map_err(ExchangeError::from) })
    }

    fn orderbook<'a>(&'a self, markets: &'a [MarketId], depth: u32) -> RestFuture<'a, Vec<OrderBook>> {
        Box::pin(
            async move { RestClient::orderbook(self, markets, depth).await.map_err(ExchangeError::from) },
        )
    }

    fn candles<'a>(
        &'a self,
        market: &'a MarketId,
        timeframe: Timeframe,
        count: u32,
    ) -> RestFuture<'a, Vec<Candle>> {
        Box::pin(async move {
            RestClient::candles(self, market, timeframe, count, None).await.map_err(ExchangeError::from)
        })
    }

    fn candles_before<'a>(
        &'a self,
        market: &'a MarketId,
        timeframe: Timeframe,
        count: u32,
        before: i64,
    ) -> RestFuture<'a, Vec<Candle>> {
        Box::pin(async move {
            RestClient::candles_before(self, market, timeframe, count, before)
                .await
                .map_err(ExchangeError::from)
        })
    }

    fn open_orders(&self) -> RestFuture<'_, Vec<Order>> {
        Box::pin(async move {
            RestClient::open_orders(self, None, &[OrderState::Wait, OrderState::Watch], 1, 100)
                .await
                .map_err(ExchangeError::from)
        })
    }

    fn balances(&self) -> RestFuture<'_, Vec<Balance>> {
        Box::pin(async move { self.accounts().await.map_err(ExchangeError::from) })
    }

    fn probe_key<'a>(
        &'a self,
        market: &'a MarketId,
    ) -> Pin<Box<dyn Future<Output = Vec<String>> + Send + 'a>> {
        Box::pin(probe_key(self, market))
    }
}

impl StreamVenue for RestClient {
    type Session = WsSession;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;
    use std::time::Duration;

    use crate::exchange::upbit::error::NetworkKind;

    fn btc() -> MarketId {
        MarketId::new("KRW-BTC")
    }

    #[test]
    fn limit_buy_body_has_strings_and_omits_nulls() {
        let body =
            order_body(&OrderRequest::limit(btc(), Side::Bid, dec!(95000000), dec!(0.01)), Some("hoga-x"));
        let json = serde_json::to_string(&body).unwrap();
        assert_eq!(
            json,
            r#"{"market":"KRW-BTC","side":"bid","volume":"0.01","price":"95000000","ord_type":"limit","identifier":"hoga-x"}"#
        );
        let ioc =
            OrderRequest::limit(btc(), Side::Ask, dec!(95000000), dec!(0.01)).with_tif(TimeInForce::PostOnly);
        let body = order_body(&ioc, None);
        assert_eq!((body.side.as_str(), body.time_in_force.as_deref()), ("ask", Some("post_only")));
        assert_eq!(body.identifier, None, "a dry run spends no identifier");
    }

    #[test]
    fn market_buy_has_no_volume_and_market_sell_no_price() {
        let b = order_body(&OrderRequest::market_buy(btc(), dec!(100000)), Some("a"));
        assert_eq!(
            (b.ord_type.as_str(), b.price.as_deref(), b.volume.as_deref()),
            ("price", Some("100000"), None)
        );
        let s = order_body(&OrderRequest::market_sell(btc(), dec!(0.001)), Some("b"));
        assert_eq!(
            (s.ord_type.as_str(), s.price.as_deref(), s.volume.as_deref()),
            ("market", None, Some("0.001"))
        );
        assert!(!serde_json::to_string(&s).unwrap().contains("null"));
    }

    #[test]
    fn errors_split_into_final_not_sent_and_ambiguous() {
        let unknown = UpbitError::UnknownOutcome {
            kind: NetworkKind::Timeout,
            path: "/orders".into(),
            detail: "timed out".into(),
        };
        assert!(matches!(venue_error(unknown), VenueError::Ambiguous(_)));
        let refused = UpbitError::UnknownOutcome {
            kind: NetworkKind::Connect,
            path: "/orders".into(),
            detail: "refused".into(),
        };
        assert_eq!(venue_error(refused), VenueError::NotSent("/orders: connect failed: refused".into()));
        let five = UpbitError::from_response(502, "<html>", "/orders", "POST");
        assert!(matches!(venue_error(five), VenueError::Ambiguous(_)));
        let biz = UpbitError::from_response(
            400,
            r#"{"error":{"name":"insufficient_funds_bid","message":"no money"}}"#,
            "/orders",
            "POST",
        );
        assert_eq!(
            venue_error(biz),
            VenueError::Final {
                code: "insufficient_funds_bid".into(),
                message: "no money".into(),
                halt: false
            }
        );
        let auth = UpbitError::from_response(
            401,
            r#"{"error":{"name":"no_authorization_i_p","message":"ip"}}"#,
            "/orders",
            "POST",
        );
        let e = venue_error(auth);
        assert!(matches!(e, VenueError::Final { halt: true, .. }), "{e:?}");
        assert_eq!(e.code(), Some("no_authorization_i_p"));
        assert!(e.to_string().contains("allowlist"), "{e}");
        let rl = UpbitError::RateLimited { group: "order".into(), retry_after: Duration::from_secs(1) };
        assert!(matches!(venue_error(rl), VenueError::Final { halt: false, .. }));
        let blocked = UpbitError::Blocked { remaining: Duration::from_secs(60) };
        assert!(matches!(venue_error(blocked), VenueError::Final { halt: true, .. }));
        let unsent = UpbitError::Request { path: "/orders".into(), detail: "no credentials".into() };
        assert_eq!(venue_error(unsent), VenueError::NotSent("/orders: no credentials".into()));
    }

    proptest! {
        /// The body's numbers read back as the order's: the venue books what was validated.
        #[test]
        fn body_numbers_read_back_exactly(units in 1u64..2_000_000_000u64, scale in 0u32..6, vol in 1u64..100_000_000u64) {
            let price = Decimal::new(units as i64, scale);
            let volume = Decimal::new(vol as i64, 8);
            let body = order_body(&OrderRequest::limit(btc(), Side::Bid, price, volume), Some("x"));
            prop_assert_eq!(body.price.as_deref().map(|p| p.parse::<Decimal>().unwrap()), Some(price));
            prop_assert_eq!(body.volume.as_deref().map(|v| v.parse::<Decimal>().unwrap()), Some(volume));
        }
    }
}
