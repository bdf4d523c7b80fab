//! Overlays and the bottom line: help (generated from the live keymap), the quit
//! confirmation, the command line, search prompt, messages and key hints.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use ratatui::style::Modifier;
use rust_decimal::Decimal;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::exchange::types::{OrderType, Side};
use crate::store::Snapshot;
use crate::ui::state::{Overlay, UiState};
use crate::ui::theme::Theme;
use crate::ui::widgets::format;

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}

/// The message shown on the bottom line `area`, wrapped to its width; `None` when the
/// command line is open or there is no message to show.
fn message_rows(area: Rect, ui: &UiState) -> Option<Vec<String>> {
    if ui.command_line.is_some() {
        return None;
    }
    let m = ui.message.as_ref().filter(|m| m.shown_at(ui.now))?;
    Some(super::form::wrap(&m.text, usize::from(area.width)))
}

/// How many rows above the bottom line `area` the message takes (it wraps upwards over
/// the panes, up to three rows): the frame shortens the panes above by as much, so a
/// pane's last line (its `+N more` hint) is not hidden under it.
pub(crate) fn message_rows_above(area: Rect, ui: &UiState) -> u16 {
    message_rows(area, ui).map_or(0, |rows| rows.len().min(4).min(usize::from(area.y) + 1) as u16 - 1)
}

/// Draws the bottom line.
pub(crate) fn bottom_line(area: Rect, buf: &mut Buffer, ui: &UiState, theme: &Theme) {
    let line = if let Some(cl) = &ui.command_line {
        Line::from(vec![Span::styled(":", theme.accent), Span::styled(format!("{}▏", cl.input), theme.text)])
    } else if let Some(m) = ui.message.as_ref().filter(|m| m.shown_at(ui.now)) {
        let style = if m.error { theme.error } else { theme.text };
        // A message longer than the line (a refusal's reason at 80 columns) is wrapped
        // upwards over the panes, up to four rows, rather than cut: it is read in full.
        let rows = message_rows(area, ui).unwrap_or_default();
        if rows.len() > 1 {
            let n = usize::from(message_rows_above(area, ui)) + 1;
            let top = area.y + 1 - n as u16;
            for (k, text) in rows.iter().take(n).enumerate() {
                let y = top + k as u16;
                let last = k + 1 == n && rows.len() > n;
                let text = if last {
                    // Cut by display columns (a Hangul syllable takes two), room left for `…`.
                    let mut cut = String::new();
                    for c in text.chars() {
                        if cut.width() + c.width().unwrap_or(0) >= usize::from(area.width) {
                            break;
                        }
                        cut.push(c);
                    }
                    format!("{cut}…")
                } else {
                    text.clone()
                };
                buf.set_style(Rect::new(area.x, y, area.width, 1), theme.background);
                buf.set_line(
                    area.x,
                    y,
                    &Line::from(vec![Span::styled(
                        format!("{text:<w$}", w = usize::from(area.width)),
                        style,
                    )]),
                    area.width,
                );
            }
            return;
        }
        Line::styled(m.text.clone(), style)
    } else {
        // The focused pane's keys: the hint line follows the focus.
        Line::styled(whole_hints(ui.hints.for_context(ui.context()), area.width), theme.muted)
    };
    buf.set_line(area.x, area.y, &line, area.width);
}

/// The hints (`k label`, two spaces apart) that fit in `width` columns, each whole: a hint
/// cut in its middle (`q q`) names a key without what it does.
fn whole_hints(hints: &str, width: u16) -> String {
    let mut out = String::new();
    for hint in hints.split("  ") {
        let sep = if out.is_empty() { 0 } else { 2 };
        if out.width() + sep + hint.width() > usize::from(width) {
            break;
        }
        if sep > 0 {
            out.push_str("  ");
        }
        out.push_str(hint);
    }
    out
}

