//! The chart's scales: where a price falls on the screen (linear or logarithmic, at half a
//! row's precision), which round prices and percentages the axis names, and which round
//! times the time axis names.
//!
//! Prices stay `Decimal`: a linear scale maps them with one division per frame and a
//! multiplication per point. A logarithmic scale places them through `f64` logarithms,
//! which only decides a row; every label is a `Decimal` on the market's tick grid, written
//! out in full, so the axis never names a price the market could not have, nor a rounded
//! one.

use chrono::{Datelike, NaiveDateTime, TimeDelta, TimeZone, Timelike, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

use crate::exchange::types::Timeframe;

/// Where prices fall in a plot `rows` tall starting at screen row `top`, in half rows:
/// sub-row 0 is the top half of the top row, `2 * rows - 1` the bottom half of the last.
#[derive(Debug, Clone)]
pub struct PriceScale {
    hi: Decimal,
    lo: Decimal,
    top: u16,
    rows: u16,
    /// Linear: sub-rows per unit of price (`None` when the range is flat).
    per_unit: Option<Decimal>,
    /// Logarithmic: ln(hi) and sub-rows per unit of ln(price).
    log: Option<(f64, f64)>,
}

impl PriceScale {
    /// A scale from `hi` (top) to `lo` (bottom); `log` places prices by their logarithm
    /// (only where both ends are positive: a log scale has no place for zero).
    pub fn new(hi: Decimal, lo: Decimal, top: u16, rows: u16, log: bool) -> PriceScale {
        let subs = u32::from(rows) * 2;
        let log = (log && lo > Decimal::ZERO && hi > lo)
            .then(|| {
                let (h, l) = (hi.to_f64()?.ln(), lo.to_f64()?.ln());
                (h > l && h.is_finite() && l.is_finite()).then(|| (h, f64::from(subs - 1) / (h - l)))
            })
            .flatten();
        // Checked: a range too wide (or too narrow) to divide draws flat.
        let per_unit = (subs > 1 && hi > lo)
            .then(|| hi.checked_sub(lo).and_then(|range| Decimal::from(subs - 1).checked_div(range)))
            .flatten();
        PriceScale { hi, lo, top, rows, per_unit, log }
    }

    /// True when prices are placed by their logarithm.
    pub fn is_log(&self) -> bool {
        self.log.is_some()
    }

    /// The highest price of the plot.
    pub fn hi(&self) -> Decimal {
        self.hi
    }

    /// The lowest price of the plot.
    pub fn lo(&self) -> Decimal {
        self.lo
    }

    /// Rows of the plot.
    pub fn rows(&self) -> u16 {
        self.rows
    }

    /// Half-row of a price, from the top of the plot (clamped into it).
    pub fn sub_row(&self, p: Decimal) -> u16 {
        let last = i64::from(self.rows) * 2 - 1;
        let r = if let Some((ln_hi, k)) = self.log {
            match p.to_f64().filter(|v| *v > 0.0) {
                Some(v) => ((ln_hi - v.ln()) * k).round() as i64,
                None => last,
            }
        } else if let Some(k) = self.per_unit {
            match self.hi.checked_sub(p).and_then(|d| d.checked_mul(k)) {
                Some(r) => r.round().to_i64().unwrap_or(0),
                // Only a price far outside the range gets here: clamp it to the nearer edge.
                None if p > self.hi => 0,
                None => last,
            }
        } else {
            return self.rows.saturating_sub(1);
        };
        r.clamp(0, last.max(0)) as u16
    }

    /// Screen row of a price (clamped into the plot).
    pub fn row(&self, p: Decimal) -> u16 {
        self.top + self.sub_row(p) / 2
    }

    /// The price at the middle of plot row `r` (0 = top), for placing labels.
    pub fn price_at(&self, r: f64) -> Option<Decimal> {
        let sub = r * 2.0 + 0.5;
        if let Some((ln_hi, k)) = self.log {
            return Decimal::from_f64((ln_hi - sub / k).exp());
        }
        let k = self.per_unit?;
        let d = Decimal::from_f64(sub)?.checked_div(k)?;
        self.hi.checked_sub(d)
    }
}

/// The smallest step of 1, 2 or 5 × 10^k that is at least `raw` and a whole multiple of
/// `tick` (so a multiple of the step is on the tick grid). `tick` zero: any such step.
pub fn nice_step(raw: Decimal, tick: Decimal) -> Decimal {
    let raw = raw.max(tick).max(Decimal::new(1, 20));
    // Start a decade below the raw step and walk up: at most a few dozen tries.
    let mut decade = Decimal::new(1, 20);
    while decade.checked_mul(Decimal::TEN).is_some_and(|d| d <= raw) {
        decade *= Decimal::TEN;
    }
    loop {
        for m in [1, 2, 5] {
            let Some(step) = decade.checked_mul(Decimal::from(m)) else { return raw };
            let on_grid = tick.is_zero() || (step % tick).is_zero();
            if step >= raw && on_grid {
                return step.normalize();
            }
        }
        match decade.checked_mul(Decimal::TEN) {
            Some(d) => decade = d,
            None => return raw,
        }
    }
}

/// Round prices to label a plot of `rows` rows with, about one every `every` rows: on a
/// linear scale every multiple of one nice step in range; on a log scale a nice price
/// near every `every`-th row, each rounded at the precision of its own part of the scale.
/// Every one is on `quote`'s tick grid; each has a row of its own.
pub fn price_labels(scale: &PriceScale, quote: &str, every: u16) -> Vec<Decimal> {
    let grid = crate::exchange::grid();
    let (hi, lo, rows) = (scale.hi, scale.lo, scale.rows);
    let mut out: Vec<Decimal> = Vec::new();
    if rows == 0 || hi <= lo {
        return out;
    }
    let mut used_rows: Vec<u16> = Vec::new();
    let mut push = |p: Decimal, out: &mut Vec<Decimal>| {
        let r = scale.row(p);
        if p >= lo && p <= hi && grid.is_on_tick(quote, p) && !used_rows.contains(&r) && !out.contains(&p) {
            used_rows.push(r);
            out.push(p);
        }
    };
    if scale.is_log() {
        let mut r = 0.0;
        while r < f64::from(rows) {
            let around = |d: f64| scale.price_at((r + d).clamp(0.0, f64::from(rows) - 0.5));
            if let (Some(p), Some(up), Some(down)) = (scale.price_at(r), around(-2.0), around(2.0)) {
                let tick = grid.tick_size(quote, up);
                let step = nice_step((up - down).abs(), tick);
                if let Some(label) = p.checked_div(step).and_then(|q| q.round().checked_mul(step)) {
                    push(label.normalize(), &mut out);
                }
            }
            r += f64::from(every.max(1));
        }
        return out;
    }
    let Some(range) = hi.checked_sub(lo) else { return out };
    let step = linear_step(range, rows, every, grid.tick_size(quote, hi));
    let Some(mut p) = lo.checked_div(step).and_then(|q| q.ceil().checked_mul(step)) else { return out };
    while p <= hi && out.len() <= usize::from(rows) {
        push(p.normalize(), &mut out);
        match p.checked_add(step) {
            Some(next) => p = next,
            None => break,
        }
    }
    out
}

/// The nice step (a multiple of `tick`) whose labels come closest to one every `every`
/// rows of a range `rows` tall, never closer than two and a half rows: 1-2-5 steps
/// change the count by two and more, so the next step up is weighed against the first.
fn linear_step(range: Decimal, rows: u16, every: u16, tick: Decimal) -> Decimal {
    let rows_d = Decimal::from(rows.max(1));
    let spacing = |step: Decimal| step.checked_mul(rows_d).and_then(|v| v.checked_div(range));
    let target = Decimal::from(every.max(1));
    let mut step = nice_step(range.saturating_mul(Decimal::new(25, 1)) / rows_d, tick);
    let mut best = step;
    for _ in 0..3 {
        let (Some(s), Some(b)) = (spacing(step), spacing(best)) else { break };
        if (s - target).abs() < (b - target).abs() {
            best = step;
        }
        match step.checked_mul(Decimal::new(101, 2)) {
            Some(up) => step = nice_step(up, tick),
            None => break,
        }
    }
    best
}

/// Round percentages (of change from `base`) for a plot shown in percent: the prices they
/// stand for, with their text (`+1.5%`, `-2%`, `0%`).
pub fn pct_labels(scale: &PriceScale, base: Decimal, every: u16) -> Vec<(Decimal, String)> {
    let mut out = Vec::new();
    if base <= Decimal::ZERO || scale.hi <= scale.lo || scale.rows == 0 {
        return out;
    }
    let pct =
        |p: Decimal| p.checked_div(base).and_then(|r| (r - Decimal::ONE).checked_mul(Decimal::ONE_HUNDRED));
    let (Some(top), Some(bottom)) = (pct(scale.hi), pct(scale.lo)) else { return out };
    let step = linear_step(top - bottom, scale.rows, every, Decimal::ZERO);
    let mut used = Vec::new();
    // Checked throughout: the prices come from the network.
    let Some(mut v) = bottom.checked_div(step).and_then(|q| q.ceil().checked_mul(step)) else { return out };
    while v <= top && out.len() <= usize::from(scale.rows) {
        let price = (v / Decimal::ONE_HUNDRED).checked_add(Decimal::ONE).and_then(|r| base.checked_mul(r));
        if let Some(price) = price {
            let row = scale.row(price);
            if !used.contains(&row) {
                used.push(row);
                out.push((price, pct_text(v.normalize())));
            }
        }
        match v.checked_add(step) {
            Some(next) => v = next,
            None => break,
        }
    }
    out
}

/// A percentage as the axis writes it: signed, every digit it has (`+0.25%`, `-3%`, `0%`).
pub fn pct_text(v: Decimal) -> String {
    let v = v.normalize();
    if v > Decimal::ZERO { format!("+{v}%") } else { format!("{v}%") }
}

/// How far apart round times are: seconds of the day, KST days, months or years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Every {
    Secs(i64),
    Days(i64),
    Weeks,
    Months(i32),
    Years(i32),
}

