//! Notifications: how an event (a fill, a fired or stale rule, a degraded feed, a halt, a
//! dead monitor, a price alert) reaches a trader who may be looking at another tmux
//! window or not at the terminal at all.
//!
//! Producers (the monitor, the order manager, the feed) hand a [`NotifyEvent`] to a
//! [`NotifySender`]: a bounded queue that never blocks the producer and counts what it
//! drops. The notifier task ([`notifier::spawn_notifier`]), off the UI path, applies the
//! per-kind mode (on / silent / off), publishes the latest status-bar flash on a `watch`, rings the
//! terminal bell, sets the window title, and hands loud events to the webhook sender,
//! which POSTs JSON that Discord, Slack and Telegram bots accept, with retries and backoff.
//! Price alerts (`:alert KRW-BTC > 100000000`) are evaluated by the trading monitor
//! ([`crate::trading::monitor::alerts`]); they reach people through here like any other
//! event. This module depends on nothing in `trading`: producers depend on it.

pub mod notifier;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::{AlertMode, AlertSettings};
use crate::exchange::types::MarketId;

pub use notifier::NotifierHandle;

pub use notifier::WebhookFlavor;

pub use notifier::NotifyError;

pub use notifier::NotifierStats;

pub use notifier::Flash;

pub use notifier::{NotifierConfig, Terminal, WebhookConfig, spawn_notifier};

/// How loudly one kind of event is delivered (`[alerts]` in config): `on` = flash, bell,
/// title and webhook; `silent` = status-bar flash only; `off` = nothing.
pub type NotifyMode = AlertMode;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyKind {
    /// An order filled (fully or partly).
    Fill,
    /// A protection rule fired (exit sent), or its exit finished.
    RuleFired,
    /// A protection rule went stale: prices are too old to protect the position.
    RuleStale,
    /// A rule's exit could not be placed; the user must act.
    RuleFailed,
    /// The market-data feed is degraded (reconnecting, silent).
    FeedDegraded,
    /// Trading was halted (kill switch, auth error, 418).
    TradingHalted,
    /// The monitor task died; trading is REDUCING until it is back.
    MonitorDown,
    /// A user price alert fired.
    PriceAlert,
    /// An exchange notice (listing, delisting, warning, maintenance…).
    Announcement,
    /// A market's warning or caution flag changed, or a market was listed or taken off.
    MarketEvent,
    /// The API key expires within 30, 7 or 1 days, or has expired.
    KeyExpiry,
}

impl NotifyKind {
    /// Number of kinds.
    pub(crate) const COUNT: usize = 11;

    /// Every kind.
    pub const ALL: [NotifyKind; NotifyKind::COUNT] = [
        NotifyKind::Fill,
        NotifyKind::RuleFired,
        NotifyKind::RuleStale,
        NotifyKind::RuleFailed,
        NotifyKind::FeedDegraded,
        NotifyKind::TradingHalted,
        NotifyKind::MonitorDown,
        NotifyKind::PriceAlert,
        NotifyKind::Announcement,
        NotifyKind::MarketEvent,
        NotifyKind::KeyExpiry,
    ];

