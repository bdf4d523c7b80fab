//! Client-side rate limiting for Upbit REST: one governor limiter per Upbit group,
//! corrected by the `Remaining-Req` header, paused on 429, halted globally on 418.
//!
//! Rate limits are a contract with the venue (docs/RELIABILITY.md rule 7): we throttle before
//! Upbit has to, and when it does push back we stop that group (429) or everything (418)
//! instead of hammering it into a longer block.
//!
//! The state is process-wide per host and pocket ([`RestLimits::shared`]): Upbit counts the
//! quotation groups per IP and, since 2026-06-25, the exchange groups per pocket (keys of
//! one pocket share a budget, and a 418 for exchange calls bans that pocket only), so two
//! clients of one process (market data, orders) must not keep separate books. Until the
//! key's pocket is known ([`RestLimits::attribute_pocket`]) its budget is kept per key:
//! a key belongs to exactly one pocket. Every duration that comes from the network is
//! bounded ([`MAX_BLOCK`]) and every deadline is computed with checked arithmetic.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use governor::clock::DefaultClock;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::exchange::upbit::error::UpbitError;

/// Upbit REST rate-limit groups (protocol §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Group {
    /// `/market/all`, 10/s.
    Market,
    /// `/candles/*`, 10/s.
    Candle,
    /// `/trades/ticks`, 10/s.
    Trade,
    /// `/ticker`, 10/s.
    Ticker,
    /// `/orderbook*`, 10/s.
    Orderbook,
    /// Exchange default, 30/s.
    Default,
    /// `POST /orders`, 12/s.
    Order,
    /// `POST /orders/test`, 8/s.
    OrderTest,
    /// `DELETE /orders/open`, 1 per 2 s.
    OrderCancelAll,
}

impl Group {
    /// Every group.
    pub const ALL: [Group; 9] = [
        Group::Market,
        Group::Candle,
        Group::Trade,
        Group::Ticker,
        Group::Orderbook,
        Group::Default,
        Group::Order,
        Group::OrderTest,
        Group::OrderCancelAll,
    ];

    /// The documented group name.
    pub fn name(self) -> &'static str {
        match self {
            Group::Market => "market",
            Group::Candle => "candle",
            Group::Trade => "trade",
            Group::Ticker => "ticker",
            Group::Orderbook => "orderbook",
            Group::Default => "default",
            Group::Order => "order",
            Group::OrderTest => "order-test",
            Group::OrderCancelAll => "order-cancel-all",
        }
    }

    /// Maps a `Remaining-Req` group literal (which differs from the doc names for some
    /// groups: `candles`, `crix-trades`) to a group.
    pub(crate) fn from_header(name: &str) -> Option<Group> {
        Some(match name.trim() {
            "market" => Group::Market,
            "candle" | "candles" => Group::Candle,
            "trade" | "trades" | "crix-trades" => Group::Trade,
            "ticker" => Group::Ticker,
            "orderbook" => Group::Orderbook,
            "default" => Group::Default,
            "order" => Group::Order,
            "order-test" => Group::OrderTest,
            "order-cancel-all" => Group::OrderCancelAll,
            _ => return None,
        })
    }

    /// Our quota for the group: Upbit's published limit.
    fn quota(self) -> Quota {
        let per_sec = |n: u32| Quota::per_second(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        match self {
            Group::Default => per_sec(30),
            Group::Order => per_sec(12),
            Group::OrderTest => per_sec(8),
            // 1 per 2 s; with_period only fails for a zero period.
            Group::OrderCancelAll => Quota::with_period(Duration::from_secs(2)).unwrap_or_else(|| per_sec(1)),
            _ => per_sec(10),
        }
    }
}

impl std::fmt::Display for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed `Remaining-Req: group=default; min=1800; sec=29` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemainingReq {
    /// Group literal as sent.
    pub group: String,
    /// Deprecated per-minute figure (ignored).
    pub min: Option<u32>,
    /// Requests left in the current second.
    pub sec: u32,
}

