//! The kimchi premium end to end: the demo console on the embedded simulator, which serves
//! both venues and the USD/KRW rate. The premium task pairs the markets, publishes a board
//! (against `KRW-USDT` and against the simulator's rate), draws the chart's premium line,
//! and a premium alert armed from the command line fires once through the notify path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::snapshot_until;
use hoga::exchange::types::{MarketId, Timeframe};
use hoga::store::Snapshot;
use hoga::trading::intent::{LineIntent, Outcome, Requester, TradeRequest, parse_line};
use hoga::ui::UiCommand;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use tokio::sync::watch;
use tokio::time::Instant;

type Snaps = watch::Receiver<Arc<Snapshot>>;

/// A premium the simulator's model can give (it keeps its premium within a few percent).
fn sane(p: Decimal) -> bool {
    p > dec!(-0.2) && p < dec!(0.2)
}

/// Sends `line` and returns the desk's answer.
async fn arm(core: &hoga::console::Core, snaps: &mut Snaps, line: &str) -> Outcome {
    let LineIntent::Trade(intent) = parse_line(line, None).unwrap() else { panic!("{line}") };
    let req = TradeRequest::new(Requester::Ui, intent);
    core.commands.send(UiCommand::Trade(req.clone())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let s = snapshot_until(snaps, deadline, line, |s| s.account.replies.iter().any(|r| r.id == req.id)).await;
    s.account.replies.iter().find(|r| r.id == req.id).unwrap().outcome.clone()
}

/// The alert messages (`:alerts`) that name `label`.
fn fired(s: &Snapshot, label: &str) -> usize {
    s.system.alerts.iter().filter(|a| a.message.contains(label)).count()
}

/// `percent` as a level typed on the command line, two decimals, rounded down.
fn level(ratio: Decimal) -> String {
    let pct =
        (ratio * dec!(100)).round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToNegativeInfinity);
    // As the alert's label writes it back (`3%`, not `3.00%`).
    format!("{}%", pct.normalize())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_premium_is_published_drawn_and_alerted_once() {
    // Every market of the fixture (KRW-USDT among them), trading on the wall clock.
    let sim_tasks = hoga::kernel::TaskManager::new();
    let cfg = hoga::sim::SimConfig {
        tick_interval: Duration::from_millis(20),
        markets: None,
        history_secs: 600,
        ..hoga::sim::SimConfig::default()
    };
    let sim = hoga::sim::start(cfg, &sim_tasks).await.unwrap();
    let (_tasks, core) = common::console_on(&sim).await;
    let mut snaps = core.store.subscribe();
    let btc = MarketId::new("KRW-BTC");

    // A board with KRW-BTC against KRW-USDT and against the simulator's rate.
    let deadline = Instant::now() + Duration::from_secs(60);
    let s = snapshot_until(&mut snaps, deadline, "a premium board with KRW-BTC on both bases", |s| {
        let b = &s.market.premium;
        b.of(&btc).is_some_and(|p| p.vs_usdt.is_some() && p.vs_ref.is_some())
            && b.reference.as_ref().is_some_and(|r| r.rate.is_some())
    })
    .await;
    let board = s.market.premium.clone();
    assert_eq!(board.venue, "Binance");
    let reference = board.reference.clone().unwrap();
    assert_eq!(reference.source, "simulator");
    assert_eq!(reference.error, None);
    let rate = reference.rate.unwrap();
    assert!(rate > dec!(1300) && rate < dec!(1600), "USD/KRW {rate}");
    let krw_usdt = board.krw_usdt.unwrap();
    assert!(krw_usdt > dec!(1200) && krw_usdt < dec!(1800), "KRW-USDT {krw_usdt}");
    let row = board.of(&btc).unwrap().clone();
    let (kimp, kimp_fx) = (row.vs_usdt.unwrap(), row.vs_ref.unwrap());
    assert!(sane(kimp) && sane(kimp_fx), "KRW-BTC premium {kimp} / {kimp_fx}");
    assert!(board.usdt_vs_ref.is_some_and(sane), "USDT premium {:?}", board.usdt_vs_ref);
    // The row is the board's own arithmetic on its inputs: the foreign price in USDT, a
    // stamp no older than a minute.
    assert!(row.foreign > Decimal::ZERO);
    let age = chrono::Utc::now().timestamp_millis() - row.at_ms;
    assert!((0..60_000).contains(&age), "premium stamped {age} ms ago");
    // Coins Binance does not list have no row; every row is a KRW market.
    assert!(board.rows.keys().all(|m| m.quote() == "KRW" && m.as_str() != "KRW-USDT"));

    // The chart's premium line for the selected market and timeframe.
    core.commands.send(UiCommand::SelectMarket(btc.clone())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let s = snapshot_until(&mut snaps, deadline, "KRW-BTC's premium line at 1m", |s| {
        s.market.premium_history.get(&(btc.clone(), Timeframe::M1)).is_some_and(|l| l.points.len() >= 2)
    })
    .await;
    let line = s.market.premium_history.get(&(btc.clone(), Timeframe::M1)).unwrap().clone();
    assert_eq!(line.basis, hoga::store::premium::PremiumBasis::Usdt);
    assert!(line.points.windows(2).all(|w| w[0].0 < w[1].0), "oldest first, one point a candle");
    assert!(line.points.iter().all(|(start, p)| start % 60_000 == 0 && sane(*p)), "{:?}", line.points);

    // On Binance's view the line follows the coin and timeframe shown there (USDT-ETH at
    // 15m is KRW-ETH's premium at 15m), and only the shown line is kept (an old one would
    // be drawn frozen when the view came back to it).
    let eth = MarketId::new("KRW-ETH");
    core.commands.send(UiCommand::SetVenue(hoga::exchange::VenueId::Binance)).unwrap();
    core.commands.send(UiCommand::SelectMarket(MarketId::new("USDT-ETH"))).unwrap();
    core.commands.send(UiCommand::SetTimeframe(Timeframe::M15)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let s = snapshot_until(&mut snaps, deadline, "KRW-ETH's premium line at 15m on Binance's view", |s| {
        s.market.premium_history.get(&(eth.clone(), Timeframe::M15)).is_some_and(|l| !l.points.is_empty())
    })
    .await;
    assert_eq!(s.market.premium_history.len(), 1, "only the shown line is kept");
    core.commands.send(UiCommand::SetVenue(hoga::exchange::VenueId::Upbit)).unwrap();
    core.commands.send(UiCommand::SelectMarket(btc.clone())).unwrap();
    core.commands.send(UiCommand::SetTimeframe(Timeframe::M1)).unwrap();

    // Armed below the premium that stands: the crossing is certain, at the next board.
    let kimp_line = format!(":alert KRW-BTC kimp > {}", level(kimp - dec!(0.03)));
    let fx_line = format!(":alert KRW-BTC kimpfx > {}", level(kimp_fx - dec!(0.03)));
    let never = ":alert KRW-BTC kimp > 50%";
    let label = |l: &str| l.trim_start_matches(":alert ").to_string();
    // One at a time: `:alerts` is fed from the notifier's latest flash, which keeps only
    // the last of two alerts fired at the same instant.
    for l in [&kimp_line, &fx_line] {
        assert!(matches!(arm(&core, &mut snaps, l).await, Outcome::Accepted(_)), "{l}");
        if l == &kimp_line {
            assert!(matches!(arm(&core, &mut snaps, never).await, Outcome::Accepted(_)), "{never}");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        snapshot_until(&mut snaps, deadline, l, |s| fired(s, &label(l)) >= 1).await;
    }
    // Fired means latched: many boards later, still one message each, and the rows say so.
    let mut boards_seen = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = snaps.borrow().market.premium.clone();
    while boards_seen < 8 {
        let s = snapshot_until(&mut snaps, deadline, "more premium boards", |s| {
            !Arc::ptr_eq(&s.market.premium, &last)
        })
        .await;
        last = s.market.premium.clone();
        boards_seen += 1;
    }
    let s = snaps.borrow().clone();
    assert_eq!(fired(&s, &label(&kimp_line)), 1, "{:?}", s.system.alerts);
    assert_eq!(fired(&s, &label(&fx_line)), 1, "{:?}", s.system.alerts);
    assert_eq!(fired(&s, "kimp > 50%"), 0);
    let rows: Vec<(&str, bool)> = s.account.alerts.iter().map(|a| (a.label.as_str(), a.fired)).collect();
    assert!(rows.contains(&(label(&kimp_line).as_str(), true)), "{rows:?}");
    assert!(rows.contains(&(label(&fx_line).as_str(), true)), "{rows:?}");
    assert!(rows.contains(&("KRW-BTC kimp > 50%", false)), "{rows:?}");
    let message = s.system.alerts.iter().find(|a| a.message.contains(&label(&kimp_line))).unwrap();
    assert!(message.message.contains("vs Binance"), "{}", message.message);

    // Removable like any alert.
    assert!(matches!(arm(&core, &mut snaps, ":unarm KRW-BTC").await, Outcome::Accepted(_)));
    let deadline = Instant::now() + Duration::from_secs(30);
    snapshot_until(&mut snaps, deadline, "the alerts removed", |s| s.account.alerts.is_empty()).await;
    sim.stop();
}

/// A board with KRW-BTC's premium against KRW-USDT at `kimp`.
fn board_at(kimp: Decimal) -> Arc<hoga::store::premium::PremiumBoard> {
    let row =
        hoga::store::premium::Premium { foreign: dec!(100000), vs_usdt: Some(kimp), vs_ref: None, at_ms: 1 };
    Arc::new(hoga::store::premium::PremiumBoard {
        rows: std::collections::HashMap::from([(MarketId::new("KRW-BTC"), row)]),
        krw_usdt: Some(dec!(1400)),
        venue: "Binance".into(),
        ..Default::default()
    })
}

/// A premium alert is journaled as it is armed and when it fires: armed, it comes back
/// armed after a restart and fires there, once; fired, it comes back fired and never
/// fires again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_premium_alert_is_kept_across_restarts_and_fires_once() {
    use hoga::trading::journal::{Journal, JournalOptions};
    use hoga::trading::monitor::{
        Monitor, MonitorConfig, MonitorDeps, MonitorHandle, MonitorInput, SharedJournal, TradingStateHandle,
        parse_alert,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let start = || {
        let journal: SharedJournal =
            Arc::new(std::sync::Mutex::new(Journal::open(&path, &JournalOptions::default()).unwrap()));
        let tasks = hoga::kernel::TaskManager::new();
        let (notify, notes) = hoga::notify::NotifySender::channel(64);
        let deps = MonitorDeps { journal: Some(journal), notify, trading: TradingStateHandle::new() };
        let (monitor, _actions) = Monitor::spawn(&tasks, MonitorConfig::default(), deps).unwrap();
        (tasks, monitor, notes)
    };
    let alert = parse_alert(":alert KRW-BTC kimp > 3%").unwrap();
    let id = alert.id.clone();
    let row = |m: &MonitorHandle| m.view().borrow().alerts.iter().find(|a| a.id == id).map(|a| a.fired);
    let stop = async |tasks: hoga::kernel::TaskManager| {
        tasks.cancel_all();
        assert!(tasks.wait_all(common::DEADLINE).await);
    };

    // First run: armed, and a board under the level fires nothing.
    let (tasks, monitor, mut notes) = start();
    monitor.add_alert(alert).await.unwrap();
    monitor.send(MonitorInput::Premium(board_at(dec!(0.029)))).await.unwrap();
    common::wait_view(&monitor, "the alert listed, armed", |v| {
        v.alerts.iter().any(|a| a.id == id && !a.fired && a.label == "KRW-BTC kimp > 3%")
    })
    .await;
    stop(tasks).await;
    assert!(notes.try_recv().is_err(), "2.9% is not above 3%");

    // Second run: back armed; the first board above the level fires it, once.
    let (tasks, monitor, mut notes) = start();
    assert_eq!(row(&monitor), Some(false));
    for kimp in [dec!(0.0312), dec!(0.035), dec!(0.04)] {
        monitor.send(MonitorInput::Premium(board_at(kimp))).await.unwrap();
    }
    common::wait_view(&monitor, "the alert fired", |v| v.alerts.iter().any(|a| a.id == id && a.fired)).await;
    let note = common::within(notes.recv()).await.unwrap();
    assert_eq!(note.kind, hoga::notify::NotifyKind::PriceAlert);
    assert_eq!(note.text, "KRW-BTC kimp > 3% (now 3.12% vs Binance at KRW-USDT 1,400)");
    assert_eq!(note.id.as_deref(), Some(id.as_str()));
    stop(tasks).await;
    assert!(notes.try_recv().is_err(), "fired once");

    // Third run: back fired; it never fires again.
    let (tasks, monitor, mut notes) = start();
    assert_eq!(row(&monitor), Some(true));
    monitor.send(MonitorInput::Premium(board_at(dec!(0.05)))).await.unwrap();
    monitor.send(MonitorInput::Premium(board_at(dec!(0.06)))).await.unwrap();
    stop(tasks).await;
    assert!(notes.try_recv().is_err(), "latched across the restart");
}
