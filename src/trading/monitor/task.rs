//! The supervised monitor task: its handle, the loop that feeds the core, the effects it
//! performs afterwards (actions, journal, notifications) and the dead-man switch that
//! makes trading REDUCING while it is down.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::alerts::AlertBook;
use super::evaluation::{Core, Effects, InFlight};
use super::ticks::{TickIn, TickSlot};
use super::{
    ExitEvent, MonitorAction, MonitorConfig, MonitorDeps, MonitorError, MonitorInput, MonitorMetrics,
    MonitorView, TickSender, TradingStateHandle,
};
use crate::exchange::types::{MarketId, Price, Qty};
use crate::kernel::TaskManager;
use crate::kernel::sync::lock;
use crate::notify::{NotifyEvent, NotifyKind, NotifySender};
use crate::trading::journal;
use crate::trading::risk::TradingState;
use crate::trading::rules::{Alert, PositionView, Quote, Rule, RuleBook, RuleNotice, RuleState};

/// What the console keeps of the monitor.
#[derive(Debug, Clone)]
pub struct MonitorHandle {
    ticks: TickSender,
    control: mpsc::Sender<MonitorInput>,
    view: watch::Receiver<Arc<MonitorView>>,
    metrics: Arc<MonitorMetrics>,
}

impl MonitorHandle {
    /// The tick input (clone it into the feed). Conflating; never blocks.
    pub fn ticks(&self) -> TickSender {
        self.ticks.clone()
    }

    /// Hands one price; see [`TickSender::send`].
    pub fn tick(&self, market: &MarketId, price: Price, received: Instant) -> bool {
        self.ticks.send(market, price, received)
    }

    /// Sends a control message (waits for room: nothing here may be lost).
    pub async fn send(&self, input: MonitorInput) -> Result<(), MonitorError> {
        self.control.send(input).await.map_err(|_| MonitorError::Closed("control message"))
    }

    /// A position update.
    pub async fn position(&self, market: MarketId, volume: Qty, avg_cost: Price) -> Result<(), MonitorError> {
        self.send(MonitorInput::Position { market, volume, avg_cost }).await
    }

    /// Every coin held, from a whole balance list; see [`MonitorInput::Holdings`].
    pub async fn holdings(&self, held: Vec<(MarketId, Qty, Price)>) -> Result<(), MonitorError> {
        self.send(MonitorInput::Holdings(held)).await
    }

    /// An exit result from the order manager.
    pub async fn result(&self, ev: ExitEvent) -> Result<(), MonitorError> {
        self.send(MonitorInput::Result(ev)).await
    }

    /// Adds a rule (persisted).
    pub async fn add_rule(&self, rule: Rule) -> Result<(), MonitorError> {
        self.send(MonitorInput::AddRule(rule)).await
    }

    /// Removes a rule.
    pub async fn remove_rule(&self, id: impl Into<String>) -> Result<(), MonitorError> {
        self.send(MonitorInput::RemoveRule(id.into())).await
    }

    /// Adds a price alert (persisted).
    pub async fn add_alert(&self, alert: Alert) -> Result<(), MonitorError> {
        self.send(MonitorInput::AddAlert(alert)).await
    }

    /// Removes an alert (and its journal row).
    pub async fn remove_alert(&self, id: impl Into<String>) -> Result<(), MonitorError> {
        self.send(MonitorInput::RemoveAlert(id.into())).await
    }

    /// Reconciliation finished now: prices received from this call on may fire rules.
    pub async fn reconciled(&self) -> Result<(), MonitorError> {
        self.send(MonitorInput::Reconciled { at: Instant::now() }).await
    }

    /// Reconciliation restarted (reconnect): stop firing until [`MonitorHandle::reconciled`].
    pub(crate) async fn not_reconciled(&self) -> Result<(), MonitorError> {
        self.send(MonitorInput::NotReconciled).await
    }

    /// Fault injection: the next evaluation panics (simulator `monitor-panic`, tests).
    pub async fn inject_panic(&self) -> Result<(), MonitorError> {
        self.send(MonitorInput::InjectPanic).await
    }

    /// The Monitor pane's view.
    pub fn view(&self) -> watch::Receiver<Arc<MonitorView>> {
        self.view.clone()
    }

