//! The trading monitor, the trading state / kill switch and the notifier, end to end
//! (RELIABILITY cases 14, 15, 17, 18, 19, 20 and the webhook path).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{DEADLINE, LogCapture, poll, until, wait_view};
use hoga::exchange::types::{MarketId, OrderType, Side};
use hoga::kernel::{OnFailure, TaskManager};
use hoga::notify::{
    NotifierConfig, NotifyEvent, NotifyKind, NotifySender, Terminal, WebhookConfig, spawn_notifier,
};
use hoga::trading::journal::{Journal, JournalOptions};
use hoga::trading::monitor::{
    ExitEvent, Monitor, MonitorAction, MonitorConfig, MonitorDeps, MonitorHandle, SharedJournal,
    TradingStateHandle, parse_alert,
};
use hoga::trading::risk::TradingState;
use hoga::trading::rules::{Level, Rule, RuleKind, RuleState};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use tokio::sync::mpsc;

fn btc() -> MarketId {
    MarketId::new("KRW-BTC")
}

struct Rig {
    tasks: TaskManager,
    monitor: MonitorHandle,
    actions: mpsc::Receiver<MonitorAction>,
    notes: mpsc::Receiver<NotifyEvent>,
    trading: TradingStateHandle,
}

fn rig_with(config: MonitorConfig, journal: Option<SharedJournal>) -> Rig {
    let tasks = TaskManager::new();
    let (notify, notes) = NotifySender::channel(256);
    let trading = TradingStateHandle::new();
    let (monitor, actions) =
        Monitor::spawn(&tasks, config, MonitorDeps { journal, notify, trading: trading.clone() }).unwrap();
    Rig { tasks, monitor, actions, notes, trading }
}

fn rig() -> Rig {
    rig_with(MonitorConfig::default(), None)
}

/// Sends one tick received now and waits until the monitor has evaluated it.
async fn tick(m: &MonitorHandle, price: Decimal) {
    tick_at(m, price, Instant::now()).await;
}

async fn tick_at(m: &MonitorHandle, price: Decimal, received: Instant) {
    let before = m.view().borrow().ticks;
    assert!(m.tick(&btc(), price, received));
    wait_view(m, "tick evaluated", |v| v.ticks > before).await;
}

async fn next_action(rx: &mut mpsc::Receiver<MonitorAction>) -> MonitorAction {
    tokio::time::timeout(DEADLINE, rx.recv()).await.expect("timed out waiting for an action").unwrap()
}

/// Actions are sent before the view is published, so after a `wait_view` barrier an empty
/// channel means "none was sent".
fn assert_no_action(rx: &mut mpsc::Receiver<MonitorAction>) {
    if let Ok(a) = rx.try_recv() {
        panic!("unexpected action {a:?}");
    }
}

async fn next_note(rx: &mut mpsc::Receiver<NotifyEvent>, kind: NotifyKind) -> NotifyEvent {
    let fut = async {
        loop {
            let n = rx.recv().await.unwrap();
            if n.kind == kind {
                return n;
            }
        }
    };
    tokio::time::timeout(DEADLINE, fut).await.unwrap_or_else(|_| panic!("no {kind:?} notification"))
}

fn stop_rule(level: Decimal) -> Rule {
    Rule::new(btc(), RuleKind::StopLoss(Level::Price(level)), None)
}

/// A reconciled monitor protecting 0.1 BTC (average cost 100M) with `rule`.
async fn armed(rule: Rule) -> (Rig, String) {
    let r = rig();
    let id = rule.id.clone();
    r.monitor.position(btc(), dec!(0.1), dec!(100000000)).await.unwrap();
    r.monitor.add_rule(rule).await.unwrap();
    r.monitor.reconciled().await.unwrap();
    wait_view(&r.monitor, "rule listed and reconciled", |v| v.reconciled && v.rule(&id).is_some()).await;
    (r, id)
}

fn exit_fields(a: &MonitorAction) -> (String, Decimal) {
    match a {
        MonitorAction::PlaceExit { identifier, market, side, volume, kind, .. } => {
            assert_eq!(market, &btc());
            assert_eq!(*side, Side::Ask);
            assert_eq!(*kind, OrderType::Market);
            (identifier.clone(), *volume)
        }
        other => panic!("expected PlaceExit, got {other:?}"),
    }
}

#[tokio::test]
async fn oscillating_price_around_a_stop_sends_exactly_one_exit() {
    let (mut r, id) = armed(stop_rule(dec!(97000000))).await;
    tick(&r.monitor, dec!(98000000)).await;
    assert_no_action(&mut r.actions);
    tick(&r.monitor, dec!(96900000)).await;
    let (ident, volume) = exit_fields(&next_action(&mut r.actions).await);
    assert_eq!(volume, dec!(0.1));
    assert_eq!(ident, hoga::trading::rules::exit_identifier(&id, 0));
    // Oscillation and re-triggers while the exit is in flight: nothing more.
    for p in [dec!(97100000), dec!(96000000), dec!(98000000), dec!(95000000), dec!(96999999)] {
        tick(&r.monitor, p).await;
    }
    assert_no_action(&mut r.actions);
    let v =
        wait_view(&r.monitor, "firing", |v| v.rule(&id).is_some_and(|x| x.state == RuleState::Firing)).await;
    let row = v.rule(&id).unwrap();
    assert_eq!(row.trigger, Some(dec!(97000000)));
    assert_eq!(row.last, Some(dec!(96999999)));
    // Past the stop: the move left to the trigger is up (the price is below it).
    assert!(row.distance.unwrap() > Decimal::ZERO);
    // The exit fills: the rule is done and never fires again.
    r.monitor.result(ExitEvent::ExitAccepted { identifier: ident.clone() }).await.unwrap();
    r.monitor
        .result(ExitEvent::ExitFilled { identifier: ident, filled: dec!(0.1), partial: false })
        .await
        .unwrap();
    wait_view(&r.monitor, "done", |v| v.rule(&id).is_some_and(|x| x.state == RuleState::Done)).await;
    tick(&r.monitor, dec!(90000000)).await;
    assert_no_action(&mut r.actions);
    assert_eq!(r.monitor.metrics().exits_sent.load(Ordering::Relaxed), 1);
    r.tasks.cancel_all();
}

