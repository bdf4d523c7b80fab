//! The monitor's core: the state that survives a restart of the task (rule book, alert
//! book, positions, exits in flight) and what one tick, one control message or one exit
//! result does to it. Side effects are collected in [`Effects`] and performed by the task
//! after the core lock is released.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rust_decimal::Decimal;

use super::alerts::{AlertBook, describe_alert};
use super::view::{grouped, price_text, rule_label};
use super::{ExitEvent, MonitorAction};
use crate::exchange::display::quantity;
use crate::exchange::types::{MarketId, OrderType, Price, Qty, Side};

use crate::config::TradingSettings;
use crate::kernel::sync::lock;
use crate::notify::{NotifyEvent, NotifyKind};
use crate::trading::orders::floor_volume;
use crate::trading::risk::TradingState;
use crate::trading::rules::{
    Alert, EXCEEDS_CAP, Exit, ExitPlan, ExitPolicy, ExitResult, PositionView, Quote, Rule, RuleBook,
    RuleKind, RuleNotice, RuleState,
};

/// A rising trailing peak is written to the journal at most this often per rule (a
/// restart loses at most this much of the peak; writing every new high would put SQLite
/// on the tick path).
const PEAK_SAVE_EVERY: Duration = Duration::from_secs(1);

/// The persisted facts of a rule that a tick may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RuleMark {
    state: RuleState,
    attempt: u32,
    peak: Option<Price>,
}

impl RuleMark {
    fn of(r: &Rule) -> RuleMark {
        let peak = match &r.kind {
            RuleKind::Trailing { peak, .. } => *peak,
            _ => None,
        };
        RuleMark { state: r.state, attempt: r.attempt, peak }
    }
}

/// Transient rejections (429) re-arm the rule (next attempt) for this long after the
/// first one: a protective exit keeps trying through a rate-limit storm. The pace is the
/// REST limiter's: a 429 pauses the order group with a doubling wait (1 s … 16 s), so a
/// 30-second storm costs about six creates, and the lookups that confirm each refused
/// identifier absent run in the default group.
pub(super) const TRANSIENT_RETRY_WINDOW: Duration = Duration::from_secs(600);
/// And at most this many times (a cap on identifiers burnt by one rule).
const MAX_TRANSIENT_RETRIES: u32 = 64;

/// A rejection that says "not now" rather than "never": the rate limit.
fn is_transient(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("rate_limited") || r.contains("too_many_requests") || r == "429"
}

#[derive(Debug, Clone)]
pub(super) struct InFlight {
    pub(super) rule_id: String,
    pub(super) market: MarketId,
    /// Position volume when the exit was sent (remaining = this − filled); `None` for
    /// exits restored from the journal, where the current position is used instead.
    pub(super) position_at_fire: Option<Qty>,
}

pub(super) struct Core {
    pub(super) book: RuleBook,
    pub(super) alerts: AlertBook,
    pub(super) positions: HashMap<MarketId, PositionView>,
    pub(super) quotes: HashMap<MarketId, Quote>,
    pub(super) inflight: HashMap<String, InFlight>,
    /// Rules waiting for `OpenOrdersCancelled` of a market.
    awaiting_cancel: HashMap<MarketId, Vec<String>>,
    /// Rules that already used their one cancel-and-retry.
    cancel_tried: HashSet<String>,
    /// Transient rejections (rate limit) re-armed so far, per rule, and when the first was.
    transient_retries: HashMap<String, (u32, Instant)>,
    /// When each rule was last persisted because of its trailing peak.
    peak_saved: HashMap<String, Instant>,
    /// Rules triggered while HALTED (alerted once, kept armed).
    pub(super) held: HashSet<String>,
    pub(super) reconciled: bool,
    pub(super) ticks: u64,
    /// When the monitor started: rules whose market has had no price since are given
    /// [`Core::grace`] for the feed to connect before a STALE alarm.
    started: Instant,
    /// The start grace (the staleness limit: as long as a price may be old elsewhere).
    grace: Duration,
    /// Rules that went stale at the start (no first price yet, or not reconciled yet)
    /// without an alarm: raised once the grace is over if they are still stale.
    deferred_stale: HashSet<String>,
    /// The `[trading]` settings (per-order cap, what an exit does past it).
    exits: Option<Arc<Mutex<TradingSettings>>>,
}

