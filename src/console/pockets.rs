//! Pockets in the console: which pocket the key trades and the other pockets' balances,
//! loaded at start, every [`EVERY`] and after a transfer, into the store (the Portfolio
//! pane shows them); and `:transfer`, carried out here as a request of the Trading lane.
//!
//! A key that may not list pockets (`out_of_scope`: a sub-pocket key, or a main-pocket
//! key without 포켓관리) is not a failure: it trades its own pocket and sees no other, and
//! `:transfer` says so. Paper mode has no pockets (its balances are the paper engine's).

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio::sync::Notify;

use crate::bus::Bus;
use crate::exchange::upbit::error::UpbitError;
use crate::exchange::upbit::pockets::{PocketsState, TransferRequest, new_transfer_identifier};
use crate::exchange::upbit::rest::RestClient;
use crate::kernel::{OnFailure, TaskManager};
use crate::store::{StoreEvent, StoreHandle};
use crate::trading::intent::{Outcome, PocketTransfer, TradeIntent, TradeReply};

use super::event::AppEvent;

/// How often the pockets are read again.
pub const EVERY: Duration = Duration::from_secs(60);

/// How soon pockets that could not be read (network, a ban) are tried again.
pub const RETRY: Duration = Duration::from_secs(15);

/// Asks every account pump of the process to read the balances again from REST (after a
/// transfer: a venue that sends no `myAsset` for it would leave them stale). One console
/// per process is the rule; a second one (tests) only pays one extra read.
pub(crate) fn balances_stale() -> &'static Notify {
    static STALE: LazyLock<Notify> = LazyLock::new(Notify::new);
    &STALE
}

/// Loads the pockets into the store and answers `:transfer` requests. `rest`: the
/// account's client (`None` in paper mode, where transfers are refused with the reason).
pub fn start(tasks: &TaskManager, bus: &Bus<AppEvent>, rest: Option<Arc<RestClient>>, store: StoreHandle) {
    let refresh = Arc::new(Notify::new());
    if let Some(rest) = rest.clone().filter(|r| r.has_credentials()) {
        let (store, refresh) = (store.clone(), refresh.clone());
        tasks.spawn_supervised("console", "pockets", OnFailure::restart(), move |cancel| {
            let (rest, store, refresh) = (rest.clone(), store.clone(), refresh.clone());
            async move {
                loop {
                    let wait = match load(&rest).await {
                        Ok(state) => {
                            store.send(StoreEvent::PocketsUpdated(state)).await?;
                            EVERY
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "pockets not loaded; trying again");
                            RETRY
                        }
                    };
                    tokio::select! {
                        biased;
                        _ = cancel.cancelled() => return Ok(()),
                        _ = refresh.notified() => {}
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        });
    }
    let bus_out = bus.clone();
    bus.subscribe(
        "pocket-desk",
        |env| matches!(&env.payload, AppEvent::Trade(r) if matches!(r.intent, TradeIntent::Transfer(_))),
        move |env| {
            let (rest, bus, refresh) = (rest.clone(), bus_out.clone(), refresh.clone());
            async move {
                let AppEvent::Trade(req) = &env.payload else { return Ok(()) };
                let TradeIntent::Transfer(t) = &req.intent else { return Ok(()) };
                let outcome = transfer(rest.as_deref(), t).await;
                if matches!(outcome, Outcome::Accepted(_)) {
                    refresh.notify_one();
                    balances_stale().notify_waiters();
                }
                let reply = TradeReply { id: req.id, to: req.from, what: req.intent.summary(), outcome };
                if let Err(e) = bus.publish_follow_up(Some(&*env), "pocket-desk", AppEvent::Reply(reply)) {
                    tracing::warn!(error = %e, "transfer reply not delivered");
                }
                Ok(())
            }
        },
    );
}

/// What the key sees of its pockets, and each other pocket's balances (when it may read
/// them). A sub-pocket whose balances cannot be read is left out (its row says so).
async fn load(rest: &RestClient) -> Result<PocketsState, UpbitError> {
    let view = rest.pockets_view().await?;
    let mut state = PocketsState { view, ..PocketsState::default() };
    if state.view.can_transfer {
        let traded = state.view.trading.as_ref().map(|p| p.uuid.clone());
        for p in state.view.pockets.iter().filter(|p| Some(&p.uuid) != traded.as_ref()) {
            match rest.pocket_balances(&p.uuid).await {
                Ok(b) => {
                    state.balances.insert(p.uuid.clone(), b);
                }
                Err(e) => tracing::warn!(pocket = %p.name, error = %e, "pocket balances not loaded"),
            }
        }
    }
    Ok(state)
}

/// Carries out one transfer: sent once; an answer lost on the way is said as unknown
/// (look at the balances), never resent.
async fn transfer(rest: Option<&RestClient>, t: &PocketTransfer) -> Outcome {
    let Some(rest) = rest else {
        return Outcome::Denied("paper mode: balances are the paper engine's; pockets are not traded".into());
    };
    let req = TransferRequest {
        from: t.from.clone(),
        to: t.to.clone(),
        currency: t.currency.clone(),
        amount: t.amount,
        identifier: new_transfer_identifier(),
    };
    match rest.transfer(&req).await {
        Ok(done) => match done.state.as_deref() {
            Some("failed") => Outcome::Rejected(format!("{} failed at the exchange", t.describe())),
            Some("done") => Outcome::Accepted(format!("moved {}", t.describe())),
            state => Outcome::Accepted(format!(
                "{} submitted ({}): the balances follow when it is done",
                t.describe(),
                state.unwrap_or("no state")
            )),
        },
        Err(UpbitError::UnknownOutcome { .. }) => Outcome::Rejected(format!(
            "no answer to the transfer of {} (identifier {}): it may have happened; check the balances before trying again",
            t.describe(),
            req.identifier
        )),
        Err(UpbitError::Exchange { name, message, .. }) => Outcome::Rejected(format!("{name}: {message}")),
        Err(e) => Outcome::Rejected(e.to_string()),
    }
}
