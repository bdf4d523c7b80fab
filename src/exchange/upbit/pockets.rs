//! Upbit pockets (since 2026-06-01): the main pocket and user-made sub-pockets of one
//! account, each with its own balances and API keys. Wire types, the REST calls, and what
//! the console knows about them ([`PocketsView`]).
//!
//! A key belongs to exactly one pocket; `/v1/accounts` and orders act on it. Only a
//! main-pocket key with the 포켓관리 (pocket management) permission can list pockets, read a
//! sub-pocket's balances and move assets between any two pockets. Any other key gets
//! `out_of_scope` there: that is not a failure but "this key trades one pocket and cannot
//! see the others" ([`PocketsView::unseen`]).
//!
//! The shapes are those of Upbit's official SDK (upbit-sdk 1.1.0, generated from Upbit's
//! API specification): a pocket's `type` is `main` or `user_spot_trading` (a user-made
//! sub-pocket); a sub-pocket's balances come from `GET /v1/pockets/assets`; a main-pocket
//! key moves assets with `POST /v1/pockets/universal_transfers` (`from` optional), a
//! sub-pocket key out of its own pocket with `POST /v1/pockets/transfers` (no `from`).
//! Unknown `type` values are not guessed at. See docs/upbit-protocol.md, "Pockets".

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::exchange::types::Balance;
use crate::exchange::upbit::error::{AuthKind, UpbitError};
use crate::exchange::upbit::limits::Group;
use crate::exchange::upbit::rest::RestClient;
use crate::exchange::upbit::wire::dec_str;

/// `GET /v1/pockets` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WirePocket {
    /// The pocket's UUID (transfers and balance queries name pockets by it).
    pub uuid: String,
    /// The name the user gave it (the main pocket's is Upbit's).
    #[serde(default)]
    pub name: String,
    /// `main` or `user_spot_trading` (a sub-pocket the user made).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// One pocket of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pocket {
    /// UUID.
    pub uuid: String,
    /// Name as shown.
    pub name: String,
    /// The main pocket (deposits and withdrawals, the master key).
    pub main: bool,
}

impl WirePocket {
    fn is_main(&self) -> Option<bool> {
        match self.kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("main") => Some(true),
            // Any other named type is a sub-pocket: `user_spot_trading` today.
            Some(t) if !t.is_empty() => Some(false),
            _ => None,
        }
    }
}

/// The pocket list, each marked main or not. When no item says which is main, a list of
/// one is the main pocket (every account has it); in a longer list none is guessed.
pub fn pockets_of(list: &[WirePocket]) -> Vec<Pocket> {
    let lone = list.len() == 1;
    list.iter()
        .map(|p| Pocket {
            uuid: p.uuid.clone(),
            name: if p.name.trim().is_empty() { short_uuid(&p.uuid) } else { p.name.clone() },
            main: p.is_main().unwrap_or(lone),
        })
        .collect()
}

fn short_uuid(u: &str) -> String {
    u.chars().take(8).collect()
}

/// `GET /v1/pockets/assets` item: the `/v1/accounts` item's fields (and
/// `avg_buy_price_modified`, not used), the average and its unit read leniently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WirePocketAsset {
    /// Currency.
    pub currency: String,
    /// Available.
    #[serde(with = "dec_str")]
    pub balance: Decimal,
    /// Locked by open orders.
    #[serde(with = "dec_str", default)]
    pub locked: Decimal,
    /// Average buy price.
    #[serde(with = "dec_str", default)]
    pub avg_buy_price: Decimal,
    /// Unit of the average.
    #[serde(default)]
    pub unit_currency: String,
}

impl From<&WirePocketAsset> for Balance {
    fn from(a: &WirePocketAsset) -> Balance {
        Balance {
            currency: a.currency.clone(),
            balance: a.balance,
            locked: a.locked,
            avg_buy_price: a.avg_buy_price,
            unit_currency: if a.unit_currency.is_empty() { "KRW".into() } else { a.unit_currency.clone() },
        }
    }
}

/// `GET /v1/pockets/assets` answer: the list (the SDK's shape), or an object holding it.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AssetReply {
    List(Vec<serde_json::Value>),
    Wrapped {
        #[serde(alias = "balances", alias = "accounts")]
        assets: Vec<serde_json::Value>,
    },
}

