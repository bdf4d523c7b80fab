//! The Trading lane: the desk that carries out every trading request (from the UI and
//! the monitor) and answers it, the order manager's facts onto the lane, the monitor's
//! exits onto the lane, and the private streams into the manager.
//!
//! The monitor never talks to the exchange: its exits are requests on the Trading lane
//! like the person's (journal first, risk gate, deterministic identifier), and the
//! manager's facts go back to the monitor as [`ExitEvent`]s through the bridge.
//!
//! [`ExitEvent`]: crate::trading::monitor::ExitEvent

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_decimal::Decimal;
use tokio::sync::mpsc;

use crate::bus::{Bus, CorrelationId, Envelope};
use crate::exchange::api::OrderUpdate;
use crate::exchange::types::{Balance, Order, OrderState};
use crate::exchange::upbit::rest::RestClient;
use crate::feed::{FeedHandle, MyAssetEvent, MyOrderEvent, Strategy};
use crate::kernel::pump::spawn_pump;
use crate::kernel::sync::lock;
use crate::kernel::{OnFailure, TaskManager};
use crate::notify::NotifySender;
use crate::notify::{NotifyEvent, NotifyKind};
use crate::store::{RuleRow, StoreEvent, StoreHandle};
use crate::trading::bridge::ExitBridge;
use crate::trading::input::UnarmTarget;
use crate::trading::intent::{Outcome, Requester, TradeIntent, TradeReply, TradeRequest};
use crate::trading::manager::{OrderCommand, OrderEvent, OrderManagerHandle, in_flight};
use crate::trading::monitor::{MonitorAction, MonitorHandle, MonitorView, TradingStateHandle};
use crate::trading::orders::{LocalState, TrackedOrder, new_identifier};
use crate::trading::paper::PaperVenue;
use crate::trading::risk::TradingState;
use crate::trading::rules::{Alert, Level, Rule, RuleKind};

use super::event::{AppEvent, SafetyEvent};

/// The levels of a rule (none for a trailing stop).
fn rule_levels(kind: &RuleKind) -> Vec<Level> {
    match kind {
        RuleKind::StopLoss(l) | RuleKind::TakeProfit(l) => vec![*l],
        RuleKind::Oco { stop, take } => vec![*stop, *take],
        RuleKind::Trailing { .. } => Vec::new(),
    }
}

/// The Trading lane's handler: carries out every [`TradeRequest`] (from the UI and the
/// monitor) and turns the order manager's facts into the store's, the monitor's and the
/// requester's. One per console; cheap to clone.
#[derive(Clone)]
pub struct Desk {
    /// The bus (replies and follow-ups go back on it).
    pub bus: Bus<AppEvent>,
    /// The order manager.
    pub manager: OrderManagerHandle,
    /// The trading monitor.
    pub monitor: MonitorHandle,
    /// The store (screen).
    pub store: StoreHandle,
    /// The notifier (fills).
    pub notify: NotifySender,
    /// Which request placed which order (identifier → chain).
    pub(crate) chains: Arc<Mutex<Chains>>,
    /// Exits in flight between the monitor and the manager.
    pub bridge: Arc<Mutex<ExitBridge>>,
    /// Orders in flight (the change gate's count).
    pub in_flight: Arc<InFlightBook>,
    /// Open orders as the Orders pane shows them.
    open: Arc<Mutex<BTreeMap<String, TrackedOrder>>>,
    /// The console's trading state (the Safety lane drives it; read here so the manager's
    /// echo of a halt the console already holds is not raised again).
    trading: TradingStateHandle,
}

/// Orders in flight as the Trading lane sees them: requests to place an order that are
/// queued or being carried out, and orders whose outcome is still moving
/// ([`in_flight`]). The change gate reads it. Counted from the moment the UI's
/// forwarder (or the monitor's) puts a place request on the lane, so a `:set` typed right
/// after a `:buy` finds the buy in flight even before the order manager has seen it.
#[derive(Debug, Default)]
pub struct InFlightBook {
    state: Mutex<(usize, HashSet<String>)>,
}

impl InFlightBook {
    /// Orders in flight now.
    pub fn count(&self) -> usize {
        let s = lock(&self.state);
        s.0 + s.1.len()
    }

    /// A place request entered the Trading lane.
    pub fn queued(&self) {
        lock(&self.state).0 += 1;
    }

