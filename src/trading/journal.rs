//! The order journal: SQLite (WAL, synchronous FULL), the durable audit trail and the
//! recovery handle for every order.
//!
//! Every intent is committed with our own identifier **before** the order is sent; acks,
//! fills (deduped by trade uuid, the primary key), state changes and cancels are
//! appended. Non-terminal intents are what reconciliation walks on start and after a
//! reconnect. If a write fails (disk full, `SQLITE_BUSY`, read-only file) the caller must
//! not send (docs/RELIABILITY.md case 34). In live mode a missing or corrupt file refuses to open
//! unless the user explicitly allows a fresh one (case 35). An exclusive lock file makes a
//! second instance read-only (case 36). Persisted rules and alerts live here too.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::exchange::types::{Fill, MarketId, OrderType, Side, TimeInForce};
use crate::trading::orders::{LocalState, OrderRequest, TrackedOrder, ord_type_str, side_str, tif_str};
use crate::trading::rules::{Alert, Rule};

/// Version 2 added `orders.unconfirmed_since_ms` (when an unanswered create was first
/// found missing, so the unconfirmed probing window survives a restart). Version-1 files
/// are migrated in place on open; the new column is NULL for their rows.
const SCHEMA_VERSION: i64 = 2;

/// Journal failures. Any of them on an intent means "do not send".
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// SQLite failed (busy, disk full, I/O, read-only file).
    #[error("journal {path}: {source}")]
    Sqlite {
        /// File.
        path: String,
        /// Cause.
        #[source]
        source: rusqlite::Error,
    },
    /// Creating or locking a file failed.
    #[error("journal {path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Opened read-only (another instance holds the lock): no writes.
    #[error("journal {0} is read-only: another hoga instance holds its lock")]
    ReadOnly(String),
    /// Live mode and the file does not exist.
    #[error(
        "live journal {0} does not exist; live trading refuses to start without it (it is the record of in-flight orders). Restore it from a backup; only if there is none, start once with `{cmd}` to create an empty one (open orders are then reconciled from the exchange)",
        cmd = LIVE_NEW_JOURNAL_COMMAND
    )]
    Missing(String),
    /// The file is not a valid hoga journal (SQLite says corrupt or not a database, or
    /// the schema is missing). Never used for a file that merely cannot be read or
    /// written: that is [`JournalError::Permission`].
    #[error("{}", corrupt_message(.path, .why, *.live))]
    Corrupt {
        /// File.
        path: String,
        /// What was wrong.
        why: String,
        /// Live mode (the advice differs: paper may simply start a new file).
        live: bool,
    },
    /// The file or its directory may not be read or written (permissions, read-only
    /// filesystem). The journal itself is not damaged, so no fresh journal is advised.
    #[error(
        "{mode} journal {path}: permission denied while {action} ({source}). The journal is not corrupt and was not changed: make the file and its directory readable and writable by this user (or remount a read-only filesystem read-write), then start again"
    )]
    Permission {
        /// `live` or `paper`.
        mode: &'static str,
        /// The file or directory that refused.
        path: String,
        /// What hoga was doing.
        action: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An intent with this identifier already exists.
    #[error("identifier {0} is already in the journal")]
    DuplicateIdentifier(String),
    /// A stored row did not parse.
    #[error("journal row {0}: {1}")]
    BadRow(String, String),
}

/// The command that creates a new, empty live journal (named in the messages above).
pub(crate) const LIVE_NEW_JOURNAL_COMMAND: &str = "hoga --mode live --new-journal";

fn corrupt_message(path: &str, why: &str, live: bool) -> String {
    if live {
        format!(
            "live journal {path} is corrupt ({why}); live trading refuses to start. Restore it from a backup; only if there is none, move it aside and start once with `{LIVE_NEW_JOURNAL_COMMAND}` (open orders are then reconciled from the exchange)"
        )
    } else {
        format!(
            "paper journal {path} is corrupt ({why}); paper trading cannot start with it. Move it aside (or restore a backup): paper mode then starts a new one"
        )
    }
}

fn mode_name(opts: &JournalOptions) -> &'static str {
    if opts.live { "live" } else { "paper" }
}

/// An I/O error on `path` while doing `action`: a permission or read-only-filesystem
/// error becomes [`JournalError::Permission`], a symbolic link is refused by name, the
/// rest stays [`JournalError::Io`].
fn io_error(
    opts: &JournalOptions,
    action: &'static str,
    path: &Path,
    source: std::io::Error,
) -> JournalError {
    let p = path.display().to_string();
    match source.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            JournalError::Permission { mode: mode_name(opts), path: p, action, source }
        }
        _ if source.raw_os_error() == Some(libc::ELOOP) => JournalError::Io {
            path: p,
            source: std::io::Error::new(
                source.kind(),
                "is a symbolic link; hoga does not follow links for its journal files",
            ),
        },
        _ => JournalError::Io { path: p, source },
    }
}

/// A SQLite error while opening or checking the file: corrupt / not-a-database is
/// [`JournalError::Corrupt`]; "cannot open", "read-only" and permission codes mean the
/// file or its directory (where SQLite creates `-wal` and `-shm`) is not writable, which
/// is [`JournalError::Permission`]; anything else stays [`JournalError::Sqlite`].
fn sqlite_open_error(opts: &JournalOptions, path: &Path, source: rusqlite::Error) -> JournalError {
    use rusqlite::ErrorCode as C;
    let p = path.display().to_string();
    match source.sqlite_error_code() {
        Some(C::DatabaseCorrupt | C::NotADatabase) => {
            JournalError::Corrupt { path: p, why: source.to_string(), live: opts.live }
        }
        Some(C::CannotOpen | C::ReadOnly | C::PermissionDenied | C::AuthorizationForStatementDenied) => {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            JournalError::Permission {
                mode: mode_name(opts),
                path: format!("{p} (or its directory {})", dir.display()),
                action: "opening it with SQLite",
                source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, source.to_string()),
            }
        }
        _ => JournalError::Sqlite { path: p, source },
    }
}

/// [`io_error`] as a `map_err` argument.
fn io_at<'a>(
    opts: &'a JournalOptions,
    action: &'static str,
    at: &'a Path,
) -> impl FnOnce(std::io::Error) -> JournalError + 'a {
    move |e| io_error(opts, action, at, e)
}

/// Options for opening journal files: never follow a symbolic link, create 0600.
fn private_file_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    o
}

/// How to open the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalOptions {
    /// Live mode: a missing or corrupt file is an error.
    pub live: bool,
    /// Explicitly allow a fresh file in live mode (a reconcile-from-venue run must follow).
    pub allow_fresh: bool,
    /// How long a write waits for a lock before failing with `SQLITE_BUSY`.
    pub busy_timeout: Duration,
    /// How long [`Journal::open`] waits for the instance lock another process holds
    /// before it settles for a read-only journal: an instance that is exiting (a restart
    /// right after a SIGHUP or a quit) lets go within a moment, and the new one should
    /// then trade, not refuse. Zero: no wait.
    pub lock_wait: Duration,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            live: false,
            allow_fresh: false,
            busy_timeout: Duration::from_millis(250),
            lock_wait: Duration::ZERO,
        }
    }
}

