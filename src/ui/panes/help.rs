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
use crate::ui::keymap::{self, Context};
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
    for ctx in Context::ALL {
        for (c, action, keys) in ui.help.iter().filter(|(c, _, _)| c == ctx.name()) {
            if section != c {
                section = ctx.name();
                out.push(Line::raw(""));
                out.push(Line::styled(title(c), theme.accent));
            }
            // Described in its context: the same action may do another thing there.
            let what = Action::from_name(action).map_or("", |a| keymap::describe(ctx, a));
            let keys = format!("  {keys:<w$} ", w = KEYS_WIDTH - 2);
            let indent = keys.chars().count();
            // A description longer than the line goes on under itself, never cut.
            let parts = wrap(what, inner.saturating_sub(indent).max(1));
            let first = parts.first().cloned().unwrap_or_default();
            let mut spans =
                vec![Span::styled(keys.clone(), theme.header), Span::styled(first.clone(), theme.text)];
            // The action's name is what keymap.toml calls it; shown when it fits beside a
            // description of one line.
            let used = indent + first.chars().count();
            if parts.len() == 1 && used + 2 + action.len() <= inner {
                spans.push(Span::styled(format!("{:>w$}", action, w = inner - used), theme.muted));
            }
            out.push(Line::from(spans));
            for more in parts.iter().skip(1) {
                out.push(Line::styled(format!("{:indent$}{more}", ""), theme.text));
            }
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

/// Lines of help the overlay shows at once on the current screen: what PageDown and
/// PageUp move, so a page turn shows the next page whole, whatever the terminal's height.
pub(crate) fn page(ui: &UiState) -> usize {
    usize::from(rect(ui.area).height.saturating_sub(2)).max(1)
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

    /// The help's lines as text, section by section: (title, its lines).
    fn sections(ui: &UiState) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for l in lines(ui, 80, &Theme::default()) {
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            if Context::ALL.iter().any(|c| title(c.name()) == text) {
                out.push((text, String::new()));
            } else if let Some((_, body)) = out.last_mut() {
                // Words only: the columns' padding does not matter here.
                body.push_str(&text.split_whitespace().collect::<Vec<_>>().join(" "));
                body.push('\n');
            }
        }
        out
    }

    fn section(ui: &UiState, name: &str) -> String {
        sections(ui).into_iter().find(|(t, _)| t == name).map(|(_, b)| b).unwrap_or_default()
    }

    /// Finding: the Order form section said `right space  next tab (KRW, BTC, USDT,
    /// favorites)`, what those keys do in the markets list. Each key is described as it
    /// works where it is pressed.
    #[test]
    fn each_key_is_described_as_it_works_where_it_is_pressed() {
        let ui = ui_at(80, 24);
        let form = section(&ui, "Order form");
        assert!(!form.contains("next tab") && !form.contains("favorites"), "{form}");
        assert!(form.contains("right space next choice of the field (side, type"), "{form}");
        assert!(form.contains("enter send the order the form shows"), "{form}");
        assert!(form.contains("esc ctrl-c close the form; nothing is sent"), "{form}");
        assert!(form.contains("previous field") && form.contains("next field"), "{form}");
        let markets = section(&ui, "Markets list");
        assert!(markets.contains("right l next tab (KRW, BTC, USDT, favorites)"), "{markets}");
        let line = section(&ui, "Command line");
        assert!(line.contains("enter run the command"), "{line}");
        let search = section(&ui, "Markets search");
        assert!(search.contains("esc ctrl-c clear the search"), "{search}");
        let dialog = section(&ui, "Questions (y / N)");
        assert!(dialog.contains("n N enter esc no (the default)"), "{dialog}");
        let global = section(&ui, "Everywhere");
        assert!(global.contains("pageup ctrl-u up a page: the rows the pane shows"), "{global}");
        assert!(!global.contains("close (overlay, search, command line)"), "{global}");
    }

    /// Finding: PageDown in the help moved 10 lines of a 20-line page. It turns a whole
    /// page, at any height: the line after the last one shown comes to the top.
    #[test]
    fn page_down_in_the_help_turns_a_whole_page() {
        let snap = crate::store::Store::new().snapshot();
        for (w, h) in [(80, 24), (120, 40)] {
            let mut ui = ui_at(w, h);
            ui.overlay = crate::ui::state::Overlay::Help { scroll: 0 };
            let first = page(&ui, 0);
            let visible = usize::from(h) - 4;
            assert_eq!(page_len(&ui), visible, "{w}x{h}");
            crate::ui::update::update(&mut ui, Action::PageDown, &snap);
            assert_eq!(ui.overlay, crate::ui::state::Overlay::Help { scroll: visible }, "{w}x{h}");
            let next = page(&ui, visible);
            // The next page starts with the line after the last of the first.
            let all: Vec<String> = lines(&ui, ui.area.width.min(MAX_WIDTH), &Theme::default())
                .iter()
                .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect::<String>())
                .collect();
            // The overlay's first line of text is the screen's third row (a row above it,
            // then its border).
            assert!(first[visible + 1].contains(all[visible - 1].trim_end()), "{w}x{h}");
            assert!(next[2].contains(all[visible].trim_end()), "{w}x{h}");
            crate::ui::update::update(&mut ui, Action::PageUp, &snap);
            assert_eq!(ui.overlay, crate::ui::state::Overlay::Help { scroll: 0 }, "{w}x{h}");
        }
    }

    /// What the help says of PageDown on a pane is true: the markets list moves by the
    /// rows it shows (it moved 10 whatever the pane's height).
    #[test]
    fn page_down_on_a_pane_moves_the_rows_it_shows() {
        use crate::exchange::types::{MarketId, MarketInfo};
        use crate::store::{Store, StoreEvent};
        let info = |i: usize| MarketInfo {
            market: MarketId::new(&format!("KRW-C{i:03}")),
            korean_name: format!("C{i:03}"),
            english_name: format!("C{i:03}"),
            warning: false,
            caution: false,
        };
        let mut store = Store::new();
        let snap = store.apply_batch(
            [StoreEvent::MarketsLoaded((0..200).map(info).collect())],
            std::time::Instant::now(),
        );
        for (w, h) in [(120, 40), (80, 24)] {
            let mut ui = ui_at(w, h);
            ui.focus = crate::ui::layout::PaneId::Markets;
            let pane = crate::ui::layout::compute(&ui, ui.area).and_then(|l| l.rect(ui.focus)).unwrap();
            // Less its border and its header line.
            let rows = usize::from(pane.height) - 3;
            crate::ui::update::update(&mut ui, Action::PageDown, &snap);
            assert_eq!(ui.markets.cursor, rows, "{w}x{h}");
            crate::ui::update::update(&mut ui, Action::PageDown, &snap);
            assert_eq!(ui.markets.cursor, 2 * rows, "{w}x{h}");
            crate::ui::update::update(&mut ui, Action::PageUp, &snap);
            assert_eq!(ui.markets.cursor, rows, "{w}x{h}");
        }
    }

    fn page_len(ui: &UiState) -> usize {
        super::page(ui)
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
        assert!(text.contains("buy at the cursor's price"), "{text}");
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
        // Every description whole (a long one wraps under itself: words only here).
        let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        let all = words(
            &lines(&ui, 80, &Theme::default())
                .iter()
                .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect::<String>())
                .collect::<Vec<_>>()
                .join("\n"),
        );
        for (c, action, _) in &ui.help {
            let ctx = Context::ALL.into_iter().find(|x| x.name() == c).unwrap();
            let what = keymap::describe(ctx, Action::from_name(action).unwrap());
            assert!(all.contains(&words(what)), "{action}: {what:?} missing");
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