    /// A place request was answered: `placed` is the order it put in flight (none when it
    /// was denied). True when nothing is in flight any more.
    fn answered(&self, placed: Option<&str>) -> bool {
        let mut s = lock(&self.state);
        s.0 = s.0.saturating_sub(1);
        if let Some(id) = placed {
            s.1.insert(id.to_string());
        }
        s.0 + s.1.len() == 0
    }

    /// An order's new state. True when this left nothing in flight.
    fn on_order(&self, t: &TrackedOrder) -> bool {
        let mut s = lock(&self.state);
        if in_flight(t) {
            s.1.insert(t.identifier.clone());
            false
        } else {
            s.1.remove(&t.identifier) && s.0 + s.1.len() == 0
        }
    }
}

impl crate::bus::InFlight for InFlightBook {
    fn orders_in_flight(&self) -> usize {
        self.count()
    }
}

/// Which request placed which order, so the order's facts join the request's chain and a
/// later refusal by the exchange reaches whoever asked. Bounded: the oldest entries go
/// first (an order that never ends is still traced, just not to its request).
#[derive(Debug, Default)]
pub(crate) struct Chains {
    by_identifier: HashMap<String, Chain>,
    order: VecDeque<String>,
}

/// One order's request.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    /// The request's id.
    pub id: CorrelationId,
    /// Who asked.
    pub from: Requester,
    /// What was asked.
    pub what: String,
}

/// Orders whose request [`Chains`] remembers at most.
const CHAINS_KEPT: usize = 4096;

impl Chains {
    fn insert(&mut self, identifier: String, chain: Chain) {
        if self.by_identifier.len() >= CHAINS_KEPT
            && let Some(old) = self.order.pop_front()
        {
            self.by_identifier.remove(&old);
        }
        if self.by_identifier.insert(identifier.clone(), chain).is_none() {
            self.order.push_back(identifier);
        }
    }

    /// The chain of an order, if its request is known.
    pub fn get(&self, identifier: &str) -> Option<&Chain> {
        self.by_identifier.get(identifier)
    }

    fn remove(&mut self, identifier: &str) -> Option<Chain> {
        let c = self.by_identifier.remove(identifier)?;
        self.order.retain(|i| i != identifier);
        Some(c)
    }

    /// The request id an order event belongs to.
    pub(crate) fn chain_of(&self, ev: &OrderEvent) -> Option<CorrelationId> {
        let id = match ev {
            OrderEvent::OrderUpdated(t) => Some(t.identifier.as_str()),
            OrderEvent::Filled { identifier, .. } => Some(identifier.as_str()),
            OrderEvent::Rejected { identifier, .. } => identifier.as_deref(),
            _ => None,
        }?;
        self.get(id).map(|c| c.id)
    }
}

impl Desk {
    /// A desk over these parts.
    pub fn new(
        bus: Bus<AppEvent>,
        manager: OrderManagerHandle,
        monitor: MonitorHandle,
        store: StoreHandle,
        notify: NotifySender,
        trading: TradingStateHandle,
    ) -> Self {
        Desk {
            bus,
            manager,
            monitor,
            store,
            notify,
            trading,
            chains: Arc::default(),
            bridge: Arc::new(Mutex::new(ExitBridge::new())),
            in_flight: Arc::default(),
            open: Arc::default(),
        }
    }

    /// Subscribes the desk to the Trading lane: requests, the manager's facts, and the
    /// replies (to the screen).
    pub fn subscribe(&self, bus: &Bus<AppEvent>) {
        let desk = self.clone();
        bus.subscribe(
            "trading-desk",
            |env| matches!(env.payload, AppEvent::Trade(_) | AppEvent::Order { .. }),
            move |env| {
                let desk = desk.clone();
                async move {
                    match &env.payload {
                        AppEvent::Trade(req) => desk.handle(&env, req).await,
                        AppEvent::Order { event, .. } => desk.on_order_event(&env, event.clone()).await,
                        _ => Ok(()),
                    }
                }
            },
        );
        let store = self.store.clone();
        bus.subscribe(
            "replies",
            |env| matches!(env.payload, AppEvent::Reply(_)),
            move |env| {
                let store = store.clone();
                async move {
                    if let AppEvent::Reply(r) = &env.payload {
                        if r.outcome.is_refusal() {
                            tracing::warn!(id = %r.id, to = r.to.label(), what = %r.what, outcome = r.outcome.label(), detail = %r.outcome.detail(), "request refused");
                        } else {
                            tracing::info!(id = %r.id, to = r.to.label(), what = %r.what, outcome = r.outcome.label(), detail = %r.outcome.detail(), "request answered");
                        }
                        // The monitor learns how its exits went from the order facts (the
                        // bridge); the screen learns from the reply.
                        if r.to == Requester::Ui {
                            store.send(StoreEvent::Reply(r.clone())).await?;
                        }
                    }
                    Ok(())
                }
            },
        );
    }

