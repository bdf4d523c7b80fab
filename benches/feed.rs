//! Feed benchmarks: parse, route and deliver, plus the whole path over a loopback socket.
//!
//! Run: `cargo bench --bench feed` (prints throughput and latency percentiles; plain main
//! because divan reports means/medians but not the tail we care about).
//!
//! The socket cases run the websocket server on its own OS thread ("bench-server", sync
//! tungstenite for the handshake, then pre-encoded frames written straight to the TCP
//! socket in large writes, so the server costs little). The client is the real
//! `FeedManager` on a 2-worker tokio runtime plus the subscriber on the main thread.
//! "client CPU" is the CPU time of every thread of this process except the server thread
//! (`/proc/self/task/*/schedstat`, ns), over the measured window; "msgs/CPU-s" is messages
//! delivered per second of that CPU time, i.e. the per-core throughput of the client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hoga::exchange::api::StreamKind;
use hoga::exchange::binance::rest::BinanceRest;
use hoga::exchange::binance::ws::BinanceDecoder;
use hoga::exchange::stream::StreamVenue;
use hoga::exchange::types::MarketId;
use hoga::exchange::upbit::rest::{RestClient, RestConfig};
use hoga::exchange::upbit::wire::{WireOrderBook, WireTicker, WireTrade};
use hoga::exchange::upbit::ws::{Decoded, Decoder, decode};
use hoga::feed::backpressure::{Strategy, SubQueue};
use hoga::feed::router::{RouteTable, deliver};
use hoga::feed::{FeedConfig, FeedEvent, FeedManager, FeedPayload};
use hoga::kernel::TaskManager;

fn ticker(code: &str, price: i64) -> Vec<u8> {
    format!(
        r#"{{"type":"ticker","code":"{code}","opening_price":1,"high_price":1,"low_price":1,"trade_price":{price},"prev_closing_price":1,"change":"RISE","change_price":0,"signed_change_price":0,"change_rate":0,"signed_change_rate":0,"trade_volume":1,"acc_trade_volume":1,"acc_trade_volume_24h":1,"acc_trade_price":105514711074.18726,"acc_trade_price_24h":1,"trade_date":"20241031","trade_time":"010742","trade_timestamp":1730336862047,"ask_bid":"BID","acc_ask_volume":1,"acc_bid_volume":1,"highest_52_week_price":1,"highest_52_week_date":"2024-01-01","lowest_52_week_price":1,"lowest_52_week_date":"2024-01-01","market_state":"ACTIVE","timestamp":1730336862082,"stream_type":"REALTIME"}}"#
    )
    .into_bytes()
}

fn trade(code: &str, seq: i64, ts: i64) -> Vec<u8> {
    format!(
        r#"{{"type":"trade","code":"{code}","timestamp":{ts},"trade_date":"2024-10-31","trade_time":"01:07:42","trade_timestamp":{ts},"trade_price":100473000.0,"trade_volume":0.00014208,"ask_bid":"BID","prev_closing_price":100571000.0,"change":"FALL","change_price":98000.0,"sequential_id":{seq},"best_ask_price":100473000,"best_ask_size":0.43139478,"best_bid_price":100465000,"best_bid_size":0.01990656,"stream_type":"REALTIME"}}"#
    )
    .into_bytes()
}

fn orderbook(code: &str, levels: i64) -> Vec<u8> {
    let units: Vec<String> = (0..levels)
        .map(|i| {
            format!(
                r#"{{"ask_price":{},"bid_price":{},"ask_size":0.0134662,"bid_size":0.04296774}}"#,
                148_520_000 + i * 1000,
                148_490_000 - i * 1000
            )
        })
        .collect();
    format!(
        r#"{{"type":"orderbook","code":"{code}","timestamp":1751606867762,"total_ask_size":10.37591054,"total_bid_size":9.49577219,"orderbook_units":[{}],"level":0,"stream_type":"REALTIME"}}"#,
        units.join(",")
    )
    .into_bytes()
}

