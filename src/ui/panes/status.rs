//! Status bar: mode badge, the venue on view when it is not Upbit (read-only), exchange,
//! the selected market's price and kimchi premium, the USDT premium, streams, feed rate
//! and latency, a REST ban's countdown, trading state, tasks that are down, armed rules,
//! alerts and the KST clock.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::exchange::VenueId;
use crate::feed::Health;
use crate::store::{Mode, Snapshot, StreamState, TradingState};
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use crate::ui::widgets::{format, premium};
use rust_decimal::Decimal;

/// Optional parts of the status bar, most important first: as the width shrinks they are
/// left out from the end of this list, whole. The mode, the trading state, a REST ban, a
/// task that is down, a held config change, the streams' states and the alert text are
/// not in it: they always get room. The selected market's price is placed first of all
/// (the alert text shrinks for it), then the rest in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Optional {
    /// `P&L +235,625 (+1.65%)`: open P&L.
    Pnl,
    /// `kimp +2.31% fx +3.05%`: the selected market's premium.
    Kimp,
    /// `USDT +0.72%`: the USDT premium against the reference rate (or `KRW-USDT`'s price).
    Usdt,
    /// ` today +49,175`: today's realized (only beside the open P&L).
    Today,
    /// The selected market's price and change.
    Ticker,
    /// ` rules 2`.
    Rules,
    /// The KST clock at the right edge.
    Clock,
    /// `1200 msg/s p99 3.1ms`.
    Feed,
    /// The exchange's name.
    Exchange,
}

/// Room the alert text keeps before any optional part is shown: enough to read what
/// happened (`⚠ 1 PANIC ui/console: failpoint task.ui.console`); a longer text gets what
/// is left of the line and is cut at its end.
const ALERT_ROOM: usize = 48;

/// The least room the alert keeps beside the P&L: the P&L outranks everything optional,
/// so it may take the alert's room down to this (`⚠ 1 PANIC ui/console: fail…`).
const ALERT_ROOM_BESIDE_PNL: usize = 20;

/// The least room the alert keeps beside the selected market's price, which outranks it
/// (`⚠ 1 PANIC…`): the count and the start of what happened.
const ALERT_ROOM_MIN: usize = 10;

/// One piece of the line: always shown (`None`) or optional.
struct Piece {
    part: Option<Optional>,
    spans: Vec<Span<'static>>,
}

impl Piece {
    fn width(&self) -> usize {
        self.spans.iter().map(Span::width).sum()
    }
}

