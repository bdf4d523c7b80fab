//! Technical indicators over candles: the six kinds Upbit's `indicator` stream offers
//! (volume, RSI, moving average, moving-average crossover, Bollinger bands, MACD), computed
//! here so hoga can show them where Upbit does not stream them (non-KRW markets, timeframes
//! outside 5m..1d) and so the simulator can serve the stream.
//!
//! Two ways to the same number:
//! * [`compute`] (and the functions of [`calc`]) read a whole series: the definition, used
//!   by the simulator at candle close and as the reference in tests;
//! * [`Tracker`] follows a live series one candle at a time, where the last candle may
//!   still be forming (the same bucket arriving again replaces it). Each update costs
//!   O(period), not O(history).
//!
//! Both perform the same arithmetic in the same order, so they agree exactly (property
//! tests below), not just within a tolerance.
//!
//! Number types: values in price or volume units (averages, bands, MACD lines) stay
//! [`Decimal`], as every money value in hoga does, so a moving average of prices on the
//! tick grid is shown as the exact mean. RSI is a ratio statistic (0..100) and the standard
//! deviation needs a square root, so both are `f64`; the bands add `width × σ` to the
//! Decimal middle, converted once.
//!
//! How the kinds are defined (the conventions of Wilder and Appel, which Upbit's RSI
//! tutorial also uses):
//! * SMA: mean of the last `n` values.
//! * EMA: seeded with the SMA of the first `n` values, then `ema += α (x − ema)` with
//!   `α = 2 / (n + 1)`.
//! * RSI: the mean gain and loss of the first `n` changes, then Wilder's smoothing
//!   `avg = (avg (n − 1) + x) / n`; `RSI = 100 − 100 / (1 + gain / loss)`, 100 when there was
//!   no loss, 50 when there was no change at all.
//! * Bollinger: SMA middle, population σ of the same window, bands at `middle ± width σ`.
//! * MACD: `EMA(fast) − EMA(slow)`, its signal line an EMA of the MACD line (seeded once
//!   the slow EMA exists), histogram = MACD − signal.
//! * Volume: the candle's volume and the SMA of volumes.

mod board;
pub mod calc;
pub mod series;
pub mod stream;
mod tracker;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::exchange::types::{MarketId, Timeframe};

pub use board::Board;
pub use tracker::Tracker;

/// One candle as the indicators see it: its bucket, close and volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bar {
    /// Bucket start (Unix ms): equal starts are the same candle, updated.
    pub start: i64,
    /// Close (last trade).
    pub close: Decimal,
    /// Volume traded in the bucket.
    pub volume: Decimal,
}

impl From<&crate::exchange::types::Candle> for Bar {
    fn from(c: &crate::exchange::types::Candle) -> Self {
        Bar { start: c.start, close: c.close, volume: c.volume }
    }
}

/// Simple or exponential moving average.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum MaKind {
    /// Simple (arithmetic mean of the window).
    Sma,
    /// Exponential (SMA-seeded).
    Ema,
}

impl MaKind {
    fn label(self) -> &'static str {
        match self {
            MaKind::Sma => "SMA",
            MaKind::Ema => "EMA",
        }
    }
}

/// An indicator and its parameters (periods in candles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Indicator {
    /// The candle's volume and the SMA of volumes over `period`.
    Volume {
        /// Averaging window.
        period: u16,
    },
    /// Relative strength index (Wilder).
    Rsi {
        /// Smoothing period.
        period: u16,
    },
    /// One moving average of closes.
    MovingAverage {
        /// SMA or EMA.
        ma_type: MaKind,
        /// Window.
        period: u16,
    },
    /// Two moving averages of closes, for golden / dead crosses.
    MaCrossover {
        /// SMA or EMA (both lines).
        ma_type: MaKind,
        /// Short window.
        short_period: u16,
        /// Long window.
        long_period: u16,
    },
    /// Bollinger bands.
    BollingerBands {
        /// Window.
        period: u16,
        /// Band width in standard deviations.
        std_dev: Decimal,
    },
    /// Moving average convergence / divergence.
    Macd {
        /// Fast EMA.
        fast_period: u16,
        /// Slow EMA.
        slow_period: u16,
        /// Signal EMA of the MACD line.
        signal_period: u16,
    },
}

impl Indicator {
    /// The set hoga subscribes to and computes for the chart: the usual defaults of each
    /// kind. Order is the readout's order.
    pub const DEFAULTS: [Indicator; 6] = [
        Indicator::Rsi { period: 14 },
        Indicator::Macd { fast_period: 12, slow_period: 26, signal_period: 9 },
        Indicator::BollingerBands { period: 20, std_dev: Decimal::TWO },
        Indicator::MovingAverage { ma_type: MaKind::Sma, period: 20 },
        Indicator::MaCrossover { ma_type: MaKind::Ema, short_period: 5, long_period: 20 },
        Indicator::Volume { period: 20 },
    ];

