//! Order book: asks above, bids below, each level with its size, the cumulative size and
//! quote value from the spread out, a depth bar and our own open orders' remaining size;
//! the spread, totals (over the rows shown), and a cursor for ladder trading. `+` / `-`
//! group the book (호가 모아보기: Upbit's grouped book where the market has one, the plain book grouped
//! here otherwise), `v` swaps the ladder for the depth chart. A stale book is greyed with
//! its age.
//!
//! Numbers are never cut: every column is as wide as its widest value on screen, sizes
//! right-aligned on their decimal point. When the pane is too narrow for them all, the
//! bar goes first, then the cumulative value, then the cumulative size; the cumulative
//! columns are shortened with a unit (`41.17M`) before they go, and the size itself only
//! when nothing else is left.

use std::borrow::Cow;
use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use rust_decimal::Decimal;

use super::pane_block;
use crate::exchange::types::{OrderBook, Side};
use crate::store::{Snapshot, grouping};
use crate::ui::layout::PaneId;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use crate::ui::widgets::{depth_bar, depth_chart, format};

/// The book the pane shows: the plain one, or grouped.
pub(crate) struct Shown<'a> {
    /// Levels to draw (grouped when `unit` is set).
    pub book: Cow<'a, OrderBook>,
    /// How old the data is.
    pub age: Duration,
    /// The grouping unit, when grouped.
    pub unit: Option<Decimal>,
    /// Grouped by Upbit (its `level`), not here.
    pub upbit: bool,
}

/// The book of the selected market as the pane shows it: Upbit's grouped book when it is
/// the unit asked for, the plain book grouped here otherwise (a market Upbit does not
/// group, a unit it does not support, or while its grouped book is on its way).
pub(crate) fn shown<'a>(ui: &UiState, snap: &'a Snapshot) -> Option<Shown<'a>> {
    let m = ui.market.as_ref()?;
    let plain = snap.market.books.get(m)?;
    if ui.book_group == 0 {
        return Some(Shown {
            book: Cow::Borrowed(&plain.value),
            age: plain.age(ui.now),
            unit: None,
            upbit: false,
        });
    }
    let bid = plain.value.best_bid().or_else(|| plain.value.best_ask())?;
    let tick = crate::exchange::grid().tick_size(m.quote(), bid);
    let unit = grouping::unit(tick, ui.book_group);
    // A grouped book left from an earlier subscription (grouped, ungrouped, grouped
    // again) is not shown for the market's: the plain book grouped here is fresher.
    if let Some(g) = snap
        .market
        .grouped_books
        .get(m)
        .filter(|g| g.value.level == unit && g.age(ui.now) < ui.config.stale_after.max(plain.age(ui.now)))
    {
        return Some(Shown {
            book: Cow::Borrowed(&g.value),
            age: g.age(ui.now),
            unit: Some(unit),
            upbit: true,
        });
    }
    Some(Shown {
        book: Cow::Owned(grouping::group(&plain.value, unit)),
        age: plain.age(ui.now),
        unit: Some(unit),
        upbit: false,
    })
}