    /// Carries out one request and answers it. Fails only when trading is gone.
    async fn handle(&self, env: &Envelope<AppEvent>, req: &TradeRequest) -> anyhow::Result<()> {
        let outcome = match &req.intent {
            TradeIntent::Place { spec, origin, identifier, selected } => {
                // The desk names a manual order itself, so the manager's very first fact
                // about it already belongs to this request's chain.
                let identifier = identifier.clone().unwrap_or_else(new_identifier);
                let chain = Chain { id: req.id, from: req.from, what: req.intent.summary() };
                lock(&self.chains).insert(identifier.clone(), chain);
                let placed = self
                    .manager
                    .place(spec.clone(), origin.clone(), Some(identifier.clone()), selected.clone())
                    .await;
                let (outcome, idle) = match placed {
                    Ok(id) => {
                        let idle = self.in_flight.answered(Some(&id));
                        // Journaled and handed to the sender, which may still wait on the
                        // exchange's rate limit: "being sent", not "sent". The Orders pane
                        // and the later facts say when the exchange has it.
                        (Outcome::Accepted(format!("order {id} journaled, being sent")), idle)
                    }
                    // (The chain goes with the manager's `Rejected { denied_here }` fact,
                    // which then knows the denial was answered here.)
                    Err(d) => (Outcome::Denied(d.to_string()), self.in_flight.answered(None)),
                };
                if idle {
                    self.trading_idle(env);
                }
                outcome
            }
            TradeIntent::Cancel(target) => {
                self.manager.cancel(target.clone()).await?;
                Outcome::Accepted("cancel requested".into())
            }
            TradeIntent::Kill { why } => {
                self.safety(env, SafetyEvent::Halt { why: why.clone() });
                self.manager.command(OrderCommand::Kill(why.clone())).await?;
                Outcome::Accepted("HALTED; cancelling every open order".into())
            }
            TradeIntent::ArmRule { market, kind, future } => {
                if rule_levels(kind).iter().any(|l| l.is_from_last()) {
                    // The screen fixes a level measured from the last price (it shows the
                    // price it resolved to before anything arms); one that arrives
                    // unresolved was never previewed, so it is not armed.
                    Outcome::Denied(
                        "a % level from the last price must be fixed to a price before arming".into(),
                    )
                } else {
                    let rule = Rule {
                        for_future_position: *future,
                        ..Rule::new(market.clone(), kind.clone(), None)
                    };
                    let id = rule.id.clone();
                    self.monitor.add_rule(rule).await?;
                    Outcome::Accepted(if *future {
                        format!("rule {id} armed for a future position")
                    } else {
                        format!("rule {id} armed")
                    })
                }
            }
            TradeIntent::ArmAlert { market, condition } => {
                let premium = self.store.snapshot().market.premium.clone();
                if let Some(why) =
                    crate::trading::monitor::premium_alerts::refusal(market, condition, &premium)
                {
                    Outcome::Denied(why)
                } else {
                    let alert = Alert::new(market.clone(), *condition);
                    let id = alert.id.clone();
                    self.monitor.add_alert(alert).await?;
                    Outcome::Accepted(format!("alert {id} armed"))
                }
            }
            TradeIntent::Unarm(target) => self.unarm(target).await?,
            // The pocket desk answers it (`super::pockets`).
            TradeIntent::Transfer(_) => return Ok(()),
        };
        self.reply(env, req.id, req.from, req.intent.summary(), outcome);
        Ok(())
    }

    /// Answers a request on the Trading lane (never waits: see `Bus::publish_follow_up`).
    fn reply(
        &self,
        cause: &Envelope<AppEvent>,
        id: CorrelationId,
        to: Requester,
        what: String,
        outcome: Outcome,
    ) {
        let reply = TradeReply { id, to, what, outcome };
        if let Err(e) = self.bus.publish_follow_up(Some(cause), "trading-desk", AppEvent::Reply(reply)) {
            tracing::warn!(error = %e, "reply not delivered");
        }
    }

    /// Nothing is in flight any more: the change gate may release what it holds.
    fn trading_idle(&self, cause: &Envelope<AppEvent>) {
        if let Err(e) = self.bus.publish_follow_up(Some(cause), "trading-desk", AppEvent::TradingIdle) {
            tracing::warn!(error = %e, "trading idle not delivered");
        }
    }

