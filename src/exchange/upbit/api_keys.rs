//! `GET /v1/api_keys` (API Key 목록 조회): every API key of the account with its expiry.
//!
//! Upbit keys last one year from issue and cannot be renewed; a key past `expire_at` is
//! refused with `401 expired_access_key`. The call needs a valid key but no permission
//! ("별도 권한은 필요하지 않습니다"), counts in the `default` group (30/s per pocket) and
//! lists the account's keys, not only the calling one: ours is found by its access key.

use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;

use crate::exchange::upbit::error::{AuthKind, NetworkKind, UpbitError};
use crate::exchange::upbit::limits::Group;
use crate::exchange::upbit::rest::RestClient;

/// One key of the account, as Upbit lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiKeyInfo {
    /// The key's access key (not a secret by itself, but only ever compared, never shown).
    pub access_key: String,
    /// When the key stops working (ISO 8601 with offset).
    pub expire_at: DateTime<FixedOffset>,
}

/// What is known about the expiry of the key in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyExpiry {
    /// The key works until `at`.
    Expires {
        /// Upbit's `expire_at`, in UTC.
        at: DateTime<Utc>,
    },
    /// Upbit refused the key as expired (`expired_access_key`).
    Expired,
    /// Could not be read; `why` says what the person can do about it, in a few words.
    Unknown {
        /// Why (`key lacks the permission to list API keys`, `no answer from Upbit`).
        why: String,
    },
}

impl RestClient {
    /// `GET /api_keys`: the account's keys and their expiry dates.
    pub async fn api_keys(&self) -> Result<Vec<ApiKeyInfo>, UpbitError> {
        let v: serde_json::Value = self.get("/api_keys", Group::Default, vec![], true).await?;
        keys_of(v).map_err(|detail| UpbitError::Network {
            kind: NetworkKind::BadBody,
            method: "GET".into(),
            path: "/api_keys".into(),
            detail,
        })
    }

    /// The expiry of the key this client signs with. Never an error: a refusal or a
    /// network failure is [`KeyExpiry::Unknown`] with the reason, so a caller shows it and
    /// tries again later instead of retrying into an error storm (the read itself already
    /// had its bounded retries).
    pub async fn key_expiry(&self) -> KeyExpiry {
        let Some(ours) = self.credentials.as_ref().map(|c| c.expose_access_key().to_string()) else {
            return KeyExpiry::Unknown { why: "no API key configured".into() };
        };
        match self.api_keys().await {
            Ok(keys) => expiry_of(&keys, &ours),
            Err(e) => expiry_from_error(&e),
        }
    }
}

/// Upbit's list decoded, or which field did not decode (never the body: it holds the
/// account's access keys), for "reply not understood (…)".
pub(crate) fn keys_of(v: serde_json::Value) -> Result<Vec<ApiKeyInfo>, String> {
    let serde_json::Value::Array(items) = v else {
        return Err("not a list of keys".into());
    };
    items
        .into_iter()
        .map(|item| {
            let text = |k: &str| item.get(k).and_then(serde_json::Value::as_str);
            let access_key = text("access_key").ok_or("a key without access_key")?.to_string();
            let expire_at = match text("expire_at") {
                None => return Err("a key without expire_at".to_string()),
                Some(at) => DateTime::parse_from_rfc3339(at).map_err(|_| {
                    let shown: String = at.chars().take(32).collect();
                    format!("expire_at {shown:?} is not a date")
                })?,
            };
            Ok(ApiKeyInfo { access_key, expire_at })
        })
        .collect()
}

/// The expiry of `access_key` in Upbit's list.
pub(crate) fn expiry_of(keys: &[ApiKeyInfo], access_key: &str) -> KeyExpiry {
    match keys.iter().find(|k| k.access_key == access_key) {
        Some(k) => KeyExpiry::Expires { at: k.expire_at.with_timezone(&Utc) },
        None => {
            KeyExpiry::Unknown { why: "the key in use is not in Upbit's list of this account's keys".into() }
        }
    }
}

