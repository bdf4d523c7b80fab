//! Upbit's price grid and order-total limits (protocol reference §8.3, §8.4): the Upbit
//! implementation of [`PriceGrid`].
//!
//! Pure functions, shared by the client's order validation, the simulator's matching
//! engine and the UI's price display (those two through [`PriceGrid`]). The tick depends
//! on the quote currency and on the price band the price falls in; `GET
//! /v1/orderbook/instruments` is the live source of truth, and [`TickTable`] lets its
//! answers override the built-in table per market.

use rust_decimal::Decimal;

pub use crate::exchange::rules::Rounding;
pub(crate) use crate::exchange::rules::snap_to;
use crate::exchange::rules::{self, PriceGrid};

const fn d(num: i64, scale: u32) -> Decimal {
    Decimal::from_parts(num as u32, (num >> 32) as u32, 0, false, scale)
}

/// KRW bands since 2025-07-31: (lower bound inclusive, tick), highest first.
const KRW_BANDS: [(Decimal, Decimal); 16] = [
    (d(1_000_000, 0), d(1000, 0)),
    (d(500_000, 0), d(500, 0)),
    (d(100_000, 0), d(100, 0)),
    (d(50_000, 0), d(50, 0)),
    (d(10_000, 0), d(10, 0)),
    (d(5_000, 0), d(5, 0)),
    (d(1_000, 0), d(1, 0)),
    (d(100, 0), d(1, 0)),
    (d(10, 0), d(1, 1)),
    (d(1, 0), d(1, 2)),
    (d(1, 1), d(1, 3)),
    (d(1, 2), d(1, 4)),
    (d(1, 3), d(1, 5)),
    (d(1, 4), d(1, 6)),
    (d(1, 5), d(1, 7)),
    (d(0, 0), d(1, 8)),
];

/// USDT bands since 2024-08-19.
const USDT_BANDS: [(Decimal, Decimal); 7] = [
    (d(10, 0), d(1, 2)),
    (d(1, 0), d(1, 3)),
    (d(1, 1), d(1, 4)),
    (d(1, 2), d(1, 5)),
    (d(1, 3), d(1, 6)),
    (d(1, 4), d(1, 7)),
    (d(0, 0), d(1, 8)),
];

/// Volume precision: 8 decimals.
pub(crate) const VOLUME_SCALE: u32 = 8;

/// The tick for a price in a quote currency, from the built-in table.
pub fn tick_size(quote: &str, price: Decimal) -> Decimal {
    let bands: &[(Decimal, Decimal)] = match quote {
        "KRW" => &KRW_BANDS,
        "USDT" => &USDT_BANDS,
        // BTC market (and unknown quotes): one satoshi.
        _ => return d(1, 8),
    };
    let p = price.abs();
    bands.iter().find(|(lower, _)| p >= *lower).map(|(_, tick)| *tick).unwrap_or(d(1, 8))
}

/// Moves `price` onto Upbit's grid for its quote currency and band.
pub fn snap(quote: &str, price: Decimal, rounding: Rounding) -> Decimal {
    UpbitGrid.snap(quote, price, rounding)
}

/// True when `price` lies on the grid of its band.
pub fn is_on_tick(quote: &str, price: Decimal) -> bool {
    UpbitGrid.is_on_tick(quote, price)
}

/// The next price level up (`steps` > 0) or down (`steps` < 0) from an on-grid price.
pub fn step(quote: &str, price: Decimal, steps: i32) -> Decimal {
    UpbitGrid.step(quote, price, steps)
}

/// Minimum order total in the quote currency.
pub fn min_total(quote: &str) -> Decimal {
    match quote {
        "KRW" => d(5000, 0),
        "BTC" => d(5, 5),
        "USDT" => d(5, 1),
        _ => Decimal::ZERO,
    }
}

/// Maximum order total in the quote currency, when there is one.
pub(crate) fn max_total(quote: &str) -> Option<Decimal> {
    match quote {
        "KRW" => Some(d(1_000_000_000, 0)),
        "BTC" => Some(d(10, 0)),
        _ => None,
    }
}

