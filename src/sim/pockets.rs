//! Upbit's pockets (protocol reference, "Pockets"): the demo account's balances are the
//! main pocket's; two sub-pockets hold their own. The pocket endpoints answer as Upbit
//! does (a key without the permission gets `401 out_of_scope`), transfers move balances
//! between pockets atomically under the world lock and are refused above the available
//! amount, and every key is counted against its own pocket's rate limits.
//!
//! Keys: the demo key is the main pocket's, with 포켓관리 (pocket management). The
//! sub-pocket key [`SUB_ACCESS_KEY`] belongs to the `trading` sub-pocket and has 자산조회 and
//! 자산이전 (balances and transfers out of its pocket), not 주문하기: its order calls get
//! `out_of_scope`. Sub-pocket balances, the transfer history and the used identifiers are
//! kept in the state file with the main pocket's ([`super::persist`]), written in one go,
//! so both sides of a transfer survive a restart.

use std::collections::{BTreeMap, HashMap, HashSet};

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::Serialize;

use super::auth::{Authenticator, claimed_access_key};
use super::matching::{Holding, PrivEvent};
use super::server::World;
use crate::exchange::upbit::ticks::{self, Rounding};
use crate::exchange::upbit::wire::ErrorBody;

/// The main pocket's UUID in the simulator.
pub const MAIN_POCKET_UUID: &str = "5f0c2a4e-8d1b-4c3e-9a70-000000000001";
/// The `trading` sub-pocket's UUID.
pub const TRADING_POCKET_UUID: &str = "5f0c2a4e-8d1b-4c3e-9a70-000000000002";
/// The `savings` sub-pocket's UUID.
pub const SAVINGS_POCKET_UUID: &str = "5f0c2a4e-8d1b-4c3e-9a70-000000000003";
/// The `trading` sub-pocket's access key (자산조회, 자산이전).
pub const SUB_ACCESS_KEY: &str = "hoga-sim-sub-access-key";
/// Its secret key.
pub const SUB_SECRET_KEY: &str = "hoga-sim-sub-secret-key";

/// What a key may do, and in which pocket.
#[derive(Debug, Clone)]
struct KeyInfo {
    pocket: String,
    /// 포켓관리 (main pocket only).
    manage: bool,
    /// 자산이전 (sub-pockets only).
    transfer: bool,
    permissions: Vec<&'static str>,
}

#[derive(Debug, Clone)]
struct SubPocket {
    uuid: String,
    name: String,
    holdings: BTreeMap<String, Holding>,
}

/// A transfer as the transfer endpoints serve it (and the state file keeps it).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub(crate) struct TransferRecord {
    uuid: String,
    identifier: Option<String>,
    from: String,
    to: String,
    currency: String,
    amount: String,
    state: String,
    created_at: String,
}

/// Transfers the state file keeps (the newest; the lists serve at most 100 at a time).
const TRANSFERS_KEPT: usize = 1000;

/// The simulator's pockets, keys and transfer history.
#[derive(Debug)]
pub(crate) struct Pockets {
    subs: Vec<SubPocket>,
    keys: HashMap<String, KeyInfo>,
    transfers: Vec<TransferRecord>,
    identifiers: HashSet<String>,
    next: u64,
}

#[derive(Serialize)]
struct WirePocket<'a> {
    uuid: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct WireAsset<'a> {
    currency: &'a str,
    balance: String,
    locked: String,
    avg_buy_price: String,
    avg_buy_price_modified: bool,
    unit_currency: &'static str,
}

#[derive(Serialize)]
struct WireKey<'a> {
    access_key: &'a str,
    permissions: &'a [&'static str],
    allowed_ips: [&'static str; 1],
    created_at: &'static str,
    expired_at: &'static str,
}

#[derive(Serialize)]
struct WireKeys<'a> {
    uuid: &'a str,
    keys: Vec<WireKey<'a>>,
}

/// A reply: status, body, and the private events it caused.
pub(crate) type PocketReply = (u16, Vec<u8>, Vec<PrivEvent>);

fn json<T: Serialize>(status: u16, v: &T) -> PocketReply {
    (status, serde_json::to_vec(v).unwrap_or_default(), Vec::new())
}

fn error(status: u16, name: &str, message: &str) -> PocketReply {
    json(status, &ErrorBody::new(name, message))
}

fn out_of_scope() -> PocketReply {
    error(401, "out_of_scope", "권한이 부족합니다.")
}

fn param<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
    p.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

fn params<'a>(p: &'a [(String, String)], k: &str) -> Vec<&'a str> {
    p.iter()
        .filter(|(key, _)| key == k || key.strip_suffix("[]") == Some(k))
        .map(|(_, v)| v.as_str())
        .collect()
}

fn holding(balance: Decimal) -> Holding {
    Holding { balance, locked: Decimal::ZERO, avg_buy_price: Decimal::ZERO }
}

