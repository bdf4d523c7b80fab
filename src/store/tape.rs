//! One market's tape: its recent prints, newest first, and the figures the trades pane
//! reads over them — the median notional a print is measured against to be called large,
//! and the buy/sell split by notional. Both are kept up to date as prints come and go, so
//! drawing a frame reads them instead of walking the tape.
//!
//! A print is judged against the median of the prints before it, when it arrives: its
//! flag does not come and go as later prints move the median.

use std::collections::VecDeque;
use std::ops::Deref;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use super::market::TRADES_PER_MARKET;
use crate::exchange::types::{Side, Trade};

/// Fewer prints than this say too little about a market's usual size: until the tape
/// holds this many, no print is measured against their median.
pub const MIN_PRINTS_FOR_MEDIAN: usize = 20;

/// A print's notional: price × size, exact (`None` only when it does not fit a
/// `Decimal`, which no real print reaches).
pub fn notional(t: &Trade) -> Option<Decimal> {
    t.price.checked_mul(t.volume)
}

/// The recent prints of one market, newest first (it reads as a `VecDeque<Trade>`), with
/// their median notional and buy/sell split. The prints are changed only through
/// [`Tape::push`], so the figures always describe exactly the prints held.
#[derive(Debug, Clone, Default)]
pub struct Tape {
    prints: VecDeque<Trade>,
    /// For each print, in the same order: the tape's median notional just before it
    /// arrived (`None` while the tape held fewer than [`MIN_PRINTS_FOR_MEDIAN`]).
    medians: VecDeque<Option<Decimal>>,
    /// The notionals of the prints held, ascending.
    sorted: Vec<Decimal>,
    /// Notional of the held prints a buyer took (taker side bid).
    buy: Decimal,
    /// Notional of the held prints a seller hit (taker side ask).
    sell: Decimal,
}

/// The buy/sell split of a tape by notional.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Imbalance {
    /// Notional bought (taker buys).
    pub buy: Decimal,
    /// Notional sold (taker sells).
    pub sell: Decimal,
    /// Prints it covers (the tape's length, prints of unknown side included).
    pub prints: usize,
}

impl Imbalance {
    /// The buy share in whole percent (the sell share is the rest), `None` when nothing
    /// of known side traded. Rounded half to even, but a side that traded at all never
    /// reads as 0 % (nor the other as 100 %).
    pub fn buy_pct(&self) -> Option<u32> {
        let total = self.buy.checked_add(self.sell)?;
        if total <= Decimal::ZERO {
            return None;
        }
        let pct = (self.buy.checked_div(total)? * Decimal::ONE_HUNDRED)
            .round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven);
        let pct = pct.to_u32()?.min(100);
        Some(match (self.buy.is_zero(), self.sell.is_zero()) {
            (false, false) => pct.clamp(1, 99),
            _ => pct,
        })
    }
}

impl Deref for Tape {
    type Target = VecDeque<Trade>;

    fn deref(&self) -> &VecDeque<Trade> {
        &self.prints
    }
}

/// Collects prints given newest first, as a tape holds them.
impl FromIterator<Trade> for Tape {
    fn from_iter<I: IntoIterator<Item = Trade>>(iter: I) -> Self {
        let prints: Vec<Trade> = iter.into_iter().collect();
        let mut tape = Tape::default();
        for t in prints.into_iter().rev() {
            tape.push(t);
        }
        tape
    }
}

impl Tape {
    /// Adds a print at the front, judged against the median before it; the oldest goes
    /// when the tape is full. A print already held (same non-zero `sequential_id`: the
    /// REST history and the stream's snapshot overlap) is shown once. False when it was.
    pub(crate) fn push(&mut self, t: Trade) -> bool {
        if t.sequential_id != 0 && self.prints.iter().any(|x| x.sequential_id == t.sequential_id) {
            return false;
        }
        self.medians.push_front(self.median());
        if let Some(n) = notional(&t) {
            let at = self.sorted.partition_point(|x| *x < n);
            self.sorted.insert(at, n);
            self.add_side(t.side, n, true);
        }
        self.prints.push_front(t);
        while self.prints.len() > TRADES_PER_MARKET {
            self.medians.pop_back();
            if let Some(old) = self.prints.pop_back()
                && let Some(n) = notional(&old)
            {
                if let Ok(i) = self.sorted.binary_search(&n) {
                    self.sorted.remove(i);
                }
                self.add_side(old.side, n, false);
            }
        }
        true
    }

