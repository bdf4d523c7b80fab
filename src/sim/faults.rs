//! Fault injection, controllable in-process ([`FaultControl`] methods) and over the admin
//! endpoint (`POST /admin/faults` with a [`FaultCommand`] JSON body): dropped or half-open
//! websockets, bad frames, refused connections, slow / failing / truncated REST replies,
//! orders accepted with the reply lost, orders booked late after a 5xx, single-order
//! lookups that lag the book, duplicated or reordered private events, and forced 429 / 418
//! on a rate-limit group (counted, or a storm lasting a given time, with any
//! `Retry-After`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::kernel::sync::lock;

/// A bad frame to send to every websocket connection once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FrameFault {
    /// Binary frame that is not JSON.
    Malformed,
    /// The first half of a real JSON message.
    Truncated,
    /// A frame of this many bytes.
    Oversize {
        /// Size in bytes.
        bytes: usize,
    },
    /// An Upbit error object (`{"error":{"name":"WRONG_FORMAT",…}}`).
    ErrorFrame,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
    /// Valid JSON of a `type` no client knows.
    UnknownType,
    /// A ticker whose numbers are out of range or of the wrong kind (`"1e309"`, 0, -1).
    BadNumbers,
}

/// A command to every websocket connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WsControl {
    /// Close abruptly (no close frame).
    DropAll,
    /// Send one bad frame.
    Frame(FrameFault),
}

/// How REST replies fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RestFault {
    /// This status with an empty JSON error body.
    Status {
        /// 500, 502, 503, …
        status: u16,
    },
    /// 502 with an HTML page (a proxy error page).
    Html,
    /// The real reply cut in half.
    TruncatedJson,
}

/// Admin endpoint body: `{"action":"drop_websockets"}`, `{"action":"rest_delay","ms":50}`, …
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum FaultCommand {
    /// Close every websocket abruptly.
    DropWebsockets,
    /// Go silent without closing (half-open) or resume.
    Silent {
        /// On or off.
        on: bool,
    },
    /// Send a bad frame on every websocket.
    Frame {
        /// Which.
        frame: FrameFault,
    },
    /// Refuse new TCP connections for this long.
    Refuse {
        /// Milliseconds.
        ms: u64,
    },
    /// Delay every REST reply.
    RestDelay {
        /// Milliseconds (0 = off).
        ms: u64,
    },
    /// Fail REST replies.
    RestFault {
        /// How.
        fault: RestFault,
        /// For this many requests (absent = until cleared).
        count: Option<u32>,
    },
    /// Stop failing REST replies.
    ClearRestFault,
    /// Accept the next `count` orders, then lose the reply.
    AmbiguousOrders {
        /// How many.
        count: u32,
    },
    /// Accept the next `count` cancels (`DELETE /v1/order`), then lose the reply.
    AmbiguousCancels {
        /// How many.
        count: u32,
    },
    /// Answer `method path` with this status and Upbit error name (for example
    /// `POST /v1/orders` → 400 `insufficient_funds_ask`, or any path → 401
    /// `expired_access_key`); `path` `*` matches every exchange path.
    ForceError {
        /// `GET`, `POST`, `DELETE` or `*`.
        method: String,
        /// `/v1/orders`, … or `*`.
        path: String,
        /// HTTP status.
        status: u16,
        /// `error.name`.
        name: String,
        /// For this many requests (absent = until cleared).
        count: Option<u32>,
    },
    /// Send every private event twice.
    DuplicatePrivate {
        /// On or off.
        on: bool,
    },
    /// Swap consecutive private events.
    ReorderPrivate {
        /// On or off.
        on: bool,
    },
    /// Answer the next `count` order creates with `status` (a gateway 5xx, 503 when
    /// absent) and book each of them `ms` later: at the first request the simulator
    /// handles once that time has passed (any route), which also publishes its
    /// `myOrder` event. The client was told "failed" for an order that exists.
    LateOrders {
        /// How many creates.
        count: u32,
        /// Delay before the booking, milliseconds.
        ms: u64,
        /// The status the create is answered with.
        #[serde(default)]
        status: Option<u16>,
    },
    /// Single-order lookups (`GET /v1/order`) answer 404 `order_not_found` for an order
    /// booked less than `ms` ago, as a lookup that lags the book (0 = off). The open-order
    /// list and the private stream are not delayed.
    LookupLag {
        /// Lag, milliseconds.
        ms: u64,
    },
    /// Answer every request of a rate-limit group with `status` (429 or 418) for `ms`
    /// milliseconds. A 418 carries `Retry-After: retry_after` verbatim (any text, hostile
    /// values included), or the simulator's block time when absent.
    LimitStorm {
        /// Group literal (`order`, `default`, `ticker`, …).
        group: String,
        /// 429 or 418.
        status: u16,
        /// How long, milliseconds.
        ms: u64,
        /// The `Retry-After` header of a 418.
        #[serde(default)]
        retry_after: Option<String>,
    },
    /// Answer a rate-limit group with 429 or 418.
    ForceLimit {
        /// Group literal (`order`, `ticker`, …).
        group: String,
        /// 429 or 418.
        status: u16,
        /// For this many requests (absent = until cleared).
        count: Option<u32>,
    },
    /// Remove every fault.
    ClearAll,
}