/// How often [`Journal::open`] tries the instance lock again while it waits for it.
const LOCK_POLL: Duration = Duration::from_millis(50);

/// Export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExportFormat {
    /// Two CSV tables (orders, then fills) separated by a blank line.
    Csv,
    /// `{"orders":[…],"fills":[…]}`.
    Json,
}

/// One order row, as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderRow {
    /// Our identifier.
    pub identifier: String,
    /// Venue uuid.
    pub uuid: Option<String>,
    /// Market.
    pub market: String,
    /// `bid`/`ask`.
    pub side: String,
    /// Order type.
    pub ord_type: String,
    /// Price or total.
    pub price: Option<String>,
    /// Volume.
    pub volume: Option<String>,
    /// Time in force.
    pub time_in_force: Option<String>,
    /// Local state.
    pub state: String,
    /// Executed volume.
    pub executed_volume: String,
    /// Executed funds.
    pub executed_funds: String,
    /// Fees paid.
    pub paid_fee: String,
    /// Reason or note.
    pub reason: Option<String>,
    /// Rule that created it.
    pub rule_id: Option<String>,
    /// Who asked (`manual`, `rule`, `adopted`).
    pub origin: String,
    /// Created (Unix ms).
    pub created_ms: i64,
    /// Last update (Unix ms).
    pub updated_ms: i64,
}

/// One fill row, as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct FillRow {
    /// Trade uuid.
    pub trade_uuid: String,
    /// Order uuid.
    pub order_uuid: String,
    /// Our identifier, when known.
    pub identifier: Option<String>,
    /// Market.
    pub market: String,
    /// Side.
    pub side: String,
    /// Price.
    pub price: String,
    /// Volume.
    pub volume: String,
    /// Funds.
    pub funds: String,
    /// Fee.
    pub fee: Option<String>,
    /// Fill time (ms).
    pub timestamp: i64,
}

/// The journal. Not `Sync`: the order manager keeps it behind a mutex.
pub struct Journal {
    conn: Connection,
    path: String,
    read_only: bool,
    // Held for the life of the journal: the flock is released when this file closes.
    _lock: Option<File>,
    /// (device, inode) of the file at `path` when it was opened: every write checks the
    /// path still names that file (see [`Journal::check_identity`]). `None` in memory and
    /// read-only.
    identity: Option<(u64, u64)>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).field("read_only", &self.read_only).finish()
    }
}

/// Runs `f` where a tokio task may block: inside [`tokio::task::block_in_place`] on a
/// multi-thread runtime worker, inline anywhere else.
///
/// Why: every journal write is a SQLite commit with `synchronous=FULL`, which waits for an
/// fsync (milliseconds, more on a busy disk). The writers are the order manager and the
/// monitor, both async tasks that call the journal synchronously (an intent must be
/// committed before its order is sent, and the manager's code holds the journal lock
/// across plain method calls, not across awaits). `block_in_place` hands this worker's
/// other tasks to another thread for the duration and keeps every caller and the
/// commit-before-send order unchanged; `spawn_blocking` or a journal thread would have
/// turned every call site into an await and the journal lock into an async one. It is
/// not available on a current-thread runtime (tests, where nothing else waits on the
/// worker) and not needed outside a runtime (the `journal` subcommand), so those run
/// inline. Nested calls (a write inside a monitor batch) run inline too.
pub(crate) fn blocking<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// (device, inode) of the file at `path`, without following a symbolic link.
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The default journal file: `~/.local/share/hoga/journal.sqlite`.
pub(crate) fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "hoga").map(|d| d.data_dir().join("journal.sqlite"))
}

/// Takes the exclusive instance lock on `lock`, trying again every [`LOCK_POLL`] for up
/// to `wait` while another process holds it. Ok(false): still held after the wait.
fn take_lock(lock: &File, wait: Duration) -> std::io::Result<bool> {
    let deadline = std::time::Instant::now() + wait;
    let mut said = false;
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(true),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        if !said {
            said = true;
            tracing::info!(
                wait_ms = wait.as_millis() as u64,
                "another hoga instance holds the journal's lock; waiting for it to let go"
            );
        }
        // At start, before anything trades: the worker may wait here.
        blocking(|| std::thread::sleep(LOCK_POLL.min(deadline - now)));
    }
}

