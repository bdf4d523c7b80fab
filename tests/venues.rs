//! The second venue in the console: Binance's market data from the simulator in a store of
//! its own, the market commands routed to the venue shown, trading refused while it is
//! shown, `[venues]` keeping it off in paper mode, and the System pane's Venues table.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{deadline_30s, snapshot_until};
use hoga::bus::{Bus, BusConfig};
use hoga::config::{Mode, Settings};
use hoga::console::event::AppEvent;
use hoga::console::{Core, CoreOptions};
use hoga::exchange::VenueId;
use hoga::exchange::types::MarketId;
use hoga::kernel::TaskManager;
use hoga::sim::{SimConfig, SimHandle};
use hoga::store::Snapshot;
use hoga::trading::intent::{LineIntent, Outcome, Requester, TradeRequest, parse_line};
use hoga::ui::UiCommand;

/// A ticking simulator (both venues' streams move) with a few markets.
async fn sim() -> (TaskManager, SimHandle) {
    let tasks = TaskManager::new();
    let cfg = SimConfig {
        markets: Some(6),
        history_secs: 120,
        tick_interval: Duration::from_millis(100),
        ..SimConfig::default()
    };
    let sim = hoga::sim::start(cfg, &tasks).await.unwrap();
    (tasks, sim)
}

/// The core on `sim` with `settings` (demo: as `hoga --demo --sim URL` runs it).
async fn core_on(
    sim: &SimHandle,
    settings: &Settings,
    journal: Option<std::path::PathBuf>,
) -> (TaskManager, Core) {
    let tasks = TaskManager::new();
    let bus: Bus<AppEvent> = Bus::new(BusConfig::from_settings(&settings.bus));
    let sim_url = (settings.general.mode == Mode::Demo).then(|| sim.rest_base.clone());
    let opts = CoreOptions { sim_url, journal, ..CoreOptions::default() };
    let core = Core::start(settings, opts, &tasks, bus).await.unwrap();
    (tasks, core)
}

/// Paper mode on the simulator's Upbit side, with Binance's URLs pointed at the
/// simulator too (so a connection, if any were made, would show in its request log).
fn paper_on(sim: &SimHandle) -> Settings {
    let mut s = Settings::default();
    s.general.mode = Mode::Paper;
    s.exchange.rest_url = format!("{}/v1", sim.rest_base);
    s.exchange.ws_url = sim.ws_public_url.clone();
    s.venues.binance_rest_url = sim.rest_base.clone();
    s.venues.binance_ws_url = format!("ws://{}", sim.addr);
    s
}

