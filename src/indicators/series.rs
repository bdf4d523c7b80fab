//! The chart's studies: indicators drawn over the candles (moving averages, Bollinger
//! bands, VWAP) or in a sub-pane below them (volume, RSI, MACD), one value per candle.
//!
//! [`Study`] is what the user chooses (`:ind add rsi 14`); [`StudySeries`] is its value at
//! every candle of a series, aligned index for index with the candles (`None` while the
//! study is still warming up).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

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
