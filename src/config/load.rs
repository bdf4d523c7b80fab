//! Loading: built-in defaults, then the user's file, then `HOGA_*` environment variables,
//! then command-line flags, each laid over the previous one.
//!
//! Each layer is checked on its own (over the defaults) before it is merged, so an error
//! names the layer it came from: the file, the environment variable or the command line,
//! with the key and the bad value, e.g.
//! `~/.config/hoga/config.toml: ui.fps = "fast": expected an integer 1..=120`.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use super::settings::{Settings, expectation};

/// The defaults, embedded; `hoga config default` prints this text.
pub(crate) const DEFAULT_TOML: &str = include_str!("../../config/default.toml");
/// The `--demo` preset, embedded.
pub(crate) const DEMO_TOML: &str = include_str!("../../config/demo.toml");

/// Prefix of configuration environment variables: `HOGA_<SECTION>__<KEY>`.
pub(crate) const ENV_PREFIX: &str = "HOGA_";

/// A configuration problem, naming where it is.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{origin}: cannot read the file: {error}")]
    Read {
        /// Which file.
        origin: String,
        /// Why.
        error: std::io::Error,
    },
    /// Not TOML.
    #[error("{origin}: {detail}")]
    Syntax {
        /// Which layer.
        origin: String,
        /// Parser message with line and column.
        detail: String,
    },
    /// A key hoga does not know (likely a typo).
    #[error("{origin}: {key}: unknown key ({known})")]
    UnknownKey {
        /// Which layer.
        origin: String,
        /// The dotted key.
        key: String,
        /// The keys that are valid there.
        known: String,
    },
    /// A value of the wrong type or out of range.
    #[error("{origin}: {key} = {value}: expected {expected}")]
    BadValue {
        /// Which layer.
        origin: String,
        /// The dotted key.
        key: String,
        /// The value as given, rendered as TOML.
        value: String,
        /// What the key accepts.
        expected: String,
    },
    /// Several values out of range in one layer: each on its own line.
    #[error("{}", lines(.0))]
    Several(Vec<ConfigError>),
    /// A malformed environment variable name.
    #[error("{origin}: {detail}")]
    Env {
        /// The variable.
        origin: String,
        /// What is wrong with it.
        detail: String,
    },
}

/// Errors one per line.
fn lines(errors: &[ConfigError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

/// One source of settings.
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    /// Where it came from, as shown in errors.
    pub origin: String,
    /// Its keys.
    pub table: Table,
}

/// What [`load`] reads.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--config FILE`: must exist. When `None`, the XDG user file is read if present.
    pub(crate) config_file: Option<PathBuf>,
    /// Skip the XDG user file (tests).
    pub(crate) skip_user_file: bool,
    /// Environment variables to consider (normally `std::env::vars()`); only
    /// `HOGA_<SECTION>__<KEY>` names are read.
    pub env: Vec<(String, String)>,
    /// Apply the `--demo` preset.
    pub(crate) demo_preset: bool,
    /// Command-line flags as a table (`ui.theme`, `general.mode`…), applied last.
    pub(crate) overrides: Table,
}

/// The loaded settings and the layers they came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The merged, validated settings.
    pub settings: Settings,
}

/// The user's config file: `~/.config/hoga/config.toml` on Linux.
pub(crate) fn user_config_file() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "hoga").map(|d| d.config_dir().join("config.toml"))
}

/// The default log directory: `~/.local/state/hoga/` on Linux (platforms without a state
/// directory use `<local data dir>/logs`).
pub(crate) fn default_log_dir() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "hoga")?;
    Some(match dirs.state_dir() {
        Some(s) => s.to_path_buf(),
        None => dirs.data_local_dir().join("logs"),
    })
}

/// A path for messages, with the home directory shown as `~`.
pub(crate) fn display_path(p: &Path) -> String {
    if let Some(home) = directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf())
        && let Ok(rest) = p.strip_prefix(&home)
    {
        return format!("~/{}", rest.display());
    }
    p.display().to_string()
}

