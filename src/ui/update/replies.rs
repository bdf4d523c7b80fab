//! The answers to what the UI sent, read from each new snapshot: each goes on the message
//! line under its request's id, and an accepted config change is applied then (held
//! changes wait for their accepted answer).

use rust_decimal::Decimal;

use crate::config::change::{ConfigChange, TradingKey};
use crate::store::Snapshot;
use crate::trading::intent::Outcome;
use crate::ui::state::UiState;

/// Reads the replies in `snap`: every answer that moved one of our requests forward is
/// shown (`#12 buy KRW-BTC: accepted (…)`, `…: denied: …` and `…: rejected by the
/// exchange: …` in the error style, `…: held: …`); an accepted layout is switched to here,
/// an accepted theme or keymap reload is left in [`UiState::accepted`] for the app.
/// Returns whether the UI state changed.
pub(crate) fn on_replies(ui: &mut UiState, snap: &Snapshot) -> bool {
    let answers = ui.requests.on_replies(&snap.account.replies, ui.wall);
    let changed = !answers.is_empty();
    for a in answers {
        if let Some(change) = a.apply.clone() {
            apply(ui, change);
        }
        // The message line tells the story of the newest request only: an older one's
        // answer would overwrite what the person just asked about. (The exchange's
        // refusal of an older order is an alert as well.)
        if ui.requests.newest() != Some(a.id) {
            continue;
        }
        let head = format!("{} {}", a.id, a.what);
        match &a.outcome {
            Outcome::Accepted(d) if d.is_empty() => ui.info(format!("{head}: accepted")),
            Outcome::Accepted(d) => ui.info(format!("{head}: accepted ({d})")),
            Outcome::Denied(why) => ui.error(format!("{head}: denied: {why}")),
            Outcome::Rejected(why) => ui.error(format!("{head}: rejected by the exchange: {why}")),
            Outcome::Held(why) => ui.info(format!("{head}: held: {why}")),
        }
    }
    changed
}

/// Applies an accepted config change that belongs to the screen.
fn apply(ui: &mut UiState, change: ConfigChange) {
    match change {
        ConfigChange::Layout(name) => {
            // A built-in layout, or a saved one as it was saved.
            if !crate::ui::layout::switch(ui, &name) {
                ui.error(format!("layout {name} was removed meanwhile"));
            }
        }
        // The app holds the theme and the keymap.
        ConfigChange::Theme(_) | ConfigChange::ReloadKeymap => ui.accepted.push(change),
        // The order form checks the price band before Enter: it must be the band the
        // risk gate applies now.
        ConfigChange::Trading { key: TradingKey::PriceBandPct, value } => {
            ui.config.price_band_pct = (value > Decimal::ZERO).then_some(value);
        }
        // A rule's preview says how its exit goes past the per-order cap: the cap now.
        ConfigChange::Trading { key: TradingKey::MaxNotionalPerOrder, value } => {
            ui.config.exits.cap = (value > Decimal::ZERO).then_some(value);
        }
        // Applied on the trading side; the reply said so.
        ConfigChange::Trading { .. } => {}
    }
}