impl Journal {
    /// Opens (creating when allowed) the journal at `path`, takes the instance lock, and
    /// checks the schema. A second instance gets a read-only journal.
    ///
    /// A missing directory is created 0700 (an existing one is left as it is); the file
    /// and its lock are created 0600 and never opened through a symbolic link. A file or
    /// directory that cannot be read or written is a [`JournalError::Permission`], never
    /// "corrupt".
    pub fn open(path: &Path, opts: &JournalOptions) -> Result<Journal, JournalError> {
        let p = path.display().to_string();
        // symlink_metadata: a link (even a dangling one) counts as existing, and is
        // refused below by O_NOFOLLOW rather than silently replaced.
        let existed = path.symlink_metadata().is_ok();
        if !existed && opts.live && !opts.allow_fresh {
            return Err(JournalError::Missing(p));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io_at(
                opts,
                "creating its directory",
                dir,
            ))?;
            // Never chmod'ed (it may be shared on purpose), but said: in a directory others
            // may write, they could plant SQLite's -wal / -shm files next to the journal.
            if let Ok(meta) = std::fs::metadata(dir)
                && meta.permissions().mode() & 0o022 != 0
            {
                tracing::warn!(
                    dir = %dir.display(),
                    mode = format!("{:04o}", meta.permissions().mode() & 0o7777),
                    "the journal's directory is writable by group or others; keep journals in a private directory"
                );
            }
        }
        // The lock file: the first instance holds an exclusive flock for its lifetime.
        let lock_path = path.with_extension("lock");
        let lock = private_file_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_at(opts, "creating its lock file", &lock_path))?;
        let locked =
            take_lock(&lock, opts.lock_wait).map_err(|e| io_error(opts, "locking it", &lock_path, e))?;
        if !locked {
            if !existed {
                return Err(JournalError::ReadOnly(p));
            }
            return Journal::open_read_only(path);
        }
        if !existed {
            // Created with 0600 from the first byte, not chmod'ed afterwards.
            private_file_options().create_new(true).write(true).open(path).map_err(io_at(
                opts,
                "creating it",
                path,
            ))?;
        } else {
            // Opened for reading and writing, as SQLite will: a read-only file is named
            // here as a permission problem before SQLite can call it anything else.
            let file = private_file_options().read(true).write(true).open(path).map_err(io_at(
                opts,
                "opening it for reading and writing",
                path,
            ))?;
            let meta = file.metadata().map_err(io_at(opts, "reading its metadata", path))?;
            if meta.len() == 0 && opts.live && !opts.allow_fresh {
                return Err(JournalError::Corrupt { path: p, why: "empty file".into(), live: opts.live });
            }
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(path = %p, "journal file is readable by others; tightening to 0600");
                file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io_at(
                    opts,
                    "tightening its mode to 0600",
                    path,
                ))?;
            }
        }
        let sql = |source| JournalError::Sqlite { path: p.clone(), source };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| sqlite_open_error(opts, path, e))?;
        conn.busy_timeout(opts.busy_timeout).map_err(sql)?;
        let check: Result<String, _> = conn.query_row("PRAGMA quick_check", [], |r| r.get(0));
        match check {
            Ok(s) if s == "ok" => {}
            Ok(s) => return Err(JournalError::Corrupt { path: p, why: s, live: opts.live }),
            Err(e) => return Err(sqlite_open_error(opts, path, e)),
        }
        let has_schema: bool = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n > 0)
            .map_err(|e| sqlite_open_error(opts, path, e))?;
        if existed && !has_schema && opts.live && !opts.allow_fresh {
            return Err(JournalError::Corrupt {
                path: p,
                why: "no hoga journal schema".into(),
                live: opts.live,
            });
        }
        conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| sqlite_open_error(opts, path, e))?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
        let j = Journal { conn, path: p, read_only: false, _lock: Some(lock), identity: file_identity(path) };
        j.migrate()?;
        Ok(j)
    }

    /// Opens an existing journal read-only, without the lock (export, second instance).
    pub fn open_read_only(path: &Path) -> Result<Journal, JournalError> {
        let p = path.display().to_string();
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| JournalError::Sqlite { path: p.clone(), source })?;
        Ok(Journal { conn, path: p, read_only: true, _lock: None, identity: None })
    }

    /// A private in-memory journal (tests, demo).
    pub fn in_memory() -> Result<Journal, JournalError> {
        let conn = Connection::open_in_memory()
            .map_err(|source| JournalError::Sqlite { path: ":memory:".into(), source })?;
        let j = Journal { conn, path: ":memory:".into(), read_only: false, _lock: None, identity: None };
        j.migrate()?;
        Ok(j)
    }

    /// True when this instance may not write.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The file path.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn sql(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Sqlite { path: self.path.clone(), source }
    }

    /// One write: refused when this instance may not write; otherwise run through
    /// [`blocking`], because the commit waits for its fsync (the identity check's `stat`
    /// is file I/O too). An in-memory journal has no fsync and runs inline.
    fn write<R>(&self, f: impl FnOnce() -> Result<R, JournalError>) -> Result<R, JournalError> {
        if self.path == ":memory:" {
            self.writable()?;
            return f();
        }
        blocking(|| {
            self.writable()?;
            f()
        })
    }

    fn writable(&self) -> Result<(), JournalError> {
        if self.read_only {
            return Err(JournalError::ReadOnly(self.path.clone()));
        }
        self.check_identity()
    }

    /// Fails when the path no longer names the file this journal opened: it was renamed
    /// away, deleted, or replaced by another file while hoga was running. SQLite would go
    /// on writing to the old file through its open descriptor, and the next start would
    /// open the new one and never see those intents; so every write refuses instead (new
    /// orders are denied with this message, cancels still go out). One `stat` per write.
    pub(crate) fn check_identity(&self) -> Result<(), JournalError> {
        let Some(opened) = self.identity else { return Ok(()) };
        let now = file_identity(Path::new(&self.path));
        if now == Some(opened) {
            return Ok(());
        }
        let what = if now.is_none() { "removed or renamed" } else { "replaced by another file" };
        Err(JournalError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(format!(
                "the journal file was {what} while hoga was running; new orders are refused because their intents would not be found by the next start. Put the file back, or quit and restart hoga (open orders are reconciled from the exchange)"
            )),
        })
    }

    fn migrate(&self) -> Result<(), JournalError> {
        self.conn
            .execute_batch(
                "BEGIN;
                 CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE IF NOT EXISTS orders(
                    identifier TEXT PRIMARY KEY, uuid TEXT, market TEXT NOT NULL, side TEXT NOT NULL,
                    ord_type TEXT NOT NULL, price TEXT, volume TEXT, time_in_force TEXT,
                    state TEXT NOT NULL, executed_volume TEXT NOT NULL, executed_funds TEXT NOT NULL,
                    paid_fee TEXT NOT NULL, reason TEXT, rule_id TEXT, origin TEXT NOT NULL,
                    probes INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
                 CREATE INDEX IF NOT EXISTS orders_state ON orders(state);
                 CREATE TABLE IF NOT EXISTS fills(
                    trade_uuid TEXT PRIMARY KEY, order_uuid TEXT NOT NULL, identifier TEXT, market TEXT NOT NULL,
                    side TEXT NOT NULL, price TEXT NOT NULL, volume TEXT NOT NULL, funds TEXT NOT NULL,
                    fee TEXT, ts INTEGER NOT NULL);
                 CREATE TABLE IF NOT EXISTS events(
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, identifier TEXT, kind TEXT NOT NULL,
                    detail TEXT NOT NULL, at_ms INTEGER NOT NULL);
                 CREATE TABLE IF NOT EXISTS rules(id TEXT PRIMARY KEY, json TEXT NOT NULL, updated_ms INTEGER NOT NULL);
                 CREATE TABLE IF NOT EXISTS alerts(id TEXT PRIMARY KEY, json TEXT NOT NULL, updated_ms INTEGER NOT NULL);
                 COMMIT;",
            )
            .map_err(|e| self.sql(e))?;
        self.conn
            .execute("INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '1')", [])
            .map_err(|e| self.sql(e))?;
        self.migrate_to_2()?;
        Ok(())
    }

    /// Schema 1 → 2: the `unconfirmed_since_ms` column. Idempotent (the column is added
    /// only when missing), so a half-finished migration is finished on the next open.
    fn migrate_to_2(&self) -> Result<(), JournalError> {
        let has_column: bool = self
            .conn
            .query_row(
                "SELECT count(*) FROM pragma_table_info('orders') WHERE name='unconfirmed_since_ms'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.sql(e))?;
        if !has_column {
            self.conn
                .execute_batch("ALTER TABLE orders ADD COLUMN unconfirmed_since_ms INTEGER")
                .map_err(|e| self.sql(e))?;
        }
        self.conn
            .execute(
                "UPDATE meta SET value=?1 WHERE key='schema_version' AND CAST(value AS INTEGER) < ?2",
                params![SCHEMA_VERSION.to_string(), SCHEMA_VERSION],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// The schema version stored in the file.
    pub fn schema_version(&self) -> Result<i64, JournalError> {
        let v: String = self
            .conn
            .query_row("SELECT value FROM meta WHERE key='schema_version'", [], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        Ok(v.parse().unwrap_or(0))
    }

    /// Marks an order unconfirmed from now unless it already is; returns when it first
    /// became unconfirmed (Unix ms), so the probing window survives a restart.
    pub fn mark_unconfirmed(&self, identifier: &str) -> Result<i64, JournalError> {
        self.write(|| {
            self.conn
                .execute(
                    "UPDATE orders SET unconfirmed_since_ms = COALESCE(unconfirmed_since_ms, ?2) WHERE identifier=?1",
                    params![identifier, now_ms()],
                )
                .map_err(|e| self.sql(e))?;
            let since: Option<i64> = self
                .conn
                .query_row(
                    "SELECT unconfirmed_since_ms FROM orders WHERE identifier=?1",
                    params![identifier],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.sql(e))?
                .flatten();
            Ok(since.unwrap_or_else(now_ms))
        })
    }

    /// Records a new intent durably (committed before this returns). `origin` is
    /// `manual`, `rule` or `adopted`.
    pub fn record_intent(&self, o: &TrackedOrder, origin: &str) -> Result<(), JournalError> {
        self.write(|| {
            let r = &o.request;
            let now = now_ms();
            let res = self.conn.execute(
                "INSERT INTO orders(identifier, uuid, market, side, ord_type, price, volume, time_in_force, state,
                    executed_volume, executed_funds, paid_fee, reason, rule_id, origin, created_ms, updated_ms)
                 VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?16)",
                params![
                    o.identifier,
                    o.uuid,
                    r.market.as_str(),
                    side_str(r.side),
                    ord_type_str(r.ord_type),
                    r.price.map(|v| v.to_string()),
                    r.volume.map(|v| v.to_string()),
                    r.time_in_force.map(tif_str),
                    o.state.as_str(),
                    o.executed_volume.to_string(),
                    o.executed_funds.to_string(),
                    o.paid_fee.to_string(),
                    o.reason,
                    o.rule_id,
                    origin,
                    now
                ],
            );
            match res {
                Ok(_) => {}
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    return Err(JournalError::DuplicateIdentifier(o.identifier.clone()));
                }
                Err(e) => return Err(self.sql(e)),
            }
            self.event(Some(&o.identifier), "intent", origin)
        })
    }

    /// Stores the current state of an order (ack, state change, cumulative figures).
    pub fn update_order(&self, o: &TrackedOrder) -> Result<(), JournalError> {
        self.write(|| {
            self.conn
                .execute(
                    "UPDATE orders SET uuid=?2, state=?3, executed_volume=?4, executed_funds=?5, paid_fee=?6,
                        reason=?7, updated_ms=?8 WHERE identifier=?1",
                    params![
                        o.identifier,
                        o.uuid,
                        o.state.as_str(),
                        o.executed_volume.to_string(),
                        o.executed_funds.to_string(),
                        o.paid_fee.to_string(),
                        o.reason,
                        now_ms()
                    ],
                )
                .map_err(|e| self.sql(e))?;
            Ok(())
        })
    }

    /// Appends an audit event (`sent`, `ack`, `cancel_requested`, `reconciled`, …).
    pub fn event(&self, identifier: Option<&str>, kind: &str, detail: &str) -> Result<(), JournalError> {
        self.write(|| {
            self.conn
                .execute(
                    "INSERT INTO events(identifier, kind, detail, at_ms) VALUES(?1,?2,?3,?4)",
                    params![identifier, kind, detail, now_ms()],
                )
                .map_err(|e| self.sql(e))?;
            Ok(())
        })
    }

    /// Records a fill; false when this trade uuid was already recorded.
    pub(crate) fn record_fill(&self, identifier: Option<&str>, f: &Fill) -> Result<bool, JournalError> {
        self.write(|| {
            let n = self
                .conn
                .execute(
                    "INSERT OR IGNORE INTO fills(trade_uuid, order_uuid, identifier, market, side, price, volume, funds, fee, ts)
                     VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
                    params![
                        f.trade_uuid,
                        f.order_uuid,
                        identifier,
                        f.market.as_str(),
                        // The manager journals resolved fills only; never a guessed side.
                        f.side.map_or("unknown", side_str),
                        f.price.to_string(),
                        f.volume.to_string(),
                        f.funds.to_string(),
                        f.fee.map(|v| v.to_string()),
                        f.timestamp
                    ],
                )
                .map_err(|e| self.sql(e))?;
            // Between the fill row and the order row the manager stores next.
            crate::kernel::failpoint::hit("journal.fill_write");
            Ok(n > 0)
        })
    }

    /// Counts one more "not found" probe of an intent during reconciliation; returns the
    /// new count.
    pub(crate) fn bump_probe(&self, identifier: &str) -> Result<u32, JournalError> {
        self.write(|| {
            self.conn
                .execute("UPDATE orders SET probes = probes + 1 WHERE identifier=?1", params![identifier])
                .map_err(|e| self.sql(e))?;
            let n: i64 = self
                .conn
                .query_row("SELECT probes FROM orders WHERE identifier=?1", params![identifier], |r| r.get(0))
                .map_err(|e| self.sql(e))?;
            Ok(u32::try_from(n).unwrap_or(u32::MAX))
        })
    }

    fn row_to_order(&self, row: &rusqlite::Row<'_>) -> Result<TrackedOrder, JournalError> {
        let get = |i: usize| -> Result<Option<String>, JournalError> { row.get(i).map_err(|e| self.sql(e)) };
        let ident = get(0)?.unwrap_or_default();
        let bad = |what: &str| JournalError::BadRow(ident.clone(), what.to_string());
        let dec = |s: Option<String>| -> Result<Option<Decimal>, JournalError> {
            s.map(|s| Decimal::from_str(&s).map_err(|_| bad(&format!("decimal {s:?}")))).transpose()
        };
        let side = match get(3)?.as_deref() {
            Some("bid") => Side::Bid,
            Some("ask") => Side::Ask,
            other => return Err(bad(&format!("side {other:?}"))),
        };
        // A type hoga does not know (an adopted order of a new kind) is kept as written.
        let ord_type = match get(4)?.as_deref() {
            Some(t) if !t.is_empty() => OrderType::from_wire(t),
            other => return Err(bad(&format!("ord_type {other:?}"))),
        };
        let time_in_force = match get(7)?.as_deref() {
            None => None,
            Some("ioc") => Some(TimeInForce::Ioc),
            Some("fok") => Some(TimeInForce::Fok),
            Some("post_only") => Some(TimeInForce::PostOnly),
            other => return Err(bad(&format!("time_in_force {other:?}"))),
        };
        let state_s = get(8)?.unwrap_or_default();
        let state = LocalState::parse(&state_s).ok_or_else(|| bad(&format!("state {state_s:?}")))?;
        let request = OrderRequest {
            market: MarketId::new(&get(2)?.unwrap_or_default()),
            side,
            ord_type,
            price: dec(get(5)?)?,
            volume: dec(get(6)?)?,
            time_in_force,
        };
        let mut o = TrackedOrder::new(ident.clone(), request);
        o.uuid = get(1)?;
        o.state = state;
        o.executed_volume = dec(get(9)?)?.unwrap_or_default();
        o.executed_funds = dec(get(10)?)?.unwrap_or_default();
        o.paid_fee = dec(get(11)?)?.unwrap_or_default();
        o.reason = get(12)?;
        o.rule_id = get(13)?;
        Ok(o)
    }

    const ORDER_COLS: &'static str =
        "identifier, uuid, market, side, ord_type, price, volume, time_in_force, state,
        executed_volume, executed_funds, paid_fee, reason, rule_id";

    fn load_where(&self, clause: &str, arg: Option<&str>) -> Result<Vec<TrackedOrder>, JournalError> {
        let q = format!("SELECT {} FROM orders {clause} ORDER BY created_ms, identifier", Self::ORDER_COLS);
        let mut stmt = self.conn.prepare(&q).map_err(|e| self.sql(e))?;
        let mut rows = match arg {
            Some(a) => stmt.query(params![a]),
            None => stmt.query([]),
        }
        .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.sql(e))? {
            let mut o = self.row_to_order(row)?;
            o.fill_ids = self.fill_ids(&o.identifier, o.uuid.as_deref())?;
            out.push(o);
        }
        Ok(out)
    }

    fn fill_ids(
        &self,
        identifier: &str,
        uuid: Option<&str>,
    ) -> Result<std::collections::HashSet<String>, JournalError> {
        let mut stmt = self
            .conn
            .prepare("SELECT trade_uuid FROM fills WHERE identifier=?1 OR order_uuid=?2")
            .map_err(|e| self.sql(e))?;
        let ids = stmt
            .query_map(params![identifier, uuid.unwrap_or("")], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql(e))?;
        Ok(ids)
    }

    /// Every order not in a terminal state (what reconciliation must resolve).
    pub fn open_orders(&self) -> Result<Vec<TrackedOrder>, JournalError> {
        self.load_where("WHERE state NOT IN ('filled','canceled','rejected')", None)
    }

    /// One order by identifier.
    pub fn order(&self, identifier: &str) -> Result<Option<TrackedOrder>, JournalError> {
        Ok(self.load_where("WHERE identifier=?1", Some(identifier))?.pop())
    }

    /// Identifier of the order with this venue uuid.
    pub(crate) fn identifier_for_uuid(&self, uuid: &str) -> Result<Option<String>, JournalError> {
        self.conn
            .query_row("SELECT identifier FROM orders WHERE uuid=?1", params![uuid], |r| r.get(0))
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// Number of fills recorded.
    pub fn fill_count(&self) -> Result<usize, JournalError> {
        let n: i64 =
            self.conn.query_row("SELECT count(*) FROM fills", [], |r| r.get(0)).map_err(|e| self.sql(e))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Audit events of one order, oldest first: (kind, detail).
    pub fn events_for(&self, identifier: &str) -> Result<Vec<(String, String)>, JournalError> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, detail FROM events WHERE identifier=?1 ORDER BY seq")
            .map_err(|e| self.sql(e))?;
        let v = stmt
            .query_map(params![identifier], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.sql(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql(e))?;
        Ok(v)
    }

    /// Audit events of one kind that belong to no order, oldest first: (time ms, detail).
    pub(crate) fn events_of_kind(&self, kind: &str) -> Result<Vec<(i64, String)>, JournalError> {
        let mut stmt = self
            .conn
            .prepare("SELECT at_ms, detail FROM events WHERE identifier IS NULL AND kind=?1 ORDER BY seq")
            .map_err(|e| self.sql(e))?;
        let v = stmt
            .query_map(params![kind], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.sql(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql(e))?;
        Ok(v)
    }

    // ---- rules and alerts

    fn save_json(&self, table: &str, id: &str, json: String) -> Result<(), JournalError> {
        self.write(|| {
            self.conn
                .execute(
                    &format!("INSERT INTO {table}(id, json, updated_ms) VALUES(?1,?2,?3) ON CONFLICT(id) DO UPDATE SET json=?2, updated_ms=?3"),
                    params![id, json, now_ms()],
                )
                .map_err(|e| self.sql(e))?;
            Ok(())
        })
    }

    fn load_json<T: serde::de::DeserializeOwned>(&self, table: &str) -> Result<Vec<T>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT id, json FROM {table} ORDER BY id"))
            .map_err(|e| self.sql(e))?;
        let rows: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.sql(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql(e))?;
        rows.into_iter()
            .map(|(id, j)| serde_json::from_str(&j).map_err(|e| JournalError::BadRow(id, e.to_string())))
            .collect()
    }

    /// Persists a rule (insert or update).
    pub(crate) fn save_rule(&self, rule: &Rule) -> Result<(), JournalError> {
        let json =
            serde_json::to_string(rule).map_err(|e| JournalError::BadRow(rule.id.clone(), e.to_string()))?;
        crate::kernel::failpoint::hit("journal.rule_save");
        self.save_json("rules", &rule.id, json)
    }

    /// Every persisted rule.
    pub fn load_rules(&self) -> Result<Vec<Rule>, JournalError> {
        self.load_json("rules")
    }

    /// Deletes a rule.
    pub(crate) fn delete_rule(&self, id: &str) -> Result<(), JournalError> {
        self.write(|| {
            self.conn.execute("DELETE FROM rules WHERE id=?1", params![id]).map_err(|e| self.sql(e))?;
            Ok(())
        })
    }

    /// Deletes an alert (disarmed).
    pub(crate) fn delete_alert(&self, id: &str) -> Result<(), JournalError> {
        self.write(|| {
            self.conn.execute("DELETE FROM alerts WHERE id=?1", params![id]).map_err(|e| self.sql(e))?;
            Ok(())
        })
    }

    /// Persists an alert.
    pub(crate) fn save_alert(&self, alert: &Alert) -> Result<(), JournalError> {
        let json = serde_json::to_string(alert)
            .map_err(|e| JournalError::BadRow(alert.id.clone(), e.to_string()))?;
        self.save_json("alerts", &alert.id, json)
    }

    /// Every persisted alert.
    pub fn load_alerts(&self) -> Result<Vec<Alert>, JournalError> {
        self.load_json("alerts")
    }

    // ---- export

    /// Every order row for export.
    pub fn order_rows(&self) -> Result<Vec<OrderRow>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT identifier, uuid, market, side, ord_type, price, volume, time_in_force, state, executed_volume,
                    executed_funds, paid_fee, reason, rule_id, origin, created_ms, updated_ms
                 FROM orders ORDER BY created_ms, identifier",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(OrderRow {
                    identifier: r.get(0)?,
                    uuid: r.get(1)?,
                    market: r.get(2)?,
                    side: r.get(3)?,
                    ord_type: r.get(4)?,
                    price: r.get(5)?,
                    volume: r.get(6)?,
                    time_in_force: r.get(7)?,
                    state: r.get(8)?,
                    executed_volume: r.get(9)?,
                    executed_funds: r.get(10)?,
                    paid_fee: r.get(11)?,
                    reason: r.get(12)?,
                    rule_id: r.get(13)?,
                    origin: r.get(14)?,
                    created_ms: r.get(15)?,
                    updated_ms: r.get(16)?,
                })
            })
            .map_err(|e| self.sql(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql(e))?;
        Ok(rows)
    }

    /// Every fill row for export.
    pub(crate) fn fill_rows(&self) -> Result<Vec<FillRow>, JournalError> {
        self.fill_rows_by("ts, trade_uuid")
    }

    /// Every fill row in the order the order manager counted them (the exchange's times
    /// come from another clock and may disagree with it).
    pub(crate) fn fill_rows_as_counted(&self) -> Result<Vec<FillRow>, JournalError> {
        self.fill_rows_by("rowid")
    }

    fn fill_rows_by(&self, order: &str) -> Result<Vec<FillRow>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT trade_uuid, order_uuid, identifier, market, side, price, volume, funds, fee, ts
                 FROM fills ORDER BY {order}"
            ))
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(FillRow {
                    trade_uuid: r.get(0)?,
                    order_uuid: r.get(1)?,
                    identifier: r.get(2)?,
                    market: r.get(3)?,
                    side: r.get(4)?,
                    price: r.get(5)?,
                    volume: r.get(6)?,
                    funds: r.get(7)?,
                    fee: r.get(8)?,
                    timestamp: r.get(9)?,
                })
            })
            .map_err(|e| self.sql(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sql(e))?;
        Ok(rows)
    }

    /// Orders and fills as CSV or JSON.
    pub(crate) fn export(&self, format: ExportFormat) -> Result<String, JournalError> {
        let orders = self.order_rows()?;
        let fills = self.fill_rows()?;
        match format {
            ExportFormat::Json => {
                #[derive(Serialize)]
                struct Doc<'a> {
                    orders: &'a [OrderRow],
                    fills: &'a [FillRow],
                }
                serde_json::to_string_pretty(&Doc { orders: &orders, fills: &fills })
                    .map_err(|e| JournalError::BadRow("export".into(), e.to_string()))
            }
            ExportFormat::Csv => {
                let mut out = String::from(
                    "identifier,uuid,market,side,ord_type,price,volume,time_in_force,state,executed_volume,executed_funds,paid_fee,reason,rule_id,origin,created_ms,updated_ms\n",
                );
                for o in &orders {
                    let cells = [
                        o.identifier.clone(),
                        o.uuid.clone().unwrap_or_default(),
                        o.market.clone(),
                        o.side.clone(),
                        o.ord_type.clone(),
                        o.price.clone().unwrap_or_default(),
                        o.volume.clone().unwrap_or_default(),
                        o.time_in_force.clone().unwrap_or_default(),
                        o.state.clone(),
                        o.executed_volume.clone(),
                        o.executed_funds.clone(),
                        o.paid_fee.clone(),
                        o.reason.clone().unwrap_or_default(),
                        o.rule_id.clone().unwrap_or_default(),
                        o.origin.clone(),
                        o.created_ms.to_string(),
                        o.updated_ms.to_string(),
                    ];
                    push_csv_row(&mut out, &cells);
                }
                out.push('\n');
                out.push_str(
                    "trade_uuid,order_uuid,identifier,market,side,price,volume,funds,fee,timestamp\n",
                );
                for f in &fills {
                    let cells = [
                        f.trade_uuid.clone(),
                        f.order_uuid.clone(),
                        f.identifier.clone().unwrap_or_default(),
                        f.market.clone(),
                        f.side.clone(),
                        f.price.clone(),
                        f.volume.clone(),
                        f.funds.clone(),
                        f.fee.clone().unwrap_or_default(),
                        f.timestamp.to_string(),
                    ];
                    push_csv_row(&mut out, &cells);
                }
                Ok(out)
            }
        }
    }
}

