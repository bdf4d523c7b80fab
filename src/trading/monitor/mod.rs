//! The trading monitor: the task that evaluates every protection rule (stop-loss,
//! take-profit, trailing stop, OCO) and every price alert on every tick, and the shared
//! trading state (ACTIVE / REDUCING / HALTED) with its kill switch.
//!
//! Rules are evaluated on every tick, not by polling positions on a timer (a 30 s poll
//! would let a stop slip by up to 30 s).
//! The monitor never talks to the exchange: it emits [`MonitorAction`]s on a bounded,
//! lossless channel that the console routes to the order manager (Trading lane), and it is
//! told how they went with [`ExitEvent`]s. The pure firing logic is
//! [`crate::trading::rules::RuleBook`]; this file adds the task, the inputs, the journal,
//! the locked-funds path, notifications and the Monitor pane's view.
//!
//! Reliability cases (RELIABILITY.md §4 B):
//! - 14: a rule fires once, latched, under `exit_identifier(rule id, attempt)`.
//! - 15: a timer marks rules STALE when their market is silent; stale data never fires
//!   and raises a `RuleStale` notification.
//! - 17: an exit rejected because funds are locked asks for `CancelOpenOrders` first, and
//!   sends the exit once more (next attempt) when the cancels are confirmed.
//! - 18: the task is supervised; while it is down the trading state is REDUCING and a
//!   `MonitorDown` alarm is raised. Its state lives outside the task, so a restart resumes.
//! - 19: rules loaded from the journal fire only after [`MonitorHandle::reconciled`] and a
//!   price received after that call.
//! - 20: a partial exit re-arms the rule for the remainder; dust is reported, not looped on.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::exchange::types::{MarketId, OrderType, Price, Qty, Side};
use crate::exchange::upbit::ticks;
use crate::kernel::{OnFailure, TaskManager};
use crate::notify::{AlertBook, NotifyEvent, NotifyKind, NotifySender, describe_alert};
use crate::trading::journal::Journal;
use crate::trading::orders::floor_volume;
use crate::trading::risk::TradingState;
use crate::trading::rules::{
    Alert, Exit, ExitResult, Level, PositionView, Quote, Rule, RuleBook, RuleKind, RuleNotice, RuleState,
};

/// The journal shared by the tasks that write it (it is `Send` but not `Sync`).
pub type SharedJournal = Arc<Mutex<Journal>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded data stays consistent between statements; a poison flag (a panic
    // elsewhere, e.g. the injected monitor fault) carries no information here.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------
// Trading state and kill switch

/// The trading state with the reason it has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradingStatus {
    /// ACTIVE / REDUCING / HALTED.
    pub state: TradingState,
    /// Why (empty when ACTIVE).
    pub reason: String,
}

#[derive(Debug, Default)]
struct StateCauses {
    halted: Option<String>,
    /// Independent reasons to reduce (monitor down, daily loss…), by cause key.
    reducing: BTreeMap<String, String>,
    history: VecDeque<TradingStatus>,
}

const STATE_HISTORY: usize = 64;

/// The shared trading state: a `watch` of [`TradingStatus`] computed from causes. HALTED
/// (kill switch) wins over REDUCING (any cause), which wins over ACTIVE. Cancels are never
/// gated by it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TradingStateHandle {
    tx: Arc<watch::Sender<TradingStatus>>,
    causes: Arc<Mutex<StateCauses>>,
}

impl Default for TradingStateHandle {
    fn default() -> Self {
        Self::new()
    }
}

impl TradingStateHandle {
    /// ACTIVE, no causes.
    pub fn new() -> Self {
        let (tx, _) = watch::channel(TradingStatus { state: TradingState::Active, reason: String::new() });
        TradingStateHandle { tx: Arc::new(tx), causes: Arc::new(Mutex::new(StateCauses::default())) }
    }

    /// A receiver for the status bar, the risk gate and the order manager.
    pub fn subscribe(&self) -> watch::Receiver<TradingStatus> {
        self.tx.subscribe()
    }

    /// The current state.
    pub fn state(&self) -> TradingState {
        self.tx.borrow().state
    }

    /// The current state and reason.
    pub fn status(&self) -> TradingStatus {
        self.tx.borrow().clone()
    }

    /// The kill switch's state half: HALTED until [`TradingStateHandle::resume`]. (The
    /// caller also sends cancel-all; cancels always pass.)
    pub fn halt(&self, reason: impl Into<String>) {
        let mut c = lock(&self.causes);
        c.halted = Some(reason.into());
        self.publish(&mut c);
    }

    /// Lifts a halt.
    pub fn resume(&self) {
        let mut c = lock(&self.causes);
        c.halted = None;
        self.publish(&mut c);
    }

    /// Adds (`Some(reason)`) or clears (`None`) one reason to be REDUCING.
    pub fn set_reducing(&self, cause: &str, reason: Option<String>) {
        let mut c = lock(&self.causes);
        match reason {
            Some(r) => {
                c.reducing.insert(cause.to_string(), r);
            }
            None => {
                c.reducing.remove(cause);
            }
        }
        self.publish(&mut c);
    }

    /// Whether `cause` is one of the reasons for REDUCING right now.
    pub fn is_reducing_for(&self, cause: &str) -> bool {
        lock(&self.causes).reducing.contains_key(cause)
    }

    /// Whether a new order may be placed now; `reduces` = it only reduces a position
    /// (spot: a sell). Cancels are not asked: they always pass.
    pub fn allows_new_order(&self, reduces: bool) -> bool {
        match self.state() {
            TradingState::Active => true,
            TradingState::Reducing => reduces,
            TradingState::Halted => false,
        }
    }

    /// The last transitions, oldest first (audit and tests: a short REDUCING between a
    /// monitor panic and its restart is recorded even if no one looked at the watch).
    pub fn history(&self) -> Vec<TradingStatus> {
        lock(&self.causes).history.iter().cloned().collect()
    }