fn binance_requests(sim: &SimHandle) -> Vec<String> {
    sim.requests
        .entries()
        .iter()
        .filter(|r| r.path.starts_with("/api/") || r.path.starts_with("/stream") || r.path.starts_with("/ws"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn venues_rows(s: &Snapshot) -> Vec<Vec<String>> {
    s.system.table("Venues").map(|(_, rows)| rows.to_vec()).unwrap_or_default()
}

fn row_of(s: &Snapshot, venue: &str) -> Option<Vec<String>> {
    venues_rows(s).into_iter().find(|r| r.first().map(String::as_str) == Some(venue))
}

/// In demo the Binance store fills with USDT markets and tickers; after `:venue binance`
/// the selection goes to Binance (its book and trades for USDT-BTC fill its store) while
/// Upbit's store keeps its own selection, and back on Upbit the next selection is Upbit's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binance_store_follows_its_own_selection() {
    let (sim_tasks, sim) = sim().await;
    let (tasks, core) = core_on(&sim, &Settings::default(), None).await;
    let binance = core.venue_store.clone().expect("demo turns Binance on");
    let mut b = binance.subscribe();
    let mut u = core.store.subscribe();
    let s = snapshot_until(&mut b, deadline_30s(), "Binance's USDT markets and tickers", |s| {
        !s.market.markets.is_empty() && !s.market.tickers.is_empty()
    })
    .await;
    assert!(s.market.markets.iter().all(|m| m.market.quote() == "USDT"), "{:?}", s.market.markets);
    assert!(s.market.tickers.keys().all(|m| m.quote() == "USDT"));
    assert_eq!(s.account.exchange, "Binance (simulator)");

    let krw_btc = MarketId::new("KRW-BTC");
    let usdt_btc = MarketId::new("USDT-BTC");
    core.commands.send(UiCommand::SelectMarket(krw_btc.clone())).unwrap();
    snapshot_until(&mut u, deadline_30s(), "Upbit's KRW-BTC book", |s| s.market.books.contains_key(&krw_btc))
        .await;

    core.commands.send(UiCommand::SetVenue(VenueId::Binance)).unwrap();
    core.commands.send(UiCommand::SelectMarket(usdt_btc.clone())).unwrap();
    snapshot_until(&mut b, deadline_30s(), "Binance's USDT-BTC book and trades", |s| {
        s.market.books.contains_key(&usdt_btc)
            && s.market.trades.get(&usdt_btc).is_some_and(|t| !t.is_empty())
    })
    .await;
    let s = core.store.snapshot();
    assert!(!s.market.books.contains_key(&usdt_btc), "Upbit's store got Binance's selection");
    // Upbit's book stays KRW-BTC's and still updates.
    let seen = s.market.books.get(&krw_btc).map(|b| b.value.timestamp).unwrap_or(0);
    snapshot_until(&mut u, deadline_30s(), "Upbit's KRW-BTC book still updating", |s| {
        s.market.books.get(&krw_btc).is_some_and(|b| b.value.timestamp > seen)
    })
    .await;
    assert!(!binance.snapshot().market.books.contains_key(&krw_btc));

    // Back on Upbit: the next selection is Upbit's again.
    let krw_eth = MarketId::new("KRW-ETH");
    core.commands.send(UiCommand::SetVenue(VenueId::Upbit)).unwrap();
    core.commands.send(UiCommand::SelectMarket(krw_eth.clone())).unwrap();
    snapshot_until(&mut u, deadline_30s(), "Upbit's KRW-ETH book", |s| s.market.books.contains_key(&krw_eth))
        .await;
    assert!(!binance.snapshot().market.books.contains_key(&krw_eth));
    tasks.cancel_all();
    sim_tasks.cancel_all();
}

/// While Binance is shown, a new order is refused by the console itself (whatever the UI
/// let through), with a reply saying how to trade; a cancel still goes to Upbit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trade_while_binance_is_shown_is_refused() {
    let (sim_tasks, sim) = sim().await;
    let (tasks, core) = core_on(&sim, &Settings::default(), None).await;
    let mut u = core.store.subscribe();
    let request = |line: &str| match parse_line(line, None).unwrap() {
        LineIntent::Trade(intent) => TradeRequest::new(Requester::Ui, intent),
        other => panic!("{other:?}"),
    };
    let reply = async |u: &mut tokio::sync::watch::Receiver<Arc<Snapshot>>, req: &TradeRequest| {
        let s = snapshot_until(u, deadline_30s(), "the reply", |s| {
            s.account.replies.iter().any(|r| r.id == req.id)
        })
        .await;
        s.account.replies.iter().find(|r| r.id == req.id).map(|r| r.outcome.clone()).unwrap()
    };
    core.commands.send(UiCommand::SetVenue(VenueId::Binance)).unwrap();
    // The venue switch and the order travel on different channels: wait until the switch
    // is through (its market selection reaches Binance's store).
    let usdt_btc = MarketId::new("USDT-BTC");
    core.commands.send(UiCommand::SelectMarket(usdt_btc.clone())).unwrap();
    let mut b = core.venue_store.clone().unwrap().subscribe();
    snapshot_until(&mut b, deadline_30s(), "Binance's USDT-BTC book", |s| {
        s.market.books.contains_key(&usdt_btc)
    })
    .await;

    let buy = request("buy 10000krw @ market KRW-BTC");
    core.commands.send(UiCommand::Trade(buy.clone())).unwrap();
    match reply(&mut u, &buy).await {
        Outcome::Denied(why) => assert!(why.contains("read-only") && why.contains(":venue upbit"), "{why}"),
        other => panic!("a buy while Binance is shown: {other:?}"),
    }
    let stop = request("stop KRW-BTC 1000");
    core.commands.send(UiCommand::Trade(stop.clone())).unwrap();
    assert!(matches!(reply(&mut u, &stop).await, Outcome::Denied(w) if w.contains("read-only")));
    assert_eq!(sim.requests.count("POST", "/v1/orders"), 0);
    let cancel = request("cancel all");
    core.commands.send(UiCommand::Trade(cancel.clone())).unwrap();
    assert!(matches!(reply(&mut u, &cancel).await, Outcome::Accepted(_)), "a cancel acts on Upbit");

    // Back on Upbit the same order goes through.
    core.commands.send(UiCommand::SetVenue(VenueId::Upbit)).unwrap();
    core.commands.send(UiCommand::SelectMarket(MarketId::new("KRW-BTC"))).unwrap();
    let outcome = common::poll(
        "a buy accepted on Upbit",
        Duration::from_secs(30),
        Duration::from_millis(50),
        async || {
            let buy = request("buy 10000krw @ market KRW-BTC");
            core.commands.send(UiCommand::Trade(buy.clone())).unwrap();
            let o = reply(&mut u, &buy).await;
            (!matches!(&o, Outcome::Denied(w) if w.contains("read-only"))).then_some(o)
        },
    )
    .await;
    assert!(matches!(outcome, Outcome::Accepted(_)), "{outcome:?}");
    tasks.cancel_all();
    sim_tasks.cancel_all();
}

/// The System pane's Venues table has a row per venue: Upbit's and Binance's connections
/// both up in demo, with their streams and REST state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_venues_table_lists_both_venues() {
    let (sim_tasks, sim) = sim().await;
    let (tasks, core) = core_on(&sim, &Settings::default(), None).await;
    let mut u = core.store.subscribe();
    let s = snapshot_until(&mut u, deadline_30s(), "both venues connected in the Venues table", |s| {
        let up = |v| row_of(s, v).is_some_and(|r| r[1] == "connected");
        up("Upbit") && up("Binance")
    })
    .await;
    let header = s.system.table("Venues").unwrap().0.to_vec();
    assert_eq!(header[0], "venue");
    for v in ["Upbit", "Binance"] {
        let r = row_of(&s, v).unwrap();
        assert_eq!(r.len(), header.len(), "{r:?}");
        assert!(r[3].parse::<usize>().unwrap() > 0, "{v} subscribes streams: {r:?}");
        assert!(r[7].starts_with("ok"), "{v}'s REST: {r:?}");
    }
    // Binance budgets its REST calls by weight a minute: the table says how much is used.
    let r = row_of(&s, "Binance").unwrap();
    assert!(r[7].contains("weight ") && r[7].contains('/'), "{r:?}");
    tasks.cancel_all();
    sim_tasks.cancel_all();
}

