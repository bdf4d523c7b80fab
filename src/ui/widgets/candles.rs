//! The candle chart: candlesticks from box-drawing and block characters, volume bars,
//! a simple moving average of closes, horizontal price lines (open orders, stops) and a
//! price axis on the right.
//!
//! Scaling is done in `Decimal` (prices) and only the resulting row index becomes an
//! integer, so no price ever passes through `f64`.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::format;
use crate::exchange::rules::Rounding;
use crate::exchange::types::{Candle, Price};
use crate::ui::theme::Theme;

/// Moving-average period drawn over the closes.
pub(crate) const MA_PERIOD: usize = 20;
/// Width of the price axis.
const AXIS: u16 = 12;
/// The body of a rising candle where colour does not show the direction.
pub(crate) const HOLLOW_BODY: char = '▯';
const VOL_EIGHTHS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A horizontal line across the chart at a price.
#[derive(Debug, Clone)]
pub struct PriceLine {
    /// Price.
    pub price: Price,
    /// Line style.
    pub style: Style,
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

struct Scale {
    hi: Decimal,
    top: u16,
    rows: u16,
    /// Rows per unit of price (`None` when the range is flat or one row tall): one
    /// division per frame, a multiplication per point.
    per_unit: Option<Decimal>,
}

impl Scale {
    fn new(hi: Decimal, lo: Decimal, top: u16, rows: u16) -> Scale {
        // Checked: a range too wide (or too narrow) to divide draws flat.
        let per_unit = (rows > 1 && hi > lo)
            .then(|| hi.checked_sub(lo).and_then(|range| Decimal::from(rows - 1).checked_div(range)))
            .flatten();
        Scale { hi, top, rows, per_unit }
    }