/// The transfer object: the answer of both transfer calls and the item of both lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireTransfer {
    /// Transfer UUID.
    #[serde(default)]
    pub uuid: Option<String>,
    /// Our identifier, echoed.
    #[serde(default)]
    pub identifier: Option<String>,
    /// Sending pocket UUID.
    #[serde(default)]
    pub from: Option<String>,
    /// Receiving pocket UUID.
    #[serde(default)]
    pub to: Option<String>,
    /// Currency.
    #[serde(default)]
    pub currency: Option<String>,
    /// Amount.
    #[serde(default, with = "dec_str::opt")]
    pub amount: Option<Decimal>,
    /// `submitted`, `processing`, `done` or `failed`.
    #[serde(default)]
    pub state: Option<String>,
    /// When it was asked for.
    #[serde(default)]
    pub created_at: Option<String>,
}

/// A transfer to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRequest {
    /// Sending pocket UUID.
    pub from: String,
    /// Receiving pocket UUID.
    pub to: String,
    /// Currency code.
    pub currency: String,
    /// Amount, as typed (never rounded).
    pub amount: Decimal,
    /// Single-use identifier (1–64 of `[A-Za-z0-9_.-]`).
    pub identifier: String,
}

/// A fresh transfer identifier: Upbit accepts each once, failed or not.
pub fn new_transfer_identifier() -> String {
    format!("hoga-transfer-{}", uuid::Uuid::new_v4().simple())
}

/// What the console knows about the key's pockets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PocketsView {
    /// Every pocket of the account, main first (empty when the key cannot list them).
    pub pockets: Vec<Pocket>,
    /// The pocket this key trades, when known.
    pub trading: Option<Pocket>,
    /// Whether the key may move assets between pockets (a main key with 포켓관리).
    pub can_transfer: bool,
    /// Why not, or what is not known, for the System pane and `:transfer`.
    pub note: Option<String>,
}

/// The pockets as the screen shows them: what the key sees of them, and the balances of
/// each pocket other than the traded one (by UUID; the traded pocket's are the account's).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PocketsState {
    /// What the key sees.
    pub view: PocketsView,
    /// Other pockets' balances, by UUID (absent: not loaded).
    pub balances: std::collections::BTreeMap<String, Vec<Balance>>,
}

/// The label of a pocket the key cannot name.
pub const UNSEEN_POCKET: &str = "this key's pocket";

impl PocketsView {
    /// A key that cannot list pockets: it trades one pocket (the one its `/v1/accounts`
    /// shows) and sees no other.
    pub fn unseen() -> Self {
        PocketsView {
            note: Some(
                "this key cannot list pockets (out_of_scope: a sub-pocket key, or a main-pocket key without \
                 the 포켓관리 pocket-management permission): it trades its own pocket and sees no other; \
                 transfers need a main-pocket key with 포켓관리"
                    .into(),
            ),
            ..PocketsView::default()
        }
    }

    /// The name shown for the traded pocket.
    pub fn trading_label(&self) -> String {
        self.trading.as_ref().map_or_else(|| UNSEEN_POCKET.to_string(), |p| p.name.clone())
    }

    /// A pocket by name, unique name prefix, UUID or unique UUID prefix (case-insensitive);
    /// an error that says which pockets there are when none or several match. Two pockets
    /// may share a name: that name is refused as ambiguous rather than one of them picked,
    /// and the error shows each with the start of its UUID to type instead.
    pub fn resolve(&self, what: &str) -> Result<&Pocket, String> {
        let w = what.trim().to_lowercase();
        if let Some(p) = self.pockets.iter().find(|p| p.uuid.to_lowercase() == w) {
            return Ok(p);
        }
        let named: Vec<&Pocket> = self.pockets.iter().filter(|p| p.name.to_lowercase() == w).collect();
        match named.as_slice() {
            [one] => return Ok(one),
            [] => {}
            many => {
                return Err(format!(
                    "{} pockets are named {what} ({}): name one by the start of its uuid",
                    many.len(),
                    self.labels(many)
                ));
            }
        }
        let hits: Vec<&Pocket> = self
            .pockets
            .iter()
            .filter(|p| {
                !w.is_empty()
                    && (p.name.to_lowercase().starts_with(&w) || p.uuid.to_lowercase().starts_with(&w))
            })
            .collect();
        match hits.as_slice() {
            [one] => Ok(one),
            [] => Err(format!(
                "no pocket named {what} (pockets: {})",
                self.labels(&self.pockets.iter().collect::<Vec<_>>())
            )),
            many => Err(format!(
                "{what} matches {} pockets ({}): type more of the name",
                many.len(),
                self.labels(many)
            )),
        }
    }

