//! Upbit authentication: the ordered query that is both sent and hashed, and the HS512
//! JWT carried in `Authorization: Bearer …`, signed with the neutral [`Credentials`]
//! through [`Sign`].
//!
//! The one rule that matters most (protocol §1.2): the string that is hashed must be the
//! un-encoded form of the query actually sent, in send order. So a request's parameters
//! are an ordered `Vec<(k, v)>` turned into a [`SignedQuery`] ONCE, and both the wire
//! query and the hash input come from that one value. POST bodies are rendered the same
//! way: the JSON body and its hash input come from the same ordered pairs.
//!
//! Every token gets a fresh UUIDv4 nonce: a retried request signs a new token, because a
//! replayed nonce is rejected with `nonce_used`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use sha2::{Digest, Sha512};

/// Characters encoded in query values: everything except RFC 3986 unreserved characters.
const VALUE_SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// Parameter names keep `[` and `]` unencoded (`states[]`), as Upbit requires.
const NAME_SET: &AsciiSet = &VALUE_SET.remove(b'[').remove(b']');

/// `base64url({"alg":"HS512","typ":"JWT"})`, the fixed JOSE header (alg first, as Upbit's
/// own samples and the test vectors have it).
const HS512_HEADER_B64: &str = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9";

pub use crate::exchange::credentials::Credentials;

/// Upbit's request signing over a neutral key pair: HS512 JWTs with a fresh nonce.
pub(crate) trait Sign {
    /// Signs a token carrying only `access_key` and `nonce` (WebSocket upgrade, REST calls
    /// without parameters).
    fn token(&self) -> Result<String, AuthError>;

    /// Signs a token for a request whose hash input is `hash_input` (may be empty).
    fn token_for(&self, hash_input: &str) -> Result<String, AuthError>;

    /// Signs a token with a given nonce and optional query hash. Only tests should pass a
    /// fixed nonce; everything else goes through [`Sign::token`] / [`Sign::token_for`].
    fn token_with_nonce(&self, query_hash: Option<&str>, nonce: &str) -> Result<String, AuthError>;
}

impl Sign for Credentials {
    fn token(&self) -> Result<String, AuthError> {
        self.token_with_nonce(None, &uuid::Uuid::new_v4().to_string())
    }

    fn token_for(&self, hash_input: &str) -> Result<String, AuthError> {
        let hash = if hash_input.is_empty() { None } else { Some(sha512_hex(hash_input)) };
        self.token_with_nonce(hash.as_deref(), &uuid::Uuid::new_v4().to_string())
    }

    fn token_with_nonce(&self, query_hash: Option<&str>, nonce: &str) -> Result<String, AuthError> {
        // Field order is claim order in the JSON: access_key, nonce, query_hash, query_hash_alg.
        #[derive(Serialize)]
        struct Claims<'a> {
            access_key: &'a str,
            nonce: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            query_hash: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            query_hash_alg: Option<&'a str>,
        }
        let claims = Claims {
            access_key: self.expose_access_key(),
            nonce,
            query_hash,
            query_hash_alg: query_hash.map(|_| "SHA512"),
        };
        let payload = serde_json::to_vec(&claims).map_err(|e| AuthError::Sign(e.to_string()))?;
        let mut message = String::with_capacity(HS512_HEADER_B64.len() + 1 + payload.len() * 4 / 3 + 4);
        message.push_str(HS512_HEADER_B64);
        message.push('.');
        message.push_str(&URL_SAFE_NO_PAD.encode(&payload));
        let key = EncodingKey::from_secret(self.expose_secret_key().as_bytes());
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS512)
            .map_err(|e| AuthError::Sign(e.to_string()))?;
        message.push('.');
        message.push_str(&signature);
        Ok(message)
    }
}

/// Signing failed (bad key material); names no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AuthError {
    /// The HMAC or claim serialization failed.
    #[error("cannot sign the Upbit JWT: {0}")]
    Sign(String),
}

/// Lowercase hex SHA-512 of a string: the `query_hash` claim.
pub(crate) fn sha512_hex(input: &str) -> String {
    hex::encode(Sha512::digest(input.as_bytes()))
}

