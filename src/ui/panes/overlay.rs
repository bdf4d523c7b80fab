//! Overlays and the bottom line: help (generated from the live keymap), the quit
//! confirmation, the command line, search prompt, messages and key hints.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Table, Widget};

use crate::store::Snapshot;
use crate::ui::theme::Theme;
use crate::ui::update::{Overlay, UiState};

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}

/// Draws the bottom line.
pub fn bottom_line(area: Rect, buf: &mut Buffer, ui: &UiState, theme: &Theme) {
    let line = if let Some(cl) = &ui.command_line {
        Line::from(vec![Span::styled(":", theme.accent), Span::styled(format!("{}▏", cl.input), theme.text)])
    } else if let Some(m) = &ui.message {
        Line::styled(m.text.clone(), if m.error { theme.error } else { theme.text })
    } else {
        Line::styled(
            "? help  : command  tab focus  z zoom  x hide  [ ] timeframe  / search  q quit",
            theme.muted,
        )
    };
    buf.set_line(area.x, area.y, &line, area.width);
}

/// Draws the open overlay, if any.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    match ui.overlay {
        Overlay::None => {}
        Overlay::Help { scroll } => {
            let r = centered(area, 70, area.height.saturating_sub(4));
            Clear.render(r, buf);
            let block = Block::bordered()
                .title(Span::styled(" Keys (from the live keymap) — esc closes ", theme.header))
                .border_style(theme.focus_border)
                .style(theme.background);
            let rows = ui.help.iter().skip(scroll).map(|(ctx, action, keys)| {
                Row::new(vec![
                    Cell::from(Span::styled(ctx.clone(), theme.muted)),
                    Cell::from(Span::styled(action.clone(), theme.text)),
                    Cell::from(Span::styled(keys.clone(), theme.accent)),
                ])
            });
            Table::new(rows, [Constraint::Length(13), Constraint::Length(18), Constraint::Fill(1)])
                .header(Row::new(["context", "action", "keys"]).style(theme.header))
                .block(block)
                .render(r, buf);
        }
        Overlay::ConfirmQuit => {
            let acc = &snap.account;
            let text = format!(
                "Quit with {} open order(s) and {} armed rule(s)?",
                acc.open_orders.len(),
                acc.armed_rules()
            );
            let r = centered(area, (text.chars().count() as u16 + 4).max(30), 5);
            Clear.render(r, buf);
            let block = Block::bordered()
                .title(Span::styled(" Quit ", theme.warning))
                .border_style(theme.warning)
                .style(theme.background);
            Paragraph::new(vec![
                Line::styled(text, theme.text),
                Line::from(vec![
                    Span::styled("y", theme.warning),
                    Span::styled(" quit   ", theme.text),
                    Span::styled("N", theme.header),
                    Span::styled(" stay (default)", theme.text),
                ]),
            ])
            .block(block)
            .render(r, buf);
        }
    }
}
