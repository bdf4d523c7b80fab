//! The kernel: the Rust form of the seeds' AppKernel, LoopGuard and TaskManager.
//!
//! It owns the process-wide resources that everything else borrows: the task manager
//! (every task is spawned through it), the runtime guard, and the ordered shutdown
//! sequence. `main` builds the one tokio runtime and hands control to [`run`].

pub mod failpoint;
pub mod runtime_guard;
pub mod shutdown;
pub mod task_manager;
pub mod terminal;

pub use shutdown::{Deadlines, Phase, ShutdownHooks, ShutdownReport};
pub use task_manager::{OnFailure, TaskEvent, TaskId, TaskInfo, TaskManager, TaskState};
