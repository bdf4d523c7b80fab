//! Consolidated demand: every subscriber's (stream, markets) counted per key, turned into
//! the one upstream set each connection must request (Upbit replaces the subscription on
//! every request, so the whole set is always sent). A key whose last subscriber left stays
//! upstream for a grace period, so closing and reopening a pane causes no churn.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::exchange::api::StreamKind;
use crate::exchange::types::MarketId;

/// One unit of demand: a stream of one market (`None` = every market / no market).
pub(crate) type DemandKey = (StreamKind, Option<MarketId>);

/// What one connection must request: stream kind → markets (empty = all / not addressed).
pub(crate) type UpstreamSet = BTreeMap<StreamKind, BTreeSet<MarketId>>;

/// Counts demand per key from subscribers' (kind, markets) lists. An empty market list
/// means "all markets" for `MyOrder` and "no market" for `MyAsset`.
pub(crate) fn count_demand<'a>(
    subs: impl IntoIterator<Item = (StreamKind, &'a [MarketId])>,
) -> BTreeMap<DemandKey, usize> {
    let mut out = BTreeMap::new();
    for (kind, markets) in subs {
        if markets.is_empty() || !kind.has_markets() {
            *out.entry((kind, None)).or_insert(0) += 1;
        } else {
            for m in markets {
                *out.entry((kind, Some(m.clone()))).or_insert(0) += 1;
            }
        }
    }
    out
}

/// Tracks what is upstream and when released keys expire.
#[derive(Debug, Default)]
pub(crate) struct Planner {
    released: HashMap<DemandKey, Instant>,
    upstream: BTreeSet<DemandKey>,
}

impl Planner {
    /// A planner with nothing upstream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Computes the keys to keep upstream at `now`: everything demanded, plus released
    /// keys still inside their grace period. Returns the keys and the next grace expiry.
    pub(crate) fn plan(
        &mut self,
        demand: &BTreeMap<DemandKey, usize>,
        now: Instant,
        grace: Duration,
    ) -> (BTreeSet<DemandKey>, Option<Instant>) {
        // Keys that just lost their last subscriber start their grace period.
        for key in &self.upstream {
            if !demand.contains_key(key) {
                self.released.entry(key.clone()).or_insert(now);
            }
        }
        self.released.retain(|k, at| !demand.contains_key(k) && *at + grace > now);
        let mut keys: BTreeSet<DemandKey> = demand.keys().cloned().collect();
        keys.extend(self.released.keys().cloned());
        let next = self.released.values().map(|at| *at + grace).min();
        self.upstream = keys.clone();
        (keys, next)
    }
}

/// Splits keys into the public and private upstream sets.
pub fn split(keys: &BTreeSet<DemandKey>) -> (UpstreamSet, UpstreamSet) {
    let mut public = UpstreamSet::new();
    let mut private = UpstreamSet::new();
    for (kind, market) in keys {
        let set = if kind.is_private() { &mut private } else { &mut public };
        let entry = set.entry(*kind).or_default();
        if let Some(m) = market {
            entry.insert(m.clone());
        }
    }
    // myOrder for "all markets" wins over a market list: send no codes.
    if keys.contains(&(StreamKind::MyOrder, None)) {
        private.insert(StreamKind::MyOrder, BTreeSet::new());
    }
    (public, private)
}

/// The set as the request builder wants it.
pub(crate) fn as_request(set: &UpstreamSet) -> Vec<(StreamKind, Vec<MarketId>)> {
    set.iter().map(|(k, ms)| (*k, ms.iter().cloned().collect())).collect()
}

/// Every market in a set (for REST gap fills).
pub(crate) fn markets_of(set: &UpstreamSet, kind: StreamKind) -> Vec<MarketId> {
    set.get(&kind).map(|s| s.iter().cloned().collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(s: &str) -> MarketId {
        MarketId::new(s)
    }

    #[test]
    fn union_refcount_and_grace() {
        let a = [m("KRW-BTC"), m("KRW-ETH")];
        let b = [m("KRW-BTC")];
        let demand = count_demand([(StreamKind::Ticker, &a[..]), (StreamKind::Ticker, &b[..])]);
        assert_eq!(demand[&(StreamKind::Ticker, Some(m("KRW-BTC")))], 2);
        let mut p = Planner::new();
        let t0 = Instant::now();
        let grace = Duration::from_secs(10);
        let (keys, next) = p.plan(&demand, t0, grace);
        assert_eq!(keys.len(), 2);
        assert!(next.is_none());
        // Everyone leaves: still upstream within grace, gone after.
        let (keys, next) = p.plan(&BTreeMap::new(), t0 + Duration::from_secs(1), grace);
        assert_eq!(keys.len(), 2);
        assert_eq!(next, Some(t0 + Duration::from_secs(11)));
        let (keys, _) = p.plan(&BTreeMap::new(), t0 + Duration::from_secs(12), grace);
        assert!(keys.is_empty());
    }

    #[test]
    fn private_split_and_all_markets() {
        let none: [MarketId; 0] = [];
        let one = [m("KRW-BTC")];
        let demand = count_demand([
            (StreamKind::MyOrder, &one[..]),
            (StreamKind::MyOrder, &none[..]),
            (StreamKind::MyAsset, &none[..]),
            (StreamKind::Trade, &one[..]),
        ]);
        let (keys, _) = Planner::new().plan(&demand, Instant::now(), Duration::ZERO);
        let (public, private) = split(&keys);
        assert_eq!(public.len(), 1);
        assert!(private[&StreamKind::MyOrder].is_empty());
        assert!(private.contains_key(&StreamKind::MyAsset));
    }

    proptest! {
        #[test]
        fn upstream_is_exactly_the_union_of_demand(
            subs in proptest::collection::vec(
                (0u8..3, proptest::collection::vec(0u8..6, 1..4)), 0..8)
        ) {
            let kinds = [StreamKind::Ticker, StreamKind::Trade, StreamKind::OrderBook];
            let lists: Vec<(StreamKind, Vec<MarketId>)> = subs.iter()
                .map(|(k, ms)| (kinds[*k as usize], ms.iter().map(|i| m(&format!("KRW-C{i}"))).collect()))
                .collect();
            let demand = count_demand(lists.iter().map(|(k, v)| (*k, v.as_slice())));
            let (keys, _) = Planner::new().plan(&demand, Instant::now(), Duration::ZERO);
            let (public, _) = split(&keys);
            for (k, ms) in &lists {
                for mk in ms {
                    prop_assert!(public[k].contains(mk));
                }
            }
            let total: usize = public.values().map(|s| s.len()).sum();
            let expected: BTreeSet<(StreamKind, MarketId)> =
                lists.iter().flat_map(|(k, v)| v.iter().map(move |x| (*k, x.clone()))).collect();
            prop_assert_eq!(total, expected.len());
        }
    }
}
