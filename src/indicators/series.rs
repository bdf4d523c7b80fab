//! The chart's studies: indicators drawn over the candles (moving averages, Bollinger
//! bands, VWAP) or in a sub-pane below them (volume, RSI, MACD), one value per candle.
//!
//! [`Study`] is what the user chooses (`:ind add rsi 14`); [`StudySeries`] is its value at
//! every candle of a series, aligned index for index with the candles (`None` while the
//! study is still warming up).

use std::cell::RefCell;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::calc::{self, alpha, ema_step, gain_loss, rsi_of};
use crate::exchange::types::{Candle, MarketId, Timeframe};

/// One study the chart can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Study {
    /// Simple moving average of closes (overlay).
    Sma {
        /// Window in candles.
        period: u16,
    },
    /// Exponential moving average of closes (overlay).
    Ema {
        /// Window in candles.
        period: u16,
    },
    /// Bollinger bands (overlay).
    Bollinger {
        /// Window in candles.
        period: u16,
        /// Band width in standard deviations.
        width: Decimal,
    },
    /// Volume-weighted average price since the start of the KST day (overlay).
    Vwap,
    /// Volume bars and their moving average (sub-pane).
    Volume {
        /// Window of the average.
        period: u16,
    },
    /// Relative strength index, Wilder (sub-pane, 0..100).
    Rsi {
        /// Smoothing period.
        period: u16,
    },
    /// MACD line, signal and histogram (sub-pane).
    Macd {
        /// Fast EMA.
        fast: u16,
        /// Slow EMA.
        slow: u16,
        /// Signal EMA of the MACD line.
        signal: u16,
    },
}

/// A study's values, one per candle of the series it was computed over.
#[derive(Debug, Clone, PartialEq)]
pub enum StudySeries {
    /// One price line (SMA, EMA, VWAP).
    Line(Vec<Option<Decimal>>),
    /// Upper, middle and lower band.
    Bands {
        /// Upper band.
        upper: Vec<Option<Decimal>>,
        /// Middle (the SMA).
        middle: Vec<Option<Decimal>>,
        /// Lower band.
        lower: Vec<Option<Decimal>>,
    },
    /// Each candle's volume and the moving average of volumes.
    Volume {
        /// The candle's volume.
        volume: Vec<Decimal>,
        /// The average.
        average: Vec<Option<Decimal>>,
    },
    /// An oscillator bounded 0..100 (RSI).
    Oscillator(Vec<Option<f64>>),
    /// MACD line, its signal and the histogram.
    Macd {
        /// EMA(fast) − EMA(slow).
        macd: Vec<Option<Decimal>>,
        /// EMA of the MACD line.
        signal: Vec<Option<Decimal>>,
        /// MACD − signal.
        histogram: Vec<Option<Decimal>>,
    },
}

/// Longest period a study takes: 500 candles is two years of days, a working week of
/// 15-minute candles; the store keeps 1000 candles a series.
pub const MAX_PERIOD: u16 = 500;

impl Study {
    /// What a fresh user sees: the 20-candle average over the candles and the volume
    /// below them (what the chart showed before studies could be chosen).
    pub const DEFAULTS: [Study; 2] = [Study::Sma { period: 20 }, Study::Volume { period: 20 }];

    /// Short label with parameters, as typed: `SMA 20`, `BB 20 2`, `MACD 12 26 9`.
    pub fn label(&self) -> String {
        match self {
            Study::Sma { period } => format!("SMA {period}"),
            Study::Ema { period } => format!("EMA {period}"),
            Study::Bollinger { period, width } => format!("BB {period} {}", width.normalize()),
            Study::Vwap => "VWAP".into(),
            Study::Volume { period } => format!("VOL {period}"),
            Study::Rsi { period } => format!("RSI {period}"),
            Study::Macd { fast, slow, signal } => format!("MACD {fast} {slow} {signal}"),
        }
    }

    /// Drawn over the candles on the price scale (true) or in a sub-pane of its own.
    pub fn is_overlay(&self) -> bool {
        matches!(self, Study::Sma { .. } | Study::Ema { .. } | Study::Bollinger { .. } | Study::Vwap)
    }

