//! Typed errors of the Upbit REST client.
//!
//! Split the way ccxt splits them, because callers must act differently:
//! - [`UpbitError::Network`]: the request may not have reached Upbit, or the answer was
//!   lost (connect, timeout, 5xx, an HTML gateway page, a truncated body). Reads retry.
//!   For an order creation this is [`UpbitError::UnknownOutcome`] instead: the order may
//!   exist, so the caller must look it up by `identifier`, never resend blindly.
//! - [`UpbitError::Exchange`]: Upbit answered with a final, definitive error.
//! - [`UpbitError::Auth`]: a key/permission/JWT problem, with a hint for the person.
//! - [`UpbitError::RateLimited`] / [`UpbitError::Blocked`]: 429 / 418.

use std::fmt;
use std::time::Duration;

use crate::exchange::error::{ErrorKind, ExchangeError};
use crate::exchange::upbit::wire::ErrorBody;

/// What went wrong on the network path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkKind {
    /// TCP/TLS connect failed.
    Connect,
    /// No complete answer within the timeout.
    Timeout,
    /// HTTP 5xx.
    ServerError,
    /// A 2xx/4xx answer that is not the expected JSON (HTML page, truncated body).
    BadBody,
    /// Anything else from the HTTP stack.
    Other,
}

impl fmt::Display for NetworkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetworkKind::Connect => "connect failed",
            NetworkKind::Timeout => "timed out",
            NetworkKind::ServerError => "server error",
            NetworkKind::BadBody => "unreadable response body",
            NetworkKind::Other => "http error",
        })
    }
}

/// Authentication failures Upbit names, each with a fix a person can apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// `no_authorization_i_p` (Upbit's published spelling; `no_authorization_ip` is
    /// accepted too): the caller's IP is not on the key's allowlist.
    IpNotAllowed,
    /// `expired_access_key`: keys live one year and cannot be extended.
    ExpiredKey,
    /// `out_of_scope`: the key lacks the permission for this endpoint.
    OutOfScope,
    /// `nonce_used`: a token was replayed.
    NonceUsed,
    /// `jwt_verification`: signature did not verify (wrong secret).
    JwtVerification,
    /// `invalid_query_payload`: query_hash mismatch.
    InvalidQueryPayload,
    /// `invalid_access_key`: unknown access key.
    InvalidAccessKey,
    /// `no_authorization_token`: no token was sent (no credentials configured).
    NoToken,
    /// Any other 401: a name hoga does not know (or no JSON body at all). Still an
    /// authentication failure, so trading halts all the same.
    Unauthorized,
}

impl AuthKind {
    /// Maps an Upbit `error.name` to an auth kind.
    pub(crate) fn from_name(name: &str) -> Option<AuthKind> {
        Some(match name {
            "no_authorization_i_p" | "no_authorization_ip" => AuthKind::IpNotAllowed,
            "expired_access_key" => AuthKind::ExpiredKey,
            "out_of_scope" => AuthKind::OutOfScope,
            "nonce_used" => AuthKind::NonceUsed,
            "jwt_verification" => AuthKind::JwtVerification,
            "invalid_query_payload" => AuthKind::InvalidQueryPayload,
            "invalid_access_key" => AuthKind::InvalidAccessKey,
            "no_authorization_token" => AuthKind::NoToken,
            _ => return None,
        })
    }

    /// What the person should do about it.
    pub fn hint(self) -> &'static str {
        match self {
            AuthKind::IpNotAllowed => {
                "this machine's public IP is not on the API key's IP allowlist (did it change: VPN, DHCP?); add it on upbit.com"
            }
            AuthKind::ExpiredKey => "the API key expired (keys live one year); issue a new key",
            AuthKind::OutOfScope => {
                "the API key lacks the permission for this action; enable it or use another key"
            }
            AuthKind::NonceUsed => {
                "a token was reused; this is a client bug or a replay, retry with a new request"
            }
            AuthKind::JwtVerification => {
                "the secret key does not match the access key; check the configured secret"
            }
            AuthKind::InvalidQueryPayload => {
                "the signed query did not match the sent query; this is a client bug"
            }
            AuthKind::InvalidAccessKey => {
                "the access key is unknown to Upbit; check the configured access key"
            }
            AuthKind::NoToken => "no API key is configured; set one to use account endpoints",
            AuthKind::Unauthorized => {
                "Upbit refused the API key (401); check the keys, their permissions and the IP allowlist on upbit.com"
            }
        }
    }
}

