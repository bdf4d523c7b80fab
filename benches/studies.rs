//! The chart's studies: what one frame pays for them (`cargo bench --bench studies`).
//!
//! 1000 one-minute candles (what the store keeps a series) and eight studies (SMA 20,
//! EMA 50, BB 20 2, VWAP, VOL 20, RSI 14, MACD 12 26 9, SMA 200): computed from scratch
//! (`series::compute`, what a chart without the cache would pay every frame), and through
//! `StudyCache` when nothing changed, when the forming candle traded, and when a new candle
//! opened at the store's cap (the oldest dropped: every index moves, a full computation).
//! Prints p50 / p90 / p99 / max per case; figures go to BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::percentiles;
use std::hint::black_box;
use std::time::Instant;

use hoga::exchange::types::{Candle, MarketId, Timeframe};
use hoga::indicators::series::{Study, StudyCache, compute};
use rust_decimal::Decimal;

/// 2026-12-05T00:00 KST.
const KST_MIDNIGHT: i64 = 1_796_396_400_000;

fn candle(i: i64) -> Candle {
    let close = Decimal::from(148_000_000 + (i * 7_919) % 400_000);
    let volume = Decimal::new(1 + (i * 104_729) % 90_000_000, 8);
    Candle {
        market: MarketId::new("KRW-BTC"),
        timeframe: Timeframe::M1,
        start: KST_MIDNIGHT + i * 60_000,
        open: close,
        high: close,
        low: close,
        close,
        volume,
        value: close * volume,
        timestamp: KST_MIDNIGHT + i * 60_000,
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("studies bench: skipped (run it with `cargo bench --bench studies`)");
        return;
    }
    let iters: usize = std::env::var("STUDIES_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let studies = [
        Study::Sma { period: 20 },
        Study::Ema { period: 50 },
        Study::Bollinger { period: 20, width: Decimal::TWO },
        Study::Vwap,
        Study::Volume { period: 20 },
        Study::Rsi { period: 14 },
        Study::Macd { fast: 12, slow: 26, signal: 9 },
        Study::Sma { period: 200 },
    ];
    let m = MarketId::new("KRW-BTC");
    let mut candles: Vec<Candle> = (0..1000).map(candle).collect();

    let mut samples = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        for s in &studies {
            black_box(compute(s, &candles));
        }
        samples.push(t.elapsed());
    }
    percentiles("compute 8 studies x1000", samples);

    let cache = StudyCache::default();
    cache.series(&m, Timeframe::M1, &candles, &studies);
    let mut samples = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        black_box(cache.series(&m, Timeframe::M1, &candles, &studies));
        samples.push(t.elapsed());
    }
    percentiles("cache, nothing changed", samples);

    let mut samples = Vec::with_capacity(iters);
    for i in 0..iters {
        let last = candles.len() - 1;
        candles[last].close = Decimal::from(148_000_000 + (i as i64 % 50) * 1000);
        candles[last].volume += Decimal::new(1, 4);
        let t = Instant::now();
        black_box(cache.series(&m, Timeframe::M1, &candles, &studies));
        samples.push(t.elapsed());
    }
    percentiles("cache, forming candle", samples);

    let mut samples = Vec::with_capacity(iters);
    for _ in 0..iters {
        let next = candles.last().map_or(0, |c| (c.start - KST_MIDNIGHT) / 60_000 + 1);
        candles.remove(0);
        candles.push(candle(next));
        let t = Instant::now();
        black_box(cache.series(&m, Timeframe::M1, &candles, &studies));
        samples.push(t.elapsed());
    }
    percentiles("cache, new candle at cap", samples);
}
