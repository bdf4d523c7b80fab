//! Depth chart: the cumulative size of the book from the spread out, bids on the left
//! (falling from the best bid), asks on the right (rising from the best ask), on a linear
//! price axis, with the mid price marked and labelled. Heights in eighth blocks.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::exchange::types::OrderBook;
use crate::ui::theme::Theme;
use crate::ui::widgets::format;

const EIGHTHS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The price axis (`lo`, `hi`) and, per column, `(bid side, cumulative size)`.
pub(crate) type Curves = (Decimal, Decimal, Vec<(bool, Decimal)>);

/// The cumulative size at each of `width` columns over the price axis `lo..=hi`: for a
/// column left of the mid the bids at or above its price, right of it the asks at or
/// below it (0 in the spread).
pub(crate) fn columns(book: &OrderBook, depth: usize, width: usize) -> Option<Curves> {
    let levels = &book.levels[..depth.min(book.levels.len())];
    let bids: Vec<(Decimal, Decimal)> =
        levels.iter().filter(|l| !l.bid_price.is_zero()).map(|l| (l.bid_price, l.bid_size)).collect();
    let asks: Vec<(Decimal, Decimal)> =
        levels.iter().filter(|l| !l.ask_price.is_zero()).map(|l| (l.ask_price, l.ask_size)).collect();
    let lo = bids.last().map(|b| b.0).or_else(|| asks.first().map(|a| a.0))?;
    let hi = asks.last().map(|a| a.0).or_else(|| bids.first().map(|b| b.0))?;
    if width == 0 || hi < lo {
        return None;
    }
    let span = hi - lo;
    let w = Decimal::from(width as u64);
    let cols = (0..width)
        .map(|x| {
            // The column's price: its left edge for bids, its right edge for asks, so the
            // outermost levels land in the outermost columns.
            let left = lo + span * Decimal::from(x as u64) / w;
            let right = lo + span * Decimal::from(x as u64 + 1) / w;
            let bid: Decimal = bids.iter().filter(|b| b.0 >= left).map(|b| b.1).sum();
            let ask: Decimal = asks.iter().filter(|a| a.0 <= right).map(|a| a.1).sum();
            if bid >= ask { (true, bid) } else { (false, ask) }
        })
        .collect();
    Some((lo, hi, cols))
}

/// Draws the depth chart of the first `depth` levels of `book` in `area`.
pub fn render(
    area: Rect,
    buf: &mut Buffer,
    book: &OrderBook,
    depth: usize,
    quote: &str,
    stale: bool,
    theme: &Theme,
) {
    if area.height < 4 || area.width < 12 {
        return;
    }
    let width = usize::from(area.width);
    let Some((lo, hi, cols)) = columns(book, depth, width) else {
        buf.set_stringn(area.x + 1, area.y, "no levels", width, theme.muted);
        return;
    };
    let max = cols.iter().map(|c| c.1).max().unwrap_or_default();
    let plot_h = usize::from(area.height) - 2;
    let style = |bid: bool| {
        if stale {
            theme.stale
        } else if bid {
            theme.bid
        } else {
            theme.ask
        }
    };
    // Header: the scale (the largest cumulative size) and what the colours are.
    let head = format!(" Σ{} max", format::qty(max, 4));
    buf.set_stringn(area.x, area.y, &head, width, theme.muted);
    let legend = "bids ◀ ▶ asks ";
    if head.chars().count() + legend.chars().count() < width {
        let x = area.x + (width - legend.chars().count()) as u16;
        buf.set_string(x, area.y, "bids ◀", style(true));
        buf.set_string(x + 7, area.y, "▶ asks", style(false));
    }
    let top = area.y + 1;
    for (x, (bid, size)) in cols.iter().enumerate() {
        if max.is_zero() || size.is_zero() {
            continue;
        }
        // Eighths of the plot's height; Decimal until the cell count.
        let eighths = size
            .checked_mul(Decimal::from(plot_h as u64 * 8))
            .and_then(|v| v.checked_div(max))
            .and_then(|v| v.round().to_usize())
            .unwrap_or(plot_h * 8)
            .clamp(1, plot_h * 8);
        let (full, rest) = (eighths / 8, eighths % 8);
        for row in 0..full {
            let y = top + (plot_h - 1 - row) as u16;
            buf.set_string(area.x + x as u16, y, "█", style(*bid));
        }
        if rest > 0 && full < plot_h {
            let y = top + (plot_h - 1 - full) as u16;
            buf.set_string(area.x + x as u16, y, EIGHTHS[rest - 1].to_string(), style(*bid));
        }
    }
    // The mid price: a line where the plot is empty, and its label below.
    let bottom = area.y + area.height - 1;
    let mid = match (book.best_bid(), book.best_ask()) {
        (Some(b), Some(a)) => Some((a + b) / Decimal::TWO),
        (b, a) => b.or(a),
    };
    let span = hi - lo;
    let mid_x = mid.map(|m| {
        if span.is_zero() {
            width / 2
        } else {
            ((m - lo) * Decimal::from(width as u64) / span).floor().to_usize().unwrap_or(0).min(width - 1)
        }
    });
    if let Some(mx) = mid_x {
        for y in top..bottom {
            let cell = &mut buf[(area.x + mx as u16, y)];
            if cell.symbol() == " " {
                cell.set_symbol("┊").set_style(theme.muted);
            }
        }
    }
    // Axis labels in full at the tick's precision: the lowest bid, the mid, the highest
    // ask. The mid's goes when the three do not fit apart.
    let lo_text = format::market_price(quote, lo);
    let hi_text = format::market_price(quote, hi);
    buf.set_stringn(area.x, bottom, &lo_text, width, style(true));
    let hi_w = hi_text.chars().count();
    if lo_text.chars().count() + 1 + hi_w <= width {
        buf.set_string(area.x + (width - hi_w) as u16, bottom, &hi_text, style(false));
    }
    if let (Some(m), Some(mx)) = (mid, mid_x) {
        // At half a tick the mid has one more decimal than the tick: shown as it is.
        let text = format!("mid {}", format::price(m));
        let w = text.chars().count();
        let start = mx.saturating_sub(w / 2).max(lo_text.chars().count() + 1);
        if start + w < width.saturating_sub(hi_w) {
            buf.set_string(area.x + start as u16, bottom, &text, theme.muted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::types::BookLevel;
    use rust_decimal_macros::dec;

    fn book() -> OrderBook {
        let levels = (0..3)
            .map(|i| {
                let i = Decimal::from(i);
                BookLevel {
                    ask_price: dec!(101) + i,
                    ask_size: dec!(1),
                    bid_price: dec!(100) - i,
                    bid_size: dec!(2),
                }
            })
            .collect();
        OrderBook { levels, ..OrderBook::default() }
    }

    /// Cumulative from the spread out: the outermost columns hold the whole side.
    #[test]
    fn the_curves_are_cumulative_from_the_spread() {
        let (lo, hi, cols) = columns(&book(), 3, 10).unwrap();
        assert_eq!((lo, hi), (dec!(98), dec!(103)));
        assert_eq!(cols[0], (true, dec!(6)), "all three bids at the far left");
        assert_eq!(cols[9], (false, dec!(3)), "all three asks at the far right");
        let sizes: Vec<Decimal> = cols.iter().map(|c| c.1).collect();
        assert!(sizes[..4].windows(2).all(|w| w[0] >= w[1]), "bids fall toward the mid: {sizes:?}");
        assert!(sizes[6..].windows(2).all(|w| w[0] <= w[1]), "asks rise away from it: {sizes:?}");
    }
}
