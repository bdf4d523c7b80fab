//! Orders and keys: (1) the journal's cost per intent — one durable `record_intent`
//! (SQLite WAL, synchronous FULL, a real file) and the ack update after it; (2) the whole
//! console core in demo mode (embedded simulator over loopback, feed, bus, router, order
//! manager, journal) with a headless UI, under a demo stream of `HOGA_BENCH_RATE`
//! simulated trades/s (default 1000): key press → next frame drawn (cursor keys in the
//! markets pane), then key press → order acknowledged on screen (`:buy` typed, timed
//! from the Enter key event to a frame drawn from the store version that holds the fill;
//! a market order's acknowledgement is its fill); (3) key press → next frame again, in
//! paper mode against a `hoga sim` process flooding tickers at `HOGA_BENCH_FLOOD` msgs/s
//! (default 50000, 0 skips it; docs/PERFORMANCE.md: "also under a 50k msgs/s feed"), with the
//! rate the feed actually received and the bench process's CPU over the window.
//! `cargo bench --bench orders`; `HOGA_BENCH_ORDERS` (default 100) and
//! `HOGA_BENCH_INTENTS` (default 500) set the counts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use hoga::bus::{Bus, BusConfig};
use hoga::config::Settings;
use hoga::console::event::AppEvent;
use hoga::console::{Core, CoreOptions};
use hoga::exchange::types::{MarketId, Side};
use hoga::kernel::TaskManager;
use hoga::trading::journal::{Journal, JournalOptions};
use hoga::trading::orders::{LocalState, OrderRequest, TrackedOrder};
use hoga::ui::app::channel_input;
use hoga::ui::keymap::Keymap;
use hoga::ui::{App, ColorSupport, UiConfig};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rust_decimal_macros::dec;
use tokio::sync::{mpsc, watch};

mod common;
use common::{env_or, percentile};

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{what}: n={} p50={:.3} ms p99={:.3} ms max={:.3} ms",
        samples.len(),
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

fn journal_cost(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(&dir.path().join("journal.sqlite"), &JournalOptions::default()).unwrap();
    let mut intents = Vec::with_capacity(n);
    let mut acks = Vec::with_capacity(n);
    for i in 0..n {
        let req = OrderRequest::limit(MarketId::new("KRW-BTC"), Side::Bid, dec!(95000000), dec!(0.001));
        let mut t = TrackedOrder::new(format!("bench-{i:06}"), req);
        let start = Instant::now();
        journal.record_intent(&t, "manual").unwrap();
        intents.push(start.elapsed());
        t.uuid = Some(format!("uuid-{i}"));
        t.state = LocalState::Accepted;
        let start = Instant::now();
        journal.update_order(&t).unwrap();
        acks.push(start.elapsed());
    }
    report("journal record_intent (fsync'd, WAL)", intents);
    report("journal ack update", acks);
}

async fn key(tx: &mpsc::Sender<Event>, code: KeyCode) {
    tx.send(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))).await.unwrap();
}

/// Key press → next frame: cursor down / up in the markets pane, `n` times, 20 ms apart.
async fn key_to_frame(
    key_tx: &mpsc::Sender<Event>,
    frames: &mut watch::Receiver<u64>,
    n: usize,
) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let before = *frames.borrow_and_update();
        let start = Instant::now();
        key(key_tx, if i % 2 == 0 { KeyCode::Down } else { KeyCode::Up }).await;
        while *frames.borrow_and_update() <= before {
            frames.changed().await.unwrap();
        }
        samples.push(start.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    samples
}

/// The headless console (120x40 `TestBackend`) on `core`, fed keys from the returned
/// sender.
fn headless_app(
    settings: &Settings,
    core: &Core,
) -> (App<TestBackend>, mpsc::Sender<Event>, mpsc::Receiver<Event>) {
    let (key_tx, key_rx) = mpsc::channel(1024);
    let app = App::new(
        Terminal::new(TestBackend::new(120, 40)).unwrap(),
        UiConfig { fps: settings.ui.fps, ..UiConfig::default() },
        Keymap::default_keymap().unwrap(),
        ColorSupport::TrueColor,
        core.store.subscribe(),
        core.commands.clone(),
    );
    (app, key_tx, key_rx)
}

