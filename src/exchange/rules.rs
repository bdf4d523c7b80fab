//! Price and volume rules of a market, as any venue has them: a price grid whose tick
//! depends on the quote currency and the price band, a volume precision, and minimum and
//! maximum order totals.
//!
//! [`PriceGrid`] is a venue's built-in table (Upbit's is `upbit::ticks::UpbitGrid`);
//! [`TickTable`] lays per-market ticks the venue reports at run time over it. Order
//! validation, the monitor and the chart's price labels speak only these, so they apply
//! whichever venue's grid they are given.

use std::collections::HashMap;
use std::fmt;

use rust_decimal::Decimal;

use crate::exchange::types::MarketId;

/// Which way to move an off-grid price onto the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Toward zero (a buyer never pays more than typed).
    Down,
    /// Away from zero (a seller never receives less than typed).
    Up,
    /// To the nearest tick, halves up.
    Nearest,
}

/// Moves `price` onto the grid of `tick`. Checked: a price and a tick from the network
/// whose quotient or product cannot be computed leave the price as it is.
pub(crate) fn snap_to(price: Decimal, tick: Decimal, rounding: Rounding) -> Decimal {
    if tick.is_zero() {
        return price;
    }
    let Some(units) = price.checked_div(tick) else { return price };
    let whole = match rounding {
        Rounding::Down => units.floor(),
        Rounding::Up => units.ceil(),
        Rounding::Nearest => {
            units.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        }
    };
    whole.checked_mul(tick).unwrap_or(price).normalize()
}

/// `price % tick == 0`, checked (false when it cannot be computed).
pub(crate) fn on_grid(price: Decimal, tick: Decimal) -> bool {
    price.checked_rem(tick).is_some_and(|r| r.is_zero())
}

/// Snaps with a tick that may change at the snapped price (rounding up can cross into a
/// coarser band, whose grid the result must also be on).
fn snap_with(tick: impl Fn(Decimal) -> Decimal, price: Decimal, rounding: Rounding) -> Decimal {
    let snapped = snap_to(price, tick(price), rounding);
    let tick = tick(snapped);
    if on_grid(snapped, tick) { snapped } else { snap_to(snapped, tick, rounding) }
}

/// A venue's built-in price grid and order limits, per quote currency. Implemented by
/// each venue adapter; the provided methods are the same arithmetic on every venue.
pub trait PriceGrid: Send + Sync + fmt::Debug + 'static {
    /// The tick for a price in a quote currency.
    fn tick_size(&self, quote: &str, price: Decimal) -> Decimal;

    /// Decimal places a volume may have.
    fn volume_scale(&self) -> u32;

    /// Minimum order total in the quote currency.
    fn min_total(&self, quote: &str) -> Decimal;

    /// Maximum order total in the quote currency, when there is one.
    fn max_total(&self, quote: &str) -> Option<Decimal>;

    /// Moves `price` onto the grid of its quote currency and band.
    fn snap(&self, quote: &str, price: Decimal, rounding: Rounding) -> Decimal {
        snap_with(|p| self.tick_size(quote, p), price, rounding)
    }

    /// True when `price` lies on the grid of its band.
    fn is_on_tick(&self, quote: &str, price: Decimal) -> bool {
        let tick = self.tick_size(quote, price);
        !tick.is_zero() && on_grid(price, tick)
    }

    /// The next price level up (`steps` > 0) or down (`steps` < 0) from an on-grid price.
    fn step(&self, quote: &str, price: Decimal, steps: i32) -> Decimal {
        let tick = |p: Decimal| self.tick_size(quote, p);
        let mut p = price;
        for _ in 0..steps.unsigned_abs() {
            if steps > 0 {
                p = p.saturating_add(tick(p));
            } else {
                let below = p.saturating_sub(tick(p));
                // Crossing down into a finer band: use the finer band's tick.
                p = p.saturating_sub(tick(below.max(Decimal::ZERO)).min(tick(p)));
                if p < Decimal::ZERO {
                    p = Decimal::ZERO;
                }
            }
        }
        p.normalize()
    }

    /// Floors a volume to the venue's precision.
    fn floor_volume(&self, volume: Decimal) -> Decimal {
        volume.round_dp_with_strategy(self.volume_scale(), rust_decimal::RoundingStrategy::ToZero)
    }
}