impl RemainingReq {
    /// Parses the header leniently (spaces optional, `sec9` tolerated as seen in the wild).
    pub fn parse(header: &str) -> Option<RemainingReq> {
        let mut group = None;
        let mut min = None;
        let mut sec = None;
        for part in header.split(';') {
            let part = part.trim();
            let (k, v) = match part.split_once('=') {
                Some((k, v)) => (k.trim(), v.trim()),
                None => {
                    // `sec9`: key glued to the number.
                    let idx = part.find(|c: char| c.is_ascii_digit())?;
                    (&part[..idx], &part[idx..])
                }
            };
            match k {
                "group" => group = Some(v.to_string()),
                "min" => min = v.parse().ok(),
                "sec" => sec = v.parse().ok(),
                _ => {}
            }
        }
        Some(RemainingReq { group: group?, min, sec: sec? })
    }
}

/// Default 418 block when the response does not say how long.
pub(crate) const DEFAULT_BLOCK: Duration = Duration::from_secs(60);
/// The longest 418 block hoga honours: 24 hours. A `Retry-After` (or a body) asking for
/// longer is capped here: the number comes from the network, and a ban past a day is
/// something for a person to look at, not a timer to wait out. After the cap the next
/// call goes out and, if the ban still holds, Upbit answers 418 again and the block starts
/// over.
pub const MAX_BLOCK: Duration = Duration::from_secs(24 * 60 * 60);
/// The shortest 418 block: even `Retry-After: 0` (or a date in the past) rests a second
/// rather than calling straight back into a ban.
pub(crate) const MIN_BLOCK: Duration = Duration::from_secs(1);
/// First 429 pause; doubles per consecutive 429 of the same group.
const PAUSE_429_INITIAL: Duration = Duration::from_secs(1);
/// Cap of the 429 pause.
const PAUSE_429_MAX: Duration = Duration::from_secs(16);

impl Group {
    /// True for the exchange (account) groups, whose limits Upbit counts per API key;
    /// the quotation groups are counted per IP address.
    pub(crate) fn is_exchange(self) -> bool {
        matches!(self, Group::Default | Group::Order | Group::OrderTest | Group::OrderCancelAll)
    }
}

/// `now + d`, checked. Every `d` handed in here is bounded (by [`MAX_BLOCK`] or a constant),
/// so the fallback (no wait at all) is unreachable on any real clock; it is there so that a
/// number from the network can never panic the process.
fn deadline(now: Instant, d: Duration) -> Instant {
    now.checked_add(d).unwrap_or(now)
}

#[derive(Debug, Default)]
struct GroupState {
    paused_until: Option<Instant>,
    consecutive_429: u32,
}

#[derive(Debug, Default)]
struct State {
    groups: HashMap<Group, GroupState>,
    /// Per-host scope: an IP ban (every call). Pocket scope: that pocket's exchange calls.
    blocked_until: Option<Instant>,
    blocks: u32,
    rate_limited: u64,
}

pub use crate::exchange::rest::LimitsStatus;

type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock>;

/// Limiters and pause/block state of one scope: a host (the quotation groups and the 418
/// block, which Upbit counts per IP) or a host and API key (the exchange groups).
struct Scope {
    limiters: HashMap<Group, Limiter>,
    state: Mutex<State>,
}

impl Scope {
    fn new() -> Self {
        let limiters = Group::ALL.iter().map(|g| (*g, RateLimiter::direct(g.quota()))).collect();
        Scope { limiters, state: Mutex::new(State::default()) }
    }
}

/// The exchange-group scope of one API key: the key's own until its pocket is known, then
/// the pocket's (shared by every key of that pocket in the process).
struct KeyScope {
    own: Arc<Scope>,
    pocket: Mutex<Option<PocketScope>>,
}

struct PocketScope {
    /// The pocket's name as shown (System pane).
    label: String,
    scope: Arc<Scope>,
}

impl KeyScope {
    fn new() -> Self {
        KeyScope { own: Arc::new(Scope::new()), pocket: Mutex::new(None) }
    }

    fn current(&self) -> Arc<Scope> {
        let p = self.pocket.lock().unwrap_or_else(PoisonError::into_inner);
        p.as_ref().map_or_else(|| self.own.clone(), |p| p.scope.clone())
    }

    fn label(&self) -> Option<String> {
        self.pocket.lock().unwrap_or_else(PoisonError::into_inner).as_ref().map(|p| p.label.clone())
    }
}

