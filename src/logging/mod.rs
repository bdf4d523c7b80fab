//! Logging: tracing to a private daily file, and to the Log pane through the bus.
//!
//! [`init`] installs the process-wide subscriber: a filter (level from config or
//! `--log-level`, with HTTP/TLS/websocket crates capped at `info`), a file layer writing
//! through `tracing_appender::non_blocking` into [`file::DailyFile`] (0600 files in a
//! 0700 directory, by default `~/.local/state/hoga/`), and the [`ForwardLayer`] feeding
//! the Log pane's ring. Nothing goes to stdout or stderr: the console owns the terminal.
//!
//! The returned [`LoggingHandle`] holds the appender's `WorkerGuard`; shutdown's flush
//! phase drops it, which writes out what is still buffered.

mod escape;
pub mod file;
pub mod layer;

use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use tracing::level_filters::LevelFilter;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;

pub(crate) use layer::ForwardLayer;
pub use layer::LogRecord;
pub use layer::LogRing;

/// Crates whose debug output is noise (and can carry request details): never above info.
pub(crate) const NOISY_TARGETS: &[&str] = &[
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "tungstenite",
    "tokio_tungstenite",
    "axum",
    "tower",
    "tower_http",
];

/// Where and how much to log.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Directory of the log files: created 0700 when missing; an existing one is never
    /// chmod'ed, and one writable by group or others is refused (see [`mod@file`]).
    pub dir: PathBuf,
    /// Most verbose level for hoga's own records.
    pub level: LevelFilter,
    /// Records the Log pane's ring keeps.
    pub(crate) ring_capacity: usize,
    /// Daily files kept.
    pub(crate) keep_files: usize,
}

impl LogOptions {
    /// Defaults for `dir` and `level`: a 2,000-record ring, 14 days of files.
    pub fn new(dir: PathBuf, level: LevelFilter) -> Self {
        LogOptions { dir, level, ring_capacity: 2000, keep_files: 14 }
    }
}

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The directory or file could not be created or opened.
    #[error("cannot open the log file in {dir}: {error}")]
    Open {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// A global subscriber was installed already.
    #[error("a tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// What the rest of the program keeps from logging.
pub struct LoggingHandle {
    /// The file being written now.
    pub file: PathBuf,
    /// The directory of the log files.
    pub dir: PathBuf,
    guard: Option<WorkerGuard>,
    shared: Arc<layer::ForwardShared>,
}

impl std::fmt::Debug for LoggingHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoggingHandle").field("file", &self.file).finish()
    }
}

impl LoggingHandle {
    /// The ring of recent records the Log pane reads.
    pub fn ring(&self) -> Arc<LogRing> {
        self.shared.ring.clone()
    }

    /// Sends every record also to `f` (for example: `bus.try_publish` on the logging
    /// lane). `f` runs inline where the record is logged and must not block.
    pub(crate) fn forward_to(&self, f: impl Fn(&LogRecord) + Send + Sync + 'static) {
        *self.shared.forwarder.write().unwrap_or_else(PoisonError::into_inner) = Some(Box::new(f));
    }

    /// Takes the appender's guard; dropping it flushes the file. Register the drop in
    /// shutdown's flush phase: `hooks.on_flush(move || drop(guard))`.
    pub(crate) fn take_guard(&mut self) -> Option<WorkerGuard> {
        self.guard.take()
    }
}

/// The filter: `level` for everything, noisy crates capped at `min(level, info)`.
pub fn filter(level: LevelFilter) -> Targets {
    let cap = level.min(LevelFilter::INFO);
    NOISY_TARGETS.iter().fold(Targets::new().with_default(level), |t, target| t.with_target(*target, cap))
}

/// Builds the subscriber without installing it (tests use it with
/// `tracing::subscriber::with_default`).
pub fn build(opts: &LogOptions) -> Result<(tracing::Dispatch, LoggingHandle), LoggingError> {
    let writer = file::DailyFile::open(&opts.dir, opts.keep_files)
        .map_err(|error| LoggingError::Open { dir: opts.dir.clone(), error })?;
    let path = writer.current_path();
    // Lossy when its buffer is full (tracing-appender's default, 128k lines): the audit
    // trail of orders lives in the journal, not in this file.
    let (non_blocking, guard) = tracing_appender::non_blocking(writer);
    let shared = Arc::new(layer::ForwardShared {
        ring: Arc::new(LogRing::new(opts.ring_capacity)),
        forwarder: RwLock::new(None),
    });
    let subscriber = tracing_subscriber::registry()
        .with(filter(opts.level))
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(non_blocking)
                .with_ansi(false)
                .with_target(true)
                .fmt_fields(escape::EscapedFields),
        )
        .with(ForwardLayer { shared: shared.clone() });
    let handle = LoggingHandle { file: path, dir: opts.dir.clone(), guard: Some(guard), shared };
    Ok((tracing::Dispatch::new(subscriber), handle))
}

