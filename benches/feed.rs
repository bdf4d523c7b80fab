//! Feed benchmarks: parse, route and deliver, plus the whole path over a loopback socket.
//!
//! Run: `cargo bench --bench feed` (prints throughput and latency percentiles; plain main
//! because divan reports means/medians but not the tail we care about).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hoga::exchange::api::StreamKind;
use hoga::exchange::types::MarketId;
use hoga::exchange::upbit::rest::{RestClient, RestConfig};
use hoga::exchange::upbit::ws::{Decoded, Decoder, decode};
use hoga::feed::backpressure::{Strategy, SubQueue};
use hoga::feed::router::{RouteTable, deliver};
use hoga::feed::{FeedConfig, FeedEvent, FeedManager, FeedPayload};
use hoga::kernel::TaskManager;
use tokio_tungstenite::tungstenite::{Bytes, Message};

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

fn orderbook(code: &str) -> Vec<u8> {
    let units: Vec<String> = (0..30)
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

/// The whole path: loopback websocket server → FeedManager → subscriber.
async fn bench_end_to_end(n: usize) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        // Wait for the subscription, then stream.
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_text() {
                break;
            }
        }
        for i in 0..n {
            ws.send(Message::Binary(Bytes::from(trade("KRW-BTC", i as i64, 1)))).await.unwrap();
        }
        while ws.next().await.is_some() {}
    });
    let rest = RestClient::new(
        RestConfig { base_url: "http://127.0.0.1:9/v1".into(), ..RestConfig::default() },
        None,
    )
    .unwrap();
    let mut cfg = FeedConfig::new(Arc::new(rest), None).with_ws_base(&format!("ws://{addr}"));
    cfg.rest_gap_fill = false;
    let tasks = TaskManager::new();
    let feed = FeedManager::start(cfg, &tasks);
    let proxy = feed.proxy("bench");
    let mut sub = proxy.subscribe_trade(&[MarketId::new("KRW-BTC")], Strategy::Lossless);
    let _other = proxy.subscribe_trade(&[MarketId::new("KRW-BTC")], Strategy::CoalesceByMarket);
    let mut samples = Vec::with_capacity(n);
    let first = sub.recv_event().await.unwrap();
    samples.push(first.received.elapsed());
    let t0 = Instant::now();
    for _ in 1..n {
        let ev = sub.recv_event().await.unwrap();
        samples.push(ev.received.elapsed());
    }
    report("socket → decode → route → recv", samples, t0.elapsed());
    let h = feed.health();
    println!(
        "  feed health: {:?}; delivery latency avg={}µs p99≤{}µs max={}µs",
        h.health, h.delivery_latency.avg_us, h.delivery_latency.p99_us, h.delivery_latency.max_us
    );
    tasks.cancel_all();
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` / `--all-targets` does not, and
    // gets a quick skip instead of minutes of measuring.
    if !std::env::args().any(|a| a == "--bench") {
        println!("feed bench: skipped (run it with `cargo bench --bench feed`)");
        return;
    }
    let n: usize = std::env::var("FEED_BENCH_N").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    bench_decode("decode ticker", &ticker("KRW-BTC", 100), n);
    bench_decode("decode trade", &trade("KRW-BTC", 1, 1), n);
    bench_decode("decode orderbook (30 levels)", &orderbook("KRW-BTC"), n / 4);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(bench_route(n));
    rt.block_on(bench_end_to_end(n));
}
