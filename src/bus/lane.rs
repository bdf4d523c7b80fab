//! Lanes: the bus's priority classes, each a bounded queue with a declared overflow policy.
//!
//! Trading > Safety > Config > Command > Logging. There is no market-data lane: market
//! data keeps the feed's own design (one upstream socket, per-pane proxy queues with
//! declared backpressure policies, then the store's single writer), and a conflating lane
//! on top would be a second queue for the same ticks. There is no cleanup lane either:
//! shutdown runs in `kernel::shutdown`'s ordered phases, which a lane could only reorder.
//! This file declares the lanes, their default capacity / overflow / batch, and the
//! per-lane counters the System pane shows.

use std::sync::atomic::{AtomicU64, Ordering};

/// A priority class of the bus. The declaration order is the drain priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lane {
    /// Order placement, fills, stop/take-profit firings. Never dropped.
    Trading,
    /// Risk and safety: critical failures, kill switch, task failures. Never dropped.
    Safety,
    /// Config and profile change requests (held by the gate while orders are in flight).
    Config,
    /// The UI's other requests: selection, acknowledgements, quit.
    Command,
    /// Log records on their way to the Log pane. Drops the oldest when full.
    Logging,
}

impl Lane {
    /// Number of lanes.
    pub(crate) const COUNT: usize = 5;

    /// Every lane, highest priority first.
    pub const ALL: [Lane; Lane::COUNT] =
        [Lane::Trading, Lane::Safety, Lane::Config, Lane::Command, Lane::Logging];

    /// Position in [`Lane::ALL`] (0 = highest priority).
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Short lower-case label for tables and logs.
    pub fn label(self) -> &'static str {
        match self {
            Lane::Trading => "trading",
            Lane::Safety => "safety",
            Lane::Config => "config",
            Lane::Command => "command",
            Lane::Logging => "logging",
        }
    }
}

impl std::fmt::Display for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// What a lane does when a message arrives and the lane is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// `publish` waits for room (backpressure); `try_publish` fails. Nothing is lost.
    Block,
    /// The oldest queued message is dropped (and counted) to make room.
    DropOldest,
    /// The new message is refused (counted); the publisher gets an error and decides.
    RejectNew,
}

impl Overflow {
    /// Short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Overflow::Block => "block",
            Overflow::DropOldest => "drop-oldest",
            Overflow::RejectNew => "reject-new",
        }
    }
}

/// Capacity, overflow policy and drain batch of one lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneSpec {
    /// Most messages queued at once.
    pub capacity: usize,
    /// What happens when the lane is full.
    pub overflow: Overflow,
    /// Messages the lane's worker handles before it yields to a higher lane that has
    /// work waiting (so a flood of log lines never keeps a trading message waiting).
    pub batch: usize,
}

impl LaneSpec {
    /// hoga's defaults. Why each:
    /// - trading 1024 / block / 64: order events are never lost; a full lane slows the
    ///   producer instead. 1024 covers a burst of fills across every market.
    /// - safety 256 / block / 32: rare, must not be lost.
    /// - config 64 / block / 8: rare user changes, must not be lost.
    /// - command 256 / reject-new / 16: the UI must never freeze on a full lane; a refused
    ///   command is reported to the user instead.
    /// - logging 4096 / drop-oldest / 32: logs must never slow trading; drops are counted
    ///   (the log file, written separately, keeps everything).
    pub fn default_for(lane: Lane) -> LaneSpec {
        let (capacity, overflow, batch) = match lane {
            Lane::Trading => (1024, Overflow::Block, 64),
            Lane::Safety => (256, Overflow::Block, 32),
            Lane::Config => (64, Overflow::Block, 8),
            Lane::Command => (256, Overflow::RejectNew, 16),
            Lane::Logging => (4096, Overflow::DropOldest, 32),
        };
        LaneSpec { capacity, overflow, batch }
    }
}

/// A handler call longer than this is counted as slow on its lane.
pub(crate) const SLOW_HANDLER: std::time::Duration = std::time::Duration::from_millis(100);

/// One lane's counters as the System pane shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneMetrics {
    /// Which lane.
    pub lane: Lane,
    /// Declared capacity.
    pub capacity: usize,
    /// Declared overflow policy.
    pub overflow: Overflow,
    /// Messages waiting now.
    pub depth: u64,
    /// Messages accepted into the lane.
    pub published: u64,
    /// Messages taken off the lane and handed to handlers.
    pub delivered: u64,
    /// Handler calls that took longer than [`SLOW_HANDLER`] (they hold up their lane only).
    pub slow: u64,
    /// Follow-up messages queued past the capacity (see `Bus::publish_follow_up`).
    pub over_capacity: u64,
    /// Messages lost to the overflow policy (drop-oldest, reject-new, key eviction).
    pub dropped: u64,
    /// Handler retries run.
    pub retried: u64,
    /// Handler deliveries given up after the last attempt.
    pub dead_lettered: u64,
}

/// Snapshot of every lane, highest priority first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusMetrics {
    /// One row per lane, in [`Lane::ALL`] order.
    pub lanes: Vec<LaneMetrics>,
}

impl BusMetrics {
    /// The row of one lane.
    pub fn lane(&self, lane: Lane) -> &LaneMetrics {
        &self.lanes[lane.index()]
    }
}

/// Lock-free counters behind [`LaneMetrics`]; written by publishers and the dispatcher.
#[derive(Debug, Default)]
pub(crate) struct LaneCounters {
    pub depth: AtomicU64,
    pub published: AtomicU64,
    pub delivered: AtomicU64,
    pub slow: AtomicU64,
    pub over_capacity: AtomicU64,
    pub dropped: AtomicU64,
    pub retried: AtomicU64,
    pub dead_lettered: AtomicU64,
}

impl LaneCounters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self, lane: Lane, spec: &LaneSpec) -> LaneMetrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LaneMetrics {
            lane,
            capacity: spec.capacity,
            overflow: spec.overflow,
            depth: get(&self.depth),
            published: get(&self.published),
            delivered: get(&self.delivered),
            slow: get(&self.slow),
            over_capacity: get(&self.over_capacity),
            dropped: get(&self.dropped),
            retried: get(&self.retried),
            dead_lettered: get(&self.dead_lettered),
        }
    }
}