/// The average cost of `held` at `avg` and `amount` more at `moved_avg`: weighted by the
/// two balances and rounded to the decimals of a KRW price of that size (whole won at BTC's
/// prices), not the 28 digits an exact quotient carries.
fn blend_cost(avg: Decimal, held: Decimal, moved_avg: Decimal, amount: Decimal) -> Decimal {
    let total = held + amount;
    if total <= Decimal::ZERO {
        return moved_avg;
    }
    let exact = (avg * held + moved_avg * amount) / total;
    exact.round_dp(ticks::tick_size("KRW", exact).normalize().scale())
}

impl Pockets {
    /// The demo pockets; registers the sub-pocket key with `auth`. `main_key` is the demo
    /// (main pocket) key.
    pub(crate) fn demo(main_key: &str, auth: &mut Authenticator) -> Self {
        auth.add_key(SUB_ACCESS_KEY, SUB_SECRET_KEY);
        let mut keys = HashMap::new();
        keys.insert(
            main_key.to_string(),
            KeyInfo {
                pocket: MAIN_POCKET_UUID.into(),
                manage: true,
                transfer: false,
                // 포켓관리, 자산조회, 주문조회, 주문하기, as the SDK names them.
                permissions: vec!["manage_pockets", "view_account", "view_orders", "make_orders"],
            },
        );
        keys.insert(
            SUB_ACCESS_KEY.to_string(),
            KeyInfo {
                pocket: TRADING_POCKET_UUID.into(),
                manage: false,
                transfer: true,
                // 자산이전, 자산조회.
                permissions: vec!["transfer", "view_account"],
            },
        );
        let sub = |uuid: &str, name: &str, held: &[(&str, Decimal)]| SubPocket {
            uuid: uuid.into(),
            name: name.into(),
            holdings: held.iter().map(|(c, b)| ((*c).to_string(), holding(*b))).collect(),
        };
        Pockets {
            subs: vec![
                sub(TRADING_POCKET_UUID, "trading", &[("KRW", dec!(1000000))]),
                sub(SAVINGS_POCKET_UUID, "savings", &[("KRW", dec!(5000000)), ("BTC", dec!(0.01))]),
            ],
            keys,
            transfers: Vec::new(),
            identifiers: HashSet::new(),
            next: 0,
        }
    }

    /// The sub-pockets' balances and the transfer history, for the state file.
    pub(crate) fn saved(&self) -> super::persist::SavedPockets {
        let mut identifiers: Vec<String> = self.identifiers.iter().cloned().collect();
        identifiers.sort();
        super::persist::SavedPockets {
            balances: self.subs.iter().map(|s| (s.uuid.clone(), s.holdings.clone())).collect(),
            transfers: self.transfers[self.transfers.len().saturating_sub(TRANSFERS_KEPT)..].to_vec(),
            identifiers,
            next: self.next,
        }
    }

    /// Puts saved balances and history in place of the demo's. A pocket the file does
    /// not name keeps its demo balances; one this simulator does not have is dropped.
    pub(crate) fn restore(&mut self, saved: super::persist::SavedPockets) {
        let mut balances = saved.balances;
        for s in &mut self.subs {
            if let Some(h) = balances.remove(&s.uuid) {
                s.holdings = h;
            }
        }
        self.transfers = saved.transfers;
        self.identifiers.extend(saved.identifiers);
        self.next = self.next.max(saved.next);
    }

    /// Gives every sub-pocket coin held at no recorded cost its KRW market's price now as
    /// its average cost (on the tick grid): the demo seeds its coins without a cost, and a
    /// zero average both reads as bought for nothing and drags any transfer blended into
    /// it (0.01 BTC at 0 plus a satoshi at 140M averaged 139.99 won). A state file written
    /// before the costs were seeded is mended the same way. A coin with no KRW market in
    /// the run keeps its zero.
    pub(crate) fn seed_costs(&mut self, gen_: &super::market::Generator) {
        for s in &mut self.subs {
            for (c, h) in s.holdings.iter_mut() {
                if c == "KRW" || !h.avg_buy_price.is_zero() || (h.balance + h.locked).is_zero() {
                    continue;
                }
                if let Some(m) = gen_.market(&format!("KRW-{c}")) {
                    h.avg_buy_price = ticks::snap("KRW", m.price, Rounding::Nearest);
                }
            }
        }
    }

    /// The rate-limit scope of an exchange request: the pocket of the key it claims (the
    /// count comes before authentication, as Upbit's does), or the claimed key itself.
    pub(crate) fn limit_scope(&self, authorization: Option<&str>) -> String {
        match claimed_access_key(authorization) {
            Some(k) => match self.keys.get(&k) {
                Some(info) => format!("pocket {}", info.pocket),
                None => format!("key {k}"),
            },
            None => "anonymous".into(),
        }
    }

