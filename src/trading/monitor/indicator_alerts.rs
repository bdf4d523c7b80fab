//! Indicator alerts: the evaluation of one alert over its candle series ([`Watch`]) and
//! the mapping of an alert to the `indicator_signal` condition Upbit serves for it
//! ([`upbit_signal`]).
//!
//! The console's indicator watcher runs one [`Watch`] per armed indicator alert: the
//! candle history (REST), then every live update of the forming candle. The alert holds
//! when
//! * a threshold (`rsi14 < 30`) or a band break (`bb20 break up`) is met at the forming
//!   candle: the same test as Upbit's [`Condition::holds`];
//! * a cross (`ema20 crosses ema50`, `macd crosses signal`): the sign of the difference of
//!   the two lines changes between two evaluations (a difference of zero keeps the last
//!   sign: touching is not crossing). The first evaluation only sets the baseline, so an
//!   alert armed after a cross does not report that cross.
//!
//! Nothing is evaluated before the indicator has warmed up (enough candles for a value).
//! The watch says when it holds; the monitor latches the alert (fires once), so a watch
//! that holds again, or Upbit's signal arriving after the local one, changes nothing.

use rust_decimal::Decimal;

use crate::exchange::types::{MarketId, Timeframe};
use crate::exchange::upbit::indicator::{condition_of, trigger_of, upbit_takes};
use crate::indicators::{Bar, Condition, Indicator, Reading, Tracker, upbit_streams};
use crate::trading::rules::{IndicatorAlert, IndicatorTest, Way};

/// What a watch saw when its alert held: the reading and the candle's close.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Held {
    /// The indicator's value at the forming candle.
    pub reading: Reading,
    /// The forming candle's close.
    pub close: Decimal,
}

impl Held {
    /// `RSI 28.41`, `MACD -16,810 signal -16,857`, `close 105 > upper 104.3`: what held,
    /// for the fired alert's text, with the numbers of a `quote` market read as its
    /// prices are ([`stat`]).
    pub fn describe(&self, alert: &IndicatorAlert, quote: &str) -> String {
        let dp = stat_dp(quote, self.close);
        let p = |d: Decimal| stat(d, dp);
        let close = super::view::price_text(quote, self.close);
        match (self.reading, alert.test) {
            // The band is shown with the decimals that keep it on its side of the close:
            // `close 150 > upper 150` would contradict itself.
            (Reading::BollingerBands { upper, .. }, IndicatorTest::Breaks(Way::Up)) => {
                format!("close {close} > upper {}", stat(upper, apart(upper, self.close, dp)))
            }
            (Reading::BollingerBands { lower, .. }, IndicatorTest::Breaks(Way::Down)) => {
                format!("close {close} < lower {}", stat(lower, apart(lower, self.close, dp)))
            }
            (r, _) => describe_reading(&r, &p),
        }
    }
}

/// What Upbit's signal said held: `RSI 28.41`, `MACD 12.5 signal 10.25`, for the fired
/// alert's text (a signal carries no close, so a band break names the bands, and each
/// number takes the precision of a price of its size in the `quote` market).
pub fn describe_signal(reading: &Reading, quote: &str) -> String {
    describe_reading(reading, &|d: Decimal| stat(d, tick_dp(quote, d)))
}

fn describe_reading(r: &Reading, p: &dyn Fn(Decimal) -> String) -> String {
    match *r {
        Reading::Rsi(v) => format!("RSI {v:.2}"),
        Reading::Macd { macd, signal, .. } => format!("MACD {} signal {}", p(macd), p(signal)),
        Reading::MaCrossover { short, long } => format!("{} / {}", p(short), p(long)),
        Reading::BollingerBands { upper, lower, .. } => format!("bands {} / {}", p(upper), p(lower)),
        Reading::MovingAverage(v) => p(v),
        // Volumes are coins, not prices: grouped, three significant digits at least.
        Reading::Volume { volume, average } => {
            format!("volume {} avg {}", stat(volume, 0), stat(average, 0))
        }
    }
}

/// The decimals of a statistic of a `quote` market's prices read against the price
/// `level`: those of the price there (its tick's, or more where the price has more).
fn stat_dp(quote: &str, level: Decimal) -> u32 {
    tick_dp(quote, level).max(level.normalize().scale())
}