    fn add_side(&mut self, side: Option<Side>, n: Decimal, add: bool) {
        let sum = match side {
            Some(Side::Bid) => &mut self.buy,
            Some(Side::Ask) => &mut self.sell,
            None => return,
        };
        // Notionals have few decimals: sums of a tape's worth stay exact. Should one ever
        // not fit, the sum is recounted rather than saturated into a wrong figure.
        let next = if add { sum.checked_add(n) } else { sum.checked_sub(n) };
        match next {
            Some(v) => *sum = v,
            None => self.recount(),
        }
    }

    /// The sums counted again from the prints held.
    fn recount(&mut self) {
        let sum = |s: Side| {
            self.prints
                .iter()
                .filter(|t| t.side == Some(s))
                .filter_map(notional)
                .fold(Decimal::ZERO, |a, n| a.checked_add(n).unwrap_or(Decimal::MAX))
        };
        (self.buy, self.sell) = (sum(Side::Bid), sum(Side::Ask));
    }

    /// The median notional of the prints held (the mean of the middle two when their
    /// count is even); `None` while there are fewer than [`MIN_PRINTS_FOR_MEDIAN`].
    pub fn median(&self) -> Option<Decimal> {
        let n = self.sorted.len();
        if n < MIN_PRINTS_FOR_MEDIAN {
            return None;
        }
        if n % 2 == 1 {
            return Some(self.sorted[n / 2]);
        }
        let (a, b) = (self.sorted[n / 2 - 1], self.sorted[n / 2]);
        Some(a.checked_add(b).map_or(a / Decimal::TWO + b / Decimal::TWO, |s| s / Decimal::TWO))
    }

    /// The median notional the print at `index` (0 = newest) was measured against.
    pub fn median_at(&self, index: usize) -> Option<Decimal> {
        self.medians.get(index).copied().flatten()
    }

    /// Whether the print at `index` is large: its notional at least `multiple` × the
    /// median it arrived to, or at least `absolute`. A print too large to multiply out
    /// is large.
    pub fn is_large(&self, index: usize, multiple: Decimal, absolute: Decimal) -> bool {
        let Some(t) = self.prints.get(index) else { return false };
        let Some(n) = notional(t) else { return true };
        let relative = self
            .median_at(index)
            .and_then(|m| m.checked_mul(multiple))
            .is_some_and(|threshold| n >= threshold);
        relative || n >= absolute
    }

