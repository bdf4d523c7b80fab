//! Themes: semantic roles (rise, fall, bid, ask, stale…) mapped to styles, loaded from
//! `themes/*.toml` (embedded) or a user directory, degraded to what the terminal supports.
//!
//! Panes never name a colour; they ask the theme for a role, so `:theme light` and
//! `NO_COLOR` work everywhere at once.

use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

pub use crate::config::settings::ColorConvention;

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
        ///
        /// The price and side roles panes use (`rise`, `fall`, `bid`, `ask`, `buy`,
        /// `sell`) are not in theme files: they follow the colour convention
        /// ([`ColorConvention`]), so one colour means one thing in every pane.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Theme {
            /// Theme name.
            pub name: String,
            /// The colour convention the side and direction styles follow.
            pub colors: ColorConvention,
            /// Price rise (Korean: red; Western: green).
            pub rise: Style,
            /// Price fall (Korean: blue; Western: red).
            pub fall: Style,
            /// Bid side of the book: the colour of a rise.
            pub bid: Style,
            /// Ask side of the book: the colour of a fall.
            pub ask: Style,
            /// A buy (order, fill, taker): the colour of a rise.
            pub buy: Style,
            /// A sell: the colour of a fall.
            pub sell: Style,
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
                let plain = Style::new();
                Theme {
                    name: name.to_string(),
                    colors: ColorConvention::Korean,
                    rise: plain,
                    fall: plain,
                    bid: plain,
                    ask: plain,
                    buy: plain,
                    sell: plain,
                    $($role: plain,)*
                }
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
    /// Selected row. Spans on the row keep their own colour, so its background must
    /// differ from every role's foreground (or the row must be `reversed`).
    selection,
    /// Border of the focused pane.
    focus_border,
    /// Border of other panes.
    border,
    /// Rise (and the buy side) under the Korean convention: red.
    korean_rise,
    /// Fall (and the sell side) under the Korean convention: blue.
    korean_fall,
    /// Rise (and the buy side) under the Western convention: green.
    western_rise,
    /// Fall (and the sell side) under the Western convention: red.
    western_fall,
    /// Unchanged.
    even,
    /// Healthy, connected, active: a state that is fine (never a price direction).
    ok,
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
        let colors = theme.colors;
        Ok(theme.with_colors(colors))
    }

    /// The same theme with its side and direction styles following `colors`: under the
    /// Korean convention (Upbit's) a rise and the bid side are red, a fall and the ask
    /// side blue; under the Western one a rise and the bid side are green, a fall and the
    /// ask side red.
    pub fn with_colors(mut self, colors: ColorConvention) -> Theme {
        let (rise, fall) = match colors {
            ColorConvention::Korean => (self.korean_rise, self.korean_fall),
            ColorConvention::Western => (self.western_rise, self.western_fall),
        };
        self.colors = colors;
        (self.rise, self.bid, self.buy) = (rise, rise, rise);
        (self.fall, self.ask, self.sell) = (fall, fall, fall);
        self
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
        let colors = theme.colors;
        Ok(theme.with_colors(colors))
    }

    /// Names of the embedded themes.
    pub(crate) fn embedded_names() -> impl Iterator<Item = &'static str> {
        EMBEDDED.iter().map(|(n, _)| *n)
    }

    /// Style for a signed change: rise, fall or even.
    pub fn change(&self, sign: std::cmp::Ordering) -> Style {
        match sign {
            std::cmp::Ordering::Greater => self.rise,
            std::cmp::Ordering::Less => self.fall,
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

    use crate::ui::layout::PaneId;
    use crate::ui::mouse::tests::{line, snapshot, ui};
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;

    /// Draws the whole screen (120x40, KRW-BTC shown, `focus` focused) in `theme`.
    fn draw(theme: &Theme, focus: PaneId, cursor: usize) -> (Buffer, crate::ui::layout::ScreenLayout) {
        let mut snap = snapshot(12);
        let mut section = (*snap.market).clone();
        let btc = crate::exchange::types::MarketId::new("KRW-BTC");
        let trade = |side, price: i64| crate::exchange::types::Trade {
            market: btc.clone(),
            price: rust_decimal::Decimal::from(price),
            volume: rust_decimal::Decimal::ONE,
            side: Some(side),
            trade_timestamp: 0,
            timestamp: 0,
            sequential_id: 0,
            stream_type: crate::exchange::types::StreamType::Realtime,
        };
        let tape = [
            trade(crate::exchange::types::Side::Bid, 100_100),
            trade(crate::exchange::types::Side::Ask, 100_000),
        ];
        section.trades =
            std::sync::Arc::new([(btc.clone(), tape.into_iter().collect())].into_iter().collect());
        snap.market = std::sync::Arc::new(section);
        let mut ui = ui(120, 40);
        ui.focus = focus;
        ui.markets.cursor = cursor;
        let area = Rect::new(0, 0, 120, 40);
        let mut buf = Buffer::empty(area);
        let layout = crate::ui::panes::render(area, &mut buf, &ui, &snap, theme).expect("a layout");
        (buf, layout)
    }

    /// The foreground of the first cell of `text` on the first row of `rect` showing it.
    fn fg_of(buf: &Buffer, rect: Rect, text: &str) -> Color {
        for y in rect.y..rect.y + rect.height {
            let row: Vec<String> =
                (rect.x..rect.x + rect.width).map(|x| buf[(x, y)].symbol().to_string()).collect();
            let joined = row.concat();
            if let Some(byte) = joined.find(text) {
                let col = joined[..byte].chars().count() as u16;
                return buf[(rect.x + col, y)].fg;
            }
        }
        panic!("{text:?} not drawn in {rect:?}");
    }

    #[test]
    fn one_colour_language_in_every_pane_korean_by_default_western_by_setting() {
        let korean = Theme::load("dark", None, ColorSupport::TrueColor).unwrap();
        assert_eq!(korean.colors, ColorConvention::Korean, "Korean by default");
        let western = korean.clone().with_colors(ColorConvention::Western);
        let mut seen = Vec::new();
        for theme in [&korean, &western] {
            let (buf, layout) = draw(theme, PaneId::Orderbook, 0);
            let book = layout.rect(PaneId::Orderbook).unwrap();
            let markets = layout.rect(PaneId::Markets).unwrap();
            let trades = layout.rect(PaneId::Trades).unwrap();
            // A bid level, an ask level; a rising market (BTC +1.2 %), a falling one (C01
            // -3.4 %); a buy print and a sell print on the tape.
            let bid = fg_of(&buf, book, "99,900");
            let ask = fg_of(&buf, book, "100,200");
            let rise = fg_of(&buf, markets, "+1.2");
            let fall = fg_of(&buf, markets, "-3.4");
            let buy = fg_of(&buf, trades, "100,100");
            let sell = fg_of(&buf, trades, "100,000");
            assert_ne!(bid, ask, "{}", theme.colors.as_str());
            assert_eq!(bid, rise, "{}: a bid is the colour of a rise", theme.colors.as_str());
            assert_eq!(ask, fall, "{}: an ask is the colour of a fall", theme.colors.as_str());
            assert_eq!((buy, sell), (bid, ask), "{}: the tape speaks as the book", theme.colors.as_str());
            seen.push((bid, ask));
        }
        let [(k_bid, k_ask), (w_bid, w_ask)] = seen[..] else { unreachable!() };
        assert_eq!(k_bid, korean.korean_rise.fg.unwrap(), "Korean: bid and rise red");
        assert_eq!(k_ask, korean.korean_fall.fg.unwrap(), "Korean: ask and fall blue");
        assert_eq!(w_bid, korean.western_rise.fg.unwrap(), "Western: bid and rise green");
        assert_eq!(w_ask, k_bid, "Western: ask and fall red, the Korean rise");
    }

    /// Whether a cell's text shows: its colours differ once `reversed` is applied (the
    /// terminal's default foreground and background, both `Reset`, differ).
    fn readable(cell: &ratatui::buffer::Cell) -> bool {
        let (fg, bg) =
            if cell.modifier.contains(Modifier::REVERSED) { (cell.bg, cell.fg) } else { (cell.fg, cell.bg) };
        fg != bg || fg == Color::Reset
    }

    #[test]
    fn the_selected_row_is_readable_in_every_theme() {
        for (name, _) in EMBEDDED {
            let theme = Theme::load(name, None, ColorSupport::TrueColor).unwrap();
            // No role draws its text in the selection's background: spans on the selected
            // row keep their own colour (high-contrast had white text on a white bar).
            if let Some(bg) = theme.selection.bg {
                for (role, style) in [
                    ("text", theme.text),
                    ("accent", theme.accent),
                    ("rise", theme.rise),
                    ("fall", theme.fall),
                    ("muted", theme.muted),
                    ("highlight", theme.highlight),
                ] {
                    assert_ne!(style.fg, Some(bg), "{name}: {role} on the selection bar");
                }
            }
            // Drawn: the cursor on the market shown (accent code) and on another (text code).
            for cursor in [0, 1] {
                let (buf, layout) = draw(&theme, PaneId::Markets, cursor);
                let markets = layout.rect(PaneId::Markets).unwrap();
                let y = (markets.y..markets.y + markets.height)
                    .find(|&y| {
                        let text = line(&buf, y);
                        text.contains(if cursor == 0 { "BTC" } else { "C01" }) && !text.contains("KRW-BTC")
                    })
                    .unwrap();
                for x in markets.x + 1..markets.x + markets.width - 1 {
                    let cell = &buf[(x, y)];
                    if cell.symbol() != " " {
                        assert!(
                            readable(cell),
                            "{name}: {:?} at ({x},{y}) is {:?} on {:?}",
                            cell.symbol(),
                            cell.fg,
                            cell.bg
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn light_paints_its_background() {
        let theme = Theme::load("light", None, ColorSupport::TrueColor).unwrap();
        let bg = theme.background.bg.expect("light sets a background");
        assert_ne!(bg, Color::Reset);
        let (buf, _) = draw(&theme, PaneId::Markets, 0);
        let unpainted = buf.content.iter().filter(|c| c.bg == Color::Reset).count();
        assert_eq!(unpainted, 0, "cells left on the terminal's own (maybe dark) background");
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
