//! Position and P&L per market, from fills (pure).
//!
//! Spot only: a position is a non-negative holding of the base currency. The average
//! cost includes buy fees (it is the cost basis: what one unit really cost in the quote
//! currency); a sell realizes `proceeds − sell fee − average cost × volume`. Unrealized
//! P&L at a mark price subtracts the fee a sale at that price would pay, so "flat" means
//! "selling now would break even".

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::exchange::types::{Fill, MarketId, Price, Qty, Side};

/// One market's holding and its P&L.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Market.
    pub market: MarketId,
    /// Base-currency volume held.
    pub volume: Qty,
    /// Average cost per unit, fees included (quote currency).
    pub avg_cost: Price,
    /// Realized P&L, fees included.
    pub(crate) realized: Decimal,
    /// Fees paid in total.
    pub(crate) fees: Decimal,
}

impl Position {
    /// An empty position.
    pub fn new(market: MarketId) -> Self {
        Position {
            market,
            volume: Decimal::ZERO,
            avg_cost: Decimal::ZERO,
            realized: Decimal::ZERO,
            fees: Decimal::ZERO,
        }
    }

    /// Seeds from an exchange balance (volume and its average buy price).
    pub(crate) fn from_balance(market: MarketId, volume: Qty, avg_buy_price: Price) -> Self {
        Position { volume, avg_cost: avg_buy_price, ..Position::new(market) }
    }

    /// Applies one fill; `fee_rate` is used when the fill carries no fee. Returns the P&L
    /// this fill realized (zero for buys).
    ///
    /// Every operation is checked (fills come from the network, the paper venue and the
    /// simulator). A cost or P&L that cannot be computed is logged and counted as zero;
    /// the volume is still tracked (saturating), so a position is never lost.
    pub fn apply(&mut self, side: Side, price: Price, volume: Qty, fee: Decimal) -> Decimal {
        self.fees = self.fees.saturating_add(fee);
        match side {
            Side::Bid => {
                let cost = self
                    .avg_cost
                    .checked_mul(self.volume)
                    .zip(price.checked_mul(volume))
                    .and_then(|(held, bought)| held.checked_add(bought)?.checked_add(fee));
                self.volume = self.volume.saturating_add(volume);
                match cost {
                    Some(cost) if !self.volume.is_zero() => {
                        if let Some(avg) = cost.checked_div(self.volume) {
                            self.avg_cost = avg;
                        }
                    }
                    Some(_) => {}
                    None => tracing::warn!(
                        market = %self.market, %price, %volume,
                        "fill too large to average into the position cost; the average is kept"
                    ),
                }
                Decimal::ZERO
            }
            Side::Ask => {
                // Selling more than we track (holdings from before hoga): realize against
                // the tracked part only and clamp at flat.
                let closed = volume.min(self.volume);
                let pnl = price
                    .checked_mul(closed)
                    .zip(self.avg_cost.checked_mul(closed))
                    .and_then(|(got, paid)| got.checked_sub(paid)?.checked_sub(fee));
                let pnl = pnl.unwrap_or_else(|| {
                    tracing::warn!(
                        market = %self.market, %price, %volume,
                        "fill too large to compute its realized P&L; counted as zero"
                    );
                    Decimal::ZERO
                });
                self.realized = self.realized.saturating_add(pnl);
                self.volume = self.volume.saturating_sub(closed);
                if self.volume.is_zero() {
                    self.avg_cost = Decimal::ZERO;
                }
                pnl
            }
        }
    }

    /// Applies an exchange fill. A fill whose side is not known (the order manager
    /// resolves every fill it passes on, so only a caller that skipped it gets here) moves
    /// nothing and realizes nothing: a position is never built on a guessed side.
    pub fn apply_fill(&mut self, f: &Fill, fee_rate: Decimal) -> Decimal {
        let Some(side) = f.side else { return Decimal::ZERO };
        let fee = f.fee.unwrap_or_else(|| f.funds.saturating_mul(fee_rate));
        self.apply(side, f.price, f.volume, fee)
    }

    /// Unrealized P&L at `mark`, net of the fee of selling there; `None` when it cannot be
    /// computed (a mark from the network too large to value the position).
    pub fn unrealized(&self, mark: Price, ask_fee_rate: Decimal) -> Option<Decimal> {
        let value = mark.checked_mul(self.volume)?;
        value
            .checked_sub(value.checked_mul(ask_fee_rate)?)?
            .checked_sub(self.avg_cost.checked_mul(self.volume)?)
    }

