//! The keymap: key chords to [`Action`]s, per context, loaded from `config/keymap.toml`
//! (embedded) with an optional user file merged over it.
//!
//! Keys are data so users can rebind them; a misspelt action name is rejected with the
//! file and line, because a silently ignored binding is worse than a refusal to start.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::{Deserialize, Serialize};

use super::action::Action;

/// The default keymap, embedded in the binary.
pub(crate) const DEFAULT_KEYMAP: &str = include_str!("../../config/keymap.toml");

/// Where a key is pressed; decides which bindings apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Context {
    /// Everywhere outside text inputs (fallback for pane contexts).
    Global,
    /// The markets list has focus.
    Markets,
    /// The order book has focus.
    Orderbook,
    /// The chart has focus.
    Chart,
    /// The log pane has focus.
    Log,
    /// A yes/no dialog is open.
    Dialog,
    /// The `:` command line is open.
    CommandLine,
    /// The markets search is being typed.
    Search,
    /// The order entry form is open.
    Form,
    /// The orders pane has focus.
    Orders,
    /// The portfolio pane has focus.
    Portfolio,
}

impl Context {
    /// All contexts, in help order.
    pub const ALL: [Context; 11] = [
        Context::Global,
        Context::Markets,
        Context::Orderbook,
        Context::Chart,
        Context::Log,
        Context::Dialog,
        Context::CommandLine,
        Context::Search,
        Context::Form,
        Context::Orders,
        Context::Portfolio,
    ];

    /// The section name in the keymap file.
    pub fn name(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::Markets => "markets",
            Context::Orderbook => "orderbook",
            Context::Chart => "chart",
            Context::Log => "log",
            Context::Dialog => "dialog",
            Context::CommandLine => "command_line",
            Context::Search => "search",
            Context::Form => "order_form",
            Context::Orders => "orders",
            Context::Portfolio => "portfolio",
        }
    }

    /// Text-input contexts do not fall back to global bindings.
    pub fn is_text(self) -> bool {
        matches!(self, Context::Dialog | Context::CommandLine | Context::Search | Context::Form)
    }

    fn from_name(s: &str) -> Option<Context> {
        Context::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// What `action` does when its key is pressed in `ctx`, for the help. The same action
/// means something else in another context: `right` is the next tab of the markets
/// list but the next choice of a field in the order form, Enter runs a command but
/// sends the order form. Every (context, action) pair the default keymap binds reads
/// true here; others fall back to [`Action::describe`].
pub(crate) fn describe(ctx: Context, action: Action) -> &'static str {
    use Action as A;
    use Context as C;
    match (ctx, action) {
        (C::Global, A::Up) => "cursor up (or scroll up)",
        (C::Global, A::Down) => "cursor down (or scroll down)",
        (C::Global, A::PageUp) => "up a page: the rows the pane shows (the book: 5 prices)",
        (C::Global, A::PageDown) => "down a page: the rows the pane shows (the book: 5 prices)",
        (C::Global, A::Top) => "first row",
        (C::Global, A::Bottom) => "last row",
        (C::Global, A::Select) => "select the market under the cursor (markets list)",
        (C::Global, A::Back) => "clear the message, unzoom; book: cursor back to the best bid",
        (C::Chart, A::Bottom) => "back to the newest candle (live)",
        (C::Markets, A::TabNext) => "next tab (KRW, BTC, USDT, favorites)",
        (C::Markets, A::TabPrev) => "previous tab",
        (C::Dialog, A::Confirm) => "yes",
        (C::Dialog, A::Deny) => "no (the default)",
        (C::CommandLine, A::Submit) => "run the command (a preview: accept it)",
        (C::CommandLine, A::Back) => "close the command line (a preview: not armed)",
        (C::CommandLine, A::DeleteBack) => "delete the last character; on an empty line, close",
        (C::Search, A::Submit) => "select the market under the cursor; the text stays a filter",
        (C::Search, A::Back) => "clear the search",
        (C::Search, A::Up) => "previous market in the list",
        (C::Search, A::Down) => "next market in the list",
        (C::Search, A::DeleteBack) => "delete the last character",
        (C::Form, A::Submit) => "send the order the form shows (live mode asks first)",
        (C::Form, A::Back) => "close the form; nothing is sent",
        (C::Form, A::Up) => "previous field",
        (C::Form, A::Down) => "next field",
        (C::Form, A::TabNext) => "next choice of the field (side, type, time in force, unit)",
        (C::Form, A::TabPrev) => "previous choice of the field",
        (C::Form, A::DeleteBack) => "delete the last character of the field",
        _ => action.describe(),
    }
}

