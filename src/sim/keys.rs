//! The demo account's API keys and account state: `GET /v1/api_keys` (every key of the
//! account with its `expire_at`), a key past its expiry refused with `401
//! expired_access_key` on every exchange call, and the one-time consent Upbit asks before
//! BTC / USDT market orders (`403 thirdparty_agreement_required` while it is not given).
//!
//! The demo key expires [`SimConfig::key_days_left`] days after the simulator starts
//! (300 by default: a key issued about two months ago, as keys last a year); tests set
//! fewer days, or none, to see the warnings and the expiry.

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;

use super::SimConfig;
use crate::exchange::upbit::wire::ErrorBody;

/// One day in milliseconds.
const DAY_MS: i64 = 24 * 3600 * 1000;

/// The account's keys and what the account has agreed to.
#[derive(Debug, Clone)]
pub(crate) struct KeyBook {
    /// The demo key.
    main: String,
    /// When it expires (Unix ms, on the simulator's clock).
    expire_at_ms: i64,
    /// The third-party consent for BTC / USDT markets was given.
    thirdparty_agreed: bool,
}

/// One row of `GET /v1/api_keys`, as Upbit writes it.
#[derive(Debug, Serialize)]
struct KeyRow {
    access_key: String,
    expire_at: String,
}

/// `expire_at` as Upbit's KR site writes times (ISO 8601, KST offset).
fn kst_iso(ms: i64) -> String {
    let (Some(kst), Some(t)) = (FixedOffset::east_opt(9 * 3600), DateTime::<Utc>::from_timestamp_millis(ms))
    else {
        return String::new();
    };
    t.with_timezone(&kst).format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

fn error(status: u16, name: &str) -> (u16, Vec<u8>) {
    (status, serde_json::to_vec(&ErrorBody::new(name, message_for(name))).unwrap_or_default())
}

impl KeyBook {
    /// The demo account of `cfg`, on a simulator started at `start_ms`.
    pub(crate) fn new(cfg: &SimConfig, start_ms: i64) -> KeyBook {
        KeyBook {
            main: cfg.access_key.clone(),
            expire_at_ms: start_ms.saturating_add(cfg.key_days_left.saturating_mul(DAY_MS)),
            thirdparty_agreed: cfg.thirdparty_agreed,
        }
    }

    /// The answer to an authenticated exchange call by `key` at `now_ms`, when this book
    /// decides it: the key list, an expired key's refusal, a refused BTC / USDT order.
    /// `body` is a POST's body as key/value pairs. `None`: the call goes on as usual.
    pub(crate) fn route(
        &self,
        now_ms: i64,
        key: &str,
        m: &str,
        path: &str,
        body: &[(String, Option<String>)],
    ) -> Option<(u16, Vec<u8>)> {
        if key == self.main && now_ms >= self.expire_at_ms {
            return Some(error(401, "expired_access_key"));
        }
        if (m, path) == ("GET", "/v1/api_keys") {
            let rows = [KeyRow { access_key: self.main.clone(), expire_at: kst_iso(self.expire_at_ms) }];
            return Some((200, serde_json::to_vec(&rows).unwrap_or_default()));
        }
        let order =
            m == "POST" && matches!(path, "/v1/orders" | "/v1/orders/test" | "/v1/orders/cancel_and_new");
        if order && !self.thirdparty_agreed {
            // cancel_and_new names its new order's market with the `new_` prefix.
            let market = body
                .iter()
                .find(|(k, _)| k == "market" || k == "new_market")
                .and_then(|(_, v)| v.as_deref())
                .unwrap_or("");
            if market.starts_with("BTC-") || market.starts_with("USDT-") {
                return Some(error(403, "thirdparty_agreement_required"));
            }
        }
        None
    }
}

/// Upbit's message for an error name the simulator sends (forced or real). Texts Upbit
/// documents are Upbit's; for the names it documents no text for, a plain Korean
/// description in the same style.
pub(crate) fn message_for(name: &str) -> &'static str {
    match name {
        "expired_access_key" => "API 키가 만료되었습니다.",
        "out_of_scope" => "권한이 부족합니다.",
        "invalid_price_bid" | "invalid_price_ask" => {
            "주문가격 단위를 잘못 입력하셨습니다. 확인 후 시도해주세요."
        }
        "open_api_withdraw_locked" => "해당 API Key는 출금 안심차단이 설정되어 있어 출금이 불가능합니다.",
        "thirdparty_agreement_required" => "BTC, USDT 마켓 이용을 위해 제3자 정보 제공 동의가 필요합니다.",
        "order_disabled_member" => "주문이 제한된 회원입니다.",
        _ => "forced by the simulator",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(days: i64, agreed: bool) -> KeyBook {
        let cfg = SimConfig { key_days_left: days, thirdparty_agreed: agreed, ..SimConfig::default() };
        KeyBook::new(&cfg, 1_764_900_000_000)
    }

    #[test]
    fn the_key_list_decodes_in_the_client_and_expiry_refuses_the_key() {
        let b = book(300, true);
        let start = 1_764_900_000_000;
        let (status, body) =
            b.route(start, &SimConfig::default().access_key, "GET", "/v1/api_keys", &[]).unwrap();
        assert_eq!(status, 200);
        let keys: Vec<crate::exchange::upbit::api_keys::ApiKeyInfo> = serde_json::from_slice(&body).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].expire_at.timestamp_millis(), start + 300 * DAY_MS);
        assert_eq!(keys[0].expire_at.offset().local_minus_utc(), 9 * 3600, "KST, as the KR site writes");
        let key = SimConfig::default().access_key;
        assert_eq!(b.route(start, &key, "GET", "/v1/accounts", &[]), None);
        let (status, body) = b.route(start + 300 * DAY_MS, &key, "GET", "/v1/accounts", &[]).unwrap();
        assert_eq!(status, 401);
        assert!(String::from_utf8_lossy(&body).contains("expired_access_key"));
    }

    #[test]
    fn without_the_consent_only_btc_and_usdt_orders_are_refused() {
        let key = SimConfig::default().access_key;
        let body = |m: &str| vec![("market".to_string(), Some(m.to_string()))];
        let b = book(300, false);
        for m in ["BTC-ETH", "USDT-BTC"] {
            for path in ["/v1/orders", "/v1/orders/test"] {
                let (status, reply) = b.route(0, &key, "POST", path, &body(m)).unwrap();
                assert_eq!(status, 403);
                assert!(String::from_utf8_lossy(&reply).contains("thirdparty_agreement_required"));
            }
        }
        assert_eq!(b.route(0, &key, "POST", "/v1/orders", &body("KRW-BTC")), None);
        assert_eq!(b.route(0, &key, "GET", "/v1/orders/chance", &body("BTC-ETH")), None);
        assert_eq!(book(300, true).route(0, &key, "POST", "/v1/orders", &body("BTC-ETH")), None);
    }
}
