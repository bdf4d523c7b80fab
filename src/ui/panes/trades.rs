//! Trades tape: time (KST), side, price, size and notional (price × size in the quote
//! currency) of each print, coloured by taker side (plain when the side is not known).
//! A print large for its market — its notional at least `[ui] large_trade_multiple` times
//! the median of the market's recent prints, or at least the absolute
//! `large_trade_value` — is drawn bold and reversed and marked `◆`. The title carries the
//! buy/sell split of the tape by notional, with a bar.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use rust_decimal::Decimal;

use super::pane_block;
use crate::exchange::types::Side;
use crate::store::Snapshot;
use crate::store::tape::{Imbalance, notional};
use crate::ui::layout::PaneId;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use crate::ui::widgets::format;

/// The mark of a large print.
pub const LARGE_MARK: &str = "◆";

/// Draws the trades pane.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let tape = ui.market.as_ref().and_then(|m| snap.market.trades.get(m)).filter(|t| !t.is_empty());
    // The title has the corners and " Trades " besides the split.
    let room = area.width.saturating_sub(2 + PaneId::Trades.title().chars().count() as u16 + 2);
    let extra = tape
        .map_or_else(Vec::new, |t| split_title(t.imbalance(), ui.config.large_trade_multiple, room, theme));
    let block = pane_block(PaneId::Trades, extra, ui, theme);
    let inner = block.inner(area);
    block.render(area, buf);
    let Some(tape) = tape else {
        buf.set_stringn(inner.x + 1, inner.y, "no trades yet", inner.width as usize, theme.muted);
        return;
    };
    let quote = ui.market.as_ref().map_or("KRW", |m| m.quote());
    let skip = ui.scroll.get(&PaneId::Trades).copied().unwrap_or(0).min(tape.len().saturating_sub(1));
    let rows = inner.height.saturating_sub(1) as usize;
    let shown: Vec<Print> = tape
        .iter()
        .enumerate()
        .skip(skip)
        .take(rows)
        .map(|(i, t)| Print {
            time: format::ms_kst(t.trade_timestamp),
            side: t.side,
            price: format::market_price(quote, t.price),
            size: format::qty(t.volume, 8),
            size_short: format::qty(t.volume, 4),
            notional: notional(t),
            value: notional(t).map_or_else(|| "—".into(), |n| format::amount(n, quote)),
            large: tape.is_large(i, ui.config.large_trade_multiple, ui.config.large_trade_value),
        })
        .collect();
    let cols = Columns::fit(&shown, inner.width);
    let mut y = inner.y;
    buf.set_line(inner.x, y, &cols.header(theme), inner.width);
    for p in &shown {
        y += 1;
        buf.set_line(inner.x, y, &cols.row(p, theme), inner.width);
    }
}

/// One print as the pane writes it.
struct Print {
    time: String,
    side: Option<Side>,
    price: String,
    size: String,
    /// The size at 4 decimals: how far it is shortened before the notional goes.
    size_short: String,
    notional: Option<Decimal>,
    /// The notional at the quote currency's precision (`≈` when that rounded it).
    value: String,
    large: bool,
}

/// A notional in `width` columns: in full when it fits, else shortened by magnitude
/// (`475K`), and marked `≈` when the shortening lost digits (`≈1.17M` for 1,172,839):
/// the tape never shows a notional as exact that is not.
/// Shortened cells have `dp` decimals, the column's.
fn short_value(notional: Option<Decimal>, full: &str, width: u16, dp: u32) -> String {
    if full.chars().count() <= width as usize {
        return full.to_string();
    }
    if let Some(short) = unit_value(notional, full, width, dp).filter(|t| t.chars().count() <= width as usize)
    {
        return short;
    }
    let short = format::fit(full.to_string(), width);
    if notional.is_some_and(|n| read_short(&short) == Some(n)) {
        return short;
    }
    let short = format::fit(full.trim_start_matches('≈').to_string(), width.saturating_sub(1));
    if short.starts_with('≈') || short == "…" { short } else { format!("≈{short}") }
}

/// A size in `width` columns: in full when it fits, else by magnitude with `dp` decimals
/// (cut, never rounded up), else as far as it fits.
fn short_size(full: &str, width: u16, dp: u32) -> String {
    unit_size(full, width, dp)
        .filter(|t| t.chars().count() <= width as usize)
        .unwrap_or_else(|| format::fit(full.to_string(), width))
}

