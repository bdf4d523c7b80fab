//! The console's bus message: what travels on each lane.
//!
//! | lane    | messages                                                              |
//! |---------|-----------------------------------------------------------------------|
//! | trading | [`TradeRequest`]s (UI, monitor), their [`TradeReply`]s, the order manager's [`OrderEvent`]s |
//! | safety  | [`SafetyEvent`]s: halts, kill switch, resume, feed health, task failures, REST bans, monitor down/up, critical failures |
//! | config  | [`ConfigRequest`]s and the "trading is idle" release of the change gate |
//! | command | the UI's other requests: selection, acknowledgements, quit |
//! | logging | log records for the Log pane                                           |
//!
//! Requests carry the [`CorrelationId`] their sender minted, replies the id of their
//! request, and an order's facts the id of the request that placed it, so the System
//! pane can follow one `:buy` from the key to the fill.

use crate::bus::{BusMessage, CorrelationId, CriticalFailure, Lane};
use crate::config::change::ConfigRequest;
use crate::kernel::TaskEvent;
use crate::logging::LogRecord;
use crate::trading::intent::{TradeReply, TradeRequest};
use crate::trading::manager::OrderEvent;
use crate::ui::UiCommand;

/// One message on the console's bus.
#[derive(Debug)]
pub enum AppEvent {
    /// A trading request (order, cancel, kill switch, rule), from the UI or the monitor.
    Trade(TradeRequest),
    /// The answer to a trading or config request.
    Reply(TradeReply),
    /// A fact from the order manager; `chain` is the id of the request that placed the
    /// order, when known.
    Order {
        /// The fact.
        event: OrderEvent,
        /// The request's id.
        chain: Option<CorrelationId>,
    },
    /// Something that changes whether it is safe to trade.
    Safety(SafetyEvent),
    /// A config change request (passes the change gate).
    Config(ConfigRequest),
    /// Trading went idle (no order in flight): the change gate may release what it holds.
    TradingIdle,
    /// One of the UI's other requests (selection, acknowledgements, quit).
    Ui(UiCommand),
    /// A log record for the Log pane.
    Log(LogRecord),
    /// A handler gave up on a message after its retries.
    CriticalFailure(Box<CriticalFailure<AppEvent>>),
}

/// What the Safety lane carries. The trading state ([`TradingStateHandle`]) and the
/// screen's alarm follow these.
///
/// [`TradingStateHandle`]: crate::trading::monitor::TradingStateHandle
#[derive(Debug)]
pub enum SafetyEvent {
    /// Stop trading (kill switch, a halting exchange error, a REST ban, a key without a
    /// needed permission). Lifted only by [`SafetyEvent::Resume`].
    Halt {
        /// Why, for the status bar.
        why: String,
    },
    /// `:resume`: lift a halt (REDUCING causes stay until they clear).
    Resume {
        /// The request's id (the reply carries it).
        id: CorrelationId,
    },
    /// The feed's health changed level (degraded, critical, healthy again).
    FeedHealth {
        /// The level before.
        from: crate::feed::Health,
        /// The new level.
        health: crate::feed::Health,
        /// Why, one line per cause.
        reasons: Vec<String>,
    },
    /// The exchange banned our REST calls (418) for this long.
    RestBanned {
        /// Seconds left.
        secs: u64,
        /// The ban is the pocket's alone (a 418 answering an exchange call): its exchange
        /// calls are refused, quotation calls go on. Otherwise it bans the IP: every call.
        pocket_only: bool,
    },
    /// The TP/SL monitor task is down: positions are not protected (REDUCING).
    MonitorDown {
        /// What happened.
        why: String,
    },
    /// A kernel task failed, panicked or restarted.
    Task(TaskEvent),
}

