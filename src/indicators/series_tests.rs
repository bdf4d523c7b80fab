//! Tests of the chart's study series: worked examples of warm-up and the VWAP day, the
//! series against the definitions at every candle, and the incremental cache against a
//! full computation after any sequence of candle changes.
#![cfg(test)]

use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::*;
use crate::indicators::{Bar, Reading};

/// 2026-12-05T00:00 KST (15:00 UTC the day before).
const KST_MIDNIGHT: i64 = 1_796_396_400_000;
const HOUR: i64 = 3_600_000;

fn candle(tf: Timeframe, start: i64, close: Decimal, volume: Decimal, value: Decimal) -> Candle {
    Candle {
        market: MarketId::new("KRW-BTC"),
        timeframe: tf,
        start,
        open: close,
        high: close,
        low: close,
        close,
        volume,
        value,
        timestamp: start,
    }
}

/// One-minute candles with these closes, volume 1 each.
fn minutes(closes: &[i64]) -> Vec<Candle> {
    closes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let c = Decimal::from(*c);
            candle(Timeframe::M1, KST_MIDNIGHT + i as i64 * 60_000, c, Decimal::ONE, c)
        })
        .collect()
}

fn line(s: &StudySeries) -> &[Option<Decimal>] {
    match s {
        StudySeries::Line(v) => v,
        other => panic!("not a line: {other:?}"),
    }
}

/// Index of the first value.
fn first_some<T>(v: &[Option<T>]) -> Option<usize> {
    v.iter().position(Option::is_some)
}

#[test]
fn warm_up_ends_where_the_definition_first_has_a_value() {
    let c = minutes(&(0..60).map(|i| 100 + (i * 7) % 11).collect::<Vec<_>>());
    assert_eq!(first_some(line(&compute(&Study::Sma { period: 20 }, &c))), Some(19));
    assert_eq!(first_some(line(&compute(&Study::Ema { period: 50 }, &c))), Some(49));
    let StudySeries::Oscillator(rsi) = compute(&Study::Rsi { period: 14 }, &c) else { panic!() };
    assert_eq!(first_some(&rsi), Some(14), "RSI 14 needs 14 changes: 15 candles");
    let StudySeries::Macd { macd, signal, histogram } =
        compute(&Study::Macd { fast: 12, slow: 26, signal: 9 }, &c)
    else {
        panic!()
    };
    assert_eq!(
        (first_some(&macd), first_some(&signal), first_some(&histogram)),
        (Some(25), Some(33), Some(33))
    );
    let StudySeries::Bands { upper, middle, lower } =
        compute(&Study::Bollinger { period: 20, width: dec!(2) }, &c)
    else {
        panic!()
    };
    assert_eq!((first_some(&upper), first_some(&middle), first_some(&lower)), (Some(19), Some(19), Some(19)));
    let StudySeries::Volume { volume, average } = compute(&Study::Volume { period: 20 }, &c) else {
        panic!()
    };
    assert_eq!((volume.len(), first_some(&average)), (60, Some(19)));
    // Short series: every value is None, nothing panics.
    assert_eq!(compute(&Study::Sma { period: 20 }, &c[..5]), StudySeries::Line(vec![None; 5]));
    assert!(compute(&Study::Macd { fast: 12, slow: 26, signal: 9 }, &[]).is_empty());
}

#[test]
fn sma_and_ema_by_hand() {
    let c = minutes(&[1, 2, 3, 4, 5]);
    assert_eq!(
        line(&compute(&Study::Sma { period: 2 }, &c)),
        [None, Some(dec!(1.5)), Some(dec!(2.5)), Some(dec!(3.5)), Some(dec!(4.5))]
    );
    // EMA 3: seed mean(1, 2, 3) = 2 at index 2, α = 0.5: 3, then 4.
    assert_eq!(
        line(&compute(&Study::Ema { period: 3 }, &c)),
        [None, None, Some(dec!(2)), Some(dec!(3)), Some(dec!(4))]
    );
}

