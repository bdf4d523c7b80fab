//! Client-side rate limiting for Binance spot REST: one request-weight budget per IP and
//! minute, kept in step with the server by the `X-MBX-USED-WEIGHT-1M` header, paused on
//! 429 for `Retry-After`, halted on 418 (an IP ban) until the ban is over.
//!
//! Binance counts weight per IP, not per key ("The limits on the API are based on the
//! IPs, not the API keys"), in fixed windows of one minute, and answers a caller past the
//! limit with 429 and `Retry-After`; one that keeps calling after 429s gets 418, a ban
//! that "scales in duration for repeat offenders, from 2 minutes to 3 days". So the
//! budget is process-wide per host ([`WeightLimits::shared`]): every client of one host in
//! this process draws on it, and a 418 seen by one halts them all. Every duration that
//! comes from the network is bounded ([`MAX_BAN`], [`MAX_PAUSE`]) and every deadline is
//! computed with checked arithmetic.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::exchange::rest::LimitsStatus;

/// The rate-limit group name shown for people (the System pane, health).
pub const GROUP: &str = "weight";

/// Binance's published `REQUEST_WEIGHT` limit: 6,000 per minute per IP. The live value is
/// in `exchangeInfo`'s `rateLimits` and replaces this once the market list is read
/// ([`WeightLimits::set_limit`]).
pub const DEFAULT_WEIGHT_PER_MINUTE: u32 = 6000;

/// The share of the server's limit this client spends, in percent. The rest is headroom for
/// other programs on the same IP (a browser, a second terminal) and for our clock's minute
/// not starting exactly when Binance's does.
const BUDGET_PERCENT: u32 = 90;

/// The longest 418 ban honoured: Binance's documented longest, 3 days. A `Retry-After`
/// asking for more is capped; past the cap the next call goes out and, if the ban still
/// holds, Binance answers 418 again with the time left.
pub const MAX_BAN: Duration = Duration::from_secs(3 * 24 * 60 * 60);
/// A 418 without a usable `Retry-After`: Binance's shortest ban, 2 minutes.
pub const DEFAULT_BAN: Duration = Duration::from_secs(120);
/// The longest 429 pause honoured (a 429 asks to wait out the current window at most).
pub const MAX_PAUSE: Duration = Duration::from_secs(5 * 60);
/// The shortest pause or ban: even `Retry-After: 0` rests a second rather than calling
/// straight back.
const MIN_REST: Duration = Duration::from_secs(1);
/// A 429 without `Retry-After`: the first pause; doubles per consecutive 429.
const PAUSE_429_INITIAL: Duration = Duration::from_secs(1);
/// Cap of the doubling pause.
const PAUSE_429_MAX: Duration = Duration::from_secs(60);
/// The largest limit accepted from `exchangeInfo` (a number from the network).
const MAX_LIMIT: u32 = 1_000_000;

/// Request weights of the endpoints hoga calls (Binance spot REST, market data).
pub mod weight {
    /// `GET /api/v3/exchangeInfo` (all symbols).
    pub const EXCHANGE_INFO: u32 = 20;
    /// `GET /api/v3/trades`.
    pub const TRADES: u32 = 25;
    /// `GET /api/v3/klines`.
    pub const KLINES: u32 = 2;
    /// `GET /api/v3/ping`, `GET /api/v3/time`.
    pub const PING: u32 = 1;

    /// `GET /api/v3/depth` by `limit`: 1-100 → 5, 101-500 → 25, 501-1000 → 50, more → 250.
    pub fn depth(limit: u32) -> u32 {
        match limit {
            0..=100 => 5,
            101..=500 => 25,
            501..=1000 => 50,
            _ => 250,
        }
    }

    /// `GET /api/v3/ticker/24hr` by the number of symbols asked for: one (`symbol=`) or
    /// 1-20 (`symbols=`) → 2, 21-100 → 40, 101 or more, or none named (every symbol) → 80.
    pub fn ticker_24hr(symbols: usize) -> u32 {
        match symbols {
            1..=20 => 2,
            21..=100 => 40,
            _ => 80,
        }
    }
}

