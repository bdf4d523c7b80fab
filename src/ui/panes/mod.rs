//! The panes and the frame renderer. [`render`] is a pure function of the UI state, the
//! snapshot and the theme: no locks, no I/O, no awaiting. It returns the layout it used so
//! callers can hit-test mouse clicks.
//!
//! [`render_cached`] draws the same frame but reuses a pane's cells from an earlier frame
//! when nothing that pane shows has changed: its area, the UI state, the quarter-second of
//! the clock (ages, staleness) and the snapshot sections it reads ([`reads`]). A tick of
//! one market then redraws the markets list, not the chart, the book and the tape.

pub(crate) mod alerts;
pub mod chart;
pub(crate) mod completion;
pub(crate) mod form;
pub(crate) mod help;
pub mod limits;
pub mod log;
pub mod markets;
pub mod monitor;
pub mod orderbook;
pub mod orders;
pub mod overlay;
pub mod portfolio;
pub mod status;
pub mod system;
pub mod trades;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ratatui::buffer::{Buffer, Cell};
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use super::layout::{self, MIN_HEIGHT, MIN_WIDTH, PaneId, ScreenLayout};
use super::state::UiState;
use super::theme::Theme;
use crate::exchange::types::MarketId;
use crate::store::Snapshot;

/// The bordered block of a pane, highlighted when focused.
pub(crate) fn pane_block<'a>(pane: PaneId, extra: Vec<Span<'a>>, ui: &UiState, theme: &Theme) -> Block<'a> {
    let focused = ui.focus == pane;
    let border = if focused { theme.focus_border } else { theme.border };
    let mut title = vec![Span::styled(
        format!(" {} ", pane.title()),
        if focused { theme.focus_border } else { theme.header },
    )];
    title.extend(extra);
    Block::bordered().border_style(border).title(Line::from(title)).style(theme.background)
}

/// The rows of a list a pane shows when they do not all fit: `start..end` of the list,
/// with one line left for the [`RowWindow::hint`] that says how many are left out. A
/// pane never hides rows without saying so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RowWindow {
    /// First row shown.
    pub start: usize,
    /// One past the last row shown.
    pub end: usize,
    /// Rows of the list in all.
    pub total: usize,
}

impl RowWindow {
    /// The rows of `total` that fit `height` lines, keeping the `cursor`'s row in view
    /// (pass 0 for a pane without a cursor). When some are left out, one of the lines is
    /// the hint's.
    pub(crate) fn new(total: usize, height: usize, cursor: usize) -> RowWindow {
        if total <= height {
            return RowWindow { start: 0, end: total, total };
        }
        let room = height.saturating_sub(1).max(1).min(total);
        let start = (cursor.min(total - 1) + 1).saturating_sub(room).min(total - room);
        RowWindow { start, end: start + room, total }
    }

    /// `↑ 1 more  ↓ 2 more` for the rows above and below the window; `None` when every
    /// row is shown.
    pub(crate) fn hint(&self) -> Option<String> {
        let below = self.total - self.end;
        let parts: Vec<String> = [(self.start, '↑'), (below, '↓')]
            .into_iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, arrow)| format!("{arrow} {n} more"))
            .collect();
        (!parts.is_empty()).then(|| parts.join("  "))
    }
}

/// Draws one whole frame. Returns the layout, or None when the terminal is too small.
pub fn render(
    area: Rect,
    buf: &mut Buffer,
    ui: &UiState,
    snap: &Snapshot,
    theme: &Theme,
) -> Option<ScreenLayout> {
    render_frame(area, buf, ui, snap, theme, None)
}

/// Draws one whole frame like [`render`], reusing from `cache` the panes whose inputs did
/// not change. `ui_generation` must change whenever the UI state or the theme may have
/// changed (the app counts its key presses, resizes, commands and theme switches).
pub(crate) fn render_cached(
    area: Rect,
    buf: &mut Buffer,
    ui: &UiState,
    ui_generation: u64,
    snap: &Snapshot,
    theme: &Theme,
    cache: &mut PaneCache,
) -> Option<ScreenLayout> {
    render_frame(area, buf, ui, snap, theme, Some((cache, ui_generation)))
}

