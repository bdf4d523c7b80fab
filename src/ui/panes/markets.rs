//! Markets (watchlist): tabs, search, sortable columns, change colours, the exchange's
//! flags and notices (종료 a delisting, 유의 an investment warning, 주의 a caution, NEW a
//! listing this session), favorites and the age of each ticker (stale rows greyed).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, Widget};
use rust_decimal::Decimal;

use super::pane_block;
use crate::exchange::types::MarketId;
use crate::store::Snapshot;
use crate::store::market::Badge;
use crate::ui::layout::PaneId;
use crate::ui::state::{MarketTab, UiState, display_name, visible_markets};
use crate::ui::theme::Theme;
use crate::ui::widgets::format;

/// Draws the markets pane.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let view = &ui.markets;
    let mut tabs = vec![Span::raw(" ")];
    for t in MarketTab::ALL {
        let st = if t == view.tab { theme.selection } else { theme.muted };
        tabs.push(Span::styled(format!("{} ", t.label()), st));
    }
    let block = pane_block(PaneId::Markets, tabs, ui, theme);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height < 2 {
        return;
    }
    // Search line when typing or filtering.
    let mut table_area = inner;
    if view.searching || !view.query.is_empty() {
        let cursor = if view.searching { "▏" } else { "" };
        let line = Line::from(vec![
            Span::styled("/", theme.accent),
            Span::styled(format!("{}{cursor}", view.query), theme.text),
        ]);
        buf.set_line(inner.x, inner.y, &line, inner.width);
        table_area = Rect { y: inner.y + 1, height: inner.height - 1, ..inner };
    }
    let rows_all = visible_markets(ui, snap);
    let body_rows = table_area.height.saturating_sub(1) as usize;
    // Keep the cursor on screen.
    let offset = view.cursor.saturating_sub(body_rows.saturating_sub(1));
    let wide = inner.width >= 50;
    // The price column is as wide as the prices on screen, in full at their tick's
    // precision (`145,000,000`); where that leaves too little room the age column goes
    // (a stale row is greyed anyway), and only then is a price shortened, never cut.
    let price_text = |m: &MarketId| {
        snap.market.tickers.get(m).map(|t| format::market_price(m.quote(), t.value.trade_price))
    };
    let price_w = rows_all
        .iter()
        .skip(offset)
        .take(body_rows)
        .filter_map(|m| price_text(&m.market))
        .map(|p| p.chars().count() as u16)
        .chain([6]) // "price▼"
        .max()
        .unwrap_or(6);
    let fixed = 7 + 7 + 4 + if wide { 9 + 1 } else { 0 } + 3;
    // Ages read `1s`, `12m`: three columns do where four do not fit.
    let age_w = if wide || fixed + price_w + 4 < table_area.width { 4 } else { 3 };
    // `<`: the age column and the space before it.
    let show_age = wide || fixed + price_w + age_w < table_area.width;
    let price_w = if show_age { price_w } else { price_w.min(table_area.width.saturating_sub(fixed)) };
    let mut rows = Vec::with_capacity(body_rows);
    for (i, m) in rows_all.iter().enumerate().skip(offset).take(body_rows) {
        let t = snap.market.tickers.get(&m.market);
        let age = t.map(|t| t.age(ui.now));
        let stale = age.is_none_or(|a| a >= ui.config.stale_after);
        let (price, chg, value, chg_style) = match t {
            Some(t) => {
                let tv = &t.value;
                let st =
                    if stale { theme.stale } else { theme.change(tv.signed_change_rate.cmp(&Decimal::ZERO)) };
                (
                    format::fit(format::market_price(m.market.quote(), tv.trade_price), price_w),
                    format::pct(tv.signed_change_rate),
                    format::value(tv.acc_trade_price_24h),
                    st,
                )
            }
            None => ("-".into(), "-".into(), "-".into(), theme.stale),
        };
        let fav = if ui.favorites.contains(&m.market) { "★" } else { " " };
        let flag = badge_span(snap.market.badge(&m.market), m.warning, m.caution, theme);
        let selected_market = ui.market.as_ref() == Some(&m.market);
        let code_style = if selected_market { theme.accent } else { theme.text };
        let age_text = age.map(format::age).unwrap_or_else(|| "-".into());
        let mut cells = vec![Cell::from(Line::from(vec![
            Span::styled(fav, theme.highlight),
            Span::styled(m.market.base().to_string(), code_style),
        ]))];
        if wide {
            cells.push(Cell::from(Span::styled(display_name(m, ui.config.names).to_string(), theme.muted)));
        }
        cells.push(Cell::from(Line::from(Span::styled(price, chg_style)).right_aligned()));
        cells.push(Cell::from(Line::from(Span::styled(chg, chg_style)).right_aligned()));
        if wide {
            cells.push(Cell::from(
                Line::from(Span::styled(value, if stale { theme.stale } else { theme.text })).right_aligned(),
            ));
        }
        cells.push(Cell::from(flag));
        if show_age {
            cells.push(Cell::from(
                Line::from(Span::styled(age_text, if stale { theme.stale } else { theme.muted }))
                    .right_aligned(),
            ));
        }
        let row_style =
            if i == view.cursor && ui.focus == PaneId::Markets { theme.selection } else { Style::new() };
        rows.push(Row::new(cells).style(row_style));
    }
    let sort_mark = |label: &'static str| {
        if ui.markets.sort.label() == label {
            format!("{label}{}", if ui.markets.ascending { "▲" } else { "▼" })
        } else {
            label.to_string()
        }
    };
    let mut header = vec![Cell::from(sort_mark("code"))];
    let mut widths = vec![Constraint::Length(7)];
    if wide {
        header.push(Cell::from(sort_mark("name")));
        widths.push(Constraint::Fill(1));
    }
    header.push(Cell::from(Line::from(sort_mark("price")).right_aligned()));
    widths.push(Constraint::Length(price_w));
    header.push(Cell::from(Line::from(sort_mark("chg")).right_aligned()));
    widths.push(Constraint::Length(7));
    if wide {
        header.push(Cell::from(Line::from(sort_mark("value")).right_aligned()));
        widths.push(Constraint::Length(9));
    }
    header.push(Cell::from("!"));
    widths.push(Constraint::Length(4));
    if show_age {
        header.push(Cell::from(Line::from(sort_mark("age")).right_aligned()));
        widths.push(Constraint::Length(age_w));
    }
    if rows_all.is_empty() {
        let msg = if snap.market.markets.is_empty() { "loading markets…" } else { "no match" };
        buf.set_stringn(table_area.x, table_area.y + 1, msg, table_area.width as usize, theme.muted);
    }
    Table::new(rows, widths)
        .header(Row::new(header).style(theme.header))
        .column_spacing(1)
        .render(table_area, buf);
}

