//! The candle chart: candlesticks at twice the vertical resolution of a row (half
//! blocks), one column each with a column of space between; studies over them (moving
//! averages, bands, VWAP) and below them in sub-panes (volume, RSI, MACD); compared
//! markets as lines; horizontal price lines (our orders, armed rules, alerts); a price
//! axis of round prices on the market's tick grid (or round percentages when markets are
//! compared); a time axis of round times; and a cursor on one candle.
//!
//! Prices are scaled in `Decimal` (a log scale places them through `f64`, see
//! [`super::scale`]); only the resulting row becomes an integer, and every label is an
//! exact price.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::format;
use super::scale::{self, PriceScale};
use crate::exchange::types::{Candle, Price, Timeframe};
use crate::ui::theme::Theme;

/// Width of the price axis.
pub const AXIS: u16 = 12;
/// The body of a rising candle where colour does not show the direction.
pub(crate) const HOLLOW_BODY: char = '▯';
const EIGHTHS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// Below this many plot columns a candle takes one column, no gap: fewer than eight
/// candles with gaps say too little to be a chart.
const DENSE_BELOW: u16 = 16;
/// One label about every this many rows on the price axis.
const LABEL_EVERY: u16 = 4;
/// A line's point.
const DOT: char = '•';
/// A band's point.
const BAND_DOT: char = '·';

/// A horizontal line across the chart at a price.
#[derive(Debug, Clone)]
pub struct PriceLine {
    /// Price.
    pub price: Price,
    /// Line style.
    pub style: Style,
    /// What it is, written on the line at its left end (`bid 0.01`, `stop`, `alert`).
    pub tag: String,
}

/// A line drawn over the candles on the price scale, one value per candle of the series.
#[derive(Debug, Clone, Copy)]
pub struct Overlay<'a> {
    /// Values, aligned with the candles.
    pub values: &'a [Option<Decimal>],
    /// Colour.
    pub style: Style,
    /// A band's edge (drawn lighter) or a line.
    pub band: bool,
}

/// A study drawn in a sub-pane of its own under the candles, aligned with the candles.
#[derive(Debug, Clone, Copy)]
pub enum SubPane<'a> {
    /// Volume bars and their average.
    Volume {
        /// Each candle's volume.
        volume: &'a [Decimal],
        /// The average.
        average: &'a [Option<Decimal>],
        /// `VOL20`.
        label: &'a str,
    },
    /// An oscillator 0..100 with guides at 30 and 70.
    Rsi {
        /// Values.
        values: &'a [Option<f64>],
        /// `RSI14`.
        label: &'a str,
    },
    /// MACD line, signal and histogram.
    Macd {
        /// MACD line.
        macd: &'a [Option<Decimal>],
        /// Signal line.
        signal: &'a [Option<Decimal>],
        /// Histogram.
        histogram: &'a [Option<Decimal>],
        /// `MACD`.
        label: &'a str,
    },
    /// The kimchi premium (ratios), one value per candle (`None` where the premium line
    /// has no point at that candle's start), on its own percent axis.
    Premium {
        /// Values.
        values: &'a [Option<Decimal>],
        /// `KIMP vs USDT`.
        label: &'a str,
    },
}

/// Everything the chart draws.
#[derive(Debug, Clone, Copy)]
pub struct Chart<'a> {
    /// The series, oldest first.
    pub candles: &'a [Candle],
    /// Its timeframe (for the time axis).
    pub timeframe: Timeframe,
    /// Candles scrolled back from the newest.
    pub offset: usize,
    /// The cursor, candles back from the newest.
    pub cursor: Option<usize>,
    /// Logarithmic price scale.
    pub log_scale: bool,
    /// Price lines.
    pub lines: &'a [PriceLine],
    /// Studies over the candles.
    pub overlays: &'a [Overlay<'a>],
    /// Studies under the candles, top first (as many as fit are drawn).
    pub panes: &'a [SubPane<'a>],
    /// Other markets' closes aligned with these candles (`None` where one has no candle
    /// at that time), drawn as change from the first shown candle; the axis is then in
    /// percent.
    pub compare: &'a [(&'a [Option<Decimal>], Style)],
    /// Grey every candle (data not live).
    pub stale: bool,
}

/// The candles in view: `first..end` of the series, `per` columns each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First candle shown.
    pub first: usize,
    /// One past the last shown.
    pub end: usize,
    /// Columns per candle: 2 (body and gap), or 1 when the plot is narrower than
    /// [`DENSE_BELOW`].
    pub per: usize,
}

impl Window {
    /// The candles of a series of `len` that a chart `width` wide shows, `offset` back
    /// from the newest (an offset beyond the series shows its oldest candle).
    pub fn of(len: usize, offset: usize, width: u16) -> Window {
        let plot_w = width.saturating_sub(AXIS);
        let per = if plot_w < DENSE_BELOW { 1 } else { 2 };
        let end = len.saturating_sub(offset).max(len.min(1));
        let n = (usize::from(plot_w) / per).min(end);
        Window { first: end - n, end, per }
    }
}

/// Where a candle covers half a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Empty,
    Wick,
    Body,
}

/// The glyph of one candle cell from what covers its upper and lower half. A half that is
/// body wins over the wick in the other half: the body's ends are what half rows are for.
fn candle_glyph(upper: Part, lower: Part, hollow: bool) -> Option<char> {
    use Part::{Body, Empty, Wick};
    Some(match (upper, lower) {
        (Body, _) | (_, Body) if hollow => HOLLOW_BODY,
        (Body, Body) => '█',
        (Body, _) => '▀',
        (_, Body) => '▄',
        (Wick, Wick) => '│',
        (Wick, Empty) => '╵',
        (Empty, Wick) => '╷',
        (Empty, Empty) => return None,
    })
}

