//! [`Board`]: what the store keeps per (market, timeframe) — the local trackers fed by the
//! chart's candles, the values Upbit streamed per candle close, and the latest signal —
//! and which of the two the screen shows.
//!
//! Upbit's values are checked before they are kept: a close dated after the candle the
//! local series is forming (or, with no series yet, after the clock) has not happened, and
//! a value no market could produce (an RSI outside 0..100, bands out of order, averages or
//! a MACD far off the market's price) is a broken or hostile frame. Either is refused,
//! logged once per kind, and the readout shows the local values until Upbit's next close.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;

use super::{Bar, Indicator, IndicatorEvent, IndicatorFrame, Reading, SignalFrame, Source, Tracker};

/// Closes of Upbit values kept: the readout needs the latest closed candle's and, in the
/// moment between a close and the first trade of the next bucket, the forming one's.
const KEPT_CLOSES: usize = 4;

/// How far an average, a band or a MACD line may be from the latest price (either way)
/// before it is refused: generous enough for a coin that moved tenfold over a long window,
/// tight enough to refuse a band at 1 won on a 148M won BTC or a MACD of 1e28.
const PLAUSIBLE_MULTIPLE: i64 = 100;

/// Indicator state of one candle series.
#[derive(Debug, Clone, Default)]
pub struct Board {
    trackers: Vec<Tracker>,
    /// Start of the candle before the forming one (the latest closed candle).
    closed_start: Option<i64>,
    /// Close of the newest local candle: the scale Upbit's values are checked against.
    last_close: Option<Decimal>,
    /// Upbit's values per candle close (start of the candle that closed), newest last.
    upbit: BTreeMap<i64, Vec<(Indicator, Reading)>>,
    /// Upbit's values up to this candle start are not shown: a frame for it was refused,
    /// so what came with it is suspect too.
    refused_through: Option<i64>,
    /// Kinds whose refusal was logged, so a stream of bad frames logs once per kind.
    warned: BTreeSet<&'static str>,
    /// The latest signal Upbit sent for this series.
    pub last_signal: Option<SignalFrame>,
}

impl Board {
    fn trackers(&mut self) -> &mut Vec<Tracker> {
        if self.trackers.is_empty() {
            self.trackers = Indicator::DEFAULTS.iter().filter_map(|i| Tracker::new(*i).ok()).collect();
        }
        &mut self.trackers
    }

    /// Start of the candle the local series is forming.
    fn forming_start(&self) -> Option<i64> {
        self.trackers.iter().filter_map(Tracker::last_start).max()
    }

    /// Rebuilds the local values from a whole series (oldest first): a history load.
    pub fn load(&mut self, bars: &[Bar]) {
        self.trackers.clear();
        self.closed_start = None;
        self.last_close = None;
        for b in bars {
            self.update(*b);
        }
    }

    /// A new or updated candle; a newer bucket closes the previous one.
    pub fn update(&mut self, bar: Bar) {
        let mut closed = None;
        let mut taken = false;
        for t in self.trackers().iter_mut() {
            let before = t.last_start();
            if t.update(bar) {
                taken = true;
                if before.is_some_and(|s| s < bar.start) {
                    closed = before;
                }
            }
        }
        if taken {
            self.last_close = Some(bar.close);
        }
        if closed.is_some() {
            self.closed_start = closed;
        }
    }

    /// Applies a message of Upbit's streams, judged against the clock now.
    pub fn apply(&mut self, ev: IndicatorEvent) {
        self.apply_at(ev, chrono::Utc::now().timestamp_millis());
    }

    /// Applies a message of Upbit's streams; `now_ms` is the clock, the limit for a close
    /// while there is no local series to judge it by.
    pub fn apply_at(&mut self, ev: IndicatorEvent, now_ms: i64) {
        match ev {
            // Upbit sends each indicator of a close in a message of its own: those of the
            // same close are gathered.
            IndicatorEvent::Values(f) => {
                if let Err(why) = self.judge(&f, now_ms) {
                    self.refuse(&f, &why);
                    return;
                }
                if self.refused_through.is_some_and(|r| f.candle_start <= r)
                    || self.upbit.keys().next().is_some_and(|k| f.candle_start < *k)
                        && self.upbit.len() >= KEPT_CLOSES
                {
                    return;
                }
                let values = self.upbit.entry(f.candle_start).or_default();
                for (i, r) in f.values {
                    match values.iter_mut().find(|(j, _)| *j == i) {
                        Some(slot) => slot.1 = r,
                        None => values.push((i, r)),
                    }
                }
                values.sort_by_key(|(i, _)| Indicator::DEFAULTS.iter().position(|d| d == i));
                while self.upbit.len() > KEPT_CLOSES {
                    self.upbit.pop_first();
                }
            }
            IndicatorEvent::Signal(s) => self.last_signal = Some(s),
            // The stream ended or sent what did not decode: the screen must not keep
            // showing its last values as if they were live.
            IndicatorEvent::Withdrawn { .. } => self.upbit.clear(),
        }
    }

