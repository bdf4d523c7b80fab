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
    // Columns are laid out for the numbers they hold: prices in full at the tick's
    // precision. Where room is short, sizes are shortened first (by magnitude, never cut:
    // a right-aligned cell that overflows loses its leading digits, and a size of
    // 157,604,781.34 read ",604,781.34"), then the time goes, and a price is shortened
    // only when nothing else is left to give.
    let quote = ui.market.as_ref().map_or("KRW", |m| m.quote());
    let skip = ui.scroll.get(&PaneId::Trades).copied().unwrap_or(0).min(tape.len().saturating_sub(1));
    let shown: Vec<_> = tape.iter().skip(skip).take(inner.height as usize).collect();
    let prices: Vec<String> = shown.iter().map(|t| format::market_price(quote, t.price)).collect();
    let sizes: Vec<String> = shown.iter().map(|t| format::qty(t.volume, 4)).collect();
    let longest = |texts: &[String]| texts.iter().map(|t| t.chars().count()).max().unwrap_or(1) as u16;
    let (mut price_w, mut size_w) = (longest(&prices), longest(&sizes).max(4));
    let width = inner.width;
    // time, price, size, marker and the three spaces between them.
    let mut time_w: u16 = 8;
    let need = |time_w: u16, price_w: u16, size_w: u16| {
        time_w + price_w + size_w + 1 + if time_w > 0 { 3 } else { 2 }
    };
    if need(time_w, price_w, size_w) > width {
        size_w = width.saturating_sub(need(time_w, price_w, 0)).clamp(4, size_w);
    }
    if need(time_w, price_w, size_w) > width {
        time_w = 0;
    }
    if need(time_w, price_w, size_w) > width {
        price_w = width.saturating_sub(need(0, 0, size_w)).max(1);
    }
    let mut widths = Vec::new();
    if time_w > 0 {
        widths.push(Constraint::Length(time_w));
    }
    widths.extend([Constraint::Fill(1), Constraint::Length(size_w), Constraint::Length(1)]);
    let rows = shown.iter().zip(prices).zip(sizes).map(|((t, price), size)| {
        let style = match t.side {
            Some(Side::Bid) => theme.buy,
            Some(Side::Ask) => theme.sell,
            None => theme.text,
        };
        // Checked: a print too large to multiply is certainly large.
        let large = t.price.checked_mul(t.volume).is_none_or(|v| v >= ui.config.large_trade_value);
        let size_style = if large { theme.highlight } else { theme.text };
        let mut cells = Vec::with_capacity(4);
        if time_w > 0 {
            cells.push(Cell::from(Span::styled(format::ms_kst(t.trade_timestamp), theme.muted)));
        }
        cells.extend([
            Cell::from(Line::from(Span::styled(format::fit(price, price_w), style)).right_aligned()),
            Cell::from(Line::from(Span::styled(format::fit(size, size_w), size_style)).right_aligned()),
            Cell::from(Span::styled(if large { "◆" } else { " " }, theme.highlight)),
        ]);
        Row::new(cells)
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
    fn a_price_too_wide_for_its_column_is_shown_in_full_and_the_time_gives_way() {
        let rows = drawn(30, "123456789012345", "0.5");
        let row = &rows[1];
        assert!(row.contains("123,456,789,012,345"), "{row:?}");
        assert!(!row.contains(':'), "the time column went first: {row:?}");
        // Narrower still, the price is shortened by magnitude, never cut.
        let rows = drawn(22, "123456789012345", "0.5");
        let row = &rows[1];
        assert!(!row.contains(",012,345"), "{row:?}");
        assert!(row.contains('T') || row.contains('B'), "{row:?}");
    }

    /// A SHIB print: the price at its tick's precision, the size in full beside it.
    #[test]
    fn a_shib_print_shows_its_price_and_size_in_full() {
        let rows = drawn(38, "0.0123", "41178283.5909");
        let row = &rows[1];
        assert!(row.contains(" 0.0123 "), "{row:?}");
        assert!(row.contains("41,178,283.5909"), "{row:?}");
    }
}