/// RFC 4180 quoting: cells with a comma, quote or newline are quoted, quotes doubled.
/// Cells starting with `=`, `+`, `-`, `@` that are not numbers get a leading `'` so a
/// spreadsheet does not run them as formulas.
fn push_csv_row(out: &mut String, cells: &[String]) {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut c = c.clone();
        if c.starts_with(['=', '+', '@']) || (c.starts_with('-') && Decimal::from_str(&c).is_err()) {
            c.insert(0, '\'');
        }
        if c.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&c.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&c);
        }
    }
    out.push('\n');
}

/// `hoga journal [--csv|--json] [--journal FILE]`.
#[derive(Debug, Clone, clap::Args)]
pub struct JournalArgs {
    /// Export as CSV (orders, a blank line, then fills). The default.
    #[arg(long, conflicts_with = "json")]
    pub(crate) csv: bool,
    /// Export as JSON.
    #[arg(long)]
    pub json: bool,
    /// Journal file (default: the journal of the mode in use — `--demo`, `--mode`, the
    /// config's `mode` — in the data directory).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
}

/// Runs `hoga journal`: prints the export to stdout. Opens read-only, so it works while a
/// console is running. `mode_file` is the mode's own journal and the mode's name, used
/// without `--journal`.
pub(crate) fn run_journal_cli(args: &JournalArgs, mode_file: Option<(PathBuf, &str)>) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::io::Write as _;
    let (path, mode) = match (&args.journal, mode_file) {
        (Some(p), _) => (p.clone(), None),
        (None, Some((p, mode))) => (p, Some(mode)),
        (None, None) => {
            (default_path().context("no home directory to find the journal in; pass --journal FILE")?, None)
        }
    };
    if !path.exists() {
        match mode {
            Some(mode) => anyhow::bail!(
                "no {mode} journal at {} (nothing traded in {mode} mode yet; --demo, --mode paper|live or --journal FILE for another)",
                path.display()
            ),
            None => {
                anyhow::bail!("no journal at {} (nothing traded yet, or pass --journal FILE)", path.display())
            }
        }
    }
    let j = Journal::open_read_only(&path).with_context(|| format!("open journal {}", path.display()))?;
    let format = if args.json { ExportFormat::Json } else { ExportFormat::Csv };
    let text = j.export(format).context("export journal")?;
    let mut out = std::io::stdout().lock();
    let written = out
        .write_all(text.as_bytes())
        .and_then(|()| if text.ends_with('\n') { Ok(()) } else { out.write_all(b"\n") });
    match written.and_then(|()| out.flush()) {
        // The reader has gone (`hoga journal | head`): it read what it wanted; a quiet
        // success, as Unix tools end.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("write export"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trading::orders::OrderRequest;
    use rust_decimal_macros::dec;

    fn order(id: &str) -> TrackedOrder {
        TrackedOrder::new(
            id.into(),
            OrderRequest::limit(MarketId::new("KRW-BTC"), Side::Bid, dec!(95000000), dec!(0.01)),
        )
    }

    fn fill(id: &str) -> Fill {
        Fill {
            trade_uuid: id.into(),
            order_uuid: "u1".into(),
            market: MarketId::new("KRW-BTC"),
            side: Some(Side::Bid),
            price: dec!(95000000),
            volume: dec!(0.005),
            funds: dec!(475000),
            fee: Some(dec!(237.5)),
            is_maker: None,
            timestamp: 1,
        }
    }

    #[test]
    fn intents_round_trip_and_fills_dedupe() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let j = Journal::open(&path, &JournalOptions::default()).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let mut o = order("hoga-1");
        j.record_intent(&o, "manual").unwrap();
        assert!(matches!(j.record_intent(&o, "manual"), Err(JournalError::DuplicateIdentifier(_))));
        o.uuid = Some("u1".into());
        o.state = LocalState::Accepted;
        j.update_order(&o).unwrap();
        assert!(j.record_fill(Some("hoga-1"), &fill("t1")).unwrap());
        assert!(!j.record_fill(Some("hoga-1"), &fill("t1")).unwrap());
        let open = j.open_orders().unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].request, o.request);
        assert!(open[0].fill_ids.contains("t1"));
        drop(j);
        // Reopen: the state survived.
        let j = Journal::open(&path, &JournalOptions { live: true, ..Default::default() }).unwrap();
        assert_eq!(j.order("hoga-1").unwrap().unwrap().state, LocalState::Accepted);
        let csv = j.export(ExportFormat::Csv).unwrap();
        assert!(csv.contains("hoga-1,u1,KRW-BTC,bid,limit,95000000,0.01"), "{csv}");
        assert!(csv.contains("t1,u1,hoga-1"), "{csv}");
        let json: serde_json::Value = serde_json::from_str(&j.export(ExportFormat::Json).unwrap()).unwrap();
        assert_eq!(json["orders"][0]["identifier"], "hoga-1");
        assert_eq!(json["fills"][0]["trade_uuid"], "t1");
    }

    #[test]
    fn live_refuses_missing_or_corrupt_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let live = JournalOptions { live: true, ..Default::default() };
        let e = Journal::open(&path, &live).unwrap_err();
        assert!(matches!(e, JournalError::Missing(_)), "{e}");
        assert!(e.to_string().contains("j.sqlite"));
        std::fs::write(&path, b"").unwrap();
        assert!(matches!(Journal::open(&path, &live), Err(JournalError::Corrupt { .. })));
        std::fs::write(&path, b"this is not a database at all, just garbage bytes..........").unwrap();
        assert!(matches!(Journal::open(&path, &live), Err(JournalError::Corrupt { .. })));
        std::fs::remove_file(&path).unwrap();
        let fresh = JournalOptions { allow_fresh: true, ..live };
        Journal::open(&path, &fresh).unwrap();
    }

    #[test]
    fn second_instance_is_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let first = Journal::open(&path, &JournalOptions::default()).unwrap();
        first.record_intent(&order("a"), "manual").unwrap();
        let second = Journal::open(&path, &JournalOptions::default()).unwrap();
        assert!(second.is_read_only());
        assert!(matches!(second.record_intent(&order("b"), "manual"), Err(JournalError::ReadOnly(_))));
        assert_eq!(second.open_orders().unwrap().len(), 1);
        drop(first);
        let third = Journal::open(&path, &JournalOptions::default()).unwrap();
        assert!(!third.is_read_only());
    }

    /// A restart right after the last instance quit (or took a SIGHUP): the lock that
    /// instance still holds for a moment is waited for, not taken as another console's.
    #[test]
    fn an_instance_that_is_exiting_is_waited_for_and_one_that_stays_is_not_waited_for_long() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let waiting = JournalOptions { lock_wait: Duration::from_secs(3), ..JournalOptions::default() };
        let first = Journal::open(&path, &JournalOptions::default()).unwrap();
        let started = std::time::Instant::now();
        let exiting = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            drop(first);
        });
        let second = Journal::open(&path, &waiting).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(450), "{:?}", started.elapsed());
        assert!(!second.is_read_only(), "the lock was taken once the first let go");
        second.record_intent(&order("a"), "manual").unwrap();
        exiting.join().unwrap();

        // Held for good: after the wait, read-only as before (the manager then refuses to
        // trade), and no wait without lock_wait.
        let short = JournalOptions { lock_wait: Duration::from_millis(300), ..JournalOptions::default() };
        let started = std::time::Instant::now();
        let third = Journal::open(&path, &short).unwrap();
        assert!(third.is_read_only());
        assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
        let started = std::time::Instant::now();
        assert!(Journal::open(&path, &JournalOptions::default()).unwrap().is_read_only());
        assert!(started.elapsed() < Duration::from_millis(250), "{:?}", started.elapsed());
        // A journal that does not exist yet and is locked: the error, after the wait.
        let other = dir.path().join("k.sqlite");
        let _holder = Journal::open(&other, &JournalOptions::default()).unwrap();
        std::fs::remove_file(&other).unwrap();
        assert!(matches!(Journal::open(&other, &short), Err(JournalError::ReadOnly(_))));
    }

    #[test]
    fn busy_database_fails_the_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let j = Journal::open(
            &path,
            &JournalOptions { busy_timeout: Duration::from_millis(10), ..Default::default() },
        )
        .unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN EXCLUSIVE;").unwrap();
        assert!(matches!(j.record_intent(&order("x"), "manual"), Err(JournalError::Sqlite { .. })));
        other.execute_batch("COMMIT;").unwrap();
        j.record_intent(&order("x"), "manual").unwrap();
    }

    /// A write that waits inside SQLite (here for another connection's lock, as a commit
    /// waits for its fsync) waits off the runtime's worker: another task on the same, only
    /// worker keeps running meanwhile. It used to stand still until the write returned.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_waiting_write_does_not_stall_the_runtime_worker() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let opts = JournalOptions { busy_timeout: Duration::from_secs(5), ..Default::default() };
        let j = Journal::open(&path, &opts).unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN EXCLUSIVE;").unwrap();
        let ticks = Arc::new(AtomicU64::new(0));
        let writing = Arc::new(AtomicBool::new(false));
        // Both through the task manager, as every task of hoga is.
        let tasks = crate::kernel::TaskManager::new();
        let t = ticks.clone();
        tasks.spawn("test", "ticker", move |cancel| async move {
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(Duration::from_millis(2)) => {}
                }
                t.fetch_add(1, SeqCst);
            }
        });
        let w = writing.clone();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        tasks.spawn("test", "writer", move |_| async move {
            w.store(true, SeqCst);
            let written = j.event(None, "probe", "");
            let _ = done_tx.send(written.is_ok());
            Ok(())
        });
        // This test body runs on its own thread (not the worker), so it may block to watch.
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while !writing.load(SeqCst) {
            assert!(std::time::Instant::now() < deadline, "the writer never started");
            std::thread::sleep(Duration::from_millis(1));
        }
        let start = ticks.load(SeqCst);
        while ticks.load(SeqCst) < start + 20 {
            assert!(std::time::Instant::now() < deadline, "the worker stalled behind a journal write");
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(done_rx.try_recv().is_err(), "the write should still be waiting for the lock");
        other.execute_batch("COMMIT;").unwrap();
        assert!(done_rx.recv_timeout(Duration::from_secs(5)).unwrap(), "the write failed");
        tasks.cancel_all();
    }

    #[test]
    fn rules_and_alerts_persist() {
        use crate::trading::rules::{AlertCondition, Level, RuleKind};
        let j = Journal::in_memory().unwrap();
        let mut r =
            Rule::new(MarketId::new("KRW-BTC"), RuleKind::StopLoss(Level::PctFromAvg(dec!(-0.03))), None);
        j.save_rule(&r).unwrap();
        r.attempt = 2;
        j.save_rule(&r).unwrap();
        assert_eq!(j.load_rules().unwrap(), vec![r.clone()]);
        j.delete_rule(&r.id).unwrap();
        assert!(j.load_rules().unwrap().is_empty());
        let a = Alert::new(MarketId::new("KRW-BTC"), AlertCondition::Above(dec!(1)));
        j.save_alert(&a).unwrap();
        assert_eq!(j.load_alerts().unwrap(), vec![a]);
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let mut s = String::new();
        push_csv_row(&mut s, &["a,b".into(), "say \"hi\"".into(), "=cmd()".into(), "-5".into()]);
        assert_eq!(s, "\"a,b\",\"say \"\"hi\"\"\",'=cmd(),-5\n");
    }
}