/// Per-group limiters plus the pause/block state, in two scopes: one per host (quotation
/// groups and the IP ban) and one per pocket (exchange groups and the pocket's ban; per
/// key until the pocket is known). Clients made with [`RestLimits::shared`] for the same
/// host (and key) share the same scopes, so the market-data client and the order client of
/// one process draw on one budget, and a 418 seen by either pauses both.
pub(crate) struct RestLimits {
    host: Arc<Scope>,
    key: Arc<KeyScope>,
    /// `host:port`, for the pocket scope's id.
    host_id: String,
}

impl std::fmt::Debug for RestLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestLimits").field("status", &self.status()).finish()
    }
}

impl Default for RestLimits {
    fn default() -> Self {
        Self::new()
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How long a group rests after `sec=0`: one whole window from now. Upbit counts per
/// second, but where its window starts is not ours to know (a window opened by the first
/// request of a burst ends up to a second later than the next wall-clock second), so
/// resting to the wall-clock boundary could still draw a 429.
const SEC_ZERO_REST: Duration = Duration::from_millis(1005);

/// The process-wide table of scopes, by `host <host:port>` or `key <host:port> <key id>`.
/// It holds weak references: a scope lives as long as some client uses it, so clients
/// alive at the same time share it, and a test's server port reused later by another test
/// does not inherit an old ban.
static SCOPES: LazyLock<Mutex<HashMap<String, Weak<Scope>>>> = LazyLock::new(Default::default);

/// Key scopes by `key <host:port> <key id>`, held weakly like [`SCOPES`].
static KEY_SCOPES: LazyLock<Mutex<HashMap<String, Weak<KeyScope>>>> = LazyLock::new(Default::default);

fn shared_in<T>(table: &Mutex<HashMap<String, Weak<T>>>, id: String, make: impl FnOnce() -> T) -> Arc<T> {
    let mut table = table.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(s) = table.get(&id).and_then(Weak::upgrade) {
        return s;
    }
    table.retain(|_, w| w.strong_count() > 0);
    let s = Arc::new(make());
    table.insert(id, Arc::downgrade(&s));
    s
}

fn scope(id: String) -> Arc<Scope> {
    shared_in(&SCOPES, id, Scope::new)
}

impl RestLimits {
    /// Fresh limiters at Upbit's published per-group limits, shared with nobody.
    pub fn new() -> Self {
        RestLimits { host: Arc::new(Scope::new()), key: Arc::new(KeyScope::new()), host_id: String::new() }
    }

    /// The process-wide limiters for `base_url` and an API key (`key_id`, a non-secret
    /// identifier of the key such as a hash; `None` for keyless clients). Every live client
    /// of the same host shares the host scope; those with the same key share the key scope.
    pub fn shared(base_url: &str, key_id: Option<&str>) -> Self {
        let host = crate::exchange::rest::host_of(base_url);
        RestLimits {
            host: scope(format!("host {host}")),
            key: shared_in(&KEY_SCOPES, format!("key {host} {}", key_id.unwrap_or("public")), KeyScope::new),
            host_id: host,
        }
    }

    /// Attributes this key's exchange budget to its pocket: `uuid` when known (every key
    /// of that pocket in the process then shares one budget and one ban), else `None` (a
    /// key that cannot list pockets keeps its own budget, which is its pocket's), and the
    /// name shown for it. Every client sharing this key's scope follows. A pocket never
    /// changes for a key, so a second call only renames.
    pub(crate) fn attribute_pocket(&self, uuid: Option<&str>, label: &str) {
        let mut p = self.key.pocket.lock().unwrap_or_else(PoisonError::into_inner);
        let scope = match (p.as_ref(), uuid) {
            (Some(existing), _) => existing.scope.clone(),
            (None, Some(uuid)) => {
                let pocket = scope(format!("pocket {} {uuid}", self.host_id));
                // A ban drawn before the pocket was known is the pocket's: it must not be
                // forgotten by moving to the pocket's books (calls would hit the banned
                // pocket again and lengthen the ban).
                let own = lock(&self.key.own.state);
                if let Some(until) = own.blocked_until {
                    let mut st = lock(&pocket.state);
                    st.blocked_until = Some(st.blocked_until.map_or(until, |b| b.max(until)));
                }
                pocket
            }
            (None, None) => self.key.own.clone(),
        };
        *p = Some(PocketScope { label: label.to_string(), scope });
    }

    fn scope_of(&self, group: Group) -> Arc<Scope> {
        if group.is_exchange() { self.key.current() } else { self.host.clone() }
    }

    /// Waits for a slot in `group`. Fails at once while a 418 block is active (REST is
    /// halted; the caller must not queue behind a minute-long block).
    pub(crate) async fn acquire(&self, group: Group) -> Result<(), UpbitError> {
        let scope = self.scope_of(group);
        loop {
            let now = Instant::now();
            // An IP ban halts every call; a pocket's ban halts its exchange calls.
            let host_ban = lock(&self.host.state).blocked_until;
            let pocket_ban = if group.is_exchange() { lock(&scope.state).blocked_until } else { None };
            if let Some(until) = host_ban.max(pocket_ban).filter(|u| *u > now) {
                return Err(UpbitError::Blocked { remaining: until - now });
            }
            let wait = lock(&scope.state)
                .groups
                .get(&group)
                .and_then(|g| g.paused_until)
                .filter(|u| *u > now)
                .map(|u| u - now);
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => break,
            }
        }
        if let Some(l) = scope.limiters.get(&group) {
            l.until_ready().await;
        }
        Ok(())
    }

    /// Applies a `Remaining-Req` header: `sec=0` rests the group for one window.
    pub(crate) fn on_remaining(&self, header: &RemainingReq, fallback: Group) {
        let group = Group::from_header(&header.group).unwrap_or(fallback);
        if header.sec == 0 {
            let scope = self.scope_of(group);
            let mut st = lock(&scope.state);
            let g = st.groups.entry(group).or_default();
            let until = deadline(Instant::now(), SEC_ZERO_REST);
            g.paused_until = Some(g.paused_until.map_or(until, |p| p.max(until)));
        }
    }

    /// A success in `group` resets its 429 backoff.
    pub(crate) fn on_success(&self, group: Group) {
        let scope = self.scope_of(group);
        let mut st = lock(&scope.state);
        if let Some(g) = st.groups.get_mut(&group) {
            g.consecutive_429 = 0;
        }
    }

    /// A 429 in `group`: pause it, doubling per consecutive 429. Returns the pause.
    pub(crate) fn on_429(&self, group: Group) -> Duration {
        let scope = self.scope_of(group);
        let mut st = lock(&scope.state);
        st.rate_limited += 1;
        let g = st.groups.entry(group).or_default();
        let factor = 1u32 << g.consecutive_429.min(4);
        g.consecutive_429 = g.consecutive_429.saturating_add(1);
        let pause = PAUSE_429_INITIAL.saturating_mul(factor).min(PAUSE_429_MAX);
        g.paused_until = Some(deadline(Instant::now(), pause));
        tracing::warn!(group = group.name(), ?pause, "upbit 429: pausing the group");
        pause
    }

    /// A 418 answering a call of `group`, for `block` or [`DEFAULT_BLOCK`], kept within
    /// [`MIN_BLOCK`]…[`MAX_BLOCK`]. For a quotation group it is an IP ban: every REST call
    /// to this host halts, from every client of the process. For an exchange group it bans
    /// the pocket (Upbit, since 2026-06-25): that pocket's exchange calls halt, quotation
    /// calls go on. Returns the block applied.
    pub(crate) fn on_418(&self, group: Group, block: Option<Duration>) -> Duration {
        let block = block.unwrap_or(DEFAULT_BLOCK).clamp(MIN_BLOCK, MAX_BLOCK);
        let scope = if group.is_exchange() { self.key.current() } else { self.host.clone() };
        let mut st = lock(&scope.state);
        st.blocks = st.blocks.saturating_add(1);
        let until = deadline(Instant::now(), block);
        st.blocked_until = Some(st.blocked_until.map_or(until, |b| b.max(until)));
        if group.is_exchange() {
            let pocket = self.key.label().unwrap_or_else(|| "this key's pocket".into());
            tracing::error!(
                ?block,
                pocket,
                "upbit 418: the pocket's exchange calls halted until the block ends"
            );
        } else {
            tracing::error!(?block, "upbit 418: all REST calls halted until the block ends");
        }
        block
    }

    /// Current status (both scopes).
    pub fn status(&self) -> LimitsStatus {
        let now = Instant::now();
        let mut out = LimitsStatus::default();
        let mut paused: Vec<(Group, Duration)> = Vec::new();
        let key = self.key.current();
        for (i, scope) in [&self.host, &key].into_iter().enumerate() {
            let st = lock(&scope.state);
            paused.extend(
                st.groups
                    .iter()
                    // Each group lives in one scope only.
                    .filter(|(g, _)| g.is_exchange() == (i == 1))
                    .filter_map(|(g, s)| s.paused_until.filter(|u| *u > now).map(|u| (*g, u - now))),
            );
            out.rate_limited = out.rate_limited.saturating_add(st.rate_limited);
            out.blocks = out.blocks.saturating_add(st.blocks);
            let left = st.blocked_until.filter(|u| *u > now).map(|u| u - now);
            if i == 0 {
                out.ip_blocked_for = left;
            } else {
                out.pocket_blocked_for = left;
            }
            out.blocked_for = out.blocked_for.max(left);
        }
        out.pocket = self.key.label();
        paused.sort();
        out.paused = paused.into_iter().map(|(g, left)| (g.name(), left)).collect();
        out
    }
}

/// How much of a 418 body is searched for a duration: the message is a sentence, and a
/// hostile megabyte of digits must not cost more than a glance.
const BODY_SCAN_LIMIT: usize = 4096;

/// Reads a block duration out of a 418 answer: `Retry-After` first (delta seconds, or an
/// HTTP date), then the first number in the body followed by a unit (`30 seconds`, `5분`,
/// `2 min`), else `None`. Every result is at most [`MAX_BLOCK`]: numbers too large for any
/// type (and products that would overflow) saturate to it; a negative or malformed
/// `Retry-After` is ignored.
pub(crate) fn parse_block_duration(retry_after: Option<&str>, body: &str) -> Option<Duration> {
    if let Some(d) = retry_after.and_then(parse_retry_after) {
        return Some(d.min(MAX_BLOCK));
    }
    let mut end = body.len().min(BODY_SCAN_LIMIT);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let body = &body[..end];
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            // Too many digits for a u64 is "very long": saturate (capped below).
            let n: u64 = body[start..i].parse().unwrap_or(u64::MAX);
            // The unit is in the next few characters; lowercase only those.
            let unit: String = body[i..].trim_start().chars().take(8).collect::<String>().to_lowercase();
            let secs = |mul: u64| Duration::from_secs(n.saturating_mul(mul));
            let d = if unit.starts_with("ms") || unit.starts_with("millis") {
                Some(Duration::from_millis(n))
            } else if unit.starts_with("min") || unit.starts_with("분") {
                Some(secs(60))
            } else if unit.starts_with('h') || unit.starts_with("시간") {
                Some(secs(3600))
            } else if unit.starts_with('s') || unit.starts_with("초") {
                Some(secs(1))
            } else {
                None
            };
            if let Some(d) = d {
                return Some(d.min(MAX_BLOCK));
            }
        } else {
            i += 1;
        }
    }
    None
}