/// One key with its modifiers, normalised so `G` and `shift-g` are the same chord.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyChord {
    /// Key code (characters kept in the case typed).
    pub code: KeyCodeKey,
    /// Ctrl held.
    pub ctrl: bool,
    /// Alt held.
    pub(crate) alt: bool,
}

/// The subset of key codes the keymap can name (orderable, unlike crossterm's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCodeKey {
    /// A printable character.
    Char(char),
    /// A function key.
    F(u8),
    /// Enter.
    Enter,
    /// Escape.
    Esc,
    /// Tab.
    Tab,
    /// Shift-Tab.
    BackTab,
    /// Backspace.
    Backspace,
    /// Delete.
    Delete,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Arrow left.
    Left,
    /// Arrow right.
    Right,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Home.
    Home,
    /// End.
    End,
}

impl KeyChord {
    /// The chord of a crossterm key event, if the keymap can name it.
    pub(crate) fn from_event(ev: &KeyEvent) -> Option<KeyChord> {
        let code = match ev.code {
            KeyCode::Char(c) => KeyCodeKey::Char(c),
            KeyCode::F(n) => KeyCodeKey::F(n),
            KeyCode::Enter => KeyCodeKey::Enter,
            KeyCode::Esc => KeyCodeKey::Esc,
            KeyCode::Tab => KeyCodeKey::Tab,
            KeyCode::BackTab => KeyCodeKey::BackTab,
            KeyCode::Backspace => KeyCodeKey::Backspace,
            KeyCode::Delete => KeyCodeKey::Delete,
            KeyCode::Up => KeyCodeKey::Up,
            KeyCode::Down => KeyCodeKey::Down,
            KeyCode::Left => KeyCodeKey::Left,
            KeyCode::Right => KeyCodeKey::Right,
            KeyCode::PageUp => KeyCodeKey::PageUp,
            KeyCode::PageDown => KeyCodeKey::PageDown,
            KeyCode::Home => KeyCodeKey::Home,
            KeyCode::End => KeyCodeKey::End,
            _ => return None,
        };
        // Shift is already in the character's case (and in BackTab); ignoring it keeps
        // `G` equal to what terminals report as shift+G.
        Some(KeyChord {
            code,
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
            alt: ev.modifiers.contains(KeyModifiers::ALT),
        })
    }

    /// The crossterm event for this chord (tests and headless input).
    #[cfg(test)]
    pub(crate) fn to_event(self) -> KeyEvent {
        let code = match self.code {
            KeyCodeKey::Char(c) => KeyCode::Char(c),
            KeyCodeKey::F(n) => KeyCode::F(n),
            KeyCodeKey::Enter => KeyCode::Enter,
            KeyCodeKey::Esc => KeyCode::Esc,
            KeyCodeKey::Tab => KeyCode::Tab,
            KeyCodeKey::BackTab => KeyCode::BackTab,
            KeyCodeKey::Backspace => KeyCode::Backspace,
            KeyCodeKey::Delete => KeyCode::Delete,
            KeyCodeKey::Up => KeyCode::Up,
            KeyCodeKey::Down => KeyCode::Down,
            KeyCodeKey::Left => KeyCode::Left,
            KeyCodeKey::Right => KeyCode::Right,
            KeyCodeKey::PageUp => KeyCode::PageUp,
            KeyCodeKey::PageDown => KeyCode::PageDown,
            KeyCodeKey::Home => KeyCode::Home,
            KeyCodeKey::End => KeyCode::End,
        };
        let mut m = KeyModifiers::NONE;
        if self.ctrl {
            m |= KeyModifiers::CONTROL;
        }
        if self.alt {
            m |= KeyModifiers::ALT;
        }
        if matches!(self.code, KeyCodeKey::BackTab) {
            m |= KeyModifiers::SHIFT;
        }
        KeyEvent::new(code, m)
    }
}

