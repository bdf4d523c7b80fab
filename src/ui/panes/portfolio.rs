//! Portfolio: what the account holds and what it made. One line of P&L first (open P&L
//! with its percentage, today's realized, the total realized), then a row per coin held:
//! quantity, average cost, value at the last price, open P&L and its percentage, realized
//! P&L, locked. Columns are laid out for the numbers they hold; a column that does not
//! fit is left out, whole, before a price is shortened. A coin with nothing left goes
//! away unless it realized P&L this session (then its row says `sold`).
//!
//! The figures are the order manager's (`trading::position`): average cost with the buy
//! fees, realized P&L after fees, open P&L net of the fee a sale at the last price pays.
//!
//! With more than one pocket (Upbit's main and sub-pockets), a line under the P&L names
//! them: the pocket the console trades first, marked `▶` (the rows are its balances),
//! then every other pocket with its value in KRW at the last prices (`—` when a coin in it
//! has no price or its balances are not loaded).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, Widget};
use rust_decimal::Decimal;

use super::pane_block;
use crate::exchange::types::{MarketId, Side};
use crate::store::Snapshot;
use crate::store::account::Position;
use crate::trading::orders::MarketRules;
use crate::ui::layout::PaneId;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use crate::ui::widgets::format;

/// Open P&L of one holding.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Open {
    /// No last price to value it.
    NoPrice,
    /// Too large to compute (figures from the network).
    Unknown,
    /// P&L and its ratio to the cost basis (none when the basis is zero).
    Known(Decimal, Option<Decimal>),
}

/// One row of the pane.
#[derive(Debug, Clone)]
struct Holding {
    /// The coin's market; `None` for the quote currency.
    market: Option<MarketId>,
    currency: String,
    quote: String,
    qty: Decimal,
    locked: Decimal,
    /// Average cost; `None` for the quote currency itself.
    avg: Option<Decimal>,
    /// Value in the quote currency (at the average when there is no price); `None` when
    /// it cannot be computed.
    value: Option<Decimal>,
    open: Option<Open>,
    realized: Option<Decimal>,
    stale: bool,
    /// Sold out this session: kept for its realized P&L.
    sold: bool,
}

/// The account's P&L, as the Portfolio pane and the status bar show it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PnlSummary {
    /// Open P&L of every coin held, at the last prices, net of the selling fee; `None`
    /// when a coin has no price or a figure cannot be computed (a total that leaves a
    /// coin out would be wrong), or nothing is held.
    pub open: Option<Decimal>,
    /// `open` as a ratio of the cost basis.
    pub ratio: Option<Decimal>,
    /// Realized P&L after fees since 00:00 KST.
    pub today: Decimal,
    /// Realized P&L after fees of every position this session.
    pub realized: Decimal,
    /// Total value in KRW; `None` when it cannot be computed.
    pub value: Option<Decimal>,
}

fn holdings(ui: &UiState, snap: &Snapshot) -> Vec<Holding> {
    let acc = &snap.account;
    let mut rows = Vec::new();
    for b in acc.balances.iter() {
        let qty = b.total();
        let Some(m) = b.market() else {
            // The quote currency (KRW): always shown, it is what buys.
            rows.push(Holding {
                market: None,
                currency: b.currency.clone(),
                quote: b.currency.clone(),
                qty,
                locked: b.locked,
                avg: None,
                value: Some(qty),
                open: None,
                realized: None,
                stale: false,
                sold: false,
            });
            continue;
        };
        let pos = acc.positions.get(&m);
        // Nothing left: a `sold` row below when it realized P&L, else no row.
        if qty.is_zero() {
            continue;
        }
        // The order manager's average (fees included, every fill counted) when it has
        // one: the balance's is the exchange's, which its balance stream never updates.
        let avg = pos.filter(|p| !p.volume.is_zero()).map_or(b.avg_buy_price, |p| p.avg_cost);
        rows.push(holding(ui, snap, &m, qty, b.locked, avg, pos.map(|p| p.realized)));
    }
    // Coins sold out (the exchange lists none, or a zero balance): their realized P&L
    // stays readable.
    for (m, p) in acc.positions.iter() {
        if !p.realized.is_zero() && !rows.iter().any(|h| h.market.as_ref() == Some(m)) {
            let mut h = holding(ui, snap, m, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Some(p.realized));
            h.sold = true;
            h.open = None;
            rows.push(h);
        }
    }
    rows
}

