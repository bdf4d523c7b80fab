//! Indicator alerts end to end: the demo console on a simulator whose clock moves only
//! when the test steps it. An alert armed from the command line is evaluated over its own
//! market's candles (the chart shows nothing here), fires once through the notify path
//! (`:alerts` history) saying which source saw it first, and stays fired.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{DEADLINE, console_on, snapshot_until, wait_view};
use hoga::console::Core;
use hoga::exchange::types::MarketId;
use hoga::kernel::TaskManager;
use hoga::notify::{NotifyKind, NotifySender};
use hoga::sim::SimHandle;
use hoga::store::Snapshot;
use hoga::trading::intent::{LineIntent, Outcome, Requester, TradeRequest, parse_line};
use hoga::trading::journal::Journal;
use hoga::trading::monitor::{
    Monitor, MonitorConfig, MonitorDeps, MonitorInput, SharedJournal, TradingStateHandle, parse_alert,
};
use hoga::ui::UiCommand;
use rust_decimal::Decimal;
use tokio::sync::watch;
use tokio::time::Instant;

/// A 5-minute bucket boundary, so the simulated candles are whole.
const START_MS: i64 = 1_796_461_200_000;

type Snaps = watch::Receiver<Arc<Snapshot>>;

/// The demo console on a three-market simulator whose clock moves 20 s a step from a
/// 5-minute boundary, and the store's snapshots.
async fn stepped_console() -> (TaskManager, SimHandle, TaskManager, Core, Snaps) {
    let (sim_tasks, sim) = common::still_sim(3, |c| {
        c.step_ms = 20_000;
        c.start_ms = Some(START_MS);
    })
    .await;
    let (tasks, core) = console_on(&sim).await;
    let snaps = core.store.subscribe();
    (sim_tasks, sim, tasks, core, snaps)
}

/// Sends `line` and waits for it to be accepted; returns what the reply said.
async fn arm(core: &Core, snaps: &mut Snaps, line: &str) -> String {
    let LineIntent::Trade(intent) = parse_line(line, None).unwrap() else { panic!("{line}") };
    let req = TradeRequest::new(Requester::Ui, intent);
    core.commands.send(UiCommand::Trade(req.clone())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let s = snapshot_until(snaps, deadline, line, |s| s.account.replies.iter().any(|r| r.id == req.id)).await;
    let reply = s.account.replies.iter().find(|r| r.id == req.id).unwrap();
    match &reply.outcome {
        Outcome::Accepted(what) => what.clone(),
        other => panic!("{line}: {other:?}"),
    }
}

fn fired<'a>(s: &'a Snapshot, label: &str) -> Vec<&'a str> {
    s.system.alerts.iter().map(|a| a.message.as_str()).filter(|m| m.contains(label)).collect()
}

