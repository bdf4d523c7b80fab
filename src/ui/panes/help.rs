//! The help overlay: every bound key with what it does (from the live keymap, grouped by
//! where it works), then the command reference ([`crate::ui::commands`]: each `:` verb's
//! syntax, what it does and examples). One scrolling page that fits 80x24.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use crate::ui::action::Action;
use crate::ui::commands::COMMANDS;
use crate::ui::keymap::Context;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;

/// Widest the overlay gets (wider reads worse; 80 columns must show it whole).
const MAX_WIDTH: u16 = 80;

/// Width of the keys column.
const KEYS_WIDTH: usize = 15;

/// Where the overlay goes on a screen of `area`.
fn rect(area: Rect) -> Rect {
    let w = area.width.min(MAX_WIDTH);
    let h = area.height.saturating_sub(2).max(area.height.min(3));
    Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}

/// A section's title: where its keys work.
fn title(ctx: &str) -> &'static str {
    match ctx {
        "global" => "Everywhere",
        "markets" => "Markets list",
        "orderbook" => "Order book (ladder)",
        "chart" => "Chart",
        "orders" => "Orders",
        "portfolio" => "Portfolio",
        "log" => "Log",
        "dialog" => "Questions (y / N)",
        "command_line" => "Command line",
        "search" => "Markets search",
        "order_form" => "Order form",
        _ => "Other",
    }
}

/// The text of the help page for an overlay `width` columns wide, styled with `theme`.
pub(crate) fn lines(ui: &UiState, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    let inner = usize::from(width.saturating_sub(2));
    let mut out = vec![Line::styled("Keys (from the live keymap), by where they work", theme.header)];
    let mut section = "";
    for ctx in Context::ALL.map(Context::name) {
        for (c, action, keys) in ui.help.iter().filter(|(c, _, _)| c == ctx) {
            if section != c {
                section = ctx;
                out.push(Line::raw(""));
                out.push(Line::styled(title(c), theme.accent));
            }
            let what = Action::from_name(action).map_or("", Action::describe);
            let keys = format!("  {keys:<w$} ", w = KEYS_WIDTH - 2);
            let mut spans = vec![Span::styled(keys.clone(), theme.header), Span::styled(what, theme.text)];
            // The action's name is what keymap.toml calls it; shown when it fits.
            let used = keys.chars().count() + what.chars().count();
            if used + 2 + action.len() <= inner {
                spans.push(Span::styled(format!("{:>w$}", action, w = inner - used), theme.muted));
            }
            out.push(Line::from(spans));
        }
    }
    out.push(Line::raw(""));
    out.push(Line::styled("Commands: type : then a verb; Tab completes (again: next choice)", theme.header));
    let mut group = None;
    for cmd in COMMANDS {
        if group != Some(cmd.trading) {
            let name = match (cmd.trading, group) {
                (true, _) => "Trading: orders, rules, alerts",
                (false, None) => "Screen",
                (false, Some(_)) => "Console",
            };
            group = Some(cmd.trading);
            out.push(Line::raw(""));
            out.push(Line::styled(name, theme.accent));
        }
        out.push(Line::raw(""));
        let mut head =
            vec![Span::styled(format!(":{} ", cmd.verb), theme.accent), Span::styled(cmd.syntax, theme.text)];
        if !cmd.aliases.is_empty() {
            let also: Vec<String> = cmd.aliases.iter().map(|a| format!(":{a}")).collect();
            head.push(Span::styled(format!("   (also {})", also.join(" ")), theme.muted));
        }
        out.push(Line::from(head));
        for text in [cmd.summary, cmd.detail].into_iter().filter(|t| !t.is_empty()) {
            for l in wrap(text, inner.saturating_sub(4)) {
                out.push(Line::styled(format!("    {l}"), theme.text));
            }
        }
        push_examples(&mut out, cmd.examples, inner, theme.muted);
    }
    out
}

/// `e.g. :a   :b` lines, as many examples on a line as fit.
fn push_examples(out: &mut Vec<Line<'static>>, examples: &[&str], inner: usize, style: Style) {
    let mut line = String::from("    e.g.");
    for ex in examples {
        let item = format!(" :{ex} ");
        if line.chars().count() + item.chars().count() > inner && line.trim() != "e.g." {
            out.push(Line::styled(std::mem::replace(&mut line, String::from("        ")), style));
        }
        line.push_str(&item);
    }
    out.push(Line::styled(line.trim_end().to_string(), style));
}

