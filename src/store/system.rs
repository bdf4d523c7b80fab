//! System section of the snapshot: stream states, feed statistics, kernel tasks, log
//! records, alerts and generic tables (bus lanes, subscriptions…) other modules fill.
//!
//! The generic [`SystemTable`] keeps the store ignorant of the bus and feed internals:
//! whoever owns a table sends its rows as text, and the System pane draws them.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::bus::lane::BusMetrics;
use crate::feed::FeedHealth;
use crate::kernel::TaskInfo;

/// How many log records the Log pane keeps.
pub(crate) const LOGS_KEPT: usize = 1000;
/// How many alerts are kept.
pub(crate) const ALERTS_KEPT: usize = 100;

/// Connection state of one stream (public, private…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StreamState {
    /// Not started yet.
    #[default]
    Idle,
    /// Dialing.
    Connecting,
    /// Receiving.
    Connected,
    /// Waiting before the next attempt.
    Reconnecting,
    /// Given up or stopped.
    Down,
}

impl StreamState {
    /// Short label.
    pub fn label(self) -> &'static str {
        match self {
            StreamState::Idle => "idle",
            StreamState::Connecting => "connecting",
            StreamState::Connected => "up",
            StreamState::Reconnecting => "retry",
            StreamState::Down => "down",
        }
    }
}

/// One stream's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamStatus {
    /// Stream name (`public`, `private`).
    pub name: String,
    /// State.
    pub state: StreamState,
    /// When reconnecting: time until the next attempt, measured from `since`.
    pub retry_in: Option<Duration>,
    /// When the status was received.
    pub since: Instant,
}

/// Log level of a record: the config's level type (same names, same order).
pub use crate::config::LogLevel;

/// One application log record (tracing event streamed through the bus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Level.
    pub level: LogLevel,
    /// Module path / target.
    pub target: String,
    /// Message.
    pub message: String,
    /// Wall-clock time.
    pub time: DateTime<Utc>,
}

/// An alert that fired (price alert, fill, stop fired, feed degraded…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    /// Wall-clock time.
    pub time: DateTime<Utc>,
    /// Short text shown in the status bar.
    pub message: String,
    /// Whether the user has seen it (cleared by the UI's acknowledge command).
    pub acknowledged: bool,
    /// What it is about when a later alert replaces it (an exchange notice's id: an
    /// updated notice is one alert, not two).
    pub key: Option<String>,
}

/// A generic titled table, filled by whichever module owns the data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SystemTable {
    /// Column headers.
    pub header: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

/// One delivered bus envelope, as the System pane lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeRow {
    /// Bus sequence number.
    pub seq: u64,
    /// Lane it travelled on.
    pub lane: crate::bus::Lane,
    /// Who published it.
    pub source: &'static str,
    /// The chain it belongs to.
    pub correlation: crate::bus::CorrelationId,
    /// The envelope that caused it, if any.
    pub caused_by: Option<u64>,
    /// What it was, in a few words.
    pub what: String,
    /// When the bus accepted it.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Process health: streams, feed counters, tasks, logs, alerts, generic tables.
#[derive(Debug, Clone, Default)]
pub struct SystemSection {
    /// Bumped whenever anything in this section changes.
    pub version: u64,
    /// Stream states by name.
    pub streams: Arc<Vec<StreamStatus>>,
    /// Latest feed health report, as the feed made it (healthy and empty until the first).
    pub feed: Arc<FeedHealth>,
    /// Latest bus lane counters (None until the bus reports).
    pub bus: Option<Arc<BusMetrics>>,
    /// The last envelopes the bus delivered, oldest first, with their correlation ids:
    /// one `:buy` can be followed from the UI through the Trading lane to its fill.
    pub envelopes: Arc<Vec<EnvelopeRow>>,
    /// Kernel task table.
    pub tasks: Arc<Vec<TaskInfo>>,
    /// Log records, newest first.
    pub logs: Arc<VecDeque<LogRecord>>,
    /// Alerts, newest first.
    pub alerts: Arc<VecDeque<AlertRecord>>,
    /// Generic tables by title (`bus lanes`, `subscriptions`…), drawn in title order.
    pub(crate) tables: Arc<BTreeMap<String, SystemTable>>,
}

impl SystemSection {
    /// A generic table's header and rows, by title (`Venues`…).
    pub fn table(&self, title: &str) -> Option<(&[String], &[Vec<String>])> {
        self.tables.get(title).map(|t| (t.header.as_slice(), t.rows.as_slice()))
    }

    /// Alerts not yet acknowledged.
    pub(crate) fn unread_alerts(&self) -> usize {
        self.alerts.iter().filter(|a| !a.acknowledged).count()
    }

    /// Tasks that are down right now: waiting to restart after a failure, or failed for
    /// good (as of the last sample of the task table).
    pub(crate) fn tasks_down(&self) -> impl Iterator<Item = &TaskInfo> {
        use crate::kernel::TaskState;
        self.tasks.iter().filter(|t| matches!(t.state, TaskState::Restarting | TaskState::Failed))
    }

    /// Tasks that failed at least once in this session (restarted or failed for good).
    pub(crate) fn tasks_faulted(&self) -> impl Iterator<Item = &TaskInfo> {
        use crate::kernel::TaskState;
        self.tasks.iter().filter(|t| t.restarts > 0 || t.state == TaskState::Failed)
    }

    pub(crate) fn set_stream(&mut self, status: StreamStatus) {
        let streams = Arc::make_mut(&mut self.streams);
        match streams.iter_mut().find(|s| s.name == status.name) {
            Some(s) => *s = status,
            None => streams.push(status),
        }
    }

    pub(crate) fn push_log(&mut self, rec: LogRecord) {
        let logs = Arc::make_mut(&mut self.logs);
        logs.push_front(rec);
        logs.truncate(LOGS_KEPT);
    }

    pub(crate) fn push_alert(&mut self, rec: AlertRecord) {
        let alerts = Arc::make_mut(&mut self.alerts);
        if rec.key.is_some() {
            alerts.retain(|a| a.key != rec.key);
        }
        alerts.push_front(rec);
        alerts.truncate(ALERTS_KEPT);
    }
}