    /// Counters.
    pub fn metrics(&self) -> &MonitorMetrics {
        &self.metrics
    }
}

/// Marks the monitor as dead when its future is dropped without finishing cleanly (panic
/// or error): trading goes REDUCING and an alarm is raised. Disarmed on a clean stop.
struct DeadManSwitch {
    trading: TradingStateHandle,
    notify: NotifySender,
    armed: bool,
}

const MONITOR_CAUSE: &str = "monitor";

/// The REDUCING cause the supervisor sets when the monitor task panics or fails (the
/// console's task-event sink). The monitor lifts it itself once a restarted run has stayed
/// up for [`RECOVERY_GRACE`], not the moment the supervisor starts it again.
pub(crate) const MONITOR_TASK_CAUSE: &str = "monitor-task";

/// How long a restarted monitor must run before trading leaves REDUCING (the default of
/// [`MonitorConfig::recovery_grace`]). A monitor that
/// dies again at once (a rule whose evaluation panics on every tick) keeps trading
/// REDUCING, instead of flapping back to ACTIVE for a moment between deaths, during which
/// a new buy would pass while nothing protects it.
pub(crate) const RECOVERY_GRACE: Duration = Duration::from_secs(5);

impl Drop for DeadManSwitch {
    fn drop(&mut self) {
        if self.armed {
            self.trading.set_reducing(MONITOR_CAUSE, Some("the TP/SL monitor is down; restarting".into()));
            self.notify.notify(NotifyEvent::new(
                NotifyKind::MonitorDown,
                None,
                "the TP/SL monitor task died: positions are NOT protected until it restarts (trading REDUCING)",
            ));
        }
    }
}

struct Shared {
    core: Mutex<Core>,
    control: tokio::sync::Mutex<mpsc::Receiver<MonitorInput>>,
    actions: mpsc::Sender<MonitorAction>,
    slot: Arc<Mutex<TickSlot>>,
    wake: Arc<Notify>,
    view: watch::Sender<Arc<MonitorView>>,
    metrics: Arc<MonitorMetrics>,
    deps: MonitorDeps,
    config: MonitorConfig,
}

/// The trading monitor.
#[derive(Debug)]
pub struct Monitor;

impl Monitor {
    /// Loads rules and alerts from the journal (rules wait for [`MonitorHandle::reconciled`]
    /// and a fresh price) and spawns the supervised monitor task. Returns the handle and
    /// the action channel for the order manager.
    pub fn spawn(
        tasks: &TaskManager,
        config: MonitorConfig,
        deps: MonitorDeps,
    ) -> Result<(MonitorHandle, mpsc::Receiver<MonitorAction>), MonitorError> {
        let mut book = RuleBook::new(config.stale_after);
        let mut alerts = AlertBook::new();
        let mut inflight = HashMap::new();
        if let Some(j) = &deps.journal {
            let j = lock(j);
            for r in j.load_rules().map_err(|e| MonitorError::Journal(e.to_string()))? {
                if r.state == RuleState::Firing {
                    // Its exit's outcome comes from the manager's reconciliation.
                    inflight.insert(
                        r.exit_identifier(),
                        InFlight { rule_id: r.id.clone(), market: r.market.clone(), position_at_fire: None },
                    );
                }
                book.insert(r);
            }
            for a in j.load_alerts().map_err(|e| MonitorError::Journal(e.to_string()))? {
                alerts.insert(a);
            }
        }
        let core = Core::new(book, alerts, inflight, config.exits.clone());
        // Control: bounded, `control_capacity`; Block (senders wait): positions, results
        // and rule changes must never be lost.
        let (ctl_tx, ctl_rx) = mpsc::channel(config.control_capacity.max(1));
        // Actions: bounded, `action_capacity`; Block (the monitor waits): an exit must
        // never be dropped. Ticks conflate meanwhile, so waiting costs no memory.
        let (act_tx, act_rx) = mpsc::channel(config.action_capacity.max(1));
        let metrics = Arc::new(MonitorMetrics::default());
        let slot = Arc::new(Mutex::new(TickSlot::new(config.max_markets.max(1))));
        let wake = Arc::new(Notify::new());
        let initial = core.view(Instant::now(), 0);
        let (view_tx, view_rx) = watch::channel(Arc::new(initial));
        let shared = Arc::new(Shared {
            core: Mutex::new(core),
            control: tokio::sync::Mutex::new(ctl_rx),
            actions: act_tx,
            slot: slot.clone(),
            wake: wake.clone(),
            view: view_tx,
            metrics: metrics.clone(),
            deps,
            config: config.clone(),
        });
        tasks.spawn_supervised("trading", "monitor", config.restart, move |cancel| {
            let shared = shared.clone();
            async move { run(shared, cancel).await }
        });
        let ticks = TickSender { slot, wake, metrics: metrics.clone() };
        Ok((MonitorHandle { ticks, control: ctl_tx, view: view_rx, metrics }, act_rx))
    }
}