#[tokio::test]
async fn stale_feed_never_fires_shows_stale_and_alerts() {
    let cfg = MonitorConfig {
        stale_after: Duration::from_millis(300),
        stale_check_every: Duration::from_millis(50),
        ..MonitorConfig::default()
    };
    let mut r = rig_with(cfg, None);
    let rule = stop_rule(dec!(97000000));
    let id = rule.id.clone();
    r.monitor.position(btc(), dec!(0.1), dec!(100000000)).await.unwrap();
    r.monitor.add_rule(rule).await.unwrap();
    r.monitor.reconciled().await.unwrap();
    tick(&r.monitor, dec!(98000000)).await;
    wait_view(&r.monitor, "armed", |v| v.rule(&id).is_some_and(|x| x.state == RuleState::Armed)).await;
    // The feed goes silent: the timer marks the rule STALE and raises an alert.
    let v =
        wait_view(&r.monitor, "stale", |v| v.rule(&id).is_some_and(|x| x.state == RuleState::Stale)).await;
    assert!(v.rule(&id).unwrap().age.unwrap() > Duration::from_millis(300));
    let note = next_note(&mut r.notes, NotifyKind::RuleStale).await;
    assert_eq!(note.market, Some(btc()));
    assert!(note.text.contains("NOT protected"));
    // A price below the stop that is itself old (delayed, half-open socket): no fire.
    let old = Instant::now().checked_sub(Duration::from_secs(2)).unwrap();
    tick_at(&r.monitor, dec!(90000000), old).await;
    assert_no_action(&mut r.actions);
    assert_eq!(r.monitor.view().borrow().rule(&id).unwrap().state, RuleState::Stale);
    // Fresh data again: protection resumes and fires once.
    tick(&r.monitor, dec!(90000000)).await;
    exit_fields(&next_action(&mut r.actions).await);
    tick(&r.monitor, dec!(89000000)).await;
    assert_no_action(&mut r.actions);
    r.tasks.cancel_all();
}

#[tokio::test]
async fn restart_after_crossing_fires_once_only_after_reconciliation_and_a_fresh_tick() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let rule = Rule::new(btc(), RuleKind::StopLoss(Level::PctFromAvg(dec!(-0.03))), None);
    let id = rule.id.clone();
    {
        // First run: the rule is armed and persisted, then hoga stops.
        let journal: SharedJournal =
            Arc::new(Mutex::new(Journal::open(&path, &JournalOptions::default()).unwrap()));
        let r = rig_with(MonitorConfig::default(), Some(journal.clone()));
        r.monitor.add_rule(rule).await.unwrap();
        wait_view(&r.monitor, "rule listed", |v| v.rule(&id).is_some()).await;
        r.tasks.cancel_all();
        assert!(r.tasks.wait_all(DEADLINE).await);
        assert_eq!(journal.lock().unwrap().load_rules().unwrap().len(), 1);
    }
    // While hoga was down the price fell through the stop. Second run.
    let journal: SharedJournal =
        Arc::new(Mutex::new(Journal::open(&path, &JournalOptions::default()).unwrap()));
    let mut r = rig_with(MonitorConfig::default(), Some(journal.clone()));
    wait_view(&r.monitor, "rule re-loaded", |v| v.rule(&id).is_some() && !v.reconciled).await;
    r.monitor.position(btc(), dec!(0.1), dec!(100000000)).await.unwrap();
    // Ticks before reconciliation has finished never fire.
    tick(&r.monitor, dec!(90000000)).await;
    tick(&r.monitor, dec!(89000000)).await;
    assert_no_action(&mut r.actions);
    // Reconciliation done; the price seen before it is not fresh enough to act on.
    r.monitor.reconciled().await.unwrap();
    wait_view(&r.monitor, "reconciled", |v| v.reconciled).await;
    assert_no_action(&mut r.actions);
    // The first fresh tick fires, once.
    tick(&r.monitor, dec!(89500000)).await;
    let (ident, volume) = exit_fields(&next_action(&mut r.actions).await);
    assert_eq!(volume, dec!(0.1));
    assert_eq!(ident, hoga::trading::rules::exit_identifier(&id, 0));
    tick(&r.monitor, dec!(89000000)).await;
    assert_no_action(&mut r.actions);
    // Audited and persisted as firing.
    let j = journal.lock().unwrap();
    let events = j.events_for(&ident).unwrap();
    assert!(events.iter().any(|(k, d)| k == "rule_fired" && d.contains("stop_loss")), "{events:?}");
    let saved = j.load_rules().unwrap();
    assert_eq!(saved[0].state, RuleState::Firing);
    drop(j);
    r.tasks.cancel_all();
}

#[tokio::test]
async fn partial_fill_of_the_exit_sends_the_remainder_under_a_new_identifier() {
    let (mut r, id) = armed(stop_rule(dec!(97000000))).await;
    tick(&r.monitor, dec!(96000000)).await;
    let (first, v1) = exit_fields(&next_action(&mut r.actions).await);
    assert_eq!(v1, dec!(0.1));
    r.monitor
        .result(ExitEvent::ExitFilled { identifier: first.clone(), filled: dec!(0.04), partial: true })
        .await
        .unwrap();
    // Re-evaluated at once on the last (fresh) price: the remainder goes out.
    let (second, v2) = exit_fields(&next_action(&mut r.actions).await);
    assert_eq!(v2, dec!(0.06));
    assert_ne!(first, second);
    assert_eq!(second, hoga::trading::rules::exit_identifier(&id, 1));
    r.monitor
        .result(ExitEvent::ExitFilled { identifier: second, filled: dec!(0.06), partial: false })
        .await
        .unwrap();
    wait_view(&r.monitor, "done", |v| v.rule(&id).is_some_and(|x| x.state == RuleState::Done)).await;
    tick(&r.monitor, dec!(95000000)).await;
    assert_no_action(&mut r.actions);
    r.tasks.cancel_all();
}