/// A forced exchange error.
#[derive(Debug, Clone)]
struct ForcedError {
    method: String,
    path: String,
    status: u16,
    name: String,
    count: Option<u32>,
}

#[derive(Debug)]
struct Inner {
    control: broadcast::Sender<WsControl>,
    silent: AtomicBool,
    silent_changed: tokio::sync::Notify,
    refuse_until: Mutex<Option<Instant>>,
    rest_delay_ms: AtomicU64,
    rest_fault: Mutex<Option<(RestFault, Option<u32>)>>,
    ambiguous: AtomicU32,
    ambiguous_cancels: AtomicU32,
    forced_errors: Mutex<Vec<ForcedError>>,
    duplicate_private: AtomicBool,
    reorder_private: AtomicBool,
    forced: Mutex<HashMap<String, (u16, Option<u32>)>>,
    /// How long an ambiguous order reply hangs before the connection is dropped.
    hang_ms: AtomicU64,
    /// Late-order tokens: (count left, delay, status).
    late: Mutex<Option<(u32, Duration, u16)>>,
    /// Order bodies to book when their time comes (authenticated when received).
    late_pending: Mutex<Vec<(Instant, Vec<u8>)>>,
    lookup_lag_ms: AtomicU64,
    /// Order uuid → when it was booked, kept while the lookup lag is on.
    booked_at: Mutex<HashMap<String, Instant>>,
    /// Group → storm.
    storms: Mutex<HashMap<String, Storm>>,
}

/// A forced answer for a group until a time: (status, until, `Retry-After` text).
type Storm = (u16, Instant, Option<String>);

/// Booked-order times kept for the lookup lag (older entries are pruned first).
const MAX_BOOKED_TIMES: usize = 10_000;
/// Late bookings held at most (further late creates are answered, never booked).
const MAX_LATE_PENDING: usize = 1_000;

/// Shared fault switches. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FaultControl {
    inner: Arc<Inner>,
}

impl Default for FaultControl {
    fn default() -> Self {
        Self::new()
    }
}

