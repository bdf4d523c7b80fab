//! [`Board`]: what the store keeps per (market, timeframe) — the local trackers fed by the
//! chart's candles, the latest values Upbit streamed, and the latest signal — and which of
//! the two the screen shows.

use super::{Bar, Indicator, IndicatorEvent, Reading, SignalFrame, Source, Tracker};

/// Indicator state of one candle series.
#[derive(Debug, Clone, Default)]
pub struct Board {
    trackers: Vec<Tracker>,
    /// Start of the candle before the forming one (the latest closed candle).
    closed_start: Option<i64>,
    /// Upbit's latest values: the start of the candle they closed, and the values.
    upbit: Option<(i64, Vec<(Indicator, Reading)>)>,
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

    /// Rebuilds the local values from a whole series (oldest first): a history load.
    pub fn load(&mut self, bars: &[Bar]) {
        self.trackers.clear();
        self.closed_start = None;
        for b in bars {
            self.update(*b);
        }
    }

    /// A new or updated candle; a newer bucket closes the previous one.
    pub fn update(&mut self, bar: Bar) {
        let mut closed = None;
        for t in self.trackers().iter_mut() {
            let before = t.last_start();
            if t.update(bar) && before.is_some_and(|s| s < bar.start) {
                closed = before;
            }
        }
        if closed.is_some() {
            self.closed_start = closed;
        }
    }

    /// Applies a message of Upbit's streams.
    pub fn apply(&mut self, ev: IndicatorEvent) {
        match ev {
            // Upbit sends each indicator of a close in a message of its own: those of the
            // same close are gathered, a newer close starts afresh.
            IndicatorEvent::Values(f) => match &mut self.upbit {
                Some((s, values)) if *s == f.candle_start => {
                    for (i, r) in f.values {
                        match values.iter_mut().find(|(j, _)| *j == i) {
                            Some(slot) => slot.1 = r,
                            None => values.push((i, r)),
                        }
                    }
                    values.sort_by_key(|(i, _)| Indicator::DEFAULTS.iter().position(|d| d == i));
                }
                Some((s, _)) if *s > f.candle_start => {}
                _ => self.upbit = Some((f.candle_start, f.values)),
            },
            IndicatorEvent::Signal(s) => self.last_signal = Some(s),
        }
    }

    /// The values to show, in [`Indicator::DEFAULTS`] order: Upbit's when they are for
    /// the latest closed candle, otherwise the local ones (over the candles as they stand,
    /// the forming one included). An indicator still warming up is left out.
    pub fn readout(&self) -> (Vec<(Indicator, Reading)>, Source) {
        if let Some((start, values)) = &self.upbit
            && Some(*start) >= self.closed_start
            && !values.is_empty()
        {
            return (values.clone(), Source::Upbit);
        }
        let local = self.trackers.iter().filter_map(|t| Some((*t.indicator(), t.value()?))).collect();
        (local, Source::Local)
    }
}
