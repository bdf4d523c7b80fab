//! The trading monitor: the task that evaluates every protection rule (stop-loss,
//! take-profit, trailing stop, OCO) and every price alert on every tick, and the shared
//! trading state (ACTIVE / REDUCING / HALTED) with its kill switch.
//!
//! Rules are evaluated on every tick, not by polling positions on a timer (a 30 s poll
//! would let a stop slip by up to 30 s). The monitor never talks to the exchange: it emits
//! [`MonitorAction`]s on a bounded, lossless channel to the console, which puts them on
//! the Trading lane to the order manager, and it is told how they went with
//! [`ExitEvent`]s. The pure firing logic is [`crate::trading::rules::RuleBook`];
//! this module adds the task, the inputs, the journal, the locked-funds path,
//! notifications and the Monitor pane's view:
//!
//! - `state`: the shared trading state and the kill switch ([`TradingStateHandle`]);
//! - `ticks`: the conflating tick input ([`TickSender`]) and the counters;
//! - `evaluation`: the state that survives a restart and what one input does to it;
//! - `task`: the supervised task, its handle, persistence and the dead-man switch;
//! - `view`: the rows the Monitor pane draws ([`MonitorView`], [`RuleRow`]);
//! - [`alerts`]: the price alerts the task evaluates with the rules, and the indicator
//!   alerts it latches when [`indicator_alerts`] (run by the console) says they hold.
//!
//! Reliability cases (docs/RELIABILITY.md §4 B):
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

pub mod alerts;
mod evaluation;
pub mod indicator_alerts;
pub mod premium_alerts;
mod state;
mod task;
#[cfg(test)]
mod tests;
mod ticks;
mod view;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::exchange::types::{MarketId, OrderType, Price, Qty, Side};
use crate::kernel::OnFailure;
use crate::notify::NotifySender;
use crate::trading::journal::Journal;
use crate::trading::rules::{Alert, Rule};

#[cfg(test)]
use alerts::AlertBook;
pub use alerts::{AlertParseError, parse_alert};
pub use state::{TradingStateHandle, TradingStatus};
pub(crate) use task::{MONITOR_TASK_CAUSE, RECOVERY_GRACE};
pub use task::{Monitor, MonitorHandle};
pub use ticks::{MonitorMetrics, TickSender};
pub use view::{AlertRow, MonitorView, RulePosition, RuleRow};
#[cfg(test)]
use view::{rule_from_command, rule_label};

/// The journal shared by the tasks that write it (it is `Send` but not `Sync`).
pub type SharedJournal = Arc<Mutex<Journal>>;

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
    /// Every coin held, from a whole balance list (market, sellable volume, average cost):
    /// a market it does not name holds nothing now (sold elsewhere), so its rules show
    /// "position gone" and cannot fire.
    Holdings(Vec<(MarketId, Qty, Price)>),
    /// An exit result.
    Result(ExitEvent),
    /// Adds or replaces a rule (persisted).
    AddRule(Rule),
    /// Removes a rule (and its journal row).
    RemoveRule(String),
    /// Adds an alert (persisted).
    AddAlert(Alert),
    /// Removes an alert (and its journal row).
    RemoveAlert(String),
    /// An indicator alert's condition held (the console's indicator watcher says so):
    /// fires it once, latched, with `detail` after its label (`RSI 28.4 · local`).
    IndicatorHit {
        /// Alert id.
        id: String,
        /// What held and who saw it first.
        detail: String,
    },
    /// A premium board (the console's premium task sends one while a premium alert is
    /// armed): fires the premium alerts that hold on it, once, latched.
    Premium(Arc<crate::store::premium::PremiumBoard>),
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
    /// The `[trading]` settings as `:set` changes them, read when an exit fires: the
    /// per-order cap and what a protective exit does past it. `None`: no cap (tests).
    pub exits: Option<Arc<Mutex<crate::config::TradingSettings>>>,
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
            exits: None,
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