#[tokio::test]
async fn dust_left_by_a_partial_exit_is_reported_not_looped_on() {
    let (mut r, id) = armed(stop_rule(dec!(97000000))).await;
    tick(&r.monitor, dec!(96000000)).await;
    let (ident, _) = exit_fields(&next_action(&mut r.actions).await);
    // 0.00005 BTC × 96M = 4,800 KRW < 5,000 KRW minimum.
    r.monitor
        .result(ExitEvent::ExitFilled { identifier: ident, filled: dec!(0.09995), partial: true })
        .await
        .unwrap();
    let v = wait_view(&r.monitor, "done", |v| v.rule(&id).is_some_and(|x| x.state == RuleState::Done)).await;
    assert!(v.rule(&id).unwrap().note.as_deref().unwrap_or_default().contains("dust"));
    let mut saw_dust = false;
    while let Ok(n) = r.notes.try_recv() {
        saw_dust |= n.kind == NotifyKind::RuleFired && n.text.contains("dust");
    }
    assert!(saw_dust);
    tick(&r.monitor, dec!(95000000)).await;
    tick(&r.monitor, dec!(94000000)).await;
    assert_no_action(&mut r.actions);
    r.tasks.cancel_all();
}

#[tokio::test]
async fn locked_funds_rejection_cancels_open_orders_then_sends_the_exit_once() {
    let (mut r, id) = armed(stop_rule(dec!(97000000))).await;
    tick(&r.monitor, dec!(96000000)).await;
    let (first, _) = exit_fields(&next_action(&mut r.actions).await);
    r.monitor
        .result(ExitEvent::ExitRejected {
            identifier: first.clone(),
            reason: "insufficient_funds_ask".into(),
            locked_funds: true,
        })
        .await
        .unwrap();
    match next_action(&mut r.actions).await {
        MonitorAction::CancelOpenOrders { market, rule_id } => {
            assert_eq!(market, btc());
            assert_eq!(rule_id, id);
        }
        other => panic!("expected CancelOpenOrders, got {other:?}"),
    }
    // Still triggered, but nothing is re-sent before the cancels are confirmed.
    tick(&r.monitor, dec!(95000000)).await;
    assert_no_action(&mut r.actions);
    r.monitor.result(ExitEvent::OpenOrdersCancelled { market: btc() }).await.unwrap();
    let (second, volume) = exit_fields(&next_action(&mut r.actions).await);
    assert_ne!(first, second);
    assert_eq!(volume, dec!(0.1));
    // A second locked-funds rejection is not looped on: the rule fails loudly.
    r.monitor
        .result(ExitEvent::ExitRejected {
            identifier: second,
            reason: "insufficient_funds_ask".into(),
            locked_funds: true,
        })
        .await
        .unwrap();
    wait_view(&r.monitor, "failed", |v| v.rule(&id).is_some_and(|x| x.state == RuleState::Failed)).await;
    let n = next_note(&mut r.notes, NotifyKind::RuleFailed).await;
    assert!(n.text.contains("NOT closed"));
    tick(&r.monitor, dec!(94000000)).await;
    assert_no_action(&mut r.actions);
    r.tasks.cancel_all();
}

#[tokio::test]
async fn monitor_panic_restarts_raises_alarm_and_reduces_until_back() {
    let cfg = MonitorConfig {
        restart: OnFailure::Restart { initial: Duration::from_millis(20), max: Duration::from_millis(200) },
        recovery_grace: Duration::from_secs(3),
        ..MonitorConfig::default()
    };
    let mut r = rig_with(cfg, None);
    let rule = stop_rule(dec!(97000000));
    let id = rule.id.clone();
    r.monitor.position(btc(), dec!(0.1), dec!(100000000)).await.unwrap();
    r.monitor.add_rule(rule).await.unwrap();
    r.monitor.reconciled().await.unwrap();
    wait_view(&r.monitor, "first run", |v| v.runs == 1 && v.reconciled).await;
    assert_eq!(r.trading.state(), TradingState::Active);

    r.monitor.inject_panic().await.unwrap();
    let alarm = next_note(&mut r.notes, NotifyKind::MonitorDown).await;
    assert!(alarm.text.contains("NOT protected"));
    wait_view(&r.monitor, "restarted", |v| v.runs == 2).await;
    // Running again is not yet trusted: REDUCING until the run has stayed up for its grace
    // (a monitor that died again at once would otherwise flap ACTIVE between deaths).
    assert_eq!(r.trading.state(), TradingState::Reducing);
    let active = async || (r.trading.state() == TradingState::Active).then_some(());
    poll("trading out of REDUCING", Duration::from_secs(30), Duration::from_millis(50), active).await;
    let states: Vec<TradingState> = r.trading.history().into_iter().map(|s| s.state).collect();
    assert_eq!(states, vec![TradingState::Reducing, TradingState::Active]);
    let row = r.tasks.table().into_iter().find(|t| t.name == "monitor").unwrap();
    assert_eq!(row.restarts, 1);
    assert!(row.last_error.unwrap().contains("injected monitor fault"));

    // The rules survived the restart and still protect.
    tick(&r.monitor, dec!(96000000)).await;
    let (ident, _) = exit_fields(&next_action(&mut r.actions).await);
    assert_eq!(ident, hoga::trading::rules::exit_identifier(&id, 0));
    r.tasks.cancel_all();
}

