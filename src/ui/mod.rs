//! The terminal console: keys become [`Action`]s through the [`keymap`], the pure
//! [`update()`] reducer turns them into [`UiState`] changes and [`UiCommand`]s, and
//! [`render`] draws the store's [`crate::store::Snapshot`] with the UI state.
//!
//! [`App`] runs the loop (`select! { biased; cancel > input > snapshot > frame tick }`),
//! drawing only when something changed; [`crate::kernel::terminal::TerminalGuard`] owns
//! the terminal.
//!
//! Wiring (the console's side):
//!
//! ```text
//! let store = Store::start(&tasks, StoreConfig::default());        // feed pumps: store.sender()
//! let (sink, source) = ui::sink::command_channel(ui::sink::COMMAND_CAPACITY);
//! let (guard, terminal) = TerminalGuard::enter(settings.ui.mouse)?; // restored on drop
//! let keymap = Keymap::load_user()?;                                // error names file:line
//! let config = UiConfig::from_settings(&settings.ui, Some(favorites_path));
//! App::new(terminal, config, keymap, ColorSupport::detect(), store.subscribe(), sink)
//!     .spawn(&tasks, ui::app::crossterm_input(&tasks));
//! // the console's forwarder: while let Some(cmd) = source.recv().await { bus … cmd.lane() }
//! ```
//!
//! Every [`UiCommand`] names its bus lane ([`UiCommand::lane`]): `Trade` (order form,
//! ladder, command lines parsed here, cancels, the kill switch) on Trading, `Resume` on
//! Safety, `Config` (theme, layout, keymap reload, `:set`) on Config, the rest on Command.
//! Trading and Safety commands are never dropped ([`sink`]). The replies come back in the
//! store (`snapshot.account.replies`) and go on the message line under the request's id;
//! a theme, layout or keymap change is applied only once its reply says accepted.
//! `SaveFavorites` is handled inside the app.

pub mod action;
pub mod app;
pub mod chart_view;
pub mod command_line;
pub(crate) mod commands;
pub mod keymap;
pub mod layout;
pub(crate) mod mouse;
pub mod order_form;
pub mod panes;
pub mod persist;
pub mod requests;
pub mod sink;
pub mod state;
pub mod theme;
pub mod update;
pub mod venue;
pub mod widgets;

pub use action::Action;
pub use app::{App, AppError, Input};
pub use keymap::Keymap;
pub use layout::PaneId;
pub use panes::render;
pub use sink::{CommandSink, CommandSource, command_channel};
pub use state::{UiConfig, UiState};
pub use theme::{ColorSupport, Theme};
pub use update::{UiCommand, update};
