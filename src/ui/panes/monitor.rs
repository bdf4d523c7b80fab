//! Monitor pane: the trading monitor's client-side rules (stop-loss, take-profit,
//! trailing, OCO) with their trigger, distance from the last price, data freshness and
//! state. The rules themselves live in `trading`; this only draws the store's rows, which
//! are the monitor's own [`crate::trading::monitor::RuleRow`]s: the distance and the age
//! shown are the ones the monitor evaluates the rule with, never recomputed here from the
//! market panes' prices.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Cell, Row, Table, Widget};

use super::pane_block;
use crate::store::RuleRow;
use crate::store::Snapshot;
use crate::trading::monitor::AlertRow;
use crate::trading::monitor::RulePosition;
use crate::trading::rules::RuleState;
use crate::ui::layout::PaneId;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use crate::ui::widgets::format;

/// The title's counts in `room` cells: rules that protect a position (`2 armed`), and
/// those that do not (`1 gone`: position gone; `1 waiting`: armed for a future position),
/// then the alerts, which protect nothing (`6 alerts`, `6 alerts (1 fired)`).
/// Where room is short `waiting` reads `wait`, then the parts after the armed count go,
/// whole, from the end: a title is never cut mid-word (`1 waitin`).
fn counts(rules: &[RuleRow], alerts: &[AlertRow], room: usize) -> String {
    let armed = rules.iter().filter(|r| r.is_armed()).count();
    let idle = |p: RulePosition| rules.iter().filter(|r| r.is_idle_for_position() == Some(p)).count();
    let (gone, waiting) = (idle(RulePosition::Gone), idle(RulePosition::Waiting));
    let fired = alerts.iter().filter(|a| a.fired).count();
    let plural =
        |n: usize, one: &str, many: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {many}") };
    let alerts_full = match (alerts.len(), fired) {
        (0, _) => None,
        (n, 0) => Some(plural(n, "alert", "alerts")),
        (n, f) => Some(format!("{} ({f} fired)", plural(n, "alert", "alerts"))),
    };
    let alerts_short = (!alerts.is_empty()).then(|| plural(alerts.len(), "alert", "alerts"));
    let some = |n: usize, what: &str| (n > 0).then(|| format!("{n} {what}"));
    let text = |parts: &[Option<String>]| {
        let mut text = format!("{armed} armed");
        for part in parts.iter().flatten() {
            text.push_str(&format!(" · {part}"));
        }
        text + " "
    };
    let tries = [
        text(&[alerts_full.clone(), some(gone, "gone"), some(waiting, "waiting")]),
        text(&[alerts_full.clone(), some(gone, "gone"), some(waiting, "wait")]),
        text(&[alerts_full.clone(), some(gone, "gone")]),
        text(&[alerts_full]),
        text(&[alerts_short]),
        text(&[]),
    ];
    let fits = |t: &String| t.chars().count() <= room;
    tries.iter().find(|t| fits(t)).unwrap_or(&tries[5]).clone()
}