async fn run(shared: Arc<Shared>, cancel: CancellationToken) -> anyhow::Result<()> {
    let runs = shared.metrics.runs.fetch_add(1, Ordering::Relaxed) + 1;
    let mut switch = DeadManSwitch {
        trading: shared.deps.trading.clone(),
        notify: shared.deps.notify.clone(),
        armed: true,
    };
    let mut control = shared.control.lock().await;
    // Back: the REDUCING this task's death caused is lifted at once on the first run, and
    // after RECOVERY_GRACE of running on a restart.
    let lift = |shared: &Shared| {
        shared.deps.trading.set_reducing(MONITOR_CAUSE, None);
        shared.deps.trading.set_reducing(MONITOR_TASK_CAUSE, None);
    };
    let mut recovering = None;
    // A restart, or a first run after the task failed before it got here (a panic at the
    // task's start): either way trading is REDUCING because of this task.
    let failed_before = shared.deps.trading.is_reducing_for(MONITOR_CAUSE)
        || shared.deps.trading.is_reducing_for(MONITOR_TASK_CAUSE);
    if runs > 1 || failed_before {
        tracing::warn!(runs, "monitor restarted; trading stays REDUCING until it has run for a while");
        recovering = Some(tokio::time::Instant::now() + shared.config.recovery_grace);
    } else {
        lift(&shared);
    }
    let mut state_rx = shared.deps.trading.subscribe();
    let mut trading = state_rx.borrow_and_update().state;
    let mut stale_timer = tokio::time::interval(shared.config.stale_check_every);
    stale_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    publish_view(&shared, runs);
    watch_markets(&shared);
    let view_every = shared.config.view_every;
    let mut last_publish = Instant::now();
    let mut view_dirty = false;
    let result = loop {
        if recovering.is_some_and(|at| tokio::time::Instant::now() >= at) {
            recovering = None;
            lift(&shared);
            tracing::info!(runs, "monitor running again: the REDUCING its failure caused is lifted");
        }
        let mut fx = Effects::default();
        // Ticks that change nothing but prices refresh the view at most every
        // `view_every`; anything else publishes at once.
        let mut tick_only = false;
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break Ok(()),
            msg = control.recv() => {
                let Some(msg) = msg else { break Ok(()) };
                if matches!(msg, MonitorInput::InjectPanic) {
                    // Simulates a bug in rule evaluation (RELIABILITY case 18).
                    panic!("injected monitor fault");
                }
                // A premium board that fires nothing changes no row: as quiet as a tick
                // (boards come four a second while a premium alert is armed).
                tick_only = matches!(msg, MonitorInput::Premium(_));
                take_ticks(&shared, trading, &mut fx);
                on_control(&shared, msg, trading, &mut fx);
            }
            changed = state_rx.changed() => {
                if changed.is_err() { break Ok(()) }
                let st = state_rx.borrow_and_update().clone();
                take_ticks(&shared, trading, &mut fx);
                let was = trading;
                trading = st.state;
                let mut core = lock(&shared.core);
                if st.state == TradingState::Halted && was != TradingState::Halted {
                    let n = core.book.active_count();
                    let text = if n > 0 {
                        format!("{}; protection degraded: {n} TP/SL rules cannot send exits while HALTED", st.reason)
                    } else {
                        st.reason.clone()
                    };
                    fx.notes.push(NotifyEvent::new(NotifyKind::TradingHalted, None, text));
                } else if was == TradingState::Halted && st.state != TradingState::Halted {
                    // Rules that triggered while halted act on the last (fresh) price now.
                    let held: Vec<String> = core.held.drain().collect();
                    for id in held {
                        if let Some(mut r) = core.book.get(&id).cloned() {
                            r.note = None;
                            core.book.insert(r);
                        }
                    }
                    let markets: Vec<MarketId> = core.quotes.keys().cloned().collect();
                    let now = Instant::now();
                    for m in markets {
                        core.reevaluate(&m, now, trading, &mut fx);
                    }
                }
            }
            _ = shared.wake.notified() => {
                tick_only = true;
                take_ticks(&shared, trading, &mut fx);
            }
            _ = stale_timer.tick() => {
                let now = Instant::now();
                let mut core = lock(&shared.core);
                let notices = core.book.check_stale(now);
                let mut by_market: Vec<(MarketId, RuleNotice)> = Vec::new();
                for n in notices {
                    if let RuleNotice::Stale { rule_id } = &n
                        && let Some(r) = core.book.get(rule_id)
                    {
                        fx.save_rules.push(r.clone());
                        by_market.push((r.market.clone(), n));
                    }
                }
                for (m, n) in by_market {
                    core.notices(&m, vec![n], now, &mut fx);
                }
                core.deferred_stale_alarms(now, &mut fx);
            }
            _ = tokio::time::sleep_until((last_publish + view_every).into()), if view_dirty => {}
        }
        if !tick_only {
            // Rules or alerts may have come or gone: wake on exactly their markets.
            watch_markets(&shared);
        }
        let quiet = tick_only && fx.is_empty();
        if let Err(e) = apply(&shared, fx, &cancel).await {
            break Err(e);
        }
        if quiet && last_publish.elapsed() < view_every {
            view_dirty = true;
        } else {
            publish_view(&shared, runs);
            last_publish = Instant::now();
            view_dirty = false;
        }
    };
    if result.is_ok() {
        switch.armed = false;
    }
    result
}