    /// Reads a study as typed after `:ind add`: `sma 20`, `ema 50`, `bb 20 [2]`, `vwap`,
    /// `vol [20]`, `rsi [14]`, `macd [12 26 9]` (bracketed parameters may be left out).
    pub fn parse(words: &[&str]) -> Result<Study, String> {
        let Some((kind, args)) = words.split_first() else {
            return Err("which study? sma N, ema N, bb N [W], vwap, vol [N], rsi [N], macd [F S G]".into());
        };
        let kind = kind.to_ascii_lowercase();
        let too_many = |usage: &str| -> Result<Study, String> {
            Err(format!("{kind} takes at most {usage}, got `{}`", words.join(" ")))
        };
        let period = |i: usize, default: Option<u16>, min: u16| -> Result<u16, String> {
            match (args.get(i), default) {
                (Some(w), _) => parse_period(&kind, w, min),
                (None, Some(d)) => Ok(d),
                (None, None) => Err(format!("{kind} needs a period, e.g. `{kind} 20`")),
            }
        };
        let study = match kind.as_str() {
            "sma" | "ma" => {
                if args.len() > 1 {
                    return too_many("a period: sma 20");
                }
                Study::Sma { period: period(0, None, 1)? }
            }
            "ema" => {
                if args.len() > 1 {
                    return too_many("a period: ema 50");
                }
                Study::Ema { period: period(0, None, 1)? }
            }
            "bb" | "boll" | "bollinger" => {
                if args.len() > 2 {
                    return too_many("a period and a width: bb 20 2");
                }
                let width = match args.get(1) {
                    Some(w) => parse_width(w)?,
                    None => Decimal::TWO,
                };
                // The σ of one candle is 0: a one-candle band has no width.
                Study::Bollinger { period: period(0, None, 2)?, width }
            }
            "vwap" => {
                if !args.is_empty() {
                    return too_many("nothing: vwap (it starts again each KST day)");
                }
                Study::Vwap
            }
            "vol" | "volume" => {
                if args.len() > 1 {
                    return too_many("a period: vol 20");
                }
                Study::Volume { period: period(0, Some(20), 1)? }
            }
            "rsi" => {
                if args.len() > 1 {
                    return too_many("a period: rsi 14");
                }
                Study::Rsi { period: period(0, Some(14), 1)? }
            }
            "macd" => {
                if args.len() > 3 {
                    return too_many("three periods: macd 12 26 9");
                }
                if args.len() == 1 || args.len() == 2 {
                    return Err(format!(
                        "macd takes all three periods (fast slow signal) or none, got `{}`",
                        words.join(" ")
                    ));
                }
                let (fast, slow, signal) =
                    (period(0, Some(12), 1)?, period(1, Some(26), 1)?, period(2, Some(9), 1)?);
                if fast >= slow {
                    return Err(format!("macd: the fast period {fast} must be below the slow one {slow}"));
                }
                Study::Macd { fast, slow, signal }
            }
            other => {
                return Err(format!("unknown study `{other}`: sma, ema, bb, vwap, vol, rsi or macd"));
            }
        };
        Ok(study)
    }

    /// Checks parameters that did not come through [`Study::parse`] (a saved file): the
    /// same limits, named.
    pub fn validate(&self) -> Result<(), String> {
        let check = |name: &str, v: u16, min: u16| {
            if (min..=MAX_PERIOD).contains(&v) {
                Ok(())
            } else {
                Err(format!("{}: {name} must be {min}..={MAX_PERIOD}, got {v}", self.label()))
            }
        };
        match *self {
            Study::Sma { period }
            | Study::Ema { period }
            | Study::Volume { period }
            | Study::Rsi { period } => check("period", period, 1),
            Study::Bollinger { period, width } => {
                check("period", period, 2)?;
                if !(WIDTH_MIN..=WIDTH_MAX).contains(&width) {
                    return Err(format!(
                        "{}: width must be {WIDTH_MIN}..={WIDTH_MAX}, got {width}",
                        self.label()
                    ));
                }
                Ok(())
            }
            Study::Vwap => Ok(()),
            Study::Macd { fast, slow, signal } => {
                check("fast period", fast, 1)?;
                check("slow period", slow, 1)?;
                check("signal period", signal, 1)?;
                if fast >= slow {
                    return Err(format!("{}: the fast period must be below the slow one", self.label()));
                }
                Ok(())
            }
        }
    }

