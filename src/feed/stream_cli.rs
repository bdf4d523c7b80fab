//! `hoga stream`: runs the real feed path headlessly (websocket → decode → route →
//! subscriber) against any server speaking the exchange's public websocket protocol
//! ([`Active`]'s), printing normalized events as JSON lines; `--stats` prints throughput, CPU time, latency
//! percentiles and drops at the end. Useful for debugging and as a benchmark harness.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::exchange::api::StreamKind;
use crate::exchange::stream::{StreamSession, StreamVenue};
use crate::exchange::types::{MarketId, Timeframe};
use crate::exchange::{Active, Exchange};
use crate::feed::{FeedConfig, FeedEvent, FeedManager, FeedPayload, Strategy, Subscription};
use crate::kernel::TaskManager;

/// The stream session of the venue this build uses.
type Session = <<Active as Exchange>::Rest as StreamVenue>::Session;

/// Its public stream: where `hoga stream` connects unless told otherwise.
const PUBLIC_URL: &str = <Session as StreamSession>::PUBLIC_URL;

/// `hoga stream [TYPE] MARKETS… [--url URL] [--count N] [--format jsonl] [--stats]`
#[derive(Debug, Clone, clap::Args)]
pub struct StreamArgs {
    /// Optional stream type first (`ticker` default, `trade`, `orderbook`, `candle.1m` …),
    /// then market codes (`KRW-BTC KRW-ETH`).
    #[arg(required = true, value_name = "[TYPE] MARKET")]
    pub args: Vec<String>,
    /// Public websocket URL (default: the exchange's).
    #[arg(long, default_value = PUBLIC_URL)]
    pub url: String,
    /// REST base URL for the initial snapshot (omit to skip REST).
    #[arg(long)]
    pub rest_url: Option<String>,
    /// Stop after this many events.
    #[arg(long)]
    pub count: Option<u64>,
    /// Output format (only `jsonl`).
    #[arg(long, default_value = "jsonl")]
    pub format: String,
    /// Print statistics when done.
    #[arg(long)]
    pub stats: bool,
    /// Print nothing per event (with `--stats`, for benchmarking).
    #[arg(long)]
    pub quiet: bool,
}

/// Parses a public stream type: the venue's name (Upbit: `ticker`, `trade`, `orderbook`,
/// `candle.1s`, `candle.60m` …), else hoga's own candle label (`candle.1h`).
pub(crate) fn parse_kind(s: &str) -> Option<StreamKind> {
    Session::kind_of(s).filter(|k| !k.is_private()).or_else(|| {
        s.strip_prefix("candle.")
            .and_then(|l| Timeframe::ALL.into_iter().find(|t| t.label() == l))
            .map(StreamKind::Candle)
    })
}

/// User CPU + system CPU of this process (Linux `/proc`; `None` elsewhere).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux configuration we target.
    Some(Duration::from_millis((utime + stime) * 10))
}

fn print_event(ev: &FeedEvent) {
    let line = match &ev.payload {
        FeedPayload::Stream(s) => serde_json::to_string(s),
        FeedPayload::OpenOrders(o) => serde_json::to_string(o),
        FeedPayload::Balances(b) => serde_json::to_string(b),
    };
    match line {
        Ok(l) => println!("{l}"),
        Err(e) => eprintln!("hoga stream: cannot encode event: {e}"),
    }
}

/// Runs `hoga stream`.
pub async fn run(args: &StreamArgs) -> ExitCode {
    if args.format != "jsonl" {
        eprintln!("hoga stream: unknown --format {:?} (only jsonl)", args.format);
        return ExitCode::FAILURE;
    }
    let (kind, codes) = match args.args.split_first().and_then(|(f, rest)| parse_kind(f).map(|k| (k, rest))) {
        Some((k, rest)) => (k, rest.to_vec()),
        None => (StreamKind::Ticker, args.args.clone()),
    };
    let mut markets = Vec::new();
    for c in &codes {
        match c.parse::<MarketId>() {
            Ok(m) => markets.push(m),
            Err(e) => {
                eprintln!("hoga stream: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if markets.is_empty() {
        eprintln!("hoga stream: name at least one market, e.g. KRW-BTC");
        return ExitCode::FAILURE;
    }
    let rest_cfg = Active::rest_config(args.rest_url.as_deref().unwrap_or_default());
    let rest = match Active::connect_rest(rest_cfg, None) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            eprintln!("hoga stream: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut config = FeedConfig::new(rest, None);
    config.ws_public_url = args.url.clone();
    config.rest_gap_fill = args.rest_url.is_some();
    let tasks = TaskManager::new();
    let feed = FeedManager::start(config, &tasks);
    let proxy = feed.proxy("hoga-stream");
    let mut sub: Subscription<Arc<FeedEvent>> = match kind {
        StreamKind::Candle(tf) => retype(proxy.subscribe_candle(&markets, tf, Strategy::Lossless)),
        StreamKind::Trade => retype(proxy.subscribe_trade(&markets, Strategy::Lossless)),
        StreamKind::OrderBook => retype(proxy.subscribe_orderbook(&markets, Strategy::Lossless)),
        _ => retype(proxy.subscribe_ticker(&markets, Strategy::Lossless)),
    };
    let started = Instant::now();
    let cpu0 = cpu_time();
    let mut n: u64 = 0;
    let interrupted = loop {
        if args.count.is_some_and(|c| n >= c) {
            break false;
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break true,
            ev = sub.recv_event() => match ev {
                Some(ev) => {
                    n += 1;
                    if !args.quiet {
                        print_event(&ev);
                    }
                }
                None => break false,
            },
        }
    };
    if args.stats {
        let elapsed = started.elapsed();
        let h = feed.health();
        let cpu = match (cpu0, cpu_time()) {
            (Some(a), Some(b)) => format!("{:?}", b.saturating_sub(a)),
            _ => "n/a".into(),
        };
        eprintln!(
            "events={n} elapsed={elapsed:.2?} rate={:.0}/s cpu={cpu} interrupted={interrupted}",
            n as f64 / elapsed.as_secs_f64().max(1e-9)
        );
        eprintln!(
            "delivery latency µs: avg={} p50≤{} p99≤{} max={}; exchange→received µs: avg={} p99≤{}",
            h.delivery_latency.avg_us,
            h.delivery_latency.p50_us,
            h.delivery_latency.p99_us,
            h.delivery_latency.max_us,
            h.exchange_latency.avg_us,
            h.exchange_latency.p99_us
        );
        let drops: u64 = h.subscribers.iter().map(|s| s.drops).sum();
        eprintln!(
            "drops={drops} parse_errors={} reconnects={} health={:?} {:?}",
            h.parse_errors,
            h.connections.first().map_or(0, |c| c.reconnects),
            h.health,
            h.reasons
        );
    }
    drop(sub);
    drop(proxy);
    tasks.cancel_all();
    tasks.wait_all(Duration::from_secs(2)).await;
    ExitCode::SUCCESS
}

/// Any typed subscription read as raw events (the CLI prints every kind the same way).
fn retype<T>(sub: Subscription<T>) -> Subscription<Arc<FeedEvent>> {
    sub.into_raw()
}