/// A size cell in full when it fits `width`, else by magnitude at `dp` (`None` below a
/// thousand).
fn unit_size(full: &str, width: u16, dp: u32) -> Option<String> {
    if full.chars().count() <= width as usize {
        return Some(full.to_string());
    }
    let digits: String = full.chars().filter(|c| *c != ',').collect();
    digits.parse::<Decimal>().ok().and_then(|v| by_unit(v, dp))
}

/// A notional cell in full when it fits `width`, else by magnitude at `dp`, `≈` in front
/// when that lost digits.
fn unit_value(notional: Option<Decimal>, full: &str, width: u16, dp: u32) -> Option<String> {
    if full.chars().count() <= width as usize {
        return Some(full.to_string());
    }
    let n = notional?;
    let short = by_unit(n, dp)?;
    Some(if read_short(&short) == Some(n) { short } else { format!("≈{short}") })
}

/// `v` from a thousand up by magnitude with exactly `dp` decimals, cut (`14.20M`);
/// `None` below a thousand.
fn by_unit(v: Decimal, dp: u32) -> Option<String> {
    let units = [(1_000_000_000_000i64, "T"), (1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")];
    let (unit, suffix) = units.iter().map(|&(u, s)| (Decimal::from(u), s)).find(|(u, _)| v.abs() >= *u)?;
    let mut short = v.checked_div(unit)?.round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::ToZero);
    short.rescale(dp);
    Some(format!("{short}{suffix}"))
}

/// The number a shortened cell (`1.17M`, `≈950`, `12,000`) says.
fn read_short(text: &str) -> Option<Decimal> {
    if text.starts_with('≈') {
        return None;
    }
    let digits: String = text.chars().filter(|c| *c != ',').collect();
    let (num, unit) = match digits.chars().last()? {
        'K' => (&digits[..digits.len() - 1], 1_000i64),
        'M' => (&digits[..digits.len() - 1], 1_000_000),
        'B' => (&digits[..digits.len() - 1], 1_000_000_000),
        'T' => (&digits[..digits.len() - 1], 1_000_000_000_000),
        _ => (digits.as_str(), 1),
    };
    num.parse::<Decimal>().ok()?.checked_mul(Decimal::from(unit))
}

/// Column widths (0 = the column is left out) and whether a space parts the mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Columns {
    time: u16,
    side: u16,
    price: u16,
    size: u16,
    value: u16,
    mark_gap: u16,
    /// Decimals of the sizes and notionals shortened with a unit: one a column, the most
    /// that let every such cell on screen fit (`14.20M` beside `14.16M`, never `14.2M`).
    size_dp: u32,
    value_dp: u32,
}

/// Width of the time column (`HH:MM:SS`) and of the side column (`SELL`).
const TIME_W: u16 = 8;
const SIDE_W: u16 = 4;
/// The narrowest a shortened notional is made (`≈1.7M`, `475K`): at 145,000,000 KRW a BTC
/// print's time, price, size and notional then fit the default layout's 34 columns.
const SHORT_W: u16 = 5;
/// The most room to spare a number column is widened by.
const SPARE_W: u16 = 6;