/// `:alert KRW-BTC rsi14 > 0 1m` holds as soon as the watcher has the history (RSI is
/// above 0 on any market that rose once in 15 minutes), while the chart shows KRW-ETH: it
/// fires once, from the local evaluation, and not again as more candles come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rsi_alert_fires_once_from_the_local_evaluation() {
    let (_sim_tasks, sim, _tasks, core, mut snaps) = stepped_console().await;
    // The chart shows another market: the alert watches its own.
    let eth = MarketId::new("KRW-ETH");
    core.commands.send(UiCommand::SelectMarket(eth.clone())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    snapshot_until(&mut snaps, deadline, "the chart on KRW-ETH", |s| {
        s.market.candles.keys().any(|(m, _)| *m == eth)
    })
    .await;
    arm(&core, &mut snaps, ":alert KRW-BTC rsi14 > 0 1m").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let label = "KRW-BTC RSI14(1m) > 0";
    let s =
        snapshot_until(&mut snaps, deadline, "the alert in :alerts", |s| !fired(s, label).is_empty()).await;
    let text = fired(&s, label)[0].to_string();
    assert!(text.contains("(RSI ") && text.ends_with("· local)"), "{text}");
    // More candles, more evaluations that hold: still one alert.
    for _ in 0..6 {
        sim.step(3);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s = snapshot_until(&mut snaps, deadline, "the alert shown fired", |s| {
        !s.account.replies.is_empty() && !fired(s, label).is_empty()
    })
    .await;
    assert_eq!(fired(&s, label).len(), 1, "{:?}", s.system.alerts);
    // `:unarm MARKET` removes a market's alerts too.
    assert_eq!(arm(&core, &mut snaps, ":unarm KRW-BTC").await, "1 alert(s) removed");
}

/// Day candles are not on the candle stream: an alert on them is evaluated over candles
/// read by REST every few seconds, so a move shows there too (and not before it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_candle_alert_follows_the_price_through_rest_refreshes() {
    let (_sim_tasks, sim, _tasks, core, mut snaps) = stepped_console().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    snapshot_until(&mut snaps, deadline, "KRW-BTC's price", |s| {
        s.market.tickers.contains_key(&MarketId::new("KRW-BTC"))
    })
    .await;
    let last = sim_price(&snaps.borrow(), "KRW-BTC");
    // Far above the average of the last two days' closes, until the price jumps.
    let level = (last * Decimal::from(3)).round_dp(0);
    arm(&core, &mut snaps, &format!(":alert KRW-BTC sma2 > {level} 1D")).await;
    let label = "KRW-BTC SMA2(1D) > ";
    let high = (last * Decimal::TEN).round_dp(0);
    let s = common::poll(
        "the alert after the jump",
        Duration::from_secs(30),
        Duration::from_millis(200),
        async || {
            sim.set_price("KRW-BTC", high);
            let s = snaps.borrow().clone();
            (!fired(&s, label).is_empty()).then_some(s)
        },
    )
    .await;
    let text = fired(&s, label)[0].to_string();
    assert!(text.ends_with("· local)"), "{text}");
    // It fired on the jump: the average it reports is past the level (before the jump it
    // was near the last price, a third of the level).
    let sma: Decimal = text
        .rsplit_once('(')
        .and_then(|(_, v)| v.strip_suffix(" · local)"))
        .map(|v| v.replace(',', ""))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no average in {text}"));
    assert!(sma > level, "{text}");
}

/// Where Upbit serves the signal and it comes first, the alert says so. The local
/// evaluation is kept from warming up (the candle history is refused: rate-limited), so
/// the simulator's `indicator_signal` for RSI(14) falling below 30 at a 5-minute close is
/// the first to see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rsi_alert_fires_from_upbits_signal_when_it_comes_first() {
    let (_sim_tasks, sim, _tasks, core, mut snaps) = stepped_console().await;
    // Wait for the market list, so the refusal below hits only the candle history.
    let deadline = Instant::now() + Duration::from_secs(30);
    snapshot_until(&mut snaps, deadline, "the markets and KRW-BTC's price", |s| {
        !s.market.markets.is_empty() && s.market.tickers.contains_key(&MarketId::new("KRW-BTC"))
    })
    .await;
    sim.faults.force_limit("candles", 429, None);
    arm(&core, &mut snaps, ":alert KRW-BTC rsi14 < 30").await;
    common::until("the signal subscription", || {
        sim.subscriptions().values().any(|s| format!("{s:?}").contains("indicator_signal"))
    })
    .await;
    let label = "KRW-BTC RSI14(5m) < 30";
    // The first close after subscribing sets Upbit's baseline (RSI near 50); then the
    // price falls by half and the next close has RSI far below 30.
    let last = sim_price(&snaps.borrow(), "KRW-BTC");
    sim.step(15);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let low = (last / Decimal::TWO).round_dp(0);
    sim.set_price("KRW-BTC", low);
    let s =
        common::poll("the signal's alert", Duration::from_secs(30), Duration::from_millis(100), async || {
            sim.set_price("KRW-BTC", low);
            sim.step(1);
            let s = snaps.borrow().clone();
            (!fired(&s, label).is_empty()).then_some(s)
        })
        .await;
    let text = fired(&s, label)[0].to_string();
    assert!(text.contains("(RSI ") && text.ends_with("· upbit signal)"), "{text}");
    assert_eq!(fired(&s, label).len(), 1);
}