    /// The same study in Upbit's `indicator` stream terms, where it has one (VWAP has none).
    pub fn indicator(&self) -> Option<super::Indicator> {
        use super::{Indicator, MaKind};
        Some(match *self {
            Study::Sma { period } => Indicator::MovingAverage { ma_type: MaKind::Sma, period },
            Study::Ema { period } => Indicator::MovingAverage { ma_type: MaKind::Ema, period },
            Study::Bollinger { period, width } => Indicator::BollingerBands { period, std_dev: width },
            Study::Vwap => return None,
            Study::Volume { period } => Indicator::Volume { period },
            Study::Rsi { period } => Indicator::Rsi { period },
            Study::Macd { fast, slow, signal } => {
                Indicator::Macd { fast_period: fast, slow_period: slow, signal_period: signal }
            }
        })
    }

    /// The chart's study for one of Upbit's indicators; the crossover is two moving
    /// averages, not one study (None).
    pub fn from_indicator(ind: &super::Indicator) -> Option<Study> {
        use super::{Indicator, MaKind};
        Some(match *ind {
            Indicator::MovingAverage { ma_type: MaKind::Sma, period } => Study::Sma { period },
            Indicator::MovingAverage { ma_type: MaKind::Ema, period } => Study::Ema { period },
            Indicator::BollingerBands { period, std_dev } => Study::Bollinger { period, width: std_dev },
            Indicator::Volume { period } => Study::Volume { period },
            Indicator::Rsi { period } => Study::Rsi { period },
            Indicator::Macd { fast_period, slow_period, signal_period } => {
                Study::Macd { fast: fast_period, slow: slow_period, signal: signal_period }
            }
            Indicator::MaCrossover { .. } => return None,
        })
    }

    /// The word that names its kind: `sma`, `ema`, `bb`, `vwap`, `vol`, `rsi`, `macd`.
    pub fn kind(&self) -> &'static str {
        match self {
            Study::Sma { .. } => "sma",
            Study::Ema { .. } => "ema",
            Study::Bollinger { .. } => "bb",
            Study::Vwap => "vwap",
            Study::Volume { .. } => "vol",
            Study::Rsi { .. } => "rsi",
            Study::Macd { .. } => "macd",
        }
    }
}