/// A key name that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown key {0:?}")]
pub struct BadKey(pub String);

impl FromStr for KeyChord {
    type Err = BadKey;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadKey(s.to_string());
        let (mut ctrl, mut alt, mut shift) = (false, false, false);
        let mut rest = s;
        // Modifier prefixes; a lone "-" is the minus key, not a separator.
        loop {
            let lower = rest.to_ascii_lowercase();
            if let Some(r) = lower.strip_prefix("ctrl-").filter(|r| !r.is_empty()) {
                ctrl = true;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = lower.strip_prefix("alt-").filter(|r| !r.is_empty()) {
                alt = true;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = lower.strip_prefix("shift-").filter(|r| !r.is_empty()) {
                shift = true;
                rest = &rest[rest.len() - r.len()..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCodeKey::Char(if shift { c.to_ascii_uppercase() } else { c }),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCodeKey::Enter,
                "esc" | "escape" => KeyCodeKey::Esc,
                "tab" if shift => KeyCodeKey::BackTab,
                "tab" => KeyCodeKey::Tab,
                "backtab" => KeyCodeKey::BackTab,
                "backspace" => KeyCodeKey::Backspace,
                "delete" | "del" => KeyCodeKey::Delete,
                "up" => KeyCodeKey::Up,
                "down" => KeyCodeKey::Down,
                "left" => KeyCodeKey::Left,
                "right" => KeyCodeKey::Right,
                "pageup" | "pgup" => KeyCodeKey::PageUp,
                "pagedown" | "pgdn" => KeyCodeKey::PageDown,
                "home" => KeyCodeKey::Home,
                "end" => KeyCodeKey::End,
                "space" => KeyCodeKey::Char(' '),
                f if f.starts_with('f') => KeyCodeKey::F(f[1..].parse().map_err(|_| bad())?),
                _ => return Err(bad()),
            },
        };
        Ok(KeyChord { code, ctrl, alt })
    }
}

impl fmt::Display for KeyChord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCodeKey::Char(' ') => f.write_str("space"),
            KeyCodeKey::Char(c) => write!(f, "{c}"),
            KeyCodeKey::F(n) => write!(f, "f{n}"),
            KeyCodeKey::Enter => f.write_str("enter"),
            KeyCodeKey::Esc => f.write_str("esc"),
            KeyCodeKey::Tab => f.write_str("tab"),
            KeyCodeKey::BackTab => f.write_str("shift-tab"),
            KeyCodeKey::Backspace => f.write_str("backspace"),
            KeyCodeKey::Delete => f.write_str("delete"),
            KeyCodeKey::Up => f.write_str("up"),
            KeyCodeKey::Down => f.write_str("down"),
            KeyCodeKey::Left => f.write_str("left"),
            KeyCodeKey::Right => f.write_str("right"),
            KeyCodeKey::PageUp => f.write_str("pageup"),
            KeyCodeKey::PageDown => f.write_str("pagedown"),
            KeyCodeKey::Home => f.write_str("home"),
            KeyCodeKey::End => f.write_str("end"),
        }
    }
}

/// A keymap file could not be used. Every variant names the file (and line where known).
#[derive(Debug, thiserror::Error)]
pub enum KeymapError {
    /// The file exists but could not be read.
    #[error("{file}: {source}")]
    Io {
        /// File.
        file: String,
        /// The read error.
        source: std::io::Error,
    },
    /// Not valid TOML of the shape `[context] action = ["key", ...]`.
    #[error("{file}: {message}")]
    Parse {
        /// File name.
        file: String,
        /// Parser message (contains the line).
        message: String,
    },
    /// A section that is not a known context.
    #[error("{file}:{line}: unknown context [{context}] (known: {known})")]
    UnknownContext {
        /// File.
        file: String,
        /// 1-based line.
        line: usize,
        /// The bad name.
        context: String,
        /// Known names.
        known: String,
    },
    /// An action name that does not exist.
    #[error("{file}:{line}: unknown action {action:?} in [{context}]")]
    UnknownAction {
        /// File.
        file: String,
        /// 1-based line.
        line: usize,
        /// Context.
        context: String,
        /// The bad name.
        action: String,
    },
    /// A key that cannot be parsed.
    #[error("{file}:{line}: action {action:?}: {source}")]
    BadKey {
        /// File.
        file: String,
        /// 1-based line.
        line: usize,
        /// Action.
        action: String,
        /// The key error.
        source: BadKey,
    },
}

