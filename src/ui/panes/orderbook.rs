//! Order book: asks above, bids below, depth bars, spread, totals, our open orders marked,
//! and a cursor for ladder trading. A stale book is greyed with its age.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use rust_decimal::Decimal;

use super::pane_block;
use crate::exchange::types::Side;
use crate::store::Snapshot;
use crate::ui::layout::PaneId;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use crate::ui::widgets::{depth_bar, format};

/// Draws the order book pane.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let book = ui.market.as_ref().and_then(|m| snap.market.books.get(m));
    let age = book.map(|b| b.age(ui.now));
    let stale = age.is_some_and(|a| a >= ui.config.stale_after);
    let mut extra = vec![Span::styled(format!("{} ", ui.book_depth), theme.muted)];
    if let (true, Some(a)) = (stale, age) {
        extra.push(Span::styled(format!("stale {} ", format::age(a)), theme.warning));
    }
    // The ladder cursor holds its price; when that price is not on a row drawn (the book
    // moved away, or it is deeper than the rows that fit), say where it is: b / s / c act
    // there (esc takes the cursor away). Whatever the focus or how it was set (keys, click).
    let drawn = book.map_or(0, |b| {
        let rows = usize::from(area.height.saturating_sub(2)).saturating_sub(3) / 2;
        ui.book_depth.min(b.value.levels.len()).min(rows)
    });
    if let (Some(p), Some(b)) = (ui.book_price, book)
        && !b.value.levels[..drawn].iter().any(|l| l.ask_price == p || l.bid_price == p)
    {
        // Said in as many words as the title has room for; the depth gives way to it.
        let p = format::price(p);
        extra.remove(0);
        let taken = PaneId::Orderbook.title().chars().count()
            + 4
            + extra.iter().map(|s| s.content.chars().count()).sum::<usize>();
        let room = usize::from(area.width).saturating_sub(taken);
        let notes = [
            format!("cursor {p} off the book "),
            format!("cursor {p} off book "),
            format!("off book {p} "),
            format!("off {p} "),
        ];
        let note = notes.iter().find(|n| n.chars().count() <= room).unwrap_or(&notes[3]).clone();
        extra.push(Span::styled(note, theme.warning));
    }
    let block = pane_block(PaneId::Orderbook, extra, ui, theme);
    let inner = block.inner(area);
    block.render(area, buf);
    let Some(book) = book else {
        buf.set_stringn(inner.x + 1, inner.y, "no book yet", inner.width as usize, theme.muted);
        return;
    };
    let b = &book.value;
    let depth = ui.book_depth.min(b.levels.len());
    if inner.height < 4 || inner.width < 20 || depth == 0 {
        return;
    }
    // Rows: header, asks, spread line, bids, totals. Fewer levels when short of room,
    // always the ones nearest the spread.
    let fit = ((inner.height as usize).saturating_sub(3)) / 2;
    let n = depth.min(fit);
    let max_size = b.levels[..depth].iter().map(|l| l.ask_size.max(l.bid_size)).max().unwrap_or_default();
    // Columns are as wide as the numbers they hold: a price in full at its tick's
    // precision (`145,000,000`, `0.0123`), sizes aligned on their decimal point
    // (`41,178,283.5909` over `1.5`); the depth bars take what is left.
    let quote = ui.market.as_ref().map_or("KRW", |m| m.quote());
    let shown = &b.levels[..n];
    let prices: Vec<String> = shown
        .iter()
        .flat_map(|l| [l.ask_price, l.bid_price])
        .map(|p| format::market_price(quote, p))
        .collect();
    let price_w = prices.iter().map(|p| p.chars().count()).chain(["price".len()]).max().unwrap_or(5) as u16;
    let plain: Vec<String> =
        shown.iter().flat_map(|l| [l.ask_size, l.bid_size]).map(|q| format::qty(q, 4)).collect();
    let decimals = plain.iter().map(|t| fraction_width(t)).max().unwrap_or(0);
    let mut size_w = plain
        .iter()
        .map(|t| t.chars().count() - fraction_width(t) + decimals)
        .chain(["size".len()])
        .max()
        .unwrap_or(4) as u16;
    // Room for the marker (and a space after it), both columns and a bar of at least a few cells; sizes give way
    // (shortened by magnitude, never cut), prices never do.
    let room = inner.width.saturating_sub(price_w + 4 + 4);
    let shorten = size_w > room;
    if shorten {
        size_w = room.max(4);
    }
    let size_cell = |size: Decimal| {
        let text = format::qty(size, 4);
        if shorten {
            format::fit(text, size_w)
        } else {
            // Padded so the decimal points line up when right-aligned.
            let pad = decimals.saturating_sub(fraction_width(&text));
            format!("{text}{}", " ".repeat(pad))
        }
    };
    let bar_w = inner.width.saturating_sub(price_w + size_w + 4);
    let our_prices: Vec<(Side, Decimal)> = snap
        .account
        .open_orders
        .iter()
        .filter(|o| Some(&o.market) == ui.market.as_ref())
        .filter_map(|o| Some((o.side?, o.price?)))
        .collect();
    let header = Line::from(vec![
        Span::styled(format!("  {:>w$}", "price", w = price_w as usize), theme.header),
        Span::styled(format!(" {:>w$}", "size", w = size_w as usize), theme.header),
    ]);
    buf.set_line(inner.x, inner.y, &header, inner.width);
    let mut y = inner.y + 1;
    // The ladder cursor is a price: highlighted on its row wherever the book moved it.
    let cursor = crate::ui::update::ladder_cursor_row(b, ui.book_depth, ui.book_price);
    let draw_row = |buf: &mut Buffer, y: u16, row: usize, side: Side, price: Decimal, size: Decimal| {
        let side_style = if stale {
            theme.stale
        } else if side == Side::Ask {
            theme.ask
        } else {
            theme.bid
        };
        let mine = our_prices.iter().any(|(s, p)| *s == side && *p == price);
        let marker = if mine { "●" } else { " " };
        let line = Line::from(vec![
            Span::styled(marker, theme.highlight),
            Span::styled(
                format!(" {:>w$}", format::market_price(quote, price), w = price_w as usize),
                side_style,
            ),
            Span::styled(
                format!(" {:>w$} ", size_cell(size), w = size_w as usize),
                if stale { theme.stale } else { theme.text },
            ),
            Span::styled(depth_bar::bar(size, max_size, bar_w), side_style),
        ]);
        buf.set_line(inner.x, y, &line, inner.width);
        if Some(row) == cursor && ui.focus == PaneId::Orderbook {
            buf.set_style(Rect::new(inner.x, y, price_w + size_w + 4, 1), theme.selection);
        }
    };
    for i in (0..n).rev() {
        let l = &b.levels[i];
        draw_row(buf, y, depth - 1 - i, Side::Ask, l.ask_price, l.ask_size);
        y += 1;
    }
    if let (Some(ask), Some(bid)) = (b.best_ask(), b.best_bid()) {
        // Checked: the prices come from the exchange.
        let text = match ask.checked_sub(bid) {
            Some(spread) => {
                let pct = if bid.is_zero() { Some(Decimal::ZERO) } else { spread.checked_div(bid) };
                // Enough decimals to be non-zero: one tick of BTC is 0.0011 %.
                let pct = pct.map_or_else(|| "—".to_string(), format::pct_fine);
                // At the precision of the tick where the book trades (`1` on DOGE at
                // 300, `0.0001` on SHIB), not of a price as small as the spread.
                let tick = crate::exchange::grid().tick_size(quote, bid);
                format!(" spread {} ({pct})", format::tick_price(spread, tick))
            }
            None => " spread —".to_string(),
        };
        buf.set_stringn(inner.x, y, text, inner.width as usize, theme.muted);
    }
    y += 1;
    for i in 0..n {
        let l = &b.levels[i];
        draw_row(buf, y, depth + i, Side::Bid, l.bid_price, l.bid_size);
        y += 1;
    }
    // Both totals always show: when the pair does not fit in full (SHIB's billions), each
    // is shortened by magnitude to half the line, never cut off the pane.
    let (mut ask_total, mut bid_total) = (format::qty(b.total_ask_size, 3), format::qty(b.total_bid_size, 3));
    let labels = " Σask   Σbid ".chars().count();
    if labels + ask_total.chars().count() + bid_total.chars().count() > inner.width as usize {
        let half = (inner.width as usize).saturating_sub(labels) / 2;
        ask_total = format::fit(ask_total, half as u16);
        bid_total = format::fit(bid_total, half as u16);
    }
    let totals = Line::from(vec![
        Span::styled(" Σask ", theme.muted),
        Span::styled(ask_total, if stale { theme.stale } else { theme.ask }),
        Span::styled("  Σbid ", theme.muted),
        Span::styled(bid_total, if stale { theme.stale } else { theme.bid }),
    ]);
    if y < inner.y + inner.height {
        buf.set_line(inner.x, y, &totals, inner.width);
    }
}

/// Columns the decimal point and the decimals of a number take (`1.25` → 3, `120` → 0).
fn fraction_width(text: &str) -> usize {
    text.split_once('.').map_or(0, |(_, f)| f.chars().count() + 1)
}
