//! Upbit adapter: wire format, tick grid, REST and WebSocket clients, and the neutral
//! traits implemented over them.
pub mod api_keys;
pub mod announce;
pub mod auth;
pub mod error;
pub mod indicator;
pub mod limits;
pub mod rest;
pub mod ticks;
pub mod venue;
pub mod wire;
pub mod ws;

use std::sync::Arc;

use crate::exchange::Exchange;
use crate::exchange::credentials::Credentials;
use crate::exchange::error::ExchangeError;
use crate::exchange::rules::PriceGrid;
use crate::exchange::venue::OrderVenue;

/// Upbit as a whole: the [`Exchange`] the console and the trading modes build on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Upbit;

impl Exchange for Upbit {
    const NAME: &'static str = "Upbit";

    type RestConfig = rest::RestConfig;

    type Rest = rest::RestClient;

    fn rest_config(base_url: &str) -> rest::RestConfig {
        rest::RestConfig { base_url: base_url.to_string(), ..rest::RestConfig::default() }
    }

    fn connect_rest(
        config: rest::RestConfig,
        credentials: Option<Credentials>,
    ) -> Result<rest::RestClient, ExchangeError> {
        Ok(rest::RestClient::new(config, credentials)?)
    }

    fn order_venue(rest: Arc<rest::RestClient>) -> Arc<dyn OrderVenue> {
        Arc::new(venue::UpbitVenue::new(rest))
    }

    fn grid() -> &'static dyn PriceGrid {
        &ticks::UpbitGrid
    }
}