/// Binance's combined-stream trade (`<symbol>@trade`), as its docs show it.
fn binance_trade(seq: i64, ts: i64) -> Vec<u8> {
    format!(
        r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","E":{ts},"s":"BTCUSDT","t":{seq},"p":"101234.56000000","q":"0.00120000","T":{ts},"m":true,"M":true}}}}"#
    )
    .into_bytes()
}

/// Binance's combined-stream 24 h ticker (`<symbol>@ticker`).
fn binance_ticker() -> Vec<u8> {
    br#"{"stream":"btcusdt@ticker","data":{"e":"24hrTicker","E":1733440000000,"s":"BTCUSDT","p":"1234.56000000","P":"1.234","w":"100500.12345678","x":"99999.99000000","c":"101234.56000000","Q":"0.00120000","b":"101234.55000000","B":"1.50000000","a":"101234.56000000","A":"0.75000000","o":"100000.00000000","h":"102000.00000000","l":"99000.00000000","v":"12345.67800000","q":"1241234567.12345678","O":1733353600000,"C":1733440000000,"F":100,"L":200,"n":101}}"#.to_vec()
}

/// Binance's combined-stream partial book (`<symbol>@depth20@100ms`): 20 levels a side.
fn binance_depth20() -> Vec<u8> {
    let side = |base: i64, step: i64| -> String {
        (0..20)
            .map(|i| format!(r#"["{}.{:02}000000","0.{:08}"]"#, base + i * step, i % 100, 1_234_567 + i))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        r#"{{"stream":"btcusdt@depth20@100ms","data":{{"lastUpdateId":160,"bids":[{}],"asks":[{}]}}}}"#,
        side(101_200, -1),
        side(101_201, 1)
    )
    .into_bytes()
}

/// `v` as Upbit writes large numbers in books: `148521000` → `1.48521E8`.
fn exponent(v: i64) -> String {
    let digits = v.to_string();
    let (first, rest) = digits.split_at(1);
    let rest = rest.trim_end_matches('0');
    let mantissa = if rest.is_empty() { first.to_string() } else { format!("{first}.{rest}") };
    format!("{mantissa}E{}", digits.len() - 1)
}

/// The same book as [`orderbook`] in the spellings Upbit also uses: prices with exponents
/// (`1.48521E8`), sizes with negative exponents (`1.34662E-2`), totals with trailing zeros.
fn orderbook_spelled(code: &str, levels: i64) -> Vec<u8> {
    let units: Vec<String> = (0..levels)
        .map(|i| {
            format!(
                r#"{{"ask_price":{},"bid_price":{},"ask_size":1.34662E-2,"bid_size":4.296774e-2}}"#,
                exponent(148_520_000 + i * 1000),
                exponent(148_490_000 - i * 1000)
            )
        })
        .collect();
    format!(
        r#"{{"type":"orderbook","code":"{code}","timestamp":1751606867762,"total_ask_size":10.37591054000,"total_bid_size":9.4957721900,"orderbook_units":[{}],"level":0.0,"stream_type":"REALTIME"}}"#,
        units.join(",")
    )
    .into_bytes()
}

fn pct(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

fn report(name: &str, mut samples: Vec<Duration>, total: Duration) {
    samples.sort();
    let n = samples.len();
    println!(
        "{name:<34} n={n:>7}  {:>10.0} msg/s  p50={:>8.2?}  p99={:>8.2?}  max={:>8.2?}",
        n as f64 / total.as_secs_f64(),
        pct(&samples, 0.50),
        pct(&samples, 0.99),
        samples.last().copied().unwrap_or_default()
    );
}

fn bench_decode_binance(name: &str, frame: &[u8], n: usize) {
    let mut samples = Vec::with_capacity(n);
    let mut decoder = BinanceDecoder::default();
    let t0 = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let d = decoder.decode(std::hint::black_box(frame)).unwrap();
        samples.push(t.elapsed());
        assert!(matches!(d, Decoded::Event(_)));
    }
    report(name, samples, t0.elapsed());
}

fn bench_decode(name: &str, frame: &[u8], n: usize) {
    let mut samples = Vec::with_capacity(n);
    let mut decoder = Decoder::default();
    let t0 = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let d = decoder.decode(std::hint::black_box(frame)).unwrap();
        samples.push(t.elapsed());
        assert!(matches!(d, Decoded::Event(_)));
    }
    report(name, samples, t0.elapsed());
}

/// The decode path before the borrowed views (kept for comparison in the same run): the
/// full `Wire*` structs through serde_json with `arbitrary_precision` numbers, then the
/// neutral conversion, as `ws::decode` did.
fn bench_decode_full<T: serde::de::DeserializeOwned>(
    name: &str,
    frame: &[u8],
    n: usize,
    convert: impl Fn(T) -> usize,
) {
    let mut samples = Vec::with_capacity(n);
    let t0 = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let w: T = serde_json::from_slice(std::hint::black_box(frame)).unwrap();
        std::hint::black_box(convert(w));
        samples.push(t.elapsed());
    }
    report(name, samples, t0.elapsed());
}