    fn publish(&self, c: &mut StateCauses) {
        let status = if let Some(r) = &c.halted {
            TradingStatus { state: TradingState::Halted, reason: r.clone() }
        } else if !c.reducing.is_empty() {
            let reason = c.reducing.values().cloned().collect::<Vec<_>>().join("; ");
            TradingStatus { state: TradingState::Reducing, reason }
        } else {
            TradingStatus { state: TradingState::Active, reason: String::new() }
        };
        let changed = self.tx.send_if_modified(|cur| {
            if *cur == status {
                false
            } else {
                *cur = status.clone();
                true
            }
        });
        if changed {
            tracing::warn!(state = status.state.label(), reason = %status.reason, "trading state changed");
            if c.history.len() == STATE_HISTORY {
                c.history.pop_front();
            }
            c.history.push_back(status);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Inputs and outputs

/// What the monitor asks the order manager to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorAction {
    /// Place an exit under `identifier` (deterministic: rule id + attempt). The manager
    /// must treat a duplicate identifier as "it exists", never mint a new one.
    PlaceExit {
        /// Exit identifier.
        identifier: String,
        /// Rule that fired.
        rule_id: String,
        /// Market.
        market: MarketId,
        /// Always `Ask` (spot: exits sell).
        side: Side,
        /// Volume to sell (floored to the volume scale).
        volume: Qty,
        /// Always `Market` (`ord_type=market`).
        kind: OrderType,
        /// `stop_loss`, `take_profit`, `trailing_stop`, `oco_stop`, `oco_take`.
        reason: String,
        /// The level that was hit.
        trigger_price: Price,
        /// The price that hit it.
        last_price: Price,
    },
    /// Cancel every open order of `market` (funds are locked by them), then report
    /// [`ExitEvent::OpenOrdersCancelled`].
    CancelOpenOrders {
        /// Market.
        market: MarketId,
        /// The rule waiting for the cancels.
        rule_id: String,
    },
}

/// How an exit (or the cancels it asked for) went, reported by the order manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitEvent {
    /// The venue accepted the exit.
    ExitAccepted {
        /// Exit identifier.
        identifier: String,
    },
    /// The exit was definitively rejected (or denied locally).
    ExitRejected {
        /// Exit identifier.
        identifier: String,
        /// Venue or gate reason.
        reason: String,
        /// True for `insufficient_funds_ask` while our own open orders lock the volume.
        locked_funds: bool,
    },
    /// The exit order is terminal with `filled` executed; `partial` when less than asked.
    ExitFilled {
        /// Exit identifier.
        identifier: String,
        /// Volume executed.
        filled: Qty,
        /// Less than the requested volume executed.
        partial: bool,
    },
    /// The open orders of `market` are cancelled (confirmed by the venue).
    OpenOrdersCancelled {
        /// Market.
        market: MarketId,
    },
}

/// Control messages (lossless, in order).
#[derive(Debug, Clone)]
pub enum MonitorInput {
    /// A position changed (sellable volume: available + locked by our own sells).
    Position {
        /// Market.
        market: MarketId,
        /// Volume.
        volume: Qty,
        /// Average cost.
        avg_cost: Price,
    },
    /// An exit result.
    Result(ExitEvent),
    /// Adds or replaces a rule (persisted).
    AddRule(Rule),
    /// Removes a rule (and its journal row).
    RemoveRule(String),
    /// Adds an alert (persisted).
    AddAlert(Alert),
    /// Removes an alert.
    RemoveAlert(String),
    /// Reconciliation finished at `at`: prices received from then on may fire rules.
    Reconciled {
        /// When reconciliation finished.
        at: Instant,
    },
    /// Reconnect / reconciliation restarted: stop firing until the next `Reconciled`.
    NotReconciled,
    /// Fault injection (simulator and tests): the rule evaluation panics.
    InjectPanic,
}

/// Why a control message did not arrive.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MonitorError {
    /// The monitor is gone (shutdown).
    #[error("the monitor has stopped; {0} not delivered")]
    Closed(&'static str),
    /// The journal refused to load the rules.
    #[error("cannot load rules and alerts from the journal: {0}")]
    Journal(String),
}

/// Monitor settings.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// A price older than this is stale (no firing, rule STALE, alert).
    pub stale_after: Duration,
    /// How often silent markets are checked for staleness.
    pub stale_check_every: Duration,
    /// Supervision policy.
    pub restart: OnFailure,
    /// Capacity of the control channel (positions, results, rules).
    pub control_capacity: usize,
    /// Capacity of the action channel to the order manager.
    pub action_capacity: usize,
    /// Markets whose latest tick can wait at once (conflating slot keys).
    pub max_markets: usize,
    /// Price-only changes refresh the Monitor pane's view at most this often (building
    /// it per tick under a flood would cost more than evaluating the rules).
    pub view_every: Duration,
    /// How long a restarted run must stay up before trading leaves REDUCING
    /// ([`RECOVERY_GRACE`] by default).
    pub recovery_grace: Duration,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            stale_after: Duration::from_secs(10),
            stale_check_every: Duration::from_millis(500),
            restart: OnFailure::restart(),
            control_capacity: 256,
            action_capacity: 64,
            max_markets: 1024,
            view_every: Duration::from_millis(50),
            recovery_grace: RECOVERY_GRACE,
        }
    }
}

impl MonitorConfig {
    /// Defaults with the stale budget of the feed: a price is stale once the feed would
    /// itself give up on a silent socket (`[feed] idle_timeout_secs`, at least 1 s).
    pub fn from_feed(feed: &crate::config::FeedSettings) -> Self {
        MonitorConfig {
            stale_after: Duration::from_secs(feed.idle_timeout_secs.max(1)),
            ..MonitorConfig::default()
        }
    }
}

/// What the monitor needs from the rest of hoga.
#[derive(Debug, Clone)]
pub struct MonitorDeps {
    /// Where rules and alerts persist (`None`: memory only, e.g. tests and benches).
    pub journal: Option<SharedJournal>,
    /// Notifications (stale, fired, failed, monitor down, price alerts).
    pub notify: NotifySender,
    /// The shared trading state.
    pub trading: TradingStateHandle,
}

// ---------------------------------------------------------------------------------------
// Conflating tick slot

/// One price of one market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TickIn {
    price: Price,
    received: Instant,
}

#[derive(Debug, Default)]
struct TickSlot {
    latest: HashMap<MarketId, TickIn>,
    /// Markets with at least one rule: only their ticks wake the monitor. The others wait
    /// in `latest` (one per market) and are taken in before the next rule change, so a
    /// console streaming every KRW market does not run the monitor for every ticker.
    watched: HashSet<MarketId>,
}

/// Counters of the monitor (System pane).
#[derive(Debug, Default)]
pub struct MonitorMetrics {
    /// Ticks handed to the monitor.
    pub ticks_in: AtomicU64,
    /// Ticks replaced by a newer one of the same market before evaluation.
    pub ticks_conflated: AtomicU64,
    /// Ticks refused: price outside the band (≤ 0, too small, too large), or too many
    /// markets waiting.
    pub ticks_rejected: AtomicU64,
    /// Ticks evaluated.
    pub ticks_evaluated: AtomicU64,
    /// Exits sent.
    pub exits_sent: AtomicU64,
    /// Times the task (re)started.
    pub runs: AtomicU64,
}

