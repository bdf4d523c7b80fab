//! Orders: open orders, then the orders refused (denied here or rejected by the
//! exchange, with the reason), then recent fills.
//!
//! Columns are laid out for the numbers they hold: a price is printed in full at its
//! tick's precision and a quantity never reads 0; when the pane is narrow, columns go
//! (filled, then state) and the market shrinks to its coin before a number is cut.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::pane_block;
use crate::exchange::types::{MarketId, Order, OrderType, Side};
use crate::store::Snapshot;
use crate::trading::orders::MarketRules;
use crate::ui::layout::PaneId;
use crate::ui::requests::Refusal;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use crate::ui::widgets::format;

/// A column of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Market,
    Side,
    Price,
    Open,
    Filled,
    State,
}

/// The columns tried, widest first: the first set that fits is used.
const LAYOUTS: [&[Col]; 3] = [
    &[Col::Market, Col::Side, Col::Price, Col::Open, Col::Filled, Col::State],
    &[Col::Market, Col::Side, Col::Price, Col::Open, Col::State],
    &[Col::Market, Col::Side, Col::Price, Col::Open],
];

/// One row's text per column (numbers right-aligned) and styles.
struct Cells {
    text: [String; 6],
    style: [Style; 6],
}

fn index(c: Col) -> usize {
    c as usize
}

fn right_aligned(c: Col) -> bool {
    matches!(c, Col::Price | Col::Open | Col::Filled)
}

/// The market cell: the code, or only the coin when the pane is narrow.
fn market_text(m: &MarketId, short: bool) -> String {
    if short { m.base().to_string() } else { m.to_string() }
}

/// An order's price as the pane prints it: in full, at the market's tick precision.
pub(crate) fn order_price(m: &MarketId, p: rust_decimal::Decimal) -> String {
    format::tick_price(p, MarketRules::upbit_default(m).tick(m, p))
}