/// A request's parameters rendered once: the percent-encoded wire query and the
/// un-encoded hash input, always in the same order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SignedQuery {
    /// `k=v&…` as sent on the wire (values percent-encoded, `[]` in names kept).
    pub wire: String,
    /// `k=v&…` un-encoded: the string whose SHA-512 is `query_hash`.
    pub hash_input: String,
}

impl SignedQuery {
    /// Builds both forms from ordered pairs. Array parameters are repeated keys
    /// (`("states[]","wait"), ("states[]","watch")`); order is preserved exactly.
    pub fn new(params: &[(String, String)]) -> Self {
        let mut wire = String::new();
        let mut hash_input = String::new();
        for (i, (k, v)) in params.iter().enumerate() {
            if i > 0 {
                wire.push('&');
                hash_input.push('&');
            }
            wire.extend(utf8_percent_encode(k, NAME_SET));
            wire.push('=');
            wire.extend(utf8_percent_encode(v, VALUE_SET));
            hash_input.push_str(k);
            hash_input.push('=');
            hash_input.push_str(v);
        }
        SignedQuery { wire, hash_input }
    }

    /// True when there are no parameters (the token then carries no `query_hash`).
    pub fn is_empty(&self) -> bool {
        self.wire.is_empty()
    }
}

/// A POST body rendered once from ordered pairs: the JSON text sent and the hash input.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SignedBody {
    /// `{"k":"v",…}` in pair order.
    pub json: String,
    /// `k=v&…` in the same order, un-encoded.
    pub hash_input: String,
}

impl SignedBody {
    /// Builds the JSON body and its hash input from ordered string pairs (Upbit bodies
    /// carry strings only; absent values are simply not in the list).
    pub fn new(params: &[(String, String)]) -> Self {
        let mut json = String::from("{");
        let mut hash_input = String::new();
        for (i, (k, v)) in params.iter().enumerate() {
            if i > 0 {
                json.push(',');
                hash_input.push('&');
            }
            // serde_json escapes strings correctly; a String always serializes.
            json.push_str(&serde_json::Value::String(k.clone()).to_string());
            json.push(':');
            json.push_str(&serde_json::Value::String(v.clone()).to_string());
            hash_input.push_str(k);
            hash_input.push('=');
            hash_input.push_str(v);
        }
        json.push('}');
        SignedBody { json, hash_input }
    }
}