/// Hints every pane ends with, most useful first (at 80 columns the tail is cut).
const COMMON_HINTS: &[(Action, &str)] = &[
    (Action::Help, "help"),
    (Action::OpenCommandLine, "command"),
    (Action::FocusNext, "focus"),
    (Action::Maximize, "zoom"),
    (Action::OrderForm, "order"),
    (Action::Quit, "quit"),
];

/// The keys of a pane worth a hint, before the common ones.
fn pane_hints(ctx: Context) -> &'static [(Action, &'static str)] {
    match ctx {
        Context::Orderbook => &[
            (Action::LadderBuy, "buy"),
            (Action::LadderSell, "sell"),
            (Action::LadderCancel, "cancel"),
            (Action::ToggleDepth, "depth"),
            (Action::GroupCoarser, "group"),
            (Action::DepthChart, "chart"),
        ],
        Context::Markets => &[
            (Action::Search, "search"),
            (Action::SortNext, "sort"),
            (Action::ToggleFavorite, "favorite"),
            (Action::ToggleVenue, "venue"),
        ],
        Context::Chart => &[
            (Action::TimeframeNext, "longer"),
            (Action::TimeframePrev, "shorter"),
            (Action::CursorLeft, "cursor"),
            (Action::ToggleLogScale, "log"),
            (Action::AddStudy, "study"),
        ],
        Context::Orders => &[(Action::CancelOrder, "cancel"), (Action::CancelAll, "cancel all")],
        Context::Portfolio => &[(Action::Protect, "protect"), (Action::OrderForm, "order")],
        Context::Log => &[(Action::LogLevelNext, "level")],
        _ => &[(Action::TimeframeNext, "timeframe")],
    }
}

/// The bottom line's key hints per keymap context ([`Keymap::hints`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints(BTreeMap<Context, String>);

impl Hints {
    /// The hints where keys go now; the global ones for a context without its own.
    pub fn for_context(&self, ctx: Context) -> &str {
        self.0.get(&ctx).or_else(|| self.0.get(&Context::Global)).map_or("", String::as_str)
    }
}

/// Fixed hints for every context (tests, and before a keymap is loaded).
impl From<&str> for Hints {
    fn from(text: &str) -> Self {
        Hints(BTreeMap::from([(Context::Global, text.to_string())]))
    }
}

/// The resolved keymap.
#[derive(Debug, Clone, Default)]
pub struct Keymap {
    bindings: BTreeMap<Context, BTreeMap<Action, Vec<KeyChord>>>,
    index: HashMap<(Context, KeyChord), Action>,
}

type RawFile = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// 1-based line of `[section]` or of `key =` inside it, for error messages.
fn line_of(text: &str, section: &str, key: Option<&str>) -> usize {
    let mut in_section = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            in_section = t.trim_matches(|c| c == '[' || c == ']').trim() == section;
            if in_section && key.is_none() {
                return i + 1;
            }
            continue;
        }
        if let Some(k) = key
            && in_section
            && t.split('=').next().map(|s| s.trim().trim_matches('"')) == Some(k)
        {
            return i + 1;
        }
    }
    0
}

impl Keymap {
    /// The embedded default keymap.
    pub fn default_keymap() -> Result<Keymap, KeymapError> {
        let mut km = Keymap::default();
        km.merge("config/keymap.toml", DEFAULT_KEYMAP)?;
        Ok(km)
    }

    /// The default keymap with an optional user file merged over it.
    pub fn load(user: Option<(&str, &str)>) -> Result<Keymap, KeymapError> {
        let mut km = Keymap::default_keymap()?;
        if let Some((file, text)) = user {
            km.merge(file, text)?;
        }
        Ok(km)
    }