/// The tick input: conflating, never blocks. Only the latest price per market waits
/// (the monitor needs the newest price, not every one), bounded by `max_markets`.
#[derive(Debug, Clone)]
pub struct TickSender {
    slot: Arc<Mutex<TickSlot>>,
    wake: Arc<Notify>,
    metrics: Arc<MonitorMetrics>,
    max_markets: usize,
}

impl TickSender {
    /// Hands the latest `price` of `market`, received at `received` (monotonic).
    /// Returns false when the tick was refused (counted).
    pub fn send(&self, market: &MarketId, price: Price, received: Instant) -> bool {
        self.metrics.ticks_in.fetch_add(1, Ordering::Relaxed);
        if crate::exchange::types::band::price("price", price).is_err() {
            // Outliers never reach a trigger (case 16): ≤ 0, or outside the band of
            // `exchange::types::band` (the decoder refuses those; this also guards prices
            // from elsewhere).
            self.metrics.ticks_rejected.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        {
            let mut slot = lock(&self.slot);
            let n = slot.latest.len();
            match slot.latest.get_mut(market) {
                Some(t) => {
                    *t = TickIn { price, received };
                    self.metrics.ticks_conflated.fetch_add(1, Ordering::Relaxed);
                }
                None if n >= self.max_markets => {
                    self.metrics.ticks_rejected.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
                None => {
                    slot.latest.insert(market.clone(), TickIn { price, received });
                }
            }
            if !slot.watched.contains(market) {
                return true;
            }
        }
        self.wake.notify_one();
        true
    }
}

// ---------------------------------------------------------------------------------------
// View

/// One rule as the Monitor pane shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRow {
    /// Rule id.
    pub id: String,
    /// Market.
    pub market: MarketId,
    /// `stop -3%`, `tp 105000000`, `trail 2%`, `oco -3% / +5%`.
    pub label: String,
    /// The rule itself.
    pub kind: RuleKind,
    /// Trigger price now (trailing: from the peak; OCO: the stop).
    pub trigger: Option<Price>,
    /// Last price.
    pub last: Option<Price>,
    /// `(last − trigger) / last`, as a ratio.
    pub distance: Option<Decimal>,
    /// When the last price was received (freshness = now − this).
    pub last_received: Option<Instant>,
    /// Age of the last price when the view was published.
    pub age: Option<Duration>,
    /// State (armed / stale / firing / done / failed).
    pub state: RuleState,
    /// Exit attempt.
    pub attempt: u32,
    /// Dust, failure reason, halted, cancelling…
    pub note: Option<String>,
}

/// One alert row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    /// Alert id.
    pub id: String,
    /// `KRW-BTC > 100000000`.
    pub label: String,
    /// Fired (latched).
    pub fired: bool,
}

/// Everything the Monitor pane draws.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorView {
    /// Rules by id.
    pub rules: Vec<RuleRow>,
    /// Alerts by id.
    pub alerts: Vec<AlertRow>,
    /// Whether reconciliation has finished (rules may fire).
    pub reconciled: bool,
    /// Ticks evaluated so far.
    pub ticks: u64,
    /// Times the monitor task started (1 = never restarted).
    pub runs: u64,
}

impl MonitorView {
    /// A rule row by id.
    pub fn rule(&self, id: &str) -> Option<&RuleRow> {
        self.rules.iter().find(|r| r.id == id)
    }
}

fn pct(r: Decimal) -> String {
    let p = r.saturating_mul(Decimal::ONE_HUNDRED).normalize();
    if p > Decimal::ZERO { format!("+{p}%") } else { format!("{p}%") }
}

fn level_label(l: &Level) -> String {
    match l {
        Level::Price(p) => p.normalize().to_string(),
        Level::PctFromAvg(r) => pct(*r),
    }
}

/// `stop -3%`, `tp 105000000`, `trail 2%`, `oco -3% / +5%`.
pub fn rule_label(kind: &RuleKind) -> String {
    match kind {
        RuleKind::StopLoss(l) => format!("stop {}", level_label(l)),
        RuleKind::TakeProfit(l) => format!("tp {}", level_label(l)),
        RuleKind::Trailing { ratio, .. } => {
            format!("trail {}%", ratio.saturating_mul(Decimal::ONE_HUNDRED).normalize())
        }
        RuleKind::Oco { stop, take } => format!("oco {} / {}", level_label(stop), level_label(take)),
    }
}