/// Draws the order book pane.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let view = shown(ui, snap);
    let quote = ui.market.as_ref().map_or("KRW", |m| m.quote());
    let stale = view.as_ref().is_some_and(|v| v.age >= ui.config.stale_after);
    let mut extra = vec![Span::styled(format!("{} ", ui.book_depth), theme.muted)];
    if let Some(unit) = view.as_ref().and_then(|v| v.unit) {
        extra.push(Span::styled(format!("group {} ", format::price(unit)), theme.highlight));
        if !view.as_ref().is_some_and(|v| v.upbit) {
            // Grouped here from the plain book's levels: fewer rows than Upbit's would be.
            extra.push(Span::styled("local ", theme.muted));
        }
    }
    if let (true, Some(v)) = (stale, &view) {
        extra.push(Span::styled(format!("stale {} ", format::age(v.age)), theme.warning));
    }
    // The ladder cursor holds its price; when that price is not on a row drawn (the book
    // moved away, or it is deeper than the rows that fit), say where it is: b / s / c act
    // there (esc takes the cursor away). Whatever the focus or how it was set (keys, click).
    // A grouped book has no cursor (its rows are buckets).
    // The ladder scrolls to keep the cursor's row on screen, so a price in the book at
    // this depth is drawn whenever any row is.
    let drawn = |v: &Shown| {
        let rows = usize::from(area.height.saturating_sub(2)).saturating_sub(3) / 2;
        rows > 0 && crate::ui::update::ladder_cursor_row(&v.book, ui.book_depth, ui.book_price).is_some()
    };
    if let (Some(p), Some(v), false) = (ui.book_price, &view, ui.book_group > 0 || ui.book_chart)
        && !drawn(v)
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
    let Some(view) = view else {
        buf.set_stringn(inner.x + 1, inner.y, "no book yet", inner.width as usize, theme.muted);
        return;
    };
    let b: &OrderBook = &view.book;
    if ui.book_chart {
        depth_chart::render(inner, buf, b, ui.book_depth, quote, stale, theme);
        return;
    }
    let depth = ui.book_depth.min(b.levels.len());
    if inner.height < 4 || inner.width < 20 || depth == 0 {
        return;
    }
    // Rows: header, asks, spread line, bids, totals. Fewer levels when short of room:
    // the ones nearest the spread, or the window scrolled to the cursor's row.
    // The ladder cursor is a price: highlighted on its row wherever the book moved it.
    let cursor = if view.unit.is_some() {
        None
    } else {
        crate::ui::update::ladder_cursor_row(b, ui.book_depth, ui.book_price)
    };
    let Some(window) = Window::new(depth, inner.height, cursor) else { return };
    let shown = &b.levels[..depth];
    let max_size = b.levels[..depth].iter().map(|l| l.ask_size.max(l.bid_size)).max().unwrap_or_default();
    // Our open orders' remaining size per (side, price on the rows): a grouped row holds
    // the orders whose price falls in its bucket.
    // Our orders are Upbit's: on another venue's book a market of the same code (USDT-BTC
    // is listed on both) is not where they rest.
    let ours = ui.market.as_ref().filter(|_| ui.venue.trades());
    let mine = |side: Side, price: Decimal| -> Decimal {
        snap.account
            .open_orders
            .iter()
            .filter(|o| Some(&o.market) == ours && o.side == Some(side))
            .filter(|o| {
                o.price.is_some_and(|p| match view.unit {
                    Some(u) => grouping::bucket(p, u, side == Side::Ask) == price,
                    None => p == price,
                })
            })
            .map(|o| o.remaining_volume)
            .fold(Decimal::ZERO, |a, v| a.checked_add(v).unwrap_or(a))
    };
    // Every row's cells, best first per side.
    let side_rows = |side: Side| -> Vec<Row> {
        let mut cum = Some(Decimal::ZERO);
        let mut value = Some(Decimal::ZERO);
        shown
            .iter()
            .map(|l| {
                let (price, size) =
                    if side == Side::Ask { (l.ask_price, l.ask_size) } else { (l.bid_price, l.bid_size) };
                // Checked: sizes and prices come from the exchange; past Decimal's range
                // the column says `—` rather than a wrong sum.
                cum = cum.and_then(|c| c.checked_add(size));
                value = value.and_then(|v| price.checked_mul(size).and_then(|x| v.checked_add(x)));
                let own = if price.is_zero() { Decimal::ZERO } else { mine(side, price) };
                Row { side, price, size, cum, value, own }
            })
            .collect()
    };
    let asks = side_rows(Side::Ask);
    let bids = side_rows(Side::Bid);
    let line = |l: usize| match window.line(l) {
        LadderLine::Ask(i) => asks.get(i),
        LadderLine::Bid(i) => bids.get(i),
        LadderLine::Spread => None,
    };
    // Columns as wide as the rows on screen need.
    let all: Vec<&Row> = window.lines().filter_map(line).collect();
    let cols = Columns::lay_out(&all, quote, inner.width);
    let header = Line::from(vec![Span::styled(cols.header(quote), theme.header)]);
    buf.set_line(inner.x, inner.y, &header, inner.width);
    // Our orders resting past the rows on screen (deeper than the levels that fit, or
    // than the book reaches: a buy 3% under the market) are not left unseen: their size
    // is said at the end of the header (above the rows) or of the totals (below them).
    let (above, below) = {
        let prices = all.iter().map(|r| r.price).filter(|p| !p.is_zero());
        let (top, bottom) = (prices.clone().max(), prices.min());
        let mut above = [Decimal::ZERO; 2];
        let mut below = [Decimal::ZERO; 2];
        for o in snap.account.open_orders.iter().filter(|o| Some(&o.market) == ours) {
            let (Some(side), Some(p)) = (o.side, o.price) else { continue };
            let p = view.unit.map_or(p, |u| grouping::bucket(p, u, side == Side::Ask));
            let k = usize::from(side == Side::Bid);
            let add = |a: &mut Decimal| *a = a.checked_add(o.remaining_volume).unwrap_or(*a);
            if top.is_some_and(|t| p > t) {
                add(&mut above[k]);
            } else if bottom.is_some_and(|b| p < b) {
                add(&mut below[k]);
            }
        }
        (above, below)
    };
    let beyond = |sums: [Decimal; 2], arrow: char| -> String {
        sums.iter().filter(|v| !v.is_zero()).map(|v| format!(" ◀{}{arrow}", format::qty(*v, 4))).collect()
    };
    let note_at_end = |buf: &mut Buffer, y: u16, used: usize, note: String| {
        let w = note.chars().count();
        if !note.is_empty() && used + w <= usize::from(inner.width) {
            let x = inner.x + inner.width - w as u16;
            buf.set_stringn(x, y, note, w, theme.highlight);
        }
    };
    note_at_end(buf, inner.y, header.width(), beyond(above, '↑'));
    let mut y = inner.y + 1;
    let draw_row = |buf: &mut Buffer, y: u16, row_no: usize, r: &Row| {
        let side_style = if stale {
            theme.stale
        } else if r.side == Side::Ask {
            theme.ask
        } else {
            theme.bid
        };
        let text_style = if stale { theme.stale } else { theme.text };
        if r.price.is_zero() {
            return;
        }
        let mut spans = vec![
            Span::styled(format!("{:>w$}", format::market_price(quote, r.price), w = cols.price), side_style),
            Span::styled(format!(" {:>w$}", cols.size_cell(r.size), w = cols.size), text_style),
        ];
        if cols.cum > 0 {
            spans.push(Span::styled(format!(" {:>w$}", cols.cum_cell(r.cum), w = cols.cum), theme.muted));
        }
        if cols.value > 0 {
            spans.push(Span::styled(
                format!(" {:>w$}", cols.value_cell(r.value, quote), w = cols.value),
                theme.muted,
            ));
        }
        let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
        // The marker's room (the widest marker on screen, and the space before it) is
        // kept on every row, so every bar has one length for one size: a marked row's
        // bar is never shortened to make room for it.
        let room = usize::from(inner.width).saturating_sub(used + 1);
        // The bar goes before any number: none once the value column has given way.
        let bar_w = match (cols.value, cols.own) {
            (0, _) => 0,
            (_, 0) => room,
            (_, own) => room.saturating_sub(own + 1),
        };
        if room > 0 {
            spans.push(Span::raw(" "));
            let bar = depth_bar::bar(r.size, max_size, bar_w as u16);
            let pad = bar_w.saturating_sub(bar.chars().count());
            spans.push(Span::styled(bar, side_style));
            if !r.own.is_zero() {
                let gap = if bar_w > 0 { pad + 1 } else { 0 };
                spans.push(Span::raw(" ".repeat(gap)));
                spans.push(Span::styled(format!("◀{}", format::qty(r.own, 4)), theme.highlight));
            }
        }
        buf.set_line(inner.x, y, &Line::from(spans), inner.width);
        if Some(row_no) == cursor && ui.focus == PaneId::Orderbook {
            let w = (cols.price + 1 + cols.size) as u16;
            buf.set_style(Rect::new(inner.x, y, w.min(inner.width), 1), theme.selection);
        }
    };
    let spread_y = window.lines().position(|l| window.line(l) == LadderLine::Spread).map(|k| y + k as u16);
    for l in window.lines() {
        match (window.line(l), line(l)) {
            (LadderLine::Ask(i), Some(r)) => draw_row(buf, y, depth - 1 - i, r),
            (LadderLine::Bid(i), Some(r)) => draw_row(buf, y, depth + i, r),
            _ => {}
        }
        y += 1;
    }
    if let (Some(ask), Some(bid), Some(sy)) = (b.best_ask(), b.best_bid(), spread_y) {
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
        buf.set_stringn(inner.x, sy, text, inner.width as usize, theme.muted);
    }
    // Both totals always show: when the pair does not fit in full (SHIB's billions), each
    // is shortened by magnitude to half the line, never cut off the pane.
    // Each is the size from the best level to the deepest row of its side on screen: the
    // same number as that side's last Σsize cell, never the whole book's (levels not
    // shown, which the pane cannot add up for the reader). A side with no row on screen
    // (the ladder scrolled away from it) says `—`.
    // Lines run from the deepest ask down to the deepest bid.
    let on_side = |side: Side| all.iter().filter(move |r| r.side == side && !r.price.is_zero());
    let cum_of = |deepest: Option<&&Row>| deepest.and_then(|r| r.cum);
    let (ask_cum, bid_cum) = (cum_of(on_side(Side::Ask).next()), cum_of(on_side(Side::Bid).next_back()));
    let full = |c: Option<Decimal>| c.map_or_else(|| "—".to_string(), size_text);
    let (mut ask_total, mut bid_total) = (full(ask_cum), full(bid_cum));
    let labels = " Σask   Σbid ".chars().count();
    if labels + ask_total.chars().count() + bid_total.chars().count() > inner.width as usize {
        let half = (inner.width as usize).saturating_sub(labels) / 2;
        // As the Σsize column writes it where that column is shortened too (`13.50M`
        // under `13.50M`, not `13.5M`).
        let short = |c: Option<Decimal>, text: String| {
            let cell = if cols.cum_short {
                cols.short_cums.cell_or(c, size_text).trim_end().to_string()
            } else {
                text
            };
            format::fit(cell, half as u16)
        };
        ask_total = short(ask_cum, ask_total);
        bid_total = short(bid_cum, bid_total);
    }
    let totals = Line::from(vec![
        Span::styled(" Σask ", theme.muted),
        Span::styled(ask_total, if stale { theme.stale } else { theme.ask }),
        Span::styled("  Σbid ", theme.muted),
        Span::styled(bid_total, if stale { theme.stale } else { theme.bid }),
    ]);
    if y < inner.y + inner.height {
        buf.set_line(inner.x, y, &totals, inner.width);
        note_at_end(buf, y, totals.width(), beyond(below, '↓'));
    }
}