/// Key press → next frame while a `hoga sim` process floods tickers over its 20 KRW
/// markets (and the BTC / USDT ones) at `rate` msgs/s; the console subscribes to every
/// ticker, so all of them reach it. Paper mode, the real feed and store, headless UI.
async fn key_under_flood(rate: u64) {
    let Some(bin) = common::locate_binary() else {
        println!("key press under a flood: no release `hoga` binary (cargo build --release); skipped");
        return;
    };
    let port = 17_741u16;
    let rate_arg = rate.to_string();
    let flood =
        ["--flood", "1000000000", "--flood-rate", &rate_arg, "--flood-mix", "1:0:0", "--no-rate-limits"];
    let Some(mut sim) = common::external_sim(&bin, &flood, port) else {
        println!("key press under a flood: could not start `hoga sim`; skipped");
        return;
    };
    let tasks = TaskManager::new();
    let mut settings = Settings::default();
    settings.general.mode = hoga::config::Mode::Paper;
    settings.exchange.rest_url = format!("http://127.0.0.1:{port}/v1");
    settings.exchange.ws_url = format!("ws://127.0.0.1:{port}");
    let bus: Bus<AppEvent> = Bus::new(BusConfig::from_settings(&settings.bus));
    let core = Core::start(&settings, CoreOptions::default(), &tasks, bus).await.unwrap();
    let (mut app, key_tx, key_rx) = headless_app(&settings, &core);
    let mut frames = app.frames_watch();
    let mut snaps = core.store.subscribe();
    let cancel = tasks.root_token();
    let driver = async {
        // Wait for the flood to reach the store, then for the rate to settle.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while snaps.borrow_and_update().system.feed.msgs_per_sec() == 0 {
            if tokio::time::timeout_at(deadline, snaps.changed()).await.is_err() {
                println!("key press under a flood: no feed rate within 20 s; skipped");
                cancel.cancel();
                return;
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let cpu0 = common::cpu_ns(std::process::id());
        let t0 = Instant::now();
        let samples = key_to_frame(&key_tx, &mut frames, 400).await;
        let cpu = (common::cpu_ns(std::process::id()) - cpu0) as f64 / t0.elapsed().as_nanos() as f64;
        let received = snaps.borrow().system.feed.msgs_per_sec();
        println!(
            "under a ticker flood of {rate} msgs/s: the feed received {received} msgs/s (status bar figure), \
             bench process CPU {:.1}% of one core",
            cpu * 100.0
        );
        report("key press -> next frame drawn, flood", samples);
        cancel.cancel();
    };
    let (run, ()) = tokio::join!(app.run(tasks.root_token(), channel_input(key_rx)), driver);
    run.unwrap();
    tasks.cancel_all();
    let _ = sim.kill();
    let _ = sim.wait();
}

async fn key_to_ack(n: usize) {
    let tasks = TaskManager::new();
    let mut settings = Settings::default();
    // The subject is the order path, not the gate's per-minute limit.
    settings.trading.max_orders_per_minute = 100_000;
    settings.demo.rate = env_or("HOGA_BENCH_RATE", 1000) as u32;
    println!(
        "demo stream: {} simulated trades/s (each with its ticker, book and candle)",
        settings.demo.rate
    );
    let bus: Bus<AppEvent> = Bus::new(BusConfig::from_settings(&settings.bus));
    let core = Core::start(&settings, CoreOptions::default(), &tasks, bus).await.unwrap();
    let (mut app, key_tx, key_rx) = headless_app(&settings, &core);
    let mut drawn = app.drawn_version_watch();
    let mut frames = app.frames_watch();
    let mut snaps = core.store.subscribe();
    let cancel = tasks.root_token();
    let driver = async {
        // Wait for a live price of the market traded.
        let eth = MarketId::new("KRW-ETH");
        loop {
            if snaps.borrow_and_update().market.tickers.contains_key(&eth) {
                break;
            }
            snaps.changed().await.unwrap();
        }
        report("key press -> next frame drawn", key_to_frame(&key_tx, &mut frames, 200).await);
        eprintln!("placing {n} orders");
        let mut samples = Vec::with_capacity(n);
        let mut to_store = Vec::with_capacity(n);
        let mut rejected = 0;
        for i in 0..n {
            // Alternate buys and sells so the demo account neither runs dry nor piles up.
            let line = if i % 2 == 0 { "buy 0.01 KRW-ETH @ market" } else { "sell 0.01 KRW-ETH @ market" };
            let last_fill = |s: &hoga::store::Snapshot| s.account.fills.front().map(|f| f.trade_uuid.clone());
            // Newest alert first: a new "rejected: …" at the front is this order's.
            let newest =
                |s: &hoga::store::Snapshot| s.system.alerts.front().map(|a| (a.time, a.message.clone()));
            let alerts_before = newest(&snaps.borrow());
            let before = last_fill(&snaps.borrow_and_update());
            key(&key_tx, KeyCode::Char(':')).await;
            for c in line.chars() {
                key(&key_tx, KeyCode::Char(c)).await;
            }
            let start = Instant::now();
            let order_deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            key(&key_tx, KeyCode::Enter).await;
            // The fill (the demo's acknowledgement of a market order) in the store...
            let version = loop {
                let s = snaps.borrow_and_update().clone();
                if last_fill(&s) != before {
                    break Some(s.version);
                }
                if let Some((t, m)) = newest(&s)
                    && Some((t, m.clone())) != alerts_before
                    && m.starts_with("rejected")
                {
                    eprintln!("order {i} {m}");
                    break None;
                }
                if tokio::time::timeout_at(order_deadline, snaps.changed()).await.is_err() {
                    let s = snaps.borrow();
                    panic!(
                        "order {i}: no fill within 10 s; newest alerts: {:?}; open orders: {:#?}; \
                         last log lines: {:#?}",
                        s.system.alerts.iter().take(5).map(|a| &a.message).collect::<Vec<_>>(),
                        s.account.open_orders,
                        s.system
                            .logs
                            .iter()
                            .rev()
                            .take(30)
                            .map(|l| format!("{} {}", l.target, l.message))
                            .collect::<Vec<_>>()
                    );
                }
            };
            let Some(version) = version else {
                rejected += 1;
                continue;
            };
            to_store.push(start.elapsed());
            // ... and a frame showing that snapshot (or a later one) drawn.
            while *drawn.borrow_and_update() < version {
                drawn.changed().await.unwrap();
            }
            samples.push(start.elapsed());
            // Upbit allows 12 orders/s per key; faster than that the client rests the
            // order group for a second (a 1 s tail here). 8/s stays clear of it.
            tokio::time::sleep(Duration::from_millis(125)).await;
        }
        println!("{n} orders, {rejected} rejected");
        report("key press (Enter) -> fill in the store, demo", to_store);
        report("key press (Enter) -> fill on screen, demo", samples);
        cancel.cancel();
    };
    let (run, ()) = tokio::join!(app.run(tasks.root_token(), channel_input(key_rx)), driver);
    run.unwrap();
    if let Some(sim) = &core.sim {
        sim.stop();
    }
    tasks.cancel_all();
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` / `--all-targets` does not.
    if !std::env::args().any(|a| a == "--bench") {
        println!("orders bench: skipped (run it with `cargo bench --bench orders`)");
        return;
    }
    // Paper mode keeps its journal (and its lock) under the data directory: give the
    // bench its own, so it neither writes into the user's nor collides with a running
    // console. Set before any other thread exists.
    let data = tempfile::tempdir().unwrap();
    // SAFETY: main has not started any thread yet; nothing reads the environment
    // concurrently.
    unsafe { std::env::set_var("XDG_DATA_HOME", data.path()) };
    // HOGA_BENCH_LOG=debug (an env filter) writes the console's log to stderr.
    if let Ok(filter) = std::env::var("HOGA_BENCH_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }
    journal_cost(env_or("HOGA_BENCH_INTENTS", 500) as usize);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(key_to_ack(env_or("HOGA_BENCH_ORDERS", 100) as usize));
    let flood = env_or("HOGA_BENCH_FLOOD", 50_000);
    if flood > 0 {
        rt.block_on(key_under_flood(flood));
    }
}
