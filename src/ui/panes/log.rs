//! Log pane: application log records, newest first, filtered by minimum level.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::pane_block;
use crate::store::{LogLevel, Snapshot};
use crate::ui::layout::PaneId;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use crate::ui::widgets::format;

/// Draws the log pane.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let extra = vec![Span::styled(format!("≥{} ", ui.log_level.label()), theme.muted)];
    let block = pane_block(PaneId::Log, extra, ui, theme);
    let inner = block.inner(area);
    block.render(area, buf);
    let records: Vec<_> = snap.system.logs.iter().filter(|r| r.level >= ui.log_level).collect();
    let skip = ui.scroll.get(&PaneId::Log).copied().unwrap_or(0).min(records.len().saturating_sub(1));
    // Line by line into the buffer, borrowing the texts: a `Paragraph` would walk every
    // grapheme of long messages to cut them at the pane's edge, for every frame.
    for (y, r) in (inner.y..inner.bottom()).zip(records.iter().skip(skip)) {
        let level_style = match r.level {
            LogLevel::Error => theme.error,
            LogLevel::Warn => theme.warning,
            LogLevel::Info => theme.text,
            LogLevel::Debug | LogLevel::Trace => theme.muted,
        };
        let line = Line::from(vec![
            Span::styled(format::clock_kst(r.time), theme.muted),
            Span::raw(" "),
            Span::styled(format!("{:<5}", r.level.label()), level_style),
            Span::raw(" "),
            Span::styled(r.target.as_str(), theme.accent),
            Span::raw(" "),
            Span::styled(r.message.as_str(), theme.text),
        ]);
        buf.set_line(inner.x, y, &line, inner.width);
    }
}