    /// The buy/sell split of the prints held, by notional.
    pub fn imbalance(&self) -> Imbalance {
        Imbalance { buy: self.buy, sell: self.sell, prints: self.prints.len() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::types::{MarketId, StreamType};
    use rust_decimal_macros::dec;

    fn print(seq: i64, price: Decimal, volume: Decimal, side: Option<Side>) -> Trade {
        Trade {
            market: MarketId::new("KRW-BTC"),
            price,
            volume,
            side,
            trade_timestamp: seq,
            timestamp: seq,
            sequential_id: seq,
            stream_type: StreamType::Realtime,
        }
    }

    /// The median and sums counted from scratch over the prints held.
    fn direct(tape: &Tape) -> (Option<Decimal>, Decimal, Decimal) {
        let mut n: Vec<Decimal> = tape.iter().filter_map(notional).collect();
        n.sort();
        let median = (n.len() >= MIN_PRINTS_FOR_MEDIAN).then(|| {
            let k = n.len();
            if k % 2 == 1 { n[k / 2] } else { (n[k / 2 - 1] + n[k / 2]) / dec!(2) }
        });
        let sum = |s| tape.iter().filter(|t| t.side == Some(s)).filter_map(notional).sum();
        (median, sum(Side::Bid), sum(Side::Ask))
    }

    #[test]
    fn the_notional_is_price_times_size_exactly() {
        let t = print(1, dec!(95_123_000), dec!(0.00012345), Some(Side::Bid));
        assert_eq!(notional(&t), Some(dec!(11742.93435)));
        let shib = print(2, dec!(0.0123), dec!(41178283.5909), Some(Side::Ask));
        assert_eq!(notional(&shib), Some(dec!(506492.88816807)));
    }

    #[test]
    fn the_median_and_the_split_follow_the_prints_held_as_old_ones_leave() {
        let mut tape = Tape::default();
        // A deterministic, uneven stream: sizes with up to 8 decimals, both sides, some
        // of unknown side, well past the tape's length so prints leave it.
        let mut x: u64 = 7;
        for seq in 1..=700i64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let volume = Decimal::new(((x >> 33) % 50_000_000 + 1) as i64, 8);
            let price = Decimal::from(95_000_000 + ((x >> 20) % 1000) as i64 * 1000);
            let side = match (x >> 60) % 5 {
                0 => None,
                1 | 2 => Some(Side::Bid),
                _ => Some(Side::Ask),
            };
            assert!(tape.push(print(seq, price, volume, side)));
            let (median, buy, sell) = direct(&tape);
            assert_eq!(tape.median(), median, "after {seq}");
            assert_eq!((tape.imbalance().buy, tape.imbalance().sell), (buy, sell), "after {seq}");
        }
        assert_eq!(tape.len(), TRADES_PER_MARKET);
        assert_eq!(tape.imbalance().prints, TRADES_PER_MARKET);
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let tape: Tape = (1..=20).map(|i| print(i, Decimal::from(i), dec!(1), Some(Side::Bid))).collect();
        assert_eq!(tape.median(), Some(dec!(10.5)));
        let short: Tape = (1..=19).map(|i| print(i, Decimal::from(i), dec!(1), Some(Side::Bid))).collect();
        assert_eq!(short.median(), None, "too few prints to say what is usual");
    }

    #[test]
    fn a_print_is_large_against_the_median_before_it_arrived() {
        // 30 prints of 100,000 KRW, then one of 499,999 and one of 500,000.
        let mut tape = Tape::default();
        for seq in 1..=30 {
            tape.push(print(seq, dec!(100_000), dec!(1), Some(Side::Bid)));
        }
        tape.push(print(31, dec!(100_000), dec!(4.99999), Some(Side::Ask)));
        tape.push(print(32, dec!(100_000), dec!(5), Some(Side::Ask)));
        let never = dec!(1_000_000_000_000);
        assert_eq!(tape.median_at(0), Some(dec!(100_000)));
        assert!(tape.is_large(0, dec!(5), never), "5x the median is large");
        assert!(!tape.is_large(1, dec!(5), never), "just under 5x is not");
        assert!(tape.is_large(1, dec!(4.5), never), "the multiple is the setting's");
        assert!(!tape.is_large(2, dec!(5), never));
        // The absolute floor flags a print whatever the median.
        assert!(tape.is_large(2, dec!(5), dec!(100_000)));
        // The flag stays as later prints arrive (the median they move is not its own).
        for seq in 33..=60 {
            tape.push(print(seq, dec!(100_000), dec!(9), Some(Side::Bid)));
        }
        assert!(tape.is_large(28, dec!(5), never));
    }

    #[test]
    fn no_print_is_large_against_too_few_prints() {
        let mut tape = Tape::default();
        for seq in 1..MIN_PRINTS_FOR_MEDIAN as i64 {
            tape.push(print(seq, dec!(100), dec!(1), Some(Side::Bid)));
        }
        tape.push(print(99, dec!(100), dec!(1000), Some(Side::Bid)));
        assert!(!tape.is_large(0, dec!(5), dec!(10_000_000)));
    }

    #[test]
    fn the_split_is_by_notional_in_whole_percent() {
        let imb = |buy: Decimal, sell: Decimal| Imbalance { buy, sell, prints: 2 };
        assert_eq!(imb(dec!(620_000), dec!(380_000)).buy_pct(), Some(62));
        // 2 : 1 is 66.67 % buy.
        assert_eq!(imb(dec!(2), dec!(1)).buy_pct(), Some(67));
        assert_eq!(imb(dec!(1), dec!(0)).buy_pct(), Some(100));
        assert_eq!(imb(dec!(0), dec!(3)).buy_pct(), Some(0));
        // A sliver of selling is not "0 %".
        assert_eq!(imb(dec!(999), dec!(1)).buy_pct(), Some(99));
        assert_eq!(imb(dec!(1), dec!(999)).buy_pct(), Some(1));
        assert_eq!(imb(dec!(0), dec!(0)).buy_pct(), None);
        // From prints: one buy of 0.001 BTC and one sell of 0.003 BTC at the same price.
        let tape: Tape = [
            print(2, dec!(95_000_000), dec!(0.003), Some(Side::Ask)),
            print(1, dec!(95_000_000), dec!(0.001), Some(Side::Bid)),
        ]
        .into_iter()
        .collect();
        assert_eq!(tape.imbalance(), Imbalance { buy: dec!(95_000), sell: dec!(285_000), prints: 2 });
        assert_eq!(tape.imbalance().buy_pct(), Some(25));
        assert_eq!(tape.iter().map(|t| t.sequential_id).collect::<Vec<_>>(), vec![2, 1], "newest first");
    }

    #[test]
    fn a_print_seen_twice_is_held_once() {
        let mut tape = Tape::default();
        assert!(tape.push(print(1, dec!(100), dec!(1), Some(Side::Bid))));
        assert!(!tape.push(print(1, dec!(100), dec!(1), Some(Side::Bid))));
        assert_eq!(tape.imbalance().buy, dec!(100));
    }
}
