//! The event bus (seed 002): priority lanes between the UI's commands, the feed, trading
//! and the store.
//!
//! Lanes, highest first: Trading > Safety > Config > Command > Market (conflating) >
//! Logging > Cleanup. Each lane is bounded with a declared overflow policy
//! ([`LaneSpec::default_for`] lists them and why): trading, safety and config never drop
//! (publishers wait), commands and cleanup are refused when full, logging drops the
//! oldest, market keeps the latest value per key. Every drop is counted in
//! [`BusMetrics`].
//!
//! Messages travel in [`Envelope`]s with a sequence number, time, source and correlation
//! id; the last N are kept for the System pane. A failing handler is retried with
//! backoff and then reported as a [`CriticalFailure`] on the safety lane. The
//! [`ChangeGate`] holds config changes while orders are in flight.

mod conflate;
pub mod dispatcher;
pub mod event;
pub mod gate;
pub mod lane;
mod trace;

pub use dispatcher::{Bus, BusConfig, PublishError};
pub use event::{BusMessage, Cause, CriticalFailure, Envelope, Receipt, SystemEvent};
pub use gate::{Admission, ChangeGate, ChangeRequest, TradingState};
pub use lane::{BusMetrics, Lane, LaneMetrics, LaneSpec, Overflow};