/// `now + d`, checked: every `d` handed in is bounded, so the fallback (no wait at all) is
/// unreachable on a real clock; it is there so a number from the network cannot panic.
fn deadline(now: Instant, d: Duration) -> Instant {
    now.checked_add(d).unwrap_or(now)
}

/// Unix milliseconds now (0 before 1970: the minute is then wrong, which only costs a
/// wait).
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[derive(Debug)]
struct State {
    /// The server's per-minute limit.
    limit: u32,
    /// The minute (Unix ms / 60,000) `used` counts.
    minute: i64,
    /// Weight used in `minute`: ours, corrected upwards by the server's header.
    used: u32,
    /// Held back after a 429, or until the next minute when the budget is spent.
    paused_until: Option<Instant>,
    consecutive_429: u32,
    /// An IP ban (418): no call goes out.
    banned_until: Option<Instant>,
    bans: u32,
    rate_limited: u64,
}

/// What a call must do before it may go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Go: the weight is counted.
    Go,
    /// Wait this long, then ask again (a 429 pause, or the minute's budget is spent).
    Wait(Duration),
    /// Banned (418) for this long: fail at once, never queue behind a ban.
    Banned(Duration),
}

/// The request-weight budget of one host (Binance: one IP).
#[derive(Debug)]
pub struct WeightLimits {
    state: Mutex<State>,
}

impl Default for WeightLimits {
    fn default() -> Self {
        Self::new()
    }
}

/// Budgets by `host:port`, held weakly: a budget lives as long as some client uses it, so
/// clients alive at the same time share it, and a test server's port reused later does not
/// inherit an old ban.
static SHARED: LazyLock<Mutex<HashMap<String, Weak<WeightLimits>>>> = LazyLock::new(Default::default);

impl WeightLimits {
    /// A fresh budget at Binance's published limit, shared with nobody.
    pub fn new() -> Self {
        WeightLimits {
            state: Mutex::new(State {
                limit: DEFAULT_WEIGHT_PER_MINUTE,
                minute: 0,
                used: 0,
                paused_until: None,
                consecutive_429: 0,
                banned_until: None,
                bans: 0,
                rate_limited: 0,
            }),
        }
    }

