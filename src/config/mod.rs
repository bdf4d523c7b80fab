//! Configuration: built-in defaults (`config/default.toml`, embedded), the user's file
//! (`~/.config/hoga/config.toml` or `--config FILE`), `HOGA_<SECTION>__<KEY>` environment
//! variables, then command-line flags. Unknown keys and bad values fail the load with
//! the file, the key and the value named.

pub mod change;
pub mod load;
pub mod settings;

pub use load::ConfigError;

pub use load::LoadOptions;

pub(crate) use load::{DEFAULT_TOML, check_file, default_log_dir, display_path, set_path, user_config_file};
pub use load::{Loaded, load};
pub use settings::AlertMode;
pub use settings::AlertSettings;
pub use settings::BusSettings;
pub use settings::DemoSettings;
pub use settings::FeedSettings;
pub use settings::GeneralSettings;
pub use settings::NoticeCategories;
pub use settings::TradingSettings;
pub use settings::UiSettings;
pub use settings::{LogLevel, Mode, Region, Settings};