/// `out_of_scope` hints by the permission the call needs (Upbit's permission groups; the
/// Korean names are the ones upbit.com shows). A key's permissions are chosen at issue and
/// cannot be changed: the fix is always a new key.
mod scope {
    pub(super) const VIEW_ASSETS: &str = "the API key lacks the 자산조회 (View Assets) permission this call needs; permissions cannot be added to an existing key: issue a new key with it on upbit.com (Open API 관리)";
    pub(super) const VIEW_ORDERS: &str = "the API key lacks the 주문조회 (View Orders) permission this call needs; permissions cannot be added to an existing key: issue a new key with it on upbit.com (Open API 관리)";
    pub(super) const MAKE_ORDERS: &str = "the API key lacks the 주문하기 (Make Orders) permission this call needs; permissions cannot be added to an existing key: issue a new key with it on upbit.com (Open API 관리)";
    pub(super) const ORDERS_EITHER: &str = "the API key lacks 주문조회 (View Orders, to read orders) or 주문하기 (Make Orders, to cancel them); permissions cannot be added to an existing key: issue a new key with both on upbit.com (Open API 관리)";
    pub(super) const WITHDRAWALS: &str = "the API key lacks 출금조회 / 출금하기 (View / Make Withdrawals); permissions cannot be added to an existing key: issue a new key with them on upbit.com (Open API 관리)";
    pub(super) const DEPOSITS: &str = "the API key lacks 입금조회 / 입금하기 (View / Make Deposits); permissions cannot be added to an existing key: issue a new key with them on upbit.com (Open API 관리)";
    pub(super) const POCKETS: &str = "the API key lacks 포켓관리 (Manage Pockets, main pocket) or 자산이전 (Transfer Assets, sub-pocket); permissions cannot be added to an existing key: issue a new key with it on upbit.com (Open API 관리)";
}

/// The `out_of_scope` hint for a call to `path` (with or without the `/v1` prefix): the
/// permission that call needs, by Upbit's permission table. `None` for a path hoga does
/// not know a permission for.
pub(crate) fn scope_hint(path: &str) -> Option<&'static str> {
    let p = path.split('?').next().unwrap_or(path);
    let p = p.strip_prefix("/v1").unwrap_or(p);
    Some(match p {
        "/accounts" => scope::VIEW_ASSETS,
        "/orders/chance" | "/orders/closed" => scope::VIEW_ORDERS,
        "/orders" | "/orders/test" | "/orders/cancel_and_new" => scope::MAKE_ORDERS,
        // GET reads (View Orders), DELETE cancels (Make Orders); the path alone cannot tell.
        "/order" | "/orders/open" | "/orders/uuids" => scope::ORDERS_EITHER,
        p if p.starts_with("/withdraw") => scope::WITHDRAWALS,
        p if p.starts_with("/deposit") => scope::DEPOSITS,
        p if p.starts_with("/pocket") => scope::POCKETS,
        _ => return None,
    })
}

/// The hint for an authentication failure of a call to `path`: for `out_of_scope`, the
/// permission that call needs; otherwise [`AuthKind::hint`].
pub(crate) fn auth_hint(kind: AuthKind, path: &str) -> &'static str {
    match kind {
        AuthKind::OutOfScope => scope_hint(path).unwrap_or(kind.hint()),
        _ => kind.hint(),
    }
}

