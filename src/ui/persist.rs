//! What the screen remembers across restarts, in the data directory ([`UiConfig::state_dir`]):
//!
//! - `ui-state.toml`: the theme, the layout on screen (its arrangement: base, hidden and
//!   maximised panes, focus), the last market shown, the chart's timeframe, the markets
//!   list's sort (column and direction), and the venue shown with the market last shown on
//!   each other venue (`:venue`: a restart comes back to Binance only if it is on);
//! - `layouts.toml`: the layouts saved with `:layout save NAME`.
//!
//! Both are read once when the app starts and written (whole, atomically, 0600) whenever
//! what they hold changes. A file that cannot be read or parsed is said on the message line
//! and in the log, moved aside (`….corrupt`) so the next save cannot overwrite what a
//! person may want back, and otherwise ignored: it never stops the console.
//!
//! Which wins, the config file's `[ui] theme` / `layout` or the saved ones: the saved ones,
//! unless the config's value changed since they were saved (the file remembers what the
//! config said then), so an edit of the config is never silently overruled; `--theme`
//! wins for its run.
//!
//! [`UiConfig::state_dir`]: super::state::UiConfig::state_dir

use std::path::Path;
use std::str::FromStr as _;

use serde::{Deserialize, Serialize};

use super::layout::{self, Arrangement, SavedLayouts};
use super::state::UiState;
use crate::exchange::VenueId;
use crate::exchange::types::{MarketId, Timeframe};

/// The UI state file in the data directory.
pub const STATE_FILE: &str = "ui-state.toml";
/// The saved layouts file in the data directory.
pub const LAYOUTS_FILE: &str = "layouts.toml";

/// What `ui-state.toml` holds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedUi {
    /// Theme in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
    /// The config's `[ui] theme` when this was saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_theme: Option<String>,
    /// The config's `[ui] layout` when this was saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_layout: Option<String>,
    /// Last market shown on Upbit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
    /// The venue the market panes showed (`binance`); none: Upbit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue: Option<String>,
    /// The market last shown on each venue other than Upbit (`binance = "USDT-ETH"`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub venue_markets: std::collections::BTreeMap<String, String>,
    /// Chart timeframe (`1m`, `5m`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeframe: Option<String>,
    /// The markets list's sort column (`code`, `value`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    /// The sort runs against the column's natural order (the header's arrow flipped).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sort_reversed: bool,
    /// The layout on screen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<Arrangement>,
    /// Markets compared on the chart (`:compare`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compare: Vec<String>,
    /// The chart's studies, as labels (`SMA 20`); kept whichever layout the next start
    /// shows. None in a file from before studies (a fresh user's defaults then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub studies: Option<Vec<String>>,
}

impl SavedUi {
    /// What the screen shows now.
    pub fn of(ui: &UiState) -> SavedUi {
        SavedUi {
            theme: Some(ui.theme.clone()),
            config_theme: Some(ui.config.theme.clone()),
            config_layout: Some(ui.config.layout.clone()),
            market: upbit_market(ui).map(|m| m.to_string()),
            // A venue not yet back after a restart (its data still coming) stays the one
            // saved.
            venue: ui
                .venues
                .restore
                .or(Some(ui.venue))
                .filter(|v| *v != VenueId::Upbit)
                .map(|v| v.as_str().to_string()),
            venue_markets: VenueId::ALL
                .iter()
                .filter(|v| **v != VenueId::Upbit)
                .filter_map(|v| {
                    let shown = if *v == ui.venue { ui.market.as_ref() } else { None };
                    let m = shown.or(ui.venues.markets.get(v));
                    Some((v.as_str().to_string(), m?.to_string()))
                })
                .collect(),
            timeframe: Some(ui.timeframe.label().to_string()),
            sort: Some(ui.markets.sort.label().to_string()),
            sort_reversed: ui.markets.ascending,
            // The studies are kept on their own (below), whether the layout is restored
            // or the config's is shown.
            layout: Some(Arrangement { studies: None, ..Arrangement::of(ui) }),
            studies: Some(crate::indicators::series::labels(&ui.chart.studies)),
            // Compared markets are the venue's own; a restart starts on Upbit (a switch
            // clears them).
            compare: if ui.venue == VenueId::Upbit {
                ui.chart.compare.iter().map(MarketId::to_string).collect()
            } else {
                Vec::new()
            },
        }
    }
}

