//! The order entry form's keys: typing, moving between fields, cycling a field's choices,
//! and Enter, which sends the previewed order (or asks first in live mode).

use super::{UiCommand, send_or_confirm};
use crate::store::Snapshot;
use crate::trading::manager::Origin;
use crate::ui::action::Action;
use crate::ui::order_form::{FormStatus, Limits, status};
use crate::ui::state::UiState;

/// A key while the order form is open.
pub(super) fn key(ui: &mut UiState, action: Action, snap: &Snapshot) -> Vec<UiCommand> {
    let Some(form) = ui.form.as_mut() else { return Vec::new() };
    match action {
        Action::InsertChar(c) => form.insert(c),
        Action::DeleteBack => form.delete_back(),
        Action::Up | Action::FocusPrev => form.move_field(false),
        Action::Down | Action::FocusNext | Action::Complete => form.move_field(true),
        Action::TabNext => form.cycle(true),
        Action::TabPrev => form.cycle(false),
        Action::Back => ui.form = None,
        // What the form shows under its fields is what Enter does: a field still empty is
        // asked for, a bad value named; a price outside the band is sent all the same (the
        // form warned; so is one above the per-order cap; the risk gate decides and its
        // answer is shown).
        Action::Submit if !ui.venue.trades() => {
            ui.form = None;
            ui.error(crate::ui::venue::read_only(ui.venue));
        }
        Action::Submit => match status(form, snap, Limits::of(&ui.config)) {
            FormStatus::Ready { order, .. } => {
                ui.form = None;
                return send_or_confirm(ui, snap, order, Origin::Manual);
            }
            FormStatus::Incomplete(what) => ui.error(what),
            FormStatus::Invalid(why) => ui.error(why),
        },
        _ => {}
    }
    Vec::new()
}
