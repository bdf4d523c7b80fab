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
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
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
    let widths = [Constraint::Length(8), Constraint::Fill(1), Constraint::Length(11), Constraint::Length(1)];
    // Numbers are shortened to their column, never cut (see `format::fit`): a right-aligned
    // cell that overflows loses its leading digits (a size of 157,604,781.34 read ",604,781.34").
    let w = format::column_widths(inner.width, &widths, 1);
    let col = |i: usize| w.get(i).copied().unwrap_or(8);
    let skip = ui.scroll.get(&PaneId::Trades).copied().unwrap_or(0).min(tape.len().saturating_sub(1));
    let rows = tape.iter().skip(skip).take(inner.height as usize).map(|t| {
        let style = match t.side {
            Some(Side::Bid) => theme.buy,
            Some(Side::Ask) => theme.sell,
            None => theme.text,
        };
        // Checked: a print too large to multiply is certainly large.
        let large = t.price.checked_mul(t.volume).is_none_or(|v| v >= ui.config.large_trade_value);
        let size_style = if large { theme.highlight } else { theme.text };
        Row::new(vec![
            Cell::from(Span::styled(format::ms_kst(t.trade_timestamp), theme.muted)),
            Cell::from(
                Line::from(Span::styled(format::fit(format::price(t.price), col(1)), style)).right_aligned(),
            ),
            Cell::from(
                Line::from(Span::styled(format::fit(format::qty(t.volume, 4), col(2)), size_style))
                    .right_aligned(),
            ),
            Cell::from(Span::styled(if large { "◆" } else { " " }, theme.highlight)),
        ])
    });
    Table::new(rows, widths).column_spacing(1).render(inner, buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::types::{MarketId, StreamType, Trade};
    use crate::ui::state::UiConfig;
    use rust_decimal::Decimal;
    use std::collections::{HashMap, VecDeque};
    use std::str::FromStr;
    use std::sync::Arc;

    /// The text of each row of the trades pane drawn `width` columns wide with one trade.
    fn drawn(width: u16, price: &str, volume: &str) -> Vec<String> {
        let market = MarketId::new("KRW-BTC");
        let trade = Trade {
            market: market.clone(),
            price: Decimal::from_str(price).unwrap(),
            volume: Decimal::from_str(volume).unwrap(),
            side: Some(Side::Bid),
            trade_timestamp: 1_796_472_000_000,
            timestamp: 1_796_472_000_000,
            sequential_id: 1,
            stream_type: StreamType::Realtime,
        };
        let mut snap = Snapshot::default();
        let mut section = (*snap.market).clone();
        section.trades = Arc::new(HashMap::from([(market.clone(), VecDeque::from([trade]))]));
        snap.market = Arc::new(section);
        let mut ui = UiState::new(UiConfig::default());
        ui.market = Some(market);
        let area = Rect::new(0, 0, width, 4);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &ui, &snap, &Theme::dark());
        (0..area.height)
            .map(|y| (0..area.width).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>())
            .collect()
    }

    #[test]
    fn a_size_too_wide_for_its_column_is_shortened_not_cut() {
        // At a tiny price the size of one print is enormous: cut from the left it read
        // ",604,781.34", a wrong number.
        let rows = drawn(36, "0.00000001", "157604781.34");
        let row = &rows[1];
        assert!(row.contains("157.6M"), "{row:?}");
        assert!(!row.contains(",604,781.34"), "{row:?}");
    }

    #[test]
    fn a_price_too_wide_for_its_column_is_shortened_not_cut() {
        let rows = drawn(30, "123456789012345", "0.5");
        let row = &rows[1];
        assert!(!row.contains(",012,345"), "{row:?}");
        assert!(row.contains('T') || row.contains('B'), "{row:?}");
    }
}
