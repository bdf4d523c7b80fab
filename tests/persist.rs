//! A demo session survives a restart: the real core (embedded simulator, order manager,
//! monitor, journal) with its data directory in a temporary one, stopped without a last
//! save (as a killed process would be) and started again; `--fresh` sets it aside; and
//! `hoga journal` exports the demo journal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{TempHome, snapshot_until};
use hoga::bus::{Bus, BusConfig};
use hoga::config::Settings;
use hoga::console::event::AppEvent;
use hoga::console::{Core, CoreOptions};
use hoga::exchange::types::MarketId;
use hoga::kernel::TaskManager;
use hoga::store::Snapshot;
use hoga::trading::intent::{LineIntent, Outcome, Requester, TradeRequest, parse_line};
use hoga::trading::journal::Journal;
use hoga::trading::rules::RuleState;
use hoga::ui::UiCommand;
use rust_decimal::Decimal;
use tokio::time::Instant;

async fn start(settings: &Settings, data_dir: &Path, fresh: bool) -> (TaskManager, Core) {
    let tasks = TaskManager::new();
    let bus: Bus<AppEvent> = Bus::new(BusConfig::from_settings(&settings.bus));
    let opts = CoreOptions { data_dir: Some(data_dir.to_path_buf()), fresh, ..CoreOptions::default() };
    let core = Core::start(settings, opts, &tasks, bus).await.unwrap();
    (tasks, core)
}

/// Stops everything without the console's shutdown hooks (no last save of the demo
/// account: what is on disk is what a SIGKILL would leave), and waits until the journal's
/// lock is free for the next start.
async fn kill(tasks: TaskManager, core: Core, data_dir: &Path) {
    tasks.cancel_all();
    assert!(tasks.wait_all(Duration::from_secs(10)).await, "tasks did not stop");
    drop(core);
    drop(tasks);
    let lock = data_dir.join("journal-demo.lock");
    // (No lock file: the session was not kept on disk, and nothing waits.)
    common::until("the demo journal's lock is free", || {
        !lock.exists() || std::fs::File::open(&lock).is_ok_and(|f| f.try_lock().is_ok())
    })
    .await;
}

fn request(line: &str) -> TradeRequest {
    match parse_line(line, None).unwrap() {
        LineIntent::Trade(intent) => TradeRequest::new(Requester::Ui, intent),
        other => panic!("{other:?}"),
    }
}

fn reply_to(s: &Snapshot, id: hoga::bus::CorrelationId) -> Option<Outcome> {
    s.account.replies.iter().rev().find(|r| r.id == id).map(|r| r.outcome.clone())
}

/// Sends `line` until it is accepted (the manager refuses orders while it reconciles at
/// start).
async fn accepted(
    core: &Core,
    snaps: &mut tokio::sync::watch::Receiver<std::sync::Arc<Snapshot>>,
    line: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let req = request(line);
        core.commands.send(UiCommand::Trade(req.clone())).unwrap();
        let s = snapshot_until(snaps, deadline, line, |s| reply_to(s, req.id).is_some()).await;
        match reply_to(&s, req.id) {
            Some(Outcome::Accepted(_)) => return,
            Some(Outcome::Denied(why)) if why.contains("reconcil") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("{line}: {other:?}"),
        }
    }
}

fn armed(state: RuleState) -> bool {
    matches!(state, RuleState::Armed | RuleState::Stale)
}

fn krw(s: &Snapshot) -> Option<(Decimal, Decimal)> {
    s.account.balances.iter().find(|b| b.currency == "KRW").map(|b| (b.balance, b.locked))
}

/// What the test remembers of a session to compare after the restart.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    krw: (Decimal, Decimal),
    orders: Vec<(String, Option<Decimal>)>,
    rules: Vec<String>,
}