/// Side effects of handling one input, performed after the core lock is released.
#[derive(Default)]
pub(super) struct Effects {
    pub(super) actions: Vec<MonitorAction>,
    pub(super) notes: Vec<NotifyEvent>,
    pub(super) save_rules: Vec<Rule>,
    pub(super) delete_rules: Vec<String>,
    pub(super) save_alerts: Vec<Alert>,
    pub(super) delete_alerts: Vec<String>,
    pub(super) audit: Vec<(Option<String>, &'static str, String)>,
}

impl Effects {
    pub(super) fn is_empty(&self) -> bool {
        self.actions.is_empty()
            && self.notes.is_empty()
            && self.save_rules.is_empty()
            && self.delete_rules.is_empty()
            && self.save_alerts.is_empty()
            && self.delete_alerts.is_empty()
            && self.audit.is_empty()
    }
}

impl Core {
    pub(super) fn new(
        book: RuleBook,
        alerts: AlertBook,
        inflight: HashMap<String, InFlight>,
        exits: Option<Arc<Mutex<TradingSettings>>>,
    ) -> Core {
        let grace = book.stale_after();
        Core {
            book,
            alerts,
            positions: HashMap::new(),
            quotes: HashMap::new(),
            inflight,
            awaiting_cancel: HashMap::new(),
            cancel_tried: HashSet::new(),
            transient_retries: HashMap::new(),
            peak_saved: HashMap::new(),
            held: HashSet::new(),
            reconciled: false,
            ticks: 0,
            started: Instant::now(),
            grace,
            deferred_stale: HashSet::new(),
            exits,
        }
    }

    /// The exit policy as configured now (`:set max_notional_per_order` changes it).
    fn exit_policy(&self) -> ExitPolicy {
        match &self.exits {
            Some(t) => ExitPolicy::from_settings(&lock(t)),
            None => ExitPolicy { cap: None, ..ExitPolicy::default() },
        }
    }

    fn min_total(market: &MarketId) -> Decimal {
        crate::exchange::grid().min_total(market.quote())
    }

    /// Every coin held, from a whole balance list: a market it does not name holds
    /// nothing now (sold elsewhere). Its average cost is kept (it is what an `avg` level
    /// meant), its volume is zero, so its rules cannot fire and say "position gone".
    pub(super) fn set_holdings(&mut self, held: Vec<(MarketId, Qty, Price)>) {
        for p in self.positions.values_mut() {
            p.volume = Decimal::ZERO;
        }
        // A rule's market the list does not name holds nothing, known or not before
        // (after a restart nothing is known until this list).
        let markets: Vec<MarketId> = self.book.rules().map(|r| r.market.clone()).collect();
        for m in markets {
            self.positions.entry(m).or_default();
        }
        for (market, volume, avg_cost) in held {
            self.positions.insert(market, PositionView { volume, avg_cost });
        }
    }

    /// Records on each rule whether its position is gone, as far as it is known now, and
    /// persists the rules where that changed: a restart then starts from "position gone"
    /// instead of "armed" until balances arrive. A position that comes back clears it.
    pub(super) fn sync_position_gone(&mut self, fx: &mut Effects) {
        let changed: Vec<Rule> = self
            .book
            .rules()
            .filter_map(|r| {
                let p = self.positions.get(&r.market)?;
                let gone = p.volume <= Decimal::ZERO && !r.for_future_position;
                (gone != r.position_gone).then(|| Rule { position_gone: gone, ..r.clone() })
            })
            .collect();
        for r in changed {
            self.book.insert(r.clone());
            fx.save_rules.push(r);
        }
    }

