//! [`Tracker`]: one indicator over a live candle series. The state holds everything up to
//! the last *closed* candle; the forming candle is kept aside and folded in on a copy when
//! a value is asked for, so the same bucket arriving again (a live candle update) replaces
//! it instead of being counted twice.

use std::collections::VecDeque;

use rust_decimal::Decimal;

use super::calc::{self, alpha, ema_step, gain_loss, rsi_of};
use super::{Bar, Indicator, MaKind, Reading};

/// An EMA being built: the seed sum until `n` values, then the recurrence.
#[derive(Debug, Clone)]
struct Ema {
    n: usize,
    alpha: Decimal,
    count: usize,
    seed: Decimal,
    value: Option<Decimal>,
    /// An input overflowed the arithmetic: no value from here on (as the direct
    /// computation, whose series ends at the overflow).
    broken: bool,
}

impl Ema {
    fn new(n: usize) -> Self {
        Ema { n, alpha: alpha(n), count: 0, seed: Decimal::ZERO, value: None, broken: false }
    }

    fn push(&mut self, x: Decimal) {
        if self.broken {
            return;
        }
        self.count += 1;
        let next = match self.value {
            Some(e) => ema_step(e, self.alpha, x).map(Some),
            None => self.seed.checked_add(x).map(|seed| {
                self.seed = seed;
                (self.count == self.n).then(|| seed / Decimal::from(self.n))
            }),
        };
        match next {
            Some(Some(v)) => self.value = Some(v),
            Some(None) => {}
            None => {
                self.broken = true;
                self.value = None;
            }
        }
    }
}

/// Wilder's RSI being built.
#[derive(Debug, Clone)]
struct Rsi {
    n: usize,
    prev: Option<Decimal>,
    changes: usize,
    gain: f64,
    loss: f64,
    avg: Option<(f64, f64)>,
}

impl Rsi {
    fn push(&mut self, close: Decimal) {
        let Some(prev) = self.prev.replace(close) else { return };
        let (g, l) = gain_loss(prev, close);
        let nf = self.n as f64;
        self.changes += 1;
        match self.avg {
            Some((ag, al)) => self.avg = Some(((ag * (nf - 1.0) + g) / nf, (al * (nf - 1.0) + l) / nf)),
            None => {
                self.gain += g;
                self.loss += l;
                if self.changes == self.n {
                    self.avg = Some((self.gain / nf, self.loss / nf));
                }
            }
        }
    }
}

/// The recursive part of an indicator; windowed kinds (SMA, bands, volume) need none.
#[derive(Debug, Clone)]
enum Core {
    Window,
    Ema(Ema),
    EmaCross(Ema, Ema),
    Rsi(Rsi),
    Macd { fast: Ema, slow: Ema, signal: Ema },
}

impl Core {
    fn push(&mut self, x: Decimal) {
        match self {
            Core::Window => {}
            Core::Ema(e) => e.push(x),
            Core::EmaCross(s, l) => {
                s.push(x);
                l.push(x);
            }
            Core::Rsi(r) => r.push(x),
            Core::Macd { fast, slow, signal } => {
                fast.push(x);
                slow.push(x);
                if let (Some(f), Some(s)) = (fast.value, slow.value) {
                    match f.checked_sub(s) {
                        Some(line) => signal.push(line),
                        None => signal.broken = true,
                    }
                }
            }
        }
    }
}

/// One indicator over a live series: [`Tracker::update`] with each new or updated candle,
/// [`Tracker::value`] for the value at the latest one.
#[derive(Debug, Clone)]
pub struct Tracker {
    indicator: Indicator,
    core: Core,
    /// Closed candles the windowed kinds still need (at most `window − 1`).
    closed: VecDeque<Bar>,
    window: usize,
    last: Option<Bar>,
}

