//! Pane geometry: named layouts, hidden and maximised panes, and the rectangles for a
//! given terminal size. Pure: the rects are returned as a value (also usable for mouse
//! hit-testing), nothing is stored.

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use serde::{Deserialize, Serialize};

use super::state::UiState;

/// Smallest usable terminal.
pub(crate) const MIN_WIDTH: u16 = 80;
/// Smallest usable terminal.
pub(crate) const MIN_HEIGHT: u16 = 24;

/// A pane of the main screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaneId {
    /// Watchlist.
    Markets,
    /// Order book.
    Orderbook,
    /// Candle chart.
    Chart,
    /// Trades tape.
    Trades,
    /// Balances.
    Portfolio,
    /// Open orders and fills.
    Orders,
    /// Application log.
    Log,
    /// Kernel, bus and feed health.
    System,
    /// Client-side stop / take-profit / trailing rules.
    Monitor,
}

impl PaneId {
    /// Every pane, in focus order.
    pub const ALL: [PaneId; 9] = [
        PaneId::Markets,
        PaneId::Orderbook,
        PaneId::Chart,
        PaneId::Trades,
        PaneId::Portfolio,
        PaneId::Orders,
        PaneId::Log,
        PaneId::System,
        PaneId::Monitor,
    ];

    /// Title shown on the border.
    pub fn title(self) -> &'static str {
        match self {
            PaneId::Markets => "Markets",
            PaneId::Orderbook => "Order book",
            PaneId::Chart => "Chart",
            PaneId::Trades => "Trades",
            PaneId::Portfolio => "Portfolio",
            PaneId::Orders => "Orders",
            PaneId::Log => "Log",
            PaneId::System => "System",
            PaneId::Monitor => "Monitor",
        }
    }
}

/// Names of the built-in layouts.
pub const LAYOUTS: [&str; 5] = ["default", "trade", "account", "system", "all"];

/// Panes a named layout shows at a given size (None for an unknown name).
pub fn preset(name: &str, area: Rect) -> Option<Vec<PaneId>> {
    use PaneId::*;
    let compact = area.width < 120 || area.height < 34;
    Some(match name {
        "default" if compact => vec![Markets, Orderbook, Chart, Trades],
        "default" if area.height < 50 => {
            vec![Markets, Orderbook, Chart, Trades, Portfolio, Orders, Monitor, Log]
        }
        "default" | "all" => PaneId::ALL.to_vec(),
        "trade" => vec![Markets, Orderbook, Chart, Trades, Orders, Monitor],
        "account" => vec![Portfolio, Orders, Monitor, Markets],
        "system" => vec![System, Log],
        _ => return None,
    })
}

/// Where everything goes on one frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScreenLayout {
    /// Status bar (top line).
    pub status: Rect,
    /// Visible panes and their rects, in focus order.
    pub panes: Vec<(PaneId, Rect)>,
    /// Bottom line: command line, messages, key hints.
    pub bottom: Rect,
}

impl ScreenLayout {
    /// The rect of a pane if it is visible.
    pub fn rect(&self, pane: PaneId) -> Option<Rect> {
        self.panes.iter().find(|(p, _)| *p == pane).map(|(_, r)| *r)
    }
}

/// Panes visible under the current layout, hidden set and maximised pane.
pub(crate) fn visible_panes(ui: &UiState, area: Rect) -> Vec<PaneId> {
    if let Some(p) = ui.maximized {
        return vec![p];
    }
    let mut panes = preset(&ui.layout, area).unwrap_or_else(|| PaneId::ALL.to_vec());
    panes.retain(|p| !ui.hidden.contains(p));
    panes
}

/// One column of the layout plan: fixed width (None = flexible) and its panes with weights.
type Column = (Option<u16>, Vec<(PaneId, u16)>);

/// Computes the screen layout, or None when the terminal is below 80x24.
pub(crate) fn compute(ui: &UiState, area: Rect) -> Option<ScreenLayout> {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return None;
    }
    let [status, body, bottom] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1), Constraint::Length(1)]).areas(area);
    let visible = visible_panes(ui, area);
    let mut panes = Vec::new();
    if visible.len() == 1 {
        panes.push((visible[0], body));
    } else if !visible.is_empty() {
        use PaneId::*;
        // Column plan: (fixed width or None for the flexible column, [(pane, weight)]).
        let wide = area.width >= 120;
        let plan: Vec<Column> = if wide {
            vec![
                (Some(38), vec![(Markets, 3), (Portfolio, 1), (Orders, 1), (Monitor, 1)]),
                (None, vec![(Chart, 4), (Log, 1), (System, 2)]),
                (Some(36), vec![(Orderbook, 3), (Trades, 2)]),
            ]
        } else {
            vec![
                (Some(38), vec![(Markets, 3), (Trades, 2), (Portfolio, 1), (Monitor, 1)]),
                (None, vec![(Orderbook, 3), (Chart, 3), (Orders, 1), (Log, 1), (System, 2)]),
            ]
        };
        let cols: Vec<Column> = plan
            .into_iter()
            .map(|(w, ps)| (w, ps.into_iter().filter(|(p, _)| visible.contains(p)).collect::<Vec<_>>()))
            .filter(|(_, ps)| !ps.is_empty())
            .collect();
        let has_flex = cols.iter().any(|(w, _)| w.is_none());
        let constraints: Vec<Constraint> = cols
            .iter()
            .map(|(w, _)| match w {
                // Without a flexible column the fixed ones share the width.
                Some(w) if has_flex => Constraint::Length(*w),
                _ => Constraint::Fill(1),
            })
            .collect();
        let col_rects =
            Layout::default().direction(Direction::Horizontal).constraints(constraints).split(body);
        for ((_, ps), col) in cols.iter().zip(col_rects.iter()) {
            let rows = Layout::vertical(ps.iter().map(|(_, w)| Constraint::Fill(*w))).split(*col);
            for ((p, _), r) in ps.iter().zip(rows.iter()) {
                panes.push((*p, *r));
            }
        }
        panes.sort_by_key(|(p, _)| *p);
    }
    Some(ScreenLayout { status, panes, bottom })
}
