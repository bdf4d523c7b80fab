//! The notifier task: status-bar flash, terminal bell, window title and webhook, off the
//! UI path.
//!
//! One supervised task drains the [`NotifySender`] queue and applies the per-kind mode.
//! The latest flash is published on a `watch` the UI reads when it draws; the bell and the
//! title go to a [`Terminal`] (the console's rings the bell only while it owns the
//! terminal, and leaves the title to the UI, which renders alerts itself from
//! [`Flash::loud`]). Loud events are
//! handed to a second supervised task that POSTs them to the webhook with retries and
//! exponential backoff, so a slow webhook never delays the bell.
//!
//! The webhook URL carries a token (Discord, Slack and Telegram all put it in the path),
//! so it is held as a secret and only its host is ever logged; reqwest errors are logged
//! `without_url()`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use tokio::sync::{mpsc, watch};

use crate::kernel::sync::lock;
use crate::kernel::{OnFailure, TaskManager};
use crate::notify::{NotifyEvent, NotifyKind, NotifyMode, NotifyModes, NotifySender};

/// Errors of the notifier's configuration.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The webhook URL is not an http(s) URL with a host. The URL itself is not repeated
    /// (it may carry a token).
    #[error("webhook URL is not a valid http:// or https:// URL ({0})")]
    BadWebhookUrl(&'static str),
    /// The HTTP client could not be built.
    #[error("cannot build the webhook HTTP client: {0}")]
    Client(String),
}

/// Which chat service the webhook belongs to (decides the JSON body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookFlavor {
    /// Discord: `{"content": …}`.
    Discord,
    /// Slack incoming webhook: `{"text": …}`.
    Slack,
    /// Telegram bot `sendMessage`: `{"chat_id": …, "text": …}`.
    Telegram {
        /// Chat id, when not already in the URL's query.
        chat_id: Option<String>,
    },
    /// Anything else: `content` and `text` plus structured fields.
    Generic,
}

/// The webhook target and its retry policy.
#[derive(Clone)]
pub struct WebhookConfig {
    url: SecretString,
    host: String,
    /// Body shape.
    pub flavor: WebhookFlavor,
    /// Attempts per event (first try included).
    pub max_attempts: u32,
    /// First backoff; doubles per attempt.
    pub initial_backoff: Duration,
    /// Backoff cap.
    pub max_backoff: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Events waiting for the webhook; beyond this the newest is dropped and counted.
    pub queue_capacity: usize,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("host", &self.host)
            .field("url", &"<redacted>")
            .field("flavor", &self.flavor)
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

impl WebhookConfig {
    /// Validates `url` (http or https with a host) and guesses the flavor from the host.
    pub fn new(url: &str) -> Result<WebhookConfig, NotifyError> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or(NotifyError::BadWebhookUrl("scheme must be http or https"))?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        // Strip userinfo (a secret too) and the port.
        let host_port = authority.rsplit('@').next().unwrap_or_default();
        let host = match host_port.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default().to_string(),
            None => host_port.split(':').next().unwrap_or_default().to_string(),
        };
        if host.is_empty() || url.chars().any(char::is_whitespace) {
            return Err(NotifyError::BadWebhookUrl("missing host or whitespace"));
        }
        let lower = host.to_ascii_lowercase();
        let flavor = if lower.ends_with("discord.com") || lower.ends_with("discordapp.com") {
            WebhookFlavor::Discord
        } else if lower.ends_with("slack.com") {
            WebhookFlavor::Slack
        } else if lower == "api.telegram.org" {
            WebhookFlavor::Telegram { chat_id: None }
        } else {
            WebhookFlavor::Generic
        };
        Ok(WebhookConfig {
            url: SecretString::from(url.to_string()),
            host,
            flavor,
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            queue_capacity: 64,
        })
    }

    /// The host: the only part of the URL that may be logged.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The JSON body for `event`.
    pub fn body(&self, event: &NotifyEvent) -> serde_json::Value {
        let text = event.render();
        match &self.flavor {
            WebhookFlavor::Discord => json!({ "content": text }),
            WebhookFlavor::Slack => json!({ "text": text }),
            WebhookFlavor::Telegram { chat_id: Some(c) } => json!({ "chat_id": c, "text": text }),
            WebhookFlavor::Telegram { chat_id: None } => json!({ "text": text }),
            WebhookFlavor::Generic => json!({
                "content": text,
                "text": text,
                "kind": event.kind,
                "market": event.market.as_ref().map(|m| m.as_str().to_string()),
                "id": event.id,
                "at": event.at.to_rfc3339(),
            }),
        }
    }
}

/// Where the bell and the window title go.
pub trait Terminal: Send + 'static {
    /// Rings the bell.
    fn bell(&mut self);
    /// Sets the window title (tmux shows it in its status line with `set-titles on`).
    fn set_title(&mut self, title: &str);
}