#[test]
fn vwap_starts_again_at_midnight_kst_not_utc() {
    // Hourly candles from 22:00 KST to 02:00 KST; midnight KST is 15:00 UTC.
    let h = |k: i64, price: i64, vol: i64| {
        candle(
            Timeframe::H1,
            KST_MIDNIGHT + k * HOUR,
            Decimal::from(price),
            Decimal::from(vol),
            Decimal::from(price * vol),
        )
    };
    // The series starts at 22:00 KST: that day's first trades are not loaded.
    let c = vec![h(-2, 100, 1), h(-1, 200, 3), h(0, 300, 1), h(1, 100, 1), h(2, 500, 2)];
    let v = compute(&Study::Vwap, &c);
    assert_eq!(line(&v), [None, None, Some(dec!(300)), Some(dec!(200)), Some(dec!(350))]);
    // A series that starts at midnight KST has the whole day from its first candle.
    let v = compute(&Study::Vwap, &c[2..]);
    assert_eq!(line(&v)[0], Some(dec!(300)));
    // Starting at midnight UTC (09:00 KST) is mid-day in Korea.
    let utc = vec![candle(Timeframe::H1, KST_MIDNIGHT + 9 * HOUR, dec!(1), dec!(1), dec!(1))];
    assert_eq!(line(&compute(&Study::Vwap, &utc)), [None]);
    // No volume: no average, not a division by zero.
    let c = vec![h(0, 300, 0), h(1, 100, 0)];
    assert_eq!(line(&compute(&Study::Vwap, &c)), [None, None]);
    // Day candles do not fall in one KST day.
    let d = vec![candle(Timeframe::D1, KST_MIDNIGHT, dec!(1), dec!(1), dec!(1))];
    assert_eq!(line(&compute(&Study::Vwap, &d)), [None]);
}

#[test]
fn labels_and_parsing() {
    let cases: [(&str, Study, &str); 11] = [
        ("sma 20", Study::Sma { period: 20 }, "SMA 20"),
        ("EMA 50", Study::Ema { period: 50 }, "EMA 50"),
        ("bb 20", Study::Bollinger { period: 20, width: dec!(2) }, "BB 20 2"),
        ("bb 20 2.5", Study::Bollinger { period: 20, width: dec!(2.5) }, "BB 20 2.5"),
        ("vwap", Study::Vwap, "VWAP"),
        ("vol", Study::Volume { period: 20 }, "VOL 20"),
        ("vol 5", Study::Volume { period: 5 }, "VOL 5"),
        ("rsi", Study::Rsi { period: 14 }, "RSI 14"),
        ("rsi 7", Study::Rsi { period: 7 }, "RSI 7"),
        ("macd", Study::Macd { fast: 12, slow: 26, signal: 9 }, "MACD 12 26 9"),
        ("macd 5 35 5", Study::Macd { fast: 5, slow: 35, signal: 5 }, "MACD 5 35 5"),
    ];
    for (typed, study, label) in cases {
        let words: Vec<&str> = typed.split_whitespace().collect();
        assert_eq!(Study::parse(&words), Ok(study), "{typed}");
        assert_eq!(study.label(), label);
        // The label reads back as the same study.
        let words: Vec<&str> = label.split_whitespace().collect();
        assert_eq!(Study::parse(&words), Ok(study), "{label}");
        assert_eq!(study.validate(), Ok(()));
    }
    assert!(Study::Sma { period: 20 }.is_overlay() && Study::Vwap.is_overlay());
    assert!(!Study::Rsi { period: 14 }.is_overlay() && !Study::Volume { period: 20 }.is_overlay());
    assert_eq!(Study::DEFAULTS, [Study::Sma { period: 20 }, Study::Volume { period: 20 }]);
    let err = |typed: &str| Study::parse(&typed.split_whitespace().collect::<Vec<_>>()).unwrap_err();
    assert!(err("sma").contains("needs a period"), "{}", err("sma"));
    assert!(err("sma 0").contains("1..=500"), "{}", err("sma 0"));
    assert!(err("ema 501").contains("got `501`"), "{}", err("ema 501"));
    assert!(err("rsi x").contains("got `x`"));
    assert!(err("bb 1").contains("2..=500"), "{}", err("bb 1"));
    assert!(err("bb 20 0").contains("0.1..=5"), "{}", err("bb 20 0"));
    assert!(err("bb 20 5.1").contains("got `5.1`"));
    assert!(err("macd 26 12 9").contains("below the slow"), "{}", err("macd 26 12 9"));
    assert!(err("macd 12 26").contains("all three"), "{}", err("macd 12 26"));
    assert!(err("vwap 5").contains("takes at most nothing"), "{}", err("vwap 5"));
    assert!(err("sma 20 30").contains("takes at most a period"));
    assert!(err("stoch 14").contains("unknown study `stoch`"));
    assert!(err("").contains("which study"));
    // Saved values are checked with the same limits.
    assert!(Study::Sma { period: 0 }.validate().unwrap_err().contains("1..=500"));
    assert!(Study::Bollinger { period: 20, width: dec!(9) }.validate().is_err());
    assert!(Study::Macd { fast: 26, slow: 12, signal: 9 }.validate().is_err());
}