/// Decode + route to 50 subscribers over 10 markets (mixed strategies) + drain.
async fn bench_route(n: usize) {
    let markets: Vec<MarketId> = (0..10).map(|i| MarketId::new(&format!("KRW-C{i}"))).collect();
    let strategies = [Strategy::Lossless, Strategy::CoalesceByMarket, Strategy::DropOldest];
    let queues: Vec<(Vec<MarketId>, Arc<SubQueue>)> = (0..50)
        .map(|i| {
            let ms = vec![markets[i % 10].clone(), markets[(i + 3) % 10].clone()];
            (ms, Arc::new(SubQueue::new(strategies[i % 3], 1 << 20)))
        })
        .collect();
    let table = RouteTable::build(queues.iter().map(|(ms, q)| (StreamKind::Trade, ms.as_slice(), q.clone())));
    let frames: Vec<Vec<u8>> = (0..10).map(|i| trade(&format!("KRW-C{i}"), i, 1)).collect();
    let mut samples = Vec::with_capacity(n);
    let t0 = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        let Decoded::Event(e) = decode(&frames[i % 10]).unwrap() else { unreachable!() };
        let ev = Arc::new(FeedEvent { epoch: 1, received: t, payload: FeedPayload::Stream(e) });
        deliver(&table, ev, Duration::from_secs(1)).await;
        samples.push(t.elapsed());
        if i % 1024 == 0 {
            for (_, q) in &queues {
                while q.try_recv().is_some() {}
            }
        }
    }
    report("decode+route trade → 50 subs", samples, t0.elapsed());
}

/// Websocket frames (server → client: unmasked, binary), pre-encoded.
fn encode_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 10);
    f.push(0x82);
    match payload.len() {
        n if n < 126 => f.push(n as u8),
        n if n <= 0xffff => {
            f.push(126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(payload);
    f
}

/// A loopback websocket server on its own thread: accepts one client, waits for its
/// subscription, then sends `total` frames cycling through `frames`, as fast as the socket
/// takes them (`rate` None) or paced by a deadline clock at `rate` msgs/s (each 100 µs
/// slot sends what is due since the start, so pacing error never accumulates).
fn start_server(frames: Vec<Vec<u8>>, total: usize, rate: Option<u32>) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::Builder::new()
        .name("bench-server".into())
        .spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            tcp.set_nodelay(true).unwrap();
            let mut ws = tokio_tungstenite::tungstenite::accept(tcp).unwrap();
            // The subscription request.
            while !ws.read().unwrap().is_text() {}
            let frames: Vec<Vec<u8>> = frames.iter().map(|p| encode_frame(p)).collect();
            let mut buf = Vec::with_capacity(1 << 20);
            let mut sent = 0usize;
            let start = Instant::now();
            let slot = Duration::from_micros(100);
            let mut next = start;
            while sent < total {
                let due = match rate {
                    None => (sent + 512).min(total),
                    Some(r) => ((start.elapsed().as_secs_f64() * f64::from(r)) as usize).min(total),
                };
                buf.clear();
                while sent < due {
                    buf.extend_from_slice(&frames[sent % frames.len()]);
                    sent += 1;
                }
                // A client that went away (the other venue's feed, stopped when the measured
                // one is done) ends the server, not the bench.
                if !buf.is_empty() && ws.get_mut().write_all(&buf).is_err() {
                    return;
                }
                if rate.is_some() {
                    next += slot;
                    if let Some(wait) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
            }
            // Keep the connection until the client goes away.
            while ws.read().is_ok() {}
        })
        .unwrap();
    addr
}

