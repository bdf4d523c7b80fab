//! The shared trading state (ACTIVE / REDUCING / HALTED) and the kill switch: a `watch`
//! computed from independent causes, read by the status bar, the risk gate, the order
//! manager and the monitor itself.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::kernel::sync::lock;
use crate::trading::risk::TradingState;

/// The trading state with the reason it has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradingStatus {
    /// ACTIVE / REDUCING / HALTED.
    pub state: TradingState,
    /// Why (empty when ACTIVE).
    pub reason: String,
}

#[derive(Debug, Default)]
struct StateCauses {
    halted: Option<String>,
    /// Independent reasons to reduce (monitor down, daily loss…), by cause key.
    reducing: BTreeMap<String, String>,
    history: VecDeque<TradingStatus>,
}

const STATE_HISTORY: usize = 64;

/// The shared trading state: a `watch` of [`TradingStatus`] computed from causes. HALTED
/// (kill switch) wins over REDUCING (any cause), which wins over ACTIVE. Cancels are never
/// gated by it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TradingStateHandle {
    tx: Arc<watch::Sender<TradingStatus>>,
    causes: Arc<Mutex<StateCauses>>,
}

impl Default for TradingStateHandle {
    fn default() -> Self {
        Self::new()
    }
}

impl TradingStateHandle {
    /// ACTIVE, no causes.
    pub fn new() -> Self {
        let (tx, _) = watch::channel(TradingStatus { state: TradingState::Active, reason: String::new() });
        TradingStateHandle { tx: Arc::new(tx), causes: Arc::new(Mutex::new(StateCauses::default())) }
    }

    /// A receiver for the status bar, the risk gate and the order manager.
    pub fn subscribe(&self) -> watch::Receiver<TradingStatus> {
        self.tx.subscribe()
    }

    /// The current state.
    pub fn state(&self) -> TradingState {
        self.tx.borrow().state
    }

    /// The current state and reason.
    pub fn status(&self) -> TradingStatus {
        self.tx.borrow().clone()
    }

    /// The kill switch's state half: HALTED until [`TradingStateHandle::resume`]. (The
    /// caller also sends cancel-all; cancels always pass.)
    pub fn halt(&self, reason: impl Into<String>) {
        let mut c = lock(&self.causes);
        c.halted = Some(reason.into());
        self.publish(&mut c);
    }

    /// Lifts a halt.
    pub fn resume(&self) {
        let mut c = lock(&self.causes);
        c.halted = None;
        self.publish(&mut c);
    }

    /// Adds (`Some(reason)`) or clears (`None`) one reason to be REDUCING.
    pub fn set_reducing(&self, cause: &str, reason: Option<String>) {
        let mut c = lock(&self.causes);
        match reason {
            Some(r) => {
                c.reducing.insert(cause.to_string(), r);
            }
            None => {
                c.reducing.remove(cause);
            }
        }
        self.publish(&mut c);
    }

    /// Whether `cause` is one of the reasons for REDUCING right now.
    pub(crate) fn is_reducing_for(&self, cause: &str) -> bool {
        lock(&self.causes).reducing.contains_key(cause)
    }

    /// Whether a new order may be placed now; `reduces` = it only reduces a position
    /// (spot: a sell). Cancels are not asked: they always pass.
    pub fn allows_new_order(&self, reduces: bool) -> bool {
        match self.state() {
            TradingState::Active => true,
            TradingState::Reducing => reduces,
            TradingState::Halted => false,
        }
    }

    /// The last transitions, oldest first (audit and tests: a short REDUCING between a
    /// monitor panic and its restart is recorded even if no one looked at the watch).
    pub fn history(&self) -> Vec<TradingStatus> {
        lock(&self.causes).history.iter().cloned().collect()
    }

    fn publish(&self, c: &mut StateCauses) {
        let status = if let Some(r) = &c.halted {
            TradingStatus { state: TradingState::Halted, reason: r.clone() }
        } else if !c.reducing.is_empty() {
            let reason = c.reducing.values().cloned().collect::<Vec<_>>().join("; ");
            TradingStatus { state: TradingState::Reducing, reason }
        } else {
            TradingStatus { state: TradingState::Active, reason: String::new() }
        };
        let changed = self.tx.send_if_modified(|cur| {
            if *cur == status {
                false
            } else {
                *cur = status.clone();
                true
            }
        });
        if changed {
            tracing::warn!(state = status.state.label(), reason = %status.reason, "trading state changed");
            if c.history.len() == STATE_HISTORY {
                c.history.pop_front();
            }
            c.history.push_back(status);
        }
    }
}
