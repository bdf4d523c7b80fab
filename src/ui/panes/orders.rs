//! Orders: open orders, then recent fills.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, Widget};

use super::pane_block;
use crate::exchange::types::{OrderType, Side};
use crate::store::Snapshot;
use crate::ui::layout::PaneId;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
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
    // A side hoga does not know never reaches here from the order manager (it resolves
    // sides against its own orders); shown as `?` all the same, never guessed.
    let side_style = |s: Option<Side>| match s {
        Some(Side::Bid) => theme.buy,
        Some(Side::Ask) => theme.sell,
        None => theme.muted,
    };
    let side_label = |s: Option<Side>| s.map_or("?", Side::label);
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
                Cell::from(Span::styled(side_label(o.side), side_style(o.side))),
                Cell::from(Line::from(price_label(o, col(2))).right_aligned()),
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
            Cell::from(Span::styled(side_label(f.side), side_style(f.side))),
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

/// The Price column: the price (or `mkt`); an order of a type hoga does not know
/// ([`OrderType::Other`]) is shown by its wire name, with its price when both fit.
fn price_label(o: &crate::exchange::types::Order, width: u16) -> String {
    let price = o.price.map(|p| format::fit(format::price(p), width));
    match (o.ord_type, price) {
        (OrderType::Other(name), Some(p))
            if name.chars().count() + 1 + p.chars().count() <= usize::from(width) =>
        {
            format!("{name} {p}")
        }
        (OrderType::Other(name), _) => name.chars().take(usize::from(width.max(1))).collect(),
        (_, Some(p)) => p,
        (_, None) => "mkt".into(),
    }
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

    #[test]
    fn an_order_of_an_unknown_type_shows_its_wire_name() {
        let mut req =
            OrderRequest::limit(MarketId::new("KRW-BTC"), Side::Bid, Decimal::from(100), Decimal::ONE);
        req.ord_type = OrderType::from_wire("stop_limit");
        let o = crate::console::trade::tracked_to_order(&TrackedOrder::new("uuid:x".into(), req));
        assert_eq!(price_label(&o, 20), "stop_limit 100");
        assert_eq!(price_label(&o, 6), "stop_l");
        let limit =
            OrderRequest::limit(MarketId::new("KRW-BTC"), Side::Bid, Decimal::from(100), Decimal::ONE);
        let o = crate::console::trade::tracked_to_order(&TrackedOrder::new("x".into(), limit));
        assert_eq!(price_label(&o, 20), "100");
    }
}
