//! The command line's completion list: the choices Tab found for the word being typed,
//! drawn just above the command line, the one on the line highlighted. Tab again takes the
//! next; typing closes it.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use crate::ui::state::UiState;
use crate::ui::theme::Theme;

/// Most choices shown at once (the list scrolls with the choice on the line).
const MAX_ROWS: usize = 8;

/// Draws the list above `line` (the command line's row) inside `area`, if Tab listed any.
pub(crate) fn render(area: Rect, line: Rect, buf: &mut Buffer, ui: &UiState, theme: &Theme) {
    let Some(c) = ui.command_line.as_ref().and_then(|cl| cl.completion.as_ref()) else { return };
    if c.candidates.is_empty() || line.y <= area.y {
        return;
    }
    let n = c.candidates.len();
    let room = usize::from(line.y - area.y).saturating_sub(2);
    let rows = n.min(MAX_ROWS).min(room);
    if rows == 0 {
        return;
    }
    // A window that keeps the chosen one in view.
    let at = c.selected.unwrap_or(0);
    let first = at.saturating_sub(rows - 1).min(n - rows);
    let count = format!(" {}/{n} ", c.selected.map_or(0, |i| i + 1));
    let widest = c.candidates.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    let w = (widest.max(count.chars().count()) + 4).min(usize::from(area.width));
    let w = u16::try_from(w).unwrap_or(area.width);
    // The choices under the word being completed (after the `:` and the words before
    // it; the frame and a space to their left).
    let x = (line.x + 1 + u16::try_from(c.head.chars().count()).unwrap_or(u16::MAX))
        .saturating_sub(2)
        .max(area.x)
        .min(area.x + area.width.saturating_sub(w));
    let h = u16::try_from(rows + 2).unwrap_or(u16::MAX);
    let rect = Rect::new(x, line.y - h, w, h);
    Clear.render(rect, buf);
    let lines: Vec<Line> = c.candidates[first..first + rows]
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let style = if c.selected == Some(first + i) { theme.selection } else { theme.text };
            Line::from(Span::styled(format!(" {s} "), style))
        })
        .collect();
    let block = Block::bordered()
        .title_bottom(Span::styled(count, theme.muted))
        .border_style(theme.focus_border)
        .style(theme.background);
    Paragraph::new(lines).block(block).render(rect, buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::UiConfig;
    use crate::ui::command_line::{CommandLine, Completion};

    /// Issue 17 item 10: Tab's choices are shown above the command line, the one on the
    /// line marked, the count in the frame.
    #[test]
    fn the_choices_are_listed_above_the_command_line() {
        let area = Rect::new(0, 0, 80, 24);
        let mut ui = UiState::new(UiConfig::default());
        ui.command_line = Some(CommandLine {
            input: "market KRW-ETC".into(),
            completion: Some(Completion {
                head: "market ".into(),
                candidates: vec!["KRW-ETH".into(), "KRW-ETC".into(), "BTC-ETH".into()],
                selected: Some(1),
            }),
            ..CommandLine::default()
        });
        let mut buf = Buffer::empty(area);
        render(area, Rect::new(0, 23, 80, 1), &mut buf, &ui, &Theme::default());
        let row = |y: u16| (0..80).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>();
        assert!(row(19).contains("KRW-ETH"), "{}", row(19));
        assert!(row(20).contains("KRW-ETC"), "{}", row(20));
        assert!(row(21).contains("BTC-ETH"), "{}", row(21));
        assert!(row(22).contains("2/3"), "{}", row(22));
        // Under the word: after ":market ".
        let col = |y: u16, s: &str| {
            (0..80).find(|&x| {
                buf[(x, y)].symbol() == &s[..1]
                    && row(y).chars().skip(usize::from(x)).collect::<String>().starts_with(s)
            })
        };
        assert_eq!(col(20, "KRW-ETC"), Some(8), "{}", row(20));
        assert_eq!(buf[(8, 20)].bg, Theme::default().selection.bg.unwrap());
        assert_ne!(buf[(8, 19)].bg, buf[(8, 20)].bg, "only the chosen one is marked");
    }
}
