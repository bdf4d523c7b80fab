//! The console's bus under load: does a trading request still go first while the Logging
//! lane is flooded?
//!
//! The console's real bus (`Bus<AppEvent>`, default lanes) with the console's log handler
//! (log records into a real store, as `console::subscribe_log` does) is flooded with
//! `HOGA_BENCH_LOGS` log records (default 200 000) from a publisher that never waits,
//! while `HOGA_BENCH_TRADES` trading requests (default 2 000) are published one every
//! 200 µs. Measured: publish → handler latency of each trading request, and of the log
//! records, p50 / p99.
//!
//! The yardstick, in the same run: the simplest reader that does the same job — one
//! unbounded FIFO channel and one consumer task handling both kinds in arrival order,
//! with the same handlers. There, a trading request waits behind every log record queued
//! before it.
//!
//! `cargo bench --bench bus`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{env_or, percentile};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use hoga::bus::{Bus, BusConfig, CorrelationId};
use hoga::console::event::AppEvent;
use hoga::kernel::TaskManager;
use hoga::logging::LogRecord;
use hoga::store::{Store, StoreConfig, StoreEvent, StoreHandle};
use hoga::trading::input::CancelTarget;
use hoga::trading::intent::{Requester, TradeIntent, TradeRequest};
use tokio::sync::mpsc;

