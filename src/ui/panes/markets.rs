//! Markets (watchlist): tabs, search, sortable columns (the sorted one marked `▲` / `▼`),
//! favourites first (`★`), names in the configured language, 24 h traded value, 24 h high
//! and low and an hourly sparkline of the last day, change colours and an optional
//! heatmap tint, the exchange's flags and notices (종료 a delisting, 유의 an investment
//! warning, 주의 a caution, NEW a listing this session) with a legend, the age of each
//! ticker (stale rows greyed), a scroll indicator, and a top-movers view.
//!
//! With the other venue streaming, `kimp` is each KRW market's kimchi premium against
//! Upbit's `KRW-USDT` (`—` for a coin not listed abroad or a premium gone stale; markets
//! without one sort last) and `kimp fx` the premium against the USD/KRW reference rate,
//! when one is set. On the other venue's view (`:venue binance`) prices are in its quote
//! at their own decimals and `kimp` is the premium of the coin's KRW market.
//!
//! Columns give way as the pane narrows: high and low first, then the sparkline, the
//! age, `kimp fx`, the traded value and the flag column (a flag then leads the name), then
//! the name; code, price, change and `kimp` stay.

use std::collections::BTreeSet;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Widget, Wrap};
use rust_decimal::Decimal;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::pane_block;
use crate::exchange::VenueId;
use crate::exchange::types::{MarketId, MarketInfo};
use crate::store::Snapshot;
use crate::store::market::{Badge, DayView};
use crate::ui::layout::PaneId;
use crate::ui::state::{MarketTab, SortColumn, UiState, display_name, visible_markets};
use crate::ui::theme::Theme;
use crate::ui::widgets::{format, premium, sparkline};

/// Columns of the sparkline: one per hour of the last day.
const SPARK_W: u16 = crate::store::market::DAY_HOURS as u16;
/// The name column's width before the optional columns are given room.
const NAME_PREFERRED: u16 = 8;
/// The narrowest name column (`비트…`).
const NAME_MIN: u16 = 5;

/// Where the rows of the table are, as drawn: the mouse finds the row under a click the
/// same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Body {
    /// The table (header row first), below the search line.
    pub table: Rect,
    /// Rows of markets that fit under the header.
    pub rows: usize,
    /// Index of the first row shown (the cursor stays on screen).
    pub offset: usize,
    /// The legend line, when a flag is shown.
    pub legend: Option<Rect>,
}

/// The table's geometry inside the pane's border (`inner`), for `rows` in display order.
pub(crate) fn body(inner: Rect, ui: &UiState, snap: &Snapshot, rows: &[&MarketInfo]) -> Body {
    let search = u16::from(ui.markets.searching || !ui.markets.query.is_empty());
    let kinds = flags_in(rows, snap);
    // The legend needs a row for itself and still two for the header and one market.
    let legend = u16::from(!kinds.is_empty() && inner.height >= search + 3);
    let table = Rect { y: inner.y + search, height: inner.height.saturating_sub(search + legend), ..inner };
    let body_rows = usize::from(table.height.saturating_sub(1));
    let offset = ui.markets.cursor.saturating_sub(body_rows.saturating_sub(1));
    let legend = (legend == 1).then(|| Rect { y: table.y + table.height, height: 1, ..inner });
    Body { table, rows: body_rows, offset, legend }
}

/// The markets the table shows at its current scroll (the sparklines are loaded for
/// them); none when the pane is not on screen (`pane` is its area in the last frame).
pub(crate) fn on_screen(pane: Option<Rect>, ui: &UiState, snap: &Snapshot) -> Vec<MarketId> {
    let Some(area) = pane else { return Vec::new() };
    let inner =
        Rect::new(area.x + 1, area.y + 1, area.width.saturating_sub(2), area.height.saturating_sub(2));
    if inner.height < 2 {
        return Vec::new();
    }
    let rows = visible_markets(ui, snap);
    let b = body(inner, ui, snap, &rows);
    rows.iter().skip(b.offset).take(b.rows).map(|m| m.market.clone()).collect()
}

/// The flag a row shows: the weightiest of a notice's badge and the market's own flags
/// (`market_event`). A delisting outranks a warning, a warning a caution, and any of them
/// a new listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Flag {
    Delisting,
    Warning,
    Caution,
    New,
}

impl Flag {
    fn of(badge: Option<Badge>, warning: bool, caution: bool) -> Option<Flag> {
        match (badge, warning, caution) {
            (Some(Badge::Delisting), ..) => Some(Flag::Delisting),
            (Some(Badge::Warning), ..) | (_, true, _) => Some(Flag::Warning),
            (_, _, true) => Some(Flag::Caution),
            (Some(Badge::New), ..) => Some(Flag::New),
            (None, false, false) => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Flag::Delisting => "종료",
            Flag::Warning => "유의",
            Flag::Caution => "주의",
            Flag::New => "NEW",
        }
    }

    /// The two-column label a narrow table uses (the legend spells it out).
    fn short_label(self) -> &'static str {
        match self {
            Flag::Delisting => "종",
            Flag::Warning => "유",
            Flag::Caution => "주",
            Flag::New => "N",
        }
    }

    fn label_in(self, compact: bool) -> &'static str {
        if compact { self.short_label() } else { self.label() }
    }

    /// What it means, for the legend, in full or short.
    fn meaning(self, short: bool) -> &'static str {
        match (self, short) {
            (Flag::Delisting, _) => "delisting",
            (Flag::Warning, false) => "investment warning",
            (Flag::Warning, true) => "warning",
            (Flag::Caution, _) => "caution",
            (Flag::New, false) => "new listing",
            (Flag::New, true) => "new",
        }
    }

    fn style(self, theme: &Theme) -> Style {
        match self {
            Flag::Delisting => theme.error,
            Flag::Warning | Flag::Caution => theme.warning,
            Flag::New => theme.accent,
        }
    }
}

fn flag_of(m: &MarketInfo, snap: &Snapshot) -> Option<Flag> {
    Flag::of(snap.market.badge(&m.market), m.warning, m.caution)
}

/// The flags the rows show, weightiest first.
fn flags_in(rows: &[&MarketInfo], snap: &Snapshot) -> BTreeSet<Flag> {
    rows.iter().filter_map(|m| flag_of(m, snap)).collect()
}

/// 24 h traded value in the quote currency, as the table shows it: from a million up in
/// whole millions (`300,000M`, as Upbit's 거래대금 column counts in 백만), below that in
/// full (KRW in whole won, a coin quote to 2 decimals, under 1 to 4). Halves round away
/// from zero; a value that is not zero never reads as `0`.
pub(crate) fn volume(v: Decimal, quote: &str) -> String {
    use rust_decimal::RoundingStrategy::MidpointAwayFromZero as Half;
    let million = Decimal::from(1_000_000);
    if v.abs() >= million {
        let m = (v / million).round_dp_with_strategy(0, Half);
        return format!("{}M", crate::exchange::display::group(&m.to_string()));
    }
    let dp = if quote == "KRW" {
        0
    } else if v.abs() >= Decimal::ONE {
        2
    } else {
        4
    };
    let r = v.round_dp_with_strategy(dp, Half);
    if r.is_zero() && !v.is_zero() {
        return if quote == "KRW" { "<1".into() } else { "<0.0001".into() };
    }
    crate::exchange::display::group(&r.normalize().to_string())
}