    fn safety(&self, cause: &Envelope<AppEvent>, ev: SafetyEvent) {
        if let Err(e) = self.bus.publish_follow_up(Some(cause), "trading-desk", AppEvent::Safety(ev)) {
            tracing::warn!(error = %e, "safety event not delivered");
        }
    }

    async fn unarm(&self, target: &UnarmTarget) -> anyhow::Result<Outcome> {
        // Alerts go by market or id; a bare `:unarm` (confirmed as "remove all N rules")
        // leaves them.
        let (ids, alerts): (Vec<String>, Vec<String>) = {
            let view = self.monitor.view();
            let view = view.borrow();
            let rules = view
                .rules
                .iter()
                .filter(|r| match target {
                    UnarmTarget::All => true,
                    UnarmTarget::Market(m) => &r.market == m,
                    UnarmTarget::Rule(id) => &r.id == id,
                })
                .map(|r| r.id.clone())
                .collect();
            let alerts = view
                .alerts
                .iter()
                .filter(|a| match target {
                    UnarmTarget::All => false,
                    UnarmTarget::Market(m) => &a.market == m,
                    UnarmTarget::Rule(id) => &a.id == id,
                })
                .map(|a| a.id.clone())
                .collect();
            (rules, alerts)
        };
        if ids.is_empty() && alerts.is_empty() {
            return Ok(Outcome::Denied(match target {
                UnarmTarget::All => "no rules to disarm".into(),
                UnarmTarget::Market(m) => format!("no rules or alerts on {m}"),
                UnarmTarget::Rule(id) => format!("no rule or alert {id}"),
            }));
        }
        for id in &ids {
            self.monitor.remove_rule(id.clone()).await?;
        }
        for id in &alerts {
            self.monitor.remove_alert(id.clone()).await?;
        }
        Ok(Outcome::Accepted(match (ids.len(), alerts.len()) {
            (n, 0) => format!("{n} rule(s) disarmed"),
            (0, a) => format!("{a} alert(s) removed"),
            (n, a) => format!("{n} rule(s) disarmed, {a} alert(s) removed"),
        }))
    }