impl FaultControl {
    /// No faults.
    pub fn new() -> Self {
        // Capacity 16: control commands are rare and one-shot; a connection that lags past
        // 16 of them simply misses the oldest (broadcast semantics).
        let (control, _) = broadcast::channel(16);
        FaultControl {
            inner: Arc::new(Inner {
                control,
                silent: AtomicBool::new(false),
                silent_changed: tokio::sync::Notify::new(),
                refuse_until: Mutex::new(None),
                rest_delay_ms: AtomicU64::new(0),
                rest_fault: Mutex::new(None),
                ambiguous: AtomicU32::new(0),
                ambiguous_cancels: AtomicU32::new(0),
                forced_errors: Mutex::new(Vec::new()),
                duplicate_private: AtomicBool::new(false),
                reorder_private: AtomicBool::new(false),
                forced: Mutex::new(HashMap::new()),
                hang_ms: AtomicU64::new(3000),
                late: Mutex::new(None),
                late_pending: Mutex::new(Vec::new()),
                lookup_lag_ms: AtomicU64::new(0),
                booked_at: Mutex::new(HashMap::new()),
                storms: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Applies an admin command.
    pub fn apply(&self, cmd: FaultCommand) {
        match cmd {
            FaultCommand::DropWebsockets => self.drop_websockets(),
            FaultCommand::Silent { on } => self.set_silent(on),
            FaultCommand::Frame { frame } => self.send_bad_frame(frame),
            FaultCommand::Refuse { ms } => self.refuse_connections(Duration::from_millis(ms)),
            FaultCommand::RestDelay { ms } => self.set_rest_delay(Duration::from_millis(ms)),
            FaultCommand::RestFault { fault, count } => self.set_rest_fault(fault, count),
            FaultCommand::ClearRestFault => *lock(&self.inner.rest_fault) = None,
            FaultCommand::AmbiguousOrders { count } => self.ambiguous_orders(count),
            FaultCommand::AmbiguousCancels { count } => self.ambiguous_cancels(count),
            FaultCommand::ForceError { method, path, status, name, count } => {
                self.force_error(&method, &path, status, &name, count)
            }
            FaultCommand::DuplicatePrivate { on } => self.set_duplicate_private(on),
            FaultCommand::ReorderPrivate { on } => self.set_reorder_private(on),
            FaultCommand::ForceLimit { group, status, count } => self.force_limit(&group, status, count),
            FaultCommand::LateOrders { count, ms, status } => {
                self.late_orders(count, Duration::from_millis(ms), status.unwrap_or(503))
            }
            FaultCommand::LookupLag { ms } => self.set_lookup_lag(Duration::from_millis(ms)),
            FaultCommand::LimitStorm { group, status, ms, retry_after } => {
                self.limit_storm(&group, status, Duration::from_millis(ms), retry_after)
            }
            FaultCommand::ClearAll => self.clear_all(),
        }
    }

    /// Closes every websocket connection abruptly.
    pub fn drop_websockets(&self) {
        let _ = self.inner.control.send(WsControl::DropAll);
    }

    /// Half-open: connections stay open but nothing is read or sent (no pongs either).
    pub fn set_silent(&self, on: bool) {
        self.inner.silent.store(on, Ordering::SeqCst);
        self.inner.silent_changed.notify_waiters();
    }

    /// Whether connections are silent.
    pub(crate) fn is_silent(&self) -> bool {
        self.inner.silent.load(Ordering::SeqCst)
    }

    /// Notified on every `set_silent` (enable a `notified()` future before checking
    /// [`FaultControl::is_silent`] so no change is missed).
    pub(crate) fn silent_notify(&self) -> &tokio::sync::Notify {
        &self.inner.silent_changed
    }

    /// Sends one bad frame on every websocket connection.
    pub fn send_bad_frame(&self, f: FrameFault) {
        let _ = self.inner.control.send(WsControl::Frame(f));
    }

    /// Receiver of websocket commands (one per connection).
    pub(crate) fn subscribe_control(&self) -> broadcast::Receiver<WsControl> {
        self.inner.control.subscribe()
    }

    /// Drops new TCP connections for `d`.
    pub fn refuse_connections(&self, d: Duration) {
        *lock(&self.inner.refuse_until) = Some(Instant::now() + d);
    }

    /// True while connections are refused.
    pub fn refusing(&self) -> bool {
        lock(&self.inner.refuse_until).is_some_and(|u| Instant::now() < u)
    }

    /// Delays every REST reply.
    pub fn set_rest_delay(&self, d: Duration) {
        self.inner.rest_delay_ms.store(d.as_millis() as u64, Ordering::SeqCst);
    }

    /// Current REST delay.
    pub(crate) fn rest_delay(&self) -> Duration {
        Duration::from_millis(self.inner.rest_delay_ms.load(Ordering::SeqCst))
    }

    /// Fails REST replies (for `count` requests or until cleared).
    pub fn set_rest_fault(&self, f: RestFault, count: Option<u32>) {
        *lock(&self.inner.rest_fault) = Some((f, count));
    }

    /// Takes the REST fault for one request, counting it down.
    pub(crate) fn take_rest_fault(&self) -> Option<RestFault> {
        let mut slot = lock(&self.inner.rest_fault);
        let (f, count) = (*slot)?;
        match count {
            Some(0) => {
                *slot = None;
                None
            }
            Some(1) => {
                *slot = None;
                Some(f)
            }
            Some(n) => {
                *slot = Some((f, Some(n - 1)));
                Some(f)
            }
            None => Some(f),
        }
    }

    /// The next `count` orders are booked but their reply is lost.
    pub fn ambiguous_orders(&self, count: u32) {
        self.inner.ambiguous.store(count, Ordering::SeqCst);
    }

    /// Takes one ambiguous-order token.
    pub(crate) fn take_ambiguous(&self) -> bool {
        self.inner.ambiguous.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }

    /// The next `count` cancels are applied but their reply is lost.
    pub fn ambiguous_cancels(&self, count: u32) {
        self.inner.ambiguous_cancels.store(count, Ordering::SeqCst);
    }

    /// Takes one ambiguous-cancel token.
    pub(crate) fn take_ambiguous_cancel(&self) -> bool {
        self.inner
            .ambiguous_cancels
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Answers `method path` (`*` = any) with `status` and Upbit error `name`.
    pub fn force_error(&self, method: &str, path: &str, status: u16, name: &str, count: Option<u32>) {
        lock(&self.inner.forced_errors).push(ForcedError {
            method: method.to_string(),
            path: path.to_string(),
            status,
            name: name.to_string(),
            count,
        });
    }

    /// Takes the forced error for one request, counting it down: (status, name).
    pub(crate) fn take_forced_error(&self, method: &str, path: &str) -> Option<(u16, String)> {
        let mut list = lock(&self.inner.forced_errors);
        let i = list.iter().position(|f| {
            (f.method == "*" || f.method.eq_ignore_ascii_case(method)) && (f.path == "*" || f.path == path)
        })?;
        let f = &mut list[i];
        let out = (f.status, f.name.clone());
        match f.count {
            Some(n) if n <= 1 => {
                list.remove(i);
            }
            Some(n) => f.count = Some(n - 1),
            None => {}
        }
        Some(out)
    }

    /// How long a lost reply hangs before the connection is dropped.
    pub fn set_hang(&self, d: Duration) {
        self.inner.hang_ms.store(d.as_millis() as u64, Ordering::SeqCst);
    }

    /// The hang time.
    pub fn hang(&self) -> Duration {
        Duration::from_millis(self.inner.hang_ms.load(Ordering::SeqCst))
    }

    /// Sends each private event twice.
    pub fn set_duplicate_private(&self, on: bool) {
        self.inner.duplicate_private.store(on, Ordering::SeqCst);
    }

    /// Whether private events are duplicated.
    pub(crate) fn duplicate_private(&self) -> bool {
        self.inner.duplicate_private.load(Ordering::SeqCst)
    }

    /// Swaps consecutive private events.
    pub(crate) fn set_reorder_private(&self, on: bool) {
        self.inner.reorder_private.store(on, Ordering::SeqCst);
    }

    /// Whether private events are reordered.
    pub(crate) fn reorder_private(&self) -> bool {
        self.inner.reorder_private.load(Ordering::SeqCst)
    }

    /// Answers `group` with `status` (429 or 418).
    pub fn force_limit(&self, group: &str, status: u16, count: Option<u32>) {
        lock(&self.inner.forced).insert(group.to_string(), (status, count));
    }

    /// Takes a forced status for one request of `group`.
    pub(crate) fn take_forced(&self, group: &str) -> Option<u16> {
        let mut m = lock(&self.inner.forced);
        let (status, count) = *m.get(group)?;
        match count {
            Some(n) if n <= 1 => {
                m.remove(group);
                (n == 1).then_some(status)
            }
            Some(n) => {
                m.insert(group.to_string(), (status, Some(n - 1)));
                Some(status)
            }
            None => Some(status),
        }
    }

    /// The next `count` order creates are answered `status` and booked `delay` later.
    pub fn late_orders(&self, count: u32, delay: Duration, status: u16) {
        *lock(&self.inner.late) = (count > 0).then_some((count, delay, status));
    }

    /// Takes one late-order token: (delay, status).
    pub(crate) fn take_late_order(&self) -> Option<(Duration, u16)> {
        let mut slot = lock(&self.inner.late);
        let (count, delay, status) = (*slot)?;
        *slot = (count > 1).then(|| (count - 1, delay, status));
        Some((delay, status))
    }

    /// Holds an authenticated order body to book at `due`. False when too many are held.
    pub(crate) fn push_late(&self, due: Instant, body: Vec<u8>) -> bool {
        let mut q = lock(&self.inner.late_pending);
        if q.len() >= MAX_LATE_PENDING {
            return false;
        }
        q.push((due, body));
        true
    }

    /// The held order bodies whose time has come, oldest first.
    pub(crate) fn take_due_late(&self, now: Instant) -> Vec<Vec<u8>> {
        let mut q = lock(&self.inner.late_pending);
        if q.is_empty() {
            return Vec::new();
        }
        let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut *q).into_iter().partition(|(t, _)| *t <= now);
        *q = keep;
        due.into_iter().map(|(_, b)| b).collect()
    }

    /// Late bookings still waiting.
    #[cfg(test)]
    pub(crate) fn late_pending(&self) -> usize {
        lock(&self.inner.late_pending).len()
    }

    /// Single-order lookups miss orders booked less than `d` ago (zero = off).
    pub fn set_lookup_lag(&self, d: Duration) {
        self.inner.lookup_lag_ms.store(u64::try_from(d.as_millis()).unwrap_or(u64::MAX), Ordering::SeqCst);
        if d.is_zero() {
            lock(&self.inner.booked_at).clear();
        }
    }

    /// The lookup lag.
    pub(crate) fn lookup_lag(&self) -> Duration {
        Duration::from_millis(self.inner.lookup_lag_ms.load(Ordering::SeqCst))
    }

    /// Notes that `uuid` was booked now (kept only while the lookup lag is on).
    pub(crate) fn note_booked(&self, uuid: &str) {
        let lag = self.lookup_lag();
        if lag.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut m = lock(&self.inner.booked_at);
        m.retain(|_, t| now.saturating_duration_since(*t) < lag);
        if m.len() >= MAX_BOOKED_TIMES {
            return;
        }
        m.insert(uuid.to_string(), now);
    }

    /// True while a lookup of `uuid` must still miss it.
    pub(crate) fn lookup_lags(&self, uuid: &str) -> bool {
        let lag = self.lookup_lag();
        !lag.is_zero() && lock(&self.inner.booked_at).get(uuid).is_some_and(|t| t.elapsed() < lag)
    }

    /// Answers every request of `group` with `status` for `d`; a 418 carries
    /// `retry_after` as its `Retry-After` header when given.
    pub fn limit_storm(&self, group: &str, status: u16, d: Duration, retry_after: Option<String>) {
        let until = Instant::now().checked_add(d).unwrap_or_else(Instant::now);
        lock(&self.inner.storms).insert(group.to_string(), (status, until, retry_after));
    }

    /// The forced status for one request of `group` — a storm first, then a counted
    /// [`FaultControl::force_limit`] — with the `Retry-After` text of a storm's 418.
    pub(crate) fn take_forced_limit(&self, group: &str) -> Option<(u16, Option<String>)> {
        {
            let mut storms = lock(&self.inner.storms);
            match storms.get(group) {
                Some((status, until, retry)) if Instant::now() < *until => {
                    return Some((*status, retry.clone()));
                }
                Some(_) => {
                    storms.remove(group);
                }
                None => {}
            }
        }
        self.take_forced(group).map(|s| (s, None))
    }

    /// Removes every fault.
    pub fn clear_all(&self) {
        self.set_silent(false);
        *lock(&self.inner.refuse_until) = None;
        self.set_rest_delay(Duration::ZERO);
        *lock(&self.inner.rest_fault) = None;
        self.ambiguous_orders(0);
        self.ambiguous_cancels(0);
        lock(&self.inner.forced_errors).clear();
        self.set_duplicate_private(false);
        self.set_reorder_private(false);
        lock(&self.inner.forced).clear();
        *lock(&self.inner.late) = None;
        lock(&self.inner.late_pending).clear();
        self.set_lookup_lag(Duration::ZERO);
        lock(&self.inner.storms).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_run_out() {
        let f = FaultControl::new();
        f.set_rest_fault(RestFault::Html, Some(2));
        assert_eq!(f.take_rest_fault(), Some(RestFault::Html));
        assert_eq!(f.take_rest_fault(), Some(RestFault::Html));
        assert_eq!(f.take_rest_fault(), None);
        f.force_limit("order", 429, Some(1));
        assert_eq!(f.take_forced("order"), Some(429));
        assert_eq!(f.take_forced("order"), None);
        f.ambiguous_orders(1);
        assert!(f.take_ambiguous());
        assert!(!f.take_ambiguous());
    }

    #[test]
    fn late_orders_lookup_lag_and_storms() {
        let f = FaultControl::new();
        f.late_orders(2, Duration::from_secs(5), 503);
        assert_eq!(f.take_late_order(), Some((Duration::from_secs(5), 503)));
        assert_eq!(f.take_late_order(), Some((Duration::from_secs(5), 503)));
        assert_eq!(f.take_late_order(), None);
        let now = Instant::now();
        assert!(f.push_late(now + Duration::from_secs(60), b"later".to_vec()));
        assert!(f.push_late(now, b"now".to_vec()));
        assert_eq!(f.take_due_late(now), vec![b"now".to_vec()]);
        assert_eq!(f.late_pending(), 1);
        f.note_booked("u-before-lag");
        assert!(!f.lookup_lags("u-before-lag"), "nothing is noted while the lag is off");
        f.set_lookup_lag(Duration::from_secs(60));
        f.note_booked("u1");
        assert!(f.lookup_lags("u1"));
        assert!(!f.lookup_lags("u2"));
        f.limit_storm("order", 418, Duration::from_secs(60), Some("30".into()));
        assert_eq!(f.take_forced_limit("order"), Some((418, Some("30".into()))));
        assert_eq!(f.take_forced_limit("order"), Some((418, Some("30".into()))), "a storm is not counted");
        assert_eq!(f.take_forced_limit("ticker"), None);
        f.limit_storm("ticker", 429, Duration::ZERO, None);
        assert_eq!(f.take_forced_limit("ticker"), None, "a storm ends on time");
        f.clear_all();
        assert_eq!(f.take_forced_limit("order"), None);
        assert!(!f.lookup_lags("u1"));
        assert_eq!(f.late_pending(), 0);
        let c: FaultCommand =
            serde_json::from_str(r#"{"action":"late_orders","count":1,"ms":5000}"#).unwrap();
        assert_eq!(c, FaultCommand::LateOrders { count: 1, ms: 5000, status: None });
        let c: FaultCommand = serde_json::from_str(
            r#"{"action":"limit_storm","group":"order","status":418,"ms":1000,"retry_after":"18446744073709551615"}"#,
        )
        .unwrap();
        assert!(matches!(c, FaultCommand::LimitStorm { status: 418, .. }));
    }

    #[test]
    fn commands_parse_from_json() {
        let c: FaultCommand = serde_json::from_str(r#"{"action":"rest_delay","ms":50}"#).unwrap();
        assert_eq!(c, FaultCommand::RestDelay { ms: 50 });
        let c: FaultCommand =
            serde_json::from_str(r#"{"action":"frame","frame":{"kind":"oversize","bytes":100}}"#).unwrap();
        assert_eq!(c, FaultCommand::Frame { frame: FrameFault::Oversize { bytes: 100 } });
    }
}
