//! A market's premium over time, from the candles of both venues: pure.

use std::collections::HashMap;

use rust_decimal::Decimal;

use crate::exchange::types::Candle;
use crate::store::premium::ratio_minus_one;

use super::board::SAME_COIN;

/// Most points a series keeps (the chart's history is a page of candles and its growth).
pub(crate) const MAX_POINTS: usize = 1_000;

/// The premium at each candle start all three series share, oldest first: Upbit's close
/// over the other venue's close times `KRW-USDT`'s close. A start missing from any of
/// them (a venue's gap, day candles cut at another hour) is left out, not guessed; so is
/// a point outside [`SAME_COIN`].
pub(crate) fn align(upbit: &[Candle], usdt: &[Candle], foreign: &[Candle]) -> Vec<(i64, Decimal)> {
    let closes = |cs: &[Candle]| cs.iter().map(|c| (c.start, c.close)).collect::<HashMap<i64, Decimal>>();
    let (usdt, foreign) = (closes(usdt), closes(foreign));
    let mut points: Vec<(i64, Decimal)> = upbit
        .iter()
        .filter_map(|c| {
            let p = ratio_minus_one(c.close, *foreign.get(&c.start)?, *usdt.get(&c.start)?)?;
            (p > SAME_COIN.0 && p < SAME_COIN.1).then_some((c.start, p))
        })
        .collect();
    points.sort_by_key(|(s, _)| *s);
    points.dedup_by_key(|(s, _)| *s);
    points
}

/// `newer` points into `points`: a start already there takes the newer value; the series
/// stays in order and at most [`MAX_POINTS`] long (the oldest go).
pub(crate) fn merge(points: &mut Vec<(i64, Decimal)>, newer: Vec<(i64, Decimal)>) {
    let mut by_start: std::collections::BTreeMap<i64, Decimal> = points.drain(..).collect();
    by_start.extend(newer);
    let skip = by_start.len().saturating_sub(MAX_POINTS);
    points.extend(by_start.into_iter().skip(skip));
}

/// The live premium `now` at `now_ms` into the last point, while that candle (`period_ms`
/// long) is still forming. False when it has closed: the series needs the next candle
/// from the venues first.
pub(crate) fn follow(points: &mut [(i64, Decimal)], period_ms: i64, now_ms: i64, now: Decimal) -> bool {
    let Some(last) = points.last_mut() else { return false };
    if now_ms < last.0 || now_ms >= last.0.saturating_add(period_ms) {
        return false;
    }
    last.1 = now;
    true
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::exchange::types::{MarketId, Timeframe};

    fn candles(code: &str, closes: &[(i64, Decimal)]) -> Vec<Candle> {
        // Newest first, as the venues answer.
        closes
            .iter()
            .rev()
            .map(|(start, close)| Candle {
                market: MarketId::new(code),
                timeframe: Timeframe::M1,
                start: *start,
                open: *close,
                high: *close,
                low: *close,
                close: *close,
                volume: dec!(1),
                value: dec!(1),
                timestamp: *start,
            })
            .collect()
    }

    #[test]
    fn points_are_the_shared_starts_only_oldest_first() {
        let up = candles("KRW-BTC", &[(0, dec!(146000000)), (60, dec!(147000000)), (120, dec!(145000000))]);
        let usdt = candles("KRW-USDT", &[(0, dec!(1400)), (60, dec!(1400)), (120, dec!(1450))]);
        // Binance has no candle at 60 (a gap) and one at 180 Upbit has not.
        let abroad = candles("USDT-BTC", &[(0, dec!(100000)), (120, dec!(100000)), (180, dec!(1))]);
        let points = align(&up, &usdt, &abroad);
        assert_eq!(
            points,
            vec![
                (0, dec!(146000000) / dec!(140000000) - Decimal::ONE),
                (120, dec!(145000000) / dec!(145000000) - Decimal::ONE),
            ]
        );
        // A namesake's point is left out, and so is a zero close.
        let odd = candles("USDT-BTC", &[(0, dec!(5000)), (120, dec!(0))]);
        assert!(align(&up, &usdt, &odd).is_empty());
    }

    #[test]
    fn merging_replaces_by_start_and_the_live_premium_moves_the_forming_point() {
        let mut points = vec![(0, dec!(0.01)), (60_000, dec!(0.02))];
        merge(&mut points, vec![(60_000, dec!(0.025)), (120_000, dec!(0.03))]);
        assert_eq!(points, vec![(0, dec!(0.01)), (60_000, dec!(0.025)), (120_000, dec!(0.03))]);
        assert!(follow(&mut points, 60_000, 150_000, dec!(0.031)));
        assert_eq!(points.last(), Some(&(120_000, dec!(0.031))));
        assert!(!follow(&mut points, 60_000, 180_000, dec!(0.04)), "the candle has closed");
        assert_eq!(points.last(), Some(&(120_000, dec!(0.031))));
        let mut long: Vec<(i64, Decimal)> = Vec::new();
        merge(&mut long, (0..(MAX_POINTS as i64 + 5)).map(|i| (i, Decimal::from(i))).collect());
        assert_eq!(long.len(), MAX_POINTS);
        assert_eq!(long.first().map(|p| p.0), Some(5));
    }
}
