//! The kernel: the process-wide resources that everything else borrows.
//!
//! The task manager (every task is spawned through it, supervised and named), the
//! runtime guard (one runtime per process, checked), the ordered shutdown sequence, the
//! terminal guard and the failpoints the crash tests use. `main` builds the one tokio
//! runtime and hands control to [`crate::cli::run`], which runs the console
//! ([`crate::console::run`]) or another subcommand.

pub mod failpoint;
pub mod latest;
pub mod pump;
pub mod runtime_guard;
pub mod shutdown;
pub(crate) mod sync;
pub mod task_manager;
pub mod terminal;

pub use shutdown::{Deadlines, ShutdownHooks, ShutdownReport};

pub(crate) use task_manager::TaskId;
pub use task_manager::{OnFailure, TaskEvent, TaskInfo, TaskManager, TaskState};
