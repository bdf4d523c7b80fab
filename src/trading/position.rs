//! Position and P&L per market, from fills (pure).
//!
//! Spot only: a position is a non-negative holding of the base currency. The average
//! cost includes buy fees (it is the cost basis: what one unit really cost in the quote
//! currency); a sell realizes `proceeds − sell fee − average cost × volume`. Unrealized
//! P&L at a mark price subtracts the fee a sale at that price would pay, so "flat" means
//! "selling now would break even".

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::exchange::types::{Fill, MarketId, Price, Qty, Side};
use crate::trading::journal::FillRow;

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

    /// Realized P&L after fees.
    pub fn realized(&self) -> Decimal {
        self.realized
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

    /// Brings the position in line with the exchange's balance of its coin (`volume`, and
    /// the exchange's average buy price, which leaves the fees out). When the volumes
    /// agree the position's own average (fees in) is kept; when they do not, something
    /// traded that hoga did not see (before it started, on the website) and the exchange's
    /// figures are taken. The realized P&L stays. Returns whether anything changed.
    pub(crate) fn reconcile(&mut self, volume: Qty, avg_buy_price: Price) -> bool {
        if self.volume == volume {
            return false;
        }
        self.volume = volume;
        self.avg_cost = if volume.is_zero() { Decimal::ZERO } else { avg_buy_price };
        true
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

/// When a fill happened, for the day its realized P&L counts toward: its own time when the
/// exchange gave one, else now (it is being counted now).
pub(crate) fn fill_time(f: &Fill) -> DateTime<Utc> {
    Some(f.timestamp).filter(|t| *t > 0).and_then(DateTime::from_timestamp_millis).unwrap_or_else(Utc::now)
}

/// Positions and realized P&L rebuilt from the journal's fills, oldest first, by the one
/// computation the order manager runs on each fill ([`Position::apply_fill`]): after a
/// restart the average (buy fees in), the realized P&L per coin and today's figure are
/// what they were before the quit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    /// Every market the journal has fills of, with its position now.
    pub positions: BTreeMap<MarketId, Position>,
    /// What each sell realized (after fees) and when, oldest first.
    pub realized: Vec<(Decimal, DateTime<Utc>)>,
    /// The newest fills counted (at most the Orders pane's
    /// [`FILLS_KEPT`](crate::store::account::FILLS_KEPT)), oldest first: the pane lists
    /// and counts the fills from before a restart too.
    pub fills: Vec<Fill>,
}

/// The journal event kind of a position the order manager opened from the exchange's
/// balance (a coin held before hoga traded it): the start a replay needs.
pub(crate) const SEED_EVENT: &str = "position_seed";

/// The detail of a [`SEED_EVENT`]: `KRW-BTC 0.05 140000000 3` (market, volume, average,
/// and how many fills the journal had counted then: where it goes in a replay).
pub(crate) fn seed_detail(p: &Position, fills_before: usize) -> String {
    format!("{} {} {} {fills_before}", p.market, p.volume, p.avg_cost)
}

fn seed_from_detail(detail: &str) -> Option<(usize, Position)> {
    let mut it = detail.split(' ');
    let market = MarketId::new(it.next()?);
    let volume = Decimal::from_str(it.next()?).ok()?;
    let avg = Decimal::from_str(it.next()?).ok()?;
    let after = it.next()?.parse().ok()?;
    Some((after, Position::from_balance(market, volume, avg)))
}

/// One step of a replay.
enum Step {
    /// A position opened from a balance.
    Seed(Position),
    Fill(Fill),
}

impl Ledger {
    /// One seed or fill; `fee_rate` stands in for a fill that carries no fee (as it did
    /// when the fill was first counted).
    fn step(&mut self, step: Step, fee_rate: &impl Fn(&MarketId, Side) -> Decimal) {
        match step {
            // The manager opens a position from a balance only where it has none.
            Step::Seed(p) => {
                self.positions.entry(p.market.clone()).or_insert(p);
            }
            Step::Fill(f) => {
                let Some(side) = f.side else { return };
                let pos =
                    self.positions.entry(f.market.clone()).or_insert_with(|| Position::new(f.market.clone()));
                let pnl = pos.apply_fill(&f, fee_rate(&f.market, side));
                if side == Side::Ask {
                    self.realized.push((pnl, fill_time(&f)));
                }
                self.fills.push(f);
            }
        }
    }

    /// Replays the journal: the positions opened from balances (`seeds`: their
    /// [`seed_detail`]s) and the fill rows in the order they were counted, each seed
    /// before the fills counted after it. A row that does not read back (a side or number
    /// hoga did not write) is logged and left out: the rest still counts.
    pub(crate) fn from_journal(
        seeds: &[String],
        rows: &[FillRow],
        fee_rate: impl Fn(&MarketId, Side) -> Decimal,
    ) -> Ledger {
        let mut steps: Vec<(usize, Step)> = Vec::new();
        for detail in seeds {
            match seed_from_detail(detail) {
                Some((after, p)) => steps.push((after, Step::Seed(p))),
                None => tracing::warn!(%detail, "journaled position seed unreadable; not counted"),
            }
        }
        for (i, r) in rows.iter().enumerate() {
            match fill_from_row(r) {
                // After the seeds that saw `i` fills (a stable sort keeps them first).
                Some(f) => steps.push((i + 1, Step::Fill(f))),
                None => {
                    tracing::warn!(trade = %r.trade_uuid, "journaled fill unreadable; not counted in the P&L")
                }
            }
        }
        steps.sort_by_key(|(at, _)| *at);
        let mut l = Ledger::default();
        for (_, step) in steps {
            l.step(step, &fee_rate);
        }
        let older = l.fills.len().saturating_sub(crate::store::account::FILLS_KEPT);
        l.fills.drain(..older);
        l
    }

    /// True when the journal had nothing to count.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }
}

fn fill_from_row(r: &FillRow) -> Option<Fill> {
    let num = |s: &str| Decimal::from_str(s).ok();
    let side = match r.side.as_str() {
        "bid" => Side::Bid,
        "ask" => Side::Ask,
        _ => return None,
    };
    Some(Fill {
        trade_uuid: r.trade_uuid.clone(),
        order_uuid: r.order_uuid.clone(),
        market: MarketId::new(&r.market),
        side: Some(side),
        price: num(&r.price)?,
        volume: num(&r.volume)?,
        funds: num(&r.funds)?,
        fee: match &r.fee {
            Some(f) => Some(num(f)?),
            None => None,
        },
        is_maker: None,
        timestamp: r.timestamp,
    })
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

    /// After a restart the journal gives back what the order manager had counted: a BTC
    /// position opened from the balance (0.05 at 140M, the exchange's average without
    /// fees), a buy and two sells with their fees, an ETH round trip, in the order they
    /// happened. The replay's average keeps the buy fee, the realized P&L per coin is the
    /// same, and each sell's P&L is listed with its own time (today's figure).
    #[test]
    fn the_journal_replays_to_the_positions_counted_before_a_restart() {
        let btc = MarketId::new("KRW-BTC");
        let eth = MarketId::new("KRW-ETH");
        let fee = |price: Decimal, volume: Decimal| price * volume * dec!(0.0005);
        let fill = |n: u32, m: &MarketId, side: Side, price: Decimal, volume: Decimal, ts: i64| Fill {
            trade_uuid: format!("t{n}"),
            order_uuid: format!("o{n}"),
            market: m.clone(),
            side: Some(side),
            price,
            volume,
            funds: price * volume,
            // One fill without its fee: the rate stands in, as it did when counted.
            fee: (n != 3).then(|| fee(price, volume)),
            is_maker: None,
            timestamp: ts,
        };
        let fills = [
            fill(1, &btc, Side::Bid, dec!(140_200_000), dec!(0.01), 0),
            fill(2, &eth, Side::Bid, dec!(4_000_000), dec!(1), 3_000),
            fill(3, &btc, Side::Ask, dec!(145_000_000), dec!(0.02), 4_000),
            fill(4, &eth, Side::Ask, dec!(4_100_000), dec!(1), 5_000),
            fill(5, &btc, Side::Ask, dec!(139_000_000), dec!(0.01), 6_000),
        ];
        let rate = |_: &MarketId, _: Side| dec!(0.0005);
        // As the order manager counted them live.
        let mut live = BTreeMap::new();
        let seed = Position::from_balance(btc.clone(), dec!(0.05), dec!(140_000_000));
        live.insert(btc.clone(), seed.clone());
        let mut realized = Vec::new();
        for f in &fills {
            let p = live.entry(f.market.clone()).or_insert_with(|| Position::new(f.market.clone()));
            let r = p.apply_fill(f, dec!(0.0005));
            if f.side == Some(Side::Ask) {
                realized.push((r, fill_time(f)));
            }
        }
        let row = |f: &Fill| FillRow {
            trade_uuid: f.trade_uuid.clone(),
            order_uuid: f.order_uuid.clone(),
            identifier: None,
            market: f.market.to_string(),
            side: crate::trading::orders::side_str(f.side.unwrap()).into(),
            price: f.price.to_string(),
            volume: f.volume.to_string(),
            funds: f.funds.to_string(),
            fee: f.fee.map(|v| v.to_string()),
            timestamp: f.timestamp,
        };
        // The journal lists rows as counted; seeds come from its events.
        let mut rows: Vec<FillRow> = fills.iter().map(row).collect();
        rows.push(FillRow { side: "sideways".into(), ..row(&fills[0]) });
        // The seed came before the first fill, whatever the exchange's clock said.
        let seeds = vec![seed_detail(&seed, 0), "KRW-XRP not-a-number 1 0".into()];
        let replayed = Ledger::from_journal(&seeds, &rows, rate);
        assert_eq!(replayed.positions, live);
        assert_eq!(replayed.realized, realized);
        // The fills themselves, for the Orders pane (the unreadable row left out).
        assert_eq!(replayed.fills, fills);
        // (0.05 × 140M + 0.01 × 140.2M + its 701 fee) / 0.06: the buy fee is in the average.
        let avg = replayed.positions[&btc].avg_cost;
        assert_eq!(avg, (dec!(7_000_000) + dec!(1_402_000) + dec!(701)) / dec!(0.06));
        assert_eq!(replayed.positions[&btc].volume, dec!(0.03));
        assert!(!replayed.positions[&eth].realized.is_zero());
        // Nothing journaled: nothing to restore.
        assert!(Ledger::from_journal(&[], &[], rate).is_empty());
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
