//! The `:` command line's keys, and what a submitted line does: UI verbs act here, config
//! verbs become config requests, trading lines are parsed here into typed intents. A line
//! that does not parse is shown as refused where it was typed and never leaves the UI.

use super::{UiCommand, config, request_quit, resume, select_market, send_or_confirm, set_timeframe, trade};
use crate::config::change::ConfigChange;
use crate::exchange::types::MarketId;
use crate::exchange::types::Timeframe;
use crate::store::{Mode, Snapshot};
use crate::trading::input::UnarmTarget;
use crate::trading::intent::{LineIntent, TradeIntent, parse_line};
use crate::trading::manager::{Origin, PlaceSpec};
use crate::trading::rules::{Direction, ExitPlan, Level, RuleKind};
use crate::ui::action::Action;
use crate::ui::command_line::{self as cl, Parsed};
use crate::ui::commands;
use crate::ui::layout;
use crate::ui::order_form::preview_input;
use crate::ui::state::{Overlay, PendingRule, UiState};
use crate::ui::widgets::format;
use rust_decimal::Decimal;

/// A key while the command line is open.
pub(super) fn key(ui: &mut UiState, action: Action, snap: &Snapshot) -> Vec<UiCommand> {
    if action == Action::Complete {
        if let Some(mut line) = ui.command_line.take() {
            line.complete(&|before| commands::candidates(before, ui, snap));
            ui.command_line = Some(line);
        }
        return Vec::new();
    }
    let Some(line) = ui.command_line.as_mut() else { return Vec::new() };
    // Any other key ends a completion: its list no longer matches the line.
    line.completion = None;
    match action {
        Action::InsertChar(c) => {
            line.input.push(c);
            line.browsing = None;
        }
        Action::DeleteBack if line.input.pop().is_none() => ui.command_line = None,
        Action::Back => ui.command_line = None,
        Action::HistoryPrev => line.history_prev(&ui.history),
        Action::HistoryNext => line.history_next(&ui.history),
        Action::Submit => {
            let text = line.input.clone();
            ui.command_line = None;
            let cmds = run(ui, snap, &text);
            super::replies::shorten_echo(ui, &text);
            return cmds;
        }
        _ => {}
    }
    Vec::new()
}

/// Runs a submitted line (without the `:`).
pub(super) fn run(ui: &mut UiState, snap: &Snapshot, line: &str) -> Vec<UiCommand> {
    ui.history.push(line.trim());
    match cl::parse(line) {
        Parsed::Market(m) => {
            // A bare coin means its KRW market, which only Upbit lists: on another venue it
            // means that venue's USDT market.
            let typed = m.clone();
            let m = super::venue::usdt_market(ui, snap, &m).unwrap_or(m);
            if snap.market.markets.is_empty() || snap.market.info(&m).is_some() {
                // The line is answered: an older refusal does not stay on the line, and a
                // KRW market read as the venue's own says so.
                // (Said only when a KRW code was typed: a bare coin means the venue's own.)
                if typed != m && line.to_ascii_uppercase().contains(typed.as_str()) {
                    ui.info(format!("{typed} is Upbit's: {m} on {}", ui.venue.name()));
                } else {
                    ui.message = None;
                }
                select_market(ui, m)
            } else if ui.venue.trades() {
                ui.error(commands::unknown_market(&m, snap));
                Vec::new()
            } else {
                // On another venue a coin means its USDT market there: named so (a KRW
                // code of a coin that is itself USDT stays as typed).
                let there = if super::venue::is_upbit_krw(&m) && m.base() != "USDT" {
                    MarketId::new(&format!("USDT-{}", m.base()))
                } else {
                    m
                };
                ui.error(format!("{}: {}", ui.venue.name(), commands::unknown_market(&there, snap)));
                Vec::new()
            }
        }
        Parsed::Timeframe(tf) => set_timeframe(ui, tf),
        Parsed::Compare(list) => compare(ui, snap, &list),
        Parsed::Studies(cmd) => {
            studies(ui, cmd);
            Vec::new()
        }
        Parsed::Theme(name) => config(ui, ConfigChange::Theme(name), true),
        // A built-in or a saved layout (see `layout::switch`).
        Parsed::Layout(name) => {
            if layout::exists(ui, &name) {
                config(ui, ConfigChange::Layout(name), true)
            } else {
                ui.error(layout::unknown(ui, &name));
                Vec::new()
            }
        }
        // Saved in the UI state; the app writes the layouts file (`ui::persist`).
        Parsed::SaveLayout(name) => {
            match layout::save(ui, &name) {
                Ok(done) => ui.info(done),
                Err(e) => ui.error(format!("layout save {name}: {e}")),
            }
            Vec::new()
        }
        Parsed::RemoveLayout(name) => {
            match layout::remove(ui, &name) {
                Ok(done) => ui.info(done),
                Err(e) => ui.error(format!("layout rm {name}: {e}")),
            }
            Vec::new()
        }
        Parsed::ListLayouts => {
            ui.info(format!("layouts: {}", layout::list(ui)));
            Vec::new()
        }
        Parsed::Config { change, can_wait } => config(ui, change, can_wait),
        Parsed::Venue(Some(v)) => super::venue::switch(ui, v),
        Parsed::Venue(None) => super::venue::describe(ui),
        Parsed::Quit => request_quit(ui, snap),
        Parsed::Help => {
            ui.overlay = Overlay::Help { scroll: 0 };
            Vec::new()
        }
        Parsed::Ack => vec![UiCommand::AcknowledgeAlerts],
        Parsed::Alerts => super::open_alerts(ui, snap),
        Parsed::Trade(text) => trade_line(ui, snap, &text),
        Parsed::Error(e) => {
            if !e.is_empty() {
                ui.error(e);
            }
            Vec::new()
        }
    }
}

