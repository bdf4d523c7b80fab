//! Overlays and the bottom line: help (generated from the live keymap), the quit
//! confirmation, the command line, search prompt, messages and key hints.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Table, Widget};

use ratatui::style::Modifier;
use rust_decimal::Decimal;

use crate::exchange::types::{OrderType, Side};
use crate::store::Snapshot;
use crate::ui::order_form::{self, FormField, FormKind, OrderForm};
use crate::ui::state::{Overlay, UiState};
use crate::ui::theme::Theme;
use crate::ui::widgets::format;

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}

/// Draws the bottom line.
pub(crate) fn bottom_line(area: Rect, buf: &mut Buffer, ui: &UiState, theme: &Theme) {
    let line = if let Some(cl) = &ui.command_line {
        Line::from(vec![Span::styled(":", theme.accent), Span::styled(format!("{}▏", cl.input), theme.text)])
    } else if let Some(m) = ui.message.as_ref().filter(|m| m.shown_at(ui.now)) {
        Line::styled(m.text.clone(), if m.error { theme.error } else { theme.text })
    } else {
        Line::styled(ui.hints.clone(), theme.muted)
    };
    buf.set_line(area.x, area.y, &line, area.width);
}

/// Draws the open overlay, if any.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    if let Some(form) = &ui.form {
        render_form(area, buf, form, snap, theme);
    }
    match ui.overlay {
        Overlay::ConfirmOrder => {
            let Some(v) = ui.pending_order.as_ref().map(|p| &p.order) else { return };
            let r = &v.request;
            let side_style = if r.side == Side::Bid { theme.buy } else { theme.sell };
            let dec = |d: Option<Decimal>| d.map(format::price).unwrap_or_else(|| "market".into());
            let rect = centered(area, 48, 9);
            Clear.render(rect, buf);
            let block = Block::bordered()
                .title(Span::styled(" Confirm LIVE order ", theme.mode_live))
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
                        r.volume.map(|v| v.normalize().to_string()).unwrap_or_else(|| "-".into())
                    ),
                    theme.text,
                ),
                Line::styled(
                    format!(" total    {} {}", format::price(v.total_with_fee()), r.market.quote()),
                    theme.text,
                ),
                Line::styled(format!(" fee      {}", format::price(v.fee)), theme.text),
                yes_no(" y", " send   ", " cancel (default)", theme),
            ])
            .block(block)
            .render(rect, buf);
        }
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
        Overlay::ConfirmRule => {
            let Some(p) = &ui.pending_rule else { return };
            // Wrapped: the price, the trigger and its anchor must all be read at 80x24.
            let r = centered(area, 64, 8);
            Clear.render(r, buf);
            let block = Block::bordered()
                .title(Span::styled(" Already past the trigger ", theme.warning))
                .border_style(theme.warning)
                .style(theme.background);
            Paragraph::new(vec![
                Line::styled(format!(":{}", p.text), theme.header),
                Line::styled(p.why.clone(), theme.text),
                Line::styled("Arming it sells now, at market.", theme.warning),
                yes_no("y", " arm and sell now   ", " do not arm (default)", theme),
            ])
            .wrap(ratatui::widgets::Wrap { trim: true })
            .block(block)
            .render(r, buf);
        }
        Overlay::ConfirmSuspend => {
            let text = format!(
                "Suspend? {} armed rule(s) will not fire while hoga is stopped.",
                snap.account.armed_rules()
            );
            warning_question(area, buf, " Suspend (Ctrl-Z) ", text, " suspend   ", theme);
        }
        Overlay::ConfirmQuit => {
            let acc = &snap.account;
            let text = format!(
                "Quit with {} open order(s) and {} armed rule(s)?",
                acc.open_orders.len(),
                acc.armed_rules()
            );
            warning_question(area, buf, " Quit ", text, " quit   ", theme);
        }
    }
}

/// Draws the order entry form with its live preview.
fn render_form(area: Rect, buf: &mut Buffer, form: &OrderForm, snap: &Snapshot, theme: &Theme) {
    let rect = centered(area, 52, 13);
    Clear.render(rect, buf);
    let side_style = if form.side == Side::Bid { theme.bid } else { theme.ask };
    let block = Block::bordered()
        .title(Span::styled(format!(" Order {} ", form.market), theme.header))
        .border_style(theme.focus_border)
        .style(theme.background);
    let tif = form.tif.map(crate::trading::orders::tif_str).unwrap_or("gtc");
    let field = |f: FormField, value: String, style| {
        let cursor = form.field == f;
        Line::from(vec![
            Span::styled(if cursor { "▸ " } else { "  " }, theme.accent),
            Span::styled(format!("{:<8}", f.label()), theme.muted),
            Span::styled(
                if cursor { format!("{value}▏") } else { value },
                if cursor { theme.selection } else { style },
            ),
        ])
    };
    let mut lines = vec![
        field(FormField::Side, form.side.label().to_uppercase(), side_style),
        field(FormField::Kind, form.kind.label().to_string(), theme.text),
        field(FormField::Tif, tif.to_string(), theme.text),
        field(
            FormField::Price,
            if form.kind == FormKind::Limit { form.price.clone() } else { "market".into() },
            theme.text,
        ),
        field(FormField::Size, form.size.clone(), theme.text),
        field(FormField::Unit, form.unit.label().to_string(), theme.text),
        Line::raw(""),
    ];
    match order_form::preview(form, snap) {
        Ok(v) => {
            let r = &v.request;
            if let Some(p) = r.price.filter(|_| form.kind == FormKind::Limit) {
                lines.push(Line::styled(format!("  snapped  {}", format::price(p)), theme.text));
            }
            if let Some(q) = r.volume {
                lines.push(Line::styled(format!("  qty      {}", q.normalize()), theme.text));
            }
            lines.push(Line::styled(
                format!(
                    "  fee {}   total {} {}",
                    format::price(v.fee),
                    format::price(v.total_with_fee()),
                    r.market.quote()
                ),
                theme.header,
            ));
        }
        Err(e) => lines.push(Line::styled(format!("  {e}"), theme.warning)),
    }
    lines.push(Line::styled("  ←/→ change  ↑/↓ field  enter send  esc close", theme.muted));
    Paragraph::new(lines).block(block).render(rect, buf);
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
}