/// Paper mode leaves Binance off unless `[venues] binance = true`: no request reaches it
/// (its URLs point at the simulator, whose log would show one), the Venues table says how
/// to turn it on, and `:venue binance` is answered on the status bar. Turned on, the same
/// settings do connect (the log can tell).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paper_mode_makes_no_binance_connection_unless_turned_on() {
    let (sim_tasks, sim) = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = paper_on(&sim);
    let (tasks, core) = core_on(&sim, &settings, Some(dir.path().join("journal-paper.sqlite"))).await;
    assert!(core.venue_store.is_none());
    let mut u = core.store.subscribe();
    let s = snapshot_until(&mut u, deadline_30s(), "Upbit's tickers and the Venues table", |s| {
        !s.market.tickers.is_empty() && row_of(s, "Binance").is_some() && row_of(s, "Upbit").is_some()
    })
    .await;
    let row = row_of(&s, "Binance").unwrap();
    assert_eq!(row[1], "off");
    assert!(row.last().unwrap().contains("[venues] binance = true"), "{row:?}");
    core.commands.send(UiCommand::SetVenue(VenueId::Binance)).unwrap();
    snapshot_until(&mut u, deadline_30s(), "the alert that Binance is off", |s| {
        s.system.alerts.iter().any(|a| a.message.contains("Binance is off: set [venues] binance = true"))
    })
    .await;
    // Still Upbit's: the next selection reaches Upbit's store.
    let krw_btc = MarketId::new("KRW-BTC");
    core.commands.send(UiCommand::SelectMarket(krw_btc.clone())).unwrap();
    snapshot_until(&mut u, deadline_30s(), "Upbit's KRW-BTC book", |s| s.market.books.contains_key(&krw_btc))
        .await;
    assert_eq!(binance_requests(&sim), Vec::<String>::new());
    tasks.cancel_all();

    let mut on = settings.clone();
    on.venues.binance = Some(true);
    let dir = tempfile::tempdir().unwrap();
    let (tasks, core) = core_on(&sim, &on, Some(dir.path().join("journal-paper.sqlite"))).await;
    let binance = core.venue_store.clone().expect("[venues] binance = true turns it on");
    let mut b = binance.subscribe();
    snapshot_until(&mut b, deadline_30s(), "Binance's store named", |s| s.account.exchange == "Binance")
        .await;
    common::poll("a request to Binance", Duration::from_secs(30), Duration::from_millis(20), async || {
        (!binance_requests(&sim).is_empty()).then_some(())
    })
    .await;
    tasks.cancel_all();
    sim_tasks.cancel_all();
}