/// What a line of the ladder shows: an ask level (its index, best = 0), the spread, or
/// a bid level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LadderLine {
    Ask(usize),
    Spread,
    Bid(usize),
}

/// The ladder's lines on screen. The whole ladder is `depth` asks (worst at the top), the
/// spread line and `depth` bids; a pane too short for it shows `2n + 1` of those lines:
/// centred on the spread, or moved just far enough that the cursor's row is on screen
/// (a trader who moves the cursor deeper sees where it is, as in any price ladder).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    depth: usize,
    /// The first line shown (0 = the worst ask of the whole ladder).
    first: usize,
    /// Lines shown.
    len: usize,
}

impl Window {
    /// The window for `depth` levels a side in a pane body `height` rows tall (header and
    /// totals included), keeping ladder row `cursor` (asks `0..depth` worst first, then
    /// bids) on screen. `None` when not one level a side fits.
    pub(crate) fn new(depth: usize, height: u16, cursor: Option<usize>) -> Option<Self> {
        let n = depth.min(usize::from(height).saturating_sub(3) / 2);
        if n == 0 {
            return None;
        }
        let len = 2 * n + 1;
        let mut first = depth - n;
        // The cursor row's line: the spread line sits between the asks and the bids.
        if let Some(c) = cursor.filter(|&c| c < 2 * depth).map(|c| if c < depth { c } else { c + 1 }) {
            if c < first {
                first = c;
            } else if c >= first + len {
                first = c + 1 - len;
            }
        }
        Some(Self { depth, first, len })
    }