#[test]
fn an_invalid_study_has_no_values_and_does_not_panic() {
    let c = minutes(&[1, 2, 3]);
    assert_eq!(compute(&Study::Sma { period: 0 }, &c), StudySeries::Line(vec![None; 3]));
    assert_eq!(compute(&Study::Ema { period: 0 }, &c), StudySeries::Line(vec![None; 3]));
    assert_eq!(
        compute(&Study::Macd { fast: 0, slow: 0, signal: 0 }, &c),
        StudySeries::Macd { macd: vec![None; 3], signal: vec![None; 3], histogram: vec![None; 3] }
    );
}

#[test]
fn a_forming_candle_costs_one_value_per_study_and_history_a_full_computation() {
    let cache = StudyCache::default();
    let m = MarketId::new("KRW-BTC");
    let studies =
        [Study::Sma { period: 20 }, Study::Rsi { period: 14 }, Study::Macd { fast: 12, slow: 26, signal: 9 }];
    let mut c = minutes(&(0..300).map(|i| 100 + (i * 7) % 11).collect::<Vec<_>>());
    cache.series(&m, Timeframe::M1, &c, &studies);
    assert_eq!(cache.computed(), 900);
    // Nothing changed: nothing computed.
    cache.series(&m, Timeframe::M1, &c, &studies);
    assert_eq!(cache.computed(), 900);
    // The forming candle moves: one value per study.
    c[299].close = dec!(150);
    let got = cache.series(&m, Timeframe::M1, &c, &studies);
    assert_eq!(cache.computed(), 903);
    for (s, series) in &got {
        assert_eq!(**series, compute(s, &c), "{s}");
    }
    // A new candle: one more each.
    c.push(candle(Timeframe::M1, c[299].start + 60_000, dec!(90), dec!(1), dec!(90)));
    cache.series(&m, Timeframe::M1, &c, &studies);
    assert_eq!(cache.computed(), 906);
    // A late trade changes a closed candle ten back: from there on.
    c[290].close = dec!(120);
    let got = cache.series(&m, Timeframe::M1, &c, &studies);
    assert_eq!(cache.computed(), 906 + 3 * 11);
    for (s, series) in &got {
        assert_eq!(**series, compute(s, &c), "{s}");
    }
    // Older history in front: everything again.
    let mut older = minutes(&[99]);
    older[0].start = c[0].start - 60_000;
    older.extend(c.iter().cloned());
    let got = cache.series(&m, Timeframe::M1, &older, &studies);
    assert_eq!(cache.computed(), 939 + 3 * 302);
    for (s, series) in &got {
        assert_eq!(**series, compute(s, &older), "{s}");
    }
    // Another timeframe of the same market is its own series.
    cache.series(&m, Timeframe::M5, &c[..10], &studies[..1]);
    assert_eq!(cache.computed(), 939 + 3 * 302 + 10);
}

/// Candle series as a live market makes them: hourly candles from around a KST midnight
/// (gaps where no trade happened), prices on a 0.01 grid, volumes on 8 decimals.
fn any_candles() -> impl Strategy<Value = Vec<Candle>> {
    (-30i64..30, prop::collection::vec((1i64..3, 1i64..10_000_000, 0i64..1_000_000_000, 1i64..1000), 1..150))
        .prop_map(|(offset, steps)| {
            let mut start = KST_MIDNIGHT + offset * HOUR;
            steps
                .into_iter()
                .map(|(gap, price, vol, spread)| {
                    start += gap * HOUR;
                    let close = Decimal::new(price, 2);
                    let volume = Decimal::new(vol, 8);
                    // Traded value near close × volume, not exactly (trades at other prices).
                    let value = (close + Decimal::new(spread, 2)) * volume;
                    candle(Timeframe::H1, start, close, volume, value)
                })
                .collect()
        })
}

