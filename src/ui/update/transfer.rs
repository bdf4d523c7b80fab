//! `:transfer AMOUNT CURRENCY FROM TO`: the pockets are resolved here (names, unique
//! prefixes or UUIDs, from the snapshot), the amount is checked against what the sending
//! pocket has available when the screen knows it, and the whole transfer is put to a y/N
//! question (default No) before anything is sent. Why it cannot be offered (paper mode,
//! a key that may not move assets, pockets not loaded) is said instead.

use rust_decimal::Decimal;

use crate::exchange::display;
use crate::exchange::types::Balance;
use crate::store::{Mode, Snapshot};
use crate::trading::intent::{PocketTransfer, TradeIntent, TransferLine};
use crate::ui::state::{Overlay, PendingRule, UiState};

use super::UiCommand;

/// Resolves and checks a transfer line; on success the confirmation is open.
pub(super) fn transfer_line(
    ui: &mut UiState,
    snap: &Snapshot,
    text: &str,
    line: TransferLine,
) -> Vec<UiCommand> {
    match preview(snap, text, line) {
        Ok(p) => {
            ui.pending_rule = Some(p);
            ui.overlay = Overlay::ConfirmRule;
        }
        Err(e) => ui.error(format!(":{text}: {e} (not sent)")),
    }
    Vec::new()
}

fn available(list: &[Balance], currency: &str) -> Decimal {
    list.iter().find(|b| b.currency == currency).map_or(Decimal::ZERO, |b| b.balance)
}

