//! Trades tape: time (KST), price and size coloured by taker side (plain when the side
//! is not known), large prints highlighted.

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

/// Draws the trades pane.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let block = pane_block(PaneId::Trades, vec![], ui, theme);
    let inner = block.inner(area);
    block.render(area, buf);
    let Some(tape) = ui.market.as_ref().and_then(|m| snap.market.trades.get(m)) else {
        buf.set_stringn(inner.x + 1, inner.y, "no trades yet", inner.width as usize, theme.muted);
        return;
    };
    let skip = ui.scroll.get(&PaneId::Trades).copied().unwrap_or(0).min(tape.len().saturating_sub(1));
    let rows = tape.iter().skip(skip).take(inner.height as usize).map(|t| {
        let style = match t.side {
            Some(Side::Bid) => theme.bid,
            Some(Side::Ask) => theme.ask,
            None => theme.text,
        };
        // Checked: a print too large to multiply is certainly large.
        let large = t.price.checked_mul(t.volume).is_none_or(|v| v >= ui.config.large_trade_value);
        let size_style = if large { theme.highlight } else { theme.text };
        Row::new(vec![
            Cell::from(Span::styled(format::ms_kst(t.trade_timestamp), theme.muted)),
            Cell::from(Line::from(Span::styled(format::price(t.price), style)).right_aligned()),
            Cell::from(Line::from(Span::styled(format::qty(t.volume, 4), size_style)).right_aligned()),
            Cell::from(Span::styled(if large { "◆" } else { " " }, theme.highlight)),
        ])
    });
    let widths = [Constraint::Length(8), Constraint::Fill(1), Constraint::Length(11), Constraint::Length(1)];
    Table::new(rows, widths).column_spacing(1).render(inner, buf);
}
