//! Configuration: built-in defaults (`config/default.toml`, embedded), the user's file
//! (`~/.config/hoga/config.toml` or `--config FILE`), `HOGA_<SECTION>__<KEY>` environment
//! variables, then command-line flags. Unknown keys and bad values fail the load with
//! the file, the key and the value named.

pub mod change;
pub mod load;
pub mod settings;

pub use load::{
    ConfigError, DEFAULT_TOML, DEMO_TOML, LoadOptions, Loaded, check_file, default_log_dir, display_path,
    load, set_path, user_config_file,
};
pub use settings::{
    AlertMode, AlertSettings, BusSettings, DemoSettings, FeedSettings, GeneralSettings, LogLevel,
    MarketNames, Mode, Settings, TradingSettings, UiSettings,
};