    /// Short label for the status bar and the webhook text.
    pub fn label(self) -> &'static str {
        match self {
            NotifyKind::Fill => "fill",
            NotifyKind::RuleFired => "rule fired",
            NotifyKind::RuleStale => "rule STALE",
            NotifyKind::RuleFailed => "rule FAILED",
            NotifyKind::FeedDegraded => "feed degraded",
            NotifyKind::TradingHalted => "trading HALTED",
            NotifyKind::MonitorDown => "MONITOR DOWN",
            NotifyKind::PriceAlert => "alert",
            NotifyKind::Announcement => "notice",
            NotifyKind::MarketEvent => "market",
            NotifyKind::KeyExpiry => "key expiry",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The mode of every kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyModes {
    modes: [NotifyMode; NotifyKind::COUNT],
}

impl Default for NotifyModes {
    fn default() -> Self {
        NotifyModes { modes: [NotifyMode::On; NotifyKind::COUNT] }
    }
}

impl NotifyModes {
    /// The mode of `kind`.
    pub fn get(&self, kind: NotifyKind) -> NotifyMode {
        self.modes[kind.index()]
    }

    /// Sets the mode of `kind`.
    pub fn set(&mut self, kind: NotifyKind, mode: NotifyMode) -> &mut Self {
        self.modes[kind.index()] = mode;
        self
    }

    /// From `[alerts]`. Kinds the config has no key for (rule stale, trading halted,
    /// monitor down, key expiry) stay `on`: they are safety events that must not be silenced by
    /// omission.
    pub fn from_settings(s: &AlertSettings) -> Self {
        let mut m = NotifyModes::default();
        m.set(NotifyKind::PriceAlert, s.price)
            .set(NotifyKind::Fill, s.fill)
            .set(NotifyKind::RuleFired, s.stop_fired)
            .set(NotifyKind::RuleFailed, s.order_rejected)
            .set(NotifyKind::FeedDegraded, s.feed_degraded)
            .set(NotifyKind::RuleStale, s.rule_stale)
            .set(NotifyKind::TradingHalted, s.trading_halted)
            .set(NotifyKind::MonitorDown, s.monitor_down)
            .set(NotifyKind::MarketEvent, s.market_event);
        m
    }
}

/// What begins every text sent to people (a webhook's channel, the window title): where
/// it came from. The console's own screen leaves it out.
pub const TAG: &str = "[hoga] ";

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotifyEvent {
    /// Kind (selects the mode).
    pub kind: NotifyKind,
    /// Market it concerns, if any.
    pub market: Option<MarketId>,
    /// One line for people (no secrets: it goes to a webhook).
    pub text: String,
    /// Stable id of what it is about (alert id, exit identifier), so a receiver can dedupe.
    pub id: Option<String>,
    /// Wall-clock time, for the webhook and the log.
    pub at: chrono::DateTime<chrono::Utc>,
}

impl NotifyEvent {
    /// An event stamped now.
    pub fn new(kind: NotifyKind, market: Option<MarketId>, text: impl Into<String>) -> Self {
        NotifyEvent { kind, market, text: text.into(), id: None, at: chrono::Utc::now() }
    }

    /// With a stable id.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// `[hoga] rule fired KRW-BTC: …`, the text sent to people. The market is not said
    /// twice (`alert: KRW-BTC kimp > 3% …`, not `alert KRW-BTC: KRW-BTC kimp …`).
    pub fn render(&self) -> String {
        match &self.market {
            Some(m) if !self.text.starts_with(m.as_str()) => {
                format!("{TAG}{} {}: {}", self.kind.label(), m, self.text)
            }
            _ => format!("{TAG}{}: {}", self.kind.label(), self.text),
        }
    }
}

/// The producer side of the notifier queue. Never blocks: a notification that does not
/// fit is dropped and counted (the trading path must not wait for a bell).
#[derive(Debug, Clone)]
pub struct NotifySender {
    tx: mpsc::Sender<NotifyEvent>,
    dropped: Arc<AtomicU64>,
}

impl NotifySender {
    /// A queue of `capacity` events and its receiver (the notifier, or a test).
    pub fn channel(capacity: usize) -> (NotifySender, mpsc::Receiver<NotifyEvent>) {
        // Bounded: `capacity` events; overflow drops the new event and counts it, because
        // producers sit on the trading path and must never wait for the notifier.
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (NotifySender { tx, dropped: Arc::new(AtomicU64::new(0)) }, rx)
    }

    /// Queues `event`; false (and counted) when the queue is full or closed.
    pub fn notify(&self, event: NotifyEvent) -> bool {
        match self.tx.try_send(event) {
            Ok(()) => true,
            Err(e) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                let ev = match &e {
                    mpsc::error::TrySendError::Full(ev) | mpsc::error::TrySendError::Closed(ev) => ev,
                };
                tracing::warn!(kind = ev.kind.label(), "notification dropped: queue full or closed");
                false
            }
        }
    }

    /// Notifications dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text people get names what and where once: an alert whose own text starts with
    /// its market does not say the market twice.
    #[test]
    fn a_rendered_notification_names_its_market_once() {
        let btc = MarketId::new("KRW-BTC");
        let alert =
            NotifyEvent::new(NotifyKind::PriceAlert, Some(btc.clone()), "KRW-BTC kimp > 3% (now 3.12%)");
        assert_eq!(
            alert.render(),
            format!("{TAG}{}: KRW-BTC kimp > 3% (now 3.12%)", NotifyKind::PriceAlert.label())
        );
        let fill = NotifyEvent::new(NotifyKind::Fill, Some(btc), "BUY 0.001 @ 145,000,000");
        assert_eq!(
            fill.render(),
            format!("{TAG}{} KRW-BTC: BUY 0.001 @ 145,000,000", NotifyKind::Fill.label())
        );
        assert_eq!(
            NotifyEvent::new(NotifyKind::Fill, None, "x").render(),
            format!("{TAG}{}: x", NotifyKind::Fill.label())
        );
    }
}
