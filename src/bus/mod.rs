//! The event bus: priority lanes between the UI, trading, safety, config and the log.
//!
//! Lanes, highest first: Trading > Safety > Config > Command > Logging. Each lane is
//! bounded with a declared overflow policy ([`LaneSpec::default_for`] lists them and why):
//! trading, safety and config never drop (publishers wait), commands are refused when
//! full, logging drops the oldest. Every drop is counted in [`BusMetrics`]. Each lane has
//! its own worker, so a slow handler holds up only its own lane.
//!
//! Messages travel in [`Envelope`]s with a sequence number, time, source and a
//! [`CorrelationId`]; the last N are kept for the System pane. A failing handler is
//! retried with backoff and then reported as a [`CriticalFailure`] on the safety lane.
//! The [`ChangeGate`] holds config changes while orders are in flight.
//!
//! What the console puts on each lane is `console::event::AppEvent`; see
//! `docs/ARCHITECTURE.md` for the whole path of a command.

pub mod dispatcher;
pub mod event;
pub mod gate;
pub mod lane;
mod trace;

pub use dispatcher::{Bus, BusConfig, PublishError};
pub use event::{BusMessage, CorrelationId, CriticalFailure, Envelope, Receipt};
pub(crate) use gate::{Admission, ChangeRequest};
pub use gate::{ChangeGate, InFlight};
pub use lane::{BusMetrics, Lane, LaneMetrics, LaneSpec, Overflow};
