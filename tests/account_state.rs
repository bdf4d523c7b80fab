//! The API key's expiry and Upbit's account-state refusals, end to end against the
//! simulator: what the console reads, and what the person sees on the screen.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use hoga::console::Core;
use hoga::store::{Snapshot, TradingState};
use hoga::trading::intent::{Outcome, TradeRequest};
use hoga::ui::{Action, UiCommand, UiConfig, UiState, update};

use common::{console_on, deadline_30s, layout_screen, snapshot_until, still_sim, ui_screen};

/// A demo key five days from its expiry: the System pane says when and how many days,
/// and the 7-day alert is raised (once), which the status bar shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_near_its_expiry_is_shown_and_alerted() {
    let (sim_tasks, sim) = still_sim(3, |c| c.key_days_left = 5).await;
    let (tasks, core) = console_on(&sim).await;
    let mut snaps = core.store.subscribe();
    let s = snapshot_until(&mut snaps, deadline_30s(), "the key expiry alert", |s| {
        s.system.alerts.iter().any(|a| a.message.contains("API key expires in 5 days"))
    })
    .await;
    let alert = s.system.alerts.iter().find(|a| a.message.contains("API key expires")).unwrap();
    assert!(alert.message.contains("new key"), "{}", alert.message);
    assert_eq!(s.system.alerts.iter().filter(|a| a.message.contains("API key expires")).count(), 1);
    let text = layout_screen(&s, "system");
    assert!(text.contains("API key expires 20") && text.contains("(5 days)"), "{text}");
    tasks.cancel_all();
    sim_tasks.cancel_all();
}

/// A key that may not list keys: the pane says the expiry is unknown and why; no alert,
/// no halt, and one call (tried again an hour later, not in a loop).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_may_not_list_keys_has_an_unknown_expiry_not_an_error_storm() {
    let (sim_tasks, sim) = still_sim(3, |_| {}).await;
    sim.faults.force_error("GET", "/v1/api_keys", 401, "out_of_scope", None);
    let (tasks, core) = console_on(&sim).await;
    let mut snaps = core.store.subscribe();
    let s = snapshot_until(&mut snaps, deadline_30s(), "the key line", |s| {
        layout_screen(s, "system").contains("API key expiry")
    })
    .await;
    let text = layout_screen(&s, "system");
    assert!(text.contains("API key expiry unknown (key lacks the permission to list API keys)"), "{text}");
    assert!(!s.system.alerts.iter().any(|a| a.message.contains("API key")), "{:?}", s.system.alerts);
    assert_eq!(s.account.trading_state, TradingState::Active);
    // An absence: a retry loop would have called again many times in this half second.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let calls = sim.requests.entries().iter().filter(|r| r.path == "/v1/api_keys").count();
    assert_eq!(calls, 1, "one read, no retry loop");
    tasks.cancel_all();
    sim_tasks.cancel_all();
}

/// An expired key says so plainly, in the pane and as an alert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_key_says_so() {
    let (sim_tasks, sim) = still_sim(3, |c| c.key_days_left = 0).await;
    let (tasks, core) = console_on(&sim).await;
    let mut snaps = core.store.subscribe();
    let s = snapshot_until(&mut snaps, deadline_30s(), "the expiry alert", |s| {
        s.system.alerts.iter().any(|a| a.message.contains("API key EXPIRED"))
    })
    .await;
    let text = layout_screen(&s, "system");
    assert!(text.contains("API key EXPIRED") && text.contains("new key"), "{text}");
    tasks.cancel_all();
    sim_tasks.cancel_all();
}

/// The person's screen: a UI that typed the orders itself, so it follows their answers
/// (the Orders pane lists only the refusals of what it sent).
struct Person {
    ui: UiState,
}

impl Person {
    fn new() -> Self {
        Person { ui: UiState::new(UiConfig { layout: "account".into(), ..UiConfig::default() }) }
    }

    /// Types `:line` and Enter; the request the UI sends.
    fn type_line(&mut self, snap: &Snapshot, line: &str) -> TradeRequest {
        update(&mut self.ui, Action::OpenCommandLine, snap);
        for c in line.chars() {
            update(&mut self.ui, Action::InsertChar(c), snap);
        }
        match update(&mut self.ui, Action::Submit, snap).as_slice() {
            [UiCommand::Trade(r)] => r.clone(),
            other => panic!("{line}: {other:?}"),
        }
    }

    /// The screen at 200x60 after reading `snap`.
    fn screen(&mut self, snap: &Snapshot) -> String {
        ui_screen(&mut self.ui, snap)
    }
}

/// `ui`'s screen over `snap`, leaving `ui` as it was (for a wait's condition).
fn person_screen(ui: &UiState, snap: &Snapshot) -> String {
    ui_screen(&mut ui.clone(), snap)
}

fn reply_to(s: &Snapshot, id: hoga::bus::CorrelationId) -> Option<Outcome> {
    s.account.replies.iter().rev().find(|r| r.id == id).map(|r| r.outcome.clone())
}

/// Sends `line` until the manager takes it (it refuses orders while it reconciles at
/// start) and returns its id and first answer (`Accepted`: journaled, being sent).
async fn send(
    core: &Core,
    snaps: &mut tokio::sync::watch::Receiver<std::sync::Arc<Snapshot>>,
    person: &mut Person,
    line: &str,
) -> (hoga::bus::CorrelationId, Outcome) {
    loop {
        let now = snaps.borrow().clone();
        let b = person.type_line(&now, line);
        core.commands.send(UiCommand::Trade(b.clone())).unwrap();
        let s = snapshot_until(snaps, deadline_30s(), "the order answered", |s| reply_to(s, b.id).is_some())
            .await;
        match reply_to(&s, b.id) {
            Some(Outcome::Denied(why)) if why.contains("reconciliation") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Some(o) => return (b.id, o),
            None => unreachable!(),
        }
    }
}