/// Draws the open overlay, if any.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    if let Some(form) = &ui.form {
        super::form::render(area, buf, form, ui, snap, theme);
    }
    match ui.overlay {
        Overlay::ConfirmOrder => {
            let Some(v) = ui.pending_order.as_ref().map(|p| &p.order) else { return };
            let r = &v.request;
            let side_style = if r.side == Side::Bid { theme.buy } else { theme.sell };
            let dec = |d: Option<Decimal>| d.map(format::price).unwrap_or_else(|| "market".into());
            let rect = centered(area, 48, 9);
            Clear.render(rect, buf);
            // Live orders are always asked; a ladder key asks in every mode.
            let (title, title_style) = if snap.account.mode == crate::store::Mode::Live {
                (" Confirm LIVE order ", theme.mode_live)
            } else {
                (" Confirm order ", theme.header)
            };
            let block = Block::bordered()
                .title(Span::styled(title, title_style))
                .border_style(theme.warning)
                .style(theme.background);
            Paragraph::new(vec![
                Line::from(vec![
                    Span::styled(
                        format!(" {} ", r.side.label().to_uppercase()),
                        side_style.add_modifier(Modifier::REVERSED),
                    ),
                    Span::styled(format!(" {} {}", r.market, format::order_type(r.ord_type)), theme.text),
                ]),
                // A market buy's `price` is its KRW total (shown on the total line).
                Line::styled(
                    format!(
                        " price    {}",
                        match r.ord_type {
                            OrderType::Limit => dec(r.price),
                            OrderType::Price | OrderType::Market => "market".into(),
                            OrderType::Best => "best".into(),
                            // Never confirmed (validation refuses it); shown as written.
                            OrderType::Other(t) => t.into(),
                        }
                    ),
                    theme.text,
                ),
                Line::styled(
                    format!(
                        " quantity {}",
                        r.volume.map(|v| format::qty(v, 8)).unwrap_or_else(|| "-".into())
                    ),
                    theme.text,
                ),
                Line::styled(
                    format!(
                        " total    {} {}",
                        format::amount(v.total_with_fee(), r.market.quote()),
                        r.market.quote()
                    ),
                    theme.text,
                ),
                Line::styled(format!(" fee      {}", format::amount(v.fee, r.market.quote())), theme.text),
                yes_no(" y", " send   ", " cancel (default)", theme),
                // A limit price past the other side's best fills at once, as a taker (the
                // message line says it in full).
                match r.price.filter(|_| r.ord_type == OrderType::Limit).and_then(|p| {
                    let book = snap.market.books.get(&r.market).map(|b| &b.value);
                    crate::ui::order_form::crossing(book, r.side, p, r.market.quote())
                }) {
                    Some(_) => Line::styled(" ! crosses the book: fills at once (taker)", theme.warning),
                    None => Line::raw(""),
                },
            ])
            .block(block)
            .render(rect, buf);
        }
        Overlay::None => {}
        Overlay::Alerts { scroll, new } => super::alerts::render(area, buf, snap, scroll, new, theme),
        Overlay::Help { scroll } => super::help::render(area, buf, ui, scroll, theme),
        Overlay::ConfirmRule => {
            let Some(p) = &ui.pending_rule else { return };
            // Wrapped: the trigger, its anchor and why it is unusual must all be read at
            // 80x24. The height counts the wrapped rows, so nothing is cut off.
            let w = area.width.clamp(20, 78);
            let inner = usize::from(w.saturating_sub(2)).max(1);
            let rows = |t: &str| t.chars().count().div_ceil(inner).max(1);
            let mut lines = vec![Line::styled(format!(":{}", p.text), theme.header)];
            lines.extend(p.lines.iter().map(|l| Line::styled(l.clone(), theme.text)));
            lines.extend(p.warnings.iter().map(|l| Line::styled(format!("! {l}"), theme.warning)));
            let answer = if p.default_no {
                yes_no("y", " yes   ", " no (default; esc/n/enter)", theme)
            } else {
                Line::from(vec![
                    Span::styled("enter/y", theme.accent),
                    Span::styled(" arm   ", theme.text),
                    Span::styled("esc/n", theme.header),
                    Span::styled(" cancel", theme.text),
                ])
            };
            lines.push(answer);
            let text_rows: usize = 1
                + p.lines.iter().map(|l| rows(l)).sum::<usize>()
                + p.warnings.iter().map(|l| rows(&format!("! {l}"))).sum::<usize>()
                + 1;
            let h = u16::try_from(text_rows + 2).unwrap_or(u16::MAX);
            let r = centered(area, w, h);
            Clear.render(r, buf);
            let style =
                if p.default_no || !p.warnings.is_empty() { theme.warning } else { theme.focus_border };
            let block = Block::bordered()
                .title(Span::styled(p.title.clone(), style))
                .border_style(style)
                .style(theme.background);
            Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: false }).block(block).render(r, buf);
        }
        Overlay::ConfirmSuspend => {
            let text = format!(
                "Suspend? {} rule(s) protecting a position will not fire while hoga is stopped.",
                snap.account.armed_rules()
            );
            warning_question(area, buf, " Suspend (Ctrl-Z) ", text, " suspend   ", theme);
        }
        Overlay::ConfirmQuit => {
            let acc = &snap.account;
            let text = format!(
                "Quit with {} open order(s) and {} rule(s) protecting a position?",
                acc.open_orders.len(),
                acc.armed_rules()
            );
            warning_question(area, buf, " Quit ", text, " quit   ", theme);
        }
    }
}