fn render_frame(
    area: Rect,
    buf: &mut Buffer,
    ui: &UiState,
    snap: &Snapshot,
    theme: &Theme,
    mut cache: Option<(&mut PaneCache, u64)>,
) -> Option<ScreenLayout> {
    buf.set_style(area, theme.background);
    let Some(mut screen) = layout::compute(ui, area) else {
        let msg = format!(
            "terminal too small (need {MIN_WIDTH}x{MIN_HEIGHT}, have {}x{})",
            area.width, area.height
        );
        let y = area.height / 2;
        let line_area = Rect::new(area.x, area.y + y, area.width, area.height - y);
        Paragraph::new(msg)
            .style(theme.warning)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true })
            .render(line_area, buf);
        return None;
    };
    // A message wrapped upwards over the panes would hide the last line of the panes
    // just above the bottom line, where a pane says what it leaves out (`+1 more ↓`):
    // while it shows, those panes are drawn that much shorter (a pane too short for it
    // stays under the message).
    let above = overlay::message_rows_above(screen.bottom, ui);
    for (_, rect) in screen.panes.iter_mut().filter(|(_, r)| r.bottom() == screen.bottom.y) {
        if above > 0 && rect.height >= above + 3 {
            rect.height -= above;
        }
    }
    status::render(screen.status, buf, ui, snap, theme);
    for (pane, rect) in &screen.panes {
        let (pane, rect) = (*pane, *rect);
        match cache.as_mut() {
            Some((cache, ui_generation)) => {
                let key = PaneKey {
                    rect,
                    ui: *ui_generation,
                    clock: cache.clock(ui.now),
                    data: reads(pane, ui, snap),
                };
                if !cache.reuse(pane, key, buf) {
                    render_pane(pane, rect, buf, ui, snap, theme);
                    cache.keep(pane, key, buf);
                }
            }
            None => render_pane(pane, rect, buf, ui, snap, theme),
        }
    }
    if let Some((cache, _)) = cache {
        cache.entries.retain(|pane, _| screen.rect(*pane).is_some());
    }
    overlay::bottom_line(screen.bottom, buf, ui, theme);
    completion::render(area, screen.bottom, buf, ui, theme);
    overlay::render(area, buf, ui, snap, theme);
    Some(screen)
}

fn render_pane(pane: PaneId, rect: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    match pane {
        PaneId::Markets => markets::render(rect, buf, ui, snap, theme),
        PaneId::Orderbook => orderbook::render(rect, buf, ui, snap, theme),
        PaneId::Chart => chart::render(rect, buf, ui, snap, theme),
        PaneId::Trades => trades::render(rect, buf, ui, snap, theme),
        PaneId::Portfolio => portfolio::render(rect, buf, ui, snap, theme),
        PaneId::Orders => orders::render(rect, buf, ui, snap, theme),
        PaneId::Log => log::render(rect, buf, ui, snap, theme),
        PaneId::System => system::render(rect, buf, ui, snap, theme),
        PaneId::Monitor => monitor::render(rect, buf, ui, snap, theme),
    }
}