/// Upbit's built-in grid and limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpbitGrid;

impl PriceGrid for UpbitGrid {
    fn tick_size(&self, quote: &str, price: Decimal) -> Decimal {
        tick_size(quote, price)
    }

    fn volume_scale(&self) -> u32 {
        VOLUME_SCALE
    }

    fn min_total(&self, quote: &str) -> Decimal {
        min_total(quote)
    }

    fn max_total(&self, quote: &str) -> Option<Decimal> {
        max_total(quote)
    }
}

/// Per-market tick overrides learned from `orderbook/instruments`, over Upbit's table.
pub type TickTable = rules::TickTable<UpbitGrid>;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn krw_table_matches_the_reference() {
        let cases = [
            ("148520000", "1000"),
            ("1000000", "1000"),
            ("999999", "500"),
            ("500000", "500"),
            ("499999", "100"),
            ("100000", "100"),
            ("99999", "50"),
            ("50000", "50"),
            ("49999", "10"),
            ("10000", "10"),
            ("9999", "5"),
            ("5000", "5"),
            ("4999", "1"),
            ("100", "1"),
            ("99.9", "0.1"),
            ("9.99", "0.01"),
            ("0.999", "0.001"),
            ("0.0999", "0.0001"),
            ("0.00999", "0.00001"),
            ("0.000999", "0.000001"),
            ("0.0000999", "0.0000001"),
            ("0.000009", "0.00000001"),
        ];
        for (price, tick) in cases {
            assert_eq!(tick_size("KRW", dec(price)), dec(tick), "price {price}");
        }
        assert_eq!(tick_size("BTC", dec("0.025")), dec("0.00000001"));
        assert_eq!(tick_size("USDT", dec("12.5")), dec("0.01"));
        assert_eq!(tick_size("USDT", dec("0.5")), dec("0.0001"));
    }

    #[test]
    fn snapping_examples() {
        assert_eq!(snap("KRW", dec("95000123"), Rounding::Down), dec("95000000"));
        assert_eq!(snap("KRW", dec("95000123"), Rounding::Up), dec("95001000"));
        assert_eq!(snap("KRW", dec("999999"), Rounding::Up), dec("1000000"));
        assert_eq!(snap("KRW", dec("7503"), Rounding::Nearest), dec("7505"));
        assert!(is_on_tick("KRW", dec("148520000")));
        assert!(!is_on_tick("KRW", dec("148520500")));
        assert_eq!(step("KRW", dec("1000000"), -1), dec("999500"));
        assert_eq!(step("KRW", dec("999500"), 1), dec("1000000"));
    }

    proptest! {
        #[test]
        fn snapped_prices_are_on_the_grid_and_close(
            units in 1u64..10_000_000_000u64, scale in 0u32..8, quote in prop::sample::select(vec!["KRW", "BTC", "USDT"])
        ) {
            let price = Decimal::new(units as i64, scale);
            for rounding in [Rounding::Down, Rounding::Up, Rounding::Nearest] {
                let s = snap(quote, price, rounding);
                prop_assert!(is_on_tick(quote, s) || s.is_zero(), "{quote} {price} -> {s}");
                let tick = tick_size(quote, price).max(tick_size(quote, s));
                prop_assert!((s - price).abs() <= tick, "{price} -> {s} (tick {tick})");
                match rounding {
                    Rounding::Down => prop_assert!(s <= price),
                    Rounding::Up => prop_assert!(s >= price),
                    Rounding::Nearest => {}
                }
            }
        }

        #[test]
        fn on_grid_prices_are_fixed_points(units in 1u64..1_000_000u64) {
            let price = Decimal::from(units) * tick_size("KRW", Decimal::from(units));
            let s = snap("KRW", price, Rounding::Nearest);
            if is_on_tick("KRW", price) {
                prop_assert_eq!(s, price.normalize());
            }
        }
    }
}
