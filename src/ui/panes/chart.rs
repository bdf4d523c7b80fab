//! Candle chart of the selected market and timeframe: the studies of the chart's view
//! over and under the candles, our open orders, armed rules and price alerts as lines,
//! compared markets, the cursor's OHLCV readout, and one readout line of the studies'
//! values and of the indicators (`crate::indicators`) with where those come from:
//! Upbit's stream or hoga's own computation.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use rust_decimal::Decimal;

use super::pane_block;
use crate::exchange::types::{Candle, Side};
use crate::indicators::series::{Study, StudySeries};
use crate::indicators::{Board, Indicator, Reading, Source, format_reading};
use crate::store::Snapshot;
use crate::ui::layout::PaneId;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use crate::ui::widgets::candles::{self, Chart, Overlay, PriceLine, SubPane, Window};
use crate::ui::widgets::format;

/// Draws the chart pane.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let market = ui.market.as_ref();
    let view = &ui.chart;
    let mut extra = vec![Span::styled(format!("{} ", ui.timeframe.label()), theme.accent)];
    if let Some(m) = market {
        extra.push(Span::styled(format!("{m} "), theme.text));
    }
    if view.log_scale {
        extra.push(Span::styled("log ", theme.accent));
    }
    if view.compared(market).next().is_some() {
        extra.push(Span::styled("% ", theme.accent));
    }
    if view.offset > 0 {
        extra.push(Span::styled(format!("◀ {} back ", view.offset), theme.warning));
    }
    // Paging back: `loading older…` while a page is on its way; where the history ends,
    // said once the view is scrolled back to look at it.
    let paging = market.and_then(|m| snap.market.history(m, ui.timeframe));
    if let Some(h) = paging.filter(|h| view.offset > 0 || *h == crate::store::market::HistoryState::Loading) {
        extra.push(Span::styled(format!("{} ", h.label()), theme.muted));
    }
    let series = market.map(|m| snap.market.series(m, ui.timeframe)).unwrap_or(&[]);
    // A chart is as fresh as its market's ticker.
    let age = market.and_then(|m| snap.market.tickers.get(m)).map(|t| t.age(ui.now));
    let stale = age.is_some_and(|a| a >= ui.config.stale_after);
    if let (true, Some(a)) = (stale, age) {
        extra.push(Span::styled(format!("stale {} ", format::age(a)), theme.warning));
    }
    let block = pane_block(PaneId::Chart, extra, ui, theme);
    let mut inner = block.inner(area);
    block.render(area, buf);
    if inner.width == 0 || inner.height == 0 {
        return;
    }

    let win = Window::of(series.len(), view.offset, inner.width);
    // The candle the readouts speak of: the cursor's, or the newest in view.
    let cursor_at = view.cursor.and_then(|c| series.len().checked_sub(c + 1));
    let at = cursor_at.unwrap_or(win.end.saturating_sub(1));
    let dp = price_dp(series);

    // Studies, over the whole series (an average needs the candles before the window),
    // from the view's cache: a new candle costs each study one more value.
    let computed: Vec<(Study, std::sync::Arc<StudySeries>)> = match market {
        Some(m) if !series.is_empty() => view.cache.series(m, ui.timeframe, series, &view.studies),
        _ => Vec::new(),
    };
    let labels: Vec<String> = computed.iter().map(|(s, _)| short_label(s)).collect();
    let mut overlays = Vec::new();
    let mut panes = Vec::new();
    let mut legend: Vec<Span> = Vec::new();
    let mut palette = [theme.accent, theme.header, theme.ok, theme.text].into_iter().cycle();
    for ((_, values), label) in computed.iter().zip(&labels) {
        match &**values {
            StudySeries::Line(v) => {
                let style = palette.next().unwrap_or(theme.accent);
                overlays.push(Overlay { values: v, style, band: false });
                legend.push(Span::styled(legend_text(label, v.get(at).copied().flatten(), dp), style));
            }
            StudySeries::Bands { upper, middle, lower } => {
                let style = palette.next().unwrap_or(theme.accent);
                overlays.push(Overlay { values: upper, style, band: true });
                overlays.push(Overlay { values: middle, style, band: false });
                overlays.push(Overlay { values: lower, style, band: true });
                // The middle is an average like any other; the bands are what is read.
                let band = |v: &[Option<Decimal>]| v.get(at).copied().flatten();
                let text = match (band(upper), band(lower)) {
                    (Some(u), Some(l)) => {
                        format!("{label} {}/{}", format::price(u.round_dp(dp)), format::price(l.round_dp(dp)))
                    }
                    _ => format!("{label} —"),
                };
                legend.push(Span::styled(text, style));
            }
            StudySeries::Volume { volume, average } => panes.push(SubPane::Volume { volume, average, label }),
            StudySeries::Oscillator(values) => panes.push(SubPane::Rsi { values, label }),
            StudySeries::Macd { macd, signal, histogram } => {
                panes.push(SubPane::Macd { macd, signal, histogram, label })
            }
        }
    }

    // Compared markets: their closes at the main candles' times, in the window only.
    let mut compare_palette = [theme.ok, theme.header, theme.highlight].into_iter().cycle();
    let compared: Vec<(Vec<Option<Decimal>>, Style)> = view
        .compared(market)
        .map(|m| {
            let other = snap.market.series(m, ui.timeframe);
            let mut closes = vec![None; series.len()];
            for i in win.first..win.end {
                closes[i] = close_at(other, series[i].start);
            }
            let style = compare_palette.next().unwrap_or(theme.ok);
            let first = closes[win.first..win.end].iter().flatten().next().copied();
            let now = closes.get(at).copied().flatten();
            let change = first
                .zip(now)
                .and_then(|(f, n)| n.checked_sub(f)?.checked_div(f))
                .map(format::pct)
                .unwrap_or_else(|| "—".into());
            legend.push(Span::styled(format!("{m} {change}"), style));
            (closes, style)
        })
        .collect();
    let compare: Vec<(&[Option<Decimal>], Style)> =
        compared.iter().map(|(v, s)| (v.as_slice(), *s)).collect();

    // The readout rows: the cursor's candle, or the studies' legend and the indicators.
    if inner.height >= MIN_ROWS_WITH_READOUT {
        let width = usize::from(inner.width);
        let lines: Vec<Line> = match cursor_at.and_then(|i| series.get(i).map(|c| (i, c))) {
            Some((i, c)) => {
                let prev = i.checked_sub(1).and_then(|p| series.get(p));
                wrap(&candles::cursor_readout(c, prev), width, 3)
                    .into_iter()
                    .map(|l| Line::styled(l, theme.text))
                    .collect()
            }
            None => {
                let mut spans = Vec::new();
                let mut used = 0;
                for s in legend {
                    let w = s.content.chars().count() + usize::from(used > 0) * 3;
                    if used + w > width {
                        break;
                    }
                    if used > 0 {
                        spans.push(Span::styled(" · ", theme.muted));
                    }
                    used += w;
                    spans.push(s);
                }
                let board = market.and_then(|m| snap.market.indicators.get(&(m.clone(), ui.timeframe)));
                if let Some((values, source)) = board.map(Board::readout).filter(|(v, _)| !v.is_empty()) {
                    let room = width.saturating_sub(used + usize::from(used > 0) * 3);
                    let text = readout(&values, source, dp, room);
                    if text.chars().count() <= room && room >= 12 {
                        if used > 0 {
                            spans.push(Span::styled(" · ", theme.muted));
                        }
                        spans.push(Span::styled(text, theme.muted));
                    }
                }
                if spans.is_empty() { Vec::new() } else { vec![Line::from(spans)] }
            }
        };
        for l in lines {
            buf.set_line(inner.x, inner.y, &l, inner.width);
            inner.y += 1;
            inner.height -= 1;
        }
    }

    let mut lines = Vec::new();
    if let Some(m) = market {
        for o in snap.account.open_orders.iter().filter(|o| &o.market == m) {
            if let Some(p) = o.price {
                let bid = o.side == Some(Side::Bid);
                lines.push(PriceLine {
                    price: p,
                    style: if bid { theme.buy } else { theme.sell },
                    tag: format!(
                        "{} {}",
                        if bid { "bid" } else { "ask" },
                        format::qty(o.remaining_volume, 8)
                    ),
                });
            }
        }
        // A rule relative to the average cost has no trigger price until there is a position.
        for r in snap.account.rules.iter().filter(|r| &r.market == m && r.is_armed()) {
            let kind = r.label.split_whitespace().next().unwrap_or("rule");
            for (price, tag) in [(r.trigger, kind), (r.take_trigger, "tp")] {
                if let Some(price) = price {
                    lines.push(PriceLine { price, style: theme.warning, tag: tag.to_string() });
                }
            }
        }
        for a in snap.account.alerts.iter().filter(|a| &a.market == m && !a.fired) {
            for price in &a.levels {
                lines.push(PriceLine { price: *price, style: theme.highlight, tag: "alert".into() });
            }
        }
    }
    let chart = Chart {
        candles: series,
        timeframe: ui.timeframe,
        offset: view.offset,
        cursor: view.cursor,
        log_scale: view.log_scale,
        lines: &lines,
        overlays: &overlays,
        panes: &panes,
        compare: &compare,
        stale,
    };
    candles::render(inner, buf, &chart, theme);
}