    /// Why a frame cannot be true, if it cannot.
    fn judge(&self, f: &IndicatorFrame, now_ms: i64) -> Result<(), String> {
        match self.forming_start() {
            Some(forming) if f.candle_start > forming => {
                return Err(format!(
                    "its candle {} is after the one forming now ({})",
                    crate::exchange::upbit::indicator::utc_text(f.candle_start),
                    crate::exchange::upbit::indicator::utc_text(forming),
                ));
            }
            None if f.candle_start > now_ms => {
                return Err(format!(
                    "its candle {} has not started yet",
                    crate::exchange::upbit::indicator::utc_text(f.candle_start)
                ));
            }
            _ => {}
        }
        for (ind, r) in &f.values {
            plausible(r, self.last_close).map_err(|why| format!("{}: {why}", ind.label()))?;
        }
        Ok(())
    }

    /// Drops what Upbit sent for the refused close and every earlier one, so the readout
    /// shows the local values at once; logs the first refusal of each kind.
    fn refuse(&mut self, f: &IndicatorFrame, why: &str) {
        match self.forming_start() {
            // A close from the future is no candle: the suspect range ends just before
            // the one forming now, so Upbit's next close is shown again.
            Some(forming) => {
                let through = f.candle_start.min(forming - 1);
                self.refused_through = Some(self.refused_through.map_or(through, |r| r.max(through)));
                self.upbit.retain(|start, _| *start > through);
            }
            // No series to place the closes on: forget them all, take the next ones.
            None => self.upbit.clear(),
        }
        for (ind, _) in &f.values {
            if self.warned.insert(ind.wire_type()) {
                tracing::warn!(
                    market = %f.market,
                    tf = f.timeframe.label(),
                    "Upbit indicator values refused ({why}); local values meanwhile"
                );
            }
        }
    }

    /// The values to show, in [`Indicator::DEFAULTS`] order: Upbit's when they are for
    /// the latest closed candle (or the one that just closed before its first local
    /// trade), otherwise the local ones (over the candles as they stand, the forming one
    /// included). An indicator still warming up is left out.
    pub fn readout(&self) -> (Vec<(Indicator, Reading)>, Source) {
        let forming = self.forming_start();
        let upbit = self
            .upbit
            .iter()
            .rev()
            .filter(|(start, _)| forming.is_none_or(|f| **start <= f))
            .find(|(start, _)| Some(**start) >= self.closed_start)
            .filter(|(start, values)| self.refused_through.is_none_or(|r| **start > r) && !values.is_empty());
        if let Some((_, values)) = upbit {
            return (values.clone(), Source::Upbit);
        }
        let local = self.trackers.iter().filter_map(|t| Some((*t.indicator(), t.value()?))).collect();
        (local, Source::Local)
    }
}

/// Whether a reading is one a market at `price` (the latest local close, if any) could
/// produce; `Err` says what is wrong. Without a price only the shape is checked.
fn plausible(r: &Reading, price: Option<Decimal>) -> Result<(), String> {
    let scale = price.filter(|p| *p > Decimal::ZERO);
    let near = |name: &str, v: Decimal| -> Result<(), String> {
        let Some(p) = scale else { return Ok(()) };
        let m = Decimal::from(PLAUSIBLE_MULTIPLE);
        // `checked_*`: an absurd value must give a refusal, never an overflow.
        let ceiling = p.checked_mul(m).unwrap_or(Decimal::MAX);
        let floor = p.checked_div(m).unwrap_or(Decimal::ZERO);
        if v > ceiling || v < floor {
            return Err(format!("{name} {v} is not within {PLAUSIBLE_MULTIPLE}× of the price {p}"));
        }
        Ok(())
    };
    let small = |name: &str, v: Decimal| -> Result<(), String> {
        let Some(p) = scale else { return Ok(()) };
        let ceiling = p.checked_mul(Decimal::from(PLAUSIBLE_MULTIPLE)).unwrap_or(Decimal::MAX);
        if v.abs() > ceiling {
            return Err(format!("{name} {v} is beyond {PLAUSIBLE_MULTIPLE}× the price {p}"));
        }
        Ok(())
    };
    match *r {
        Reading::Rsi(x) => {
            if !(0.0..=100.0).contains(&x) {
                return Err(format!("RSI {x} is outside 0..100"));
            }
        }
        Reading::Volume { volume, average } => {
            if volume < Decimal::ZERO || average < Decimal::ZERO {
                return Err(format!("a negative volume ({volume}, average {average})"));
            }
        }
        Reading::MovingAverage(v) => near("average", v)?,
        Reading::MaCrossover { short, long } => {
            near("short average", short)?;
            near("long average", long)?;
        }
        Reading::BollingerBands { upper, middle, lower } => {
            if !(lower <= middle && middle <= upper) {
                return Err(format!("bands out of order (lower {lower}, middle {middle}, upper {upper})"));
            }
            near("middle band", middle)?;
            near("upper band", upper)?;
            small("lower band", lower)?;
        }
        Reading::Macd { macd, signal, histogram } => {
            small("MACD", macd)?;
            small("MACD signal", signal)?;
            small("MACD histogram", histogram)?;
        }
    }
    Ok(())
}
