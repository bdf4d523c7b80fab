//! Trading glue: the console's commands to the order manager and the monitor, the private
//! streams into the manager, and the manager's and monitor's facts into the store.
//!
//! The monitor never talks to the exchange: its exits go through the order manager here
//! (journal first, risk gate, deterministic identifier), and the manager's answers go back
//! to the monitor as [`ExitEvent`]s.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rust_decimal::Decimal;
use tokio::sync::{mpsc, watch};

use crate::exchange::api::OrderUpdate;
use crate::exchange::types::{Balance, Order, OrderState, Side};
use crate::exchange::upbit::rest::RestClient;
use crate::feed::{FeedHandle, MyAssetEvent, MyOrderEvent, Strategy};
use crate::kernel::{OnFailure, TaskManager};
use crate::notify::NotifySender;
use crate::notify::{NotifyEvent, NotifyKind};
use crate::store::{RuleRow, StoreEvent, StoreHandle};
use crate::trading::bridge::ExitBridge;
use crate::trading::input::{CancelTarget, TradeCommand, UnarmTarget, parse_command};
use crate::trading::manager::{OrderCommand, OrderEvent, OrderManagerHandle, Origin, PlaceSpec};
use crate::trading::monitor::{MonitorAction, MonitorHandle, MonitorView, TradingStateHandle};
use crate::trading::orders::{LocalState, TrackedOrder};
use crate::trading::paper::PaperVenue;
use crate::trading::risk::TradingState;
use crate::trading::rules::{Alert, Rule, RuleKind};
use crate::ui::UiCommand;

use super::market::Selection;

/// Everything a console command may touch.
#[derive(Clone)]
pub struct Router {
    /// The market panes' selection.
    pub selection: Arc<watch::Sender<Selection>>,
    /// The order manager.
    pub manager: OrderManagerHandle,
    /// The trading monitor.
    pub monitor: MonitorHandle,
    /// The trading state (kill switch).
    pub trading: TradingStateHandle,
    /// The store (messages for the person).
    pub store: StoreHandle,
    /// Shutdown on `Quit`.
    pub tasks: TaskManager,
}

impl Router {
    /// Carries out one console command. Errors are the person's to read, so they go to the
    /// log and the status bar; the handler itself only fails when trading is gone.
    pub async fn handle(&self, cmd: &UiCommand) -> anyhow::Result<()> {
        match cmd {
            UiCommand::SelectMarket(m) => {
                let m = m.clone();
                self.selection.send_if_modified(|s| {
                    let changed = s.market.as_ref() != Some(&m);
                    s.market = Some(m);
                    changed
                });
            }
            UiCommand::SetTimeframe(tf) => {
                let tf = *tf;
                self.selection.send_if_modified(|s| std::mem::replace(&mut s.timeframe, tf) != tf);
            }
            UiCommand::SetDepth(d) => {
                let d = *d;
                self.selection.send_if_modified(|s| std::mem::replace(&mut s.depth, d) != d);
            }
            UiCommand::Trade(line) => self.trade_line(line).await?,
            UiCommand::PlaceOrder { request } => self.place(PlaceSpec::Request(request.clone())).await?,
            UiCommand::CancelOrder { uuid, .. } => {
                self.manager.cancel(CancelTarget::Order(uuid.clone())).await?;
            }
            UiCommand::CancelAll { market } => self.manager.cancel_all(market.clone()).await?,
            UiCommand::KillSwitch => self.kill("kill switch").await?,
            UiCommand::AcknowledgeAlerts => {
                let _ = self.store.send(StoreEvent::AlertsAcknowledged).await;
            }
            UiCommand::SaveLayout(name) => tracing::info!(layout = %name, "layout saved for this session"),
            UiCommand::Quit => self.tasks.request_shutdown("quit from the console"),
            UiCommand::SetTheme(_) | UiCommand::SetLayout(_) | UiCommand::SaveFavorites(_) => {}
        }
        Ok(())
    }

    async fn place(&self, spec: PlaceSpec) -> anyhow::Result<()> {
        let selected = self.selection.borrow().market.clone();
        self.manager
            .command(OrderCommand::Place {
                spec,
                origin: Origin::Manual,
                identifier: None,
                selected,
                reply: None,
            })
            .await?;
        Ok(())
    }

    async fn kill(&self, why: &str) -> anyhow::Result<()> {
        self.trading.halt(why);
        self.manager.command(OrderCommand::Kill(why.to_string())).await?;
        self.say(format!("HALTED: {why}; cancelling every open order")).await;
        Ok(())
    }

