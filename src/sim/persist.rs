//! The demo account on disk ([`SimConfig::state_file`]): balances, open orders and the
//! newest finished ones, so a demo session survives a restart.
//!
//! The file is written whole (temporary file, then rename; 0600) after every change of the
//! account, before the change is told to anyone (the reply to a create, the private
//! websocket's myOrder / myAsset): whatever a client has heard of is on disk, so a process
//! killed at any moment restarts with an account at least as new as what its journal knows.
//! A file that cannot be read stops the simulator's start ([`super::SimError::Account`]),
//! and is left where it is: starting afresh under a journal that holds the old account's
//! orders and fills would show a trader numbers that are not theirs. `hoga --demo --fresh`
//! moves the whole session aside.
//!
//! The file also keeps the demo market's last prices (and each market's volatility and
//! day: open, range, previous close), so a restarted simulator walks on from where the
//! market was rather than from the seed's prices (a resting limit order would otherwise
//! fill at once on restart) and its 24 h change goes on, and each market's anchor (the
//! first session's path), so the past drawn before that session is drawn the same after a
//! restart. They are
//! written with every change of the account and every few seconds while prices move.
//!
//! The sub-pockets' balances and the transfer history are in it too (a transfer changes
//! two pockets: both sides are in the same write), and so is how far the demo's scripted
//! news has got, so a resumed session keeps its listed market and its warnings and goes
//! on with the rest of the story instead of telling it again. A file of an older hoga
//! without them loads as before: the sub-pockets start with their demo balances and the
//! story from its beginning.
//!
//! [`SimConfig::state_file`]: super::SimConfig::state_file

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::matching::{Holding, SimOrder};
use super::pockets::TransferRecord;

/// Format version of the file.
pub(crate) const VERSION: u32 = 1;

/// Finished orders kept in the file (besides every open one).
pub(crate) const CLOSED_KEPT: usize = 500;

/// What the state file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SavedAccount {
    /// [`VERSION`].
    pub version: u32,
    /// Balances by currency.
    pub holdings: BTreeMap<String, Holding>,
    /// Orders in creation order.
    pub orders: Vec<SimOrder>,
    /// The exchange's id counter.
    pub next_id: u64,
    /// The market's last prices by market code (none in a file of an older hoga: the
    /// seed's prices then).
    #[serde(default)]
    pub market: BTreeMap<String, SavedMarket>,
    /// The sub-pockets (none in a file of an older hoga: their demo balances then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pockets: Option<SavedPockets>,
    /// How far the scripted news got (none in a file of an older hoga, or of a session
    /// without the story: it starts from its beginning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story: Option<SavedStory>,
}

/// The sub-pockets as the state file keeps them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct SavedPockets {
    /// Balances by pocket UUID, then currency.
    pub balances: BTreeMap<String, BTreeMap<String, Holding>>,
    /// The newest transfers, oldest first (what the transfer lists serve).
    #[serde(default)]
    pub transfers: Vec<TransferRecord>,
    /// Every transfer identifier used (single-use, failed transfers' too).
    #[serde(default)]
    pub identifiers: Vec<String>,
    /// The transfer id counter.
    #[serde(default)]
    pub next: u64,
}

/// One step of the scripted news.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StoryStep {
    /// The new listing.
    Listing,
    /// The 유의 designation.
    Warning,
    /// The 주의 flag.
    Caution,
    /// The warning's notice updated.
    Update,
}

/// How far the scripted news got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SavedStory {
    /// The story's clock when saved (ms since it began): a resumed story goes on from here.
    pub elapsed_ms: i64,
    /// The steps that happened.
    pub done: Vec<StoryStep>,
    /// What notice ids are made from (the first session's start).
    pub id_base: i64,
    /// Notices published so far (the next id's counter).
    pub notices: u64,
    /// The market listed, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed: Option<SavedListing>,
    /// The market warned, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warned: Option<SavedWarning>,
}

/// A market the story listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SavedListing {
    /// Its code.
    pub market: String,
    /// Its Korean name.
    pub korean_name: String,
    /// Its English name.
    pub english_name: String,
    /// Its listing price.
    pub price: rust_decimal::Decimal,
    /// When it was listed (ms).
    pub at: i64,
}

