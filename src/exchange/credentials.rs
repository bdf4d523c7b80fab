//! An API key pair, as every venue that signs requests has one: an access key that names
//! the account and a secret that signs. How a request is signed is the adapter's (Upbit:
//! `upbit::auth::Sign`); this type only holds the pair and shows it safely.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha512};

/// An API key pair. Both halves are secrets: `Debug` shows only a masked access key.
#[derive(Clone)]
pub struct Credentials {
    access_key: SecretString,
    secret_key: SecretString,
}

impl Credentials {
    /// Wraps an access key and a secret key (the secret is used as raw UTF-8 bytes, never
    /// base64-decoded).
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Credentials {
            access_key: SecretString::from(access_key.into()),
            secret_key: SecretString::from(secret_key.into()),
        }
    }

    /// The access key masked for logs and screens: first 4 and last 4 characters.
    pub(crate) fn access_key_masked(&self) -> String {
        mask(self.access_key.expose_secret())
    }

    /// A stable identifier of the access key that reveals nothing about it (the first 16
    /// hex digits of its SHA-512): the key under which the process shares rate limits.
    pub(crate) fn key_id(&self) -> String {
        hex::encode(Sha512::digest(self.access_key.expose_secret().as_bytes())).chars().take(16).collect()
    }

    /// The access key, for a signer that must send it.
    pub(crate) fn expose_access_key(&self) -> &str {
        self.access_key.expose_secret()
    }

    /// The secret key, for a signer.
    pub(crate) fn expose_secret_key(&self) -> &str {
        self.secret_key.expose_secret()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key_masked())
            .field("secret_key", &"[REDACTED]")
            .finish()
    }
}

/// Masks a key as `abcd****wxyz`; short keys are fully masked.
fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        return "****".to_string();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret_or_the_whole_access_key() {
        let c = Credentials::new("AKIAabcdefghijklmnopWXYZ", "super-secret-value-123");
        let d = format!("{c:?}");
        assert!(d.contains("AKIA****WXYZ"), "{d}");
        assert!(!d.contains("super-secret"), "{d}");
        assert!(!d.contains("abcdefghijklmnop"), "{d}");
        assert_eq!(Credentials::new("short", "x").access_key_masked(), "****");
    }
}
