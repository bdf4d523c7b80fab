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
pub fn on_replies(ui: &mut UiState, snap: &Snapshot) -> bool {
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
        let head = format!("{} {}", a.id, middle_ellipsis(&a.what, ECHO_MAX));
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

/// The longest piece of what the person typed that a message repeats: longer (a paste)
/// is shortened in its middle, so the reason after it still fits the message line.
const ECHO_MAX: usize = 40;

/// `text` if at most `max` characters, otherwise its start and end around a `…` (at most
/// `max` characters in all): the start names what it was, the end where it stopped. Text
/// of words is cut between words (`transfer 100,000 KRW from … to savings`, never `…in
/// to savings`); one long word (a paste) in its middle.
pub(crate) fn middle_ellipsis(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    if let Some(cut) = between_words(text, max) {
        return cut;
    }
    let tail = max.saturating_sub(1) / 3;
    let head = max.saturating_sub(1 + tail);
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

/// `text` shortened to whole words around ` … `, the start taking about two thirds; `None`
/// when that keeps no word at either end (a word longer than the room).
fn between_words(text: &str, max: usize) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let len = |ws: &[&str]| ws.iter().map(|w| w.chars().count()).sum::<usize>() + ws.len().saturating_sub(1);
    let mut head = 0;
    while head < words.len() && len(&words[..=head]) <= max * 2 / 3 {
        head += 1;
    }
    let mut tail = words.len();
    while tail > head + 1 && len(&words[..head]) + 3 + len(&words[tail - 1..]) <= max {
        tail -= 1;
    }
    (head > 0 && tail < words.len())
        .then(|| format!("{} … {}", words[..head].join(" "), words[tail..].join(" ")))
}

/// After a command line ran: where the message (a refusal, a parse error) repeats a long
/// piece of the line (the whole of a paste, or one long word of it, as typed or upper-cased
/// as a market code is), that piece is shortened in its middle. The reason is what the
/// person must read; a 5,000-character echo would push it off the message line.
pub(super) fn shorten_echo(ui: &mut UiState, line: &str) {
    let Some(m) = ui.message.as_mut() else { return };
    let mut pieces: Vec<String> = vec![line.to_string(), line.trim().to_string()];
    for word in line.split_whitespace() {
        pieces.extend([word.to_string(), word.to_uppercase(), word.to_lowercase()]);
    }
    for piece in pieces {
        if piece.chars().count() > ECHO_MAX && m.text.contains(&piece) {
            m.text = m.text.replace(&piece, &middle_ellipsis(&piece, ECHO_MAX));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_echo_is_shortened_between_words() {
        let t = "transfer 100,000 KRW from main to savings";
        assert_eq!(middle_ellipsis(t, 40), "transfer 100,000 KRW from … to savings");
        assert_eq!(middle_ellipsis(t, 41), t);
        let long = "buy 0.001 KRW-BTC @ 95,000,000 with a very long note at the end";
        let cut = middle_ellipsis(long, ECHO_MAX);
        assert!(cut.chars().count() <= ECHO_MAX, "{cut}");
        let words: Vec<&str> = long.split_whitespace().collect();
        assert!(cut.split_whitespace().all(|w| w == "…" || words.contains(&w)), "{cut}");
        // One long word (a paste) is still cut in its middle.
        let paste = "x".repeat(100);
        assert_eq!(middle_ellipsis(&paste, 10), format!("{}…{}", "x".repeat(6), "x".repeat(3)));
    }
}