/// The market the story warned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SavedWarning {
    /// Its code.
    pub market: String,
    /// Its Korean name.
    pub korean_name: String,
    /// The warning notice's id (its update names it).
    pub notice: String,
}

/// Where one market of the demo market stood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SavedMarket {
    /// The last trade price.
    pub price: rust_decimal::Decimal,
    /// The market's activity level then (the multiplier of its volatility and trade
    /// rate; state files of older versions kept a per-step volatility here).
    pub vol: f64,
    /// The day's statistics then (none in a file of an older hoga): a restart within the
    /// same UTC day carries on the day's open, range and previous close, so the 24 h
    /// change goes on from where it was rather than from zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<SavedDay>,
    /// What the market's drawn past is made from (none in a file of an older hoga: the
    /// past is then drawn afresh, once, and kept from then on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<SavedAnchor>,
}

/// The price path a market's past was first drawn from: a restart draws the same past
/// before `start` from it, so candles shown before a restart come back the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SavedAnchor {
    /// Where the path ends (ms): the first session's start.
    pub start: i64,
    /// The price there.
    pub price: rust_decimal::Decimal,
    /// The path's hash key.
    pub key: u64,
    /// A second point the path passes through (ms, price), if it was pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<(i64, rust_decimal::Decimal)>,
}

/// One market's day (UTC, as the exchange resets it) as the state file keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SavedDay {
    /// The day's start (ms, UTC midnight).
    pub start: i64,
    /// The day's first trade price.
    pub open: rust_decimal::Decimal,
    /// The day's high.
    pub high: rust_decimal::Decimal,
    /// The day's low.
    pub low: rust_decimal::Decimal,
    /// The day before's close.
    pub prev_close: rust_decimal::Decimal,
}

/// What the simulator found in its state file at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateAtStart {
    /// No state file: the account is forgotten on exit.
    NotKept,
    /// No file yet: the starting account (it is kept from now on).
    Fresh,
    /// The saved account, with this many open orders.
    Resumed {
        /// Open orders restored.
        open_orders: usize,
    },
}

/// Reads the state file: None when there is none.
pub(crate) fn load(path: &Path) -> Result<Option<SavedAccount>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let saved: SavedAccount = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not a demo account ({e})", path.display()))?;
    if saved.version != VERSION {
        return Err(format!(
            "{}: format version {} (this hoga reads {VERSION})",
            path.display(),
            saved.version
        ));
    }
    // A balance below zero is not an account the exchange could hold: the file was
    // edited or damaged, and starting on it would show numbers no trade made.
    let pockets = saved.pockets.iter().flat_map(|p| p.balances.values());
    for (currency, h) in std::iter::once(&saved.holdings).chain(pockets).flatten() {
        for (what, v) in [("balance", h.balance), ("locked", h.locked), ("avg_buy_price", h.avg_buy_price)] {
            if v < rust_decimal::Decimal::ZERO {
                return Err(format!(
                    "{}: not a demo account ({currency} {what} is {v}: never negative)",
                    path.display()
                ));
            }
        }
    }
    Ok(Some(saved))
}

