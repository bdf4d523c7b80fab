//! Themes: semantic roles (bid, ask, up, down, stale…) mapped to styles, loaded from
//! `themes/*.toml` (embedded) or a user directory, degraded to what the terminal supports.
//!
//! Panes never name a colour; they ask the theme for a role, so `:theme light` and
//! `NO_COLOR` work everywhere at once.

use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

/// Themes shipped in the binary: (name, TOML text).
pub(crate) const EMBEDDED: [(&str, &str); 4] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
    ("mono", include_str!("../../themes/mono.toml")),
];

/// What colours the terminal can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorSupport {
    /// 24-bit colour (`COLORTERM=truecolor` or `24bit`).
    TrueColor,
    /// The xterm 256-colour palette.
    Palette256,
    /// No colour at all (`NO_COLOR` set): the mono theme is forced.
    NoColor,
}

impl ColorSupport {
    /// Decides from the values of `NO_COLOR` and `COLORTERM` (pure, for tests).
    pub(crate) fn from_env_values(no_color: Option<&str>, colorterm: Option<&str>) -> Self {
        // no-color.org: any non-empty value disables colour.
        if no_color.is_some_and(|v| !v.is_empty()) {
            return ColorSupport::NoColor;
        }
        match colorterm.map(|v| v.to_ascii_lowercase()) {
            Some(v) if v == "truecolor" || v == "24bit" => ColorSupport::TrueColor,
            _ => ColorSupport::Palette256,
        }
    }

    /// Reads the process environment.
    pub(crate) fn detect() -> Self {
        let no_color = std::env::var("NO_COLOR").ok();
        let colorterm = std::env::var("COLORTERM").ok();
        Self::from_env_values(no_color.as_deref(), colorterm.as_deref())
    }
}

/// A theme could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    /// No embedded or user theme has that name.
    #[error("unknown theme {0:?} (known: {1})")]
    Unknown(String, String),
    /// The file is not valid TOML of the theme shape.
    #[error("theme {name:?}: {source}")]
    Parse {
        /// Theme name or path.
        name: String,
        /// Parser error.
        source: toml::de::Error,
    },
    /// A role value could not be understood.
    #[error("theme {name:?}: role {role:?} has a bad value {value:?}")]
    BadValue {
        /// Theme name.
        name: String,
        /// Role.
        role: String,
        /// Value.
        value: String,
    },
    /// A role is not one of the known roles.
    #[error("theme {name:?}: unknown role {role:?}")]
    UnknownRole {
        /// Theme name.
        name: String,
        /// Role.
        role: String,
    },
    /// A user theme file could not be read.
    #[error("theme file {path}: {source}")]
    Io {
        /// Path.
        path: String,
        /// Error.
        source: std::io::Error,
    },
}

#[derive(Deserialize)]
struct ThemeFile {
    name: Option<String>,
    #[serde(default)]
    roles: std::collections::BTreeMap<String, String>,
}

