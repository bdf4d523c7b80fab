//! The Binance REST client (public market data): skeleton, being filled in.

use std::future::Future;
use std::pin::Pin;

use crate::exchange::error::{ErrorKind, ExchangeError};
use crate::exchange::rest::{LimitsStatus, RestApi, RestFuture};
use crate::exchange::types::{
    Balance, Candle, MarketId, MarketInfo, Order, OrderBook, Ticker, Timeframe, Trade,
};

/// The Binance spot REST client for public market data.
#[derive(Debug, Clone)]
pub struct BinanceRest {
    base_url: String,
}

impl BinanceRest {
    /// A client calling `base_url` (Binance's, the simulator's `http://127.0.0.1:PORT`).
    pub fn new(base_url: &str) -> Result<Self, ExchangeError> {
        Ok(BinanceRest { base_url: base_url.trim_end_matches('/').to_string() })
    }
}

fn todo_error() -> ExchangeError {
    let message = "Binance REST: not implemented yet".to_string();
    ExchangeError {
        kind: ErrorKind::Rejected,
        code: None,
        status: None,
        reason: message.clone(),
        message,
        hint: None,
    }
}

impl RestApi for BinanceRest {
    fn has_credentials(&self) -> bool {
        false
    }

    fn base_url(&self) -> &str {
        &self.base_url
    }

    fn limits_status(&self) -> LimitsStatus {
        LimitsStatus::default()
    }

    fn markets(&self) -> RestFuture<'_, Vec<MarketInfo>> {
        Box::pin(async move { Err(todo_error()) })
    }

    fn trades<'a>(&'a self, _market: &'a MarketId, _count: u32) -> RestFuture<'a, Vec<Trade>> {
        Box::pin(async move { Err(todo_error()) })
    }

    fn tickers<'a>(&'a self, _markets: &'a [MarketId]) -> RestFuture<'a, Vec<Ticker>> {
        Box::pin(async move { Err(todo_error()) })
    }

    fn orderbook<'a>(&'a self, _markets: &'a [MarketId], _depth: u32) -> RestFuture<'a, Vec<OrderBook>> {
        Box::pin(async move { Err(todo_error()) })
    }

    fn candles<'a>(
        &'a self,
        _market: &'a MarketId,
        _timeframe: Timeframe,
        _count: u32,
    ) -> RestFuture<'a, Vec<Candle>> {
        Box::pin(async move { Err(todo_error()) })
    }

    fn candles_before<'a>(
        &'a self,
        _market: &'a MarketId,
        _timeframe: Timeframe,
        _count: u32,
        _before: i64,
    ) -> RestFuture<'a, Vec<Candle>> {
        Box::pin(async move { Err(todo_error()) })
    }

    fn open_orders(&self) -> RestFuture<'_, Vec<Order>> {
        Box::pin(async move { Err(todo_error()) })
    }

    fn balances(&self) -> RestFuture<'_, Vec<Balance>> {
        Box::pin(async move { Err(todo_error()) })
    }

    fn probe_key<'a>(
        &'a self,
        _market: &'a MarketId,
    ) -> Pin<Box<dyn Future<Output = Vec<String>> + Send + 'a>> {
        Box::pin(async move { Vec::new() })
    }
}