/// CPU time (ns) of every thread of this process except the bench server.
fn client_cpu_ns() -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let dir = task.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() == "bench-server" {
            continue;
        }
        let sched = std::fs::read_to_string(dir.join("schedstat")).unwrap_or_default();
        total += sched.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    total
}

/// The whole path: loopback websocket server → FeedManager → one lossless subscriber
/// (plus a coalescing one on the same market, as a pane would have).
async fn bench_socket(name: &str, kind: StreamKind, frames: Vec<Vec<u8>>, n: usize, rate: Option<u32>) {
    bench_socket_with(name, kind, frames, n, rate, Duration::ZERO).await
}

/// [`bench_socket`] with the public stream's read gather set (the console's setting).
async fn bench_socket_with(
    name: &str,
    kind: StreamKind,
    frames: Vec<Vec<u8>>,
    n: usize,
    rate: Option<u32>,
    gather: Duration,
) {
    let addr = start_server(frames, n, rate);
    let rest = upbit_rest();
    bench_feed(name, rest, addr, MarketId::new("KRW-BTC"), kind, n, gather).await
}

fn upbit_rest() -> RestClient {
    RestClient::new(RestConfig { base_url: "http://127.0.0.1:9/v1".into(), ..RestConfig::default() }, None)
        .unwrap()
}

/// Any venue's feed on a loopback server already started at `addr`, measured as
/// [`bench_socket`] measures Upbit's.
async fn bench_feed<R: StreamVenue>(
    name: &str,
    rest: R,
    addr: std::net::SocketAddr,
    market: MarketId,
    kind: StreamKind,
    n: usize,
    gather: Duration,
) {
    let mut cfg = FeedConfig::new(Arc::new(rest), None).with_ws_base(&format!("ws://{addr}"));
    cfg.rest_gap_fill = false;
    cfg.public_read_gather = gather;
    let tasks = TaskManager::new();
    let feed = FeedManager::start(cfg, &tasks);
    let proxy = feed.proxy("bench");
    let btc = [market];
    let (mut sub, _other) = match kind {
        StreamKind::OrderBook => (
            proxy.subscribe_orderbook(&btc, Strategy::Lossless).into_raw(),
            proxy.subscribe_orderbook(&btc, Strategy::CoalesceByMarket).into_raw(),
        ),
        _ => (
            proxy.subscribe_trade(&btc, Strategy::Lossless).into_raw(),
            proxy.subscribe_trade(&btc, Strategy::CoalesceByMarket).into_raw(),
        ),
    };
    // The subscriber is a task on the runtime, as a pane is in the console.
    let (samples, wall, cpu) = tokio::spawn(async move {
        let mut samples = Vec::with_capacity(n);
        let first = sub.recv_event().await.unwrap();
        samples.push(first.received.elapsed());
        let cpu0 = client_cpu_ns();
        let t0 = Instant::now();
        for _ in 1..n {
            let ev = sub.recv_event().await.unwrap();
            samples.push(ev.received.elapsed());
        }
        let wall = t0.elapsed();
        (samples, wall, Duration::from_nanos(client_cpu_ns() - cpu0))
    })
    .await
    .unwrap();
    report(name, samples, wall);
    let h = feed.health();
    let drops: u64 = h.subscribers.iter().filter(|s| s.strategy == "lossless").map(|s| s.drops).sum();
    println!(
        "  client CPU {:.3}s over {:.3}s wall = {:.1}% of one core; {:.0} msgs/CPU-s; lossless drops {drops}; parse errors {}; health {:?}",
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
        (n - 1) as f64 / cpu.as_secs_f64(),
        h.parse_errors,
        h.health,
    );
    tasks.cancel_all();
    tasks.wait_all(Duration::from_secs(2)).await;
}