/// The answer line of a confirmation: `y` does it, `N` (the default) does not.
/// A centred warning box asking `text`, `y` for `yes`, anything else stays (the default).
fn warning_question(area: Rect, buf: &mut Buffer, title: &str, text: String, yes: &str, theme: &Theme) {
    let r = centered(area, (text.chars().count() as u16 + 4).max(30), 5);
    Clear.render(r, buf);
    let block = Block::bordered()
        .title(Span::styled(title, theme.warning))
        .border_style(theme.warning)
        .style(theme.background);
    Paragraph::new(vec![Line::styled(text, theme.text), yes_no("y", yes, " stay (default)", theme)])
        .block(block)
        .render(r, buf);
}

fn yes_no<'a>(y: &'a str, yes: &'a str, no: &'a str, theme: &Theme) -> Line<'a> {
    Line::from(vec![
        Span::styled(y, theme.warning),
        Span::styled(yes, theme.text),
        Span::styled("N", theme.header),
        Span::styled(no, theme.text),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::UiConfig;
    use std::time::Duration;

    fn bottom(ui: &UiState) -> String {
        let area = Rect::new(0, 0, 60, 1);
        let mut buf = Buffer::empty(area);
        bottom_line(area, &mut buf, ui, &Theme::default());
        buf.content.iter().map(|c| c.symbol()).collect::<String>().trim_end().to_string()
    }

    /// The hint line keeps whole hints: one that does not fit goes, never cut to `q q`.
    #[test]
    fn the_hint_line_drops_whole_hints_that_do_not_fit() {
        let hints = "/ search  s sort  V venue  ? help  q quit";
        assert_eq!(whole_hints(hints, 80), hints);
        assert_eq!(whole_hints(hints, 36), "/ search  s sort  V venue  ? help");
        assert_eq!(whole_hints(hints, 32), "/ search  s sort  V venue");
        assert_eq!(whole_hints(hints, 3), "");
        let mut ui = UiState::new(UiConfig::default());
        ui.hints = crate::ui::keymap::Keymap::default_keymap().unwrap().hints();
        let line = bottom(&ui);
        assert!(!line.is_empty() && line.chars().count() <= 60, "{line}");
        let full = ui.hints.for_context(ui.context()).to_string();
        assert!(full.starts_with(&line), "a prefix of whole hints: {line} / {full}");
    }

    /// Issue 17 item 3: a refusal longer than the line is wrapped upwards, in full, not
    /// cut at the screen's edge (a denial's reason lost its end at 80 columns).
    #[test]
    fn a_long_message_is_wrapped_upwards_not_cut() {
        let mut ui = UiState::new(UiConfig::default());
        ui.error("#4 buy KRW-BTC: denied: max_open_orders is 3: 3 orders are open (cancel one or raise it)");
        let area = Rect::new(0, 0, 40, 3);
        let mut buf = Buffer::empty(area);
        bottom_line(Rect::new(0, 2, 40, 1), &mut buf, &ui, &Theme::default());
        let rows: Vec<String> = (0..3)
            .map(|y| {
                (0..40).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>().trim_end().to_string()
            })
            .collect();
        assert_eq!(
            rows.join(" "),
            "#4 buy KRW-BTC: denied: max_open_orders is 3: 3 orders are open (cancel one or raise it)"
        );
    }

    /// A Korean refusal on the message line is wrapped by the columns it takes (two a
    /// syllable): every word of it is on the screen.
    #[test]
    fn a_korean_message_is_wrapped_by_display_width() {
        let mut ui = UiState::new(UiConfig::default());
        ui.error("rejected: insufficient_funds_ask: 주문가능한 금액(DOGE)이 부족합니다.");
        let area = Rect::new(0, 0, 30, 4);
        let mut buf = Buffer::empty(area);
        bottom_line(Rect::new(0, 3, 30, 1), &mut buf, &ui, &Theme::default());
        let screen: String =
            (0..4).map(|y| (0..30).map(|x| buf[(x, y)].symbol()).collect::<String>() + " ").collect();
        let flat: String = screen.split_whitespace().collect();
        assert_eq!(flat, "rejected:insufficient_funds_ask:주문가능한금액(DOGE)이부족합니다.", "{screen}");
    }

    /// Issue 17 item 3: an old message expires (an `unknown timeframe` stayed for
    /// minutes); a refusal stays longer than news, and the key hints come back.
    #[test]
    fn a_message_stays_until_it_is_old_then_the_hints_come_back() {
        let mut ui = UiState::new(UiConfig::default());
        ui.hints = "? help".into();
        ui.error("unknown timeframe 7m");
        assert_eq!(bottom(&ui), "unknown timeframe 7m");
        ui.now += Duration::from_secs(29);
        assert_eq!(bottom(&ui), "unknown timeframe 7m", "a refusal is read");
        ui.now += Duration::from_secs(2);
        assert_eq!(bottom(&ui), "? help");
        ui.info("market KRW-ETH");
        ui.now += Duration::from_secs(11);
        assert_eq!(bottom(&ui), "? help");
    }

    /// Issue 17 item 1: the preview of a rule, read at 80x24: every line of it is on the
    /// screen (wrapped, never cut), and the answer keys are last.
    #[test]
    fn a_rule_preview_fits_at_80x24() {
        use crate::ui::state::PendingRule;
        let mut ui = UiState::new(UiConfig::default());
        ui.overlay = Overlay::ConfirmRule;
        ui.pending_rule = Some(PendingRule {
            intent: crate::trading::intent::TradeIntent::Unarm(crate::trading::input::UnarmTarget::All),
            text: "stop KRW-BTC -3%".into(),
            title: " Arm stop KRW-BTC? ".into(),
            lines: vec![
                "stop     143,560,000  -3.00% from last 148,000,000".into(),
                "anchor   -3.00% from the last price (fixed as shown, on the tick grid)".into(),
                "sells    whole position at firing time (now 0.051 BTC ≈ 7,548,000 KRW)".into(),
                "how      market sells, about 8 orders each within the 1,000,000 KRW per-order cap (slice)".into(),
            ],
            warnings: vec!["the exit ≈ 7,548,000 KRW is larger than the 1,000,000 KRW per-order cap: it is sliced into about 8 orders".into()],
            default_no: false,
        });
        let area = Rect::new(0, 0, 80, 24);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &ui, &Snapshot::default(), &Theme::default());
        let screen: String =
            (0..24).map(|y| (0..80).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n").collect();
        let flat: String = screen.replace('│', " ").split_whitespace().collect::<Vec<_>>().join(" ");
        for want in [
            "143,560,000",
            "(fixed as shown, on the tick grid)",
            "(slice)",
            "about 8 orders",
            "enter/y arm",
            "esc/n cancel",
        ] {
            assert!(flat.contains(want), "{want:?} not on screen:\n{screen}");
        }
    }
}
