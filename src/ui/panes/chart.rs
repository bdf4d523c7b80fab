//! Candle chart of the selected market and timeframe, with our open orders and armed
//! rules as price lines, and one readout line of the indicators (`crate::indicators`)
//! with where the values come from: Upbit's stream or hoga's own computation.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Widget;

use super::pane_block;
use crate::exchange::types::Side;
use crate::indicators::{Board, Indicator, Reading, Source, format_reading};
use crate::store::Snapshot;
use crate::ui::layout::PaneId;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use crate::ui::widgets::candles::{self, PriceLine};
use crate::ui::widgets::format;

/// Draws the chart pane.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let market = ui.market.as_ref();
    let mut extra = vec![Span::styled(format!("{} ", ui.timeframe.label()), theme.accent)];
    if let Some(m) = market {
        extra.push(Span::styled(format!("{m} "), theme.text));
    }
    extra.push(Span::styled(format!("MA{} ", candles::MA_PERIOD), theme.accent));
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
    // The readout takes the top row only where the chart keeps room to be read.
    let board = market.and_then(|m| snap.market.indicators.get(&(m.clone(), ui.timeframe)));
    if let Some((values, source)) = board.map(Board::readout).filter(|(v, _)| !v.is_empty())
        && inner.height >= MIN_ROWS_WITH_READOUT
    {
        let dp = price_dp(series);
        let text = readout(&values, source, dp, usize::from(inner.width));
        buf.set_stringn(inner.x, inner.y, text, usize::from(inner.width), theme.muted);
        inner.y += 1;
        inner.height -= 1;
    }
    let mut lines = Vec::new();
    if let Some(m) = market {
        for o in snap.account.open_orders.iter().filter(|o| &o.market == m) {
            if let Some(p) = o.price {
                lines.push(PriceLine {
                    price: p,
                    style: if o.side == Some(Side::Bid) { theme.buy } else { theme.sell },
                });
            }
        }
        // A rule relative to the average cost has no trigger price until there is a position.
        for r in snap.account.rules.iter().filter(|r| &r.market == m && r.is_armed()) {
            if let Some(price) = r.trigger {
                lines.push(PriceLine { price, style: theme.warning });
            }
        }
    }
    candles::render(inner, buf, series, &lines, theme, stale);
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
