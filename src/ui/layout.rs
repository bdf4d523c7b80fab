//! Pane geometry: named layouts, hidden and maximised panes, and the rectangles for a
//! given terminal size. Pure: the rects are returned as a value (also usable for mouse
//! hit-testing), nothing is stored.

use std::collections::BTreeSet;

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

/// Most layouts a person may save (a file edited by hand past this keeps its first ones).
pub const MAX_SAVED: usize = 64;

/// Longest name of a saved layout.
pub const MAX_NAME_LEN: usize = 32;

/// A layout as the layout model holds it: the built-in arrangement it starts from, the
/// panes hidden from it, the pane maximised and the focused pane. Pane sizes follow the
/// terminal (see [`compute`]), so they are not part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrangement {
    /// The built-in layout it starts from (one of [`LAYOUTS`]).
    pub base: String,
    /// Panes hidden from it.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub hidden: BTreeSet<PaneId>,
    /// The maximised pane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximized: Option<PaneId>,
    /// The focused pane.
    pub focus: PaneId,
    /// The chart's studies, as labels (`SMA 20`); none in a layout saved before studies
    /// could be chosen (switching to it keeps the studies shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub studies: Option<Vec<String>>,
}

impl Arrangement {
    /// The arrangement on screen now.
    pub fn of(ui: &UiState) -> Arrangement {
        Arrangement {
            base: ui.layout.clone(),
            hidden: ui.hidden.clone(),
            maximized: ui.maximized,
            focus: ui.focus,
            studies: Some(crate::indicators::series::labels(&ui.chart.studies)),
        }
    }

    /// Puts it on screen (the focus moves to a visible pane if it is not one).
    pub fn apply(&self, ui: &mut UiState) {
        ui.layout = self.base.clone();
        ui.hidden = self.hidden.clone();
        ui.maximized = self.maximized;
        ui.focus = self.focus;
        // Labels that do not read are skipped here; `persist::restore` names them.
        if let Some(labels) = &self.studies {
            ui.chart.studies = crate::indicators::series::read_saved(labels).0;
        }
        let visible = visible_panes(ui, ui.area);
        if !visible.contains(&ui.focus)
            && let Some(p) = visible.first()
        {
            ui.focus = *p;
        }
    }

    /// Why it cannot be used (a file edited by hand): its base is not a built-in layout.
    pub fn check(&self) -> Result<(), String> {
        if LAYOUTS.contains(&self.base.as_str()) {
            Ok(())
        } else {
            Err(format!("base {:?} is not a built-in layout ({})", self.base, LAYOUTS.join(", ")))
        }
    }

    /// `trade, hiding trades, chart maximised, focus order book`.
    pub fn describe(&self) -> String {
        let mut s = self.base.clone();
        if !self.hidden.is_empty() {
            let hidden: Vec<String> = self.hidden.iter().map(|p| p.title().to_lowercase()).collect();
            s.push_str(&format!(", hiding {}", hidden.join(" and ")));
        }
        if let Some(p) = self.maximized {
            s.push_str(&format!(", {} maximised", p.title().to_lowercase()));
        }
        s.push_str(&format!(", focus {}", self.focus.title().to_lowercase()));
        if let Some(studies) = &self.studies {
            let shown = if studies.is_empty() { "none".to_string() } else { studies.join(", ") };
            s.push_str(&format!(", studies {shown}"));
        }
        s
    }
}

/// The layouts a person saved, by name.
pub type SavedLayouts = std::collections::BTreeMap<String, Arrangement>;

/// Why `name` cannot name a saved layout: 1 to 32 letters, digits, `-` or `_`, not starting
/// with `-`, and not a built-in layout or a word of the `:layout` command.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a layout needs a name".into());
    }
    if LAYOUTS.contains(&name) {
        return Err(format!("{name:?} is a built-in layout and cannot be changed; pick another name"));
    }
    if matches!(name, "save" | "rm") {
        return Err(format!("{name:?} is a word of the :layout command; pick another name"));
    }
    let ok_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok_chars || name.starts_with('-') || name.len() > MAX_NAME_LEN {
        return Err(format!(
            "bad layout name {name:?}: use 1 to {MAX_NAME_LEN} letters, digits, - or _ (not starting with -)"
        ));
    }
    Ok(())
}

/// Saves the arrangement on screen as `name` (replacing a saved one of that name); the
/// message says what was saved. The app writes the layouts file when they change.
pub fn save(ui: &mut UiState, name: &str) -> Result<String, String> {
    check_name(name)?;
    if !ui.saved_layouts.contains_key(name) && ui.saved_layouts.len() >= MAX_SAVED {
        return Err(format!("{MAX_SAVED} layouts are saved already; remove one with :layout rm NAME"));
    }
    let arrangement = Arrangement::of(ui);
    let what = arrangement.describe();
    let replaced = ui.saved_layouts.insert(name.to_string(), arrangement).is_some();
    Ok(format!("layout {name} {} ({what})", if replaced { "replaced" } else { "saved" }))
}

/// Removes a saved layout.
pub fn remove(ui: &mut UiState, name: &str) -> Result<String, String> {
    if LAYOUTS.contains(&name) {
        return Err(format!("{name:?} is a built-in layout and cannot be removed"));
    }
    match ui.saved_layouts.remove(name) {
        Some(_) => Ok(format!("layout {name} removed")),
        None => Err(unknown(ui, name)),
    }
}

/// Whether `name` is a built-in or a saved layout.
pub fn exists(ui: &UiState, name: &str) -> bool {
    LAYOUTS.contains(&name) || ui.saved_layouts.contains_key(name)
}

/// `unknown layout "x" (built-in: …; saved: …)`.
pub fn unknown(ui: &UiState, name: &str) -> String {
    format!("unknown layout {name:?} ({})", list(ui))
}

/// `built-in: default, trade, …; saved: mine` (`saved: none` when there are none).
pub fn list(ui: &UiState) -> String {
    let saved: Vec<&str> = ui.saved_layouts.keys().map(String::as_str).collect();
    let saved = if saved.is_empty() { "none (:layout save NAME)".to_string() } else { saved.join(", ") };
    format!("built-in: {}; saved: {saved}", LAYOUTS.join(", "))
}

/// Switches to a built-in layout (every pane of it shown, none maximised) or a saved one
/// (as it was saved). False when there is no such layout (removed meanwhile).
pub fn switch(ui: &mut UiState, name: &str) -> bool {
    if let Some(saved) = ui.saved_layouts.get(name).cloned() {
        saved.apply(ui);
        true
    } else if LAYOUTS.contains(&name) {
        ui.layout = name.to_string();
        ui.maximized = None;
        ui.hidden.clear();
        let visible = visible_panes(ui, ui.area);
        if !visible.contains(&ui.focus)
            && let Some(p) = visible.first()
        {
            ui.focus = *p;
        }
        true
    } else {
        false
    }
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
                // At 40 lines: the Portfolio 8 (its P&L line, column titles and four
                // rows), the markets list 17, Orders 7, Monitor 6.
                (Some(38), vec![(Markets, 17), (Portfolio, 8), (Orders, 7), (Monitor, 6)]),
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