/// The decimals of the tick of a `quote` market's price at `level`.
fn tick_dp(quote: &str, level: Decimal) -> u32 {
    crate::exchange::grid().tick_size(quote, level.abs()).normalize().scale()
}

/// The decimals, from `dp` up, that show `v` on its own side of `close` (never equal to it
/// once rounded).
fn apart(v: Decimal, close: Decimal, dp: u32) -> u32 {
    (dp..=MAX_DP).find(|&dp| v.round_dp(dp) != close || v == close).unwrap_or(MAX_DP)
}

const MAX_DP: u32 = 20;

/// A statistic (an average, a band, a MACD line) as people read prices: grouped, at `dp`
/// decimals (the market's price precision), or more where that leaves fewer than three
/// significant digits: a MACD of 0.0000312 on a 0.0001 tick is not shown as `0.0000`
/// (nor `2.3` as `2`).
pub(crate) fn stat(v: Decimal, dp: u32) -> String {
    let mut dp = dp.min(MAX_DP);
    let a = v.abs();
    if !a.is_zero() {
        // Digits before the point, or (below 1) minus the zeros after it.
        let mut magnitude: i64 = 0;
        let mut x = a;
        while x >= Decimal::TEN {
            x /= Decimal::TEN;
            magnitude += 1;
        }
        while x < Decimal::ONE && magnitude > -(MAX_DP as i64) {
            x *= Decimal::TEN;
            magnitude -= 1;
        }
        // Three significant digits: `magnitude + 1` sit before the point.
        let need = (2 - magnitude).clamp(0, MAX_DP as i64) as u32;
        dp = dp.max(need);
    }
    let mut shown = v.round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    shown.rescale(dp);
    super::view::grouped(shown)
}

/// One indicator alert over its series.
#[derive(Debug, Clone)]
pub struct Watch {
    alert: IndicatorAlert,
    tracker: Tracker,
    close: Option<Decimal>,
    /// The sign of the two lines' difference at the last evaluation that had one.
    side: Option<Way>,
}

impl Watch {
    /// A watch with no candles yet; `Err` names a bad parameter.
    pub fn new(alert: IndicatorAlert) -> Result<Self, String> {
        Ok(Watch { alert, tracker: Tracker::new(alert.indicator)?, close: None, side: None })
    }

    /// The alert watched.
    pub fn alert(&self) -> &IndicatorAlert {
        &self.alert
    }

    /// Start of the newest candle taken.
    pub fn last_start(&self) -> Option<i64> {
        self.tracker.last_start()
    }

    /// A history load (oldest first, the last one forming): rebuilds the series and
    /// evaluates once, at its newest candle. A cross keeps the side it had seen.
    pub fn load(&mut self, bars: &[Bar]) -> Option<Held> {
        let mut t = Tracker::new(self.alert.indicator).ok()?;
        for b in bars {
            t.update(*b);
        }
        self.tracker = t;
        self.close = bars.last().map(|b| b.close);
        self.evaluate()
    }

    /// A new or updated candle: evaluates at it. An older bucket than the newest is
    /// refused (nothing evaluated).
    pub fn update(&mut self, bar: Bar) -> Option<Held> {
        if !self.tracker.update(bar) {
            return None;
        }
        self.close = Some(bar.close);
        self.evaluate()
    }

    fn evaluate(&mut self) -> Option<Held> {
        let reading = self.tracker.value()?;
        let close = self.close?;
        let held = Held { reading, close };
        let holds = match self.alert.test {
            IndicatorTest::Above(value) => Condition::Above { value }.holds(&reading, close),
            IndicatorTest::Below(value) => Condition::Below { value }.holds(&reading, close),
            IndicatorTest::Breaks(Way::Up) => Condition::CrossUp.holds(&reading, close),
            IndicatorTest::Breaks(Way::Down) => Condition::CrossDown.holds(&reading, close),
            IndicatorTest::Crosses(way) => {
                let (a, b) = match reading {
                    Reading::MaCrossover { short, long } => (short, long),
                    Reading::Macd { macd, signal, .. } => (macd, signal),
                    _ => return None,
                };
                let now = match a.cmp(&b) {
                    std::cmp::Ordering::Greater => Way::Up,
                    std::cmp::Ordering::Less => Way::Down,
                    // Touching is not crossing: the last side stays.
                    std::cmp::Ordering::Equal => return None,
                };
                let before = self.side.replace(now);
                before.is_some_and(|b| b != now) && way.is_none_or(|w| w == now)
            }
        };
        holds.then_some(held)
    }
}

