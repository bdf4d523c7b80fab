//! Monitor pane: the trading monitor's client-side rules (stop-loss, take-profit,
//! trailing, OCO) with their trigger, distance from the last price, data freshness and
//! state. The rules themselves live in `trading`; this only draws the store's rows, which
//! are the monitor's own [`crate::trading::monitor::RuleRow`]s: the distance and the age
//! shown are the ones the monitor evaluates the rule with, never recomputed here from the
//! market panes' prices.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, Widget};

use super::pane_block;
use crate::store::Snapshot;
use crate::trading::rules::RuleState;
use crate::ui::layout::PaneId;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use crate::ui::widgets::format;

/// Draws the monitor pane.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let acc = &snap.account;
    let extra = vec![Span::styled(format!("{} armed ", acc.armed_rules()), theme.muted)];
    let block = pane_block(PaneId::Monitor, extra, ui, theme);
    let inner = block.inner(area);
    block.render(area, buf);
    if acc.rules.is_empty() {
        buf.set_stringn(
            inner.x + 1,
            inner.y,
            "no rules (:stop :tp :trail)",
            inner.width as usize,
            theme.muted,
        );
        return;
    }
    let widths = [
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Fill(1),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(6),
    ];
    // Numbers are shortened to their column, never cut (see `format::fit`).
    let w = format::column_widths(inner.width, &widths, 1);
    let trigger_width = w.get(2).copied().unwrap_or(8);
    let rows = acc.rules.iter().map(|r| {
        // The monitor's verdict: a rule without a fresh price is STALE there.
        let stale = r.state == RuleState::Stale || r.age.is_none();
        let distance = r.distance.map_or_else(|| "-".into(), format::pct);
        let trigger = r.trigger.map_or_else(|| "-".into(), |t| format::fit(format::price(t), trigger_width));
        let state_style = match r.state {
            RuleState::Armed => theme.ok,
            RuleState::Stale => theme.stale,
            RuleState::Firing => theme.warning,
            RuleState::Done | RuleState::Failed => theme.muted,
        };
        Row::new(vec![
            Cell::from(Span::styled(r.market.base().to_string(), theme.text)),
            Cell::from(Span::styled(r.label.clone(), theme.text)),
            Cell::from(Line::from(trigger).right_aligned()),
            Cell::from(Line::from(distance).right_aligned()),
            Cell::from(Span::styled(
                r.age.map(format::age).unwrap_or_else(|| "-".into()),
                if stale { theme.stale } else { theme.muted },
            )),
            Cell::from(Span::styled(r.state.label(), state_style)),
        ])
    });
    Table::new(rows, widths)
        .column_spacing(1)
        .header(Row::new(["coin", "kind", "trigger", "dist", "age", "state"]).style(theme.header))
        .render(inner, buf);
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
            id: "r1".into(),
            market: MarketId::new("KRW-BTC"),
            label: "stop -3%".into(),
            kind: RuleKind::StopLoss(Level::PctFromAvg(dec!(-0.03))),
            trigger: Some(dec!(92_150_000)),
            last: Some(dec!(95_000_000)),
            distance,
            age,
            state,
            attempt: 0,
            note: None,
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
        assert_eq!(buf[(column(&buf, 2, "armed"), 2)].style().fg, Theme::default().bid.fg);
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
        assert!(!text.contains('%'), "{text}");
    }
}
