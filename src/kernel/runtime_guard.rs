//! The runtime guard: one tokio runtime per process, checked where it matters.
//!
//! hoga runs on exactly one tokio runtime. `main` records that runtime's id at bootstrap;
//! code that must only run on it (the store writer, the UI, anything holding
//! runtime-bound resources such as the shared HTTP client) calls
//! [`ensure_main_runtime`], which names the caller in its error so a foreign-runtime
//! bug is found at once instead of as a mysterious hang later.

use std::sync::OnceLock;

use tokio::runtime::{Handle, Id};

static MAIN_RUNTIME: OnceLock<Id> = OnceLock::new();

/// Using a runtime-bound facility from the wrong place.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuntimeGuardError {
    /// Called outside any tokio runtime.
    #[error("{0}: called outside the main tokio runtime (no runtime is running here)")]
    NoRuntime(String),
    /// Called from a tokio runtime that is not the main one.
    #[error("{0}: called from a foreign tokio runtime; hoga runs on exactly one runtime")]
    ForeignRuntime(String),
}

/// Records the current runtime as hoga's main runtime. Call once, from `main`, inside
/// the runtime. Returns false if a different runtime was already recorded.
pub fn record_main_runtime() -> bool {
    let Ok(handle) = Handle::try_current() else {
        return false;
    };
    let id = handle.id();
    *MAIN_RUNTIME.get_or_init(|| id) == id
}

/// Checks that the caller runs on the main runtime. `place` names the caller and is part
/// of the error. In debug builds a violation also panics, so tests catch it at once.
///
/// Until `main` records the runtime (library unit tests, benches), there is nothing to
/// compare against and the check passes.
pub fn ensure_main_runtime(place: &str) -> Result<(), RuntimeGuardError> {
    let result = check(place);
    if let Err(e) = &result {
        tracing::error!(error = %e, "runtime guard violation");
        if cfg!(debug_assertions) {
            panic!("{e}");
        }
    }
    result
}

fn check(place: &str) -> Result<(), RuntimeGuardError> {
    let Some(main) = MAIN_RUNTIME.get() else {
        return Ok(());
    };
    match Handle::try_current() {
        Err(_) => Err(RuntimeGuardError::NoRuntime(place.to_string())),
        Ok(h) if h.id() != *main => Err(RuntimeGuardError::ForeignRuntime(place.to_string())),
        Ok(_) => Ok(()),
    }
}