    /// Whether `rule`'s market has had no price since the monitor started, within the
    /// start grace (the Monitor pane says `starting`).
    pub(super) fn starting(&self, rule: &Rule, now: Instant) -> bool {
        matches!(rule.state, RuleState::Armed | RuleState::Stale)
            && now.saturating_duration_since(self.started) < self.grace
            && (!self.quotes.contains_key(&rule.market) || self.deferred_stale.contains(&rule.id))
    }

    /// Once the start grace is over, raises the STALE alarm held back for each rule that
    /// is still stale (no fresh price came in time). Call on the staleness timer.
    pub(super) fn deferred_stale_alarms(&mut self, now: Instant, fx: &mut Effects) {
        if self.deferred_stale.is_empty() || now.saturating_duration_since(self.started) < self.grace {
            return;
        }
        let due: Vec<String> = self.deferred_stale.drain().collect();
        for id in due {
            if let Some(r) =
                self.book.get(&id).filter(|r| r.state == RuleState::Stale && !self.protects_nothing(r))
            {
                fx.notes.push(stale_alarm(r));
            }
        }
    }

    /// Whether `rule` protects nothing now, so a stale price leaves nothing unprotected
    /// and raises no alarm (its Monitor row says what it is): done, failed or firing; its
    /// position gone; or waiting for a future position. As the Monitor pane decides it: a
    /// position not known yet (balances not in after a restart) counts as held unless it
    /// was last known gone.
    fn protects_nothing(&self, rule: &Rule) -> bool {
        if !matches!(rule.state, RuleState::Armed | RuleState::Stale) {
            return true;
        }
        match self.positions.get(&rule.market) {
            Some(p) => p.volume <= Decimal::ZERO,
            None => rule.for_future_position || rule.position_gone,
        }
    }

    pub(super) fn pos(&self, market: &MarketId) -> PositionView {
        self.positions.get(market).copied().unwrap_or_default()
    }

    /// What persistence cares about, per rule of `market`, in book order (evaluation
    /// never adds or removes rules, so the order is stable across one tick).
    fn snapshot_states(&self, market: &MarketId) -> Vec<RuleMark> {
        self.book.rules().filter(|r| &r.market == market).map(RuleMark::of).collect()
    }

    /// Persists rules of `market` whose state or attempt changed since `before`; a
    /// trailing peak that rose is persisted at most every [`PEAK_SAVE_EVERY`] per rule.
    fn collect_changed(&mut self, market: &MarketId, before: &[RuleMark], now: Instant, fx: &mut Effects) {
        for (i, r) in self.book.rules().filter(|r| &r.market == market).enumerate() {
            let after = RuleMark::of(r);
            let Some(b) = before.get(i) else {
                fx.save_rules.push(r.clone());
                continue;
            };
            if (b.state, b.attempt) != (after.state, after.attempt) {
                fx.save_rules.push(r.clone());
                self.peak_saved.insert(r.id.clone(), now);
            } else if b.peak != after.peak {
                let due = self
                    .peak_saved
                    .get(&r.id)
                    .is_none_or(|t| now.saturating_duration_since(*t) >= PEAK_SAVE_EVERY);
                if due {
                    fx.save_rules.push(r.clone());
                    self.peak_saved.insert(r.id.clone(), now);
                }
            }
        }
    }