impl Columns {
    /// Columns laid out for the numbers they hold, prices in full at the tick's
    /// precision, sizes at up to Upbit's 8 decimals. Where room is short, columns give way
    /// in this order: the side word goes (the colour still says it, and the title the
    /// split), the size loses decimals past the fourth (the notional says what it is
    /// worth), the notional is shortened by magnitude (to 5 columns, `≈1.7M`), then the
    /// notional goes, the size is shortened by magnitude, the time goes,
    /// and a price is shortened only when nothing else is left to give. Numbers are
    /// shortened, never cut: a right-aligned cell that overflows loses its leading digits,
    /// and a size of 157,604,781.34 read ",604,781.34". Room to spare widens the number
    /// columns a little, then is left at the end.
    fn fit(shown: &[Print], width: u16) -> Columns {
        let longest = |f: fn(&Print) -> &str, head: &str| {
            shown.iter().map(|p| f(p).chars().count()).chain([head.len()]).max().unwrap_or(1) as u16
        };
        let mut c = Columns {
            time: TIME_W,
            side: SIDE_W,
            price: longest(|p| &p.price, "price"),
            size: longest(|p| &p.size, "size"),
            value: longest(|p| &p.value, "value"),
            mark_gap: 1,
            size_dp: 2,
            value_dp: 2,
        };
        let over = |c: &Columns| c.need().saturating_sub(width);
        let shrink = |w: u16, over: u16, min: u16| w.saturating_sub(over).max(min).min(w);
        c.side = if over(&c) > 0 { 0 } else { c.side };
        c.mark_gap = if over(&c) > 0 { 0 } else { 1 };
        c.size = shrink(c.size, over(&c), longest(|p| &p.size_short, "size"));
        c.value = shrink(c.value, over(&c), SHORT_W);
        if over(&c) > 0 {
            c.value = 0;
        }
        c.size = shrink(c.size, over(&c), 4);
        if over(&c) > 0 {
            c.time = 0;
        }
        c.price = shrink(c.price, over(&c), 1);
        let numbers = 2 + u16::from(c.value > 0);
        let more = (width.saturating_sub(c.need()) / numbers).min(SPARE_W);
        c.price += more;
        c.size += more;
        if c.value > 0 {
            c.value += more;
        }
        // A cell fits at `dp` when it is in full or by magnitude at `dp` within the column.
        let dp = |cell: &dyn Fn(&Print, u32) -> Option<String>, w: u16| {
            (0..=2)
                .rev()
                .find(|&dp| {
                    shown.iter().all(|p| cell(p, dp).is_some_and(|t| t.chars().count() <= w as usize))
                })
                .unwrap_or(0)
        };
        c.size_dp = dp(&|p, dp| unit_size(&p.size, c.size, dp), c.size);
        c.value_dp = dp(&|p, dp| unit_value(p.notional, &p.value, c.value, dp), c.value);
        c
    }

    /// Columns in use, each but the first after a space, and the mark's column.
    fn need(&self) -> u16 {
        let used = [self.time, self.side, self.price, self.size, self.value];
        let n = used.iter().filter(|w| **w > 0).count() as u16;
        used.iter().sum::<u16>() + n.saturating_sub(1) + self.mark_gap + 1
    }

    /// The cells of one row, left to right, with one space between cells.
    fn line<'a>(&self, cells: [(String, Style, bool); 5], mark: Span<'a>) -> Line<'a> {
        let widths = [self.time, self.side, self.price, self.size, self.value];
        let mut spans = Vec::with_capacity(12);
        for ((text, style, right), w) in cells.into_iter().zip(widths) {
            if w == 0 {
                continue;
            }
            if !spans.is_empty() {
                spans.push(Span::raw(" "));
            }
            let w = w as usize;
            // Numbers come fitted; a label (the header's) is cut to its column.
            let text: String = text.chars().take(w).collect();
            spans
                .push(Span::styled(if right { format!("{text:>w$}") } else { format!("{text:<w$}") }, style));
        }
        spans.push(Span::raw(" ".repeat(self.mark_gap as usize)));
        spans.push(mark);
        Line::from(spans)
    }

    fn header<'a>(&self, theme: &Theme) -> Line<'a> {
        let h = |t: &str, right| (t.to_string(), theme.header, right);
        self.line(
            [h("time", false), h("side", false), h("price", true), h("size", true), h("value", true)],
            Span::raw(" "),
        )
    }

    fn row<'a>(&self, p: &Print, theme: &Theme) -> Line<'a> {
        let side = match p.side {
            Some(Side::Bid) => theme.buy,
            Some(Side::Ask) => theme.sell,
            None => theme.text,
        };
        // A large print stands out by its size and notional: in its side's colour,
        // reversed, so it reads from across the screen and in a theme without colour.
        let (price, size, value) = if p.large {
            let big = side.add_modifier(Modifier::BOLD | Modifier::REVERSED);
            (side.add_modifier(Modifier::BOLD), big, big)
        } else {
            (side, theme.text, theme.text)
        };
        let word = p.side.map_or("?", Side::label);
        let mark = if p.large { Span::styled(LARGE_MARK, theme.highlight) } else { Span::raw(" ") };
        self.line(
            [
                (p.time.clone(), theme.muted, false),
                (word.to_string(), side, false),
                (format::fit(p.price.clone(), self.price), price, true),
                (short_size(&p.size, self.size, self.size_dp), size, true),
                (short_value(p.notional, &p.value, self.value, self.value_dp), value, true),
            ],
            mark,
        )
    }
}