/// Draws the orders pane.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let acc = &snap.account;
    let refused: Vec<&Refusal> = ui.requests.refused().collect();
    // Rows that do not fit are counted in the title: the pane never looks complete when
    // it is not (the rows scroll with the cursor).
    let inner =
        Rect::new(area.x + 1, area.y + 1, area.width.saturating_sub(2), area.height.saturating_sub(2));
    let v = view(ui, snap, inner);
    // Lines below the header: the selectable rows, then the fills' own header and fills.
    let selectable = acc.open_orders.len() + refused.len();
    let rows = selectable + if acc.fills.is_empty() { 0 } else { 1 + acc.fills.len() };
    let shown = (v.skip..v.skip + v.room).filter(|k| *k < rows);
    let fills_header_shown = (v.skip..v.skip + v.room).contains(&selectable);
    let hidden = rows - shown.count() - usize::from(!acc.fills.is_empty() && !fills_header_shown);
    let mut counts = vec![format!("{} open", acc.open_orders.len())];
    if !refused.is_empty() {
        counts.push(format!("{} refused", refused.len()));
    }
    counts.push(format!("{} fills", acc.fills.len()));
    let hint = (hidden > 0 && inner.height > 0).then(|| format!("+{hidden} more "));
    // The hint is kept whole; the counts go from the last when the title is short of
    // room (a count is never cut into another number).
    let room = usize::from(area.width).saturating_sub(
        PaneId::Orders.title().chars().count() + 4 + hint.as_ref().map_or(0, |h| h.chars().count()),
    );
    let title = loop {
        let text = counts.iter().map(|c| format!("{c} · ")).collect::<String>();
        let text = if hint.is_some() { text } else { format!("{} ", text.trim_end_matches(" · ")) };
        if text.chars().count() <= room || counts.is_empty() {
            break text;
        }
        counts.pop();
    };
    let mut extra = vec![Span::styled(title, theme.muted)];
    if let Some(hint) = hint {
        extra.push(Span::styled(hint, theme.warning));
    }
    let block = pane_block(PaneId::Orders, extra, ui, theme);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    if acc.open_orders.is_empty() && refused.is_empty() && acc.fills.is_empty() {
        buf.set_stringn(inner.x + 1, inner.y, "no open orders", inner.width as usize, theme.muted);
        return;
    }
    // A side hoga does not know never reaches here from the order manager (it resolves
    // sides against its own orders); shown as `?` all the same, never guessed.
    let side_style = |s: Option<Side>| match s {
        Some(Side::Bid) => theme.buy,
        Some(Side::Ask) => theme.sell,
        None => theme.muted,
    };
    let side_label = |s: Option<Side>| s.map_or("?", Side::label);
    let width = usize::from(inner.width);
    let open_cells = |short: bool| -> Vec<Cells> {
        acc.open_orders
            .iter()
            .map(|o| Cells {
                text: [
                    market_text(&o.market, short),
                    side_label(o.side).into(),
                    price_label(o, u16::MAX),
                    format::qty(o.remaining_volume, 8),
                    format::qty(o.executed_volume, 8),
                    state_label(o),
                ],
                style: [theme.text, side_style(o.side), theme.text, theme.text, theme.text, theme.muted],
            })
            .collect()
    };
    let fill_cells = |short: bool| -> Vec<Cells> {
        acc.fills
            .iter()
            .map(|f| Cells {
                text: [
                    if short {
                        f.market.base().to_string()
                    } else {
                        format!("{} {}", format::ms_kst(f.timestamp), f.market.base())
                    },
                    side_label(f.side).into(),
                    order_price(&f.market, f.price),
                    format::qty(f.volume, 8),
                    f.fee.map(|x| format::amount(x, f.market.quote())).unwrap_or_default(),
                    String::new(),
                ],
                style: [theme.muted, side_style(f.side), theme.text, theme.text, theme.muted, theme.muted],
            })
            .collect()
    };
    let header = ["market", "side", "price", "open", "filled", "state"];
    let fills_header = ["fills", "", "price", "qty", "fee", ""];
    // The widest layout whose columns hold every cell; the market as its coin only
    // before the last resort (numbers shortened, never below what `fit` allows).
    let mut chosen = None;
    'layouts: for short in [false, true] {
        for cols in LAYOUTS {
            let widths = widths(cols, &header, &fills_header, &open_cells(short), &fill_cells(short));
            if widths.iter().sum::<usize>() + cols.len() - 1 <= width {
                chosen = Some((cols, short, widths));
                break 'layouts;
            }
        }
    }
    let (cols, short, widths) = chosen.unwrap_or_else(|| {
        let cols = LAYOUTS[LAYOUTS.len() - 1];
        let mut w = widths(cols, &header, &fills_header, &open_cells(true), &fill_cells(true));
        // Squeeze the numbers last: the market and side keep their room, the price
        // first among the numbers.
        let mut over = (w.iter().sum::<usize>() + cols.len() - 1).saturating_sub(width);
        for i in [3, 0, 2] {
            let floor = if i == 0 { 3 } else { 1 };
            let cut = over.min(w[i].saturating_sub(floor));
            w[i] -= cut;
            over -= cut;
        }
        (cols, true, w)
    });
    let line_of = |cells: &Cells| -> Line<'static> {
        let mut spans = Vec::new();
        for (k, (c, w)) in cols.iter().zip(&widths).enumerate() {
            if k > 0 {
                spans.push(Span::raw(" "));
            }
            let text = &cells.text[index(*c)];
            let text = if right_aligned(*c) {
                format!("{:>w$}", format::fit(text.clone(), *w as u16))
            } else {
                format!("{:<w$}", text.chars().take(*w).collect::<String>())
            };
            spans.push(Span::styled(text, cells.style[index(*c)]));
        }
        Line::from(spans)
    };
    let header_cells =
        |labels: [&str; 6]| Cells { text: labels.map(str::to_string), style: [theme.header; 6] };
    let mut labels = header;
    if short {
        labels[0] = "coin";
    }
    if v.header {
        buf.set_line(inner.x, inner.y, &line_of(&header_cells(labels)), inner.width);
    }

    // Rows below the header: open orders and refusals (the cursor's), then fills.
    let mut lines: Vec<Line<'static>> = Vec::new();
    for cells in open_cells(short) {
        lines.push(line_of(&cells));
    }
    for r in &refused {
        lines.push(refusal_line(r, theme, side_style(Some(r.order.side)), width));
    }
    let selectable = lines.len();
    if !acc.fills.is_empty() {
        lines.push(line_of(&header_cells(fills_header)));
        for cells in fill_cells(short) {
            lines.push(line_of(&cells));
        }
    }
    let View { focused, cursor, detail, room, skip, header } = v;
    for (k, line) in lines.iter().enumerate().skip(skip).take(room) {
        let y = inner.y + u16::from(header) + (k - skip) as u16;
        if y >= inner.bottom() {
            break;
        }
        buf.set_line(inner.x, y, line, inner.width);
        if focused && k == cursor && k < selectable {
            buf.set_style(Rect::new(inner.x, y, inner.width, 1), theme.selection);
        }
    }
    let top = inner.bottom().saturating_sub(detail.len() as u16);
    for (k, text) in detail.iter().enumerate() {
        buf.set_stringn(inner.x, top + k as u16, text, width, theme.error);
    }
}