fn summary(mut samples: Vec<Duration>) -> (usize, Duration, Duration) {
    samples.sort();
    if samples.is_empty() {
        return (0, Duration::ZERO, Duration::ZERO);
    }
    (samples.len(), percentile(&samples, 0.50), percentile(&samples, 0.99))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn log_record(seq: u64) -> LogRecord {
    LogRecord {
        seq,
        time: Utc::now(),
        level: tracing::Level::INFO,
        target: "hoga::feed::manager".into(),
        message: format!("frame {seq} routed to 3 subscribers"),
    }
}

/// The console's log handler: the record into the store (never waits).
fn to_store(store: &StoreHandle, rec: &LogRecord) {
    store.try_send(StoreEvent::LogRecord {
        level: hoga::store::LogLevel::of(rec.level),
        target: rec.target.clone(),
        message: rec.message.clone(),
        time: rec.time,
    });
}

#[derive(Default)]
struct Samples {
    sent: HashMap<CorrelationId, Instant>,
    trading: Vec<Duration>,
    logs: Vec<Duration>,
    log_sent: HashMap<u64, Instant>,
}

type Shared = Arc<Mutex<Samples>>;

fn trade() -> TradeRequest {
    TradeRequest::new(Requester::Ui, TradeIntent::Cancel(CancelTarget::All))
}

/// Every 16th log record is timed (timing them all would cost more than the handler).
const LOG_SAMPLE: u64 = 16;

fn on_trade(samples: &Shared, id: CorrelationId) {
    let mut s = samples.lock().unwrap();
    if let Some(t) = s.sent.remove(&id) {
        s.trading.push(t.elapsed());
    }
}

fn on_log(samples: &Shared, seq: u64) {
    if seq.is_multiple_of(LOG_SAMPLE) {
        let mut s = samples.lock().unwrap();
        if let Some(t) = s.log_sent.remove(&seq) {
            s.logs.push(t.elapsed());
        }
    }
}

async fn until_done(samples: &Shared, trades: usize, deadline: Duration) {
    let end = Instant::now() + deadline;
    while samples.lock().unwrap().trading.len() < trades && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The console's bus: lanes, one worker each.
async fn lanes(logs: u64, trades: usize) -> (Samples, Duration) {
    let tasks = TaskManager::new();
    let store = Store::start(&tasks, StoreConfig::default());
    let bus: Bus<AppEvent> = Bus::new(BusConfig::default());
    let samples: Shared = Arc::default();
    let (s, st) = (samples.clone(), store.clone());
    bus.subscribe(
        "store-log",
        |env| matches!(env.payload, AppEvent::Log(_)),
        move |env| {
            if let AppEvent::Log(rec) = &env.payload {
                to_store(&st, rec);
                on_log(&s, rec.seq);
            }
            async { Ok(()) }
        },
    );
    let s = samples.clone();
    bus.subscribe(
        "trading-desk",
        |env| matches!(env.payload, AppEvent::Trade(_)),
        move |env| {
            if let AppEvent::Trade(r) = &env.payload {
                on_trade(&s, r.id);
            }
            async { Ok(()) }
        },
    );
    bus.spawn_dispatcher(&tasks);
    let started = Instant::now();
    let flood = {
        let (bus, samples) = (bus.clone(), samples.clone());
        std::thread::spawn(move || {
            for seq in 1..=logs {
                if seq.is_multiple_of(LOG_SAMPLE) {
                    samples.lock().unwrap().log_sent.insert(seq, Instant::now());
                }
                // The log layer's way: never waits; a full lane drops the oldest.
                let _ = bus.try_publish("log", AppEvent::Log(log_record(seq)));
            }
        })
    };
    for _ in 0..trades {
        let r = trade();
        samples.lock().unwrap().sent.insert(r.id, Instant::now());
        bus.publish("ui", AppEvent::Trade(r)).await.unwrap();
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    flood.join().unwrap();
    until_done(&samples, trades, Duration::from_secs(60)).await;
    let took = started.elapsed();
    let m = bus.metrics();
    println!(
        "  lanes: logging published {} delivered {} dropped {}; trading delivered {}",
        m.lane(hoga::bus::Lane::Logging).published,
        m.lane(hoga::bus::Lane::Logging).delivered,
        m.lane(hoga::bus::Lane::Logging).dropped,
        m.lane(hoga::bus::Lane::Trading).delivered
    );
    tasks.cancel_all();
    tasks.wait_all(Duration::from_secs(5)).await;
    let out = std::mem::take(&mut *samples.lock().unwrap());
    (out, took)
}

/// The yardstick: one FIFO, one consumer, both kinds in arrival order.
async fn one_fifo(logs: u64, trades: usize) -> (Samples, Duration) {
    let tasks = TaskManager::new();
    let store = Store::start(&tasks, StoreConfig::default());
    let samples: Shared = Arc::default();
    let (tx, rx) = mpsc::unbounded_channel::<AppEvent>();
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let (s, st) = (samples.clone(), store.clone());
    tasks.spawn("bench", "fifo", move |cancel| async move {
        let mut rx = rx.lock().await;
        loop {
            let ev = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                ev = rx.recv() => match ev { Some(ev) => ev, None => return Ok(()) },
            };
            match &ev {
                AppEvent::Log(rec) => {
                    to_store(&st, rec);
                    on_log(&s, rec.seq);
                }
                AppEvent::Trade(r) => on_trade(&s, r.id),
                _ => {}
            }
        }
    });
    let started = Instant::now();
    let flood = {
        let (tx, samples) = (tx.clone(), samples.clone());
        std::thread::spawn(move || {
            for seq in 1..=logs {
                if seq.is_multiple_of(LOG_SAMPLE) {
                    samples.lock().unwrap().log_sent.insert(seq, Instant::now());
                }
                let _ = tx.send(AppEvent::Log(log_record(seq)));
            }
        })
    };
    for _ in 0..trades {
        let r = trade();
        samples.lock().unwrap().sent.insert(r.id, Instant::now());
        tx.send(AppEvent::Trade(r)).unwrap();
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    flood.join().unwrap();
    until_done(&samples, trades, Duration::from_secs(60)).await;
    let took = started.elapsed();
    tasks.cancel_all();
    tasks.wait_all(Duration::from_secs(5)).await;
    let out = std::mem::take(&mut *samples.lock().unwrap());
    (out, took)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` / `--all-targets` does not.
    if !std::env::args().any(|a| a == "--bench") {
        println!("bus bench: skipped (run it with `cargo bench --bench bus`)");
        return;
    }
    let logs = env_or("HOGA_BENCH_LOGS", 200_000);
    let trades = env_or("HOGA_BENCH_TRADES", 2_000) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!("bus under a log flood: {logs} log records, {trades} trading requests (one per 200 µs)");
    for (name, (s, took)) in [
        ("lanes (the console's bus)", rt.block_on(lanes(logs, trades))),
        ("one FIFO (yardstick)", rt.block_on(one_fifo(logs, trades))),
    ] {
        let (tn, t50, t99) = summary(s.trading);
        let (ln, l50, l99) = summary(s.logs);
        println!(
            "{name}: trading n={tn} p50={:.3} ms p99={:.3} ms | logging n={ln} (sampled) p50={:.3} ms p99={:.3} ms | wall {:.2} s",
            ms(t50),
            ms(t99),
            ms(l50),
            ms(l99),
            took.as_secs_f64()
        );
    }
}