/// Makes the ticks of the markets with a rule or a price alert wake the monitor.
fn watch_markets(shared: &Shared) {
    let watched: HashSet<MarketId> = {
        let core = lock(&shared.core);
        core.book
            .rules()
            .map(|r| r.market.clone())
            .chain(core.alerts.alerts().map(|a| a.market.clone()))
            .collect()
    };
    lock(&shared.slot).watched = watched;
}

/// Evaluates the latest tick of every market that has one waiting.
fn take_ticks(shared: &Shared, trading: TradingState, fx: &mut Effects) {
    let batch: Vec<(MarketId, TickIn)> = lock(&shared.slot).latest.drain().collect();
    if batch.is_empty() {
        return;
    }
    let now = Instant::now();
    let mut core = lock(&shared.core);
    for (market, t) in batch {
        shared.metrics.ticks_evaluated.fetch_add(1, Ordering::Relaxed);
        core.evaluate(&market, Quote { price: t.price, received: t.received }, now, trading, fx);
    }
}

fn on_control(shared: &Shared, msg: MonitorInput, trading: TradingState, fx: &mut Effects) {
    let now = Instant::now();
    let mut core = lock(&shared.core);
    match msg {
        MonitorInput::Position { market, volume, avg_cost } => {
            core.positions.insert(market, PositionView { volume, avg_cost });
        }
        MonitorInput::Holdings(held) => core.set_holdings(held),
        MonitorInput::Result(ev) => core.on_result(ev, now, trading, fx),
        MonitorInput::AddRule(rule) => {
            let market = rule.market.clone();
            fx.save_rules.push(rule.clone());
            core.book.insert(rule);
            core.reevaluate(&market, now, trading, fx);
        }
        MonitorInput::RemoveRule(id) => {
            if core.book.remove(&id).is_some() {
                fx.delete_rules.push(id);
            }
        }
        MonitorInput::AddAlert(alert) => {
            fx.save_alerts.push(alert.clone());
            core.alerts.insert(alert);
        }
        MonitorInput::RemoveAlert(id) => {
            if core.alerts.remove(&id).is_some() {
                fx.delete_alerts.push(id);
            }
        }
        MonitorInput::IndicatorHit { id, detail } => {
            if let Some(a) = core.alerts.fire_indicator(&id) {
                fx.notes.push(
                    NotifyEvent::new(
                        NotifyKind::PriceAlert,
                        Some(a.market.clone()),
                        format!("{} ({detail})", super::alerts::describe_alert(&a)),
                    )
                    .with_id(a.id.clone()),
                );
                fx.save_alerts.push(a);
            }
        }
        MonitorInput::Premium(board) => {
            for (a, premium) in core.alerts.on_premium(&board) {
                fx.notes.push(
                    NotifyEvent::new(
                        NotifyKind::PriceAlert,
                        Some(a.market.clone()),
                        format!(
                            "{} (now {} {})",
                            super::alerts::describe_alert(&a),
                            super::premium_alerts::shown(premium, &a),
                            super::premium_alerts::against(&board, &a)
                        ),
                    )
                    .with_id(a.id.clone()),
                );
                fx.save_alerts.push(a);
            }
        }
        MonitorInput::Reconciled { at } => {
            core.reconciled = true;
            core.book.set_ready(at);
            fx.audit.push((None, "monitor_ready", format!("rules={}", core.book.active_count())));
            // Prices that arrived after `at` but were evaluated before this message.
            let markets: Vec<MarketId> = core.quotes.keys().cloned().collect();
            for m in markets {
                core.reevaluate(&m, now, trading, fx);
            }
        }
        MonitorInput::NotReconciled => {
            core.reconciled = false;
            core.book.set_not_ready();
        }
        MonitorInput::InjectPanic => {}
    }
    core.sync_position_gone(fx);
}