    /// The ladder line numbers on screen, top to bottom.
    pub(crate) fn lines(&self) -> std::ops::Range<usize> {
        self.first..self.first + self.len
    }

    /// What ladder line `l` shows.
    pub(crate) fn line(&self, l: usize) -> LadderLine {
        match l.cmp(&self.depth) {
            std::cmp::Ordering::Less => LadderLine::Ask(self.depth - 1 - l),
            std::cmp::Ordering::Equal => LadderLine::Spread,
            std::cmp::Ordering::Greater => LadderLine::Bid(l - self.depth - 1),
        }
    }

    /// What the `k`th line on screen (0 = just under the header) shows.
    pub(crate) fn at(&self, k: usize) -> Option<LadderLine> {
        (k < self.len).then(|| self.line(self.first + k))
    }
}

/// One level of one side, with the sums from the spread out to it.
struct Row {
    side: Side,
    price: Decimal,
    size: Decimal,
    /// Size from the best level to this one (`None`: past Decimal's range).
    cum: Option<Decimal>,
    /// Quote value (price × size) from the best level to this one.
    value: Option<Decimal>,
    /// Our open orders' remaining size on this level.
    own: Decimal,
}

/// Column widths (0: the column is left out) and how their cells are written.
struct Columns {
    price: usize,
    size: usize,
    /// Decimals (with the point) the widest-fraction size has: the others are padded to it.
    size_frac: usize,
    /// Sizes shortened by magnitude (the pane is too narrow for them in full).
    size_short: bool,
    cum: usize,
    cum_frac: usize,
    cum_short: bool,
    value: usize,
    /// Fraction width the values are padded to (all have the quote's decimals but one
    /// too small for them, which keeps its digits).
    value_frac: usize,
    /// Width of the value column in full: narrower, its cells are shortened.
    value_full: usize,
    value_short: ShortValues,
    /// Width of the widest own-order marker on screen (`◀0.01`; 0: none).
    own: usize,
    /// How shortened sizes and cumulative sizes are written: one precision a column.
    short_sizes: ShortValues,
    short_cums: ShortValues,
}

