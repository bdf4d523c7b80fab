//! The `:` command line's keys, and what a submitted line does: UI verbs act here, config
//! verbs become config requests, trading lines are parsed here into typed intents. A line
//! that does not parse is shown as refused where it was typed and never leaves the UI.

use super::{UiCommand, config, request_quit, resume, select_market, send_or_confirm, set_timeframe, trade};
use crate::config::change::{ConfigChange, TradingKey};
use crate::exchange::types::Timeframe;
use crate::store::{Mode, Snapshot};
use crate::trading::intent::{LineIntent, TradeIntent, parse_line};
use crate::trading::manager::{Origin, PlaceSpec};
use crate::trading::rules::{Level, RuleKind};
use crate::ui::action::Action;
use crate::ui::command_line::{self as cl, Parsed};
use crate::ui::layout;
use crate::ui::order_form::preview_input;
use crate::ui::state::{Overlay, PendingRule, UiState};
use crate::ui::theme::Theme;
use crate::ui::widgets::format;
use rust_decimal::Decimal;

/// A key while the command line is open.
pub(super) fn key(ui: &mut UiState, action: Action, snap: &Snapshot) -> Vec<UiCommand> {
    let Some(line) = ui.command_line.as_mut() else { return Vec::new() };
    match action {
        Action::InsertChar(c) => {
            line.input.push(c);
            line.browsing = None;
        }
        Action::DeleteBack if line.input.pop().is_none() => ui.command_line = None,
        Action::Back => ui.command_line = None,
        Action::HistoryPrev => line.history_prev(&ui.history),
        Action::HistoryNext => line.history_next(&ui.history),
        Action::Complete => line.complete(&|i, verb| completions(snap, i, verb)),
        Action::Submit => {
            let text = line.input.clone();
            ui.command_line = None;
            return run(ui, snap, &text);
        }
        _ => {}
    }
    Vec::new()
}

/// Candidates for command-line completion at word `index` after `verb`.
pub(crate) fn completions(snap: &Snapshot, index: usize, verb: &str) -> Vec<String> {
    match (index, verb) {
        (0, _) => cl::VERBS.iter().map(|s| s.to_string()).collect(),
        (1, "market" | "m" | "stop" | "tp" | "trail" | "alert") => {
            snap.market.markets.iter().map(|m| m.market.to_string()).collect()
        }
        (1, "tf") => Timeframe::ALL.iter().map(|t| t.label().to_string()).collect(),
        (1, "theme") => Theme::embedded_names().map(str::to_string).collect(),
        (1, "layout") => layout::LAYOUTS.iter().map(|s| s.to_string()).chain(["save".to_string()]).collect(),
        (1, "cancel") => vec!["all".into()],
        (1, "set" | "set!") => TradingKey::ALL.iter().map(|k| k.name().to_string()).collect(),
        (1, "reload") => vec!["keymap".into()],
        _ => Vec::new(),
    }
}

/// Runs a submitted line (without the `:`).
pub(super) fn run(ui: &mut UiState, snap: &Snapshot, line: &str) -> Vec<UiCommand> {
    ui.history.push(line.trim());
    match cl::parse(line) {
        Parsed::Market(m) => {
            if snap.market.markets.is_empty() || snap.market.info(&m).is_some() {
                select_market(ui, m)
            } else {
                ui.error(format!("unknown market {m}"));
                Vec::new()
            }
        }
        Parsed::Timeframe(tf) => set_timeframe(ui, tf),
        Parsed::Theme(name) => config(ui, ConfigChange::Theme(name), true),
        Parsed::Layout(name) => {
            if layout::preset(&name, ui.area).is_some() {
                config(ui, ConfigChange::Layout(name), true)
            } else {
                ui.error(format!("unknown layout {name:?} (known: {})", layout::LAYOUTS.join(", ")));
                Vec::new()
            }
        }
        // Said so rather than pretended: the console had only logged "saved".
        Parsed::SaveLayout(name) => {
            ui.error(format!(
                "layout save {name}: saving layouts is not built yet; the layouts are {}",
                layout::LAYOUTS.join(", ")
            ));
            Vec::new()
        }
        Parsed::Config { change, can_wait } => config(ui, change, can_wait),
        Parsed::Quit => request_quit(ui, snap),
        Parsed::Help => {
            ui.overlay = Overlay::Help { scroll: 0 };
            Vec::new()
        }
        Parsed::Ack => vec![UiCommand::AcknowledgeAlerts],
        Parsed::Trade(text) => trade_line(ui, snap, &text),
        Parsed::Error(e) => {
            if !e.is_empty() {
                ui.error(e);
            }
            Vec::new()
        }
    }
}

