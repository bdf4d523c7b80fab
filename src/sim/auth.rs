//! JWT verification exactly as the protocol reference §1.2 recipe describes: Bearer token,
//! HS256/HS512 (never `none`), known access key, single-use nonce, and `query_hash`
//! recomputed from the percent-decoded raw query in order or from the JSON body keys in
//! order.

use std::collections::{HashMap, HashSet, VecDeque};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha512};

/// An authentication failure, named as Upbit names it (all answered with 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AuthError {
    /// No or empty `Authorization` header.
    #[error("no_authorization_token")]
    NoToken,
    /// Access key unknown.
    #[error("invalid_access_key")]
    InvalidAccessKey,
    /// Signature, algorithm or token shape wrong.
    #[error("jwt_verification")]
    Verification,
    /// Nonce seen before.
    #[error("nonce_used")]
    NonceUsed,
    /// query_hash missing or different.
    #[error("invalid_query_payload")]
    InvalidQueryPayload,
}

impl AuthError {
    /// Upbit's `error.name`.
    pub fn name(&self) -> &'static str {
        match self {
            AuthError::NoToken => "no_authorization_token",
            AuthError::InvalidAccessKey => "invalid_access_key",
            AuthError::Verification => "jwt_verification",
            AuthError::NonceUsed => "nonce_used",
            AuthError::InvalidQueryPayload => "invalid_query_payload",
        }
    }

    /// Human message.
    pub fn message(&self) -> &'static str {
        match self {
            AuthError::NoToken => "인증 토큰이 존재하지 않습니다.",
            AuthError::InvalidAccessKey => "잘못된 엑세스 키입니다.",
            AuthError::Verification => "Jwt 토큰 검증에 실패했습니다.",
            AuthError::NonceUsed => "이미 요청한 nonce값이 다시 사용되었습니다.",
            AuthError::InvalidQueryPayload => "Failed to verify the query of Jwt.",
        }
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    access_key: String,
    nonce: String,
    #[serde(default)]
    query_hash: Option<String>,
    #[serde(default)]
    query_hash_alg: Option<String>,
}

/// Nonces remembered per simulator. Upbit's replay window is undocumented (reference
/// open question 13); a FIFO of this many keeps a long demo session's memory bounded
/// (~20 MB) while any realistic replay (seconds to hours later) is still caught.
const NONCE_MEMORY: usize = 200_000;

/// Known keys and used nonces.
#[derive(Default)]
pub(crate) struct Authenticator {
    keys: HashMap<String, String>,
    nonces: HashSet<(String, String)>,
    nonce_order: VecDeque<(String, String)>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Access keys only; secrets never reach a log.
        f.debug_struct("Authenticator")
            .field("access_keys", &self.keys.keys().collect::<Vec<_>>())
            .field("nonces", &self.nonces.len())
            .finish()
    }
}

/// What the hash must cover.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Params<'a> {
    /// No parameters: the token must not need a query_hash.
    None,
    /// Raw (still percent-encoded) query string.
    Query(&'a str),
    /// Raw JSON body text.
    Body(&'a [u8]),
}

impl Authenticator {
    /// Registers an access/secret key pair.
    pub(crate) fn add_key(&mut self, access: &str, secret: &str) {
        self.keys.insert(access.to_string(), secret.to_string());
    }

    /// Verifies an `Authorization` header value; returns the access key.
    pub(crate) fn verify(&mut self, header: Option<&str>, params: Params<'_>) -> Result<String, AuthError> {
        let header = header.map(str::trim).filter(|h| !h.is_empty()).ok_or(AuthError::NoToken)?;
        let token = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::NoToken)?;
        let jwt_header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Verification)?;
        if !matches!(jwt_header.alg, Algorithm::HS256 | Algorithm::HS512) {
            return Err(AuthError::Verification);
        }
        let claims = unverified_claims(token)?;
        let secret = self.keys.get(&claims.access_key).ok_or(AuthError::InvalidAccessKey)?;
        let mut validation = Validation::new(jwt_header.alg);
        validation.algorithms = vec![Algorithm::HS256, Algorithm::HS512];
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_aud = false;
        let data =
            jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret.as_bytes()), &validation)
                .map_err(|_| AuthError::Verification)?;
        let claims = data.claims;
        let key = (claims.access_key.clone(), claims.nonce.clone());
        if self.nonces.contains(&key) {
            return Err(AuthError::NonceUsed);
        }
        let expected = match params {
            Params::None => None,
            Params::Query("") => None,
            Params::Query(q) => Some(query_hash_input(q)),
            Params::Body(b) if b.iter().all(u8::is_ascii_whitespace) => None,
            Params::Body(b) => Some(body_hash_input(b).ok_or(AuthError::InvalidQueryPayload)?),
        };
        if let Some(input) = expected {
            let alg = claims.query_hash_alg.as_deref().unwrap_or("SHA512");
            if !alg.eq_ignore_ascii_case("SHA512") {
                return Err(AuthError::InvalidQueryPayload);
            }
            let got = claims.query_hash.as_deref().ok_or(AuthError::InvalidQueryPayload)?;
            if !got.eq_ignore_ascii_case(&sha512_hex(&input)) {
                return Err(AuthError::InvalidQueryPayload);
            }
        }
        // The nonce is burned only by a token whose signature verified.
        if self.nonce_order.len() >= NONCE_MEMORY
            && let Some(old) = self.nonce_order.pop_front()
        {
            self.nonces.remove(&old);
        }
        self.nonce_order.push_back(key.clone());
        self.nonces.insert(key);
        Ok(claims.access_key)
    }
}

