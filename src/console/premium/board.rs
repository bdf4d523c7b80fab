//! The premium board from the latest prices: pure, so every rule of it is tested without
//! a network.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::exchange::types::{MarketId, MarketInfo};
use crate::store::premium::{Premium, PremiumBoard, RefRate, ratio_minus_one};

/// Upbit's market whose price is the won-per-USDT rate a trader can trade at.
pub(crate) const KRW_USDT: &str = "KRW-USDT";

/// A price is **stale** when the venue has not confirmed it for this long: no ticker on
/// the stream and no REST read of it (the premium task reads a quiet market's ticker
/// again by REST every [`super::REFRESH_QUIET`], so a coin that simply does not trade
/// keeps its premium, while one whose feed is down loses it). A premium computed from a
/// stale price is left off the board rather than shown as current.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(60);

/// The premiums a row may have and still be the same coin on both venues: a "premium"
/// below −50 % or above +100 % is a different coin under the same ticker (a
/// redenomination, a rename, a namesake), never a premium; such a row is left off.
pub(crate) const SAME_COIN: (Decimal, Decimal) = (dec!(-0.5), dec!(1));

/// One venue's last price of a market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quote {
    /// Last trade price (KRW on Upbit, USDT abroad).
    pub price: Decimal,
    /// When the venue last confirmed it (stream or REST), Unix ms.
    pub at_ms: i64,
    /// The same moment on the monotonic clock (staleness).
    pub seen: Instant,
}

