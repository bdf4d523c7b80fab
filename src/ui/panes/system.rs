//! System pane: kernel tasks, streams, feed counters and the generic tables (bus lanes,
//! subscriptions per proxy and upstream…) other modules publish through the store.

use std::time::SystemTime;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::pane_block;
use crate::kernel::TaskState;
use crate::store::{FeedHealth, Snapshot};
use crate::ui::layout::PaneId;
use crate::ui::theme::Theme;
use crate::ui::update::UiState;
use crate::ui::widgets::format;

fn row_line<'a>(cells: &[String], widths: &[usize], style: ratatui::style::Style) -> Line<'a> {
    let mut text = String::new();
    for (i, c) in cells.iter().enumerate() {
        let w = widths.get(i).copied().unwrap_or(8);
        text.push_str(&format!("{c:<w$} "));
    }
    Line::styled(text, style)
}

/// Draws the system pane.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let sys = &snap.system;
    let mut lines: Vec<Line> = Vec::new();
    let f = &sys.feed;
    let health = match f.health {
        FeedHealth::Healthy => Span::styled("healthy", theme.bid),
        FeedHealth::Degraded => Span::styled("degraded", theme.warning),
        FeedHealth::Critical => Span::styled("critical", theme.error),
    };
    lines.push(Line::from(vec![
        Span::styled("feed ", theme.header),
        health,
        Span::styled(
            format!(
                "  {} msg/s  latency p50 {} p90 {} p99 {} max {} ms  reconnects {}  epoch {}",
                f.msgs_per_sec,
                f.latency_ms[0],
                f.latency_ms[1],
                f.latency_ms[2],
                f.latency_ms[3],
                f.reconnects,
                f.epoch
            ),
            theme.text,
        ),
    ]));
    for s in sys.streams.iter() {
        lines.push(Line::styled(format!("  stream {:<10} {}", s.name, s.state.label()), theme.text));
    }
    lines.push(Line::styled("tasks", theme.header));
    let widths = [4, 8, 24, 10, 6, 3];
    lines.push(row_line(
        &["id", "comp", "name", "state", "age", "rs"].map(String::from),
        &widths,
        theme.muted,
    ));
    let wall: SystemTime = ui.wall.into();
    for t in sys.tasks.iter() {
        let age = wall.duration_since(t.started_at).unwrap_or_default();
        let style = match t.state {
            TaskState::Running => theme.text,
            TaskState::Restarting => theme.warning,
            TaskState::Failed | TaskState::Aborted => theme.error,
            TaskState::Finished => theme.muted,
        };
        let mut cells = vec![
            t.id.to_string(),
            t.component.to_string(),
            t.name.clone(),
            t.state.label().to_string(),
            format::age(age),
            t.restarts.to_string(),
        ];
        if let Some(e) = &t.last_error {
            cells.push(e.clone());
        }
        lines.push(row_line(&cells, &widths, style));
    }
    for (title, table) in sys.tables.iter() {
        lines.push(Line::styled(title.clone(), theme.header));
        let n = table.header.len().max(table.rows.iter().map(Vec::len).max().unwrap_or(0));
        let widths: Vec<usize> = (0..n)
            .map(|i| {
                let h = table.header.get(i).map(|s| s.chars().count()).unwrap_or(0);
                let r =
                    table.rows.iter().filter_map(|r| r.get(i)).map(|s| s.chars().count()).max().unwrap_or(0);
                h.max(r).min(30)
            })
            .collect();
        lines.push(row_line(&table.header, &widths, theme.muted));
        for r in &table.rows {
            lines.push(row_line(r, &widths, theme.text));
        }
    }
    let skip = ui.scroll.get(&PaneId::System).copied().unwrap_or(0).min(lines.len().saturating_sub(1));
    let block = pane_block(PaneId::System, vec![], ui, theme);
    Paragraph::new(lines.into_iter().skip(skip).collect::<Vec<_>>()).block(block).render(area, buf);
}