impl Every {
    const ALL: [Every; 27] = [
        Every::Secs(1),
        Every::Secs(5),
        Every::Secs(10),
        Every::Secs(15),
        Every::Secs(30),
        Every::Secs(60),
        Every::Secs(120),
        Every::Secs(300),
        Every::Secs(600),
        Every::Secs(900),
        Every::Secs(1800),
        Every::Secs(3600),
        Every::Secs(7200),
        Every::Secs(10800),
        Every::Secs(21600),
        Every::Secs(43200),
        Every::Days(1),
        Every::Days(2),
        Every::Weeks,
        Every::Months(1),
        Every::Months(2),
        Every::Months(3),
        Every::Months(6),
        Every::Years(1),
        Every::Years(2),
        Every::Years(5),
        Every::Years(10),
    ];

    fn seconds(self) -> i64 {
        match self {
            Every::Secs(s) => s,
            Every::Days(d) => d * 86_400,
            Every::Weeks => 7 * 86_400,
            Every::Months(m) => i64::from(m) * 30 * 86_400,
            Every::Years(y) => i64::from(y) * 365 * 86_400,
        }
    }

    /// Columns one plain label of this spacing takes.
    fn width(self) -> usize {
        match self {
            Every::Secs(s) if s < 60 => 8,
            Every::Secs(_) | Every::Days(_) | Every::Weeks => 5,
            Every::Months(_) => 7,
            Every::Years(_) => 4,
        }
    }

