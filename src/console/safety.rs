//! The Safety lane: halts, the kill switch's halt, `:resume`, feed health, REST bans, the
//! monitor being down, task failures and the bus's own critical failures. The trading
//! state ([`TradingStateHandle`]) and the screen's alarm follow what arrives here.
//!
//! Who publishes what: the trading desk (kill switch, a halt of the order manager), the UI
//! (`:resume`), the task manager's event sink (task failures; the monitor task's failure
//! as [`SafetyEvent::MonitorDown`]), the bus (critical failures), and the watch in this
//! file (REST bans, the feed's health level).

use std::sync::Arc;
use std::time::Duration;

use crate::bus::{Bus, Envelope};
use crate::exchange::rest::RestApi;
use crate::exchange::types::MarketId;
use crate::feed::{FeedHandle, Health};
use crate::kernel::{self, OnFailure, TaskManager};
use crate::store::{StoreEvent, StoreHandle};
use crate::trading::intent::{Outcome, Requester, TradeReply};
use crate::trading::monitor::{MONITOR_TASK_CAUSE, TradingStateHandle};
use crate::trading::risk::TradingState;

use super::event::{AppEvent, SafetyEvent};

/// Subscribes the Safety lane's handler.
pub fn subscribe(bus: &Bus<AppEvent>, store: StoreHandle, trading: TradingStateHandle) {
    let to_bus = bus.clone();
    bus.subscribe(
        "safety",
        |env| matches!(env.payload, AppEvent::Safety(_) | AppEvent::CriticalFailure(_)),
        move |env| {
            let (store, trading, bus) = (store.clone(), trading.clone(), to_bus.clone());
            async move {
                let alarm = match &env.payload {
                    AppEvent::Safety(ev) => apply(ev, &trading, &bus, &env),
                    AppEvent::CriticalFailure(f) => Some(format!("{} failed: {}", f.handler, f.error)),
                    _ => None,
                };
                if let Some(message) = alarm {
                    // Waits for room: an alarm is never dropped.
                    store.send(StoreEvent::Alert { time: chrono::Utc::now(), message }).await?;
                }
                Ok(())
            }
        },
    );
}

/// What one safety event does to the trading state; returns the alarm to raise, if any.
fn apply(
    ev: &SafetyEvent,
    trading: &TradingStateHandle,
    bus: &Bus<AppEvent>,
    env: &Envelope<AppEvent>,
) -> Option<String> {
    match ev {
        SafetyEvent::Halt { why } => {
            if trading.state() == TradingState::Halted {
                return None;
            }
            trading.halt(why.clone());
            Some(format!("HALTED: {why}"))
        }
        SafetyEvent::RestBanned { secs, pocket_only } => {
            let what = if *pocket_only { "the pocket's exchange calls" } else { "REST" };
            let why = format!(
                "{what} banned by the exchange (418) for {secs}s: no order or exit can be sent; :resume after it ends"
            );
            if trading.state() != TradingState::Halted {
                trading.halt(why.clone());
            }
            Some(why)
        }
        SafetyEvent::Resume { id } => {
            let outcome = if trading.state() != TradingState::Halted {
                Outcome::Denied(format!("trading is {}, not halted", trading.state().label()))
            } else {
                trading.resume();
                let now = trading.status();
                let why = if now.reason.is_empty() { String::new() } else { format!(" ({})", now.reason) };
                Outcome::Accepted(format!("trading resumed: {}{why}", now.state.label()))
            };
            let reply = TradeReply { id: *id, to: Requester::Ui, what: "resume".into(), outcome };
            if let Err(e) = bus.publish_follow_up(Some(env), "safety", AppEvent::Reply(reply)) {
                tracing::warn!(error = %e, "resume reply not delivered");
            }
            None
        }
        SafetyEvent::MonitorDown { why } => {
            trading.set_reducing(MONITOR_TASK_CAUSE, Some(why.clone()));
            Some(format!("REDUCING: {why}"))
        }
        SafetyEvent::FeedHealth { from, health, reasons } => feed_alarm(*from, *health, reasons),
        SafetyEvent::Task(ev) => task_alarm(ev),
    }
}

/// How long a new feed health level must hold before the Safety lane hears of it
/// (CRITICAL excepted: at once). A quiet market's ticker flips the level between healthy
/// and degraded every few seconds; each flip on the lane would push the order chains out
/// of the System pane's envelope list.
const FEED_LEVEL_SETTLE: Duration = Duration::from_secs(5);

/// The feed health level the Safety lane last heard, and a new one waiting to settle.
#[derive(Debug, Default)]
struct Settled {
    told: Option<Health>,
    pending: Option<(Health, std::time::Instant)>,
}