/// RELIABILITY case 18, a monitor that dies again right after its restart (a rule whose
/// evaluation panics on every tick): trading stays REDUCING the whole time. It used to
/// flap back to ACTIVE at every restart, and a buy placed in that moment passed while
/// nothing protected it.
#[tokio::test]
async fn a_monitor_that_dies_again_right_after_a_restart_keeps_trading_reducing() {
    let cfg = MonitorConfig {
        restart: OnFailure::Restart { initial: Duration::from_millis(20), max: Duration::from_millis(200) },
        recovery_grace: Duration::from_secs(3),
        ..MonitorConfig::default()
    };
    let mut r = rig_with(cfg, None);
    r.monitor.reconciled().await.unwrap();
    wait_view(&r.monitor, "first run", |v| v.runs == 1 && v.reconciled).await;
    r.monitor.inject_panic().await.unwrap();
    next_note(&mut r.notes, NotifyKind::MonitorDown).await;
    wait_view(&r.monitor, "restarted", |v| v.runs == 2).await;
    r.monitor.inject_panic().await.unwrap();
    next_note(&mut r.notes, NotifyKind::MonitorDown).await;
    wait_view(&r.monitor, "restarted again", |v| v.runs == 3).await;
    let states: Vec<TradingState> = r.trading.history().into_iter().map(|s| s.state).collect();
    assert_eq!(states, vec![TradingState::Reducing], "never ACTIVE between two deaths");
    assert!(!r.trading.allows_new_order(false), "no new buy while the monitor is not trusted");
    r.tasks.cancel_all();
}

#[tokio::test]
async fn kill_switch_halts_new_orders_and_exits_but_resume_restores() {
    let (mut r, id) = armed(stop_rule(dec!(97000000))).await;
    r.trading.halt("kill switch");
    assert_eq!(r.trading.state(), TradingState::Halted);
    assert!(!r.trading.allows_new_order(false));
    assert!(!r.trading.allows_new_order(true));
    let n = next_note(&mut r.notes, NotifyKind::TradingHalted).await;
    assert!(n.text.starts_with("kill switch"), "{}", n.text);
    assert!(n.text.contains("protection degraded: 1 TP/SL rules"), "{}", n.text);
    // A trigger while HALTED sends nothing and says so once.
    tick(&r.monitor, dec!(96000000)).await;
    tick(&r.monitor, dec!(95000000)).await;
    assert_no_action(&mut r.actions);
    let v = r.monitor.view().borrow().clone();
    assert_eq!(v.rule(&id).unwrap().state, RuleState::Armed);
    assert!(v.rule(&id).unwrap().note.as_deref().unwrap().contains("HALTED"));
    let held = next_note(&mut r.notes, NotifyKind::RuleFailed).await;
    assert!(held.text.contains("HALTED"));
    assert!(r.notes.try_recv().is_err(), "held notice must come once");
    // A monitor restart while halted must not lift the halt.
    r.trading.set_reducing("monitor", None);
    assert_eq!(r.trading.state(), TradingState::Halted);
    r.trading.resume();
    assert_eq!(r.trading.state(), TradingState::Active);
    // On resume the held rule acts on the last fresh price at once, without a new tick.
    exit_fields(&next_action(&mut r.actions).await);
    tick(&r.monitor, dec!(94000000)).await;
    assert_no_action(&mut r.actions);
    r.tasks.cancel_all();
}

#[tokio::test]
async fn trailing_stop_and_oco_from_average_cost_fire_once() {
    let trail = Rule::new(btc(), RuleKind::Trailing { ratio: dec!(0.02), peak: None }, None);
    let (mut r, tid) = armed(trail).await;
    for p in [dec!(100000000), dec!(110000000), dec!(108000000)] {
        tick(&r.monitor, p).await;
    }
    assert_no_action(&mut r.actions);
    let v = r.monitor.view().borrow().clone();
    assert_eq!(v.rule(&tid).unwrap().trigger, Some(dec!(107800000)));
    assert_eq!(v.rule(&tid).unwrap().label, "trail 2%");
    tick(&r.monitor, dec!(107700000)).await;
    exit_fields(&next_action(&mut r.actions).await);
    tick(&r.monitor, dec!(100000000)).await;
    assert_no_action(&mut r.actions);
    r.tasks.cancel_all();

    // OCO −3 % / +5 % from the average cost (100M): the take side fires, the stop is gone.
    let oco = Rule::new(
        btc(),
        RuleKind::Oco { stop: Level::PctFromAvg(dec!(-0.03)), take: Level::PctFromAvg(dec!(0.05)) },
        None,
    );
    let (mut r, oid) = armed(oco).await;
    tick(&r.monitor, dec!(104000000)).await;
    assert_no_action(&mut r.actions);
    tick(&r.monitor, dec!(105000000)).await;
    match next_action(&mut r.actions).await {
        MonitorAction::PlaceExit { reason, identifier, .. } => {
            assert_eq!(reason, "oco_take");
            r.monitor
                .result(ExitEvent::ExitFilled { identifier, filled: dec!(0.1), partial: false })
                .await
                .unwrap();
        }
        other => panic!("expected PlaceExit, got {other:?}"),
    }
    wait_view(&r.monitor, "done", |v| v.rule(&oid).is_some_and(|x| x.state == RuleState::Done)).await;
    tick(&r.monitor, dec!(96000000)).await;
    assert_no_action(&mut r.actions);
    r.tasks.cancel_all();
}

#[tokio::test]
async fn trailing_peak_is_persisted_for_a_restart() {
    let journal: SharedJournal = Arc::new(Mutex::new(Journal::in_memory().unwrap()));
    let r = rig_with(MonitorConfig::default(), Some(journal.clone()));
    let rule = Rule::new(btc(), RuleKind::Trailing { ratio: dec!(0.02), peak: None }, None);
    let id = rule.id.clone();
    r.monitor.position(btc(), dec!(0.1), dec!(100000000)).await.unwrap();
    r.monitor.add_rule(rule).await.unwrap();
    r.monitor.reconciled().await.unwrap();
    tick(&r.monitor, dec!(100000000)).await;
    let saved = journal.lock().unwrap().load_rules().unwrap();
    let kind = &saved.iter().find(|x| x.id == id).unwrap().kind;
    assert_eq!(kind, &RuleKind::Trailing { ratio: dec!(0.02), peak: Some(dec!(100000000)) });
    r.tasks.cancel_all();
}