/// Sends `line` and returns the exchange's refusal of it: the second answer to the
/// request, which the screen shows as its reply and as an alert.
async fn refusal(
    core: &Core,
    snaps: &mut tokio::sync::watch::Receiver<std::sync::Arc<Snapshot>>,
    person: &mut Person,
    line: &str,
) -> (String, std::sync::Arc<Snapshot>) {
    let (id, first) = send(core, snaps, person, line).await;
    assert!(matches!(first, Outcome::Accepted(_) | Outcome::Rejected(_)), "{line}: {first:?}");
    let s = snapshot_until(snaps, deadline_30s(), "the refusal", |s| {
        matches!(reply_to(s, id), Some(Outcome::Rejected(_)))
    })
    .await;
    match reply_to(&s, id) {
        Some(Outcome::Rejected(why)) => (why, s),
        other => panic!("{line}: {other:?}"),
    }
}

/// Each account state Upbit names reaches the person as the order's rejection reason
/// (the reply the status line shows, and the Orders pane's refusal row), starting with
/// what to do; none is retried (one create per order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_state_refusals_reach_the_screen_with_the_fix() {
    let (sim_tasks, sim) = still_sim(3, |_| {}).await;
    let (tasks, core) = console_on(&sim).await;
    let mut snaps = core.store.subscribe();
    let mut person = Person::new();
    let cases = [
        (403, "thirdparty_agreement_required", "one-time consent before trading BTC/USDT markets"),
        (400, "invalid_price_bid", "price unit (tick)"),
        (403, "open_api_withdraw_locked", "출금 안심차단"),
        // Last: it halts trading (no order of this account can pass).
        (403, "order_disabled_member", "disabled ordering for this account"),
    ];
    // An order the risk gate denies here is answered `denied` (its reply, the message
    // line, the Orders pane): no alert repeats it as the exchange's `rejected: risk: …`.
    let (_, denied) = send(&core, &mut snaps, &mut person, "buy 900000000krw @ market KRW-BTC").await;
    assert!(matches!(&denied, Outcome::Denied(why) if why.contains("max_notional_per_order")), "{denied:?}");
    for (status, name, fix) in cases {
        let creates =
            sim.requests.entries().iter().filter(|r| r.method == "POST" && r.path == "/v1/orders").count();
        sim.faults.force_error("POST", "/v1/orders", status, name, Some(1));
        let (why, s) = refusal(&core, &mut snaps, &mut person, "buy 10000krw @ market KRW-BTC").await;
        assert!(why.starts_with(name) && why.contains(fix), "{name}: {why}");
        let after =
            sim.requests.entries().iter().filter(|r| r.method == "POST" && r.path == "/v1/orders").count();
        assert_eq!(after, creates + 1, "{name}: sent once, never retried");
        // The Orders pane of the screen that sent it lists the refusal with its reason
        // (its row may come a publish after the reply); the status bar's alert carries
        // the fix.
        let row =
            |text: &str| text.lines().any(|l| l.contains("rejected") && l.contains(name) && !l.contains('⚠'));
        let text = person.screen(&s);
        if !row(&text) {
            let what = format!("{name}'s row in the Orders pane: {text}");
            snapshot_until(&mut snaps, deadline_30s(), &what, |s| row(&person_screen(&person.ui, s))).await;
        }
        // (An account that may not order also halts trading; that alarm carries it too.)
        snapshot_until(&mut snaps, deadline_30s(), "the refusal's alert", |s| {
            s.system.alerts.iter().any(|a| a.message.contains(name) && a.message.contains(fix))
        })
        .await;
    }
    let s = snapshot_until(&mut snaps, deadline_30s(), "HALTED", |s| {
        s.account.trading_state == TradingState::Halted
    })
    .await;
    // (The exchange's refusals came after the denial, so its alert would be there by now.)
    let repeated: Vec<&str> = s
        .system
        .alerts
        .iter()
        .map(|a| a.message.as_str())
        .filter(|m| m.contains("max_notional_per_order"))
        .collect();
    assert!(repeated.is_empty(), "a denial alerted as a rejection: {repeated:?}");
    tasks.cancel_all();
    sim_tasks.cancel_all();
}

/// Without the one-time consent, the simulator refuses BTC / USDT market orders as Upbit
/// does, and KRW markets trade as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_consent_btc_market_orders_are_refused_with_the_fix() {
    let (sim_tasks, sim) = still_sim(3, |c| c.thirdparty_agreed = false).await;
    let (tasks, core) = console_on(&sim).await;
    let mut snaps = core.store.subscribe();
    let mut person = Person::new();
    let (why, _) = refusal(&core, &mut snaps, &mut person, "buy 0.0001btc @ market BTC-ETH").await;
    assert!(
        why.starts_with("thirdparty_agreement_required") && why.contains("accept it on upbit.com"),
        "{why}"
    );
    let (_, first) = send(&core, &mut snaps, &mut person, "buy 10000krw @ market KRW-BTC").await;
    assert!(matches!(first, Outcome::Accepted(_)), "{first:?}");
    tasks.cancel_all();
    sim_tasks.cancel_all();
}