    /// Evaluates `quote` for `market` (rules and alerts).
    pub(super) fn evaluate(
        &mut self,
        market: &MarketId,
        quote: Quote,
        now: Instant,
        trading: TradingState,
        fx: &mut Effects,
    ) {
        self.ticks += 1;
        self.quotes.insert(market.clone(), quote);
        let before = self.snapshot_states(market);
        let pos = self.pos(market);
        let (exits, notices) = self.book.on_tick(market, quote, now, pos, Self::min_total(market));
        self.notices(market, notices, now, fx);
        for exit in exits {
            if trading == TradingState::Halted {
                // Kill switch: no new orders, exits included. Keep the rule armed (it
                // fires when trading resumes) and say so once.
                if let Some(mut r) = self.book.get(&exit.rule_id).cloned() {
                    r.state = RuleState::Armed;
                    r.note = Some("triggered while trading is HALTED".into());
                    self.book.insert(r);
                }
                if self.held.insert(exit.rule_id.clone()) {
                    fx.notes.push(
                        NotifyEvent::new(
                            NotifyKind::RuleFailed,
                            Some(market.clone()),
                            format!(
                                "{} triggered at {} but trading is HALTED: no exit sent",
                                exit.reason,
                                price_text(market.quote(), exit.last_price)
                            ),
                        )
                        .with_id(exit.identifier.clone()),
                    );
                }
                continue;
            }
            if self.held.remove(&exit.rule_id)
                && let Some(mut r) = self.book.get(&exit.rule_id).cloned()
            {
                r.note = None;
                self.book.insert(r);
            }
            self.fire(exit, pos.volume, fx);
        }
        self.collect_changed(market, &before, now, fx);
        let up = self.alerts.on_price(market, quote.price);
        fx.save_alerts.extend(up.referenced);
        for a in up.fired {
            fx.notes.push(
                NotifyEvent::new(
                    NotifyKind::PriceAlert,
                    Some(market.clone()),
                    format!("{} (last {})", describe_alert(&a), price_text(market.quote(), quote.price)),
                )
                .with_id(a.id.clone()),
            );
            fx.save_alerts.push(a);
        }
    }

    /// Sends an exit. Past the per-order cap it is planned as configured: the first of
    /// even slices (the rule remembers what is left to sell), or one order past the cap
    /// with the reason recorded.
    fn fire(&mut self, mut exit: Exit, position: Qty, fx: &mut Effects) {
        let min = Self::min_total(&exit.market);
        let policy = self.exit_policy();
        let mut how = String::new();
        if let Some(mut r) = self.book.get(&exit.rule_id).cloned() {
            let total = r.exit_left.map_or(exit.volume, |l| l.min(exit.volume));
            let cap = policy.cap.map(|c| grouped(c.normalize())).unwrap_or_default();
            match policy.plan(total, exit.last_price, min) {
                ExitPlan::One => exit.volume = total,
                ExitPlan::Sliced { first, orders } => {
                    exit.volume = first;
                    r.exit_left = Some(total);
                    r.note = Some(format!("sliced exit: {} left to sell", quantity(total)));
                    how = format!(
                        " of {} in about {orders} orders each within the per-order cap {cap} (protective_exit_over_cap = slice)",
                        total.normalize()
                    );
                }
                ExitPlan::Exceeds => {
                    exit.volume = total;
                    r.note = Some(format!("{EXCEEDS_CAP} ({cap})"));
                    how = format!(" — {EXCEEDS_CAP} ({cap})");
                }
            }
            self.book.insert(r.clone());
            fx.save_rules.push(r);
        }
        self.inflight.insert(
            exit.identifier.clone(),
            InFlight {
                rule_id: exit.rule_id.clone(),
                market: exit.market.clone(),
                position_at_fire: Some(position),
            },
        );
        let detail = format!(
            "rule={} reason={} trigger={} last={} volume={} data_age_ms={} attempt={}{how}",
            exit.rule_id,
            exit.reason,
            exit.trigger_price,
            exit.last_price,
            exit.volume,
            exit.data_age_ms,
            exit.attempt
        );
        fx.audit.push((Some(exit.identifier.clone()), "rule_fired", detail));
        fx.notes.push(
            NotifyEvent::new(
                NotifyKind::RuleFired,
                Some(exit.market.clone()),
                if exit.reason == "exit_slice" {
                    format!("sliced exit: selling {} more{how}", quantity(exit.volume))
                } else {
                    format!(
                        "{} hit {} at {}: selling {}{how}",
                        exit.reason,
                        price_text(exit.market.quote(), exit.trigger_price),
                        price_text(exit.market.quote(), exit.last_price),
                        exit.volume.normalize()
                    )
                },
            )
            .with_id(exit.identifier.clone()),
        );
        fx.actions.push(MonitorAction::PlaceExit {
            identifier: exit.identifier,
            rule_id: exit.rule_id,
            market: exit.market,
            side: Side::Ask,
            volume: exit.volume,
            kind: OrderType::Market,
            reason: exit.reason,
            trigger_price: exit.trigger_price,
            last_price: exit.last_price,
        });
    }