/// The flag column: the weightiest of a notice's badge and the market's own flags
/// (`market_event`). A delisting outranks a warning, a warning a caution, and any of them
/// a new listing.
fn badge_span(badge: Option<Badge>, warning: bool, caution: bool, theme: &Theme) -> Span<'static> {
    match (badge, warning, caution) {
        (Some(Badge::Delisting), ..) => Span::styled("종료", theme.error),
        (Some(Badge::Warning), ..) | (_, true, _) => Span::styled("유의", theme.warning),
        (_, _, true) => Span::styled("주의", theme.warning),
        (Some(Badge::New), ..) => Span::styled("NEW", theme.accent),
        (None, false, false) => Span::raw(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::types::MarketInfo;
    use crate::store::StoreEvent;

    fn info(code: &str, warning: bool, caution: bool) -> MarketInfo {
        MarketInfo {
            market: MarketId::new(code),
            korean_name: code.into(),
            english_name: code.into(),
            warning,
            caution,
        }
    }

    fn screen(snap: &Snapshot) -> String {
        let ui = UiState::new(crate::ui::state::UiConfig::default());
        let area = Rect::new(0, 0, 60, 8);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &ui, snap, &Theme::default());
        (0..area.height)
            .map(|y| (0..area.width).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A notice's badge and the market's flags show in the flag column, the weightiest
    /// first: before, only `market_event`'s 유의 / 주의 were shown, and a market listed or
    /// delisted this session looked like any other.
    #[test]
    fn notices_badge_their_markets_in_the_flag_column() {
        let list = vec![
            info("KRW-NEW", false, false),
            info("KRW-DEL", false, false),
            info("KRW-WRN", false, true),
            info("KRW-CAU", false, true),
        ];
        let snap = crate::store::Store::new().apply_batch(
            [
                StoreEvent::MarketsLoaded(list),
                StoreEvent::Badges {
                    source: "listed KRW-NEW".into(),
                    set: vec![(MarketId::new("KRW-NEW"), Badge::New)],
                    clear: vec![],
                },
                StoreEvent::Badges {
                    source: "n1".into(),
                    set: vec![
                        (MarketId::new("KRW-DEL"), Badge::Delisting),
                        (MarketId::new("KRW-WRN"), Badge::Warning),
                    ],
                    clear: vec![],
                },
            ],
            std::time::Instant::now(),
        );
        let text = screen(&snap);
        let row = |code: &str| text.lines().find(|l| l.contains(code)).unwrap_or_default().to_string();
        assert!(row("NEW").contains("NEW"), "{text}");
        assert!(row("DEL").contains("종"), "{text}");
        assert!(row("WRN").contains("유"), "{text}");
        assert!(row("CAU").contains("주"), "{text}");
    }
}