/// The close of the candle of `series` (oldest first) starting at `start`, if it has one.
fn close_at(series: &[Candle], start: i64) -> Option<Decimal> {
    series.binary_search_by_key(&start, |c| c.start).ok().map(|i| series[i].close)
}

/// A study's name in the legend and its sub-pane: `SMA20`, `BB20`, `RSI14`, `MACD`.
pub(crate) fn short_label(s: &Study) -> String {
    match s {
        Study::Sma { period } => format!("SMA{period}"),
        Study::Ema { period } => format!("EMA{period}"),
        Study::Bollinger { period, .. } => format!("BB{period}"),
        Study::Vwap => "VWAP".into(),
        Study::Volume { period } => format!("VOL{period}"),
        Study::Rsi { period } => format!("RSI{period}"),
        Study::Macd { fast, slow, signal } => format!("MACD({fast},{slow},{signal})"),
    }
}

/// `SMA20 148,201,000`: an average at the prices' decimals (`—` while it warms up).
fn legend_text(label: &str, v: Option<Decimal>, dp: u32) -> String {
    match v {
        Some(v) => format!("{label} {}", format::price(v.round_dp(dp))),
        None => format!("{label} —"),
    }
}

/// Parts joined with spaces into at most `max` lines of `width` (a part is never split;
/// what does not fit in `max` lines is left out).
fn wrap(parts: &[String], width: usize, max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in parts {
        let n = out.len();
        match out.last_mut() {
            Some(l) if l.chars().count() + 1 + p.chars().count() <= width => {
                l.push(' ');
                l.push_str(p);
            }
            _ if n < max && p.chars().count() <= width => out.push(p.clone()),
            _ => break,
        }
    }
    out
}