impl<G: PriceGrid + ?Sized> PriceGrid for &'static G {
    fn tick_size(&self, quote: &str, price: Decimal) -> Decimal {
        (**self).tick_size(quote, price)
    }

    fn volume_scale(&self) -> u32 {
        (**self).volume_scale()
    }

    fn min_total(&self, quote: &str) -> Decimal {
        (**self).min_total(quote)
    }

    fn max_total(&self, quote: &str) -> Option<Decimal> {
        (**self).max_total(quote)
    }
}

/// Per-market ticks the venue reported (Upbit: `orderbook/instruments`), over the
/// built-in grid `G`.
#[derive(Debug, Clone, Default)]
pub struct TickTable<G> {
    grid: G,
    overrides: HashMap<MarketId, Decimal>,
}

impl<G: PriceGrid> TickTable<G> {
    /// A table with no overrides yet.
    pub fn new(grid: G) -> Self {
        TickTable { grid, overrides: HashMap::new() }
    }

    /// The built-in grid under the overrides.
    pub fn grid(&self) -> &G {
        &self.grid
    }

    /// Records the venue's tick for a market (valid for its current price band). A tick
    /// outside the price band of `exchange::types::band` (0, negative, absurdly small or
    /// large) is ignored with a warning: the built-in grid stays in force.
    pub fn set(&mut self, market: MarketId, tick: Decimal) {
        if let Err(e) = crate::exchange::types::band::price("tick_size", tick) {
            tracing::warn!(%market, error = %e, "tick size from the exchange ignored");
            return;
        }
        self.overrides.insert(market, tick);
    }

    /// The tick for a price in a market. An override applies only while it is at least
    /// as coarse as the grid's band tick, so a stale override from a lower band never
    /// allows an off-grid price.
    pub fn tick(&self, market: &MarketId, price: Decimal) -> Decimal {
        let table = self.grid.tick_size(market.quote(), price);
        match self.overrides.get(market) {
            Some(t) if *t >= table => *t,
            _ => table,
        }
    }

    /// Snaps a price for a market.
    pub fn snap(&self, market: &MarketId, price: Decimal, rounding: Rounding) -> Decimal {
        snap_with(|p| self.tick(market, p), price, rounding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    /// A venue with one band edge: tick 1 below 100, 10 from 100.
    #[derive(Debug, Default)]
    struct TwoBands;

    impl PriceGrid for TwoBands {
        fn tick_size(&self, _quote: &str, price: Decimal) -> Decimal {
            if price.abs() >= dec!(100) { dec!(10) } else { dec!(1) }
        }
        fn volume_scale(&self) -> u32 {
            2
        }
        fn min_total(&self, _quote: &str) -> Decimal {
            dec!(5)
        }
        fn max_total(&self, _quote: &str) -> Option<Decimal> {
            None
        }
    }

    #[test]
    fn any_grid_gets_the_same_snapping_and_stepping() {
        let g = TwoBands;
        // Rounding 99.5 up lands on 100, where the tick is 10: still on that grid.
        assert_eq!(g.snap("X", dec!(99.5), Rounding::Up), dec!(100));
        assert_eq!(g.snap("X", dec!(104), Rounding::Up), dec!(110));
        assert!(g.is_on_tick("X", dec!(120)) && !g.is_on_tick("X", dec!(125)));
        assert_eq!(g.step("X", dec!(100), -1), dec!(99));
        assert_eq!(g.step("X", dec!(99), 1), dec!(100));
        assert_eq!(g.floor_volume(dec!(1.239)), dec!(1.23));
        let mut t = TickTable::new(&TwoBands);
        let m = MarketId::new("X-Y");
        t.set(m.clone(), dec!(5));
        // An override finer than the band's tick never applies.
        assert_eq!(t.tick(&m, dec!(150)), dec!(10));
        assert_eq!(t.tick(&m, dec!(50)), dec!(5));
        assert_eq!(t.snap(&m, dec!(52), Rounding::Down), dec!(50));
    }
}
