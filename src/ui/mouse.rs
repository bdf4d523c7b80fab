//! Mouse hit-testing: the pane under a click, and the row of it the click is on (a market
//! of the markets table, a price level of the order book, an open order).
//!
//! The rows are found with the geometry the panes draw with (a bordered block, a header
//! row, the markets table's search line and scroll offset, the book's asks / spread /
//! bids), from the frame on screen: the layout and the snapshot that frame was drawn
//! from, so a click picks what the user saw even if newer data has arrived since.

use ratatui::layout::{Position, Rect};

use crate::exchange::types::{MarketId, Price};
use crate::store::Snapshot;
use crate::ui::layout::{PaneId, ScreenLayout};
use crate::ui::state::{UiState, visible_markets};

/// What is under the pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    /// The pane.
    pub pane: PaneId,
    /// The row of it, when the click is on one that can be selected.
    pub row: Option<RowHit>,
}

/// A selectable row under the pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RowHit {
    /// The markets table's row `index` (in the filtered, sorted list), showing `market`.
    Market {
        /// Index in [`visible_markets`].
        index: usize,
        /// The market on that row.
        market: MarketId,
    },
    /// An order book level: the price on that row (an ask above the spread, a bid below);
    /// for a row of the book with no price of its own (the header, the spread line, the
    /// totals) the best bid drawn, so a click there puts the cursor on a price the trader
    /// sees rather than leaving it to follow the book.
    Book(Price),
    /// The orders pane's open order `index`.
    Order(usize),
}

/// The pane and row at column `x`, row `y` of the screen described by `layout`, drawn
/// from `ui` and `snap`. `None` outside every pane (status bar, message line).
pub(crate) fn hit(layout: &ScreenLayout, ui: &UiState, snap: &Snapshot, x: u16, y: u16) -> Option<Hit> {
    let (pane, area) = layout.panes.iter().find(|(_, r)| r.contains(Position::new(x, y))).copied()?;
    let row = match pane {
        PaneId::Markets => market_row(area, ui, snap, y),
        PaneId::Orderbook => book_row(area, ui, snap, y),
        PaneId::Orders => order_row(area, ui, snap, y),
        _ => None,
    };
    Some(Hit { pane, row })
}

/// Inside a pane's border (every pane is a bordered block).
fn inner(area: Rect) -> Rect {
    Rect::new(area.x + 1, area.y + 1, area.width.saturating_sub(2), area.height.saturating_sub(2))
}

/// The markets table: a search line when searching or filtered, a header row, then rows
/// scrolled so the cursor stays on screen (as `panes::markets` draws them).
fn market_row(area: Rect, ui: &UiState, snap: &Snapshot, y: u16) -> Option<RowHit> {
    let inner = inner(area);
    if inner.height < 2 {
        return None;
    }
    let rows = visible_markets(ui, snap);
    let body = crate::ui::panes::markets::body(inner, ui, snap, &rows);
    let first_row_y = body.table.y + 1;
    if y < first_row_y {
        return None;
    }
    let k = usize::from(y - first_row_y);
    if k >= body.rows {
        return None;
    }
    let index = body.offset + k;
    rows.get(index).map(|m| RowHit::Market { index, market: m.market.clone() })
}

/// The order book: a header row, the asks (worst at the top), the spread line, the bids
/// (best at the top), as many levels a side as fit (as `panes::orderbook` draws them).
/// Any other row of the book names the best bid (never a neighbouring row's price).
fn book_row(area: Rect, ui: &UiState, snap: &Snapshot, y: u16) -> Option<RowHit> {
    // A grouped row is a bucket, not a price; the depth chart has no rows.
    if ui.book_group > 0 || ui.book_chart {
        return None;
    }
    let inner = inner(area);
    let book = &ui.market.as_ref().and_then(|m| snap.market.books.get(m))?.value;
    let depth = ui.book_depth.min(book.levels.len());
    if inner.height < 4 || inner.width < 20 || depth == 0 {
        return None;
    }
    // The ladder's lines as drawn: scrolled to keep the cursor's row on screen.
    use crate::ui::panes::orderbook::{LadderLine, Window};
    let cursor = crate::ui::update::ladder_cursor_row(book, ui.book_depth, ui.book_price);
    let window = Window::new(depth, inner.height, cursor)?;
    let line = usize::from(y).checked_sub(usize::from(inner.y) + 1).and_then(|k| window.at(k));
    let y = usize::from(y);
    let price = if let Some(LadderLine::Ask(i)) = line {
        book.levels.get(i)?.ask_price
    } else if let Some(LadderLine::Bid(i)) = line {
        book.levels.get(i)?.bid_price
    } else if (usize::from(inner.y)..usize::from(inner.bottom())).contains(&y) {
        book.levels.first()?.bid_price
    } else {
        // The border: focuses the pane, leaves the cursor where it is.
        return None;
    };
    (!price.is_zero()).then_some(RowHit::Book(price))
}