/// A trading line, parsed here into what it asks for. In live mode an order (`:buy`,
/// `:sell`) is sized and validated here from the snapshot and goes through the same
/// confirmation as the form and the ladder (default No); what is confirmed is the exact
/// request sent.
fn trade_line(ui: &mut UiState, snap: &Snapshot, text: &str) -> Vec<UiCommand> {
    let refused = |ui: &mut UiState, e: &dyn std::fmt::Display| {
        ui.error(format!(":{text}: {e} (not sent)"));
        Vec::new()
    };
    match parse_line(text, ui.market.as_ref()) {
        Err(e) => refused(ui, &e),
        // A market the exchange does not list: say so, rather than a rule that goes
        // STALE or an order that "cannot be sized" (once the list is loaded).
        Ok(LineIntent::Trade(intent))
            if !snap.market.markets.is_empty()
                && intent.market().is_some_and(|m| snap.market.info(m).is_none()) =>
        {
            let m = intent.market().map(|m| m.to_string()).unwrap_or_default();
            refused(ui, &format!("unknown market {m}"))
        }
        Ok(LineIntent::Resume) => resume(ui),
        Ok(LineIntent::Trade(TradeIntent::Place { spec: PlaceSpec::Input(input), .. }))
            if snap.account.mode == Mode::Live =>
        {
            match preview_input(&input, ui.market.as_ref(), snap) {
                Ok(valid) => send_or_confirm(ui, snap, valid, Origin::Manual),
                Err(e) => refused(ui, &e),
            }
        }
        Ok(LineIntent::Trade(intent)) => match crossed(&intent, snap) {
            // The price is already past the trigger: arming it sells at once. Asked,
            // default No (a `:tp +5%` measured from an old average cost sold a whole
            // position the moment it was typed).
            Some(why) => {
                ui.pending_rule = Some(PendingRule { intent, text: text.to_string(), why });
                ui.overlay = Overlay::ConfirmRule;
                Vec::new()
            }
            None => trade(ui, intent, text),
        },
    }
}

/// For a stop, take-profit or OCO, when the last price is already past its trigger:
/// what the price and the trigger are. Relative levels resolve from the average cost, as
/// the monitor resolves them; without a price or a cost basis nothing can be said.
fn crossed(intent: &TradeIntent, snap: &Snapshot) -> Option<String> {
    let TradeIntent::ArmRule { market, kind } = intent else { return None };
    let last = snap.market.tickers.get(market)?.value.trade_price;
    let avg = snap
        .account
        .balances
        .iter()
        .find(|b| b.currency == market.base())
        .map_or(Decimal::ZERO, |b| b.avg_buy_price);
    let past = |what: &'static str, l: &Level, crossed: fn(Decimal, Decimal) -> bool| {
        l.resolve(avg).filter(|t| crossed(last, *t)).map(|t| (what, t, matches!(l, Level::PctFromAvg(_))))
    };
    let stop = |l: &Level| past("stop", l, |last, t| last <= t);
    let take = |l: &Level| past("take-profit", l, |last, t| last >= t);
    let (what, trigger, relative) = match kind {
        RuleKind::StopLoss(l) => stop(l),
        RuleKind::TakeProfit(l) => take(l),
        RuleKind::Oco { stop: s, take: t } => stop(s).or_else(|| take(t)),
        // A trailing stop starts from the price now: never past at arming.
        RuleKind::Trailing { .. } => None,
    }?;
    // A relative level is measured from the average cost: say so, it is the surprise.
    let anchor = if relative {
        format!(" (measured from the average cost {})", format::price(avg))
    } else {
        String::new()
    };
    Some(format!(
        "{market} last {} is already past the {what} trigger {}{anchor}",
        format::price(last),
        format::price(trigger)
    ))
}