/// Draws the alerts at the bottom of `inner`, armed ones first (`alert KRW-ETH
/// RSI14(5m) < 30 … armed`), and returns the room left above them. Where they do not all
/// fit, the last line counts the rest on a line of its own (`+4 more alerts (3 armed)`; zooming the pane shows more)
/// rather than over an alert's text; a label too long for its line loses the `alert `
/// before it, then ends in `…`.
fn draw_alerts(inner: Rect, buf: &mut Buffer, alerts: &[AlertRow], no_rules: bool, theme: &Theme) -> Rect {
    if alerts.is_empty() || inner.height == 0 || inner.width < 8 {
        return inner;
    }
    // At most half the pane, or with no rules all of it but the hint's line.
    let room = if no_rules { inner.height.saturating_sub(1) } else { inner.height / 2 };
    let height = (alerts.len() as u16).min(room.max(1));
    let shown = if alerts.len() > height as usize { height as usize - 1 } else { height as usize };
    let mut sorted: Vec<&AlertRow> = alerts.iter().collect();
    sorted.sort_by_key(|a| a.fired);
    let top = inner.bottom() - height;
    let width = inner.width as usize;
    for (i, a) in sorted.iter().take(shown).enumerate() {
        let y = top + i as u16;
        let (state, style) = if a.fired { ("fired", theme.muted) } else { ("armed", theme.ok) };
        let state_w = state.chars().count();
        // `alert ` goes before the label is cut: two alerts that differ at their end
        // (`break up`, `break down`) must not read the same.
        let fits = |prefix: usize| a.label.chars().count() + prefix + 1 + state_w <= width;
        let prefix = if fits(6) { "alert " } else { "" };
        let label_w = width.saturating_sub(state_w + 1 + prefix.len());
        let label = if a.label.chars().count() > label_w {
            let cut: String = a.label.chars().take(label_w.saturating_sub(1)).collect();
            format!("{cut}…")
        } else {
            a.label.clone()
        };
        buf.set_stringn(inner.x, y, prefix, prefix.len(), theme.muted);
        let label_x = inner.x + prefix.len() as u16;
        buf.set_stringn(label_x, y, &label, label_w, if a.fired { theme.muted } else { theme.text });
        if width > state_w + 7 {
            buf.set_stringn(inner.right() - state_w as u16, y, state, state_w, style);
        }
    }
    let rest = alerts.len() - shown;
    if rest > 0 {
        let armed = sorted[shown..].iter().filter(|a| !a.fired).count();
        let noun = if rest == 1 { "alert" } else { "alerts" };
        let head = if shown == 0 { format!("{rest} {noun}") } else { format!("+{rest} more {noun}") };
        let text = match armed {
            0 => format!("{head} (fired)"),
            a if a == rest => head,
            a => format!("{head} ({a} armed)"),
        };
        buf.set_stringn(inner.x, top + shown as u16, text, width, theme.muted);
    }
    Rect { height: inner.height - height, ..inner }
}

