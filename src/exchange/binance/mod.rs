//! Binance spot, public market data only: the second adapter behind the neutral API.
//!
//! Binance names a market by one symbol (`BTCUSDT`); hoga's neutral [`MarketId`] is
//! `QUOTE-BASE`, so `BTCUSDT` (base `BTC`, quote `USDT`) is `USDT-BTC` here. The symbol
//! cannot be split without the exchange's list (`exchangeInfo` names each symbol's base and
//! quote), so the adapter keeps a [`Symbols`] table filled from that list; [`symbol_of`]
//! goes the other way and needs nothing.
//!
//! * [`wire`]: Binance's REST payloads (`exchangeInfo`, `ticker/24hr`, `depth`, `trades`,
//!   `klines`) and their conversion into the neutral types.
//! * [`limits`]: request weights, the per-minute weight budget, 429 / 418 with
//!   `Retry-After`.
//! * [`rest`]: the REST client, implementing [`crate::exchange::rest::RestApi`] and
//!   [`crate::exchange::stream::StreamVenue`].
//! * [`ws`]: the combined-stream websocket session and its decoder (`@ticker`, `@trade`,
//!   `@depth<N>@100ms`, `@kline_<i>`), implementing [`crate::exchange::stream`]'s traits.
//!
//! No orders: nothing here takes keys.

pub mod limits;
pub mod rest;
pub mod wire;
pub mod ws;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::exchange::types::MarketId;

/// Binance's public REST base.
pub const REST_URL: &str = "https://api.binance.com";
/// Binance's public market-data websocket base (`/stream?streams=…` is appended).
pub const WS_URL: &str = "wss://stream.binance.com:9443";
/// The quote currency whose markets hoga lists (the premium compares USDT prices).
pub const QUOTE: &str = "USDT";

/// Binance's symbol of a neutral market id: `USDT-BTC` → `BTCUSDT`.
pub fn symbol_of(market: &MarketId) -> String {
    format!("{}{}", market.base(), market.quote())
}

/// The neutral id of a symbol whose base and quote are known: (`BTC`, `USDT`) → `USDT-BTC`.
pub fn market_of(base: &str, quote: &str) -> MarketId {
    MarketId::new(&format!("{quote}-{base}"))
}

/// Symbol → market id, learnt from `exchangeInfo` (a symbol is not splittable by itself:
/// `BTCUSDT` could be `BTCU`+`SDT`). Shared by the REST client and every stream decoder;
/// read on every frame, written when the market list is loaded.
#[derive(Debug, Clone, Default)]
pub struct Symbols(Arc<RwLock<HashMap<String, MarketId>>>);

impl Symbols {
    /// Replaces the table.
    pub fn set(&self, pairs: impl IntoIterator<Item = (String, MarketId)>) {
        if let Ok(mut m) = self.0.write() {
            *m = pairs.into_iter().collect();
        }
    }

    /// The market of `symbol` (any case). Unknown symbols ending in the listed quote are
    /// split at the quote, so a frame for a market listed after the table was read still
    /// decodes.
    pub fn market(&self, symbol: &str) -> Option<MarketId> {
        let upper = symbol.to_ascii_uppercase();
        if let Ok(m) = self.0.read()
            && let Some(id) = m.get(&upper)
        {
            return Some(id.clone());
        }
        let base = upper.strip_suffix(QUOTE)?;
        (!base.is_empty()).then(|| market_of(base, QUOTE))
    }

    /// The process-wide table the adapter's decoders share (the stream decoder is built by
    /// `Default`, so it cannot be handed one).
    pub fn global() -> &'static Symbols {
        static GLOBAL: std::sync::OnceLock<Symbols> = std::sync::OnceLock::new();
        GLOBAL.get_or_init(Symbols::default)
    }
}

/// A symbol's price and size steps from `exchangeInfo` (`PRICE_FILTER` `tickSize`,
/// `LOT_SIZE` `stepSize`); `None` where Binance sets none. Prices from Binance already lie
/// on the tick; this is for showing them at the tick's precision and snapping prices hoga
/// makes up (the simulator, a chart scale).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SymbolRules {
    /// Price step.
    pub tick_size: Option<rust_decimal::Decimal>,
    /// Quantity step.
    pub step_size: Option<rust_decimal::Decimal>,
}

/// Each listed market's [`SymbolRules`], learnt with the market list (process-wide, like
/// [`Symbols::global`]).
pub fn rules_of(market: &MarketId) -> Option<SymbolRules> {
    rules_table().read().ok()?.get(market).copied()
}

/// Replaces the table [`rules_of`] reads.
pub(crate) fn set_rules(rules: impl IntoIterator<Item = (MarketId, SymbolRules)>) {
    if let Ok(mut t) = rules_table().write() {
        *t = rules.into_iter().collect();
    }
}

fn rules_table() -> &'static RwLock<HashMap<MarketId, SymbolRules>> {
    static RULES: std::sync::OnceLock<RwLock<HashMap<MarketId, SymbolRules>>> = std::sync::OnceLock::new();
    RULES.get_or_init(RwLock::default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_map_both_ways() {
        let m = market_of("BTC", "USDT");
        assert_eq!(m.as_str(), "USDT-BTC");
        assert_eq!(symbol_of(&m), "BTCUSDT");
        let t = Symbols::default();
        assert_eq!(t.market("btcusdt"), Some(m.clone()));
        t.set([("1000SATSUSDT".to_string(), market_of("1000SATS", "USDT"))]);
        assert_eq!(t.market("1000SATSUSDT").map(|m| m.base().to_string()), Some("1000SATS".into()));
        assert_eq!(t.market("USDT"), None);
        assert_eq!(t.market("BTCEUR"), None);
    }
}