fn holding(
    ui: &UiState,
    snap: &Snapshot,
    m: &MarketId,
    qty: Decimal,
    locked: Decimal,
    avg: Decimal,
    realized: Option<Decimal>,
) -> Holding {
    let pos = Position { volume: qty, avg_cost: avg, ..Position::new(m.clone()) };
    let (value, open, stale) = match snap.market.tickers.get(m) {
        Some(t) => {
            let last = t.value.trade_price;
            let fee = MarketRules::upbit_default(m).fee_rate(Side::Ask);
            let open = match pos.unrealized(last, fee) {
                Some(p) => Open::Known(p, pos.unrealized_ratio(last, fee)),
                None => Open::Unknown,
            };
            (qty.checked_mul(last), open, t.age(ui.now) >= ui.config.stale_after)
        }
        None => (avg.checked_mul(qty), Open::NoPrice, true),
    };
    Holding {
        market: Some(m.clone()),
        currency: m.base().to_string(),
        quote: m.quote().to_string(),
        qty,
        locked,
        avg: Some(avg),
        value,
        open: Some(open),
        realized,
        stale,
        sold: false,
    }
}

/// The market of each row the pane shows, in order (`None` for the quote currency): the
/// portfolio cursor runs over these, not over the balances (zero ones are not shown).
pub(crate) fn row_markets(ui: &UiState, snap: &Snapshot) -> Vec<Option<MarketId>> {
    holdings(ui, snap).into_iter().map(|h| h.market).collect()
}

/// The account's P&L now (`ui.wall` decides which day is today).
pub(crate) fn summary(ui: &UiState, snap: &Snapshot) -> PnlSummary {
    summarize(&holdings(ui, snap), ui, snap)
}

fn summarize(rows: &[Holding], ui: &UiState, snap: &Snapshot) -> PnlSummary {
    // Checked: the figures come from the network; one that cannot be added makes the
    // total unknown, never a wrong number.
    let mut open = Some(Decimal::ZERO);
    let mut basis = Some(Decimal::ZERO);
    let mut value = Some(Decimal::ZERO);
    let mut held = false;
    for h in rows {
        value = value.zip(h.value).and_then(|(t, v)| t.checked_add(v));
        let (Some(o), Some(avg)) = (h.open, h.avg) else { continue };
        if h.sold {
            continue;
        }
        // A coin the exchange lists no market for (a delisted coin, an airdrop's dust)
        // has no price to value it ever: it is left out of the total, its row says `-`.
        // A listed one whose price has not come yet leaves the total unknown.
        let listed = snap.market.markets.is_empty()
            || h.market.as_ref().is_some_and(|m| snap.market.markets.iter().any(|i| &i.market == m));
        if o == Open::NoPrice && !listed {
            continue;
        }
        held = true;
        open = match o {
            Open::Known(p, _) => open.and_then(|t| t.checked_add(p)),
            Open::NoPrice | Open::Unknown => None,
        };
        basis = basis.zip(avg.checked_mul(h.qty)).and_then(|(t, c)| t.checked_add(c));
    }
    let open = open.filter(|_| held);
    let ratio = open.zip(basis).and_then(|(o, b)| if b.is_zero() { None } else { o.checked_div(b) });
    PnlSummary {
        open,
        ratio,
        today: snap.account.realized_today(ui.wall),
        realized: snap.account.realized_total(),
        value,
    }
}

/// One column: its title, which columns are left out first when room is short (lower
/// goes last; 0 is never left out) and the cells' text and style per row.
struct Column {
    title: &'static str,
    drop_order: u8,
    cells: Vec<(String, Style)>,
    /// Whether a cell too wide may be shortened by magnitude (quantities and P&L may,
    /// prices never).
    shorten: bool,
    left: bool,
    /// Rows whose cell is never shortened even so (the KRW balance, in full as
    /// everywhere else).
    whole: Vec<bool>,
}