    /// One fact from the order manager: to the monitor (exits), the requester (a refusal
    /// by the exchange), the store and the notifier.
    async fn on_order_event(&self, env: &Envelope<AppEvent>, ev: OrderEvent) -> anyhow::Result<()> {
        let exits = lock(&self.bridge).on_event(&ev);
        for e in exits {
            self.monitor.result(e).await?;
        }
        match ev {
            OrderEvent::OrderUpdated(t) => {
                if self.in_flight.on_order(&t) {
                    self.trading_idle(env);
                }
                let orders = {
                    let mut open = lock(&self.open);
                    if t.state.is_terminal() {
                        open.remove(&t.identifier);
                        // A refusal is answered below from its Rejected fact; anything
                        // else that ended needs no more tracing to its request.
                        if t.state != LocalState::Rejected {
                            lock(&self.chains).remove(&t.identifier);
                        }
                    } else {
                        open.insert(t.identifier.clone(), t);
                    }
                    open.values().map(tracked_to_order).collect()
                };
                self.store.send(StoreEvent::OrdersUpdated(orders)).await?;
            }
            OrderEvent::Filled { fill, realized, .. } => {
                self.notify.notify(NotifyEvent::new(
                    NotifyKind::Fill,
                    Some(fill.market.clone()),
                    crate::exchange::display::fill(&fill),
                ));
                // Today's P&L in the Portfolio pane and the status bar, on the fill's day
                // (as a restart counts it again).
                let at = crate::trading::position::fill_time(&fill);
                self.store.send(StoreEvent::FillApplied(fill)).await?;
                self.store.send(StoreEvent::Realized { pnl: realized, at }).await?;
            }
            OrderEvent::Rejected { identifier, reason, denied_here } => {
                tracing::warn!(identifier = identifier.as_deref().unwrap_or("-"), %reason, denied_here, "order refused");
                let chain = identifier.as_deref().and_then(|id| lock(&self.chains).remove(id));
                // A request's place refused here was answered by the place itself
                // (`denied`, on the message line and in the Orders pane): no alert repeats
                // it, worded as the exchange's. A rule's exit denied here (no request's
                // chain) is alerted, as denied.
                if denied_here && (chain.is_some() || identifier.is_none()) {
                    return Ok(());
                }
                // The exchange refused an order a request placed: its requester hears it
                // as a second reply.
                // An alert too: the message line may be telling a newer request's story.
                let word = if denied_here { "denied" } else { "rejected" };
                let message = match &chain {
                    Some(c) => format!("{word}: {} {}: {reason}", c.id, c.what),
                    None => format!("{word}: {reason}"),
                };
                if let Some(c) = chain {
                    self.reply(env, c.id, c.from, c.what, Outcome::Rejected(reason));
                }
                self.store.send(StoreEvent::Alert { time: chrono::Utc::now(), message }).await?;
            }
            OrderEvent::Reconciled { resolved, adopted } => {
                tracing::info!(resolved, adopted, "orders reconciled; trading allowed");
                self.monitor.reconciled().await?;
            }
            OrderEvent::TradingState { state, reason, .. } => {
                // The manager halts by itself on some exchange errors (a blocked key, 418):
                // that becomes the console's halt, on the Safety lane, lifted only by
                // `:resume`. Everything else flows the other way (`spawn_trading_state`).
                if state == TradingState::Halted && self.trading.state() != TradingState::Halted {
                    let why = reason.unwrap_or_else(|| "halted by the order manager".into());
                    self.safety(env, SafetyEvent::Halt { why });
                }
            }
            OrderEvent::CancelsDone { market } => {
                tracing::info!(market = market.as_ref().map_or("all", |m| m.as_str()), "cancels done");
            }
            OrderEvent::Balances(b) => self.store.send(StoreEvent::BalancesUpdated(b)).await?,
            OrderEvent::Restored(ledger) => {
                // What the journal's fills add up to: the P&L from before a restart. The
                // monitor's positions come from the balances, as at any start.
                for p in ledger.positions.into_values() {
                    self.store.send(StoreEvent::PositionUpdated(p)).await?;
                }
                for (pnl, at) in ledger.realized {
                    self.store.send(StoreEvent::Realized { pnl, at }).await?;
                }
                // The Orders pane's recent fills (and its `N fills`) include the ones
                // from before the restart; oldest first, so the newest ends on top.
                for fill in ledger.fills {
                    self.store.send(StoreEvent::FillApplied(fill)).await?;
                }
            }
            OrderEvent::Position(p) => {
                self.store.send(StoreEvent::PositionUpdated(p.clone())).await?;
                self.monitor.position(p.market, p.volume, p.avg_cost).await?
            }
            OrderEvent::Info(s) => tracing::info!("{s}"),
        }
        Ok(())
    }
}

/// The order manager's facts onto the Trading lane, each in the chain of the request that
/// placed its order.
pub(crate) fn spawn_order_events(
    tasks: &TaskManager,
    events: mpsc::Receiver<OrderEvent>,
    bus: Bus<AppEvent>,
    chains: Arc<Mutex<Chains>>,
) {
    spawn_pump(tasks, "console", "order-events", events, move |event| {
        let chain = lock(&chains).chain_of(&event);
        // A follow-up: the trading worker may be waiting on the manager, which waits on
        // this loop (see `Bus::publish_follow_up`).
        let sent = bus.publish_follow_up(None, "order-manager", AppEvent::Order { event, chain });
        std::future::ready(sent.map(drop).map_err(anyhow::Error::from))
    });
}

/// The monitor's exits onto the Trading lane, as requests from the monitor.
pub(crate) fn spawn_monitor_actions(
    tasks: &TaskManager,
    actions: mpsc::Receiver<MonitorAction>,
    bus: Bus<AppEvent>,
    bridge: Arc<Mutex<ExitBridge>>,
    in_flight: Arc<InFlightBook>,
) {
    spawn_pump(tasks, "console", "monitor-actions", actions, move |action| {
        let intent = lock(&bridge).intent(action);
        if matches!(intent, TradeIntent::Place { .. }) {
            in_flight.queued();
        }
        let req = TradeRequest::new(Requester::Monitor, intent);
        tracing::info!(id = %req.id, what = %req.intent.summary(), "monitor exit on the trading lane");
        // A follow-up of the prices and fills that fired the rule; never waits on the
        // trading worker, which may be waiting on the monitor.
        let sent = bus.publish_follow_up(None, "monitor", AppEvent::Trade(req));
        std::future::ready(sent.map(drop).map_err(anyhow::Error::from))
    });
}

/// What [`tracked_to_order`] writes in `created_at` for an UNCONFIRMED order (sent, not
/// found yet, still looked up): the Orders pane shows it as the order's state.
pub(crate) const UNCONFIRMED_MARK: &str = "unconfirmed";

