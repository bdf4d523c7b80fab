//! The trace ring: the last N delivered envelopes, for the System pane's event monitor
//! and for following a causal chain (seed 002: "event chain tracing").
//!
//! Bounded (capacity from `[bus] trace_capacity`), oldest overwritten; it holds `Arc`s
//! of envelopes the dispatcher already has, so recording costs one clone of a pointer.

use std::collections::VecDeque;
use std::sync::Arc;

use super::event::Envelope;

/// Ring of recent envelopes.
#[derive(Debug)]
pub(crate) struct TraceRing<M> {
    items: VecDeque<Arc<Envelope<M>>>,
    capacity: usize,
}

impl<M> TraceRing<M> {
    pub fn new(capacity: usize) -> Self {
        TraceRing { items: VecDeque::with_capacity(capacity.min(4096)), capacity: capacity.max(1) }
    }

    pub fn record(&mut self, env: Arc<Envelope<M>>) {
        if self.items.len() >= self.capacity {
            self.items.pop_front();
        }
        self.items.push_back(env);
    }

    /// Oldest first.
    pub fn recent(&self) -> Vec<Arc<Envelope<M>>> {
        self.items.iter().cloned().collect()
    }

    /// Every recorded envelope of one causal chain, in delivery order.
    pub fn chain(&self, correlation: u64) -> Vec<Arc<Envelope<M>>> {
        self.items.iter().filter(|e| e.correlation == correlation).cloned().collect()
    }
}