fn any_study() -> impl Strategy<Value = Study> {
    prop_oneof![
        (1u16..40).prop_map(|period| Study::Sma { period }),
        (1u16..40).prop_map(|period| Study::Ema { period }),
        (2u16..40, 1u32..50)
            .prop_map(|(period, w)| Study::Bollinger { period, width: Decimal::new(w.into(), 1) }),
        Just(Study::Vwap),
        (1u16..40).prop_map(|period| Study::Volume { period }),
        (1u16..30).prop_map(|period| Study::Rsi { period }),
        (1u16..12, 1u16..16, 1u16..10).prop_map(|(fast, extra, signal)| Study::Macd {
            fast,
            slow: fast + extra,
            signal
        }),
    ]
}

/// VWAP from its textbook definition: the candles of candle `i`'s KST day up to `i`,
/// unknown when the series begins inside that day.
fn vwap_by_definition(c: &[Candle], i: usize) -> Option<Decimal> {
    let day = |k: usize| (c[k].start + 9 * HOUR).div_euclid(24 * HOUR);
    let mut first = i;
    while first > 0 && day(first - 1) == day(i) {
        first -= 1;
    }
    if first == 0 && (c[0].start + 9 * HOUR).rem_euclid(24 * HOUR) != 0 {
        return None;
    }
    let value: Decimal = c[first..=i].iter().map(|c| c.value).sum();
    let volume: Decimal = c[first..=i].iter().map(|c| c.volume).sum();
    (!volume.is_zero()).then(|| value / volume)
}

/// The series' value at candle `i` must be the definition's over the candles up to `i`.
fn check_against_definitions(study: &Study, c: &[Candle]) -> Result<(), TestCaseError> {
    let s = compute(study, c);
    prop_assert_eq!(s.len(), c.len());
    let bars: Vec<Bar> = c.iter().map(Bar::from).collect();
    let closes: Vec<Decimal> = c.iter().map(|c| c.close).collect();
    for i in 0..c.len() {
        let upto = &bars[..=i];
        let direct = study.indicator().and_then(|ind| crate::indicators::compute(&ind, upto));
        match (&s, *study) {
            (StudySeries::Line(v), Study::Sma { .. } | Study::Ema { .. }) => {
                prop_assert_eq!(v[i].map(Reading::MovingAverage), direct, "{} at {}", study, i);
            }
            (StudySeries::Line(v), Study::Vwap) => {
                prop_assert_eq!(v[i], vwap_by_definition(c, i), "VWAP at {}", i);
            }
            (StudySeries::Bands { upper, middle, lower }, _) => {
                let got = upper[i]
                    .zip(middle[i])
                    .zip(lower[i])
                    .map(|((upper, middle), lower)| Reading::BollingerBands { upper, middle, lower });
                prop_assert_eq!(got, direct, "{} at {}", study, i);
                prop_assert_eq!(upper[i].is_some(), middle[i].is_some());
            }
            (StudySeries::Volume { volume, average }, _) => {
                prop_assert_eq!(volume[i], c[i].volume);
                prop_assert_eq!(
                    average[i].map(|average| Reading::Volume { volume: c[i].volume, average }),
                    direct
                );
            }
            (StudySeries::Oscillator(v), _) => {
                prop_assert_eq!(v[i].map(Reading::Rsi), direct, "{} at {}", study, i);
            }
            (StudySeries::Macd { macd, signal, histogram }, Study::Macd { fast, slow, .. }) => {
                // The line from the first candle where both averages exist.
                let line = calc::ema(&closes[..=i], fast.into())
                    .zip(calc::ema(&closes[..=i], slow.into()))
                    .and_then(|(f, s)| f.checked_sub(s));
                prop_assert_eq!(macd[i], line, "MACD line at {}", i);
                let got = macd[i]
                    .zip(signal[i])
                    .zip(histogram[i])
                    .map(|((macd, signal), histogram)| Reading::Macd { macd, signal, histogram });
                prop_assert_eq!(got, direct, "{} at {}", study, i);
            }
            (other, _) => prop_assert!(false, "{study} gave {other:?}"),
        }
    }
    Ok(())
}