impl Tracker {
    /// A tracker for `indicator`; `Err` names a bad parameter.
    pub fn new(indicator: Indicator) -> Result<Self, String> {
        indicator.validate()?;
        let (core, window) = match indicator {
            Indicator::Volume { period } => (Core::Window, period.into()),
            Indicator::Rsi { period } => {
                let n = period.into();
                (Core::Rsi(Rsi { n, prev: None, changes: 0, gain: 0.0, loss: 0.0, avg: None }), 1)
            }
            Indicator::MovingAverage { ma_type: MaKind::Sma, period } => (Core::Window, period.into()),
            Indicator::MovingAverage { ma_type: MaKind::Ema, period } => {
                (Core::Ema(Ema::new(period.into())), 1)
            }
            Indicator::MaCrossover { ma_type: MaKind::Sma, long_period, .. } => {
                (Core::Window, long_period.into())
            }
            Indicator::MaCrossover { ma_type: MaKind::Ema, short_period, long_period } => {
                (Core::EmaCross(Ema::new(short_period.into()), Ema::new(long_period.into())), 1)
            }
            Indicator::BollingerBands { period, .. } => (Core::Window, period.into()),
            Indicator::Macd { fast_period, slow_period, signal_period } => (
                Core::Macd {
                    fast: Ema::new(fast_period.into()),
                    slow: Ema::new(slow_period.into()),
                    signal: Ema::new(signal_period.into()),
                },
                1,
            ),
        };
        Ok(Tracker { indicator, core, closed: VecDeque::new(), window, last: None })
    }

    /// A tracker fed with `bars` (oldest first).
    pub fn with_history(indicator: Indicator, bars: &[Bar]) -> Result<Self, String> {
        let mut t = Tracker::new(indicator)?;
        for b in bars {
            t.update(*b);
        }
        Ok(t)
    }

    /// The indicator tracked.
    pub fn indicator(&self) -> &Indicator {
        &self.indicator
    }

    /// Bucket start of the latest candle.
    pub fn last_start(&self) -> Option<i64> {
        self.last.map(|b| b.start)
    }

    /// Takes a candle: the same bucket as the latest replaces it, a newer one closes the
    /// latest and follows it. An older bucket is refused (`false`): the series only moves
    /// forward, and a late update of a closed candle would need the history rebuilt.
    pub fn update(&mut self, bar: Bar) -> bool {
        match self.last {
            Some(last) if bar.start < last.start => return false,
            Some(last) if bar.start > last.start => {
                self.core.push(last.close);
                self.closed.push_back(last);
                while self.closed.len() >= self.window {
                    self.closed.pop_front();
                }
            }
            _ => {}
        }
        self.last = Some(bar);
        true
    }

    /// The value at the latest candle (`None` until warmed up).
    pub fn value(&self) -> Option<Reading> {
        let last = self.last?;
        let mut core = self.core.clone();
        core.push(last.close);
        let window: Vec<Bar> = self.closed.iter().copied().chain(std::iter::once(last)).collect();
        let closes: Vec<Decimal> = window.iter().map(|b| b.close).collect();
        match (&self.indicator, &core) {
            (Indicator::Volume { period }, _) => {
                let vols: Vec<Decimal> = window.iter().map(|b| b.volume).collect();
                Some(Reading::Volume { volume: last.volume, average: calc::sma(&vols, (*period).into())? })
            }
            (Indicator::Rsi { .. }, Core::Rsi(r)) => r.avg.map(|(g, l)| Reading::Rsi(rsi_of(g, l))),
            (Indicator::MovingAverage { period, .. }, Core::Window) => {
                calc::sma(&closes, (*period).into()).map(Reading::MovingAverage)
            }
            (Indicator::MovingAverage { .. }, Core::Ema(e)) => e.value.map(Reading::MovingAverage),
            (Indicator::MaCrossover { short_period, long_period, .. }, Core::Window) => {
                Some(Reading::MaCrossover {
                    short: calc::sma(&closes, (*short_period).into())?,
                    long: calc::sma(&closes, (*long_period).into())?,
                })
            }
            (Indicator::MaCrossover { .. }, Core::EmaCross(s, l)) => {
                Some(Reading::MaCrossover { short: s.value?, long: l.value? })
            }
            (Indicator::BollingerBands { period, std_dev }, _) => {
                let (upper, middle, lower) = calc::bollinger(&closes, (*period).into(), *std_dev)?;
                Some(Reading::BollingerBands { upper, middle, lower })
            }
            (Indicator::Macd { .. }, Core::Macd { fast, slow, signal }) => {
                let m = fast.value?.checked_sub(slow.value?)?;
                let s = signal.value?;
                Some(Reading::Macd { macd: m, signal: s, histogram: m.checked_sub(s)? })
            }
            _ => None,
        }
    }
}