/// The snapshot sections a pane's drawing reads, as their versions. Reading more than is
/// listed here would leave the pane showing old data, so `tests/ui.rs` checks every pane
/// against an uncached frame after each kind of store event. Everything in the account
/// section is keyed on both `account` and `orders` (a batch touching both bumps only
/// `orders`).
pub fn reads(pane: PaneId, ui: &UiState, snap: &Snapshot) -> [u64; 4] {
    let v = &snap.versions;
    match pane {
        PaneId::Markets => [v.markets, 0, 0, 0],
        // Our own orders are marked on the ladder.
        PaneId::Orderbook => [v.books, v.account, v.orders, 0],
        // Of the tickers, only the selected market's age (not every market's tick); our
        // orders and armed rules are drawn as lines.
        PaneId::Chart => [v.candles, tickers_stamp(snap, ui.market.iter()), v.account, v.orders],
        PaneId::Trades => [v.trades, 0, 0, 0],
        // Balances valued at the last prices of the coins held, not every market's.
        PaneId::Portfolio => {
            let held: Vec<_> = snap.account.balances.iter().filter_map(|b| b.market()).collect();
            [v.account, v.orders, tickers_stamp(snap, held.iter()), 0]
        }
        // Distances from the last prices of the markets with rules.
        PaneId::Monitor => {
            [v.account, v.orders, tickers_stamp(snap, snap.account.rules.iter().map(|r| &r.market)), 0]
        }
        PaneId::Orders => [v.account, v.orders, 0, 0],
        PaneId::Log => [v.log, 0, 0, 0],
        PaneId::System => [v.system, v.tables, v.log, 0],
    }
}

/// The last price and arrival time of some markets' tickers, as one key (a hash: only
/// equality matters). Panes that show a few markets' prices and ages use it instead of
/// the version of all tickers, so a tick elsewhere does not redraw them.
fn tickers_stamp<'a>(snap: &Snapshot, markets: impl Iterator<Item = &'a MarketId>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for m in markets {
        m.hash(&mut h);
        if let Some(t) = snap.market.tickers.get(m) {
            (t.received, t.value.trade_price).hash(&mut h);
        }
    }
    h.finish()
}

/// Pane renderings of earlier frames, kept while their inputs stay the same.
#[derive(Debug)]
pub(crate) struct PaneCache {
    epoch: Instant,
    entries: BTreeMap<PaneId, CachedPane>,
    /// Panes drawn afresh / reused, since the start.
    pub counts: (u64, u64),
}

impl Default for PaneCache {
    fn default() -> Self {
        PaneCache { epoch: Instant::now(), entries: BTreeMap::new(), counts: (0, 0) }
    }
}

#[derive(Debug)]
struct CachedPane {
    key: PaneKey,
    cells: Vec<Cell>,
}

/// Everything a pane's cells depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PaneKey {
    rect: Rect,
    ui: u64,
    clock: u128,
    data: [u64; 4],
}

/// Ages are shown in whole seconds and staleness is judged against the clock: a pane whose
/// data did not change is still redrawn every quarter second, so an age or a stale mark
/// is at most this late.
const CLOCK_STEP: Duration = Duration::from_millis(250);

impl PaneCache {
    fn clock(&self, now: Instant) -> u128 {
        now.saturating_duration_since(self.epoch).as_millis() / CLOCK_STEP.as_millis()
    }

    /// Copies the pane's cells into `buf` when its key is unchanged.
    fn reuse(&mut self, pane: PaneId, key: PaneKey, buf: &mut Buffer) -> bool {
        let Some(hit) = self.entries.get(&pane).filter(|c| c.key == key) else {
            return false;
        };
        let (w, area) = (usize::from(key.rect.width), key.rect.intersection(buf.area));
        if area != key.rect || w == 0 {
            return false;
        }
        for (row, y) in (area.top()..area.bottom()).enumerate() {
            let start = buf.index_of(area.x, y);
            buf.content[start..start + w].clone_from_slice(&hit.cells[row * w..(row + 1) * w]);
        }
        self.counts.1 += 1;
        true
    }

