//! The modal overlays: the quit, live-order and suspend confirmations (default No) and
//! the help screen. While one is open it takes every key.

use super::{UiCommand, place};
use crate::ui::action::Action;
use crate::ui::state::{Overlay, UiState};

/// A key while an overlay is open.
pub(super) fn key(ui: &mut UiState, action: Action) -> Vec<UiCommand> {
    match ui.overlay {
        Overlay::ConfirmSuspend => match action {
            Action::Confirm => {
                ui.overlay = Overlay::None;
                ui.suspend = true;
            }
            Action::Deny | Action::Back => ui.overlay = Overlay::None,
            _ => {}
        },
        Overlay::ConfirmQuit => match action {
            Action::Confirm => {
                ui.overlay = Overlay::None;
                ui.quit = true;
                return vec![UiCommand::Quit];
            }
            Action::Deny | Action::Back => ui.overlay = Overlay::None,
            _ => {}
        },
        Overlay::ConfirmOrder => match action {
            Action::Confirm => {
                ui.overlay = Overlay::None;
                if let Some(p) = ui.pending_order.take() {
                    return place(ui, p.order.request, p.origin);
                }
            }
            Action::Deny | Action::Back | Action::Submit => {
                ui.overlay = Overlay::None;
                ui.pending_order = None;
                ui.info("order not sent");
            }
            _ => {}
        },
        Overlay::ConfirmRule => match action {
            Action::Confirm => {
                ui.overlay = Overlay::None;
                if let Some(p) = ui.pending_rule.take() {
                    return super::trade(ui, p.intent, &p.text);
                }
            }
            Action::Deny | Action::Back | Action::Submit => {
                ui.overlay = Overlay::None;
                if let Some(p) = ui.pending_rule.take() {
                    ui.info(format!(":{}: not armed", p.text));
                }
            }
            _ => {}
        },
        Overlay::Help { scroll } => {
            let max = ui.help.len().saturating_sub(1);
            ui.overlay = match action {
                Action::Help | Action::Back | Action::Quit => Overlay::None,
                Action::Up => Overlay::Help { scroll: scroll.saturating_sub(1) },
                Action::Down => Overlay::Help { scroll: (scroll + 1).min(max) },
                Action::PageUp => Overlay::Help { scroll: scroll.saturating_sub(10) },
                Action::PageDown => Overlay::Help { scroll: (scroll + 10).min(max) },
                _ => ui.overlay,
            };
        }
        Overlay::None => {}
    }
    Vec::new()
}