impl Column {
    fn width(&self) -> usize {
        self.cells.iter().map(|(t, _)| t.chars().count()).chain([self.title.len()]).max().unwrap_or(1)
    }
}

/// Draws the portfolio pane.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let rows = holdings(ui, snap);
    let sum = summarize(&rows, ui, snap);
    let total = sum.value.map_or_else(|| "—".to_string(), |v| format::amount(v, "KRW"));
    let extra = vec![Span::styled(format!("{total} KRW "), theme.muted)];
    let block = pane_block(PaneId::Portfolio, extra, ui, theme);
    let inner = block.inner(area);
    block.render(area, buf);
    if rows.is_empty() {
        buf.set_stringn(inner.x + 1, inner.y, "no balances", inner.width as usize, theme.muted);
        return;
    }
    buf.set_line(inner.x, inner.y, &summary_line(&sum, inner.width as usize, theme), inner.width);
    let top = match pockets_line(snap, theme, inner.width as usize) {
        Some(line) => {
            buf.set_line(inner.x, inner.y + 1, &line, inner.width);
            2
        }
        None => 1,
    };
    let sign = |v: Decimal| theme.change(v.cmp(&Decimal::ZERO));
    let cursor = ui.portfolio_cursor.min(rows.len().saturating_sub(1));
    let col = |title, drop_order, shorten, left| Column {
        title,
        drop_order,
        cells: vec![],
        shorten,
        left,
        whole: vec![],
    };
    // The realized P&L per coin outlasts the value and the open P&L's percentage.
    let mut cols = vec![
        col("cur", 0, false, true),
        col("qty", 0, true, false),
        col("locked", 5, true, false),
        col("avg", 0, false, false),
        col("value", 4, true, false),
        col("P&L", 0, true, false),
        col("P&L%", 3, false, false),
        col("realized", 2, true, false),
    ];
    for h in &rows {
        let dim = |s: Style| if h.sold { theme.muted } else { s };
        let stale = |s: Style| if h.stale { theme.stale } else { s };
        // The quote currency's balance is an amount: at its precision, in full.
        let qty = match (h.sold, &h.market) {
            (true, _) => "sold".to_string(),
            (false, None) => format::amount(h.qty, &h.quote),
            (false, Some(_)) => format::qty(h.qty, 8),
        };
        let avg = h.avg.filter(|_| !h.sold).map_or_else(String::new, |a| format::market_price(&h.quote, a));
        let value = match (h.sold, h.value) {
            (true, _) => String::new(),
            (false, Some(v)) => format::amount(v, &h.quote),
            (false, None) => "—".into(),
        };
        let (pnl, pct, pnl_style) = match h.open {
            None => (String::new(), String::new(), theme.muted),
            Some(Open::NoPrice) => ("-".into(), "-".into(), theme.muted),
            Some(Open::Unknown) => ("—".into(), "—".into(), theme.muted),
            Some(Open::Known(p, r)) => (
                format::signed_amount(p, &h.quote),
                r.map_or_else(|| "-".into(), format::pct),
                stale(sign(p)),
            ),
        };
        let realized = h.realized.map_or_else(String::new, |r| format::signed_amount(r, &h.quote));
        let realized_style = h.realized.map_or(theme.muted, sign);
        let cells = [
            (h.currency.clone(), dim(theme.text)),
            (qty, dim(theme.text)),
            // Locked KRW is an amount like the balance beside it: whole won, `≈` when
            // rounded (it read `292,045.95`).
            (
                match (h.locked.is_zero(), &h.market) {
                    (true, _) => String::new(),
                    (false, None) => format::amount(h.locked, &h.quote),
                    (false, Some(_)) => format::qty(h.locked, 8),
                },
                theme.muted,
            ),
            (avg, theme.text),
            (value, stale(theme.text)),
            (pnl, pnl_style),
            (pct, pnl_style),
            (realized, realized_style),
        ];
        for (i, (c, cell)) in cols.iter_mut().zip(cells).enumerate() {
            c.cells.push(cell);
            c.whole.push((i == 1 || i == 2) && h.market.is_none());
        }
    }
    let widths = lay_out(&mut cols, inner.width as usize);
    // Without room for the realized column a sold coin's row says its realized P&L where
    // the open P&L would be (it has none): the row is kept for that figure.
    const PNL: usize = 5;
    const REALIZED: usize = 7;
    if widths[REALIZED] == 0 && widths[PNL] > 0 {
        for (i, h) in rows.iter().enumerate() {
            if h.sold {
                let cell = cols[REALIZED].cells[i].clone();
                cols[PNL].cells[i] = (format::fit(cell.0, widths[PNL] as u16), cell.1);
            }
        }
    }
    let header = Row::new(cols.iter().zip(&widths).filter(|(_, w)| **w > 0).map(|(c, w)| {
        let title: String = c.title.chars().take(*w).collect();
        if c.left { Cell::from(title) } else { Cell::from(Line::from(title).right_aligned()) }
    }))
    .style(theme.header);
    // The header takes a line; rows that do not fit are said (`↓ 2 more`), and the
    // cursor's row stays in view.
    let table_area = Rect { y: inner.y + top, height: inner.height.saturating_sub(top), ..inner };
    // The hint goes on the bottom border, so every line inside holds a row: a short pane
    // (8 lines at 120x40) shows KRW and three coins, not one.
    let body_h = table_area.height.saturating_sub(1) as usize;
    let window = super::RowWindow::new(rows.len(), body_h + 1, cursor);
    let window = if window.end - window.start > body_h.max(1) {
        // All but one fit the lines counted with the border's: one line short, so one
        // row goes and the hint says so.
        let room = body_h.max(1);
        let start = (cursor + 1).saturating_sub(room).min(rows.len() - room);
        super::RowWindow { start, end: start + room, total: rows.len() }
    } else {
        window
    };
    let body = (window.start..window.end).map(|i| {
        Row::new(cols.iter().zip(&widths).filter(|(_, w)| **w > 0).map(|(c, _)| {
            let (text, style) = c.cells[i].clone();
            let line = Line::from(Span::styled(text, style));
            Cell::from(if c.left { line } else { line.right_aligned() })
        }))
        .style(if ui.focus == PaneId::Portfolio && i == cursor {
            theme.selection
        } else {
            Style::new()
        })
    });
    let constraints: Vec<Constraint> =
        widths.iter().filter(|w| **w > 0).map(|w| Constraint::Length(*w as u16)).collect();
    Table::new(body, constraints).header(header).column_spacing(1).render(table_area, buf);
    if let Some(hint) = window.hint()
        && area.height > 0
    {
        let y = area.y + area.height - 1;
        buf.set_stringn(inner.x, y, format!(" {hint} "), inner.width as usize, theme.muted);
    }
}

