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
    /// The markets table's top-movers view (the tab's five biggest gainers and losers), or
    /// back to the whole tab.
    ToggleMovers,
    /// Tint the markets rows by their 24 h change, or not.
    ToggleHeatmap,
    /// Cycle the order book's levels per side: 5, 15, 30.
    ToggleDepth,
    /// Group the order book coarser (호가 모아보기: 1, 10, 100, 1000 ticks).
    GroupCoarser,
    /// Group the order book finer.
    GroupFiner,
    /// Switch the order book pane between the ladder and the depth chart.
    DepthChart,
    /// Buy at the book cursor's price with the preset size.
    LadderBuy,
    /// Sell at the book cursor's price with the preset size.
    LadderSell,
    /// Cancel our orders at the book cursor's price.
    LadderCancel,
    /// Open the command line on `ind add ` to add a study to the chart.
    AddStudy,
    /// Scroll the chart a page back in time (older candles load as it nears the oldest).
    ChartBack,
    /// Scroll the chart a page forward in time, to the newest at most.
    ChartForward,
    /// The chart's price scale: logarithmic or linear.
    ToggleLogScale,
    /// Move the chart's cursor one candle older (the first press puts it on the newest).
    CursorLeft,
    /// Move the chart's cursor one candle newer.
    CursorRight,
    /// Cycle the log pane's minimum level.
    LogLevelNext,
    /// Show the next venue's markets in the market panes (Upbit, Binance); read-only
    /// on a venue that does not trade.
    ToggleVenue,
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

    /// What it does, one line for help (the doc comments above, said to a trader).
    pub fn describe(self) -> &'static str {
        match self {
            Action::Quit => "quit (asks when orders or armed rules exist)",
            Action::ForceQuit => "quit, still asking when something is at stake",
            Action::Help => "this help",
            Action::OpenCommandLine => "command line (:help lists the commands)",
            Action::FocusNext => "focus the next pane",
            Action::FocusPrev => "focus the previous pane",
            Action::Maximize => "zoom the focused pane / restore",
            Action::HidePane => "hide the focused pane",
            Action::ShowAllPanes => "show every pane again",
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Top => "first row",
            Action::Bottom => "last row",
            Action::Select => "select the row",
            Action::Back => "close (overlay, search, command line)",
            Action::TimeframeNext => "longer chart timeframe",
            Action::TimeframePrev => "shorter chart timeframe",
            Action::AckAlerts => "mark alerts as seen",
            Action::CancelAll => "cancel every open order of the market",
            Action::KillSwitch => "kill switch: halt trading, cancel all (press twice)",
            Action::OrderForm => "order form for the market",
            Action::CancelOrder => "cancel the order under the cursor",
            Action::Protect => "protect the position: a stop to edit (:stop … -3%)",
            Action::TabNext => "next tab (KRW, BTC, USDT, favorites)",
            Action::TabPrev => "previous tab",
            Action::SortNext => "sort by the next column",
            Action::SortReverse => "reverse the sort",
            Action::Search => "search markets as you type",
            Action::ToggleFavorite => "add to / remove from favorites",
            Action::ToggleMovers => "top movers: the tab's 5 biggest rises and 5 biggest falls / all",
            Action::ToggleHeatmap => "heatmap: tint rows by 24h change / off",
            Action::ToggleDepth => "5, 15 or 30 levels",
            Action::GroupCoarser => "group the book coarser (10, 100, 1000 ticks)",
            Action::GroupFiner => "group the book finer",
            Action::DepthChart => "depth chart / ladder",
            Action::LadderBuy => "buy at the cursor's price, preset size (asks)",
            Action::LadderSell => "sell at the cursor's price, preset size (asks)",
            Action::LadderCancel => "cancel our orders at the cursor's price",
            Action::AddStudy => "add a study: :ind add sma 20, ema 50, bb 20 2, vwap, vol, rsi 14, macd",
            Action::ChartBack => "a page back in time (older candles load)",
            Action::ChartForward => "a page forward in time",
            Action::ToggleLogScale => "log / linear price scale",
            Action::CursorLeft => "cursor one candle older (OHLCV readout; esc: off)",
            Action::CursorRight => "cursor one candle newer",
            Action::LogLevelNext => "next minimum log level",
            Action::ToggleVenue => "show the other venue's markets (Binance: read-only) / back to Upbit",
            Action::Confirm => "yes",
            Action::Deny => "no",
            Action::Submit => "run / accept",
            Action::Complete => "complete the word; again: the next choice",
            Action::HistoryPrev => "older command",
            Action::HistoryNext => "newer command",
            Action::DeleteBack => "delete the character before the cursor",
            Action::InsertChar(_) => "type a character",
            Action::FocusPane(_) => "focus a pane (mouse)",
        }
    }

    /// Parses a keymap action name.
    pub(crate) fn from_name(name: &str) -> Option<Action> {
        serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
    }
}
