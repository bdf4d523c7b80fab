//! The simulator's candle history over REST, as a client pages it: every timeframe
//! answers the count asked, pages walked backwards with `to=` meet without a gap or an
//! overlap far into the past, and every candle is a candle (bucket-aligned times in UTC
//! and KST, low ≤ open/close ≤ high, positive volume, an hour that agrees with its
//! minutes). Plain reqwest, as any Upbit client would ask.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};
use hoga::kernel::TaskManager;
use hoga::sim::{self, SimConfig, SimHandle};
use rust_decimal::Decimal;
use serde_json::Value;

/// 2025-06-15T15:06:40Z.
const START_MS: i64 = 1_750_000_000_000;

async fn manual(tasks: &TaskManager) -> SimHandle {
    let cfg = SimConfig {
        seed: 7,
        markets: Some(5),
        tick_interval: Duration::ZERO,
        start_ms: Some(START_MS),
        history_secs: 600,
        rate_limits: false,
        ..SimConfig::default()
    };
    sim::start(cfg, tasks).await.unwrap()
}

#[derive(Debug, Clone)]
struct Candle {
    start: i64,
    kst: i64,
    open: Decimal,
    high: Decimal,
    low: Decimal,
    close: Decimal,
    volume: Decimal,
    value: Decimal,
    last: i64,
}

fn d(v: &Value) -> Decimal {
    match v {
        Value::String(s) => s.parse().unwrap(),
        Value::Number(n) => {
            n.to_string().parse().or_else(|_| Decimal::from_scientific(&n.to_string())).unwrap()
        }
        other => panic!("not a decimal: {other}"),
    }
}

fn naive_ms(v: &Value) -> i64 {
    NaiveDateTime::parse_from_str(v.as_str().unwrap(), "%Y-%m-%dT%H:%M:%S")
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

async fn candles(sim: &SimHandle, path: &str, count: usize, to: Option<&str>) -> Vec<Candle> {
    let mut url = format!("{}/v1/candles/{path}?market=KRW-BTC&count={count}", sim.rest_base);
    if let Some(to) = to {
        url += &format!("&to={}", to.replace('+', "%2B").replace(' ', "%20"));
    }
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    let v: Value = r.json().await.unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| Candle {
            start: naive_ms(&c["candle_date_time_utc"]),
            kst: naive_ms(&c["candle_date_time_kst"]),
            open: d(&c["opening_price"]),
            high: d(&c["high_price"]),
            low: d(&c["low_price"]),
            close: d(&c["trade_price"]),
            volume: d(&c["candle_acc_trade_volume"]),
            value: d(&c["candle_acc_trade_price"]),
            last: c["timestamp"].as_i64().unwrap(),
        })
        .collect()
}

/// Every REST candle path with its bucket length (s; 0 = calendar months or years).
const PATHS: [(&str, i64); 13] = [
    ("seconds", 1),
    ("minutes/1", 60),
    ("minutes/3", 180),
    ("minutes/5", 300),
    ("minutes/10", 600),
    ("minutes/15", 900),
    ("minutes/30", 1800),
    ("minutes/60", 3600),
    ("minutes/240", 14_400),
    ("days", 86_400),
    ("weeks", 604_800),
    ("months", 0),
    ("years", 0),
];

fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

/// A candle on its bucket boundary, with its KST twin, a timestamp inside it, and
/// prices and volumes that make a candle.
fn check_candle(path: &str, len: i64, c: &Candle) {
    let t = utc(c.start);
    assert_eq!(c.kst - c.start, 9 * 3_600_000, "{path}: KST is UTC + 9 h");
    match path {
        "weeks" => assert_eq!(t.weekday(), chrono::Weekday::Mon, "{path} {t}"),
        "months" => assert_eq!(t.day(), 1, "{path} {t}"),
        "years" => assert_eq!((t.month(), t.day()), (1, 1), "{path} {t}"),
        _ => assert_eq!(c.start.rem_euclid(len * 1000), 0, "{path} {t}"),
    }
    if path != "months" && path != "years" && path != "weeks" {
        assert!(c.last >= c.start && c.last < c.start + len * 1000, "{path} {t}: last trade {}", c.last);
    }
    assert!(c.low <= c.open.min(c.close) && c.high >= c.open.max(c.close), "{path} {t}: {c:?}");
    assert!(
        c.low > Decimal::ZERO && c.volume > Decimal::ZERO && c.value > Decimal::ZERO,
        "{path} {t}: {c:?}"
    );
}