impl Settled {
    /// A reading of the level at `now`; returns the level it changes from when the lane
    /// should hear of it. The first reading only sets it (starting up is no change).
    fn see(&mut self, level: Health, now: std::time::Instant) -> Option<Health> {
        let Some(told) = self.told else {
            self.told = Some(level);
            return None;
        };
        if level == told {
            self.pending = None;
            return None;
        }
        let since = match self.pending {
            Some((l, since)) if l == level => since,
            _ => {
                self.pending = Some((level, now));
                now
            }
        };
        if level == Health::Critical || now.duration_since(since) >= FEED_LEVEL_SETTLE {
            self.told = Some(level);
            self.pending = None;
            return Some(told);
        }
        None
    }
}

/// The alarm a change of the feed's health level raises: entering CRITICAL (no live
/// prices: the monitor cannot protect), and leaving it. DEGRADED comes and goes with a
/// quiet market's ticker (one silent stream is enough), so it is on the status bar and in
/// the log, not an alert: an alert counter climbing every few seconds buries the fills
/// and halts a trader must see.
fn feed_alarm(from: Health, to: Health, reasons: &[String]) -> Option<String> {
    match (from, to) {
        (_, Health::Critical) => Some(format!("feed CRITICAL: {}", reasons.join("; "))),
        (Health::Critical, to) => Some(format!("feed recovered: {}", format!("{to:?}").to_lowercase())),
        _ => {
            tracing::info!(from = ?from, to = ?to, reasons = %reasons.join("; "), "feed health changed");
            None
        }
    }
}

/// Where the task manager's events go: onto the Safety lane. The monitor task failing is
/// also a [`SafetyEvent::MonitorDown`] (while it is down, trading is REDUCING); should the
/// lane be full, that one is applied at once instead of being lost.
pub(crate) fn task_event_sink(
    bus: Bus<AppEvent>,
    trading: TradingStateHandle,
) -> impl Fn(kernel::TaskEvent) + Send + Sync {
    move |ev| {
        if let Some(why) = monitor_down(&ev) {
            let down = SafetyEvent::MonitorDown { why: why.clone() };
            if bus.try_publish("kernel", AppEvent::Safety(down)).is_err() {
                trading.set_reducing(MONITOR_TASK_CAUSE, Some(why));
            }
        }
        let _ = bus.try_publish("kernel", AppEvent::Safety(SafetyEvent::Task(ev)));
    }
}

/// The monitor task failing (a panic, or an error) means positions are not protected.
/// A restart alone lifts nothing: the restarted monitor does, after its grace period.
fn monitor_down(ev: &kernel::TaskEvent) -> Option<String> {
    use kernel::TaskEvent;
    match ev {
        TaskEvent::Panicked { component, name, .. } | TaskEvent::Failed { component, name, .. }
            if *component == "trading" && name == "monitor" =>
        {
            Some("the TP/SL monitor task is down: positions are not protected".into())
        }
        _ => None,
    }
}

/// The alarm a task event raises, if any: every panic, and a failure that ends a task for
/// good. (A failure followed by a restart is in the log; a restarting feed connection
/// would otherwise fill the alerts.)
fn task_alarm(ev: &kernel::TaskEvent) -> Option<String> {
    use kernel::TaskEvent;
    match ev {
        TaskEvent::Panicked { component, name, message, restarting, .. } => Some(format!(
            "PANIC {component}/{name}: {message} ({})",
            if *restarting { "restarted" } else { "stopped" }
        )),
        TaskEvent::Failed { component, name, error, restarting: false, .. } => {
            Some(format!("task {component}/{name} failed and stopped: {error}"))
        }
        TaskEvent::Failed { .. } | TaskEvent::Restarted { .. } => None,
    }
}

/// Watches what no request announces: a REST ban drawn by any call (RELIABILITY case 6:
/// every order and exit would fail, so trading halts at once), and the feed's health
/// level. Each change goes onto the Safety lane. Reads a lock and a counter per second; no
/// request.
pub fn spawn_watch(
    tasks: &TaskManager,
    bus: Bus<AppEvent>,
    rest: Option<Arc<dyn RestApi>>,
    feed: Option<FeedHandle>,
    every: Duration,
) {
    tasks.spawn_supervised("console", "safety-watch", OnFailure::restart(), move |cancel| {
        let (bus, rest, feed) = (bus.clone(), rest.clone(), feed.clone());
        async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut banned = false;
            // The first reading only sets the level: starting up is not a change.
            let mut level = Settled::default();
            loop {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tick.tick() => {}
                }
                if let Some(rest) = &rest {
                    let st = rest.limits_status();
                    let left = st.blocked_for;
                    if let Some(left) = left
                        && !banned
                    {
                        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                        let pocket_only = st.pocket_blocked_for.is_some() && st.ip_blocked_for.is_none();
                        tracing::warn!(
                            secs,
                            pocket_only,
                            "REST banned by the exchange (418); halting trading"
                        );
                        let ev = SafetyEvent::RestBanned { secs, pocket_only };
                        bus.publish("safety-watch", AppEvent::Safety(ev)).await?;
                    }
                    banned = left.is_some();
                }
                if let Some(feed) = &feed {
                    let health = feed.health();
                    if let Some(from) = level.see(health.health, std::time::Instant::now()) {
                        let ev = SafetyEvent::FeedHealth {
                            from,
                            health: health.health,
                            reasons: health.reasons.clone(),
                        };
                        bus.publish("safety-watch", AppEvent::Safety(ev)).await?;
                    }
                }
            }
        }
    });
}