    /// Upbit's name of the kind (`indicators[].type`).
    pub fn wire_type(&self) -> &'static str {
        match self {
            Indicator::Volume { .. } => "volume",
            Indicator::Rsi { .. } => "rsi",
            Indicator::MovingAverage { .. } => "moving_average",
            Indicator::MaCrossover { .. } => "ma_crossover",
            Indicator::BollingerBands { .. } => "bollinger_bands",
            Indicator::Macd { .. } => "macd",
        }
    }

    /// Short label with parameters: `RSI(14)`, `MACD(12,26,9)`, `BB(20,2)`, `SMA(20)`.
    pub fn label(&self) -> String {
        match self {
            Indicator::Volume { period } => format!("VOL({period})"),
            Indicator::Rsi { period } => format!("RSI({period})"),
            Indicator::MovingAverage { ma_type, period } => format!("{}({period})", ma_type.label()),
            Indicator::MaCrossover { ma_type, short_period, long_period } => {
                format!("{}({short_period}/{long_period})", ma_type.label())
            }
            Indicator::BollingerBands { period, std_dev } => format!("BB({period},{})", std_dev.normalize()),
            Indicator::Macd { fast_period, slow_period, signal_period } => {
                format!("MACD({fast_period},{slow_period},{signal_period})")
            }
        }
    }

    /// Checks the parameters: every period at least 1 (RSI, bands: 2), the crossover's and
    /// MACD's short period below the long one, a positive band width.
    pub fn validate(&self) -> Result<(), String> {
        let at_least = |name: &str, v: u16, min: u16| {
            if v < min {
                Err(format!("{}: {name} must be at least {min}, got {v}", self.wire_type()))
            } else {
                Ok(())
            }
        };
        match *self {
            Indicator::Volume { period } => at_least("period", period, 1),
            Indicator::Rsi { period } => at_least("period", period, 1),
            Indicator::MovingAverage { period, .. } => at_least("period", period, 1),
            Indicator::MaCrossover { short_period, long_period, .. } => {
                at_least("short_period", short_period, 1)?;
                if short_period >= long_period {
                    return Err(format!(
                        "ma_crossover: short_period {short_period} must be below long_period {long_period}"
                    ));
                }
                Ok(())
            }
            Indicator::BollingerBands { period, std_dev } => {
                at_least("period", period, 2)?;
                if std_dev <= Decimal::ZERO {
                    return Err(format!("bollinger_bands: std_dev must be positive, got {std_dev}"));
                }
                Ok(())
            }
            Indicator::Macd { fast_period, slow_period, signal_period } => {
                at_least("fast_period", fast_period, 1)?;
                at_least("signal_period", signal_period, 1)?;
                if fast_period >= slow_period {
                    return Err(format!(
                        "macd: fast_period {fast_period} must be below slow_period {slow_period}"
                    ));
                }
                Ok(())
            }
        }
    }

    /// Candles needed before the first value.
    pub fn warmup(&self) -> usize {
        match *self {
            Indicator::Volume { period } | Indicator::MovingAverage { period, .. } => period.into(),
            Indicator::BollingerBands { period, .. } => period.into(),
            Indicator::Rsi { period } => usize::from(period) + 1,
            Indicator::MaCrossover { long_period, .. } => long_period.into(),
            Indicator::Macd { slow_period, signal_period, .. } => {
                usize::from(slow_period) + usize::from(signal_period) - 1
            }
        }
    }
}

/// The value of an indicator at one candle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reading {
    /// The candle's volume and the average volume.
    Volume {
        /// This candle's volume.
        volume: Decimal,
        /// SMA of volumes.
        average: Decimal,
    },
    /// RSI, 0..100.
    Rsi(f64),
    /// One average.
    MovingAverage(Decimal),
    /// Both averages of a crossover.
    MaCrossover {
        /// Short average.
        short: Decimal,
        /// Long average.
        long: Decimal,
    },
    /// Bands.
    BollingerBands {
        /// Upper band.
        upper: Decimal,
        /// Middle (SMA).
        middle: Decimal,
        /// Lower band.
        lower: Decimal,
    },
    /// MACD line, signal line and histogram.
    Macd {
        /// EMA(fast) − EMA(slow).
        macd: Decimal,
        /// EMA of the MACD line.
        signal: Decimal,
        /// MACD − signal.
        histogram: Decimal,
    },
}

/// Where a value came from: Upbit's stream, or hoga's own computation over candles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Upbit's `indicator` stream (values at candle close).
    Upbit,
    /// Computed here from the chart's candles (the last one may still be forming).
    Local,
}

impl Source {
    /// `upbit` / `local`.
    pub fn label(self) -> &'static str {
        match self {
            Source::Upbit => "upbit",
            Source::Local => "local",
        }
    }
}

