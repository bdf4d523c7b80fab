//! Orders: open orders, then recent fills.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, Widget};

use super::pane_block;
use crate::exchange::types::Side;
use crate::store::Snapshot;
use crate::ui::layout::PaneId;
use crate::ui::theme::Theme;
use crate::ui::update::UiState;
use crate::ui::widgets::format;

/// Draws the orders pane.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let acc = &snap.account;
    let extra = vec![Span::styled(
        format!("{} open · {} fills ", acc.open_orders.len(), acc.fills.len()),
        theme.muted,
    )];
    let block = pane_block(PaneId::Orders, extra, ui, theme);
    let inner = block.inner(area);
    block.render(area, buf);
    let side_style = |s: Side| if s == Side::Bid { theme.bid } else { theme.ask };
    let widths = [
        Constraint::Length(13),
        Constraint::Length(4),
        Constraint::Fill(2),
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Length(6),
    ];
    // Numbers are shortened to their column, never cut (see `format::fit`).
    let w = format::column_widths(inner.width, &widths, 1);
    let col = |i: usize| w.get(i).copied().unwrap_or(8);
    let mut rows = Vec::new();
    let cursor = ui.orders_cursor.min(acc.open_orders.len().saturating_sub(1));
    for (i, o) in acc.open_orders.iter().enumerate() {
        let row_style = if ui.focus == PaneId::Orders && i == cursor {
            theme.selection
        } else {
            ratatui::style::Style::new()
        };
        rows.push(
            Row::new(vec![
                Cell::from(Span::styled(o.market.to_string(), theme.text)),
                Cell::from(Span::styled(o.side.label(), side_style(o.side))),
                Cell::from(
                    Line::from(
                        o.price
                            .map(|p| format::fit(format::price(p), col(2)))
                            .unwrap_or_else(|| "mkt".into()),
                    )
                    .right_aligned(),
                ),
                Cell::from(
                    Line::from(format::fit(format::qty(o.remaining_volume, 8), col(3))).right_aligned(),
                ),
                Cell::from(
                    Line::from(format::fit(format::qty(o.executed_volume, 8), col(4))).right_aligned(),
                ),
                Cell::from(Span::styled(state_label(o), theme.muted)),
            ])
            .style(row_style),
        );
    }
    if !acc.fills.is_empty() {
        rows.push(Row::new(vec![Cell::from(Span::styled("fills", theme.header))]));
    }
    for f in acc.fills.iter() {
        rows.push(Row::new(vec![
            Cell::from(Span::styled(
                format!("{} {}", format::ms_kst(f.timestamp), f.market.base()),
                theme.muted,
            )),
            Cell::from(Span::styled(f.side.label(), side_style(f.side))),
            Cell::from(Line::from(format::fit(format::price(f.price), col(2))).right_aligned()),
            Cell::from(Line::from(format::fit(format::qty(f.volume, 8), col(3))).right_aligned()),
            Cell::from(
                Line::from(f.fee.map(|x| format::fit(format::qty(x, 2), col(4))).unwrap_or_default())
                    .right_aligned(),
            ),
            Cell::from(""),
        ]));
    }
    if rows.is_empty() {
        buf.set_stringn(inner.x + 1, inner.y, "no open orders", inner.width as usize, theme.muted);
        return;
    }
    // Keep the cursor row in view.
    let visible = (inner.height as usize).saturating_sub(1).max(1);
    let skip = cursor.saturating_sub(visible - 1).min(rows.len().saturating_sub(1));
    let header = Row::new(["market", "side", "price", "open", "filled", "state"]).style(theme.header);
    Table::new(rows.into_iter().skip(skip), widths).header(header).column_spacing(1).render(inner, buf);
}

/// The State column: the venue's state, or `unconfirmed` for an order hoga sent and has
/// not found at the exchange yet (marked by `console::trade::tracked_to_order`).
fn state_label(o: &crate::exchange::types::Order) -> String {
    if o.created_at == crate::console::trade::UNCONFIRMED_MARK {
        return crate::console::trade::UNCONFIRMED_MARK.to_string();
    }
    format!("{:?}", o.state).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::types::MarketId;
    use crate::trading::orders::{LocalState, OrderRequest, TrackedOrder};
    use rust_decimal::Decimal;

    #[test]
    fn an_unconfirmed_order_is_shown_as_unconfirmed() {
        let req = OrderRequest::limit(MarketId::new("KRW-BTC"), Side::Bid, Decimal::from(100), Decimal::ONE);
        let mut t = TrackedOrder::new("hoga-x".into(), req);
        t.state = LocalState::Submitted;
        assert_eq!(state_label(&crate::console::trade::tracked_to_order(&t)), "wait");
        t.state = LocalState::Unconfirmed;
        assert_eq!(state_label(&crate::console::trade::tracked_to_order(&t)), "unconfirmed");
    }
}