/// States of the account (not of the request, not of the key's signature) Upbit names in
/// its refusals. None is a bug and none passes on a retry: each needs the person to do
/// something on upbit.com, which the hint says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    /// `thirdparty_agreement_required` (403): the one-time consent Upbit asks for before
    /// trading in BTC and USDT markets has not been given.
    ThirdPartyAgreementRequired,
    /// `order_disabled_member`: Upbit has disabled ordering for this account.
    OrderDisabledMember,
    /// `invalid_price_bid` / `invalid_price_ask` (400): the price is off the market's
    /// price unit (tick) for its price level.
    InvalidPrice,
    /// `open_api_withdraw_locked` (403): the key's withdrawal safety lock (출금 안심차단)
    /// is on.
    WithdrawLocked,
}

impl AccountState {
    /// Maps an Upbit `error.name` to an account state.
    pub(crate) fn from_name(name: &str) -> Option<AccountState> {
        Some(match name {
            "thirdparty_agreement_required" => AccountState::ThirdPartyAgreementRequired,
            "order_disabled_member" => AccountState::OrderDisabledMember,
            "invalid_price_bid" | "invalid_price_ask" => AccountState::InvalidPrice,
            "open_api_withdraw_locked" => AccountState::WithdrawLocked,
            _ => return None,
        })
    }

    /// What the person should do about it.
    pub fn hint(self) -> &'static str {
        match self {
            AccountState::ThirdPartyAgreementRequired => {
                "Upbit needs a one-time consent before trading BTC/USDT markets: accept it on upbit.com (open a BTC or USDT market there and agree to the third-party information notice, 제3자 정보 제공 동의), then send the order again; KRW markets are not affected"
            }
            AccountState::OrderDisabledMember => {
                "Upbit has disabled ordering for this account (order_disabled_member): no order can pass until Upbit lifts it; check upbit.com notices or contact Upbit support"
            }
            AccountState::InvalidPrice => {
                "the price is not on the market's price unit (tick) for that price level: Upbit's tick table may have changed; enter a price on the book's ticks"
            }
            AccountState::WithdrawLocked => {
                "the API key's withdrawal safety lock (출금 안심차단) is on: turn it off for this key in the Upbit app (더보기 > 인증/보안 > Open API 관리)"
            }
        }
    }

    /// True when no order of this account can pass until the person acts: trading halts
    /// instead of refusing order after order.
    pub fn blocks_trading(self) -> bool {
        matches!(self, AccountState::OrderDisabledMember)
    }
}

/// ` (hint: …)` for an Upbit error name that is an [`AccountState`], else nothing.
fn account_hint(name: &str) -> String {
    AccountState::from_name(name).map(|s| format!(" (hint: {})", s.hint())).unwrap_or_default()
}

/// An error from the Upbit REST client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpbitError {
    /// Network-level failure; retryable for reads.
    #[error("upbit {method} {path}: {kind}: {detail}")]
    Network {
        /// What failed.
        kind: NetworkKind,
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// Detail (status, parser message…).
        detail: String,
    },
    /// An order creation whose outcome is not known: look it up by identifier.
    #[error("upbit {path}: outcome unknown ({kind}: {detail}); look the order up before acting")]
    UnknownOutcome {
        /// Underlying network kind.
        kind: NetworkKind,
        /// Request path.
        path: String,
        /// Detail.
        detail: String,
    },
    /// A final answer from Upbit (`error.name` + `message`).
    #[error("upbit {path}: {status} {name}: {message}{}", account_hint(name))]
    Exchange {
        /// HTTP status.
        status: u16,
        /// `error.name` (string code or integer status rendered as text).
        name: String,
        /// `error.message`.
        message: String,
        /// Request path.
        path: String,
    },
    /// An authentication/permission failure.
    #[error("upbit {path}: {status} {name}: {message} (hint: {})", auth_hint(*kind, path))]
    Auth {
        /// Which failure.
        kind: AuthKind,
        /// HTTP status.
        status: u16,
        /// `error.name`.
        name: String,
        /// `error.message`.
        message: String,
        /// Request path.
        path: String,
    },
    /// 429, or our own limiter refused because the group is paused.
    #[error("upbit rate limit hit for group {group}; paused for {retry_after:?}")]
    RateLimited {
        /// Upbit rate-limit group.
        group: String,
        /// How long the group is paused.
        retry_after: Duration,
    },
    /// 418: all REST calls are halted until the block ends.
    #[error("upbit blocked this client (418); REST halted for another {remaining:?}")]
    Blocked {
        /// Time left on the block.
        remaining: Duration,
    },
    /// The request could not be built (bad URL, signing failure, no credentials).
    #[error("upbit request {path} not sent: {detail}")]
    Request {
        /// Request path.
        path: String,
        /// What was wrong.
        detail: String,
    },
}