/// A condition of Upbit's `indicator_signal`: an event when it turns from unmet to met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Condition {
    /// The main value (RSI, average, volume, MACD line) rises above `value`.
    Above {
        /// Threshold.
        value: Decimal,
    },
    /// The main value falls below `value`.
    Below {
        /// Threshold.
        value: Decimal,
    },
    /// Short average above the long one / MACD above its signal / close above the upper
    /// band.
    CrossUp,
    /// Short average below the long one / MACD below its signal / close below the lower
    /// band.
    CrossDown,
}

impl Condition {
    /// Whether the condition holds for `reading` at a candle closing at `close`.
    pub fn holds(&self, reading: &Reading, close: Decimal) -> bool {
        match (self, reading) {
            (Condition::Above { value }, r) => main_value(r).is_some_and(|v| v > *value),
            (Condition::Below { value }, r) => main_value(r).is_some_and(|v| v < *value),
            (Condition::CrossUp, Reading::MaCrossover { short, long }) => short > long,
            (Condition::CrossDown, Reading::MaCrossover { short, long }) => short < long,
            (Condition::CrossUp, Reading::Macd { macd, signal, .. }) => macd > signal,
            (Condition::CrossDown, Reading::Macd { macd, signal, .. }) => macd < signal,
            (Condition::CrossUp, Reading::BollingerBands { upper, .. }) => close > *upper,
            (Condition::CrossDown, Reading::BollingerBands { lower, .. }) => close < *lower,
            (Condition::CrossUp, Reading::MovingAverage(ma)) => close > *ma,
            (Condition::CrossDown, Reading::MovingAverage(ma)) => close < *ma,
            _ => false,
        }
    }

    /// Short label: `>70`, `<30`, `cross↑`, `cross↓`.
    pub fn label(&self) -> String {
        match self {
            Condition::Above { value } => format!(">{}", value.normalize()),
            Condition::Below { value } => format!("<{}", value.normalize()),
            Condition::CrossUp => "cross↑".into(),
            Condition::CrossDown => "cross↓".into(),
        }
    }
}

/// The value a threshold compares with; `None` for the two-line kinds, whose conditions
/// are crosses.
fn main_value(r: &Reading) -> Option<Decimal> {
    match *r {
        Reading::Volume { volume, .. } => Some(volume),
        Reading::Rsi(v) => Decimal::try_from(v).ok(),
        Reading::MovingAverage(v) => Some(v),
        Reading::Macd { macd, .. } => Some(macd),
        Reading::MaCrossover { .. } | Reading::BollingerBands { .. } => None,
    }
}

/// The conditions hoga asks `indicator_signal` for, one per default indicator that has an
/// obvious one: RSI leaving 30..70, the crossover and MACD crossing, price leaving the
/// bands.
pub fn default_signals() -> Vec<(Indicator, Condition)> {
    use rust_decimal_macros::dec;
    vec![
        (Indicator::DEFAULTS[0], Condition::Above { value: dec!(70) }),
        (Indicator::DEFAULTS[0], Condition::Below { value: dec!(30) }),
        (Indicator::DEFAULTS[1], Condition::CrossUp),
        (Indicator::DEFAULTS[1], Condition::CrossDown),
        (Indicator::DEFAULTS[2], Condition::CrossUp),
        (Indicator::DEFAULTS[2], Condition::CrossDown),
        (Indicator::DEFAULTS[4], Condition::CrossUp),
        (Indicator::DEFAULTS[4], Condition::CrossDown),
    ]
}

/// Upbit streams indicators for KRW markets on these timeframes only.
pub fn upbit_streams(market: &crate::exchange::types::MarketId, tf: Timeframe) -> bool {
    market.as_str().starts_with("KRW-")
        && matches!(tf, Timeframe::M5 | Timeframe::M15 | Timeframe::H1 | Timeframe::H4 | Timeframe::D1)
}

/// Values of the subscribed indicators at one candle close (Upbit `indicator`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorFrame {
    /// Market.
    pub market: MarketId,
    /// Candle timeframe.
    pub timeframe: Timeframe,
    /// Start (Unix ms) of the candle that closed.
    pub candle_start: i64,
    /// Each indicator with its value.
    pub values: Vec<(Indicator, Reading)>,
    /// Message time (ms).
    pub timestamp: i64,
}

/// A condition that turned from unmet to met at a candle close (Upbit `indicator_signal`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalFrame {
    /// Market.
    pub market: MarketId,
    /// Candle timeframe.
    pub timeframe: Timeframe,
    /// Start (Unix ms) of the candle that closed.
    pub candle_start: i64,
    /// The indicator.
    pub indicator: Indicator,
    /// The condition now met.
    pub condition: Condition,
    /// The indicator's value then.
    pub reading: Reading,
    /// Message time (ms).
    pub timestamp: i64,
}