macro_rules! roles {
    ($($(#[$doc:meta])* $role:ident),* $(,)?) => {
        /// Styles per semantic role. Roles missing from a file fall back to the dark theme.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Theme {
            /// Theme name.
            pub name: String,
            $($(#[$doc])* pub $role: Style,)*
        }

        impl Theme {
            fn role_mut(&mut self, role: &str) -> Option<&mut Style> {
                match role {
                    $(stringify!($role) => Some(&mut self.$role),)*
                    _ => None,
                }
            }

            fn map_styles(&mut self, f: impl Fn(Style) -> Style) {
                $(self.$role = f(self.$role);)*
            }

            fn blank(name: &str) -> Theme {
                Theme { name: name.to_string(), $($role: Style::new(),)* }
            }
        }
    };
}

roles! {
    /// Ordinary text.
    text,
    /// Secondary text, labels.
    muted,
    /// Pane background.
    background,
    /// Table headers, pane titles.
    header,
    /// Selected row.
    selection,
    /// Border of the focused pane.
    focus_border,
    /// Border of other panes.
    border,
    /// Buy side.
    bid,
    /// Sell side.
    ask,
    /// Price rise (Korean convention: red).
    up,
    /// Price fall (Korean convention: blue).
    down,
    /// Unchanged.
    even,
    /// Stale data.
    stale,
    /// Warnings.
    warning,
    /// Errors.
    error,
    /// Highlighted items (large prints).
    highlight,
    /// Accents (overlays, moving average).
    accent,
    /// DEMO badge.
    mode_demo,
    /// PAPER badge.
    mode_paper,
    /// LIVE badge.
    mode_live,
}

fn parse_color(s: &str) -> Option<Color> {
    if s == "reset" {
        return Some(Color::Reset);
    }
    Color::from_str(s).ok()
}

/// Parses `"COLOR [on:COLOR] [bold|dim|italic|underlined|reversed]..."`.
fn parse_style(value: &str) -> Option<Style> {
    let mut style = Style::new();
    for tok in value.split_whitespace() {
        style = match tok {
            "bold" => style.add_modifier(Modifier::BOLD),
            "dim" => style.add_modifier(Modifier::DIM),
            "italic" => style.add_modifier(Modifier::ITALIC),
            "underlined" => style.add_modifier(Modifier::UNDERLINED),
            "reversed" => style.add_modifier(Modifier::REVERSED),
            t => match t.strip_prefix("on:") {
                Some(bg) => style.bg(parse_color(bg)?),
                None => style.fg(parse_color(t)?),
            },
        };
    }
    Some(style)
}

/// Nearest xterm-256 index for an RGB colour (6x6x6 cube or the grey ramp).
pub(crate) fn rgb_to_256(r: u8, g: u8, b: u8) -> u8 {
    fn cube(v: u8) -> u8 {
        if v < 48 {
            0
        } else if v < 115 {
            1
        } else {
            (v - 35) / 40
        }
    }
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    let (cr, cg, cb) = (cube(r), cube(g), cube(b));
    let cube_idx = 16 + 36 * cr + 6 * cg + cb;
    let dist = |x: (u8, u8, u8)| {
        let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).pow(2);
        d(x.0, r) + d(x.1, g) + d(x.2, b)
    };
    let cube_rgb = (LEVELS[cr as usize], LEVELS[cg as usize], LEVELS[cb as usize]);
    // Grey ramp 232..=255 is 8, 18, ..., 238.
    let avg = (u16::from(r) + u16::from(g) + u16::from(b)) / 3;
    let gi = if avg < 8 { 0 } else { ((avg - 8) / 10).min(23) as u8 };
    let gv = 8 + 10 * gi;
    if dist((gv, gv, gv)) < dist(cube_rgb) { 232 + gi } else { cube_idx }
}

fn degrade(c: Option<Color>) -> Option<Color> {
    match c {
        Some(Color::Rgb(r, g, b)) => Some(Color::Indexed(rgb_to_256(r, g, b))),
        other => other,
    }
}

impl Theme {
    /// Parses a theme from TOML text. Roles it does not set keep `base`'s styles.
    pub fn parse(name: &str, text: &str, base: Option<&Theme>) -> Result<Theme, ThemeError> {
        let file: ThemeFile =
            toml::from_str(text).map_err(|source| ThemeError::Parse { name: name.to_string(), source })?;
        let theme_name = file.name.unwrap_or_else(|| name.to_string());
        let mut theme = base.cloned().unwrap_or_else(|| Theme::blank(&theme_name));
        theme.name = theme_name.clone();
        for (role, value) in file.roles {
            let style = parse_style(&value).ok_or_else(|| ThemeError::BadValue {
                name: theme_name.clone(),
                role: role.clone(),
                value: value.clone(),
            })?;
            match theme.role_mut(&role) {
                Some(slot) => *slot = style,
                None => return Err(ThemeError::UnknownRole { name: theme_name, role }),
            }
        }
        Ok(theme)
    }

    /// The built-in dark theme (always parses; falls back to plain styles if it did not).
    pub fn dark() -> Theme {
        Theme::parse("dark", EMBEDDED[0].1, None).unwrap_or_else(|_| Theme::blank("dark"))
    }

    /// Loads a theme by name: `user_dir/NAME.toml` first, then the embedded ones, then
    /// adapts it to `support` (NO_COLOR forces `mono`; no truecolor maps RGB to 256).
    pub fn load(name: &str, user_dir: Option<&Path>, support: ColorSupport) -> Result<Theme, ThemeError> {
        let name = if support == ColorSupport::NoColor { "mono" } else { name };
        let base = Theme::dark();
        let user_file = user_dir.map(|d| d.join(format!("{name}.toml"))).filter(|p| p.is_file());
        let mut theme = if let Some(path) = user_file {
            let text = std::fs::read_to_string(&path)
                .map_err(|source| ThemeError::Io { path: path.display().to_string(), source })?;
            Theme::parse(name, &text, Some(&base))?
        } else if let Some((_, text)) = EMBEDDED.iter().find(|(n, _)| *n == name) {
            Theme::parse(name, text, Some(&base))?
        } else {
            let known: Vec<&str> = EMBEDDED.iter().map(|(n, _)| *n).collect();
            return Err(ThemeError::Unknown(name.to_string(), known.join(", ")));
        };
        if support == ColorSupport::Palette256 {
            theme.map_styles(|s| Style { fg: degrade(s.fg), bg: degrade(s.bg), ..s });
        }
        Ok(theme)
    }

    /// Names of the embedded themes.
    pub(crate) fn embedded_names() -> impl Iterator<Item = &'static str> {
        EMBEDDED.iter().map(|(n, _)| *n)
    }

    /// Style for a signed change: up, down or even.
    pub fn change(&self, sign: std::cmp::Ordering) -> Style {
        match sign {
            std::cmp::Ordering::Greater => self.up,
            std::cmp::Ordering::Less => self.down,
            std::cmp::Ordering::Equal => self.even,
        }
    }
}

impl Default for Theme {
    fn default() -> Self {
        Theme::dark()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_theme_parses_completely() {
        for (name, text) in EMBEDDED {
            let t = Theme::parse(name, text, None).unwrap();
            assert_eq!(t.name, name);
            assert_ne!(t.bid, Style::new(), "{name} sets bid");
        }
    }

    #[test]
    fn no_color_forces_mono_and_palette_degrades_rgb() {
        let t = Theme::load("dark", None, ColorSupport::NoColor).unwrap();
        assert_eq!(t.name, "mono");
        let t = Theme::load("dark", None, ColorSupport::Palette256).unwrap();
        assert!(matches!(t.bid.fg, Some(Color::Indexed(_))), "{:?}", t.bid.fg);
        let t = Theme::load("dark", None, ColorSupport::TrueColor).unwrap();
        assert!(matches!(t.bid.fg, Some(Color::Rgb(..))));
    }

    #[test]
    fn env_detection() {
        assert_eq!(ColorSupport::from_env_values(Some("1"), Some("truecolor")), ColorSupport::NoColor);
        assert_eq!(ColorSupport::from_env_values(Some(""), Some("24bit")), ColorSupport::TrueColor);
        assert_eq!(ColorSupport::from_env_values(None, None), ColorSupport::Palette256);
    }

    #[test]
    fn rgb_maps_to_the_palette() {
        assert_eq!(rgb_to_256(255, 0, 0), 196);
        assert_eq!(rgb_to_256(0, 0, 0), 16);
        assert_eq!(rgb_to_256(128, 128, 128), 244);
    }

    #[test]
    fn bad_roles_and_values_are_named() {
        let e = Theme::parse("x", "[roles]\nbidd = \"red\"", None).unwrap_err().to_string();
        assert!(e.contains("bidd"), "{e}");
        let e = Theme::parse("x", "[roles]\nbid = \"notacolor\"", None).unwrap_err().to_string();
        assert!(e.contains("notacolor"), "{e}");
        assert!(Theme::load("nope", None, ColorSupport::TrueColor).is_err());
    }
}
