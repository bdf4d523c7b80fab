//! The alert history (`:alerts`): every alert the store keeps, newest first, with its
//! time in KST, its severity and its text wrapped (up to a few lines: a longer one says
//! it was cut and how long it is), scrolled with the cursor keys and closed with Esc. Opening it acknowledges them (the status bar's unread count
//! goes to zero); the ones that were unread when it opened are marked.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use crate::store::{AlertRecord, Snapshot};
use crate::ui::theme::Theme;
use crate::ui::widgets::format;

/// How bad an alert is. The store keeps an alert's text only, so this is read from the
/// words its producers put first: the exchange's refusals (`rejected: …`) and the safety
/// lane's failures and halts are errors, resyncs and degraded feeds warnings, the rest
/// (fills, price alerts, rules firing) news.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Severity {
    /// Something was refused or failed.
    Error,
    /// Something to look at.
    Warn,
    /// News.
    Info,
}

impl Severity {
    /// Of an alert's text.
    pub(crate) fn of(message: &str) -> Severity {
        let m = message.to_lowercase();
        let any = |words: &[&str]| words.iter().any(|w| m.contains(w));
        if any(&["rejected", "failed", "halt", "kill", "critical", "denied"]) {
            Severity::Error
        } else if any(&["resync", "degraded", "stale", "reconnect", "warning", "banned", "limit"]) {
            Severity::Warn
        } else {
            Severity::Info
        }
    }

    /// The label in the list.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warn => "warn",
            Severity::Info => "info",
        }
    }

    fn style(self, theme: &Theme) -> Style {
        match self {
            Severity::Error => theme.error,
            Severity::Warn => theme.warning,
            Severity::Info => theme.muted,
        }
    }
}

/// Lines one alert takes in the list at most. An alert's text can come from outside (a
/// notice title): one of 100,000 characters must not push every other alert off the list.
const MAX_LINES: usize = 6;

/// An alert's text wrapped to `width` columns, at most [`MAX_LINES`] lines; a longer one
/// ends in a line that says it was cut and how long it is. Only a bounded start of the
/// text is wrapped, so a huge alert costs no more to draw than a long one.
fn bounded(message: &str, width: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthChar;
    // Enough text for MAX_LINES full lines even when wrapping at words wastes up to half.
    let budget = width.saturating_mul(MAX_LINES + 1).saturating_mul(2);
    let mut used = 0;
    let mut end = message.len();
    for (i, c) in message.char_indices() {
        used += c.width().unwrap_or(0).max(1);
        if used > budget {
            end = i;
            break;
        }
    }
    let mut wrapped = super::form::wrap(&message[..end], width);
    if wrapped.len() <= MAX_LINES && end == message.len() {
        return wrapped;
    }
    wrapped.truncate(MAX_LINES - 1);
    let total = message.chars().count();
    wrapped
        .push(format!("… (cut: {} characters in all)", crate::exchange::display::group(&total.to_string())));
    wrapped
}

/// The history's lines: per alert, `HH:MM:SS  sev   text…` then the text's continuation
/// lines indented under it, at most [`MAX_LINES`] an alert. `new` alerts (the newest
/// ones) are marked `•`.
pub(crate) fn lines(alerts: &[&AlertRecord], new: usize, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    // `• HH:MM:SS error ` before the text.
    const LEAD: usize = 2 + 8 + 1 + 5 + 1;
    let text_w = width.saturating_sub(LEAD).max(10);
    let mut out = Vec::new();
    for (i, a) in alerts.iter().enumerate() {
        let sev = Severity::of(&a.message);
        let wrapped = bounded(&a.message, text_w);
        for (k, text) in wrapped.into_iter().enumerate() {
            if k == 0 {
                out.push(Line::from(vec![
                    Span::styled(if i < new { "• " } else { "  " }, theme.accent),
                    Span::styled(format!("{} ", format::clock_kst(a.time)), theme.muted),
                    Span::styled(format!("{:<5} ", sev.label()), sev.style(theme)),
                    Span::styled(text, theme.text),
                ]));
            } else {
                out.push(Line::from(vec![Span::raw(" ".repeat(LEAD)), Span::styled(text, theme.text)]));
            }
        }
    }
    out
}