/// Paper on the simulator with Binance on at a port nothing listens on (bound, then let go).
fn binance_dead(sim: &SimHandle) -> Settings {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut settings = paper_on(sim);
    settings.venues.binance = Some(true);
    settings.venues.binance_rest_url = format!("http://{dead}");
    settings.venues.binance_ws_url = format!("ws://{dead}");
    settings
}

/// Binance down (nothing listens at its URLs) costs Upbit nothing: Upbit's feed stays
/// healthy, trading stays normal, and the Venues table says Binance is reconnecting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binance_outage_leaves_upbit_and_trading_alone() {
    let (sim_tasks, sim) = sim().await;
    let settings = binance_dead(&sim);
    let dir = tempfile::tempdir().unwrap();
    let (tasks, core) = core_on(&sim, &settings, Some(dir.path().join("journal-paper.sqlite"))).await;
    let krw_btc = MarketId::new("KRW-BTC");
    core.commands.send(UiCommand::SelectMarket(krw_btc.clone())).unwrap();
    core.commands.send(UiCommand::SetVenue(VenueId::Binance)).unwrap();
    core.commands.send(UiCommand::SelectMarket(MarketId::new("USDT-BTC"))).unwrap();
    let mut u = core.store.subscribe();
    let s = snapshot_until(&mut u, deadline_30s(), "Binance reconnecting in the Venues table", |s| {
        // Out for a few seconds: the safety watch (every second) has seen it by then.
        let out_secs = |r: &Vec<String>| r[2].strip_suffix('s').and_then(|n| n.parse::<u64>().ok());
        row_of(s, "Binance")
            .is_some_and(|r| (r[1] == "reconnecting" || r[1] == "down") && out_secs(&r) >= Some(3))
            && row_of(s, "Upbit").is_some_and(|r| r[1] == "connected")
    })
    .await;
    assert_eq!(s.system.feed.health, hoga::feed::Health::Healthy, "{:?}", s.system.feed.reasons);
    assert_eq!(s.account.trading_state, hoga::store::TradingState::Active);
    assert!(
        s.system.streams.iter().all(|st| st.state != hoga::store::StreamState::Reconnecting),
        "{:?}",
        s.system.streams
    );
    // Its market list cannot load: the REST column says so and why (it read `ok`), and
    // Binance's store carries the reason for its markets pane.
    snapshot_until(&mut u, deadline_30s(), "Binance's REST column saying the list fails", |s| {
        row_of(s, "Binance").is_some_and(|r| r[7].starts_with("market list failing: "))
    })
    .await;
    let b = core.venue_store.clone().unwrap().snapshot();
    let failed = b.market.markets_failed.clone().expect("the failure in Binance's store");
    assert!(!failed.error.is_empty() && b.market.markets.is_empty(), "{failed:?}");
    tasks.cancel_all();
    sim_tasks.cancel_all();
}