    async fn trade_line(&self, line: &str) -> anyhow::Result<()> {
        let cmd = match parse_command(line) {
            Ok(c) => c,
            Err(e) => {
                self.say(format!(":{line}: {e}")).await;
                return Ok(());
            }
        };
        match cmd {
            TradeCommand::Order(input) => self.place(PlaceSpec::Input(input)).await?,
            TradeCommand::Cancel(target) => self.manager.cancel(target).await?,
            TradeCommand::Stop { market, level } => {
                self.monitor.add_rule(Rule::new(market, RuleKind::StopLoss(level), None)).await?
            }
            TradeCommand::TakeProfit { market, level } => {
                self.monitor.add_rule(Rule::new(market, RuleKind::TakeProfit(level), None)).await?
            }
            TradeCommand::Trail { market, ratio } => {
                self.monitor
                    .add_rule(Rule::new(market, RuleKind::Trailing { ratio, peak: None }, None))
                    .await?
            }
            TradeCommand::Alert { market, condition } => {
                self.monitor.add_alert(Alert::new(market, condition)).await?
            }
            TradeCommand::Oco { market, stop, take } => {
                self.monitor.add_rule(Rule::new(market, RuleKind::Oco { stop, take }, None)).await?
            }
            TradeCommand::Unarm(target) => self.unarm(target).await?,
            TradeCommand::Kill => self.kill("kill switch (command line)").await?,
            TradeCommand::Resume => self.resume().await,
        }
        Ok(())
    }

    /// Lifts a halt; what remains (REDUCING while the monitor is down) is said.
    async fn resume(&self) {
        if self.trading.state() != TradingState::Halted {
            self.say(format!("trading is {}, not halted", self.trading.state().label())).await;
            return;
        }
        self.trading.resume();
        let now = self.trading.status();
        let why = if now.reason.is_empty() { String::new() } else { format!(" ({})", now.reason) };
        self.say(format!("trading resumed: {}{why}", now.state.label())).await;
    }

    async fn unarm(&self, target: UnarmTarget) -> anyhow::Result<()> {
        let ids: Vec<String> = {
            let view = self.monitor.view();
            let view = view.borrow();
            view.rules
                .iter()
                .filter(|r| match &target {
                    UnarmTarget::Market(m) => &r.market == m,
                    UnarmTarget::Rule(id) => &r.id == id,
                })
                .map(|r| r.id.clone())
                .collect()
        };
        if ids.is_empty() {
            self.say(match target {
                UnarmTarget::Market(m) => format!("no rules on {m}"),
                UnarmTarget::Rule(id) => format!("no rule {id}"),
            })
            .await;
            return Ok(());
        }
        for id in &ids {
            self.monitor.remove_rule(id.clone()).await?;
        }
        tracing::info!(rules = ids.len(), "rules disarmed");
        Ok(())
    }

    async fn say(&self, message: String) {
        tracing::warn!("{message}");
        let _ = self.store.send(StoreEvent::Alert { time: chrono::Utc::now(), message }).await;
    }
}

/// What [`tracked_to_order`] writes in `created_at` for an UNCONFIRMED order (sent, not
/// found yet, still looked up): the Orders pane shows it as the order's state.
pub const UNCONFIRMED_MARK: &str = "unconfirmed";