    /// A pocket as a message names it: its name, and when another pocket has the same name
    /// also the start of its UUID (as much as tells them apart, at least 8 characters), so
    /// a confirmation never reads the same for two different pockets.
    pub fn label(&self, p: &Pocket) -> String {
        let twins: Vec<&Pocket> = self
            .pockets
            .iter()
            .filter(|o| o.uuid != p.uuid && o.name.to_lowercase() == p.name.to_lowercase())
            .collect();
        if twins.is_empty() {
            return p.name.clone();
        }
        let total = p.uuid.chars().count();
        let mut n = 8.min(total);
        let prefix = |n: usize| p.uuid.chars().take(n).collect::<String>().to_lowercase();
        while n < total && twins.iter().any(|o| o.uuid.to_lowercase().starts_with(&prefix(n))) {
            n += 1;
        }
        format!("{} ({})", p.name, p.uuid.chars().take(n).collect::<String>())
    }

    fn labels(&self, list: &[&Pocket]) -> String {
        list.iter().map(|p| self.label(p)).collect::<Vec<_>>().join(", ")
    }
}

/// Decimals an amount of `currency` may be moved between pockets with: whole won for KRW
/// (the won has no smaller unit), and a coin's volume precision (8, as an order's volume).
/// Upbit's transfer pages state no precision; more decimals than the currency has would
/// be refused or rounded there, and a transfer must move exactly the amount confirmed.
pub fn transfer_decimals(currency: &str) -> u32 {
    if currency.eq_ignore_ascii_case("KRW") { 0 } else { super::ticks::VOLUME_SCALE }
}

/// Refuses a transfer amount with more decimals than its currency has (see
/// [`transfer_decimals`]), saying how many it may have.
pub fn check_transfer_precision(amount: Decimal, currency: &str) -> Result<(), String> {
    let dp = transfer_decimals(currency);
    if amount.normalize().scale() <= dp {
        return Ok(());
    }
    let typed = crate::exchange::display::quantity(amount);
    Err(if dp == 0 {
        format!("{typed} {currency} is not a whole number of won: KRW moves in whole won")
    } else {
        format!("{typed} {currency} has more than {dp} decimals: {currency} moves in at most {dp}")
    })
}