impl std::fmt::Display for Study {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

/// Most studies shown at once.
pub const MAX_STUDIES: usize = 8;
/// Most sub-panes (volume, RSI, MACD) under the candles: each takes rows from them.
pub const MAX_SUB_PANES: usize = 3;

/// `SMA 20, VOL 20`, or `none`.
pub fn list(studies: &[Study]) -> String {
    if studies.is_empty() {
        return "none".into();
    }
    studies.iter().map(Study::label).collect::<Vec<_>>().join(", ")
}

/// Adds `study` to those shown, refusing a repeat, a ninth study or a fourth sub-pane
/// with the reason; the message says what is shown now.
pub fn add(studies: &mut Vec<Study>, study: Study) -> Result<String, String> {
    study.validate()?;
    if studies.contains(&study) {
        return Err(format!("{study} is shown already"));
    }
    if studies.len() >= MAX_STUDIES {
        return Err(format!(
            "at most {MAX_STUDIES} studies are shown ({}): remove one first with :ind rm",
            list(studies)
        ));
    }
    let subs: Vec<&Study> = studies.iter().filter(|s| !s.is_overlay()).collect();
    if !study.is_overlay() && subs.len() >= MAX_SUB_PANES {
        let names: Vec<String> = subs.iter().map(|s| s.label()).collect();
        return Err(format!(
            "{study} needs a sub-pane and the chart has its {MAX_SUB_PANES} ({}): each takes rows from the candles; remove one first with :ind rm",
            names.join(", ")
        ));
    }
    studies.push(study);
    Ok(format!("{study} added; studies: {}", list(studies)))
}

/// Removes the study `words` name (`ema 50`; a kind alone, `rsi`, when one of that kind
/// is shown); the message says what is shown now.
pub fn remove(studies: &mut Vec<Study>, words: &[&str]) -> Result<String, String> {
    let target = match words {
        [kind] => {
            let kind = kind.to_ascii_lowercase();
            let same: Vec<Study> = studies.iter().filter(|s| s.kind() == kind).copied().collect();
            match same.as_slice() {
                [one] => *one,
                [] => Study::parse(words)?,
                many => {
                    return Err(format!("which {kind}? {} are shown", list(many)));
                }
            }
        }
        _ => Study::parse(words)?,
    };
    let Some(at) = studies.iter().position(|s| *s == target) else {
        return Err(format!("{target} is not shown (studies: {})", list(studies)));
    };
    studies.remove(at);
    Ok(format!("{target} removed; studies: {}", list(studies)))
}

/// Studies as a file holds them (their labels, `SMA 20`), read with the limits of [`add`]:
/// a label that does not read as a study, a repeat or one past the limits is skipped and
/// named in the problems returned, never fatal.
pub fn read_saved(labels: &[String]) -> (Vec<Study>, Vec<String>) {
    let mut studies = Vec::new();
    let mut problems = Vec::new();
    for label in labels {
        let words: Vec<&str> = label.split_whitespace().collect();
        match Study::parse(&words).and_then(|s| add(&mut studies, s)) {
            Ok(_) => {}
            Err(e) => problems.push(format!("study {label:?} skipped: {e}")),
        }
    }
    (studies, problems)
}

/// The labels a file keeps for `studies`.
pub fn labels(studies: &[Study]) -> Vec<String> {
    studies.iter().map(Study::label).collect()
}

/// Narrowest and widest Bollinger band, in standard deviations.
const WIDTH_MIN: Decimal = Decimal::from_parts(1, 0, 0, false, 1);
const WIDTH_MAX: Decimal = Decimal::from_parts(5, 0, 0, false, 0);

fn parse_period(kind: &str, word: &str, min: u16) -> Result<u16, String> {
    match word.parse::<u16>() {
        Ok(n) if (min..=MAX_PERIOD).contains(&n) => Ok(n),
        _ => Err(format!("{kind}: a period is a whole number {min}..={MAX_PERIOD} (candles), got `{word}`")),
    }
}

fn parse_width(word: &str) -> Result<Decimal, String> {
    match word.parse::<Decimal>() {
        Ok(w) if (WIDTH_MIN..=WIDTH_MAX).contains(&w) => Ok(w),
        _ => Err(format!("bb: the width is {WIDTH_MIN}..={WIDTH_MAX} standard deviations, got `{word}`")),
    }
}

/// The series of `study` over `candles` (oldest first): one value per candle, `None`
/// while the study warms up or where a value does not fit the arithmetic (a candle near
/// `Decimal::MAX` gives no value, never a panic).
///
/// The value at candle `i` is the study's definition over `candles[..=i]`, the same
/// arithmetic in the same order as [`super::calc`] (and so as [`super::Tracker`] and the
/// simulator's `indicator` stream): SMA and bands from `calc::sma` / `calc::bollinger` over
/// the window, EMA seeded with the SMA of the first `n` closes, Wilder's RSI, the MACD
/// line from the first candle where both EMAs exist, its signal an EMA of that line.
/// VWAP is Σ traded value / Σ volume since the start of the candle's KST day (UTC+9); the
/// first day of a series that does not begin at midnight KST has none (its first trades
/// are not loaded, so any number would be another average), nor do timeframes of a day
/// or more (their candles do not fall in one KST day).
pub fn compute(study: &Study, candles: &[Candle]) -> StudySeries {
    let mut engine = Engine::new(*study);
    engine.fill(candles, 0);
    Arc::unwrap_or_clone(engine.out)
}

/// Milliseconds from UTC midnight to KST midnight.
const KST_OFFSET_MS: i64 = 9 * 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// The KST day a candle starting at `start` (Unix ms) belongs to, and whether it starts it.
fn kst_day(start: i64) -> Option<(i64, bool)> {
    let local = start.checked_add(KST_OFFSET_MS)?;
    Some((local.div_euclid(DAY_MS), local.rem_euclid(DAY_MS) == 0))
}

/// A study's series being built, with what the next candle's value needs besides the
/// candles themselves (the running averages of RSI, the EMAs of MACD, the day's sums of
/// VWAP). Every value at `i` is computed from the state at `i − 1` and a window of
/// candles ending at `i`, so recomputing from any index on gives the full computation's
/// values.
#[derive(Debug, Clone)]
struct Engine {
    study: Study,
    out: Arc<StudySeries>,
    aux: Aux,
}

#[derive(Debug, Clone)]
enum Aux {
    None,
    /// Wilder's average gain and loss at each candle.
    Rsi(Vec<Option<(f64, f64)>>),
    /// Fast and slow EMA at each candle, and how many MACD-line values there have been
    /// (`None` once the line broke off: an overflow ends the signal's EMA as it ends
    /// any EMA).
    Macd {
        fast: Vec<Option<Decimal>>,
        slow: Vec<Option<Decimal>>,
        run: Vec<Option<usize>>,
    },
    /// Σ value and Σ volume of the candle's KST day so far.
    Vwap(Vec<Option<(Decimal, Decimal)>>),
}

/// The EMA at candle `i` of a series whose value at `i − 1` was `prev`: none before
/// `n − 1`, the mean of the first `n` values at `n − 1` (`seed` is the prefix up to `i`
/// then), then one step toward `x`. An overflow ends the series, as in `calc::ema_series`.
fn ema_at(i: usize, n: usize, prev: Option<Decimal>, seed: &[Decimal], x: Decimal) -> Option<Decimal> {
    match (i + 1).cmp(&n) {
        std::cmp::Ordering::Less => None,
        std::cmp::Ordering::Equal => calc::sum(seed)?.checked_div(Decimal::from(n)),
        std::cmp::Ordering::Greater => ema_step(prev?, alpha(n), x),
    }
}

impl Engine {
    fn new(study: Study) -> Self {
        let (out, aux) = match study {
            Study::Sma { .. } | Study::Ema { .. } => (StudySeries::Line(Vec::new()), Aux::None),
            Study::Vwap => (StudySeries::Line(Vec::new()), Aux::Vwap(Vec::new())),
            Study::Bollinger { .. } => {
                (StudySeries::Bands { upper: Vec::new(), middle: Vec::new(), lower: Vec::new() }, Aux::None)
            }
            Study::Volume { .. } => {
                (StudySeries::Volume { volume: Vec::new(), average: Vec::new() }, Aux::None)
            }
            Study::Rsi { .. } => (StudySeries::Oscillator(Vec::new()), Aux::Rsi(Vec::new())),
            Study::Macd { .. } => (
                StudySeries::Macd { macd: Vec::new(), signal: Vec::new(), histogram: Vec::new() },
                Aux::Macd { fast: Vec::new(), slow: Vec::new(), run: Vec::new() },
            ),
        };
        Engine { study, out: Arc::new(out), aux }
    }

