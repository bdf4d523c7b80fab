//! The terminal console: keys become [`Action`]s through the [`keymap`], the pure
//! [`update()`] reducer turns them into UI state changes and [`UiCommand`]s, and
//! [`render`] draws the store's [`crate::store::Snapshot`] with the UI state.
//!
//! [`App`] runs the loop (`select! { biased; cancel > input > snapshot > frame tick }`),
//! drawing only when something changed; [`crate::kernel::terminal::TerminalGuard`] owns
//! the terminal.
//!
//! Wiring (kernel side):
//!
//! ```text
//! let store = Store::start(&tasks, StoreConfig::default());       // feed pumps: store.sender()
//! store.spawn_task_sampler(&tasks, Duration::from_secs(1));
//! let (cmd_tx, cmd_rx) = mpsc::channel(ui::app::COMMAND_CAPACITY); // console handles cmd_rx
//! let keymap = Keymap::load_file(user_keymap_path.as_deref())?;     // error names file:line
//! let config = UiConfig::from_settings(&settings.ui, Some(favorites_path));
//! ui::app::start_console(&tasks, &mut hooks, config, keymap, store.subscribe(), cmd_tx)?;
//! ```
//!
//! `UiCommand`s that reach `cmd_rx`: `SelectMarket` (then `SetTimeframe`), `SetTimeframe`,
//! `SetDepth`, `Trade(line)`, `PlaceOrder { request }`, `CancelOrder { market, uuid }`,
//! `CancelAll { market }`, `KillSwitch`, `AcknowledgeAlerts`, `SaveLayout`, `Quit`.
//! `SetTheme`, `SetLayout` and `SaveFavorites` are handled inside the app.

pub mod action;
pub mod app;
pub mod command_line;
pub mod keymap;
pub mod layout;
pub mod order_form;
pub mod panes;
pub mod theme;
pub mod update;
pub mod widgets;

pub use action::Action;
pub use app::{App, AppError, Input};
pub use keymap::Keymap;
pub use layout::PaneId;
pub use panes::render;
pub use theme::{ColorSupport, Theme};
pub use update::{UiCommand, UiConfig, UiState, update};