/// Sends actions (waiting for room), then persists and notifies. Exits go first: the
/// deterministic identifier makes a crash between sending and persisting harmless (a
/// re-send hits "duplicate identifier", which the manager treats as "exists").
async fn apply(shared: &Shared, fx: Effects, cancel: &CancellationToken) -> anyhow::Result<()> {
    for a in fx.actions {
        if matches!(a, MonitorAction::PlaceExit { .. }) {
            shared.metrics.exits_sent.fetch_add(1, Ordering::Relaxed);
        }
        tokio::select! {
            biased;
            r = shared.actions.send(a) => {
                if r.is_err() {
                    anyhow::bail!("the order manager's action channel is closed");
                }
            }
            _ = cancel.cancelled() => return Ok(()),
        }
    }
    if let Some(j) = &shared.deps.journal
        && !(fx.save_rules.is_empty()
            && fx.delete_rules.is_empty()
            && fx.save_alerts.is_empty()
            && fx.delete_alerts.is_empty()
            && fx.audit.is_empty())
    {
        // Synchronous SQLite commits (WAL, each waits for its fsync); no await while
        // holding the lock. The whole batch, the wait for the lock (the order manager may
        // be committing) included, runs where blocking is allowed.
        journal::blocking(|| {
            let j = lock(j);
            for r in &fx.save_rules {
                if let Err(e) = j.save_rule(r) {
                    tracing::error!(rule = %r.id, error = %e, "cannot persist rule");
                }
            }
            for id in &fx.delete_rules {
                if let Err(e) = j.delete_rule(id) {
                    tracing::error!(rule = %id, error = %e, "cannot delete rule");
                }
            }
            for a in &fx.save_alerts {
                if let Err(e) = j.save_alert(a) {
                    tracing::error!(alert = %a.id, error = %e, "cannot persist alert");
                }
            }
            for id in &fx.delete_alerts {
                if let Err(e) = j.delete_alert(id) {
                    tracing::error!(alert = %id, error = %e, "cannot delete alert");
                }
            }
            for (id, kind, detail) in &fx.audit {
                if let Err(e) = j.event(id.as_deref(), kind, detail) {
                    tracing::error!(kind, error = %e, "cannot write monitor audit event");
                }
            }
        });
    }
    for n in fx.notes {
        shared.deps.notify.notify(n);
    }
    Ok(())
}

fn publish_view(shared: &Shared, runs: u64) {
    let view = lock(&shared.core).view(Instant::now(), runs);
    shared.view.send_replace(Arc::new(view));
}