/// Decimals of the recent closes: the precision of the prices themselves, not of how the
/// exchange spelled them (`91200000.0` and `163248000.00000000` are whole numbers).
fn price_dp(series: &[crate::exchange::types::Candle]) -> u32 {
    series.iter().rev().take(20).map(|c| c.close.normalize().scale()).max().unwrap_or(0)
}

/// Below this many rows the chart keeps them all and the readout is left out.
const MIN_ROWS_WITH_READOUT: u16 = 8;

/// `RSI(14) 54.21 · MACD(12,26,9) -12 s-9 h-3 · … · upbit`: as many indicators as fit
/// in `width`, in the board's order, always ending with the source.
fn readout(values: &[(Indicator, Reading)], source: Source, dp: u32, width: usize) -> String {
    let tail = format!(" · {}", source.label());
    let mut out = String::new();
    for (ind, r) in values {
        let part = format!("{} {}", ind.label(), format_reading(r, dp));
        let sep = if out.is_empty() { 0 } else { 3 };
        if out.chars().count() + sep + part.chars().count() + tail.chars().count() > width {
            break;
        }
        if !out.is_empty() {
            out.push_str(" · ");
        }
        out.push_str(&part);
    }
    out + &tail
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn readout_keeps_what_fits_and_always_names_the_source() {
        let values = [
            (Indicator::Rsi { period: 14 }, Reading::Rsi(54.2149)),
            (
                Indicator::Macd { fast_period: 12, slow_period: 26, signal_period: 9 },
                Reading::Macd { macd: dec!(-12.4), signal: dec!(-9.1), histogram: dec!(-3.3) },
            ),
        ];
        assert_eq!(
            readout(&values, Source::Upbit, 1, 80),
            "RSI(14) 54.21 · MACD(12,26,9) -12.4 s-9.1 h-3.3 · upbit"
        );
        assert_eq!(readout(&values, Source::Local, 1, 30), "RSI(14) 54.21 · local");
    }

    /// What the readout line says for `board`, as `render` builds it.
    fn line(board: &Board) -> String {
        let (values, source) = board.readout();
        readout(&values, source, 0, 200)
    }

    #[test]
    fn the_readout_never_shows_a_refused_or_withdrawn_upbit_value() {
        use crate::exchange::types::{MarketId, Timeframe};
        use crate::indicators::{Bar, IndicatorEvent, IndicatorFrame};
        const T0: i64 = 1_796_461_200_000;
        let mut board = Board::default();
        let bars: Vec<Bar> = (0..40)
            .map(|i| Bar { start: T0 + i * 60_000, close: dec!(148000000), volume: dec!(1) })
            .collect();
        board.load(&bars);
        let now = T0 + 39 * 60_000 + 1;
        // 2099-01-01: the readout must not freeze on it.
        board.apply_at(crate::indicators::rsi_frame(4_070_908_800_000, 12.34), now);
        let text = line(&board);
        assert!(text.ends_with("· local") && !text.contains("12.34"), "{text}");
        // Upbit's next close shows as usual.
        board.update(Bar { start: T0 + 40 * 60_000, close: dec!(148000000), volume: dec!(1) });
        let (closed, now) = (T0 + 39 * 60_000, T0 + 40 * 60_000 + 1);
        board.apply_at(crate::indicators::rsi_frame(closed, 61.5), now);
        assert_eq!(line(&board), "RSI(14) 61.50 · upbit");
        // A MACD of 1e28 on a 148M won market: local at once, the old upbit RSI gone too.
        let huge = rust_decimal::Decimal::from_scientific("1e28").unwrap();
        board.apply_at(
            IndicatorEvent::Values(IndicatorFrame {
                market: MarketId::new("KRW-BTC"),
                timeframe: Timeframe::M1,
                candle_start: closed,
                values: vec![(
                    Indicator::DEFAULTS[1],
                    Reading::Macd { macd: huge, signal: huge, histogram: dec!(0) },
                )],
                timestamp: 0,
            }),
            now,
        );
        let text = line(&board);
        assert!(text.ends_with("· local") && !text.contains("61.50"), "{text}");
        // The stream ending: its last values go at once.
        let mut board = Board::default();
        board.load(&bars);
        let (closed, now) = (T0 + 38 * 60_000, T0 + 39 * 60_000 + 1);
        board.apply_at(crate::indicators::rsi_frame(closed, 61.5), now);
        assert_eq!(line(&board), "RSI(14) 61.50 · upbit");
        board.apply_at(
            IndicatorEvent::Withdrawn { market: MarketId::new("KRW-BTC"), timeframe: Timeframe::M1 },
            now,
        );
        assert!(line(&board).ends_with("· local"));
    }

    #[test]
    fn the_cursor_readout_wraps_between_parts() {
        let parts: Vec<String> = [
            "2026-12-05 14:35",
            "O 148,201,000",
            "H 148,300,000",
            "L 148,100,000",
            "C 148,250,000",
            "V 1.234",
            "+0.12%",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            wrap(&parts, 120, 3),
            ["2026-12-05 14:35 O 148,201,000 H 148,300,000 L 148,100,000 C 148,250,000 V 1.234 +0.12%"]
        );
        assert_eq!(
            wrap(&parts, 44, 3),
            ["2026-12-05 14:35 O 148,201,000 H 148,300,000", "L 148,100,000 C 148,250,000 V 1.234 +0.12%"]
        );
        assert_eq!(wrap(&parts, 30, 2).len(), 2);
    }

    #[test]
    fn decimals_come_from_the_prices_not_their_spelling() {
        let c = |close| crate::exchange::types::Candle {
            market: crate::exchange::types::MarketId::new("KRW-BTC"),
            timeframe: crate::exchange::types::Timeframe::M1,
            start: 0,
            open: close,
            high: close,
            low: close,
            close,
            volume: dec!(1),
            value: close,
            timestamp: 0,
        };
        assert_eq!(price_dp(&[c(dec!(163248000.00000000)), c(dec!(91200000.0))]), 0);
        assert_eq!(price_dp(&[c(dec!(0.01230)), c(dec!(812))]), 4);
    }
}
