//! Log pane: application log records, newest first, filtered by minimum level.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::pane_block;
use crate::store::{LogLevel, Snapshot};
use crate::ui::layout::PaneId;
use crate::ui::theme::Theme;
use crate::ui::update::UiState;
use crate::ui::widgets::format;

/// Draws the log pane.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let extra = vec![Span::styled(format!("≥{} ", ui.log_level.label()), theme.muted)];
    let block = pane_block(PaneId::Log, extra, ui, theme);
    let records: Vec<_> = snap.system.logs.iter().filter(|r| r.level >= ui.log_level).collect();
    let skip = ui.scroll.get(&PaneId::Log).copied().unwrap_or(0).min(records.len().saturating_sub(1));
    let lines: Vec<Line> = records
        .iter()
        .skip(skip)
        .take(area.height as usize)
        .map(|r| {
            let level_style = match r.level {
                LogLevel::Error => theme.error,
                LogLevel::Warn => theme.warning,
                LogLevel::Info => theme.text,
                LogLevel::Debug | LogLevel::Trace => theme.muted,
            };
            Line::from(vec![
                Span::styled(format::clock_kst(r.time), theme.muted),
                Span::raw(" "),
                Span::styled(format!("{:<5}", r.level.label()), level_style),
                Span::raw(" "),
                Span::styled(r.target.clone(), theme.accent),
                Span::raw(" "),
                Span::styled(r.message.clone(), theme.text),
            ])
        })
        .collect();
    Paragraph::new(lines).block(block).render(area, buf);
}
