//! Portfolio: balances with average buy price, value at the last price and unrealized
//! P&L (stale prices greyed).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, Widget};
use rust_decimal::Decimal;

use super::pane_block;
use crate::store::Snapshot;
use crate::ui::layout::PaneId;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use crate::ui::widgets::format;

/// Draws the portfolio pane.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    // Every product and sum is checked (the numbers come from the exchange): a value
    // that cannot be computed shows as "—" and leaves the total unknown.
    let mut total_value = Some(Decimal::ZERO);
    let widths = [
        Constraint::Length(5),
        Constraint::Fill(2),
        Constraint::Fill(1),
        Constraint::Fill(2),
        Constraint::Fill(2),
        Constraint::Fill(2),
    ];
    // Numbers are shortened to their column, never cut (see `format::fit`).
    let w = format::column_widths(area.width.saturating_sub(2), &widths, 1);
    let col = |i: usize| w.get(i).copied().unwrap_or(8);
    let mut rows = Vec::new();
    let cursor = ui.portfolio_cursor.min(snap.account.balances.len().saturating_sub(1));
    for (i, b) in snap.account.balances.iter().enumerate() {
        let qty = b.total();
        let (value, pnl, stale) = match b.market() {
            None => (Some(qty), None, false),
            Some(m) => match snap.market.tickers.get(&m) {
                Some(t) => {
                    let last = t.value.trade_price;
                    let stale = t.age(ui.now) >= ui.config.stale_after;
                    let pnl = last.checked_sub(b.avg_buy_price).and_then(|d| d.checked_mul(qty));
                    (qty.checked_mul(last), Some(pnl), stale)
                }
                None => (b.avg_buy_price.checked_mul(qty), None, true),
            },
        };
        total_value = total_value.zip(value).and_then(|(t, v)| t.checked_add(v));
        let value_text = value.map_or_else(|| "—".to_string(), |v| format::price(v.round_dp(0)));
        // `pnl`: None = no price to value it ("-"), Some(None) = could not be computed ("—").
        let pnl_cell = match pnl {
            Some(None) => Span::styled("—", theme.muted),
            Some(Some(p)) => {
                let st = if stale { theme.stale } else { theme.change(p.cmp(&Decimal::ZERO)) };
                Span::styled(format::fit(format::price(p.round_dp(0)), col(5)), st)
            }
            None => Span::styled("-", theme.muted),
        };
        rows.push(
            Row::new(vec![
                Cell::from(Span::styled(b.currency.clone(), theme.text)),
                Cell::from(Line::from(format::fit(format::qty(qty, 8), col(1))).right_aligned()),
                Cell::from(
                    Line::from(Span::styled(format::fit(format::qty(b.locked, 8), col(2)), theme.muted))
                        .right_aligned(),
                ),
                Cell::from(Line::from(format::fit(format::price(b.avg_buy_price), col(3))).right_aligned()),
                Cell::from(
                    Line::from(Span::styled(
                        format::fit(value_text, col(4)),
                        if stale { theme.stale } else { theme.text },
                    ))
                    .right_aligned(),
                ),
                Cell::from(Line::from(pnl_cell).right_aligned()),
            ])
            .style(if ui.focus == PaneId::Portfolio && i == cursor {
                theme.selection
            } else {
                ratatui::style::Style::new()
            }),
        );
    }
    let total = total_value.map_or_else(|| "—".to_string(), |v| format::price(v.round_dp(0)));
    let extra = vec![Span::styled(format!("≈{total} KRW "), theme.muted)];
    let block = pane_block(PaneId::Portfolio, extra, ui, theme);
    let inner = block.inner(area);
    block.render(area, buf);
    if rows.is_empty() {
        buf.set_stringn(inner.x + 1, inner.y, "no balances", inner.width as usize, theme.muted);
        return;
    }
    // A narrow column shows the head of its title ("lock" → "loc"), never its tail.
    let titles = ["cur", "qty", "locked", "avg", "value", "P&L"];
    let header = Row::new(titles.iter().enumerate().map(|(i, h)| {
        let w = if i == 0 { h.len() } else { col(i) as usize };
        Cell::from(Line::from(h.chars().take(w.max(1)).collect::<String>()).right_aligned())
    }))
    .style(theme.header);
    Table::new(rows, widths).header(header).column_spacing(1).render(inner, buf);
}