/// The cells of one candle, top row first: `(row, glyph)` on `scale`.
fn candle_cells(c: &Candle, scale: &PriceScale, hollow: bool) -> impl Iterator<Item = (u16, char)> {
    let (sh, sl) = (scale.sub_row(c.high), scale.sub_row(c.low));
    let (so, sc) = (scale.sub_row(c.open), scale.sub_row(c.close));
    let (bt, bb) = (so.min(sc), so.max(sc));
    let doji = c.open == c.close;
    let part = move |s: u16| {
        if s >= bt && s <= bb {
            Part::Body
        } else if s >= sh && s <= sl {
            Part::Wick
        } else {
            Part::Empty
        }
    };
    (sh / 2..=sl.max(bb) / 2).filter_map(move |r| {
        let (u, l) = (part(r * 2), part(r * 2 + 1));
        // A candle that closed where it opened has no body: a cross where its wick runs
        // on, a dash where it does not.
        let g = if doji && (u == Part::Body || l == Part::Body) {
            if c.high > c.open || c.low < c.open { '┼' } else { '─' }
        } else {
            candle_glyph(u, l, hollow)?
        };
        Some((r, g))
    })
}

/// Simple moving averages of closes; `None` until `period` candles exist. Closes come
/// from the network, so the running sum is checked: when it cannot be kept (a close near
/// `Decimal::MAX`), the window is summed again with each close divided first, and a point
/// that still cannot be computed is left out instead of panicking.
pub fn moving_average(candles: &[Candle], period: usize) -> Vec<Option<Decimal>> {
    let mut out = Vec::with_capacity(candles.len());
    if period == 0 {
        out.resize(candles.len(), None);
        return out;
    }
    let n = Decimal::from(period as u64);
    let mut sum = Some(Decimal::ZERO);
    for (i, c) in candles.iter().enumerate() {
        let window = &candles[(i + 1).saturating_sub(period)..=i];
        sum = sum.and_then(|s| s.checked_add(c.close));
        if i >= period {
            sum = sum.and_then(|s| s.checked_sub(candles[i - period].close));
        }
        if sum.is_none() {
            sum = window.iter().try_fold(Decimal::ZERO, |s, c| s.checked_add(c.close));
        }
        let avg = (i + 1 >= period)
            .then(|| {
                sum.and_then(|s| s.checked_div(n)).or_else(|| {
                    window.iter().try_fold(Decimal::ZERO, |s, c| s.checked_add(c.close.checked_div(n)?))
                })
            })
            .flatten();
        out.push(avg);
    }
    out
}

fn put(buf: &mut Buffer, x: u16, y: u16, ch: char, style: Style) {
    if let Some(cell) = buf.cell_mut((x, y)) {
        cell.set_char(ch).set_style(style);
    }
}

fn is_blank(buf: &Buffer, x: u16, y: u16) -> bool {
    buf.cell((x, y)).is_some_and(|c| c.symbol() == " ")
}

fn put_str(buf: &mut Buffer, x: u16, y: u16, s: &str, max_w: u16, style: Style) {
    buf.set_stringn(x, y, s, max_w as usize, style);
}

/// Rows the chart gives its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rows {
    price: u16,
    labels: u16,
    panes: usize,
    pane_h: u16,
}

/// Significant digits a MACD shows at least: its values are small differences of
/// averages, which the price's tick would round to one digit or to zero.
pub(crate) const MACD_DIGITS: u32 = 4;

/// Rows the candles keep before any sub-pane is drawn: six rows are twelve half-block
/// levels, the least that reads as a chart (four, at 80x24 with a volume pane, read as
/// noise); a sub-pane that would take them is hidden and named in the title.
const MIN_CANDLE_ROWS: u16 = 6;

/// How many of `wanted` sub-panes a chart `height` rows high draws (the rest are hidden
/// and the chart's readout says so).
pub fn panes_shown(height: u16, wanted: usize) -> usize {
    Rows::of(height, wanted).panes
}

impl Rows {
    /// The candles keep at least [`MIN_CANDLE_ROWS`] rows; sub-panes get three to five rows
    /// each (one of them their header), at most one under 20 rows, three above.
    fn of(height: u16, wanted: usize) -> Rows {
        let labels = u16::from(height >= 8);
        let pane_h = match height {
            30.. => 5,
            20.. => 4,
            _ => 3,
        };
        let mut panes = wanted.min(if height >= 20 { 3 } else { 1 });
        while panes > 0 && height.saturating_sub(labels + pane_h * panes as u16) < MIN_CANDLE_ROWS {
            panes -= 1;
        }
        Rows { price: height - labels - pane_h * panes as u16, labels, panes, pane_h }
    }
}

/// Each compared market's closes moved onto the main market's price scale: the main
/// candle's first shown close times the other market's change since its own first shown
/// close. The axis then reads percent change for all of them alike.
fn rebased(base: Decimal, closes: &[Option<Decimal>]) -> Vec<Option<Decimal>> {
    let Some(first) = closes.iter().flatten().next().copied().filter(|f| *f > Decimal::ZERO) else {
        return vec![None; closes.len()];
    };
    closes.iter().map(|v| v.and_then(|v| base.checked_mul(v)?.checked_div(first))).collect()
}

/// A price for the axis after its one-column mark: in full where it fits, else shortened
/// by magnitude (`1.23B`), never cut (a cut price is another price).
fn axis_text(text: String) -> String {
    format::fit(text, AXIS - 1)
}