/// The title's buy/sell split by notional over the tape: `buy 62% ██████░░░░ sell 38%`,
/// each side in its colour, with the tape's length and what `◆` means when there is room
/// (`room` columns). Nothing when no print of known side is held.
fn split_title<'a>(imb: Imbalance, multiple: Decimal, room: u16, theme: &Theme) -> Vec<Span<'a>> {
    let Some(buy) = imb.buy_pct() else { return Vec::new() };
    let (buy_text, sell_text) = (format!("buy {buy}%"), format!("sell {}%", 100 - buy));
    // The two figures, a space between them and one after.
    let words = (buy_text.len() + sell_text.len() + 2) as u16;
    if words > room {
        return Vec::new();
    }
    let notes = format!("· {} prints · {LARGE_MARK} ≥{}× median ", imb.prints, multiple.normalize());
    let notes_w = notes.chars().count() as u16;
    let with_notes = room >= words + 11 + notes_w;
    let bar_w = room.saturating_sub(words + 1 + if with_notes { notes_w } else { 0 }).min(20);
    let mut spans = vec![Span::styled(buy_text, theme.buy)];
    if bar_w >= 4 {
        // The bar's cells are the buy share, rounded; a side that traded keeps a cell.
        let filled = ((u32::from(bar_w) * buy + 50) / 100) as u16;
        let filled = if buy > 0 && buy < 100 { filled.clamp(1, bar_w - 1) } else { filled };
        spans.push(Span::raw(" "));
        spans.push(Span::styled("█".repeat(filled as usize), theme.buy));
        spans.push(Span::styled("░".repeat((bar_w - filled) as usize), theme.sell));
    }
    spans.push(Span::raw(" "));
    spans.push(Span::styled(sell_text, theme.sell));
    spans.push(Span::raw(" "));
    if with_notes {
        spans.push(Span::styled(notes, theme.muted));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::types::{MarketId, StreamType, Trade};
    use crate::store::tape::Tape;
    use crate::ui::state::UiConfig;
    use rust_decimal_macros::dec;
    use std::collections::HashMap;
    use std::str::FromStr;
    use std::sync::Arc;

    fn print(seq: i64, price: Decimal, volume: Decimal, side: Side) -> Trade {
        Trade {
            market: MarketId::new("KRW-BTC"),
            price,
            volume,
            side: Some(side),
            trade_timestamp: 1_796_472_000_000 + seq * 1000,
            timestamp: 1_796_472_000_000 + seq * 1000,
            sequential_id: seq,
            stream_type: StreamType::Realtime,
        }
    }

    /// The trades pane drawn `width` x `height` with `prints` (oldest first) on KRW-BTC.
    fn draw(width: u16, height: u16, prints: Vec<Trade>) -> Buffer {
        let market = MarketId::new("KRW-BTC");
        let tape: Tape = prints.into_iter().rev().collect();
        let mut snap = Snapshot::default();
        let mut section = (*snap.market).clone();
        section.trades = Arc::new(HashMap::from([(market.clone(), tape)]));
        snap.market = Arc::new(section);
        let mut ui = UiState::new(UiConfig::default());
        ui.market = Some(market);
        let area = Rect::new(0, 0, width, height);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &ui, &snap, &Theme::dark());
        buf
    }

    fn text(buf: &Buffer) -> Vec<String> {
        let a = buf.area;
        (0..a.height)
            .map(|y| (0..a.width).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>())
            .collect()
    }

    /// The text of each row of the trades pane drawn `width` columns wide with one trade.
    fn drawn(width: u16, price: &str, volume: &str) -> Vec<String> {
        let p = print(1, Decimal::from_str(price).unwrap(), Decimal::from_str(volume).unwrap(), Side::Bid);
        text(&draw(width, 4, vec![p]))
    }

    /// 30 prints of 0.001 BTC at 95,000,000 (95,000 KRW), alternating sides, then a buy
    /// of 0.005 BTC (475,000 KRW: five times the median) and a sell of 0.0049 BTC.
    fn a_tape_with_one_large_print() -> Vec<Trade> {
        let mut prints: Vec<Trade> = (1..=30)
            .map(|i| print(i, dec!(95_000_000), dec!(0.001), if i % 2 == 0 { Side::Bid } else { Side::Ask }))
            .collect();
        prints.push(print(31, dec!(95_000_000), dec!(0.005), Side::Bid));
        prints.push(print(32, dec!(95_000_000), dec!(0.0049), Side::Ask));
        prints
    }

    /// The first row of `buf` containing `needle`, and the column it starts at.
    fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
        text(buf)
            .iter()
            .enumerate()
            .find_map(|(y, row)| row.find(needle).map(|byte| (row[..byte].chars().count() as u16, y as u16)))
    }

    #[test]
    fn a_size_too_wide_for_its_column_is_shortened_not_cut() {
        // At a tiny price the size of one print is enormous: cut from the left it read
        // ",604,781.34", a wrong number.
        let rows = drawn(36, "0.00000001", "157604781.34");
        let row = &rows[2];
        assert!(row.contains("157.60M"), "{row:?}");
        assert!(!row.contains(",604,781.34"), "{row:?}");
    }

    #[test]
    fn a_price_too_wide_for_its_column_is_shown_in_full_and_the_time_gives_way() {
        let rows = drawn(30, "123456789012345", "0.5");
        let row = &rows[2];
        assert!(row.contains("123,456,789,012,345"), "{row:?}");
        assert!(!row.contains(':'), "the time column went first: {row:?}");
        // Narrower still, the price is shortened by magnitude, never cut.
        let rows = drawn(22, "123456789012345", "0.5");
        let row = &rows[2];
        assert!(!row.contains(",012,345"), "{row:?}");
        assert!(row.contains('T') || row.contains('B'), "{row:?}");
    }

    /// A SHIB print: the price at its tick's precision, the size in full beside it.
    #[test]
    fn a_shib_print_shows_its_price_and_size_in_full() {
        let rows = drawn(38, "0.0123", "41178283.5909");
        let row = &rows[2];
        assert!(row.contains(" 0.0123 "), "{row:?}");
        assert!(row.contains("41,178,283.5909"), "{row:?}");
    }

    /// Wide, every column: side words, the size in full and the notional exact (a
    /// fraction of a won is marked `≈`, never shown as if exact).
    #[test]
    fn a_wide_tape_shows_side_and_the_exact_notional() {
        let prints = vec![
            print(1, dec!(95_123_000), dec!(0.00012345), Side::Ask),
            print(2, dec!(95_000_000), dec!(0.001), Side::Bid),
        ];
        let rows = text(&draw(80, 5, prints));
        let header = &rows[1];
        for label in ["time", "side", "price", "size", "value"] {
            assert!(header.contains(label), "{header:?}");
        }
        let cells =
            |row: &str| row.trim_matches('│').split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(cells(&rows[2])[1..], ["BUY", "95,000,000", "0.001", "95,000"], "{rows:?}");
        assert_eq!(cells(&rows[3])[1..], ["SELL", "95,123,000", "0.00012345", "≈11,743"], "{rows:?}");
    }

    /// At the tape's width in the default layout (36 columns at 120x40, 38 at 80x24) the
    /// side word goes first and the notional stays, shortened by magnitude if it must.
    #[test]
    fn a_narrow_tape_keeps_time_price_size_and_the_notional() {
        for width in [36, 38] {
            let buf = draw(width, 10, a_tape_with_one_large_print());
            let rows = text(&buf);
            assert!(rows[1].contains("value") && !rows[1].contains("side"), "{rows:?}");
            let large = &rows[3];
            // 475,000 in full where it fits, else by magnitude (exactly: no `≈`).
            let value = if width == 36 { " 475.0K" } else { " 475,000" };
            assert!(
                large.contains("95,000,000") && large.contains("0.005") && large.contains(value),
                "{large:?}"
            );
            assert!(!large.contains("BUY"), "{large:?}");
            assert!(rows[4].contains(':') && rows[4].contains(" 95,000"), "{rows:?}");
        }
    }

    /// At today's BTC prices (eleven digits) the notional still fits the default layout's
    /// tape, shortened and marked `≈` as it lost digits.
    #[test]
    fn a_btc_print_at_145m_keeps_its_notional_in_the_default_layout() {
        let prints = vec![print(1, dec!(145_123_000), dec!(0.01234567), Side::Bid)];
        let rows = text(&draw(36, 4, prints));
        let cells: Vec<&str> = rows[2].trim_matches('│').split_whitespace().collect();
        assert_eq!(cells[1..], ["145,123,000", "0.0123", "≈1.7M"], "{rows:?}");
    }

    /// A size of 8 decimals gives up its decimals past the fourth before the notional is
    /// shortened: what a print is worth reads in full (the tape at 80x24).
    #[test]
    fn a_size_loses_decimals_before_the_notional_is_shortened() {
        let prints = vec![
            print(1, dec!(3_128), dec!(579.62675591), Side::Ask),
            print(2, dec!(3_128), dec!(98.88502993), Side::Bid),
        ];
        let rows = text(&draw(38, 5, prints));
        assert!(rows[2].contains(" 98.885") && rows[2].contains(" ≈309,312 "), "{rows:?}");
        assert!(rows[3].contains(" 579.6267") && rows[3].contains(" ≈1,813,072 "), "{rows:?}");
    }

    /// A print of five times the median notional is bold, reversed and marked; one just
    /// under is not; the title has the split (by notional: 0.02 BTC bought, 0.0199 sold).
    #[test]
    fn a_large_print_is_highlighted_and_the_title_has_the_split() {
        let buf = draw(36, 10, a_tape_with_one_large_print());
        let (x, y) = find(&buf, "475.0K").unwrap();
        let cell = &buf[(x, y)];
        assert!(cell.modifier.contains(Modifier::BOLD | Modifier::REVERSED), "{cell:?}");
        assert_eq!(cell.fg, Theme::dark().buy.fg.unwrap(), "in the buy side's colour");
        let (_, mark_y) = find(&buf, LARGE_MARK).unwrap();
        assert_eq!(mark_y, y, "the mark is on the large print's row");
        let (x, y) = find(&buf, "465.5K").unwrap();
        assert!(!buf[(x, y)].modifier.contains(Modifier::REVERSED), "just under five times is not large");
        assert_eq!(text(&buf).iter().filter(|r| r.contains(LARGE_MARK)).count(), 1);
        let title = &text(&buf)[0];
        assert!(title.contains("buy 50%") && title.contains("sell 50%"), "{title:?}");
        let (x, y) = find(&buf, "buy 50%").unwrap();
        assert_eq!(buf[(x, y)].fg, Theme::dark().buy.fg.unwrap());
        let (x, y) = find(&buf, "sell 50%").unwrap();
        assert_eq!(buf[(x, y)].fg, Theme::dark().sell.fg.unwrap());
    }

    /// Shortened cells of one column have one number of decimals: SHIB sizes read
    /// `14.20M` beside `14.16M` (it was `14.2M`).
    #[test]
    fn a_shortened_column_keeps_one_precision() {
        let prints = vec![
            print(1, dec!(0.0123), dec!(14_160_000.5), Side::Bid),
            print(2, dec!(0.0123), dec!(14_200_000.25), Side::Ask),
        ];
        let rows = text(&draw(25, 5, prints));
        let cells: Vec<&str> = rows[2..4]
            .iter()
            .flat_map(|r| r.split(['│', ' ', '◆']))
            .filter(|t| t.ends_with(['K', 'M']))
            .collect();
        assert_eq!(cells.len(), 2, "{rows:?}");
        for t in &cells {
            let dp =
                t.trim_start_matches('≈').trim_end_matches(['K', 'M']).split_once('.').map(|(_, f)| f.len());
            assert_eq!(dp, Some(2), "{t:?} in {rows:?}");
        }
    }

    #[test]
    fn a_shortened_notional_is_marked_when_it_lost_digits() {
        // The column's decimals are given: one for every shortened cell of the column.
        let cell = |n: Decimal, w| short_value(Some(n), &format::amount(n, "KRW"), w, 0);
        assert_eq!(cell(dec!(1_172_839), 10), "1,172,839");
        assert_eq!(short_value(Some(dec!(1_172_839)), "1,172,839", 6, 2), "≈1.17M");
        assert_eq!(cell(dec!(475_000), 6), "475K");
        assert_eq!(cell(dec!(190_000_000), 6), "190M");
        assert_eq!(cell(dec!(11_742.93435), 7), "≈11,743");
        assert_eq!(
            short_value(Some(dec!(11_742.93435)), &format::amount(dec!(11_742.93435), "KRW"), 6, 1),
            "≈11.7K"
        );
    }

    #[test]
    fn the_split_has_a_bar_and_when_wide_says_what_it_covers() {
        let imb = Imbalance { buy: dec!(620), sell: dec!(380), prints: 200 };
        let joined = |spans: Vec<Span>| spans.iter().map(|s| s.content.to_string()).collect::<String>();
        let wide = joined(split_title(imb, dec!(5), 100, &Theme::dark()));
        assert_eq!(wide, "buy 62% ████████████░░░░░░░░ sell 38% · 200 prints · ◆ ≥5× median ");
        let narrow = joined(split_title(imb, dec!(2.5), 26, &Theme::dark()));
        assert_eq!(narrow, "buy 62% █████░░░ sell 38% ");
        assert_eq!(joined(split_title(imb, dec!(5), 12, &Theme::dark())), "");
    }
}