/// What a failed `GET /api_keys` tells about the key.
pub(crate) fn expiry_from_error(e: &UpbitError) -> KeyExpiry {
    match e {
        UpbitError::Auth { kind: AuthKind::ExpiredKey, .. } => KeyExpiry::Expired,
        // Upbit documents no permission for this call; a key refused anyway is still a
        // key whose expiry is unknown, not a fault to retry.
        UpbitError::Auth { kind: AuthKind::OutOfScope, .. } => {
            KeyExpiry::Unknown { why: "key lacks the permission to list API keys".into() }
        }
        UpbitError::Auth { name, .. } => {
            KeyExpiry::Unknown { why: format!("Upbit refused the key ({name})") }
        }
        UpbitError::Exchange { name, .. } => KeyExpiry::Unknown { why: format!("Upbit answered {name}") },
        UpbitError::RateLimited { .. } | UpbitError::Blocked { .. } => {
            KeyExpiry::Unknown { why: "rate limited; tried again later".into() }
        }
        // Upbit answered, with something this client cannot read: not "no answer".
        UpbitError::Network { kind: NetworkKind::BadBody, detail, .. } => {
            let detail: String = detail.chars().take(80).collect();
            KeyExpiry::Unknown { why: format!("reply not understood ({detail}); tried again later") }
        }
        UpbitError::Network { .. } | UpbitError::UnknownOutcome { .. } | UpbitError::Request { .. } => {
            KeyExpiry::Unknown { why: "no answer from Upbit; tried again later".into() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upbit's documented example answer.
    const DOC_EXAMPLE: &str = r#"[
      {
        "access_key": "xxxxxxxxxxxxxxxxxxxxxxxx",
        "expire_at": "2021-03-09T12:39:39+00:00"
      }
    ]"#;

    #[test]
    fn the_documented_answer_decodes_and_our_key_is_found_by_its_access_key() {
        let keys: Vec<ApiKeyInfo> = serde_json::from_str(DOC_EXAMPLE).unwrap();
        assert_eq!(keys.len(), 1);
        let at = "2021-03-09T12:39:39Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(expiry_of(&keys, "xxxxxxxxxxxxxxxxxxxxxxxx"), KeyExpiry::Expires { at });
        // KST offsets (what the KR site writes) land on the same instant.
        let kst: Vec<ApiKeyInfo> =
            serde_json::from_str(r#"[{"access_key":"a","expire_at":"2021-03-09T21:39:39+09:00"}]"#).unwrap();
        assert_eq!(expiry_of(&kst, "a"), KeyExpiry::Expires { at });
        assert!(matches!(expiry_of(&keys, "another"), KeyExpiry::Unknown { .. }));
    }

    #[test]
    fn a_reply_that_does_not_decode_is_not_understood_not_unanswered() {
        let v = serde_json::from_str(r#"[{"access_key":"a","expire_at":"not-a-date"}]"#).unwrap();
        let detail = keys_of(v).unwrap_err();
        assert_eq!(detail, r#"expire_at "not-a-date" is not a date"#);
        let e = UpbitError::Network {
            kind: NetworkKind::BadBody,
            method: "GET".into(),
            path: "/api_keys".into(),
            detail,
        };
        assert_eq!(
            expiry_from_error(&e),
            KeyExpiry::Unknown {
                why: r#"reply not understood (expire_at "not-a-date" is not a date); tried again later"#
                    .into()
            }
        );
        // The documented answer goes the same way as before.
        let keys = keys_of(serde_json::from_str(DOC_EXAMPLE).unwrap()).unwrap();
        assert_eq!(keys, serde_json::from_str::<Vec<ApiKeyInfo>>(DOC_EXAMPLE).unwrap());
    }

    #[test]
    fn refusals_are_states_not_errors() {
        let e = UpbitError::from_response(
            401,
            r#"{"error":{"name":"out_of_scope","message":"권한이 부족합니다."}}"#,
            "/api_keys",
            "GET",
        );
        assert_eq!(
            expiry_from_error(&e),
            KeyExpiry::Unknown { why: "key lacks the permission to list API keys".into() }
        );
        let e = UpbitError::from_response(
            401,
            r#"{"error":{"name":"expired_access_key","message":"API 키가 만료되었습니다."}}"#,
            "/api_keys",
            "GET",
        );
        assert_eq!(expiry_from_error(&e), KeyExpiry::Expired);
        let e = UpbitError::from_response(502, "<html>bad gateway</html>", "/api_keys", "GET");
        assert!(matches!(expiry_from_error(&e), KeyExpiry::Unknown { why } if why.contains("later")));
    }
}