    fn len(&self) -> usize {
        self.out.len()
    }

    /// Candles before `i` whose closes the value at `i` reads.
    fn lookback(&self) -> usize {
        match self.study {
            Study::Sma { period }
            | Study::Ema { period }
            | Study::Bollinger { period, .. }
            | Study::Volume { period } => period.into(),
            Study::Rsi { period } => usize::from(period) + 1,
            Study::Macd { slow, fast, .. } => usize::from(slow.max(fast)) + 1,
            Study::Vwap => 1,
        }
    }

    /// Recomputes the values from candle `from` on (the earlier ones are kept: their
    /// candles did not change), up to the end of `candles`.
    fn fill(&mut self, candles: &[Candle], from: usize) {
        let from = from.min(self.len()).min(candles.len());
        if from == candles.len() && self.len() == candles.len() {
            return;
        }
        let valid = self.study.validate().is_ok();
        let lo = from.saturating_sub(self.lookback());
        let closes: Vec<Decimal> = candles[lo..].iter().map(|c| c.close).collect();
        let study = self.study;
        let out = Arc::make_mut(&mut self.out);
        out.truncate(from);
        self.aux.truncate(from);
        for i in from..candles.len() {
            // An invalid study (only a hand-edited file could hold one) has no values.
            if !valid {
                out.push_none(candles[i].volume);
                continue;
            }
            let x = closes[i - lo];
            let upto = &closes[..=i - lo];
            match (study, &mut *out, &mut self.aux) {
                (Study::Sma { period }, StudySeries::Line(line), _) => {
                    line.push(calc::sma(upto, period.into()))
                }
                (Study::Ema { period }, StudySeries::Line(line), _) => {
                    let prev = line.last().copied().flatten();
                    line.push(ema_at(i, period.into(), prev, upto, x));
                }
                (Study::Bollinger { period, width }, StudySeries::Bands { upper, middle, lower }, _) => {
                    let b = calc::bollinger(upto, period.into(), width);
                    upper.push(b.map(|b| b.0));
                    middle.push(b.map(|b| b.1));
                    lower.push(b.map(|b| b.2));
                }
                (Study::Volume { period }, StudySeries::Volume { volume, average }, _) => {
                    let n = usize::from(period);
                    let window = &candles[(i + 1).saturating_sub(n)..=i];
                    let vols: Vec<Decimal> = window.iter().map(|c| c.volume).collect();
                    volume.push(candles[i].volume);
                    average.push(calc::sma(&vols, n));
                }
                (Study::Rsi { period }, StudySeries::Oscillator(values), Aux::Rsi(avgs)) => {
                    let n = usize::from(period);
                    let nf = f64::from(period);
                    let avg = match i.cmp(&n) {
                        std::cmp::Ordering::Less => None,
                        std::cmp::Ordering::Equal => {
                            let (mut gain, mut loss) = (0.0, 0.0);
                            for w in upto.windows(2) {
                                let (g, l) = gain_loss(w[0], w[1]);
                                gain += g;
                                loss += l;
                            }
                            Some((gain / nf, loss / nf))
                        }
                        std::cmp::Ordering::Greater => avgs.last().copied().flatten().map(|(ag, al)| {
                            let (g, l) = gain_loss(closes[i - 1 - lo], x);
                            ((ag * (nf - 1.0) + g) / nf, (al * (nf - 1.0) + l) / nf)
                        }),
                    };
                    avgs.push(avg);
                    values.push(avg.map(|(g, l)| rsi_of(g, l)));
                }
                (
                    Study::Macd { fast: f, slow: s, signal: g },
                    StudySeries::Macd { macd, signal, histogram },
                    Aux::Macd { fast, slow, run },
                ) => {
                    let fe = ema_at(i, f.into(), fast.last().copied().flatten(), upto, x);
                    let se = ema_at(i, s.into(), slow.last().copied().flatten(), upto, x);
                    fast.push(fe);
                    slow.push(se);
                    let line = fe.zip(se).and_then(|(a, b)| a.checked_sub(b));
                    let before = run.last().copied().unwrap_or(Some(0));
                    let count = match line {
                        Some(_) => before.map(|c| c + 1),
                        None if before == Some(0) => Some(0),
                        None => None,
                    };
                    run.push(count);
                    let g = usize::from(g);
                    let sig = match (line, count) {
                        (Some(m), Some(c)) if c == g => {
                            let mut seed: Vec<Decimal> =
                                macd[i + 1 - g..i].iter().flatten().copied().collect();
                            seed.push(m);
                            calc::sum(&seed).and_then(|s| s.checked_div(Decimal::from(g)))
                        }
                        (Some(m), Some(c)) if c > g => {
                            signal.last().copied().flatten().and_then(|e| ema_step(e, alpha(g), m))
                        }
                        _ => None,
                    };
                    macd.push(line);
                    signal.push(sig);
                    histogram.push(line.zip(sig).and_then(|(m, s)| m.checked_sub(s)));
                }
                (Study::Vwap, StudySeries::Line(line), Aux::Vwap(sums)) => {
                    let c = &candles[i];
                    let intraday = !matches!(c.timeframe, Timeframe::D1 | Timeframe::W1 | Timeframe::Mo1);
                    let day = kst_day(c.start);
                    let prev_day = i.checked_sub(1).and_then(|p| kst_day(candles[p].start));
                    let sum = match day {
                        _ if !intraday => None,
                        None => None,
                        Some((d, _)) if prev_day.is_some_and(|(p, _)| p == d) => sums
                            .last()
                            .copied()
                            .flatten()
                            .and_then(|(v, q)| Some((v.checked_add(c.value)?, q.checked_add(c.volume)?))),
                        // The series begins inside this day: its first trades are not here.
                        Some((_, starts)) if i == 0 && !starts => None,
                        Some(_) => Some((c.value, c.volume)),
                    };
                    sums.push(sum);
                    line.push(sum.and_then(|(v, q)| if q.is_zero() { None } else { v.checked_div(q) }));
                }
                // The engine's series and state are made for its study in `new`.
                (_, out, _) => out.push_none(candles[i].volume),
            }
        }
    }
}

impl Aux {
    fn truncate(&mut self, n: usize) {
        match self {
            Aux::None => {}
            Aux::Rsi(v) => v.truncate(n),
            Aux::Macd { fast, slow, run } => {
                fast.truncate(n);
                slow.truncate(n);
                run.truncate(n);
            }
            Aux::Vwap(v) => v.truncate(n),
        }
    }
}

impl StudySeries {
    /// Candles covered.
    pub fn len(&self) -> usize {
        match self {
            StudySeries::Line(v) => v.len(),
            StudySeries::Bands { middle, .. } => middle.len(),
            StudySeries::Volume { volume, .. } => volume.len(),
            StudySeries::Oscillator(v) => v.len(),
            StudySeries::Macd { macd, .. } => macd.len(),
        }
    }