    /// Which round period a KST time falls in: a label goes where it changes.
    fn bucket(self, t: NaiveDateTime) -> i64 {
        let days = i64::from(t.date().num_days_from_ce());
        match self {
            Every::Secs(s) => t.and_utc().timestamp().div_euclid(s),
            Every::Days(d) => days.div_euclid(d),
            // Day 1 of the common era was a Monday: weeks start on Mondays.
            Every::Weeks => (days - 1).div_euclid(7),
            Every::Months(m) => i64::from((t.year() * 12 + t.month0() as i32).div_euclid(m)),
            Every::Years(y) => i64::from(t.year().div_euclid(y)),
        }
    }
}

/// A candle's start (exchange ms) in KST, Korea's clock (UTC+9 all year).
pub fn kst(ms: i64) -> Option<NaiveDateTime> {
    Utc.timestamp_millis_opt(ms).single()?.naive_utc().checked_add_signed(TimeDelta::hours(9))
}

/// Labels for a time axis under candles starting at `starts` (oldest first, KST-placed
/// from exchange ms), `per` columns a candle: `(candle index, text)` at round times, as
/// many as fit with a space between. Within a day `HH:MM` (`MM-DD` where a new day
/// begins); days `MM-DD` (`YYYY` where a new year begins); months `YYYY-MM`; years
/// `YYYY`. The first label carries the date or year the others leave out
/// (`12-05 14:00`, `2026-11-28`), so the axis always says when it is.
pub fn time_labels(starts: &[i64], tf: Timeframe, per: usize, width: usize) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let times: Vec<Option<NaiveDateTime>> = starts.iter().map(|&ms| kst(ms)).collect();
    if times.is_empty() || per == 0 {
        return out;
    }
    let tf_secs = tf.seconds().max(1);
    let Some(every) = Every::ALL
        .iter()
        .copied()
        .find(|e| e.seconds() >= tf_secs && (e.seconds() / tf_secs) as usize * per > e.width() + 1)
    else {
        return out;
    };
    let mut next_free = 0usize;
    let mut last_label: Option<NaiveDateTime> = None;
    for (i, t) in times.iter().enumerate() {
        let Some(t) = *t else { continue };
        let prev = i.checked_sub(1).and_then(|j| times[j]);
        let starts_bucket = prev.is_some_and(|p| every.bucket(p) != every.bucket(t))
            // The first candle is labelled only when it begins a period itself.
            || (prev.is_none() && every.bucket(t - TimeDelta::seconds(tf_secs)) != every.bucket(t));
        if !starts_bucket {
            continue;
        }
        let first = out.is_empty();
        // A date or year is named where it changed since the last label drawn.
        let new_day = last_label.is_some_and(|p| p.date() != t.date());
        let new_year = last_label.is_some_and(|p| p.year() != t.year());
        let text = match every {
            Every::Secs(s) if first && s < 60 => t.format("%m-%d %H:%M:%S").to_string(),
            Every::Secs(_) if first => t.format("%m-%d %H:%M").to_string(),
            Every::Secs(_) if new_day => t.format("%m-%d").to_string(),
            Every::Secs(s) if s < 60 => t.format("%H:%M:%S").to_string(),
            Every::Secs(_) => format!("{:02}:{:02}", t.hour(), t.minute()),
            Every::Days(_) | Every::Weeks if first => t.format("%Y-%m-%d").to_string(),
            Every::Days(_) | Every::Weeks if new_year => t.format("%Y").to_string(),
            Every::Days(_) | Every::Weeks => t.format("%m-%d").to_string(),
            Every::Months(_) => t.format("%Y-%m").to_string(),
            Every::Years(_) => t.format("%Y").to_string(),
        };
        let x = i * per;
        if x < next_free || x + text.chars().count() > width {
            continue;
        }
        next_free = x + text.chars().count() + 1;
        last_label = Some(t);
        out.push((i, text));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn nice_steps_are_one_two_or_five_on_the_tick_grid() {
        assert_eq!(nice_step(dec!(130), Decimal::ZERO), dec!(200));
        assert_eq!(nice_step(dec!(0.013), Decimal::ZERO), dec!(0.02));
        assert_eq!(nice_step(dec!(4.2), Decimal::ZERO), dec!(5));
        assert_eq!(nice_step(dec!(100), Decimal::ZERO), dec!(100));
        // 148M won moves in 1,000 won ticks: no step under one tick.
        assert_eq!(nice_step(dec!(7), dec!(1000)), dec!(1000));
        assert_eq!(nice_step(dec!(31_000), dec!(1000)), dec!(50_000));
        // 5-won ticks (5,000..10,000 won): 2 and 20 are not multiples of 5; 10 and 50 are.
        assert_eq!(nice_step(dec!(1.5), dec!(5)), dec!(5));
        assert_eq!(nice_step(dec!(6), dec!(5)), dec!(10));
        assert_eq!(nice_step(dec!(11), dec!(5)), dec!(20));
        assert_eq!(nice_step(dec!(0.00000003), dec!(0.00000001)), dec!(0.00000005));
        assert_eq!(nice_step(Decimal::MAX, Decimal::ZERO), Decimal::MAX);
    }

    /// Labels on a linear scale of `rows` between `lo` and `hi` in a KRW market.
    fn labels(lo: Decimal, hi: Decimal, rows: u16, log: bool) -> Vec<Decimal> {
        price_labels(&PriceScale::new(hi, lo, 0, rows, log), "KRW", 4)
    }

    #[test]
    fn price_labels_are_round_on_the_grid_and_about_one_per_four_rows() {
        let l = labels(dec!(147_850_000), dec!(148_420_000), 24, false);
        assert_eq!(
            l,
            [
                dec!(147_900_000),
                dec!(148_000_000),
                dec!(148_100_000),
                dec!(148_200_000),
                dec!(148_300_000),
                dec!(148_400_000)
            ]
        );
        // 5-won ticks: every label a multiple of 5 (the old axis put 7,833 there).
        let l = labels(dec!(7_803), dec!(7_871), 20, false);
        assert!(l.len() >= 4, "{l:?}");
        assert!(l.iter().all(|p| (p % dec!(10)).is_zero()), "{l:?}");
        // Sub-won prices.
        let l = labels(dec!(0.001234), dec!(0.001301), 12, false);
        assert!(l.len() >= 2 && l.iter().all(|p| crate::exchange::grid().is_on_tick("KRW", *p)), "{l:?}");
        // A flat range or no rows: nothing, no panic.
        assert!(labels(dec!(5), dec!(5), 10, false).is_empty());
        assert!(labels(dec!(1), dec!(5), 0, false).is_empty());
    }

    #[test]
    fn a_label_is_printed_as_the_exact_price_it_stands_at() {
        // Every label is a whole multiple of its step: its text, read back, is the price
        // at its row (no 148,201,000 shown as 148.2M, nor 0.0012345 as 0.0012).
        for (lo, hi) in [(dec!(147_850_000), dec!(148_420_000)), (dec!(0.00001234), dec!(0.00001301))] {
            for p in labels(lo, hi, 30, false).into_iter().chain(labels(lo, hi, 30, true)) {
                let text = crate::ui::widgets::format::price(p);
                let back: Decimal = text.replace(',', "").parse().unwrap();
                assert_eq!(back, p, "{text}");
            }
        }
    }

    #[test]
    fn a_log_scale_puts_round_prices_across_a_wide_range() {
        let l = labels(dec!(10_000_000), dec!(160_000_000), 24, true);
        assert!(l.len() >= 4, "{l:?}");
        assert!(l.iter().all(|p| crate::exchange::grid().is_on_tick("KRW", *p)), "{l:?}");
        // On a log scale the bottom of the range gets labels of its own (a linear one
        // would crowd them at the top: 10M and 20M share a row with 100M steps).
        assert!(l.iter().any(|p| *p < dec!(30_000_000)), "{l:?}");
        let s = PriceScale::new(dec!(160_000_000), dec!(10_000_000), 0, 24, true);
        assert!(s.row(dec!(20_000_000)) < s.row(dec!(10_000_000)) - 3, "log spreads the low prices");
    }

    #[test]
    fn percent_labels_are_round_and_extreme_prices_do_not_panic() {
        let s = PriceScale::new(dec!(110), dec!(95), 0, 20, false);
        let l: Vec<String> = pct_labels(&s, dec!(100), 4).into_iter().map(|(_, t)| t).collect();
        assert!(l.contains(&"0%".to_string()) && l.contains(&"+4%".to_string()), "{l:?}");
        assert!(l.iter().all(|t| t.starts_with('-') || t.starts_with('+') || t == "0%"), "{l:?}");
        let huge = PriceScale::new(Decimal::MAX, dec!(0.0000000000000000000000000001), 0, 20, false);
        pct_labels(&huge, dec!(0.0000000000000000000000000001), 4);
        pct_labels(&huge, Decimal::MAX, 4);
    }

    #[test]
    fn half_rows_place_prices_twice_as_finely() {
        let s = PriceScale::new(dec!(100), dec!(0), 5, 10, false);
        assert_eq!(s.sub_row(dec!(100)), 0);
        assert_eq!(s.sub_row(dec!(0)), 19);
        assert_eq!(s.row(dec!(0)), 14);
        assert_eq!((s.sub_row(dec!(50)), s.row(dec!(50))), (10, 10));
        assert_eq!(s.sub_row(dec!(1000)), 0, "clamped");
        assert_eq!(s.sub_row(Decimal::MIN), 19);
    }

    fn ms(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        // Given in KST.
        chrono::NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis()
            - 9 * 3_600_000
    }

    #[test]
    fn intraday_labels_fall_on_round_times_in_kst() {
        // 1-minute candles from 14:03 KST, two columns each.
        let starts: Vec<i64> = (0..60).map(|i| ms(2026, 12, 5, 14, 3) + i * 60_000).collect();
        let l = time_labels(&starts, Timeframe::M1, 2, 120);
        let texts: Vec<&str> = l.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts[0], "12-05 14:05", "{texts:?}");
        assert!(
            texts[1..].iter().all(|t| t.len() == 5 && (t.ends_with('0') || t.ends_with('5'))),
            "{texts:?}"
        );
        assert_eq!(l[0].0, 2);
        // Midnight KST is named by its date.
        let starts: Vec<i64> = (0..40).map(|i| ms(2026, 12, 5, 20, 0) + i * 3_600_000).collect();
        let texts: Vec<String> =
            time_labels(&starts, Timeframe::H1, 2, 80).into_iter().map(|(_, t)| t).collect();
        assert_eq!(texts[0], "12-06 00:00", "{texts:?}");
        assert!(texts.contains(&"12-07".to_string()), "{texts:?}");
    }

    #[test]
    fn days_months_and_years_show_dates_with_the_year() {
        // Day candles (09:00 KST) over two months: the first label has the year.
        let starts: Vec<i64> = (0..60).map(|i| ms(2026, 11, 1, 9, 0) + i * 86_400_000).collect();
        let texts: Vec<String> =
            time_labels(&starts, Timeframe::D1, 2, 120).into_iter().map(|(_, t)| t).collect();
        assert!(texts[0].starts_with("2026-"), "{texts:?}");
        assert!(texts[1..].iter().all(|t| t.len() == 5 && t.as_bytes()[2] == b'-'), "{texts:?}");
        // Over a new year the year is named where it begins.
        let starts: Vec<i64> = (0..60).map(|i| ms(2026, 12, 1, 9, 0) + i * 86_400_000).collect();
        let texts: Vec<String> =
            time_labels(&starts, Timeframe::D1, 2, 120).into_iter().map(|(_, t)| t).collect();
        assert!(texts.contains(&"2027".to_string()), "{texts:?}");
        // Weeks over two years: months with the year.
        let starts: Vec<i64> = (0..100).map(|i| ms(2025, 1, 6, 9, 0) + i * 7 * 86_400_000).collect();
        let texts: Vec<String> =
            time_labels(&starts, Timeframe::W1, 2, 200).into_iter().map(|(_, t)| t).collect();
        assert!(texts.len() >= 4 && texts.iter().all(|t| t.len() == 7 && t.starts_with("202")), "{texts:?}");
        // Months over ten years, one column each: years.
        let starts: Vec<i64> = (0..120).map(|i| ms(2017 + i / 12, (i % 12) as u32 + 1, 1, 9, 0)).collect();
        let texts: Vec<String> =
            time_labels(&starts, Timeframe::Mo1, 1, 120).into_iter().map(|(_, t)| t).collect();
        assert!(texts.contains(&"2020".to_string()), "{texts:?}");
        // Labels never overlap and stay inside.
        let l = time_labels(&starts, Timeframe::Mo1, 1, 30);
        for w in l.windows(2) {
            assert!(w[0].0 + w[0].1.len() < w[1].0, "{l:?}");
        }
        assert!(l.iter().all(|(i, t)| i + t.len() <= 30));
    }
}
