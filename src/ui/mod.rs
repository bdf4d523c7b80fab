//! The terminal console: keys become [`Action`]s through the [`keymap`], the pure
//! [`update`] reducer turns them into UI state changes and [`Command`]s, and
//! [`render`] draws the store's [`crate::store::Snapshot`] with the UI state.
//!
//! [`App`] runs the loop (`select! { biased; cancel > input > snapshot > frame tick }`),
//! drawing only when something changed; [`crate::kernel::terminal::TerminalGuard`] owns the terminal.

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
