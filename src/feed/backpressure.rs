//! Per-subscriber bounded queues with an overflow strategy, so one slow pane never stalls
//! the feed or the other panes (RELIABILITY case 26).
//!
//! - [`Strategy::Lossless`]: orders and fills. Never drops while there is room; when full
//!   the router waits (backpressure) up to a stall timeout, then counts an overflow and
//!   drops without waiting until the consumer moves again (the subscriber must resync;
//!   health turns degraded).
//! - [`Strategy::DropOldest`]: a ring; the oldest event is dropped and counted.
//! - [`Strategy::CoalesceByMarket`]: latest event per (stream, market); a replaced event
//!   is counted as a drop. Memory is bounded by the number of markets.
//! - [`Strategy::Throttle`]: coalesced, and handed out at most once per interval.
//!
//! Every queue counts what it drops; nothing is lost silently.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::exchange::api::StreamKind;
use crate::exchange::types::MarketId;
use crate::feed::FeedEvent;
use crate::kernel::latest::{LatestByKey, WhenFull};

/// How a subscriber's queue behaves when the subscriber falls behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Never drop; the producer waits when the queue is full (orders, fills).
    Lossless,
    /// Drop the oldest queued event.
    DropOldest,
    /// Keep only the latest event per (stream, market).
    CoalesceByMarket,
    /// Latest per (stream, market), handed out at most once per interval.
    Throttle(Duration),
}

impl Strategy {
    /// Short label for tables.
    pub fn label(&self) -> String {
        match self {
            Strategy::Lossless => "lossless".into(),
            Strategy::DropOldest => "drop-oldest".into(),
            Strategy::CoalesceByMarket => "coalesce".into(),
            Strategy::Throttle(d) => format!("throttle {}ms", d.as_millis()),
        }
    }
}

type Key = (StreamKind, Option<MarketId>);

struct State {
    /// Lossless and drop-oldest queues.
    fifo: VecDeque<Arc<FeedEvent>>,
    /// Coalescing and throttled queues: a full one drops the oldest market's event.
    latest: LatestByKey<Key, Arc<FeedEvent>, rustc_hash::FxBuildHasher>,
    next_allowed: Option<Instant>,
}

/// What the consumer found.
enum Take {
    Event(Arc<FeedEvent>),
    /// Throttled: something is queued but may be handed out only at this time.
    Until(Instant),
    Empty,
}

/// The outcome of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued without loss.
    Queued,
    /// Queued, and an older event was dropped or replaced.
    Dropped,
    /// The subscriber is gone.
    Closed,
}

/// One subscriber's queue. Shared by the router (producer) and the subscription (consumer).
pub struct SubQueue {
    strategy: Strategy,
    capacity: usize,
    state: Mutex<State>,
    /// Wakes the consumer; `Notify` stores one permit, so wake-ups conflate.
    ready: Notify,
    /// Wakes a lossless producer waiting for room.
    space: Notify,
    closed: AtomicBool,
    /// Set when a lossless push timed out; until the consumer takes something, further
    /// pushes to a full queue drop at once, so one stuck consumer costs the feed one stall
    /// per episode, not one per event.
    stalled: AtomicBool,
    drops: AtomicU64,
    delivered: AtomicU64,
    /// A fixed instant standing in for "now" where the strategy ignores time.
    created: Instant,
}