/// Draws the status bar.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let acc = &snap.account;
    let sys = &snap.system;
    let mode_style = match acc.mode {
        Mode::Demo => theme.mode_demo,
        Mode::Paper => theme.mode_paper,
        Mode::Live => theme.mode_live,
    };
    let sep = || Span::styled(" │ ", theme.muted);
    let must = |spans: Vec<Span<'static>>| Piece { part: None, spans };
    let optional = |part: Optional, spans: Vec<Span<'static>>| Piece { part: Some(part), spans };
    // In the order they are shown, left to right.
    let mut pieces =
        vec![must(vec![Span::styled(format!(" {} ", acc.mode.label()), mode_style), Span::raw(" ")])];
    // The market panes show another venue: said as plainly as the mode, since no order
    // goes there.
    // Where the line is too narrow for the selected market beside it, the tag drops its
    // `· read-only` (its colours still say it) before the market would go.
    let venue_tag = (ui.venue != VenueId::Upbit).then(|| {
        let style = theme.warning.add_modifier(Modifier::REVERSED | Modifier::BOLD);
        let name = ui.venue.name().to_uppercase();
        let full = vec![Span::styled(format!(" {name} · read-only "), style), Span::raw(" ")];
        let short = vec![Span::styled(format!(" {name} "), style), Span::raw(" ")];
        (pieces.len(), short, full)
    });
    if let Some((_, _, full)) = &venue_tag {
        pieces.push(must(full.clone()));
    }
    let exchange = if acc.exchange.is_empty() { "upbit" } else { acc.exchange.as_str() };
    // The account's exchange, unless the venue tag says the panes show another one.
    if ui.venue == VenueId::Upbit {
        pieces.push(optional(
            Optional::Exchange,
            vec![Span::styled(exchange.to_string(), theme.header), sep()],
        ));
    }
    let mut kimp_short: Option<(usize, Vec<Span<'static>>)> = None;
    if let Some(m) = &ui.market {
        let mut spans = vec![Span::styled(format!("{m} "), theme.header)];
        match snap.market.tickers.get(m) {
            Some(t) => {
                let stale = t.age(ui.now) >= ui.config.stale_after;
                let rate = t.value.signed_change_rate;
                let style = if stale { theme.stale } else { theme.change(rate.cmp(&Decimal::ZERO)) };
                spans.push(Span::styled(
                    format!(
                        "{} {}",
                        premium::venue_price(ui.venue, m.quote(), t.value.trade_price),
                        format::pct(rate)
                    ),
                    style,
                ));
                if stale {
                    spans.push(Span::styled(format!(" ({} old)", format::age(t.age(ui.now))), theme.stale));
                }
            }
            None => spans.push(Span::styled("no price yet", theme.muted)),
        }
        spans.push(sep());
        pieces.push(optional(Optional::Ticker, spans));
        // Its premium, red above the rate abroad and blue below, `—` when stale.
        if let Some(p) = premium::row(ui, snap, m) {
            let fresh = premium::fresh(p, ui);
            let signed = |v: Option<Decimal>| match v.filter(|_| fresh) {
                Some(v) => Span::styled(format::pct(v), theme.change(v.cmp(&Decimal::ZERO))),
                None => Span::styled(premium::NONE, theme.muted),
            };
            let mut spans = vec![Span::styled("kimp ", theme.muted), signed(p.vs_usdt)];
            // Where the line is short, `kimp` alone (or `fx` alone without it).
            let short_value = if p.vs_usdt.is_some() || !premium::has_reference(snap) {
                vec![Span::styled("kimp ", theme.muted), signed(p.vs_usdt)]
            } else {
                let mut fx = vec![Span::styled("kimp fx ", theme.muted), signed(p.vs_ref)];
                if rate_failing(snap) {
                    fx.push(Span::styled(" (old rate)", theme.warning));
                }
                fx
            };
            kimp_short = Some((pieces.len(), [short_value, vec![sep()]].concat()));
            if premium::has_reference(snap) {
                spans.push(Span::styled(" fx ", theme.muted));
                spans.push(signed(p.vs_ref));
                // Measured against the last good rate while reading a new one fails: said
                // here, with the reason in the System pane.
                if rate_failing(snap) {
                    spans.push(Span::styled(" (old rate)", theme.warning));
                }
            }
            spans.push(sep());
            pieces.push(optional(Optional::Kimp, spans));
        }
    }
    // The USDT premium itself (테더 프리미엄) against the reference rate; without a
    // reference, the `KRW-USDT` price every `kimp` is measured against.
    let board = &snap.market.premium;
    let usdt = match (board.usdt_vs_ref, board.krw_usdt) {
        (Some(r), _) => Some(Span::styled(format::pct(r), theme.change(r.cmp(&Decimal::ZERO)))),
        (None, Some(p)) => Some(Span::styled(format::market_price("KRW", p), theme.text)),
        (None, None) => None,
    };
    if let Some(value) = usdt {
        let mut spans = vec![Span::styled("USDT ", theme.muted), value];
        if board.usdt_vs_ref.is_some() && rate_failing(snap) {
            spans.push(Span::styled(" (old rate)", theme.warning));
        }
        spans.push(sep());
        pieces.push(optional(Optional::Usdt, spans));
    }
    let ts = match acc.trading_state {
        TradingState::Active => theme.ok,
        TradingState::Reducing => theme.warning,
        TradingState::Halted => theme.error,
    };
    pieces.push(must(vec![Span::styled(acc.trading_state.label(), ts)]));
    // A 418 ban halts every REST call of the process (an IP ban) or every exchange call of
    // the key's pocket (orders, cancels, balances): as loud as the trading state, with the
    // time left, and which of the two it is.
    if let Some(left) = sys.feed.rest_blocked_secs() {
        let what = if sys.feed.rest_ban_is_pocket_only() { "POCKET BANNED" } else { "REST BANNED" };
        pieces.push(must(vec![Span::styled(format!(" {what} {}", countdown(left)), theme.error)]));
    }
    // A task that is down (restarting or failed) is as loud as the trading state.
    let down: Vec<String> = sys.tasks_down().map(|t| format!("{}/{}", t.component, t.name)).collect();
    if let Some(first) = down.first() {
        let more = if down.len() > 1 { format!(" +{}", down.len() - 1) } else { String::new() };
        pieces.push(must(vec![Span::styled(format!(" TASK DOWN {first}{more}"), theme.error)]));
    }
    pieces.push(optional(
        Optional::Rules,
        vec![Span::styled(format!(" rules {}", acc.armed_rules()), theme.text)],
    ));
    // A config change the gate holds while orders are in flight: say what waits and why.
    if let Some(waiting) = &acc.config_waiting {
        pieces.push(must(vec![Span::styled(format!(" held: {waiting}"), theme.warning)]));
    }
    // The account's P&L, as the Portfolio pane computes it: open P&L with its
    // percentage, then today's realized.
    let pnl = super::portfolio::summary(ui, snap);
    let mut pnl_pct: Option<Span<'static>> = None;
    if pnl.open.is_some() || !pnl.today.is_zero() {
        let sign = |v: Decimal| theme.change(v.cmp(&Decimal::ZERO));
        let mut spans = vec![sep(), Span::styled("P&L ", theme.muted)];
        match pnl.open {
            Some(o) => {
                spans.push(Span::styled(format::signed_amount(o, "KRW"), sign(o)));
                // The percentage goes before the figure where room is short.
                if let Some(r) = pnl.ratio {
                    pnl_pct = Some(Span::styled(format!(" ({})", format::pct(r)), sign(o)));
                }
            }
            None => spans.push(Span::styled("—", theme.muted)),
        }
        pieces.push(optional(Optional::Pnl, spans));
        if !pnl.today.is_zero() {
            pieces.push(optional(
                Optional::Today,
                vec![
                    Span::styled(" today ", theme.muted),
                    Span::styled(format::signed_amount(pnl.today, "KRW"), sign(pnl.today)),
                ],
            ));
        }
    }
    let mut streams = vec![sep()];
    if sys.streams.is_empty() {
        // No per-stream status yet: fall back to the feed health report.
        if sys.feed.public_connected() {
            streams.push(Span::styled("feed:up", theme.ok));
        } else {
            streams.push(Span::styled("feed idle", theme.muted));
        }
    }
    for (i, s) in sys.streams.iter().enumerate() {
        if i > 0 {
            streams.push(Span::raw(" "));
        }
        let style = match s.state {
            StreamState::Connected => theme.ok,
            StreamState::Connecting | StreamState::Idle => theme.muted,
            StreamState::Reconnecting => theme.warning,
            StreamState::Down => theme.error,
        };
        let mut text = format!("{}:{}", s.name, s.state.label());
        if let (StreamState::Reconnecting, Some(wait)) = (s.state, s.retry_in) {
            let left = wait.saturating_sub(ui.now.saturating_duration_since(s.since));
            text.push_str(&format!(" {}s", left.as_secs()));
        }
        streams.push(Span::styled(text, style));
    }
    pieces.push(must(streams));
    let feed = &sys.feed;
    let health_style = match feed.health {
        Health::Healthy => theme.text,
        Health::Degraded => theme.warning,
        Health::Critical => theme.error,
    };
    pieces.push(optional(
        Optional::Feed,
        vec![
            sep(),
            Span::styled(
                format!("{} msg/s p99 {}", feed.msgs_per_sec(), format::micros(feed.exchange_latency.p99_us)),
                health_style,
            ),
        ],
    ));
    let unread = sys.unread_alerts();
    let alert = (unread > 0).then(|| {
        let latest = sys.alerts.front().map(|a| a.message.as_str()).unwrap_or("");
        format!("⚠ {unread} {latest}")
    });
    let clock = format!(" {} KST ", format::clock_kst(ui.wall));

    // What is always shown, with the alert's room, then the optional parts by rank while
    // they fit. The open P&L comes first, with its percentage where that fits, and may
    // take the alert's room down to ALERT_ROOM_BESIDE_PNL; the rest keep ALERT_ROOM.
    let width = area.width as usize;
    let alert_room = |keep: usize| {
        alert.as_deref().map_or(0, |a| sep().width() + Span::raw(a.to_string()).width().min(keep))
    };
    let mut used = pieces.iter().filter(|p| p.part.is_none()).map(Piece::width).sum::<usize>();
    let mut shown: Vec<Optional> = Vec::new();
    let mut ranked: Vec<(Optional, usize)> =
        pieces.iter().filter_map(|p| p.part.map(|o| (o, p.width()))).collect();
    ranked.push((Optional::Clock, clock.chars().count()));
    ranked.sort();
    // The selected market and its price come before everything optional and before the
    // alert's room: a notice gives way to them (down to ALERT_ROOM_MIN, cut with `…`).
    if let Some(i) = ranked.iter().position(|(p, _)| *p == Optional::Ticker) {
        let (_, w) = ranked.remove(i);
        if used + w + alert_room(ALERT_ROOM_MIN) > width
            && let Some((at, short, _)) = &venue_tag
        {
            let before = pieces[*at].width();
            pieces[*at].spans = short.clone();
            used = used + pieces[*at].width() - before;
        }
        if used + w + alert_room(ALERT_ROOM_MIN) <= width {
            used += w;
            shown.push(Optional::Ticker);
        }
    }
    // Its premium next, the number checked before almost every trade: before the P&L, and
    // a notice gives way to it down to the room it keeps beside the P&L.
    if let Some(i) = ranked.iter().position(|(p, _)| *p == Optional::Kimp) {
        let (_, w) = ranked.remove(i);
        if used + w + alert_room(ALERT_ROOM_BESIDE_PNL) <= width {
            used += w;
            shown.push(Optional::Kimp);
        } else if let Some((at, short)) = kimp_short {
            let w = short.iter().map(Span::width).sum::<usize>();
            if used + w + alert_room(ALERT_ROOM_BESIDE_PNL) <= width {
                pieces[at].spans = short;
                used += w;
                shown.push(Optional::Kimp);
            }
        }
    }
    let pct_w = pnl_pct.as_ref().map_or(0, Span::width);
    let mut with_pct = false;
    if let Some(&(Optional::Pnl, w)) = ranked.first() {
        // Full at the alert's whole room, else the figure alone, else the same beside
        // a shorter alert.
        let tries = [
            (w + pct_w, ALERT_ROOM),
            (w, ALERT_ROOM),
            (w + pct_w, ALERT_ROOM_BESIDE_PNL),
            (w, ALERT_ROOM_BESIDE_PNL),
        ];
        if let Some(&(w, _)) = tries.iter().find(|(w, keep)| used + w + alert_room(*keep) <= width) {
            used += w;
            with_pct = pct_w > 0 && w > ranked[0].1;
            shown.push(Optional::Pnl);
        }
    }
    used += alert_room(ALERT_ROOM);
    for (part, w) in ranked {
        if part == Optional::Pnl || (part == Optional::Today && !shown.contains(&Optional::Pnl)) {
            continue;
        }
        if used + w <= width {
            used += w;
            shown.push(part);
        }
    }
    let show_clock = shown.contains(&Optional::Clock);
    let line_width = width.saturating_sub(if show_clock { clock.chars().count() } else { 0 });
    let mut spans: Vec<Span> = Vec::new();
    for p in pieces {
        if p.part.is_none_or(|o| shown.contains(&o)) {
            spans.extend(p.spans);
            if p.part == Some(Optional::Pnl)
                && with_pct
                && let Some(pct) = pnl_pct.take()
            {
                spans.push(pct);
            }
        }
    }
    // The alert text gets the rest of the line, cut at its end only.
    if let Some(text) = alert {
        let before = spans.iter().map(Span::width).sum::<usize>() + sep().width();
        let room = line_width.saturating_sub(before);
        if room > 0 {
            spans.push(sep());
            spans.push(Span::styled(cut_end(&text, room), theme.warning));
        }
    }
    let line_area = Rect { width: line_width as u16, ..area };
    Paragraph::new(Line::from(spans)).render(line_area, buf);
    if show_clock {
        Paragraph::new(Span::styled(clock, theme.muted)).alignment(Alignment::Right).render(area, buf);
    }
}

