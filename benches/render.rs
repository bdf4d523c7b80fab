//! Render cost of one full frame, and the store's cost to apply what the feed delivers:
//! `cargo bench --bench render`.
//!
//! A busy screen (200 KRW markets with tickers, a 30-level book, a full trade tape, 200
//! candles, open orders, logs and tasks) is drawn at 120x40 and 200x50, two ways:
//! `render` alone into a fresh buffer (the pure function), and `Terminal::draw` on
//! `TestBackend` with a changing price (render + ratatui's diff + backend write), which
//! is what the app pays per frame. Then `Store::apply_batch` on that store (one ticker, a
//! burst of 64 tickers as the feed hands them over, one trade onto the full tape, one
//! 15-level book): docs/PERFORMANCE.md's "apply to store". Prints p50 / p90 / p99 / max per
//! case; figures go to BENCHMARKS.md, never into assertions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::percentiles;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use hoga::exchange::types::{
    BookLevel, Candle, MarketId, MarketInfo, OrderBook, Side, StreamType, Ticker, Timeframe, Trade,
};
use hoga::store::{LogLevel, Snapshot, Store, StoreEvent};
use hoga::ui::{ColorSupport, Theme, UiConfig, UiState, render, update};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use rust_decimal::Decimal;

fn fixture(t0: Instant) -> (Store, Arc<Snapshot>) {
    let mut ev = Vec::new();
    let coins: Vec<String> = (0..200).map(|i| format!("C{i:03}")).collect();
    ev.push(StoreEvent::MarketsLoaded(
        coins
            .iter()
            .map(|c| MarketInfo {
                market: MarketId::new(&format!("KRW-{c}")),
                korean_name: format!("코인{c}"),
                english_name: format!("Coin {c}"),
                warning: false,
                caution: false,
            })
            .collect(),
    ));
    for (i, c) in coins.iter().enumerate() {
        ev.push(StoreEvent::TickerUpdated(Ticker {
            market: Some(MarketId::new(&format!("KRW-{c}"))),
            trade_price: Decimal::from(1000 + i * 137),
            signed_change_rate: Decimal::new(i as i64 - 100, 4),
            acc_trade_price_24h: Decimal::from(1_000_000 * (i + 1)),
            ..Ticker::default()
        }));
    }
    let m = MarketId::new("KRW-C000");
    let mid = Decimal::from(95_000_000);
    let tick = Decimal::from(1000);
    ev.push(StoreEvent::BookUpdated(OrderBook {
        market: Some(m.clone()),
        levels: (0..30)
            .map(|i| BookLevel {
                ask_price: mid + tick * Decimal::from(i + 1),
                ask_size: Decimal::new(5 + i, 1),
                bid_price: mid - tick * Decimal::from(i),
                bid_size: Decimal::new(7 + i, 1),
            })
            .collect(),
        total_ask_size: Decimal::from(100),
        total_bid_size: Decimal::from(120),
        level: Decimal::ZERO,
        timestamp: 0,
        stream_type: StreamType::Realtime,
    }));
    for i in 0..200 {
        ev.push(StoreEvent::TradePrinted(Trade {
            market: m.clone(),
            price: mid + tick * Decimal::from(i % 5),
            volume: Decimal::new(1 + i % 300, 3),
            side: Some(if i % 3 == 0 { Side::Ask } else { Side::Bid }),
            trade_timestamp: 1_700_000_000_000 + i * 500,
            timestamp: 1_700_000_000_000 + i * 500,
            sequential_id: i,
            stream_type: StreamType::Realtime,
        }));
    }
    ev.push(StoreEvent::CandlesLoaded {
        market: m.clone(),
        timeframe: Timeframe::M1,
        candles: (0..200)
            .map(|i| {
                let base = mid + tick * Decimal::from((i * 37) % 41);
                Candle {
                    market: m.clone(),
                    timeframe: Timeframe::M1,
                    start: 1_700_000_000_000 + i * 60_000,
                    open: base,
                    high: base + tick * Decimal::from(20),
                    low: base - tick * Decimal::from(15),
                    close: base + tick * Decimal::from(5),
                    volume: Decimal::from(1 + i % 9),
                    value: Decimal::ONE,
                    timestamp: 1_700_000_000_000 + i * 60_000,
                }
            })
            .collect(),
    });
    for i in 0..300 {
        ev.push(StoreEvent::LogRecord {
            level: if i % 10 == 0 { LogLevel::Warn } else { LogLevel::Info },
            target: "hoga::feed".into(),
            message: format!("message number {i} with some text"),
            time: Utc.timestamp_opt(1_700_000_000 + i, 0).unwrap(),
        });
    }
    let mut store = Store::new();
    let snap = store.apply_batch(ev, t0);
    (store, snap)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` / `--all-targets` does not, and
    // gets a quick skip instead of minutes of measuring.
    if !std::env::args().any(|a| a == "--bench") {
        println!("render bench: skipped (run it with `cargo bench --bench render`)");
        return;
    }
    let iters: usize = std::env::var("RENDER_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let t0 = Instant::now();
    let (mut store, snap) = fixture(t0);
    let theme = Theme::load("dark", None, ColorSupport::TrueColor).unwrap();
    for (w, h) in [(120u16, 40u16), (200, 50)] {
        let mut ui = UiState::new(UiConfig::default());
        ui.now = t0;
        update::on_snapshot(&mut ui, &snap);
        ui.area = Rect::new(0, 0, w, h);

        // 1. The pure render into a fresh buffer.
        let area = Rect::new(0, 0, w, h);
        let mut samples = Vec::with_capacity(iters);
        for _ in 0..iters {
            let mut buf = Buffer::empty(area);
            let start = Instant::now();
            black_box(render(area, &mut buf, &ui, &snap, &theme));
            samples.push(start.elapsed());
            black_box(&buf);
        }
        percentiles(&format!("render {w}x{h}"), samples);

        // 2. A frame as the app draws it: new ticker each frame, render + diff + flush.
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        let mut samples = Vec::with_capacity(iters);
        for i in 0..iters {
            let snap = store.apply_batch(
                [StoreEvent::TickerUpdated(Ticker {
                    market: Some(MarketId::new("KRW-C000")),
                    trade_price: Decimal::from(95_000_000 + (i % 50) as i64 * 1000),
                    ..Ticker::default()
                })],
                t0,
            );
            let start = Instant::now();
            terminal
                .draw(|f| {
                    let a = f.area();
                    black_box(render(a, f.buffer_mut(), &ui, &snap, &theme));
                })
                .unwrap();
            samples.push(start.elapsed());
        }
        percentiles(&format!("terminal.draw {w}x{h}"), samples);
    }
    apply_to_store(&mut store, t0, iters * 20);
}

/// `Store::apply_batch` on the busy store: each sample is one batch, applied and
/// published as a new snapshot (what the store task does per wake-up).
fn apply_to_store(store: &mut Store, t0: Instant, iters: usize) {
    let ticker = |i: usize, m: usize| Ticker {
        market: Some(MarketId::new(&format!("KRW-C{:03}", m % 200))),
        trade_price: Decimal::from(1000 + (i % 50) * 7),
        signed_change_rate: Decimal::new((i % 200) as i64 - 100, 4),
        acc_trade_price_24h: Decimal::from(1_000_000 + i),
        ..Ticker::default()
    };
    let m = MarketId::new("KRW-C000");
    let book = |i: usize| OrderBook {
        market: Some(m.clone()),
        levels: (0..15)
            .map(|l| BookLevel {
                ask_price: Decimal::from(95_001_000 + l * 1000 + (i % 5) * 1000),
                ask_size: Decimal::new(5 + l as i64, 1),
                bid_price: Decimal::from(95_000_000 - l * 1000 + (i % 5) * 1000),
                bid_size: Decimal::new(7 + l as i64, 1),
            })
            .collect(),
        total_ask_size: Decimal::from(100),
        total_bid_size: Decimal::from(120),
        level: Decimal::ZERO,
        timestamp: i as i64,
        stream_type: StreamType::Realtime,
    };
    let trade = |i: usize| Trade {
        market: m.clone(),
        price: Decimal::from(95_000_000 + (i % 5) * 1000),
        volume: Decimal::new(1 + (i % 300) as i64, 3),
        side: Some(if i.is_multiple_of(3) { Side::Ask } else { Side::Bid }),
        trade_timestamp: 1_700_000_100_000 + i as i64,
        timestamp: 1_700_000_100_000 + i as i64,
        sequential_id: 1_000 + i as i64,
        stream_type: StreamType::Realtime,
    };
    // Events are built outside the timed part: the feed hands them over already decoded.
    let mut time = |name: &str, per_batch: usize, make: &dyn Fn(usize) -> Vec<StoreEvent>| {
        let mut samples = Vec::with_capacity(iters);
        for i in 0..iters {
            let batch = make(i);
            let start = Instant::now();
            black_box(store.apply_batch(batch, t0));
            samples.push(start.elapsed());
        }
        let total: Duration = samples.iter().sum();
        let per_sec = (iters * per_batch) as f64 / total.as_secs_f64();
        percentiles(name, samples);
        println!("{:<28} {per_sec:.0} messages/s applied (sum of the samples)", "");
    };
    time("store: 1 ticker", 1, &|i| vec![StoreEvent::TickerUpdated(ticker(i, i))]);
    time("store: 64 tickers, 1 batch", 64, &|i| {
        vec![StoreEvent::TickersUpdated((0..64).map(|k| ticker(i, i * 64 + k)).collect())]
    });
    time("store: 1 trade (full tape)", 1, &|i| vec![StoreEvent::TradePrinted(trade(i))]);
    time("store: 1 15-level book", 1, &|i| vec![StoreEvent::BookUpdated(book(i))]);
}