/// Notices events dropped by the private stream's lossless queues (a consumer that
/// stalled past the feed's `lossless_stall`): each new drop means an order update, fill
/// or balance change was lost, so orders and balances must be resynced by REST at once.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DropWatch {
    seen: u64,
}

impl DropWatch {
    /// Starts from the drops already counted.
    pub fn new(total: u64) -> Self {
        DropWatch { seen: total }
    }

    /// The drops since the last call, if any (`total` is the queues' running count).
    pub fn check(&mut self, total: u64) -> Option<u64> {
        let new = total.checked_sub(self.seen).filter(|n| *n > 0);
        self.seen = self.seen.max(total);
        new
    }
}

/// An order as the UI shows it, from what the manager tracks.
pub(crate) fn tracked_to_order(t: &TrackedOrder) -> Order {
    let r = &t.request;
    let remaining = r.volume.map_or(Decimal::ZERO, |v| (v - t.executed_volume).max(Decimal::ZERO));
    Order {
        uuid: t.uuid.clone().unwrap_or_else(|| t.identifier.clone()),
        identifier: Some(t.identifier.clone()),
        market: r.market.clone(),
        side: Some(r.side),
        ord_type: r.ord_type,
        price: r.price,
        volume: r.volume,
        remaining_volume: remaining,
        executed_volume: t.executed_volume,
        executed_funds: Some(t.executed_funds),
        reserved_fee: Decimal::ZERO,
        remaining_fee: Decimal::ZERO,
        paid_fee: t.paid_fee,
        locked: Decimal::ZERO,
        state: match t.state {
            LocalState::Filled => OrderState::Done,
            LocalState::Canceled | LocalState::Rejected => OrderState::Cancel,
            _ => OrderState::Wait,
        },
        time_in_force: r.time_in_force,
        // The Orders pane shows this marker as the state of an unconfirmed order (the
        // venue's state vocabulary has no word for "maybe booked").
        created_at: if t.state == LocalState::Unconfirmed {
            UNCONFIRMED_MARK.to_string()
        } else {
            String::new()
        },
        trades_count: t.fill_ids.len() as u32,
        trades: Vec::new(),
    }
}

/// The venue's order from a private-stream update (Upbit `myOrder`).
pub fn update_to_order(u: &OrderUpdate) -> Order {
    Order {
        uuid: u.uuid.clone(),
        identifier: u.identifier.clone(),
        market: u.market.clone(),
        side: u.side,
        ord_type: u.ord_type,
        price: u.price,
        volume: u.volume,
        remaining_volume: u.remaining_volume.unwrap_or_default(),
        executed_volume: u.executed_volume,
        executed_funds: Some(u.executed_funds),
        reserved_fee: Decimal::ZERO,
        remaining_fee: Decimal::ZERO,
        paid_fee: u.paid_fee,
        locked: u.locked,
        state: u.state,
        time_in_force: u.time_in_force,
        created_at: String::new(),
        trades_count: u.trades_count,
        trades: u.fill.iter().cloned().collect(),
    }
}