/// What the pane's rows show: the cursor (over the open orders, then the refused ones),
/// the selected refusal's text in full at the bottom, and the rows scrolled so the cursor
/// stays in view. The mouse reads the same (see [`row_at`]).
struct View {
    focused: bool,
    cursor: usize,
    detail: Vec<String>,
    /// Rows between the header and the detail (at least one).
    room: usize,
    /// Rows scrolled past.
    skip: usize,
    /// Whether the column header is drawn: not when it would leave no row (a pane of one
    /// inner line shows the cursor's row, not only the header).
    header: bool,
}

fn view(ui: &UiState, snap: &Snapshot, inner: Rect) -> View {
    let open = snap.account.open_orders.len();
    let selectable = open + ui.requests.refused().len();
    let focused = ui.focus == PaneId::Orders;
    let cursor = ui.orders_cursor.min(selectable.saturating_sub(1));
    // The selected refusal's reason in full, wrapped, at the bottom of the pane: a row is
    // cut at the pane's edge, the reason must not be. It leaves the header and the
    // selected row in view.
    let detail: Vec<String> = match cursor.checked_sub(open).and_then(|i| ui.requests.refused().nth(i)) {
        Some(r) if focused => {
            let text =
                format!("{} KST {} {}: {}", format::clock_kst(r.at), r.word(), r.order.text(), r.reason);
            // At least one line for it, and one for the row it belongs to.
            let rows = usize::from(inner.height)
                .saturating_sub(2)
                .max(1)
                .min(usize::from(inner.height).saturating_sub(1));
            let mut wrapped = super::form::wrap(&text, usize::from(inner.width));
            if wrapped.len() > rows {
                wrapped.truncate(rows);
                if let Some(last) = wrapped.last_mut() {
                    last.pop();
                    last.push('…');
                }
            }
            wrapped
        }
        _ => Vec::new(),
    };
    let h = usize::from(inner.height);
    let header = h >= 2 + detail.len();
    let room = h.saturating_sub(usize::from(header) + detail.len()).max(1);
    let skip = if selectable > 0 { cursor.saturating_sub(room - 1) } else { 0 };
    View { focused, cursor, detail, room, skip, header }
}

/// The selectable row (open order, then refusal) drawn at screen row `y` of the pane
/// whose inner area is `inner`, if any: a click selects it.
pub(crate) fn row_at(ui: &UiState, snap: &Snapshot, inner: Rect, y: u16) -> Option<usize> {
    let selectable = snap.account.open_orders.len() + ui.requests.refused().len();
    let v = view(ui, snap, inner);
    let k = usize::from(y.checked_sub(inner.y + u16::from(v.header))?);
    let index = v.skip + k;
    (k < v.room && index < selectable).then_some(index)
}

