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
    #[error("upbit {path}: {status} {name}: {message}")]
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
    #[error("upbit {path}: {status} {name}: {message} (hint: {})", kind.hint())]
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
            UpbitError::Exchange { status, name, message, .. } => {
                (ErrorKind::Rejected, Some(name), Some(status), message, None)
            }
            UpbitError::Auth { kind, status, name, message, .. } => {
                (ErrorKind::Auth, Some(name), Some(status), message, Some(kind.hint()))
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