    /// The process-wide budget of `base_url`'s host.
    pub fn shared(base_url: &str) -> Arc<WeightLimits> {
        let id = crate::exchange::rest::host_of(base_url);
        let mut table = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = table.get(&id).and_then(Weak::upgrade) {
            return s;
        }
        table.retain(|_, w| w.strong_count() > 0);
        let s = Arc::new(WeightLimits::new());
        table.insert(id, Arc::downgrade(&s));
        s
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adopts the server's per-minute `REQUEST_WEIGHT` limit (from `exchangeInfo`). A limit
    /// of 0 or past [`MAX_LIMIT`] is ignored (the published one stays).
    pub fn set_limit(&self, limit: u32) {
        if (1..=MAX_LIMIT).contains(&limit) {
            self.lock().limit = limit;
        } else {
            tracing::warn!(limit, "binance: a REQUEST_WEIGHT limit outside 1..=1000000 ignored");
        }
    }

    /// The server's limit and the weight used in the current minute, as far as known.
    pub fn used(&self) -> (u32, u32) {
        let minute = now_ms().div_euclid(60_000);
        let st = self.lock();
        (if st.minute == minute { st.used } else { 0 }, st.limit)
    }

    /// Whether a call of `weight` may go out at `now` (Unix ms `now_ms`); counts it when
    /// it may. The clock is passed in so the rules can be tested without waiting.
    pub fn admit_at(&self, weight: u32, now: Instant, now_ms: i64) -> Admit {
        let mut st = self.lock();
        if let Some(until) = st.banned_until.filter(|u| *u > now) {
            return Admit::Banned(until - now);
        }
        if let Some(until) = st.paused_until.filter(|u| *u > now) {
            return Admit::Wait(until - now);
        }
        let minute = now_ms.div_euclid(60_000);
        if minute != st.minute {
            st.minute = minute;
            st.used = 0;
        }
        let budget = st.limit.saturating_mul(BUDGET_PERCENT) / 100;
        // A call heavier than the whole budget still goes out in a fresh minute (never
        // waits forever); otherwise the minute's budget must hold it.
        if st.used > 0 && st.used.saturating_add(weight) > budget {
            // Rest to the next minute, plus a little: our minute and Binance's differ by
            // the clock skew.
            let into = u64::try_from(now_ms.rem_euclid(60_000)).unwrap_or(0);
            let wait = Duration::from_millis(60_000 - into + 250);
            st.paused_until = Some(deadline(now, wait));
            tracing::info!(
                used = st.used,
                budget,
                ?wait,
                "binance: the minute's request weight is spent; waiting"
            );
            return Admit::Wait(wait);
        }
        st.used = st.used.saturating_add(weight);
        Admit::Go
    }

    /// Waits until a call of `weight` may go out and counts it; `Err` with the time left
    /// when the IP is banned.
    pub async fn acquire(&self, weight: u32) -> Result<(), Duration> {
        loop {
            match self.admit_at(weight, Instant::now(), now_ms()) {
                Admit::Go => return Ok(()),
                Admit::Wait(d) => tokio::time::sleep(d).await,
                Admit::Banned(left) => return Err(left),
            }
        }
    }

    /// Applies `X-MBX-USED-WEIGHT-1M`: the weight the server counted for this IP in its
    /// current minute. It only raises ours (answers to calls made at the same time arrive
    /// in any order, and an older, lower figure must not undo a newer one).
    pub fn on_used_weight_at(&self, used: u32, now_ms: i64) {
        let mut st = self.lock();
        let minute = now_ms.div_euclid(60_000);
        if minute != st.minute {
            st.minute = minute;
            st.used = 0;
        }
        st.used = st.used.max(used);
    }

    /// [`WeightLimits::on_used_weight_at`] now.
    pub fn on_used_weight(&self, used: u32) {
        self.on_used_weight_at(used, now_ms());
    }

    /// A success ends the 429 backoff.
    pub fn on_success(&self) {
        self.lock().consecutive_429 = 0;
    }

    /// A 429: holds every call back for `Retry-After` (bounded), or a doubling pause when
    /// the answer did not say. Returns the pause.
    pub fn on_429_at(&self, retry_after: Option<Duration>, now: Instant) -> Duration {
        let mut st = self.lock();
        st.rate_limited = st.rate_limited.saturating_add(1);
        let doubling = PAUSE_429_INITIAL.saturating_mul(1u32 << st.consecutive_429.min(6)).min(PAUSE_429_MAX);
        st.consecutive_429 = st.consecutive_429.saturating_add(1);
        let pause = retry_after.unwrap_or(doubling).clamp(MIN_REST, MAX_PAUSE);
        let until = deadline(now, pause);
        st.paused_until = Some(st.paused_until.map_or(until, |p| p.max(until)));
        tracing::warn!(?pause, "binance 429: REST calls paused (Retry-After)");
        pause
    }

    /// [`WeightLimits::on_429_at`] now.
    pub fn on_429(&self, retry_after: Option<Duration>) -> Duration {
        self.on_429_at(retry_after, Instant::now())
    }

    /// A 418 (the IP is banned): no call goes out for `ban` (bounded; [`DEFAULT_BAN`] when
    /// the answer did not say). Returns the ban applied.
    pub fn on_418_at(&self, ban: Option<Duration>, now: Instant) -> Duration {
        let mut st = self.lock();
        st.bans = st.bans.saturating_add(1);
        let ban = ban.unwrap_or(DEFAULT_BAN).clamp(MIN_REST, MAX_BAN);
        let until = deadline(now, ban);
        st.banned_until = Some(st.banned_until.map_or(until, |b| b.max(until)));
        tracing::error!(?ban, "binance 418: this IP is banned; every REST call halted until the ban ends");
        ban
    }

    /// [`WeightLimits::on_418_at`] now.
    pub fn on_418(&self, ban: Option<Duration>) -> Duration {
        self.on_418_at(ban, Instant::now())
    }

    /// The neutral status at `now`.
    pub fn status_at(&self, now: Instant) -> LimitsStatus {
        let st = self.lock();
        let banned = st.banned_until.filter(|u| *u > now).map(|u| u - now);
        let paused = st.paused_until.filter(|u| *u > now).map(|u| (GROUP, u - now));
        LimitsStatus {
            blocked_for: banned,
            ip_blocked_for: banned,
            paused: paused.into_iter().collect(),
            blocks: st.bans,
            rate_limited: st.rate_limited,
            pocket: None,
            pocket_blocked_for: None,
        }
    }

    /// The neutral status now.
    pub fn status(&self) -> LimitsStatus {
        self.status_at(Instant::now())
    }
}

/// `Retry-After` as delta seconds (Binance sends seconds); anything else is `None`.
/// Overlong digit strings saturate (callers bound the result).
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    (!v.is_empty() && v.len() <= 40 && v.bytes().all(|b| b.is_ascii_digit()))
        .then(|| Duration::from_secs(v.parse().unwrap_or(u64::MAX)))
}

