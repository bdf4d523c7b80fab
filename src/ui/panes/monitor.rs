//! Monitor pane: the trading monitor's client-side rules (stop-loss, take-profit,
//! trailing, OCO) with their trigger, distance from the last price, data freshness and
//! state. The rules themselves live in `trading`; this only draws the store's rows.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, Widget};

use super::pane_block;
use crate::store::Snapshot;
use crate::ui::layout::PaneId;
use crate::ui::theme::Theme;
use crate::ui::update::UiState;
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
        let ticker = snap.market.tickers.get(&r.market);
        let age = ticker.map(|t| t.age(ui.now));
        let stale = age.is_none_or(|a| a >= ui.config.stale_after);
        // Distance from the last price to the trigger, as a share of the last price.
        let distance = ticker
            .map(|t| t.value.trade_price)
            .filter(|p| !p.is_zero())
            .map(|p| {
                r.trigger
                    .checked_sub(p)
                    .and_then(|d| d.checked_div(p))
                    .map_or_else(|| "—".into(), format::pct)
            })
            .unwrap_or_else(|| "-".into());
        let state_style = match r.state.as_str() {
            "armed" => theme.bid,
            "stale" => theme.stale,
            "firing" => theme.warning,
            _ => theme.muted,
        };
        Row::new(vec![
            Cell::from(Span::styled(r.market.base().to_string(), theme.text)),
            Cell::from(Span::styled(r.kind.clone(), theme.text)),
            Cell::from(Line::from(format::fit(format::price(r.trigger), trigger_width)).right_aligned()),
            Cell::from(Line::from(distance).right_aligned()),
            Cell::from(Span::styled(
                age.map(format::age).unwrap_or_else(|| "-".into()),
                if stale { theme.stale } else { theme.muted },
            )),
            Cell::from(Span::styled(r.state.clone(), state_style)),
        ])
    });
    Table::new(rows, widths)
        .column_spacing(1)
        .header(Row::new(["coin", "kind", "trigger", "dist", "age", "state"]).style(theme.header))
        .render(inner, buf);
}
