//! Indicator streams end to end: the simulator's `indicator` / `indicator_signal` messages
//! (computed by definition over its own candles at each close) against hoga's client
//! path — the real `/websocket/v1/info` session and decoder, the real REST client for the
//! candles, and the incremental trackers the chart uses. They must agree exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{DEADLINE, snapshot_until, start_core};
use hoga::config::Settings;
use hoga::exchange::credentials::Credentials;
use hoga::exchange::types::Candle;
use hoga::exchange::types::{MarketId, Timeframe};
use hoga::exchange::upbit::indicator::decode;
use hoga::exchange::upbit::rest::{RestClient, RestConfig};
use hoga::exchange::upbit::ws::WsConfig;
use hoga::indicators::series::{self, Study, StudySeries};
use hoga::indicators::{Bar, Indicator, IndicatorEvent, MaKind, Reading, Source, Tracker, stream};
use hoga::ui::UiCommand;
use secrecy::ExposeSecret;

/// A 5-minute bucket boundary, so the first simulated candles are whole.
const START_MS: i64 = 1_796_461_200_000;

/// The candles before `to` (exclusive) as the client reads them by REST, oldest first.
async fn closed_candles(rest: &RestClient, market: &MarketId, tf: Timeframe, to: i64) -> Vec<Bar> {
    rest_candles(rest, market, tf, to).await.iter().map(Bar::from).collect()
}

async fn rest_candles(rest: &RestClient, market: &MarketId, tf: Timeframe, to: i64) -> Vec<Candle> {
    let to = chrono::DateTime::from_timestamp_millis(to).unwrap().format("%Y-%m-%dT%H:%M:%S").to_string();
    let mut candles = rest.candles(market, tf, 200, Some(&to)).await.unwrap();
    candles.sort_by_key(|c| c.start);
    candles
}