fn sim_price(s: &Snapshot, market: &str) -> Decimal {
    s.market
        .tickers
        .get(&hoga::exchange::types::MarketId::new(market))
        .map(|t| t.value.trade_price)
        .expect("a ticker of the market")
}

/// The monitor's side: an indicator alert is listed with its label, is not fired by
/// prices, fires once when told it holds (a second report, Upbit's after the local one,
/// changes nothing), is kept fired across a restart, and `:unarm` removes its journal row.
#[tokio::test]
async fn an_indicator_alert_fires_once_through_the_monitor_and_is_kept_across_a_restart() {
    let journal: SharedJournal = Arc::new(Mutex::new(Journal::in_memory().unwrap()));
    let spawn = |tasks: &TaskManager| {
        let (notify, notes) = NotifySender::channel(64);
        let deps = MonitorDeps { journal: Some(journal.clone()), notify, trading: TradingStateHandle::new() };
        let (monitor, _actions) = Monitor::spawn(tasks, MonitorConfig::default(), deps).unwrap();
        (monitor, notes)
    };
    let tasks = TaskManager::new();
    let (monitor, mut notes) = spawn(&tasks);
    let alert = parse_alert(":alert KRW-ETH rsi14 < 30").unwrap();
    monitor.add_alert(alert.clone()).await.unwrap();
    let v = wait_view(&monitor, "the alert listed", |v| v.alerts.len() == 1).await;
    assert_eq!(v.alerts[0].label, "KRW-ETH RSI14(5m) < 30");
    // A price means nothing to it.
    monitor.reconciled().await.unwrap();
    assert!(monitor.tick(
        &MarketId::new("KRW-ETH"),
        rust_decimal_macros::dec!(3000000),
        std::time::Instant::now()
    ));
    wait_view(&monitor, "the tick evaluated", |v| v.ticks > 0).await;
    assert!(!monitor.view().borrow().alerts[0].fired);
    for detail in ["RSI 28.00 · local", "RSI 27.90 · upbit signal"] {
        monitor
            .send(MonitorInput::IndicatorHit { id: alert.id.clone(), detail: detail.into() })
            .await
            .unwrap();
    }
    // A later control message, handled after both reports: by the time it shows, every
    // notification of the two is out.
    let marker = parse_alert(":alert KRW-BTC > 999999999").unwrap();
    monitor.add_alert(marker.clone()).await.unwrap();
    wait_view(&monitor, "the alert fired", |v| v.alerts.len() == 2 && v.alerts.iter().any(|a| a.fired)).await;
    let n = tokio::time::timeout(DEADLINE, notes.recv()).await.unwrap().unwrap();
    assert_eq!(n.kind, NotifyKind::PriceAlert);
    assert_eq!(n.text, "KRW-ETH RSI14(5m) < 30 (RSI 28.00 · local)");
    assert_eq!(n.id.as_deref(), Some(alert.id.as_str()));
    assert!(notes.try_recv().is_err(), "the second report notified again");
    tasks.cancel_all();
    assert!(tasks.wait_all(Duration::from_secs(5)).await);

    let saved = journal.lock().unwrap().load_alerts().unwrap();
    let ours = saved.iter().find(|a| a.id == alert.id).unwrap();
    assert!(ours.fired && ours.condition == alert.condition);
    let tasks = TaskManager::new();
    let (monitor, _notes) = spawn(&tasks);
    let v = wait_view(&monitor, "the alert back", |v| v.alerts.len() == 2).await;
    assert!(v.alerts.iter().find(|a| a.id == alert.id).unwrap().fired, "kept fired across the restart");
    monitor.send(MonitorInput::RemoveAlert(alert.id.clone())).await.unwrap();
    wait_view(&monitor, "the alert gone", |v| v.alerts.len() == 1).await;
    common::until("its journal row deleted", || {
        journal.lock().unwrap().load_alerts().unwrap().iter().all(|a| a.id != alert.id)
    })
    .await;
    tasks.cancel_all();
}