/// The private streams (orders, balances) into the manager and the store. Paper mode has
/// no private stream: the paper engine's balances are polled instead.
pub fn spawn_account(
    tasks: &TaskManager,
    feed: &FeedHandle,
    rest: Option<Arc<RestClient>>,
    paper: Option<PaperVenue>,
    (manager, monitor): (OrderManagerHandle, MonitorHandle),
    store: StoreHandle,
) {
    let proxy = Arc::new(feed.proxy("account"));
    let feed = feed.clone();
    tasks.spawn_supervised("console", "account-pump", OnFailure::restart(), move |cancel| {
        let proxy = proxy.clone();
        let rest = rest.clone();
        let paper = paper.clone();
        let manager = manager.clone();
        let monitor = monitor.clone();
        let store = store.clone();
        let feed = feed.clone();
        async move {
            if let Some(paper) = paper {
                let mut every = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tokio::select! {
                        biased;
                        _ = cancel.cancelled() => return Ok(()),
                        _ = every.tick() => publish_balances(&store, &monitor, paper.balances_now()).await?,
                    };
                }
            }
            let mut balances: BTreeMap<String, Balance> = BTreeMap::new();
            if let Some(rest) = &rest {
                match rest.accounts().await {
                    Ok(list) => {
                        balances = list.into_iter().map(|b| (b.currency.clone(), b)).collect();
                        publish_balances(&store, &monitor, balances.values().cloned().collect()).await?;
                    }
                    Err(e) => tracing::warn!(error = %e, "balances not loaded"),
                }
            }
            // Lossless: an order update or a fill is never dropped.
            let mut orders = proxy.subscribe_my_order(&[], Strategy::Lossless);
            let mut assets = proxy.subscribe_my_asset(Strategy::Lossless);
            // A lossless queue that overflowed lost updates: resync by REST right away.
            let mut drops = DropWatch::new(orders.drops().saturating_add(assets.drops()));
            // While the private stream is down, fills may be missed: new orders wait, and
            // after it is back every open intent is looked up again before trading resumes.
            // Unknown until first seen: the first observation only sets it.
            let mut private_up: Option<bool> = None;
            let mut check = tokio::time::interval(Duration::from_secs(1));
            check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                if let Some(lost) = drops.check(orders.drops().saturating_add(assets.drops())) {
                    let why = format!("private stream lagged ({lost} event(s) dropped)");
                    tracing::warn!("{why}; resyncing orders and balances from REST");
                    manager.command(OrderCommand::Resync(why.clone())).await?;
                    if let Some(rest) = &rest {
                        match rest.accounts().await {
                            Ok(list) => {
                                balances = list.into_iter().map(|b| (b.currency.clone(), b)).collect();
                                publish_balances(&store, &monitor, balances.values().cloned().collect())
                                    .await?;
                            }
                            Err(e) => tracing::warn!(error = %e, "balances not resynced"),
                        }
                    }
                    let message = format!("{why}: orders and balances resynced from REST");
                    store.send(StoreEvent::Alert { time: chrono::Utc::now(), message }).await?;
                }
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    // A transfer between pockets moved some: read them again.
                    _ = super::pockets::balances_stale().notified() => {
                        if let Some(rest) = &rest {
                            match rest.accounts().await {
                                Ok(list) => {
                                    balances = list.into_iter().map(|b| (b.currency.clone(), b)).collect();
                                    publish_balances(&store, &monitor, balances.values().cloned().collect())
                                        .await?;
                                }
                                Err(e) => tracing::warn!(error = %e, "balances not refreshed after a transfer"),
                            }
                        }
                    }
                    _ = check.tick() => {
                        let up = private_connected(&feed);
                        let was = private_up.replace(up);
                        if was.is_some_and(|was| was != up) {
                            if up {
                                tracing::info!("private stream back; reconciling orders");
                                manager.command(OrderCommand::Reconcile).await?;
                            } else {
                                tracing::warn!("private stream down; new orders wait for reconciliation");
                                manager.command(OrderCommand::StreamDown).await?;
                                monitor.not_reconciled().await?;
                            }
                        }
                    }
                    ev = orders.recv() => match ev {
                        Some(MyOrderEvent::Update(u)) => {
                            if let Some(f) = &u.fill {
                                manager.apply_fill(f.clone()).await?;
                            }
                            // Before the update: the request that placed an order SMP ended
                            // still hears why.
                            if let Some(m) = crate::trading::manager::SelfMatch::from_update(&u) {
                                manager.apply_self_match(m).await?;
                            }
                            manager.apply_venue_update(update_to_order(&u)).await?;
                        }
                        Some(MyOrderEvent::Snapshot(list)) => {
                            for o in list {
                                manager.apply_venue_update(o).await?;
                            }
                        }
                        None => return Ok(()),
                    },
                    ev = assets.recv() => match ev {
                        Some(MyAssetEvent::Snapshot(list)) => {
                            balances = list.into_iter().map(|b| (b.currency.clone(), b)).collect();
                            publish_balances(&store, &monitor, balances.values().cloned().collect()).await?;
                        }
                        Some(MyAssetEvent::Update(u)) => {
                            // `myAsset` carries no average buy price: a coin whose holding
                            // grew (a buy at another price) has a new average only REST
                            // knows. Kept as it was, the old one stayed on screen and under
                            // `:tp … avg` (140M after a buy at 145M).
                            let mut grew = false;
                            for a in u.assets {
                                let b = balances.entry(a.currency.clone()).or_insert_with(|| Balance {
                                    currency: a.currency.clone(),
                                    balance: Decimal::ZERO,
                                    locked: Decimal::ZERO,
                                    avg_buy_price: Decimal::ZERO,
                                    unit_currency: "KRW".into(),
                                });
                                grew |= b.currency != b.unit_currency
                                    && a.balance.saturating_add(a.locked) > b.balance.saturating_add(b.locked);
                                b.balance = a.balance;
                                b.locked = a.locked;
                            }
                            if grew && let Some(rest) = &rest {
                                match rest.accounts().await {
                                    Ok(list) => balances = list.into_iter().map(|b| (b.currency.clone(), b)).collect(),
                                    Err(e) => tracing::warn!(error = %e, "average buy price not refreshed"),
                                }
                            }
                            publish_balances(&store, &monitor, balances.values().cloned().collect()).await?;
                        }
                        None => return Ok(()),
                    },
                }
            }
        }
    });
}