    fn name_of(&self, uuid: &str) -> Option<&str> {
        if uuid == MAIN_POCKET_UUID {
            return Some("main");
        }
        self.subs.iter().find(|s| s.uuid == uuid).map(|s| s.name.as_str())
    }

    fn sub(&self, uuid: &str) -> Option<&SubPocket> {
        self.subs.iter().find(|s| s.uuid == uuid)
    }

    fn assets(holdings: &BTreeMap<String, Holding>) -> Vec<WireAsset<'_>> {
        holdings
            .iter()
            .filter(|(c, h)| c.as_str() == "KRW" || !(h.balance + h.locked).is_zero())
            .map(|(c, h)| WireAsset {
                currency: c,
                balance: h.balance.normalize().to_string(),
                locked: h.locked.normalize().to_string(),
                avg_buy_price: h.avg_buy_price.normalize().to_string(),
                avg_buy_price_modified: false,
                unit_currency: "KRW",
            })
            .collect()
    }
}

/// Answers a pocket endpoint, or any exchange call made with a sub-pocket key (its
/// balances are its pocket's; it may not trade). `None`: a main-pocket key's ordinary
/// call, for the caller to answer.
pub(crate) fn route(
    w: &mut World,
    pk: &mut Pockets,
    key: &str,
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: &[(String, Option<String>)],
) -> Option<PocketReply> {
    let info = pk.keys.get(key).cloned();
    let is_pocket_path = path == "/v1/pockets" || path.starts_with("/v1/pockets/");
    let sub_key = info.as_ref().is_some_and(|i| i.pocket != MAIN_POCKET_UUID);
    if !is_pocket_path && !sub_key {
        return None;
    }
    let Some(info) = info else { return Some(out_of_scope()) };
    Some(match (method, path) {
        ("GET", "/v1/pockets") if info.manage => {
            let mut list = vec![WirePocket { uuid: MAIN_POCKET_UUID, name: "main", kind: "main" }];
            list.extend(pk.subs.iter().map(|s| WirePocket {
                uuid: &s.uuid,
                name: &s.name,
                kind: "user_spot_trading",
            }));
            json(200, &list)
        }
        ("GET", "/v1/pockets/assets") if info.manage => match param(query, "uuid") {
            None => error(400, "validation_error", "uuid is missing"),
            Some(u) => match pk.sub(u) {
                Some(s) => json(200, &Pockets::assets(&s.holdings)),
                None if u == MAIN_POCKET_UUID => error(
                    400,
                    "invalid_parameter",
                    "서브포켓의 UUID를 입력해주세요. (main pocket: use /v1/accounts)",
                ),
                None => error(404, "pocket_not_found", "포켓을 찾지 못했습니다."),
            },
        },
        ("GET", "/v1/pockets/api_keys") if info.manage => {
            let wanted = params(query, "uuids");
            let mut out = Vec::new();
            let mut uuids = vec![MAIN_POCKET_UUID.to_string()];
            uuids.extend(pk.subs.iter().map(|s| s.uuid.clone()));
            for u in uuids.iter().filter(|u| wanted.is_empty() || wanted.contains(&u.as_str())) {
                let keys = pk
                    .keys
                    .iter()
                    .filter(|(_, i)| &i.pocket == u)
                    .map(|(k, i)| WireKey {
                        access_key: k,
                        permissions: &i.permissions,
                        allowed_ips: ["127.0.0.1"],
                        created_at: "2026-06-01T10:00:00+09:00",
                        expired_at: "2027-06-01T10:00:00+09:00",
                    })
                    .collect();
                out.push(WireKeys { uuid: u, keys });
            }
            json(200, &out)
        }
        // A main-pocket key moves assets between any pockets through the universal
        // endpoints; a sub-pocket key (자산이전) out of its own through the plain ones.
        ("POST", "/v1/pockets/universal_transfers") if info.manage => transfer(w, pk, &info, body),
        ("GET", "/v1/pockets/universal_transfers") if info.manage => list_transfers(pk, &info, query),
        ("POST", "/v1/pockets/transfers") if info.transfer => transfer(w, pk, &info, body),
        ("GET", "/v1/pockets/transfers") if info.transfer => list_transfers(pk, &info, query),
        ("GET", "/v1/accounts") => match pk.sub(&info.pocket) {
            Some(s) => json(200, &Pockets::assets(&s.holdings)),
            None => out_of_scope(),
        },
        // A pocket endpoint without the permission, or any other call of a sub-pocket key:
        // the simulator's sub-pocket keys have no 주문하기 / 주문조회.
        _ => out_of_scope(),
    })
}

fn bget<'a>(b: &'a [(String, Option<String>)], k: &str) -> Option<&'a str> {
    b.iter().find(|(key, _)| key == k).and_then(|(_, v)| v.as_deref()).filter(|v| !v.is_empty())
}

