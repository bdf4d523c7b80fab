//! Status bar: mode badge, exchange, streams, feed rate and latency, a REST ban's countdown,
//! trading state, tasks that are down, armed rules, alerts and the KST clock.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::feed::Health;
use crate::store::{Mode, Snapshot, StreamState, TradingState};
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use crate::ui::widgets::format;
use rust_decimal::Decimal;

/// Draws the status bar.
pub fn render(area: Rect, buf: &mut Buffer, ui: &UiState, snap: &Snapshot, theme: &Theme) {
    let acc = &snap.account;
    let sys = &snap.system;
    let mode_style = match acc.mode {
        Mode::Demo => theme.mode_demo,
        Mode::Paper => theme.mode_paper,
        Mode::Live => theme.mode_live,
    };
    let sep = Span::styled(" │ ", theme.muted);
    let mut spans = vec![Span::styled(format!(" {} ", acc.mode.label()), mode_style), Span::raw(" ")];
    let exchange = if acc.exchange.is_empty() { "upbit" } else { acc.exchange.as_str() };
    // The mode badge says enough where room is short; the exchange name is for wide screens.
    if area.width >= 140 {
        spans.push(Span::styled(exchange.to_string(), theme.header));
        spans.push(sep.clone());
    }
    if let Some(m) = &ui.market {
        spans.push(Span::styled(format!("{m} "), theme.header));
        match snap.market.tickers.get(m) {
            Some(t) => {
                let stale = t.age(ui.now) >= ui.config.stale_after;
                let rate = t.value.signed_change_rate;
                let style = if stale { theme.stale } else { theme.change(rate.cmp(&Decimal::ZERO)) };
                spans.push(Span::styled(
                    format!("{} {}", format::market_price(m.quote(), t.value.trade_price), format::pct(rate)),
                    style,
                ));
                if stale {
                    spans.push(Span::styled(format!(" ({} old)", format::age(t.age(ui.now))), theme.stale));
                }
            }
            None => spans.push(Span::styled("no price yet", theme.muted)),
        }
        spans.push(sep.clone());
    }
    // Most important first: at 80 columns the tail gives way to the clock.
    let ts = match acc.trading_state {
        TradingState::Active => theme.ok,
        TradingState::Reducing => theme.warning,
        TradingState::Halted => theme.error,
    };
    spans.push(Span::styled(acc.trading_state.label(), ts));
    // A 418 ban halts every REST call of the process: as loud as the trading state, with
    // the time left.
    if let Some(left) = sys.feed.rest_blocked_secs() {
        let text = format!(" REST BANNED {}", countdown(left));
        spans.push(Span::styled(text, theme.error));
    }
    // A task that is down (restarting or failed) is as loud as the trading state.
    let down: Vec<String> = sys.tasks_down().map(|t| format!("{}/{}", t.component, t.name)).collect();
    if let Some(first) = down.first() {
        let more = if down.len() > 1 { format!(" +{}", down.len() - 1) } else { String::new() };
        spans.push(Span::styled(format!(" TASK DOWN {first}{more}"), theme.error));
    }
    spans.push(Span::styled(format!(" rules {}", acc.armed_rules()), theme.text));
    // A config change the gate holds while orders are in flight: say what waits and why.
    if let Some(waiting) = &acc.config_waiting {
        spans.push(Span::styled(format!(" held: {waiting}"), theme.warning));
    }
    // From here on, a part that does not fit whole is left out, never cut mid-word.
    let clock = format!(" {} KST ", format::clock_kst(ui.wall));
    let mut show_clock = area.width as usize > clock.len() + 40;
    let mut budget = (area.width as usize).saturating_sub(if show_clock { clock.len() } else { 0 });
    let width = |spans: &[Span]| spans.iter().map(|s| s.width()).sum::<usize>();
    // The account's P&L, as the Portfolio pane computes it: open P&L with its
    // percentage, then today's realized when it fits too.
    let pnl = super::portfolio::summary(ui, snap);
    if pnl.open.is_some() || !pnl.today.is_zero() {
        let sign = |v: Decimal| theme.change(v.cmp(&Decimal::ZERO));
        let mut part = vec![sep.clone(), Span::styled("P&L ", theme.muted)];
        match pnl.open {
            Some(o) => {
                let pct = pnl.ratio.map_or_else(String::new, |r| format!(" ({})", format::pct(r)));
                part.push(Span::styled(format!("{}{pct}", format::signed_amount(o, "KRW")), sign(o)));
            }
            None => part.push(Span::styled("—", theme.muted)),
        }
        let today = [
            Span::styled(" today ", theme.muted),
            Span::styled(format::signed_amount(pnl.today, "KRW"), sign(pnl.today)),
        ];
        // The P&L outranks the clock: at 80 columns the clock gives way to it.
        if width(&spans) + width(&part) > budget && width(&spans) + width(&part) <= area.width as usize {
            show_clock = false;
            budget = area.width as usize;
        }
        if width(&spans) + width(&part) <= budget {
            if !pnl.today.is_zero() && width(&spans) + width(&part) + width(&today) <= budget {
                part.extend(today);
            }
            spans.extend(part);
        }
    }
    let mut streams = vec![sep.clone()];
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
    if width(&spans) + width(&streams) <= budget {
        spans.extend(streams);
    }
    let feed = &sys.feed;
    let health_style = match feed.health {
        Health::Healthy => theme.text,
        Health::Degraded => theme.warning,
        Health::Critical => theme.error,
    };
    let feed_part = vec![
        sep.clone(),
        Span::styled(
            format!("{} msg/s p99 {}", feed.msgs_per_sec(), format::micros(feed.exchange_latency.p99_us)),
            health_style,
        ),
    ];
    let unread = sys.unread_alerts();
    let alert_part = (unread > 0).then(|| {
        let latest = sys.alerts.front().map(|a| a.message.as_str()).unwrap_or("");
        vec![sep.clone(), Span::styled(format!("⚠ {unread} {latest}"), theme.warning)]
    });
    // Unread alerts outrank the feed figures: the feed part goes first when both cannot fit.
    let alert_width = alert_part.as_deref().map_or(0, |a| width(a).min(16));
    if width(&spans) + width(&feed_part) + alert_width <= budget {
        spans.extend(feed_part);
    }
    // The alert text is the one part that may be cut (it is words, not a number).
    if let Some(a) = alert_part {
        spans.extend(a);
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
    if show_clock {
        Paragraph::new(Span::styled(clock, theme.muted)).alignment(Alignment::Right).render(area, buf);
    }
}

/// Seconds left as a countdown that visibly ticks: `42s`, `4m05s`, `23h59m`.
fn countdown(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}