/// The end of a ban named in a 418 (or -1003) message, `... IP banned until 1700000000000.
/// ...`, as the time left after `now_ms`. `None` when the message names no such time.
pub fn ban_from_message(msg: &str, now_ms: i64) -> Option<Duration> {
    let lower: String = msg.chars().take(400).collect::<String>().to_ascii_lowercase();
    let rest = &lower[lower.find("banned until")? + "banned until".len()..];
    let digits: String = rest.trim_start().chars().take_while(char::is_ascii_digit).take(16).collect();
    let until: i64 = digits.parse().ok()?;
    Some(Duration::from_millis(u64::try_from(until.saturating_sub(now_ms)).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 12:00:00.000 of some day, in Unix ms (a whole minute).
    const T0: i64 = 1_733_443_200_000;

    #[test]
    fn weights_are_binance_documented_ones() {
        assert_eq!(
            [weight::depth(5), weight::depth(100), weight::depth(101), weight::depth(500)],
            [5, 5, 25, 25]
        );
        assert_eq!([weight::depth(1000), weight::depth(5000)], [50, 250]);
        assert_eq!(
            [
                weight::ticker_24hr(1),
                weight::ticker_24hr(20),
                weight::ticker_24hr(21),
                weight::ticker_24hr(100)
            ],
            [2, 2, 40, 40]
        );
        assert_eq!([weight::ticker_24hr(101), weight::ticker_24hr(0)], [80, 80]);
    }

    #[test]
    fn the_budget_holds_calls_back_to_the_next_minute() {
        let l = WeightLimits::new();
        l.set_limit(100); // budget: 90
        let now = Instant::now();
        for _ in 0..45 {
            assert_eq!(l.admit_at(2, now, T0 + 1_000), Admit::Go);
        }
        assert_eq!(l.used_at_minute(T0), 90);
        // The 46th call would pass 90: wait for the next minute (59 s left, plus margin).
        match l.admit_at(2, now, T0 + 1_000) {
            Admit::Wait(d) => assert_eq!(d, Duration::from_millis(59_250)),
            other => panic!("{other:?}"),
        }
        assert_eq!(l.status_at(now).paused, vec![(GROUP, Duration::from_millis(59_250))]);
        // In the next minute the budget is fresh.
        let later = now + Duration::from_millis(59_250);
        assert_eq!(l.admit_at(2, later, T0 + 60_250), Admit::Go);
        assert_eq!(l.used_at_minute(T0 + 60_000), 2);
    }

    #[test]
    fn the_servers_used_weight_only_raises_ours() {
        let l = WeightLimits::new();
        let now = Instant::now();
        assert_eq!(l.admit_at(20, now, T0), Admit::Go);
        // Another program on this IP spent 5,000 this minute: the server says so.
        l.on_used_weight_at(5_020, T0 + 10);
        assert_eq!(l.used_at_minute(T0), 5_020);
        // An older answer arriving late does not lower it.
        l.on_used_weight_at(40, T0 + 20);
        assert_eq!(l.used_at_minute(T0), 5_020);
        // 5,020 + 500 passes 90 % of 6,000 (5,400): held back.
        assert!(matches!(l.admit_at(500, now, T0 + 30), Admit::Wait(_)));
        // A header of a new minute starts that minute's count.
        l.on_used_weight_at(3, T0 + 61_000);
        assert_eq!(l.used_at_minute(T0 + 60_000), 3);
    }

    #[test]
    fn a_429_pauses_for_retry_after_and_a_418_bans() {
        let l = WeightLimits::new();
        let now = Instant::now();
        assert_eq!(l.on_429_at(Some(Duration::from_secs(7)), now), Duration::from_secs(7));
        assert_eq!(l.admit_at(1, now, T0), Admit::Wait(Duration::from_secs(7)));
        assert_eq!(l.status_at(now).rate_limited, 1);
        // Without Retry-After: 1 s, then 2 s, ...; never past the bounds.
        let l2 = WeightLimits::new();
        assert_eq!(l2.on_429_at(None, now), Duration::from_secs(1));
        assert_eq!(l2.on_429_at(None, now), Duration::from_secs(2));
        assert_eq!(l2.on_429_at(Some(Duration::from_secs(u64::MAX)), now), MAX_PAUSE);
        assert_eq!(l2.on_429_at(Some(Duration::ZERO), now), MIN_REST);
        l2.on_success();
        // A ban fails calls at once, with the time left.
        assert_eq!(l.on_418_at(Some(Duration::from_secs(120)), now), Duration::from_secs(120));
        assert_eq!(l.admit_at(1, now, T0), Admit::Banned(Duration::from_secs(120)));
        let s = l.status_at(now);
        assert_eq!(
            (s.blocked_for, s.ip_blocked_for, s.blocks),
            (Some(Duration::from_secs(120)), Some(Duration::from_secs(120)), 1)
        );
        assert_eq!(l.on_418_at(Some(Duration::from_secs(u64::MAX)), now), MAX_BAN);
        assert_eq!(WeightLimits::new().on_418_at(None, now), DEFAULT_BAN);
        // After the ban, calls go again.
        let after = now + MAX_BAN + Duration::from_secs(1);
        assert_eq!(l.admit_at(1, after, T0 + 400_000_000), Admit::Go);
    }

    #[test]
    fn retry_after_and_ban_messages_parse_and_are_bounded() {
        assert_eq!(parse_retry_after(" 30 "), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("99999999999999999999999"), Some(Duration::from_secs(u64::MAX)));
        for bad in ["", "-1", "1.5", "Wed, 21 Oct 2015 07:28:00 GMT", "abc"] {
            assert_eq!(parse_retry_after(bad), None, "{bad:?}");
        }
        let msg = "Way too much request weight used; IP banned until 1733443320000. Please use WebSocket Streams for live updates to avoid bans.";
        assert_eq!(ban_from_message(msg, T0), Some(Duration::from_secs(120)));
        assert_eq!(ban_from_message(msg, T0 + 200_000), Some(Duration::ZERO));
        assert_eq!(ban_from_message("Invalid symbol.", T0), None);
        assert_eq!(ban_from_message("IP banned until 99999999999999999999999999", T0).map(|_| ()), Some(()));
    }

    #[test]
    fn limits_from_the_network_are_bounded_and_hosts_share_a_budget() {
        let l = WeightLimits::new();
        l.set_limit(0);
        l.set_limit(u32::MAX);
        assert_eq!(l.lock().limit, DEFAULT_WEIGHT_PER_MINUTE);
        let a = WeightLimits::shared("http://127.0.0.1:1/");
        let b = WeightLimits::shared("http://127.0.0.1:1");
        let c = WeightLimits::shared("http://127.0.0.1:2");
        assert!(Arc::ptr_eq(&a, &b) && !Arc::ptr_eq(&a, &c));
    }

    impl WeightLimits {
        fn used_at_minute(&self, at_ms: i64) -> u32 {
            let st = self.lock();
            if st.minute == at_ms.div_euclid(60_000) { st.used } else { 0 }
        }
    }
}
