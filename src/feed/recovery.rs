//! Reconnect pacing: exponential backoff with jitter (1 s → 60 s, ×2) and the per-connection
//! websocket message limiter (Upbit: 5 requests/s and 100/min per connection).
//!
//! Jitter spreads reconnects of many clients after a server-side drop; the cap keeps a
//! refusing server from being hammered (docs/RELIABILITY.md case 27). Both connections together
//! stay far below Upbit's 5 connects/s because every attempt waits at least `initial`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Exponential backoff with ±20 % jitter.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
}

/// A uniform random fraction in [0, 1), from a v4 UUID (no extra RNG state to carry).
fn unit_random() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() as u64 >> 11;
    bits as f64 / (1u64 << 53) as f64
}

impl Backoff {
    /// Starts at `initial`, doubles per failure, never above `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.max(Duration::from_millis(1));
        Backoff { initial, max: max.max(initial), current: initial }
    }

    /// The delay before the next attempt (jittered), and doubles the base for the one after.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self.current;
        // Checked both ways: a configured maximum near `Duration::MAX` must not overflow
        // the doubling or the jitter (either would panic).
        self.current = self.current.saturating_mul(2).min(self.max);
        let factor = 0.8 + 0.4 * unit_random();
        Duration::try_from_secs_f64(base.as_secs_f64() * factor).unwrap_or(self.max).min(self.max)
    }

    /// Back to `initial` (after a session that delivered data).
    pub fn reset(&mut self) {
        self.current = self.initial;
    }
}

/// Fixed-window limits on request messages sent on one websocket connection.
#[derive(Debug, Clone)]
pub(crate) struct MessageLimiter {
    sent: VecDeque<Instant>,
    per_sec: usize,
    per_min: usize,
}

impl Default for MessageLimiter {
    fn default() -> Self {
        // One under Upbit's 5/s and 100/min, as a safety margin for clock granularity.
        MessageLimiter { sent: VecDeque::new(), per_sec: 4, per_min: 99 }
    }
}

impl MessageLimiter {
    /// How long to wait before a message may be sent at `now` (zero when it may go now).
    pub fn delay(&mut self, now: Instant) -> Duration {
        while self.sent.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60)) {
            self.sent.pop_front();
        }
        let mut wait = Duration::ZERO;
        if self.sent.len() >= self.per_min
            && let Some(first) = self.sent.front()
        {
            wait = wait.max(Duration::from_secs(60).saturating_sub(now.duration_since(*first)));
        }
        let in_last_sec: Vec<&Instant> =
            self.sent.iter().filter(|t| now.duration_since(**t) < Duration::from_secs(1)).collect();
        if in_last_sec.len() >= self.per_sec
            && let Some(first) = in_last_sec.first()
        {
            wait = wait.max(Duration::from_secs(1).saturating_sub(now.duration_since(**first)));
        }
        wait
    }

    /// Records a message sent at `now`.
    pub fn record(&mut self, now: Instant) {
        self.sent.push_back(now);
    }

    /// Waits until a message may be sent, then records it.
    pub(crate) async fn acquire(&mut self) {
        loop {
            let d = self.delay(Instant::now());
            if d.is_zero() {
                break;
            }
            tokio::time::sleep(d).await;
        }
        self.record(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let delays: Vec<Duration> = (0..10).map(|_| b.next_delay()).collect();
        assert!(delays[0] >= Duration::from_millis(800) && delays[0] <= Duration::from_millis(1200));
        assert!(delays[1] >= Duration::from_millis(1600) && delays[1] <= Duration::from_millis(2400));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(60)));
        assert!(delays[9] >= Duration::from_secs(48));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(1200));
    }

    #[test]
    fn backoff_with_an_unbounded_cap_never_overflows() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::MAX);
        for _ in 0..200 {
            let _ = b.next_delay();
        }
        assert!(b.next_delay() > Duration::from_secs(1 << 40));
    }

    #[test]
    fn limiter_holds_five_per_second_and_hundred_per_minute() {
        let mut l = MessageLimiter::default();
        let t0 = Instant::now();
        for _ in 0..4 {
            assert_eq!(l.delay(t0), Duration::ZERO);
            l.record(t0);
        }
        assert!(l.delay(t0) > Duration::ZERO);
        assert_eq!(l.delay(t0 + Duration::from_secs(1)), Duration::ZERO);
        let mut l = MessageLimiter::default();
        for i in 0..99u64 {
            l.record(t0 + Duration::from_millis(i * 500));
        }
        let now = t0 + Duration::from_millis(99 * 500);
        assert!(l.delay(now) > Duration::from_secs(5));
    }
}