    pub(super) fn notices(
        &mut self,
        market: &MarketId,
        notices: Vec<RuleNotice>,
        now: Instant,
        fx: &mut Effects,
    ) {
        for n in notices {
            match n {
                RuleNotice::Stale { rule_id } => {
                    // At the start every rule is "stale" by construction until
                    // reconciliation is done and the feed has delivered a price received
                    // after it (a price from before the book was made ready is stale too,
                    // RELIABILITY case 19): within the grace the alarm waits
                    // ([`Core::deferred_stale_alarms`]) and is dropped if a fresh price
                    // comes. Later, before reconciliation (a reconnect) it is the normal
                    // course, not an alarm.
                    let in_grace = now.saturating_duration_since(self.started) < self.grace;
                    if in_grace {
                        self.deferred_stale.insert(rule_id);
                    } else if self.reconciled
                        && let Some(r) = self.book.get(&rule_id).filter(|r| !self.protects_nothing(r))
                    {
                        fx.notes.push(stale_alarm(r));
                    }
                }
                RuleNotice::Fresh { rule_id } => {
                    self.deferred_stale.remove(&rule_id);
                }
                RuleNotice::Dust { rule_id, volume } => {
                    fx.notes.push(
                        NotifyEvent::new(
                            NotifyKind::RuleFired,
                            Some(market.clone()),
                            format!(
                                "triggered, but {} left is below the minimum order: nothing sold",
                                quantity(volume)
                            ),
                        )
                        .with_id(rule_id),
                    );
                }
            }
        }
    }

    fn last_price(&self, market: &MarketId) -> Price {
        self.quotes.get(market).map_or(Decimal::ZERO, |q| q.price)
    }

    /// Re-evaluates the last quote of `market` right away (after a re-arm or a new rule),
    /// so a remainder does not wait for the next tick. Stale quotes do not fire.
    pub(super) fn reevaluate(
        &mut self,
        market: &MarketId,
        now: Instant,
        trading: TradingState,
        fx: &mut Effects,
    ) {
        if let Some(q) = self.quotes.get(market).copied() {
            self.ticks = self.ticks.saturating_sub(1);
            self.evaluate(market, q, now, trading, fx);
        }
    }