    /// Keeps the cells just drawn for the pane.
    fn keep(&mut self, pane: PaneId, key: PaneKey, buf: &Buffer) {
        self.counts.0 += 1;
        let area = key.rect.intersection(buf.area);
        if area != key.rect {
            self.entries.remove(&pane);
            return;
        }
        let w = usize::from(area.width);
        // The pane's previous cells make room for the new ones (no allocation per frame).
        let mut cells = self.entries.remove(&pane).map(|c| c.cells).unwrap_or_default();
        cells.clear();
        cells.reserve(w * usize::from(area.height));
        for y in area.top()..area.bottom() {
            let start = buf.index_of(area.x, y);
            cells.extend_from_slice(&buf.content[start..start + w]);
        }
        self.entries.insert(pane, CachedPane { key, cells });
    }
}

#[cfg(test)]
mod tests {
    use super::RowWindow;
    use super::*;

    /// 80x24 `trade` layout with two rules in a Monitor that shows one: a two-line
    /// message wraps over the row above the bottom line, and the Monitor's bottom line
    /// with its `+1 more ↓` is still on the screen (the message hid it).
    #[test]
    fn a_two_line_message_does_not_hide_a_panes_more_hint() {
        use crate::exchange::types::MarketId;
        use crate::store::RuleRow;
        use crate::trading::rules::{Level, RuleKind};
        use rust_decimal_macros::dec;
        use std::sync::Arc;
        let rule = |id: &str| RuleRow {
            trigger: Some(dec!(92_150_000)),
            last: Some(dec!(95_000_000)),
            distance: Some(dec!(-0.03)),
            age: Some(Duration::from_secs(1)),
            ..RuleRow::armed(id, MarketId::new("KRW-BTC"), RuleKind::StopLoss(Level::PctFromAvg(dec!(-0.03))))
        };
        let mut snap = Snapshot::default();
        let mut account = (*snap.account).clone();
        account.rules = Arc::new((1..=2).map(|i| rule(&format!("r{i}"))).collect());
        snap.account = Arc::new(account);
        let mut ui = UiState::new(crate::ui::UiConfig::default());
        ui.layout = "trade".into();
        let area = Rect::new(0, 0, 80, 24);
        let draw = |ui: &UiState| {
            let mut buf = Buffer::empty(area);
            let screen = render(area, &mut buf, ui, &snap, &Theme::default()).expect("a layout");
            let text: String =
                (0..24).map(|y| (0..80).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n").collect();
            (screen, text)
        };
        let (before, _) = draw(&ui);
        let monitor = before.rect(PaneId::Monitor).expect("the trade layout shows the Monitor");
        assert_eq!(monitor.bottom(), before.bottom.y, "the Monitor sits on the bottom line");
        ui.error("#4 buy KRW-BTC: denied: max_open_orders is 3: 3 orders are open (cancel one or raise it)");
        let (after, screen) = draw(&ui);
        assert!(screen.contains("more ↓"), "the hint is on the screen:\n{screen}");
        assert!(screen.contains("raise it)"), "the message too:\n{screen}");
        let shorter = after.rect(PaneId::Monitor).expect("still shown");
        assert_eq!(shorter.bottom() + 1, before.bottom.y, "one row for the message's second line");
    }

    /// Four rows in three lines: two rows and the hint; the cursor's row stays in view.
    #[test]
    fn a_row_window_keeps_the_cursor_in_view_and_says_what_it_leaves_out() {
        assert_eq!(RowWindow::new(3, 3, 2).hint(), None);
        let w = RowWindow::new(4, 3, 0);
        assert_eq!((w.start, w.end, w.hint().as_deref()), (0, 2, Some("↓ 2 more")));
        let w = RowWindow::new(4, 3, 2);
        assert_eq!((w.start, w.end, w.hint().as_deref()), (1, 3, Some("↑ 1 more  ↓ 1 more")));
        let w = RowWindow::new(4, 3, 9);
        assert_eq!((w.start, w.end, w.hint().as_deref()), (2, 4, Some("↑ 2 more")));
        // One line: one row and no room for the hint beside it.
        let w = RowWindow::new(4, 1, 3);
        assert_eq!((w.start, w.end), (3, 4));
    }
}