/// The widths each column needs for its header and every cell.
fn widths(
    cols: &[Col],
    header: &[&str; 6],
    fills: &[&str; 6],
    open: &[Cells],
    filled: &[Cells],
) -> Vec<usize> {
    cols.iter()
        .map(|c| {
            let i = index(*c);
            open.iter()
                .chain(filled)
                .map(|cells| cells.text[i].chars().count())
                .chain([header[i].chars().count(), fills[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect()
}

/// A refused order on one line: `denied  BUY KRW-BTC 0.001 @ 145,000,000  max open
/// orders (3) reached`, the word in the error style. In a narrow pane the market is its
/// coin (`denied BUY BTC 0.001 @ 145,000,000 …`) so the price still fits; what does not
/// fit goes whole words at a time, ending in `…` (a number is never cut into another
/// number). The selected refusal's reason is shown in full below the rows.
fn refusal_line(r: &Refusal, theme: &Theme, side: Style, width: usize) -> Line<'static> {
    let o = &r.order;
    let market = o.market.as_ref();
    let full = refusal_words(r, theme, side, market.map_or(String::new(), |m| m.to_string()), true, width);
    if full.1 || market.is_none() {
        return full.0;
    }
    let short =
        refusal_words(r, theme, side, market.map_or(String::new(), |m| m.base().to_string()), false, width);
    if short.1 { short.0 } else { full.0 }
}

/// The words of a refusal that fit `width`, and whether its price is among them.
fn refusal_words(
    r: &Refusal,
    theme: &Theme,
    side: Style,
    market: String,
    wide: bool,
    width: usize,
) -> (Line<'static>, bool) {
    let o = &r.order;
    let word = if wide { format!("{:<7}", r.word()) } else { r.word().to_string() };
    let mut words: Vec<(String, Style)> = vec![
        (word, theme.error),
        (o.side.label().to_string(), side),
        (market, theme.text),
        (o.size.clone(), theme.text),
        ("@".into(), theme.text),
        (o.price.clone(), theme.text),
    ];
    let price_at = words.len() - 1;
    words.extend(r.reason.split_whitespace().map(|w| (w.to_string(), theme.muted)));
    let mut spans = Vec::new();
    let mut used = 0;
    let mut shown = 0;
    for (i, (text, style)) in words.iter().enumerate() {
        // Two spaces before the reason, one between words.
        let gap = match i {
            0 => "",
            i if i == price_at + 1 && wide => "  ",
            _ => " ",
        };
        let need = gap.len() + text.chars().count();
        let last = i + 1 == words.len();
        // Room for this word, and for the `…` after it unless it is the last.
        if used + need + usize::from(!last) > width {
            spans.push(Span::styled(if used == 0 { "…" } else { " …" }, theme.muted));
            break;
        }
        spans.push(Span::styled(format!("{gap}{text}"), *style));
        used += need;
        shown = i + 1;
    }
    (Line::from(spans), shown > price_at)
}

/// The Price column: the price (or `mkt`); an order of a type hoga does not know
/// ([`OrderType::Other`]) is shown by its wire name, with its price when both fit.
fn price_label(o: &Order, width: u16) -> String {
    let price = o.price.map(|p| order_price(&o.market, p));
    match (o.ord_type, price) {
        (OrderType::Other(name), Some(p))
            if name.chars().count() + 1 + p.chars().count() <= usize::from(width) =>
        {
            format!("{name} {p}")
        }
        (OrderType::Other(name), _) => name.chars().take(usize::from(width.max(1))).collect(),
        (_, Some(p)) => p,
        (_, None) => "mkt".into(),
    }
}

/// The State column: the venue's state, or `unconfirmed` for an order hoga sent and has
/// not found at the exchange yet (marked by `console::trade::tracked_to_order`).
fn state_label(o: &Order) -> String {
    if o.created_at == crate::console::trade::UNCONFIRMED_MARK {
        return crate::console::trade::UNCONFIRMED_MARK.to_string();
    }
    format!("{:?}", o.state).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::types::MarketId;
    use crate::trading::orders::{LocalState, OrderRequest, TrackedOrder};
    use rust_decimal::Decimal;

    /// A refusal cut at the pane's edge loses whole words, never part of a number.
    #[test]
    fn a_refusal_row_is_cut_between_words() {
        use crate::ui::requests::OrderDesc;
        let r = Refusal {
            id: crate::bus::CorrelationId::mint(),
            at: chrono::Utc::now(),
            order: OrderDesc {
                side: Side::Bid,
                market: Some(MarketId::new("KRW-BTC")),
                size: "0.001".into(),
                price: "145,000,000".into(),
            },
            rejected: false,
            reason: "max open orders (3) reached".into(),
        };
        let text = |w: usize| -> String {
            refusal_line(&r, &Theme::default(), Style::new(), w)
                .spans
                .iter()
                .map(|s| s.content.as_ref())
                .collect()
        };
        assert_eq!(text(80), "denied  BUY KRW-BTC 0.001 @ 145,000,000  max open orders (3) reached");
        assert_eq!(text(40), "denied  BUY KRW-BTC 0.001 @ 145,000,000 …");
        assert_eq!(text(36), "denied BUY BTC 0.001 @ 145,000,000 …");
        assert_eq!(text(30), "denied  BUY KRW-BTC 0.001 @ …");
        assert!(text(3).chars().count() <= 3);
    }

    #[test]
    fn an_unconfirmed_order_is_shown_as_unconfirmed() {
        let req = OrderRequest::limit(MarketId::new("KRW-BTC"), Side::Bid, Decimal::from(100), Decimal::ONE);
        let mut t = TrackedOrder::new("hoga-x".into(), req);
        t.state = LocalState::Submitted;
        assert_eq!(state_label(&crate::console::trade::tracked_to_order(&t)), "wait");
        t.state = LocalState::Unconfirmed;
        assert_eq!(state_label(&crate::console::trade::tracked_to_order(&t)), "unconfirmed");
    }

    #[test]
    fn an_order_of_an_unknown_type_shows_its_wire_name() {
        let mut req =
            OrderRequest::limit(MarketId::new("KRW-BTC"), Side::Bid, Decimal::from(100), Decimal::ONE);
        req.ord_type = OrderType::from_wire("stop_limit");
        let o = crate::console::trade::tracked_to_order(&TrackedOrder::new("uuid:x".into(), req));
        assert_eq!(price_label(&o, 20), "stop_limit 100");
        assert_eq!(price_label(&o, 6), "stop_l");
        let limit =
            OrderRequest::limit(MarketId::new("KRW-BTC"), Side::Bid, Decimal::from(100), Decimal::ONE);
        let o = crate::console::trade::tracked_to_order(&TrackedOrder::new("x".into(), limit));
        assert_eq!(price_label(&o, 20), "100");
    }
}