fn preview(snap: &Snapshot, text: &str, line: TransferLine) -> Result<PendingRule, String> {
    if snap.account.mode == Mode::Paper {
        return Err("paper mode has no pockets (its balances are the paper engine's)".into());
    }
    let state = &snap.account.pockets;
    let view = &state.view;
    if view.pockets.is_empty() {
        return Err(view.note.clone().unwrap_or_else(|| "the pockets are not loaded yet".into()));
    }
    if !view.can_transfer {
        return Err(view.note.clone().unwrap_or_else(|| {
            "this key may not move assets between pockets (a main-pocket key with 포켓관리 may)".into()
        }));
    }
    crate::exchange::upbit::pockets::check_transfer_precision(line.amount, &line.currency)?;
    let from = view.resolve(&line.from)?;
    let to = view.resolve(&line.to)?;
    if from.uuid == to.uuid {
        return Err(format!("{} is both the sending and the receiving pocket", view.label(from)));
    }
    // Two pockets of one name read apart by the start of their UUIDs, in the question and
    // in every message about the transfer after it.
    let (from_name, to_name) = (view.label(from), view.label(to));
    let traded = view.trading.as_ref().is_some_and(|t| t.uuid == from.uuid);
    let have = if traded {
        Some(available(&snap.account.balances, &line.currency))
    } else {
        state.balances.get(&from.uuid).map(|b| available(b, &line.currency))
    };
    let cur = &line.currency;
    if let Some(have) = have
        && line.amount > have
    {
        return Err(format!(
            "{from_name} has {} {cur} available, less than {} {cur}",
            display::quantity(have),
            display::quantity(line.amount)
        ));
    }
    let t = PocketTransfer {
        amount: line.amount,
        currency: line.currency.clone(),
        from: from.uuid.clone(),
        from_name: from_name.clone(),
        to: to.uuid.clone(),
        to_name,
    };
    let mut lines = vec![format!("move {}? y/N", t.describe())];
    let mut warnings = Vec::new();
    match have {
        Some(have) => lines.push(format!(
            "{from_name} keeps {} {cur} available after it",
            display::quantity(have - line.amount)
        )),
        None => warnings.push(format!("{from_name}'s balance is not loaded: the exchange checks the amount")),
    }
    Ok(PendingRule {
        intent: TradeIntent::Transfer(t),
        text: text.to_string(),
        title: " Transfer between pockets ".into(),
        lines,
        warnings,
        default_no: true,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use rust_decimal_macros::dec;

    use super::*;
    use crate::exchange::upbit::pockets::{Pocket, PocketsState, PocketsView};
    use crate::store::{Store, StoreEvent};
    use crate::ui::action::Action;
    use crate::ui::state::UiConfig;
    use crate::ui::update::update;

    fn pocket(uuid: &str, name: &str, main: bool) -> Pocket {
        Pocket { uuid: uuid.into(), name: name.into(), main }
    }

    fn krw(v: Decimal) -> Balance {
        Balance { currency: "KRW".into(), balance: v, unit_currency: "KRW".into(), ..Balance::default() }
    }

    fn snap(view: PocketsView) -> std::sync::Arc<Snapshot> {
        let mut state = PocketsState { view, ..PocketsState::default() };
        state.balances.insert("u-sav".into(), vec![krw(dec!(5000000))]);
        Store::new().apply_batch(
            [StoreEvent::BalancesUpdated(vec![krw(dec!(1000000))]), StoreEvent::PocketsUpdated(state)],
            Instant::now(),
        )
    }

    fn main_key() -> PocketsView {
        PocketsView {
            pockets: vec![pocket("u-main", "main", true), pocket("u-sav", "savings", false)],
            trading: Some(pocket("u-main", "main", true)),
            can_transfer: true,
            note: None,
        }
    }

    fn submit(ui: &mut UiState, line: &str, s: &Snapshot) -> Vec<UiCommand> {
        update(ui, Action::OpenCommandLine, s);
        for c in line.chars() {
            update(ui, Action::InsertChar(c), s);
        }
        update(ui, Action::Submit, s)
    }

    #[test]
    fn a_transfer_is_asked_in_full_and_sent_on_y_only() {
        let s = snap(main_key());
        let mut ui = UiState::new(UiConfig::default());
        assert!(submit(&mut ui, "transfer 100000 KRW main sav", &s).is_empty());
        assert_eq!(ui.overlay, Overlay::ConfirmRule);
        let p = ui.pending_rule.clone().unwrap();
        assert_eq!(p.lines[0], "move 100,000 KRW from main to savings? y/N");
        assert_eq!(p.lines[1], "main keeps 900,000 KRW available after it");
        // Enter is No.
        assert!(update(&mut ui, Action::Submit, &s).is_empty());
        assert_eq!(ui.overlay, Overlay::None);
        submit(&mut ui, "transfer 100000 KRW main sav", &s);
        match update(&mut ui, Action::InsertChar('y'), &s).as_slice() {
            [UiCommand::Trade(r)] => match &r.intent {
                TradeIntent::Transfer(t) => {
                    assert_eq!((t.from.as_str(), t.to.as_str(), t.amount), ("u-main", "u-sav", dec!(100000)));
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_transfer_that_cannot_be_made_says_why_and_sends_nothing() {
        let s = snap(main_key());
        let mut ui = UiState::new(UiConfig::default());
        assert!(submit(&mut ui, "transfer 1000001 KRW main savings", &s).is_empty());
        assert_eq!(ui.overlay, Overlay::None);
        let msg = ui.message.as_ref().map(|m| m.text.clone()).unwrap_or_default();
        assert!(msg.contains("main has 1,000,000 KRW available, less than 1,000,001 KRW"), "{msg}");
        submit(&mut ui, "transfer 1 KRW main nowhere", &s);
        let msg = ui.message.as_ref().map(|m| m.text.clone()).unwrap_or_default();
        assert!(msg.contains("no pocket named nowhere (pockets: main, savings)"), "{msg}");
        submit(&mut ui, "transfer 1 KRW sav savings", &s);
        let msg = ui.message.as_ref().map(|m| m.text.clone()).unwrap_or_default();
        assert!(msg.contains("savings is both the sending and the receiving pocket"), "{msg}");
        // A key that cannot list pockets: the reason, not a transfer.
        let s = snap(PocketsView::unseen());
        submit(&mut ui, "transfer 1 KRW main savings", &s);
        let msg = ui.message.as_ref().map(|m| m.text.clone()).unwrap_or_default();
        assert!(msg.contains("포켓관리") && msg.contains("not sent"), "{msg}");
        assert_eq!(ui.overlay, Overlay::None);
    }

    fn message(ui: &UiState) -> String {
        ui.message.as_ref().map(|m| m.text.clone()).unwrap_or_default()
    }

    #[test]
    fn an_amount_finer_than_its_currency_is_refused_before_the_question() {
        let s = snap(main_key());
        let mut ui = UiState::new(UiConfig::default());
        assert!(submit(&mut ui, "transfer 0.0000000000000000000000000001 BTC main savings", &s).is_empty());
        assert_eq!(ui.overlay, Overlay::None);
        let msg = message(&ui);
        assert!(msg.contains("has more than 8 decimals: BTC moves in at most 8"), "{msg}");
        assert!(msg.contains("not sent"), "{msg}");
        submit(&mut ui, "transfer 1000.5 KRW main savings", &s);
        assert_eq!(ui.overlay, Overlay::None);
        let msg = message(&ui);
        assert!(msg.contains("1,000.5 KRW is not a whole number of won"), "{msg}");
        // At the currency's precision it passes on to the balance check (main has no BTC).
        submit(&mut ui, "transfer 0.00000001 BTC main savings", &s);
        let msg = message(&ui);
        assert!(msg.contains("main has 0 BTC available, less than 0.00000001 BTC"), "{msg}");
    }

    #[test]
    fn two_pockets_of_one_name_are_not_guessed_between() {
        let mut view = main_key();
        view.pockets.push(pocket("9a1b2c3d-ffff", "savings", false));
        let s = snap(view);
        let mut ui = UiState::new(UiConfig::default());
        assert!(submit(&mut ui, "transfer 100000 KRW main savings", &s).is_empty());
        assert_eq!(ui.overlay, Overlay::None);
        let msg = message(&ui);
        assert!(msg.contains("2 pockets are named savings (savings (u-sav), savings (9a1b2c3d)"), "{msg}");
        // Named by the start of its UUID, the question shows which one.
        submit(&mut ui, "transfer 100000 KRW main 9a1b", &s);
        assert_eq!(ui.overlay, Overlay::ConfirmRule);
        let p = ui.pending_rule.clone().unwrap();
        assert_eq!(p.lines[0], "move 100,000 KRW from main to savings (9a1b2c3d)? y/N");
    }
}