#[tokio::test]
async fn rate_limited_exit_is_rearmed_under_the_next_identifier() {
    let (mut r, id) = armed(stop_rule(dec!(97000000))).await;
    tick(&r.monitor, dec!(96000000)).await;
    let (first, _) = exit_fields(&next_action(&mut r.actions).await);
    r.monitor
        .result(ExitEvent::ExitRejected {
            identifier: first.clone(),
            reason: "rate_limited".into(),
            locked_funds: false,
        })
        .await
        .unwrap();
    let (second, _) = exit_fields(&next_action(&mut r.actions).await);
    assert_eq!(second, hoga::trading::rules::exit_identifier(&id, 1));
    // A definitive rejection fails the rule and says so.
    r.monitor
        .result(ExitEvent::ExitRejected {
            identifier: second,
            reason: "under_min_total_ask".into(),
            locked_funds: false,
        })
        .await
        .unwrap();
    wait_view(&r.monitor, "failed", |v| v.rule(&id).is_some_and(|x| x.state == RuleState::Failed)).await;
    next_note(&mut r.notes, NotifyKind::RuleFailed).await;
    tick(&r.monitor, dec!(95000000)).await;
    assert_no_action(&mut r.actions);
    r.tasks.cancel_all();
}

/// Records bell and title calls.
#[derive(Clone, Default)]
struct RecordingTerminal(Arc<Mutex<Vec<String>>>);

impl Terminal for RecordingTerminal {
    fn bell(&mut self) {
        self.0.lock().unwrap().push("BEL".into());
    }
    fn set_title(&mut self, title: &str) {
        self.0.lock().unwrap().push(format!("TITLE {title}"));
    }
}