/// The access key an `Authorization` header claims, not verified: rate limits are counted
/// per pocket before a request is authenticated.
pub(crate) fn claimed_access_key(header: Option<&str>) -> Option<String> {
    let token = header?.trim().strip_prefix("Bearer ")?.trim();
    unverified_claims(token).ok().map(|c| c.access_key)
}

fn unverified_claims(token: &str) -> Result<Claims, AuthError> {
    use base64_lite::decode_url;
    let payload = token.split('.').nth(1).ok_or(AuthError::Verification)?;
    let bytes = decode_url(payload).ok_or(AuthError::Verification)?;
    serde_json::from_slice(&bytes).map_err(|_| AuthError::Verification)
}

/// Lowercase hex SHA-512.
pub(crate) fn sha512_hex(input: &str) -> String {
    hex::encode(Sha512::digest(input.as_bytes()))
}

/// Percent-decodes (and `+` → space is NOT applied: Upbit clients encode spaces as %20).
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Hash input of a GET/DELETE: each `k=v` of the raw query percent-decoded, same order.
pub(crate) fn query_hash_input(raw: &str) -> String {
    raw.split('&').filter(|p| !p.is_empty()).map(percent_decode).collect::<Vec<_>>().join("&")
}

/// Hash input of a POST: body keys in order, `k=v` joined by `&`; strings raw, other
/// values as their JSON text (open question 6 of the reference).
pub(crate) fn body_hash_input(body: &[u8]) -> Option<String> {
    let v: OrderedBody = serde_json::from_slice(body).ok()?;
    Some(
        v.0.iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join("&"),
    )
}

/// A JSON object's members in document order (serde_json's map sorts keys).
#[derive(Debug, Default)]
pub(crate) struct OrderedBody(pub Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for OrderedBody {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OrderedBody;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<OrderedBody, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, serde_json::Value>()? {
                    out.push((k, v));
                }
                Ok(OrderedBody(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Parses a raw query into decoded pairs, in order.
pub(crate) fn query_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(&k.replace('+', " ")), percent_decode(&v.replace('+', " ")))
        })
        .collect()
}

/// Minimal unpadded base64url decoding (only used to peek at the access key before the
/// signature check).
mod base64_lite {
    pub(crate) fn decode_url(s: &str) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(s.len() * 3 / 4);
        let mut acc = 0u32;
        let mut bits = 0u32;
        for c in s.bytes() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'-' => 62,
                b'_' => 63,
                b'=' => continue,
                _ => return None,
            };
            acc = (acc << 6) | u32::from(v);
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        Some(out)
    }
}

// ---------------------------------------------------------------------------------------
// The admin endpoints' guard

/// Header carrying the admin token (the alternative is `Authorization: Bearer <token>`).
pub(crate) const ADMIN_TOKEN_HEADER: &str = "x-hoga-admin-token";