/// The ceiling docs/PERFORMANCE.md's reference table calls "bare Rust reader": tokio-tungstenite
/// and serde_json into the wire structs, no routing, no queues, one task reading the socket.
/// Same server, same CPU accounting as `bench_socket`, so the two rows compare directly.
async fn bench_bare(name: &str, kind: StreamKind, frames: Vec<Vec<u8>>, n: usize, rate: Option<u32>) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let addr = start_server(frames, n, rate);
    let (samples, wall, cpu) = tokio::spawn(async move {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}")).await.unwrap();
        ws.send(Message::text(r#"[{"ticket":"bare"},{"type":"trade","codes":["KRW-BTC"]}]"#)).await.unwrap();
        let mut read_one = async || -> usize {
            loop {
                let bytes = match ws.next().await.unwrap().unwrap() {
                    Message::Binary(b) => b,
                    Message::Text(t) => t.into(),
                    _ => continue,
                };
                return match kind {
                    StreamKind::OrderBook => {
                        serde_json::from_slice::<WireOrderBook>(&bytes).unwrap().to_book().levels.len()
                    }
                    _ => {
                        serde_json::from_slice::<WireTrade>(&bytes).unwrap().to_trade().sequential_id as usize
                    }
                };
            }
        };
        let mut samples = Vec::with_capacity(n);
        let mut sink = read_one().await;
        let cpu0 = client_cpu_ns();
        let t0 = Instant::now();
        for _ in 1..n {
            let t = Instant::now();
            sink = sink.wrapping_add(read_one().await);
            samples.push(t.elapsed());
        }
        std::hint::black_box(sink);
        let wall = t0.elapsed();
        (samples, wall, Duration::from_nanos(client_cpu_ns() - cpu0))
    })
    .await
    .unwrap();
    report(name, samples, wall);
    println!(
        "  client CPU {:.3}s over {:.3}s wall = {:.1}% of one core; {:.0} msgs/CPU-s (latency column: time awaiting each message, not exchange → delivered)",
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
        (n - 1) as f64 / cpu.as_secs_f64(),
    );
}

