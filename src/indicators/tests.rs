//! Tests of the indicators: worked examples, and the tracker against the definition.
#![cfg(test)]

use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::*;

fn bars(closes: &[i64]) -> Vec<Bar> {
    closes
        .iter()
        .enumerate()
        .map(|(i, c)| Bar {
            start: i as i64 * 60_000,
            close: Decimal::from(*c),
            volume: Decimal::from(i + 1),
        })
        .collect()
}

fn closes(xs: &[i64]) -> Vec<Decimal> {
    xs.iter().map(|x| Decimal::from(*x)).collect()
}

#[test]
fn simple_and_exponential_averages_by_hand() {
    let xs = closes(&[1, 2, 3, 4, 5]);
    assert_eq!(calc::sma(&xs, 5), Some(dec!(3)));
    assert_eq!(calc::sma(&xs, 2), Some(dec!(4.5)));
    assert_eq!(calc::sma(&xs, 6), None);
    // EMA(3): seed mean(1,2,3) = 2, α = 0.5: 2 + 0.5 (4 − 2) = 3, 3 + 0.5 (5 − 3) = 4.
    assert_eq!(calc::ema(&xs, 3), Some(dec!(4)));
}

#[test]
fn rsi_extremes_and_wilder_smoothing() {
    assert_eq!(calc::rsi(&closes(&[1, 2, 3, 4]), 3), Some(100.0));
    assert_eq!(calc::rsi(&closes(&[4, 3, 2, 1]), 3), Some(0.0));
    assert_eq!(calc::rsi(&closes(&[5, 5, 5, 5]), 3), Some(50.0));
    // Changes +2, −1, +1 seed gain 1, loss 1/3; then −2: gain 2/3, loss (2/3 + 2)/3 = 8/9.
    let r = calc::rsi(&closes(&[10, 12, 11, 12, 10]), 3).unwrap();
    let want = 100.0 - 100.0 / (1.0 + (2.0 / 3.0) / (8.0 / 9.0));
    assert!((r - want).abs() < 1e-9, "{r} vs {want}");
    assert_eq!(calc::rsi(&closes(&[1, 2, 3]), 3), None);
}

#[test]
fn bands_of_a_flat_series_close_on_the_middle() {
    let (u, m, l) = calc::bollinger(&closes(&[7; 20]), 20, dec!(2)).unwrap();
    assert_eq!((u, m, l), (dec!(7), dec!(7), dec!(7)));
    // 2 and 4: mean 3, σ 1.
    let (u, m, l) = calc::bollinger(&closes(&[2, 4]), 2, dec!(2)).unwrap();
    assert_eq!((u, m, l), (dec!(5), dec!(3), dec!(1)));
}

#[test]
fn macd_of_a_flat_series_is_zero_and_needs_slow_plus_signal_bars() {
    let flat = closes(&[100; 34]);
    assert_eq!(calc::macd(&flat, 12, 26, 9), Some((dec!(0), dec!(0), dec!(0))));
    assert_eq!(calc::macd(&flat[..33], 12, 26, 9), None);
    assert_eq!(Indicator::DEFAULTS[1].warmup(), 34);
}

#[test]
fn bad_parameters_are_refused_with_their_name() {
    let e = Tracker::new(Indicator::Macd { fast_period: 26, slow_period: 12, signal_period: 9 }).unwrap_err();
    assert!(e.contains("fast_period 26"), "{e}");
    let e = Tracker::new(Indicator::Rsi { period: 0 }).unwrap_err();
    assert!(e.contains("period must be at least 1"), "{e}");
    assert!(compute(&Indicator::BollingerBands { period: 20, std_dev: dec!(0) }, &bars(&[1; 30])).is_none());
}

#[test]
fn an_updated_forming_candle_replaces_itself_and_an_old_one_is_refused() {
    let mut t = Tracker::new(Indicator::MovingAverage { ma_type: MaKind::Sma, period: 2 }).unwrap();
    let b = |start: i64, c: i64| Bar { start, close: Decimal::from(c), volume: Decimal::ONE };
    assert!(t.update(b(0, 10)));
    assert!(t.update(b(1, 20)));
    assert_eq!(t.value(), Some(Reading::MovingAverage(dec!(15))));
    assert!(t.update(b(1, 30)));
    assert_eq!(t.value(), Some(Reading::MovingAverage(dec!(20))));
    assert!(!t.update(b(0, 99)));
    assert_eq!(t.value(), Some(Reading::MovingAverage(dec!(20))));
}