impl std::fmt::Debug for SubQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubQueue")
            .field("strategy", &self.strategy)
            .field("depth", &self.depth())
            .field("drops", &self.drops())
            .finish()
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SubQueue {
    /// A queue holding at most `capacity` events (or distinct markets when coalescing).
    pub fn new(strategy: Strategy, capacity: usize) -> Self {
        SubQueue {
            strategy,
            capacity: capacity.max(1),
            state: Mutex::new(State {
                fifo: VecDeque::new(),
                latest: LatestByKey::with_hasher(
                    capacity.max(1),
                    WhenFull::EvictOldest,
                    rustc_hash::FxBuildHasher,
                ),
                next_allowed: None,
            }),
            ready: Notify::new(),
            space: Notify::new(),
            closed: AtomicBool::new(false),
            stalled: AtomicBool::new(false),
            drops: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            created: Instant::now(),
        }
    }

    /// The strategy.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Events waiting.
    pub fn depth(&self) -> usize {
        let st = lock(&self.state);
        st.fifo.len() + st.latest.len()
    }

    /// Events dropped or replaced so far.
    pub fn drops(&self) -> u64 {
        self.drops.load(Ordering::Relaxed)
    }

    /// Events handed to the consumer so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// True once closed (subscriber dropped or unsubscribed).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Closes the queue: the consumer drains what is left, then sees the end.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.ready.notify_one();
        self.space.notify_waiters();
    }

    /// Counts a drop decided outside the queue (e.g. a lossless stall timeout).
    pub(crate) fn count_drop(&self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }

    /// Pushes without waiting. For `Lossless` a full queue returns the event back.
    pub(crate) fn try_push(&self, ev: Arc<FeedEvent>) -> Result<Pushed, Arc<FeedEvent>> {
        let r = self.try_push_quiet(ev);
        if matches!(r, Ok(Pushed::Queued | Pushed::Dropped)) {
            self.wake();
        }
        r
    }

    /// Wakes the consumer (if it waits). A push made with [`Self::try_push_quiet`] must be
    /// followed by this, at the latest when the producer's burst ends.
    pub fn wake(&self) {
        self.ready.notify_one();
    }

    /// [`Self::try_push`] without waking the consumer: a reader draining a burst of frames
    /// pushes them all, then wakes each touched queue once (`router::Wakeups`), instead of
    /// waking a sleeping consumer per event.
    pub(crate) fn try_push_quiet(&self, ev: Arc<FeedEvent>) -> Result<Pushed, Arc<FeedEvent>> {
        if self.is_closed() {
            return Ok(Pushed::Closed);
        }
        let mut st = lock(&self.state);
        let outcome = match self.strategy {
            Strategy::Lossless => {
                if st.fifo.len() >= self.capacity {
                    return Err(ev);
                }
                st.fifo.push_back(ev);
                Pushed::Queued
            }
            Strategy::DropOldest => {
                let mut out = Pushed::Queued;
                if st.fifo.len() >= self.capacity {
                    st.fifo.pop_front();
                    out = Pushed::Dropped;
                }
                st.fifo.push_back(ev);
                out
            }
            Strategy::CoalesceByMarket | Strategy::Throttle(_) => {
                let key: Key = (ev.kind(), ev.market().cloned());
                if st.latest.push(key, ev).lost_one() { Pushed::Dropped } else { Pushed::Queued }
            }
        };
        drop(st);
        if outcome == Pushed::Dropped {
            self.drops.fetch_add(1, Ordering::Relaxed);
        }
        Ok(outcome)
    }

    /// Pushes, waiting for room up to `stall` when the strategy is `Lossless`. A stall
    /// past the timeout drops the event and counts it (the subscriber must resync).
    pub async fn push(&self, ev: Arc<FeedEvent>, stall: Duration) -> Pushed {
        let mut ev = ev;
        if self.stalled.load(Ordering::Acquire) {
            return match self.try_push(ev) {
                Ok(p) => p,
                Err(_) => {
                    self.count_drop();
                    Pushed::Dropped
                }
            };
        }
        let deadline = tokio::time::Instant::now() + stall;
        loop {
            let space = self.space.notified();
            tokio::pin!(space);
            space.as_mut().enable();
            match self.try_push(ev) {
                Ok(p) => return p,
                Err(back) => ev = back,
            }
            // Full: the consumer may hold quietly pushed events it was not yet told about
            // (`try_push_quiet`); wake it before waiting for room, or both would wait.
            self.wake();
            tokio::select! {
                _ = &mut space => {}
                _ = tokio::time::sleep_until(deadline) => {
                    self.stalled.store(true, Ordering::Release);
                    self.count_drop();
                    tracing::warn!("lossless subscriber stalled past {stall:?}; event dropped and counted");
                    return Pushed::Dropped;
                }
            }
        }
    }

    /// Takes the next event, waiting for one. `None` once closed and drained.
    pub async fn recv(&self) -> Option<Arc<FeedEvent>> {
        'wait: loop {
            let ready = self.ready.notified();
            tokio::pin!(ready);
            // Fast path: while events are queued, take one without registering as a waiter
            // (registering and deregistering costs two locks inside `Notify`, and a
            // registered waiter turns every push into a wake-up). Only an empty queue
            // registers, then looks once more: a push between the first look and `enable`
            // left a permit or an event, never a lost wake-up.
            let mut registered = false;
            loop {
                match self.take() {
                    Take::Event(ev) => return Some(ev),
                    Take::Until(t) => {
                        tokio::time::sleep_until(t.into()).await;
                        continue 'wait;
                    }
                    Take::Empty if registered => break,
                    Take::Empty => {
                        ready.as_mut().enable();
                        registered = true;
                    }
                }
            }
            if self.is_closed() {
                return None;
            }
            ready.await;
        }
    }

    fn take(&self) -> Take {
        let mut st = lock(&self.state);
        // Only a throttled queue needs the clock.
        let now = match self.strategy {
            Strategy::Throttle(_) => Instant::now(),
            _ => self.created,
        };
        match st.next_allowed {
            Some(t) if t > now && !st.latest.is_empty() => Take::Until(t),
            _ => match self.pop(&mut st, now) {
                Some(ev) => {
                    drop(st);
                    self.took();
                    Take::Event(ev)
                }
                None => Take::Empty,
            },
        }
    }

    /// Bookkeeping after the consumer took an event.
    fn took(&self) {
        // Load first: the flag is almost always clear, and a store would pull the cache
        // line away from the producer on every event.
        if self.stalled.load(Ordering::Relaxed) {
            self.stalled.store(false, Ordering::Release);
        }
        self.delivered.fetch_add(1, Ordering::Relaxed);
        // Cheap when nobody waits: `Notify` keeps one permit, so this is a load once set.
        self.space.notify_one();
    }

    /// Takes the next event without waiting.
    pub fn try_recv(&self) -> Option<Arc<FeedEvent>> {
        let mut st = lock(&self.state);
        let now = match self.strategy {
            Strategy::Throttle(_) => Instant::now(),
            _ => self.created,
        };
        if st.next_allowed.is_some_and(|t| t > now) {
            return None;
        }
        let ev = self.pop(&mut st, now);
        drop(st);
        if ev.is_some() {
            self.took();
        }
        ev
    }

    fn pop(&self, st: &mut State, now: Instant) -> Option<Arc<FeedEvent>> {
        match self.strategy {
            Strategy::Lossless | Strategy::DropOldest => st.fifo.pop_front(),
            Strategy::CoalesceByMarket => st.latest.pop().map(|(_, ev)| ev),
            Strategy::Throttle(interval) => {
                let (_, ev) = st.latest.pop()?;
                st.next_allowed = Some(now + interval);
                Some(ev)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::api::StreamEvent;
    use crate::exchange::types::Ticker;
    use crate::feed::FeedPayload;

    fn tick(m: &str, ts: i64) -> Arc<FeedEvent> {
        Arc::new(FeedEvent {
            epoch: 1,
            received: Instant::now(),
            payload: FeedPayload::Stream(StreamEvent::Ticker(Ticker {
                market: Some(MarketId::new(m)),
                timestamp: ts,
                ..Ticker::default()
            })),
        })
    }

    #[tokio::test]
    async fn coalesce_keeps_latest_per_market_and_counts() {
        let q = SubQueue::new(Strategy::CoalesceByMarket, 16);
        for i in 0..10 {
            q.try_push(tick("KRW-BTC", i)).unwrap();
            q.try_push(tick("KRW-ETH", 100 + i)).unwrap();
        }
        assert_eq!(q.depth(), 2);
        assert_eq!(q.drops(), 18);
        let a = q.recv().await.unwrap();
        let b = q.recv().await.unwrap();
        assert_eq!((a.exchange_ts(), b.exchange_ts()), (9, 109));
    }

    #[tokio::test]
    async fn drop_oldest_is_a_ring() {
        let q = SubQueue::new(Strategy::DropOldest, 3);
        for i in 0..5 {
            q.try_push(tick("KRW-BTC", i)).unwrap();
        }
        assert_eq!(q.drops(), 2);
        assert_eq!(q.recv().await.unwrap().exchange_ts(), 2);
        q.close();
        assert!(q.recv().await.is_some());
        assert!(q.recv().await.is_some());
        assert!(q.recv().await.is_none());
    }

    #[tokio::test]
    async fn lossless_waits_for_room_then_times_out() {
        let q = Arc::new(SubQueue::new(Strategy::Lossless, 1));
        assert_eq!(q.push(tick("KRW-BTC", 1), Duration::from_secs(5)).await, Pushed::Queued);
        assert!(q.try_push(tick("KRW-BTC", 2)).is_err());
        // A consumer makes room while the push waits (both polled by this one task).
        let (pushed, taken) = tokio::join!(q.push(tick("KRW-BTC", 2), Duration::from_secs(5)), q.recv());
        assert_eq!(pushed, Pushed::Queued);
        assert_eq!(taken.map(|e| e.exchange_ts()), Some(1));
        assert_eq!(q.push(tick("KRW-BTC", 3), Duration::from_millis(10)).await, Pushed::Dropped);
        assert_eq!(q.drops(), 1);
        // Stalled: the next push to the full queue drops at once instead of waiting again.
        assert_eq!(q.push(tick("KRW-BTC", 4), Duration::from_secs(3600)).await, Pushed::Dropped);
        assert_eq!(q.drops(), 2);
        // Once the consumer takes something, lossless delivery resumes.
        assert_eq!(q.recv().await.unwrap().exchange_ts(), 2);
        assert_eq!(q.push(tick("KRW-BTC", 5), Duration::from_secs(5)).await, Pushed::Queued);
    }

    #[tokio::test]
    async fn throttle_hands_out_the_latest_at_most_once_per_interval() {
        let q = SubQueue::new(Strategy::Throttle(Duration::from_millis(300)), 16);
        q.try_push(tick("KRW-BTC", 1)).unwrap();
        q.try_push(tick("KRW-BTC", 2)).unwrap();
        assert_eq!(q.recv().await.unwrap().exchange_ts(), 2);
        q.try_push(tick("KRW-BTC", 3)).unwrap();
        q.try_push(tick("KRW-BTC", 4)).unwrap();
        assert!(q.try_recv().is_none(), "held back until the interval passes");
        assert_eq!(q.depth(), 1);
        assert_eq!(q.recv().await.unwrap().exchange_ts(), 4);
        assert_eq!(q.drops(), 2);
    }
}
