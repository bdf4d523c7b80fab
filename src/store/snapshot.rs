//! The immutable snapshot the store publishes: three sections, each behind its own `Arc`
//! with its own version, so unchanged sections are shared between versions and readers can
//! tell cheaply what changed.

use std::sync::Arc;

use super::account::AccountSection;
use super::market::MarketSection;
use super::system::SystemSection;

/// One published version of the domain state.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Bumped on every publish.
    pub version: u64,
    /// Market data.
    pub market: Arc<MarketSection>,
    /// Account, orders, rules, trading state.
    pub account: Arc<AccountSection>,
    /// Streams, feed counters, tasks, logs, alerts.
    pub system: Arc<SystemSection>,
}
