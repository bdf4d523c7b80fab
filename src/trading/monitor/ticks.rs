//! The conflating tick input: only the latest price per market waits for the monitor,
//! and only the markets with a rule or an alert wake it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

use crate::exchange::types::{MarketId, Price};
use crate::kernel::latest::{LatestByKey, Pushed, WhenFull};
use crate::kernel::sync::lock;

/// One price of one market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TickIn {
    pub(super) price: Price,
    pub(super) received: Instant,
}

#[derive(Debug)]
pub(super) struct TickSlot {
    /// The newest tick per market, at most `max_markets` of them: a tick of one more
    /// market is refused (counted), never one already waiting dropped for it.
    pub(super) latest: LatestByKey<MarketId, TickIn>,
    /// Markets with at least one rule: only their ticks wake the monitor. The others wait
    /// in `latest` (one per market) and are taken in before the next rule change, so a
    /// console streaming every KRW market does not run the monitor for every ticker.
    pub(super) watched: HashSet<MarketId>,
}

impl TickSlot {
    pub(super) fn new(max_markets: usize) -> Self {
        TickSlot { latest: LatestByKey::new(max_markets, WhenFull::RefuseNew), watched: HashSet::new() }
    }
}

/// Counters of the monitor (System pane).
#[derive(Debug, Default)]
pub struct MonitorMetrics {
    /// Ticks handed to the monitor.
    pub ticks_in: AtomicU64,
    /// Ticks replaced by a newer one of the same market before evaluation.
    pub ticks_conflated: AtomicU64,
    /// Ticks refused: price outside the band (≤ 0, too small, too large), or too many
    /// markets waiting.
    pub ticks_rejected: AtomicU64,
    /// Ticks evaluated.
    pub ticks_evaluated: AtomicU64,
    /// Exits sent.
    pub exits_sent: AtomicU64,
    /// Times the task (re)started.
    pub runs: AtomicU64,
}

/// The tick input: conflating, never blocks. Only the latest price per market waits
/// (the monitor needs the newest price, not every one), bounded by `max_markets`.
#[derive(Debug, Clone)]
pub struct TickSender {
    pub(super) slot: Arc<Mutex<TickSlot>>,
    pub(super) wake: Arc<Notify>,
    pub(super) metrics: Arc<MonitorMetrics>,
}

impl TickSender {
    /// Hands the latest `price` of `market`, received at `received` (monotonic).
    /// Returns false when the tick was refused (counted).
    pub fn send(&self, market: &MarketId, price: Price, received: Instant) -> bool {
        self.metrics.ticks_in.fetch_add(1, Ordering::Relaxed);
        if crate::exchange::types::band::price("price", price).is_err() {
            // Outliers never reach a trigger (case 16): ≤ 0, or outside the band of
            // `exchange::types::band` (the decoder refuses those; this also guards prices
            // from elsewhere).
            self.metrics.ticks_rejected.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        {
            let mut slot = lock(&self.slot);
            match slot.latest.push(market.clone(), TickIn { price, received }) {
                Pushed::Inserted => {}
                Pushed::Replaced(_) => {
                    self.metrics.ticks_conflated.fetch_add(1, Ordering::Relaxed);
                }
                Pushed::Refused(_) | Pushed::Evicted(_) => {
                    self.metrics.ticks_rejected.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
            }
            if !slot.watched.contains(market) {
                return true;
            }
        }
        self.wake.notify_one();
        true
    }
}