/// Parses TOML text as a layer.
pub(crate) fn parse_layer(origin: &str, text: &str) -> Result<Layer, ConfigError> {
    match text.parse::<Table>() {
        Ok(table) => Ok(Layer { origin: origin.to_string(), table }),
        Err(e) => {
            let at = e.span().map(|s| {
                let before = &text[..s.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("line {line}, column {col}: ")
            });
            Err(ConfigError::Syntax {
                origin: origin.to_string(),
                detail: format!("not valid TOML: {}{}", at.unwrap_or_default(), e.message().trim()),
            })
        }
    }
}

/// Reads a file as a layer; the origin is the path with `~` for home.
pub(crate) fn read_layer(path: &Path) -> Result<Layer, ConfigError> {
    let origin = display_path(path);
    let text =
        std::fs::read_to_string(path).map_err(|error| ConfigError::Read { origin: origin.clone(), error })?;
    parse_layer(&origin, &text)
}

/// Turns one `HOGA_<SECTION>__<KEY>=value` variable into a layer; `None` for other
/// names. The value is read as a TOML value (`60`, `true`, `"x"`), else as a string.
pub(crate) fn env_layer(name: &str, value: &str) -> Result<Option<Layer>, ConfigError> {
    let Some(rest) = name.strip_prefix(ENV_PREFIX) else { return Ok(None) };
    let Some((section, key)) = rest.split_once("__") else { return Ok(None) };
    let origin = format!("environment variable {name}");
    if section.is_empty() || key.is_empty() || key.contains("__") {
        return Err(ConfigError::Env {
            origin,
            detail: "expected HOGA_<SECTION>__<KEY>, for example HOGA_UI__THEME".into(),
        });
    }
    let parsed =
        format!("v = {value}").parse::<Table>().ok().filter(|t| t.len() == 1).and_then(|mut t| t.remove("v"));
    let v = parsed.unwrap_or_else(|| Value::String(value.to_string()));
    let mut table = Table::new();
    set_path(&mut table, &format!("{}.{}", section.to_lowercase(), key.to_lowercase()), v);
    Ok(Some(Layer { origin, table }))
}

/// Sets a dotted path (`ui.theme`) in a table, creating sections.
pub(crate) fn set_path(table: &mut Table, path: &str, value: Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut cur = table;
    for p in parts {
        let entry = cur.entry(p.to_string()).or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        let Value::Table(t) = entry else { return };
        cur = t;
    }
    cur.insert(last.to_string(), value);
}

fn get_path<'a>(table: &'a Table, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut cur = table.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_table()?.get(p)?;
    }
    Some(cur)
}

