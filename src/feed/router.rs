//! Routing: which subscriber queues want an event. The table is rebuilt on every
//! subscription change (rare) and read on every message (hot): readers keep an `Arc` of
//! the current table and only re-fetch it when the version counter moved, so the hot path
//! takes no lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustc_hash::FxHashMap as HashMap;

use crate::exchange::api::StreamKind;
use crate::exchange::types::MarketId;
use crate::feed::FeedEvent;
use crate::feed::backpressure::{Pushed, Strategy, SubQueue};

/// Subscriber queues by stream and market.
#[derive(Debug, Default)]
pub struct RouteTable {
    by_market: HashMap<StreamKind, HashMap<MarketId, Vec<Arc<SubQueue>>>>,
    /// Subscribers of every market of a stream (myOrder without codes, myAsset).
    all: HashMap<StreamKind, Vec<Arc<SubQueue>>>,
}

impl RouteTable {
    /// Builds a table from (stream, markets, queue); empty markets = all markets.
    pub fn build<'a>(entries: impl IntoIterator<Item = (StreamKind, &'a [MarketId], Arc<SubQueue>)>) -> Self {
        let mut t = RouteTable::default();
        for (kind, markets, q) in entries {
            if markets.is_empty() || !kind.has_markets() {
                t.all.entry(kind).or_default().push(q);
            } else {
                let per = t.by_market.entry(kind).or_default();
                for m in markets {
                    per.entry(m.clone()).or_default().push(q.clone());
                }
            }
        }
        t
    }

    /// Queues that want an event of `kind` about `market`.
    pub fn targets<'a>(
        &'a self,
        kind: StreamKind,
        market: Option<&MarketId>,
    ) -> impl Iterator<Item = &'a Arc<SubQueue>> + 'a {
        let specific = market.and_then(|m| self.by_market.get(&kind).and_then(|per| per.get(m)));
        // A REST list (open orders, balances) has no market: it goes to every subscriber
        // of the stream.
        let everyone = if market.is_none() {
            self.by_market
                .get(&kind)
                .map(|per| per.values().flatten().collect::<Vec<_>>())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        specific.into_iter().flatten().chain(self.all.get(&kind).into_iter().flatten()).chain(everyone)
    }
}

/// The shared, versioned route table.
#[derive(Debug, Default)]
pub struct Router {
    table: RwLock<Arc<RouteTable>>,
    version: AtomicU64,
}

/// A reader's cached copy of the table.
#[derive(Debug, Default)]
pub struct CachedRoutes {
    version: u64,
    table: Arc<RouteTable>,
}

impl Router {
    /// Replaces the table.
    pub fn publish(&self, table: RouteTable) {
        let mut slot = self.table.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = Arc::new(table);
        self.version.fetch_add(1, Ordering::Release);
    }

    /// The current table, re-fetched only when it changed since `cache` was filled.
    pub fn current<'a>(&self, cache: &'a mut CachedRoutes) -> &'a RouteTable {
        let v = self.version.load(Ordering::Acquire);
        if v != cache.version {
            let t = self.table.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            *cache = CachedRoutes { version: v, table: t };
        }
        &cache.table
    }
}

/// Hands one event to every queue that wants it, waking each consumer at once. Lossy
/// queues never block; a lossless queue may make the caller wait up to `stall`. Returns
/// how many queues took it.
pub async fn deliver(table: &RouteTable, ev: Arc<FeedEvent>, stall: Duration) -> usize {
    let mut wakeups = Wakeups::default();
    let n = deliver_deferred(table, ev, stall, &mut wakeups).await;
    wakeups.flush();
    n
}

/// Queues that received events during a burst and whose consumers have not been woken
/// yet. Bounded by the number of subscribers (each queue appears once).
#[derive(Debug, Default)]
pub(crate) struct Wakeups {
    queues: Vec<Arc<SubQueue>>,
}

impl Wakeups {
    fn add(&mut self, q: &Arc<SubQueue>) {
        // Linear: a burst touches a handful of queues, and the last one is the usual hit.
        if !self.queues.iter().rev().any(|x| Arc::ptr_eq(x, q)) {
            self.queues.push(q.clone());
        }
    }

    /// Wakes every touched consumer once.
    pub fn flush(&mut self) {
        for q in self.queues.drain(..) {
            q.wake();
        }
    }
}