/// One change to a candle series, as the store makes them.
#[derive(Debug, Clone)]
enum Change {
    /// The forming candle trades again.
    Update(i64),
    /// A new candle opens.
    Append(i64),
    /// A late trade lands in a closed candle, `back` from the newest.
    Late { back: usize, close: i64 },
    /// Older history is loaded in front.
    Prepend(usize),
    /// The oldest candles are dropped (the store keeps a bounded series).
    Trim(usize),
}

fn any_change() -> impl Strategy<Value = Change> {
    prop_oneof![
        6 => (1i64..10_000_000).prop_map(Change::Update),
        6 => (1i64..10_000_000).prop_map(Change::Append),
        1 => (1usize..40, 1i64..10_000_000).prop_map(|(back, close)| Change::Late { back, close }),
        1 => (1usize..20).prop_map(Change::Prepend),
        1 => (1usize..5).prop_map(Change::Trim),
    ]
}

fn apply(c: &mut Vec<Candle>, change: &Change) {
    let at = |start: i64, price: i64| {
        let p = Decimal::new(price, 2);
        candle(
            Timeframe::H1,
            start,
            p,
            Decimal::new(price % 997 + 1, 3),
            p * Decimal::new(price % 997 + 1, 3),
        )
    };
    match *change {
        Change::Update(p) => {
            if let Some(last) = c.last_mut() {
                let vol = last.volume + Decimal::new(p % 13, 3);
                *last = Candle {
                    close: Decimal::new(p, 2),
                    volume: vol,
                    value: last.value + Decimal::new(p, 5),
                    ..last.clone()
                };
            }
        }
        Change::Append(p) => {
            let start = c.last().map_or(KST_MIDNIGHT, |l| l.start + HOUR);
            c.push(at(start, p));
        }
        Change::Late { back, close } => {
            let n = c.len();
            if back < n {
                c[n - 1 - back].close = Decimal::new(close, 2);
            }
        }
        Change::Prepend(k) => {
            let first = c.first().map_or(KST_MIDNIGHT, |f| f.start);
            let older: Vec<Candle> =
                (1..=k as i64).rev().map(|j| at(first - j * HOUR, 100_000 + j * 37)).collect();
            c.splice(0..0, older);
        }
        Change::Trim(k) => {
            c.drain(..k.min(c.len()));
        }
    }
}

proptest! {
    /// Every study's series equals its definition (`calc`, as the tracker and the
    /// simulator's stream compute it; VWAP from the textbook) at every candle.
    #[test]
    fn every_value_is_the_definitions(study in any_study(), c in any_candles()) {
        check_against_definitions(&study, &c)?;
    }

    /// The cache, asked after each change a live series goes through, gives exactly the
    /// full computation over the series as it then stands.
    #[test]
    fn the_cache_equals_a_full_computation_after_any_changes(
        studies in prop::collection::vec(any_study(), 1..5),
        start in any_candles(),
        changes in prop::collection::vec(any_change(), 1..40),
    ) {
        let cache = StudyCache::default();
        let m = MarketId::new("KRW-ETH");
        let mut c = start;
        for change in &changes {
            apply(&mut c, change);
            for (study, series) in cache.series(&m, Timeframe::H1, &c, &studies) {
                prop_assert_eq!(&*series, &compute(&study, &c), "{} after {:?}", study, change);
            }
        }
    }
}

/// Candle values as a hostile server could send them: ordinary ones mixed with values
/// near `Decimal::MAX`, whose sums and differences do not fit.
fn any_hostile_candles() -> impl Strategy<Value = Vec<Candle>> {
    let value = prop_oneof![
        3 => (1i64..10_000_000).prop_map(|v| Decimal::new(v, 2)),
        1 => Just(Decimal::MAX),
        1 => (1u32..1000).prop_map(|k| Decimal::MAX / Decimal::from(k)),
    ];
    prop::collection::vec((value.clone(), value.clone(), value), 1..60).prop_map(|xs| {
        xs.into_iter()
            .enumerate()
            .map(|(i, (close, volume, value))| {
                candle(Timeframe::M1, KST_MIDNIGHT + i as i64 * 60_000, close, volume, value)
            })
            .collect()
    })
}