    pub(super) fn on_result(&mut self, ev: ExitEvent, now: Instant, trading: TradingState, fx: &mut Effects) {
        match ev {
            ExitEvent::ExitAccepted { identifier } => {
                fx.audit.push((Some(identifier), "exit_accepted", String::new()));
            }
            ExitEvent::ExitRejected { identifier, reason, locked_funds } => {
                let Some(f) = self.inflight.remove(&identifier) else {
                    tracing::info!(%identifier, "result for an unknown exit ignored");
                    return;
                };
                fx.audit.push((Some(identifier.clone()), "exit_rejected", reason.clone()));
                if locked_funds && self.cancel_tried.insert(f.rule_id.clone()) {
                    if let Some(mut r) = self.book.get(&f.rule_id).cloned() {
                        r.note = Some("funds locked: cancelling open orders, then retrying once".into());
                        self.book.insert(r.clone());
                        fx.save_rules.push(r);
                    }
                    self.awaiting_cancel.entry(f.market.clone()).or_default().push(f.rule_id.clone());
                    fx.actions.push(MonitorAction::CancelOpenOrders { market: f.market, rule_id: f.rule_id });
                    return;
                }
                if is_transient(&reason) {
                    let (count, first) = self.transient_retries.entry(f.rule_id.clone()).or_insert((0, now));
                    *count = count.saturating_add(1);
                    let n = *count;
                    let in_window = now.saturating_duration_since(*first) < TRANSIENT_RETRY_WINDOW;
                    if n <= MAX_TRANSIENT_RETRIES
                        && in_window
                        && let Some(mut r) = self.book.get(&f.rule_id).cloned()
                    {
                        // The manager closes a rate-limited create as REJECTED only after a
                        // lookup confirmed its identifier absent (case 5); an exit whose
                        // outcome is unknown stays UNCONFIRMED and reaches no result here,
                        // so the next attempt's identifier never duplicates an exit.
                        r.attempt += 1;
                        r.state = RuleState::Armed;
                        r.note = Some(format!("exit refused ({reason}); re-armed, retry {n}"));
                        self.book.insert(r.clone());
                        fx.save_rules.push(r);
                        self.reevaluate(&f.market, now, trading, fx);
                        return;
                    }
                }
                let min = Self::min_total(&f.market);
                let last = self.last_price(&f.market);
                self.book.on_exit_result(&f.rule_id, ExitResult::Failed(reason.clone()), min, last);
                if let Some(r) = self.book.get(&f.rule_id) {
                    fx.save_rules.push(r.clone());
                }
                fx.notes.push(
                    NotifyEvent::new(
                        NotifyKind::RuleFailed,
                        Some(f.market),
                        format!("exit {identifier} rejected: {reason}. Position NOT closed"),
                    )
                    .with_id(identifier),
                );
            }
            ExitEvent::ExitFilled { identifier, filled, partial } => {
                let Some(f) = self.inflight.remove(&identifier) else {
                    tracing::info!(%identifier, "fill for an unknown exit ignored");
                    return;
                };
                let remaining = match f.position_at_fire {
                    Some(p) => p.saturating_sub(filled).max(Decimal::ZERO),
                    // Restored after a restart: the manager's reconciled position.
                    None => self.pos(&f.market).volume,
                };
                // Our best knowledge until the next position update from the manager.
                let avg = self.pos(&f.market).avg_cost;
                self.positions.insert(f.market.clone(), PositionView { volume: remaining, avg_cost: avg });
                let min = Self::min_total(&f.market);
                let last = self.last_price(&f.market);
                if self.book.get(&f.rule_id).is_some_and(|r| r.exit_left.is_some()) {
                    fx.audit.push((
                        Some(identifier.clone()),
                        "exit_filled",
                        format!("filled={filled} partial={partial} remaining={remaining} sliced"),
                    ));
                    self.next_slice(&f.rule_id, &f.market, filled, identifier, trading, fx);
                    return;
                }
                self.book.on_exit_result(&f.rule_id, ExitResult::Finished { remaining }, min, last);
                fx.audit.push((
                    Some(identifier.clone()),
                    "exit_filled",
                    format!("filled={filled} partial={partial} remaining={remaining}"),
                ));
                let Some(r) = self.book.get(&f.rule_id).cloned() else { return };
                fx.save_rules.push(r.clone());
                let text = match r.state {
                    RuleState::Armed => {
                        format!("exit filled {} of the position; selling the rest", quantity(filled))
                    }
                    _ if remaining > Decimal::ZERO && r.volume.is_none() => {
                        format!("exit done; dust {} left below the minimum order", quantity(remaining))
                    }
                    _ => format!("exit done, sold {}", quantity(filled)),
                };
                fx.notes.push(
                    NotifyEvent::new(NotifyKind::RuleFired, Some(f.market.clone()), text).with_id(identifier),
                );
                if r.state == RuleState::Armed {
                    self.reevaluate(&f.market, now, trading, fx);
                }
            }
            ExitEvent::OpenOrdersCancelled { market } => {
                let waiting = self.awaiting_cancel.remove(&market).unwrap_or_default();
                for rule_id in waiting {
                    self.retry_after_cancel(&market, &rule_id, trading, fx);
                }
            }
        }
    }