/// Draws the chart into `area`.
pub fn render(area: Rect, buf: &mut Buffer, chart: &Chart, theme: &Theme) {
    if area.width < AXIS + 4 || area.height < 3 {
        return;
    }
    let plot_w = area.width - AXIS;
    let win = Window::of(chart.candles.len(), chart.offset, area.width);
    let shown = &chart.candles[win.first..win.end];
    let Some(last) = shown.last() else {
        put_str(buf, area.x + 1, area.y + area.height / 2, "no candles yet", plot_w, theme.muted);
        return;
    };
    let rows = Rows::of(area.height, chart.panes.len());
    let per = win.per as u16;
    let x_of = |i: usize| area.x + ((i - win.first) as u16) * per;
    let stale = chart.stale;
    let style_for = |up: bool| {
        if stale {
            theme.stale
        } else if up {
            theme.rise
        } else {
            theme.fall
        }
    };
    // Where colour cannot tell a rising candle from a falling one (mono, NO_COLOR, or a
    // stale chart greyed whole), the body does: hollow for a rise, filled for a fall.
    let hollow_rise = stale || theme.rise.fg == theme.fall.fg;
    let window = |v: &'_ [Option<Decimal>]| -> Vec<Option<Decimal>> {
        (win.first..win.end).map(|i| v.get(i).copied().flatten()).collect()
    };

    // Compared markets on the main market's scale, from its first shown close.
    let base = shown[0].close;
    let compared: Vec<(Vec<Option<Decimal>>, Style)> =
        chart.compare.iter().map(|(closes, style)| (rebased(base, &window(closes)), *style)).collect();
    let in_pct = !compared.is_empty();

    let mut hi = shown.iter().map(|c| c.high).max().unwrap_or_default();
    let mut lo = shown.iter().map(|c| c.low).min().unwrap_or_default();
    let overlay_points =
        chart.overlays.iter().flat_map(|o| o.values.get(win.first..win.end).unwrap_or(&[]).iter());
    for p in overlay_points.chain(compared.iter().flat_map(|(v, _)| v.iter())).flatten() {
        hi = hi.max(*p);
        lo = lo.min(*p);
    }
    let scale = PriceScale::new(hi, lo, area.y, rows.price, chart.log_scale);
    let cursor = chart
        .cursor
        .and_then(|c| chart.candles.len().checked_sub(c + 1))
        .filter(|i| (win.first..win.end).contains(i));

    // Price lines first, so candles draw over them.
    let visible_lines: Vec<&PriceLine> =
        chart.lines.iter().filter(|l| l.price >= lo && l.price <= hi).collect();
    for l in &visible_lines {
        let y = scale.row(l.price);
        for x in area.x..area.x + plot_w {
            put(buf, x, y, '┄', l.style);
        }
    }
    // The cursor's column, under everything else.
    if let Some(i) = cursor {
        for y in area.y..area.y + area.height {
            put(buf, x_of(i), y, '┊', theme.muted);
        }
    }

    for (i, c) in shown.iter().enumerate() {
        let x = x_of(win.first + i);
        let up = c.close >= c.open;
        for (r, g) in candle_cells(c, &scale, up && hollow_rise) {
            put(buf, x, area.y + r, g, style_for(up));
        }
    }

    // Lines over the candles: a point in the gap column, and in the candle's own column
    // where the candle leaves it empty.
    let mut line = |values: &[Option<Decimal>], style: Style, glyph: char| {
        for (k, v) in values.iter().enumerate() {
            let Some(v) = v else { continue };
            let (x, y) = (area.x + k as u16 * per, scale.row(*v));
            if per == 2 {
                put(buf, x + 1, y, glyph, style);
            }
            if is_blank(buf, x, y) {
                put(buf, x, y, glyph, style);
            }
        }
    };
    for o in chart.overlays {
        let style = if stale { theme.stale } else { o.style };
        line(&window(o.values), style, if o.band { BAND_DOT } else { DOT });
    }
    for (values, style) in &compared {
        line(values, *style, DOT);
    }

    // The axis: the last close first, then the lines' prices, then round prices (or
    // percentages) on the rows left.
    let ax = area.x + plot_w;
    let mut taken = vec![false; usize::from(rows.price)];
    let mut take = |y: u16| -> bool {
        let r = usize::from(y - area.y);
        let free = taken.get(r).is_some_and(|t| !t);
        if free {
            taken[r] = true;
        }
        free
    };
    let pct_of = |p: Decimal| {
        p.checked_div(base)
            .and_then(|r| (r - Decimal::ONE).checked_mul(Decimal::ONE_HUNDRED))
            .map(|v| scale::pct_text(v.round_dp(2)))
            .unwrap_or_default()
    };
    {
        let up = last.close >= last.open;
        // The last close's arrow says its direction where colour cannot.
        let mark = if !hollow_rise || last.close == last.open {
            '◀'
        } else if up {
            '▲'
        } else {
            '▼'
        };
        let y = scale.row(last.close);
        take(y);
        let text = if in_pct { pct_of(last.close) } else { format::price(last.close) };
        put_str(buf, ax, y, &format!("{mark}{}", axis_text(text)), AXIS, style_for(up));
    }
    for l in &visible_lines {
        let y = scale.row(l.price);
        if take(y) {
            put_str(buf, ax, y, &format!("─{}", axis_text(format::price(l.price))), AXIS, l.style);
        }
        // The tag at the line's left end, over the oldest candles.
        if !l.tag.is_empty() {
            put_str(buf, area.x, y, &l.tag, plot_w / 2, l.style);
        }
    }
    // A line beyond the candles' range (a stop far below) is named at the edge it lies
    // past, nearest first, where a row is free: it exists even when out of view.
    let above = chart.lines.iter().filter(|l| l.price > hi).min_by_key(|l| l.price);
    let below = chart.lines.iter().filter(|l| l.price < lo).max_by_key(|l| l.price);
    for (l, y, arrow) in [(above, area.y, '↑'), (below, area.y + rows.price - 1, '↓')] {
        if let Some(l) = l
            && take(y)
        {
            put_str(buf, ax, y, &format!("{arrow}{}", axis_text(format::price(l.price))), AXIS, l.style);
        }
    }
    let quote = last.market.quote();
    let labels: Vec<(Decimal, String)> = if in_pct {
        scale::pct_labels(&scale, base, LABEL_EVERY)
    } else {
        scale::price_labels(&scale, quote, LABEL_EVERY).into_iter().map(|p| (p, format::price(p))).collect()
    };
    for (p, text) in labels {
        let y = scale.row(p);
        // A label that does not fit is left out, never cut: a cut price is another price.
        if text.chars().count() < usize::from(AXIS) && take(y) {
            put_str(buf, ax, y, &format!(" {text}"), AXIS, theme.muted);
        }
    }

    // The time axis under the candles.
    if rows.labels == 1 {
        let y = area.y + rows.price;
        let starts: Vec<i64> = shown.iter().map(|c| c.start).collect();
        for (i, text) in scale::time_labels(&starts, chart.timeframe, win.per, usize::from(plot_w)) {
            put_str(buf, x_of(win.first + i), y, &text, plot_w, theme.muted);
        }
    }

    // Sub-panes.
    let at = cursor.unwrap_or(win.end - 1);
    let dp = shown.iter().rev().take(20).map(|c| c.close.normalize().scale()).max().unwrap_or(0);
    for (k, pane) in chart.panes.iter().take(rows.panes).enumerate() {
        let y = area.y + rows.price + rows.labels + k as u16 * rows.pane_h;
        let rect = Rect::new(area.x, y, area.width, rows.pane_h);
        let ctx = PaneCtx { candles: chart.candles, win, at, dp, stale, style_for: &style_for };
        draw_pane(buf, rect, pane, &ctx, theme);
    }
}