/// Newest first, one bucket each, and each opens near where the one before closed (a
/// trade or two of BTC apart; exactly, in the drawn history).
fn check_sequence(path: &str, page: &[Candle]) {
    for w in page.windows(2) {
        assert!(w[0].start > w[1].start, "{path}: newest first, no repeats");
        let gap = (w[0].open - w[1].close).abs() / w[1].close;
        assert!(
            gap < Decimal::new(3, 3),
            "{path} {}: opens {} after a close of {}",
            utc(w[0].start),
            w[0].open,
            w[1].close
        );
    }
}

/// `minutes/1?count=200` answered 62 rows, `minutes/60?count=3` 2, `minutes/240` 1 and
/// `years` none: every path now answers the count asked, with candles that are candles.
#[tokio::test]
async fn every_timeframe_answers_the_count_asked() {
    let tasks = TaskManager::new();
    let sim = manual(&tasks).await;
    for (path, len) in PATHS {
        let page = candles(&sim, path, 200, None).await;
        assert_eq!(page.len(), 200, "{path}");
        for c in &page {
            check_candle(path, len, c);
        }
        check_sequence(path, &page);
        assert!(page[0].start <= START_MS, "{path}: nothing after the clock");
        let small = candles(&sim, path, 3, None).await;
        assert_eq!(small.len(), 3, "{path}");
    }
    sim.stop();
}

/// Pages walked backwards with `to=` (the oldest start of the page before, exclusive)
/// meet: no bucket twice, none left out, the drawn path continuous across the seam.
#[tokio::test]
async fn paging_backwards_is_seamless_and_goes_far_back() {
    let tasks = TaskManager::new();
    let sim = manual(&tasks).await;
    for (path, len) in PATHS {
        let mut to: Option<String> = None;
        let mut all: Vec<Candle> = Vec::new();
        // Years reach back about 270 years: one page of them.
        for _ in 0..if path == "years" { 1 } else { 3 } {
            let page = candles(&sim, path, 200, to.as_deref()).await;
            assert_eq!(page.len(), 200, "{path} to={to:?}");
            if let (Some(prev), Some(first)) = (all.last(), page.first()) {
                assert!(first.start < prev.start, "{path}: a page starts before the one it follows");
                if len > 0 {
                    // The drawn history has every bucket: the next page starts one bucket on.
                    assert_eq!(prev.start - first.start, len * 1000, "{path}: nothing left out at the seam");
                }
                assert_eq!(first.close, prev.open, "{path}: the path goes on across the seam");
            }
            let oldest = page.last().unwrap().start;
            to = Some(format!("{}Z", utc(oldest).format("%Y-%m-%dT%H:%M:%S")));
            all.extend(page);
        }
        check_sequence(path, &all);
    }

    // Far back: three weeks of minutes, three years of days, as a client pages.
    let three_weeks = utc(START_MS - 21 * 86_400_000).format("%Y-%m-%dT%H:%M:00Z").to_string();
    let m = candles(&sim, "minutes/1", 200, Some(&three_weeks)).await;
    assert_eq!(m.len(), 200);
    assert_eq!(m[0].start, START_MS - 21 * 86_400_000 - START_MS.rem_euclid(60_000) - 60_000);
    let d = candles(&sim, "days", 200, Some("2022-06-01T00:00:00Z")).await;
    assert_eq!(d.len(), 200);
    assert_eq!(utc(d[0].start).format("%Y-%m-%d").to_string(), "2022-05-31");
    // Seconds are kept three months, as Upbit keeps them: older asks get an empty list.
    let old = utc(START_MS - 100 * 86_400_000).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    assert!(candles(&sim, "seconds", 200, Some(&old)).await.is_empty());
    sim.stop();
}

/// `to` in each documented form (UTC with `Z`, without a zone, KST with `+09:00`) is the
/// same instant, and the same request gives the same candles (the history is a function
/// of the seed, not drawn anew per request).
#[tokio::test]
async fn to_in_every_documented_form_is_the_same_instant() {
    let tasks = TaskManager::new();
    let sim = manual(&tasks).await;
    let a = candles(&sim, "minutes/15", 5, Some("2025-06-01T00:00:00Z")).await;
    let b = candles(&sim, "minutes/15", 5, Some("2025-06-01 00:00:00")).await;
    let c = candles(&sim, "minutes/15", 5, Some("2025-06-01T09:00:00+09:00")).await;
    let starts = |v: &[Candle]| v.iter().map(|c| (c.start, c.open, c.close)).collect::<Vec<_>>();
    assert_eq!(starts(&a), starts(&b));
    assert_eq!(starts(&a), starts(&c));
    assert_eq!(utc(a[0].start).format("%Y-%m-%dT%H:%M").to_string(), "2025-05-31T23:45");
    sim.stop();
}

