//! The markets table's day lines (sparkline, 24 h high and low), read for the markets on
//! screen from the simulator's hourly candles, paced within the request budget.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use hoga::console::sparklines::{self, SparkConfig};
use hoga::exchange::types::MarketId;
use hoga::exchange::upbit::rest::{RestClient, RestConfig};
use hoga::feed::{FeedConfig, FeedManager};
use hoga::kernel::TaskManager;
use hoga::store::{Store, StoreConfig};
use tokio::sync::watch;
use tokio::time::Instant;

const CANDLES: &str = "/v1/candles/minutes/60";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn day_lines_arrive_for_the_markets_on_screen_paced_once_each_per_hour() {
    // Three hours of history: three or four hourly candles per market.
    let (sim_tasks, sim) = common::still_sim(12, |c| c.history_secs = 3 * 3600).await;
    let tasks = TaskManager::new();
    let store = Store::start(&tasks, StoreConfig::default());
    let rest = Arc::new(
        RestClient::new(
            RestConfig { base_url: format!("{}/v1", sim.rest_base), ..RestConfig::default() },
            None,
        )
        .unwrap(),
    );
    let feed = FeedManager::start(
        FeedConfig::new(rest.clone(), None).with_ws_base(sim.ws_public_url.trim_end_matches("/websocket/v1")),
        &tasks,
    );
    let markets: Vec<MarketId> = rest.market_all().await.unwrap().into_iter().map(|m| m.market).collect();
    assert!(markets.len() >= 10, "{markets:?}");
    sim.requests.clear();

    let per_second = 4;
    let (screen_tx, screen_rx) = watch::channel(Vec::new());
    sparklines::spawn(
        &tasks,
        &feed,
        store.clone(),
        screen_rx,
        SparkConfig { per_second, ..SparkConfig::default() },
    );
    // Nothing on screen: nothing is read.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sim.requests.count("GET", CANDLES), 0, "no market on screen, no request");

    let first: Vec<MarketId> = markets[..8].to_vec();
    let started = Instant::now();
    screen_tx.send_replace(first.clone());
    let mut snaps = store.subscribe();
    let snap = common::snapshot_until(
        &mut snaps,
        common::deadline_30s(),
        "a day line for every market on screen",
        |s| first.iter().all(|m| s.market.days.contains_key(m)),
    )
    .await;
    let took = started.elapsed();
    // Eight reads at four a second: the last cannot start before 7 gaps of 250 ms.
    assert!(took >= Duration::from_millis(1750), "8 reads in {took:?}: faster than {per_second}/s");
    assert_eq!(sim.requests.count("GET", CANDLES), 8, "one read per market");
    for m in &first {
        let day = snap.market.day(m).unwrap_or_else(|| panic!("{m}: a day to draw"));
        assert!(day.closes.len() >= 3, "{m}: three hours of history: {day:?}");
        assert!(day.low <= day.high, "{day:?}");
    }
    // The queries asked for Upbit's 24 hourly candles.
    let queries: Vec<String> =
        sim.requests.entries().into_iter().filter(|e| e.path == CANDLES).map(|e| e.detail).collect();
    assert!(queries.iter().all(|q| q.contains("count=24")), "{queries:?}");

    // Scrolling: two markets come into view, six stay; only the two new ones are read (the
    // others were read this hour already).
    let second: Vec<MarketId> = markets[2..10].to_vec();
    screen_tx.send_replace(second.clone());
    common::snapshot_until(&mut snaps, common::deadline_30s(), "the two new markets' day lines", |s| {
        second.iter().all(|m| s.market.days.contains_key(m))
    })
    .await;
    assert_eq!(sim.requests.count("GET", CANDLES), 10, "markets read this hour are not read again");

    tasks.cancel_all();
    sim.stop();
    drop(sim_tasks);
}

/// End to end on the demo console: the markets table says which markets it shows, their
/// day lines are read and drawn (zoomed, where the sparkline has room).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_draws_the_day_lines_of_the_markets_on_screen() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use hoga::bus::{Bus, BusConfig};
    use hoga::console::event::AppEvent;
    use hoga::console::{Core, CoreOptions};

    let (sim_tasks, sim) = common::still_sim(6, |c| c.history_secs = 3 * 3600).await;
    let settings = hoga::config::Settings::default();
    let tasks = TaskManager::new();
    let bus: Bus<AppEvent> = Bus::new(BusConfig::from_settings(&settings.bus));
    let store = Store::start(&tasks, StoreConfig::default());
    let (commands, cmd_rx) = common::command_channel();
    let mut app =
        common::headless_app(120, 40, hoga::ui::UiConfig::default(), store.subscribe(), commands.clone());
    let opts = CoreOptions {
        sim_url: Some(sim.rest_base.clone()),
        on_screen: Some(app.on_screen_watch()),
        ..CoreOptions::default()
    };
    let _core =
        Core::start_with(&settings, opts, &tasks, bus, (store.clone(), commands, cmd_rx)).await.unwrap();
    app.handle_key(KeyEvent::new(KeyCode::Char('z'), KeyModifiers::NONE));
    let deadline = Instant::now() + Duration::from_secs(20);
    let glyph = |c: char| ('▁'..='█').contains(&c);
    loop {
        app.on_snapshot();
        app.draw().unwrap();
        let screen = common::screen_text(app.terminal().backend().buffer());
        let lines =
            screen.lines().filter(|l| l.starts_with("│ ") && l.chars().filter(|c| glyph(*c)).count() >= 3);
        if lines.count() >= 6 {
            assert!(screen.contains("hi 24h") && screen.contains("lo 24h"), "{screen}");
            break;
        }
        assert!(Instant::now() < deadline, "no day lines drawn:\n{screen}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sim.requests.count("GET", CANDLES) <= 6, "one read per market on screen");
    tasks.cancel_all();
    sim.stop();
    drop(sim_tasks);
}