fn any_indicator() -> impl Strategy<Value = Indicator> {
    let ma = prop_oneof![Just(MaKind::Sma), Just(MaKind::Ema)];
    prop_oneof![
        (1u16..30).prop_map(|period| Indicator::Volume { period }),
        (1u16..30).prop_map(|period| Indicator::Rsi { period }),
        (ma.clone(), 1u16..30).prop_map(|(ma_type, period)| Indicator::MovingAverage { ma_type, period }),
        (ma, 1u16..10, 1u16..20).prop_map(|(ma_type, s, extra)| Indicator::MaCrossover {
            ma_type,
            short_period: s,
            long_period: s + extra
        }),
        (2u16..30, 1u32..40)
            .prop_map(|(period, w)| Indicator::BollingerBands { period, std_dev: Decimal::new(w.into(), 1) }),
        (1u16..12, 1u16..16, 1u16..10).prop_map(|(f, extra, signal_period)| Indicator::Macd {
            fast_period: f,
            slow_period: f + extra,
            signal_period
        }),
    ]
}

/// A live series: each step either updates the forming candle or opens a new one.
/// Prices sit on a 0.01 grid like a small-cap KRW market, volumes on 8 decimals.
fn any_feed() -> impl Strategy<Value = Vec<(bool, i64, i64)>> {
    prop::collection::vec((any::<bool>(), 1i64..10_000_000, 1i64..1_000_000_000), 1..120)
}

/// Candle values as a hostile server could send them: ordinary ones mixed with values
/// near `Decimal::MAX`, whose sums and differences do not fit.
fn any_hostile_feed() -> impl Strategy<Value = Vec<(bool, Decimal, Decimal)>> {
    let value = prop_oneof![
        3 => (1i64..10_000_000).prop_map(|v| Decimal::new(v, 2)),
        1 => Just(Decimal::MAX),
        1 => (1u32..1000).prop_map(|k| Decimal::MAX / Decimal::from(k)),
    ];
    prop::collection::vec((any::<bool>(), value.clone(), value), 1..60)
}

proptest! {
    /// The tracker, fed candle updates as a live stream delivers them, gives at every step
    /// exactly the value of the definition over the series as it then stands.
    #[test]
    fn incremental_equals_direct(ind in any_indicator(), feed in any_feed()) {
        let mut t = Tracker::new(ind).unwrap();
        let mut series: Vec<Bar> = Vec::new();
        for (same, price, vol) in feed {
            let start = match series.last() {
                Some(last) if same => last.start,
                Some(last) => last.start + 60_000,
                None => 0,
            };
            let bar = Bar { start, close: Decimal::new(price, 2), volume: Decimal::new(vol, 8) };
            match series.last_mut() {
                Some(last) if last.start == start => *last = bar,
                _ => series.push(bar),
            }
            prop_assert!(t.update(bar));
            prop_assert_eq!(t.value(), compute(&ind, &series), "after {} bars", series.len());
        }
    }

    /// RSI stays in 0..=100 and the bands keep their order.
    #[test]
    fn values_stay_in_range(feed in any_feed()) {
        let series: Vec<Bar> = feed.iter().enumerate().map(|(i, (_, p, v))| Bar {
            start: i as i64, close: Decimal::new(*p, 2), volume: Decimal::new(*v, 8),
        }).collect();
        if let Some(Reading::Rsi(r)) = compute(&Indicator::Rsi { period: 14 }, &series) {
            prop_assert!((0.0..=100.0).contains(&r));
        }
        if let Some(Reading::BollingerBands { upper, middle, lower }) = compute(&Indicator::DEFAULTS[2], &series) {
            prop_assert!(lower <= middle && middle <= upper);
        }
    }
}