/// Narrowest useful depth bar.
const MIN_BAR: usize = 4;
/// Width of a shortened cumulative cell (`41.17M`, `617.6M`).
const SHORT: usize = 7;

impl Columns {
    /// Widths for the rows drawn in `width` cells: the columns that fit, in the order
    /// price, size, cumulative size, cumulative value, bar.
    fn lay_out(rows: &[&Row], quote: &str, width: u16) -> Self {
        let width = usize::from(width);
        let live: Vec<&&Row> = rows.iter().filter(|r| !r.price.is_zero()).collect();
        let price = live
            .iter()
            .map(|r| format::market_price(quote, r.price).chars().count())
            .chain(["price".len()])
            .max()
            .unwrap_or(5);
        let (size, size_frac) = aligned(live.iter().map(|r| size_text(r.size)), "size".len());
        let (cum, cum_frac) =
            aligned(live.iter().map(|r| r.cum.map_or("—".into(), size_text)), "Σsize".chars().count());
        let value_short = ShortValues::new(&live.iter().map(|r| r.value).collect::<Vec<_>>(), quote);
        let value = live
            .iter()
            .map(|r| value_short.cell(r.value, quote).chars().count())
            .chain([quote.len() + 1])
            .max()
            .unwrap_or(4);
        let own = live
            .iter()
            .map(|r| if r.own.is_zero() { 0 } else { 1 + format::qty(r.own, 4).chars().count() })
            .max()
            .unwrap_or(0);
        let (value_full, value_frac) = aligned(live.iter().map(|r| value_text_full(r.value, quote)), value);
        // Price, then each further column with the space before it.
        let base = price + 1 + size;
        let mut c = Columns {
            price,
            size,
            size_frac,
            size_short: false,
            cum: 0,
            cum_frac,
            cum_short: false,
            value: 0,
            value_frac,
            value_full,
            value_short,
            own,
            short_sizes: ShortValues::within(&[], 0, 4),
            short_cums: ShortValues::within(&[], 0, 4),
        };
        let short = cum.min(SHORT.max("Σsize".chars().count()));
        let cums: Vec<Option<Decimal>> = live.iter().map(|r| r.cum).collect();
        c.short_cums = ShortValues::within(&cums, short, 4);
        // Preference order: everything in full; the value shortened (`1.71B`); the
        // cumulative size shortened; no bar; no value column; no cumulative size. Our
        // orders' marker (`◀0.01`) always has its room at the end of the row, after the
        // bar's (never inside it), bar or not.
        let layouts: [(usize, bool, usize, bool); 7] = [
            (cum, false, value_full, true),
            (cum, false, value, true),
            (short, short < cum, value, true),
            (short, short < cum, value, false),
            (short, short < cum, 0, true),
            (short, short < cum, 0, false),
            (0, false, 0, false),
        ];
        for (cw, cshort, vw, bar) in layouts {
            let tail = match (bar, own) {
                (true, 0) => MIN_BAR,
                (true, own) => MIN_BAR + 1 + own,
                (false, own) => own,
            };
            let need = base
                + if cw > 0 { 1 + cw } else { 0 }
                + if vw > 0 { 1 + vw } else { 0 }
                + if tail > 0 { 1 + tail } else { 0 };
            if need <= width {
                c.cum = cw;
                c.cum_short = cshort;
                c.value = vw;
                return c;
            }
        }
        // Not even price and size in full: sizes shortened by magnitude, prices never.
        c.size_short = true;
        c.size = width.saturating_sub(price + 1 + if own > 0 { own + 1 } else { 0 }).max(4);
        let sizes: Vec<Option<Decimal>> = live.iter().map(|r| Some(r.size)).collect();
        c.short_sizes = ShortValues::within(&sizes, c.size, 4);
        c
    }

