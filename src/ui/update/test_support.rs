//! What the reducer's test modules share: markets and orders to load into a store.
#![cfg(test)]

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::exchange::types::{MarketId, MarketInfo, Order, OrderState, OrderType, Side};

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

/// An open KRW-BTC bid for 0.001 at `price`.
pub(super) fn order(uuid: &str, price: Decimal) -> Order {
    Order {
        uuid: uuid.into(),
        identifier: None,
        market: MarketId::new("KRW-BTC"),
        side: Some(Side::Bid),
        ord_type: OrderType::Limit,
        price: Some(price),
        volume: Some(dec!(0.001)),
        remaining_volume: dec!(0.001),
        executed_volume: Decimal::ZERO,
        executed_funds: None,
        reserved_fee: Decimal::ZERO,
        remaining_fee: Decimal::ZERO,
        paid_fee: Decimal::ZERO,
        locked: Decimal::ZERO,
        state: OrderState::Wait,
        time_in_force: None,
        created_at: "2026-11-23T00:00:00+09:00".into(),
        trades_count: 0,
        trades: vec![],
    }
}
