//! Candle history before the simulator's start, as deep as a client pages: a price path
//! that is a pure function of (seed, market, start time, time), anchored to the market's
//! price at the start, from which the candle of any bucket is drawn when asked (nothing
//! is stored).
//!
//! The path is a Brownian motion in log price built by midpoint displacement (Lévy's
//! construction) on a grid of whole seconds counted back from the start. The value at any
//! second costs one hash per level (24 levels), and between two grid points the path is a
//! Brownian bridge, so a coarse candle and the finer candles inside it describe the same
//! path: a candle opens where the one before closed, and an hour's open and close are
//! those of its first and last minute exactly. Highs and lows are sampled (at most 64
//! points per bucket, on the boundaries of the finer candles inside it, plus a wick drawn
//! for what lies between two samples), so a coarse candle's range holds its finer
//! candles' opens and closes and matches their highs and lows to about one finer
//! candle's move, not to the tick.
//!
//! Volatility is the market's class ([`Calibration`]), scaled per hour by an activity
//! level (quiet and busy hours). Above the top level (2^24 s, about 194 days) the log price
//! is a mean-reverting walk, so years of monthly and yearly candles stay in a believable
//! band around today's price instead of wandering off by orders of magnitude.

use chrono::{Datelike, Months, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

use super::market::{Calibration, CandleRec, bucket_start, volume_units};
use crate::exchange::types::Timeframe;
use crate::exchange::upbit::ticks::{self, Rounding};

/// Seconds spanned by the top level of the bridge.
const TOP: i64 = 1 << 24;
/// Top-level steps kept: 512 × 194 days reaches back about 270 years.
const TOPS: usize = 512;
/// Mean reversion of the top-level walk per step.
const TOP_PHI: f64 = 0.8;
/// Largest standard deviation of one top-level step (log price).
const TOP_STEP_MAX: f64 = 0.5;
/// Most points sampled per candle for its high and low.
const SAMPLES: i64 = 64;
/// Sample spacings tried, finest first (s).
const SUBDIVISIONS: [i64; 13] = [1, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 14_400, 86_400, 604_800];
/// Spread of the hourly activity level (log scale).
const ACTIVITY_SD: f64 = 0.4;
/// Seconds candles are served for three months back (Upbit's documented window; older
/// requests get an empty list).
pub(crate) const SECONDS_WINDOW_MS: i64 = 90 * 86_400_000;

/// A candle bucket kind: a [`Timeframe`] or a calendar year (`/candles/years`, which has no
/// live stream and so no `Timeframe`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Span {
    /// One of the streamed or REST timeframes.
    Tf(Timeframe),
    /// A UTC calendar year.
    Year,
}

impl Span {
    /// Start of the bucket holding `ts` (ms, UTC).
    pub(crate) fn start(self, ts: i64) -> i64 {
        match self {
            Span::Tf(tf) => bucket_start(tf, ts),
            Span::Year => {
                let year = Utc.timestamp_millis_opt(ts).single().map_or(1970, |d| d.year());
                year_start(year).unwrap_or(ts)
            }
        }
    }

    /// Start of the bucket after the one starting at `start`.
    pub(crate) fn next(self, start: i64) -> i64 {
        self.shift(start, 1)
    }

    /// Start of the bucket before the one starting at `start`.
    pub(crate) fn prev(self, start: i64) -> i64 {
        self.shift(start, -1)
    }

    fn shift(self, start: i64, dir: i64) -> i64 {
        let months = match self {
            Span::Tf(Timeframe::Mo1) => 1,
            Span::Year => 12,
            Span::Tf(Timeframe::W1) => return start + dir * 7 * 86_400_000,
            Span::Tf(tf) => return start + dir * tf.seconds() * 1000,
        };
        let Some(date) = Utc.timestamp_millis_opt(start).single().map(|d| d.date_naive()) else {
            return start + dir * 86_400_000;
        };
        let moved = if dir > 0 {
            date.checked_add_months(Months::new(months))
        } else {
            date.checked_sub_months(Months::new(months))
        };
        moved
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map_or(start + dir * 86_400_000, |d| d.and_utc().timestamp_millis())
    }
}

fn year_start(year: i32) -> Option<i64> {
    NaiveDate::from_ymd_opt(year, 1, 1)?.and_hms_opt(0, 0, 0).map(|d| d.and_utc().timestamp_millis())
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash of a 64-bit input.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) fn hash(key: u64, a: i64, salt: u64) -> u64 {
    mix(key ^ mix((a as u64) ^ salt.wrapping_mul(0xD6E8_FEB8_6659_FD93)))
}