/// What the chart draws for `ind` at the last of `candles`: its studies' series
/// (`series::compute`, the same per-candle values the chart pane reads) at the last index.
fn chart_reading(ind: &Indicator, candles: &[Candle]) -> Option<Reading> {
    let last = |study: Study| -> StudySeries { series::compute(&study, candles) };
    let line = |study: Study| match last(study) {
        StudySeries::Line(v) => *v.last()?,
        other => panic!("{study} is not a line: {other:?}"),
    };
    let ma = |kind: MaKind, period: u16| match kind {
        MaKind::Sma => line(Study::Sma { period }),
        MaKind::Ema => line(Study::Ema { period }),
    };
    match *ind {
        Indicator::MovingAverage { ma_type, period } => ma(ma_type, period).map(Reading::MovingAverage),
        Indicator::MaCrossover { ma_type, short_period, long_period } => {
            Some(Reading::MaCrossover { short: ma(ma_type, short_period)?, long: ma(ma_type, long_period)? })
        }
        _ => match (last(Study::from_indicator(ind)?), ind) {
            (StudySeries::Oscillator(v), _) => v.last().copied().flatten().map(Reading::Rsi),
            (StudySeries::Bands { upper, middle, lower }, _) => Some(Reading::BollingerBands {
                upper: (*upper.last()?)?,
                middle: (*middle.last()?)?,
                lower: (*lower.last()?)?,
            }),
            (StudySeries::Macd { macd, signal, histogram }, _) => Some(Reading::Macd {
                macd: (*macd.last()?)?,
                signal: (*signal.last()?)?,
                histogram: (*histogram.last()?)?,
            }),
            (StudySeries::Volume { volume, average }, _) => {
                Some(Reading::Volume { volume: *volume.last()?, average: (*average.last()?)? })
            }
            (other, ind) => panic!("{} drew {other:?}", ind.label()),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_indicators_equal_the_clients_own_over_rest_candles() {
    // 20 s per step, 8 steps a round: a 5-minute candle closes every other round.
    streamed_equals_local(Timeframe::M5, 20_000, 8).await;
}

/// Hourly candles: the chart's studies (RSI 14, SMA 20, BB 20 2, MACD 12 26 9, the EMA
/// crossover, volume) over the REST candles give, at each closed candle, exactly the value
/// Upbit's stream sends for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_charts_studies_equal_upbit_at_each_hourly_close() {
    streamed_equals_local(Timeframe::H1, 900_000, 8).await;
}

/// Day candles are not on Upbit's candle stream; their indicator closes still come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn day_indicators_come_at_the_utc_day_close() {
    streamed_equals_local(Timeframe::D1, 3_600_000, 12).await;
}

async fn streamed_equals_local(tf: Timeframe, step_ms: i64, steps_per_round: usize) {
    let (_tasks, sim) = common::still_sim(3, |c| {
        c.step_ms = step_ms;
        c.start_ms = Some(START_MS);
    })
    .await;
    let market = MarketId::new("KRW-BTC");
    let bucket = tf.minutes().map_or(86_400_000, |m| i64::from(m) * 60_000);
    let creds = Credentials::new(sim.credentials.0.clone(), sim.credentials.1.expose_secret());
    let info = format!("ws://{}/websocket/v1/info", sim.addr);
    let mut ws = stream::open(&info, Some(&creds), &WsConfig::default(), &market, tf).await.unwrap();
    let rest = RestClient::new(
        RestConfig { base_url: format!("{}/v1", sim.rest_base), ..RestConfig::default() },
        None,
    )
    .unwrap();

    let deadline = tokio::time::Instant::now() + DEADLINE;
    let (mut checked, mut signals) = (0, 0);
    // Upbit sends one message per indicator and close: wait for every kind, twice over.
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    while kinds.len() < Indicator::DEFAULTS.len() || kinds.values().any(|n| *n < 2) {
        assert!(tokio::time::Instant::now() < deadline, "only {checked} indicator messages in time");
        // Candles close as the virtual clock passes their end.
        sim.step(steps_per_round);
        while let Ok(frame) = tokio::time::timeout(Duration::from_millis(300), ws.next_frame()).await {
            let frame = frame.unwrap();
            let text = std::str::from_utf8(&frame.bytes).unwrap();
            let ty = serde_json::from_str::<serde_json::Value>(text).unwrap()["type"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if ty != "indicator" && ty != "indicator_signal" {
                continue;
            }
            match decode(&ty, text, MarketId::new).unwrap() {
                IndicatorEvent::Values(f) => {
                    assert_eq!((&f.market, f.timeframe), (&market, tf));
                    let candles = rest_candles(&rest, &market, tf, f.candle_start + bucket).await;
                    let bars: Vec<Bar> = candles.iter().map(Bar::from).collect();
                    assert_eq!(bars.last().map(|b| b.start), Some(f.candle_start), "the closed candle");
                    assert_eq!(f.values.len(), 1, "one indicator per message: {text}");
                    *kinds.entry(f.values[0].0.wire_type()).or_default() += 1;
                    for (ind, reading) in &f.values {
                        let local = Tracker::with_history(*ind, &bars).unwrap().value();
                        assert_eq!(local.as_ref(), Some(reading), "{} at {}", ind.label(), f.candle_start);
                        // The chart's series over the same candles, at the closed one.
                        let drawn = chart_reading(ind, &candles);
                        assert_eq!(
                            drawn.as_ref(),
                            Some(reading),
                            "chart {} at {}",
                            ind.label(),
                            f.candle_start
                        );
                    }
                    checked += 1;
                }
                IndicatorEvent::Signal(s) => {
                    let bars = closed_candles(&rest, &market, tf, s.candle_start + bucket).await;
                    let local = Tracker::with_history(s.indicator, &bars).unwrap().value().unwrap();
                    assert_eq!(local, s.reading, "signal {} {}", s.indicator.label(), s.condition.label());
                    assert!(
                        s.condition.holds(&local, bars.last().unwrap().close),
                        "a signal's condition holds"
                    );
                    signals += 1;
                }
                other => panic!("the decoder makes values or signals only: {other:?}"),
            }
        }
    }
    eprintln!("{checked} value messages and {signals} signals agreed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_indicator_stream_where_upbit_has_none() {
    // Upbit streams KRW markets on 5m..1d only; elsewhere the chart computes locally.
    assert!(stream::request(&MarketId::new("BTC-ETH"), Timeframe::H1).is_none());
    assert!(stream::request(&MarketId::new("KRW-BTC"), Timeframe::M1).is_none());
    assert!(stream::request(&MarketId::new("KRW-BTC"), Timeframe::D1).is_some());
    // The simulator refuses the stream to a connection without a key, as Upbit does.
    let (_tasks, sim) = common::still_sim(1, |_| {}).await;
    let info = format!("ws://{}/websocket/v1/info", sim.addr);
    let e = stream::open(&info, None, &WsConfig::default(), &MarketId::new("KRW-BTC"), Timeframe::M5).await;
    let refused = match e {
        Err(_) => true,
        Ok(mut ws) => {
            let f = tokio::time::timeout(DEADLINE, ws.next_frame()).await.unwrap();
            f.is_err() || std::str::from_utf8(&f.unwrap().bytes).unwrap().contains("error")
        }
    };
    assert!(refused, "an unauthenticated indicator subscription is refused");
}

/// The console in demo: a 5-minute KRW-BTC chart gets Upbit's values from the simulator's
/// indicator stream (through the pump, the store and the board), and a 1-minute chart,
/// which Upbit does not stream, keeps its local values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_chart_reads_upbit_values_where_streamed_and_local_elsewhere() {
    let (tasks, core) = start_core(&Settings::default(), None).await;
    let sim = core.sim.clone().unwrap();
    let btc = MarketId::new("KRW-BTC");
    let mut snaps = core.store.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    core.commands.send(UiCommand::SelectMarket(btc.clone())).unwrap();
    let readout =
        |s: &hoga::store::Snapshot, tf| s.market.indicators.get(&(btc.clone(), tf)).map(|b| b.readout());
    let s = snapshot_until(&mut snaps, deadline, "1m indicators computed locally", |s| {
        readout(s, Timeframe::M1).is_some_and(|(v, src)| !v.is_empty() && src == Source::Local)
    })
    .await;
    assert_eq!(readout(&s, Timeframe::M1).unwrap().1, Source::Local);
    core.commands.send(UiCommand::SetTimeframe(Timeframe::M5)).unwrap();
    // The virtual clock is pushed past 5-minute closes until Upbit's values arrive.
    loop {
        let s = snaps.borrow_and_update().clone();
        if readout(&s, Timeframe::M5).is_some_and(|(v, src)| src == Source::Upbit && v.len() == 6) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no Upbit indicator values: {:?}",
            readout(&s, Timeframe::M5)
        );
        sim.step(300);
        let _ = tokio::time::timeout(Duration::from_millis(200), snaps.changed()).await;
    }
    sim.stop();
    tasks.cancel_all();
}