/// Balances to the store, and each coin held as a position to the monitor (its average
/// buy price is what `:stop KRW-BTC -3%` is measured from).
async fn publish_balances(
    store: &StoreHandle,
    monitor: &MonitorHandle,
    balances: Vec<Balance>,
) -> anyhow::Result<()> {
    // The whole list at once: a coin missing from it was sold (elsewhere too), and the
    // monitor's rules on it say "position gone" instead of protecting a stale volume.
    let held = balances
        .iter()
        .filter_map(|b| {
            let quote = if b.unit_currency.is_empty() { "KRW" } else { b.unit_currency.as_str() };
            (b.currency != quote).then(|| {
                let market = crate::exchange::types::MarketId::new(&format!("{quote}-{}", b.currency));
                (market, b.balance.saturating_add(b.locked), b.avg_buy_price)
            })
        })
        .collect();
    monitor.holdings(held).await?;
    store.send(StoreEvent::BalancesUpdated(balances)).await?;
    Ok(())
}

/// Whether the private stream is delivering (REST polling counts as down: fills arrive late).
fn private_connected(feed: &FeedHandle) -> bool {
    feed.health()
        .connections
        .iter()
        .filter(|c| c.name.contains("private"))
        .all(|c| c.state == crate::feed::ConnState::Connected)
}

/// The Monitor pane's rows and the trading state, kept current.
pub(crate) fn spawn_views(
    tasks: &TaskManager,
    monitor: MonitorHandle,
    store: StoreHandle,
    trading: TradingStateHandle,
    manager: OrderManagerHandle,
) {
    spawn_trading_state(tasks, trading, manager, store.clone());
    tasks.spawn_supervised("console", "monitor-view", OnFailure::restart(), move |cancel| {
        let (store, mut view) = (store.clone(), monitor.view());
        async move {
            loop {
                let (rows, alerts) = {
                    let v = view.borrow_and_update();
                    (rule_rows(&v), v.alerts.clone())
                };
                store.send(StoreEvent::RulesUpdated(rows)).await?;
                store.send(StoreEvent::AlertsUpdated(alerts)).await?;
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    changed = view.changed() => if changed.is_err() { return Ok(()) },
                }
            }
        }
    });
}

/// One trading state for the whole console: the kill switch, `:resume`, the monitor's
/// dead-man switch (REDUCING while it is down) and the manager's own halts all meet in
/// [`TradingStateHandle`]; every change is applied to the order manager's risk gate and
/// shown in the status bar.
fn spawn_trading_state(
    tasks: &TaskManager,
    trading: TradingStateHandle,
    manager: OrderManagerHandle,
    store: StoreHandle,
) {
    tasks.spawn_supervised("console", "trading-state", OnFailure::restart(), move |cancel| {
        let (manager, store) = (manager.clone(), store.clone());
        let mut rx = trading.subscribe();
        async move {
            let mut applied = None;
            loop {
                let now = rx.borrow_and_update().clone();
                if applied.as_ref() != Some(&now) {
                    tracing::info!(state = now.state.label(), reason = %now.reason, "trading state");
                    manager.command(OrderCommand::SetTradingState(now.state, now.reason.clone())).await?;
                    store.send(StoreEvent::TradingState(now.state)).await?;
                    applied = Some(now);
                }
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    changed = rx.changed() => if changed.is_err() { return Ok(()) },
                }
            }
        }
    });
}

fn rule_rows(v: &MonitorView) -> Vec<RuleRow> {
    v.rules.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_drop_on_the_private_queues_asks_for_one_resync() {
        let mut w = DropWatch::new(3);
        assert_eq!(w.check(3), None, "drops from before are not new");
        assert_eq!(w.check(5), Some(2));
        assert_eq!(w.check(5), None, "one resync per new drop");
        assert_eq!(w.check(4), None, "a count that went back is no drop");
        assert_eq!(w.check(6), Some(1));
    }
}
