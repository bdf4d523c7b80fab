//! What the reducer's test modules share: markets to load into a store.
#![cfg(test)]

use crate::exchange::types::{MarketId, MarketInfo};

/// A listed market named by its code.
pub(super) fn info(code: &str) -> MarketInfo {
    named(code, code)
}

/// A listed market with an English name (the command line's close matches read it).
pub(super) fn named(code: &str, english: &str) -> MarketInfo {
    MarketInfo {
        market: MarketId::new(code),
        korean_name: code.into(),
        english_name: english.into(),
        warning: false,
        caution: false,
    }
}