fn pair(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

impl RestClient {
    /// `GET /v1/pockets` (main-pocket key with 포켓관리).
    pub async fn pockets(&self) -> Result<Vec<Pocket>, UpbitError> {
        let list: Vec<WirePocket> = self.get("/pockets", Group::Default, vec![], true).await?;
        Ok(pockets_of(&list))
    }

    /// `GET /v1/pockets/assets?uuid=…`: a sub-pocket's balances. Decoded item by item like
    /// `/v1/accounts` (an item that does not decode is left out).
    pub async fn pocket_balances(&self, uuid: &str) -> Result<Vec<Balance>, UpbitError> {
        let reply: AssetReply =
            self.get("/pockets/assets", Group::Default, vec![pair("uuid", uuid)], true).await?;
        let raw = match reply {
            AssetReply::List(l) | AssetReply::Wrapped { assets: l } => l,
        };
        Ok(raw
            .iter()
            .filter_map(|r| WirePocketAsset::deserialize(r).ok())
            .map(|a| Balance::from(&a))
            .filter(|b| b.check().is_ok())
            .collect())
    }

    /// `POST /v1/pockets/universal_transfers`: a main-pocket key moves assets between any
    /// two pockets (`from` named). Sent once: a lost answer is an unknown outcome, looked
    /// up by the identifier, never resent.
    pub async fn transfer(&self, t: &TransferRequest) -> Result<WireTransfer, UpbitError> {
        let body = vec![
            pair("from", t.from.as_str()),
            pair("to", t.to.as_str()),
            pair("currency", t.currency.as_str()),
            pair("amount", t.amount.normalize().to_string()),
            pair("identifier", t.identifier.as_str()),
        ];
        self.post_once("/pockets/universal_transfers", Group::Default, body).await
    }

    /// `POST /v1/pockets/transfers`: a sub-pocket key (자산이전) moves assets out of its own
    /// pocket; the body names no `from` (`t.from` is not sent). Sent once, as
    /// [`RestClient::transfer`].
    pub async fn transfer_out(&self, t: &TransferRequest) -> Result<WireTransfer, UpbitError> {
        let body = vec![
            pair("to", t.to.as_str()),
            pair("currency", t.currency.as_str()),
            pair("amount", t.amount.normalize().to_string()),
            pair("identifier", t.identifier.as_str()),
        ];
        self.post_once("/pockets/transfers", Group::Default, body).await
    }

    /// What this key can see of its pockets: the list (a main key with 포켓관리), or
    /// [`PocketsView::unseen`] when it may not list them. Attributes the key's exchange
    /// budget to its pocket either way. Other failures (network, a ban) are errors: the
    /// caller tries again later.
    pub async fn pockets_view(&self) -> Result<PocketsView, UpbitError> {
        let view = match self.pockets().await {
            Ok(pockets) => {
                // Only a main-pocket key can list pockets: it trades the main one.
                let trading = pockets.iter().find(|p| p.main).cloned();
                let mut pockets = pockets;
                pockets.sort_by_key(|p| !p.main);
                let note = if trading.is_none() {
                    Some("the pocket list names no main pocket".to_string())
                } else if pockets.len() < 2 {
                    Some("the account has one pocket: there is nothing to transfer between".to_string())
                } else {
                    None
                };
                PocketsView { note, can_transfer: trading.is_some() && pockets.len() > 1, trading, pockets }
            }
            Err(UpbitError::Auth { kind: AuthKind::OutOfScope, .. }) => PocketsView::unseen(),
            Err(e) => return Err(e),
        };
        self.attribute_pocket(view.trading.as_ref().map(|p| p.uuid.as_str()), &view.trading_label());
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    // The shapes below are Upbit's official SDK's, upbit-sdk 1.1.0
    // (upbit/types/pocket.py, pocket_balance.py, pocket_transfer.py,
    // pocket_transfer_state.py, pocket_type.py); the SDK ships no example JSON.

    #[test]
    fn pocket_lists_decode_with_the_sdk_types() {
        let json = r#"[
            {"uuid":"9ca023a5-851b-4fec-9f0a-48cd83c2eaae","name":"메인포켓","type":"main"},
            {"uuid":"1b2c3d4e-0000-4000-8000-000000000001","name":"savings","type":"user_spot_trading"},
            {"uuid":"1b2c3d4e-0000-4000-8000-000000000002","name":"","type":"user_spot_trading"}
        ]"#;
        let list: Vec<WirePocket> = serde_json::from_str(json).unwrap();
        let p = pockets_of(&list);
        assert_eq!(p.iter().map(|p| p.main).collect::<Vec<_>>(), [true, false, false]);
        assert_eq!(p[0].name, "메인포켓");
        assert_eq!(p[2].name, "1b2c3d4e", "a pocket without a name shows its UUID's start");
        // A sub-pocket type Upbit adds later is still not the main pocket.
        let later: Vec<WirePocket> = serde_json::from_str(
            r#"[{"uuid":"a","name":"x","type":"main"},{"uuid":"b","name":"y","type":"user_margin"}]"#,
        )
        .unwrap();
        assert_eq!(pockets_of(&later).iter().map(|p| p.main).collect::<Vec<_>>(), [true, false]);
        // A lone sub-pocket is still a sub-pocket.
        let lone: Vec<WirePocket> =
            serde_json::from_str(r#"[{"uuid":"b","name":"y","type":"user_spot_trading"}]"#).unwrap();
        assert!(!pockets_of(&lone)[0].main);
        // A list of one with no type is the main pocket; two untyped ones are not guessed.
        let one: Vec<WirePocket> = serde_json::from_str(r#"[{"uuid":"a","name":"x"}]"#).unwrap();
        assert!(pockets_of(&one)[0].main);
        let two: Vec<WirePocket> =
            serde_json::from_str(r#"[{"uuid":"a","name":"x"},{"uuid":"b","name":"y"}]"#).unwrap();
        assert!(pockets_of(&two).iter().all(|p| !p.main));
    }

    #[test]
    fn sub_pocket_balances_decode_with_the_sdk_fields() {
        let json = r#"[
            {"currency":"KRW","balance":"1000000.0","locked":"0.0","avg_buy_price":"0","avg_buy_price_modified":false,"unit_currency":"KRW"},
            {"currency":"XRP","balance":"10.00","locked":"0","avg_buy_price":"812.5","avg_buy_price_modified":true,"unit_currency":"KRW"}
        ]"#;
        let AssetReply::List(raw) = serde_json::from_str::<AssetReply>(json).unwrap() else { panic!() };
        let b: Vec<Balance> =
            raw.iter().map(|r| Balance::from(&WirePocketAsset::deserialize(r).unwrap())).collect();
        assert_eq!(b[0].balance, dec!(1000000));
        assert_eq!(
            (b[1].currency.as_str(), b[1].balance, b[1].avg_buy_price, b[1].unit_currency.as_str()),
            ("XRP", dec!(10), dec!(812.5), "KRW")
        );
    }

    #[test]
    fn transfers_decode_with_the_sdk_states() {
        let json = r#"{"uuid":"t-1","identifier":null,"from":"a","to":"b",
            "currency":"XRP","amount":"10.00","state":"submitted","created_at":"2026-06-01T10:00:00+09:00"}"#;
        let t: WireTransfer = serde_json::from_str(json).unwrap();
        assert_eq!((t.amount, t.state.as_deref(), t.identifier), (Some(dec!(10)), Some("submitted"), None));
        for s in ["submitted", "processing", "done", "failed"] {
            let t: WireTransfer = serde_json::from_str(&format!(r#"{{"state":"{s}"}}"#)).unwrap();
            assert_eq!(t.state.as_deref(), Some(s));
        }
        let id = new_transfer_identifier();
        assert!(id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)));
    }

    #[test]
    fn pockets_resolve_by_name_prefix_or_uuid() {
        let v = PocketsView {
            pockets: vec![
                Pocket { uuid: "u-main".into(), name: "main".into(), main: true },
                Pocket { uuid: "u-sav".into(), name: "savings".into(), main: false },
                Pocket { uuid: "u-scalp".into(), name: "scalp".into(), main: false },
            ],
            ..PocketsView::default()
        };
        assert_eq!(v.resolve("sav").unwrap().uuid, "u-sav");
        assert_eq!(v.resolve("MAIN").unwrap().uuid, "u-main");
        assert_eq!(v.resolve("u-scalp").unwrap().name, "scalp");
        assert!(v.resolve("s").unwrap_err().contains("matches 2 pockets"));
        assert!(v.resolve("nope").unwrap_err().contains("pockets: main, savings, scalp"));
        assert_eq!(PocketsView::unseen().trading_label(), UNSEEN_POCKET);
    }

    #[test]
    fn two_pockets_of_one_name_are_refused_as_ambiguous_and_told_apart_by_uuid() {
        let v = PocketsView {
            pockets: vec![
                Pocket { uuid: "5f0c2a4e-0001".into(), name: "main".into(), main: true },
                Pocket { uuid: "5f0c2a4e-0002".into(), name: "savings".into(), main: false },
                Pocket { uuid: "5f0c2a4e-0003".into(), name: "Savings".into(), main: false },
            ],
            ..PocketsView::default()
        };
        let e = v.resolve("savings").unwrap_err();
        assert!(e.contains("2 pockets are named savings"), "{e}");
        assert!(e.contains("savings (5f0c2a4e-0002), Savings (5f0c2a4e-0003)"), "{e}");
        assert!(v.resolve("sav").unwrap_err().contains("matches 2 pockets"));
        // The start of a UUID names one; the label tells them apart, a unique name stays bare.
        let p = v.resolve("5f0c2a4e-0003").unwrap();
        assert_eq!(v.label(p), "Savings (5f0c2a4e-0003)");
        assert_eq!(v.label(v.resolve("main").unwrap()), "main");
    }

    #[test]
    fn transfer_amounts_have_at_most_the_currency_s_decimals() {
        use rust_decimal_macros::dec;
        assert!(check_transfer_precision(dec!(100000), "KRW").is_ok());
        assert!(check_transfer_precision(dec!(100000.00), "KRW").is_ok());
        let e = check_transfer_precision(dec!(1000.5), "KRW").unwrap_err();
        assert_eq!(e, "1,000.5 KRW is not a whole number of won: KRW moves in whole won");
        assert!(check_transfer_precision(dec!(0.00000001), "BTC").is_ok());
        let e = check_transfer_precision(dec!(0.0000000000000000000000000001), "BTC").unwrap_err();
        assert_eq!(e, "0.0000000000000000000000000001 BTC has more than 8 decimals: BTC moves in at most 8");
    }
}