/// The latest status-bar flash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    /// Increments per flash, so the UI can tell a repeat of the same text from a new one.
    pub seq: u64,
    /// Kind.
    pub kind: NotifyKind,
    /// Rendered text.
    pub text: String,
    /// True when the mode is `on` (bell, title, webhook); false when `silent`.
    pub loud: bool,
    /// When it happened.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Configuration of the notifier.
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// Mode per kind.
    pub modes: NotifyModes,
    /// Optional webhook.
    pub webhook: Option<WebhookConfig>,
    /// Capacity of the producer queue.
    pub queue_capacity: usize,
    /// Title prefix (`hoga`).
    pub title: String,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        NotifierConfig {
            modes: NotifyModes::default(),
            webhook: None,
            queue_capacity: 256,
            title: "hoga".into(),
        }
    }
}

impl NotifierConfig {
    /// From `[alerts]`: the per-kind modes and the webhook (validated; the error never
    /// repeats the URL).
    pub fn from_settings(s: &crate::config::AlertSettings) -> Result<Self, NotifyError> {
        let webhook = match s.webhook_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => Some(WebhookConfig::new(url)?),
            None => None,
        };
        Ok(NotifierConfig { modes: NotifyModes::from_settings(s), webhook, ..NotifierConfig::default() })
    }
}

/// Counters of the notifier (System pane).
#[derive(Debug, Default)]
pub struct NotifierStats {
    /// Events taken from the queue.
    pub received: AtomicU64,
    /// Events skipped because their kind is `off`.
    pub muted: AtomicU64,
    /// Webhook deliveries that succeeded.
    pub webhook_sent: AtomicU64,
    /// Webhook attempts that failed and were retried.
    pub webhook_retries: AtomicU64,
    /// Events the webhook gave up on.
    pub webhook_failed: AtomicU64,
    /// Events dropped because the webhook queue was full.
    pub(crate) webhook_dropped: AtomicU64,
}

/// What the rest of hoga keeps of the notifier.
#[derive(Debug, Clone)]
pub struct NotifierHandle {
    sender: NotifySender,
    flash: watch::Receiver<Option<Flash>>,
    stats: Arc<NotifierStats>,
}

impl NotifierHandle {
    /// The producer side (clone it into the monitor, the order manager, the feed).
    pub fn sender(&self) -> NotifySender {
        self.sender.clone()
    }

    /// The latest flash, for the status bar.
    pub fn flash(&self) -> watch::Receiver<Option<Flash>> {
        self.flash.clone()
    }

    /// Counters.
    pub fn stats(&self) -> &NotifierStats {
        &self.stats
    }

    /// Events dropped by producers because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.sender.dropped()
    }
}

