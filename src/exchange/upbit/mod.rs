//! Upbit adapter: wire format, tick grid, REST and WebSocket clients, and the neutral
//! traits implemented over them.
pub mod announce;
pub mod api_keys;
pub mod auth;
pub mod error;
pub mod indicator;
pub mod limits;
pub mod pockets;
pub mod rest;
pub mod ticks;
pub mod venue;
pub mod wire;
pub mod ws;

use std::sync::Arc;

pub use crate::config::Region;
use crate::exchange::Exchange;
use crate::exchange::credentials::Credentials;
use crate::exchange::error::ExchangeError;
use crate::exchange::rules::PriceGrid;
use crate::exchange::venue::OrderVenue;

/// Upbit's REST base (with `/v1`) and websocket base (`/websocket/v1` and
/// `/websocket/v1/private` are appended) in `region`: the same paths and the same JWT
/// authentication on every host (Upbit's global developer docs, rest-api-guide and auth).
pub fn hosts(region: Region) -> (&'static str, &'static str) {
    match region {
        Region::Kr => ("https://api.upbit.com/v1", "wss://api.upbit.com"),
        Region::Sg => ("https://sg-api.upbit.com/v1", "wss://sg-api.upbit.com"),
        Region::Id => ("https://id-api.upbit.com/v1", "wss://id-api.upbit.com"),
        Region::Th => ("https://th-api.upbit.com/v1", "wss://th-api.upbit.com"),
    }
}

/// The region's name for people (`Upbit Singapore`).
pub fn region_name(region: Region) -> &'static str {
    match region {
        Region::Kr => "Upbit",
        Region::Sg => "Upbit Singapore",
        Region::Id => "Upbit Indonesia",
        Region::Th => "Upbit Thailand",
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadOptions, load};

    #[test]
    fn regions_have_their_hosts_and_a_bad_region_is_named_with_its_file_key_and_value() {
        assert_eq!(hosts(Region::Kr).0, rest::DEFAULT_REST_URL);
        assert_eq!(format!("{}/websocket/v1", hosts(Region::Kr).1), ws::PUBLIC_URL);
        assert_eq!(hosts(Region::Sg), ("https://sg-api.upbit.com/v1", "wss://sg-api.upbit.com"));
        assert_eq!(hosts(Region::Id), ("https://id-api.upbit.com/v1", "wss://id-api.upbit.com"));
        assert_eq!(hosts(Region::Th), ("https://th-api.upbit.com/v1", "wss://th-api.upbit.com"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let opts =
            LoadOptions { config_file: Some(path.clone()), skip_user_file: true, ..LoadOptions::default() };
        std::fs::write(&path, "[exchange]\nregion = \"sg\"\n").unwrap();
        assert_eq!(load(&opts).unwrap().settings.exchange.region, Region::Sg);
        assert_eq!(
            load(&LoadOptions { skip_user_file: true, ..LoadOptions::default() })
                .unwrap()
                .settings
                .exchange
                .region,
            Region::Kr
        );
        std::fs::write(&path, "[exchange]\nregion = \"jp\"\n").unwrap();
        let err = load(&opts).unwrap_err().to_string();
        assert!(
            err.contains("config.toml")
                && err.contains("exchange.region")
                && err.contains("jp")
                && err.contains("\"sg\" (Singapore)"),
            "{err}"
        );
    }
}
