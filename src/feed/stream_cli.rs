//! `hoga stream`: runs the real feed path headlessly (websocket → decode → route →
//! subscriber) against any server speaking the exchange's public websocket protocol
//! ([`Active`]'s), printing normalized events as JSON lines; `--stats` prints throughput, CPU time, latency
//! percentiles and drops at the end. Useful for debugging and as a benchmark harness.
//!
//! It never waits silently: `--demo` streams from the embedded simulator, a base URL
//! (`ws://host:port`) gets the exchange's websocket path, and a connection that cannot be
//! made (or is lost) for `--connect-timeout` seconds ends the command with an error on
//! stderr and a non-zero status; each failed attempt is reported as it happens.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::exchange::api::StreamKind;
use crate::exchange::stream::{StreamSession, StreamVenue};
use crate::exchange::types::{MarketId, Timeframe};
use crate::exchange::{Active, Exchange};
use crate::feed::metrics::ConnState;
use crate::feed::{FeedConfig, FeedEvent, FeedManager, FeedPayload, Strategy, Subscription};
use crate::kernel::TaskManager;

/// The stream session of the venue this build uses.
type Session = <<Active as Exchange>::Rest as StreamVenue>::Session;

/// Its public stream: where `hoga stream` connects unless told otherwise.
const PUBLIC_URL: &str = <Session as StreamSession>::PUBLIC_URL;

/// `hoga stream [TYPE] MARKETS… [--url URL | --demo] [--count N] [--format jsonl] [--stats]`
#[derive(Debug, Clone, clap::Args)]
pub struct StreamArgs {
    /// Optional stream type first (`ticker` default, `trade`, `orderbook`, `candle.1m` …),
    /// then market codes (`KRW-BTC KRW-ETH`).
    #[arg(required = true, value_name = "[TYPE] MARKET")]
    pub args: Vec<String>,
    /// Public websocket URL (default: the exchange's). A base URL without a path
    /// (`ws://127.0.0.1:9000`) gets the exchange's websocket path appended.
    #[arg(long, default_value = PUBLIC_URL)]
    pub url: String,
    /// Give up (exit 1) when no connection is up for this many seconds, at start or after a
    /// disconnect.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub connect_timeout: u64,
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

/// Prints one event as a line of JSON. Not `println!`, which panics when stdout is gone:
/// the error is the caller's to read (a reader that went away ends the stream quietly).
fn print_event(out: &mut impl std::io::Write, ev: &FeedEvent) -> std::io::Result<()> {
    let line = match &ev.payload {
        FeedPayload::Stream(s) => serde_json::to_string(s),
        FeedPayload::OpenOrders(o) => serde_json::to_string(o),
        FeedPayload::Balances(b) => serde_json::to_string(b),
    };
    match line {
        Ok(l) => writeln!(out, "{l}"),
        Err(e) => {
            eprintln!("hoga stream: cannot encode event: {e}");
            Ok(())
        }
    }
}

/// The websocket URL to connect to: `url` as given when it names a path, else with the
/// path of the exchange's public stream (`ws://127.0.0.1:9000` →
/// `ws://127.0.0.1:9000/websocket/v1`); anything but `ws://` / `wss://` is an error.
pub(crate) fn stream_url(url: &str) -> Result<String, String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!("--url {url:?}: expected ws://HOST:PORT or wss://HOST[/PATH]"));
    };
    if !matches!(scheme.to_ascii_lowercase().as_str(), "ws" | "wss") {
        return Err(format!("--url {url:?}: the scheme must be ws:// or wss://, not {scheme}://"));
    }
    let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    if host.is_empty() {
        return Err(format!("--url {url:?}: no host"));
    }
    if !path.is_empty() {
        return Ok(url.to_string());
    }
    let default_path =
        PUBLIC_URL.split_once("://").and_then(|(_, r)| r.split_once('/')).map_or("", |(_, p)| p);
    Ok(format!("{scheme}://{host}/{default_path}"))
}

/// Runs `hoga stream`. `demo` (the global `--demo`) streams from an embedded simulator
/// started here; `seed` is its seed.
pub async fn run(args: &StreamArgs, demo: bool, seed: Option<u64>) -> ExitCode {
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
    let tasks = TaskManager::new();
    let code = stream(args, demo, seed, kind, &markets, &tasks).await;
    tasks.cancel_all();
    tasks.wait_all(Duration::from_secs(2)).await;
    code
}