    /// No candles covered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn truncate(&mut self, n: usize) {
        match self {
            StudySeries::Line(v) => v.truncate(n),
            StudySeries::Bands { upper, middle, lower } => {
                upper.truncate(n);
                middle.truncate(n);
                lower.truncate(n);
            }
            StudySeries::Volume { volume, average } => {
                volume.truncate(n);
                average.truncate(n);
            }
            StudySeries::Oscillator(v) => v.truncate(n),
            StudySeries::Macd { macd, signal, histogram } => {
                macd.truncate(n);
                signal.truncate(n);
                histogram.truncate(n);
            }
        }
    }

    /// One candle without a value (the volume bar is the candle's own).
    fn push_none(&mut self, vol: Decimal) {
        match self {
            StudySeries::Line(v) => v.push(None),
            StudySeries::Bands { upper, middle, lower } => {
                upper.push(None);
                middle.push(None);
                lower.push(None);
            }
            StudySeries::Volume { volume, average } => {
                volume.push(vol);
                average.push(None);
            }
            StudySeries::Oscillator(v) => v.push(None),
            StudySeries::Macd { macd, signal, histogram } => {
                macd.push(None);
                signal.push(None);
                histogram.push(None);
            }
        }
    }
}

/// What the studies read of one candle, as bytes: equal keys give every study the same
/// value. (`1.0` and `1.00` differ here though they are equal; that costs a recomputation,
/// never a wrong value.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    start: i64,
    close: [u8; 16],
    volume: [u8; 16],
    value: [u8; 16],
}