/// Words of `text` in lines of at most `width` characters (a longer word stands alone).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let Some(last) = lines.last_mut() else { break };
        if !last.is_empty() && last.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

/// How far the help can scroll on the current screen: its last line at the bottom.
pub(crate) fn max_scroll(ui: &UiState) -> usize {
    let r = rect(ui.area);
    let visible = usize::from(r.height.saturating_sub(2));
    lines(ui, r.width, &Theme::default()).len().saturating_sub(visible)
}

/// Draws the help overlay scrolled by `scroll` lines.
pub(crate) fn render(area: Rect, buf: &mut Buffer, ui: &UiState, scroll: usize, theme: &Theme) {
    let r = rect(area);
    Clear.render(r, buf);
    let all = lines(ui, r.width, theme);
    let visible = usize::from(r.height.saturating_sub(2));
    let scroll = scroll.min(all.len().saturating_sub(visible));
    let last = (scroll + visible).min(all.len());
    let block = Block::bordered()
        .title(Span::styled(" Help  ↑/↓ pgup/pgdn scroll  esc closes ", theme.header))
        .title_bottom(Span::styled(format!(" {}-{} of {} ", scroll + 1, last, all.len()), theme.muted))
        .border_style(theme.focus_border)
        .style(theme.background);
    Paragraph::new(all.into_iter().skip(scroll).take(visible).collect::<Vec<_>>())
        .block(block)
        .render(r, buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::UiConfig;
    use crate::ui::keymap::Keymap;

    fn ui_at(w: u16, h: u16) -> UiState {
        let mut ui = UiState::new(UiConfig::default());
        ui.help = Keymap::default_keymap().unwrap().help_rows();
        ui.area = Rect::new(0, 0, w, h);
        ui
    }

    fn page(ui: &UiState, scroll: usize) -> Vec<String> {
        let mut buf = Buffer::empty(ui.area);
        render(ui.area, &mut buf, ui, scroll, &Theme::default());
        (0..ui.area.height)
            .map(|y| (0..ui.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>())
            .collect()
    }

    /// Every page of the help at 80x24, read top to bottom.
    fn whole(ui: &UiState) -> String {
        let mut text = String::new();
        let mut scroll = 0;
        loop {
            let rows = page(ui, scroll);
            text.extend(rows[1..rows.len() - 1].iter().map(|r| format!("{}\n", r.trim_end())));
            if scroll >= max_scroll(ui) {
                return text;
            }
            scroll = (scroll + 19).min(max_scroll(ui));
        }
    }

    /// Issue 17 item 10: help said only `orderbook ladder_buy b`; now each key says what it
    /// does, by where it works, and every `:` verb has its syntax and an example, with the
    /// anchors of % levels. All of it is reachable by scrolling at 80x24.
    #[test]
    fn help_describes_every_key_and_every_command_and_scrolls_at_80x24() {
        let ui = ui_at(80, 24);
        assert!(max_scroll(&ui) > 0, "more than a screen: it scrolls");
        let text = whole(&ui);
        assert!(text.contains("Order book (ladder)"), "{text}");
        assert!(text.contains("buy at the cursor's price, preset size"), "{text}");
        assert!(text.contains(":tp MARKET +5%|PRICE [avg]"), "{text}");
        assert!(text.contains("a % level is from the last price; add avg"), "{text}");
        assert!(text.contains(":tp KRW-BTC +5%  :tp KRW-BTC +5% avg"), "{text}");
        assert!(text.contains(":layout rm mine") && text.contains(":alerts"), "{text}");
        for cmd in COMMANDS {
            assert!(text.contains(&format!(":{} ", cmd.verb)), ":{} missing", cmd.verb);
            for ex in cmd.examples {
                assert!(text.contains(&format!(":{ex}")), "example :{ex} missing");
            }
        }
        for (_, action, _) in &ui.help {
            let what = Action::from_name(action).unwrap().describe();
            assert!(text.contains(what), "{action}: {what:?} missing");
        }
        // Nothing runs into the border: every line fits 78 columns.
        for l in lines(&ui, 80, &Theme::default()) {
            assert!(l.width() <= 78, "too wide: {l:?}");
        }
        // The last page ends with the last command.
        let last = page(&ui, usize::MAX);
        assert!(last.iter().any(|r| r.contains(":quit")), "{last:#?}");
    }
}