/// Connects (to the simulator with `demo`), streams and prints; the caller stops `tasks`.
async fn stream(
    args: &StreamArgs,
    demo: bool,
    seed: Option<u64>,
    kind: StreamKind,
    markets: &[MarketId],
    tasks: &TaskManager,
) -> ExitCode {
    let sim = if demo {
        let mut cfg = crate::sim::SimConfig::default();
        if let Some(seed) = seed {
            cfg.seed = seed;
        }
        match crate::sim::start(cfg, tasks).await {
            Ok(sim) => {
                eprintln!("hoga stream: demo simulator on {}", sim.ws_public_url);
                Some(sim)
            }
            Err(e) => {
                eprintln!("hoga stream: cannot start the demo simulator: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let (url, rest_url) = match &sim {
        Some(sim) => {
            (sim.ws_public_url.clone(), args.rest_url.clone().or_else(|| Some(sim.rest_base.clone())))
        }
        None => match stream_url(&args.url) {
            Ok(url) => (url, args.rest_url.clone()),
            Err(e) => {
                eprintln!("hoga stream: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let rest_cfg = Active::rest_config(rest_url.as_deref().unwrap_or_default());
    let rest = match Active::connect_rest(rest_cfg, None) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            eprintln!("hoga stream: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut config = FeedConfig::new(rest, None);
    config.ws_public_url = url.clone();
    config.rest_gap_fill = rest_url.is_some();
    let feed = FeedManager::start(config, tasks);
    let proxy = feed.proxy("hoga-stream");
    let mut sub: Subscription<Arc<FeedEvent>> = match kind {
        StreamKind::Candle(tf) => retype(proxy.subscribe_candle(markets, tf, Strategy::Lossless)),
        StreamKind::Trade => retype(proxy.subscribe_trade(markets, Strategy::Lossless)),
        StreamKind::OrderBook => retype(proxy.subscribe_orderbook(markets, Strategy::Lossless)),
        _ => retype(proxy.subscribe_ticker(markets, Strategy::Lossless)),
    };
    let started = Instant::now();
    let cpu0 = cpu_time();
    let mut n: u64 = 0;
    let mut watch = ConnWatch::new(Duration::from_secs(args.connect_timeout));
    let mut check = tokio::time::interval(CONN_CHECK);
    let interrupted = loop {
        if args.count.is_some_and(|c| n >= c) {
            break false;
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break true,
            _ = check.tick() => {
                let state = feed.health().connections.into_iter().find(|c| c.name == "public").map(|c| c.state);
                if let Err(e) = watch.observe(state, Instant::now()) {
                    eprintln!("hoga stream: {url}: {e}");
                    return ExitCode::FAILURE;
                }
            }
            ev = sub.recv_event() => match ev {
                Some(ev) => {
                    n += 1;
                    if !args.quiet {
                        match print_event(&mut std::io::stdout().lock(), &ev) {
                            Ok(()) => {}
                            // The reader has gone (`| head -1`): what it wanted was printed,
                            // and the stream ends quietly with success, as Unix tools do.
                            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break false,
                            Err(e) => {
                                eprintln!("hoga stream: cannot write to stdout: {e}");
                                return ExitCode::FAILURE;
                            }
                        }
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
    if let Some(sim) = sim {
        sim.stop();
    }
    ExitCode::SUCCESS
}

/// How often the connection's state is looked at.
const CONN_CHECK: Duration = Duration::from_millis(100);

/// Watches the public connection: reports each failed attempt once, and gives up when no
/// connection has been up for `limit`.
#[derive(Debug)]
struct ConnWatch {
    limit: Duration,
    /// Since when no connection has been up (`None` while connected).
    down_since: Option<Instant>,
    /// The last failure reported (not repeated while the feed retries with the same one).
    last_reason: Option<String>,
}

impl ConnWatch {
    fn new(limit: Duration) -> Self {
        ConnWatch { limit, down_since: None, last_reason: None }
    }

    /// Takes the connection's state at `now`; an error once it has been down too long.
    fn observe(&mut self, state: Option<ConnState>, now: Instant) -> Result<(), String> {
        match state {
            Some(ConnState::Connected) => {
                self.down_since = None;
                self.last_reason = None;
                return Ok(());
            }
            Some(ConnState::Backoff { reason, .. }) if self.last_reason.as_ref() != Some(&reason) => {
                eprintln!("hoga stream: connection failed: {reason} (retrying)");
                self.last_reason = Some(reason);
            }
            _ => {}
        }
        let since = *self.down_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= self.limit {
            let why = self.last_reason.as_deref().map_or(String::new(), |r| format!(": {r}"));
            return Err(format!("no connection for {}s, giving up{why}", self.limit.as_secs()));
        }
        Ok(())
    }
}

/// Any typed subscription read as raw events (the CLI prints every kind the same way).
fn retype<T>(sub: Subscription<T>) -> Subscription<Arc<FeedEvent>> {
    sub.into_raw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_gets_the_exchange_path_and_a_full_one_is_kept() {
        assert_eq!(stream_url("ws://127.0.0.1:9000").unwrap(), "ws://127.0.0.1:9000/websocket/v1");
        assert_eq!(stream_url("ws://127.0.0.1:9000/").unwrap(), "ws://127.0.0.1:9000/websocket/v1");
        assert_eq!(stream_url("ws://h:1/websocket/v1").unwrap(), "ws://h:1/websocket/v1");
        assert_eq!(stream_url(PUBLIC_URL).unwrap(), PUBLIC_URL);
        assert!(stream_url("http://h:1").unwrap_err().contains("ws://"));
        assert!(stream_url("127.0.0.1:9000").is_err());
    }

    #[test]
    fn a_connection_down_longer_than_the_limit_gives_up_with_the_reason() {
        let t0 = Instant::now();
        let mut w = ConnWatch::new(Duration::from_secs(2));
        let refused = || Some(ConnState::Backoff { reason: "refused".into(), retry_in_ms: 100 });
        assert!(w.observe(refused(), t0).is_ok());
        assert!(w.observe(Some(ConnState::Connecting(2)), t0 + Duration::from_secs(1)).is_ok());
        let e = w.observe(refused(), t0 + Duration::from_secs(2)).unwrap_err();
        assert!(e.contains("2s") && e.contains("refused"), "{e}");
        // Connected again resets the clock.
        let mut w = ConnWatch::new(Duration::from_secs(2));
        assert!(w.observe(None, t0).is_ok());
        assert!(w.observe(Some(ConnState::Connected), t0 + Duration::from_secs(1)).is_ok());
        assert!(w.observe(None, t0 + Duration::from_secs(2)).is_ok());
    }
}