/// The USDT premium (KRW-USDT against the reference rate) needs neither Binance nor its
/// market list: with Binance unreachable it is on the board (and a `KRW-USDT kimpfx`
/// alert can fire); the board waited for both lists before anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_usdt_premium_stands_while_binance_is_down() {
    let (sim_tasks, sim) = sim().await;
    let mut settings = binance_dead(&sim);
    settings.premium.usd_krw = Some(rust_decimal_macros::dec!(1400));
    let dir = tempfile::tempdir().unwrap();
    let (tasks, core) = core_on(&sim, &settings, Some(dir.path().join("journal-paper.sqlite"))).await;
    let mut u = core.store.subscribe();
    let s = snapshot_until(&mut u, deadline_30s(), "the USDT premium on the board", |s| {
        s.market.premium.usdt_vs_ref.is_some()
    })
    .await;
    let board = &s.market.premium;
    assert!(board.rows.is_empty() && board.paired.is_empty(), "no pair without Binance's list");
    let (usdt, vs_ref) = (board.krw_usdt.unwrap(), board.usdt_vs_ref.unwrap());
    assert_eq!(vs_ref, usdt / rust_decimal_macros::dec!(1400) - rust_decimal::Decimal::ONE);
    tasks.cancel_all();
    sim_tasks.cancel_all();
}

/// The markets table's day lines come from each market's own venue: with both venues'
/// markets on screen, Binance's store gets USDT-BTC's and Upbit's KRW-BTC's, and neither
/// asks the other venue for a market it does not list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn day_lines_come_from_each_markets_own_venue() {
    let (sim_tasks, sim) = sim().await;
    let settings = Settings::default();
    let tasks = TaskManager::new();
    let bus: Bus<AppEvent> = Bus::new(BusConfig::from_settings(&settings.bus));
    let (krw_btc, usdt_btc) = (MarketId::new("KRW-BTC"), MarketId::new("USDT-BTC"));
    let (_screen, on_screen) = tokio::sync::watch::channel(vec![krw_btc.clone(), usdt_btc.clone()]);
    let opts = CoreOptions {
        sim_url: Some(sim.rest_base.clone()),
        on_screen: Some(on_screen),
        ..CoreOptions::default()
    };
    let core = Core::start(&settings, opts, &tasks, bus).await.unwrap();
    let mut b = core.venue_store.clone().unwrap().subscribe();
    let mut u = core.store.subscribe();
    snapshot_until(&mut b, deadline_30s(), "USDT-BTC's day line from Binance", |s| {
        s.market.days.contains_key(&usdt_btc)
    })
    .await;
    snapshot_until(&mut u, deadline_30s(), "KRW-BTC's day line from Upbit", |s| {
        s.market.days.contains_key(&krw_btc)
    })
    .await;
    // Each store holds day lines of its own venue's markets only (USDT-BTC is listed on
    // both: Upbit has USDT markets too, so Upbit may read its own USDT-BTC).
    for store in [&core.store, core.venue_store.as_ref().unwrap()] {
        let s = store.snapshot();
        for m in s.market.days.keys() {
            assert!(
                s.market.markets.iter().any(|i| &i.market == m),
                "{m} is not listed where its day line is"
            );
        }
    }
    assert!(!core.venue_store.as_ref().unwrap().snapshot().market.days.contains_key(&krw_btc));
    let upbit_lists = |m: &str| core.store.snapshot().market.markets.iter().any(|i| i.market.as_str() == m);
    let asked_upbit_for_unlisted = sim.requests.entries().iter().any(|r| {
        r.path.starts_with("/v1/candles")
            && r.detail.split('&').filter_map(|kv| kv.strip_prefix("market=")).any(|m| !upbit_lists(m))
    });
    assert!(!asked_upbit_for_unlisted, "Upbit was asked for a market it does not list");
    tasks.cancel_all();
    sim_tasks.cancel_all();
}