proptest! {
    /// Absurd candles never panic; the values that remain are still the definition's.
    #[test]
    fn absurd_candles_give_no_value_and_never_panic(study in any_study(), c in any_hostile_candles()) {
        let s = compute(&study, &c);
        prop_assert_eq!(s.len(), c.len());
        if study != Study::Vwap {
            check_against_definitions(&study, &c)?;
        }
        let cache = StudyCache::default();
        for n in 1..=c.len() {
            let got = cache.series(&MarketId::new("KRW-BTC"), Timeframe::M1, &c[..n], &[study]);
            prop_assert_eq!(&*got[0].1, &compute(&study, &c[..n]));
        }
    }
}

#[test]
fn adding_refuses_repeats_a_ninth_study_and_a_fourth_sub_pane_with_the_reason() {
    let mut shown = Study::DEFAULTS.to_vec();
    assert_eq!(
        add(&mut shown, Study::Rsi { period: 14 }),
        Ok("RSI 14 added; studies: SMA 20, VOL 20, RSI 14".into())
    );
    assert_eq!(add(&mut shown, Study::Sma { period: 20 }), Err("SMA 20 is shown already".into()));
    add(&mut shown, Study::Macd { fast: 12, slow: 26, signal: 9 }).unwrap();
    let e = add(&mut shown, Study::Rsi { period: 7 }).unwrap_err();
    assert!(e.contains("sub-pane") && e.contains("VOL 20, RSI 14, MACD 12 26 9"), "{e}");
    // Overlays still fit, up to eight studies in all.
    for s in [
        Study::Ema { period: 50 },
        Study::Vwap,
        Study::Bollinger { period: 20, width: dec!(2) },
        Study::Sma { period: 60 },
    ] {
        add(&mut shown, s).unwrap();
    }
    assert_eq!(shown.len(), MAX_STUDIES);
    let e = add(&mut shown, Study::Ema { period: 9 }).unwrap_err();
    assert!(e.starts_with("at most 8 studies"), "{e}");
    assert_eq!(shown.len(), 8);
}

#[test]
fn removing_by_parameters_or_by_a_kind_shown_once() {
    let mut shown = vec![Study::Ema { period: 20 }, Study::Ema { period: 50 }, Study::Rsi { period: 7 }];
    assert_eq!(remove(&mut shown, &["ema", "50"]), Ok("EMA 50 removed; studies: EMA 20, RSI 7".into()));
    // `rsi` alone is the one RSI shown, whatever its period.
    assert_eq!(remove(&mut shown, &["rsi"]), Ok("RSI 7 removed; studies: EMA 20".into()));
    assert_eq!(remove(&mut shown, &["sma", "20"]), Err("SMA 20 is not shown (studies: EMA 20)".into()));
    shown.push(Study::Ema { period: 9 });
    assert_eq!(remove(&mut shown, &["ema"]), Err("which ema? EMA 20, EMA 9 are shown".into()));
    assert!(remove(&mut shown, &["ema", "x"]).unwrap_err().contains("got `x`"));
    assert_eq!(shown.len(), 2);
}

#[test]
fn saved_studies_that_do_not_read_are_named_and_skipped() {
    let labels: Vec<String> =
        ["SMA 20", "STOCH 14", "RSI 0", "SMA 20", "VOL 20", "RSI 14", "MACD 12 26 9", "RSI 7", "VWAP"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    let (studies, problems) = read_saved(&labels);
    assert_eq!(
        studies,
        [
            Study::Sma { period: 20 },
            Study::Volume { period: 20 },
            Study::Rsi { period: 14 },
            Study::Macd { fast: 12, slow: 26, signal: 9 },
            Study::Vwap
        ]
    );
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(problems[0].contains("\"STOCH 14\"") && problems[0].contains("unknown study"), "{}", problems[0]);
    assert!(problems[1].contains("\"RSI 0\""), "{}", problems[1]);
    assert!(problems[2].contains("shown already"), "{}", problems[2]);
    assert!(problems[3].contains("\"RSI 7\"") && problems[3].contains("sub-pane"), "{}", problems[3]);
    assert_eq!(labels_of_round_trip(&studies), studies);
}

fn labels_of_round_trip(studies: &[Study]) -> Vec<Study> {
    read_saved(&labels(studies)).0
}