    fn header(&self, quote: &str) -> String {
        let mut h = format!("{:>p$} {:>s$}", "price", "size", p = self.price, s = self.size);
        if self.cum > 0 {
            h.push_str(&format!(" {:>w$}", "Σsize", w = self.cum));
        }
        if self.value > 0 {
            h.push_str(&format!(" {:>w$}", format!("Σ{quote}"), w = self.value));
        }
        h
    }

    fn size_cell(&self, size: Decimal) -> String {
        let text = size_text(size);
        if self.size_short {
            self.short_sizes.cell_or(Some(size), size_text)
        } else {
            pad_fraction(text, self.size_frac)
        }
    }

    fn cum_cell(&self, cum: Option<Decimal>) -> String {
        let Some(c) = cum else { return "—".into() };
        let text = size_text(c);
        if self.cum_short {
            self.short_cums.cell_or(Some(c), size_text)
        } else {
            pad_fraction(text, self.cum_frac)
        }
    }

    fn value_cell(&self, value: Option<Decimal>, quote: &str) -> String {
        if self.value < self.value_full {
            return self.value_short.cell(value, quote);
        }
        pad_fraction(value_text_full(value, quote), self.value_frac)
    }
}

/// A size as the book shows it: up to 4 decimals, grouped.
fn size_text(q: Decimal) -> String {
    format::qty(q, 4)
}

/// A cumulative value in full at its quote's precision, always with that many decimals
/// (whole won on KRW, `10,716.10` on USDT) so the column reads at one precision and lines
/// up on its decimal point. Cut past the precision like the sizes, never rounded up; a
/// value too small for it keeps its digits rather than read `0.00`.
fn value_text_full(v: Option<Decimal>, quote: &str) -> String {
    let Some(v) = v else { return "—".into() };
    let dp = format::quote_decimals(quote);
    let mut shown = v.round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::ToZero);
    if shown.is_zero() && !v.is_zero() {
        return format::qty(v, dp);
    }
    shown.rescale(dp);
    crate::exchange::display::group(&shown.to_string())
}

/// Widest shortened value cell (`11.61K`, `244.2M`).
const SHORT_VALUE: usize = 6;

/// How a narrow value column writes its cells: from a thousand up by magnitude with one
/// number of decimals (`11.61K` above `9.50K`, never `9.5K`), below it in full with one
/// number of decimals too; both the most that let every cell fit [`SHORT_VALUE`].
/// The same rule writes a shortened size column (`41.17M` above `1.50M`, never `1.5M`),
/// its cells below a thousand at up to a size's four decimals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ShortValues {
    /// Decimals of the cells shortened with a unit.
    scaled: u32,
    /// Decimals of the cells below a thousand.
    plain: u32,
    /// Some cell has a unit: the others leave its place blank so the points line up.
    units: bool,
    /// Widest cell.
    width: usize,
}

