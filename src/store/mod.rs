//! The state store: the single writer of domain state.
//!
//! Producers (feed, trading, kernel, logging) send [`StoreEvent`]s, facts in past tense, to
//! the store task. It applies them in batches and publishes an immutable
//! [`Snapshot`] on a `watch` channel; the UI (and anyone else) reads the latest version
//! without a lock. Each section of the snapshot sits behind its own `Arc` with its own
//! version, so a batch that only touches market data shares the account and system
//! sections with the previous snapshot.

pub mod account;
pub mod grouping;
pub mod market;
pub mod premium;
pub mod snapshot;
#[allow(clippy::module_inception)]
pub mod store;
pub mod system;
pub mod tape;

pub use account::{AccountSection, Mode, RuleRow, TradingState};
pub use market::{MarketSection, MarketsFailed, Stamped};
pub use snapshot::Snapshot;
pub(crate) use snapshot::Versions;
pub use store::{Store, StoreClosed, StoreConfig, StoreEvent, StoreHandle};
pub use system::{AlertRecord, LogLevel, LogRecord, StreamState, StreamStatus, SystemSection};