/// The orders pane: the open orders, then the refused ones, as `panes::orders` draws
/// and scrolls them (fills are not selectable).
fn order_row(area: Rect, ui: &UiState, snap: &Snapshot, y: u16) -> Option<RowHit> {
    crate::ui::panes::orders::row_at(ui, snap, inner(area), y).map(RowHit::Order)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::exchange::types::{BookLevel, MarketInfo, OrderBook, Ticker};
    use crate::ui::state::UiConfig;
    use crate::ui::theme::Theme;
    use ratatui::buffer::Buffer;
    use rust_decimal::Decimal;

    /// The text of screen row `y` of `buf`.
    pub(crate) fn line(buf: &Buffer, y: u16) -> String {
        (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect()
    }

    /// `n` KRW markets (KRW-BTC first), each with a ticker (rising, falling, flat in
    /// turn), and a 15-level book around 100,000 on KRW-BTC.
    pub(crate) fn snapshot(n: usize) -> Snapshot {
        let now = std::time::Instant::now();
        let mut snap = Snapshot::default();
        let mut section = (*snap.market).clone();
        let codes: Vec<String> =
            std::iter::once("BTC".to_string()).chain((1..n).map(|i| format!("C{i:02}"))).collect();
        section.set_markets(
            codes
                .iter()
                .map(|c| MarketInfo {
                    market: MarketId::new(&format!("KRW-{c}")),
                    korean_name: c.clone(),
                    english_name: c.clone(),
                    warning: false,
                    caution: false,
                })
                .collect(),
        );
        for (i, c) in codes.iter().enumerate() {
            let rate = [Decimal::new(12, 3), Decimal::new(-34, 3), Decimal::ZERO][i % 3];
            section.put_ticker(
                Ticker {
                    market: Some(MarketId::new(&format!("KRW-{c}"))),
                    trade_price: Decimal::from(100_000 + 1000 * i as i64),
                    signed_change_rate: rate,
                    ..Ticker::default()
                },
                now,
            );
        }
        section.put_book(
            OrderBook {
                market: Some(MarketId::new("KRW-BTC")),
                levels: (0..15)
                    .map(|i| BookLevel {
                        ask_price: Decimal::from(100_100 + 100 * i),
                        bid_price: Decimal::from(100_000 - 100 * i),
                        ask_size: Decimal::ONE,
                        bid_size: Decimal::ONE,
                    })
                    .collect(),
                ..OrderBook::default()
            },
            now,
        );
        snap.market = std::sync::Arc::new(section);
        snap
    }

    /// UI state showing KRW-BTC on a `w`x`h` screen.
    pub(crate) fn ui(w: u16, h: u16) -> UiState {
        let mut ui = UiState::new(UiConfig::default());
        ui.market = Some(MarketId::new("KRW-BTC"));
        ui.area = Rect::new(0, 0, w, h);
        ui.now = std::time::Instant::now();
        ui
    }

    #[test]
    fn a_click_finds_the_pane_and_the_row_drawn_there() {
        for (w, h) in [(120, 40), (80, 24)] {
            let snap = snapshot(40);
            let mut ui = ui(w, h);
            // Scrolled: the cursor far down the list, so the first rows are not the first markets.
            ui.markets.cursor = 30;
            let area = Rect::new(0, 0, w, h);
            let mut buf = Buffer::empty(area);
            let layout =
                crate::ui::panes::render(area, &mut buf, &ui, &snap, &Theme::dark()).expect("a layout");

            // Every markets row: the row clicked shows the market the hit names.
            let markets = layout.rect(PaneId::Markets).expect("markets shown");
            let mut seen = 0;
            for y in markets.y..markets.y + markets.height {
                match hit(&layout, &ui, &snap, markets.x + 2, y) {
                    Some(Hit { pane: PaneId::Markets, row: Some(RowHit::Market { index, market }) }) => {
                        let text = line(&buf, y);
                        assert!(text.contains(market.base()), "{w}x{h} row {y}: {text:?} vs {market}");
                        assert!(index > 0, "scrolled: the first market is off screen");
                        seen += 1;
                    }
                    Some(Hit { pane: PaneId::Markets, row: None }) => {}
                    other => panic!("{w}x{h} row {y} of the markets pane: {other:?}"),
                }
            }
            assert!(seen >= 5, "{w}x{h}: {seen} market rows hit");

            // Every book row: the price the hit names is the price drawn on that row.
            if let Some(book) = layout.rect(PaneId::Orderbook) {
                let (mut asks, mut bids) = (0, 0);
                for y in book.y..book.y + book.height {
                    let found = hit(&layout, &ui, &snap, book.x + 3, y);
                    assert_eq!(found.as_ref().map(|f| f.pane), Some(PaneId::Orderbook));
                    if let Some(Hit { row: Some(RowHit::Book(p)), .. }) = found {
                        let text = line(&buf, y);
                        // Header, spread and totals name the best bid (drawn elsewhere).
                        if !text.contains(&crate::ui::widgets::format::price(p)) {
                            assert_eq!(
                                Some(p),
                                snap.market.books.values().next().and_then(|b| b.value.best_bid())
                            );
                            continue;
                        }
                        let drawn = crate::ui::widgets::format::price(p);
                        assert!(text.contains(&drawn), "{w}x{h} row {y}: {text:?} vs {drawn}");
                        if p > Decimal::from(100_000) {
                            asks += 1;
                        } else {
                            bids += 1;
                        }
                    }
                }
                assert!(asks > 2 && asks == bids, "{w}x{h}: {asks} asks, {bids} bids");
            }

            // Outside every pane (the status bar): nothing.
            assert_eq!(hit(&layout, &ui, &snap, 5, 0), None);
        }
    }
}