/// Starts the notifier (and, with a webhook, its sender) under `tasks`, supervised.
pub fn spawn_notifier(
    tasks: &TaskManager,
    config: NotifierConfig,
    terminal: impl Terminal,
) -> Result<NotifierHandle, NotifyError> {
    let (sender, rx) = NotifySender::channel(config.queue_capacity);
    // The receiver outlives a panicking run of the task: the next run takes it back.
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let stats = Arc::new(NotifierStats::default());
    let (flash_tx, flash_rx) = watch::channel(None);
    let flash_tx = Arc::new(flash_tx);
    let terminal: Arc<Mutex<Box<dyn Terminal>>> = Arc::new(Mutex::new(Box::new(terminal)));
    let seq = Arc::new(AtomicU64::new(0));

    let webhook_tx = match config.webhook.clone() {
        Some(hook) => {
            let client = reqwest::Client::builder()
                .timeout(hook.timeout)
                .user_agent(concat!("hoga/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| NotifyError::Client(e.without_url().to_string()))?;
            // Bounded: `queue_capacity` events; overflow drops the newest and counts it in
            // `webhook_dropped` (the flash and bell already told the user).
            let (tx, wrx) = mpsc::channel::<NotifyEvent>(hook.queue_capacity.max(1));
            let wrx = Arc::new(tokio::sync::Mutex::new(wrx));
            let stats = stats.clone();
            tasks.spawn_supervised("notify", "webhook", OnFailure::restart(), move |cancel| {
                let wrx = wrx.clone();
                let stats = stats.clone();
                let client = client.clone();
                let hook = hook.clone();
                async move {
                    let mut wrx = wrx.lock().await;
                    loop {
                        let ev = tokio::select! {
                            biased;
                            _ = cancel.cancelled() => return Ok(()),
                            ev = wrx.recv() => match ev { Some(ev) => ev, None => return Ok(()) },
                        };
                        deliver(&client, &hook, &ev, &stats, &cancel).await;
                    }
                }
            });
            Some(tx)
        }
        None => None,
    };

    let modes = config.modes;
    let title = config.title.clone();
    let task_stats = stats.clone();
    tasks.spawn_supervised("notify", "notifier", OnFailure::restart(), move |cancel| {
        let rx = rx.clone();
        let stats = task_stats.clone();
        let flash_tx = flash_tx.clone();
        let terminal = terminal.clone();
        let webhook_tx = webhook_tx.clone();
        let seq = seq.clone();
        let title = title.clone();
        async move {
            let mut rx = rx.lock().await;
            loop {
                let ev = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    ev = rx.recv() => match ev { Some(ev) => ev, None => return Ok(()) },
                };
                stats.received.fetch_add(1, Ordering::Relaxed);
                let mode = modes.get(ev.kind);
                tracing::info!(kind = ev.kind.label(), mode = ?mode, text = %ev.text, "notification");
                if mode == NotifyMode::Off {
                    stats.muted.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let loud = mode == NotifyMode::On;
                let text = ev.render();
                flash_tx.send_replace(Some(Flash {
                    seq: seq.fetch_add(1, Ordering::Relaxed) + 1,
                    kind: ev.kind,
                    text: text.clone(),
                    loud,
                    at: ev.at,
                }));
                if !loud {
                    continue;
                }
                {
                    let mut term = lock(&terminal);
                    term.bell();
                    term.set_title(&format!(
                        "{title} ! {} {}",
                        ev.kind.label(),
                        ev.market.as_ref().map_or("", |m| m.as_str())
                    ));
                }
                if let Some(tx) = &webhook_tx
                    && tx.try_send(ev).is_err()
                {
                    stats.webhook_dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("webhook queue full: notification dropped");
                }
            }
        }
    });

    Ok(NotifierHandle { sender, flash: flash_rx, stats })
}

/// POSTs one event, retrying 5xx, 429 and transport errors with backoff; a 4xx other
/// than 429 is final (retrying a bad request or a revoked token cannot help).
async fn deliver(
    client: &reqwest::Client,
    hook: &WebhookConfig,
    ev: &NotifyEvent,
    stats: &NotifierStats,
    cancel: &tokio_util::sync::CancellationToken,
) {
    let body = hook.body(ev);
    let mut backoff = hook.initial_backoff;
    let attempts = hook.max_attempts.max(1);
    for attempt in 1..=attempts {
        let outcome = client.post(hook.url.expose_secret()).json(&body).send().await;
        let mut wait = backoff;
        let retryable = match outcome {
            Ok(resp) if resp.status().is_success() => {
                stats.webhook_sent.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(resp) => {
                let status = resp.status();
                tracing::warn!(host = %hook.host, status = status.as_u16(), attempt, "webhook delivery failed");
                if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                    // Discord and Slack say how long to wait (seconds).
                    let after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        // Checked: a negative, non-finite or huge value is ignored
                        // (`from_secs_f64` panics on `1e300`); the wait is capped below.
                        .and_then(|s| Duration::try_from_secs_f64(s).ok());
                    wait = after.map_or(backoff, |a| a.max(backoff)).min(hook.max_backoff);
                }
                status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            }
            Err(e) => {
                // `without_url`: the URL holds the token.
                tracing::warn!(host = %hook.host, attempt, error = %e.without_url(), "webhook delivery failed");
                true
            }
        };
        if !retryable || attempt == attempts {
            break;
        }
        stats.webhook_retries.fetch_add(1, Ordering::Relaxed);
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        backoff = (backoff * 2).min(hook.max_backoff);
    }
    stats.webhook_failed.fetch_add(1, Ordering::Relaxed);
    tracing::error!(host = %hook.host, kind = ev.kind.label(), "webhook gave up on a notification");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_url_is_validated_and_never_printed() {
        let h = WebhookConfig::new("https://discord.com/api/webhooks/123/SECRETTOKEN").unwrap();
        assert_eq!(h.host(), "discord.com");
        assert_eq!(h.flavor, WebhookFlavor::Discord);
        assert!(!format!("{h:?}").contains("SECRETTOKEN"));
        let s = WebhookConfig::new("https://hooks.slack.com/services/T/B/X").unwrap();
        assert_eq!(s.flavor, WebhookFlavor::Slack);
        let ev = NotifyEvent::new(NotifyKind::PriceAlert, None, "x");
        assert!(s.body(&ev).get("text").is_some());
        let t = WebhookConfig::new("https://user:pw@api.telegram.org:443/botTOKEN/sendMessage?chat_id=1")
            .unwrap();
        assert_eq!(t.host(), "api.telegram.org");
        assert!(WebhookConfig::new("ftp://x").is_err());
        assert!(WebhookConfig::new("https:///path").is_err());
        let err = WebhookConfig::new("gopher://secret").unwrap_err().to_string();
        assert!(!err.contains("secret"));
        let settings = crate::config::AlertSettings {
            webhook_url: Some("https://hooks.slack.com/services/T/B/X".into()),
            fill: NotifyMode::Silent,
            trading_halted: NotifyMode::Off,
            ..Default::default()
        };
        let cfg = NotifierConfig::from_settings(&settings).unwrap();
        assert_eq!(cfg.webhook.unwrap().flavor, WebhookFlavor::Slack);
        assert_eq!(cfg.modes.get(NotifyKind::Fill), NotifyMode::Silent);
        assert_eq!(cfg.modes.get(NotifyKind::RuleStale), NotifyMode::On);
        assert_eq!(cfg.modes.get(NotifyKind::TradingHalted), NotifyMode::Off);
        assert_eq!(cfg.modes.get(NotifyKind::MonitorDown), NotifyMode::On);
    }
}