/// `POST /v1/pockets/universal_transfers` (main key, `from` optional: the key's pocket) and
/// `POST /v1/pockets/transfers` (sub-pocket key, its own pocket; the body has no `from`):
/// both holdings change under the world lock, or neither.
fn transfer(
    w: &mut World,
    pk: &mut Pockets,
    info: &KeyInfo,
    body: &[(String, Option<String>)],
) -> PocketReply {
    let from = if info.manage { bget(body, "from").unwrap_or(&info.pocket) } else { info.pocket.as_str() };
    let from = from.to_string();
    let Some(to) = bget(body, "to").map(str::to_string) else {
        return error(400, "validation_error", "to is missing");
    };
    let Some(currency) = bget(body, "currency").map(str::to_uppercase) else {
        return error(400, "validation_error", "currency is missing");
    };
    let amount = match bget(body, "amount").map(str::parse::<Decimal>) {
        None => return error(400, "validation_error", "amount is missing"),
        Some(Ok(a)) if a > Decimal::ZERO => a,
        Some(_) => return error(400, "invalid_parameter", "amount must be a positive number"),
    };
    // More decimals than the currency has (KRW whole won, a coin 8) is refused, not rounded.
    if let Err(e) = crate::exchange::upbit::pockets::check_transfer_precision(amount, &currency) {
        return error(400, "invalid_parameter", &format!("amount: {e}"));
    }
    let identifier = bget(body, "identifier").map(str::to_string);
    if let Some(id) = &identifier {
        let ok = (1..=64).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !ok {
            return error(400, "invalid_parameter", "identifier: 1-64 characters of letters, digits, _ . -");
        }
        if pk.identifiers.contains(id) {
            return error(400, "duplicate_identifier", "이미 사용된 identifier입니다.");
        }
    }
    if from == to {
        return error(400, "invalid_parameter", "from and to must be different pockets");
    }
    for p in [&from, &to] {
        if pk.name_of(p).is_none() {
            return error(404, "pocket_not_found", "포켓을 찾지 못했습니다.");
        }
    }
    if let Some(id) = &identifier {
        // Single-use even when the transfer fails.
        pk.identifiers.insert(id.clone());
    }
    let available = if from == MAIN_POCKET_UUID {
        w.ex.holdings.get(&currency).map_or(Decimal::ZERO, |h| h.balance)
    } else {
        pk.sub(&from).and_then(|s| s.holdings.get(&currency)).map_or(Decimal::ZERO, |h| h.balance)
    };
    if amount > available {
        return error(
            400,
            "insufficient_funds",
            &format!("이전 가능 수량이 부족합니다. ({currency} available {})", available.normalize()),
        );
    }
    // Out of `from` (its average stays), into `to` (averaged by amount).
    let moved_avg = {
        let h = if from == MAIN_POCKET_UUID {
            w.ex.holdings.get_mut(&currency)
        } else {
            pk.subs.iter_mut().find(|s| s.uuid == from).and_then(|s| s.holdings.get_mut(&currency))
        };
        match h {
            Some(h) => {
                h.balance -= amount;
                h.avg_buy_price
            }
            None => return error(400, "insufficient_funds", "이전 가능 수량이 부족합니다."),
        }
    };
    let into = if to == MAIN_POCKET_UUID {
        Some(w.ex.holdings.entry(currency.clone()).or_default())
    } else {
        pk.subs.iter_mut().find(|s| s.uuid == to).map(|s| s.holdings.entry(currency.clone()).or_default())
    };
    if let Some(h) = into {
        let held = h.balance + h.locked;
        if currency != "KRW" && held + amount > Decimal::ZERO {
            h.avg_buy_price = blend_cost(h.avg_buy_price, held, moved_avg, amount);
        }
        h.balance += amount;
    }
    let now = w.gen_.now;
    if from == MAIN_POCKET_UUID || to == MAIN_POCKET_UUID {
        w.ex.push_asset(&[currency.as_str()], now);
    }
    pk.next += 1;
    let created = chrono::DateTime::from_timestamp_millis(now)
        .zip(chrono::FixedOffset::east_opt(9 * 3600))
        .map(|(t, kst)| t.with_timezone(&kst).to_rfc3339())
        .unwrap_or_default();
    let rec = TransferRecord {
        uuid: format!("5f0c2a4e-0000-4000-8000-{:012x}", pk.next),
        identifier,
        from,
        to,
        currency,
        amount: amount.normalize().to_string(),
        state: "done".into(),
        created_at: created,
    };
    pk.transfers.push(rec.clone());
    let mut r = json(201, &rec);
    r.2 = w.ex.drain_events();
    r
}