/// Column widths for `width` cells (0: left out). Every column gets the width of its
/// widest cell; columns are left out by their drop order until the rest fit; then the
/// cells of a column that may be shortened are, and what room is left goes to the
/// numbers, evenly.
fn lay_out(cols: &mut [Column], width: usize) -> Vec<usize> {
    let mut widths: Vec<usize> = cols.iter().map(Column::width).collect();
    // An empty column (no coin has locked funds, nothing realized) takes no room.
    for (w, c) in widths.iter_mut().zip(cols.iter()) {
        if c.drop_order > 0 && c.cells.iter().all(|(t, _)| t.is_empty()) {
            *w = 0;
        }
    }
    let used = |ws: &[usize]| {
        let n = ws.iter().filter(|w| **w > 0).count();
        ws.iter().sum::<usize>() + n.saturating_sub(1)
    };
    let mut order: Vec<usize> = (0..cols.len()).filter(|&i| cols[i].drop_order > 0).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(cols[i].drop_order));
    for i in order {
        if used(&widths) <= width {
            break;
        }
        widths[i] = 0;
    }
    // Still too wide: shorten the quantities, then the P&L (never a price).
    for i in 0..cols.len() {
        if !cols[i].shorten || widths[i] == 0 {
            continue;
        }
        let over = used(&widths).saturating_sub(width);
        if over == 0 {
            break;
        }
        let whole = cols[i]
            .cells
            .iter()
            .zip(&cols[i].whole)
            .filter(|(_, w)| **w)
            .map(|((t, _), _)| t.chars().count())
            .max()
            .unwrap_or(0);
        let w = widths[i].saturating_sub(over).max(cols[i].title.len().min(4)).max(4).max(whole);
        let c = &mut cols[i];
        for ((text, _), keep) in c.cells.iter_mut().zip(&c.whole) {
            if !keep {
                *text = format::fit(std::mem::take(text), w as u16);
            }
        }
        widths[i] = w;
    }
    let numbers: Vec<usize> = (0..cols.len()).filter(|&i| widths[i] > 0 && !cols[i].left).collect();
    let slack = width.saturating_sub(used(&widths));
    if !numbers.is_empty() {
        let each = slack / numbers.len();
        for &i in &numbers {
            widths[i] += each;
        }
    }
    widths
}

