//! The one way hoga locks a `std` mutex.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `m` even if a panicking holder poisoned it. Every mutex in hoga guards plain data
/// that is consistent between statements (no invariant spans a panic point), so the poison
/// flag carries no information, and refusing the lock would turn one panic into many.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