#[test]
fn the_board_shows_upbit_values_only_while_they_are_for_the_latest_closed_candle() {
    let series = bars(&(0..40).map(|i| 100 + i % 7).collect::<Vec<_>>());
    let mut board = Board::default();
    board.load(&series);
    let (local, src) = board.readout();
    assert_eq!((local.len(), src), (Indicator::DEFAULTS.len(), Source::Local));
    // The last bar is forming; the one before closed: Upbit's values for it are current.
    let closed = series[series.len() - 2].start;
    board.apply(crate::indicators::rsi_frame(closed, 42.0));
    assert_eq!(board.readout(), (vec![(Indicator::Rsi { period: 14 }, Reading::Rsi(42.0))], Source::Upbit));
    // An older message arriving late changes nothing.
    board.apply(crate::indicators::rsi_frame(closed - 60_000, 10.0));
    assert_eq!(board.readout().0[0].1, Reading::Rsi(42.0));
    // A new bucket closes the forming candle: until Upbit speaks for it, local values.
    let last = *series.last().unwrap();
    board.update(Bar { start: last.start + 60_000, ..last });
    assert_eq!(board.readout().1, Source::Local);
    board.apply(crate::indicators::rsi_frame(last.start, 55.5));
    assert_eq!(board.readout().1, Source::Upbit);
    // Upbit sends one message per indicator: those of one close add up, in the usual order.
    let bands = Reading::BollingerBands { upper: 3.into(), middle: 2.into(), lower: 1.into() };
    board.apply(IndicatorEvent::Values(IndicatorFrame {
        market: MarketId::new("KRW-BTC"),
        timeframe: Timeframe::M1,
        candle_start: last.start,
        values: vec![(Indicator::DEFAULTS[2], bands)],
        timestamp: 0,
    }));
    board.apply(crate::indicators::rsi_frame(last.start, 56.0));
    assert_eq!(
        board.readout(),
        (
            vec![(Indicator::Rsi { period: 14 }, Reading::Rsi(56.0)), (Indicator::DEFAULTS[2], bands)],
            Source::Upbit
        )
    );
}

proptest! {
    /// Absurd candles never panic: a value whose arithmetic overflows gives no reading, in
    /// the tracker exactly as in the definition.
    #[test]
    fn absurd_values_give_no_reading_and_never_panic(ind in any_indicator(), feed in any_hostile_feed()) {
        let mut t = Tracker::new(ind).unwrap();
        let mut series: Vec<Bar> = Vec::new();
        for (same, close, volume) in feed {
            let start = match series.last() {
                Some(last) if same => last.start,
                Some(last) => last.start + 60_000,
                None => 0,
            };
            let bar = Bar { start, close, volume };
            match series.last_mut() {
                Some(last) if last.start == start => *last = bar,
                _ => series.push(bar),
            }
            prop_assert!(t.update(bar));
            prop_assert_eq!(t.value(), compute(&ind, &series), "after {} bars", series.len());
        }
    }
}

/// A 1-minute BTC series around 148M won, starting at 2026-12-05T09:00 UTC.
fn btc_board() -> (Board, i64, i64) {
    const T0: i64 = 1_796_461_200_000;
    let series: Vec<Bar> = (0..40)
        .map(|i| Bar {
            start: T0 + i * 60_000,
            close: Decimal::from(148_000_000 + (i % 7) * 10_000),
            volume: dec!(0.5),
        })
        .collect();
    let mut board = Board::default();
    board.load(&series);
    let forming = series[series.len() - 1].start;
    (board, series[series.len() - 2].start, forming)
}

fn values_at(start: i64, values: Vec<(Indicator, Reading)>) -> IndicatorEvent {
    IndicatorEvent::Values(IndicatorFrame {
        market: MarketId::new("KRW-BTC"),
        timeframe: Timeframe::M1,
        candle_start: start,
        values,
        timestamp: 0,
    })
}

fn rsi_at(start: i64, rsi: f64) -> IndicatorEvent {
    values_at(start, vec![(Indicator::Rsi { period: 14 }, Reading::Rsi(rsi))])
}

/// 2099-01-01T00:00:00 UTC.
const YEAR_2099: i64 = 4_070_908_800_000;

#[test]
fn a_close_dated_in_the_future_is_refused_and_never_shadows_real_ones() {
    let (mut board, closed, forming) = btc_board();
    let now = forming + 30_000;
    board.apply_at(rsi_at(YEAR_2099, 12.34), now);
    assert_eq!(board.readout().1, Source::Local, "a candle that has not happened is not shown");
    // Upbit's next real close is shown as usual, not hidden behind the bogus one.
    board.update(Bar { start: forming + 60_000, close: dec!(148000000), volume: dec!(1) });
    board.apply_at(rsi_at(forming, 55.5), now + 60_000);
    assert_eq!(board.readout(), (vec![(Indicator::Rsi { period: 14 }, Reading::Rsi(55.5))], Source::Upbit));
    // Later than the forming candle but not absurdly so is refused too, and what the
    // stream sent before it is no longer trusted: the local values show.
    board.apply_at(rsi_at(forming + 120_000, 1.0), now + 60_000);
    let (shown, source) = board.readout();
    assert_eq!(source, Source::Local);
    assert!(!shown.iter().any(|(_, r)| *r == Reading::Rsi(1.0)), "{shown:?}");
    // With no local series yet, the clock is the limit.
    let mut empty = Board::default();
    empty.apply_at(rsi_at(YEAR_2099, 12.34), now);
    assert_eq!(empty.readout(), (vec![], Source::Local));
    empty.apply_at(rsi_at(closed, 40.0), now);
    assert_eq!(empty.readout(), (vec![(Indicator::Rsi { period: 14 }, Reading::Rsi(40.0))], Source::Upbit));
}

