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
use crate::indicators::{Reading, Source};
use crate::store::Snapshot;
use crate::ui::layout::PaneId;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use crate::ui::widgets::candles::{self, Chart, Overlay, PriceLine, SubPane, Window};
use crate::ui::widgets::{format, premium};

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
    // The block's title names the sub-panes with no room, known once the readout's rows
    // are: the inner area is taken from the same block without its title.
    let mut inner = pane_block(PaneId::Chart, Vec::new(), ui, theme).inner(area);
    if inner.width == 0 || inner.height == 0 {
        pane_block(PaneId::Chart, extra, ui, theme).render(area, buf);
        return;
    }

    let win = Window::of(series.len(), view.offset, inner.width);
    // The candle the readouts speak of: the cursor's, or the newest in view. A cursor
    // outside the view is not read out: the readout names only a candle the chart shows.
    let cursor_at = view
        .cursor
        .and_then(|c| series.len().checked_sub(c + 1))
        .filter(|i| (win.first..win.end).contains(i));
    let at = cursor_at.unwrap_or(win.end.saturating_sub(1));
    let dp = price_dp(series);

    // Studies, over the whole series (an average needs the candles before the window),
    // from the view's cache: a new candle costs each study one more value.
    let computed: Vec<(Study, std::sync::Arc<StudySeries>)> = match market {
        Some(m) if !series.is_empty() => view.cache.series(m, ui.timeframe, series, &view.studies),
        _ => Vec::new(),
    };
    let labels: Vec<String> = computed.iter().map(|(s, _)| short_label(s)).collect();
    // The market's kimchi premium line, when the console keeps one: each candle's point by
    // its start time (a candle without one is a gap, never a guess).
    let premium_line = market.and_then(|m| premium::series(ui, snap, m, ui.timeframe)).map(|p| {
        let label = match p.basis {
            crate::store::premium::PremiumBasis::Usdt => "KIMP vs USDT",
            crate::store::premium::PremiumBasis::Reference => "KIMP vs ref",
        };
        (premium_at_candles(&p.points, series), label)
    });
    let mut overlays = Vec::new();
    let mut panes = Vec::new();
    // The legend: each study over the candles with its value at `at`, then the compared
    // markets; the sub-panes' studies are read in their own headers.
    let mut legend: Vec<(String, Style)> = Vec::new();
    // Sub-pane studies with their values, named in the legend when their pane is hidden.
    let mut pane_items: Vec<(String, Style)> = Vec::new();
    // Their names for the title when hidden: `MACD`, `RSI14`, `VOL20`.
    let mut pane_names: Vec<&str> = Vec::new();
    let mut palette = [theme.accent, theme.header, theme.ok, theme.text].into_iter().cycle();
    for ((study, values), label) in computed.iter().zip(&labels) {
        match &**values {
            StudySeries::Line(v) => {
                let style = palette.next().unwrap_or(theme.accent);
                overlays.push(Overlay { values: v, style, band: false });
                let text = match v.get(at).copied().flatten() {
                    Some(v) => format!("{label} {}", price_value(v, dp)),
                    None if *study == Study::Vwap => vwap_missing(ui.timeframe),
                    None => format!("{label} —"),
                };
                legend.push((text, style));
            }
            StudySeries::Bands { upper, middle, lower } => {
                let style = palette.next().unwrap_or(theme.accent);
                overlays.push(Overlay { values: upper, style, band: true });
                overlays.push(Overlay { values: middle, style, band: false });
                overlays.push(Overlay { values: lower, style, band: true });
                // The middle is an average like any other; the bands are what is read.
                let band = |v: &[Option<Decimal>]| v.get(at).copied().flatten();
                let text = match (band(upper), band(lower)) {
                    (Some(u), Some(l)) => format!("{label} {}/{}", price_value(u, dp), price_value(l, dp)),
                    _ => format!("{label} —"),
                };
                legend.push((text, style));
            }
            StudySeries::Volume { volume, average } => {
                let v = volume.get(at).map_or_else(|| "—".into(), |v| candles::volume_value(*v));
                let avg = average.get(at).copied().flatten().map(candles::volume_value);
                let text = match avg {
                    Some(a) => format!("{label} {v} avg {a}"),
                    None => format!("{label} {v}"),
                };
                pane_items.push((text, theme.muted));
                pane_names.push(label.split('(').next().unwrap_or(label));
                panes.push(SubPane::Volume { volume, average, label })
            }
            StudySeries::Oscillator(values) => {
                let v = values.get(at).copied().flatten().map_or_else(|| "—".into(), |v| format!("{v:.2}"));
                pane_items.push((format!("{label} {v}"), theme.muted));
                pane_names.push(label.split('(').next().unwrap_or(label));
                panes.push(SubPane::Rsi { values, label })
            }
            StudySeries::Macd { macd, signal, histogram } => {
                let value = |v: &[Option<Decimal>]| {
                    v.get(at)
                        .copied()
                        .flatten()
                        .map_or_else(|| "—".into(), |v| candles::study_value(v, dp, candles::MACD_DIGITS))
                };
                let text = format!("{label} {} sig {} hist {}", value(macd), value(signal), value(histogram));
                pane_items.push((text, theme.muted));
                pane_names.push(label.split('(').next().unwrap_or(label));
                panes.push(SubPane::Macd { macd, signal, histogram, label })
            }
        }
    }

    // The premium's pane goes first: it is why the other venue streams, and it would be
    // the first to be hidden if it came last.
    if let Some((values, label)) = &premium_line {
        let v = values.get(at).copied().flatten();
        pane_items.insert(0, (format!("{label} {}", premium::text(v)), theme.muted));
        pane_names.insert(0, "KIMP");
        panes.insert(0, SubPane::Premium { values, label });
    }

    // Compared markets: their closes at the main candles' times, in the window only.
    let mut compare_palette = [theme.ok, theme.header, theme.highlight].into_iter().cycle();
    let mut compare_items: Vec<(String, Style)> = Vec::new();
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
            compare_items.push((format!("{m} {change}"), style));
            (closes, style)
        })
        .collect();
    let compare: Vec<(&[Option<Decimal>], Style)> =
        compared.iter().map(|(v, s)| (v.as_slice(), *s)).collect();

    // Upbit's values of the chosen studies, where its indicator stream has them: they
    // are for the last closed candle, so they are shown only while the view is live, and
    // named as such (the legend's own values are hoga's, at the candle in view).
    let live = view.offset == 0 && cursor_at.is_none();
    let board = market.and_then(|m| snap.market.indicators.get(&(m.clone(), ui.timeframe)));
    let upbit: Option<String> = board.filter(|_| live).and_then(|b| {
        let (values, source) = b.readout();
        if source != Source::Upbit {
            return None;
        }
        let parts: Vec<String> = computed
            .iter()
            .zip(&labels)
            .filter_map(|((study, _), label)| {
                let want = study.indicator()?;
                let (_, r) = values.iter().find(|(i, _)| *i == want)?;
                Some(format!("{label} {}", reading_text(r, dp)?))
            })
            .collect();
        (!parts.is_empty()).then(|| format!("upbit close {}", parts.join(" ")))
    });

    // The readout rows: the cursor's candle, or the legend. Each is whole parts, wrapped
    // to a second row where the pane has rows to spare, and `+N more` for what is left out
    // (a bare `+1` beside values reads as one of them).
    let mut readout_lines: Vec<Line> = Vec::new();
    if inner.height >= MIN_ROWS_WITH_READOUT {
        let width = usize::from(inner.width);
        let max_rows = if inner.height >= TWO_READOUT_ROWS_FROM { 2 } else { 1 };
        let lines: Vec<Line> = match cursor_at.and_then(|i| series.get(i).map(|c| (i, c))) {
            Some((i, c)) => {
                let prev = i.checked_sub(1).and_then(|p| series.get(p));
                wrap(&candles::cursor_readout(c, prev), width, 3)
                    .into_iter()
                    .map(|l| Line::styled(l, theme.text))
                    .collect()
            }
            None => {
                // Which sub-panes are drawn depends on the rows the legend leaves: tried
                // with one row, then again with as many as the legend took.
                let mut rows_used = 1u16;
                let mut out = Vec::new();
                for _ in 0..2 {
                    let shown = candles::panes_shown(inner.height.saturating_sub(rows_used), panes.len());
                    let mut items = legend.clone();
                    items.extend(
                        pane_items
                            .iter()
                            .skip(shown)
                            .map(|(t, s)| (format!("{t} (hidden: too few rows)"), *s)),
                    );
                    items.extend(compare_items.iter().cloned());
                    items.extend(upbit.iter().map(|t| (t.clone(), theme.muted)));
                    if !computed.is_empty() {
                        items.push(("local".into(), theme.muted));
                    }
                    out = legend_rows(&items, width, max_rows, theme.muted);
                    if out.len() as u16 <= rows_used {
                        break;
                    }
                    rows_used = out.len() as u16;
                }
                out
            }
        };
        readout_lines = lines;
    }
    let rows_left = inner.height.saturating_sub(readout_lines.len() as u16);
    let hidden: Vec<&str> =
        pane_names.iter().skip(candles::panes_shown(rows_left, panes.len())).copied().collect();
    if let Some(text) = hidden_title(&hidden, area.width, &extra) {
        extra.push(Span::styled(text, theme.warning));
    }
    pane_block(PaneId::Chart, extra, ui, theme).render(area, buf);
    for l in readout_lines {
        buf.set_line(inner.x, inner.y, &l, inner.width);
        inner.y += 1;
        inner.height -= 1;
    }

    let mut lines = Vec::new();
    // Our orders, rules and alerts are Upbit's: on another venue's chart a market of the
    // same code (USDT-BTC is listed on both) is not theirs.
    if let Some(m) = market.filter(|_| ui.venue.trades()) {
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

/// The title's note of the sub-panes with no room, whole: their names where the title
/// has room (`VOL20 MACD hidden `), else their count (`3 hidden `), else nothing (the
/// legend names them too). A block title is cut at its border, and `hidde` is no word.
fn hidden_title(hidden: &[&str], pane_width: u16, extra: &[Span]) -> Option<String> {
    if hidden.is_empty() {
        return None;
    }
    let used =
        format!(" {} ", PaneId::Chart.title()).chars().count() + extra.iter().map(Span::width).sum::<usize>();
    let room = usize::from(pane_width.saturating_sub(2)).saturating_sub(used);
    [format!("{} hidden ", hidden.join(" ")), format!("{} hidden ", hidden.len())]
        .into_iter()
        // The trailing space is padding before the border; it may go.
        .find(|t| t.trim_end().chars().count() <= room)
}

/// The premium line's point of each candle of `series`, matched by start time (both are
/// oldest first).
fn premium_at_candles(points: &[(i64, Decimal)], series: &[Candle]) -> Vec<Option<Decimal>> {
    series
        .iter()
        .map(|c| points.binary_search_by_key(&c.start, |(t, _)| *t).ok().map(|i| points[i].1))
        .collect()
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

/// An average or a band in price units: at the prices' decimals, with three significant
/// digits at least (a nonzero value never reads as `0`).
fn price_value(v: Decimal, dp: u32) -> String {
    candles::study_value(v, dp, 3)
}

/// A value of Upbit's indicator stream as the legend shows the same study's own.
fn reading_text(r: &Reading, dp: u32) -> Option<String> {
    Some(match *r {
        Reading::Rsi(v) => format!("{v:.2}"),
        Reading::MovingAverage(v) => price_value(v, dp),
        Reading::BollingerBands { upper, lower, .. } => {
            format!("{}/{}", price_value(upper, dp), price_value(lower, dp))
        }
        Reading::Macd { macd, signal, histogram } => {
            let v = |x| candles::study_value(x, dp, candles::MACD_DIGITS);
            format!("{} sig {} hist {}", v(macd), v(signal), v(histogram))
        }
        Reading::Volume { volume, average } => {
            format!("{} avg {}", candles::volume_value(volume), candles::volume_value(average))
        }
        Reading::MaCrossover { .. } => return None,
    })
}

/// Why VWAP has no value: it starts again each KST day, and the day's first candles are
/// not loaded (or the timeframe is a day or longer).
fn vwap_missing(tf: crate::exchange::types::Timeframe) -> String {
    if tf.seconds() >= 86_400 {
        "VWAP — none on day charts".into()
    } else {
        "VWAP — needs candles from 00:00 KST".into()
    }
}

/// The legend's items on at most `max` rows of `width`, ` · ` between them: whole items
/// only, in order; the last item (the source) is kept, and ` +N more` says how many were left
/// out. An item wider than a row is left out too (a cut value is another value).
fn legend_rows(items: &[(String, Style)], width: usize, max: usize, sep: Style) -> Vec<Line<'static>> {
    let len = |s: &str| s.chars().count();
    let Some(((tail, tail_style), rest)) = items.split_last() else { return Vec::new() };
    let mut rows: Vec<Vec<(String, Style)>> = vec![Vec::new()];
    let used = |r: &Vec<(String, Style)>| r.iter().map(|(t, _)| len(t) + 3).sum::<usize>().saturating_sub(3);
    let mut dropped = 0usize;
    for (text, style) in rest {
        let row = rows.last().map_or(0, |r| if r.is_empty() { 0 } else { used(r) + 3 });
        if row + len(text) <= width {
            if let Some(r) = rows.last_mut() {
                r.push((text.clone(), *style));
            }
        } else if rows.len() < max && len(text) <= width {
            rows.push(vec![(text.clone(), *style)]);
        } else {
            dropped += 1;
        }
    }
    // The source, and `+N more` before it for what was left out: room is made on the last
    // row by leaving out its last items.
    loop {
        let tail_text = if dropped > 0 { format!("+{dropped} more · {tail}") } else { tail.clone() };
        let n = rows.len();
        let Some(last) = rows.last_mut() else { break };
        if last.is_empty() || used(last) + 3 + len(&tail_text) <= width {
            last.push((tail_text, *tail_style));
            break;
        }
        if n < max {
            rows.push(vec![(tail_text, *tail_style)]);
            break;
        }
        last.pop();
        dropped += 1;
    }
    rows.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| {
            let mut spans = Vec::new();
            for (k, (t, s)) in r.into_iter().enumerate() {
                if k > 0 {
                    spans.push(Span::styled(" · ", sep));
                }
                spans.push(Span::styled(t, s));
            }
            Line::from(spans)
        })
        .collect()
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

/// From this many rows the legend may take a second row rather than leave items out.
const TWO_READOUT_ROWS_FROM: u16 = 16;

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn texts(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).collect()
    }

    /// The premium line is matched to the candles by start time: a candle without a
    /// point is a gap, a point without a candle is not drawn.
    #[test]
    fn premium_points_are_aligned_by_candle_start() {
        use rust_decimal_macros::dec;
        let c = |start| Candle {
            market: crate::exchange::types::MarketId::new("KRW-BTC"),
            timeframe: crate::exchange::types::Timeframe::M1,
            start,
            open: dec!(1),
            high: dec!(1),
            low: dec!(1),
            close: dec!(1),
            volume: dec!(1),
            value: dec!(1),
            timestamp: start,
        };
        let series = [c(60_000), c(120_000), c(180_000)];
        let points = [(0, dec!(0.01)), (60_000, dec!(0.02)), (180_000, dec!(-0.003))];
        assert_eq!(premium_at_candles(&points, &series), [Some(dec!(0.02)), None, Some(dec!(-0.003))]);
    }

    #[test]
    fn the_legend_drops_whole_items_and_says_how_many() {
        let s = Style::default();
        let items: Vec<(String, Style)> = [
            "MACD(12,26,9) -59,974 sig -55,198 hist -4,776",
            "KRW-ETH +1.20%",
            "KRW-XRP -0.35%",
            "KRW-SOL +2.01%",
            "local",
        ]
        .map(|t| (t.to_string(), s))
        .to_vec();
        let all = texts(&legend_rows(&items, 120, 1, s));
        assert_eq!(
            all,
            [
                "MACD(12,26,9) -59,974 sig -55,198 hist -4,776 · KRW-ETH +1.20% · KRW-XRP -0.35% · KRW-SOL +2.01% · local"
            ]
        );
        // 80 columns: the compared markets that fit, whole, and `+2 more` for the others
        // (a bare `+2` beside `+1.20%` reads as a value).
        let one = texts(&legend_rows(&items, 80, 1, s));
        assert_eq!(one, ["MACD(12,26,9) -59,974 sig -55,198 hist -4,776 · KRW-ETH +1.20% · +2 more · local"]);
        // With a second row, nothing is left out.
        let two = texts(&legend_rows(&items, 80, 2, s));
        assert_eq!(two.len(), 2);
        assert_eq!(two.join(" · "), all[0]);
        // Too narrow for the MACD: left out whole, never cut.
        let narrow = texts(&legend_rows(&items, 40, 1, s));
        assert_eq!(narrow, ["KRW-ETH +1.20% · +3 more · local"]);
        for line in [one, two, narrow].concat() {
            assert!(!line.contains("-4,77 ") && !line.ends_with("-4,77"), "{line}");
        }
    }

    #[test]
    fn the_title_names_hidden_panes_whole_or_counts_them() {
        let extra = [Span::raw("1m "), Span::raw("KRW-BTC ")];
        // ` Chart 1m KRW-BTC ` is 18 columns: a pane 40 wide has 20 after it inside its corners.
        let names = ["VOL20", "MACD", "RSI14"];
        assert_eq!(hidden_title(&names, 60, &extra).as_deref(), Some("VOL20 MACD RSI14 hidden "));
        // The old title at 80x24: `Chart 1m KRW-BTC VOL20 MACD RSI14 hidde`.
        assert_eq!(hidden_title(&names, 40, &extra).as_deref(), Some("3 hidden "));
        assert_eq!(hidden_title(&names, 29, &extra).as_deref(), Some("3 hidden "));
        assert_eq!(hidden_title(&names, 27, &extra), None);
        assert_eq!(hidden_title(&[], 120, &extra), None);
    }

    #[test]
    fn study_values_keep_their_digits() {
        // A tiny-priced market's MACD: significant digits, not the tick's 0.0003.
        assert_eq!(candles::study_value(dec!(0.00031234), 4, candles::MACD_DIGITS), "0.0003123");
        assert_eq!(candles::study_value(dec!(-0.0000123456), 4, 4), "-0.00001235");
        assert_eq!(candles::study_value(dec!(-4776.4), 0, 4), "-4,776");
        assert_eq!(candles::study_value(dec!(-3.3), 0, 4), "-3.3");
        assert_eq!(price_value(dec!(148201000.33), 0), "148,201,000");
        assert_eq!(candles::volume_value(dec!(13117430508.3597133)), "13,117,430,508");
        assert_eq!(candles::volume_value(dec!(1.23456789)), "1.235");
        assert_eq!(
            vwap_missing(crate::exchange::types::Timeframe::M1),
            "VWAP — needs candles from 00:00 KST"
        );
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