impl UpbitError {
    /// True for errors where repeating a READ may succeed.
    pub(crate) fn is_retryable(&self) -> bool {
        matches!(self, UpbitError::Network { .. } | UpbitError::RateLimited { .. })
    }

    /// The Upbit `error.name`, when Upbit sent one.
    pub fn name(&self) -> Option<&str> {
        match self {
            UpbitError::Exchange { name, .. } | UpbitError::Auth { name, .. } => Some(name),
            _ => None,
        }
    }

    /// Classifies a non-2xx answer that is not 429/418 from its status and body. Any 401
    /// is an [`UpbitError::Auth`], whatever its body says: an unknown name is
    /// [`AuthKind::Unauthorized`], never a plain rejection that the next order repeats.
    pub(crate) fn from_response(status: u16, body: &str, path: &str, method: &str) -> UpbitError {
        let parsed: Option<ErrorBody> = serde_json::from_str(body).ok();
        if status == 401 {
            let (name, message) = match parsed {
                Some(b) => (b.error.name.as_text(), b.error.message),
                None => ("unauthorized".to_string(), snippet(body)),
            };
            let kind = AuthKind::from_name(&name).unwrap_or(AuthKind::Unauthorized);
            return UpbitError::Auth { kind, status, name, message, path: path.to_string() };
        }
        if status >= 500 && parsed.is_none() {
            return UpbitError::Network {
                kind: NetworkKind::ServerError,
                method: method.to_string(),
                path: path.to_string(),
                detail: format!("HTTP {status}: {}", snippet(body)),
            };
        }
        match parsed {
            Some(b) => {
                let name = b.error.name.as_text();
                let message = b.error.message;
                match AuthKind::from_name(&name) {
                    Some(kind) => UpbitError::Auth { kind, status, name, message, path: path.to_string() },
                    None if status >= 500 => UpbitError::Network {
                        kind: NetworkKind::ServerError,
                        method: method.to_string(),
                        path: path.to_string(),
                        detail: format!("HTTP {status} {name}: {message}"),
                    },
                    None => UpbitError::Exchange { status, name, message, path: path.to_string() },
                }
            }
            // A 4xx without a JSON error body (gateway HTML): not a definitive exchange
            // answer, so treat it as a network problem.
            None => UpbitError::Network {
                kind: NetworkKind::BadBody,
                method: method.to_string(),
                path: path.to_string(),
                detail: format!("HTTP {status}: {}", snippet(body)),
            },
        }
    }
}

