//! The markets search: typed text filters the list; Enter selects the row under the
//! cursor and keeps the text as a filter, Esc clears it.

use super::{UiCommand, move_cursor, select_market};
use crate::store::Snapshot;
use crate::ui::action::Action;
use crate::ui::state::{UiState, visible_markets};

/// A key while the search input is active.
pub(super) fn key(ui: &mut UiState, action: Action, snap: &Snapshot) -> Vec<UiCommand> {
    match action {
        Action::InsertChar(c) => {
            ui.markets.query.push(c);
            ui.markets.cursor = 0;
        }
        Action::DeleteBack => {
            ui.markets.query.pop();
            ui.markets.cursor = 0;
        }
        Action::Back => {
            ui.markets.searching = false;
            ui.markets.query.clear();
        }
        Action::Submit => {
            ui.markets.searching = false;
            let rows = visible_markets(ui, snap);
            if let Some(m) = rows.get(ui.markets.cursor).map(|m| m.market.clone()) {
                return select_market(ui, m);
            }
        }
        Action::Up | Action::Down => {
            let len = visible_markets(ui, snap).len();
            ui.markets.cursor = move_cursor(ui.markets.cursor, len, action, 10);
        }
        _ => {}
    }
    Vec::new()
}