/// The `indicator_signal` conditions that mean the same as `alert` on `market`, where
/// Upbit serves them (KRW market, 5m..1d, parameters and thresholds Upbit takes): one,
/// or two for a cross either way. Empty where the alert is local only.
pub fn upbit_signal(market: &MarketId, alert: &IndicatorAlert) -> Vec<(Indicator, Condition)> {
    if !upbit_streams(market, alert.timeframe) || upbit_takes(&alert.indicator, true).is_err() {
        return Vec::new();
    }
    let conditions = match alert.test {
        IndicatorTest::Above(value) => vec![Condition::Above { value }],
        IndicatorTest::Below(value) => vec![Condition::Below { value }],
        IndicatorTest::Crosses(Some(Way::Up)) => vec![Condition::CrossUp],
        IndicatorTest::Crosses(Some(Way::Down)) => vec![Condition::CrossDown],
        IndicatorTest::Crosses(None) => vec![Condition::CrossUp, Condition::CrossDown],
        // A band break is Upbit's price crossing the band, at the close.
        IndicatorTest::Breaks(Way::Up) => vec![Condition::CrossUp],
        IndicatorTest::Breaks(Way::Down) => vec![Condition::CrossDown],
    };
    conditions
        .into_iter()
        .filter(|c| {
            // Only what Upbit takes as a request (an RSI threshold of 70 or 80, 20 or 30;
            // MACD against zero, not another level): anything else would be refused with
            // an error that closes the connection.
            trigger_of(&alert.indicator, c)
                .and_then(|(t, ep)| condition_of(&alert.indicator, t, &ep, true))
                .is_ok_and(|back| back == *c)
        })
        .map(|c| (alert.indicator, c))
        .collect()
}

