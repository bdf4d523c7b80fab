//! The panes and the frame renderer. [`render`] is a pure function of the UI state, the
//! snapshot and the theme: no locks, no I/O, no awaiting. It returns the layout it used so
//! callers can hit-test mouse clicks.

pub mod chart;
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

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use super::layout::{self, MIN_HEIGHT, MIN_WIDTH, PaneId, ScreenLayout};
use super::theme::Theme;
use super::update::UiState;
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

/// Draws one whole frame. Returns the layout, or None when the terminal is too small.
pub fn render(
    area: Rect,
    buf: &mut Buffer,
    ui: &UiState,
    snap: &Snapshot,
    theme: &Theme,
) -> Option<ScreenLayout> {
    buf.set_style(area, theme.background);
    let Some(screen) = layout::compute(ui, area) else {
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
    status::render(screen.status, buf, ui, snap, theme);
    for (pane, rect) in &screen.panes {
        let rect = *rect;
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
    overlay::bottom_line(screen.bottom, buf, ui, theme);
    overlay::render(area, buf, ui, snap, theme);
    Some(screen)
}