/// The market shown last on Upbit: the one on screen, the one to come back to from
/// another venue, or the one saved.
fn upbit_market(ui: &UiState) -> Option<&MarketId> {
    let shown = if ui.venue == VenueId::Upbit { ui.market.as_ref() } else { None };
    shown.or(ui.venues.markets.get(&VenueId::Upbit)).or(ui.start_market.as_ref())
}

/// Reads a TOML file: None when there is none; an error names the file and the problem.
fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map(Some).map_err(|e| {
            let e = e.to_string();
            format!("{}: {}", path.display(), e.lines().next().unwrap_or("not TOML"))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// A file that could not be used: moved aside (when it can be) and said.
fn set_aside(path: &Path, problem: String) -> String {
    let kept = match crate::datadir::move_aside(path, "corrupt") {
        Ok(Some(to)) => format!("kept as {}", to.display()),
        _ => "left in place".to_string(),
    };
    let text = format!("{problem}: ignored ({kept})");
    tracing::warn!("{text}");
    text
}

/// Reads the saved state into a fresh UI state (before the theme is loaded): the saved
/// layouts, and, by the rule in the module docs, the theme, the layout on screen, the
/// market to show first and the timeframe. Returns what went wrong, for the message line.
pub fn restore(ui: &mut UiState) -> Vec<String> {
    let Some(dir) = ui.config.state_dir.clone() else { return Vec::new() };
    let mut problems = Vec::new();
    let layouts_path = dir.join(LAYOUTS_FILE);
    match read::<SavedLayouts>(&layouts_path) {
        Ok(Some(saved)) => {
            for (name, mut arrangement) in saved {
                // A study that does not read is named and left out; the layout stays.
                if let Some(labels) = &arrangement.studies {
                    let (studies, skipped) = crate::indicators::series::read_saved(labels);
                    for p in skipped {
                        let text = format!("{}: layout {name:?}: {p}", layouts_path.display());
                        tracing::warn!("{text}");
                        problems.push(text);
                    }
                    arrangement.studies = Some(crate::indicators::series::labels(&studies));
                }
                let ok = layout::check_name(&name).and_then(|()| arrangement.check());
                match ok {
                    Ok(()) if ui.saved_layouts.len() < layout::MAX_SAVED => {
                        ui.saved_layouts.insert(name, arrangement);
                    }
                    Ok(()) => {}
                    Err(e) => {
                        let text = format!("{}: layout {name:?} skipped: {e}", layouts_path.display());
                        tracing::warn!("{text}");
                        problems.push(text);
                    }
                }
            }
        }
        Ok(None) => {}
        Err(e) => problems.push(set_aside(&layouts_path, e)),
    }
    let state_path = dir.join(STATE_FILE);
    let saved = match read::<SavedUi>(&state_path) {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => {
            problems.push(set_aside(&state_path, e));
            SavedUi::default()
        }
    };
    if let Some(theme) = saved.theme
        && !ui.config.theme_from_flag
        && saved.config_theme.as_deref() == Some(ui.config.theme.as_str())
    {
        ui.theme = theme;
    }
    if let Some(arrangement) = saved.layout
        && saved.config_layout.as_deref() == Some(ui.config.layout.as_str())
        && arrangement.check().is_ok()
    {
        arrangement.apply(ui);
    } else if !layout::switch(ui, &ui.config.layout.clone()) {
        // `[ui] layout` may name a saved layout; one that is neither is said, and every
        // pane is shown.
        problems.push(format!("[ui] layout: {}", layout::unknown(ui, &ui.config.layout)));
    }
    if let Some(labels) = saved.studies {
        let (studies, skipped) = crate::indicators::series::read_saved(&labels);
        for p in skipped {
            let text = format!("{}: {p}", state_path.display());
            tracing::warn!("{text}");
            problems.push(text);
        }
        ui.chart.studies = studies;
    }
    ui.start_market = saved.market.and_then(|m| MarketId::from_str(&m).ok());
    for (name, m) in &saved.venue_markets {
        match (VenueId::from_str(name), MarketId::from_str(m)) {
            (Ok(v), Ok(m)) if v != VenueId::Upbit => {
                ui.venues.markets.insert(v, m);
            }
            _ => problems.push(skipped(&state_path, "venue_markets", &format!("{name} = {m}"))),
        }
    }
    // The console starts on Upbit and switches once the venue's data comes (it may be
    // off now).
    if let Some(v) = saved.venue {
        match VenueId::from_str(&v) {
            Ok(VenueId::Upbit) => {}
            Ok(v) => ui.venues.restore = Some(v),
            Err(_) => problems.push(skipped(&state_path, "venue", &v)),
        }
    }
    // A value that does not read is named and skipped; the rest of the file stands.
    if let Some(t) = saved.timeframe {
        match Timeframe::from_str(&t) {
            Ok(tf) => ui.timeframe = tf,
            Err(_) => problems.push(skipped(&state_path, "timeframe", &t)),
        }
    }
    if let Some(s) = saved.sort {
        match super::state::SortColumn::from_label(&s) {
            Some(column) => {
                ui.markets.sort = column;
                ui.markets.ascending = saved.sort_reversed;
            }
            None => problems.push(skipped(&state_path, "sort", &s)),
        }
    }
    // Checked against the market list when the first snapshot selects a market: a market
    // delisted since is simply not drawn (no series comes).
    let mut compare: Vec<MarketId> = Vec::new();
    for m in saved.compare.iter().filter_map(|m| MarketId::from_str(m).ok()) {
        if !compare.contains(&m) && compare.len() < super::chart_view::MAX_COMPARED {
            compare.push(m);
        }
    }
    ui.chart.compare = compare;
    problems
}

/// A saved value that does not read: said, and the default kept.
fn skipped(path: &Path, key: &str, value: &str) -> String {
    let text = format!("{}: {key} {value:?} skipped: not a known value", path.display());
    tracing::warn!("{text}");
    text
}

/// Writes the state files when what they hold changed since they were last written or
/// read. The app calls [`Saver::save`] after every change of the UI state.
#[derive(Debug, Default)]
pub struct Saver {
    /// What `ui-state.toml` holds (as last written or read).
    state: Option<SavedUi>,
    /// What `layouts.toml` holds.
    layouts: Option<SavedLayouts>,
    /// The last write error said, so a full disk is said once, not at every key.
    failed: Option<String>,
    /// The theme kept in the file whatever is on screen: under `NO_COLOR` every theme is
    /// drawn as `mono`, which is not the person's choice for a colour terminal.
    pinned_theme: Option<String>,
}

impl Saver {
    /// A saver that knows the files hold what `ui` shows after [`restore`].
    pub fn new(ui: &UiState) -> Saver {
        Saver {
            state: Some(SavedUi::of(ui)),
            layouts: Some(ui.saved_layouts.clone()),
            failed: None,
            pinned_theme: None,
        }
    }

    /// Keeps `theme` in the file whatever the screen shows (`NO_COLOR`).
    pub fn pin_theme(&mut self, theme: String) {
        if let Some(s) = &mut self.state {
            s.theme = Some(theme.clone());
        }
        self.pinned_theme = Some(theme);
    }

    /// Writes what changed; a failure goes on the message line (once until it changes).
    pub fn save(&mut self, ui: &mut UiState) {
        let Some(dir) = ui.config.state_dir.clone() else { return };
        let mut now = SavedUi::of(ui);
        if let Some(t) = &self.pinned_theme {
            now.theme = Some(t.clone());
        }
        if self.state.as_ref() != Some(&now) {
            let r = write_toml(&dir.join(STATE_FILE), &now);
            self.done(ui, r, || now.clone(), |s, v| s.state = Some(v));
        }
        if self.layouts.as_ref() != Some(&ui.saved_layouts) {
            let layouts = ui.saved_layouts.clone();
            let r = write_toml(&dir.join(LAYOUTS_FILE), &layouts);
            self.done(ui, r, || layouts.clone(), |s, v| s.layouts = Some(v));
        }
    }

    fn done<T>(
        &mut self,
        ui: &mut UiState,
        result: Result<(), String>,
        value: impl FnOnce() -> T,
        keep: impl FnOnce(&mut Saver, T),
    ) {
        match result {
            Ok(()) => {
                keep(self, value());
                self.failed = None;
            }
            Err(e) => {
                if self.failed.as_ref() != Some(&e) {
                    tracing::warn!("{e}");
                    ui.error(e.clone());
                    self.failed = Some(e);
                }
            }
        }
    }
}

fn write_toml<T: Serialize>(path: &Path, value: &T) -> Result<(), String> {
    let text = toml::to_string(value).map_err(|e| format!("save {}: {e}", path.display()))?;
    let head = "# Written by hoga; edit only while it is not running.\n";
    crate::datadir::write_atomic(path, format!("{head}{text}").as_bytes())
        .map_err(|e| format!("save {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::layout::PaneId;
    use crate::ui::state::UiConfig;

    fn ui_in(dir: &Path, config: UiConfig) -> UiState {
        let mut ui = UiState::new(UiConfig { state_dir: Some(dir.to_path_buf()), ..config });
        let problems = restore(&mut ui);
        assert!(problems.is_empty(), "{problems:?}");
        ui
    }

    #[test]
    fn theme_layout_market_and_timeframe_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut ui = ui_in(dir.path(), UiConfig::default());
        let mut saver = Saver::new(&ui);
        ui.theme = "light".into();
        assert!(layout::switch(&mut ui, "trade"));
        ui.hidden.insert(PaneId::Trades);
        ui.focus = PaneId::Orders;
        ui.market = Some(MarketId::new("KRW-ETH"));
        ui.timeframe = Timeframe::M5;
        ui.chart.compare = vec![MarketId::new("KRW-BTC"), MarketId::new("KRW-XRP")];
        // `code▲` is not the default `by value▼`.
        ui.markets.sort = crate::ui::state::SortColumn::Code;
        ui.markets.ascending = true;
        saver.save(&mut ui);
        assert_eq!(ui.message, None);

        let again = ui_in(dir.path(), UiConfig::default());
        assert_eq!(again.theme, "light");
        assert_eq!(Arrangement::of(&again), Arrangement::of(&ui));
        assert_eq!(again.start_market, Some(MarketId::new("KRW-ETH")));
        assert_eq!(again.market, None, "selected through the reducer once the list is known");
        assert_eq!(again.timeframe, Timeframe::M5);
        assert_eq!(again.chart.compare, ui.chart.compare, "the compared markets");
        assert_eq!((again.markets.sort, again.markets.ascending), (ui.markets.sort, true), "the sort");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(STATE_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn an_unreadable_sort_or_timeframe_is_named_and_skipped_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        std::fs::write(
            &path,
            "market = \"KRW-ETH\"\ntimeframe = \"7m\"\nsort = \"volume\"\nsort_reversed = true\n",
        )
        .unwrap();
        let mut ui =
            UiState::new(UiConfig { state_dir: Some(dir.path().to_path_buf()), ..UiConfig::default() });
        let problems = restore(&mut ui);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("timeframe \"7m\" skipped"), "{problems:?}");
        assert!(problems[1].contains("sort \"volume\" skipped"), "{problems:?}");
        let fresh = UiState::new(UiConfig::default());
        assert_eq!((ui.markets.sort, ui.markets.ascending), (fresh.markets.sort, fresh.markets.ascending));
        assert_eq!(ui.timeframe, fresh.timeframe);
        assert_eq!(ui.start_market, Some(MarketId::new("KRW-ETH")), "the rest of the file stands");
    }

    #[test]
    fn a_config_value_changed_since_the_save_wins_and_so_does_the_theme_flag() {
        let dir = tempfile::tempdir().unwrap();
        let mut ui = ui_in(dir.path(), UiConfig::default());
        let mut saver = Saver::new(&ui);
        ui.theme = "light".into();
        assert!(layout::switch(&mut ui, "system"));
        saver.save(&mut ui);

        let edited = UiConfig { theme: "mono".into(), layout: "trade".into(), ..UiConfig::default() };
        let again = ui_in(dir.path(), edited);
        assert_eq!((again.theme.as_str(), again.layout.as_str()), ("mono", "trade"));

        let flag = UiConfig { theme: "high-contrast".into(), theme_from_flag: true, ..UiConfig::default() };
        let again = ui_in(dir.path(), flag);
        assert_eq!((again.theme.as_str(), again.layout.as_str()), ("high-contrast", "system"));
    }

    #[test]
    fn a_corrupt_file_is_said_set_aside_and_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATE_FILE), "theme = [oops").unwrap();
        std::fs::write(dir.path().join(LAYOUTS_FILE), "[mine]\nbase = 'nowhere'\nfocus = 'chart'\n").unwrap();
        let mut ui =
            UiState::new(UiConfig { state_dir: Some(dir.path().to_path_buf()), ..UiConfig::default() });
        let problems = restore(&mut ui);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("mine") && problems[0].contains("nowhere"), "{}", problems[0]);
        assert!(problems[1].contains(STATE_FILE) && problems[1].contains("ignored"), "{}", problems[1]);
        assert_eq!((ui.theme.as_str(), ui.layout.as_str()), ("dark", "default"));
        assert!(ui.saved_layouts.is_empty());
        assert_eq!(
            std::fs::read_to_string(dir.path().join(format!("{STATE_FILE}.corrupt"))).unwrap(),
            "theme = [oops"
        );
        // The next save writes a good file again; the skipped layout stays in its file (it
        // is the person's to fix) and is said again at the next start.
        let mut saver = Saver::new(&ui);
        ui.theme = "light".into();
        saver.save(&mut ui);
        let mut again =
            UiState::new(UiConfig { state_dir: Some(dir.path().to_path_buf()), ..UiConfig::default() });
        assert_eq!(restore(&mut again).len(), 1);
        assert_eq!(again.theme, "light");
    }

    #[test]
    fn the_config_may_start_on_a_saved_layout() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(LAYOUTS_FILE),
            "[wide]\nbase = 'all'\nhidden = ['log']\nfocus = 'chart'\n",
        )
        .unwrap();
        let ui = ui_in(dir.path(), UiConfig { layout: "wide".into(), ..UiConfig::default() });
        assert_eq!((ui.layout.as_str(), ui.focus), ("all", PaneId::Chart));
        assert!(ui.hidden.contains(&PaneId::Log));
        let mut ui = UiState::new(UiConfig {
            state_dir: Some(dir.path().into()),
            layout: "nope".into(),
            ..UiConfig::default()
        });
        let problems = restore(&mut ui);
        assert!(problems.iter().any(|p| p.contains("unknown layout \"nope\"")), "{problems:?}");
    }

    #[test]
    fn saved_layouts_round_trip_through_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut ui = ui_in(dir.path(), UiConfig::default());
        let mut saver = Saver::new(&ui);
        assert!(layout::switch(&mut ui, "trade"));
        ui.maximized = Some(PaneId::Chart);
        ui.focus = PaneId::Chart;
        layout::save(&mut ui, "scalp").unwrap();
        saver.save(&mut ui);
        let again = ui_in(dir.path(), UiConfig::default());
        assert_eq!(again.saved_layouts, ui.saved_layouts);
        assert_eq!(again.saved_layouts["scalp"].maximized, Some(PaneId::Chart));
        let text = std::fs::read_to_string(dir.path().join(LAYOUTS_FILE)).unwrap();
        assert!(text.contains("[scalp]") && text.contains("base = \"trade\""), "{text}");
    }
}