/// A uniform in (0, 1) from a hash.
pub(crate) fn unit(h: u64) -> f64 {
    ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// A standard normal from a hash (Box–Muller).
pub(crate) fn gauss(h: u64) -> f64 {
    let (u1, u2) = (unit(h), unit(mix(h)));
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The hash key of a market under a seed.
pub(crate) fn market_key(seed: u64, market: &str) -> u64 {
    market.bytes().fold(mix(seed), |k, b| mix(k ^ u64::from(b)))
}

/// One market's past: a deterministic price path ending at the start price.
#[derive(Debug, Clone)]
pub(crate) struct PricePath {
    key: u64,
    quote: String,
    /// The start (s): the path is at `p0` here.
    anchor_s: i64,
    p0: f64,
    /// Log-price standard deviation per √second at ordinary activity.
    sigma: f64,
    /// Traded value per second at ordinary activity (quote currency).
    turnover: f64,
    /// Log price at each top-level point back from the start.
    tops: Vec<f64>,
    /// Further fixed points, newest first: (second, log price relative to `p0`, the walk's
    /// own value there). The path is the walk plus a correction linear between the start
    /// and each point (a Brownian bridge between two), and the walk shifted by the oldest
    /// point's full amount before it, so it passes through every point and stays continuous.
    pins: Vec<(i64, f64, f64)>,
    /// A kept past: at and before this second (s) the path is this other path (an earlier
    /// session's), so a restart draws the same candles there.
    before: Option<(i64, Box<PricePath>)>,
}

/// A candle of the path before it is put on the tick grid.
#[derive(Debug, Clone, Copy)]
struct Bar {
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    value: f64,
}

impl PricePath {
    /// The path of `market` (price `p0` at `anchor_ms`) under `key`.
    pub(crate) fn new(key: u64, quote: &str, anchor_ms: i64, p0: f64, cal: &Calibration) -> Self {
        let sigma = cal.hourly_vol / 60.0;
        let step = (sigma * (TOP as f64).sqrt()).min(TOP_STEP_MAX);
        let mut tops = Vec::with_capacity(TOPS);
        let mut x = 0.0;
        tops.push(x);
        for k in 1..TOPS {
            x = TOP_PHI * x + step * gauss(hash(key, k as i64, 3));
            tops.push(x);
        }
        PricePath {
            key,
            quote: quote.to_string(),
            anchor_s: anchor_ms.div_euclid(1000),
            p0: p0.max(1e-12),
            sigma,
            turnover: cal.notional * cal.trades_per_s,
            tops,
            pins: Vec::new(),
            before: None,
        }
    }

    /// Keeps `past` at and before `at_ms` (before this path's start): the path there is
    /// `past`'s, and after it a bridge from `past`'s price at `at_ms` to this path's start
    /// price. A restart draws its past from the first session's path this way, so what was
    /// drawn before that session comes back the same.
    pub(crate) fn keep_before(&mut self, at_ms: i64, past: PricePath) {
        let at = at_ms.div_euclid(1000);
        if at >= self.anchor_s {
            return;
        }
        let target = (past.p0 / self.p0).ln() + past.x(at);
        self.pins.retain(|p| p.0 > at);
        let walk = self.walk(at);
        self.pins.push((at, target, walk));
        self.before = Some((at, Box::new(past)));
    }

    /// The second at and before which the kept past applies.
    fn kept_until(&self) -> Option<i64> {
        self.before.as_ref().map(|b| b.0)
    }

    /// Makes the path pass through `price` at `at_ms` (before the start) as well as through
    /// the start price: a resumed session's day began at the previous close its trader saw,
    /// so the drawn hours of that day must start there too. Ignored at or after the start,
    /// and at or before a kept past (which is not redrawn).
    pub(crate) fn pin(&mut self, at_ms: i64, price: f64) {
        let at = at_ms.div_euclid(1000);
        if at >= self.anchor_s
            || !price.is_finite()
            || price <= 0.0
            || self.kept_until().is_some_and(|k| at <= k)
        {
            return;
        }
        self.pins.retain(|p| p.0 != at);
        let walk = self.walk(at);
        self.pins.push((at, (price / self.p0).ln(), walk));
        self.pins.sort_by_key(|p| std::cmp::Reverse(p.0));
    }

    /// The oldest time the path reaches (ms): no candle starts before it.
    pub(crate) fn floor_ms(&self) -> i64 {
        (self.anchor_s - (TOPS as i64 - 1) * TOP) * 1000
    }

    /// Activity level of the UTC hour `hour` (mean square one).
    fn activity(&self, hour: i64) -> f64 {
        (ACTIVITY_SD * gauss(hash(self.key, hour, 5)) - ACTIVITY_SD * ACTIVITY_SD).exp()
    }

    /// Log price at second `t` relative to the start: the walk, through the pinned point
    /// when there is one.
    fn x(&self, t: i64) -> f64 {
        if let Some((_, past)) = self.before.as_ref().filter(|b| t <= b.0) {
            return (past.p0 / self.p0).ln() + past.x(t);
        }
        let walk = self.walk(t);
        // The correction: zero at the start, each pin's at its second, linear between.
        let (mut hi_t, mut hi_d) = (self.anchor_s, 0.0);
        for &(at, target, walk_at) in &self.pins {
            let d = target - walk_at;
            if t >= at {
                let w = ((hi_t - t) as f64 / (hi_t - at).max(1) as f64).clamp(0.0, 1.0);
                return walk + hi_d + w * (d - hi_d);
            }
            (hi_t, hi_d) = (at, d);
        }
        walk + hi_d
    }

    /// The unpinned walk at second `t`.
    fn walk(&self, t: i64) -> f64 {
        let u = (self.anchor_s - t).clamp(0, (TOPS as i64 - 1) * TOP - 1);
        let k = u / TOP;
        let r = u % TOP;
        let (mut lo, mut hi) = (0i64, TOP);
        let top = |k: i64| self.tops.get(k as usize).copied().unwrap_or(0.0);
        let (mut xl, mut xr) = (top(k), top(k + 1));
        while r != lo && r != hi {
            let mid = (lo + hi) / 2;
            let len = hi - lo;
            let abs = k * TOP + mid;
            // Finer than about an hour, the hour's activity scales the moves.
            let act = if len <= 4096 { self.activity((self.anchor_s - abs).div_euclid(3600)) } else { 1.0 };
            let xm = 0.5 * (xl + xr)
                + gauss(hash(self.key, abs, 7)) * self.sigma * act * (len as f64).sqrt() * 0.5;
            if r < mid {
                hi = mid;
                xr = xm;
            } else {
                lo = mid;
                xl = xm;
            }
        }
        if r == lo { xl } else { xr }
    }

    /// The bucket `[s_ms, e_ms)` of the path: opens at the price at `s_ms`, closes at the
    /// price at `e_ms` (where the next bucket opens).
    fn bar(&self, s_ms: i64, e_ms: i64) -> Bar {
        let s = s_ms.div_euclid(1000);
        let e = e_ms.div_euclid(1000).max(s + 1);
        let len = e - s;
        // Samples on the boundaries of a finer bucket where one divides this one (an hour
        // samples its minutes' opens, a day its half hours'), so a candle's range holds
        // the opens and closes of the candles inside it.
        let n = SUBDIVISIONS
            .iter()
            .find(|d| len % **d == 0 && len / **d <= SAMPLES)
            .map_or(len.min(SAMPLES), |d| len / d);
        let (mut hi, mut lo) = (f64::MIN, f64::MAX);
        let mut open = 0.0;
        let mut close = 0.0;
        for j in 0..=n {
            let x = self.x(s + len * j / n);
            hi = hi.max(x);
            lo = lo.min(x);
            if j == 0 {
                open = x;
            }
            close = x;
        }
        let act = self.activity(s.div_euclid(3600));
        let gap = len / n;
        if gap > 1 {
            // The path between two samples reaches further than the samples do.
            let w = self.sigma * act * (gap as f64).sqrt() * 0.6;
            hi += gauss(hash(self.key, s, 11)).abs() * w;
            lo -= gauss(hash(self.key, s, 13)).abs() * w;
        }
        // Busy hours and big moves trade more.
        let expected = self.sigma * (len as f64).sqrt();
        let moved = ((hi - lo) / expected.max(1e-12)).min(6.0);
        let spread = if len >= 86_400 { 0.35 } else { 0.6 };
        let value = self.turnover
            * len as f64
            * act
            * (0.5 + 0.35 * moved)
            * (spread * gauss(hash(self.key, s, 17)) - spread * spread / 2.0).exp();
        let p = |x: f64| self.p0 * x.exp();
        Bar { open: p(open), high: p(hi), low: p(lo), close: p(close), value }
    }

    fn snap(&self, v: f64, r: Rounding) -> Decimal {
        let d = Decimal::from_f64(v).unwrap_or(Decimal::ONE);
        ticks::snap(&self.quote, d, r).max(ticks::tick_size(&self.quote, Decimal::ZERO))
    }

    /// The candle of `[s_ms, e_ms)` on the tick grid. Its `prev_close` is its open (the
    /// path's close before it).
    pub(crate) fn candle(&self, s_ms: i64, e_ms: i64) -> CandleRec {
        if let Some((_, past)) = self.before.as_ref().filter(|b| e_ms.div_euclid(1000) <= b.0) {
            return past.candle(s_ms, e_ms);
        }
        let b = self.bar(s_ms, e_ms);
        let open = self.snap(b.open, Rounding::Nearest);
        let close = self.snap(b.close, Rounding::Nearest);
        let high = self.snap(b.high, Rounding::Up).max(open).max(close);
        let low = self.snap(b.low, Rounding::Down).min(open).min(close);
        let typical = (b.open + b.high + b.low + b.close) / 4.0;
        let volume = volume_units(b.value / typical.max(1e-12));
        let typical_dec = (open + high + low + close) / Decimal::from(4);
        let value = (volume * typical_dec).round_dp(8);
        // The last trade of the bucket: within its last two seconds.
        let len_ms = (e_ms - s_ms).max(1);
        let back = (hash(self.key, s_ms, 19) % len_ms.min(2000) as u64) as i64;
        CandleRec {
            start: s_ms,
            open,
            high,
            low,
            close,
            volume,
            value,
            last_ts: (e_ms - 1 - back).max(s_ms),
            prev_close: open,
        }
    }

    /// The price at `ts_ms` on the tick grid.
    pub(crate) fn price_at(&self, ts_ms: i64) -> Decimal {
        if let Some((_, past)) = self.before.as_ref().filter(|b| ts_ms.div_euclid(1000) <= b.0) {
            return past.price_at(ts_ms);
        }
        self.snap(self.p0 * self.x(ts_ms.div_euclid(1000)).exp(), Rounding::Nearest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> PricePath {
        let cal = Calibration::for_market("KRW-BTC");
        PricePath::new(market_key(1, "KRW-BTC"), "KRW", 1_750_000_000_000, 148_500_000.0, &cal)
    }

    #[test]
    fn the_path_ends_at_the_start_price_and_is_a_pure_function() {
        let p = path();
        assert_eq!(p.price_at(1_750_000_000_000), Decimal::from(148_500_000));
        let q = path();
        for t in [0, 1, 59, 3_600, 86_400 * 400] {
            let ts = 1_750_000_000_000 - t * 1000;
            assert_eq!(p.price_at(ts), q.price_at(ts));
        }
    }

    #[test]
    fn buckets_step_over_calendar_months_and_years() {
        let ts = Utc.with_ymd_and_hms(2024, 3, 31, 12, 0, 0).unwrap().timestamp_millis();
        let m = Span::Tf(Timeframe::Mo1);
        let start = m.start(ts);
        assert_eq!(super::super::market::iso_naive(start, 0), "2024-03-01T00:00:00");
        assert_eq!(super::super::market::iso_naive(m.prev(start), 0), "2024-02-01T00:00:00");
        assert_eq!(super::super::market::iso_naive(m.next(start), 0), "2024-04-01T00:00:00");
        let y = Span::Year;
        assert_eq!(super::super::market::iso_naive(y.prev(y.start(ts)), 0), "2023-01-01T00:00:00");
        let w = Span::Tf(Timeframe::W1);
        assert_eq!(w.prev(w.start(ts)), w.start(ts) - 7 * 86_400_000);
    }

    #[test]
    fn an_hour_opens_and_closes_with_its_minutes() {
        let p = path();
        let h = bucket_start(Timeframe::H1, 1_750_000_000_000) - 5 * 3_600_000;
        let hour = p.candle(h, h + 3_600_000);
        let mins: Vec<CandleRec> = (0..60).map(|i| p.candle(h + i * 60_000, h + (i + 1) * 60_000)).collect();
        assert_eq!(hour.open, mins[0].open);
        assert_eq!(hour.close, mins[59].close);
        for w in mins.windows(2) {
            assert_eq!(w[0].close, w[1].open);
        }
        let hi = mins.iter().map(|c| c.high).max().unwrap();
        let lo = mins.iter().map(|c| c.low).min().unwrap();
        // Sampled: within about a minute's move (0.06 % for BTC) of the minutes' range.
        let tol = hour.open * Decimal::new(12, 4);
        assert!((hour.high - hi).abs() <= tol, "{} vs {hi}", hour.high);
        assert!((hour.low - lo).abs() <= tol, "{} vs {lo}", hour.low);
    }
}
