//! The trace ring: the last N delivered envelopes of each lane, for the System pane's
//! event monitor and for following a causal chain.
//!
//! One ring per lane (capacity from `[bus] trace_capacity`, oldest overwritten), so a
//! flood of log lines never pushes the last trading envelopes out. It holds `Arc`s of
//! envelopes the workers already have, so recording costs one clone of a pointer.

use std::collections::VecDeque;
use std::sync::Arc;

use super::event::{CorrelationId, Envelope};
use super::lane::Lane;

/// Rings of recent envelopes, one per lane.
#[derive(Debug)]
pub(crate) struct TraceRing<M> {
    lanes: [VecDeque<Arc<Envelope<M>>>; Lane::COUNT],
    capacity: usize,
}

impl<M> TraceRing<M> {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        TraceRing { lanes: std::array::from_fn(|_| VecDeque::with_capacity(capacity.min(4096))), capacity }
    }

    pub fn record(&mut self, env: Arc<Envelope<M>>) {
        let ring = &mut self.lanes[env.lane.index()];
        if ring.len() >= self.capacity {
            ring.pop_front();
        }
        ring.push_back(env);
    }

    /// Every lane's ring merged, oldest (lowest sequence number) first.
    pub fn recent(&self) -> Vec<Arc<Envelope<M>>> {
        let mut all: Vec<_> = self.lanes.iter().flatten().cloned().collect();
        all.sort_by_key(|e| e.seq);
        all
    }

    /// Every recorded envelope of one causal chain, in sequence order.
    pub fn chain(&self, correlation: CorrelationId) -> Vec<Arc<Envelope<M>>> {
        let mut all: Vec<_> =
            self.lanes.iter().flatten().filter(|e| e.correlation == correlation).cloned().collect();
        all.sort_by_key(|e| e.seq);
        all
    }
}