#[tokio::test]
async fn webhook_receives_each_alert_once_retried_through_a_failure() {
    use axum::{Json, Router, extract::State, http::StatusCode, routing::post};

    #[derive(Clone, Default)]
    struct Receiver {
        requests: Arc<AtomicU32>,
        accepted: Arc<Mutex<Vec<serde_json::Value>>>,
    }
    async fn hook(State(rx): State<Receiver>, Json(body): Json<serde_json::Value>) -> StatusCode {
        // The very first request fails: the notifier must retry it.
        if rx.requests.fetch_add(1, Ordering::SeqCst) == 0 {
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
        rx.accepted.lock().unwrap().push(body);
        StatusCode::OK
    }
    let receiver = Receiver::default();
    let app = Router::new().route("/hook/SECRET", post(hook)).with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tasks = TaskManager::new();
    tasks.spawn("test", "webhook receiver", move |cancel| async move {
        axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned()).await?;
        Ok(())
    });

    let mut hook_cfg = WebhookConfig::new(&format!("http://{addr}/hook/SECRET")).unwrap();
    hook_cfg.initial_backoff = Duration::from_millis(20);
    assert_eq!(hook_cfg.host(), "127.0.0.1");
    let term = RecordingTerminal::default();
    let notifier = spawn_notifier(
        &tasks,
        NotifierConfig { webhook: Some(hook_cfg), ..NotifierConfig::default() },
        term.clone(),
    )
    .unwrap();

    let journal: SharedJournal = Arc::new(Mutex::new(Journal::in_memory().unwrap()));
    let trading = TradingStateHandle::new();
    let (monitor, _actions) = Monitor::spawn(
        &tasks,
        MonitorConfig::default(),
        MonitorDeps { journal: Some(journal.clone()), notify: notifier.sender(), trading },
    )
    .unwrap();
    let above = parse_alert(":alert KRW-BTC > 100000000").unwrap();
    let below = parse_alert("alert KRW-BTC < 90000000").unwrap();
    monitor.add_alert(above.clone()).await.unwrap();
    monitor.add_alert(below.clone()).await.unwrap();
    wait_view(&monitor, "alerts listed", |v| v.alerts.len() == 2).await;
    for p in
        [dec!(95000000), dec!(101000000), dec!(102000000), dec!(89000000), dec!(88000000), dec!(101000000)]
    {
        tick(&monitor, p).await;
    }
    wait_view(&monitor, "both fired", |v| v.alerts.iter().all(|a| a.fired)).await;

    until("both webhook deliveries", || notifier.stats().webhook_sent.load(Ordering::SeqCst) >= 2).await;
    let accepted = receiver.accepted.lock().unwrap().clone();
    let ids: BTreeSet<String> = accepted.iter().map(|b| b["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, BTreeSet::from([above.id.clone(), below.id.clone()]));
    assert_eq!(accepted.len(), 2, "each alert accepted exactly once");
    assert_eq!(receiver.requests.load(Ordering::SeqCst), 3, "one failure, retried once");
    assert_eq!(notifier.stats().webhook_retries.load(Ordering::SeqCst), 1);
    for b in &accepted {
        let text = b["content"].as_str().unwrap();
        assert_eq!(b["text"].as_str().unwrap(), text);
        assert!(text.contains("KRW-BTC"));
        assert_eq!(b["kind"], "price_alert");
    }
    // Status flash, bell and title.
    let flash = notifier.flash().borrow().clone().unwrap();
    assert_eq!(flash.kind, NotifyKind::PriceAlert);
    assert!(flash.loud);
    let calls = term.0.lock().unwrap().clone();
    assert_eq!(calls.iter().filter(|c| *c == "BEL").count(), 2);
    assert!(calls.iter().any(|c| c.starts_with("TITLE hoga") && c.contains("KRW-BTC")));
    // Persisted as fired.
    let saved = journal.lock().unwrap().load_alerts().unwrap();
    assert!(saved.iter().all(|a| a.fired));
    assert_eq!(notifier.dropped(), 0);
    tasks.cancel_all();
}

#[tokio::test]
async fn silent_and_off_modes_skip_bell_and_webhook() {
    use hoga::notify::{NotifyMode, NotifyModes};
    let tasks = TaskManager::new();
    let term = RecordingTerminal::default();
    let mut modes = NotifyModes::default();
    modes.set(NotifyKind::Fill, NotifyMode::Silent).set(NotifyKind::PriceAlert, NotifyMode::Off);
    let n =
        spawn_notifier(&tasks, NotifierConfig { modes, ..NotifierConfig::default() }, term.clone()).unwrap();
    let tx = n.sender();
    assert!(tx.notify(NotifyEvent::new(NotifyKind::PriceAlert, Some(btc()), "muted")));
    assert!(tx.notify(NotifyEvent::new(NotifyKind::Fill, Some(btc()), "bought 0.1")));
    let mut flash = n.flash();
    let f = tokio::time::timeout(DEADLINE, async {
        loop {
            if let Some(f) = flash.borrow_and_update().clone() {
                return f;
            }
            flash.changed().await.unwrap();
        }
    })
    .await
    .unwrap();
    assert_eq!(f.kind, NotifyKind::Fill);
    assert!(!f.loud);
    assert_eq!(f.seq, 1, "the muted alert made no flash");
    assert!(term.0.lock().unwrap().is_empty());
    assert_eq!(n.stats().muted.load(Ordering::SeqCst), 1);
    tasks.cancel_all();
}

#[tokio::test]
async fn webhook_failures_log_the_host_never_the_token() {
    let logs = LogCapture::default();
    let w = logs.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || w.clone()).with_ansi(false).finish();
    // Current-thread test runtime: every task runs on this thread, under this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);

    // A port nothing listens on: every attempt is a transport error (reqwest's error
    // text would include the URL if it were logged as is).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut hook =
        WebhookConfig::new(&format!("http://127.0.0.1:{port}/api/webhooks/42/TOPSECRETTOKEN")).unwrap();
    hook.max_attempts = 2;
    hook.initial_backoff = Duration::from_millis(10);
    let tasks = TaskManager::new();
    let n = spawn_notifier(
        &tasks,
        NotifierConfig { webhook: Some(hook), ..NotifierConfig::default() },
        RecordingTerminal::default(),
    )
    .unwrap();
    assert!(n.sender().notify(NotifyEvent::new(NotifyKind::TradingHalted, None, "kill switch")));
    until("the webhook to give up", || n.stats().webhook_failed.load(Ordering::SeqCst) >= 1).await;
    assert_eq!(n.stats().webhook_retries.load(Ordering::SeqCst), 1);
    let text = logs.text();
    assert!(text.contains("webhook delivery failed"), "{text}");
    assert!(text.contains("127.0.0.1"), "{text}");
    assert!(!text.contains("TOPSECRETTOKEN"), "token leaked into the log: {text}");
    assert!(!text.contains("/api/webhooks"), "path leaked into the log: {text}");
    tasks.cancel_all();
}

#[tokio::test]
async fn ticks_of_unwatched_markets_wait_and_are_taken_in_when_a_rule_arrives() {
    // The stale check runs every 10 ms and republishes the view each time: two
    // publications after the tick prove the loop went round without evaluating it.
    let config = MonitorConfig { stale_check_every: Duration::from_millis(10), ..MonitorConfig::default() };
    let mut r = rig_with(config, None);
    r.monitor.position(btc(), dec!(0.1), dec!(100000000)).await.unwrap();
    r.monitor.reconciled().await.unwrap();
    wait_view(&r.monitor, "reconciled", |v| v.reconciled).await;
    // No rule on KRW-BTC yet: the tick is kept (latest per market), not evaluated.
    let mut views = r.monitor.view();
    views.borrow_and_update();
    assert!(r.monitor.tick(&btc(), dec!(96000000), Instant::now()));
    for _ in 0..2 {
        tokio::time::timeout(DEADLINE, views.changed()).await.unwrap().unwrap();
    }
    assert_eq!(views.borrow().ticks, 0, "an unwatched tick must not run the monitor");
    // A stop above that price arrives: the waiting tick is evaluated first, so it fires at
    // once instead of waiting for the next tick.
    let rule = stop_rule(dec!(97000000));
    r.monitor.add_rule(rule).await.unwrap();
    let (_, volume) = exit_fields(&next_action(&mut r.actions).await);
    assert_eq!(volume, dec!(0.1));
    // From now on the market is watched: a tick alone is evaluated.
    let before = r.monitor.view().borrow().ticks;
    tick(&r.monitor, dec!(95000000)).await;
    assert!(r.monitor.view().borrow().ticks > before);
}

/// Issue 15 item 8: a 429 storm refuses the exit again and again; each refusal (closed by
/// the manager only once its identifier was confirmed absent) re-arms the rule under the
/// next identifier — three refusals used to fail the rule and leave the position open.
#[tokio::test]
async fn a_rate_limit_storm_keeps_re_arming_the_exit_under_new_identifiers() {
    let (mut r, id) = armed(stop_rule(dec!(97000000))).await;
    tick(&r.monitor, dec!(96000000)).await;
    let (mut current, _) = exit_fields(&next_action(&mut r.actions).await);
    let mut seen = BTreeSet::from([current.clone()]);
    for attempt in 1..=6u32 {
        r.monitor
            .result(ExitEvent::ExitRejected {
                identifier: current.clone(),
                reason: "rate_limited: too many requests (identifier confirmed absent by lookup)".into(),
                locked_funds: false,
            })
            .await
            .unwrap();
        let (next, _) = exit_fields(&next_action(&mut r.actions).await);
        assert_eq!(next, hoga::trading::rules::exit_identifier(&id, attempt));
        assert!(seen.insert(next.clone()), "identifier reused: {next}");
        current = next;
    }
    let v = r.monitor.view();
    assert_ne!(v.borrow().rule(&id).map(|x| x.state), Some(RuleState::Failed));
    r.tasks.cancel_all();
}

/// The tester's finding 2: a stop showing `position gone` came back `armed` after quit and
/// restart (the restarted monitor knew no position until a balance list, and a balance
/// list without the coin said nothing about it). It stays `position gone` from the start,
/// does not fire, and protects again when the position comes back.
#[tokio::test]
async fn a_rule_whose_position_is_gone_stays_gone_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let rule = stop_rule(dec!(97000000));
    let id = rule.id.clone();
    {
        let journal: SharedJournal =
            Arc::new(Mutex::new(Journal::open(&path, &JournalOptions::default()).unwrap()));
        let r = rig_with(MonitorConfig::default(), Some(journal.clone()));
        r.monitor.position(btc(), dec!(0.1), dec!(100000000)).await.unwrap();
        r.monitor.add_rule(rule).await.unwrap();
        r.monitor.reconciled().await.unwrap();
        tick(&r.monitor, dec!(98000000)).await;
        wait_view(&r.monitor, "armed", |v| v.rule(&id).is_some_and(|x| x.state_label() == "armed")).await;
        // Sold elsewhere: the balance list has only KRW.
        r.monitor.holdings(vec![]).await.unwrap();
        wait_view(&r.monitor, "gone", |v| v.rule(&id).is_some_and(|x| x.state_label() == "position gone"))
            .await;
        r.tasks.cancel_all();
        assert!(r.tasks.wait_all(DEADLINE).await);
    }
    let journal: SharedJournal =
        Arc::new(Mutex::new(Journal::open(&path, &JournalOptions::default()).unwrap()));
    let mut r = rig_with(MonitorConfig::default(), Some(journal));
    let v = wait_view(&r.monitor, "rule re-loaded", |v| v.rule(&id).is_some()).await;
    assert_eq!(v.rule(&id).unwrap().state_label(), "position gone", "before any balance list");
    // The balance list after the restart names only KRW: still gone, and no exit.
    r.monitor.holdings(vec![]).await.unwrap();
    r.monitor.reconciled().await.unwrap();
    wait_view(&r.monitor, "reconciled", |v| v.reconciled).await;
    tick(&r.monitor, dec!(90000000)).await;
    assert_no_action(&mut r.actions);
    assert_eq!(r.monitor.view().borrow().rule(&id).unwrap().state_label(), "position gone");
    // Bought again: it protects the new position.
    r.monitor.holdings(vec![(btc(), dec!(0.05), dec!(95000000))]).await.unwrap();
    wait_view(&r.monitor, "armed again", |v| v.rule(&id).is_some_and(|x| x.state_label() == "armed")).await;
    tick(&r.monitor, dec!(90000000)).await;
    let (ident, volume) = exit_fields(&next_action(&mut r.actions).await);
    assert_eq!((ident, volume), (hoga::trading::rules::exit_identifier(&id, 0), dec!(0.05)));
    r.tasks.cancel_all();
}