/// Writes the state file.
pub(crate) fn save(path: &Path, account: &SavedAccount) -> std::io::Result<()> {
    let json = serde_json::to_vec(account).map_err(std::io::Error::other)?;
    crate::datadir::write_atomic(path, &json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::types::OrderState;
    use crate::sim::matching::{BookView, Exchange, NewOrder};
    use rust_decimal_macros::dec;

    fn exchange() -> Exchange {
        let mut h = BTreeMap::new();
        h.insert("KRW".to_string(), Holding { balance: dec!(10000000), ..Default::default() });
        Exchange::new(["KRW-BTC".to_string()], h, 7)
    }

    fn bid(price: &str, id: &str) -> NewOrder {
        NewOrder {
            market: "KRW-BTC".into(),
            side: "bid".into(),
            volume: Some("0.001".into()),
            price: Some(price.into()),
            ord_type: "limit".into(),
            identifier: Some(id.into()),
            ..NewOrder::default()
        }
    }

    #[test]
    fn an_account_with_open_orders_round_trips_exactly_and_ids_never_repeat() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo-account.json");
        let mut x = exchange();
        let (mut asks, mut bids) = (vec![(dec!(150000000), dec!(1))], vec![(dec!(149000000), dec!(1))]);
        let open = x.place(&bid("140000000", "a"), BookView { asks: &mut asks, bids: &mut bids }, 1).unwrap();
        x.place(&bid("141000000", "b"), BookView { asks: &mut asks, bids: &mut bids }, 2).unwrap();
        x.cancel(None, Some("b"), 3).unwrap();
        save(&path, &x.saved(CLOSED_KEPT)).unwrap();

        let mut y = exchange();
        y.restore(load(&path).unwrap().unwrap());
        assert_eq!(y.accounts(), x.accounts());
        assert_eq!(y.open_orders(), 1);
        assert_eq!(y.find(Some(&open.uuid), None).unwrap(), x.find(Some(&open.uuid), None).unwrap());
        assert_eq!(y.find(None, Some("b")).unwrap().state, OrderState::Cancel);
        // A used identifier stays used; a new order gets an id never seen before.
        assert!(y.place(&bid("140000000", "a"), BookView { asks: &mut asks, bids: &mut bids }, 4).is_err());
        let c = y.place(&bid("140000000", "c"), BookView { asks: &mut asks, bids: &mut bids }, 5).unwrap();
        assert!(x.find(Some(&c.uuid), None).is_err());
        assert_ne!(c.uuid, open.uuid);
    }

    #[test]
    fn only_the_newest_finished_orders_are_kept() {
        let mut x = exchange();
        let (mut asks, mut bids) = (vec![(dec!(150000000), dec!(1))], vec![(dec!(149000000), dec!(1))]);
        for i in 0..5 {
            x.place(&bid("140000000", &format!("o{i}")), BookView { asks: &mut asks, bids: &mut bids }, i)
                .unwrap();
            if i < 4 {
                x.cancel(None, Some(&format!("o{i}")), i).unwrap();
            }
        }
        let kept: Vec<_> = x.saved(2).orders.into_iter().map(|o| o.identifier.unwrap()).collect();
        assert_eq!(kept, ["o2", "o3", "o4"]);
    }

    #[test]
    fn a_file_of_another_version_or_garbage_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo-account.json");
        assert_eq!(load(&path).unwrap(), None);
        std::fs::write(&path, b"{\"version\":").unwrap();
        assert!(load(&path).unwrap_err().contains("not a demo account"));
        std::fs::write(&path, b"{\"version\":9,\"holdings\":{},\"orders\":[],\"next_id\":0}").unwrap();
        assert!(load(&path).unwrap_err().contains("version 9"));
    }

    /// A file that parses but holds a negative balance is refused like a damaged one,
    /// with the reason: the simulator never starts on an account no trade could make.
    #[test]
    fn a_negative_balance_or_locked_amount_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo-account.json");
        let file = |krw: &str| {
            format!("{{\"version\":1,\"holdings\":{{\"KRW\":{krw}}},\"orders\":[],\"next_id\":0}}")
        };
        std::fs::write(&path, file(r#"{"balance":"1000","locked":"0","avg_buy_price":"0"}"#)).unwrap();
        assert!(load(&path).unwrap().is_some(), "a sound account loads");
        std::fs::write(&path, file(r#"{"balance":"-1000","locked":"0","avg_buy_price":"0"}"#)).unwrap();
        let why = load(&path).unwrap_err();
        assert!(why.contains("not a demo account") && why.contains("KRW balance is -1000"), "{why}");
        std::fs::write(&path, file(r#"{"balance":"0","locked":"-0.5","avg_buy_price":"0"}"#)).unwrap();
        assert!(load(&path).unwrap_err().contains("KRW locked is -0.5"));
    }

    /// A file of an older hoga (no pockets, no story) loads as before; a sub-pocket's
    /// negative balance is refused like the main pocket's.
    #[test]
    fn an_older_file_loads_and_a_pocket_never_holds_less_than_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo-account.json");
        std::fs::write(&path, br#"{"version":1,"holdings":{},"orders":[],"next_id":0}"#).unwrap();
        let old = load(&path).unwrap().unwrap();
        assert_eq!((old.pockets, old.story), (None, None));
        let pocket = r#"{"version":1,"holdings":{},"orders":[],"next_id":0,"pockets":{"balances":{"p":{"KRW":{"balance":"-5","locked":"0","avg_buy_price":"0"}}}}}"#;
        std::fs::write(&path, pocket).unwrap();
        assert!(load(&path).unwrap_err().contains("KRW balance is -5"));
    }
}