/// `text` cut to `width` terminal columns with `…` (a Korean syllable is two columns).
pub(crate) fn fit_name(text: &str, width: u16) -> String {
    let width = usize::from(width);
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// The heatmap's row background for a 24 h change: the rise or fall colour blended into
/// the pane's background, stronger in four steps (under 1 %, 3 %, 7 %, and beyond). None
/// for no change, or a theme without colours (mono: the change column's sign and style
/// still tell a rise from a fall).
///
/// The colour is made for the depth the theme was loaded at: RGB for a truecolor terminal,
/// a palette index for a 256-colour one, a named colour for a theme of the 16 ANSI colours.
/// A blend reduced to the 256 palette by nearest colour lands on the grey ramp (a dark red
/// at 40 % is nearer a grey than any palette red), so there the tint is built on the
/// palette's colour cube, keeping the hue's leading channel ahead.
pub(crate) fn tint(theme: &Theme, rate: Decimal) -> Option<Color> {
    let fg = match rate.cmp(&Decimal::ZERO) {
        std::cmp::Ordering::Greater => theme.rise.fg?,
        std::cmp::Ordering::Less => theme.fall.fg?,
        std::cmp::Ordering::Equal => return None,
    };
    let step: i32 = {
        let pct = rate.abs() * Decimal::ONE_HUNDRED;
        if pct < Decimal::ONE {
            1
        } else if pct < Decimal::from(3) {
            2
        } else if pct < Decimal::from(7) {
            3
        } else {
            4
        }
    };
    // A theme of named colours is meant for a 16-colour terminal: only the 8 normal
    // colours can sit behind text there, so every strength gets the same one.
    if let Some(named) = ansi_background(fg) {
        return Some(named);
    }
    let (fr, fg_, fb) = rgb(fg)?;
    // A background the theme leaves to the terminal is taken as dark (the common case).
    let (br, bg, bb) = theme.background.bg.and_then(rgb).unwrap_or((0, 0, 0));
    match fg {
        Color::Rgb(..) => {
            let mix = |b: u8, f: u8| {
                let (b, f) = (i32::from(b), i32::from(f));
                u8::try_from(b + (f - b) * step * 10 / 100).unwrap_or(b as u8)
            };
            Some(Color::Rgb(mix(br, fr), mix(bg, fg_), mix(bb, fb)))
        }
        _ => Some(Color::Indexed(cube_tint((br, bg, bb), (fr, fg_, fb), step))),
    }
}

/// The normal (not bright) ANSI colour of a named colour's hue, for a background; None for
/// a palette or RGB colour.
fn ansi_background(c: Color) -> Option<Color> {
    Some(match c {
        Color::Red | Color::LightRed => Color::Red,
        Color::Green | Color::LightGreen => Color::Green,
        Color::Yellow | Color::LightYellow => Color::Yellow,
        Color::Blue | Color::LightBlue => Color::Blue,
        Color::Magenta | Color::LightMagenta => Color::Magenta,
        Color::Cyan | Color::LightCyan => Color::Cyan,
        _ => return None,
    })
}

/// A heatmap tint on the xterm 256 palette's 6x6x6 cube: from the background's cube colour
/// towards the foreground's, `step` sixths of the way (at most two thirds, so text in the
/// rise or fall colour stays readable on it). The channel that moves most always moves at
/// least one level, and no other channel moves as far unless it moves as far in the full
/// colour, so the hue stays the foreground's (never a grey, never cyan for a sky blue).
fn cube_tint(back: (u8, u8, u8), fore: (u8, u8, u8), step: i32) -> u8 {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    let level = |v: u8| {
        let near = LEVELS.iter().enumerate().min_by_key(|&(_, &l)| (i32::from(l) - i32::from(v)).abs());
        near.map_or(0, |(i, _)| i as i32)
    };
    let b = [level(back.0), level(back.1), level(back.2)];
    let f = [level(fore.0), level(fore.1), level(fore.2)];
    let d = [f[0] - b[0], f[1] - b[1], f[2] - b[2]];
    let most = d.iter().map(|x| x.abs()).max().unwrap_or(0);
    // Truncated towards the background: a weak move stays near it.
    let mut e = d.map(|x| x * step / 6);
    let lead =
        e.iter().zip(&d).filter(|(_, d)| d.abs() == most).map(|(e, _)| e.abs()).max().unwrap_or(0).max(1);
    for (e, d) in e.iter_mut().zip(&d) {
        if most == 0 {
            break;
        }
        if d.abs() == most {
            *e = d.signum() * lead;
        } else if e.abs() >= lead {
            *e = d.signum() * (lead - 1);
        }
    }
    let mut c = [0, 1, 2].map(|i| (b[i] + e[i]).clamp(0, 5));
    // On a light background the leading channel is the one that stays: white towards a
    // blue first loses red only, which reads cyan; whatever the foreground leads with
    // leads here too.
    let top_level = f.iter().copied().max().unwrap_or(0);
    if let Some(top) = (0..3).filter(|&i| f[i] == top_level).max_by_key(|&i| c[i]) {
        for i in 0..3 {
            if f[i] < top_level && c[i] >= c[top] && c[top] > 0 {
                c[i] = c[top] - 1;
            }
        }
    }
    let c = c.map(|v| v as u8);
    16 + 36 * c[0] + 6 * c[1] + c[2]
}

/// The RGB of a terminal colour (the xterm values of the 16 named ones and the palette).
fn rgb(c: Color) -> Option<(u8, u8, u8)> {
    const BASIC: [(u8, u8, u8); 16] = [
        (0, 0, 0),
        (205, 0, 0),
        (0, 205, 0),
        (205, 205, 0),
        (0, 0, 238),
        (205, 0, 205),
        (0, 205, 205),
        (229, 229, 229),
        (127, 127, 127),
        (255, 0, 0),
        (0, 255, 0),
        (255, 255, 0),
        (92, 92, 255),
        (255, 0, 255),
        (0, 255, 255),
        (255, 255, 255),
    ];
    let named = |i: usize| Some(BASIC[i]);
    match c {
        Color::Rgb(r, g, b) => Some((r, g, b)),
        Color::Indexed(i) if i < 16 => named(usize::from(i)),
        Color::Indexed(i) if i < 232 => {
            let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
            let i = i - 16;
            Some((level(i / 36), level(i / 6 % 6), level(i % 6)))
        }
        Color::Indexed(i) => {
            let v = 8 + 10 * (i - 232);
            Some((v, v, v))
        }
        Color::Black => named(0),
        Color::Red => named(1),
        Color::Green => named(2),
        Color::Yellow => named(3),
        Color::Blue => named(4),
        Color::Magenta => named(5),
        Color::Cyan => named(6),
        Color::Gray => named(7),
        Color::DarkGray => named(8),
        Color::LightRed => named(9),
        Color::LightGreen => named(10),
        Color::LightYellow => named(11),
        Color::LightBlue => named(12),
        Color::LightMagenta => named(13),
        Color::LightCyan => named(14),
        Color::White => named(15),
        Color::Reset => None,
    }
}

/// Whether rows sorted by `col` run smallest (or A) first: text and age do by default,
/// prices, changes and values run largest first; `reversed` flips the default.
fn sort_runs_up(col: SortColumn, reversed: bool) -> bool {
    let natural_up = matches!(col, SortColumn::Code | SortColumn::Name | SortColumn::Age);
    natural_up != reversed
}

/// The columns, in screen order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Code,
    Name,
    Price,
    Change,
    Kimp,
    KimpFx,
    Value,
    High,
    Low,
    Spark,
    Flag,
    Age,
}

/// What one row shows, worked out once per frame for the widths and the cells.
struct RowData<'a> {
    info: &'a MarketInfo,
    price: Option<String>,
    change: Option<String>,
    rate: Decimal,
    /// The premium against `KRW-USDT` and against the reference rate (fresh only).
    kimp: Option<Decimal>,
    kimp_fx: Option<Decimal>,
    value: Option<String>,
    day: Option<DayView>,
    high: Option<String>,
    low: Option<String>,
    flag: Option<Flag>,
    age: Option<std::time::Duration>,
    stale: bool,
}

