//! The order entry form, drawn over the panes: its fields (the price with thousands
//! separators, while it is typed too), then what it would send (snapped price,
//! quantity, fee and total at the quote currency's precision), what is missing, or why it
//! cannot be sent, wrapped to the box, and the price band warning before Enter.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use crate::exchange::types::Side;
use crate::store::Snapshot;
use crate::ui::order_form::{self, FormField, FormKind, FormStatus, OrderForm};
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use crate::ui::widgets::format;

/// The form's width: wide enough for a 10-digit KRW total on one line.
const WIDTH: u16 = 56;
/// Text starts after the border and a two-cell indent.
const INDENT: &str = "  ";

/// Draws the open order form, centred in `area`.
pub(crate) fn render(
    area: Rect,
    buf: &mut Buffer,
    form: &OrderForm,
    ui: &UiState,
    snap: &Snapshot,
    theme: &Theme,
) {
    let side_style = if form.side == Side::Bid { theme.buy } else { theme.sell };
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
    let price = match form.kind {
        FormKind::Limit => order_form::grouped_input(&form.price),
        FormKind::Market | FormKind::Best => "market".into(),
    };
    let mut lines = vec![
        field(FormField::Side, form.side.label().to_uppercase(), side_style),
        field(FormField::Kind, form.kind.label().to_string(), theme.text),
        field(FormField::Tif, tif.to_string(), theme.text),
        field(FormField::Price, price, theme.text),
        field(FormField::Size, form.size.clone(), theme.text),
        field(FormField::Unit, form.unit.label().to_string(), theme.text),
        Line::raw(""),
    ];
    let w = usize::from(WIDTH.min(area.width).saturating_sub(2));
    let wrapped = |text: &str, style, lines: &mut Vec<Line<'static>>| {
        for l in wrap(text, w.saturating_sub(INDENT.len()).max(1)) {
            lines.push(Line::styled(format!("{INDENT}{l}"), style));
        }
    };
    match order_form::status(form, snap, order_form::Limits::of(&ui.config)) {
        FormStatus::Incomplete(what) => wrapped(&what, theme.muted, &mut lines),
        FormStatus::Invalid(why) => wrapped(&why, theme.warning, &mut lines),
        FormStatus::Ready { order, warnings } => {
            let r = &order.request;
            let quote = r.market.quote();
            if let Some(p) = r.price.filter(|_| form.kind == FormKind::Limit) {
                lines.push(Line::styled(format!("{INDENT}snapped  {}", format::price(p)), theme.text));
            }
            if let Some(q) = r.volume {
                lines.push(Line::styled(format!("{INDENT}qty      {}", format::qty(q, 8)), theme.text));
            }
            wrapped(
                &format!(
                    "fee {} · total {} {quote}",
                    format::amount(order.fee, quote),
                    format::amount(order.total_with_fee(), quote)
                ),
                theme.header,
                &mut lines,
            );
            for warning in &warnings {
                wrapped(warning, theme.warning, &mut lines);
            }
        }
    }
    lines.push(Line::styled(format!("{INDENT}←/→ change  ↑/↓ field  enter send  esc close"), theme.muted));
    let h = (lines.len() as u16 + 2).min(area.height);
    let rect = centered(area, WIDTH, h);
    Clear.render(rect, buf);
    let block = Block::bordered()
        .title(Span::styled(format!(" Order {} ", form.market), theme.header))
        .border_style(theme.focus_border)
        .style(theme.background);
    Paragraph::new(lines).block(block).render(rect, buf);
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}

/// Greedy word wrap to `width` display columns (a Hangul syllable takes two); a word
/// wider than the width is cut into pieces (nothing is dropped).
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    let width = width.max(1);
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let (used, need) = (line.width(), word.width());
        if used > 0 && used + 1 + need <= width {
            line.push(' ');
            line.push_str(word);
            continue;
        }
        if used > 0 {
            out.push(std::mem::take(&mut line));
        }
        let mut piece = String::new();
        for c in word.chars() {
            let cw = c.width().unwrap_or(0);
            if !piece.is_empty() && piece.width() + cw > width {
                out.push(std::mem::take(&mut piece));
            }
            piece.push(c);
        }
        line = piece;
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_every_word_and_fits_the_width() {
        let text = "price is 10.3% from the last 145,000,000: outside the 5% price band";
        let lines = wrap(text, 20);
        assert!(lines.iter().all(|l| l.chars().count() <= 20), "{lines:?}");
        assert_eq!(lines.join(" "), text);
        assert_eq!(wrap("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap("", 5), [""]);
    }

    /// Korean text is two columns a syllable: it is wrapped by what it takes on screen,
    /// so no line is wider than the box (the box cut `…이 부족 합니다.` to `…이 부족`).
    #[test]
    fn wrap_counts_display_columns_not_characters() {
        use unicode_width::UnicodeWidthStr;
        let text = "rejected: insufficient_funds_ask: 주문가능한 금액(DOGE)이 부족합니다.";
        let lines = wrap(text, 20);
        assert!(lines.iter().all(|l| l.width() <= 20), "{lines:?}");
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""), "nothing is dropped");
        assert_eq!(wrap("가나다라", 5), ["가나", "다라"]);
    }
}