/// `P&L +250,000 (+5.55%)  today +1,234  realized +12,345`, the parts that fit in
/// `width`, most important first.
/// The KRW value of a pocket's balances at the last prices; `None` when a coin in it has
/// no price (a total that leaves it out would be wrong).
fn pocket_value(balances: &[crate::exchange::types::Balance], snap: &Snapshot) -> Option<Decimal> {
    let mut total = Decimal::ZERO;
    for b in balances {
        let qty = b.total();
        if qty.is_zero() {
            continue;
        }
        let v = if b.currency == "KRW" {
            qty
        } else {
            let m = MarketId::new(&format!("KRW-{}", b.currency));
            let price =
                snap.market.tickers.get(&m).map(|t| t.value.trade_price).filter(|p| *p > Decimal::ZERO)?;
            qty.checked_mul(price)?
        };
        total = total.checked_add(v)?;
    }
    Some(total)
}

/// `pockets ▶main  trading 1,000,000 KRW  savings ≈7,484,000 KRW`: only when the account
/// has more than one pocket. In `width` cells: a pocket whose value does not fit is left
/// out whole and counted (`+2 more`), never cut mid-number; the traded pocket loses its
/// `(traded)` first.
fn pockets_line(snap: &Snapshot, theme: &Theme, width: usize) -> Option<Line<'static>> {
    let state = &snap.account.pockets;
    let view = &state.view;
    if view.pockets.len() < 2 {
        return None;
    }
    let traded = view.trading.as_ref().map(|t| t.uuid.as_str());
    let mut pockets: Vec<_> = view.pockets.iter().collect();
    pockets.sort_by_key(|p| Some(p.uuid.as_str()) != traded);
    let mut lead: Vec<Vec<Span<'static>>> = Vec::new();
    let mut others: Vec<Vec<Span<'static>>> = Vec::new();
    for p in pockets {
        if Some(p.uuid.as_str()) == traded {
            lead.push(vec![Span::styled(format!("▶{} (traded)", p.name), theme.header)]);
            lead.push(vec![Span::styled(format!("▶{}", p.name), theme.header)]);
        } else {
            let value = state
                .balances
                .get(&p.uuid)
                .and_then(|b| pocket_value(b, snap))
                .map_or_else(|| "—".to_string(), |v| format!("{} KRW", format::amount(v, "KRW")));
            others.push(vec![
                Span::styled(format!("  {} ", p.name), theme.muted),
                Span::styled(value, theme.text),
            ]);
        }
    }
    let w = |s: &[Span]| s.iter().map(Span::width).sum::<usize>();
    let more = |n: usize| Span::styled(format!("  +{n} more"), theme.muted);
    let build = |lead: Option<&Vec<Span<'static>>>| {
        let mut spans = vec![Span::styled("pockets ", theme.muted)];
        spans.extend(lead.cloned().unwrap_or_default());
        for (i, o) in others.iter().enumerate() {
            let left = others.len() - i - 1;
            let tail = if left > 0 { more(left).width() } else { 0 };
            if w(&spans) + w(o) + tail > width {
                spans.push(more(others.len() - i));
                return spans;
            }
            spans.extend(o.iter().cloned());
        }
        spans
    };
    // The full traded label where every pocket still fits with it, else the short one.
    let full = build(lead.first());
    let spans = if lead.len() < 2 || !full.iter().any(|s| s.content.ends_with(" more")) {
        full
    } else {
        build(lead.get(1))
    };
    Some(Line::from(spans))
}