    /// Screen row of a price (clamped into the plot).
    fn row(&self, p: Decimal) -> u16 {
        let Some(k) = self.per_unit else { return self.top + self.rows / 2 };
        let r = match self.hi.checked_sub(p).and_then(|d| d.checked_mul(k)) {
            Some(r) => r.round().to_i64().unwrap_or(0),
            // Only a price far outside the range gets here: clamp it to the nearer edge.
            None if p > self.hi => 0,
            None => i64::from(self.rows),
        };
        self.top + r.clamp(0, i64::from(self.rows.saturating_sub(1))) as u16
    }
}

fn put(buf: &mut Buffer, x: u16, y: u16, ch: char, style: Style) {
    if let Some(cell) = buf.cell_mut((x, y)) {
        cell.set_char(ch).set_style(style);
    }
}

fn put_str(buf: &mut Buffer, x: u16, y: u16, s: &str, max_w: u16, style: Style) {
    buf.set_stringn(x, y, s, max_w as usize, style);
}

/// Draws the chart into `area`. `stale` greys every candle (data not live).
pub fn render(
    area: Rect,
    buf: &mut Buffer,
    candles: &[Candle],
    lines: &[PriceLine],
    theme: &Theme,
    stale: bool,
) {
    if area.width < AXIS + 4 || area.height < 4 {
        return;
    }
    let plot_w = area.width - AXIS;
    // The time labels get a row of their own between the candles and the volume bars
    // when there is room: on a bar's row they cut the bars into pieces.
    let label_rows = u16::from(area.height >= 8);
    let vol_h = ((area.height - label_rows) / 5).max(1);
    let price_rows = area.height - vol_h - label_rows;
    // Two columns per candle (body + gap) when they fit, else one.
    let per = if candles.len() * 2 <= plot_w as usize { 2 } else { 1 };
    let n = (plot_w as usize / per).min(candles.len());
    let first = candles.len() - n;
    let shown = &candles[first..];
    // The average of the shown candles only needs the `MA_PERIOD - 1` before them, not
    // the whole history (a thousand divisions per frame).
    let from = first.saturating_sub(MA_PERIOD - 1);
    let ma_tail = moving_average(&candles[from..], MA_PERIOD);
    let ma = &ma_tail[first - from..];
    if shown.is_empty() {
        put_str(buf, area.x + 1, area.y + area.height / 2, "no candles yet", plot_w, theme.muted);
        return;
    }
    let mut hi = shown.iter().map(|c| c.high).max().unwrap_or_default();
    let mut lo = shown.iter().map(|c| c.low).min().unwrap_or_default();
    for m in ma.iter().flatten() {
        hi = hi.max(*m);
        lo = lo.min(*m);
    }
    let scale = Scale::new(hi, lo, area.y, price_rows);
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

    // Price lines first, so candles draw over them.
    for l in lines {
        if l.price < lo || l.price > hi {
            continue;
        }
        let y = scale.row(l.price);
        for x in area.x..area.x + plot_w {
            put(buf, x, y, '┄', l.style);
        }
        put_str(buf, area.x + plot_w, y, &format!("─{}", format::price(l.price)), AXIS, l.style);
    }

    for (i, c) in shown.iter().enumerate() {
        let x = area.x + (i * per) as u16;
        let up = c.close >= c.open;
        let style = style_for(up);
        let (yh, yl) = (scale.row(c.high), scale.row(c.low));
        let (yo, yc) = (scale.row(c.open), scale.row(c.close));
        let (body_top, body_bot) = (yo.min(yc), yo.max(yc));
        for y in yh..=yl {
            let ch = if y >= body_top && y <= body_bot {
                if body_top == body_bot && c.open == c.close {
                    '─'
                } else if up && hollow_rise {
                    HOLLOW_BODY
                } else {
                    '█'
                }
            } else {
                '│'
            };
            put(buf, x, y, ch, style);
        }
    }

    // Moving average: a dot in the gap column (or the candle column when packed).
    let ma_style = if stale { theme.stale } else { theme.accent };
    for (i, m) in ma.iter().enumerate() {
        if let Some(m) = m {
            let x = area.x + (i * per) as u16 + (per as u16 - 1);
            let y = scale.row(*m);
            let empty = buf.cell((x, y)).map(|c| c.symbol() == " ").unwrap_or(false);
            if per == 2 || empty {
                put(buf, x, y, '•', ma_style);
            }
        }
    }

    // Volume bars in eighths of a cell.
    let max_vol = shown.iter().map(|c| c.volume).max().unwrap_or_default();
    if max_vol > Decimal::ZERO {
        let base = area.y + area.height - 1;
        for (i, c) in shown.iter().enumerate() {
            let x = area.x + (i * per) as u16;
            let eighths = c
                .volume
                .checked_div(max_vol)
                .and_then(|r| r.checked_mul(Decimal::from(u32::from(vol_h) * 8)))
                .and_then(|e| e.round().to_u32())
                .unwrap_or(0);
            let style = style_for(c.close >= c.open);
            let (full, rest) = (eighths / 8, eighths % 8);
            for k in 0..full.min(u32::from(vol_h)) {
                put(buf, x, base - k as u16, '█', style);
            }
            if rest > 0 && full < u32::from(vol_h) {
                put(buf, x, base - full as u16, VOL_EIGHTHS[rest as usize - 1], style);
            }
        }
    }

    // Axis: high, middle, low, and the last close marked in its colour. The average can
    // stretch the range past any traded price and the middle falls anywhere: the labels
    // are put on the market's tick grid, as a price on the exchange is.
    let ax = area.x + plot_w;
    // Halves first: `hi + lo` can overflow where each half cannot.
    let mid = (hi / Decimal::TWO).checked_add(lo / Decimal::TWO).unwrap_or(hi);
    let quote = shown[0].market.quote();
    for p in [hi, mid, lo] {
        let label = crate::exchange::grid().snap(quote, p, Rounding::Nearest);
        put_str(buf, ax, scale.row(p), &format!(" {}", format::price(label)), AXIS, theme.muted);
    }
    if let Some(last) = shown.last() {
        let up = last.close >= last.open;
        // The last close's arrow says its direction where colour cannot.
        let mark = if !hollow_rise || last.close == last.open {
            '◀'
        } else if up {
            '▲'
        } else {
            '▼'
        };
        put_str(
            buf,
            ax,
            scale.row(last.close),
            &format!("{mark}{}", format::price(last.close)),
            AXIS,
            style_for(up),
        );
    }
    put_str(buf, ax, area.y + price_rows + label_rows, " vol", AXIS, theme.muted);
    if let (1, Some(first), Some(last)) = (label_rows, shown.first(), shown.last()) {
        let y = area.y + price_rows;
        put_str(buf, area.x, y, &format::ms_kst_short(first.start), plot_w / 2, theme.muted);
        let label = format::ms_kst_short(last.start);
        let lx = (area.x + plot_w).saturating_sub(label.len() as u16 + 1).max(area.x + plot_w / 2);
        put_str(buf, lx, y, &label, plot_w / 2, theme.muted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::types::{MarketId, Timeframe};
    use rust_decimal_macros::dec;

    #[test]
    fn axis_labels_are_on_the_tick_grid() {
        // KRW prices between 1,000 and 10,000 move in steps of 5 (or 1 under the old
        // table); the average and the middle of the range are not on any grid.
        let c = |i: i64, close: Decimal| Candle {
            market: MarketId::new("KRW-APT"),
            timeframe: Timeframe::M1,
            start: i * 60_000,
            open: close - dec!(5),
            high: close + dec!(5),
            low: close - dec!(10),
            close,
            volume: dec!(1),
            value: dec!(1),
            timestamp: 0,
        };
        let candles: Vec<Candle> =
            (0..40).map(|i| c(i, dec!(7800) + Decimal::from(5 * ((i * 7) % 13)))).collect();
        let area = Rect::new(0, 0, 60, 20);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &candles, &[], &Theme::default(), false);
        let mut labels = 0;
        for y in 0..area.height {
            let text: String = (area.width - AXIS..area.width).map(|x| buf[(x, y)].symbol()).collect();
            let digits: String = text.chars().filter(|ch| ch.is_ascii_digit() || *ch == '.').collect();
            if digits.is_empty() {
                continue;
            }
            let p: Decimal = digits.parse().unwrap();
            assert!(
                crate::exchange::grid().is_on_tick("KRW", p),
                "axis label {text:?} is not on the KRW tick grid"
            );
            labels += 1;
        }
        assert!(labels >= 3, "high, middle, low and last are labelled");
    }

    #[test]
    fn time_labels_have_their_own_row_above_the_volume_bars() {
        let candles: Vec<Candle> = (0..30)
            .map(|i| Candle {
                market: MarketId::new("KRW-BTC"),
                timeframe: Timeframe::M1,
                start: 1_730_336_820_000 + i * 60_000,
                open: dec!(95000000),
                high: dec!(95100000),
                low: dec!(94900000),
                close: dec!(95050000),
                // Every bar full height: any overlap with the labels would show.
                volume: dec!(1),
                value: dec!(1),
                timestamp: 0,
            })
            .collect();
        // 80x24's chart (10 rows) and 120x40's (24 rows).
        for h in [10u16, 24] {
            let area = Rect::new(0, 0, 60, h);
            let mut buf = Buffer::empty(area);
            render(area, &mut buf, &candles, &[], &Theme::default(), false);
            let row = |y: u16| -> String { (0..area.width - AXIS).map(|x| buf[(x, y)].symbol()).collect() };
            let label_y = (0..h).find(|&y| row(y).contains("10-31")).expect("a time label row");
            let labels = row(label_y);
            assert!(
                !labels.contains('█') && !labels.contains('▁'),
                "bars on the label row at h={h}: {labels:?}"
            );
            assert!(row(h - 1).contains('█'), "volume bars at the bottom at h={h}");
            assert!(row(label_y + 1).contains('█'), "volume right under the labels at h={h}");
        }
        // Too short for a label row: bars only, no labels.
        let area = Rect::new(0, 0, 60, 6);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &candles, &[], &Theme::default(), false);
        let all: String =
            (0..6).flat_map(|y| (0..area.width).map(move |x| (x, y))).map(|p| buf[p].symbol()).collect();
        assert!(!all.contains("10-31"), "no time labels in 6 rows");
    }

    /// Symbols of the candle columns (the first of each two) drawn in `theme`.
    fn candle_glyphs(theme: &Theme, stale: bool) -> Vec<std::collections::BTreeSet<String>> {
        let c = |i: i64, open: Decimal, close: Decimal| Candle {
            market: MarketId::new("KRW-BTC"),
            timeframe: Timeframe::M1,
            start: i * 60_000,
            open,
            high: open.max(close) + dec!(1000),
            low: open.min(close) - dec!(1000),
            close,
            volume: dec!(1),
            value: dec!(1),
            timestamp: 0,
        };
        // A rising candle, then a falling one, with bodies several rows tall.
        let candles = [c(0, dec!(90000000), dec!(95000000)), c(1, dec!(95000000), dec!(90000000))];
        let area = Rect::new(0, 0, 40, 20);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &candles, &[], theme, stale);
        (0..2u16)
            .map(|i| (0..14).map(|y| buf[(i * 2, y)].symbol().to_string()).filter(|s| s != " ").collect())
            .collect()
    }