/// Draws the monitor pane.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let acc = &snap.account;
    // The title's room: the width inside the corners, less the pane's name.
    let room = (area.width as usize).saturating_sub(2 + PaneId::Monitor.title().len() + 2);
    let extra = vec![Span::styled(counts(&acc.rules, &acc.alerts, room), theme.muted)];
    let block = pane_block(PaneId::Monitor, extra, ui, theme);
    let inner = block.inner(area);
    block.render(area, buf);
    // Alerts (price and indicator) take the bottom lines, at most half the pane: the
    // rules, which protect positions, keep the rest (with no rules, the alerts take all
    // but the line that says how to add one).
    let inner = draw_alerts(inner, buf, &acc.alerts, acc.rules.is_empty(), theme);
    if acc.rules.is_empty() {
        if inner.height == 0 {
            return;
        }
        buf.set_stringn(
            inner.x + 1,
            inner.y,
            "no rules (:stop :tp :trail)",
            inner.width as usize,
            theme.muted,
        );
        return;
    }
    // Columns are laid out for what they hold: the trigger column holds every price, in
    // full at its tick's precision (`152,452,000`, never `152M`, `…` or cut off; an OCO
    // has two lines, stop and take-profit); the kind column holds only words and relative
    // levels. Where room is short the age goes first, then the distance, then the kind's
    // words are cut: never a price.
    let kinds: Vec<Vec<String>> = acc.rules.iter().map(RuleRow::kind_lines).collect();
    let triggers: Vec<Vec<String>> = acc.rules.iter().map(RuleRow::trigger_lines).collect();
    let widest = |texts: &mut dyn Iterator<Item = usize>, title: &str| {
        texts.max().unwrap_or(0).max(title.len()) as u16
    };
    let coin_w = widest(&mut acc.rules.iter().map(|r| r.market.base().chars().count()), "coin");
    let kind_w = widest(&mut kinds.iter().flatten().map(|t| t.chars().count()), "kind");
    let trigger_w = widest(&mut triggers.iter().flatten().map(|t| t.chars().count()), "trigger");
    let state_w = widest(&mut acc.rules.iter().map(|r| r.state_label().len()), "state");
    let (dist_w, age_w) = (7, 4);
    // Each column and the space before it.
    let fixed = coin_w + kind_w + trigger_w + state_w + 3;
    let show_dist = fixed + dist_w < inner.width;
    let show_age = show_dist && fixed + dist_w + age_w + 2 <= inner.width;
    let mut widths = vec![Constraint::Length(coin_w), Constraint::Fill(1), Constraint::Length(trigger_w)];
    let mut titles = vec!["coin", "kind", "trigger"];
    if show_dist {
        widths.push(Constraint::Length(dist_w));
        titles.push("dist");
    }
    if show_age {
        widths.push(Constraint::Length(age_w));
        titles.push("age");
    }
    widths.push(Constraint::Length(state_w));
    titles.push("state");

    // Rows that do not fit are scrolled to (Up / Down on the focused pane, the wheel), and
    // the bottom border says how many are out of sight (a pane one row high still shows
    // a rule).
    let heights: Vec<u16> = kinds.iter().map(|k| k.len().max(1) as u16).collect();
    let room = inner.height.saturating_sub(1);
    let mut max_skip = heights.len();
    let mut tail = 0u16;
    while max_skip > 0 && tail + heights[max_skip - 1] <= room {
        max_skip -= 1;
        tail += heights[max_skip];
    }
    let skip = ui.scroll.get(&PaneId::Monitor).copied().unwrap_or(0).min(max_skip);
    let mut shown = 0;
    let mut used = 0u16;
    for h in &heights[skip..] {
        if used + h > room {
            break;
        }
        used += h;
        shown += 1;
    }
    let rows =
        acc.rules.iter().zip(kinds).zip(triggers).skip(skip).take(shown).map(|((r, kind), trigger)| {
            let height = kind.len().max(1) as u16;
            // The monitor's verdict: a rule without a fresh price is STALE there.
            let stale = r.state == RuleState::Stale || r.age.is_none();
            let distance = r.distance.map_or_else(|| "-".into(), format::pct);
            let state_style = match (r.state, r.is_idle_for_position()) {
                // Nothing to sell: it protects nothing, and says so rather than "armed".
                (_, Some(RulePosition::Gone)) => theme.warning,
                (_, Some(_)) => theme.muted,
                (RuleState::Armed | RuleState::Stale, None) if r.starting => theme.muted,
                (RuleState::Armed, None) => theme.ok,
                (RuleState::Stale, None) => theme.stale,
                (RuleState::Firing, None) => theme.warning,
                (RuleState::Done | RuleState::Failed, None) => theme.muted,
            };
            let lines = |texts: Vec<String>, right: bool| {
                let lines: Vec<Line> = texts
                    .into_iter()
                    .map(|t| {
                        if right {
                            Line::from(t).right_aligned()
                        } else {
                            Line::from(Span::styled(t, theme.text))
                        }
                    })
                    .collect();
                Cell::from(Text::from(lines))
            };
            let mut cells = vec![
                Cell::from(Span::styled(r.market.base().to_string(), theme.text)),
                lines(kind, false),
                lines(trigger, true),
            ];
            if show_dist {
                cells.push(Cell::from(Line::from(distance).right_aligned()));
            }
            if show_age {
                cells.push(Cell::from(Span::styled(
                    r.age.map(format::age).unwrap_or_else(|| "-".into()),
                    if stale { theme.stale } else { theme.muted },
                )));
            }
            cells.push(Cell::from(Span::styled(r.state_label(), state_style)));
            Row::new(cells).height(height)
        });
    let header = Row::new(titles.into_iter().enumerate().map(|(i, t)| {
        // Number titles sit over their right-aligned numbers.
        if i == 2 || (show_dist && i == 3) {
            Cell::from(Line::from(t).right_aligned())
        } else {
            Cell::from(t)
        }
    }));
    Table::new(rows, widths).column_spacing(1).header(header.style(theme.header)).render(inner, buf);
    let below = acc.rules.len() - skip - shown;
    let hint = match (skip, below) {
        (0, 0) => return,
        (0, n) => format!(" +{n} more ↓ "),
        (above, 0) => format!(" {above} above ↑ "),
        (above, n) => format!(" {above} above ↑ · +{n} more ↓ "),
    };
    if area.height > 2 && area.width > 4 {
        buf.set_stringn(area.x + 2, area.bottom() - 1, hint, (area.width - 4) as usize, theme.muted);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use rust_decimal_macros::dec;

    use super::*;
    use crate::exchange::types::MarketId;
    use crate::store::RuleRow;
    use crate::trading::rules::{Level, RuleKind};
    use crate::ui::UiConfig;

    fn row(state: RuleState, distance: Option<rust_decimal::Decimal>, age: Option<Duration>) -> RuleRow {
        RuleRow {
            trigger: Some(dec!(92_150_000)),
            last: Some(dec!(95_000_000)),
            distance,
            age,
            state,
            ..RuleRow::armed(
                "r1",
                MarketId::new("KRW-BTC"),
                RuleKind::StopLoss(Level::PctFromAvg(dec!(-0.03))),
            )
        }
    }

    fn draw(rows: Vec<RuleRow>) -> Buffer {
        let mut snap = Snapshot::default();
        let mut account = (*snap.account).clone();
        account.rules = Arc::new(rows);
        snap.account = Arc::new(account);
        let area = Rect::new(0, 0, 80, 6);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &UiState::new(UiConfig::default()), &snap, &Theme::default());
        buf
    }

    fn line(buf: &Buffer, y: u16) -> String {
        (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect()
    }

    /// The column where `needle` starts on row `y` (cells, not bytes: borders are wide).
    fn column(buf: &Buffer, y: u16, needle: &str) -> u16 {
        (0..buf.area.width)
            .find(|&x| {
                let rest: String = (x..buf.area.width).map(|c| buf[(c, y)].symbol()).collect();
                rest.starts_with(needle)
            })
            .unwrap_or_else(|| panic!("{needle:?} not on row {y}: {}", line(buf, y)))
    }

    /// The pane shows the distance and the age the monitor computed, with no ticker of the
    /// market in the snapshot at all: it used to recompute both from the market panes'
    /// ticker and show `-` here, figures other than the ones the rule fires on.
    #[test]
    fn distance_and_age_come_from_the_monitor_row() {
        let buf = draw(vec![row(RuleState::Armed, Some(dec!(-0.03)), Some(Duration::from_secs(7)))]);
        let text = line(&buf, 2);
        assert!(text.contains("92,150,000"), "{text}");
        assert!(text.contains("-3.00%"), "{text}");
        assert!(text.contains("7s"), "{text}");
        assert!(text.contains("armed"), "{text}");
        assert_eq!(buf[(column(&buf, 2, "armed"), 2)].style().fg, Theme::default().ok.fg);
    }

    /// A rule the monitor marked STALE shows its age in the stale colour; a rule it has no
    /// price for shows dashes.
    #[test]
    fn staleness_is_the_monitors_verdict() {
        let theme = Theme::default();
        let buf = draw(vec![row(RuleState::Stale, Some(dec!(-0.03)), Some(Duration::from_secs(2)))]);
        assert_eq!(buf[(column(&buf, 2, "2s"), 2)].style().fg, theme.stale.fg);
        assert_eq!(buf[(column(&buf, 2, "stale"), 2)].style().fg, theme.stale.fg);
        let buf = draw(vec![row(RuleState::Armed, None, None)]);
        let text = line(&buf, 2);
        assert!(!text.contains("-3.00%"), "no distance without a price: {text}");
    }

    /// Issue 17 item 2: a stop whose position was sold stayed "armed" with trigger 0. It
    /// says "position gone" (and a rule armed for a future position says "waiting").
    #[test]
    fn a_rule_whose_position_is_gone_says_so() {
        use crate::trading::monitor::RulePosition;
        let gone = RuleRow { position: RulePosition::Gone, ..row(RuleState::Armed, None, None) };
        let waiting =
            RuleRow { id: "r2".into(), position: RulePosition::Waiting, ..row(RuleState::Armed, None, None) };
        let buf = draw(vec![gone, waiting]);
        let text = (0..buf.area.height).map(|y| line(&buf, y)).collect::<Vec<_>>().join("\n");
        assert!(text.contains("position gone"), "{text}");
        assert!(text.contains("waiting"), "{text}");
        assert!(!text.contains(" armed\n") && !text.contains("armed │"), "{text}");
    }

    /// The title's parts go whole (`waiting` first reads `wait`) where a narrow pane has
    /// no room for them all: it read `… · 1 waitin┐` at 120x40.
    #[test]
    fn the_title_drops_its_parts_whole_never_mid_word() {
        use crate::trading::monitor::RulePosition;
        let rows = vec![
            row(RuleState::Armed, None, None),
            RuleRow { id: "r2".into(), position: RulePosition::Gone, ..row(RuleState::Armed, None, None) },
            RuleRow { id: "r3".into(), position: RulePosition::Waiting, ..row(RuleState::Armed, None, None) },
        ];
        assert_eq!(counts(&rows, &[], 40), "1 armed · 1 gone · 1 waiting ");
        assert_eq!(counts(&rows, &[], 26), "1 armed · 1 gone · 1 wait ");
        assert_eq!(counts(&rows, &[], 20), "1 armed · 1 gone ");
        assert_eq!(counts(&rows, &[], 5), "1 armed ");
        let mut snap = Snapshot::default();
        let mut account = (*snap.account).clone();
        account.rules = Arc::new(rows);
        snap.account = Arc::new(account);
        let area = Rect::new(0, 0, 38, 6);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &UiState::new(UiConfig::default()), &snap, &Theme::default());
        let title = line(&buf, 0);
        assert!(title.contains(" Monitor 1 armed · 1 gone · 1 wait ─"), "{title}");
    }

    /// Issue 19 item 2: alerts, price and indicator, are listed under the rules, armed
    /// first, each with its state; those that do not fit are counted.
    #[test]
    fn alerts_are_listed_under_the_rules() {
        let alert = alert_row;
        let draw_with = |rules: Vec<RuleRow>, alerts: Vec<AlertRow>, h: u16| {
            let mut snap = Snapshot::default();
            let mut account = (*snap.account).clone();
            account.rules = Arc::new(rules);
            account.alerts = Arc::new(alerts);
            snap.account = Arc::new(account);
            let area = Rect::new(0, 0, 60, h);
            let mut buf = Buffer::empty(area);
            render(area, &mut buf, &UiState::new(UiConfig::default()), &snap, &Theme::default());
            buf
        };
        let alerts =
            vec![alert(":alert KRW-BTC > 100000000", true), alert(":alert KRW-ETH rsi14 < 30", false)];
        let buf = draw_with(vec![row(RuleState::Armed, None, None)], alerts.clone(), 8);
        let text: Vec<String> = (0..buf.area.height).map(|y| line(&buf, y)).collect();
        assert!(text[2].contains("92,150,000"), "the rule keeps its row: {text:?}");
        assert!(text[5].contains("alert KRW-ETH RSI14(5m) < 30") && text[5].contains("armed"), "{text:?}");
        assert!(text[6].contains("alert KRW-BTC > 100,000,000") && text[6].contains("fired"), "{text:?}");
        assert_eq!(buf[(column(&buf, 5, "armed"), 5)].style().fg, Theme::default().ok.fg);
        // No rules: the hint, then the alerts; too little room: the rest counted.
        let buf = draw_with(Vec::new(), alerts, 4);
        let text: Vec<String> = (0..buf.area.height).map(|y| line(&buf, y)).collect();
        assert!(text[1].contains("no rules"), "{text:?}");
        assert_eq!(
            text[2].trim_end_matches([' ', '│']).trim_start_matches('│'),
            "2 alerts (1 armed)",
            "{text:?}"
        );
    }

    fn alert_row(line: &str, fired: bool) -> AlertRow {
        let a = crate::trading::monitor::parse_alert(line).unwrap();
        AlertRow {
            id: a.id.clone(),
            market: a.market.clone(),
            condition: a.condition,
            label: crate::trading::monitor::alerts::describe_alert(&a),
            fired,
            levels: Vec::new(),
        }
    }

    fn draw_with(rules: Vec<RuleRow>, alerts: Vec<AlertRow>, w: u16, h: u16) -> Vec<String> {
        let mut snap = Snapshot::default();
        let mut account = (*snap.account).clone();
        account.rules = Arc::new(rules);
        account.alerts = Arc::new(alerts);
        snap.account = Arc::new(account);
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &UiState::new(UiConfig::default()), &snap, &Theme::default());
        (0..h).map(|y| line(&buf, y)).collect()
    }

    /// Issue 19: with six alerts in a short pane the count of the hidden ones was written
    /// over the last alert's text (`alert KRW-BTC BB20(  +4 more · armed`). It has a line
    /// of its own; every alert line shown is whole or ends in `…`, with its state.
    #[test]
    fn alerts_that_do_not_fit_are_counted_on_their_own_line() {
        let alerts: Vec<AlertRow> = [
            ":alert KRW-BTC bb20 break up 15m",
            ":alert KRW-BTC bb20 break down 15m",
            ":alert KRW-ETH rsi14 < 30",
            ":alert KRW-ETH ema20 crosses ema50 1h",
            ":alert KRW-BTC macd crosses signal",
            ":alert KRW-XRP > 3000",
        ]
        .iter()
        .map(|l| alert_row(l, false))
        .collect();
        // Inside: 6 rows; no rules: the hint, four alerts and the count of the other two.
        let text = draw_with(Vec::new(), alerts.clone(), 36, 8);
        let inner: Vec<&str> = text.iter().map(|l| l.trim_start_matches('│').trim_end_matches('│')).collect();
        assert!(inner[1].contains("no rules"), "{text:#?}");
        for l in &inner[2..6] {
            assert!(l.contains("KRW-") && l.ends_with(" armed"), "{text:#?}");
        }
        // Too narrow for `alert ` and the label: the label keeps its end (`up`/`down`).
        assert!(
            inner[2].starts_with("KRW-BTC BB20(15m) break up ") && inner[2].ends_with(" armed"),
            "{text:#?}"
        );
        assert!(inner[3].starts_with("KRW-BTC BB20(15m) break down armed"), "{text:#?}");
        assert_eq!(inner[6].trim_end(), "+2 more alerts", "{text:#?}");
        assert!(!text.iter().any(|l| l.contains("more ·")), "{text:#?}");
        // Narrower still: a label that does not fit ends in `…`, its state kept.
        let text = draw_with(Vec::new(), alerts.clone(), 30, 8);
        assert!(text[3].ends_with("bre… armed│"), "{text:#?}");
        // With a rule, at the 80x24 layout's size: half the inside, the count on its line.
        let text = draw_with(vec![row(RuleState::Armed, None, None)], alerts, 80, 7);
        let inner: Vec<&str> = text.iter().map(|l| l.trim_start_matches('│').trim_end_matches('│')).collect();
        assert!(inner[2].contains("92,150,000"), "the rule keeps its row: {text:#?}");
        assert!(
            inner[4].starts_with("alert KRW-BTC BB20(15m) break up") && inner[4].ends_with(" armed"),
            "{text:#?}"
        );
        assert_eq!(inner[5].trim_end(), "+5 more alerts", "{text:#?}");
    }

    /// Issue 19: the title read `Monitor 0 armed` with six alerts armed. `armed` stays
    /// the count of rules protecting a position; the alerts are counted after it.
    #[test]
    fn the_title_counts_the_alerts_too() {
        let alerts = vec![
            alert_row(":alert KRW-BTC > 100000000", false),
            alert_row(":alert KRW-ETH rsi14 < 30", false),
            alert_row(":alert KRW-XRP < 3000", true),
        ];
        assert_eq!(counts(&[], &alerts, 60), "0 armed · 3 alerts (1 fired) ");
        assert_eq!(counts(&[], &alerts, 20), "0 armed · 3 alerts ");
        assert_eq!(counts(&[], &alerts[..1], 60), "0 armed · 1 alert ");
        assert_eq!(counts(&[], &[], 60), "0 armed ");
        let rules = vec![row(RuleState::Armed, None, None)];
        assert_eq!(counts(&rules, &alerts[..2], 60), "1 armed · 2 alerts ");
        let title = draw_with(Vec::new(), alerts, 60, 8).remove(0);
        assert!(title.contains(" Monitor 0 armed · 3 alerts (1 fired) ─"), "{title}");
    }
}
