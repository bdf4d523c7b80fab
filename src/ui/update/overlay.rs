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
        // A rule's preview: `y` arms it, and so does Enter unless arming would sell at
        // once or remove every rule (then Enter is the default No).
        Overlay::ConfirmRule => {
            let default_no = ui.pending_rule.as_ref().is_none_or(|p| p.default_no);
            // An ordinary preview is read in the line context (see `UiState::context`):
            // Enter or a typed `y` arms, Esc or a typed `n` cancels.
            let action = match action {
                Action::InsertChar('y' | 'Y') => Action::Confirm,
                Action::InsertChar('n' | 'N') => Action::Deny,
                a => a,
            };
            match action {
                Action::Confirm | Action::Submit if action == Action::Confirm || !default_no => {
                    ui.overlay = Overlay::None;
                    if let Some(p) = ui.pending_rule.take() {
                        return super::trade(ui, p.intent, &p.text);
                    }
                }
                Action::Deny | Action::Back | Action::Submit => {
                    ui.overlay = Overlay::None;
                    if let Some(p) = ui.pending_rule.take() {
                        let what = if matches!(p.intent, crate::trading::intent::TradeIntent::Unarm(_)) {
                            "nothing removed"
                        } else if matches!(p.intent, crate::trading::intent::TradeIntent::Transfer(_)) {
                            "not sent"
                        } else if matches!(p.intent, crate::trading::intent::TradeIntent::Cancel(_)) {
                            "nothing cancelled"
                        } else {
                            "not armed"
                        };
                        ui.info(format!(":{}: {what}", p.text));
                    }
                }
                _ => {}
            }
        }
        Overlay::Help { scroll } => {
            let max = crate::ui::panes::help::max_scroll(ui);
            let page = crate::ui::panes::help::page(ui);
            ui.overlay = match action {
                Action::Help | Action::Back | Action::Quit => Overlay::None,
                Action::Up => Overlay::Help { scroll: scroll.saturating_sub(1) },
                Action::Down => Overlay::Help { scroll: (scroll + 1).min(max) },
                Action::PageUp => Overlay::Help { scroll: scroll.saturating_sub(page) },
                Action::PageDown => Overlay::Help { scroll: (scroll + page).min(max) },
                Action::Top => Overlay::Help { scroll: 0 },
                Action::Bottom => Overlay::Help { scroll: max },
                _ => ui.overlay,
            };
        }
        // Its keys need the snapshot (how many alerts there are): see `alerts_key`.
        Overlay::Alerts { .. } | Overlay::None => {}
    }
    Vec::new()
}

/// A key while the alert history is open: the cursor keys scroll it (one alert per
/// line, never past the last), Esc, `q` or `:` close it.
pub(super) fn alerts_key(ui: &mut UiState, action: Action, alerts: usize) {
    let Overlay::Alerts { scroll, new } = ui.overlay else { return };
    let last = alerts.saturating_sub(1);
    let scroll = match action {
        Action::Back | Action::Quit | Action::Help | Action::OpenCommandLine => {
            ui.overlay = Overlay::None;
            return;
        }
        Action::Up => scroll.saturating_sub(1),
        Action::Down => scroll + 1,
        Action::PageUp => scroll.saturating_sub(10),
        Action::PageDown => scroll + 10,
        Action::Top => 0,
        Action::Bottom => last,
        _ => scroll,
    };
    ui.overlay = Overlay::Alerts { scroll: scroll.min(last), new };
}