fn seen(s: &Snapshot) -> Seen {
    let mut orders: Vec<_> =
        s.account.open_orders.iter().map(|o| (o.uuid.clone(), o.price)).collect::<Vec<_>>();
    orders.sort();
    let mut rules: Vec<String> = s
        .account
        .rules
        .iter()
        .filter(|r| armed(r.state))
        .map(|r| format!("{} {}", r.market, r.label))
        .collect();
    rules.sort();
    Seen { krw: krw(s).unwrap_or_default(), orders, rules }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_session_s_account_orders_rules_and_alerts_survive_a_restart_and_fresh_sets_them_aside() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("hoga");
    let mut settings = Settings::default();
    // A slow market: the resting buy stays where it was put.
    settings.demo.rate = 2;
    let btc = MarketId::new("KRW-BTC");
    let deadline = Instant::now() + Duration::from_secs(60);

    // The first session: a resting buy, a stop and an alert.
    let (tasks, core) = start(&settings, &data, false).await;
    let mut snaps = core.store.subscribe();
    let s = snapshot_until(&mut snaps, deadline, "a KRW-BTC price and the account", |s| {
        s.market.tickers.contains_key(&btc) && krw(s).is_some()
    })
    .await;
    let last = s.market.tickers[&btc].value.trade_price;
    // 3 % under the market (inside the risk gate's price band), on BTC's 1,000 KRW grid.
    let price = (last * Decimal::new(97, 2) / Decimal::from(1000)).floor() * Decimal::from(1000);
    accepted(&core, &mut snaps, &format!("buy 0.001 @ {price} KRW-BTC")).await;
    let stop = (last * Decimal::new(90, 2) / Decimal::from(1000)).floor() * Decimal::from(1000);
    accepted(&core, &mut snaps, &format!("stop KRW-BTC {stop}")).await;
    accepted(&core, &mut snaps, "alert KRW-BTC > 999999999999").await;
    let before = snapshot_until(&mut snaps, deadline, "the order resting and the stop armed", |s| {
        // Acknowledged: named by the exchange's uuid, not yet by our identifier (as it is
        // while in flight), which is how the restarted session will know it.
        s.account.open_orders.iter().any(|o| o.price == Some(price) && !o.uuid.starts_with("hoga-"))
            && s.account.rules.iter().any(|r| armed(r.state))
            && krw(s).is_some_and(|(_, locked)| locked > Decimal::ZERO)
            // The alert reaches the snapshot with its level (the chart draws it).
            && s.account.alerts.iter().any(|a| a.levels == [Decimal::from(999_999_999_999i64)])
    })
    .await;
    let before = seen(&before);
    assert_eq!(before.orders.len(), 1, "{before:?}");
    assert_eq!(before.rules.len(), 1, "{before:?}");
    kill(tasks, core, &data).await;

    // The account file is private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("demo-account.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The second session finds all of it again.
    let (tasks, core) = start(&settings, &data, false).await;
    // Each session has its own time: on a loaded machine the first can take most of a shared one.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut snaps = core.store.subscribe();
    // What differs is printed each time it changes: shown only if the wait times out.
    let last = std::cell::RefCell::new(None);
    let after = snapshot_until(&mut snaps, deadline, "the same account, order and stop", |s| {
        let now = seen(s);
        if now != before && last.borrow().as_ref() != Some(&now) {
            eprintln!("not yet the same: {now:?}\n  before: {before:?}");
            *last.borrow_mut() = Some(now.clone());
        }
        now == before
    })
    .await;
    assert_eq!(seen(&after), before);
    // And it says so on the status bar.
    let said = snapshot_until(&mut snaps, deadline, "the resumed session said", |s| {
        s.system.alerts.iter().any(|a| a.message.starts_with("demo session resumed"))
    })
    .await;
    let said = said.system.alerts.iter().map(|a| a.message.clone()).collect::<Vec<_>>();
    assert!(said.iter().any(|m| m == "demo session resumed (1 open order, 1 rule, 1 alert)"), "{said:?}");
    // The journal reconciled the order with the restored account: it is open, not lost.
    let journal = Journal::open_read_only(&data.join("journal-demo.sqlite")).unwrap();
    assert_eq!(journal.load_alerts().unwrap().len(), 1, "the alert is kept");
    assert_eq!(journal.open_orders().unwrap().len(), 1);
    drop(journal);
    kill(tasks, core, &data).await;

    // `--fresh`: a new session; the old one is moved aside, not deleted.
    let (tasks, core) = start(&settings, &data, true).await;
    // Each session has its own time: on a loaded machine the first can take most of a shared one.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut snaps = core.store.subscribe();
    let s = snapshot_until(&mut snaps, deadline, "the starting account", |s| {
        krw(s) == Some((Decimal::from(10_000_000), Decimal::ZERO))
    })
    .await;
    assert!(s.account.open_orders.is_empty() && s.account.rules.is_empty(), "{:?}", seen(&s));
    let s = snapshot_until(&mut snaps, deadline, "where the old session went, said", |s| {
        s.system.alerts.iter().any(|a| a.message.starts_with("new demo session; the previous one is kept in"))
    })
    .await;
    assert!(s.system.alerts.iter().all(|a| !a.message.contains("resumed")));
    let sessions: Vec<_> =
        std::fs::read_dir(data.join("demo-sessions")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    for f in ["demo-account.json", "journal-demo.sqlite"] {
        assert!(sessions[0].join(f).exists(), "{f} kept in {}", sessions[0].display());
    }
    kill(tasks, core, &data).await;
}

/// `hoga journal` exports the demo journal when the mode in use is demo (`--demo`): before,
/// it only ever read the live journal and said "nothing traded yet" after demo trades.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hoga_journal_exports_the_demo_journal() {
    let home = TempHome::new();
    let data = home.path().join("data").join("hoga");
    let mut settings = Settings::default();
    settings.demo.rate = 2;
    let btc = MarketId::new("KRW-BTC");
    let deadline = Instant::now() + Duration::from_secs(60);
    let (tasks, core) = start(&settings, &data, false).await;
    let mut snaps = core.store.subscribe();
    snapshot_until(&mut snaps, deadline, "a KRW-BTC price", |s| s.market.tickers.contains_key(&btc)).await;
    accepted(&core, &mut snaps, "buy 10000krw @ market KRW-BTC").await;
    snapshot_until(&mut snaps, deadline, "the fill", |s| s.account.fills.iter().any(|f| f.market == btc))
        .await;
    kill(tasks, core, &data).await;

    let run = |args: &[&str]| {
        let h = home.path();
        std::process::Command::new(env!("CARGO_BIN_EXE_hoga"))
            .args(args)
            .env_clear()
            .env("HOME", h)
            .env("XDG_CONFIG_HOME", h.join("config"))
            .env("XDG_DATA_HOME", h.join("data"))
            .env("XDG_STATE_HOME", h.join("state"))
            .output()
            .unwrap()
    };
    let out = run(&["journal", "--demo", "--csv"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("KRW-BTC"), "{text}");
    // With no flag the mode in use is the default one (demo): the same journal.
    let out = run(&["journal", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("KRW-BTC"));
    // Paper's is another file, and where it is not, it says which mode's is missing.
    let out = run(&["journal", "--mode", "paper"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no paper journal") && err.contains("journal-paper.sqlite"), "{err}");
}

/// A demo journal that is not a journal stops the start with the way out in the error
/// (`--fresh`), and `--fresh` sets it aside with the rest of the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_demo_journal_names_fresh_and_fresh_sets_it_aside() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("hoga");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("journal-demo.sqlite"), b"not a journal at all, just some bytes").unwrap();
    let settings = Settings::default();
    let tasks = TaskManager::new();
    let bus: Bus<AppEvent> = Bus::new(BusConfig::from_settings(&settings.bus));
    let opts = CoreOptions { data_dir: Some(data.clone()), ..CoreOptions::default() };
    let e = Core::start(&settings, opts, &tasks, bus).await.err().expect("a corrupt journal refused");
    assert!(format!("{e:#}").contains("hoga --demo --fresh"), "{e:#}");
    tasks.cancel_all();
    assert!(tasks.wait_all(Duration::from_secs(10)).await);
    drop(tasks);

    let (tasks, core) = start(&settings, &data, true).await;
    let sessions: Vec<_> =
        std::fs::read_dir(data.join("demo-sessions")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(sessions.len(), 1);
    assert_eq!(
        std::fs::read(sessions[0].join("journal-demo.sqlite")).unwrap(),
        b"not a journal at all, just some bytes"
    );
    kill(tasks, core, &data).await;
}

/// A second demo console while one keeps the session trades on an account of its own (as
/// demo always could) and says so, leaving the kept session to the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_demo_console_leaves_the_kept_session_alone_and_says_so() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("hoga");
    let settings = Settings::default();
    let deadline = Instant::now() + Duration::from_secs(60);
    let (tasks1, core1) = start(&settings, &data, false).await;
    let (tasks2, core2) = start(&settings, &data, false).await;
    let mut snaps = core2.store.subscribe();
    snapshot_until(&mut snaps, deadline, "the second console says whose session it is", |s| {
        s.system.alerts.iter().any(|a| a.message.starts_with("another console holds the demo session"))
    })
    .await;
    snapshot_until(&mut snaps, deadline, "the second console's account", |s| krw(s).is_some()).await;
    // The first still holds the session's lock.
    assert!(std::fs::File::open(data.join("journal-demo.lock")).unwrap().try_lock().is_err());
    tasks2.cancel_all();
    assert!(tasks2.wait_all(Duration::from_secs(10)).await);
    drop((core2, tasks2));
    kill(tasks1, core1, &data).await;
}

/// A demo account file that cannot be read, beside a journal that holds the session's
/// orders and fills, stops the start with the file and the way out (`--fresh`) in the
/// error, and leaves both files as they are; `--fresh` then moves them aside together.
/// Before, the account silently started afresh under the old journal, and the new
/// simulator handed out fill ids the journal already held (it dropped those fills).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_demo_account_stops_the_start_naming_the_file_and_fresh() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("hoga");
    let mut settings = Settings::default();
    settings.demo.rate = 2;
    let btc = MarketId::new("KRW-BTC");
    let deadline = Instant::now() + Duration::from_secs(60);
    let (tasks, core) = start(&settings, &data, false).await;
    let mut snaps = core.store.subscribe();
    snapshot_until(&mut snaps, deadline, "a KRW-BTC price", |s| s.market.tickers.contains_key(&btc)).await;
    accepted(&core, &mut snaps, "buy 10000krw @ market KRW-BTC").await;
    snapshot_until(&mut snaps, deadline, "the fill", |s| s.account.fills.iter().any(|f| f.market == btc))
        .await;
    kill(tasks, core, &data).await;

    let account = data.join("demo-account.json");
    let garbage = br#"{"version":1,"holdings":{"KRW":{"balance":"-1e30""#;
    std::fs::write(&account, garbage).unwrap();
    let tasks = TaskManager::new();
    let bus: Bus<AppEvent> = Bus::new(BusConfig::from_settings(&settings.bus));
    let opts = CoreOptions { data_dir: Some(data.clone()), ..CoreOptions::default() };
    let e = Core::start(&settings, opts, &tasks, bus).await.err().expect("an unreadable account refused");
    let e = format!("{e:#}");
    assert!(e.contains(&account.display().to_string()) && e.contains("hoga --demo --fresh"), "{e}");
    tasks.cancel_all();
    assert!(tasks.wait_all(Duration::from_secs(10)).await);
    drop(tasks);
    assert_eq!(std::fs::read(&account).unwrap(), garbage, "left as it was");
    let journal = Journal::open_read_only(&data.join("journal-demo.sqlite")).unwrap();
    assert!(journal.fill_count().unwrap() > 0, "the journal is kept");
    drop(journal);

    let (tasks, core) = start(&settings, &data, true).await;
    // Each session has its own time: on a loaded machine the first can take most of a shared one.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut snaps = core.store.subscribe();
    snapshot_until(&mut snaps, deadline, "the starting account", |s| {
        krw(s) == Some((Decimal::from(10_000_000), Decimal::ZERO))
    })
    .await;
    let sessions: Vec<_> =
        std::fs::read_dir(data.join("demo-sessions")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(sessions.len(), 1);
    assert_eq!(std::fs::read(sessions[0].join("demo-account.json")).unwrap(), garbage);
    assert!(sessions[0].join("journal-demo.sqlite").exists());
    kill(tasks, core, &data).await;
}

/// Found by a tester: after a restart the realized and today's P&L read 0 though the
/// session "resumed", and the average dropped the buy fee (the exchange's average buy
/// price replaced the order manager's). Now the journal is counted again at start: the
/// position (opened from the demo account's 0.05 BTC, then a buy and a sell with their
/// fees), its realized P&L and today's are the same after the restart as before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realized_and_todays_pnl_and_the_average_survive_a_restart() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("hoga");
    let mut settings = Settings::default();
    settings.demo.rate = 2;
    let btc = MarketId::new("KRW-BTC");
    let deadline = Instant::now() + Duration::from_secs(60);
    let pnl = |s: &Snapshot| (s.account.positions.get(&btc).cloned(), s.account.realized_day);

    let (tasks, core) = start(&settings, &data, false).await;
    let mut snaps = core.store.subscribe();
    snapshot_until(&mut snaps, deadline, "a KRW-BTC price and the BTC held", |s| {
        s.market.tickers.contains_key(&btc) && s.account.balances.iter().any(|b| b.currency == "BTC")
    })
    .await;
    accepted(&core, &mut snaps, "buy 100000krw @ market KRW-BTC").await;
    snapshot_until(&mut snaps, deadline, "the buy counted", |s| s.account.positions.contains_key(&btc)).await;
    accepted(&core, &mut snaps, "sell 0.002 @ market KRW-BTC").await;
    let before = snapshot_until(&mut snaps, deadline, "the sell realized, today", |s| {
        s.account.positions.get(&btc).is_some_and(|p| !p.realized().is_zero())
            && s.account.realized_day.is_some_and(|(_, v)| !v.is_zero())
            && s.account.open_orders.is_empty()
    })
    .await;
    let (position, today) = pnl(&before);
    let position = position.unwrap();
    let held = before.account.balances.iter().find(|b| b.currency == "BTC").unwrap().clone();
    assert_eq!(position.volume, held.balance + held.locked, "{position:?} {held:?}");
    // The average keeps the buy fee: above the exchange's, which leaves it out.
    assert!(position.avg_cost > held.avg_buy_price, "{position:?} {held:?}");
    kill(tasks, core, &data).await;

    let (tasks, core) = start(&settings, &data, false).await;
    // Each session has its own time: on a loaded machine the first can take most of a shared one.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut snaps = core.store.subscribe();
    // The Orders pane lists (and counts) the fills from before the restart too: it said
    // `0 fills` with the journal full of them.
    let ids = |s: &Snapshot| s.account.fills.iter().map(|f| f.trade_uuid.clone()).collect::<Vec<_>>();
    let fills = ids(&before);
    assert!(!fills.is_empty());
    let after =
        snapshot_until(&mut snaps, deadline, "the same position, realized, today's P&L, fills", |s| {
            pnl(s) == (Some(position.clone()), today)
                && s.account.balances.iter().any(|b| b.currency == "BTC")
                && ids(s) == fills
        })
        .await;
    assert_eq!(after.account.realized_total(), before.account.realized_total());
    assert_eq!(after.account.realized_today(chrono::Utc::now()), today.unwrap().1);
    kill(tasks, core, &data).await;
}