impl ShortValues {
    fn new(values: &[Option<Decimal>], quote: &str) -> Self {
        let qd = format::quote_decimals(quote);
        let s = Self::within(values, SHORT_VALUE, qd);
        // The value column is as wide as its cells: a plain cell's blank (left where the
        // others have a unit) may go past [`SHORT_VALUE`], a unit's cell may not.
        if s.units { Self { scaled: s.scaled, ..Self::within(values, SHORT_VALUE + 1, qd) } } else { s }
    }

    /// Cells of at most `width` columns, those below a thousand with at most `max_plain`
    /// decimals.
    fn within(values: &[Option<Decimal>], width: usize, max_plain: u32) -> Self {
        let thousand = Decimal::from(1000);
        let (big, small): (Vec<Decimal>, Vec<Decimal>) =
            values.iter().flatten().partition(|v| v.abs() >= thousand);
        // A unit's cell keeps no blank after it; a plain one does when some cell has a unit.
        let units = !big.is_empty();
        let fits = |vs: &[Decimal], dp: u32, scaled: bool| {
            let room = if units && !scaled { width.saturating_sub(1) } else { width };
            vs.iter().all(|&v| short_number(v, dp, scaled).chars().count() <= room)
        };
        let scaled = (0..=2).rev().find(|&dp| fits(&big, dp, true)).unwrap_or(0);
        let plain = (0..=max_plain).rev().find(|&dp| fits(&small, dp, false)).unwrap_or(0);
        Self { scaled, plain, units, width }
    }

    fn cell(&self, v: Option<Decimal>, quote: &str) -> String {
        self.cell_or(v, |v| value_text_full(Some(v), quote))
    }

    /// A cell; one cut to nothing at the column's decimals is `full(v)` shortened.
    fn cell_or(&self, v: Option<Decimal>, full: impl Fn(Decimal) -> String) -> String {
        let Some(v) = v else { return "—".into() };
        if v.abs() >= Decimal::from(1000) {
            return short_number(v, self.scaled, true);
        }
        let text = short_number(v, self.plain, false);
        // Cut to nothing: the digits it has, shortened as far as they go (never `0`).
        let room = if self.units { self.width.saturating_sub(1) } else { self.width };
        let text = if text.trim_start_matches(['-', '0', '.']).is_empty() && !v.is_zero() {
            format::fit(full(v), room as u16)
        } else {
            text
        };
        if self.units { format!("{text} ") } else { text }
    }
}

/// `v` with `dp` decimals, cut (never rounded up): by its magnitude with a unit when
/// `scaled` (`11.61K`), in full otherwise.
fn short_number(v: Decimal, dp: u32, scaled: bool) -> String {
    let a = v.abs();
    let units = [(1_000_000_000_000i64, "T"), (1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")];
    let (unit, suffix) = units
        .iter()
        .map(|&(u, s)| (Decimal::from(u), s))
        .find(|(u, _)| scaled && a >= *u)
        .unwrap_or((Decimal::ONE, ""));
    let mut shown =
        v.checked_div(unit).unwrap_or(v).round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::ToZero);
    shown.rescale(dp);
    format!("{}{suffix}", crate::exchange::display::group(&shown.to_string()))
}

/// The width of a column of numbers right-aligned on their decimal point, and the
/// fraction width (point included) they are padded to.
fn aligned(texts: impl Iterator<Item = String>, header: usize) -> (usize, usize) {
    let texts: Vec<String> = texts.collect();
    let frac = texts.iter().map(|t| fraction_width(t)).max().unwrap_or(0);
    let w = texts
        .iter()
        .map(|t| t.chars().count() - fraction_width(t) + frac)
        .chain([header])
        .max()
        .unwrap_or(header);
    (w, frac)
}

/// `text` padded on the right so its decimal point lines up with numbers of `frac`
/// fraction width when right-aligned.
fn pad_fraction(text: String, frac: usize) -> String {
    let pad = frac.saturating_sub(fraction_width(&text));
    format!("{text}{}", " ".repeat(pad))
}

/// Columns the decimal point and the decimals of a number take (`1.25` → 3, `120` → 0).
fn fraction_width(text: &str) -> usize {
    text.split_once('.').map_or(0, |(_, f)| f.chars().count() + 1)
}