    /// One slice of a sliced exit filled: the next goes out at once under the next
    /// attempt's identifier (persisted with the rule before it is sent), or the exit is
    /// done. Trading HALTED between slices stops it: the rule fails, saying what is left.
    fn next_slice(
        &mut self,
        rule_id: &str,
        market: &MarketId,
        filled: Qty,
        identifier: String,
        trading: TradingState,
        fx: &mut Effects,
    ) {
        let min = Self::min_total(market);
        let last = self.last_price(market);
        let pos = self.pos(market);
        let policy = self.exit_policy();
        let left = self.book.get(rule_id).and_then(|r| r.exit_left).unwrap_or_default();
        let next = if trading == TradingState::Halted {
            let left = left.saturating_sub(filled).min(pos.volume).max(Decimal::ZERO);
            self.book.stop_slicing(
                rule_id,
                format!("trading HALTED during a sliced exit: {} left unsold", quantity(left)),
            );
            None
        } else {
            let attempt = crate::trading::rules::exit_attempt(rule_id, &identifier);
            self.book.next_slice(rule_id, attempt, filled, pos, last, min, &policy)
        };
        let Some(r) = self.book.get(rule_id).cloned() else { return };
        fx.save_rules.push(r.clone());
        match next {
            Some(exit) => {
                fx.notes.push(
                    NotifyEvent::new(
                        NotifyKind::RuleFired,
                        Some(market.clone()),
                        format!("exit slice filled {}; selling the next slice", quantity(filled)),
                    )
                    .with_id(identifier),
                );
                self.fire(exit, pos.volume, fx);
            }
            None => {
                let (kind, text) = match r.state {
                    RuleState::Failed => (NotifyKind::RuleFailed, r.note.clone().unwrap_or_default()),
                    _ => (
                        NotifyKind::RuleFired,
                        format!("sliced exit done, last slice sold {}", quantity(filled)),
                    ),
                };
                fx.notes.push(NotifyEvent::new(kind, Some(market.clone()), text).with_id(identifier));
            }
        }
    }

    /// After the conflicting orders are gone, the exit is sent once more under the next
    /// attempt's identifier (the rejected one is burnt: Upbit identifiers are unique for
    /// ever, even for failed orders).
    fn retry_after_cancel(
        &mut self,
        market: &MarketId,
        rule_id: &str,
        trading: TradingState,
        fx: &mut Effects,
    ) {
        let Some(mut r) = self.book.get(rule_id).cloned() else { return };
        if r.state != RuleState::Firing {
            return;
        }
        let min = Self::min_total(market);
        let pos = self.pos(market);
        let last = self.last_price(market);
        let want = r.exit_left.or(r.volume);
        let volume = floor_volume(want.map_or(pos.volume, |v| v.min(pos.volume)));
        r.attempt += 1;
        if trading == TradingState::Halted
            || volume <= Decimal::ZERO
            || volume.checked_mul(last).is_some_and(|v| v < min)
        {
            r.state = RuleState::Failed;
            r.note = Some(if trading == TradingState::Halted {
                "trading HALTED while cancelling conflicting orders".into()
            } else {
                format!(
                    "nothing sellable after cancelling ({volume} at {})",
                    price_text(market.quote(), last)
                )
            });
            fx.notes.push(
                NotifyEvent::new(
                    NotifyKind::RuleFailed,
                    Some(market.clone()),
                    r.note.clone().unwrap_or_default(),
                )
                .with_id(r.exit_identifier()),
            );
            self.book.insert(r.clone());
            fx.save_rules.push(r);
            return;
        }
        r.note = None;
        self.book.insert(r.clone());
        fx.save_rules.push(r.clone());
        let exit = Exit {
            rule_id: r.id.clone(),
            market: market.clone(),
            identifier: r.exit_identifier(),
            attempt: r.attempt,
            volume,
            trigger_price: r.trigger_price(pos.avg_cost).unwrap_or(last),
            last_price: last,
            data_age_ms: 0,
            reason: "retry_after_cancel".into(),
        };
        self.fire(exit, pos.volume, fx);
    }
}

/// "rule STALE KRW-SOL: stop 234,200: no fresh price, NOT protected".
fn stale_alarm(r: &Rule) -> NotifyEvent {
    NotifyEvent::new(
        NotifyKind::RuleStale,
        Some(r.market.clone()),
        format!("{}: no fresh price, NOT protected", rule_label(&r.kind, r.market.quote())),
    )
    .with_id(r.id.clone())
}