/// Notices events dropped by the private stream's lossless queues (a consumer that
/// stalled past the feed's `lossless_stall`): each new drop means an order update, fill
/// or balance change was lost, so orders and balances must be resynced by REST at once.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DropWatch {
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
pub fn tracked_to_order(t: &TrackedOrder) -> Order {
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
                            for a in u.assets {
                                let b = balances.entry(a.currency.clone()).or_insert_with(|| Balance {
                                    currency: a.currency.clone(),
                                    balance: Decimal::ZERO,
                                    locked: Decimal::ZERO,
                                    avg_buy_price: Decimal::ZERO,
                                    unit_currency: "KRW".into(),
                                });
                                b.balance = a.balance;
                                b.locked = a.locked;
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
    for b in &balances {
        let quote = if b.unit_currency.is_empty() { "KRW" } else { b.unit_currency.as_str() };
        if b.currency != quote {
            let market = crate::exchange::types::MarketId::new(&format!("{quote}-{}", b.currency));
            monitor.position(market, b.balance + b.locked, b.avg_buy_price).await?;
        }
    }
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

/// The manager's facts into the store and the monitor; the monitor's actions into the
/// manager.
#[allow(clippy::too_many_arguments)]
pub fn spawn_trading_glue(
    tasks: &TaskManager,
    events: mpsc::Receiver<OrderEvent>,
    actions: mpsc::Receiver<MonitorAction>,
    manager: OrderManagerHandle,
    monitor: MonitorHandle,
    notify: NotifySender,
    store: StoreHandle,
    trading: TradingStateHandle,
) {
    spawn_trading_state(tasks, trading.clone(), manager.clone(), store.clone());
    // Exits in flight between the monitor and the manager, seen from both loops.
    let bridge = Arc::new(Mutex::new(ExitBridge::new()));
    // Supervised like every other pump (a panic here would otherwise stop fills reaching
    // the monitor and exits reaching the manager, silently). Each loop's receiver, and the
    // order loop's open-order table, live behind an async lock the run holds: a panic
    // unwinds the run, releases the lock, and the restarted run takes them again with
    // nothing lost.
    let (mon2, st2, b2) = (monitor.clone(), store.clone(), bridge.clone());
    let order_side = Arc::new(tokio::sync::Mutex::new((events, BTreeMap::<String, TrackedOrder>::new())));
    tasks.spawn_supervised("console", "order-events", OnFailure::restart(), move |cancel| {
        let (mon2, st2, b2, notify, trading) =
            (mon2.clone(), st2.clone(), b2.clone(), notify.clone(), trading.clone());
        let order_side = order_side.clone();
        async move {
            let mut guard = order_side.lock().await;
            let (events, open) = &mut *guard;
            loop {
                let ev = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    ev = events.recv() => match ev { Some(ev) => ev, None => return Ok(()) },
                };
                on_order_event(ev, open, &mon2, &notify, &st2, &b2, &trading).await?;
            }
        }
    });
    let actions = Arc::new(tokio::sync::Mutex::new(actions));
    tasks.spawn_supervised("console", "monitor-actions", OnFailure::restart(), move |cancel| {
        let (manager, bridge, actions) = (manager.clone(), bridge.clone(), actions.clone());
        async move {
            let mut actions = actions.lock().await;
            loop {
                let action = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    a = actions.recv() => match a { Some(a) => a, None => return Ok(()) },
                };
                let cmd = lock(&bridge).command(action);
                manager.command(cmd).await?;
            }
        }
    });
    // The Monitor pane's rows.
    tasks.spawn_supervised("console", "monitor-view", OnFailure::restart(), move |cancel| {
        let (store, mut view) = (store.clone(), monitor.view());
        async move {
            loop {
                let rows = rule_rows(&view.borrow_and_update());
                store.send(StoreEvent::RulesUpdated(rows)).await?;
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn rule_rows(v: &MonitorView) -> Vec<RuleRow> {
    v.rules
        .iter()
        .map(|r| RuleRow {
            id: r.id.clone(),
            market: r.market.clone(),
            kind: r.label.clone(),
            trigger: r.trigger.unwrap_or_default(),
            state: format!("{:?}", r.state).to_lowercase(),
        })
        .collect()
}

async fn on_order_event(
    ev: OrderEvent,
    open: &mut BTreeMap<String, TrackedOrder>,
    monitor: &MonitorHandle,
    notify: &NotifySender,
    store: &StoreHandle,
    bridge: &Mutex<ExitBridge>,
    trading: &TradingStateHandle,
) -> anyhow::Result<()> {
    let exits = lock(bridge).on_event(&ev);
    for e in exits {
        monitor.result(e).await?;
    }
    match ev {
        OrderEvent::OrderUpdated(t) => {
            if t.state.is_terminal() {
                open.remove(&t.identifier);
            } else {
                open.insert(t.identifier.clone(), t);
            }
            let orders = open.values().map(tracked_to_order).collect();
            store.send(StoreEvent::OrdersUpdated(orders)).await?;
        }
        OrderEvent::Filled { fill, .. } => {
            notify.notify(NotifyEvent::new(
                NotifyKind::Fill,
                Some(fill.market.clone()),
                format!(
                    "{} {} @ {}",
                    fill.side.map_or("?", Side::label),
                    fill.volume.normalize(),
                    fill.price.normalize()
                ),
            ));
            store.send(StoreEvent::FillApplied(fill)).await?;
        }
        OrderEvent::Rejected { identifier, reason } => {
            tracing::warn!(identifier = identifier.as_deref().unwrap_or("-"), %reason, "order rejected");
            store
                .send(StoreEvent::Alert { time: chrono::Utc::now(), message: format!("rejected: {reason}") })
                .await?;
        }
        OrderEvent::Reconciled { resolved, adopted } => {
            tracing::info!(resolved, adopted, "orders reconciled; trading allowed");
            monitor.reconciled().await?;
        }
        OrderEvent::TradingState { state, reason, .. } => {
            // The manager halts by itself on some exchange errors (a blocked key, 418):
            // that becomes the console's halt, lifted only by `:resume`. Everything else
            // flows the other way (see `spawn_trading_state`).
            if state == TradingState::Halted && trading.state() != TradingState::Halted {
                trading.halt(reason.unwrap_or_else(|| "halted by the order manager".into()));
            }
        }
        OrderEvent::CancelsDone { market } => {
            tracing::info!(market = market.as_ref().map_or("all", |m| m.as_str()), "cancels done");
        }
        OrderEvent::Balances(b) => store.send(StoreEvent::BalancesUpdated(b)).await?,
        OrderEvent::Position(p) => monitor.position(p.market, p.volume, p.avg_cost).await?,
        OrderEvent::Info(s) => tracing::info!("{s}"),
    }
    Ok(())
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
