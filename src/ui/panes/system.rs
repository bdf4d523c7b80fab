//! System pane: kernel tasks, streams, feed counters and the generic tables (bus lanes,
//! subscriptions per proxy and upstream…) other modules publish through the store.

use std::time::SystemTime;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::pane_block;
use crate::console::{key_expiry, notices};
use crate::exchange::upbit::api_keys::KeyExpiry;
use crate::feed::Health;
use crate::kernel::TaskState;
use crate::store::Snapshot;
use crate::ui::layout::PaneId;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use crate::ui::widgets::format;

/// A table row: each cell padded to its column by the columns it takes on screen (a
/// Hangul syllable or an emoji takes two; `{:<w$}` counts characters and pushed every
/// column after a Korean cell out of line), then a space. Cells come from other modules
/// and the exchange, so they are made [`format::terminal_safe`] first.
fn row_line<'a>(cells: &[String], widths: &[usize], style: ratatui::style::Style) -> Line<'a> {
    use unicode_width::UnicodeWidthStr;
    let mut text = String::new();
    for (i, c) in cells.iter().enumerate() {
        let w = widths.get(i).copied().unwrap_or(8);
        let c = format::terminal_safe(c);
        text.push_str(&c);
        text.push_str(&" ".repeat(w.saturating_sub(c.width()) + 1));
    }
    Line::styled(text, style)
}

/// The title of the venues' table (`StoreEvent::SystemStats`): one row per venue.
pub(crate) const VENUES: &str = "Venues";

/// A table in `width` columns: header and rows lined up when they fit; else each row on
/// lines of its own, `header value` parts joined by ` · ` and wrapped between parts, so
/// a narrow pane (80 columns) shows every cell whole, never a cut number.
fn table_lines<'a>(table: &crate::store::system::SystemTable, width: usize, theme: &Theme) -> Vec<Line<'a>> {
    use unicode_width::UnicodeWidthStr;
    let n = table.header.len().max(table.rows.iter().map(Vec::len).max().unwrap_or(0));
    let cell_w = |s: &str| format::terminal_safe(s).width();
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            let h = table.header.get(i).map_or(0, |s| cell_w(s));
            table.rows.iter().filter_map(|r| r.get(i)).map(|s| cell_w(s)).fold(h, usize::max)
        })
        .collect();
    let total = widths.iter().map(|w| w + 1).sum::<usize>().saturating_sub(1);
    if total <= width {
        let mut out = vec![row_line(&table.header, &widths, theme.muted)];
        out.extend(table.rows.iter().map(|r| row_line(r, &widths, theme.text)));
        return out;
    }
    let mut out = Vec::new();
    for r in &table.rows {
        // The first cell names the row (the venue); the rest are `header value`.
        let mut parts = r.iter().enumerate().skip(1).map(|(i, c)| match table.header.get(i) {
            Some(h) if !h.is_empty() => format!("{h} {}", format::terminal_safe(c)),
            _ => format::terminal_safe(c).to_string(),
        });
        let mut line = r.first().map(|c| format::terminal_safe(c).to_string()).unwrap_or_default();
        for p in parts.by_ref() {
            let sep = if line.trim().is_empty() { "" } else { " · " };
            if line.width() + sep.width() + p.width() > width && !line.trim().is_empty() {
                out.push(Line::styled(std::mem::take(&mut line), theme.text));
                line = format!("  {p}");
            } else {
                line.push_str(sep);
                line.push_str(&p);
            }
        }
        out.push(Line::styled(line, theme.text));
    }
    out
}

/// Envelopes listed (the newest).
const ENVELOPES_SHOWN: usize = 16;

/// Draws the system pane.
/// `  USD/KRW 1,452.31 (simulator, read 12s ago)`, with `· last read failed: …` in the
/// warning colour when the newest read failed; `None` without a reference rate.
fn reference_line(ui: &UiState, snap: &Snapshot, theme: &Theme) -> Option<Line<'static>> {
    let r = snap.market.premium.reference.as_ref()?;
    let rate = r.rate.map_or_else(|| "not read yet".to_string(), crate::exchange::display::price);
    let age = r.at_ms.map(|at| {
        let ms = ui.wall.timestamp_millis().saturating_sub(at).max(0);
        format!(", read {} ago", crate::ui::widgets::format::age(std::time::Duration::from_millis(ms as u64)))
    });
    let mut spans = vec![
        Span::styled("  USD/KRW ", theme.muted),
        Span::styled(rate, theme.text),
        Span::styled(format!(" ({}{})", r.source, age.unwrap_or_default()), theme.muted),
    ];
    if let Some(e) = &r.error {
        spans.push(Span::styled(format!(" · last read failed: {e}"), theme.warning));
    }
    Some(Line::from(spans))
}

pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let sys = &snap.system;
    let mut lines: Vec<Line> = Vec::new();
    // Faults first: a task that panicked or failed is what this pane is opened for.
    for t in sys.tasks_faulted() {
        let what = match t.state {
            TaskState::Failed => "failed for good".to_string(),
            TaskState::Restarting => format!("restarting (restarts {})", t.restarts),
            _ => format!("restarted {} time{}", t.restarts, if t.restarts == 1 { "" } else { "s" }),
        };
        lines.push(Line::from(vec![
            Span::styled("fault ", theme.error),
            Span::styled(format!("{}/{} {what}", t.component, t.name), theme.warning),
            Span::styled(format!("  {}", t.last_error.as_deref().unwrap_or("")), theme.text),
        ]));
    }
    // The API key's expiry: the days are counted from this frame's clock, so the line is
    // right on any day the console stays open.
    if let Some(expiry) =
        sys.tables.get(key_expiry::TABLE).and_then(|t| t.rows.first()).and_then(|r| key_expiry::from_row(r))
    {
        let now = ui.wall;
        let style = match &expiry {
            KeyExpiry::Expires { at } if key_expiry::days_left(*at, now) > key_expiry::ALERT_DAYS[0] => {
                theme.text
            }
            KeyExpiry::Expires { at } if *at > now => theme.warning,
            KeyExpiry::Unknown { .. } => theme.muted,
            _ => theme.error,
        };
        lines.push(Line::styled(key_expiry::describe(&expiry, now), style));
    }
    // Whether the exchange's notices can come at all (they need the private stream).
    if let Some(line) = sys.tables.get(notices::TABLE).and_then(|t| t.rows.first()).and_then(|r| r.first()) {
        lines.push(Line::styled(
            line.clone(),
            if line == notices::NO_KEYS { theme.warning } else { theme.muted },
        ));
    }
    let f = &sys.feed;
    let health = match f.health {
        Health::Healthy => Span::styled("healthy", theme.ok),
        Health::Degraded => Span::styled("degraded", theme.warning),
        Health::Critical => Span::styled("critical", theme.error),
    };
    let connected = f.public_connected();
    lines.push(Line::from(vec![
        Span::styled("feed ", theme.header),
        health,
        Span::styled(
            if connected { "  connected" } else { "  disconnected" },
            if connected { theme.text } else { theme.error },
        ),
        Span::styled(
            format!(
                "  {} msg/s  latency p50 {} p99 {}  drops {}  reconnects {}  epoch {}",
                f.msgs_per_sec(),
                format::micros(f.exchange_latency.p50_us),
                format::micros(f.exchange_latency.p99_us),
                f.drops(),
                f.reconnects(),
                f.public_epoch()
            ),
            theme.text,
        ),
    ]));
    // Why it is not healthy: the verdict alone does not say what to look at.
    for why in &f.reasons {
        lines.push(Line::styled(format!("  {why}"), theme.warning));
    }
    // Each venue's connection, health and limits, near the top: with two venues, which
    // one is down is the first thing to know.
    if let Some(table) = sys.tables.get(VENUES) {
        lines.push(Line::styled(VENUES, theme.header));
        lines.extend(table_lines(table, usize::from(area.width.saturating_sub(2)), theme));
    }
    // The USD/KRW rate `kimp fx` is measured against: its value, where it comes from, how
    // old it is, and why the last read failed (the premium keeps the last good rate).
    if let Some(line) = reference_line(ui, snap, theme) {
        lines.push(line);
    }
    lines.extend(super::limits::line(&f.rest, theme));
    let upstream = f.upstream();
    lines.push(Line::from(vec![
        Span::styled(format!("  upstream ({}) ", upstream.len()), theme.muted),
        Span::styled(upstream.join(" "), theme.text),
    ]));
    for (proxy, subs) in f.by_proxy() {
        let drops: u64 = subs.iter().map(|s| s.drops).sum();
        let what: Vec<String> =
            subs.iter().map(|s| format!("{} {} ({})", s.stream, s.markets.join(","), s.strategy)).collect();
        lines.push(Line::from(vec![
            Span::styled(format!("  proxy {proxy:<10} drops {drops:<5} "), theme.muted),
            Span::styled(what.join(" "), theme.text),
        ]));
    }
    for s in sys.streams.iter() {
        lines.push(Line::styled(format!("  stream {:<10} {}", s.name, s.state.label()), theme.text));
    }
    // The bus before the task table: which lanes carry traffic, and the last envelopes
    // by chain, are what one follows a command with.
    if let Some(bus) = &sys.bus {
        lines.push(Line::styled("bus lanes", theme.header));
        let widths = [9, 6, 6, 9, 9, 7, 7, 7, 5];
        lines.push(row_line(
            &["lane", "depth", "cap", "published", "delivered", "dropped", "slow", "retried", "dead"]
                .map(String::from),
            &widths,
            theme.muted,
        ));
        for l in &bus.lanes {
            let cells = [
                l.lane.label().to_string(),
                l.depth.to_string(),
                l.capacity.to_string(),
                l.published.to_string(),
                l.delivered.to_string(),
                l.dropped.to_string(),
                l.slow.to_string(),
                l.retried.to_string(),
                l.dead_lettered.to_string(),
            ];
            let style = if l.dead_lettered > 0 || l.dropped > 0 { theme.warning } else { theme.text };
            lines.push(row_line(&cells, &widths, style));
        }
    }
    if !sys.envelopes.is_empty() {
        // The last envelopes, newest last: one `:buy` can be followed by its chain id
        // from the UI through the Trading lane to its fill.
        lines.push(Line::styled(
            "bus envelopes, newest first (chain #id: a request, its reply and its order's facts)",
            theme.header,
        ));
        let widths = [7, 8, 6, 6, 14, 40];
        lines.push(row_line(
            &["seq", "lane", "chain", "cause", "from", "what"].map(String::from),
            &widths,
            theme.muted,
        ));
        // Newest first: the pane may be short, and the newest is what one follows.
        for e in sys.envelopes.iter().rev().take(ENVELOPES_SHOWN) {
            let cells = [
                e.seq.to_string(),
                e.lane.label().to_string(),
                e.correlation.to_string(),
                e.caused_by.map_or_else(|| "-".to_string(), |c| c.to_string()),
                e.source.to_string(),
                e.what.clone(),
            ];
            let style = if e.lane == crate::bus::Lane::Safety { theme.warning } else { theme.text };
            lines.push(row_line(&cells, &widths, style));
        }
    }
    lines.push(Line::styled("tasks", theme.header));
    let widths = [4, 8, 24, 10, 6, 3];
    lines.push(row_line(
        &["id", "comp", "name", "state", "age", "rs"].map(String::from),
        &widths,
        theme.muted,
    ));
    let wall: SystemTime = ui.wall.into();
    for t in sys.tasks.iter() {
        let age = wall.duration_since(t.started_at).unwrap_or_default();
        let style = match t.state {
            TaskState::Running => theme.text,
            TaskState::Restarting => theme.warning,
            TaskState::Failed | TaskState::Aborted => theme.error,
            TaskState::Finished => theme.muted,
        };
        let mut cells = vec![
            t.id.to_string(),
            t.component.to_string(),
            t.name.clone(),
            t.state.label().to_string(),
            format::age(age),
            t.restarts.to_string(),
        ];
        if let Some(e) = &t.last_error {
            cells.push(e.clone());
        }
        lines.push(row_line(&cells, &widths, style));
    }
    for (title, table) in sys.tables.iter().filter(|(t, _)| {
        t.as_str() != key_expiry::TABLE && t.as_str() != notices::TABLE && t.as_str() != VENUES
    }) {
        lines.push(Line::styled(title.clone(), theme.header));
        let n = table.header.len().max(table.rows.iter().map(Vec::len).max().unwrap_or(0));
        let widths: Vec<usize> = (0..n)
            .map(|i| {
                let h = table.header.get(i).map(|s| s.chars().count()).unwrap_or(0);
                let r =
                    table.rows.iter().filter_map(|r| r.get(i)).map(|s| s.chars().count()).max().unwrap_or(0);
                h.max(r).min(30)
            })
            .collect();
        lines.push(row_line(&table.header, &widths, theme.muted));
        for r in &table.rows {
            lines.push(row_line(r, &widths, theme.text));
        }
    }
    let skip = ui.scroll.get(&PaneId::System).copied().unwrap_or(0).min(lines.len().saturating_sub(1));
    let block = pane_block(PaneId::System, vec![], ui, theme);
    Paragraph::new(lines.into_iter().skip(skip).collect::<Vec<_>>()).block(block).render(area, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(l: &Line) -> String {
        l.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    fn draw(snap: &Snapshot, w: u16, h: u16) -> Vec<String> {
        let ui = UiState::new(crate::ui::state::UiConfig::default());
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &ui, snap, &Theme::default());
        (0..h).map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>()).collect()
    }

    /// Each venue's row is near the top, before the bus and the tasks; in 80 columns a
    /// row too wide for a table is laid out as `header value` parts, every cell whole.
    #[test]
    fn the_venues_table_is_near_the_top_and_whole_at_80_columns() {
        use crate::store::{Store, StoreEvent};
        let header = ["venue", "connection", "streams", "msg/s", "reconnects", "REST", "last data"];
        let rows = [
            ["Upbit", "connected", "4", "1,203", "0", "ok 10/s", "0.2s"],
            ["Binance", "reconnecting in 4s", "3", "0", "2", "weight 412/6000 per min", "12s"],
        ];
        let snap = Store::new().apply_batch(
            [
                StoreEvent::SystemStats {
                    title: "bus subscribers".into(),
                    header: vec!["a".into()],
                    rows: vec![vec!["1".into()]],
                },
                StoreEvent::SystemStats {
                    title: VENUES.into(),
                    header: header.map(String::from).to_vec(),
                    rows: rows.iter().map(|r| r.map(String::from).to_vec()).collect(),
                },
            ],
            std::time::Instant::now(),
        );
        let wide = draw(&snap, 120, 30);
        let at = |lines: &[String], needle: &str| lines.iter().position(|l| l.contains(needle));
        let venues = at(&wide, "│Venues").expect("the table's title");
        assert!(venues < at(&wide, "│tasks").unwrap_or(usize::MAX), "{wide:#?}");
        assert!(venues < at(&wide, "bus subscribers").unwrap_or(usize::MAX), "{wide:#?}");
        assert!(wide[venues + 1].contains("venue") && wide[venues + 3].contains("weight 412/6000 per min"));
        let narrow = draw(&snap, 80, 30);
        let text = narrow.join("\n");
        for cell in rows.iter().flatten() {
            assert!(text.contains(cell), "{cell:?} whole:\n{text}");
        }
        assert!(text.contains("REST weight 412/6000 per min"), "{text}");
        assert!(at(&narrow, "Venues") < at(&narrow, "│tasks"), "{text}");
    }

    #[test]
    fn table_cells_are_padded_by_screen_columns_and_made_terminal_safe() {
        use unicode_width::UnicodeWidthStr;
        let style = ratatui::style::Style::default();
        let row = row_line(&["원화".into(), "x".into()], &[6, 3], style);
        // `원화` takes 4 columns: 2 of padding and the separator put `x` at column 7.
        assert_eq!(text(&row), "원화   x   ");
        let row = row_line(&["🇰🇷 notice".into(), "y".into()], &[12, 1], style);
        assert_eq!(text(&row), "[KR] notice  y ");
        assert_eq!(text(&row).width(), 15);
    }

    /// The USD/KRW rate `kimp fx` is measured against is on the System pane: its value,
    /// source and age, and why its newest read failed.
    #[test]
    fn the_reference_rate_its_source_and_a_failed_read_are_shown() {
        use crate::store::premium::{PremiumBoard, RefRate};
        use crate::store::{Store, StoreEvent};
        let ui = UiState::new(crate::ui::state::UiConfig::default());
        let board = |error: Option<&str>| PremiumBoard {
            reference: Some(RefRate {
                rate: Some(rust_decimal_macros::dec!(1451.5)),
                source: "example.com".into(),
                at_ms: Some(ui.wall.timestamp_millis() - 125_000),
                error: error.map(String::from),
            }),
            ..PremiumBoard::default()
        };
        let text = |b: PremiumBoard| {
            let snap = Store::new()
                .apply_batch([StoreEvent::PremiumUpdated(std::sync::Arc::new(b))], std::time::Instant::now());
            draw(&snap, 120, 30).join("\n")
        };
        let ok = text(board(None));
        assert!(ok.contains("USD/KRW 1,451.5 (example.com, read 2m ago)"), "{ok}");
        assert!(!ok.contains("failed"), "{ok}");
        let failing = text(board(Some("example.com: HTTP 503")));
        assert!(failing.contains("last read failed: example.com: HTTP 503"), "{failing}");
        // No reference rate: no line.
        assert!(!text(PremiumBoard::default()).contains("USD/KRW"));
    }
}