/// Draws the history over the panes from its `scroll`-th alert; `new` is how many of the
/// newest were unread when it opened.
pub(crate) fn render(
    area: Rect,
    buf: &mut Buffer,
    snap: &Snapshot,
    scroll: usize,
    new: usize,
    theme: &Theme,
) {
    let w = area.width.saturating_sub(4).min(100);
    let h = area.height.saturating_sub(4);
    let rect = Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h);
    Clear.render(rect, buf);
    let all = snap.system.alerts.len();
    let first = scroll.min(all.saturating_sub(1));
    let alerts: Vec<&AlertRecord> = snap.system.alerts.iter().skip(first).collect();
    let block = Block::bordered()
        .title(Span::styled(format!(" Alerts ({all}, newest first) — ↑/↓ scroll, esc closes "), theme.header))
        .border_style(theme.focus_border)
        .style(theme.background);
    let inner_w = usize::from(w.saturating_sub(2));
    let mut lines = lines(&alerts, new.saturating_sub(first), inner_w, theme);
    if lines.is_empty() {
        lines.push(Line::styled("  no alerts yet", theme.muted));
    }
    Paragraph::new(lines).block(block).render(rect, buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn a_long_alert_is_wrapped_in_full_under_its_time_and_severity() {
        let theme = Theme::default();
        let long = AlertRecord {
            time: Utc.with_ymd_and_hms(2026, 11, 23, 3, 4, 5).unwrap(),
            message: "rejected: #12 buy KRW-BTC: insufficient_funds_bid: the available KRW balance is lower than the order total".into(),
            acknowledged: false,
            key: None,
        };
        let short =
            AlertRecord { message: "KRW-BTC above 150,000,000".into(), acknowledged: true, ..long.clone() };
        let text: Vec<String> = lines(&[&long, &short], 1, 60, &theme)
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert!(text[0].starts_with("• 12:04:05 error rejected: #12"), "{text:?}");
        assert!(text.iter().all(|l| l.chars().count() <= 60), "{text:?}");
        let joined: String = text.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
        assert!(joined.contains("lower than the order total"), "nothing is cut: {joined}");
        assert!(text.last().unwrap().starts_with("  12:04:05 info  KRW-BTC above"), "{text:?}");
    }

    /// A notice of 100,000 characters takes a few lines, says it was cut, and leaves the
    /// alerts after it on the list.
    #[test]
    fn a_huge_alert_is_bounded_to_a_few_lines_and_says_so() {
        let theme = Theme::default();
        let time = Utc.with_ymd_and_hms(2026, 11, 23, 3, 4, 5).unwrap();
        let huge = AlertRecord {
            time,
            message: format!("[거래] {}", "가나다라 abcdefgh ".repeat(100_000 / 14)),
            acknowledged: false,
            key: None,
        };
        let next = AlertRecord { message: "KRW-BTC above 150,000,000".into(), ..huge.clone() };
        let text: Vec<String> = lines(&[&huge, &next], 0, 80, &theme)
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert_eq!(text.len(), MAX_LINES + 1, "{text:?}");
        let total = crate::exchange::display::group(&huge.message.chars().count().to_string());
        assert!(text[MAX_LINES - 1].trim() == format!("… (cut: {total} characters in all)"), "{text:?}");
        assert!(text[MAX_LINES].contains("KRW-BTC above 150,000,000"), "{text:?}");
        // One that fits is shown whole, with no note.
        assert_eq!(bounded("a b c", 10), ["a b c"]);
    }

    /// An exchange's Korean refusal is wrapped by the columns it takes (two a syllable)
    /// and drawn in full: the box cut `…(DOGE)이 부족합니다.` to `…(DOGE)이 부족`.
    #[test]
    fn a_korean_alert_is_wrapped_by_display_width_and_shown_in_full() {
        let alert = AlertRecord {
            time: Utc.with_ymd_and_hms(2026, 11, 23, 3, 4, 5).unwrap(),
            message:
                "rejected: #7 sell KRW-DOGE: insufficient_funds_ask: 주문가능한 금액(DOGE)이 부족합니다."
                    .into(),
            acknowledged: false,
            key: None,
        };
        let mut snap = Snapshot::default();
        std::sync::Arc::make_mut(&mut snap.system).alerts =
            std::sync::Arc::new(std::collections::VecDeque::from([alert]));
        let area = Rect::new(0, 0, 64, 12);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &snap, 0, 1, &Theme::default());
        // Wide characters take two cells, the second one empty in the buffer.
        let screen: String = (0..area.height)
            .map(|y| (0..area.width).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n");
        let flat: String = screen.replace('│', " ").split_whitespace().collect();
        assert!(flat.contains("(DOGE)이부족합니다."), "{screen}");
    }
}
