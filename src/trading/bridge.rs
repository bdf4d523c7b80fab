//! The bridge between the trading monitor and the order manager: turns a
//! [`MonitorAction`] into a Trading-lane [`TradeIntent`], and the manager's [`OrderEvent`]s
//! back into the [`ExitEvent`]s the monitor waits for. Pure and synchronous; the console's
//! trading desk owns one and calls it on both paths.
//!
//! An exit is placed under the monitor's deterministic identifier, so a repeated action
//! is answered from the journal and never sent twice (docs/RELIABILITY.md case 14); a duplicate
//! identifier at the venue is treated as "it exists" by the manager (case 4).

use std::collections::{HashMap, HashSet};

use crate::exchange::types::{MarketId, OrderType, Qty};
use crate::trading::input::CancelTarget;
use crate::trading::intent::TradeIntent;
use crate::trading::manager::{OrderCommand, OrderEvent, Origin, PlaceSpec};
use crate::trading::monitor::{ExitEvent, MonitorAction};
use crate::trading::orders::{LocalState, OrderRequest};

/// Tracks the exits in flight between the monitor and the manager.
#[derive(Debug, Default)]
pub struct ExitBridge {
    // Exit identifier → requested volume.
    exits: HashMap<String, Qty>,
    accepted: HashSet<String>,
    // Markets whose cancel-all the monitor waits for.
    cancels: HashSet<MarketId>,
}

impl ExitBridge {
    /// An empty bridge.
    pub fn new() -> Self {
        Self::default()
    }

    /// The Trading-lane request for a monitor action (the console's path).
    pub fn intent(&mut self, action: MonitorAction) -> TradeIntent {
        match action {
            MonitorAction::PlaceExit { identifier, rule_id, market, side, volume, kind, .. } => {
                self.exits.insert(identifier.clone(), volume);
                let base = OrderRequest::market_sell(market, volume);
                let request = match kind {
                    // The monitor sends market sells; anything else keeps its side and
                    // type so validation judges it.
                    OrderType::Market => base,
                    other => OrderRequest { side, ord_type: other, ..base },
                };
                TradeIntent::Place {
                    spec: PlaceSpec::Request(request),
                    origin: Origin::Rule(rule_id),
                    identifier: Some(identifier),
                    selected: None,
                }
            }
            MonitorAction::CancelOpenOrders { market, .. } => {
                self.cancels.insert(market.clone());
                TradeIntent::Cancel(CancelTarget::Market(market))
            }
        }
    }

    /// The same step for a caller that talks to the order manager directly (tests, tools).
    pub fn command(&mut self, action: MonitorAction) -> OrderCommand {
        match self.intent(action) {
            TradeIntent::Place { spec, origin, identifier, selected } => {
                OrderCommand::Place { spec, origin, identifier, selected, reply: None }
            }
            TradeIntent::Cancel(target) => OrderCommand::Cancel(target),
            // `intent` builds only the two shapes above; anything else is not an exit.
            other => OrderCommand::Resync(format!("not a monitor exit: {}", other.summary())),
        }
    }

    /// The exit events an order event means (usually none).
    pub fn on_event(&mut self, event: &OrderEvent) -> Vec<ExitEvent> {
        match event {
            OrderEvent::OrderUpdated(o) => {
                let Some(&asked) = self.exits.get(&o.identifier) else { return Vec::new() };
                let id = o.identifier.clone();
                match o.state {
                    LocalState::Accepted | LocalState::PartiallyFilled | LocalState::PendingCancel
                        if o.uuid.is_some() && self.accepted.insert(id.clone()) =>
                    {
                        vec![ExitEvent::ExitAccepted { identifier: id }]
                    }
                    LocalState::Filled | LocalState::Canceled => {
                        self.exits.remove(&id);
                        self.accepted.remove(&id);
                        let partial = o.executed_volume < asked;
                        vec![ExitEvent::ExitFilled { identifier: id, filled: o.executed_volume, partial }]
                    }
                    LocalState::Rejected => {
                        self.exits.remove(&id);
                        self.accepted.remove(&id);
                        let reason = o.reason.clone().unwrap_or_else(|| "rejected".into());
                        let locked_funds = reason.contains("insufficient_funds_ask");
                        vec![ExitEvent::ExitRejected { identifier: id, reason, locked_funds }]
                    }
                    _ => Vec::new(),
                }
            }
            // A local denial (gate, validation, journal) of an exit: named by identifier.
            OrderEvent::Rejected { identifier: Some(id), reason, .. } if self.exits.contains_key(id) => {
                self.exits.remove(id);
                self.accepted.remove(id);
                vec![ExitEvent::ExitRejected {
                    identifier: id.clone(),
                    reason: reason.clone(),
                    locked_funds: reason.contains("insufficient"),
                }]
            }
            OrderEvent::CancelsDone { market: Some(m) } if self.cancels.remove(m) => {
                vec![ExitEvent::OpenOrdersCancelled { market: m.clone() }]
            }
            _ => Vec::new(),
        }
    }

    /// Exits placed and not final yet.
    pub fn in_flight(&self) -> usize {
        self.exits.len()
    }
}