/// README: a rule armed with `future` for a position not held shows `waiting`. It showed
/// `armed` until a buy and a sell had told the monitor about the position.
#[tokio::test]
async fn a_future_rule_shows_waiting_from_the_moment_it_is_armed() {
    let r = rig();
    let rule = Rule { for_future_position: true, ..stop_rule(dec!(97000000)) };
    let id = rule.id.clone();
    r.monitor.add_rule(rule).await.unwrap();
    let v = wait_view(&r.monitor, "rule listed", |v| v.rule(&id).is_some()).await;
    assert_eq!(v.rule(&id).unwrap().state_label(), "waiting");
    r.tasks.cancel_all();
}

/// The tester's finding 2: every restart raised "rule STALE KRW-SOL: stop 234200: no
/// fresh price, NOT protected" before the feed had delivered its first price. During the
/// start grace (the staleness limit) the row says `starting` and nothing is raised; a
/// market still silent after it raises the alarm, its price formatted.
#[tokio::test]
async fn no_stale_alarm_during_the_start_grace_but_one_after_it() {
    let grace = Duration::from_millis(800);
    let cfg = MonitorConfig {
        stale_after: grace,
        stale_check_every: Duration::from_millis(20),
        ..MonitorConfig::default()
    };
    let started = Instant::now();
    let mut r = rig_with(cfg, None);
    let rule = stop_rule(dec!(97000000));
    let id = rule.id.clone();
    r.monitor.position(btc(), dec!(0.1), dec!(100000000)).await.unwrap();
    r.monitor.add_rule(rule).await.unwrap();
    r.monitor.reconciled().await.unwrap();
    // Reconciled, no price yet: the timer has marked it stale, quietly.
    let v = wait_view(&r.monitor, "stale at the start", |v| {
        v.reconciled && v.rule(&id).is_some_and(|x| x.state == RuleState::Stale)
    })
    .await;
    if started.elapsed() < grace {
        assert_eq!(v.rule(&id).unwrap().state_label(), "starting");
        while let Ok(n) = r.notes.try_recv() {
            assert_ne!(n.kind, NotifyKind::RuleStale, "alarm during the start grace: {}", n.text);
        }
    }
    // No price by the end of the grace: the alarm, with the price as people read it.
    let note = next_note(&mut r.notes, NotifyKind::RuleStale).await;
    assert!(started.elapsed() >= grace, "raised {:?} after the start", started.elapsed());
    assert_eq!(note.text, "stop 97,000,000: no fresh price, NOT protected");
    let v = r.monitor.view().borrow().clone();
    assert_eq!(v.rule(&id).unwrap().state_label(), "stale");
    r.tasks.cancel_all();
}

