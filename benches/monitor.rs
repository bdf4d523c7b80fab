//! Tick-to-exit latency of the trading monitor: time from handing it a tick that crosses
//! a stop to the `PlaceExit` action arriving on the order manager's channel, p50/p99,
//! while a background flood of ticks (default 50k msgs/s over 100 other markets, each
//! with a rule to evaluate) runs. `cargo bench --bench monitor`; `HOGA_BENCH_ITERS` and
//! `HOGA_BENCH_FLOOD` (msgs/s) override the defaults.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{env_or, percentile};

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hoga::exchange::types::MarketId;
use hoga::kernel::TaskManager;
use hoga::notify::NotifySender;
use hoga::trading::monitor::{
    ExitEvent, Monitor, MonitorAction, MonitorConfig, MonitorDeps, TradingStateHandle,
};
use hoga::trading::rules::{Level, Rule, RuleKind};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` / `--all-targets` does not, and
    // gets a quick skip instead of minutes of measuring.
    if !std::env::args().any(|a| a == "--bench") {
        println!("monitor bench: skipped (run it with `cargo bench --bench monitor`)");
        return;
    }
    let iters = env_or("HOGA_BENCH_ITERS", 2000) as usize;
    let flood_rate = env_or("HOGA_BENCH_FLOOD", 50_000);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let tasks = TaskManager::new();
        // Notifications are not the subject here: a large queue drained by a task.
        let (notify, mut notes) = NotifySender::channel(1 << 16);
        tasks.spawn("bench", "drain notes", move |cancel| async move {
            loop {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    n = notes.recv() => if n.is_none() { return Ok(()) },
                }
            }
        });
        let trading = TradingStateHandle::new();
        let (monitor, mut actions) =
            Monitor::spawn(&tasks, MonitorConfig::default(), MonitorDeps { journal: None, notify, trading })
                .unwrap();

        // Background markets, each protected by a far take-profit (evaluated, never fires).
        let others: Vec<MarketId> = (0..100).map(|i| MarketId::new(&format!("KRW-C{i:03}"))).collect();
        for m in &others {
            monitor.position(m.clone(), dec!(10), dec!(1000)).await.unwrap();
            monitor
                .add_rule(Rule::new(m.clone(), RuleKind::TakeProfit(Level::Price(dec!(1000000000))), None))
                .await
                .unwrap();
        }
        monitor.reconciled().await.unwrap();

        let ticks = monitor.ticks();
        tasks.spawn("bench", "flood", move |cancel| async move {
            // Paced in 1 ms slices of rate/1000 ticks.
            let per_ms = (flood_rate / 1000).max(1);
            let mut every = tokio::time::interval(Duration::from_millis(1));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut i: u64 = 0;
            loop {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    _ = every.tick() => {
                        let now = Instant::now();
                        for _ in 0..per_ms {
                            let m = &others[(i % others.len() as u64) as usize];
                            ticks.send(m, Decimal::from(1000 + (i % 50)), now);
                            i += 1;
                        }
                    }
                }
            }
        });

        let btc = MarketId::new("KRW-BTC");
        let mut lat = Vec::with_capacity(iters);
        let started = Instant::now();
        for _ in 0..iters {
            monitor.position(btc.clone(), dec!(0.1), dec!(100000000)).await.unwrap();
            let rule = Rule::new(btc.clone(), RuleKind::StopLoss(Level::Price(dec!(97000000))), None);
            let rule_id = rule.id.clone();
            monitor.add_rule(rule).await.unwrap();
            monitor.tick(&btc, dec!(98000000), Instant::now());
            let t0 = Instant::now();
            monitor.tick(&btc, dec!(96000000), t0);
            let identifier = loop {
                match actions.recv().await.unwrap() {
                    MonitorAction::PlaceExit { identifier, .. } => break identifier,
                    MonitorAction::CancelOpenOrders { .. } => {}
                }
            };
            lat.push(t0.elapsed());
            monitor
                .result(ExitEvent::ExitFilled { identifier, filled: dec!(0.1), partial: false })
                .await
                .unwrap();
            monitor.remove_rule(rule_id).await.unwrap();
        }
        let wall = started.elapsed();
        lat.sort();
        let m = monitor.metrics();
        println!(
            "monitor tick -> PlaceExit latency, {iters} exits, flood {flood_rate} ticks/s over 100 markets"
        );
        println!(
            "  p50 {:?}  p99 {:?}  max {:?}  min {:?}",
            percentile(&lat, 0.50),
            percentile(&lat, 0.99),
            lat[lat.len() - 1],
            lat[0]
        );
        let secs = wall.as_secs_f64();
        println!(
            "  ticks in {} ({:.0}/s), evaluated {}, conflated {}, rejected {}, wall {:.2}s",
            m.ticks_in.load(Ordering::Relaxed),
            m.ticks_in.load(Ordering::Relaxed) as f64 / secs,
            m.ticks_evaluated.load(Ordering::Relaxed),
            m.ticks_conflated.load(Ordering::Relaxed),
            m.ticks_rejected.load(Ordering::Relaxed),
            secs
        );
        tasks.cancel_all();
        tasks.wait_all(Duration::from_secs(5)).await;
    });
}