impl From<UpbitError> for ExchangeError {
    /// Upbit's split onto the neutral kinds; `Display` stays Upbit's full description.
    fn from(e: UpbitError) -> ExchangeError {
        let message = e.to_string();
        let (kind, code, status, reason, hint) = match e {
            UpbitError::Network { kind: NetworkKind::Connect, path, detail, .. }
            | UpbitError::UnknownOutcome { kind: NetworkKind::Connect, path, detail } => {
                // A connect failure wrote no byte of the request.
                (ErrorKind::Connect, None, None, format!("{path}: connect failed: {detail}"), None)
            }
            UpbitError::Network { detail, .. } => (ErrorKind::Network, None, None, detail, None),
            UpbitError::UnknownOutcome { detail, .. } => {
                (ErrorKind::UnknownOutcome, None, None, detail, None)
            }
            UpbitError::Request { path, detail } => {
                (ErrorKind::NotSent, None, None, format!("{path}: {detail}"), None)
            }
            UpbitError::Exchange { status, name, message, .. } => match AccountState::from_name(&name) {
                // The fix first: Upbit's own words are kept after it.
                Some(state) => {
                    let kind = if state.blocks_trading() { ErrorKind::Auth } else { ErrorKind::Rejected };
                    let reason = format!("{} (Upbit: {message})", state.hint());
                    (kind, Some(name), Some(status), reason, Some(state.hint()))
                }
                None => (ErrorKind::Rejected, Some(name), Some(status), message, None),
            },
            UpbitError::Auth { kind, status, name, message, path } => {
                (ErrorKind::Auth, Some(name), Some(status), message, Some(auth_hint(kind, &path)))
            }
            UpbitError::RateLimited { .. } => (ErrorKind::RateLimited, None, None, message.clone(), None),
            UpbitError::Blocked { .. } => (ErrorKind::Blocked, None, None, message.clone(), None),
        };
        ExchangeError { kind, code, status, reason, message, hint }
    }
}