struct PaneCtx<'a> {
    candles: &'a [Candle],
    win: Window,
    /// The candle whose values the header shows (the cursor's, or the newest shown).
    at: usize,
    /// Decimals of the prices (a MACD is in price units).
    dp: u32,
    stale: bool,
    style_for: &'a dyn Fn(bool) -> Style,
}

/// A study's value in price units, grouped, at the prices' decimals `dp` or with `sig`
/// significant digits where those need more (a MACD of a market priced 0.0164 is
/// `0.0003123`, not the tick's `0.0003`). A value that is not zero never reads as `0`.
pub(crate) fn study_value(v: Decimal, dp: u32, sig: u32) -> String {
    let a = v.abs();
    let mut decimals = dp;
    if !a.is_zero() {
        // Digits before the point (0 for 0.x), or how many zeros follow the point.
        let int_digits = a.trunc().normalize().to_string().trim_start_matches('0').len() as u32;
        let needed = if int_digits > 0 {
            sig.saturating_sub(int_digits)
        } else {
            let mut zeros = 0;
            let mut x = a;
            while x < Decimal::new(1, 1) && zeros < 26 {
                x *= Decimal::TEN;
                zeros += 1;
            }
            zeros + sig.max(1)
        };
        decimals = decimals.max(needed).min(28);
    }
    let shown = v.round_dp_with_strategy(decimals, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    crate::exchange::display::group(&shown.normalize().to_string())
}

/// A volume for a header: whole coins where it has four digits or more, else four
/// significant digits (`13,117,430,508`, `0.1234`).
pub(crate) fn volume_value(v: Decimal) -> String {
    study_value(v, 0, 4)
}

/// `parts` joined by `sep` in at most `width` columns: whole parts only, as many as fit
/// in order, and ` +N more` for the `N` left out (a value is never cut: a cut number is
/// another number; a bare `+1` after `sig -53,061` would read as the histogram). The first part is kept when nothing else fits and it does.
pub(crate) fn fit_parts(parts: &[String], sep: &str, width: usize) -> String {
    let len = |s: &str| s.chars().count();
    let total: usize = parts.iter().map(|p| len(p)).sum::<usize>() + len(sep) * parts.len().saturating_sub(1);
    if total <= width {
        return parts.join(sep);
    }
    for keep in (0..parts.len()).rev() {
        let more = format!(" +{} more", parts.len() - keep);
        let text = parts[..keep].join(sep) + &more;
        if len(&text) <= width {
            return text.trim_start().to_string();
        }
    }
    String::new()
}

/// One sub-pane: a header row (name and value at the cursor or the newest candle), the
/// study below it, its guides on the axis.
fn draw_pane(buf: &mut Buffer, rect: Rect, pane: &SubPane, ctx: &PaneCtx, theme: &Theme) {
    let plot_w = rect.width - AXIS;
    let per = ctx.win.per as u16;
    let (first, end, at) = (ctx.win.first, ctx.win.end, ctx.at);
    let body = Rect::new(rect.x, rect.y + 1, rect.width, rect.height - 1);
    let ax = rect.x + plot_w;
    let muted = if ctx.stale { theme.stale } else { theme.muted };
    let line_style = if ctx.stale { theme.stale } else { theme.accent };
    let second_style = if ctx.stale { theme.stale } else { theme.highlight };
    let header = match pane {
        SubPane::Volume { volume, average, label } => {
            let v = volume.get(at).copied();
            let max = volume.get(first..end).unwrap_or(&[]).iter().copied().max().unwrap_or_default();
            if max > Decimal::ZERO {
                let eighths_per = Decimal::from(u32::from(body.height) * 8);
                for i in first..end.min(volume.len()) {
                    let e = volume[i]
                        .checked_div(max)
                        .and_then(|r| r.checked_mul(eighths_per))
                        .and_then(|e| e.round().to_u32())
                        .unwrap_or(0);
                    let up = ctx.candles.get(i).is_none_or(|c| c.close >= c.open);
                    bar(buf, rect.x + (i - first) as u16 * per, body, e, (ctx.style_for)(up));
                }
                let scale = PriceScale::new(max, Decimal::ZERO, body.y, body.height, false);
                for i in first..end {
                    if let Some(Some(a)) = average.get(i) {
                        let x = rect.x + (i - first) as u16 * per + (per - 1);
                        if per == 2 || is_blank(buf, x, scale.row(*a)) {
                            put(buf, x, scale.row(*a), DOT, line_style);
                        }
                    }
                }
            }
            let avg = average.get(at).copied().flatten();
            let mut h = vec![label.to_string(), v.map(volume_value).unwrap_or_else(|| "—".into())];
            h.extend(avg.map(|a| format!("avg {}", volume_value(a))));
            h
        }
        SubPane::Rsi { values, label } => {
            let scale = PriceScale::new(Decimal::ONE_HUNDRED, Decimal::ZERO, body.y, body.height, false);
            for (level, text) in [(Decimal::from(70), "70"), (Decimal::from(30), "30")] {
                let y = scale.row(level);
                for x in rect.x..ax {
                    put(buf, x, y, '┄', muted);
                }
                put_str(buf, ax, y, &format!(" {text}"), AXIS, muted);
            }
            for i in first..end.min(values.len()) {
                let Some(v) = values[i].and_then(Decimal::from_f64_retain) else { continue };
                let x = rect.x + (i - first) as u16 * per;
                let y = scale.row(v);
                put(buf, x, y, DOT, line_style);
                if per == 2 {
                    put(buf, x + 1, y, DOT, line_style);
                }
            }
            let v = values.get(at).copied().flatten();
            vec![label.to_string(), v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "—".into())]
        }
        SubPane::Macd { macd, signal, histogram, label } => {
            let part = |v: &[Option<Decimal>]| {
                v.get(first..end).unwrap_or(&[]).iter().flatten().copied().collect::<Vec<_>>()
            };
            let all: Vec<Decimal> = [part(macd), part(signal), part(histogram)].concat();
            let hi = all.iter().copied().max().unwrap_or_default().max(Decimal::ZERO);
            let lo = all.iter().copied().min().unwrap_or_default().min(Decimal::ZERO);
            let scale = PriceScale::new(hi, lo, body.y, body.height, false);
            let zero = scale.sub_row(Decimal::ZERO);
            for i in first..end.min(histogram.len()) {
                let Some(h) = histogram[i] else { continue };
                let x = rect.x + (i - first) as u16 * per;
                let s = scale.sub_row(h);
                let (top, bottom) = (s.min(zero), s.max(zero));
                let style = (ctx.style_for)(h >= Decimal::ZERO);
                for r in top / 2..=bottom / 2 {
                    let covered = |sub: u16| (top..=bottom).contains(&sub);
                    let (u, l) = (covered(r * 2), covered(r * 2 + 1));
                    let g = match (u, l) {
                        (true, true) => '█',
                        (true, false) => '▀',
                        (false, true) => '▄',
                        (false, false) => continue,
                    };
                    put(buf, x, body.y + r, g, style);
                }
            }
            for (values, style) in [(macd, line_style), (signal, second_style)] {
                for i in first..end.min(values.len()) {
                    let Some(v) = values[i] else { continue };
                    let x = rect.x + (i - first) as u16 * per + (per - 1);
                    put(buf, x, scale.row(v), DOT, style);
                }
            }
            put_str(buf, ax, scale.row(Decimal::ZERO), " 0", AXIS, muted);
            let value = |v: &[Option<Decimal>]| {
                v.get(at)
                    .copied()
                    .flatten()
                    .map(|v| study_value(v, ctx.dp, MACD_DIGITS))
                    .unwrap_or_else(|| "—".into())
            };
            vec![
                label.to_string(),
                value(macd),
                format!("sig {}", value(signal)),
                format!("hist {}", value(histogram)),
            ]
        }
        SubPane::Premium { values, label } => {
            let shown: Vec<Decimal> =
                values.get(first..end).unwrap_or(&[]).iter().flatten().copied().collect();
            if let (Some(hi), Some(lo)) = (shown.iter().max().copied(), shown.iter().min().copied()) {
                let scale = PriceScale::new(hi, lo, body.y, body.height, false);
                // Zero, where it is in view: above it Upbit is dearer than abroad, below
                // it cheaper.
                if lo < Decimal::ZERO && hi > Decimal::ZERO {
                    let y = scale.row(Decimal::ZERO);
                    for x in rect.x..ax {
                        put(buf, x, y, '┄', muted);
                    }
                }
                for i in first..end.min(values.len()) {
                    let Some(v) = values[i] else { continue };
                    let x = rect.x + (i - first) as u16 * per;
                    let y = scale.row(v);
                    put(buf, x, y, DOT, line_style);
                    if per == 2 {
                        put(buf, x + 1, y, DOT, line_style);
                    }
                }
                // The axis: the highest and the lowest premium in view.
                put_str(buf, ax, scale.row(hi), &format!(" {}", format::pct(hi)), AXIS, muted);
                if scale.row(lo) != scale.row(hi) {
                    put_str(buf, ax, scale.row(lo), &format!(" {}", format::pct(lo)), AXIS, muted);
                }
            }
            let v = values.get(at).copied().flatten();
            vec![label.to_string(), v.map(format::pct).unwrap_or_else(|| "—".into())]
        }
    };
    let header = fit_parts(&header, " ", usize::from(rect.width));
    put_str(buf, rect.x, rect.y, &header, rect.width, muted);
}