#[test]
fn values_no_market_could_have_are_refused_and_the_readout_goes_local_at_once() {
    let (mut board, closed, forming) = btc_board();
    let now = forming + 30_000;
    let macd = Indicator::Macd { fast_period: 12, slow_period: 26, signal_period: 9 };
    let bands = Indicator::DEFAULTS[2];
    board.apply_at(rsi_at(closed, 42.0), now);
    assert_eq!(board.readout().1, Source::Upbit);
    // A MACD of 1e28 on a 148M won BTC: the frame is refused and the RSI that came with
    // the same close is no longer trusted either.
    let huge = Decimal::from_scientific("1e28").unwrap();
    board.apply_at(
        values_at(closed, vec![(macd, Reading::Macd { macd: huge, signal: huge, histogram: Decimal::ZERO })]),
        now,
    );
    let (shown, source) = board.readout();
    assert_eq!(source, Source::Local);
    assert!(!shown.iter().any(|(_, r)| *r == Reading::Rsi(42.0)), "{shown:?}");
    assert!(!shown.iter().any(
        |(i, r)| *i == macd && *r == Reading::Macd { macd: huge, signal: huge, histogram: Decimal::ZERO }
    ));
    // Later messages for the refused close stay refused.
    board.apply_at(rsi_at(closed, 43.0), now);
    assert_eq!(board.readout().1, Source::Local);
    // The next close is Upbit's again; bands of 1/1/1 on it are refused.
    board.update(Bar { start: forming + 60_000, close: dec!(148000000), volume: dec!(1) });
    board.apply_at(rsi_at(forming, 50.0), now + 60_000);
    assert_eq!(board.readout().1, Source::Upbit);
    let one = Decimal::ONE;
    board.apply_at(
        values_at(forming, vec![(bands, Reading::BollingerBands { upper: one, middle: one, lower: one })]),
        now + 60_000,
    );
    assert_eq!(board.readout().1, Source::Local);
    // Plausible values pass: bands in order around the price, a MACD of some thousands.
    let (mut board, closed, _) = btc_board();
    board.apply_at(
        values_at(
            closed,
            vec![
                (
                    bands,
                    Reading::BollingerBands {
                        upper: dec!(148100000),
                        middle: dec!(148030000),
                        lower: dec!(147960000),
                    },
                ),
                (
                    macd,
                    Reading::Macd { macd: dec!(-12345.5), signal: dec!(-11653.9), histogram: dec!(-691.6) },
                ),
            ],
        ),
        now,
    );
    assert_eq!(board.readout().1, Source::Upbit);
    // Bands out of order are refused whatever the price.
    let swapped =
        Reading::BollingerBands { upper: dec!(147960000), middle: dec!(148030000), lower: dec!(148100000) };
    board.apply_at(values_at(closed, vec![(bands, swapped)]), now);
    assert_eq!(board.readout().1, Source::Local);
}

#[test]
fn a_withdrawn_stream_leaves_the_local_values_on_show_at_once() {
    let (mut board, closed, forming) = btc_board();
    board.apply_at(rsi_at(closed, 42.0), forming);
    assert_eq!(board.readout().1, Source::Upbit);
    board.apply_at(
        IndicatorEvent::Withdrawn { market: MarketId::new("KRW-BTC"), timeframe: Timeframe::M1 },
        forming,
    );
    assert_eq!(board.readout().1, Source::Local);
    // A stream that comes back is shown again from its next message.
    board.apply_at(rsi_at(closed, 44.0), forming);
    assert_eq!(board.readout().0, vec![(Indicator::Rsi { period: 14 }, Reading::Rsi(44.0))]);
}