/// `:ind`: the chart's studies, changed in the UI state (drawn from the candles the
/// store has; the app saves them with the rest of the screen).
fn studies(ui: &mut UiState, cmd: cl::StudyCommand) {
    use crate::indicators::series::{self, Study};
    let shown = &mut ui.chart.studies;
    let done = match cmd {
        cl::StudyCommand::List => {
            Ok(format!("studies: {} (:ind add rsi 14, :ind rm STUDY, :ind clear)", series::list(shown)))
        }
        cl::StudyCommand::Add(study) => series::add(shown, study).map(|text| {
            // VWAP starts again each KST day: longer candles do not fall in one.
            let long = matches!(ui.timeframe, Timeframe::D1 | Timeframe::W1 | Timeframe::Mo1);
            if study == Study::Vwap && long {
                format!("{text}; VWAP is drawn on timeframes below 1d")
            } else {
                text
            }
        }),
        cl::StudyCommand::Remove(words) => {
            series::remove(shown, &words.iter().map(String::as_str).collect::<Vec<_>>())
        }
        cl::StudyCommand::Clear => {
            shown.clear();
            Ok("studies cleared (:ind add sma 20 adds one)".to_string())
        }
    };
    match done {
        Ok(text) => ui.info(text),
        Err(e) => ui.error(format!(":ind: {e}")),
    }
}