/// Whether `tf` candles come on the candle stream (Upbit streams up to 240m); longer ones
/// are refreshed by REST.
pub fn streamed_candles(tf: Timeframe) -> bool {
    tf.minutes().is_some() || tf == Timeframe::S1
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::indicators::MaKind;
    use crate::trading::input::{TradeCommand, parse_command};
    use crate::trading::rules::AlertCondition;

    fn alert(line: &str) -> IndicatorAlert {
        match parse_command(line) {
            Ok(TradeCommand::Alert { condition: AlertCondition::Indicator(i), .. }) => i,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn bar(i: i64, close: Decimal) -> Bar {
        Bar { start: i * 60_000, close, volume: dec!(1) }
    }

    /// Closes that fall steadily, then rise steadily: a short average goes below a long
    /// one, then above it again.
    fn down_then_up(n: i64) -> Vec<Decimal> {
        (0..n)
            .map(|i| Decimal::from(1000 - 10 * i))
            .chain((0..n).map(|i| Decimal::from(1000 - 10 * n + 20 * i)))
            .collect()
    }

    #[test]
    fn a_threshold_holds_only_after_warm_up_and_the_watch_says_so_each_time() {
        let a = alert(":alert KRW-BTC rsi14 > 0 1m");
        let mut w = Watch::new(a).unwrap();
        // RSI(14) needs 15 closes: nothing before.
        for i in 0..14 {
            assert_eq!(w.update(bar(i, Decimal::from(100 + i))), None, "candle {i}: not warmed up");
        }
        let held = w.update(bar(14, dec!(120))).expect("warmed up: RSI 100 > 0");
        assert_eq!(held.reading, Reading::Rsi(100.0));
        assert_eq!(held.describe(&a, "KRW"), "RSI 100.00");
        // The watch reports every evaluation that holds; the monitor latches the alert.
        assert!(w.update(bar(14, dec!(121))).is_some());
        // An older bucket is refused, not evaluated.
        assert_eq!(w.update(bar(3, dec!(1))), None);
    }

    /// Issue 19: a fired MACD alert read `MACD -16809.75 signal -16856.65`, unlike any
    /// price on screen. Its numbers read as the market's prices (grouped, at the price's
    /// precision), a small one keeps three significant digits instead of reading 0, and a
    /// band is never rounded onto the close it was broken by.
    #[test]
    fn fired_alert_numbers_read_as_the_markets_prices() {
        let macd = |macd, signal| Reading::Macd { macd, signal, histogram: macd - signal };
        let held = |reading, close| Held { reading, close };
        let a = alert(":alert KRW-BTC macd crosses signal 5m");
        let btc = held(macd(dec!(-16809.75), dec!(-16856.65)), dec!(148_428_000));
        assert_eq!(btc.describe(&a, "KRW"), "MACD -16,810 signal -16,857");
        assert_eq!(describe_signal(&btc.reading, "KRW"), "MACD -16,810 signal -16,857");
        // A coin at 0.0164 on a 0.0001 tick: the MACD is far below the tick.
        let shib = held(macd(dec!(0.0000312456), dec!(-0.00000041)), dec!(0.0164));
        assert_eq!(shib.describe(&a, "KRW"), "MACD 0.0000312 signal -0.000000410");
        // Small whole-won values keep their decimals: `2` would hide `2.34`.
        let xrp = held(macd(dec!(2.345), dec!(0)), dec!(3100));
        assert_eq!(xrp.describe(&a, "KRW"), "MACD 2.35 signal 0");
        let cross = alert(":alert KRW-BTC ema20 crosses ema50 5m");
        let ma =
            held(Reading::MaCrossover { short: dec!(148415962.4), long: dec!(148400000) }, dec!(148_428_000));
        assert_eq!(ma.describe(&cross, "KRW"), "148,415,962 / 148,400,000");
        // Upper band 149.96 at a 1 won tick would round to the close, 150: it shows more.
        let bb = alert(":alert KRW-BTC bb20 break up 5m");
        let band = Reading::BollingerBands { upper: dec!(149.96), middle: dec!(140), lower: dec!(130) };
        assert_eq!(held(band, dec!(150)).describe(&bb, "KRW"), "close 150 > upper 149.96");
        assert_eq!(stat(Decimal::ZERO, 2), "0.00");
    }

    #[test]
    fn a_cross_fires_on_the_change_of_sign_either_way_and_not_at_the_baseline() {
        let closes = down_then_up(30);
        let bars: Vec<Bar> = closes.iter().enumerate().map(|(i, c)| bar(i as i64, *c)).collect();
        for (line, ways) in [
            (":alert KRW-BTC sma5 crosses sma10 1m", vec![Way::Up]),
            (":alert KRW-BTC sma5 crosses up sma10 1m", vec![Way::Up]),
            (":alert KRW-BTC sma10 crosses sma5 down 1m", vec![Way::Up]),
        ] {
            let a = alert(line);
            assert_eq!(
                a.indicator,
                Indicator::MaCrossover { ma_type: MaKind::Sma, short_period: 5, long_period: 10 }
            );
            let mut w = Watch::new(a).unwrap();
            // The history ends in the falling part: short below long, no cross yet.
            assert_eq!(w.load(&bars[..20]), None, "{line}: the baseline is no cross");
            let mut fired = Vec::new();
            for b in &bars[20..] {
                if let Some(h) = w.update(*b) {
                    let Reading::MaCrossover { short, long } = h.reading else { panic!() };
                    fired.push(if short > long { Way::Up } else { Way::Down });
                }
            }
            assert_eq!(fired, ways, "{line}");
        }
        // Downward: falls after a rise.
        let rising_then_falling: Vec<Bar> =
            closes.iter().enumerate().map(|(i, c)| bar(i as i64, dec!(2000) - *c)).collect();
        let down = alert(":alert KRW-BTC ema5 crosses down ema10 1m");
        let either = alert(":alert KRW-BTC ema5 crosses ema10 1m");
        let up = alert(":alert KRW-BTC ema5 crosses up ema10 1m");
        for (a, expect) in [(down, 1), (either, 1), (up, 0)] {
            let mut w = Watch::new(a).unwrap();
            w.load(&rising_then_falling[..20]);
            let n = rising_then_falling[20..].iter().filter(|b| w.update(**b).is_some()).count();
            assert_eq!(n, expect, "{}", a.label());
        }
    }

    #[test]
    fn macd_crosses_its_signal_and_bands_break() {
        // A wave (a triangle, 64 candles a turn, whole won): the MACD line crosses its
        // signal up and down, turn after turn.
        let bars: Vec<Bar> = (0..200)
            .map(|i| {
                let t = i % 64;
                let rise = if t < 32 { t } else { 64 - t };
                bar(i, Decimal::from(900 + 6 * rise))
            })
            .collect();
        let crosses = |line: &str| -> Vec<Way> {
            let mut w = Watch::new(alert(line)).unwrap();
            assert_eq!(w.load(&bars[..40]), None, "{line}: the baseline is no cross");
            bars[40..]
                .iter()
                .filter_map(|b| w.update(*b))
                .map(|h| {
                    let Reading::Macd { macd, signal, .. } = h.reading else { panic!() };
                    if macd > signal { Way::Up } else { Way::Down }
                })
                .collect()
        };
        let either = crosses(":alert KRW-BTC macd crosses signal 1m");
        assert!(either.len() >= 4, "{either:?}");
        assert!(either.windows(2).all(|p| p[0] != p[1]), "crosses alternate: {either:?}");
        let up = crosses(":alert KRW-BTC macd crosses up signal 1m");
        let down = crosses(":alert KRW-BTC macd crosses down signal 1m");
        assert!(up.iter().all(|w| *w == Way::Up) && down.iter().all(|w| *w == Way::Down));
        assert_eq!(up.len() + down.len(), either.len());

        // A flat series, then a jump far above the upper band.
        let mut flat: Vec<Bar> =
            (0..25).map(|i| bar(i, if i % 2 == 0 { dec!(100) } else { dec!(101) })).collect();
        let a = alert(":alert KRW-BTC bb20 break up 1m");
        let mut w = Watch::new(a).unwrap();
        assert_eq!(w.load(&flat), None, "inside the bands");
        flat.push(bar(25, dec!(150)));
        let h = w.update(flat[25]).expect("the close leaves the upper band");
        assert!(h.describe(&a, "KRW").starts_with("close 150 > upper "), "{}", h.describe(&a, "KRW"));
        let mut w = Watch::new(alert(":alert KRW-BTC bb20 break down 1m")).unwrap();
        w.load(&flat[..25]);
        assert_eq!(w.update(flat[25]), None, "a break up is no break down");
        assert!(w.update(bar(25, dec!(50))).is_some(), "the same candle falling below the lower band");
    }

    #[test]
    fn upbit_serves_only_what_it_takes() {
        let m = MarketId::new("KRW-ETH");
        let rsi = alert(":alert KRW-ETH rsi14 < 30");
        assert_eq!(
            upbit_signal(&m, &rsi),
            vec![(Indicator::Rsi { period: 14 }, Condition::Below { value: dec!(30) })]
        );
        // A threshold Upbit has no trigger for, a 1m series, a BTC market: local only.
        assert!(upbit_signal(&m, &alert(":alert KRW-ETH rsi14 < 35")).is_empty());
        assert!(upbit_signal(&m, &alert(":alert KRW-ETH rsi14 < 30 1m")).is_empty());
        assert!(upbit_signal(&MarketId::new("BTC-ETH"), &rsi).is_empty());
        assert!(upbit_signal(&m, &alert(":alert KRW-ETH rsi15 < 30")).is_empty());
        // Crosses either way listen for both; a break is Upbit's price cross of the band.
        assert_eq!(upbit_signal(&m, &alert(":alert KRW-ETH ema20 crosses ema60 1h")).len(), 2);
        assert_eq!(upbit_signal(&m, &alert(":alert KRW-ETH ema20 crosses ema50 1h")).len(), 0);
        assert_eq!(
            upbit_signal(&m, &alert(":alert KRW-ETH macd crosses down signal 15m")),
            vec![(
                Indicator::Macd { fast_period: 12, slow_period: 26, signal_period: 9 },
                Condition::CrossDown
            )]
        );
        assert_eq!(upbit_signal(&m, &alert(":alert KRW-ETH bb20 break up 1D")).len(), 1);
        assert_eq!(upbit_signal(&m, &alert(":alert KRW-ETH macd > 0")).len(), 1);
        assert!(upbit_signal(&m, &alert(":alert KRW-ETH macd > 5")).is_empty());
    }
}