/// A bar of `eighths` eighths of a cell, up from the bottom of `body`.
fn bar(buf: &mut Buffer, x: u16, body: Rect, eighths: u32, style: Style) {
    let base = body.y + body.height - 1;
    let (full, rest) = (eighths / 8, eighths % 8);
    for k in 0..full.min(u32::from(body.height)) {
        put(buf, x, base - k as u16, '█', style);
    }
    if rest > 0 && full < u32::from(body.height) {
        put(buf, x, base - full as u16, EIGHTHS[rest as usize - 1], style);
    }
}

/// The cursor's readout, in parts a line break may go between: `2026-12-05 14:35`,
/// `O 148,201,000`, `H …`, `L …`, `C …`, `V 1.234`, and the change from the previous
/// close (`+0.12%`; from the open for the series' first candle). Every price in full.
pub fn cursor_readout(c: &Candle, prev: Option<&Candle>) -> Vec<String> {
    let when = scale::kst(c.start).map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default();
    let from = prev.map_or(c.open, |p| p.close);
    let change = c.close.checked_sub(from).and_then(|d| d.checked_div(from)).map(format::pct);
    let mut parts = vec![
        when,
        format!("O {}", format::price(c.open)),
        format!("H {}", format::price(c.high)),
        format!("L {}", format::price(c.low)),
        format!("C {}", format::price(c.close)),
        format!("V {}", format::qty(c.volume, 8)),
    ];
    parts.extend(change);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::types::MarketId;
    use rust_decimal_macros::dec;

    fn chart<'a>(candles: &'a [Candle], lines: &'a [PriceLine], stale: bool) -> Chart<'a> {
        Chart {
            candles,
            timeframe: Timeframe::M1,
            offset: 0,
            cursor: None,
            log_scale: false,
            lines,
            overlays: &[],
            panes: &[],
            compare: &[],
            stale,
        }
    }

    fn draw(area: Rect, chart: &Chart, theme: &Theme) -> Buffer {
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, chart, theme);
        buf
    }

    fn candle(i: i64, open: Decimal, high: Decimal, low: Decimal, close: Decimal) -> Candle {
        Candle {
            market: MarketId::new("KRW-BTC"),
            timeframe: Timeframe::M1,
            start: 1_796_461_200_000 + i * 60_000,
            open,
            high,
            low,
            close,
            volume: dec!(1),
            value: dec!(1),
            timestamp: 0,
        }
    }

    fn row(buf: &Buffer, y: u16, from: u16, to: u16) -> String {
        (from..to).map(|x| buf[(x, y)].symbol()).collect()
    }

    #[test]
    fn axis_labels_are_round_prices_on_the_tick_grid() {
        // KRW prices between 5,000 and 10,000 move in steps of 5; the old axis labelled
        // the middle of the range (7,833) and the average, on no grid at all.
        let c = |i: i64, close: Decimal| Candle {
            market: MarketId::new("KRW-APT"),
            ..candle(i, close - dec!(5), close + dec!(5), close - dec!(10), close)
        };
        let candles: Vec<Candle> =
            (0..40).map(|i| c(i, dec!(7800) + Decimal::from(5 * ((i * 7) % 13)))).collect();
        let area = Rect::new(0, 0, 60, 20);
        let buf = draw(area, &chart(&candles, &[], false), &Theme::default());
        let mut round = 0;
        for y in 0..area.height {
            let text = row(&buf, y, area.width - AXIS, area.width);
            let digits: String = text.chars().filter(|ch| ch.is_ascii_digit() || *ch == '.').collect();
            if digits.is_empty() {
                continue;
            }
            let p: Decimal = digits.parse().unwrap();
            assert!(crate::exchange::grid().is_on_tick("KRW", p), "axis label {text:?} is off the grid");
            if text.starts_with(' ') {
                assert!((p % dec!(10)).is_zero(), "a round label: {text:?}");
                round += 1;
            }
        }
        assert!(round >= 3, "about one label per four rows");
    }

    #[test]
    fn half_blocks_place_bodies_and_wicks_at_half_rows() {
        // 0..100 over 10 rows: 20 half rows, one per 5.26 won.
        let hi = candle(0, dec!(0), dec!(100), dec!(0), dec!(100));
        let c = candle(1, dec!(60), dec!(75), dec!(40), dec!(50));
        let scale = PriceScale::new(dec!(100), dec!(0), 0, 10, false);
        let cells: Vec<(u16, char)> = candle_cells(&c, &scale, false).collect();
        // High 75: half row 5 (lower half of row 2) → ╷; open 60 half row 8, close 50 half
        // row 9/10: body rows 4..5; low 40: half row 11 (lower half of row 5).
        assert_eq!(cells, [(2, '╷'), (3, '│'), (4, '█'), (5, '▀')], "{cells:?}");
        assert_eq!(candle_cells(&hi, &scale, false).map(|(_, g)| g).collect::<String>(), "██████████");
        // Mono: a rising body is hollow at every half.
        let up = candle(2, dec!(52), dec!(75), dec!(40), dec!(60));
        assert!(candle_cells(&up, &scale, true).all(|(_, g)| g != '█' && g != '▀' && g != '▄'));
        // A doji is a cross.
        let doji = candle(3, dec!(50), dec!(60), dec!(40), dec!(50));
        assert!(candle_cells(&doji, &scale, false).any(|(_, g)| g == '┼'));
        assert_eq!(candle_glyph(Part::Wick, Part::Body, false), Some('▄'));
        assert_eq!(candle_glyph(Part::Empty, Part::Empty, false), None);
    }

    #[test]
    fn candles_have_a_gap_column_unless_the_plot_is_narrow() {
        assert_eq!(Window::of(100, 0, 12 + 40), Window { first: 80, end: 100, per: 2 });
        assert_eq!(Window::of(100, 0, 12 + 10), Window { first: 90, end: 100, per: 1 });
        // Scrolled back 35: the window ends 35 candles before the newest.
        assert_eq!(Window::of(100, 35, 12 + 40), Window { first: 45, end: 65, per: 2 });
        assert_eq!(Window::of(10, 35, 12 + 40), Window { first: 0, end: 1, per: 2 });
        assert_eq!(Window::of(0, 0, 52), Window { first: 0, end: 0, per: 2 });
    }

    #[test]
    fn time_labels_have_their_own_row_under_the_candles() {
        let candles: Vec<Candle> = (0..30)
            .map(|i| candle(i, dec!(95000000), dec!(95100000), dec!(94900000), dec!(95050000)))
            .collect();
        for h in [10u16, 24] {
            let area = Rect::new(0, 0, 60, h);
            let buf = draw(area, &chart(&candles, &[], false), &Theme::default());
            let label_y = (0..h).find(|&y| row(&buf, y, 0, 48).contains("12-05")).expect("a time label row");
            assert!(!row(&buf, label_y, 0, 48).contains('█'), "no candle on the label row at h={h}");
            assert_eq!(label_y, h - 1, "without sub-panes the labels are the last row");
        }
        let area = Rect::new(0, 0, 60, 6);
        let buf = draw(area, &chart(&candles, &[], false), &Theme::default());
        assert!(!(0..6).any(|y| row(&buf, y, 0, 60).contains("12-05")), "no time labels in 6 rows");
    }

    fn glyphs(theme: &Theme, stale: bool) -> Vec<std::collections::BTreeSet<String>> {
        let c = |i: i64, open: Decimal, close: Decimal| {
            candle(i, open, open.max(close) + dec!(1000), open.min(close) - dec!(1000), close)
        };
        let candles = [c(0, dec!(90000000), dec!(95000000)), c(1, dec!(95000000), dec!(90000000))];
        let area = Rect::new(0, 0, 40, 20);
        let buf = draw(area, &chart(&candles, &[], stale), theme);
        (0..2u16)
            .map(|i| (0..19).map(|y| buf[(i * 2, y)].symbol().to_string()).filter(|s| s != " ").collect())
            .collect()
    }

    #[test]
    fn without_colour_rising_and_falling_candles_have_different_bodies() {
        let mono = Theme::load("mono", None, crate::ui::theme::ColorSupport::NoColor).unwrap();
        let (rise, fall) = (&glyphs(&mono, false)[0], &glyphs(&mono, false)[1]);
        assert!(rise.contains(&HOLLOW_BODY.to_string()) && !rise.contains("█"), "rise: {rise:?}");
        assert!(fall.contains("█") && !fall.contains(&HOLLOW_BODY.to_string()), "fall: {fall:?}");
        let dark = Theme::dark();
        let stale = glyphs(&dark, true);
        assert_ne!(stale[0], stale[1]);
        let live = glyphs(&dark, false);
        assert!(live[0].contains("█") && live[1].contains("█"), "{live:?}");
    }

    #[test]
    fn overlays_sub_panes_lines_and_the_cursor_are_drawn() {
        let candles: Vec<Candle> = (0..40)
            .map(|i| {
                let o = dec!(148_000_000) + Decimal::from((i * 37) % 23) * dec!(20_000);
                candle(i, o, o + dec!(60_000), o - dec!(40_000), o + dec!(20_000))
            })
            .collect();
        // Hand-made study values: a flat line, volumes, an RSI at 55.5.
        let sma: Vec<Option<Decimal>> = (0..40).map(|i| (i >= 5).then_some(dec!(148_200_000))).collect();
        let volume: Vec<Decimal> = (0..40).map(|i| Decimal::from(i % 5 + 1)).collect();
        let average: Vec<Option<Decimal>> = vec![Some(dec!(3)); 40];
        let rsi: Vec<Option<f64>> = vec![Some(55.5); 40];
        let overlays = [Overlay { values: &sma, style: Style::new(), band: false }];
        let panes = [
            SubPane::Volume { volume: &volume, average: &average, label: "VOL20" },
            SubPane::Rsi { values: &rsi, label: "RSI14" },
        ];
        let lines = [
            PriceLine { price: dec!(148_100_000), style: Style::new(), tag: "bid 0.01".into() },
            PriceLine { price: dec!(140_000_000), style: Style::new(), tag: "stop".into() },
        ];
        let mut c = chart(&candles, &lines, false);
        c.overlays = &overlays;
        c.panes = &panes;
        c.cursor = Some(3);
        let area = Rect::new(0, 0, 60, 30);
        let buf = draw(area, &c, &Theme::default());
        let all: Vec<String> = (0..30).map(|y| row(&buf, y, 0, 60)).collect();
        let text = all.join("\n");
        assert!(text.contains("VOL20 2 avg 3"), "the volume at the cursor:\n{text}");
        assert!(text.contains("RSI14 55.50"), "{text}");
        assert!(text.contains(" 70") && text.contains(" 30"), "RSI guides:\n{text}");
        let y = all.iter().position(|r| r.contains("─148,100,000")).expect("the line's price");
        assert!(all[y].starts_with("bid 0.01"), "the line's tag: {:?}", all[y]);
        // The stop far below the candles is named at the bottom edge of the plot.
        assert!(all.iter().any(|r| r.ends_with("↓140,000,000")), "{text}");
        let y = all.iter().position(|r| r.contains('•')).expect("the average drawn");
        assert!(all[y].matches('•').count() > 20, "{:?}", all[y]);
        // The cursor 3 back from the newest: its column is marked.
        let x = (40 - 1 - 3 - 16) * 2;
        assert!(all.iter().any(|r| r.chars().nth(x) == Some('┊')), "{text}");
    }

    #[test]
    fn compared_markets_turn_the_axis_into_percent() {
        let candles: Vec<Candle> =
            (0..20).map(|i| candle(i, dec!(100_000), dec!(101_000), dec!(99_000), dec!(100_000))).collect();
        let other: Vec<Option<Decimal>> =
            (0..20).map(|i| Some(dec!(2_000) + Decimal::from(i) * dec!(10))).collect();
        let compare = [(&other[..], Style::new())];
        let mut c = chart(&candles, &[], false);
        c.compare = &compare;
        let area = Rect::new(0, 0, 60, 20);
        let buf = draw(area, &c, &Theme::default());
        let axis: Vec<String> = (0..19).map(|y| row(&buf, y, 48, 60)).collect();
        assert!(axis.iter().any(|a| a.contains('%')), "{axis:?}");
        // The other market rose 9.5%: its line reaches the top.
        assert!(axis.iter().any(|a| a.contains(" +8%")), "{axis:?}");
        assert!(row(&buf, 0, 0, 48).contains('•'));
    }

    #[test]
    fn the_cursor_readout_names_every_price_in_full() {
        let prev = candle(0, dec!(148_000_000), dec!(148_100_000), dec!(147_900_000), dec!(148_020_000));
        let c = Candle {
            // 2026-12-05 05:35 UTC, 14:35 KST.
            start: 1_796_448_900_000,
            volume: dec!(1.23456789),
            ..candle(1, dec!(148_201_000), dec!(148_300_000), dec!(148_100_000), dec!(148_197_625))
        };
        let text = cursor_readout(&c, Some(&prev)).join(" ");
        assert!(text.starts_with("2026-12-05 14:35 O"), "{text}");
        assert!(
            text.ends_with("O 148,201,000 H 148,300,000 L 148,100,000 C 148,197,625 V 1.23456789 +0.12%"),
            "{text}"
        );
        // No previous candle: the change is from the open.
        let from_open = Candle { close: dec!(148_500_000), ..c };
        assert_eq!(cursor_readout(&from_open, None).last().unwrap(), "+0.20%");
    }

    #[test]
    fn a_sub_pane_header_drops_whole_values_never_cuts_one() {
        let parts = ["MACD(12,26,9)", "-59,974", "sig -55,198", "hist -4,776"].map(String::from);
        assert_eq!(fit_parts(&parts, " ", 45), "MACD(12,26,9) -59,974 sig -55,198 hist -4,776");
        // The old header was cut at the pane's edge: `hist -4,77`.
        assert_eq!(fit_parts(&parts, " ", 44), "MACD(12,26,9) -59,974 sig -55,198 +1 more");
        assert_eq!(fit_parts(&parts, " ", 22), "MACD(12,26,9) +3 more");
        // Drawn: a MACD pane 43 columns wide shows the histogram whole or not at all.
        let candles: Vec<Candle> = (0..40)
            .map(|i| candle(i, dec!(148_000_000), dec!(148_100_000), dec!(147_900_000), dec!(148_050_000)))
            .collect();
        let (m, sg, h) =
            (vec![Some(dec!(-59_974)); 40], vec![Some(dec!(-55_198)); 40], vec![Some(dec!(-4_776)); 40]);
        let panes = [SubPane::Macd { macd: &m, signal: &sg, histogram: &h, label: "MACD(12,26,9)" }];
        let mut c = chart(&candles, &[], false);
        c.panes = &panes;
        let area = Rect::new(0, 0, 43, 24);
        let buf = draw(area, &c, &Theme::default());
        let text: Vec<String> = (0..24).map(|y| row(&buf, y, 0, 43)).collect();
        let header = text.iter().find(|r| r.starts_with("MACD")).expect("the MACD header");
        assert_eq!(header.trim_end(), "MACD(12,26,9) -59,974 sig -55,198 +1 more");
    }

    #[test]
    fn an_axis_price_too_long_is_shortened_not_cut() {
        assert_eq!(axis_text("148,201,000".into()), "148,201,000");
        assert_eq!(axis_text("1,482,010,000".into()), "1.48B");
    }

    #[test]
    fn moving_average_of_closes() {
        let c = |close| candle(0, close, close, close, close);
        let v = moving_average(&[c(dec!(1)), c(dec!(2)), c(dec!(3)), c(dec!(4))], 2);
        assert_eq!(v, vec![None, Some(dec!(1.5)), Some(dec!(2.5)), Some(dec!(3.5))]);
    }

    #[test]
    fn huge_candles_draw_without_a_panic() {
        let c = |close: Decimal| Candle {
            market: MarketId::new("USDT-BTC"),
            volume: Decimal::MAX,
            ..candle(0, close, Decimal::MAX, Decimal::MIN, close)
        };
        let candles: Vec<Candle> = (0..30)
            .map(|i| c(if i % 2 == 0 { Decimal::MAX } else { dec!(0.0000000000000000000000000001) }))
            .collect();
        let ma = moving_average(&candles, 20);
        assert!(ma[19..].iter().all(Option::is_some), "{ma:?}");
        let lines = [PriceLine { price: Decimal::MIN, style: Style::new(), tag: String::new() }];
        let volume: Vec<Decimal> = vec![Decimal::MAX; 30];
        let big: Vec<Option<Decimal>> = vec![Some(Decimal::MAX); 30];
        let panes = [
            SubPane::Volume { volume: &volume, average: &big, label: "VOL" },
            SubPane::Macd { macd: &big, signal: &big, histogram: &big, label: "MACD" },
        ];
        let overlays = [Overlay { values: &big, style: Style::new(), band: true }];
        for log in [false, true] {
            let mut c = chart(&candles, &lines, false);
            c.log_scale = log;
            c.panes = &panes;
            c.overlays = &overlays;
            c.compare = &[];
            draw(Rect::new(0, 0, 60, 30), &c, &Theme::default());
        }
    }
}
