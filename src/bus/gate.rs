//! The change gate: config and profile change requests wait while orders are in flight
//! ("a settings change requested during trading waits safely, or is refused").
//!
//! While the trading state reports orders in flight, requests are held in arrival order
//! and released, still in order, once it reports idle. A request that cannot wait is
//! rejected at once with a reason. The gate is plain synchronous state: the config-lane
//! handler calls [`ChangeGate::submit`], and when trading turns idle (the console's watch
//! puts "trading idle" on the config lane) calls [`ChangeGate::release_if_idle`] and
//! applies what comes out.

use std::collections::VecDeque;
use std::sync::Arc;

/// What the gate asks of the trading side: how many orders are in flight.
pub trait InFlight: Send + Sync {
    /// Orders sent and not yet acknowledged, filled or cancelled. Zero means idle.
    fn orders_in_flight(&self) -> usize;
}

/// A config or profile change someone asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChangeRequest<R> {
    /// The change itself.
    pub change: R,
    /// Who asked (component or "user").
    pub(crate) requester: String,
    /// False when the change is useless later (it is then rejected instead of held).
    pub can_wait: bool,
}

/// The gate's answer to a submitted request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admission<R> {
    /// Apply these now, in this order: requests held earlier (released because trading is
    /// idle), then the one just submitted.
    Apply(Vec<ChangeRequest<R>>),
    /// Held; `position` 1 is next in line.
    Held {
        /// Place in the queue, starting at 1.
        position: usize,
    },
    /// Refused, with the reason to show the requester.
    Rejected {
        /// The refused request.
        request: ChangeRequest<R>,
        /// Why.
        reason: String,
    },
}

/// Holds change requests while orders are in flight.
pub struct ChangeGate<R> {
    trading: Arc<dyn InFlight>,
    held: VecDeque<ChangeRequest<R>>,
    /// Bound on held requests (overflow: reject-new, with a reason): a user who keeps
    /// changing settings during a stuck order gets told instead of queueing forever.
    max_held: usize,
}

impl<R> std::fmt::Debug for ChangeGate<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeGate")
            .field("held", &self.held.len())
            .field("max_held", &self.max_held)
            .finish()
    }
}

impl<R> ChangeGate<R> {
    /// A gate reading `trading`, holding at most `max_held` requests.
    pub fn new(trading: Arc<dyn InFlight>, max_held: usize) -> Self {
        ChangeGate { trading, held: VecDeque::new(), max_held: max_held.max(1) }
    }

    /// Requests waiting now.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// The requests waiting now, in arrival order.
    pub(crate) fn held_requests(&self) -> impl ExactSizeIterator<Item = &ChangeRequest<R>> {
        self.held.iter()
    }

    /// Submits a request: applied now when trading is idle (after anything held before
    /// it), held while orders are in flight, or rejected when it cannot wait or the
    /// queue is full.
    pub(crate) fn submit(&mut self, request: ChangeRequest<R>) -> Admission<R> {
        let in_flight = self.trading.orders_in_flight();
        if in_flight == 0 {
            let mut out: Vec<_> = self.held.drain(..).collect();
            out.push(request);
            return Admission::Apply(out);
        }
        if !request.can_wait {
            let reason = format!(
                "{in_flight} order(s) in flight; change from {} cannot wait, so it was not applied",
                request.requester
            );
            return Admission::Rejected { request, reason };
        }
        if self.held.len() >= self.max_held {
            let reason = format!(
                "{in_flight} order(s) in flight and {} change(s) already waiting (limit {}); try again when trading is idle",
                self.held.len(),
                self.max_held
            );
            return Admission::Rejected { request, reason };
        }
        self.held.push_back(request);
        Admission::Held { position: self.held.len() }
    }

    /// When trading is idle, returns every held request in arrival order (to apply now);
    /// otherwise nothing.
    pub(crate) fn release_if_idle(&mut self) -> Vec<ChangeRequest<R>> {
        if self.trading.orders_in_flight() == 0 { self.held.drain(..).collect() } else { Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct FakeTrading(AtomicUsize);
    impl InFlight for FakeTrading {
        fn orders_in_flight(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn req(change: &'static str, can_wait: bool) -> ChangeRequest<&'static str> {
        ChangeRequest { change, requester: "user".into(), can_wait }
    }

    #[test]
    fn idle_applies_at_once() {
        let t = Arc::new(FakeTrading::default());
        let mut gate = ChangeGate::new(t, 8);
        assert_eq!(gate.submit(req("theme", true)), Admission::Apply(vec![req("theme", true)]));
    }

    #[test]
    fn held_in_order_while_in_flight_then_released_when_idle() {
        let t = Arc::new(FakeTrading::default());
        let mut gate = ChangeGate::new(t.clone(), 8);
        t.0.store(2, Ordering::SeqCst);
        assert_eq!(gate.submit(req("a", true)), Admission::Held { position: 1 });
        assert_eq!(gate.submit(req("b", true)), Admission::Held { position: 2 });
        assert!(gate.release_if_idle().is_empty(), "nothing released while busy");
        assert_eq!(gate.held(), 2);
        t.0.store(0, Ordering::SeqCst);
        let out: Vec<_> = gate.release_if_idle().into_iter().map(|r| r.change).collect();
        assert_eq!(out, vec!["a", "b"]);
        assert_eq!(gate.held(), 0);
    }

    #[test]
    fn new_request_after_idle_goes_behind_held_ones() {
        let t = Arc::new(FakeTrading::default());
        let mut gate = ChangeGate::new(t.clone(), 8);
        t.0.store(1, Ordering::SeqCst);
        gate.submit(req("first", true));
        t.0.store(0, Ordering::SeqCst);
        match gate.submit(req("second", true)) {
            Admission::Apply(v) => {
                assert_eq!(v.iter().map(|r| r.change).collect::<Vec<_>>(), vec!["first", "second"])
            }
            other => panic!("expected Apply, got {other:?}"),
        }
    }

    #[test]
    fn cannot_wait_is_rejected_with_reason() {
        let t = Arc::new(FakeTrading::default());
        let mut gate = ChangeGate::new(t.clone(), 8);
        t.0.store(3, Ordering::SeqCst);
        match gate.submit(req("profile", false)) {
            Admission::Rejected { request, reason } => {
                assert_eq!(request.change, "profile");
                assert!(reason.contains("3 order(s) in flight"), "{reason}");
                assert!(reason.contains("cannot wait"), "{reason}");
            }
            other => panic!("expected Rejected, got {other:?}"),
        }
        assert_eq!(gate.held(), 0);
    }

    #[test]
    fn full_gate_rejects_new_requests() {
        let t = Arc::new(FakeTrading::default());
        let mut gate = ChangeGate::new(t.clone(), 1);
        t.0.store(1, Ordering::SeqCst);
        assert_eq!(gate.submit(req("a", true)), Admission::Held { position: 1 });
        assert!(
            matches!(gate.submit(req("b", true)), Admission::Rejected { reason, .. } if reason.contains("limit 1"))
        );
    }
}