/// Upbit's feed measured while a second venue's feed (Binance, its own `FeedManager` and
/// connection, as the console runs it) streams trades at `other_rate` on the same runtime:
/// the row to compare with Upbit's alone, in the same run.
async fn bench_two_venues(name: &str, trades: Vec<Vec<u8>>, n: usize, rate: Option<u32>, other_rate: u32) {
    // Enough Binance prints to outlast the Upbit run.
    let other_total = (other_rate as usize) * 600;
    let other = start_server(
        (0..1024).map(|i| binance_trade(i, 1_733_440_000_000)).collect(),
        other_total,
        Some(other_rate),
    );
    let mut cfg = FeedConfig::new(Arc::new(BinanceRest::new("http://127.0.0.1:9").unwrap()), None)
        .with_ws_base(&format!("ws://{other}"));
    cfg.rest_gap_fill = false;
    let tasks = TaskManager::new();
    let feed = FeedManager::start(cfg, &tasks);
    let proxy = feed.proxy("bench-other");
    let mut sub = proxy.subscribe_trade(&[MarketId::new("USDT-BTC")], Strategy::CoalesceByMarket).into_raw();
    // A pane's reader of the other venue: drains as the console's trades pump would.
    let got = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = got.clone();
    let reader = tokio::spawn(async move {
        while sub.recv_event().await.is_some() {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    bench_socket(name, StreamKind::Trade, trades, n, rate).await;
    let h = feed.health();
    println!(
        "  other venue alongside: {} prints read by its pane (coalescing), parse errors {}, health {:?}",
        got.load(std::sync::atomic::Ordering::Relaxed),
        h.parse_errors,
        h.health
    );
    tasks.cancel_all();
    tasks.wait_all(Duration::from_secs(2)).await;
    reader.abort();
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` / `--all-targets` does not, and
    // gets a quick skip instead of minutes of measuring.
    if !std::env::args().any(|a| a == "--bench") {
        println!("feed bench: skipped (run it with `cargo bench --bench feed`)");
        return;
    }
    let n: usize = std::env::var("FEED_BENCH_N").ok().and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let only = std::env::var("FEED_BENCH_ONLY").unwrap_or_default();
    let want = |tag: &str| only.is_empty() || only.split(',').any(|o| o == tag);
    if want("decode") {
        bench_decode("decode ticker", &ticker("KRW-BTC", 100), n);
        bench_decode("decode trade", &trade("KRW-BTC", 1, 1), n);
        bench_decode("decode orderbook (15 levels)", &orderbook("KRW-BTC", 15), n / 2);
        bench_decode("decode orderbook (30 levels)", &orderbook("KRW-BTC", 30), n / 4);
        bench_decode("decode orderbook (30, exponents)", &orderbook_spelled("KRW-BTC", 30), n / 4);
        bench_decode_binance("binance decode ticker", &binance_ticker(), n);
        bench_decode_binance("binance decode trade", &binance_trade(1, 1_733_440_000_000), n);
        bench_decode_binance("binance decode depth (20 levels)", &binance_depth20(), n / 4);
        bench_decode_full("old decode ticker (Wire structs)", &ticker("KRW-BTC", 100), n, |w: WireTicker| {
            w.to_ticker().timestamp as usize
        });
        bench_decode_full("old decode trade (Wire structs)", &trade("KRW-BTC", 1, 1), n, |w: WireTrade| {
            w.to_trade().sequential_id as usize
        });
        bench_decode_full(
            "old decode book 15 (Wire structs)",
            &orderbook("KRW-BTC", 15),
            n / 2,
            |w: WireOrderBook| w.to_book().levels.len(),
        );
        bench_decode_full(
            "old decode book 30 (Wire structs)",
            &orderbook("KRW-BTC", 30),
            n / 4,
            |w: WireOrderBook| w.to_book().levels.len(),
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    if want("route") {
        rt.block_on(bench_route(n));
    }
    let trades: Vec<Vec<u8>> = (0..1024).map(|i| trade("KRW-BTC", i, 1_730_336_862_047)).collect();
    let books: Vec<Vec<u8>> = vec![orderbook("KRW-BTC", 15)];
    if want("socket") {
        rt.block_on(bench_socket(
            "socket → recv, trades, unpaced",
            StreamKind::Trade,
            trades.clone(),
            n * 5,
            None,
        ));
        rt.block_on(bench_socket("socket → recv, 15-level books", StreamKind::OrderBook, books, n * 2, None));
    }
    if want("single") {
        // The same client on a current-thread runtime: everything on one thread, no
        // cross-thread wake-ups (what the console's runtime flavour would cost or save).
        let st = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        st.block_on(bench_socket(
            "1-thread rt: trades, unpaced",
            StreamKind::Trade,
            trades.clone(),
            n * 5,
            None,
        ));
        st.block_on(bench_socket(
            "1-thread rt: trades @ 50k/s",
            StreamKind::Trade,
            trades.clone(),
            150_000,
            Some(50_000),
        ));
        st.block_on(bench_socket(
            "1-thread rt: trades @ 5k/s",
            StreamKind::Trade,
            trades.clone(),
            25_000,
            Some(5_000),
        ));
    }
    if want("bare") {
        rt.block_on(bench_bare(
            "bare reader: trades, unpaced",
            StreamKind::Trade,
            trades.clone(),
            n * 5,
            None,
        ));
        rt.block_on(bench_bare(
            "bare reader: 15-level books",
            StreamKind::OrderBook,
            vec![orderbook("KRW-BTC", 15)],
            n * 2,
            None,
        ));
        rt.block_on(bench_bare(
            "bare reader: trades @ 50k/s",
            StreamKind::Trade,
            trades.clone(),
            150_000,
            Some(50_000),
        ));
        rt.block_on(bench_bare(
            "bare reader: trades @ 5k/s",
            StreamKind::Trade,
            trades.clone(),
            25_000,
            Some(5_000),
        ));
    }
    if want("gather") {
        // The console reads the public stream with a 2 ms gather ([feed] read_gather_ms).
        let g = Duration::from_millis(2);
        rt.block_on(bench_socket_with(
            "gather 2 ms: trades, unpaced",
            StreamKind::Trade,
            trades.clone(),
            n * 5,
            None,
            g,
        ));
        rt.block_on(bench_socket_with(
            "gather 2 ms: trades @ 50k/s",
            StreamKind::Trade,
            trades.clone(),
            150_000,
            Some(50_000),
            g,
        ));
        rt.block_on(bench_socket_with(
            "gather 2 ms: trades @ 5k/s",
            StreamKind::Trade,
            trades.clone(),
            25_000,
            Some(5_000),
            g,
        ));
    }
    if want("venues") {
        // The second venue: Binance's own feed over a loopback socket, then Upbit's with
        // Binance streaming beside it, against Upbit alone in the same run.
        let addr =
            start_server((0..1024).map(|i| binance_trade(i, 1_733_440_000_000)).collect(), n * 5, None);
        rt.block_on(bench_feed(
            "binance socket → recv, trades",
            BinanceRest::new("http://127.0.0.1:9").unwrap(),
            addr,
            MarketId::new("USDT-BTC"),
            StreamKind::Trade,
            n * 5,
            Duration::ZERO,
        ));
        // 500/s is about what the console's Binance connection carries (a ticker a second
        // for each listed coin, the shown market's book ten times a second and its prints);
        // 5k/s is a busy hour's ten times that; 10/s shows what a second feed costs by itself.
        for other in [10, 500, 5_000] {
            rt.block_on(bench_socket(
                "upbit alone: trades @ 50k/s",
                StreamKind::Trade,
                trades.clone(),
                150_000,
                Some(50_000),
            ));
            rt.block_on(bench_two_venues(
                &format!("upbit + binance {other}/s: trades @ 50k/s"),
                trades.clone(),
                150_000,
                Some(50_000),
                other,
            ));
        }
        rt.block_on(bench_socket(
            "upbit alone: trades, unpaced",
            StreamKind::Trade,
            trades.clone(),
            n * 5,
            None,
        ));
        rt.block_on(bench_two_venues(
            "upbit + binance 5k/s: trades, unpaced",
            trades.clone(),
            n * 5,
            None,
            5_000,
        ));
    }
    if want("paced") {
        rt.block_on(bench_socket(
            "socket → recv, trades @ 50k/s",
            StreamKind::Trade,
            trades.clone(),
            150_000,
            Some(50_000),
        ));
        rt.block_on(bench_socket(
            "socket → recv, trades @ 5k/s",
            StreamKind::Trade,
            trades,
            25_000,
            Some(5_000),
        ));
    }
}