/// Percent-decodes one query component (used by tests and fake servers to check that the
/// hashed string equals the decoded wire query).
#[cfg(test)]
pub(crate) fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const FIXED_NONCE: &str = "00000000-0000-4000-8000-000000000000";

    #[test]
    fn query_hash_vectors_from_the_reference() {
        let q = SignedQuery::new(&pairs(&[
            ("market", "KRW-BTC"),
            ("states[]", "wait"),
            ("states[]", "watch"),
            ("limit", "10"),
        ]));
        assert_eq!(q.wire, "market=KRW-BTC&states[]=wait&states[]=watch&limit=10");
        assert_eq!(q.hash_input, "market=KRW-BTC&states[]=wait&states[]=watch&limit=10");
        assert_eq!(
            sha512_hex(&q.hash_input),
            "e3cfc649139c595e1c26a8aa2b3c8504f4b15011fc2b819081451e5e845172bd\
             5dbbb5110ec5d7a3d1d32ff71f46a78323a040e8bedf8672021fd2206190a3a8"
        );

        let q =
            SignedQuery::new(&pairs(&[("market", "KRW-BTC"), ("start_time", "2025-06-24T13:56:53+09:00")]));
        assert_eq!(q.wire, "market=KRW-BTC&start_time=2025-06-24T13%3A56%3A53%2B09%3A00");
        assert_eq!(q.hash_input, "market=KRW-BTC&start_time=2025-06-24T13:56:53+09:00");
        assert_eq!(
            sha512_hex(&q.hash_input),
            "8dd42a0dae179c46b4fb6740a12b097979d92d5a7d002b3dcfe797762ec78291\
             9a1d9851c2290082e6ad62196f8abd4883fc8458ec9ddea0d49234e440cf9687"
        );

        let b = SignedBody::new(&pairs(&[
            ("market", "KRW-BTC"),
            ("side", "bid"),
            ("volume", "0.001"),
            ("price", "50000000"),
            ("ord_type", "limit"),
        ]));
        assert_eq!(
            b.json,
            r#"{"market":"KRW-BTC","side":"bid","volume":"0.001","price":"50000000","ord_type":"limit"}"#
        );
        assert_eq!(
            sha512_hex(&b.hash_input),
            "7a1eb1d7da6191e65ee8ae0fcb65c83f16b88bf05a9d252cd075a6c0abfcf304\
             5e3c377378a034a11da9abf9cb00ad1435525991ddf110614b81814773499233"
        );
    }

    #[test]
    fn hs512_tokens_match_the_reference_vectors() {
        let c = Credentials::new("test-access-key", "test-secret-key");
        let hash = "e3cfc649139c595e1c26a8aa2b3c8504f4b15011fc2b819081451e5e845172bd\
                    5dbbb5110ec5d7a3d1d32ff71f46a78323a040e8bedf8672021fd2206190a3a8";
        assert_eq!(
            c.token_with_nonce(Some(hash), FIXED_NONCE).unwrap(),
            "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJhY2Nlc3Nfa2V5IjoidGVzdC1hY2Nlc3Mta2V5Iiwibm9uY2UiOiIwMDAwMDAwMC0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDAiLCJxdWVyeV9oYXNoIjoiZTNjZmM2NDkxMzljNTk1ZTFjMjZhOGFhMmIzYzg1MDRmNGIxNTAxMWZjMmI4MTkwODE0NTFlNWU4NDUxNzJiZDVkYmJiNTExMGVjNWQ3YTNkMWQzMmZmNzFmNDZhNzgzMjNhMDQwZThiZWRmODY3MjAyMWZkMjIwNjE5MGEzYTgiLCJxdWVyeV9oYXNoX2FsZyI6IlNIQTUxMiJ9.jr-0If6-c3EI6n57lGvN3ZWL9fcKGVlPxTCHD7iD_gqaufiCS8dZSp-_4b2L-1gVje1BhBod895S26gvANijbA"
        );
        assert_eq!(
            c.token_with_nonce(None, FIXED_NONCE).unwrap(),
            "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJhY2Nlc3Nfa2V5IjoidGVzdC1hY2Nlc3Mta2V5Iiwibm9uY2UiOiIwMDAwMDAwMC0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDAifQ.IRJz1h69PFYpG6JidEP0Y7SNH2i1SnvFduGtOARTFPBx0pCfnB-MV5ZWqAKjTvoF7jTUs6VoVvORZD91huR9gA"
        );
    }

    #[test]
    fn nonces_are_unique_over_100k_tokens() {
        let c = Credentials::new("test-access-key", "test-secret-key");
        let mut seen = std::collections::HashSet::with_capacity(100_000);
        for _ in 0..100_000 {
            let t = c.token().unwrap();
            let payload = t.split('.').nth(1).unwrap();
            let claims: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
            assert!(seen.insert(claims["nonce"].as_str().unwrap().to_string()));
        }
    }

    fn decode_wire(wire: &str) -> String {
        wire.split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                format!("{}={}", percent_decode(k), percent_decode(v))
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    proptest! {
        #[test]
        fn hashed_string_equals_decoded_wire_query(
            params in proptest::collection::vec(
                (prop_oneof![
                    "[a-z_]{1,12}",
                    "[a-z_]{1,8}\\[\\]",
                ], "\\PC{0,16}"),
                1..8,
            )
        ) {
            let pairs: Vec<(String, String)> = params;
            let q = SignedQuery::new(&pairs);
            prop_assert_eq!(decode_wire(&q.wire), q.hash_input.clone());
            // The wire form never carries raw reserved characters inside values.
            for kv in q.wire.split('&') {
                let (_, v) = kv.split_once('=').unwrap();
                prop_assert!(!v.contains(['&', '=', '+', ' ', ':', '[', ']']));
            }
        }
    }
}
