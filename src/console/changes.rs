//! The Config lane: every config change (theme, layout, keymap reload, risk limits, fee)
//! passes the [`ChangeGate`] here.
//!
//! While an order is in flight (the trading desk's [`InFlightBook`]: a place request on
//! its way, or an order whose outcome still moves) a change is held, in arrival order,
//! and the status line says what waits and why; a change that cannot wait is refused
//! with the reason. When the last order in flight ends, the desk puts
//! [`AppEvent::TradingIdle`] on the lane and what was held is applied. Every request
//! is answered: held, applied (accepted) or refused (denied).
//!
//! Trading changes (`:set`) are applied here, to the order manager's risk gate and the
//! paper engine's fee. Screen changes (theme, layout, keymap) are applied by the UI when
//! it reads the accepted reply: the gate decides when, the UI owns the screen.
//!
//! [`InFlightBook`]: super::trade::InFlightBook

use std::sync::{Arc, Mutex};

use crate::bus::{Admission, Bus, ChangeGate, ChangeRequest, Envelope};
use crate::config::TradingSettings;
use crate::config::change::{ConfigChange, ConfigRequest, TradingKey};
use crate::kernel::sync::lock;
use crate::store::{StoreEvent, StoreHandle};
use crate::trading::intent::{Outcome, Requester, TradeReply};
use crate::trading::manager::{OrderCommand, OrderManagerHandle};
use crate::trading::paper::PaperVenue;

use super::event::AppEvent;

/// Most changes held at once; more are refused with the reason.
const MAX_HELD: usize = 16;

/// What applying a trading change needs.
#[derive(Clone)]
pub struct Appliers {
    /// Orders in flight, as the trading desk counts them.
    pub in_flight: Arc<super::trade::InFlightBook>,
    /// The order manager (risk limits).
    pub manager: OrderManagerHandle,
    /// The paper engine (fee), in paper mode.
    pub paper: Option<PaperVenue>,
    /// The `[trading]` settings as they stand now (changed by `:set`).
    pub trading: Arc<Mutex<TradingSettings>>,
}

/// Subscribes the Config lane's handler (the trading desk tells it when trading goes
/// idle).
pub fn start(bus: &Bus<AppEvent>, store: StoreHandle, appliers: Appliers) {
    let gate = Arc::new(Mutex::new(ChangeGate::<ConfigRequest>::new(appliers.in_flight.clone(), MAX_HELD)));
    let to_bus = bus.clone();
    bus.subscribe(
        "config-gate",
        |env| matches!(env.payload, AppEvent::Config(_) | AppEvent::TradingIdle),
        move |env| {
            let (gate, store, appliers, bus) =
                (gate.clone(), store.clone(), appliers.clone(), to_bus.clone());
            async move {
                let (apply, answers, waiting) = {
                    let mut gate = lock(&gate);
                    let (apply, answers) = match &env.payload {
                        AppEvent::Config(req) => admit(&mut gate, req.clone()),
                        _ => (gate.release_if_idle(), Vec::new()),
                    };
                    (apply, answers, waiting_line(&gate, &appliers))
                };
                let mut replies = answers;
                for r in apply {
                    let outcome = apply_change(&r.change.change, &appliers).await?;
                    replies.push((r.change, outcome));
                }
                for (req, outcome) in replies {
                    reply(&bus, &env, &req, outcome);
                }
                store.send(StoreEvent::ConfigWaiting(waiting)).await?;
                Ok(())
            }
        },
    );
}

/// Submits a request to the gate: what to apply now, and the answers that are not
/// "applied" (held, refused).
fn admit(
    gate: &mut ChangeGate<ConfigRequest>,
    req: ConfigRequest,
) -> (Vec<ChangeRequest<ConfigRequest>>, Vec<(ConfigRequest, Outcome)>) {
    let can_wait = req.can_wait;
    match gate.submit(ChangeRequest { change: req.clone(), requester: "user".into(), can_wait }) {
        Admission::Apply(list) => (list, Vec::new()),
        Admission::Held { position } => {
            let why = format!("waits for the order(s) in flight (place {position} in line)");
            (Vec::new(), vec![(req, Outcome::Held(why))])
        }
        Admission::Rejected { request, reason } => {
            (Vec::new(), vec![(request.change, Outcome::Denied(reason))])
        }
    }
}

/// The status line's words for what the gate holds, or `None`.
fn waiting_line(gate: &ChangeGate<ConfigRequest>, appliers: &Appliers) -> Option<String> {
    let what: Vec<String> = gate.held_requests().map(|r| r.change.change.summary()).collect();
    if what.is_empty() {
        return None;
    }
    let n = appliers.in_flight.count();
    // Short: it shares the status bar with the trading state and the clock.
    Some(format!("{} ({n} order{} in flight)", what.join(", "), if n == 1 { "" } else { "s" }))
}

/// Applies one admitted change. Screen changes are the UI's to apply on the reply.
async fn apply_change(change: &ConfigChange, appliers: &Appliers) -> anyhow::Result<Outcome> {
    let ConfigChange::Trading { key, value } = change else {
        return Ok(Outcome::Accepted("applied".into()));
    };
    let limits = {
        let mut t = lock(&appliers.trading);
        key.set(&mut t, *value);
        super::risk_limits(&t)
    };
    if *key == TradingKey::FeeRate {
        return Ok(match &appliers.paper {
            Some(paper) => {
                paper.set_fee_rate(*value);
                Outcome::Accepted(format!("applied: paper fills from now on pay {}", key.show(*value)))
            }
            None => Outcome::Denied("fee_rate applies to paper mode only: the exchange sets the fee".into()),
        });
    }
    appliers.manager.command(OrderCommand::SetRiskLimits(limits)).await?;
    Ok(Outcome::Accepted("applied to the risk gate".into()))
}

fn reply(bus: &Bus<AppEvent>, cause: &Envelope<AppEvent>, req: &ConfigRequest, outcome: Outcome) {
    let reply = TradeReply { id: req.id, to: Requester::Ui, what: req.change.summary(), outcome };
    if let Err(e) = bus.publish_follow_up(Some(cause), "config-gate", AppEvent::Reply(reply)) {
        tracing::warn!(error = %e, "config reply not delivered");
    }
}
