//! Upbit's rate limits (protocol reference §3): fixed per-second windows per group and
//! scope (IP for quotation; for exchange the caller's pocket, as Upbit counts since
//! 2026-06-25, see [`super::pockets`]), `Remaining-Req` values, 429 when a
//! window is exhausted, 418 with a block time after repeated violations, and the 1-per-10 s
//! policy for requests carrying `Origin`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A rate-limit group as the `Remaining-Req` header names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Group {
    /// Header literal (`market`, `candles`, `crix-trades`, …).
    pub name: &'static str,
    /// Requests per window.
    pub limit: u32,
    /// Window length.
    pub window: Duration,
}

const SEC: Duration = Duration::from_secs(1);

/// `GET /market/all`.
pub(crate) const MARKET: Group = Group { name: "market", limit: 10, window: SEC };
/// Candles.
pub(crate) const CANDLES: Group = Group { name: "candles", limit: 10, window: SEC };
/// `GET /trades/ticks`.
pub(crate) const TRADES: Group = Group { name: "crix-trades", limit: 10, window: SEC };
/// Tickers.
pub(crate) const TICKER: Group = Group { name: "ticker", limit: 10, window: SEC };
/// Order books and instruments.
pub(crate) const ORDERBOOK: Group = Group { name: "orderbook", limit: 10, window: SEC };
/// Exchange default.
pub const DEFAULT: Group = Group { name: "default", limit: 30, window: SEC };
/// Order creation and cancel_and_new.
pub const ORDER: Group = Group { name: "order", limit: 12, window: SEC };
/// `POST /orders/test`.
pub(crate) const ORDER_TEST: Group = Group { name: "order-test", limit: 8, window: SEC };
/// `DELETE /orders/open`: one per 2 s.
pub(crate) const ORDER_CANCEL_ALL: Group =
    Group { name: "order-cancel-all", limit: 1, window: Duration::from_secs(2) };
/// Requests carrying an `Origin` header (browsers): one per 10 s for quotation REST and
/// websocket upgrades.
pub(crate) const ORIGIN: Group = Group { name: "origin", limit: 1, window: Duration::from_secs(10) };
/// WebSocket upgrades.
pub(crate) const WS_CONNECT: Group = Group { name: "websocket-connect", limit: 5, window: SEC };

/// The group of a REST route.
pub(crate) fn group_of(method: &str, path: &str) -> Group {
    let p = path.trim_end_matches('/');
    match (method, p) {
        (_, "/v1/market/all") => MARKET,
        (_, p) if p.starts_with("/v1/candles") => CANDLES,
        (_, "/v1/trades/ticks") => TRADES,
        (_, "/v1/ticker") | (_, "/v1/ticker/all") => TICKER,
        (_, "/v1/orderbook") | (_, "/v1/orderbook/instruments") => ORDERBOOK,
        ("POST", "/v1/orders") | ("POST", "/v1/orders/cancel_and_new") => ORDER,
        ("POST", "/v1/orders/test") => ORDER_TEST,
        ("DELETE", "/v1/orders/open") => ORDER_CANCEL_ALL,
        _ => DEFAULT,
    }
}

/// True for the quotation groups (counted per IP, integer error names).
pub(crate) fn is_quotation(g: Group) -> bool {
    matches!(g.name, "market" | "candles" | "crix-trades" | "ticker" | "orderbook")
}

/// Outcome of one admission check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Allowed; requests left in the window.
    Allowed {
        /// `sec=` value.
        remaining: u32,
    },
    /// 429.
    TooMany,
    /// 418: blocked for this long.
    Blocked(Duration),
}

#[derive(Debug)]
struct Window {
    start: Instant,
    count: u32,
    strikes: u32,
    blocked_until: Option<Instant>,
    block_len: Duration,
}

/// Fixed-window counters for every (group, scope).
#[derive(Debug)]
pub(crate) struct Limiter {
    windows: HashMap<(&'static str, String), Window>,
    /// 429s in a row before a 418.
    pub(crate) strikes_to_block: u32,
    /// First block length (doubles on each further block).
    pub(crate) first_block: Duration,
    /// Off: every request is allowed (benchmarks).
    pub(crate) enabled: bool,
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter {
            windows: HashMap::new(),
            strikes_to_block: 10,
            first_block: Duration::from_secs(5),
            enabled: true,
        }
    }
}