    #[test]
    fn without_colour_rising_and_falling_candles_have_different_bodies() {
        let mono = Theme::load("mono", None, crate::ui::theme::ColorSupport::NoColor).unwrap();
        let (rise, fall) = (&candle_glyphs(&mono, false)[0], &candle_glyphs(&mono, false)[1]);
        assert!(rise.contains(&HOLLOW_BODY.to_string()) && !rise.contains("█"), "rise: {rise:?}");
        assert!(fall.contains("█") && !fall.contains(&HOLLOW_BODY.to_string()), "fall: {fall:?}");
        // A stale chart greys every candle: the bodies still differ.
        let dark = Theme::dark();
        let stale = candle_glyphs(&dark, true);
        assert_ne!(stale[0], stale[1]);
        // In colour the bodies are both filled; the colour tells them apart.
        let live = candle_glyphs(&dark, false);
        assert!(live[0].contains("█") && live[1].contains("█"), "{live:?}");
    }

    #[test]
    fn moving_average_of_closes() {
        let c = |close| Candle {
            market: MarketId::new("KRW-BTC"),
            timeframe: Timeframe::M1,
            start: 0,
            open: close,
            high: close,
            low: close,
            close,
            volume: dec!(1),
            value: dec!(1),
            timestamp: 0,
        };
        let v = moving_average(&[c(dec!(1)), c(dec!(2)), c(dec!(3)), c(dec!(4))], 2);
        assert_eq!(v, vec![None, Some(dec!(1.5)), Some(dec!(2.5)), Some(dec!(3.5))]);
    }

    #[test]
    fn huge_candles_average_and_draw_without_a_panic() {
        let c = |close: Decimal| Candle {
            market: MarketId::new("USDT-BTC"),
            timeframe: Timeframe::M1,
            start: 0,
            open: close,
            high: Decimal::MAX,
            low: Decimal::MIN,
            close,
            volume: Decimal::MAX,
            value: dec!(1),
            timestamp: 0,
        };
        let candles: Vec<Candle> = (0..30)
            .map(|i| c(if i % 2 == 0 { Decimal::MAX } else { dec!(0.0000000000000000000000000001) }))
            .collect();
        let ma = moving_average(&candles, 20);
        assert!(ma[19..].iter().all(Option::is_some), "{ma:?}");
        let area = Rect::new(0, 0, 60, 20);
        let mut buf = Buffer::empty(area);
        let lines = [PriceLine { price: Decimal::MIN, style: Style::new() }];
        render(area, &mut buf, &candles, &lines, &Theme::default(), false);
    }
}