    /// The default keymap with the user's file merged over it; a missing file is not an
    /// error (most people never write one).
    pub fn load_file(path: Option<&std::path::Path>) -> Result<Keymap, KeymapError> {
        let Some(path) = path.filter(|p| p.exists()) else { return Keymap::default_keymap() };
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| KeymapError::Io { file: file.clone(), source })?;
        Keymap::load(Some((&file, &text)))
    }

    /// Where the user's keymap lives: `keymap.toml` next to the config file
    /// (`~/.config/hoga/keymap.toml` on Linux); `None` without a home directory.
    pub(crate) fn user_file() -> Option<std::path::PathBuf> {
        crate::config::user_config_file().map(|p| p.with_file_name("keymap.toml"))
    }

    /// The keymap the console uses: the built-in one with the user's
    /// [`Keymap::user_file`] merged over it (a missing file is not an error). Read at
    /// start and again on `:reload keymap`; an error names the file and line.
    pub(crate) fn load_user() -> Result<Keymap, KeymapError> {
        Keymap::load_file(Keymap::user_file().as_deref())
    }

    /// Merges a keymap file: each action it names replaces that action's keys in that
    /// context (an empty list unbinds it), and its keys are taken away from other actions.
    pub(crate) fn merge(&mut self, file: &str, text: &str) -> Result<(), KeymapError> {
        let raw: RawFile = toml::from_str(text)
            .map_err(|e| KeymapError::Parse { file: file.to_string(), message: e.to_string() })?;
        for (ctx_name, actions) in raw {
            let ctx = Context::from_name(&ctx_name).ok_or_else(|| KeymapError::UnknownContext {
                file: file.to_string(),
                line: line_of(text, &ctx_name, None),
                context: ctx_name.clone(),
                known: Context::ALL.map(Context::name).join(", "),
            })?;
            for (action_name, keys) in actions {
                let line = line_of(text, &ctx_name, Some(&action_name));
                let action = Action::from_name(&action_name)
                    .filter(|a| !matches!(a, Action::InsertChar(_) | Action::FocusPane(_)))
                    .ok_or_else(|| KeymapError::UnknownAction {
                        file: file.to_string(),
                        line,
                        context: ctx_name.clone(),
                        action: action_name.clone(),
                    })?;
                let chords =
                    keys.iter().map(|k| k.parse::<KeyChord>()).collect::<Result<Vec<_>, _>>().map_err(
                        |source| KeymapError::BadKey {
                            file: file.to_string(),
                            line,
                            action: action_name.clone(),
                            source,
                        },
                    )?;
                let ctx_map = self.bindings.entry(ctx).or_default();
                for other in ctx_map.values_mut() {
                    other.retain(|k| !chords.contains(k));
                }
                ctx_map.insert(action, chords);
            }
        }
        self.reindex();
        Ok(())
    }

    fn reindex(&mut self) {
        self.index.clear();
        for (ctx, actions) in &self.bindings {
            for (action, keys) in actions {
                for k in keys {
                    self.index.insert((*ctx, *k), *action);
                }
            }
        }
    }

    /// The action bound to `chord` in `ctx`, falling back to global outside text inputs.
    pub fn resolve(&self, ctx: Context, chord: KeyChord) -> Option<Action> {
        if let Some(a) = self.index.get(&(ctx, chord)) {
            return Some(*a);
        }
        if ctx.is_text() {
            return None;
        }
        self.index.get(&(Context::Global, chord)).copied()
    }

    /// Keys bound to `action` in `ctx` (for help and hints).
    pub(crate) fn keys_for(&self, ctx: Context, action: Action) -> &[KeyChord] {
        self.bindings.get(&ctx).and_then(|m| m.get(&action)).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The bottom line's key hints for each pane (`b buy  s sell  c cancel  d depth  ? help
    /// …` on the book), from the live bindings so a rebound key is never advertised under
    /// its old name.
    pub fn hints(&self) -> Hints {
        let mut by_context = BTreeMap::new();
        for ctx in Context::ALL.into_iter().filter(|c| !c.is_text()) {
            let pane = pane_hints(ctx);
            let parts: Vec<String> = pane
                .iter()
                .chain(COMMON_HINTS.iter().filter(|(a, _)| !pane.iter().any(|(p, _)| p == a)))
                .filter_map(|(action, label)| self.key_in(ctx, *action).map(|k| format!("{k} {label}")))
                .collect();
            by_context.insert(ctx, parts.join("  "));
        }
        Hints(by_context)
    }

    /// The first key that does `action` when pressed in `ctx` (its own binding, or a
    /// global one the context does not take over).
    fn key_in(&self, ctx: Context, action: Action) -> Option<KeyChord> {
        [ctx, Context::Global]
            .into_iter()
            .flat_map(|c| self.keys_for(c, action).iter().copied())
            .find(|k| self.resolve(ctx, *k) == Some(action))
    }

    /// Help rows generated from the live bindings: (context, action, keys).
    pub(crate) fn help_rows(&self) -> Vec<(String, String, String)> {
        let mut rows = Vec::new();
        for ctx in Context::ALL {
            let Some(actions) = self.bindings.get(&ctx) else { continue };
            for (action, keys) in actions {
                if keys.is_empty() {
                    continue;
                }
                let keys: Vec<String> = keys.iter().map(ToString::to_string).collect();
                rows.push((ctx.name().to_string(), action.name(), keys.join(" ")));
            }
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chord(s: &str) -> KeyChord {
        s.parse().unwrap()
    }

    #[test]
    fn default_keymap_has_arrows_and_vim_and_avoids_tmux_prefixes() {
        let km = Keymap::default_keymap().unwrap();
        assert_eq!(km.resolve(Context::Markets, chord("k")), Some(Action::Up));
        assert_eq!(km.resolve(Context::Markets, chord("up")), Some(Action::Up));
        assert_eq!(km.resolve(Context::Orderbook, chord("j")), Some(Action::Down));
        assert_eq!(km.resolve(Context::Orderbook, chord("s")), Some(Action::LadderSell));
        assert_eq!(km.resolve(Context::Markets, chord("s")), Some(Action::SortNext));
        for ctx in Context::ALL {
            assert_eq!(km.resolve(ctx, chord("ctrl-b")), None);
            assert_eq!(km.resolve(ctx, chord("ctrl-a")), None);
        }
        // Text contexts do not fall back to global: `q` is typed, not quit.
        assert_eq!(km.resolve(Context::CommandLine, chord("q")), None);
    }

    #[test]
    fn shift_letters_and_events_normalise() {
        assert_eq!(chord("shift-g"), chord("G"));
        let ev = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(KeyChord::from_event(&ev), Some(chord("G")));
        assert_eq!(KeyChord::from_event(&chord("shift-tab").to_event()), Some(chord("shift-tab")));
        assert_eq!(chord("ctrl-c").to_string(), "ctrl-c");
        assert_eq!(chord("-"), KeyChord { code: KeyCodeKey::Char('-'), ctrl: false, alt: false });
    }

    #[test]
    fn user_override_replaces_and_steals_keys() {
        let km = Keymap::load(Some(("user.toml", "[global]\nhelp = [\"h\"]\nquit = []\n"))).unwrap();
        assert_eq!(km.resolve(Context::Global, chord("h")), Some(Action::Help));
        assert_eq!(km.resolve(Context::Global, chord("?")), None);
        assert_eq!(km.resolve(Context::Global, chord("q")), None);
    }

    #[test]
    fn unknown_action_names_file_and_line() {
        let text = "[global]\nhelp = [\"h\"]\n\n[markets]\nfly_away = [\"w\"]\n";
        let err = Keymap::load(Some(("my.toml", text))).unwrap_err().to_string();
        assert!(err.contains("my.toml:5"), "{err}");
        assert!(err.contains("fly_away"), "{err}");
        let err = Keymap::load(Some(("my.toml", "[nowhere]\nhelp = [\"h\"]\n"))).unwrap_err().to_string();
        assert!(err.contains("my.toml:1") && err.contains("nowhere"), "{err}");
        let err =
            Keymap::load(Some(("my.toml", "[global]\nhelp = [\"hyper-x\"]\n"))).unwrap_err().to_string();
        assert!(err.contains("my.toml:2") && err.contains("hyper-x"), "{err}");
    }

    #[test]
    fn help_rows_come_from_live_bindings() {
        let km = Keymap::load(Some(("u.toml", "[global]\nhelp = [\"f2\"]\n"))).unwrap();
        let rows = km.help_rows();
        assert!(rows.iter().any(|(c, a, k)| c == "global" && a == "help" && k == "f2"));
    }
}