/// Opening the journal: permissions, modes, links and the advice in the messages.
#[cfg(test)]
mod open_tests {
    use super::*;

    /// Runs `f` with file access checked as an ordinary user. As root (the CI container)
    /// permission bits do not apply, so this thread's filesystem uid becomes 65534 —
    /// which drops CAP_DAC_OVERRIDE for this thread only — after `owned` are chowned to
    /// it; it is restored afterwards.
    fn as_ordinary_user<T>(owned: &[&Path], f: impl FnOnce() -> T) -> T {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return f();
        }
        for p in owned {
            std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
        }
        struct Restore(libc::uid_t);
        impl Drop for Restore {
            fn drop(&mut self) {
                // SAFETY: setfsuid only changes this thread's filesystem uid.
                unsafe { libc::setfsuid(self.0) };
            }
        }
        // SAFETY: as above.
        let _restore = Restore(unsafe { libc::setfsuid(65534) } as libc::uid_t);
        f()
    }

    fn chmod(p: &Path, mode: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn mode_of(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    /// A valid journal with one intent at `dir/journal.sqlite`, closed again.
    fn existing_journal(dir: &Path) -> PathBuf {
        let path = dir.join("journal.sqlite");
        let j = Journal::open(&path, &JournalOptions::default()).unwrap();
        j.record_intent(&tests_order("keep-me"), "manual").unwrap();
        drop(j);
        path
    }

    fn tests_order(id: &str) -> TrackedOrder {
        use rust_decimal_macros::dec;
        TrackedOrder::new(
            id.into(),
            OrderRequest::limit(MarketId::new("KRW-BTC"), Side::Bid, dec!(95000000), dec!(0.01)),
        )
    }

    fn assert_permission_message(e: &JournalError, path: &Path, mode: &str) {
        let msg = e.to_string();
        assert!(matches!(e, JournalError::Permission { .. }), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("permission denied"), "{msg}");
        assert!(msg.contains(&format!("{mode} journal")), "{msg}");
        assert!(!msg.to_lowercase().contains("corrupt ("), "{msg}");
        assert!(!msg.contains("--new-journal") && !msg.contains("fresh"), "{msg}");
    }

    #[test]
    fn read_only_directory_is_a_permission_error_naming_the_path_not_corrupt() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        let path = existing_journal(&dir);
        let lock = path.with_extension("lock");
        let live = JournalOptions { live: true, ..Default::default() };
        // The lock file from the last run is still there; the directory became read-only.
        chmod(&dir, 0o500);
        let e = as_ordinary_user(&[&dir, &path, &lock], || Journal::open(&path, &live).unwrap_err());
        assert_permission_message(&e, &path, "live");
        // Without the lock file: its creation is what fails, and it is named.
        chmod(&dir, 0o700);
        std::fs::remove_file(&lock).unwrap();
        chmod(&dir, 0o500);
        let e = as_ordinary_user(&[&dir, &path], || {
            Journal::open(&path, &JournalOptions::default()).unwrap_err()
        });
        assert_permission_message(&e, &lock, "paper");
        // A read-only file in a writable directory.
        chmod(&dir, 0o700);
        chmod(&path, 0o400);
        let e = as_ordinary_user(&[&dir, &path], || Journal::open(&path, &live).unwrap_err());
        assert_permission_message(&e, &path, "live");
        // Nothing was lost: made writable again, the journal opens with its order.
        chmod(&path, 0o600);
        let j = Journal::open(&path, &live).unwrap();
        assert!(j.order("keep-me").unwrap().is_some());
    }

    /// Every `--flag` a message advises, parsed with the real command line.
    #[test]
    fn advised_flags_exist_in_the_cli() {
        use clap::Parser as _;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("j.sqlite");
        let live = JournalOptions { live: true, ..Default::default() };
        let missing = Journal::open(&path, &live).unwrap_err().to_string();
        std::fs::write(&path, b"this is not a database at all, just garbage bytes..........").unwrap();
        let corrupt = Journal::open(&path, &live).unwrap_err().to_string();
        for msg in [missing, corrupt] {
            let cmd = msg.split('`').nth(1).unwrap_or_else(|| panic!("no command in backticks: {msg}"));
            let cli = crate::cli::Cli::try_parse_from(cmd.split_whitespace()).unwrap();
            assert_eq!(cli.mode, Some(crate::config::Mode::Live), "{cmd}");
            assert!(cli.new_journal, "{cmd}");
            // No other flag is advised outside the command.
            for word in msg.split_whitespace().filter(|w| w.starts_with("--")) {
                assert!(
                    cmd.contains(word.trim_end_matches(|c: char| !c.is_alphanumeric())),
                    "{word} in {msg}"
                );
            }
        }
    }

    #[test]
    fn corrupt_message_names_the_mode_in_use() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("j.sqlite");
        std::fs::write(&path, b"this is not a database at all, just garbage bytes..........").unwrap();
        let paper = Journal::open(&path, &JournalOptions { allow_fresh: true, ..Default::default() })
            .unwrap_err()
            .to_string();
        assert!(paper.starts_with("paper journal"), "{paper}");
        assert!(!paper.contains("live") && !paper.contains("--"), "{paper}");
        let live = Journal::open(&path, &JournalOptions { live: true, ..Default::default() })
            .unwrap_err()
            .to_string();
        assert!(live.starts_with("live journal") && live.contains("--new-journal"), "{live}");
    }

    #[test]
    fn data_directory_is_created_0700_and_files_0600() {
        let tmp = tempfile::tempdir().unwrap();
        let outer = tmp.path().join("share");
        let dir = outer.join("hoga");
        let path = dir.join("journal.sqlite");
        drop(Journal::open(&path, &JournalOptions::default()).unwrap());
        assert_eq!(mode_of(&outer), 0o700);
        assert_eq!(mode_of(&dir), 0o700);
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(mode_of(&path.with_extension("lock")), 0o600);
        // An existing directory keeps its mode.
        chmod(&dir, 0o750);
        drop(Journal::open(&path, &JournalOptions::default()).unwrap());
        assert_eq!(mode_of(&dir), 0o750);
    }

    #[test]
    fn symlinked_journal_or_lock_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("elsewhere");
        std::fs::write(&target, b"precious").unwrap();
        let path = tmp.path().join("journal.sqlite");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let e = Journal::open(&path, &JournalOptions::default()).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_file(path.with_extension("lock")).unwrap();
        std::os::unix::fs::symlink(&target, path.with_extension("lock")).unwrap();
        let e = Journal::open(&path, &JournalOptions::default()).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
    }
}
