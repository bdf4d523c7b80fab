//! What travels on the bus: the [`BusMessage`] trait every payload type implements, the
//! [`Envelope`] the bus wraps around each message, and [`CriticalFailure`], the report a
//! handler's final failure turns into.
//!
//! The bus is generic over the payload so each layer can define its own event enum; the
//! kernel's first payload is [`SystemEvent`] (logs, task events, critical failures).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::lane::Lane;
use crate::kernel::TaskEvent;
use crate::logging::LogRecord;

/// A payload the bus can carry.
pub trait BusMessage: std::fmt::Debug + Send + Sync + Sized + 'static {
    /// The lane this message travels on.
    fn lane(&self) -> Lane;

    /// For market-lane messages: the key whose latest value wins (for example
    /// `"ticker/KRW-BTC"`). `None` queues the message without conflation. Ignored on
    /// other lanes.
    fn conflation_key(&self) -> Option<String> {
        None
    }

    /// Wraps a handler's final failure as a message of this type. The bus publishes it on
    /// the safety lane whatever [`BusMessage::lane`] says of it.
    fn critical_failure(failure: CriticalFailure<Self>) -> Self;
}

/// A message with its bookkeeping. Handlers receive `Arc<Envelope<M>>`.
#[derive(Debug)]
pub struct Envelope<M> {
    /// Bus-wide sequence number, increasing in acceptance order.
    pub seq: u64,
    /// Lane it travelled on.
    pub lane: Lane,
    /// Who published it (component name).
    pub source: &'static str,
    /// Wall-clock time of acceptance.
    pub published_at: DateTime<Utc>,
    /// Sequence number of the first envelope of its causal chain (its own `seq` for a
    /// root), so a chain of events can be followed through the trace ring.
    pub correlation: u64,
    /// Sequence number of the envelope that caused this one, if any.
    pub caused_by: Option<u64>,
    /// How many critical-failure reports deep this envelope is (0 for ordinary
    /// messages); the bus never reports the failure of a failure report, so a broken
    /// failure handler cannot loop.
    pub failure_depth: u8,
    /// The message.
    pub payload: M,
}

/// Anything that can be named as the cause of a new message.
pub trait Cause {
    /// Sequence number of the cause.
    fn cause_seq(&self) -> u64;
    /// Correlation id of the cause's chain.
    fn cause_correlation(&self) -> u64;
}

impl<M> Cause for Envelope<M> {
    fn cause_seq(&self) -> u64 {
        self.seq
    }
    fn cause_correlation(&self) -> u64 {
        self.correlation
    }
}

/// What `publish` returns: enough to name the message as a cause later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// Sequence number given to the message.
    pub seq: u64,
    /// Its correlation id.
    pub correlation: u64,
    /// The lane it went to.
    pub lane: Lane,
}

impl Cause for Receipt {
    fn cause_seq(&self) -> u64 {
        self.seq
    }
    fn cause_correlation(&self) -> u64 {
        self.correlation
    }
}

/// A handler failed on every attempt; published on the safety lane (seed 002:
/// retry, then `CriticalFailureEvent`).
#[derive(Debug, Clone)]
pub struct CriticalFailure<M> {
    /// The envelope the handler could not process.
    pub failed: Arc<Envelope<M>>,
    /// The handler's name.
    pub handler: String,
    /// The last error (or panic message).
    pub error: String,
    /// How many attempts were made.
    pub attempts: u32,
}

/// The kernel's own payload until the application defines a richer event enum.
#[derive(Debug)]
pub enum SystemEvent {
    /// A log record for the Log pane.
    Log(LogRecord),
    /// Something happened to a kernel task (failure, panic, restart).
    Task(TaskEvent),
    /// A handler gave up on a message.
    CriticalFailure(Box<CriticalFailure<SystemEvent>>),
}

impl BusMessage for SystemEvent {
    fn lane(&self) -> Lane {
        match self {
            SystemEvent::Log(_) => Lane::Logging,
            SystemEvent::Task(_) | SystemEvent::CriticalFailure(_) => Lane::Safety,
        }
    }

    fn critical_failure(failure: CriticalFailure<Self>) -> Self {
        SystemEvent::CriticalFailure(Box::new(failure))
    }
}