/// `text` in `room` cells: whole when it fits, else its start and `…`.
fn cut_end(text: &str, room: usize) -> String {
    let cells = |s: &str| Span::raw(s.to_string()).width();
    if cells(text) <= room {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    let mut one = [0u8; 4];
    for c in text.chars() {
        let w = cells(c.encode_utf8(&mut one));
        if used + w + 1 > room {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// Seconds left as a countdown that visibly ticks: `42s`, `4m05s`, `23h59m`.
fn countdown(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// True when the reference rate's newest read failed (the premium uses the last good one).
fn rate_failing(snap: &Snapshot) -> bool {
    snap.market.premium.reference.as_ref().is_some_and(|r| r.error.is_some() && r.rate.is_some())
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use chrono::{TimeZone, Utc};
    use rust_decimal_macros::dec;

    use super::*;
    use crate::exchange::types::{Balance, MarketId, Ticker};
    use crate::store::{Store, StoreEvent};
    use crate::ui::UiConfig;

    /// The status bar of a trader holding BTC at a gain, with today's realized P&L, one
    /// armed rule's worth of state, both streams up and an unread alert longer than any
    /// line, at `width` columns.
    fn status_at(width: u16, alert: bool) -> String {
        status_on(width, alert, crate::exchange::VenueId::Upbit)
    }

    /// [`status_at`] with the market panes showing `venue` (its BTC market selected).
    fn status_on(width: u16, alert: bool, venue: crate::exchange::VenueId) -> String {
        let now = Instant::now();
        let wall = Utc.with_ymd_and_hms(2026, 11, 23, 3, 4, 5).unwrap();
        let btc = match venue {
            crate::exchange::VenueId::Upbit => MarketId::new("KRW-BTC"),
            crate::exchange::VenueId::Binance => MarketId::new("USDT-BTC"),
        };
        let balance = |currency: &str, balance, avg| Balance {
            currency: currency.into(),
            balance,
            avg_buy_price: avg,
            unit_currency: "KRW".into(),
            ..Balance::default()
        };
        let mut events = vec![
            StoreEvent::ModeSet { mode: Mode::Demo, exchange: "upbit".into() },
            StoreEvent::TickerUpdated(Ticker {
                market: Some(btc.clone()),
                trade_price: if btc.quote() == "KRW" { dec!(145_000_000) } else { dec!(97_123.4) },
                ..Ticker::default()
            }),
            StoreEvent::BalancesUpdated(vec![
                balance("KRW", dec!(1_000_000), Decimal::ZERO),
                balance("BTC", dec!(0.1), dec!(140_000_000)),
            ]),
            StoreEvent::Realized { pnl: dec!(49_175), at: wall },
            StoreEvent::FeedStatus { stream: "public".into(), state: StreamState::Connected, retry_in: None },
            StoreEvent::FeedStatus {
                stream: "private".into(),
                state: StreamState::Connected,
                retry_in: None,
            },
        ];
        if alert {
            events.push(StoreEvent::Alert {
                time: wall,
                message: "PANIC ui/console: failpoint task.ui.console; restarted in 1s, then the rest of a \
                          long story that no status bar can hold"
                    .into(),
            });
        }
        line_of(width, venue, btc, events, (now, wall))
    }

    /// The status bar at `width` columns over a store that took `events`, with `market`
    /// selected on `venue`, at the clocks `(now, wall)`.
    fn line_of(
        width: u16,
        venue: crate::exchange::VenueId,
        market: MarketId,
        events: Vec<StoreEvent>,
        (now, wall): (Instant, chrono::DateTime<Utc>),
    ) -> String {
        let snap = Store::new().apply_batch(events, now);
        let mut ui = UiState::new(UiConfig::default());
        ui.now = now;
        ui.wall = wall;
        ui.venue = venue;
        ui.market = Some(market);
        let area = Rect::new(0, 0, width, 1);
        let mut buf = Buffer::empty(area);
        render(area, &mut buf, &ui, &snap, &Theme::default());
        (0..width).map(|x| buf[(x, 0)].symbol().to_string()).collect::<String>().trim_end().to_string()
    }

    /// What the trader must know is on the line at every width: the mode, the trading
    /// state, both streams and the alert's text from its start (cut only at its end). The
    /// rest gives way by rank: the feed figures and the exchange first, then the clock,
    /// the rules count, the market's price, today's P&L; the open P&L last.
    #[test]
    fn the_status_bar_keeps_what_must_be_known_and_drops_the_rest_by_rank() {
        for width in [80, 120, 140] {
            let line = status_at(width, true);
            assert!(line.chars().count() <= width as usize, "{width}: {line}");
            for must in [" DEMO ", "KRW-BTC 145,000,000", "ACTIVE", "public:up private:up", "⚠ 1 PANIC"] {
                assert!(line.contains(must), "{width}: {must:?} missing: {line}");
            }
            assert!(line.ends_with('…'), "{width}: the alert is cut at its end: {line}");
            for gone in ["msg/s", "upbit", "KST"] {
                assert!(!line.contains(gone), "{width}: {gone:?} gives way to the alert: {line}");
            }
        }
        // The selected market and its price come first: a long notice gives way to them
        // (it read `DEMO  ACTIVE │ P&L … │ ⚠ 4 [hoga] market KRW-QTUM…`, the price gone).
        let at80 = status_at(80, true);
        assert_eq!(at80, " DEMO  KRW-BTC 145,000,000 0.00% │ ACTIVE │ public:up private:up │ ⚠ 1 PANIC ui…");
        let at100 = status_at(100, true);
        assert!(at100.contains("⚠ 1 PANIC ui/console: failpoint …"), "{at100}");
        assert!(!at100.contains("rules"), "{at100}");
        // Then the open P&L before the rules count, beside at least 20 columns of alert.
        let at120 = status_at(120, true);
        assert!(at120.contains("0.00% │ ACTIVE │ P&L +492,750 (+3.52%) │ public:up"), "{at120}");
        assert!(at120.contains("⚠ 1 PANIC ui/console: failpo…"), "{at120}");
        let at140 = status_at(140, true);
        assert!(at140.contains("ACTIVE │ P&L +492,750 (+3.52%) │ public:up"), "{at140}");
        assert!(at140.contains("⚠ 1 PANIC ui/console: failpoint task.ui.console;…"), "{at140}");
        // With no alert: at 80 columns the price and the P&L's figure (before the clock),
        // at 140 everything.
        let at80 = status_at(80, false);
        assert_eq!(at80, " DEMO  KRW-BTC 145,000,000 0.00% │ ACTIVE │ P&L +492,750 │ public:up private:up");
        assert!(!at80.contains("KST"), "{at80}");
        let at140 = status_at(140, false);
        for all in ["upbit", "KRW-BTC 145,000,000", "rules 0", "today +49,175", "public:up", "12:04:05 KST"] {
            assert!(at140.contains(all), "{all:?}: {at140}");
        }
        assert!(status_at(160, false).contains("0 msg/s p99"), "the feed figures last");
    }

    /// The status bar of a trader looking at `venue` with KRW-BTC (or its pair abroad)
    /// selected and a premium board (a reference rate when `fx`), at `width` columns.
    fn premium_status(width: u16, venue: crate::exchange::VenueId, fx: bool) -> String {
        premium_status_with(width, venue, fx, None, false)
    }

    /// [`premium_status`] with the reference rate's newest read failed for `error`.
    fn premium_status_with(
        width: u16,
        venue: crate::exchange::VenueId,
        fx: bool,
        error: Option<&str>,
        alert: bool,
    ) -> String {
        use crate::store::premium::{Premium, PremiumBoard, RefRate};
        let now = Instant::now();
        let wall = Utc.with_ymd_and_hms(2026, 11, 23, 3, 4, 5).unwrap();
        let market = match venue {
            crate::exchange::VenueId::Upbit => MarketId::new("KRW-BTC"),
            crate::exchange::VenueId::Binance => MarketId::new("USDT-BTC"),
        };
        let price = if market.quote() == "KRW" { dec!(145_000_000) } else { dec!(97_123.4) };
        let board = PremiumBoard {
            paired: Default::default(),
            rows: [(
                MarketId::new("KRW-BTC"),
                Premium {
                    foreign: dec!(97_123.4),
                    vs_usdt: Some(dec!(0.0231)),
                    vs_ref: fx.then_some(dec!(0.0305)),
                    at_ms: wall.timestamp_millis(),
                },
            )]
            .into(),
            krw_usdt: Some(dec!(1462)),
            usdt_vs_ref: fx.then_some(dec!(0.0072)),
            reference: fx.then(|| RefRate {
                rate: Some(dec!(1451.5)),
                source: "fixed".into(),
                at_ms: Some(wall.timestamp_millis()),
                error: error.map(String::from),
            }),
            venue: "Binance".into(),
        };
        let events = vec![
            StoreEvent::ModeSet { mode: Mode::Demo, exchange: "upbit".into() },
            StoreEvent::TickerUpdated(Ticker {
                market: Some(market.clone()),
                trade_price: price,
                ..Ticker::default()
            }),
            StoreEvent::FeedStatus { stream: "public".into(), state: StreamState::Connected, retry_in: None },
            StoreEvent::PremiumUpdated(std::sync::Arc::new(board)),
        ];
        let mut events = events;
        if alert {
            events.push(StoreEvent::Alert {
                time: wall,
                message: "KRW-BTC crossed 150,000,000 and the rest of a long story no status bar can hold"
                    .into(),
            });
        }
        line_of(width, venue, market, events, (now, wall))
    }

    /// The selected market's premium beside its price, `fx` with a reference rate, and
    /// the USDT premium itself (or `KRW-USDT`'s price without a reference); the market
    /// and its price keep their place first at 80 columns.
    #[test]
    fn the_premium_and_the_usdt_premium_are_on_the_status_bar() {
        use crate::exchange::VenueId;
        let wide = premium_status(140, VenueId::Upbit, true);
        assert!(wide.contains("KRW-BTC 145,000,000 0.00% │ kimp +2.31% fx +3.05% │ USDT +0.72% │"), "{wide}");
        let wide = premium_status(140, VenueId::Upbit, false);
        assert!(wide.contains("│ kimp +2.31% │ USDT 1,462 │"), "{wide}");
        assert!(!wide.contains(" fx "), "{wide}");
        let at80 = premium_status(80, VenueId::Upbit, true);
        assert!(at80.starts_with(" DEMO  KRW-BTC 145,000,000 0.00% │ kimp +2.31% fx +3.05%"), "{at80}");
        assert!(at80.chars().count() <= 80, "{at80}");
    }

    /// The other venue's view says so, plainly, at every width, with its price in USDT at
    /// its own decimals and the coin's KRW premium.
    #[test]
    fn the_binance_view_is_tagged_read_only_on_the_status_bar() {
        use crate::exchange::VenueId;
        for width in [80, 120] {
            let line = premium_status(width, VenueId::Binance, false);
            assert!(
                line.starts_with(" DEMO   BINANCE · read-only  USDT-BTC 97,123.40 0.00%"),
                "{width}: {line}"
            );
            assert!(line.contains("ACTIVE"), "{width}: {line}");
        }
        let wide = premium_status(120, VenueId::Binance, false);
        assert!(wide.contains("kimp +2.31%"), "{wide}");
        assert!(!premium_status(120, VenueId::Upbit, false).contains("read-only"));
    }

    /// While reading the reference rate fails, `fx` and the USDT premium are measured
    /// against the last good rate: the status bar says so (the reason is in the System
    /// pane); with a good read it says nothing.
    #[test]
    fn a_failing_reference_rate_marks_fx_as_measured_on_the_old_rate() {
        use crate::exchange::VenueId;
        let ok = premium_status_with(160, VenueId::Upbit, true, None, false);
        assert!(!ok.contains("old rate"), "{ok}");
        let failing = premium_status_with(160, VenueId::Upbit, true, Some("example.com: HTTP 503"), false);
        assert!(failing.contains("fx +3.05% (old rate)"), "{failing}");
        assert!(failing.contains("USDT +0.72% (old rate)"), "{failing}");
    }
    /// At 80 columns on Binance's view the selected market stays: the venue tag drops its
    /// `· read-only` (its colours still say it) before the market would go (it read
    /// ` DEMO   BINANCE · read-only  ACTIVE │ …`). With a long unread alert too, 100
    /// columns keep the market (at 80 the alert's least room and the streams take it).
    #[test]
    fn on_a_narrow_line_the_binance_tag_shortens_before_the_market_goes() {
        use crate::exchange::VenueId;
        for (width, alert) in [(80, false), (100, true)] {
            let line = status_on(width, alert, VenueId::Binance);
            assert!(line.chars().count() <= width as usize, "{line}");
            assert!(line.starts_with(" DEMO   BINANCE "), "{width}: {line}");
            assert!(line.contains(" USDT-BTC 97,123.40 0.00% │ ACTIVE"), "{width}: {line}");
            assert_eq!(line.contains("⚠ 1 PANIC"), alert, "{line}");
        }
        assert!(status_on(80, false, VenueId::Binance).starts_with(" DEMO   BINANCE  USDT-BTC"));
        // Where there is room the tag is whole.
        let wide = status_on(140, true, VenueId::Binance);
        assert!(wide.starts_with(" DEMO   BINANCE · read-only  USDT-BTC "), "{wide}");
    }

    /// Where the whole premium does not fit, `kimp` alone does, before the P&L (at 80
    /// columns the premium was the first thing to go).
    #[test]
    fn a_short_line_keeps_kimp_alone() {
        use crate::exchange::VenueId;
        let at80 = premium_status(80, VenueId::Upbit, true);
        assert!(at80.contains("KRW-BTC 145,000,000 0.00% │ kimp +2.31% fx +3.05% │"), "{at80}");
        let at70 = premium_status(70, VenueId::Upbit, true);
        assert!(at70.contains("KRW-BTC 145,000,000 0.00% │ kimp +2.31% │ ACTIVE"), "{at70}");
        assert!(at70.chars().count() <= 70, "{at70}");
        let alert = premium_status_with(90, VenueId::Upbit, true, None, true);
        assert!(alert.contains("│ kimp +2.31% │") && alert.contains("⚠ 1 KRW-BTC crossed"), "{alert}");
    }

    /// The selected market's premium is the number checked before a trade: an unread
    /// alert gives way to it (down to the room it keeps beside the P&L), where it used to
    /// push the premium off the line.
    #[test]
    fn an_unread_alert_gives_way_to_the_premium() {
        use crate::exchange::VenueId;
        for width in [100, 120] {
            let line = premium_status_with(width, VenueId::Upbit, true, None, true);
            assert!(line.chars().count() <= width as usize, "{line}");
            assert!(line.contains("KRW-BTC 145,000,000 0.00% │ kimp +2.31%"), "{width}: {line}");
            assert!(line.contains("⚠ 1 KRW-BTC crossed"), "{width}: {line}");
        }
    }
}
