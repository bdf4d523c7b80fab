//! The kimchi premium (김치 프리미엄): how much more Korean won buys a coin on Upbit than the
//! same coin costs on a venue abroad (Binance, in USDT), on the two bases traders use.
//!
//! * **Against Upbit's `KRW-USDT`** (the rate a trader can actually trade at):
//!   `upbit_krw / (foreign_usdt × krw_usdt) − 1`. Always available when both venues stream.
//! * **Against a USD/KRW reference rate** (a fixed value or a URL the user sets; off by
//!   default, since it is an outside service): `upbit_krw / (foreign_usdt × usd_krw) − 1`.
//!   The USDT premium itself (테더 프리미엄) is `krw_usdt / usd_krw − 1`.
//!
//! Premiums are ratios (`0.0312` is 3.12 %), computed in `Decimal` with checked arithmetic:
//! a zero or absurd price gives no premium, never a panic. The console's premium task
//! computes them (`crate::console::premium`) and publishes a whole board at a time; the
//! store only keeps the latest.

use std::collections::HashMap;

use rust_decimal::Decimal;

use crate::exchange::types::{MarketId, Timeframe};

/// One market's premium.
/// The USD/KRW rates taken as KRW per USD, whether fixed in the config or read from a URL:
/// a value outside is another unit (USD per KRW, KRW per 100 USD), a misnamed field, or a
/// broken service, and is refused with the reason.
pub const USD_KRW_BAND: (Decimal, Decimal) =
    (Decimal::from_parts(100, 0, 0, false, 0), Decimal::from_parts(100_000, 0, 0, false, 0));

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Premium {
    /// The same coin's last price abroad, in USDT.
    pub foreign: Decimal,
    /// Against Upbit's `KRW-USDT` last price (ratio).
    pub vs_usdt: Option<Decimal>,
    /// Against the USD/KRW reference rate, when one is configured and read (ratio).
    pub vs_ref: Option<Decimal>,
    /// When the older of the prices it was computed from was stamped (Unix ms): a premium
    /// is as old as its oldest input.
    pub at_ms: i64,
}

/// The USD/KRW reference rate and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefRate {
    /// KRW per USD (the last value read; kept when a later read fails).
    pub rate: Option<Decimal>,
    /// Where it comes from, for people: `fixed`, `simulator` or the URL's host.
    pub source: String,
    /// When it was last read successfully (Unix ms).
    pub at_ms: Option<i64>,
    /// Why the last read failed, if it did (shown beside the rate).
    pub error: Option<String>,
}

/// Every market's premium, replaced whole by the premium task.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PremiumBoard {
    /// Premium per Upbit KRW market whose coin the other venue lists.
    pub rows: HashMap<MarketId, Premium>,
    /// Upbit's `KRW-USDT` last price.
    pub krw_usdt: Option<Decimal>,
    /// The USDT premium itself: `krw_usdt / usd_krw − 1` (needs the reference rate).
    pub usdt_vs_ref: Option<Decimal>,
    /// The reference rate, when one is configured.
    pub reference: Option<RefRate>,
    /// The other venue's name (`Binance`), for titles.
    pub venue: String,
    /// Every Upbit KRW market whose coin the other venue lists, with its market there
    /// (empty until both lists are read): a coin missing here has no premium to watch.
    pub paired: std::sync::Arc<HashMap<MarketId, MarketId>>,
}

impl PremiumBoard {
    /// The premium of `market`, if it has one.
    pub fn of(&self, market: &MarketId) -> Option<&Premium> {
        self.rows.get(market)
    }
}

/// Which rate a premium series is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PremiumBasis {
    /// Upbit's `KRW-USDT` price at each candle.
    Usdt,
    /// The USD/KRW reference rate (its current value: no history of it is kept).
    Reference,
}

/// A market's premium over time, one point per candle of a timeframe (the chart's
/// premium line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PremiumSeries {
    /// Upbit market.
    pub market: MarketId,
    /// Candle timeframe.
    pub timeframe: Timeframe,
    /// The rate the premium is measured against.
    pub basis: PremiumBasis,
    /// (candle start, Unix ms UTC; premium ratio at that candle's close), oldest first.
    pub points: Vec<(i64, Decimal)>,
}

/// Checked `a / (b × c) − 1`: `None` when a factor is not positive or a step overflows.
pub fn ratio_minus_one(a: Decimal, b: Decimal, c: Decimal) -> Option<Decimal> {
    if a <= Decimal::ZERO || b <= Decimal::ZERO || c <= Decimal::ZERO {
        return None;
    }
    let denom = b.checked_mul(c)?;
    a.checked_div(denom)?.checked_sub(Decimal::ONE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn ratio_is_exact_and_refuses_nonsense() {
        // 146,000,000 KRW vs 100,000 USDT × 1,400 KRW/USDT = 140,000,000: +4.2857…%
        let p = ratio_minus_one(dec!(146000000), dec!(100000), dec!(1400)).unwrap();
        assert_eq!(p.round_dp(6), dec!(0.042857));
        assert_eq!(ratio_minus_one(dec!(1), Decimal::ZERO, dec!(1400)), None);
        assert_eq!(ratio_minus_one(dec!(-1), dec!(1), dec!(1)), None);
        assert_eq!(ratio_minus_one(Decimal::MAX, Decimal::MAX, Decimal::MAX), None);
    }
}
