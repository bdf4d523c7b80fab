//! What travels on the bus: the [`BusMessage`] trait every payload type implements, the
//! [`Envelope`] the bus wraps around each message, and [`CriticalFailure`], the report a
//! handler's final failure turns into.
//!
//! The bus is generic over the payload; the console's is `console::event::AppEvent`.
//!
//! Every envelope carries a [`CorrelationId`]: the id of the chain it belongs to. Whoever
//! starts a chain mints one (the UI, for each command it sends); replies and the facts a
//! command causes join its chain, so one `:buy` can be followed from the key to the fill.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::lane::Lane;
use std::sync::atomic::{AtomicU64, Ordering};

/// A payload the bus can carry.
pub trait BusMessage: std::fmt::Debug + Send + Sync + Sized + 'static {
    /// The lane this message travels on.
    fn lane(&self) -> Lane;

    /// The chain this message belongs to when it names one itself (a command carrying
    /// the id its sender minted, a reply carrying its command's). `None`: the bus mints a
    /// new id, or uses the parent's when published with a cause.
    fn correlation(&self) -> Option<CorrelationId> {
        None
    }

    /// Wraps a handler's final failure as a message of this type. The bus publishes it on
    /// the safety lane whatever [`BusMessage::lane`] says of it.
    fn critical_failure(failure: CriticalFailure<Self>) -> Self;
}

/// The id of a causal chain: minted once by whoever starts the chain, carried by every
/// message of it. One process-wide counter, so ids from the UI, the monitor and the bus
/// never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CorrelationId(pub u64);

static NEXT_CORRELATION: AtomicU64 = AtomicU64::new(1);

impl CorrelationId {
    /// A fresh id, never handed out before in this process.
    pub(crate) fn mint() -> Self {
        CorrelationId(NEXT_CORRELATION.fetch_add(1, Ordering::Relaxed))
    }
}

impl std::fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
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
    pub(crate) published_at: DateTime<Utc>,
    /// The causal chain it belongs to, so a chain of events can be followed through the
    /// trace ring.
    pub correlation: CorrelationId,
    /// Sequence number of the envelope that caused this one, if any.
    pub caused_by: Option<u64>,
    /// How many critical-failure reports deep this envelope is (0 for ordinary
    /// messages); the bus never reports the failure of a failure report, so a broken
    /// failure handler cannot loop.
    pub(crate) failure_depth: u8,
    /// The message.
    pub payload: M,
}

/// Anything that can be named as the cause of a new message.
pub(crate) trait Cause {
    /// Sequence number of the cause.
    fn cause_seq(&self) -> u64;
    /// Correlation id of the cause's chain.
    fn cause_correlation(&self) -> CorrelationId;
}

impl<M> Cause for Envelope<M> {
    fn cause_seq(&self) -> u64 {
        self.seq
    }
    fn cause_correlation(&self) -> CorrelationId {
        self.correlation
    }
}

/// What `publish` returns: enough to name the message as a cause later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// Sequence number given to the message.
    pub seq: u64,
    /// Its correlation id.
    pub correlation: CorrelationId,
    /// The lane it went to.
    pub lane: Lane,
}

impl Cause for Receipt {
    fn cause_seq(&self) -> u64 {
        self.seq
    }
    fn cause_correlation(&self) -> CorrelationId {
        self.correlation
    }
}

/// A handler failed on every attempt (after its retries); published on the safety lane.
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
