//! The immutable snapshot the store publishes: three sections, each behind its own `Arc`,
//! so unchanged sections are shared between versions, and a version per finer section so
//! readers can tell cheaply what changed (the UI skips work for panes whose data did not
//! move).

use std::sync::Arc;

use super::account::AccountSection;
use super::market::MarketSection;
use super::system::SystemSection;

/// Version counters per section; each bumps when a batch changed that part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Versions {
    /// Market list and tickers.
    pub markets: u64,
    /// Order books.
    pub books: u64,
    /// Trade tapes.
    pub trades: u64,
    /// Candle series.
    pub candles: u64,
    /// Balances, mode, trading state, rules.
    pub account: u64,
    /// Open orders and fills.
    pub orders: u64,
    /// Streams, feed health and alerts (what the status bar shows).
    pub system: u64,
    /// Log records.
    pub log: u64,
    /// The System pane's samples: kernel tasks, bus lanes, named tables. Sampled every
    /// second or so; nothing else shows them, so a hidden System pane ignores them.
    pub(crate) tables: u64,
}

impl Versions {
    /// True when nothing but the System pane's samples changed from `before`.
    pub(crate) fn only_tables_changed_since(&self, before: &Versions) -> bool {
        *self != *before && Versions { tables: before.tables, ..*self } == *before
    }
}

/// One published version of the domain state.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Bumped on every publish.
    pub version: u64,
    /// Per-section versions.
    pub(crate) versions: Versions,
    /// Market data.
    pub market: Arc<MarketSection>,
    /// Account, orders, rules, trading state.
    pub account: Arc<AccountSection>,
    /// Streams, feed counters, tasks, logs, alerts.
    pub system: Arc<SystemSection>,
}