impl Key {
    fn of(c: &Candle) -> Key {
        Key {
            start: c.start,
            close: c.close.serialize(),
            volume: c.volume.serialize(),
            value: c.value.serialize(),
        }
    }
}

/// How many candle series the cache keeps (the market shown, a few switched between).
const CACHED_SERIES: usize = 8;

/// The chart's studies, computed incrementally: per (market, timeframe) the candles last
/// seen and each study's series over them. Asked again, it compares the candles (a byte
/// comparison, microseconds for the 1000 a series keeps) and recomputes only from the
/// first candle that changed: the forming candle's update or a new candle costs O(period)
/// per study, history loaded in front (or the oldest candle trimmed) a full computation.
///
/// It sits in the UI state and is filled while drawing, behind a `RefCell`: drawing takes
/// the state by shared reference, and the cache is derived data, not state (clones start
/// empty, and every cache equals every other).
#[derive(Debug, Default)]
pub struct StudyCache {
    inner: RefCell<Memo>,
}

#[derive(Debug, Default)]
struct Memo {
    entries: Vec<Entry>,
    clock: u64,
    /// Candle values computed since the start, over all studies (tests and benches).
    computed: u64,
}

#[derive(Debug)]
struct Entry {
    market: MarketId,
    timeframe: Timeframe,
    keys: Vec<Key>,
    engines: Vec<Engine>,
    used: u64,
}