/// Lays `over` onto `base`: tables merge key by key, anything else replaces.
pub(crate) fn merge(base: &mut Table, over: &Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

fn render(v: &Value) -> String {
    match v {
        Value::Table(_) => "a table".into(),
        other => other.to_string(),
    }
}

/// Extracts the field name from serde's "unknown field `x`, expected …" message.
fn unknown_field(msg: &str) -> Option<(String, String)> {
    let rest = msg.strip_prefix("unknown field `")?;
    let (name, tail) = rest.split_once('`')?;
    let known = tail.trim_start_matches(',').trim();
    let known = known.strip_prefix("expected ").unwrap_or(known).replace('`', "");
    Some((name.to_string(), format!("known keys here: {known}")))
}

/// Deserializes and validates one table; errors name `origin`.
pub(crate) fn check_table(origin: &str, table: &Table) -> Result<Settings, ConfigError> {
    let settings: Settings = match serde_path_to_error::deserialize(Value::Table(table.clone())) {
        Ok(s) => s,
        Err(e) => {
            let path = e.path().to_string();
            let msg = e.into_inner().message().to_string();
            if let Some((field, known)) = unknown_field(&msg) {
                let key = if path.is_empty() || path == "." {
                    field
                } else if path.ends_with(&field) {
                    path
                } else {
                    format!("{path}.{field}")
                };
                return Err(ConfigError::UnknownKey { origin: origin.into(), key, known });
            }
            let value = get_path(table, &path).map_or_else(|| "?".to_string(), render);
            let expected = expectation(&path).map_or(msg, str::to_string);
            return Err(ConfigError::BadValue { origin: origin.into(), key: path, value, expected });
        }
    };
    let mut bad: Vec<ConfigError> = settings
        .violations()
        .into_iter()
        .map(|v| {
            let value = match get_path(table, v.path) {
                Some(raw) if v.path != "alerts.webhook_url" => render(raw),
                _ => v.value,
            };
            ConfigError::BadValue {
                origin: origin.into(),
                key: v.path.to_string(),
                value,
                expected: expectation(v.path).unwrap_or("a valid value").to_string(),
            }
        })
        .collect();
    match bad.len() {
        0 => Ok(settings),
        1 => Err(bad.remove(0)),
        _ => Err(ConfigError::Several(bad)),
    }
}

/// Checks a config file on its own (over the defaults): `hoga config check FILE`.
pub(crate) fn check_file(path: &Path) -> Result<Settings, ConfigError> {
    let layer = read_layer(path)?;
    check_table(&layer.origin, &layer.table)
}

/// Loads the settings from every layer.
pub fn load(opts: &LoadOptions) -> Result<Loaded, ConfigError> {
    let mut layers = vec![parse_layer("built-in defaults", DEFAULT_TOML)?];
    match &opts.config_file {
        Some(path) => layers.push(read_layer(path)?),
        None if !opts.skip_user_file => {
            if let Some(path) = user_config_file().filter(|p| p.exists()) {
                layers.push(read_layer(&path)?);
            }
        }
        None => {}
    }
    let mut env: Vec<&(String, String)> = opts.env.iter().collect();
    env.sort();
    for (name, value) in env {
        if let Some(layer) = env_layer(name, value)? {
            layers.push(layer);
        }
    }
    if opts.demo_preset {
        layers.push(parse_layer("built-in demo preset", DEMO_TOML)?);
    }
    if !opts.overrides.is_empty() {
        layers.push(Layer { origin: "command line".into(), table: opts.overrides.clone() });
    }
    let mut merged = Table::new();
    for layer in &layers {
        check_table(&layer.origin, &layer.table)?;
        merge(&mut merged, &layer.table);
    }
    let settings = check_table("merged configuration", &merged)?;
    Ok(Loaded { settings })
}

impl Settings {
    /// The log directory: `[general] log_dir`, else the XDG state directory, else
    /// `./hoga-logs` when the platform has no home directory.
    pub fn log_dir(&self) -> PathBuf {
        self.general.log_dir.clone().or_else(default_log_dir).unwrap_or_else(|| PathBuf::from("hoga-logs"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_equal_the_default_structs() {
        let layer = parse_layer("defaults", DEFAULT_TOML).unwrap();
        assert_eq!(check_table("defaults", &layer.table).unwrap(), Settings::default());
    }

    #[test]
    fn every_default_key_has_a_comment_above_it() {
        let lines: Vec<&str> = DEFAULT_TOML.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') || t.starts_with('[') {
                continue;
            }
            assert!(i > 0 && lines[i - 1].trim().starts_with('#'), "uncommented key: {t}");
        }
    }

    /// docs/RELIABILITY.md case 39: a key hoga does not know (a typo) fails the whole load, and
    /// the message names the file and the dotted key, in a section and at the top level;
    /// with no file at all the mode is not live.
    #[test]
    fn unknown_config_keys_fail_the_load_naming_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        for (text, key) in [
            ("[general]\nmode = \"paper\"\nmoed = \"live\"\n", "general.moed"),
            ("[trading]\nmax_notional_per_ordr = 1\n", "trading.max_notional_per_ordr"),
            ("live = true\n", "live"),
        ] {
            let path = dir.path().join("hoga.toml");
            std::fs::write(&path, text).unwrap();
            let opts = LoadOptions { config_file: Some(path.clone()), ..LoadOptions::default() };
            let e = load(&opts).unwrap_err();
            assert!(matches!(&e, ConfigError::UnknownKey { key: k, .. } if k == key), "{e:?}");
            let msg = e.to_string();
            assert!(msg.contains("hoga.toml") && msg.contains(key), "{msg}");
        }
        let none = LoadOptions { skip_user_file: true, ..LoadOptions::default() };
        assert_ne!(
            load(&none).unwrap().settings.general.mode,
            crate::config::Mode::Live,
            "live is never the default"
        );
    }

    #[test]
    fn demo_preset_is_valid() {
        let layer = parse_layer("demo", DEMO_TOML).unwrap();
        let s = check_table("demo", &layer.table).unwrap();
        assert_eq!(s.demo.seed, 7);
    }

    #[test]
    fn layers_apply_in_order_env_then_cli() {
        let mut overrides = Table::new();
        set_path(&mut overrides, "ui.theme", Value::String("mono".into()));
        let loaded = load(&LoadOptions {
            skip_user_file: true,
            env: vec![
                ("HOGA_UI__FPS".into(), "60".into()),
                ("HOGA_UI__THEME".into(), "light".into()),
                ("HOGA_TRADING__FEE_RATE".into(), "0.001".into()),
                ("PATH".into(), "/bin".into()),
                ("HOGA_CONFIG".into(), "ignored".into()),
            ],
            demo_preset: true,
            overrides,
            ..LoadOptions::default()
        })
        .unwrap();
        assert_eq!(loaded.settings.ui.fps, 60);
        assert_eq!(loaded.settings.ui.theme, "mono");
        assert_eq!(loaded.settings.trading.fee_rate, rust_decimal_macros::dec!(0.001));
        assert_eq!(loaded.settings.demo.seed, 7);
    }

    #[test]
    fn bad_env_value_names_the_variable_key_and_value() {
        let err = load(&LoadOptions {
            skip_user_file: true,
            env: vec![("HOGA_UI__FPS".into(), "fast".into())],
            ..LoadOptions::default()
        })
        .unwrap_err()
        .to_string();
        assert_eq!(err, r#"environment variable HOGA_UI__FPS: ui.fps = "fast": expected an integer 1..=120"#);
    }

    #[test]
    fn webhook_url_is_redacted_in_debug_and_errors() {
        let mut t = Table::new();
        set_path(&mut t, "alerts.webhook_url", Value::String("ftp://secret-token".into()));
        let err = check_table("f", &t).unwrap_err().to_string();
        assert!(!err.contains("secret-token"), "{err}");
        assert!(err.contains("alerts.webhook_url"), "{err}");
        let mut s = Settings::default();
        s.alerts.webhook_url = Some("https://hooks/secret-token".into());
        assert!(!format!("{s:?}").contains("secret-token"));
    }

    #[test]
    fn exchange_urls_are_checked() {
        let env = |pairs: &[(&str, &str)]| LoadOptions {
            skip_user_file: true,
            env: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..LoadOptions::default()
        };
        let ok = load(&env(&[
            ("HOGA_EXCHANGE__REST_URL", "http://127.0.0.1:7700/v1"),
            ("HOGA_EXCHANGE__WS_URL", "ws://127.0.0.1:7700"),
        ]))
        .unwrap();
        assert_eq!(ok.settings.exchange.rest_url, "http://127.0.0.1:7700/v1");
        let err = load(&env(&[("HOGA_EXCHANGE__REST_URL", "127.0.0.1:7700")])).unwrap_err().to_string();
        assert!(err.contains("exchange.rest_url") && err.contains("127.0.0.1:7700"), "{err}");
        let err = load(&env(&[("HOGA_EXCHANGE__WS_URL", "http://x")])).unwrap_err().to_string();
        assert!(err.contains("exchange.ws_url"), "{err}");
    }

    /// `hoga config check` (this function) refused nothing but an empty theme name: a typo
    /// started the console on the fallback theme with one line of error.
    #[test]
    fn an_unknown_theme_or_colour_convention_is_refused_naming_file_key_value_and_choices() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hoga.toml");
        std::fs::write(&path, "[ui]\ntheme = \"nope\"\n").unwrap();
        let msg = check_file(&path).unwrap_err().to_string();
        assert!(msg.contains("hoga.toml") && msg.contains("ui.theme") && msg.contains("\"nope\""), "{msg}");
        for name in crate::ui::theme::Theme::embedded_names() {
            assert!(msg.contains(&format!("\"{name}\"")), "{msg} lists {name}");
        }
        for name in crate::ui::theme::Theme::embedded_names() {
            std::fs::write(&path, format!("[ui]\ntheme = \"{name}\"\n")).unwrap();
            check_file(&path).unwrap();
        }
        std::fs::write(&path, "[ui]\ncolors = \"purple\"\n").unwrap();
        let msg = check_file(&path).unwrap_err().to_string();
        assert!(msg.contains("hoga.toml") && msg.contains("ui.colors") && msg.contains("purple"), "{msg}");
        assert!(msg.contains("\"korean\"") && msg.contains("\"western\""), "{msg}");
        std::fs::write(&path, "[ui]\ncolors = \"western\"\nmouse = false\n").unwrap();
        let ui = check_file(&path).unwrap().ui;
        assert_eq!((ui.colors, ui.mouse), (crate::config::settings::ColorConvention::Western, false));
        std::fs::write(&path, "[ui]\nmouse = \"no\"\n").unwrap();
        let msg = check_file(&path).unwrap_err().to_string();
        assert!(msg.contains("ui.mouse") && msg.contains("true or false"), "{msg}");
        let defaults = Settings::default().ui;
        assert_eq!(
            (defaults.colors, defaults.mouse),
            (crate::config::settings::ColorConvention::Korean, true)
        );
    }
}