/// The widest of `texts` and the header, in terminal columns.
fn widest<'a>(header: usize, texts: impl Iterator<Item = &'a str>) -> u16 {
    let w = texts.map(UnicodeWidthStr::width).chain([header]).max().unwrap_or(header);
    u16::try_from(w).unwrap_or(u16::MAX)
}

/// Draws the markets pane.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let view = &ui.markets;
    let rows_all = visible_markets(ui, snap);
    let inner =
        Rect::new(area.x + 1, area.y + 1, area.width.saturating_sub(2), area.height.saturating_sub(2));
    let geo = body(inner, ui, snap, &rows_all);
    let shown = rows_all.len().saturating_sub(geo.offset).min(geo.rows);

    let mut tabs = vec![Span::raw(" ")];
    for t in MarketTab::ALL {
        let st = if t == view.tab { theme.selection } else { theme.muted };
        tabs.push(Span::styled(format!("{} ", t.label()), st));
    }
    if view.movers {
        // Fits the default layout's 38 columns after the tabs.
        tabs.push(Span::styled("movers ", theme.accent));
    }
    if ui.venue != VenueId::Upbit {
        tabs.push(Span::styled(format!("{} ", ui.venue.name()), theme.warning));
    }
    let mut block = pane_block(PaneId::Markets, tabs, ui, theme);
    // The scroll indicator: which rows of how many, when they do not all fit.
    if rows_all.len() > geo.rows && geo.rows > 0 {
        let text = format!(" {}-{}/{} ", geo.offset + 1, geo.offset + shown, rows_all.len());
        block = block.title_bottom(Line::from(Span::styled(text, theme.muted)).right_aligned());
    }
    if inner.height < 2 {
        block.render(area, buf);
        return;
    }
    // Search line when typing or filtering.
    if view.searching || !view.query.is_empty() {
        let cursor = if view.searching { "▏" } else { "" };
        let line = Line::from(vec![
            Span::styled("/", theme.accent),
            Span::styled(format!("{}{cursor}", view.query), theme.text),
        ]);
        buf.set_line(inner.x, inner.y, &line, inner.width);
    }

    let data: Vec<RowData> = rows_all
        .iter()
        .skip(geo.offset)
        .take(geo.rows)
        .map(|m| {
            let quote = m.market.quote();
            let t = snap.market.tickers.get(&m.market);
            let age = t.map(|t| t.age(ui.now));
            let day = snap.market.day(&m.market);
            RowData {
                info: m,
                price: t.map(|t| premium::venue_price(ui.venue, quote, t.value.trade_price)),
                change: t.map(|t| format::pct(t.value.signed_change_rate)),
                rate: t.map_or(Decimal::ZERO, |t| t.value.signed_change_rate),
                kimp: premium::kimp(ui, snap, &m.market),
                kimp_fx: premium::kimp_fx(ui, snap, &m.market),
                value: t.map(|t| volume(t.value.acc_trade_price_24h, quote)),
                high: day.as_ref().map(|d| premium::venue_price(ui.venue, quote, d.high)),
                low: day.as_ref().map(|d| premium::venue_price(ui.venue, quote, d.low)),
                day,
                flag: flag_of(m, snap),
                stale: age.is_none_or(|a| a >= ui.config.stale_after),
                age,
            }
        })
        .collect();

    // Widths: each column as wide as what it shows on screen (prices in full at their
    // tick's precision) and its header with the sort mark.
    let code_w = 1 + widest(5, data.iter().map(|r| r.info.market.base()));
    let price_w = widest(6, data.iter().filter_map(|r| r.price.as_deref()));
    let chg_w = widest(4, data.iter().filter_map(|r| r.change.as_deref()));
    let value_w = widest(6, data.iter().filter_map(|r| r.value.as_deref()));
    let high_w = widest(6, data.iter().filter_map(|r| r.high.as_deref()));
    let low_w = widest(6, data.iter().filter_map(|r| r.low.as_deref()));
    let name_natural = widest(5, data.iter().map(|r| display_name(r.info, ui.config.names)));
    let any_flag = !flags_in(&rows_all, snap).is_empty();
    // The premium columns while the other venue streams, for rows that can have one.
    let show_kimp = !snap.market.premium.rows.is_empty()
        && data.iter().any(|r| premium::krw_market(ui.venue, &r.info.market).is_some());
    let kimp_texts: Vec<(String, String)> =
        data.iter().map(|r| (premium::text(r.kimp), premium::text(r.kimp_fx))).collect();
    let kimp_w = widest(5, kimp_texts.iter().map(|(k, _)| k.as_str()));
    let kimp_fx_w = widest(8, kimp_texts.iter().map(|(_, f)| f.as_str()));

    let width = geo.table.width;
    let mut used = code_w + 1 + price_w + 1 + chg_w;
    let mut cols = vec![Col::Code, Col::Price, Col::Change];
    // A flag (유의, 주의, 종료, NEW) is never lost: it goes in its own column, in the name
    // column's lead, or, where neither fits, in a two-column short form; the premium gives
    // way to it only when not even that fits.
    let name_fits = |used: u16| used + 1 + NAME_MIN <= width;
    let mut compact_flag = false;
    if show_kimp && used + 1 + kimp_w <= width {
        let after = used + 1 + kimp_w;
        let flag_room = !any_flag || name_fits(after) || after + 1 + 4 <= width;
        if flag_room {
            used = after;
            cols.push(Col::Kimp);
        } else if after + 1 + 2 <= width {
            used = after + 1 + 2;
            cols.extend([Col::Kimp, Col::Flag]);
            compact_flag = true;
        }
    }
    let mut name_w = 0;
    if name_fits(used) {
        name_w = name_natural.min(NAME_PREFERRED).min(width - used - 1);
        used += 1 + name_w;
        cols.push(Col::Name);
    }
    // The optional columns, most wanted first, each only when it fits whole.
    let mut wants = vec![];
    if any_flag && !cols.contains(&Col::Flag) {
        wants.push((vec![Col::Flag], 4));
    }
    wants.push((vec![Col::Value], value_w));
    if cols.contains(&Col::Kimp) && premium::has_reference(snap) {
        wants.push((vec![Col::KimpFx], kimp_fx_w));
    }
    wants.push((vec![Col::Age], 4));
    // The day's columns once a day line is loaded (blank for a market without one).
    if data.iter().any(|r| r.day.is_some()) {
        wants.push((vec![Col::Spark], SPARK_W));
        wants.push((vec![Col::High, Col::Low], high_w + 1 + low_w));
    }
    for (group, w) in wants {
        if used + 1 + w <= width {
            used += 1 + w;
            cols.extend(group);
        }
    }
    // What is left widens the name to its full length.
    if cols.contains(&Col::Name) {
        let extra = (width - used).min(name_natural.saturating_sub(name_w));
        name_w += extra;
    }
    let order = [
        Col::Code,
        Col::Name,
        Col::Price,
        Col::Change,
        Col::Kimp,
        Col::KimpFx,
        Col::Value,
        Col::High,
        Col::Low,
        Col::Spark,
        Col::Flag,
        Col::Age,
    ];
    let cols: Vec<Col> = order.into_iter().filter(|c| cols.contains(c)).collect();
    let flag_in_name = any_flag && !cols.contains(&Col::Flag);

    // Headers, the sorted column marked (not in the movers view: it has its own order).
    let sort_of = |c: Col| match c {
        Col::Code => Some(SortColumn::Code),
        Col::Name => Some(SortColumn::Name),
        Col::Price => Some(SortColumn::Price),
        Col::Change => Some(SortColumn::Change),
        Col::Kimp => Some(SortColumn::Kimp),
        Col::Value => Some(SortColumn::Value),
        Col::Age => Some(SortColumn::Age),
        _ => None,
    };
    // The mark tells the direction rows run in, whatever the column: ▲ smallest (or A)
    // first, ▼ largest (or Z) first. Text and age sort smallest first by default, numbers
    // largest first; `ascending` reverses that default.
    let mark = if sort_runs_up(view.sort, view.ascending) { "▲" } else { "▼" };
    let header_text = |c: Col| {
        let label = match c {
            Col::Code => "code",
            Col::Name => "name",
            Col::Price => "price",
            Col::Change => "chg",
            Col::Kimp => "kimp",
            Col::KimpFx => "kimp fx",
            Col::Value => "value",
            Col::High => "hi 24h",
            Col::Low => "lo 24h",
            Col::Spark => "24h",
            Col::Flag => "!",
            Col::Age => "age",
        };
        if !view.movers && sort_of(c) == Some(view.sort) {
            format!("{label}{mark}")
        } else {
            label.to_string()
        }
    };
    let sorted_hidden = !view.movers && !cols.iter().any(|c| sort_of(*c) == Some(view.sort));
    if sorted_hidden {
        let text = format!(" by {}{mark} ", view.sort.label());
        block = block.title_bottom(Line::from(Span::styled(text, theme.muted)).left_aligned());
    }
    block.render(area, buf);

    let right = |c: Col| {
        matches!(
            c,
            Col::Price | Col::Change | Col::Kimp | Col::KimpFx | Col::Value | Col::High | Col::Low | Col::Age
        )
    };
    let header: Vec<Cell> = cols
        .iter()
        .map(|c| {
            let line = Line::from(header_text(*c));
            Cell::from(if right(*c) { line.right_aligned() } else { line })
        })
        .collect();
    let widths: Vec<Constraint> = cols
        .iter()
        .map(|c| {
            Constraint::Length(match c {
                Col::Code => code_w,
                Col::Name => name_w,
                Col::Price => price_w,
                Col::Change => chg_w,
                Col::Kimp => kimp_w,
                Col::KimpFx => kimp_fx_w,
                Col::Value => value_w,
                Col::High => high_w,
                Col::Low => low_w,
                Col::Spark => SPARK_W,
                Col::Flag if compact_flag => 2,
                Col::Flag => 4,
                Col::Age => 4,
            })
        })
        .collect();

    let mut rows = Vec::with_capacity(data.len());
    for (k, r) in data.iter().enumerate() {
        let i = geo.offset + k;
        let m = r.info;
        let chg_style =
            if r.stale || r.price.is_none() { theme.stale } else { theme.change(r.rate.cmp(&Decimal::ZERO)) };
        let text_style = if r.stale { theme.stale } else { theme.text };
        let selected_market = ui.market.as_ref() == Some(&m.market);
        let code_style = if selected_market { theme.accent } else { theme.text };
        let fav = if ui.favorites.contains(&m.market) { "★" } else { " " };
        let cells: Vec<Cell> = cols
            .iter()
            .map(|c| match c {
                Col::Code => Cell::from(Line::from(vec![
                    Span::styled(fav, theme.highlight),
                    Span::styled(m.market.base().to_string(), code_style),
                ])),
                Col::Name => {
                    let name = display_name(m, ui.config.names);
                    let mut spans = Vec::new();
                    let mut room = name_w;
                    if flag_in_name && let Some(f) = r.flag {
                        let label = f.label();
                        spans.push(Span::styled(label, f.style(theme)));
                        room = room.saturating_sub(label.width() as u16);
                        if room > 0 {
                            spans.push(Span::raw(" "));
                            room -= 1;
                        }
                    }
                    spans.push(Span::styled(fit_name(name, room), theme.muted));
                    Cell::from(Line::from(spans))
                }
                Col::Price => {
                    let text = r.price.clone().unwrap_or_else(|| "-".into());
                    Cell::from(Line::from(Span::styled(text, chg_style)).right_aligned())
                }
                Col::Change => {
                    let text = r.change.clone().unwrap_or_else(|| "-".into());
                    Cell::from(Line::from(Span::styled(text, chg_style)).right_aligned())
                }
                Col::Kimp | Col::KimpFx => {
                    let (ratio, text) = if *c == Col::Kimp {
                        (r.kimp, &kimp_texts[k].0)
                    } else {
                        (r.kimp_fx, &kimp_texts[k].1)
                    };
                    // Red a premium, blue a discount, as the theme colours a rise and a fall.
                    let st = match ratio {
                        _ if r.stale => theme.stale,
                        Some(p) => theme.change(p.cmp(&Decimal::ZERO)),
                        None => theme.muted,
                    };
                    Cell::from(Line::from(Span::styled(text.clone(), st)).right_aligned())
                }
                Col::Value => {
                    let text = r.value.clone().unwrap_or_else(|| "-".into());
                    Cell::from(Line::from(Span::styled(text, text_style)).right_aligned())
                }
                Col::High => Cell::from(
                    Line::from(Span::styled(r.high.clone().unwrap_or_default(), text_style)).right_aligned(),
                ),
                Col::Low => Cell::from(
                    Line::from(Span::styled(r.low.clone().unwrap_or_default(), text_style)).right_aligned(),
                ),
                Col::Spark => match &r.day {
                    // The line's colour is its own direction over the day.
                    Some(d) => {
                        let dir = match (d.closes.first(), d.closes.last()) {
                            (Some(a), Some(b)) => b.cmp(a),
                            _ => std::cmp::Ordering::Equal,
                        };
                        let st = if r.stale { theme.stale } else { theme.change(dir) };
                        Cell::from(Span::styled(sparkline::sparkline(&d.closes, usize::from(SPARK_W)), st))
                    }
                    None => Cell::from(""),
                },
                Col::Flag => Cell::from(
                    r.flag.map_or(Span::raw(""), |f| Span::styled(f.label_in(compact_flag), f.style(theme))),
                ),
                Col::Age => {
                    let text = r.age.map(format::age).unwrap_or_else(|| "-".into());
                    let st = if r.stale { theme.stale } else { theme.muted };
                    Cell::from(Line::from(Span::styled(text, st)).right_aligned())
                }
            })
            .collect();
        let mut row_style = Style::new();
        if view.heatmap
            && !r.stale
            && r.price.is_some()
            && let Some(bg) = tint(theme, r.rate)
        {
            row_style = row_style.bg(bg);
        }
        if i == view.cursor && ui.focus == PaneId::Markets {
            row_style = theme.selection;
        }
        rows.push(Row::new(cells).style(row_style));
    }
    if rows_all.is_empty() {
        let (msg, style) = match &snap.market.markets_failed {
            // Why the list is not there, where the person looks for it (the Log pane has
            // every attempt).
            Some(f) if snap.market.markets.is_empty() => {
                let left = (f.at + f.retry_in).saturating_duration_since(ui.now);
                (format!("market list not loaded: {} (again in {}s)", f.error, left.as_secs()), theme.error)
            }
            _ if snap.market.markets.is_empty() => ("loading markets…".to_string(), theme.muted),
            _ if view.movers => ("no movers: nothing rose or fell".to_string(), theme.muted),
            _ => ("no match".to_string(), theme.muted),
        };
        // The rows below the header, down to the pane's edge (an empty table is one row).
        let top = geo.table.y + 1;
        let area = Rect::new(geo.table.x, top, geo.table.width, inner.bottom().saturating_sub(top));
        Paragraph::new(msg).style(style).wrap(Wrap { trim: false }).render(area, buf);
    }
    Table::new(rows, widths)
        .header(Row::new(header).style(theme.header))
        .column_spacing(1)
        .render(geo.table, buf);
    if let Some(at) = geo.legend {
        let flags = flags_in(&rows_all, snap);
        let legend = |short: bool| {
            let mut spans = Vec::new();
            for (n, f) in flags.iter().enumerate() {
                if n > 0 {
                    spans.push(Span::styled(if short { " " } else { " · " }, theme.muted));
                }
                spans.push(Span::styled(f.label_in(compact_flag), f.style(theme)));
                spans.push(Span::styled(format!(" {}", f.meaning(short)), theme.muted));
            }
            Line::from(spans)
        };
        let full = legend(false);
        let line = if full.width() <= usize::from(at.width) { full } else { legend(true) };
        buf.set_line(at.x, at.y, &line, at.width);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::types::{Candle, MarketInfo, Ticker, Timeframe};
    use crate::store::StoreEvent;
    use rust_decimal_macros::dec;

    fn info(code: &str, warning: bool, caution: bool) -> MarketInfo {
        MarketInfo {
            market: MarketId::new(code),
            korean_name: code.into(),
            english_name: code.into(),
            warning,
            caution,
        }
    }

    fn named(code: &str, ko: &str, en: &str) -> MarketInfo {
        MarketInfo { korean_name: ko.into(), english_name: en.into(), ..info(code, false, false) }
    }

    fn ticker(code: &str, price: Decimal, rate: Decimal, value: Decimal, at: i64) -> Ticker {
        Ticker {
            market: Some(MarketId::new(code)),
            trade_price: price,
            signed_change_rate: rate,
            acc_trade_price_24h: value,
            trade_timestamp: at,
            timestamp: at,
            ..Ticker::default()
        }
    }

    fn hour_candle(code: &str, start: i64, close: Decimal) -> Candle {
        Candle {
            market: MarketId::new(code),
            timeframe: Timeframe::H1,
            start,
            open: close,
            high: close + dec!(10),
            low: close - dec!(10),
            close,
            volume: dec!(1),
            value: close,
            timestamp: start,
        }
    }

    fn draw(ui: &UiState, snap: &Snapshot, w: u16, h: u16) -> String {
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, ui, snap, &Theme::default());
        (0..area.height)
            .map(|y| {
                let mut line = String::new();
                let mut x = 0;
                while x < area.width {
                    let s = buf[(x, y)].symbol();
                    line.push_str(s);
                    // A wide glyph covers the next cell too.
                    x += s.width().max(1) as u16;
                }
                line
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn screen(snap: &Snapshot) -> String {
        let ui = UiState::new(crate::ui::state::UiConfig::default());
        draw(&ui, snap, 60, 8)
    }

    /// A market list that fails to load says why in the pane (it read `loading markets…`
    /// for ever), and the list, once loaded, replaces the reason.
    #[test]
    fn a_market_list_that_fails_to_load_says_why() {
        let now = std::time::Instant::now();
        let mut store = crate::store::Store::new();
        let failed = store.apply_batch(
            [StoreEvent::MarketsFailed {
                error: "GET /api/v3/exchangeInfo: HTTP 500".into(),
                retry_in: std::time::Duration::from_secs(16),
            }],
            now,
        );
        let mut ui = UiState::new(crate::ui::state::UiConfig::default());
        ui.now = now;
        let text = draw(&ui, &failed, 60, 8);
        assert!(text.contains("market list not loaded: GET /api/v3/exchangeInfo: HTTP 500"), "{text}");
        assert!(text.contains("(again in 16s)"), "{text}");
        // In a narrow pane the reason wraps onto the rows below, whole.
        let long = "Binance GET /api/v3/exchangeInfo: connect failed: error sending request for url \
                    (http://127.0.0.1:9/api/v3/exchangeInfo)";
        let failed = store.apply_batch(
            [StoreEvent::MarketsFailed { error: long.into(), retry_in: std::time::Duration::from_secs(16) }],
            now,
        );
        let narrow = draw(&ui, &failed, 38, 20);
        let joined: Vec<&str> = narrow.lines().map(|l| l.trim_matches(|c| c == '│' || c == ' ')).collect();
        assert!(joined.join(" ").contains("(again in 16s)"), "{narrow}");
        assert!(!text.contains("loading markets"), "{text}");
        let loaded = store.apply_batch([StoreEvent::MarketsLoaded(vec![info("KRW-BTC", false, false)])], now);
        assert!(loaded.market.markets_failed.is_none());
        assert!(!draw(&ui, &loaded, 60, 8).contains("not loaded"));
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
        // The legend says what each flag on screen means, on the pane's last line (short
        // where the full words do not fit).
        let legend = text.lines().nth(6).unwrap_or_default();
        assert!(legend.contains("종료 delisting") && legend.contains("NEW new"), "{text}");
        assert!(legend.contains("유의 warning") && legend.contains("주의 caution"), "{text}");
        let ui = UiState::new(crate::ui::state::UiConfig::default());
        let wide = draw(&ui, &snap, 120, 8);
        let legend = wide.lines().nth(6).unwrap_or_default();
        assert!(legend.contains("유의 investment warning · 주의 caution"), "{wide}");
    }

    #[test]
    fn no_legend_without_a_flag() {
        let snap = crate::store::Store::new().apply_batch(
            [StoreEvent::MarketsLoaded(vec![info("KRW-BTC", false, false)])],
            std::time::Instant::now(),
        );
        assert!(!screen(&snap).contains("delisting"));
    }

    /// Traded value: whole millions from a million (Upbit's 백만 column), exact below;
    /// halves away from zero, and something never reads as nothing.
    #[test]
    fn volume_is_formatted_exactly() {
        assert_eq!(volume(dec!(300_000_000_000), "KRW"), "300,000M");
        assert_eq!(volume(dec!(123_456_789_012), "KRW"), "123,457M");
        assert_eq!(volume(dec!(2_500_000), "KRW"), "3M", "half away from zero, not to even");
        assert_eq!(volume(dec!(1_499_999.99), "KRW"), "1M");
        assert_eq!(volume(dec!(999_999.5), "KRW"), "1,000,000");
        assert_eq!(volume(dec!(12_345.4), "KRW"), "12,345");
        assert_eq!(volume(dec!(0.4), "KRW"), "<1");
        assert_eq!(volume(dec!(0), "KRW"), "0");
        assert_eq!(volume(dec!(12.345), "BTC"), "12.35");
        assert_eq!(volume(dec!(0.00123456), "BTC"), "0.0012");
        assert_eq!(volume(dec!(0.00001), "BTC"), "<0.0001");
        assert_eq!(volume(dec!(1_234_567.89), "USDT"), "1M");
        assert_eq!(volume(dec!(98_765.432), "USDT"), "98,765.43");
    }

    #[test]
    fn names_are_cut_at_their_display_width() {
        assert_eq!(fit_name("비트코인", 8), "비트코인");
        assert_eq!(fit_name("이더리움클래식", 9), "이더리움…");
        assert_eq!(fit_name("이더리움클래식", 8), "이더리…");
        assert_eq!(fit_name("Ethereum Classic", 9), "Ethereum…");
        assert_eq!(fit_name("비트코인", 0), "");
    }

    fn snapshot_with_day(now_ms: i64) -> std::sync::Arc<Snapshot> {
        let hour = now_ms - now_ms.rem_euclid(crate::store::market::HOUR_MS);
        let h = crate::store::market::HOUR_MS;
        let candles: Vec<Candle> = (0..24)
            .map(|i| hour_candle("KRW-BTC", hour - (23 - i) * h, Decimal::from(1000 + i * 10)))
            .collect();
        crate::store::Store::new().apply_batch(
            [
                StoreEvent::MarketsLoaded(vec![
                    named("KRW-BTC", "비트코인", "Bitcoin"),
                    named("KRW-ETC", "이더리움클래식", "Ethereum Classic"),
                ]),
                StoreEvent::TickersUpdated(vec![
                    ticker("KRW-BTC", dec!(1230), dec!(0.0123), dec!(300_000_000_000), now_ms),
                    ticker("KRW-ETC", dec!(30000), dec!(-0.021), dec!(1_000_000_000), now_ms),
                ]),
                StoreEvent::DayLoaded { market: MarketId::new("KRW-BTC"), candles, at_ms: now_ms },
            ],
            std::time::Instant::now(),
        )
    }

    /// Wide: every column, with the name, the day's line and its high and low; a market
    /// whose day is not loaded has a blank line, never a made-up one.
    #[test]
    fn a_wide_table_has_names_value_high_low_and_a_sparkline() {
        let now = 1_796_461_200_000 + 25 * 60_000;
        let snap = snapshot_with_day(now);
        let ui = UiState::new(crate::ui::state::UiConfig::default());
        let text = draw(&ui, &snap, 120, 8);
        let btc = text.lines().find(|l| l.starts_with("│ BTC")).unwrap_or_default();
        assert!(btc.contains("비트코인") && btc.contains("300,000M"), "{text}");
        // High: the last hour's 1,230 + 10; low: the first hour's 1,000 - 10.
        assert!(btc.contains("1,240") && btc.contains("990"), "{text}");
        // 1,000 … 1,220 hour by hour, the live 1,230 in the last hour.
        assert!(btc.contains("▁▁▂▂▂▃▃▃▃▄▄▄▅▅▅▆▆▆▆▇▇▇██"), "{text}");
        let etc = text.lines().find(|l| l.contains("ETC")).unwrap_or_default();
        assert!(etc.contains("이더리움클래식") && !etc.contains('▁') && !etc.contains('▄'), "{text}");
        assert!(text.contains("value▼"), "the sorted column is marked:\n{text}");
        // English names when the setting says so.
        let english = UiState::new(crate::ui::state::UiConfig {
            names: crate::ui::state::NameLanguage::English,
            ..Default::default()
        });
        let text = draw(&english, &snap, 120, 8);
        assert!(text.contains("Bitcoin") && text.contains("Ethereum Classic"), "{text}");
    }

    /// Narrow (the default layout's 38 columns): code, a short name, price and change; the
    /// sorted column hidden is named on the bottom border.
    #[test]
    fn a_narrow_table_keeps_code_name_price_and_change() {
        let now = 1_796_461_200_000 + 25 * 60_000;
        let snap = snapshot_with_day(now);
        let ui = UiState::new(crate::ui::state::UiConfig::default());
        let text = draw(&ui, &snap, 38, 8);
        let etc = text.lines().find(|l| l.contains("ETC")).unwrap_or_default();
        assert!(
            etc.contains("이더리") && etc.contains('…') && etc.contains("30,000") && etc.contains("-2.10%"),
            "{text}"
        );
        assert!(!text.contains('▁') && !text.contains("300,000M"), "{text}");
        assert!(text.contains("by value▼"), "{text}");
    }

    /// Rows that overflow say which are shown, of how many.
    #[test]
    fn the_scroll_indicator_shows_the_rows_in_view() {
        let list: Vec<MarketInfo> = (0..20).map(|i| info(&format!("KRW-C{i:02}"), false, false)).collect();
        let snap = crate::store::Store::new()
            .apply_batch([StoreEvent::MarketsLoaded(list)], std::time::Instant::now());
        let mut ui = UiState::new(crate::ui::state::UiConfig::default());
        let text = draw(&ui, &snap, 40, 8);
        assert!(text.lines().last().unwrap_or_default().contains("1-5/20"), "{text}");
        ui.markets.cursor = 12;
        let text = draw(&ui, &snap, 40, 8);
        assert!(text.lines().last().unwrap_or_default().contains("9-13/20"), "{text}");
    }

    #[test]
    fn the_heatmap_tints_by_change_in_the_theme_s_colours() {
        let dark = Theme::dark();
        let up = tint(&dark, dec!(0.05)).expect("a tint");
        let up_big = tint(&dark, dec!(0.2)).expect("a tint");
        let down = tint(&dark, dec!(-0.05)).expect("a tint");
        assert_eq!(tint(&dark, Decimal::ZERO), None);
        let Color::Rgb(r, _, b) = up else { panic!("{up:?}") };
        assert!(r > b, "a rise is red under the Korean colours: {up:?}");
        let Color::Rgb(r2, ..) = up_big else { panic!() };
        assert!(r2 > r, "a bigger move is a stronger tint");
        let Color::Rgb(r, _, b) = down else { panic!("{down:?}") };
        assert!(b > r, "a fall is blue: {down:?}");
        let mono = Theme::load("mono", None, crate::ui::theme::ColorSupport::TrueColor).expect("mono");
        assert_eq!(tint(&mono, dec!(0.05)), None, "no colour in mono");
    }

    /// ▲ means the rows run smallest (A) first and ▼ largest (Z) first, for text columns
    /// as for numbers, in the default direction and reversed.
    #[test]
    fn the_sort_mark_tells_the_direction_the_rows_run() {
        let snap = tab_of(&[
            ("AAA", dec!(0.04), dec!(200)),
            ("BBB", dec!(0.03), dec!(300)),
            ("CCC", dec!(0.02), dec!(400)),
            ("DDD", dec!(0.01), dec!(500)),
        ]);
        let cases = [
            (SortColumn::Code, false, "code▲", "AAA"),
            (SortColumn::Code, true, "code▼", "DDD"),
            (SortColumn::Name, false, "name▲", "AAA"),
            (SortColumn::Name, true, "name▼", "DDD"),
            (SortColumn::Value, false, "value▼", "DDD"),
            (SortColumn::Value, true, "value▲", "AAA"),
            (SortColumn::Change, false, "chg▼", "AAA"),
            (SortColumn::Change, true, "chg▲", "DDD"),
        ];
        for (sort, reversed, header, first) in cases {
            let mut ui = UiState::new(crate::ui::state::UiConfig::default());
            ui.markets.sort = sort;
            ui.markets.ascending = reversed;
            assert_eq!(rows(&ui, &snap)[0], first, "{sort:?} reversed {reversed}");
            let text = draw(&ui, &snap, 120, 8);
            assert!(text.contains(header), "{sort:?} reversed {reversed}: want {header}\n{text}");
        }
    }

    /// Under every colour depth hoga draws for, and on a dark or a light background, a
    /// rising row is tinted red and a falling one blue (Korean colours), weak moves and
    /// strong ones; never a grey, which is what a nearest-colour reduction gave on 256.
    #[test]
    fn the_heatmap_is_red_for_a_rise_and_blue_for_a_fall_at_every_colour_depth() {
        use crate::ui::theme::ColorSupport;
        let reddish = |c: Color| rgb(c).is_some_and(|(r, g, b)| r > g && r > b);
        let bluish = |c: Color| rgb(c).is_some_and(|(r, g, b)| b > r && b > g);
        for support in [ColorSupport::TrueColor, ColorSupport::Palette256] {
            for name in ["dark", "light", "high-contrast"] {
                let theme = Theme::load(name, None, support).expect("theme");
                for pct in [dec!(0.002), dec!(0.02), dec!(0.05), dec!(0.146)] {
                    let up = tint(&theme, pct).expect("a tint");
                    let down = tint(&theme, -pct).expect("a tint");
                    assert!(reddish(up), "{name} {support:?} +{pct}: {up:?} {:?}", rgb(up));
                    assert!(bluish(down), "{name} {support:?} -{pct}: {down:?} {:?}", rgb(down));
                    if support == ColorSupport::Palette256 || name == "high-contrast" {
                        assert!(!matches!(up, Color::Rgb(..)), "{name} {support:?}: {up:?}");
                    }
                    if name == "high-contrast" {
                        // Named colours: a 16-colour terminal shows them.
                        assert_eq!((up, down), (Color::Red, Color::Blue));
                    }
                }
            }
        }
        // The tester's rows under tmux-256color: TRX -14.6 %, SUI +13.9 %.
        let theme = Theme::load("dark", None, ColorSupport::Palette256).expect("theme");
        let (up, down) = (tint(&theme, dec!(0.139)), tint(&theme, dec!(-0.146)));
        assert!(matches!(up, Some(Color::Indexed(16..=231))), "off the grey ramp: {up:?}");
        assert!(matches!(down, Some(Color::Indexed(16..=231))), "off the grey ramp: {down:?}");
        // Stronger moves are stronger tints on the palette too.
        let weak = tint(&theme, dec!(0.002)).and_then(rgb).map(|c| c.0);
        let strong = up.and_then(rgb).map(|c| c.0);
        assert!(strong > weak, "{weak:?} {strong:?}");
        let mono = Theme::load("mono", None, ColorSupport::Palette256).expect("mono");
        assert_eq!(tint(&mono, dec!(0.05)), None);
        let no_colour = Theme::load("dark", None, ColorSupport::NoColor).expect("mono");
        assert_eq!(tint(&no_colour, dec!(-0.05)), None);
    }

    fn rows(ui: &UiState, snap: &Snapshot) -> Vec<String> {
        visible_markets(ui, snap).iter().map(|m| m.market.base().to_string()).collect()
    }

    fn tab_of(changes: &[(&str, Decimal, Decimal)]) -> std::sync::Arc<Snapshot> {
        let list = changes.iter().map(|(c, ..)| info(&format!("KRW-{c}"), false, false)).collect();
        let tickers =
            changes.iter().map(|(c, r, v)| ticker(&format!("KRW-{c}"), dec!(100), *r, *v, 0)).collect();
        crate::store::Store::new().apply_batch(
            [StoreEvent::MarketsLoaded(list), StoreEvent::TickersUpdated(tickers)],
            std::time::Instant::now(),
        )
    }

    /// Favourites lead every tab, in the column's order, then the rest in it; a search
    /// still puts what was typed first.
    #[test]
    fn favourites_come_first_then_the_sort() {
        let snap = tab_of(&[
            ("AAA", dec!(0.01), dec!(500)),
            ("BBB", dec!(0.02), dec!(400)),
            ("CCC", dec!(0.03), dec!(300)),
            ("DDD", dec!(0.04), dec!(200)),
        ]);
        let mut ui = UiState::new(crate::ui::state::UiConfig::default());
        assert_eq!(rows(&ui, &snap), ["AAA", "BBB", "CCC", "DDD"], "by value");
        ui.favorites.insert(MarketId::new("KRW-DDD"));
        ui.favorites.insert(MarketId::new("KRW-BBB"));
        assert_eq!(rows(&ui, &snap), ["BBB", "DDD", "AAA", "CCC"]);
        ui.markets.ascending = true;
        assert_eq!(rows(&ui, &snap), ["DDD", "BBB", "CCC", "AAA"]);
        ui.markets.ascending = false;
        ui.markets.query = "aaa".into();
        assert_eq!(rows(&ui, &snap), ["AAA"]);
        // Marked ★ on screen.
        ui.markets.query.clear();
        let text = draw(&ui, &snap, 40, 8);
        assert!(text.lines().nth(2).unwrap_or_default().starts_with("│★BBB"), "{text}");
    }

    /// A premium board: KRW-AAA +2.31 %, KRW-BBB -0.45 %, KRW-CCC +0.10 % but measured
    /// `stale_ms` ago, and KRW-DDD not listed abroad; a reference rate when `fx`.
    fn premium_tab(wall_ms: i64, stale_ms: i64, fx: bool) -> std::sync::Arc<Snapshot> {
        use crate::store::premium::{Premium, PremiumBoard, RefRate};
        let base = tab_of(&[
            ("AAA", dec!(0.01), dec!(400)),
            ("BBB", dec!(0.02), dec!(300)),
            ("CCC", dec!(0.03), dec!(200)),
            ("DDD", dec!(0.04), dec!(100)),
        ]);
        let row = |usdt: Decimal, at_ms: i64| Premium {
            foreign: dec!(1),
            vs_usdt: Some(usdt),
            vs_ref: fx.then_some(usdt + dec!(0.0074)),
            at_ms,
        };
        let board = PremiumBoard {
            paired: Default::default(),
            rows: [
                (MarketId::new("KRW-AAA"), row(dec!(0.0231), wall_ms)),
                (MarketId::new("KRW-BBB"), row(dec!(-0.00454), wall_ms)),
                (MarketId::new("KRW-CCC"), row(dec!(0.001), wall_ms - stale_ms)),
            ]
            .into(),
            krw_usdt: Some(dec!(1462)),
            usdt_vs_ref: fx.then_some(dec!(0.0072)),
            reference: fx.then(|| RefRate {
                rate: Some(dec!(1451.5)),
                source: "fixed".into(),
                at_ms: Some(wall_ms),
                error: None,
            }),
            venue: "Binance".into(),
        };
        let mut store = crate::store::Store::new();
        store.apply_batch(
            [
                StoreEvent::MarketsLoaded(base.market.markets.iter().cloned().collect()),
                StoreEvent::TickersUpdated(base.market.tickers.values().map(|t| t.value.clone()).collect()),
            ],
            std::time::Instant::now(),
        );
        store.apply_batch([StoreEvent::PremiumUpdated(std::sync::Arc::new(board))], std::time::Instant::now())
    }

    fn row_of(text: &str, code: &str) -> String {
        text.lines().find(|l| l.contains(code)).unwrap_or_default().to_string()
    }

    /// The `kimp` column: signed, two decimals, `—` for a coin not listed abroad and for
    /// a premium gone stale; red above the rate abroad, blue below.
    #[test]
    fn the_kimp_column_shows_each_market_s_premium_or_a_dash() {
        let ui = UiState::new(crate::ui::state::UiConfig::default());
        let snap = premium_tab(ui.wall.timestamp_millis(), 120_000, false);
        let text = draw(&ui, &snap, 80, 8);
        assert!(text.contains("kimp"), "{text}");
        assert!(!text.contains("kimp fx"), "no reference rate, no fx column:\n{text}");
        assert!(row_of(&text, "AAA").contains("+2.31%"), "{text}");
        assert!(row_of(&text, "BBB").contains("-0.45%"), "{text}");
        assert!(
            row_of(&text, "CCC").contains('—') && !row_of(&text, "CCC").contains("+0.10%"),
            "stale: {text}"
        );
        assert!(row_of(&text, "DDD").contains('—'), "{text}");
        // Colours: the theme's rise for a premium, its fall for a discount.
        let theme = Theme::default();
        let area = Rect::new(0, 0, 80, 8);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &ui, &snap, &theme);
        let fg_of = |needle: &str| {
            let y = (0..8)
                .find(|&y| (0..80).map(|x| buf[(x, y)].symbol()).collect::<String>().contains(needle))?;
            let line: String = (0..80).map(|x| buf[(x, y)].symbol()).collect();
            let x = line.chars().take(line.find(needle)?).count() as u16;
            buf[(x, y)].fg.into()
        };
        let fg: Option<Color> = fg_of("+2.31%");
        assert_eq!(fg, theme.rise.fg);
        let fg: Option<Color> = fg_of("-0.45%");
        assert_eq!(fg, theme.fall.fg);
        // With a reference rate, its column too.
        let snap = premium_tab(ui.wall.timestamp_millis(), 120_000, true);
        let text = draw(&ui, &snap, 80, 8);
        assert!(text.contains("kimp fx") && row_of(&text, "AAA").contains("+3.05%"), "{text}");
        // No board (the other venue off): no column at all.
        let text = draw(&ui, &tab_of(&[("AAA", dec!(0.01), dec!(1))]), 80, 8);
        assert!(!text.contains("kimp"), "{text}");
    }

    /// Sorted by premium: largest first, a discount below a premium, `—` last in either
    /// direction; marked like any column.
    #[test]
    fn kimp_sorts_with_dashes_last_both_ways() {
        let mut ui = UiState::new(crate::ui::state::UiConfig::default());
        let snap = premium_tab(ui.wall.timestamp_millis(), 120_000, false);
        ui.markets.sort = SortColumn::Kimp;
        assert_eq!(rows(&ui, &snap), ["AAA", "BBB", "CCC", "DDD"]);
        assert!(draw(&ui, &snap, 80, 8).contains("kimp▼"));
        ui.markets.ascending = true;
        assert_eq!(rows(&ui, &snap), ["BBB", "AAA", "CCC", "DDD"]);
        assert!(draw(&ui, &snap, 80, 8).contains("kimp▲"));
        // The sort key cycles through it, and it is saved and read back by its label.
        assert!(SortColumn::ALL.contains(&SortColumn::Kimp));
        assert_eq!(SortColumn::from_label("kimp"), Some(SortColumn::Kimp));
    }

    /// At the default layout's 38 columns the premium stays and the name gives way.
    #[test]
    fn a_narrow_table_keeps_kimp_before_the_name() {
        let ui = UiState::new(crate::ui::state::UiConfig::default());
        let snap = premium_tab(ui.wall.timestamp_millis(), 120_000, true);
        let text = draw(&ui, &snap, 38, 8);
        assert!(row_of(&text, "AAA").contains("+2.31%"), "{text}");
        assert!(!text.contains("kimp fx"), "{text}");
        for line in text.lines() {
            assert!(line.chars().count() <= 38, "{text}");
        }
    }

    /// A flag is never lost to the premium: where neither its column nor the name fits
    /// beside `kimp`, it shows in its short form (유, 주, 종, N) and the legend says what
    /// it means.
    #[test]
    fn a_flag_keeps_its_place_beside_the_premium_in_a_narrow_table() {
        use crate::store::premium::{Premium, PremiumBoard};
        let ui = UiState::new(crate::ui::state::UiConfig::default());
        let mut store = crate::store::Store::new();
        let wall = ui.wall.timestamp_millis();
        let premium = |p: Decimal| Premium { foreign: dec!(1), vs_usdt: Some(p), vs_ref: None, at_ms: wall };
        let board = PremiumBoard {
            rows: [
                (MarketId::new("KRW-BTC"), premium(dec!(0.0231))),
                (MarketId::new("KRW-DOGE"), premium(dec!(0.0036))),
            ]
            .into(),
            krw_usdt: Some(dec!(1462)),
            venue: "Binance".into(),
            ..PremiumBoard::default()
        };
        let snap = store.apply_batch(
            [
                StoreEvent::MarketsLoaded(vec![info("KRW-BTC", false, false), info("KRW-DOGE", true, false)]),
                StoreEvent::TickersUpdated(vec![
                    ticker("KRW-BTC", dec!(148490000), dec!(0.0012), dec!(1000), wall),
                    ticker("KRW-DOGE", dec!(312), dec!(-0.0158), dec!(500), wall),
                ]),
                StoreEvent::PremiumUpdated(std::sync::Arc::new(board)),
            ],
            std::time::Instant::now(),
        );
        // The default layout's markets pane at 120x40 and 80x24: 38 columns.
        let text = draw(&ui, &snap, 38, 8);
        let doge = row_of(&text, "DOGE");
        assert!(doge.contains("+0.36%"), "{text}");
        assert!(doge.contains("유"), "the warning is lost beside the premium:\n{text}");
        assert!(text.contains("유 warning") || text.contains("유 investment warning"), "{text}");
        // With room, the flag in full.
        let text = draw(&ui, &snap, 60, 8);
        assert!(row_of(&text, "DOGE").contains("유의"), "{text}");
    }

    /// The other venue's view: its USDT prices at their own decimals (XRPUSDT's 2.1234,
    /// not Upbit's USDT grid's 2.123) and each coin's KRW premium beside it.
    #[test]
    fn the_binance_view_shows_usdt_prices_in_full_and_the_coin_s_kimp() {
        use crate::store::premium::{Premium, PremiumBoard};
        let mut ui = UiState::new(crate::ui::state::UiConfig::default());
        ui.venue = VenueId::Binance;
        ui.markets.tab = MarketTab::Usdt;
        let board = PremiumBoard {
            rows: [(
                MarketId::new("KRW-XRP"),
                Premium {
                    foreign: dec!(2.1234),
                    vs_usdt: Some(dec!(0.0187)),
                    vs_ref: None,
                    at_ms: ui.wall.timestamp_millis(),
                },
            )]
            .into(),
            krw_usdt: Some(dec!(1462)),
            venue: "Binance".into(),
            ..PremiumBoard::default()
        };
        let snap = crate::store::Store::new().apply_batch(
            [
                StoreEvent::MarketsLoaded(vec![
                    info("USDT-XRP", false, false),
                    info("USDT-BTC", false, false),
                ]),
                StoreEvent::TickersUpdated(vec![
                    ticker("USDT-XRP", dec!(2.1234), dec!(0.01), dec!(5_000_000), 0),
                    ticker("USDT-BTC", dec!(97123.4), dec!(0.01), dec!(9_000_000), 0),
                ]),
                StoreEvent::PremiumUpdated(std::sync::Arc::new(board)),
            ],
            std::time::Instant::now(),
        );
        let text = draw(&ui, &snap, 80, 8);
        let (xrp, btc) = (row_of(&text, "│ XRP"), row_of(&text, "│ BTC"));
        assert!(xrp.contains("2.1234") && xrp.contains("+1.87%"), "{text}");
        assert!(btc.contains("97,123.40") && btc.contains('—'), "{text}");
        assert!(text.lines().next().unwrap_or_default().contains("Binance"), "{text}");
    }

    /// The movers view: the five biggest rises, biggest first, then the five biggest
    /// falls, biggest first; an unchanged market is neither.
    #[test]
    fn top_movers_are_the_five_biggest_rises_and_falls() {
        let changes: Vec<(String, Decimal)> =
            (-6..=6).map(|i| (format!("M{:02}", i + 6), Decimal::new(i, 2))).collect();
        let spec: Vec<(&str, Decimal, Decimal)> =
            changes.iter().map(|(c, r)| (c.as_str(), *r, dec!(1))).collect();
        let snap = tab_of(&spec);
        let mut ui = UiState::new(crate::ui::state::UiConfig::default());
        ui.markets.movers = true;
        assert_eq!(
            rows(&ui, &snap),
            ["M12", "M11", "M10", "M09", "M08", "M00", "M01", "M02", "M03", "M04"],
            "+6..+2 %, then -6..-2 %"
        );
        let text = draw(&ui, &snap, 40, 16);
        assert!(text.contains("movers") && text.contains("+6.00%") && text.contains("-6.00%"), "{text}");
        assert!(!text.contains("+1.00%") && !text.contains("0.00%"), "{text}");
        // Only risers: no losers listed.
        let snap = tab_of(&[("UP", dec!(0.1), dec!(1)), ("FLAT", dec!(0), dec!(1))]);
        assert_eq!(rows(&ui, &snap), ["UP"]);
    }
}