/// The rule a `:stop`, `:tp`, `:trail` or `:oco` command arms (whole position), or `None` for
/// other commands. (`:alert` is [`crate::notify::parse_alert`].)
pub fn rule_from_command(cmd: &crate::trading::input::TradeCommand) -> Option<Rule> {
    use crate::trading::input::TradeCommand;
    match cmd {
        TradeCommand::Stop { market, level } => {
            Some(Rule::new(market.clone(), RuleKind::StopLoss(*level), None))
        }
        TradeCommand::TakeProfit { market, level } => {
            Some(Rule::new(market.clone(), RuleKind::TakeProfit(*level), None))
        }
        TradeCommand::Trail { market, ratio } => {
            Some(Rule::new(market.clone(), RuleKind::Trailing { ratio: *ratio, peak: None }, None))
        }
        TradeCommand::Oco { market, stop, take } => {
            Some(Rule::new(market.clone(), RuleKind::Oco { stop: *stop, take: *take }, None))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// The core (state that survives a restart of the task)

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
const TRANSIENT_RETRY_WINDOW: Duration = Duration::from_secs(600);
/// And at most this many times (a cap on identifiers burnt by one rule).
const MAX_TRANSIENT_RETRIES: u32 = 64;

/// A rejection that says "not now" rather than "never": the rate limit.
fn is_transient(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("rate_limited") || r.contains("too_many_requests") || r == "429"
}

#[derive(Debug, Clone)]
struct InFlight {
    rule_id: String,
    market: MarketId,
    /// Position volume when the exit was sent (remaining = this − filled); `None` for
    /// exits restored from the journal, where the current position is used instead.
    position_at_fire: Option<Qty>,
}

struct Core {
    book: RuleBook,
    alerts: AlertBook,
    positions: HashMap<MarketId, PositionView>,
    quotes: HashMap<MarketId, Quote>,
    inflight: HashMap<String, InFlight>,
    /// Rules waiting for `OpenOrdersCancelled` of a market.
    awaiting_cancel: HashMap<MarketId, Vec<String>>,
    /// Rules that already used their one cancel-and-retry.
    cancel_tried: HashSet<String>,
    /// Transient rejections (rate limit) re-armed so far, per rule, and when the first was.
    transient_retries: HashMap<String, (u32, Instant)>,
    /// When each rule was last persisted because of its trailing peak.
    peak_saved: HashMap<String, Instant>,
    /// Rules triggered while HALTED (alerted once, kept armed).
    held: HashSet<String>,
    reconciled: bool,
    ticks: u64,
}

/// Side effects of handling one input, performed after the core lock is released.
#[derive(Default)]
struct Effects {
    actions: Vec<MonitorAction>,
    notes: Vec<NotifyEvent>,
    save_rules: Vec<Rule>,
    delete_rules: Vec<String>,
    save_alerts: Vec<Alert>,
    audit: Vec<(Option<String>, &'static str, String)>,
}

impl Effects {
    fn is_empty(&self) -> bool {
        self.actions.is_empty()
            && self.notes.is_empty()
            && self.save_rules.is_empty()
            && self.delete_rules.is_empty()
            && self.save_alerts.is_empty()
            && self.audit.is_empty()
    }
}

impl Core {
    fn new(book: RuleBook, alerts: AlertBook, inflight: HashMap<String, InFlight>) -> Core {
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
        }
    }

    fn min_total(market: &MarketId) -> Decimal {
        ticks::min_total(market.quote())
    }

    fn pos(&self, market: &MarketId) -> PositionView {
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
    fn evaluate(
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
        self.notices(market, notices, fx);
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
                                exit.reason, exit.last_price
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
                    format!("{} (last {})", describe_alert(&a), quote.price.normalize()),
                )
                .with_id(a.id.clone()),
            );
            fx.save_alerts.push(a);
        }
    }

    fn fire(&mut self, exit: Exit, position: Qty, fx: &mut Effects) {
        self.inflight.insert(
            exit.identifier.clone(),
            InFlight {
                rule_id: exit.rule_id.clone(),
                market: exit.market.clone(),
                position_at_fire: Some(position),
            },
        );
        let detail = format!(
            "rule={} reason={} trigger={} last={} volume={} data_age_ms={} attempt={}",
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
                format!(
                    "{} hit {} at {}: selling {}",
                    exit.reason,
                    exit.trigger_price.normalize(),
                    exit.last_price.normalize(),
                    exit.volume.normalize()
                ),
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

    fn notices(&mut self, market: &MarketId, notices: Vec<RuleNotice>, fx: &mut Effects) {
        for n in notices {
            match n {
                RuleNotice::Stale { rule_id } => {
                    // Before reconciliation every rule is "stale" by construction; that
                    // is the normal start, not an alarm.
                    if self.reconciled {
                        let label = self.book.get(&rule_id).map(|r| rule_label(&r.kind)).unwrap_or_default();
                        fx.notes.push(
                            NotifyEvent::new(
                                NotifyKind::RuleStale,
                                Some(market.clone()),
                                format!("{label}: no fresh price, NOT protected"),
                            )
                            .with_id(rule_id),
                        );
                    }
                }
                RuleNotice::Fresh { .. } => {}
                RuleNotice::Dust { rule_id, volume } => {
                    fx.notes.push(
                        NotifyEvent::new(
                            NotifyKind::RuleFired,
                            Some(market.clone()),
                            format!(
                                "triggered, but {} left is below the minimum order: nothing sold",
                                volume.normalize()
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
    fn reevaluate(&mut self, market: &MarketId, now: Instant, trading: TradingState, fx: &mut Effects) {
        if let Some(q) = self.quotes.get(market).copied() {
            self.ticks = self.ticks.saturating_sub(1);
            self.evaluate(market, q, now, trading, fx);
        }
    }

    fn on_result(&mut self, ev: ExitEvent, now: Instant, trading: TradingState, fx: &mut Effects) {
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
                        format!("exit filled {} of the position; selling the rest", filled.normalize())
                    }
                    _ if remaining > Decimal::ZERO && r.volume.is_none() => {
                        format!("exit done; dust {} left below the minimum order", remaining.normalize())
                    }
                    _ => format!("exit done, sold {}", filled.normalize()),
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
        let volume = floor_volume(r.volume.map_or(pos.volume, |v| v.min(pos.volume)));
        r.attempt += 1;
        if trading == TradingState::Halted
            || volume <= Decimal::ZERO
            || volume.checked_mul(last).is_some_and(|v| v < min)
        {
            r.state = RuleState::Failed;
            r.note = Some(if trading == TradingState::Halted {
                "trading HALTED while cancelling conflicting orders".into()
            } else {
                format!("nothing sellable after cancelling ({volume} at {last})")
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

    fn view(&self, now: Instant, runs: u64) -> MonitorView {
        let rules = self
            .book
            .rules()
            .map(|r| {
                let q = self.quotes.get(&r.market);
                let trigger = r.trigger_price(self.pos(&r.market).avg_cost);
                let last = q.map(|q| q.price);
                let distance = match (trigger, last) {
                    (Some(t), Some(l)) if l > Decimal::ZERO => {
                        l.checked_sub(t).and_then(|d| d.checked_div(l))
                    }
                    _ => None,
                };
                RuleRow {
                    id: r.id.clone(),
                    market: r.market.clone(),
                    label: rule_label(&r.kind),
                    kind: r.kind.clone(),
                    trigger,
                    last,
                    distance,
                    last_received: q.map(|q| q.received),
                    age: q.map(|q| now.saturating_duration_since(q.received)),
                    state: r.state,
                    attempt: r.attempt,
                    note: r.note.clone(),
                }
            })
            .collect();
        let alerts = self
            .alerts
            .alerts()
            .map(|a| AlertRow { id: a.id.clone(), label: describe_alert(a), fired: a.fired })
            .collect();
        MonitorView { rules, alerts, reconciled: self.reconciled, ticks: self.ticks, runs }
    }
}

// ---------------------------------------------------------------------------------------
// The task

/// What the console keeps of the monitor.
#[derive(Debug, Clone)]
pub struct MonitorHandle {
    ticks: TickSender,
    control: mpsc::Sender<MonitorInput>,
    view: watch::Receiver<Arc<MonitorView>>,
    metrics: Arc<MonitorMetrics>,
}

impl MonitorHandle {
    /// The tick input (clone it into the feed). Conflating; never blocks.
    pub fn ticks(&self) -> TickSender {
        self.ticks.clone()
    }

    /// Hands one price; see [`TickSender::send`].
    pub fn tick(&self, market: &MarketId, price: Price, received: Instant) -> bool {
        self.ticks.send(market, price, received)
    }

    /// Sends a control message (waits for room: nothing here may be lost).
    pub async fn send(&self, input: MonitorInput) -> Result<(), MonitorError> {
        self.control.send(input).await.map_err(|_| MonitorError::Closed("control message"))
    }

    /// A position update.
    pub async fn position(&self, market: MarketId, volume: Qty, avg_cost: Price) -> Result<(), MonitorError> {
        self.send(MonitorInput::Position { market, volume, avg_cost }).await
    }

    /// An exit result from the order manager.
    pub async fn result(&self, ev: ExitEvent) -> Result<(), MonitorError> {
        self.send(MonitorInput::Result(ev)).await
    }

    /// Adds a rule (persisted).
    pub async fn add_rule(&self, rule: Rule) -> Result<(), MonitorError> {
        self.send(MonitorInput::AddRule(rule)).await
    }

    /// Removes a rule.
    pub async fn remove_rule(&self, id: impl Into<String>) -> Result<(), MonitorError> {
        self.send(MonitorInput::RemoveRule(id.into())).await
    }

    /// Adds a price alert (persisted).
    pub async fn add_alert(&self, alert: Alert) -> Result<(), MonitorError> {
        self.send(MonitorInput::AddAlert(alert)).await
    }

    /// Reconciliation finished now: prices received from this call on may fire rules.
    pub async fn reconciled(&self) -> Result<(), MonitorError> {
        self.send(MonitorInput::Reconciled { at: Instant::now() }).await
    }

    /// Reconciliation restarted (reconnect): stop firing until [`MonitorHandle::reconciled`].
    pub async fn not_reconciled(&self) -> Result<(), MonitorError> {
        self.send(MonitorInput::NotReconciled).await
    }

    /// Fault injection: the next evaluation panics (simulator `monitor-panic`, tests).
    pub async fn inject_panic(&self) -> Result<(), MonitorError> {
        self.send(MonitorInput::InjectPanic).await
    }

    /// The Monitor pane's view.
    pub fn view(&self) -> watch::Receiver<Arc<MonitorView>> {
        self.view.clone()
    }

    /// Counters.
    pub fn metrics(&self) -> &MonitorMetrics {
        &self.metrics
    }
}

/// Marks the monitor as dead when its future is dropped without finishing cleanly (panic
/// or error): trading goes REDUCING and an alarm is raised. Disarmed on a clean stop.
struct DeadManSwitch {
    trading: TradingStateHandle,
    notify: NotifySender,
    armed: bool,
}

const MONITOR_CAUSE: &str = "monitor";

/// The REDUCING cause the supervisor sets when the monitor task panics or fails (the
/// console's task-event sink). The monitor lifts it itself once a restarted run has stayed
/// up for [`RECOVERY_GRACE`], not the moment the supervisor starts it again.
pub const MONITOR_TASK_CAUSE: &str = "monitor-task";

/// How long a restarted monitor must run before trading leaves REDUCING (the default of
/// [`MonitorConfig::recovery_grace`]). A monitor that
/// dies again at once (a rule whose evaluation panics on every tick) keeps trading
/// REDUCING, instead of flapping back to ACTIVE for a moment between deaths, during which
/// a new buy would pass while nothing protects it.
pub const RECOVERY_GRACE: Duration = Duration::from_secs(5);

impl Drop for DeadManSwitch {
    fn drop(&mut self) {
        if self.armed {
            self.trading.set_reducing(MONITOR_CAUSE, Some("the TP/SL monitor is down; restarting".into()));
            self.notify.notify(NotifyEvent::new(
                NotifyKind::MonitorDown,
                None,
                "the TP/SL monitor task died: positions are NOT protected until it restarts (trading REDUCING)",
            ));
        }
    }
}

struct Shared {
    core: Mutex<Core>,
    control: tokio::sync::Mutex<mpsc::Receiver<MonitorInput>>,
    actions: mpsc::Sender<MonitorAction>,
    slot: Arc<Mutex<TickSlot>>,
    wake: Arc<Notify>,
    view: watch::Sender<Arc<MonitorView>>,
    metrics: Arc<MonitorMetrics>,
    deps: MonitorDeps,
    config: MonitorConfig,
}

/// The trading monitor.
#[derive(Debug)]
pub struct Monitor;

impl Monitor {
    /// Loads rules and alerts from the journal (rules wait for [`MonitorHandle::reconciled`]
    /// and a fresh price) and spawns the supervised monitor task. Returns the handle and
    /// the action channel for the order manager.
    pub fn spawn(
        tasks: &TaskManager,
        config: MonitorConfig,
        deps: MonitorDeps,
    ) -> Result<(MonitorHandle, mpsc::Receiver<MonitorAction>), MonitorError> {
        let mut book = RuleBook::new(config.stale_after);
        let mut alerts = AlertBook::new();
        let mut inflight = HashMap::new();
        if let Some(j) = &deps.journal {
            let j = lock(j);
            for r in j.load_rules().map_err(|e| MonitorError::Journal(e.to_string()))? {
                if r.state == RuleState::Firing {
                    // Its exit's outcome comes from the manager's reconciliation.
                    inflight.insert(
                        r.exit_identifier(),
                        InFlight { rule_id: r.id.clone(), market: r.market.clone(), position_at_fire: None },
                    );
                }
                book.insert(r);
            }
            for a in j.load_alerts().map_err(|e| MonitorError::Journal(e.to_string()))? {
                alerts.insert(a);
            }
        }
        let core = Core::new(book, alerts, inflight);
        // Control: bounded, `control_capacity`; Block (senders wait): positions, results
        // and rule changes must never be lost.
        let (ctl_tx, ctl_rx) = mpsc::channel(config.control_capacity.max(1));
        // Actions: bounded, `action_capacity`; Block (the monitor waits): an exit must
        // never be dropped. Ticks conflate meanwhile, so waiting costs no memory.
        let (act_tx, act_rx) = mpsc::channel(config.action_capacity.max(1));
        let metrics = Arc::new(MonitorMetrics::default());
        let slot = Arc::new(Mutex::new(TickSlot::default()));
        let wake = Arc::new(Notify::new());
        let initial = core.view(Instant::now(), 0);
        let (view_tx, view_rx) = watch::channel(Arc::new(initial));
        let shared = Arc::new(Shared {
            core: Mutex::new(core),
            control: tokio::sync::Mutex::new(ctl_rx),
            actions: act_tx,
            slot: slot.clone(),
            wake: wake.clone(),
            view: view_tx,
            metrics: metrics.clone(),
            deps,
            config: config.clone(),
        });
        tasks.spawn_supervised("trading", "monitor", config.restart, move |cancel| {
            let shared = shared.clone();
            async move { run(shared, cancel).await }
        });
        let ticks =
            TickSender { slot, wake, metrics: metrics.clone(), max_markets: config.max_markets.max(1) };
        Ok((MonitorHandle { ticks, control: ctl_tx, view: view_rx, metrics }, act_rx))
    }
}

async fn run(shared: Arc<Shared>, cancel: CancellationToken) -> anyhow::Result<()> {
    let runs = shared.metrics.runs.fetch_add(1, Ordering::Relaxed) + 1;
    let mut switch = DeadManSwitch {
        trading: shared.deps.trading.clone(),
        notify: shared.deps.notify.clone(),
        armed: true,
    };
    let mut control = shared.control.lock().await;
    // Back: the REDUCING this task's death caused is lifted at once on the first run, and
    // after RECOVERY_GRACE of running on a restart.
    let lift = |shared: &Shared| {
        shared.deps.trading.set_reducing(MONITOR_CAUSE, None);
        shared.deps.trading.set_reducing(MONITOR_TASK_CAUSE, None);
    };
    let mut recovering = None;
    // A restart, or a first run after the task failed before it got here (a panic at the
    // task's start): either way trading is REDUCING because of this task.
    let failed_before = shared.deps.trading.is_reducing_for(MONITOR_CAUSE)
        || shared.deps.trading.is_reducing_for(MONITOR_TASK_CAUSE);
    if runs > 1 || failed_before {
        tracing::warn!(runs, "monitor restarted; trading stays REDUCING until it has run for a while");
        recovering = Some(tokio::time::Instant::now() + shared.config.recovery_grace);
    } else {
        lift(&shared);
    }
    let mut state_rx = shared.deps.trading.subscribe();
    let mut trading = state_rx.borrow_and_update().state;
    let mut stale_timer = tokio::time::interval(shared.config.stale_check_every);
    stale_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    publish_view(&shared, runs);
    watch_markets(&shared);
    let view_every = shared.config.view_every;
    let mut last_publish = Instant::now();
    let mut view_dirty = false;
    let result = loop {
        if recovering.is_some_and(|at| tokio::time::Instant::now() >= at) {
            recovering = None;
            lift(&shared);
            tracing::info!(runs, "monitor running again: the REDUCING its failure caused is lifted");
        }
        let mut fx = Effects::default();
        // Ticks that change nothing but prices refresh the view at most every
        // `view_every`; anything else publishes at once.
        let mut tick_only = false;
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break Ok(()),
            msg = control.recv() => {
                let Some(msg) = msg else { break Ok(()) };
                if matches!(msg, MonitorInput::InjectPanic) {
                    // Simulates a bug in rule evaluation (RELIABILITY case 18).
                    panic!("injected monitor fault");
                }
                take_ticks(&shared, trading, &mut fx);
                on_control(&shared, msg, trading, &mut fx);
            }
            changed = state_rx.changed() => {
                if changed.is_err() { break Ok(()) }
                let st = state_rx.borrow_and_update().clone();
                take_ticks(&shared, trading, &mut fx);
                let was = trading;
                trading = st.state;
                let mut core = lock(&shared.core);
                if st.state == TradingState::Halted && was != TradingState::Halted {
                    let n = core.book.active_count();
                    let text = if n > 0 {
                        format!("{}; protection degraded: {n} TP/SL rules cannot send exits while HALTED", st.reason)
                    } else {
                        st.reason.clone()
                    };
                    fx.notes.push(NotifyEvent::new(NotifyKind::TradingHalted, None, text));
                } else if was == TradingState::Halted && st.state != TradingState::Halted {
                    // Rules that triggered while halted act on the last (fresh) price now.
                    let held: Vec<String> = core.held.drain().collect();
                    for id in held {
                        if let Some(mut r) = core.book.get(&id).cloned() {
                            r.note = None;
                            core.book.insert(r);
                        }
                    }
                    let markets: Vec<MarketId> = core.quotes.keys().cloned().collect();
                    let now = Instant::now();
                    for m in markets {
                        core.reevaluate(&m, now, trading, &mut fx);
                    }
                }
            }
            _ = shared.wake.notified() => {
                tick_only = true;
                take_ticks(&shared, trading, &mut fx);
            }
            _ = stale_timer.tick() => {
                let now = Instant::now();
                let mut core = lock(&shared.core);
                let notices = core.book.check_stale(now);
                let mut by_market: Vec<(MarketId, RuleNotice)> = Vec::new();
                for n in notices {
                    if let RuleNotice::Stale { rule_id } = &n
                        && let Some(r) = core.book.get(rule_id)
                    {
                        fx.save_rules.push(r.clone());
                        by_market.push((r.market.clone(), n));
                    }
                }
                for (m, n) in by_market {
                    core.notices(&m, vec![n], &mut fx);
                }
            }
            _ = tokio::time::sleep_until((last_publish + view_every).into()), if view_dirty => {}
        }
        if !tick_only {
            // Rules or alerts may have come or gone: wake on exactly their markets.
            watch_markets(&shared);
        }
        let quiet = tick_only && fx.is_empty();
        if let Err(e) = apply(&shared, fx, &cancel).await {
            break Err(e);
        }
        if quiet && last_publish.elapsed() < view_every {
            view_dirty = true;
        } else {
            publish_view(&shared, runs);
            last_publish = Instant::now();
            view_dirty = false;
        }
    };
    if result.is_ok() {
        switch.armed = false;
    }
    result
}

/// Makes the ticks of the markets with a rule or a price alert wake the monitor.
fn watch_markets(shared: &Shared) {
    let watched: HashSet<MarketId> = {
        let core = lock(&shared.core);
        core.book
            .rules()
            .map(|r| r.market.clone())
            .chain(core.alerts.alerts().map(|a| a.market.clone()))
            .collect()
    };
    lock(&shared.slot).watched = watched;
}

/// Evaluates the latest tick of every market that has one waiting.
fn take_ticks(shared: &Shared, trading: TradingState, fx: &mut Effects) {
    let batch: Vec<(MarketId, TickIn)> = lock(&shared.slot).latest.drain().collect();
    if batch.is_empty() {
        return;
    }
    let now = Instant::now();
    let mut core = lock(&shared.core);
    for (market, t) in batch {
        shared.metrics.ticks_evaluated.fetch_add(1, Ordering::Relaxed);
        core.evaluate(&market, Quote { price: t.price, received: t.received }, now, trading, fx);
    }
}

fn on_control(shared: &Shared, msg: MonitorInput, trading: TradingState, fx: &mut Effects) {
    let now = Instant::now();
    let mut core = lock(&shared.core);
    match msg {
        MonitorInput::Position { market, volume, avg_cost } => {
            core.positions.insert(market, PositionView { volume, avg_cost });
        }
        MonitorInput::Result(ev) => core.on_result(ev, now, trading, fx),
        MonitorInput::AddRule(rule) => {
            let market = rule.market.clone();
            fx.save_rules.push(rule.clone());
            core.book.insert(rule);
            core.reevaluate(&market, now, trading, fx);
        }
        MonitorInput::RemoveRule(id) => {
            if core.book.remove(&id).is_some() {
                fx.delete_rules.push(id);
            }
        }
        MonitorInput::AddAlert(alert) => {
            fx.save_alerts.push(alert.clone());
            core.alerts.insert(alert);
        }
        MonitorInput::RemoveAlert(id) => {
            core.alerts.remove(&id);
        }
        MonitorInput::Reconciled { at } => {
            core.reconciled = true;
            core.book.set_ready(at);
            fx.audit.push((None, "monitor_ready", format!("rules={}", core.book.active_count())));
            // Prices that arrived after `at` but were evaluated before this message.
            let markets: Vec<MarketId> = core.quotes.keys().cloned().collect();
            for m in markets {
                core.reevaluate(&m, now, trading, fx);
            }
        }
        MonitorInput::NotReconciled => {
            core.reconciled = false;
            core.book.set_not_ready();
        }
        MonitorInput::InjectPanic => {}
    }
}

/// Sends actions (waiting for room), then persists and notifies. Exits go first: the
/// deterministic identifier makes a crash between sending and persisting harmless (a
/// re-send hits "duplicate identifier", which the manager treats as "exists").
async fn apply(shared: &Shared, fx: Effects, cancel: &CancellationToken) -> anyhow::Result<()> {
    for a in fx.actions {
        if matches!(a, MonitorAction::PlaceExit { .. }) {
            shared.metrics.exits_sent.fetch_add(1, Ordering::Relaxed);
        }
        tokio::select! {
            biased;
            r = shared.actions.send(a) => {
                if r.is_err() {
                    anyhow::bail!("the order manager's action channel is closed");
                }
            }
            _ = cancel.cancelled() => return Ok(()),
        }
    }
    if let Some(j) = &shared.deps.journal
        && !(fx.save_rules.is_empty()
            && fx.delete_rules.is_empty()
            && fx.save_alerts.is_empty()
            && fx.audit.is_empty())
    {
        // Short synchronous SQLite writes (WAL); no await while holding the lock.
        let j = lock(j);
        for r in &fx.save_rules {
            if let Err(e) = j.save_rule(r) {
                tracing::error!(rule = %r.id, error = %e, "cannot persist rule");
            }
        }
        for id in &fx.delete_rules {
            if let Err(e) = j.delete_rule(id) {
                tracing::error!(rule = %id, error = %e, "cannot delete rule");
            }
        }
        for a in &fx.save_alerts {
            if let Err(e) = j.save_alert(a) {
                tracing::error!(alert = %a.id, error = %e, "cannot persist alert");
            }
        }
        for (id, kind, detail) in &fx.audit {
            if let Err(e) = j.event(id.as_deref(), kind, detail) {
                tracing::error!(kind, error = %e, "cannot write monitor audit event");
            }
        }
    }
    for n in fx.notes {
        shared.deps.notify.notify(n);
    }
    Ok(())
}

fn publish_view(shared: &Shared, runs: u64) {
    let view = lock(&shared.core).view(Instant::now(), runs);
    shared.view.send_replace(Arc::new(view));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trading_state_priorities_and_history() {
        let t = TradingStateHandle::new();
        assert_eq!(t.state(), TradingState::Active);
        t.set_reducing("monitor", Some("down".into()));
        assert_eq!(t.state(), TradingState::Reducing);
        assert!(t.allows_new_order(true));
        assert!(!t.allows_new_order(false));
        t.halt("kill switch");
        assert_eq!(t.state(), TradingState::Halted);
        assert!(!t.allows_new_order(true));
        t.set_reducing("monitor", None);
        assert_eq!(t.state(), TradingState::Halted);
        t.resume();
        assert_eq!(t.state(), TradingState::Active);
        let h: Vec<_> = t.history().into_iter().map(|s| s.state).collect();
        assert_eq!(h, vec![TradingState::Reducing, TradingState::Halted, TradingState::Active]);
    }

    #[test]
    fn commands_become_rules() {
        use crate::trading::input::parse_command;
        let r = rule_from_command(&parse_command(":stop KRW-BTC -3%").unwrap()).unwrap();
        assert_eq!(rule_label(&r.kind), "stop -3%");
        assert_eq!(r.state, RuleState::Armed);
        let t = rule_from_command(&parse_command(":trail KRW-BTC 2%").unwrap()).unwrap();
        assert_eq!(rule_label(&t.kind), "trail 2%");
        let tp = rule_from_command(&parse_command(":tp KRW-BTC +5%").unwrap()).unwrap();
        assert_eq!(rule_label(&tp.kind), "tp +5%");
        assert!(rule_from_command(&parse_command(":kill").unwrap()).is_none());
    }

    #[test]
    fn labels() {
        use rust_decimal_macros::dec;
        assert_eq!(rule_label(&RuleKind::StopLoss(Level::PctFromAvg(dec!(-0.03)))), "stop -3%");
        assert_eq!(
            rule_label(&RuleKind::Oco { stop: Level::Price(dec!(97)), take: Level::PctFromAvg(dec!(0.05)) }),
            "oco 97 / +5%"
        );
    }

    /// Issue 15 item 8: a 429 storm refuses many exits in a row; the rule keeps
    /// re-arming under new identifiers inside the window (three used to fail it, leaving
    /// the position unprotected), and stops once the window is over.
    #[test]
    fn a_rate_limit_storm_keeps_the_exit_re_arming_within_its_window() {
        use rust_decimal_macros::dec;
        let m = MarketId::new("KRW-X");
        let t0 = Instant::now();
        let mut book = RuleBook::new(Duration::from_secs(3600));
        book.set_ready(t0);
        let rule = Rule::new(m.clone(), RuleKind::StopLoss(Level::Price(dec!(97))), None);
        let rule_id = rule.id.clone();
        book.insert(rule);
        let mut core = Core::new(book, AlertBook::new(), HashMap::new());
        core.reconciled = true;
        core.positions.insert(m.clone(), PositionView { volume: dec!(1000), avg_cost: dec!(100) });
        let mut fx = Effects::default();
        core.evaluate(&m, Quote { price: dec!(96), received: t0 }, t0, TradingState::Active, &mut fx);
        let exit = |fx: &Effects| {
            fx.actions.iter().find_map(|a| match a {
                MonitorAction::PlaceExit { identifier, .. } => Some(identifier.clone()),
                _ => None,
            })
        };
        let mut id = exit(&fx).expect("the stop fired");
        let mut ids = HashSet::from([id.clone()]);
        for n in 1..=10u32 {
            let now = t0 + Duration::from_secs(u64::from(n) * 5);
            let mut fx = Effects::default();
            let rejected = ExitEvent::ExitRejected {
                identifier: id.clone(),
                reason: "rate_limited: upbit 429 (identifier confirmed absent by lookup)".into(),
                locked_funds: false,
            };
            core.quotes.insert(m.clone(), Quote { price: dec!(96), received: now });
            core.on_result(rejected, now, TradingState::Active, &mut fx);
            id = exit(&fx).unwrap_or_else(|| panic!("rejection {n} of a storm failed the rule"));
            assert!(ids.insert(id.clone()), "identifier reused: {id}");
        }
        assert_eq!(core.book.get(&rule_id).map(|r| r.state), Some(RuleState::Firing));
        // Past the window: the rule fails and says so.
        // (The window runs from the first refusal, at t0 + 5 s.)
        let late = t0 + Duration::from_secs(5) + TRANSIENT_RETRY_WINDOW + Duration::from_secs(1);
        let mut fx = Effects::default();
        core.quotes.insert(m.clone(), Quote { price: dec!(96), received: late });
        let rejected =
            ExitEvent::ExitRejected { identifier: id, reason: "rate_limited".into(), locked_funds: false };
        core.on_result(rejected, late, TradingState::Active, &mut fx);
        assert!(exit(&fx).is_none());
        assert_eq!(core.book.get(&rule_id).map(|r| r.state), Some(RuleState::Failed));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Tick(u32),
        Fill { partial: bool },
        Reject { locked: bool, transient: bool },
        CancelsDone,
        Halt,
        Resume,
        Position(u32),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (90u32..111).prop_map(Op::Tick),
            2 => any::<bool>().prop_map(|partial| Op::Fill { partial }),
            1 => (any::<bool>(), any::<bool>()).prop_map(|(locked, transient)| Op::Reject { locked, transient }),
            1 => Just(Op::CancelsDone),
            1 => Just(Op::Halt),
            1 => Just(Op::Resume),
            1 => (0u32..20).prop_map(Op::Position),
        ]
    }

    fn kind(i: u8) -> RuleKind {
        use rust_decimal_macros::dec;
        match i % 4 {
            0 => RuleKind::StopLoss(Level::PctFromAvg(dec!(-0.03))),
            1 => RuleKind::TakeProfit(Level::Price(dec!(105))),
            2 => RuleKind::Trailing { ratio: dec!(0.02), peak: None },
            _ => RuleKind::Oco { stop: Level::Price(dec!(97)), take: Level::PctFromAvg(dec!(0.05)) },
        }
    }

    proptest::proptest! {
        /// Whatever the prices, results, halts and position changes: every exit
        /// identifier is new, a rule never has two exits in flight, nothing is sent while
        /// HALTED, and the conflicting orders are cancelled at most once.
        #[test]
        fn exits_are_unique_single_flight_and_never_sent_while_halted(
            k in 0u8..4,
            ops in proptest::collection::vec(op(), 1..120),
        ) {
            use rust_decimal_macros::dec;
            let m = MarketId::new("KRW-X");
            let t0 = Instant::now();
            let mut book = RuleBook::new(Duration::from_secs(3600));
            book.set_ready(t0);
            let rule = Rule::new(m.clone(), kind(k), None);
            let rule_id = rule.id.clone();
            book.insert(rule);
            let mut core = Core::new(book, AlertBook::new(), HashMap::new());
            core.reconciled = true;
            // 1000 units at 100 KRW: 100,000 KRW, far above the 5,000 minimum.
            core.positions.insert(m.clone(), PositionView { volume: dec!(1000), avg_cost: dec!(100) });
            let mut trading = TradingState::Active;
            let mut seen: HashSet<String> = HashSet::new();
            let mut outstanding: Vec<(String, Qty)> = Vec::new();
            let mut cancels = 0;
            for op in ops {
                let now = Instant::now();
                let mut fx = Effects::default();
                match op {
                    Op::Tick(p) => core.evaluate(&m, Quote { price: Decimal::from(p), received: now }, now, trading, &mut fx),
                    Op::Fill { partial } => {
                        if let Some((id, v)) = outstanding.first().cloned() {
                            outstanding.remove(0);
                            let filled = if partial { (v / Decimal::TWO).floor() } else { v };
                            core.on_result(ExitEvent::ExitFilled { identifier: id, filled, partial }, now, trading, &mut fx);
                        }
                    }
                    Op::Reject { locked, transient } => {
                        if let Some((id, _)) = outstanding.first().cloned() {
                            outstanding.remove(0);
                            let reason = if transient { "rate_limited" } else { "insufficient_funds_ask" };
                            core.on_result(ExitEvent::ExitRejected { identifier: id, reason: reason.into(), locked_funds: locked }, now, trading, &mut fx);
                        }
                    }
                    Op::CancelsDone => core.on_result(ExitEvent::OpenOrdersCancelled { market: m.clone() }, now, trading, &mut fx),
                    Op::Halt => trading = TradingState::Halted,
                    Op::Resume => trading = TradingState::Active,
                    Op::Position(v) => {
                        core.positions.insert(m.clone(), PositionView { volume: Decimal::from(v) * dec!(100), avg_cost: dec!(100) });
                    }
                }
                for a in fx.actions {
                    match a {
                        MonitorAction::PlaceExit { identifier, volume, rule_id: rid, .. } => {
                            proptest::prop_assert_eq!(&rid, &rule_id);
                            proptest::prop_assert!(trading != TradingState::Halted, "exit while HALTED");
                            proptest::prop_assert!(outstanding.is_empty(), "two exits in flight");
                            proptest::prop_assert!(seen.insert(identifier.clone()), "identifier reused: {}", identifier);
                            proptest::prop_assert!(volume > Decimal::ZERO);
                            outstanding.push((identifier, volume));
                        }
                        MonitorAction::CancelOpenOrders { .. } => cancels += 1,
                    }
                }
                proptest::prop_assert!(cancels <= 1);
            }
        }
    }
}