/// `:compare`: the markets drawn beside the shown one, checked against the market list
/// (unknown ones refused by name; the shown one and repeats dropped).
fn compare(ui: &mut UiState, snap: &Snapshot, asked: &[MarketId]) -> Vec<UiCommand> {
    let listed = |m: &MarketId| snap.market.markets.is_empty() || snap.market.info(m).is_some();
    match crate::ui::chart_view::compare_list(asked, ui.market.as_ref(), listed) {
        Ok(list) => {
            if list.is_empty() {
                ui.info("compare: none");
            } else {
                let names: Vec<String> = list.iter().map(MarketId::to_string).collect();
                ui.info(format!("compare: {}", names.join(", ")));
            }
            ui.chart.compare = list.clone();
            vec![UiCommand::ChartCompare(list)]
        }
        Err(e) => {
            ui.error(format!(":compare: {e}"));
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
        // Another venue is shown: nothing is placed or armed for its markets.
        Ok(LineIntent::Trade(intent)) if super::venue::line_refused(ui, &intent) => {
            refused(ui, &crate::ui::venue::read_only(ui.venue))
        }
        // A market the exchange does not list: say so, rather than a rule that goes
        // STALE or an order that "cannot be sized" (once the list is loaded).
        // (Another venue's list is not Upbit's: a KRW market is checked by Upbit itself.)
        Ok(LineIntent::Trade(intent))
            if ui.venue.trades()
                && !snap.market.markets.is_empty()
                && intent.market().is_some_and(|m| snap.market.info(m).is_none()) =>
        {
            let m = intent.market().map(|m| m.to_string()).unwrap_or_default();
            refused(ui, &format!("unknown market {m}"))
        }
        Ok(LineIntent::Resume) => resume(ui),
        Ok(LineIntent::Transfer(line)) => super::transfer::transfer_line(ui, snap, text, line),
        Ok(LineIntent::Trade(TradeIntent::Place { spec: PlaceSpec::Input(input), .. }))
            if snap.account.mode == Mode::Live =>
        {
            match preview_input(&input, ui.market.as_ref(), snap) {
                Ok(valid) => send_or_confirm(ui, snap, valid, Origin::Manual),
                Err(e) => refused(ui, &e),
            }
        }
        // Every rule is previewed before it arms; `:unarm` alone asks before it removes
        // every rule.
        Ok(LineIntent::Trade(
            intent @ (TradeIntent::ArmRule { .. } | TradeIntent::Unarm(UnarmTarget::All)),
        )) => match preview(ui, snap, text, intent) {
            Ok(p) => {
                ui.pending_rule = Some(p);
                ui.overlay = Overlay::ConfirmRule;
                Vec::new()
            }
            Err(e) => refused(ui, &e),
        },
        Ok(LineIntent::Trade(intent)) => trade(ui, intent, text),
    }
}

/// A trigger further than this from the last price is unusual: the preview says so.
const FAR: Decimal = Decimal::from_parts(10, 0, 0, false, 2);

/// What a rule line resolved to, for its confirmation; or why it cannot be armed.
fn preview(ui: &UiState, snap: &Snapshot, text: &str, intent: TradeIntent) -> Result<PendingRule, String> {
    let TradeIntent::ArmRule { market, kind, future } = intent else {
        let n = snap.account.rules.len();
        if n == 0 {
            return Err("no rules to disarm".into());
        }
        return Ok(PendingRule {
            intent,
            text: text.to_string(),
            title: " Remove every rule ".into(),
            lines: vec![format!("remove all {n} rule{}? y/N", if n == 1 { "" } else { "s" })],
            warnings: Vec::new(),
            default_no: true,
        });
    };
    let quote = market.quote().to_string();
    let base = market.base().to_string();
    let last = snap.market.tickers.get(&market).map(|t| t.value.trade_price).filter(|p| *p > Decimal::ZERO);
    let bal = snap.account.balances.iter().find(|b| b.currency == base);
    let held = bal.map_or(Decimal::ZERO, |b| b.total());
    let avg = bal.map_or(Decimal::ZERO, |b| b.avg_buy_price);
    if held <= Decimal::ZERO && !future {
        return Err(format!(
            "no {base} position to protect: nothing to sell (add `future` to arm it for a future position)"
        ));
    }
    let levels = levels(&kind);
    if levels.iter().any(|(_, l, _)| l.is_from_last()) && last.is_none() {
        return Err(format!(
            "no last price for {market} yet: a % level is measured from it (or add `avg` for the average cost)"
        ));
    }
    if levels.iter().any(|(_, l, _)| matches!(l, Level::PctFromAvg(_))) && avg <= Decimal::ZERO {
        return Err(format!("no average cost for {market}: `avg` has nothing to measure from"));
    }
    let fix =
        |l: &Level, dir| l.fixed(last, &quote, dir).ok_or_else(|| format!("cannot compute the level {l:?}"));
    let fixed = match &kind {
        RuleKind::StopLoss(l) => RuleKind::StopLoss(fix(l, Direction::Falls)?),
        RuleKind::TakeProfit(l) => RuleKind::TakeProfit(fix(l, Direction::Rises)?),
        RuleKind::Oco { stop, take } => {
            RuleKind::Oco { stop: fix(stop, Direction::Falls)?, take: fix(take, Direction::Rises)? }
        }
        RuleKind::Trailing { .. } => kind.clone(),
    };
    let price = |p: Decimal| format::market_price(&quote, p);
    let from_last = |t: Decimal| {
        last.and_then(|l| t.checked_sub(l).and_then(|d| d.checked_div(l))).map_or(String::new(), |d| {
            format!("  {} from last {}", format::pct(d), price(last.unwrap_or_default()))
        })
    };
    let mut lines = Vec::new();
    let mut warnings = Vec::new();
    let mut crossed = None;
    let mut value_at = last;
    for ((name, typed, dir), (_, armed, _)) in levels.iter().copied().zip(self::levels(&fixed)) {
        let Some(t) = armed.trigger(avg, &quote, dir) else {
            return Err(format!("cannot compute the {name} trigger"));
        };
        value_at = value_at.or(Some(t));
        lines.push(format!("{name:<9}{}{}", price(t), from_last(t)));
        lines.push(format!("{:<9}{}", "anchor", anchor(&typed, t, avg, &price)));
        if let Some(l) = last {
            let past = match dir {
                Direction::Falls => l <= t,
                Direction::Rises => l >= t,
            };
            if past && crossed.is_none() {
                let from_avg = if matches!(typed, Level::PctFromAvg(_)) {
                    format!(" (measured from the average cost {})", price(avg))
                } else {
                    String::new()
                };
                crossed = Some(format!(
                    "{market} last {} is already past the {name} trigger {}{from_avg}",
                    price(l),
                    price(t)
                ));
            }
            if t.checked_sub(l).and_then(|d| d.checked_div(l)).is_some_and(|d| d.abs() > FAR) {
                warnings.push(format!(
                    "the {name} trigger is {} from the last price (more than {})",
                    from_last(t).trim_start().split(" from").next().unwrap_or_default(),
                    format::pct(FAR).trim_start_matches('+')
                ));
            }
        }
    }
    if let RuleKind::Trailing { ratio, .. } = &fixed {
        let r = format::pct(*ratio).trim_start_matches('+').to_string();
        lines.push(format!("{:<9}{r} below the highest price since arming", "trail"));
        if let Some(l) = last {
            // The level the monitor fires at: on the tick grid, rounded up like a stop.
            if let Some(now) = crate::trading::rules::trail_level(&quote, l, *ratio) {
                lines.push(format!("{:<9}fires at {} or lower if the price never rises", "", price(now)));
            }
        }
    }
    // What is sold, and how.
    let policy = ui.config.exits;
    let min = crate::exchange::grid().min_total(&quote);
    let cap = policy.cap.map(|c| format!("{} {quote}", format::amount(c, &quote)));
    let value = value_at.and_then(|p| held.checked_mul(p));
    // Always an estimate (the exit sells at market, later): one `≈`, whether or not the
    // figure itself was rounded for display (which marks it `≈` too).
    let value_text = value
        .map(|v| format!(" ≈ {} {quote}", format::amount(v, &quote).trim_start_matches('≈')))
        .unwrap_or_default();
    if held > Decimal::ZERO {
        lines.push(format!(
            "{:<9}whole position at firing time (now {} {base}{value_text})",
            "sells",
            format::qty(held, 8)
        ));
    } else {
        lines.push(format!("{:<9}whole position at firing time (none now)", "sells"));
        warnings.push(
            "no position now: armed for a future position; it sells what you hold when it fires".into(),
        );
    }
    let plan = value_at.map_or(ExitPlan::One, |p| policy.plan(held, p, min));
    let how = match (plan, &cap) {
        (ExitPlan::Sliced { orders, .. }, Some(cap)) => {
            warnings.push(format!(
                "the exit{value_text} is larger than the {cap} per-order cap: it is sliced into about {orders} orders"
            ));
            format!("market sells, about {orders} orders each within the {cap} per-order cap (slice)")
        }
        (ExitPlan::Exceeds, Some(cap)) => {
            warnings.push(format!(
                "the exit{value_text} is larger than the {cap} per-order cap: one order past it (protective_exit_over_cap = exceed)"
            ));
            format!("one market sell past the {cap} per-order cap (exceed, by config)")
        }
        (_, Some(cap)) => format!("one market sell (within the {cap} per-order cap)"),
        (_, None) => "one market sell".into(),
    };
    lines.push(format!("{:<9}{how}", "how"));
    let word = text.split_whitespace().next().unwrap_or("rule").trim_start_matches(':');
    let (title, default_no) = match crossed {
        Some(why) => {
            warnings.insert(0, why);
            warnings.insert(1, "already past the trigger — arming it sells now, at market".into());
            (" Already past the trigger — sell now? ".to_string(), true)
        }
        None => (format!(" Arm {word} {market}? "), false),
    };
    Ok(PendingRule {
        intent: TradeIntent::ArmRule { market, kind: fixed, future },
        text: text.to_string(),
        title,
        lines,
        warnings,
        default_no,
    })
}

/// A rule's levels with their names and the way each fires.
fn levels(kind: &RuleKind) -> Vec<(&'static str, Level, Direction)> {
    match kind {
        RuleKind::StopLoss(l) => vec![("stop", *l, Direction::Falls)],
        RuleKind::TakeProfit(l) => vec![("tp", *l, Direction::Rises)],
        RuleKind::Oco { stop, take } => {
            vec![("stop", *stop, Direction::Falls), ("tp", *take, Direction::Rises)]
        }
        RuleKind::Trailing { .. } => Vec::new(),
    }
}

/// The anchor of a level, in words: where the trigger was measured from.
fn anchor(typed: &Level, trigger: Decimal, avg: Decimal, price: &dyn Fn(Decimal) -> String) -> String {
    match typed {
        Level::PctFromLast(r) => {
            format!("{} from the last price (fixed as shown, on the tick grid)", format::pct(*r))
        }
        Level::PctFromAvg(r) => {
            format!("{} from the average cost {} (follows it)", format::pct(*r), price(avg))
        }
        Level::Price(p) if *p == trigger => "the price typed".into(),
        Level::Price(p) => format!("the price typed, {}, put on the tick grid", format::price(*p)),
    }
}