/// `Retry-After` as delta seconds (digits only; overlong saturates) or an HTTP date (a
/// date in the past is zero). Anything else is `None`.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(v.parse().unwrap_or(u64::MAX)));
    }
    let date = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let left = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(left.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_req_parses_observed_forms() {
        let r = RemainingReq::parse("group=default; min=1800; sec=29").unwrap();
        assert_eq!((r.group.as_str(), r.min, r.sec), ("default", Some(1800), 29));
        let r = RemainingReq::parse("group=crix-trades;min=599;sec9").unwrap();
        assert_eq!((r.group.as_str(), r.sec), ("crix-trades", 9));
        assert_eq!(Group::from_header("candles"), Some(Group::Candle));
        assert!(RemainingReq::parse("garbage").is_none());
    }

    #[test]
    fn block_durations() {
        assert_eq!(parse_block_duration(Some("12"), ""), Some(Duration::from_secs(12)));
        assert_eq!(parse_block_duration(None, "blocked for 30 seconds"), Some(Duration::from_secs(30)));
        assert_eq!(parse_block_duration(None, "5분 동안 차단"), Some(Duration::from_secs(300)));
        assert_eq!(parse_block_duration(None, "I'm a teapot"), None);
    }

    #[tokio::test]
    async fn blocked_fails_fast_and_status_shows_it() {
        let l = RestLimits::new();
        l.on_418(Group::Market, Some(Duration::from_secs(30)));
        let e = l.acquire(Group::Market).await.unwrap_err();
        assert!(matches!(e, UpbitError::Blocked { .. }));
        assert!(l.status().blocked_for.is_some());
        let p = l.on_429(Group::Ticker);
        let p2 = l.on_429(Group::Ticker);
        assert!(p2 > p);
        assert_eq!(l.status().paused.first().map(|x| x.0), Some(Group::Ticker.name()));
    }

    #[test]
    fn hostile_block_durations_are_bounded() {
        // The 418 reproduction of issue 15: 10^19 s does not fit an Instant offset.
        let huge = parse_block_duration(Some("10000000000000000000"), "");
        assert_eq!(huge, Some(MAX_BLOCK));
        assert_eq!(parse_block_duration(Some("99999999999999999999999999"), ""), Some(MAX_BLOCK));
        // Negative and malformed headers are ignored (then the body, then the default).
        assert_eq!(parse_block_duration(Some("-5"), ""), None);
        assert_eq!(parse_block_duration(Some("1.5"), "wait 3 seconds"), Some(Duration::from_secs(3)));
        // HTTP dates: in the past is zero, far future is capped.
        assert_eq!(parse_block_duration(Some("Wed, 21 Oct 2015 07:28:00 GMT"), ""), Some(Duration::ZERO));
        assert_eq!(parse_block_duration(Some("Fri, 31 Dec 9999 23:59:59 GMT"), ""), Some(MAX_BLOCK));
        // Products that would wrap in release builds saturate.
        assert_eq!(parse_block_duration(None, "blocked 18446744073709551615 hours"), Some(MAX_BLOCK));
        assert_eq!(parse_block_duration(None, "blocked 307445734561825861 min"), Some(MAX_BLOCK));
        assert_eq!(parse_block_duration(None, "99999999999999999999999 seconds"), Some(MAX_BLOCK));
        let l = RestLimits::new();
        assert_eq!(l.on_418(Group::Ticker, huge), MAX_BLOCK);
        assert!(l.status().blocked_for.is_some_and(|d| d <= MAX_BLOCK));
        assert_eq!(l.on_418(Group::Ticker, Some(Duration::MAX)), MAX_BLOCK);
        assert_eq!(l.on_418(Group::Ticker, Some(Duration::ZERO)), MIN_BLOCK);
    }

    #[test]
    fn clients_of_one_host_share_the_ban_and_keys_keep_their_own_budget() {
        let base = "http://limits-share.invalid:81/v1";
        let quotes = RestLimits::shared(base, None);
        let orders = RestLimits::shared(base, Some("key-a"));
        let other_key = RestLimits::shared(base, Some("key-b"));
        let elsewhere = RestLimits::shared("http://limits-other.invalid:81/v1", Some("key-a"));
        orders.on_418(Group::Market, Some(Duration::from_secs(30)));
        assert!(quotes.status().blocked_for.is_some(), "a 418 is an IP ban: every client of the host stops");
        assert!(other_key.status().blocked_for.is_some());
        assert!(elsewhere.status().blocked_for.is_none());
        // Exchange groups are per key; quotation groups per host.
        orders.on_429(Group::Order);
        assert!(other_key.status().paused.iter().all(|(g, _)| *g != Group::Order.name()));
        let again = RestLimits::shared(base, Some("key-a"));
        assert!(again.status().paused.iter().any(|(g, _)| *g == Group::Order.name()));
        other_key.on_429(Group::Ticker);
        assert!(quotes.status().paused.iter().any(|(g, _)| *g == Group::Ticker.name()));
    }

    #[tokio::test]
    async fn the_exchange_budget_and_its_418_belong_to_the_pocket() {
        let base = "http://limits-pocket.invalid:81/v1";
        let key_a = RestLimits::shared(base, Some("pocket-key-a"));
        let key_b = RestLimits::shared(base, Some("pocket-key-b"));
        let quotes = RestLimits::shared(base, None);
        let other_pocket = RestLimits::shared(base, Some("pocket-key-c"));
        // Two keys of one pocket: one budget once the pocket is known.
        key_a.attribute_pocket(Some("uuid-main"), "main");
        key_b.attribute_pocket(Some("uuid-main"), "main");
        other_pocket.attribute_pocket(Some("uuid-sub"), "savings");
        key_a.on_429(Group::Order);
        assert!(
            key_b.status().paused.iter().any(|(g, _)| *g == Group::Order.name()),
            "same pocket, same budget"
        );
        assert!(other_pocket.status().paused.is_empty(), "another pocket keeps its own budget");
        // A 418 for an exchange call bans the pocket: its exchange calls stop, quotation
        // calls and other pockets go on.
        key_b.on_418(Group::Default, Some(Duration::from_secs(30)));
        assert!(matches!(key_a.acquire(Group::Order).await, Err(UpbitError::Blocked { .. })));
        assert!(key_a.acquire(Group::Ticker).await.is_ok());
        assert!(other_pocket.acquire(Group::Default).await.is_ok());
        assert!(quotes.status().blocked_for.is_none());
        let st = key_a.status();
        assert_eq!(st.pocket.as_deref(), Some("main"));
        assert!(st.pocket_blocked_for.is_some() && st.blocked_for.is_some());
        assert_eq!(other_pocket.status().pocket.as_deref(), Some("savings"));
        // A key that cannot see its pocket keeps its own budget, named as such.
        let unseen = RestLimits::shared(base, Some("pocket-key-d"));
        unseen.attribute_pocket(None, "this key's pocket");
        assert!(unseen.acquire(Group::Default).await.is_ok());
        assert_eq!(unseen.status().pocket.as_deref(), Some("this key's pocket"));
    }

    #[tokio::test]
    async fn a_pocket_ban_drawn_before_the_pocket_is_known_outlives_the_attribution() {
        let base = "http://limits-early-ban.invalid:81/v1";
        let key = RestLimits::shared(base, Some("early-key"));
        key.on_418(Group::Order, Some(Duration::from_secs(30)));
        let st = key.status();
        assert!(st.pocket_blocked_for.is_some() && st.ip_blocked_for.is_none(), "{st:?}");
        key.attribute_pocket(Some("uuid-early"), "main");
        assert!(matches!(key.acquire(Group::Order).await, Err(UpbitError::Blocked { .. })));
        assert!(key.status().pocket_blocked_for.is_some());
        assert!(key.acquire(Group::Ticker).await.is_ok(), "quotation calls go on");
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn retry_after() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                any::<u64>().prop_map(|n| n.to_string()),
                any::<i64>().prop_map(|n| n.to_string()),
                "[0-9]{15,40}",
                " *-?[0-9]{0,30}(\\.[0-9]{0,5})? *",
                any::<i64>().prop_map(|t| {
                    let t = t.rem_euclid(253_402_300_799);
                    chrono::DateTime::from_timestamp(t, 0)
                        .map(|d| d.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
                        .unwrap_or_default()
                }),
            ]
        }

        fn body() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                "([0-9]{1,30} ?(ms|millis|min|분|h|시간|s|초|x)? ?){0,6}",
                (any::<u64>(), "(ms|min|분|hours|시간|seconds|초)").prop_map(|(n, u)| format!("{n} {u}")),
                Just("9".repeat(100_000)),
                Just("1 ".repeat(50_000)),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            #[test]
            fn any_418_answer_gives_a_bounded_block(ra in proptest::option::of(retry_after()), body in body()) {
                let d = parse_block_duration(ra.as_deref(), &body);
                prop_assert!(d.is_none_or(|d| d <= MAX_BLOCK));
                let l = RestLimits::new();
                let applied = l.on_418(Group::Market, d);
                prop_assert!(applied >= MIN_BLOCK && applied <= MAX_BLOCK);
                prop_assert!(l.status().blocked_for.is_some_and(|b| b <= MAX_BLOCK));
            }

            #[test]
            fn any_remaining_req_header_is_safe(
                raw in prop_oneof![
                    any::<String>(),
                    "group=[a-z-]{0,12}; ?min=-?[0-9]{0,25}; ?sec=?-?[0-9]{0,25}",
                    "[a-z=;0-9 ]{0,40}",
                ],
            ) {
                let l = RestLimits::new();
                if let Some(rr) = RemainingReq::parse(&raw) {
                    l.on_remaining(&rr, Group::Default);
                }
                prop_assert!(l.status().paused.iter().all(|(_, d)| *d <= SEC_ZERO_REST));
            }
        }
    }
}