impl Clone for StudyCache {
    fn clone(&self) -> Self {
        StudyCache::default()
    }
}

impl PartialEq for StudyCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl StudyCache {
    /// Each of `studies` over `candles`, the series of `market` at `timeframe` (oldest
    /// first), in the order given. Cheap when nothing changed; see the type's doc.
    pub fn series(
        &self,
        market: &MarketId,
        timeframe: Timeframe,
        candles: &[Candle],
        studies: &[Study],
    ) -> Vec<(Study, Arc<StudySeries>)> {
        // Drawing is not re-entrant; were the cache ever busy, compute without it.
        let Ok(mut memo) = self.inner.try_borrow_mut() else {
            return studies.iter().map(|s| (*s, Arc::new(compute(s, candles)))).collect();
        };
        memo.clock += 1;
        let clock = memo.clock;
        let pos = match memo.entries.iter().position(|e| &e.market == market && e.timeframe == timeframe) {
            Some(p) => p,
            None => {
                if memo.entries.len() >= CACHED_SERIES
                    && let Some(oldest) =
                        memo.entries.iter().enumerate().min_by_key(|(_, e)| e.used).map(|(i, _)| i)
                {
                    memo.entries.swap_remove(oldest);
                }
                memo.entries.push(Entry {
                    market: market.clone(),
                    timeframe,
                    keys: Vec::new(),
                    engines: Vec::new(),
                    used: clock,
                });
                memo.entries.len() - 1
            }
        };
        let entry = &mut memo.entries[pos];
        entry.used = clock;
        let changed = entry.keys.iter().zip(candles).position(|(k, c)| *k != Key::of(c));
        let from = changed.unwrap_or(entry.keys.len().min(candles.len()));
        entry.keys.truncate(from);
        entry.keys.extend(candles[from..].iter().map(Key::of));
        let mut old = std::mem::take(&mut entry.engines);
        let mut computed = 0;
        for study in studies {
            let mut engine = match old.iter().position(|e| e.study == *study) {
                Some(p) => old.swap_remove(p),
                None => Engine::new(*study),
            };
            computed += (candles.len() - from.min(engine.len()).min(candles.len())) as u64;
            engine.fill(candles, from);
            entry.engines.push(engine);
        }
        let out = entry.engines.iter().map(|e| (e.study, Arc::clone(&e.out))).collect();
        memo.computed += computed;
        out
    }

    /// Candle values computed since the cache was made, over all studies: what a test
    /// or benchmark reads to see that an update cost O(1) candles, not the history.
    pub fn computed(&self) -> u64 {
        self.inner.try_borrow().map(|m| m.computed).unwrap_or(0)
    }
}

#[cfg(test)]
#[path = "series_tests.rs"]
mod tests;