/// Runs the venue's key probe (`RestApi::probe_key`: harmless calls only) once at startup
/// (live mode) and makes every finding impossible to miss: a halt on the Safety lane with
/// the finding as the reason (status bar, alert, log), before any order is tried
/// (docs/RELIABILITY.md case 39: the `out_of_scope` of a key without Make Orders is
/// reported at startup).
pub fn spawn_key_probe(tasks: &TaskManager, bus: Bus<AppEvent>, rest: Arc<dyn RestApi>, market: MarketId) {
    tasks.spawn("console", "key-probe", move |cancel| async move {
        let findings = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(()),
            f = rest.probe_key(&market) => f,
        };
        if findings.is_empty() {
            return Ok(());
        }
        let reason = findings.join("; ");
        tracing::error!("API key check at startup: {reason}");
        bus.publish("key-probe", AppEvent::Safety(SafetyEvent::Halt { why: format!("key check: {reason}") }))
            .await?;
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::TaskEvent;

    fn panicked(component: &'static str, name: &str, restarting: bool) -> TaskEvent {
        TaskEvent::Panicked { id: 7, component, name: name.into(), message: "boom".into(), restarting }
    }

    #[test]
    fn only_the_monitor_task_failing_is_monitor_down() {
        assert_eq!(monitor_down(&panicked("console", "markets-pump", true)), None);
        assert!(monitor_down(&panicked("trading", "monitor", true)).is_some());
        let failed = TaskEvent::Failed {
            id: 7,
            component: "trading",
            name: "monitor".into(),
            error: "x".into(),
            restarting: true,
        };
        assert!(monitor_down(&failed).is_some());
        let restarted =
            TaskEvent::Restarted { id: 7, component: "trading", name: "monitor".into(), restarts: 2 };
        assert_eq!(monitor_down(&restarted), None, "a restart alone lifts nothing");
    }

    #[test]
    fn a_feed_level_reaches_the_lane_once_it_has_held_and_critical_at_once() {
        let t0 = std::time::Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut l = Settled::default();
        assert_eq!(l.see(Health::Healthy, at(0)), None, "the first reading sets the level");
        // A flip that does not hold is never told.
        assert_eq!(l.see(Health::Degraded, at(1)), None);
        assert_eq!(l.see(Health::Healthy, at(3)), None);
        assert_eq!(l.see(Health::Degraded, at(4)), None);
        assert_eq!(l.see(Health::Degraded, at(8)), None);
        assert_eq!(l.see(Health::Degraded, at(9)), Some(Health::Healthy), "held 5 s");
        assert_eq!(l.see(Health::Degraded, at(10)), None, "told once");
        assert_eq!(l.see(Health::Critical, at(11)), Some(Health::Degraded), "CRITICAL at once");
    }

    #[test]
    fn only_critical_feed_health_and_its_end_are_alarms() {
        let why = vec!["USDT-SOL ticker silent".to_string()];
        assert_eq!(feed_alarm(Health::Healthy, Health::Degraded, &why), None, "a quiet ticker is no alarm");
        assert_eq!(feed_alarm(Health::Degraded, Health::Healthy, &why), None);
        assert_eq!(
            feed_alarm(Health::Degraded, Health::Critical, &why).as_deref(),
            Some("feed CRITICAL: USDT-SOL ticker silent")
        );
        assert_eq!(
            feed_alarm(Health::Critical, Health::Degraded, &why).as_deref(),
            Some("feed recovered: degraded")
        );
    }

    #[test]
    fn every_panic_and_every_final_failure_is_an_alarm() {
        assert_eq!(
            task_alarm(&panicked("console", "markets-pump", true)).as_deref(),
            Some("PANIC console/markets-pump: boom (restarted)")
        );
        assert!(task_alarm(&panicked("ui", "console", false)).unwrap().ends_with("(stopped)"));
        let failed = |restarting| TaskEvent::Failed {
            id: 1,
            component: "feed",
            name: "public".into(),
            error: "reset".into(),
            restarting,
        };
        assert_eq!(task_alarm(&failed(true)), None, "a restarting failure is in the log only");
        assert_eq!(task_alarm(&failed(false)).as_deref(), Some("task feed/public failed and stopped: reset"));
    }
}