impl BusMessage for AppEvent {
    fn lane(&self) -> Lane {
        match self {
            AppEvent::Trade(_) | AppEvent::Reply(_) | AppEvent::Order { .. } => Lane::Trading,
            AppEvent::Safety(_) | AppEvent::CriticalFailure(_) => Lane::Safety,
            AppEvent::Config(_) | AppEvent::TradingIdle => Lane::Config,
            AppEvent::Ui(_) => Lane::Command,
            AppEvent::Log(_) => Lane::Logging,
        }
    }

    fn correlation(&self) -> Option<CorrelationId> {
        match self {
            AppEvent::Trade(r) => Some(r.id),
            AppEvent::Reply(r) => Some(r.id),
            AppEvent::Order { chain, .. } => *chain,
            AppEvent::Config(r) => Some(r.id),
            AppEvent::Safety(SafetyEvent::Resume { id }) => Some(*id),
            _ => None,
        }
    }

    fn critical_failure(failure: CriticalFailure<Self>) -> Self {
        AppEvent::CriticalFailure(Box::new(failure))
    }
}

impl AppEvent {
    /// The UI's command as a bus message on its lane.
    pub(crate) fn from_ui(cmd: UiCommand) -> AppEvent {
        match cmd {
            UiCommand::Trade(r) => AppEvent::Trade(r),
            UiCommand::Resume(id) => AppEvent::Safety(SafetyEvent::Resume { id }),
            UiCommand::Config(r) => AppEvent::Config(r),
            other => AppEvent::Ui(other),
        }
    }

    /// One line for the System pane's envelope list: what it is, without the figures.
    pub(crate) fn describe(&self) -> String {
        match self {
            AppEvent::Trade(r) => format!("{} from {}", r.intent.summary(), r.from.label()),
            AppEvent::Reply(r) => format!("reply to {}: {} {}", r.to.label(), r.what, r.outcome.label()),
            AppEvent::Order { event, .. } => order_event_label(event),
            AppEvent::Safety(s) => match s {
                SafetyEvent::Halt { why } => format!("halt: {why}"),
                SafetyEvent::Resume { .. } => "resume".into(),
                SafetyEvent::FeedHealth { health, .. } => format!("feed {health:?}").to_lowercase(),
                SafetyEvent::RestBanned { secs, pocket_only: false } => format!("REST banned {secs}s"),
                SafetyEvent::RestBanned { secs, pocket_only: true } => format!("pocket banned {secs}s"),
                SafetyEvent::MonitorDown { .. } => "monitor down".into(),
                SafetyEvent::Task(ev) => task_label(ev),
            },
            AppEvent::Config(r) => format!("config {}", r.change.summary()),
            AppEvent::TradingIdle => "trading idle".into(),
            AppEvent::Ui(cmd) => format!("{cmd:?}").chars().take(40).collect(),
            AppEvent::Log(rec) => format!("log {}", rec.target),
            AppEvent::CriticalFailure(f) => format!("{} gave up", f.handler),
        }
    }
}

fn order_event_label(ev: &OrderEvent) -> String {
    match ev {
        OrderEvent::OrderUpdated(t) => format!("order {} {}", t.request.market, t.state.as_str()),
        OrderEvent::Filled { fill, .. } => format!("fill {}", fill.market),
        OrderEvent::Rejected { .. } => "order rejected".into(),
        OrderEvent::Reconciled { .. } => "reconciled".into(),
        OrderEvent::TradingState { state, .. } => format!("manager state {}", state.label()),
        OrderEvent::CancelsDone { .. } => "cancels done".into(),
        OrderEvent::Balances(_) => "balances".into(),
        OrderEvent::Position(p) => format!("position {}", p.market),
        OrderEvent::Restored(l) => format!("{} positions restored", l.positions.len()),
        OrderEvent::Info(_) => "info".into(),
    }
}

fn task_label(ev: &TaskEvent) -> String {
    match ev {
        TaskEvent::Panicked { component, name, .. } => format!("task {component}/{name} panicked"),
        TaskEvent::Failed { component, name, .. } => format!("task {component}/{name} failed"),
        TaskEvent::Restarted { component, name, .. } => format!("task {component}/{name} restarted"),
    }
}