/// Environment variable that fixes the admin token instead of a random one (a parent
/// process that starts `hoga sim` or a demo console and drives its admin endpoints, such
/// as a benchmark, sets it; at least 16 characters).
pub(crate) const ADMIN_TOKEN_ENV: &str = "HOGA_SIM_ADMIN_TOKEN";

/// Why an admin request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AdminDenied {
    /// No token, or a wrong one: 401.
    #[error("admin endpoints need the token hoga sim printed at start (Authorization: Bearer TOKEN)")]
    Unauthorized,
    /// Sent by a browser or from another origin (an `Origin` or cross-site
    /// `Sec-Fetch-Site` header), or to a host name that is not loopback: 403. A web page
    /// on the same machine must not move prices or inject faults.
    #[error("cross-origin or non-loopback requests to the admin endpoints are refused")]
    Forbidden,
}

impl AdminDenied {
    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            AdminDenied::Unauthorized => 401,
            AdminDenied::Forbidden => 403,
        }
    }
}

/// The random token that guards `/admin/*`. Its `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct AdminToken(String);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

impl AdminToken {
    /// `fixed` when given and at least 16 characters, else [`ADMIN_TOKEN_ENV`] when set
    /// and long enough, else 122 random bits (a v4 UUID) as 32 hex digits.
    pub fn new(fixed: Option<&str>) -> AdminToken {
        let env = std::env::var(ADMIN_TOKEN_ENV).ok();
        let chosen = fixed.map(str::to_string).or(env).map(|t| t.trim().to_string()).filter(|t| {
            t.len() >= 16 && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
        AdminToken(chosen.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()))
    }

    /// The token, to print at start or to send.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Admits an admin request: no `Origin`, no cross-site `Sec-Fetch-Site`, a loopback
    /// `Host`, and the token in `Authorization: Bearer` or [`ADMIN_TOKEN_HEADER`].
    pub fn check(&self, headers: &axum::http::HeaderMap) -> Result<(), AdminDenied> {
        use axum::http::header;
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        if headers.contains_key(header::ORIGIN) {
            return Err(AdminDenied::Forbidden);
        }
        if text("sec-fetch-site").is_some_and(|s| !s.eq_ignore_ascii_case("none")) {
            return Err(AdminDenied::Forbidden);
        }
        if let Some(host) = text(header::HOST.as_str())
            && !is_loopback_host(host)
        {
            return Err(AdminDenied::Forbidden);
        }
        let bearer =
            text(header::AUTHORIZATION.as_str()).and_then(|a| a.strip_prefix("Bearer ")).map(str::trim);
        let given = bearer.or_else(|| text(ADMIN_TOKEN_HEADER));
        match given {
            Some(t) if constant_time_eq(t.as_bytes(), self.0.as_bytes()) => Ok(()),
            _ => Err(AdminDenied::Unauthorized),
        }
    }
}

/// `127.0.0.1`, `localhost` or `[::1]`, with or without a port: a DNS-rebinding page
/// reaches the simulator under its own host name, which is refused.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost") || name == "::1"
}

