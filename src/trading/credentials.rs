//! API keys: where they come from, how they are held, how they are shown.
//!
//! Sources, in order: the environment (`UPBIT_ACCESS_KEY` / `UPBIT_SECRET_KEY`, the names
//! upbit-cli and the SDKs use), then a TOML credentials file that must be mode 0600.
//! Never command-line arguments (they show in `ps` and shell history). Keys are held as
//! `secrecy::SecretString`; `Debug` shows the access key masked and the secret as
//! `[REDACTED]`; no `Display` exists. A looser file is refused with the file named, the
//! mode found and the fix (docs/RELIABILITY.md rule 10, security checklist).

use std::collections::HashMap;
use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::exchange::credentials::Credentials;

/// Environment variable of the access key.
pub(crate) const ENV_ACCESS_KEY: &str = "UPBIT_ACCESS_KEY";
/// Environment variable of the secret key.
pub(crate) const ENV_SECRET_KEY: &str = "UPBIT_SECRET_KEY";

/// Why keys could not be loaded. Names files and variables, never key material.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Only one of the two environment variables is set.
    #[error("{set} is set but {missing} is not; set both or neither")]
    HalfEnv {
        /// The variable that is set.
        set: &'static str,
        /// The one missing.
        missing: &'static str,
    },
    /// The file is readable or writable by group or others.
    #[error(
        "credentials file {path} has mode {mode:04o}; it holds your secret key, so it must be readable by you only. Run: chmod 600 {path}"
    )]
    TooOpen {
        /// File.
        path: String,
        /// Mode found (permission bits).
        mode: u32,
    },
    /// The file could not be read.
    #[error("credentials file {path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not `access_key = "…"` / `secret_key = "…"` TOML. The TOML error
    /// text is not included: it could quote a line of the file.
    #[error(
        "credentials file {path} is not valid: expected access_key = \"…\" and secret_key = \"…\" ({what})"
    )]
    Malformed {
        /// File.
        path: String,
        /// What is wrong, without file contents.
        what: &'static str,
    },
}

/// Where the keys came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The environment.
    Env,
    /// A credentials file.
    File(PathBuf),
}

/// An API key pair held as secrets.
#[derive(Clone)]
pub struct ApiKeys {
    access_key: SecretString,
    secret_key: SecretString,
    source: KeySource,
}

impl ApiKeys {
    /// Wraps a key pair (tests, the demo account).
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>, source: KeySource) -> Self {
        ApiKeys {
            access_key: SecretString::from(access_key.into()),
            secret_key: SecretString::from(secret_key.into()),
            source,
        }
    }

    /// Where they came from.
    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// The access key as `abcd…wxyz` (short keys fully masked).
    pub fn masked_access_key(&self) -> String {
        mask(self.access_key.expose_secret())
    }

    /// The signer the REST client uses. The only place the secrets leave this type.
    pub fn to_credentials(&self) -> Credentials {
        Credentials::new(self.access_key.expose_secret(), self.secret_key.expose_secret())
    }
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeys")
            .field("access_key", &self.masked_access_key())
            .field("secret_key", &"[REDACTED]")
            .field("source", &self.source)
            .finish()
    }
}

/// `abcd…wxyz`; keys shorter than 12 characters show as `****`.
pub(crate) fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        return "****".into();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// The default credentials file: `~/.config/hoga/credentials.toml`.
pub(crate) fn default_credentials_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "hoga").map(|d| d.config_dir().join("credentials.toml"))
}

/// Loads keys from `env` (pass `std::env::vars().collect()`), else from `file` when it
/// exists. `Ok(None)` when neither has keys.
pub fn load(env: &HashMap<String, String>, file: Option<&Path>) -> Result<Option<ApiKeys>, CredentialsError> {
    let get = |k: &str| env.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    match (get(ENV_ACCESS_KEY), get(ENV_SECRET_KEY)) {
        (Some(a), Some(s)) => return Ok(Some(ApiKeys::new(a, s, KeySource::Env))),
        (Some(_), None) => {
            return Err(CredentialsError::HalfEnv { set: ENV_ACCESS_KEY, missing: ENV_SECRET_KEY });
        }
        (None, Some(_)) => {
            return Err(CredentialsError::HalfEnv { set: ENV_SECRET_KEY, missing: ENV_ACCESS_KEY });
        }
        (None, None) => {}
    }
    match file {
        Some(p) if p.exists() => load_file(p).map(Some),
        _ => Ok(None),
    }
}

/// Reads a credentials file, refusing one that group or others can access.
pub fn load_file(path: &Path) -> Result<ApiKeys, CredentialsError> {
    let p = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| CredentialsError::Io { path: p.clone(), source })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CredentialsError::TooOpen { path: p, mode });
    }
    let text =
        std::fs::read_to_string(path).map_err(|source| CredentialsError::Io { path: p.clone(), source })?;
    let table: toml::Table =
        text.parse().map_err(|_| CredentialsError::Malformed { path: p.clone(), what: "not TOML" })?;
    let field = |k: &str, what: &'static str| {
        table
            .get(k)
            .and_then(|v| v.as_str())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .ok_or(CredentialsError::Malformed { path: p.clone(), what })
    };
    let access = field("access_key", "access_key missing")?;
    let secret = field("secret_key", "secret_key missing")?;
    if table.keys().any(|k| k != "access_key" && k != "secret_key") {
        return Err(CredentialsError::Malformed { path: p, what: "unknown key" });
    }
    Ok(ApiKeys::new(access, secret, KeySource::File(path.to_path_buf())))
}

/// Writes a credentials file created with mode 0600 (never chmod'ed afterwards) inside a
/// 0700 directory, atomically (temporary file in the same directory, then rename).
pub fn write_file(path: &Path, access_key: &str, secret_key: &str) -> Result<(), CredentialsError> {
    let p = path.display().to_string();
    let io = |source| CredentialsError::Io { path: p.clone(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io)?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut table = toml::Table::new();
    table.insert("access_key".into(), toml::Value::String(access_key.into()));
    table.insert("secret_key".into(), toml::Value::String(secret_key.into()));
    let body = table.to_string();
    {
        let mut f =
            std::fs::OpenOptions::new().create_new(true).write(true).mode(0o600).open(&tmp).map_err(io)?;
        f.write_all(body.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "SENTINEL-secret-5f2c9e1d";

    #[test]
    fn env_wins_and_half_env_is_an_error() {
        let mut env = HashMap::new();
        env.insert(ENV_ACCESS_KEY.to_string(), "AKIAabcdefgh1234wxyz".to_string());
        assert!(matches!(load(&env, None), Err(CredentialsError::HalfEnv { .. })));
        env.insert(ENV_SECRET_KEY.to_string(), SECRET.to_string());
        let k = load(&env, None).unwrap().unwrap();
        assert_eq!(k.source(), &KeySource::Env);
        assert_eq!(k.masked_access_key(), "AKIA…wxyz");
        let dbg = format!("{k:?}");
        assert!(!dbg.contains(SECRET) && !dbg.contains("abcdefgh1234"), "{dbg}");
        assert!(load(&HashMap::new(), None).unwrap().is_none());
    }
}