/// Each Upbit KRW market whose coin the other venue lists in USDT, with that market:
/// matched by base asset (`KRW-BTC` ↔ `USDT-BTC`). `KRW-USDT` is the rate, not a pair.
pub(crate) fn pairs(upbit: &[MarketInfo], foreign: &[MarketInfo]) -> Vec<(MarketId, MarketId)> {
    let abroad: HashMap<&str, &MarketId> = foreign
        .iter()
        .filter(|m| m.market.quote() == crate::exchange::binance::QUOTE)
        .map(|m| (m.market.base(), &m.market))
        .collect();
    let mut out: Vec<(MarketId, MarketId)> = upbit
        .iter()
        .filter(|m| m.market.quote() == "KRW" && m.market.as_str() != KRW_USDT)
        .filter_map(|m| abroad.get(m.market.base()).map(|f| (m.market.clone(), (*f).clone())))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What the board is computed from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Inputs {
    /// (Upbit KRW market, the other venue's USDT market).
    pub pairs: Vec<(MarketId, MarketId)>,
    /// The same pairs by Upbit market, shared with the board.
    pub paired: Arc<HashMap<MarketId, MarketId>>,
    /// Upbit's last prices (the pairs' KRW markets and `KRW-USDT`).
    pub upbit: HashMap<MarketId, Quote>,
    /// The other venue's last prices.
    pub foreign: HashMap<MarketId, Quote>,
    /// The reference rate, when one is configured.
    pub reference: Option<RefRate>,
}

impl Inputs {
    /// `q`, unless it is stale at `now`.
    pub(crate) fn fresh(&self, q: Option<&Quote>, now: Instant) -> Option<Quote> {
        q.filter(|q| now.saturating_duration_since(q.seen) <= STALE_AFTER).copied()
    }
}

/// The board of `inputs` at `now`: a row per pair whose prices are both fresh, with the
/// premium against `KRW-USDT` (when its price is fresh) and against the reference rate
/// (when one was read); a row with neither, or outside [`SAME_COIN`], is left off. A
/// row's `at_ms` is its oldest input's.
pub(crate) fn compute(inputs: &Inputs, venue: &str, now: Instant) -> PremiumBoard {
    let usdt = inputs.fresh(inputs.upbit.get(&MarketId::new(KRW_USDT)), now);
    let rate = inputs.reference.as_ref().and_then(|r| r.rate);
    let mut rows = HashMap::new();
    for (krw, abroad) in &inputs.pairs {
        let (Some(a), Some(f)) =
            (inputs.fresh(inputs.upbit.get(krw), now), inputs.fresh(inputs.foreign.get(abroad), now))
        else {
            continue;
        };
        let vs_usdt = usdt.and_then(|u| ratio_minus_one(a.price, f.price, u.price));
        let vs_ref = rate.and_then(|r| ratio_minus_one(a.price, f.price, r));
        let Some(judged) = vs_usdt.or(vs_ref) else { continue };
        if judged <= SAME_COIN.0 || judged >= SAME_COIN.1 {
            continue;
        }
        let mut at_ms = a.at_ms.min(f.at_ms);
        if let (Some(u), Some(_)) = (usdt, vs_usdt) {
            at_ms = at_ms.min(u.at_ms);
        }
        rows.insert(krw.clone(), Premium { foreign: f.price, vs_usdt, vs_ref, at_ms });
    }
    let krw_usdt = usdt.map(|u| u.price);
    PremiumBoard {
        rows,
        krw_usdt,
        usdt_vs_ref: krw_usdt.zip(rate).and_then(|(u, r)| ratio_minus_one(u, Decimal::ONE, r)),
        reference: inputs.reference.clone(),
        venue: venue.to_string(),
        paired: inputs.paired.clone(),
    }
}

/// The markets whose coin looks like a different one on each venue (a row left off by
/// [`SAME_COIN`]), for a note in the log.
pub(crate) fn namesakes(inputs: &Inputs, now: Instant) -> Vec<(MarketId, Decimal)> {
    let Some(usdt) = inputs.fresh(inputs.upbit.get(&MarketId::new(KRW_USDT)), now) else {
        return Vec::new();
    };
    inputs
        .pairs
        .iter()
        .filter_map(|(krw, abroad)| {
            let a = inputs.fresh(inputs.upbit.get(krw), now)?;
            let f = inputs.fresh(inputs.foreign.get(abroad), now)?;
            let p = ratio_minus_one(a.price, f.price, usdt.price)?;
            (p <= SAME_COIN.0 || p >= SAME_COIN.1).then(|| (krw.clone(), p))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(code: &str) -> MarketInfo {
        MarketInfo {
            market: MarketId::new(code),
            korean_name: String::new(),
            english_name: String::new(),
            warning: false,
            caution: false,
        }
    }

    fn q(price: Decimal, at_ms: i64, seen: Instant) -> Quote {
        Quote { price, at_ms, seen }
    }

    fn inputs(now: Instant) -> Inputs {
        let m = MarketId::new;
        Inputs {
            paired: Default::default(),
            pairs: vec![(m("KRW-BTC"), m("USDT-BTC")), (m("KRW-ETH"), m("USDT-ETH"))],
            upbit: HashMap::from([
                (m("KRW-BTC"), q(dec!(146000000), 1_000, now)),
                (m("KRW-ETH"), q(dec!(5000000), 1_500, now)),
                (m(KRW_USDT), q(dec!(1400), 900, now)),
            ]),
            foreign: HashMap::from([
                (m("USDT-BTC"), q(dec!(100000), 1_200, now)),
                (m("USDT-ETH"), q(dec!(3500), 800, now)),
            ]),
            reference: Some(RefRate {
                rate: Some(dec!(1450)),
                source: "fixed".into(),
                at_ms: None,
                error: None,
            }),
        }
    }

    #[test]
    fn pairs_match_by_coin_and_leave_out_the_rate_and_upbit_only_coins() {
        let upbit = [info("KRW-BTC"), info("KRW-USDT"), info("KRW-ETH"), info("BTC-ETH"), info("KRW-MOC")];
        let binance = [info("USDT-ETH"), info("USDT-BTC"), info("USDT-XRP")];
        let m = MarketId::new;
        assert_eq!(
            pairs(&upbit, &binance),
            vec![(m("KRW-BTC"), m("USDT-BTC")), (m("KRW-ETH"), m("USDT-ETH"))]
        );
    }

    #[test]
    fn premiums_are_exact_ratios_stamped_with_the_oldest_input() {
        let now = Instant::now();
        let b = compute(&inputs(now), "Binance", now);
        let btc = b.of(&MarketId::new("KRW-BTC")).unwrap();
        // 146,000,000 / (100,000 × 1,400) − 1 = 6/140, exactly as Decimal divides it.
        assert_eq!(btc.vs_usdt, Some(dec!(146000000) / dec!(140000000) - Decimal::ONE));
        assert_eq!(btc.vs_usdt.unwrap().round_dp(8), dec!(0.04285714));
        // Against 1,450: 146,000,000 / 145,000,000 − 1.
        assert_eq!(btc.vs_ref, Some(dec!(146000000) / dec!(145000000) - Decimal::ONE));
        assert_eq!(btc.foreign, dec!(100000));
        assert_eq!(btc.at_ms, 900, "KRW-USDT's price is the oldest of the three");
        let eth = b.of(&MarketId::new("KRW-ETH")).unwrap();
        // 5,000,000 / (3,500 × 1,400) − 1 = 5,000,000 / 4,900,000 − 1.
        assert_eq!(eth.vs_usdt, Some(dec!(5000000) / dec!(4900000) - Decimal::ONE));
        assert_eq!(eth.at_ms, 800);
        assert_eq!(b.krw_usdt, Some(dec!(1400)));
        assert_eq!(b.usdt_vs_ref, Some(dec!(1400) / dec!(1450) - Decimal::ONE));
        assert_eq!(b.venue, "Binance");
        assert_eq!(b.reference.as_ref().and_then(|r| r.rate), Some(dec!(1450)));
    }

    #[test]
    fn a_stale_price_drops_its_row_and_a_stale_rate_drops_the_usdt_basis() {
        let now = Instant::now();
        let old = now - STALE_AFTER - Duration::from_secs(1);
        let mut i = inputs(now);
        i.foreign.insert(MarketId::new("USDT-ETH"), q(dec!(3500), 800, old));
        let b = compute(&i, "Binance", now);
        assert!(b.of(&MarketId::new("KRW-ETH")).is_none(), "Binance's ETH price is stale");
        assert!(b.of(&MarketId::new("KRW-BTC")).is_some());
        // Just within the limit still counts.
        i.foreign.insert(MarketId::new("USDT-ETH"), q(dec!(3500), 800, now - STALE_AFTER));
        assert!(compute(&i, "Binance", now).of(&MarketId::new("KRW-ETH")).is_some());
        // A stale KRW-USDT: no kimp, the reference premium stays, stamped without it.
        i.upbit.insert(MarketId::new(KRW_USDT), q(dec!(1400), 900, old));
        let b = compute(&i, "Binance", now);
        let btc = b.of(&MarketId::new("KRW-BTC")).unwrap();
        assert_eq!(btc.vs_usdt, None);
        assert!(btc.vs_ref.is_some());
        assert_eq!(btc.at_ms, 1_000);
        assert_eq!((b.krw_usdt, b.usdt_vs_ref), (None, None));
    }

    #[test]
    fn without_krw_usdt_or_a_reference_there_is_no_premium() {
        let now = Instant::now();
        let mut i = inputs(now);
        i.upbit.remove(&MarketId::new(KRW_USDT));
        i.reference = None;
        let b = compute(&i, "Binance", now);
        assert!(b.rows.is_empty(), "{b:?}");
        assert_eq!(b.krw_usdt, None);
        // A reference configured but never read is no rate either.
        i.reference = Some(RefRate {
            rate: None,
            source: "x.example".into(),
            at_ms: None,
            error: Some("HTTP 500".into()),
        });
        let b = compute(&i, "Binance", now);
        assert!(b.rows.is_empty());
        assert_eq!(b.reference.as_ref().and_then(|r| r.error.as_deref()), Some("HTTP 500"));
    }

    #[test]
    fn absurd_prices_give_no_row_and_no_panic() {
        let now = Instant::now();
        let m = MarketId::new;
        for (krw, usdt) in [
            (Decimal::ZERO, dec!(100000)),
            (dec!(146000000), Decimal::ZERO),
            (dec!(-1), dec!(100000)),
            (Decimal::MAX, dec!(0.0000000000000000000000000001)),
            // A namesake: the "same" ticker at a twentieth of the price abroad.
            (dec!(146000000), dec!(2000000)),
            (dec!(146000000), dec!(10)),
        ] {
            let mut i = inputs(now);
            i.upbit.insert(m("KRW-BTC"), q(krw, 1, now));
            i.foreign.insert(m("USDT-BTC"), q(usdt, 1, now));
            let b = compute(&i, "Binance", now);
            assert!(b.of(&m("KRW-BTC")).is_none(), "{krw} / {usdt}: {:?}", b.of(&m("KRW-BTC")));
            assert!(b.of(&m("KRW-ETH")).is_some(), "the other rows stay");
        }
        let mut i = inputs(now);
        i.foreign.insert(m("USDT-BTC"), q(dec!(10), 1, now));
        assert_eq!(namesakes(&i, now).len(), 1);
        let mut i = inputs(now);
        i.upbit.insert(m(KRW_USDT), q(Decimal::ZERO, 1, now));
        let b = compute(&i, "Binance", now);
        assert_eq!(b.of(&m("KRW-BTC")).and_then(|p| p.vs_usdt), None, "a zero rate is no rate");
    }
}