/// Compares without stopping at the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJhY2Nlc3Nfa2V5IjoidGVzdC1hY2Nlc3Mta2V5Iiwibm9uY2UiOiIwMDAwMDAwMC0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDAiLCJxdWVyeV9oYXNoIjoiZTNjZmM2NDkxMzljNTk1ZTFjMjZhOGFhMmIzYzg1MDRmNGIxNTAxMWZjMmI4MTkwODE0NTFlNWU4NDUxNzJiZDVkYmJiNTExMGVjNWQ3YTNkMWQzMmZmNzFmNDZhNzgzMjNhMDQwZThiZWRmODY3MjAyMWZkMjIwNjE5MGEzYTgiLCJxdWVyeV9oYXNoX2FsZyI6IlNIQTUxMiJ9.jr-0If6-c3EI6n57lGvN3ZWL9fcKGVlPxTCHD7iD_gqaufiCS8dZSp-_4b2L-1gVje1BhBod895S26gvANijbA";

    #[test]
    fn reference_vectors() {
        assert_eq!(
            sha512_hex(&query_hash_input("market=KRW-BTC&states[]=wait&states[]=watch&limit=10")),
            "e3cfc649139c595e1c26a8aa2b3c8504f4b15011fc2b819081451e5e845172bd5dbbb5110ec5d7a3d1d32ff71f46a78323a040e8bedf8672021fd2206190a3a8"
        );
        assert_eq!(
            sha512_hex(&query_hash_input("market=KRW-BTC&start_time=2025-06-24T13%3A56%3A53%2B09%3A00")),
            "8dd42a0dae179c46b4fb6740a12b097979d92d5a7d002b3dcfe797762ec782919a1d9851c2290082e6ad62196f8abd4883fc8458ec9ddea0d49234e440cf9687"
        );
        let body =
            br#"{"market":"KRW-BTC","side":"bid","volume":"0.001","price":"50000000","ord_type":"limit"}"#;
        assert_eq!(
            sha512_hex(&body_hash_input(body).unwrap()),
            "7a1eb1d7da6191e65ee8ae0fcb65c83f16b88bf05a9d252cd075a6c0abfcf3045e3c377378a034a11da9abf9cb00ad1435525991ddf110614b81814773499233"
        );
    }

    #[test]
    fn reference_token_verifies_once() {
        let mut a = Authenticator::default();
        a.add_key("test-access-key", "test-secret-key");
        let h = format!("Bearer {TOKEN}");
        let q = Params::Query("market=KRW-BTC&states[]=wait&states[]=watch&limit=10");
        assert_eq!(a.verify(Some(&h), q).unwrap(), "test-access-key");
        assert_eq!(a.verify(Some(&h), q), Err(AuthError::NonceUsed));
    }

    #[test]
    fn failures_have_their_names() {
        let mut a = Authenticator::default();
        a.add_key("test-access-key", "other-secret");
        let h = format!("Bearer {TOKEN}");
        assert_eq!(a.verify(None, Params::None), Err(AuthError::NoToken));
        assert_eq!(a.verify(Some(&h), Params::None), Err(AuthError::Verification));
        let mut b = Authenticator::default();
        b.add_key("someone-else", "x");
        assert_eq!(b.verify(Some(&h), Params::None), Err(AuthError::InvalidAccessKey));
        let mut c = Authenticator::default();
        c.add_key("test-access-key", "test-secret-key");
        assert_eq!(c.verify(Some(&h), Params::Query("market=KRW-ETH")), Err(AuthError::InvalidQueryPayload));
    }

    #[test]
    fn admin_guard_wants_the_token_and_refuses_browsers_and_foreign_hosts() {
        use axum::http::{HeaderMap, HeaderValue};
        let token = AdminToken::new(Some("0123456789abcdef0123"));
        let with = |pairs: &[(&'static str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_str(v).unwrap());
            }
            h
        };
        let bearer = "Bearer 0123456789abcdef0123";
        assert_eq!(token.check(&with(&[("host", "127.0.0.1:9000"), ("authorization", bearer)])), Ok(()));
        assert_eq!(token.check(&with(&[(ADMIN_TOKEN_HEADER, "0123456789abcdef0123")])), Ok(()));
        assert_eq!(token.check(&with(&[])), Err(AdminDenied::Unauthorized));
        assert_eq!(
            token.check(&with(&[("authorization", "Bearer 0123456789abcdef0124")])),
            Err(AdminDenied::Unauthorized)
        );
        assert_eq!(
            token.check(&with(&[("authorization", bearer), ("origin", "http://evil.example")])),
            Err(AdminDenied::Forbidden)
        );
        assert_eq!(
            token.check(&with(&[("authorization", bearer), ("sec-fetch-site", "cross-site")])),
            Err(AdminDenied::Forbidden)
        );
        assert_eq!(
            token.check(&with(&[("authorization", bearer), ("host", "rebound.example:9000")])),
            Err(AdminDenied::Forbidden)
        );
        for host in ["localhost:1", "[::1]:80", "127.0.0.1"] {
            assert_eq!(token.check(&with(&[("authorization", bearer), ("host", host)])), Ok(()), "{host}");
        }
        assert_eq!(format!("{token:?}"), "AdminToken(..)");
        // Random tokens differ and are long.
        let (a, b) = (AdminToken::new(None), AdminToken::new(None));
        assert!(a.expose().len() >= 32 && a.expose() != b.expose());
    }
}
