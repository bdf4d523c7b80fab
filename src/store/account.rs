//! Account section of the snapshot: mode, balances, open orders, fills, trading state and
//! armed monitor rules.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::exchange::types::{Balance, Fill, Order};

/// How many recent fills the Orders pane keeps.
pub(crate) const FILLS_KEPT: usize = 200;

/// Which world orders go to (demo, paper, live): the config's mode, carried as is.
pub use crate::config::Mode;

/// The risk gate's trading state (owned by `trading::risk`, shown by the status bar).
pub use crate::trading::risk::TradingState;

/// One client-side monitor rule as the Monitor pane shows it: the monitor's own typed row
/// (state, trigger, distance and age computed there), carried as is.
pub use crate::trading::monitor::RuleRow;

/// Account state as the exchange (or the paper engine) reports it.
#[derive(Debug, Clone, Default)]
pub struct AccountSection {
    /// Bumped whenever anything in this section changes.
    pub version: u64,
    /// Demo, paper or live.
    pub mode: Mode,
    /// Exchange name for the status bar.
    pub exchange: String,
    /// Balances per currency.
    pub balances: Arc<Vec<Balance>>,
    /// Open (non-terminal) orders.
    pub open_orders: Arc<Vec<Order>>,
    /// Recent fills, newest first, deduplicated by trade id.
    pub fills: Arc<VecDeque<Fill>>,
    /// Risk gate state.
    pub trading_state: TradingState,
    /// Monitor rules.
    pub rules: Arc<Vec<RuleRow>>,
    /// The last replies to trading and config requests, oldest first (at most
    /// [`REPLIES_KEPT`]): the UI finds the answer to what it sent here by its id.
    pub replies: Arc<VecDeque<crate::trading::intent::TradeReply>>,
    /// Config changes held by the change gate, and why ("theme dark waits: 1 order in
    /// flight"); `None` when nothing waits. The status line shows it.
    pub config_waiting: Option<String>,
}

/// Replies the account section keeps.
pub(crate) const REPLIES_KEPT: usize = 64;

impl AccountSection {
    /// Rules that can still fire.
    pub(crate) fn armed_rules(&self) -> usize {
        self.rules.iter().filter(|r| r.is_armed()).count()
    }

    /// True when quitting would leave something behind (open orders or armed rules).
    pub(crate) fn something_to_lose(&self) -> bool {
        !self.open_orders.is_empty() || self.armed_rules() > 0
    }

    pub(crate) fn apply_fill(&mut self, fill: Fill) -> bool {
        if self.fills.iter().any(|f| f.trade_uuid == fill.trade_uuid) {
            return false;
        }
        let fills = Arc::make_mut(&mut self.fills);
        fills.push_front(fill);
        fills.truncate(FILLS_KEPT);
        true
    }
}