/// One decoded indicator message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndicatorEvent {
    /// Values at a candle close.
    Values(IndicatorFrame),
    /// A condition met.
    Signal(SignalFrame),
    /// The stream for this series ended or sent values that did not decode: what it sent
    /// before is no longer shown (the local values are).
    Withdrawn {
        /// Market.
        market: MarketId,
        /// Candle timeframe.
        timeframe: Timeframe,
    },
}

impl IndicatorEvent {
    /// Market of the message.
    pub fn market(&self) -> &MarketId {
        match self {
            IndicatorEvent::Values(v) => &v.market,
            IndicatorEvent::Signal(s) => &s.market,
            IndicatorEvent::Withdrawn { market, .. } => market,
        }
    }

    /// Timeframe of the message.
    pub fn timeframe(&self) -> Timeframe {
        match self {
            IndicatorEvent::Values(v) => v.timeframe,
            IndicatorEvent::Signal(s) => s.timeframe,
            IndicatorEvent::Withdrawn { timeframe, .. } => *timeframe,
        }
    }

    /// Message time (ms).
    pub fn timestamp(&self) -> i64 {
        match self {
            IndicatorEvent::Values(v) => v.timestamp,
            IndicatorEvent::Signal(s) => s.timestamp,
            IndicatorEvent::Withdrawn { .. } => 0,
        }
    }
}

/// The value of `indicator` at the last of `bars` (oldest first), by definition; `None`
/// until there are enough bars or when the parameters are invalid.
pub fn compute(indicator: &Indicator, bars: &[Bar]) -> Option<Reading> {
    indicator.validate().ok()?;
    let closes: Vec<Decimal> = bars.iter().map(|b| b.close).collect();
    match *indicator {
        Indicator::Volume { period } => {
            let vols: Vec<Decimal> = bars.iter().map(|b| b.volume).collect();
            let average = calc::sma(&vols, period.into())?;
            Some(Reading::Volume { volume: *vols.last()?, average })
        }
        Indicator::Rsi { period } => calc::rsi(&closes, period.into()).map(Reading::Rsi),
        Indicator::MovingAverage { ma_type, period } => {
            calc::ma(ma_type, &closes, period.into()).map(Reading::MovingAverage)
        }
        Indicator::MaCrossover { ma_type, short_period, long_period } => Some(Reading::MaCrossover {
            short: calc::ma(ma_type, &closes, short_period.into())?,
            long: calc::ma(ma_type, &closes, long_period.into())?,
        }),
        Indicator::BollingerBands { period, std_dev } => {
            let (upper, middle, lower) = calc::bollinger(&closes, period.into(), std_dev)?;
            Some(Reading::BollingerBands { upper, middle, lower })
        }
        Indicator::Macd { fast_period, slow_period, signal_period } => {
            let (macd, signal, histogram) =
                calc::macd(&closes, fast_period.into(), slow_period.into(), signal_period.into())?;
            Some(Reading::Macd { macd, signal, histogram })
        }
    }
}

/// Text of a reading for the chart's readout: RSI with two decimals, price-valued lines
/// with `dp` decimals (the caller passes the market's price precision plus a little: an
/// average is a statistic, not a price anyone trades at, so its last digits are display).
pub fn format_reading(r: &Reading, dp: u32) -> String {
    let p = |d: Decimal| d.round_dp(dp).normalize().to_string();
    match *r {
        // Volumes have their own scale (coins, 8 decimals): four decimals read well.
        Reading::Volume { volume, average } => {
            let v = |d: Decimal| d.round_dp(4).normalize().to_string();
            format!("{} avg {}", v(volume), v(average))
        }
        Reading::Rsi(v) => format!("{v:.2}"),
        Reading::MovingAverage(v) => p(v),
        Reading::MaCrossover { short, long } => format!("{}/{}", p(short), p(long)),
        Reading::BollingerBands { upper, middle, lower } => {
            format!("{}/{}/{}", p(upper), p(middle), p(lower))
        }
        Reading::Macd { macd, signal, histogram } => format!("{} s{} h{}", p(macd), p(signal), p(histogram)),
    }
}

/// An Upbit RSI(14) message for KRW-BTC 1m at `candle_start` (tests of the board and the
/// chart's readout).
#[cfg(test)]
pub(crate) fn rsi_frame(candle_start: i64, rsi: f64) -> IndicatorEvent {
    IndicatorEvent::Values(IndicatorFrame {
        market: MarketId::new("KRW-BTC"),
        timeframe: Timeframe::M1,
        candle_start,
        values: vec![(Indicator::Rsi { period: 14 }, Reading::Rsi(rsi))],
        timestamp: 0,
    })
}

#[cfg(test)]
mod tests;