/// Builds the subscriber and installs it for the whole process.
pub fn init(opts: &LogOptions) -> Result<LoggingHandle, LoggingError> {
    let (dispatch, handle) = build(opts)?;
    tracing::dispatcher::set_global_default(dispatch).map_err(|_| LoggingError::AlreadyInstalled)?;
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_is_private_records_reach_the_ring_and_noisy_targets_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let log_dir = dir.path().join("state").join("hoga");
        let (dispatch, mut handle) = build(&LogOptions::new(log_dir.clone(), LevelFilter::DEBUG)).unwrap();
        let forwarded = Arc::new(std::sync::Mutex::new(Vec::new()));
        let f = forwarded.clone();
        handle.forward_to(move |r| f.lock().unwrap().push(r.message.clone()));
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::debug!(target: "hoga::feed", market = "KRW-BTC", "subscribed");
            tracing::debug!(target: "hyper::proto", "noisy debug");
            tracing::info!(target: "hyper::proto", "hyper info passes");
            tracing::trace!(target: "hoga::feed", "too verbose");
        });
        drop(handle.take_guard());
        let text = std::fs::read_to_string(&handle.file).unwrap();
        assert!(text.contains("subscribed"), "{text}");
        assert!(text.contains("hyper info passes"), "{text}");
        assert!(!text.contains("noisy debug"), "{text}");
        assert!(!text.contains("too verbose"), "{text}");
        let ring = handle.ring().records();
        assert_eq!(ring.len(), 2);
        assert_eq!(ring[0].target, "hoga::feed");
        assert_eq!(ring[0].level, tracing::Level::DEBUG);
        assert_eq!(ring[0].message, "subscribed market=KRW-BTC");
        assert_eq!(forwarded.lock().unwrap().len(), 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&handle.file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "log file mode {mode:o}");
            let dmode = std::fs::metadata(&log_dir).unwrap().permissions().mode() & 0o777;
            assert_eq!(dmode, 0o700, "log dir mode {dmode:o}");
        }
    }

    #[test]
    fn control_characters_in_a_logged_field_are_escaped_on_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let (dispatch, mut handle) =
            build(&LogOptions::new(dir.path().join("log"), LevelFilter::INFO)).unwrap();
        let title = "\x1b[2J\x1b[31mPWNED\x1b]0;evil\x07\n2026-01-01T00:00:00Z  INFO forged\u{202e}";
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::info!(target: "hoga::console", title = %title, "notice {title}");
            tracing::info!(target: "hoga::console", "after");
        });
        drop(handle.take_guard());
        let text = std::fs::read_to_string(&handle.file).unwrap();
        assert!(!text.contains('\x1b') && !text.contains('\x07') && !text.contains('\u{202e}'), "{text:?}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        // The field in this layer's spelling; the message's ESC and BEL in tracing's own
        // (`\x1b`), its line break and bidi override in this layer's.
        let field = "title=\\u{1b}[2J\\u{1b}[31mPWNED\\u{1b}]0;evil\\u{7}\\n2026-01-01T00:00:00Z  INFO forged\\u{202e}";
        assert!(lines[0].ends_with(field), "{text}");
        assert!(lines[0].contains("notice \\x1b[2J\\x1b[31mPWNED\\x1b]0;evil\\x07\\n2026-01-01"), "{text}");
        let ring = handle.ring().records();
        assert!(
            ring[0].message.starts_with("notice \\u{1b}[2J") && !ring[0].message.contains('\n'),
            "{ring:?}"
        );
    }

    #[test]
    fn ring_drops_oldest_and_counts() {
        let ring = LogRing::new(2);
        for i in 0..5 {
            ring.push(LogRecord {
                seq: 0,
                time: chrono::Utc::now(),
                level: tracing::Level::INFO,
                target: "t".into(),
                message: format!("m{i}"),
            });
        }
        let kept: Vec<_> = ring.records().into_iter().map(|r| r.message).collect();
        assert_eq!(kept, vec!["m3", "m4"]);
        assert_eq!(ring.dropped(), 3);
        assert_eq!(ring.last_seq(), 5);
        assert_eq!(ring.since(4).len(), 1);
    }
}
