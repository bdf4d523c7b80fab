//! The console's startup data load, one call at a time versus concurrently:
//! `cargo bench --bench startup`.
//!
//! The real simulator runs in-process with every REST reply delayed by 50 ms
//! (`faults.set_rest_delay`), and the real `RestClient` loads what the console needs
//! before its first useful screen: the market list, the tickers of every market, the
//! selected market's order book and recent trades, and candles for 1m, 5m, 15m, 60m and
//! 1D. A second scenario adds the account (balances and open orders, signed with the
//! simulator's demo keys). Each mode runs `RUNS` times; a fresh client is built for every
//! load (the console loads once, on a cold client), and loads are spaced more than a
//! second apart so neither the client's governor nor the simulator's one-second windows
//! ever throttle a load. Prints p50 / p99 / mean per mode and the ratio of the medians.
//!
//! Last, the time `hoga::sim::start` takes with the demo's configuration: the demo
//! console starts its simulator before it draws anything.
//!
//! The tickers need the market list, so even the concurrent load has a critical path of
//! two round trips: the best possible ratio is calls / 2.
//!
//! Figures go to BENCHMARKS.md, never into assertions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use hoga::exchange::types::{MarketId, OrderState, Timeframe};
use hoga::exchange::upbit::auth::Credentials;
use hoga::exchange::upbit::rest::{RestClient, RestConfig};
use hoga::kernel::TaskManager;
use hoga::sim::{SimConfig, SimHandle};
use secrecy::ExposeSecret;

/// Loads per mode and scenario.
const RUNS: usize = 20;
/// Simulator start-ups timed (the demo console's first step).
const SIM_STARTS: usize = 10;
/// The simulator's delay on every REST reply.
const REST_DELAY: Duration = Duration::from_millis(50);
/// The market the console opens on.
const SELECTED: &str = "KRW-BTC";
/// Timeframes whose candles the chart preloads.
const TIMEFRAMES: [Timeframe; 5] =
    [Timeframe::M1, Timeframe::M5, Timeframe::M15, Timeframe::H1, Timeframe::D1];

/// What one load fetched, so the two modes can be checked to do the same work.
#[derive(Debug, Default, PartialEq, Eq)]
struct Loaded {
    markets: usize,
    tickers: usize,
    books: usize,
    trades: usize,
    candles: Vec<usize>,
    balances: Option<usize>,
    open_orders: Option<usize>,
}

impl Loaded {
    fn calls(&self) -> usize {
        4 + self.candles.len()
            + usize::from(self.balances.is_some())
            + usize::from(self.open_orders.is_some())
    }
}

async fn markets_and_tickers(c: &RestClient) -> (usize, usize) {
    let markets = c.market_all().await.unwrap();
    let ids: Vec<MarketId> = markets.iter().map(|m| m.market.clone()).collect();
    let tickers = c.tickers(&ids).await.unwrap();
    (markets.len(), tickers.len())
}

/// One call after another, as a naive startup would.
async fn load_sequential(c: &RestClient, account: bool) -> Loaded {
    let m = MarketId::new(SELECTED);
    let (markets, tickers) = markets_and_tickers(c).await;
    let books = c.orderbook(std::slice::from_ref(&m), 15).await.unwrap().len();
    let trades = c.trades(&m, 50).await.unwrap().len();
    let mut candles = Vec::new();
    for tf in TIMEFRAMES {
        candles.push(c.candles(&m, tf, 200, None).await.unwrap().len());
    }
    let (balances, open_orders) = if account {
        let b = c.accounts().await.unwrap().len();
        let o = c.open_orders(None, &[OrderState::Wait, OrderState::Watch], 1, 100).await.unwrap().len();
        (Some(b), Some(o))
    } else {
        (None, None)
    };
    Loaded { markets, tickers, books, trades, candles, balances, open_orders }
}

/// Everything in flight at once (one task, joined futures: no spawning).
async fn load_concurrent(c: &RestClient, account: bool) -> Loaded {
    let m = MarketId::new(SELECTED);
    let candles = join_all(TIMEFRAMES.iter().map(|tf| {
        let m = m.clone();
        async move { c.candles(&m, *tf, 200, None).await.unwrap().len() }
    }));
    let account_fut = async {
        if !account {
            return (None, None);
        }
        let (b, o) =
            tokio::join!(c.accounts(), c.open_orders(None, &[OrderState::Wait, OrderState::Watch], 1, 100));
        (Some(b.unwrap().len()), Some(o.unwrap().len()))
    };
    let ((markets, tickers), books, trades, candles, (balances, open_orders)) = tokio::join!(
        markets_and_tickers(c),
        async { c.orderbook(std::slice::from_ref(&m), 15).await.unwrap().len() },
        async { c.trades(&m, 50).await.unwrap().len() },
        candles,
        account_fut,
    );
    Loaded { markets, tickers, books, trades, candles, balances, open_orders }
}