/// [`deliver`] without waking the consumers: the touched queues are added to `wakeups`,
/// which the caller must [`Wakeups::flush`] when its burst ends. Order per queue is
/// unchanged (events are queued at once; only the wake-up is deferred). Before waiting on
/// a full lossless queue, every pending wake-up (and that queue's consumer) is done.
pub(crate) async fn deliver_deferred(
    table: &RouteTable,
    ev: Arc<FeedEvent>,
    stall: Duration,
    wakeups: &mut Wakeups,
) -> usize {
    let mut n = 0;
    let kind = ev.kind();
    let market = ev.market();
    for q in table.targets(kind, market) {
        let pushed = match q.strategy() {
            Strategy::Lossless => match q.try_push_quiet(ev.clone()) {
                Ok(p) => p,
                Err(back) => {
                    // About to wait for room: first wake everyone already served in this
                    // burst, so the others are not held back by the stalled one.
                    wakeups.flush();
                    q.push(back, stall).await
                }
            },
            _ => q.try_push_quiet(ev.clone()).unwrap_or(Pushed::Closed),
        };
        if pushed != Pushed::Closed {
            wakeups.add(q);
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::atomic::AtomicUsize;
    use std::task::{Context, Poll};
    use std::time::Instant;

    use futures_util::FutureExt;
    use futures_util::task::{ArcWake, waker};

    use super::*;
    use crate::exchange::api::StreamEvent;
    use crate::exchange::types::Ticker;
    use crate::feed::FeedPayload;

    struct Wakes(AtomicUsize);
    impl ArcWake for Wakes {
        fn wake_by_ref(a: &Arc<Self>) {
            a.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn tick(ts: i64) -> Arc<FeedEvent> {
        Arc::new(FeedEvent {
            epoch: 1,
            received: Instant::now(),
            payload: FeedPayload::Stream(StreamEvent::Ticker(Ticker {
                market: Some(MarketId::new("KRW-BTC")),
                timestamp: ts,
                ..Ticker::default()
            })),
        })
    }

    #[test]
    fn a_burst_wakes_each_consumer_once_at_the_end_and_keeps_order() {
        let m = [MarketId::new("KRW-BTC")];
        let q = Arc::new(SubQueue::new(Strategy::Lossless, 8));
        let table = RouteTable::build([(StreamKind::Ticker, &m[..], q.clone())]);
        let wakes = Arc::new(Wakes(AtomicUsize::new(0)));
        let w = waker(wakes.clone());
        let mut cx = Context::from_waker(&w);
        let mut recv = Box::pin(q.recv());
        assert!(recv.as_mut().poll(&mut cx).is_pending(), "nothing queued yet");
        let mut pending = Wakeups::default();
        for ts in 1..=3 {
            let n = deliver_deferred(&table, tick(ts), Duration::from_secs(1), &mut pending).now_or_never();
            assert_eq!(n, Some(1));
        }
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0, "no wake-up inside the burst");
        assert!(!pending.queues.is_empty());
        pending.flush();
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "one wake-up for the burst");
        match recv.as_mut().poll(&mut cx) {
            Poll::Ready(Some(ev)) => assert_eq!(ev.exchange_ts(), 1),
            other => panic!("{other:?}"),
        }
        assert_eq!(q.try_recv().map(|e| e.exchange_ts()), Some(2));
        assert_eq!(q.try_recv().map(|e| e.exchange_ts()), Some(3));
    }

    #[tokio::test]
    async fn a_full_lossless_queue_wakes_the_others_before_waiting() {
        let m = [MarketId::new("KRW-BTC")];
        let lossy = Arc::new(SubQueue::new(Strategy::CoalesceByMarket, 8));
        let full = Arc::new(SubQueue::new(Strategy::Lossless, 1));
        full.try_push(tick(0)).unwrap();
        let table = RouteTable::build([
            (StreamKind::Ticker, &m[..], lossy.clone()),
            (StreamKind::Ticker, &m[..], full.clone()),
        ]);
        let wakes = Arc::new(Wakes(AtomicUsize::new(0)));
        let w = waker(wakes.clone());
        let mut cx = Context::from_waker(&w);
        let mut recv = Box::pin(lossy.recv());
        assert!(recv.as_mut().poll(&mut cx).is_pending());
        let mut pending = Wakeups::default();
        // The lossless consumer never reads: the push stalls, drops and counts.
        let n = deliver_deferred(&table, tick(1), Duration::from_millis(20), &mut pending).await;
        assert_eq!(n, 2);
        assert_eq!(full.drops(), 1);
        assert!(wakes.0.load(Ordering::SeqCst) >= 1, "the lossy consumer was woken before the stall");
        assert!(matches!(recv.as_mut().poll(&mut cx), Poll::Ready(Some(_))));
    }
}
