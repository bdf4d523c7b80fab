//! The System pane's REST limits line: whose exchange budget the client draws on (Upbit
//! counts the exchange groups and their 418 bans per pocket), which groups are resting
//! after a 429, and any ban with the time left.

use ratatui::text::{Line, Span};

use crate::exchange::rest::LimitsStatus;
use crate::ui::theme::Theme;

/// Whole seconds, rounded up: a countdown never shows 0 s while calls are refused.
fn secs(d: std::time::Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `limits pocket main  429s 3  418s 1  paused order 2s  banned (418): …`; nothing while
/// no pocket is known and the limits have never pushed back (a keyless console).
pub fn line(rest: &LimitsStatus, theme: &Theme) -> Option<Line<'static>> {
    let quiet =
        rest.rate_limited == 0 && rest.blocks == 0 && rest.paused.is_empty() && rest.blocked_for.is_none();
    if rest.pocket.is_none() && quiet {
        return None;
    }
    let mut spans = vec![Span::styled("  limits ", theme.muted)];
    if let Some(p) = &rest.pocket {
        spans.push(Span::styled(format!("pocket {p}  "), theme.text));
    }
    spans.push(Span::styled(format!("429s {}  418s {}", rest.rate_limited, rest.blocks), theme.text));
    if !rest.paused.is_empty() {
        let paused: Vec<String> = rest.paused.iter().map(|(g, d)| format!("{g} {}s", secs(*d))).collect();
        spans.push(Span::styled(format!("  paused {}", paused.join(" ")), theme.warning));
    }
    // Both can be on at once (an IP ban and a longer one of the pocket): each is said.
    if let Some(b) = rest.ip_blocked_for {
        spans.push(Span::styled(format!("  banned (418): every call for {}s", secs(b)), theme.error));
    }
    if let Some(p) = rest.pocket_blocked_for {
        spans.push(Span::styled(
            format!("  banned (418): this pocket's exchange calls for {}s", secs(p)),
            theme.error,
        ));
    }
    Some(Line::from(spans))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn text(l: &Line) -> String {
        l.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn the_limits_line_names_the_pocket_and_whose_ban_it_is() {
        let theme = Theme::default();
        let st = LimitsStatus {
            pocket: Some("main".into()),
            pocket_blocked_for: Some(Duration::from_millis(54_200)),
            blocked_for: Some(Duration::from_millis(54_200)),
            ip_blocked_for: None,
            paused: vec![("order", Duration::from_millis(1500))],
            blocks: 1,
            rate_limited: 3,
        };
        let t = text(&line(&st, &theme).unwrap());
        assert!(t.contains("pocket main  429s 3  418s 1  paused order 2s"), "{t}");
        assert!(t.contains("this pocket's exchange calls for 55s"), "{t}");
        let ip = LimitsStatus {
            blocked_for: Some(Duration::from_secs(5)),
            ip_blocked_for: Some(Duration::from_secs(5)),
            ..LimitsStatus::default()
        };
        let t = text(&line(&ip, &theme).unwrap());
        assert!(!t.contains("pocket") && t.contains("every call for 5s"), "{t}");
        assert!(line(&LimitsStatus::default(), &theme).is_none());
    }
}