/// A price that came before reconciliation is not fresh once the book is made ready
/// (RELIABILITY case 19), so the rule turns stale right after it: within the start grace
/// that is the start, not a fault, and no alarm is raised (a restart with an armed rule
/// raised "rule STALE … NOT protected" a second after "demo session resumed").
#[tokio::test]
async fn a_price_from_before_reconciliation_raises_no_stale_alarm_within_the_grace() {
    let cfg = MonitorConfig {
        stale_after: Duration::from_secs(30),
        stale_check_every: Duration::from_millis(20),
        ..MonitorConfig::default()
    };
    let mut r = rig_with(cfg, None);
    let rule = stop_rule(dec!(97000000));
    let id = rule.id.clone();
    r.monitor.position(btc(), dec!(0.1), dec!(100000000)).await.unwrap();
    tick(&r.monitor, dec!(98000000)).await;
    r.monitor.reconciled().await.unwrap();
    // Restored from the journal as reconciliation ends: the only price is from before.
    r.monitor.add_rule(rule).await.unwrap();
    let v = wait_view(&r.monitor, "stale after reconciliation", |v| {
        v.reconciled && v.rule(&id).is_some_and(|x| x.state == RuleState::Stale)
    })
    .await;
    assert_eq!(v.rule(&id).unwrap().state_label(), "starting");
    tick(&r.monitor, dec!(98100000)).await;
    wait_view(&r.monitor, "armed", |v| v.rule(&id).is_some_and(|x| x.state == RuleState::Armed)).await;
    while let Ok(n) = r.notes.try_recv() {
        assert_ne!(n.kind, NotifyKind::RuleStale, "{}", n.text);
    }
    r.tasks.cancel_all();
}

/// A market that delivers its first price within the start grace raises no alarm at all.
#[tokio::test]
async fn a_first_price_within_the_grace_raises_no_stale_alarm() {
    let cfg = MonitorConfig {
        stale_after: Duration::from_secs(30),
        stale_check_every: Duration::from_millis(20),
        ..MonitorConfig::default()
    };
    let mut r = rig_with(cfg, None);
    let rule = stop_rule(dec!(97000000));
    let id = rule.id.clone();
    r.monitor.position(btc(), dec!(0.1), dec!(100000000)).await.unwrap();
    r.monitor.add_rule(rule).await.unwrap();
    r.monitor.reconciled().await.unwrap();
    wait_view(&r.monitor, "quietly stale", |v| v.rule(&id).is_some_and(|x| x.state == RuleState::Stale))
        .await;
    tick(&r.monitor, dec!(98000000)).await;
    let v =
        wait_view(&r.monitor, "armed", |v| v.rule(&id).is_some_and(|x| x.state == RuleState::Armed)).await;
    assert_eq!(v.rule(&id).unwrap().state_label(), "armed");
    while let Ok(n) = r.notes.try_recv() {
        assert_ne!(n.kind, NotifyKind::RuleStale, "{}", n.text);
    }
    r.tasks.cancel_all();
}

/// Third-round finding G: after the start grace, STALE alarms were raised for rules that
/// protect nothing (`position gone`, `waiting` for a future position). No alarm for
/// them, at the end of the grace or later, while a rule with a position still raises one.
#[tokio::test]
async fn a_rule_that_protects_nothing_raises_no_stale_alarm() {
    let grace = Duration::from_millis(300);
    let cfg = MonitorConfig {
        stale_after: grace,
        stale_check_every: Duration::from_millis(20),
        ..MonitorConfig::default()
    };
    let mut r = rig_with(cfg, None);
    let eth = MarketId::new("KRW-ETH");
    let gone = stop_rule(dec!(97000000));
    let waiting = Rule { for_future_position: true, ..stop_rule(dec!(96000000)) };
    let held = Rule::new(eth.clone(), RuleKind::StopLoss(Level::Price(dec!(3000000))), None);
    let idle = [gone.id.clone(), waiting.id.clone()];
    let held_id = held.id.clone();
    for rule in [gone, waiting, held] {
        r.monitor.add_rule(rule).await.unwrap();
    }
    // The balances after a restart: ETH held, no BTC.
    r.monitor.holdings(vec![(eth.clone(), dec!(1), dec!(3500000))]).await.unwrap();
    r.monitor.reconciled().await.unwrap();
    let v = wait_view(&r.monitor, "rows", |v| idle.iter().all(|id| v.rule(id).is_some())).await;
    assert_eq!(v.rule(&idle[0]).unwrap().state_label(), "position gone");
    assert_eq!(v.rule(&idle[1]).unwrap().state_label(), "waiting");
    // The held rule's alarm at the end of the grace; none for the two others.
    let check = |r: &mut Rig| {
        while let Ok(n) = r.notes.try_recv() {
            let idle_alarm =
                n.kind == NotifyKind::RuleStale && idle.iter().any(|id| n.id.as_deref() == Some(id));
            assert!(!idle_alarm, "alarm for a rule that protects nothing: {}", n.text);
        }
    };
    let note = next_note(&mut r.notes, NotifyKind::RuleStale).await;
    assert_eq!(note.id.as_deref(), Some(held_id.as_str()), "{}", note.text);
    // One more round trip: whatever that check raised has been sent.
    tick(&r.monitor, dec!(98000000)).await;
    check(&mut r);
    // Later (past the grace, reconciled): fresh again, then silent again.
    assert!(r.monitor.tick(&eth, dec!(3400000), Instant::now()));
    wait_view(&r.monitor, "eth armed", |v| v.rule(&held_id).is_some_and(|x| x.state == RuleState::Armed))
        .await;
    let note = next_note(&mut r.notes, NotifyKind::RuleStale).await;
    assert_eq!(note.id.as_deref(), Some(held_id.as_str()), "{}", note.text);
    wait_view(&r.monitor, "idle rules stale", |v| {
        idle.iter().all(|id| v.rule(id).is_some_and(|x| x.state == RuleState::Stale))
    })
    .await;
    tick(&r.monitor, dec!(98000000)).await;
    check(&mut r);
    r.tasks.cancel_all();
}