/// `GET /v1/pockets/universal_transfers`: a main key sees every transfer (`from` / `to`
/// filters); `GET /v1/pockets/transfers`: a sub-pocket key its own (`direction` in, out or
/// all). Newest first unless `order_by=asc`.
fn list_transfers(pk: &Pockets, info: &KeyInfo, query: &[(String, String)]) -> PocketReply {
    let direction = param(query, "direction").unwrap_or("all");
    if !matches!(direction, "in" | "out" | "all") {
        return error(400, "invalid_parameter", "direction must be in, out or all");
    }
    let limit = match param(query, "limit").map(str::parse::<usize>) {
        None => 20,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => return error(400, "invalid_parameter", "limit must be 1..100"),
    };
    let states = params(query, "states");
    let currency = param(query, "currency");
    let (from, to) = (param(query, "from"), param(query, "to"));
    let mine = |t: &TransferRecord| {
        (info.manage && from.is_none_or(|f| f == t.from) && to.is_none_or(|x| x == t.to))
            || !info.manage
                && match direction {
                    "in" => t.to == info.pocket,
                    "out" => t.from == info.pocket,
                    _ => t.to == info.pocket || t.from == info.pocket,
                }
    };
    let mut out: Vec<&TransferRecord> = pk
        .transfers
        .iter()
        .filter(|t| mine(t))
        .filter(|t| states.is_empty() || states.contains(&t.state.as_str()))
        .filter(|t| currency.is_none_or(|c| c.eq_ignore_ascii_case(&t.currency)))
        .collect();
    if param(query, "order_by") != Some("asc") {
        out.reverse();
    }
    out.truncate(limit);
    json(200, &out)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use rust_decimal_macros::dec;
    use secrecy::ExposeSecret;

    use super::*;
    use crate::exchange::upbit::auth::{Credentials, Sign as _};
    use crate::exchange::upbit::error::{AuthKind, UpbitError};
    use crate::exchange::upbit::pockets::{TransferRequest, UNSEEN_POCKET};
    use crate::exchange::upbit::rest::{RestClient, RestConfig};
    use crate::kernel::TaskManager;
    use crate::sim::limits::{DEFAULT, Limiter};
    use crate::sim::{SimConfig, SimHandle};

    async fn sim(tasks: &TaskManager) -> SimHandle {
        let cfg = SimConfig {
            markets: Some(3),
            tick_interval: Duration::ZERO,
            start_ms: Some(1_750_000_000_000),
            history_secs: 60,
            ..SimConfig::default()
        };
        crate::sim::start(cfg, tasks).await.unwrap()
    }

    fn client(sim: &SimHandle, access: &str, secret: &str) -> RestClient {
        let rc = RestConfig {
            base_url: format!("{}/v1", sim.rest_base),
            read_attempts: 1,
            ..RestConfig::default()
        };
        RestClient::new(rc, Some(Credentials::new(access.to_string(), secret.to_string()))).unwrap()
    }

    fn main_client(sim: &SimHandle) -> RestClient {
        client(sim, &sim.credentials.0, sim.credentials.1.expose_secret())
    }

    async fn krw(c: &RestClient) -> Decimal {
        c.accounts().await.unwrap().iter().find(|b| b.currency == "KRW").map_or(Decimal::ZERO, |b| b.balance)
    }

    async fn pocket_krw(c: &RestClient, uuid: &str) -> Decimal {
        let b = c.pocket_balances(uuid).await.unwrap();
        b.iter().find(|b| b.currency == "KRW").map_or(Decimal::ZERO, |b| b.balance)
    }

    #[tokio::test]
    async fn the_main_key_lists_pockets_reads_sub_balances_and_transfers_atomically() {
        let tasks = TaskManager::new();
        let sim = sim(&tasks).await;
        let c = main_client(&sim);
        let view = c.pockets_view().await.unwrap();
        assert_eq!(
            view.pockets.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["main", "trading", "savings"]
        );
        assert_eq!(view.trading.as_ref().map(|p| p.uuid.as_str()), Some(MAIN_POCKET_UUID));
        assert!(view.can_transfer);
        assert_eq!(c.limits_status().pocket.as_deref(), Some("main"));
        let savings = c.pocket_balances(SAVINGS_POCKET_UUID).await.unwrap();
        assert!(savings.iter().any(|b| b.currency == "BTC" && b.balance == dec!(0.01)), "{savings:?}");

        let main_before = krw(&c).await;
        let t = TransferRequest {
            from: MAIN_POCKET_UUID.into(),
            to: SAVINGS_POCKET_UUID.into(),
            currency: "KRW".into(),
            amount: dec!(1234567),
            identifier: "t-1".into(),
        };
        let done = c.transfer(&t).await.unwrap();
        assert_eq!(done.state.as_deref(), Some("done"));
        assert_eq!(krw(&c).await, main_before - dec!(1234567));
        assert_eq!(pocket_krw(&c, SAVINGS_POCKET_UUID).await, dec!(6234567));

        // Finer than the currency (half a won, a ninth decimal): refused, nothing moves.
        for (currency, amount) in [("KRW", dec!(0.5)), ("BTC", dec!(0.000000001))] {
            let fine = TransferRequest {
                currency: currency.into(),
                amount,
                identifier: format!("f-{currency}"),
                ..t.clone()
            };
            match c.transfer(&fine).await {
                Err(UpbitError::Exchange { name, status: 400, .. }) => assert_eq!(name, "invalid_parameter"),
                other => panic!("{other:?}"),
            }
        }
        // More than is there: refused, nothing moves (in either pocket).
        let too_much = TransferRequest { amount: dec!(1000000000000), identifier: "t-2".into(), ..t.clone() };
        match c.transfer(&too_much).await {
            Err(UpbitError::Exchange { name, status: 400, .. }) => assert_eq!(name, "insufficient_funds"),
            other => panic!("{other:?}"),
        }
        assert_eq!(krw(&c).await, main_before - dec!(1234567));
        assert_eq!(pocket_krw(&c, SAVINGS_POCKET_UUID).await, dec!(6234567));
        // An identifier is good once; sub to sub works for the main key.
        assert!(c.transfer(&t).await.is_err());
        let sub_to_sub = TransferRequest {
            from: SAVINGS_POCKET_UUID.into(),
            to: TRADING_POCKET_UUID.into(),
            amount: dec!(0.005),
            currency: "BTC".into(),
            identifier: "t-3".into(),
        };
        c.transfer(&sub_to_sub).await.unwrap();
        let trading = c.pocket_balances(TRADING_POCKET_UUID).await.unwrap();
        assert!(trading.iter().any(|b| b.currency == "BTC" && b.balance == dec!(0.005)), "{trading:?}");
        tasks.cancel_all();
    }

    #[tokio::test]
    async fn a_sub_pocket_key_trades_its_pocket_and_cannot_see_the_others() {
        let tasks = TaskManager::new();
        let sim = sim(&tasks).await;
        let sub = client(&sim, SUB_ACCESS_KEY, SUB_SECRET_KEY);
        let view = sub.pockets_view().await.unwrap();
        assert!(view.pockets.is_empty() && view.trading.is_none() && !view.can_transfer);
        assert!(view.note.as_deref().is_some_and(|n| n.contains("out_of_scope")));
        assert_eq!(sub.limits_status().pocket.as_deref(), Some(UNSEEN_POCKET));
        // Its balances are its pocket's, not the main pocket's.
        assert_eq!(krw(&sub).await, dec!(1000000));
        match sub.pocket_balances(SAVINGS_POCKET_UUID).await {
            Err(UpbitError::Auth { kind: AuthKind::OutOfScope, .. }) => {}
            other => panic!("{other:?}"),
        }
        // 자산이전: out of its own pocket only, through POST /v1/pockets/transfers.
        let out = TransferRequest {
            from: TRADING_POCKET_UUID.into(),
            to: MAIN_POCKET_UUID.into(),
            currency: "KRW".into(),
            amount: dec!(250000),
            identifier: "sub-1".into(),
        };
        let main = main_client(&sim);
        let main_before = krw(&main).await;
        sub.transfer_out(&out).await.unwrap();
        assert_eq!(krw(&sub).await, dec!(750000));
        assert_eq!(krw(&main).await, main_before + dec!(250000));
        // The universal endpoint (any two pockets) is the main key's; the plain one is not.
        let theirs = TransferRequest { from: SAVINGS_POCKET_UUID.into(), identifier: "sub-2".into(), ..out };
        match sub.transfer(&theirs).await {
            Err(UpbitError::Auth { kind: AuthKind::OutOfScope, .. }) => {}
            other => panic!("another pocket's assets: {other:?}"),
        }
        let back = TransferRequest {
            from: MAIN_POCKET_UUID.into(),
            to: TRADING_POCKET_UUID.into(),
            identifier: "m-1".into(),
            ..theirs
        };
        match main.transfer_out(&back).await {
            Err(UpbitError::Auth { kind: AuthKind::OutOfScope, .. }) => {}
            other => panic!("the main key on the sub-pocket endpoint: {other:?}"),
        }
        tasks.cancel_all();
    }

    /// Both sides of a transfer survive a restart on the same state file: the main
    /// pocket's balance and the sub-pockets' (a sub-to-sub transfer, which tells no one,
    /// included), the transfer history and the used identifiers. Before, the sub-pockets
    /// started from their demo balances and the moved money was gone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sub_pocket_balances_and_transfers_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo-account.json");
        let cfg = || SimConfig {
            markets: Some(3),
            tick_interval: Duration::ZERO,
            start_ms: Some(1_750_000_000_000),
            history_secs: 60,
            state_file: Some(path.clone()),
            ..SimConfig::default()
        };
        let tasks = TaskManager::new();
        let sim = crate::sim::start(cfg(), &tasks).await.unwrap();
        let c = main_client(&sim);
        let main_before = krw(&c).await;
        let into_savings = TransferRequest {
            from: MAIN_POCKET_UUID.into(),
            to: SAVINGS_POCKET_UUID.into(),
            currency: "KRW".into(),
            amount: dec!(101234),
            identifier: "keep-1".into(),
        };
        c.transfer(&into_savings).await.unwrap();
        let sub_to_sub = TransferRequest {
            from: SAVINGS_POCKET_UUID.into(),
            to: TRADING_POCKET_UUID.into(),
            currency: "BTC".into(),
            amount: dec!(0.004),
            identifier: "keep-2".into(),
        };
        c.transfer(&sub_to_sub).await.unwrap();
        // No orderly stop: the file is what a kill -9 leaves.
        tasks.cancel_all();
        sim.stop();

        let tasks = TaskManager::new();
        let sim = crate::sim::start(cfg(), &tasks).await.unwrap();
        let c = main_client(&sim);
        assert_eq!(krw(&c).await, main_before - dec!(101234));
        assert_eq!(pocket_krw(&c, SAVINGS_POCKET_UUID).await, dec!(5101234));
        let savings = c.pocket_balances(SAVINGS_POCKET_UUID).await.unwrap();
        assert!(savings.iter().any(|b| b.currency == "BTC" && b.balance == dec!(0.006)), "{savings:?}");
        let trading = c.pocket_balances(TRADING_POCKET_UUID).await.unwrap();
        assert!(trading.iter().any(|b| b.currency == "BTC" && b.balance == dec!(0.004)), "{trading:?}");
        {
            let pk = crate::sim::server::lock(&sim.shared.pockets);
            let ids: Vec<_> = pk.transfers.iter().filter_map(|t| t.identifier.as_deref()).collect();
            assert_eq!(ids, ["keep-1", "keep-2"]);
        }
        // An identifier used before the restart stays used; new transfers get new ids.
        assert!(c.transfer(&into_savings).await.is_err());
        let again = TransferRequest { identifier: "keep-3".into(), ..into_savings };
        let done = c.transfer(&again).await.unwrap();
        let pk = crate::sim::server::lock(&sim.shared.pockets);
        assert_eq!(pk.transfers.iter().filter(|t| Some(&t.uuid) == done.uuid.as_ref()).count(), 1);
        drop(pk);
        tasks.cancel_all();
    }

    /// The simulator's pocket answers carry exactly the fields of Upbit's official SDK
    /// (upbit-sdk 1.1.0: upbit/types/pocket.py, pocket_balance.py, pocket_api_key_group.py,
    /// pocket_api_key.py, pocket_transfer.py).
    #[test]
    fn pocket_answers_have_the_sdk_fields() {
        let mut auth = Authenticator::default();
        let mut pk = Pockets::demo("main-key", &mut auth);
        let gen_ = crate::sim::market::Generator::new(
            crate::sim::market::load_markets(Some(3)).unwrap(),
            7,
            1_796_000_000_000,
            0,
        );
        let holdings = [("KRW".to_string(), holding(dec!(10000000)))].into_iter().collect();
        let mut w =
            World { gen_, ex: super::super::matching::Exchange::new(Vec::<String>::new(), holdings, 7) };
        let keys_of = |v: &serde_json::Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k.join(",")
        };
        let mut get = |path: &str, q: &[(&str, &str)]| {
            let q: Vec<(String, String)> = q.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect();
            let (status, body, _) = route(&mut w, &mut pk, "main-key", "GET", path, &q, &[]).unwrap();
            assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
            serde_json::from_slice::<serde_json::Value>(&body).unwrap()
        };
        let list = get("/v1/pockets", &[]);
        assert_eq!(keys_of(&list[0]), "name,type,uuid");
        assert_eq!(
            (list[0]["type"].as_str(), list[1]["type"].as_str()),
            (Some("main"), Some("user_spot_trading"))
        );
        let assets = get("/v1/pockets/assets", &[("uuid", SAVINGS_POCKET_UUID)]);
        assert_eq!(
            keys_of(&assets[0]),
            "avg_buy_price,avg_buy_price_modified,balance,currency,locked,unit_currency"
        );
        let groups = get("/v1/pockets/api_keys", &[]);
        assert_eq!(keys_of(&groups[0]), "keys,uuid");
        assert_eq!(groups[0]["keys"][0]["permissions"][0], "manage_pockets");
        assert_eq!(
            keys_of(&groups[0]["keys"][0]),
            "access_key,allowed_ips,created_at,expired_at,permissions"
        );
        let body: Vec<(String, Option<String>)> =
            [("to", SAVINGS_POCKET_UUID), ("currency", "KRW"), ("amount", "1000")]
                .iter()
                .map(|(a, b)| ((*a).to_string(), Some((*b).to_string())))
                .collect();
        let (status, t, _) =
            route(&mut w, &mut pk, "main-key", "POST", "/v1/pockets/universal_transfers", &[], &body)
                .unwrap();
        let t: serde_json::Value = serde_json::from_slice(&t).unwrap();
        assert_eq!(status, 201, "{t}");
        assert_eq!(keys_of(&t), "amount,created_at,currency,from,identifier,state,to,uuid");
        assert_eq!(t["from"], MAIN_POCKET_UUID, "from defaults to the key's pocket");
    }

    /// Sub-pocket coins carry a real average cost: the seeded 0.01 BTC in `savings` costs
    /// BTC's price at the start (it cost nothing, and a satoshi moved in at 140M then
    /// averaged 139.99986 won for the lot), and a transfer blends both sides' costs by
    /// balance, rounded to whole won at BTC's prices.
    #[test]
    fn sub_pocket_coins_have_a_cost_and_transfers_blend_it_by_balance() {
        let mut auth = Authenticator::default();
        let mut pk = Pockets::demo("main-key", &mut auth);
        let gen_ = crate::sim::market::Generator::new(
            crate::sim::market::load_markets(Some(3)).unwrap(),
            7,
            1_796_000_000_000,
            0,
        );
        let btc = gen_.market("KRW-BTC").unwrap().price;
        pk.seed_costs(&gen_);
        let seeded = pk.sub(SAVINGS_POCKET_UUID).unwrap().holdings["BTC"].clone();
        assert_eq!(seeded.avg_buy_price, btc, "the seeded coin costs the market's price");
        assert!(ticks::is_on_tick("KRW", seeded.avg_buy_price));

        let holdings = [
            ("KRW".to_string(), holding(dec!(10000000))),
            (
                "BTC".to_string(),
                Holding { balance: dec!(0.1), locked: Decimal::ZERO, avg_buy_price: dec!(140000000) },
            ),
        ]
        .into_iter()
        .collect();
        let mut w =
            World { gen_, ex: super::super::matching::Exchange::new(Vec::<String>::new(), holdings, 7) };
        let body: Vec<(String, Option<String>)> =
            [("to", SAVINGS_POCKET_UUID), ("currency", "BTC"), ("amount", "0.00000001")]
                .iter()
                .map(|(a, b)| ((*a).to_string(), Some((*b).to_string())))
                .collect();
        let (status, t, _) =
            route(&mut w, &mut pk, "main-key", "POST", "/v1/pockets/universal_transfers", &[], &body)
                .unwrap();
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&t));
        let h = pk.sub(SAVINGS_POCKET_UUID).unwrap().holdings["BTC"].clone();
        assert_eq!(h.balance, dec!(0.01000001));
        let exact = (btc * dec!(0.01) + dec!(140000000) * dec!(0.00000001)) / dec!(0.01000001);
        assert_eq!(h.avg_buy_price, exact.round_dp(0), "balance-weighted, whole won");
        assert_eq!(h.avg_buy_price.normalize().scale(), 0);
        assert!(h.avg_buy_price >= btc.min(dec!(140000000)) && h.avg_buy_price <= btc.max(dec!(140000000)));
        // A small coin's cost keeps the decimals its price has.
        assert_eq!(blend_cost(dec!(0.5), dec!(10), dec!(0.6), dec!(10)), dec!(0.55));
        assert_eq!(blend_cost(dec!(1), dec!(2), dec!(2), dec!(1)), dec!(1.33));
    }

    #[test]
    fn each_pocket_has_its_own_exchange_budget() {
        let mut auth = Authenticator::default();
        let pk = Pockets::demo("main-key", &mut auth);
        let token = |access: &str, secret: &str| {
            let c = Credentials::new(access.to_string(), secret.to_string());
            format!("Bearer {}", c.token_for("").unwrap())
        };
        let main = pk.limit_scope(Some(&token("main-key", "x")));
        let sub = pk.limit_scope(Some(&token(SUB_ACCESS_KEY, SUB_SECRET_KEY)));
        assert_eq!(main, format!("pocket {MAIN_POCKET_UUID}"));
        assert_eq!(sub, format!("pocket {TRADING_POCKET_UUID}"));
        let mut l = Limiter::default();
        let now = Instant::now();
        for _ in 0..DEFAULT.limit {
            assert!(matches!(l.check(DEFAULT, &main, now), crate::sim::limits::Verdict::Allowed { .. }));
        }
        assert_eq!(l.check(DEFAULT, &main, now), crate::sim::limits::Verdict::TooMany);
        // Another pocket's key is not touched by the main pocket's exhausted budget.
        assert!(matches!(l.check(DEFAULT, &sub, now), crate::sim::limits::Verdict::Allowed { .. }));
    }
}