    /// Unrealized P&L as a ratio of the cost basis (0.05 = +5 %), `None` when flat or
    /// when it cannot be computed.
    pub fn unrealized_ratio(&self, mark: Price, ask_fee_rate: Decimal) -> Option<Decimal> {
        let basis = self.avg_cost.checked_mul(self.volume)?;
        if basis.is_zero() { None } else { self.unrealized(mark, ask_fee_rate)?.checked_div(basis) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn average_cost_realized_and_unrealized_with_fees() {
        let mut p = Position::new(MarketId::new("KRW-BTC"));
        p.apply(Side::Bid, dec!(100), dec!(1), dec!(0.05));
        p.apply(Side::Bid, dec!(200), dec!(1), dec!(0.1));
        assert_eq!(p.volume, dec!(2));
        assert_eq!(p.avg_cost, dec!(150.075));
        assert_eq!(p.unrealized(dec!(150.075), Decimal::ZERO), Some(Decimal::ZERO));
        let r = p.apply(Side::Ask, dec!(300), dec!(1), dec!(0.15));
        assert_eq!(r, dec!(300) - dec!(150.075) - dec!(0.15));
        assert_eq!(p.realized, r);
        assert_eq!(p.volume, dec!(1));
        p.apply(Side::Ask, dec!(100), dec!(5), Decimal::ZERO);
        assert_eq!((p.volume, p.avg_cost), (Decimal::ZERO, Decimal::ZERO));
        assert_eq!(p.fees, dec!(0.3));
    }

    /// A trader's BTC: two buys at 140M and 145M, then two partial sells, with Upbit's
    /// 0.05 % fee on every fill. The average is the cost of both buys with their fees; a
    /// sell realizes against it and leaves it as it was; the last sell closes at zero.
    #[test]
    fn two_buys_then_partial_sells_realize_after_fees() {
        let fee = |price: Decimal, volume: Decimal| price * volume * dec!(0.0005);
        let mut p = Position::new(MarketId::new("KRW-BTC"));
        assert_eq!(
            p.apply(Side::Bid, dec!(140_000_000), dec!(0.05), fee(dec!(140_000_000), dec!(0.05))),
            dec!(0)
        );
        assert_eq!(p.avg_cost, dec!(140_070_000));
        p.apply(Side::Bid, dec!(145_000_000), dec!(0.05), fee(dec!(145_000_000), dec!(0.05)));
        // (7,000,000 + 3,500 + 7,250,000 + 3,625) / 0.1
        assert_eq!(p.avg_cost, dec!(142_571_250));
        // Open at 145M, net of the 7,250 a sale there pays: +235,625, +1.65 % of the cost.
        assert_eq!(p.unrealized(dec!(145_000_000), dec!(0.0005)), Some(dec!(235_625)));
        let ratio = p.unrealized_ratio(dec!(145_000_000), dec!(0.0005)).unwrap();
        assert_eq!(ratio.round_dp(4), dec!(0.0165));
        // Sell 0.04 at 150M: 6,000,000 − 3,000 fee − 0.04 × 142,571,250.
        let r1 = p.apply(Side::Ask, dec!(150_000_000), dec!(0.04), fee(dec!(150_000_000), dec!(0.04)));
        assert_eq!(r1, dec!(294_150));
        assert_eq!((p.volume, p.avg_cost), (dec!(0.06), dec!(142_571_250)), "a sale leaves the average");
        // Sell the rest at 141M, below the average: a loss, fees included.
        let r2 = p.apply(Side::Ask, dec!(141_000_000), dec!(0.06), fee(dec!(141_000_000), dec!(0.06)));
        assert_eq!(r2, dec!(8_460_000) - dec!(4_230) - dec!(8_554_275));
        assert_eq!(p.realized, r1 + r2);
        assert_eq!(p.fees, dec!(3_500) + dec!(3_625) + dec!(3_000) + dec!(4_230));
        assert_eq!((p.volume, p.avg_cost), (Decimal::ZERO, Decimal::ZERO));
    }

    proptest! {
        #[test]
        fn round_trip_at_same_price_without_fees_is_flat(price in 1u64..1_000_000_000u64, v in 1u64..1_000_000u64) {
            let mut p = Position::new(MarketId::new("KRW-X"));
            let price = Decimal::from(price);
            let v = Decimal::new(v as i64, 4);
            p.apply(Side::Bid, price, v, Decimal::ZERO);
            let r = p.apply(Side::Ask, price, v, Decimal::ZERO);
            prop_assert!(r.abs() < dec!(0.000001), "{r}");
            prop_assert!(p.volume.is_zero());
        }
    }

    #[test]
    fn fills_too_large_to_average_keep_the_position_and_never_panic() {
        let mut p = Position::new(MarketId::new("KRW-BTC"));
        p.apply(Side::Bid, dec!(100), dec!(1), Decimal::ZERO);
        p.apply(Side::Bid, Decimal::MAX, dec!(2), Decimal::ZERO);
        assert_eq!((p.volume, p.avg_cost), (dec!(3), dec!(100)), "volume tracked, average kept");
        assert_eq!(p.unrealized(Decimal::MAX, dec!(0.0005)), None);
        assert_eq!(p.apply(Side::Ask, Decimal::MAX, dec!(3), Decimal::ZERO), Decimal::ZERO);
        assert!(p.volume.is_zero());
    }
}