fn summary_line(sum: &PnlSummary, width: usize, theme: &Theme) -> Line<'static> {
    let sign = |v: Decimal| theme.change(v.cmp(&Decimal::ZERO));
    let open = match sum.open {
        Some(o) => {
            let pct = sum.ratio.map_or_else(String::new, |r| format!(" ({})", format::pct(r)));
            vec![
                Span::styled("P&L ", theme.muted),
                Span::styled(format!("{}{pct}", format::signed_amount(o, "KRW")), sign(o)),
            ]
        }
        None => vec![Span::styled("P&L —", theme.muted)],
    };
    let today = vec![
        Span::styled("  today ", theme.muted),
        Span::styled(format::signed_amount(sum.today, "KRW"), sign(sum.today)),
    ];
    let realized = vec![
        Span::styled("  realized ", theme.muted),
        Span::styled(format::signed_amount(sum.realized, "KRW"), sign(sum.realized)),
    ];
    let mut spans = Vec::new();
    let w = |s: &[Span]| s.iter().map(Span::width).sum::<usize>();
    for part in [open, today, realized] {
        if w(&spans) + w(&part) <= width {
            spans.extend(part);
        }
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use rust_decimal_macros::dec;

    use super::*;
    use crate::exchange::types::{Balance, MarketInfo, Ticker};
    use crate::store::{Store, StoreEvent};
    use crate::ui::UiConfig;

    fn balance(currency: &str, balance: Decimal, avg: Decimal) -> Balance {
        Balance {
            currency: currency.into(),
            balance,
            avg_buy_price: avg,
            unit_currency: "KRW".into(),
            ..Balance::default()
        }
    }

    fn info(code: &str) -> MarketInfo {
        MarketInfo {
            market: MarketId::new(code),
            korean_name: String::new(),
            english_name: String::new(),
            warning: false,
            caution: false,
        }
    }

    fn snapshot(events: Vec<StoreEvent>) -> (UiState, Arc<Snapshot>) {
        let now = Instant::now();
        let snap = Store::new().apply_batch(events, now);
        let mut ui = UiState::new(UiConfig::default());
        ui.now = now;
        (ui, snap)
    }

    /// Dust of a coin the exchange lists no market for cannot be valued, ever: the open
    /// P&L of the rest is still shown. A listed coin whose price has not come yet makes
    /// the total unknown (a total that leaves it out would be wrong).
    #[test]
    fn an_unlisted_coin_is_left_out_of_the_total_a_priceless_listed_one_is_not() {
        let btc =
            Ticker { market: Some(MarketId::new("KRW-BTC")), trade_price: dec!(110), ..Ticker::default() };
        let base = vec![
            StoreEvent::MarketsLoaded(vec![info("KRW-BTC"), info("KRW-ETH")]),
            StoreEvent::TickerUpdated(btc),
            StoreEvent::BalancesUpdated(vec![
                balance("KRW", dec!(1000), Decimal::ZERO),
                balance("BTC", dec!(1), dec!(100)),
                balance("APENFT", dec!(12.5), dec!(0.001)),
            ]),
        ];
        let (ui, snap) = snapshot(base.clone());
        let sum = summary(&ui, &snap);
        // 110 − 0.055 selling fee − 100 paid.
        assert_eq!(sum.open, Some(dec!(9.945)));
        assert_eq!(sum.ratio, Some(dec!(0.09945)));
        let mut with_eth = base;
        with_eth.push(StoreEvent::BalancesUpdated(vec![
            balance("KRW", dec!(1000), Decimal::ZERO),
            balance("BTC", dec!(1), dec!(100)),
            balance("ETH", dec!(2), dec!(50)),
        ]));
        let (ui, snap) = snapshot(with_eth);
        assert_eq!(summary(&ui, &snap).open, None);
    }

    /// Several pockets: the traded one first and marked, each other with its value in KRW
    /// at the last price, `—` for one holding a coin without a price.
    #[test]
    fn pockets_are_listed_traded_first_and_valued_in_krw() {
        use crate::exchange::upbit::pockets::{Pocket, PocketsState, PocketsView};
        let pocket =
            |uuid: &str, name: &str, main: bool| Pocket { uuid: uuid.into(), name: name.into(), main };
        let view = PocketsView {
            pockets: vec![
                pocket("m", "main", true),
                pocket("s", "savings", false),
                pocket("t", "trading", false),
            ],
            trading: Some(pocket("m", "main", true)),
            can_transfer: true,
            note: None,
        };
        let mut state = PocketsState { view, ..PocketsState::default() };
        state.balances.insert(
            "s".into(),
            vec![balance("KRW", dec!(5000000), Decimal::ZERO), balance("BTC", dec!(0.01), dec!(1))],
        );
        state.balances.insert(
            "t".into(),
            vec![balance("KRW", dec!(1000000), Decimal::ZERO), balance("XRP", dec!(3), dec!(1))],
        );
        let btc = Ticker {
            market: Some(MarketId::new("KRW-BTC")),
            trade_price: dec!(140000000),
            ..Ticker::default()
        };
        let (ui, snap) = snapshot(vec![
            StoreEvent::TickerUpdated(btc),
            StoreEvent::BalancesUpdated(vec![balance("KRW", dec!(1000), Decimal::ZERO)]),
            StoreEvent::PocketsUpdated(state),
        ]);
        let theme = Theme::default();
        let area = Rect::new(0, 0, 100, 8);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &ui, &snap, &theme);
        let text: String = (0..area.height)
            .map(|y| (0..area.width).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>() + "\n")
            .collect();
        assert!(text.contains("pockets ▶main (traded)  savings 6,400,000 KRW  trading —"), "{text}");
        // Narrow (the default layout's pane, 80x24's too): a value never cut mid-number
        // (it read `trading 1,00`); a pocket that does not fit is counted instead.
        let line = |width: u16| {
            let area = Rect::new(0, 0, width, 8);
            let mut buf = Buffer::empty(area);
            render(area, &mut buf, &ui, &snap, &theme);
            (0..area.height)
                .map(|y| (0..area.width).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>())
                .find(|l| l.contains("pockets"))
                .unwrap_or_default()
        };
        let at = line(48);
        assert!(at.contains("pockets ▶main  savings 6,400,000 KRW  +1 more"), "{at}");
        let at = line(36);
        assert!(at.contains("pockets ▶main  +2 more"), "{at}");
        for width in 20..100 {
            let at = line(width);
            assert!(!at.contains("6,4") || at.contains("6,400,000 KRW"), "{width}: {at}");
        }
        // One pocket: no line.
        let (ui, snap) =
            snapshot(vec![StoreEvent::BalancesUpdated(vec![balance("KRW", dec!(1000), Decimal::ZERO)])]);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &ui, &snap, &theme);
        let text: String = (0..area.width).map(|x| buf[(x, 2)].symbol().to_string()).collect();
        assert!(!text.contains("pockets"));
    }

    /// The rows the cursor runs over: no zero balance, the quote currency kept.
    #[test]
    fn zero_balances_are_not_rows() {
        let (ui, snap) = snapshot(vec![StoreEvent::BalancesUpdated(vec![
            balance("KRW", Decimal::ZERO, Decimal::ZERO),
            balance("ETH", Decimal::ZERO, dec!(50)),
            balance("BTC", dec!(0.1), dec!(100)),
        ])]);
        assert_eq!(row_markets(&ui, &snap), vec![None, Some(MarketId::new("KRW-BTC"))]);
    }
}