/// An hour of the drawn history agrees with its sixty minutes, and a day with its first
/// and last hour: same open, same close, a range holding theirs to within a minute's move.
#[tokio::test]
async fn coarse_candles_agree_with_the_candles_inside_them() {
    let tasks = TaskManager::new();
    let sim = manual(&tasks).await;
    let to = "2025-06-10T13:00:00Z";
    let hour = &candles(&sim, "minutes/60", 1, Some(to)).await[0];
    let mins = candles(&sim, "minutes/1", 60, Some(to)).await;
    assert_eq!(mins.len(), 60);
    assert_eq!(mins.last().unwrap().start, hour.start);
    assert_eq!(hour.open, mins.last().unwrap().open);
    assert_eq!(hour.close, mins[0].close);
    let hi = mins.iter().map(|c| c.high).max().unwrap();
    let lo = mins.iter().map(|c| c.low).min().unwrap();
    let edges = mins.iter().flat_map(|c| [c.open, c.close]);
    assert!(
        edges.clone().all(|p| p <= hour.high && p >= hour.low),
        "the hour holds every minute's open and close"
    );
    let tol = hour.open * Decimal::new(15, 4);
    assert!(
        (hour.high - hi).abs() <= tol && (hour.low - lo).abs() <= tol,
        "hour {hour:?} vs minutes {hi}..{lo}"
    );

    let day = &candles(&sim, "days", 1, Some("2025-06-11T00:00:00Z")).await[0];
    let hours = candles(&sim, "minutes/60", 24, Some("2025-06-11T00:00:00Z")).await;
    assert_eq!(day.start, hours.last().unwrap().start);
    assert_eq!((day.open, day.close), (hours.last().unwrap().open, hours[0].close));
    assert!(hours.iter().all(|h| h.open <= day.high && h.open >= day.low));
    assert_eq!(utc(day.start).hour(), 0, "days start at 00:00 UTC");
    sim.stop();
}

/// A kept demo session restarted later (the same day, then the next) draws the same past
/// before its first start: the minutes, hours and days before the first session's start
/// (and its drawn hour of trades) are equal field for field in every session. Each start
/// used to draw its past afresh backwards from the saved price: another 08:11 candle,
/// another day's range, other indicators after every restart.
#[tokio::test]
async fn a_restart_draws_the_same_past_before_the_first_start() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("demo-account.json");
    let session = |start_ms: i64| SimConfig {
        seed: 7,
        markets: Some(5),
        tick_interval: Duration::ZERO,
        start_ms: Some(start_ms),
        history_secs: 600,
        rate_limits: false,
        state_file: Some(state.clone()),
        ..SimConfig::default()
    };
    // Before the first session's drawn trades (its first 600 s), everything is drawn.
    let kept = START_MS - 600_000;
    let to = utc(kept).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let read = |sim: SimHandle| {
        let to = to.clone();
        async move {
            let mut out = Vec::new();
            for (path, len) in [("minutes/1", 60_000), ("minutes/60", 3_600_000), ("days", 86_400_000)] {
                let page = candles(&sim, path, 200, Some(&to)).await;
                // Whole buckets before the kept time (the one holding it had trades in it).
                let whole: Vec<_> = page
                    .iter()
                    .filter(|c| c.start + len <= kept)
                    .map(|c| (c.start, c.open, c.high, c.low, c.close, c.volume, c.value, c.last))
                    .collect();
                assert!(whole.len() > 5, "{path}");
                out.push(whole);
            }
            sim.stop();
            out
        }
    };
    let tasks = TaskManager::new();
    let sim = sim::start(session(START_MS), &tasks).await.unwrap();
    sim.step(3000);
    sim.save_state().unwrap();
    let first = read(sim).await;
    tasks.cancel_all();
    for later in [2 * 3_600_000, 30 * 3_600_000] {
        let tasks = TaskManager::new();
        let sim = sim::start(session(START_MS + later), &tasks).await.unwrap();
        sim.step(1000);
        sim.save_state().unwrap();
        let again = read(sim).await;
        tasks.cancel_all();
        for (a, b) in first.iter().zip(&again) {
            assert_eq!(a.len(), b.len(), "restarted {later} ms later");
            for (x, y) in a.iter().zip(b) {
                assert_eq!(x, y, "restarted {later} ms later");
            }
        }
    }
}