/// The first 120 characters of a body, on one line, for error messages.
pub(crate) fn snippet(body: &str) -> String {
    let s: String = body.chars().take(120).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if body.chars().count() > 120 { format!("{s}…") } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_types() {
        let e = UpbitError::from_response(
            401,
            r#"{"error":{"name":"no_authorization_i_p","message":"This is not a verified IP."}}"#,
            "/v1/accounts",
            "GET",
        );
        assert!(matches!(e, UpbitError::Auth { kind: AuthKind::IpNotAllowed, .. }), "{e:?}");
        assert!(e.to_string().contains("allowlist"), "{e}");
        let e = UpbitError::from_response(
            404,
            r#"{"error":{"name":404,"message":"Code not found"}}"#,
            "/x",
            "GET",
        );
        assert_eq!(e.name(), Some("404"));
        assert!(!e.is_retryable());
        let e = UpbitError::from_response(502, "<html>bad gateway</html>", "/x", "GET");
        assert!(matches!(e, UpbitError::Network { kind: NetworkKind::ServerError, .. }));
        assert!(e.is_retryable());
        let e = UpbitError::from_response(400, "<html>oops</html>", "/x", "GET");
        assert!(matches!(e, UpbitError::Network { kind: NetworkKind::BadBody, .. }));
    }

    #[test]
    fn both_ip_spellings_and_any_401_are_auth_failures() {
        for name in ["no_authorization_i_p", "no_authorization_ip"] {
            let body = format!(r#"{{"error":{{"name":"{name}","message":"This is not a verified IP."}}}}"#);
            let e = UpbitError::from_response(401, &body, "/v1/orders", "POST");
            assert!(matches!(e, UpbitError::Auth { kind: AuthKind::IpNotAllowed, .. }), "{e:?}");
            assert!(e.to_string().contains("allowlist"), "{e}");
        }
        for body in [r#"{"error":{"name":"brand_new_401","message":"?"}}"#, "<html>401</html>", ""] {
            let e = UpbitError::from_response(401, body, "/v1/orders", "POST");
            assert!(matches!(e, UpbitError::Auth { kind: AuthKind::Unauthorized, status: 401, .. }), "{e:?}");
            assert!(e.to_string().contains("hint"), "{e}");
        }
    }

    /// Each account state Upbit names is a final refusal whose reason starts with the fix
    /// and keeps Upbit's words; none is retried; only a disabled account halts trading.
    #[test]
    fn account_states_get_final_actionable_reasons() {
        let cases = [
            (
                403,
                "thirdparty_agreement_required",
                "one-time consent before trading BTC/USDT",
                ErrorKind::Rejected,
            ),
            (403, "order_disabled_member", "disabled ordering for this account", ErrorKind::Auth),
            (400, "invalid_price_bid", "price unit (tick)", ErrorKind::Rejected),
            (400, "invalid_price_ask", "price unit (tick)", ErrorKind::Rejected),
            (403, "open_api_withdraw_locked", "출금 안심차단", ErrorKind::Rejected),
        ];
        for (status, name, fix, kind) in cases {
            let body = format!(r#"{{"error":{{"name":"{name}","message":"업비트의 말"}}}}"#);
            let e = UpbitError::from_response(status, &body, "/orders", "POST");
            assert!(!e.is_retryable(), "{name}");
            assert!(e.to_string().contains(fix), "{name}: {e}");
            let x = ExchangeError::from(e);
            assert_eq!((x.kind, x.code.as_deref(), x.status), (kind, Some(name), Some(status)), "{name}");
            assert!(x.reason.contains(fix) && x.reason.contains("업비트의 말"), "{name}: {}", x.reason);
            assert!(x.hint.is_some_and(|h| h.contains(fix)), "{name}");
        }
        // Other refusals are unchanged: Upbit's message is the reason.
        let e = UpbitError::from_response(
            400,
            r#"{"error":{"name":"insufficient_funds_bid","message":"주문가능한 금액(KRW)이 부족합니다."}}"#,
            "/orders",
            "POST",
        );
        assert_eq!(ExchangeError::from(e).reason, "주문가능한 금액(KRW)이 부족합니다.");
    }

    /// `out_of_scope` names the permission the refused call needs.
    #[test]
    fn out_of_scope_names_the_missing_permission() {
        let body = r#"{"error":{"name":"out_of_scope","message":"권한이 부족합니다."}}"#;
        for (path, permission) in [
            ("/accounts", "자산조회 (View Assets)"),
            ("/v1/orders", "주문하기 (Make Orders)"),
            ("/orders/test", "주문하기 (Make Orders)"),
            ("/orders/chance", "주문조회 (View Orders)"),
            ("/order", "주문조회 (View Orders"),
            ("/withdraws/coin", "출금하기"),
            ("/pockets", "포켓관리"),
        ] {
            for status in [401, 403] {
                let e = UpbitError::from_response(status, body, path, "GET");
                assert!(matches!(e, UpbitError::Auth { kind: AuthKind::OutOfScope, .. }), "{e:?}");
                assert!(e.to_string().contains(permission), "{path}: {e}");
                let x = ExchangeError::from(e);
                assert!(x.hint.is_some_and(|h| h.contains(permission) && h.contains("new key")), "{path}");
            }
        }
        let e = UpbitError::from_response(401, body, "/somewhere/new", "GET");
        assert!(e.to_string().contains(AuthKind::OutOfScope.hint()), "{e}");
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            /// Any status and any body (non-JSON, odd JSON, unknown names) classify without a
            /// panic, and every 401 is an authentication failure.
            #[test]
            fn any_error_answer_classifies(
                status in prop_oneof![Just(401u16), Just(400), Just(403), Just(404), Just(500), 300u16..600],
                body in prop_oneof![
                    any::<String>(),
                    "[a-z_]{0,30}".prop_map(|n| format!(r#"{{"error":{{"name":"{n}","message":"m"}}}}"#)),
                    any::<i64>().prop_map(|n| format!(r#"{{"error":{{"name":{n},"message":"m"}}}}"#)),
                    Just(r#"{"error":{"name":null}}"#.to_string()),
                    Just(format!(r#"{{"error":{{"name":"x","message":"{}"}}}}"#, "é".repeat(100_000))),
                ],
            ) {
                let e = UpbitError::from_response(status, &body, "/v1/x", "GET");
                let _ = e.to_string();
                if status == 401 {
                    prop_assert!(matches!(e, UpbitError::Auth { .. }), "{e:?}");
                }
            }
        }
    }
}