fn client(sim: &SimHandle, account: bool) -> RestClient {
    let creds =
        account.then(|| Credentials::new(sim.credentials.0.clone(), sim.credentials.1.expose_secret()));
    RestClient::new(RestConfig { base_url: format!("{}/v1", sim.rest_base), ..Default::default() }, creds)
        .unwrap()
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    // Nearest rank: with 20 samples p99 is the slowest one.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

struct Row {
    p50: Duration,
    p99: Duration,
    mean: Duration,
    min: Duration,
}

fn summarise(mut v: Vec<Duration>) -> Row {
    v.sort();
    let mean = v.iter().sum::<Duration>() / v.len() as u32;
    Row { p50: pct(&v, 50.0), p99: pct(&v, 99.0), mean, min: v[0] }
}

async fn scenario(sim: &SimHandle, account: bool) -> (usize, Row, Row) {
    let mut seq = Vec::new();
    let mut conc = Vec::new();
    let mut calls = 0;
    // Interleaved, so a burst of noise from other processes hits both modes alike.
    for i in 0..RUNS * 2 {
        let sequential = i % 2 == 0;
        let c = client(sim, account);
        let started = Instant::now();
        let loaded =
            if sequential { load_sequential(&c, account).await } else { load_concurrent(&c, account).await };
        let took = started.elapsed();
        assert!(
            loaded.markets > 0 && loaded.tickers > 0 && loaded.books == 1 && loaded.trades > 0,
            "{loaded:?}"
        );
        calls = loaded.calls();
        if sequential {
            seq.push(took)
        } else {
            conc.push(took)
        }
        // Let every one-second rate-limit window (client and simulator) empty.
        tokio::time::sleep(Duration::from_millis(1100).saturating_sub(took)).await;
    }
    (calls, summarise(seq), summarise(conc))
}

async fn run() {
    let tasks = TaskManager::new();
    let sim = hoga::sim::start(SimConfig { ..Default::default() }, &tasks).await.unwrap();
    sim.faults.set_rest_delay(REST_DELAY);

    // Both modes must fetch the same things.
    let c = client(&sim, true);
    let a = load_sequential(&c, true).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let b = load_concurrent(&c, true).await;
    assert_eq!(a, b, "the two loads fetched different data");
    tokio::time::sleep(Duration::from_millis(1100)).await;

    println!(
        "startup load, simulator REST delay {} ms per call, {RUNS} loads per mode, fresh client per load",
        REST_DELAY.as_millis()
    );
    println!(
        "loaded: {} markets, {} tickers, 1 book, {} trades, candles {:?} for 1m/5m/15m/60m/1D",
        a.markets, a.tickers, a.trades, a.candles
    );
    println!();
    println!(
        "{:<50} {:>5} {:>9} {:>9} {:>9} {:>9}",
        "scenario / mode", "calls", "p50 ms", "p99 ms", "mean ms", "min ms"
    );
    for (name, account) in [("quotation (no keys)", false), ("quotation + balances + open orders", true)] {
        let (calls, seq, conc) = scenario(&sim, account).await;
        for (mode, r) in [("one at a time", &seq), ("concurrent", &conc)] {
            println!(
                "{:<50} {:>5} {:>9} {:>9} {:>9} {:>9}",
                format!("{name}: {mode}"),
                calls,
                ms(r.p50),
                ms(r.p99),
                ms(r.mean),
                ms(r.min)
            );
        }
        println!(
            "{:<50} ratio of p50 {:.2}x, of p99 {:.2}x, of means {:.2}x (ideal {:.1}x, target >= 3x)",
            format!("{name}:"),
            seq.p50.as_secs_f64() / conc.p50.as_secs_f64(),
            seq.p99.as_secs_f64() / conc.p99.as_secs_f64(),
            seq.mean.as_secs_f64() / conc.mean.as_secs_f64(),
            calls as f64 / 2.0
        );
        println!();
    }
    tasks.cancel_all();

    // What the demo console waits for before anything else: it starts its embedded
    // simulator (seed, 20 markets, an hour of generated history) before it takes the
    // terminal, so this is a floor under its time to first frame.
    let mut starts = Vec::new();
    for _ in 0..SIM_STARTS {
        let tasks = TaskManager::new();
        let t = Instant::now();
        let sim = hoga::sim::start(SimConfig { seed: 7, markets: Some(20), ..Default::default() }, &tasks)
            .await
            .unwrap();
        starts.push(t.elapsed());
        sim.stop();
        tasks.cancel_all();
        tasks.wait_all(Duration::from_secs(5)).await;
    }
    let r = summarise(starts);
    println!(
        "embedded simulator start (demo config: 20 markets, 1 h history), {SIM_STARTS} starts: \
         p50 {} ms, p99 {} ms, min {} ms",
        ms(r.p50),
        ms(r.p99),
        ms(r.min)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` / `--all-targets` does not, and
    // gets a quick skip instead of minutes of measuring.
    if !std::env::args().any(|a| a == "--bench") {
        println!("startup bench: skipped (run it with `cargo bench --bench startup`)");
        return;
    }
    // The bench's one runtime, shaped like the binary's (two workers).
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(run());
}