impl Limiter {
    /// Counts one request of `group` from `scope` at `now`.
    pub fn check(&mut self, group: Group, scope: &str, now: Instant) -> Verdict {
        if !self.enabled {
            return Verdict::Allowed { remaining: group.limit.saturating_sub(1) };
        }
        let first_block = self.first_block;
        let w = self.windows.entry((group.name, scope.to_string())).or_insert(Window {
            start: now,
            count: 0,
            strikes: 0,
            blocked_until: None,
            block_len: first_block,
        });
        if let Some(until) = w.blocked_until {
            if now < until {
                return Verdict::Blocked(until - now);
            }
            w.blocked_until = None;
            w.strikes = 0;
        }
        if now.duration_since(w.start) >= group.window {
            // Fixed windows aligned to the first request of the period.
            let periods = now.duration_since(w.start).as_millis() / group.window.as_millis().max(1);
            w.start += group.window * periods as u32;
            w.count = 0;
        }
        if w.count >= group.limit {
            w.strikes += 1;
            if w.strikes >= self.strikes_to_block {
                let len = w.block_len;
                w.blocked_until = Some(now + len);
                w.block_len = len * 2;
                return Verdict::Blocked(len);
            }
            return Verdict::TooMany;
        }
        w.count += 1;
        w.strikes = 0;
        Verdict::Allowed { remaining: group.limit - w.count }
    }
}

/// `group=…; min=…; sec=…`.
pub(crate) fn remaining_req(group: Group, remaining: u32) -> String {
    let per_sec = (u64::from(group.limit) * 1000 / group.window.as_millis().max(1) as u64).max(1);
    let min =
        if group.window > SEC { 60 * 1000 / group.window.as_millis().max(1) as u64 } else { per_sec * 60 };
    format!("group={}; min={}; sec={}", group.name, min, remaining)
}

/// A per-connection websocket message limiter: 5/s and 100/min fixed windows.
#[derive(Debug)]
pub(crate) struct WsMessageLimiter {
    sec_start: Instant,
    sec_count: u32,
    min_start: Instant,
    min_count: u32,
    /// Violations in a row.
    pub(crate) strikes: u32,
}

impl WsMessageLimiter {
    /// A fresh limiter.
    pub fn new(now: Instant) -> Self {
        WsMessageLimiter { sec_start: now, sec_count: 0, min_start: now, min_count: 0, strikes: 0 }
    }

    /// Counts one message; false when over either limit.
    pub(crate) fn admit(&mut self, now: Instant) -> bool {
        if now.duration_since(self.sec_start) >= SEC {
            self.sec_start = now;
            self.sec_count = 0;
        }
        if now.duration_since(self.min_start) >= Duration::from_secs(60) {
            self.min_start = now;
            self.min_count = 0;
        }
        if self.sec_count >= 5 || self.min_count >= 100 {
            self.strikes += 1;
            return false;
        }
        self.sec_count += 1;
        self.min_count += 1;
        self.strikes = 0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counts_down_then_429_then_418() {
        let mut l = Limiter { strikes_to_block: 3, ..Default::default() };
        let t0 = Instant::now();
        for i in 0..10 {
            assert_eq!(l.check(TICKER, "ip", t0), Verdict::Allowed { remaining: 9 - i });
        }
        assert_eq!(l.check(TICKER, "ip", t0), Verdict::TooMany);
        assert_eq!(l.check(TICKER, "ip", t0), Verdict::TooMany);
        assert!(matches!(l.check(TICKER, "ip", t0), Verdict::Blocked(_)));
        // Still blocked in the next second.
        assert!(matches!(l.check(TICKER, "ip", t0 + SEC), Verdict::Blocked(_)));
        assert_eq!(l.check(TICKER, "ip", t0 + Duration::from_secs(6)), Verdict::Allowed { remaining: 9 });
        // Other groups are independent.
        assert_eq!(l.check(MARKET, "ip", t0), Verdict::Allowed { remaining: 9 });
    }

    #[test]
    fn header_matches_observed_shape() {
        assert_eq!(remaining_req(DEFAULT, 29), "group=default; min=1800; sec=29");
        assert_eq!(remaining_req(ORDER, 11), "group=order; min=720; sec=11");
        assert_eq!(group_of("GET", "/v1/candles/minutes/1").name, "candles");
        assert_eq!(group_of("DELETE", "/v1/orders/open").name, "order-cancel-all");
    }

    #[test]
    fn ws_messages_five_per_second() {
        let t0 = Instant::now();
        let mut w = WsMessageLimiter::new(t0);
        for _ in 0..5 {
            assert!(w.admit(t0));
        }
        assert!(!w.admit(t0));
        assert!(w.admit(t0 + SEC));
    }
}
