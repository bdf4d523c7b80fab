//! UI intents. Keys resolve to an [`Action`] through the keymap (names are the serde
//! snake_case names in `config/keymap.toml`); the reducer turns actions into state
//! changes and [`crate::ui::UiCommand`]s.

use serde::{Deserialize, Serialize};

/// Something the user asked the UI to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Quit (asks first when orders or armed rules exist).
    Quit,
    /// Quit, still asking when there is something to lose (Ctrl-C).
    ForceQuit,
    /// Toggle the help overlay.
    Help,
    /// Open the `:` command line.
    OpenCommandLine,
    /// Focus the next visible pane.
    FocusNext,
    /// Focus the previous visible pane.
    FocusPrev,
    /// Maximise the focused pane, or restore the layout.
    Maximize,
    /// Hide the focused pane.
    HidePane,
    /// Show every pane of the layout again.
    ShowAllPanes,
    /// Move the cursor up.
    Up,
    /// Move the cursor down.
    Down,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Jump to the first row.
    Top,
    /// Jump to the last row.
    Bottom,
    /// Select the row under the cursor.
    Select,
    /// Close whatever is open (overlay, search, command line).
    Back,
    /// Longer chart timeframe.
    TimeframeNext,
    /// Shorter chart timeframe.
    TimeframePrev,
    /// Mark alerts as seen.
    AckAlerts,
    /// Cancel every open order of the selected market.
    CancelAll,
    /// Kill switch: halt trading and cancel every order.
    KillSwitch,
    /// Open the order entry form for the selected market.
    OrderForm,
    /// Cancel the open order under the orders pane's cursor.
    CancelOrder,
    /// Protect the selected market's position: opens the command line with a stop-loss
    /// to edit (`stop KRW-BTC -3%`); `tp` and `trail` are one word away.
    Protect,
    /// Next markets tab (KRW, BTC, USDT, Favorites).
    TabNext,
    /// Previous markets tab.
    TabPrev,
    /// Sort the markets by the next column.
    SortNext,
    /// Reverse the sort order.
    SortReverse,
    /// Start search-as-you-type in the markets list.
    Search,
    /// Add or remove the market under the cursor from favorites.
    ToggleFavorite,
    /// Switch the order book between 15 and 30 levels.
    ToggleDepth,
    /// Buy at the book cursor's price with the preset size.
    LadderBuy,
    /// Sell at the book cursor's price with the preset size.
    LadderSell,
    /// Cancel our orders at the book cursor's price.
    LadderCancel,
    /// Cycle the log pane's minimum level.
    LogLevelNext,
    /// Answer yes in a dialog.
    Confirm,
    /// Answer no in a dialog.
    Deny,
    /// Run the command line / accept the search.
    Submit,
    /// Complete the command-line word.
    Complete,
    /// Older command-line history entry.
    HistoryPrev,
    /// Newer command-line history entry.
    HistoryNext,
    /// Delete the character before the cursor.
    DeleteBack,
    /// Type a character into the active text input (not bound in the keymap).
    InsertChar(char),
    /// Focus a pane (mouse click; not bound in the keymap).
    FocusPane(crate::ui::layout::PaneId),
}

impl Action {
    /// The snake_case name used in the keymap file.
    pub fn name(self) -> String {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(s)) => s,
            _ => format!("{self:?}"),
        }
    }

    /// Parses a keymap action name.
    pub(crate) fn from_name(name: &str) -> Option<Action> {
        serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
    }
}
