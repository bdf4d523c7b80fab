//! Client-side rate limiting for Upbit REST: one governor limiter per Upbit group,
//! corrected by the `Remaining-Req` header, paused on 429, halted globally on 418.
//!
//! Rate limits are a contract with the venue (RELIABILITY rule 7): we throttle before
//! Upbit has to, and when it does push back we stop that group (429) or everything (418)
//! instead of hammering it into a longer block.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::DefaultClock;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::exchange::upbit::error::UpbitError;

/// Upbit REST rate-limit groups (protocol §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
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
    pub fn from_header(name: &str) -> Option<Group> {
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
pub struct RemainingReq {
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
pub const DEFAULT_BLOCK: Duration = Duration::from_secs(60);
/// First 429 pause; doubles per consecutive 429 of the same group.
const PAUSE_429_INITIAL: Duration = Duration::from_secs(1);
/// Cap of the 429 pause.
const PAUSE_429_MAX: Duration = Duration::from_secs(16);

#[derive(Debug, Default)]
struct GroupState {
    paused_until: Option<Instant>,
    consecutive_429: u32,
}

#[derive(Debug, Default)]
struct State {
    groups: HashMap<Group, GroupState>,
    blocked_until: Option<Instant>,
    blocks: u32,
    rate_limited: u64,
}

/// What the limiter is doing, for the System pane.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LimitsStatus {
    /// Time left on a 418 block, if REST is halted.
    pub blocked_for: Option<Duration>,
    /// Groups paused after 429 or `sec=0`, with time left.
    pub paused: Vec<(Group, Duration)>,
    /// 418 blocks seen.
    pub blocks: u32,
    /// 429 answers seen.
    pub rate_limited: u64,
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock>;

/// Per-group limiters plus the pause/block state. Shared by every REST call.
pub struct RestLimits {
    limiters: HashMap<Group, Limiter>,
    state: Mutex<State>,
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

impl RestLimits {
    /// Limiters at Upbit's published per-group limits.
    pub fn new() -> Self {
        let limiters = Group::ALL.iter().map(|g| (*g, RateLimiter::direct(g.quota()))).collect();
        RestLimits { limiters, state: Mutex::new(State::default()) }
    }

    /// Waits for a slot in `group`. Fails at once while a 418 block is active (REST is
    /// halted; the caller must not queue behind a minute-long block).
    pub async fn acquire(&self, group: Group) -> Result<(), UpbitError> {
        loop {
            let wait = {
                let st = lock(&self.state);
                let now = Instant::now();
                if let Some(until) = st.blocked_until.filter(|u| *u > now) {
                    return Err(UpbitError::Blocked { remaining: until - now });
                }
                st.groups.get(&group).and_then(|g| g.paused_until).filter(|u| *u > now).map(|u| u - now)
            };
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => break,
            }
        }
        if let Some(l) = self.limiters.get(&group) {
            l.until_ready().await;
        }
        Ok(())
    }

    /// Applies a `Remaining-Req` header: `sec=0` rests the group for one window.
    pub fn on_remaining(&self, header: &RemainingReq, fallback: Group) {
        let group = Group::from_header(&header.group).unwrap_or(fallback);
        if header.sec == 0 {
            let mut st = lock(&self.state);
            let g = st.groups.entry(group).or_default();
            let until = Instant::now() + SEC_ZERO_REST;
            g.paused_until = Some(g.paused_until.map_or(until, |p| p.max(until)));
        }
    }

    /// A success in `group` resets its 429 backoff.
    pub fn on_success(&self, group: Group) {
        let mut st = lock(&self.state);
        if let Some(g) = st.groups.get_mut(&group) {
            g.consecutive_429 = 0;
        }
    }

    /// A 429 in `group`: pause it, doubling per consecutive 429. Returns the pause.
    pub fn on_429(&self, group: Group) -> Duration {
        let mut st = lock(&self.state);
        st.rate_limited += 1;
        let g = st.groups.entry(group).or_default();
        let factor = 1u32 << g.consecutive_429.min(4);
        g.consecutive_429 = g.consecutive_429.saturating_add(1);
        let pause = (PAUSE_429_INITIAL * factor).min(PAUSE_429_MAX);
        g.paused_until = Some(Instant::now() + pause);
        tracing::warn!(group = group.name(), ?pause, "upbit 429: pausing the group");
        pause
    }

    /// A 418: halt every REST call for `block` (or [`DEFAULT_BLOCK`]).
    pub fn on_418(&self, block: Option<Duration>) -> Duration {
        let block = block.unwrap_or(DEFAULT_BLOCK);
        let mut st = lock(&self.state);
        st.blocks += 1;
        let until = Instant::now() + block;
        st.blocked_until = Some(st.blocked_until.map_or(until, |b| b.max(until)));
        tracing::error!(?block, "upbit 418: all REST calls halted until the block ends");
        block
    }

    /// Current status.
    pub fn status(&self) -> LimitsStatus {
        let st = lock(&self.state);
        let now = Instant::now();
        let mut paused: Vec<(Group, Duration)> = st
            .groups
            .iter()
            .filter_map(|(g, s)| s.paused_until.filter(|u| *u > now).map(|u| (*g, u - now)))
            .collect();
        paused.sort();
        LimitsStatus {
            blocked_for: st.blocked_until.filter(|u| *u > now).map(|u| u - now),
            paused,
            blocks: st.blocks,
            rate_limited: st.rate_limited,
        }
    }
}

/// Reads a block duration out of a 418 answer: `Retry-After` seconds first, then the
/// first number in the body followed by a unit (`30 seconds`, `5분`, `2 min`), else `None`.
pub fn parse_block_duration(retry_after: Option<&str>, body: &str) -> Option<Duration> {
    if let Some(secs) = retry_after.and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(Duration::from_secs(secs));
    }
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let n: u64 = body[start..i].parse().ok()?;
            let rest = body[i..].trim_start().to_ascii_lowercase();
            if rest.starts_with("ms") || rest.starts_with("millis") {
                return Some(Duration::from_millis(n));
            }
            if rest.starts_with("min") || rest.starts_with("분") {
                return Some(Duration::from_secs(n * 60));
            }
            if rest.starts_with('h') || rest.starts_with("시간") {
                return Some(Duration::from_secs(n * 3600));
            }
            if rest.starts_with('s') || rest.starts_with("초") {
                return Some(Duration::from_secs(n));
            }
        } else {
            i += 1;
        }
    }
    None
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
        l.on_418(Some(Duration::from_secs(30)));
        let e = l.acquire(Group::Market).await.unwrap_err();
        assert!(matches!(e, UpbitError::Blocked { .. }));
        assert!(l.status().blocked_for.is_some());
        let p = l.on_429(Group::Ticker);
        let p2 = l.on_429(Group::Ticker);
        assert!(p2 > p);
        assert_eq!(l.status().paused.first().map(|x| x.0), Some(Group::Ticker));
    }
}
