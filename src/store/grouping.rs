//! Order book grouping (호가 모아보기): levels summed into price buckets of a unit.
//!
//! Upbit groups KRW books itself (the orderbook `level`); everywhere else, and while
//! Upbit's grouped book has not arrived, the book is grouped here from the native levels.
//! Both round the same way: an ask goes to the bucket price at or above it (nobody sells
//! below an ask), a bid to the one at or below it; the sizes of a bucket are summed
//! exactly in `Decimal`.

use rust_decimal::Decimal;

use crate::exchange::types::{BookLevel, OrderBook, Price, Qty};

/// The grouping steps: the tick, then 10, 100 and 1000 ticks (Upbit's KRW levels are
/// the tick times powers of ten).
pub const STEPS: u8 = 3;

/// The unit of grouping step `step` (0 = the tick itself) on a book whose tick is `tick`.
pub fn unit(tick: Decimal, step: u8) -> Decimal {
    let mut u = tick;
    for _ in 0..step.min(STEPS) {
        u = u.checked_mul(Decimal::TEN).unwrap_or(u);
    }
    u.normalize()
}

/// The bucket price of `price` on a grid of `unit`: rounded up for asks, down for bids.
/// `price` itself when the unit is not positive.
pub fn bucket(price: Price, unit: Decimal, ask: bool) -> Price {
    if unit <= Decimal::ZERO {
        return price;
    }
    // Checked: prices come from the exchange.
    let Some(q) = price.checked_div(unit) else { return price };
    let q = if ask { q.ceil() } else { q.floor() };
    q.checked_mul(unit).map_or(price, |g| g.normalize())
}

/// One side's levels (best first, price 0 = an empty slot) summed into buckets of `unit`,
/// best first.
pub fn group_side(levels: &[(Price, Qty)], unit: Decimal, ask: bool) -> Vec<(Price, Qty)> {
    let mut out: Vec<(Price, Qty)> = Vec::new();
    for &(p, s) in levels.iter().filter(|(p, _)| !p.is_zero()) {
        let g = bucket(p, unit, ask);
        match out.last_mut() {
            // Checked: a sum past Decimal's range keeps the larger part (no real book).
            Some(last) if last.0 == g => last.1 = last.1.checked_add(s).unwrap_or(last.1),
            _ => out.push((g, s)),
        }
    }
    out
}

/// A native book grouped into buckets of `unit`: as many levels as either side has
/// buckets, totals unchanged (grouping moves size between prices, never drops any).
pub fn group(book: &OrderBook, unit: Decimal) -> OrderBook {
    let asks =
        group_side(&book.levels.iter().map(|l| (l.ask_price, l.ask_size)).collect::<Vec<_>>(), unit, true);
    let bids =
        group_side(&book.levels.iter().map(|l| (l.bid_price, l.bid_size)).collect::<Vec<_>>(), unit, false);
    OrderBook { levels: paired(&asks, &bids), level: unit, ..book.clone() }
}

/// Asks and bids (each from the spread out) side by side as book levels; the shorter side
/// is padded with empty levels, as Upbit pads a thin book.
fn paired(asks: &[(Decimal, Decimal)], bids: &[(Decimal, Decimal)]) -> Vec<BookLevel> {
    (0..asks.len().max(bids.len()))
        .map(|i| {
            let (ask_price, ask_size) = asks.get(i).copied().unwrap_or_default();
            let (bid_price, bid_size) = bids.get(i).copied().unwrap_or_default();
            BookLevel { ask_price, ask_size, bid_price, bid_size }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn book(asks: &[(Decimal, Decimal)], bids: &[(Decimal, Decimal)]) -> OrderBook {
        OrderBook { levels: paired(asks, bids), ..OrderBook::default() }
    }

    #[test]
    fn asks_round_up_and_bids_down() {
        assert_eq!(bucket(dec!(145_021_000), dec!(10_000), true), dec!(145_030_000));
        assert_eq!(bucket(dec!(145_030_000), dec!(10_000), true), dec!(145_030_000), "on the grid stays");
        assert_eq!(bucket(dec!(145_019_000), dec!(10_000), false), dec!(145_010_000));
        assert_eq!(bucket(dec!(145_010_000), dec!(10_000), false), dec!(145_010_000));
        assert_eq!(bucket(dec!(0.01234), dec!(0.001), true), dec!(0.013));
        assert_eq!(bucket(dec!(0.01234), dec!(0.001), false), dec!(0.012));
        assert_eq!(bucket(dec!(5), Decimal::ZERO, true), dec!(5), "no unit: no grouping");
    }

    #[test]
    fn units_are_powers_of_ten_ticks() {
        assert_eq!(unit(dec!(1000), 0), dec!(1000));
        assert_eq!(unit(dec!(1000), 1), dec!(10_000));
        assert_eq!(unit(dec!(0.0001), 3), dec!(0.1));
        assert_eq!(unit(dec!(1), 9), dec!(1000), "no step past the last");
    }

    /// Sizes of a bucket are summed exactly: 0.1 + 0.2 is 0.3, not 0.30000000000000004.
    #[test]
    fn buckets_sum_sizes_exactly_and_keep_totals() {
        let b = book(
            &[
                (dec!(1001), dec!(0.1)),
                (dec!(1005), dec!(0.2)),
                (dec!(1010), dec!(0.3)),
                (dec!(1011), dec!(7)),
            ],
            &[
                (dec!(1000), dec!(1.5)),
                (dec!(999), dec!(0.25)),
                (dec!(990), dec!(2)),
                (dec!(989), dec!(0.125)),
            ],
        );
        let g = group(&b, dec!(10));
        let asks: Vec<_> = g.levels.iter().map(|l| (l.ask_price, l.ask_size)).collect();
        let bids: Vec<_> = g.levels.iter().map(|l| (l.bid_price, l.bid_size)).collect();
        assert_eq!(
            asks,
            vec![(dec!(1010), dec!(0.6)), (dec!(1020), dec!(7)), (Decimal::ZERO, Decimal::ZERO)]
        );
        assert_eq!(bids, vec![(dec!(1000), dec!(1.5)), (dec!(990), dec!(2.25)), (dec!(980), dec!(0.125))]);
        assert_eq!(g.level, dec!(10));
        let sum = |v: &[(Decimal, Decimal)]| v.iter().map(|x| x.1).sum::<Decimal>();
        assert_eq!(sum(&asks), dec!(7.6));
        assert_eq!(sum(&bids), dec!(3.875));
    }

    /// Empty slots (price 0) are not a bucket at 0.
    #[test]
    fn empty_slots_are_skipped() {
        let b = book(&[(dec!(101), dec!(1))], &[(dec!(100), dec!(1)), (dec!(99), dec!(2))]);
        let g = group(&b, dec!(10));
        assert_eq!(g.levels.len(), 2);
        assert_eq!((g.levels[0].ask_price, g.levels[0].bid_price), (dec!(110), dec!(100)));
        assert_eq!((g.levels[1].ask_price, g.levels[1].bid_price), (Decimal::ZERO, dec!(90)));
        assert_eq!(g.levels[1].bid_size, dec!(2));
        let ninety = group(&book(&[], &[(dec!(99), dec!(2))]), dec!(10));
        assert_eq!(ninety.levels[0].bid_price, dec!(90));
        assert!(ninety.levels[0].ask_price.is_zero());
    }
}
