//! The forwarding layer: every log record that passes the filter also goes, as a
//! [`LogRecord`], into the [`LogRing`] the Log pane reads and to an optional forwarder
//! (the kernel points it at the bus's logging lane).
//!
//! The ring is bounded and drops the oldest record when full (counted): logging must
//! never slow the code that logs. The forwarder runs inline on the logging thread, so it
//! must not block (the bus's `try_publish` on the drop-oldest logging lane never does);
//! a thread-local guard stops a forwarder that itself logs from recursing.

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::escape::Escaping;

/// One log record as the Log pane shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Position in the stream of records (1, 2, …), so a reader can ask for what is new.
    pub seq: u64,
    /// When it was logged.
    pub time: DateTime<Utc>,
    /// Its level.
    pub level: Level,
    /// Its target (module path unless set).
    pub target: String,
    /// The message followed by the other fields as `key=value`.
    pub message: String,
}

/// Bounded ring of recent records (drop-oldest, counted).
#[derive(Debug)]
pub struct LogRing {
    records: Mutex<VecDeque<LogRecord>>,
    capacity: usize,
    dropped: AtomicU64,
    next_seq: AtomicU64,
}

impl LogRing {
    /// A ring keeping at most `capacity` records.
    pub fn new(capacity: usize) -> Self {
        LogRing {
            records: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            dropped: AtomicU64::new(0),
            next_seq: AtomicU64::new(1),
        }
    }

    pub(crate) fn push(&self, mut rec: LogRecord) -> LogRecord {
        let mut q = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        rec.seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        if q.len() >= self.capacity {
            q.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        q.push_back(rec.clone());
        rec
    }

    /// Every record kept, oldest first.
    pub fn records(&self) -> Vec<LogRecord> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner).iter().cloned().collect()
    }

    /// Records with `seq > after`, oldest first (what a reader has not seen yet).
    pub fn since(&self, after: u64) -> Vec<LogRecord> {
        let q = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        q.iter().filter(|r| r.seq > after).cloned().collect()
    }

    /// Sequence number of the newest record (0 when none): a cheap "anything new?" check.
    #[cfg(test)]
    pub(crate) fn last_seq(&self) -> u64 {
        self.next_seq.load(Ordering::Relaxed).saturating_sub(1)
    }

    /// Records pushed out of the ring because it was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

type Forwarder = Box<dyn Fn(&LogRecord) + Send + Sync>;

/// State shared by the layer and the [`super::LoggingHandle`].
pub(crate) struct ForwardShared {
    pub ring: std::sync::Arc<LogRing>,
    pub(crate) forwarder: RwLock<Option<Forwarder>>,
}

thread_local! {
    static FORWARDING: Cell<bool> = const { Cell::new(false) };
}

/// The tracing layer feeding the ring and the forwarder.
pub(crate) struct ForwardLayer {
    pub(crate) shared: std::sync::Arc<ForwardShared>,
}

struct MessageVisitor {
    message: String,
    fields: String,
}

impl Visit for MessageVisitor {
    // Escaped as in the file: a control character in a field reaches no reader raw.
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = Escaping(&mut self.message).write_str(value);
        } else {
            let _ = write!(Escaping(&mut self.fields), " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(Escaping(&mut self.message), "{value:?}");
        } else {
            let _ = write!(Escaping(&mut self.fields), " {}={:?}", field.name(), value);
        }
    }
}

impl<S: Subscriber> Layer<S> for ForwardLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if FORWARDING.with(Cell::get) {
            return;
        }
        let meta = event.metadata();
        let mut v = MessageVisitor { message: String::new(), fields: String::new() };
        event.record(&mut v);
        v.message.push_str(&v.fields);
        let rec = LogRecord {
            seq: 0,
            time: Utc::now(),
            level: *meta.level(),
            target: meta.target().to_string(),
            message: v.message,
        };
        let rec = self.shared.ring.push(rec);
        let forwarder = self.shared.forwarder.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(f) = forwarder.as_ref() {
            FORWARDING.with(|c| c.set(true));
            f(&rec);
            FORWARDING.with(|c| c.set(false));
        }
    }
}
