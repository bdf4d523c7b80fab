//! The runtime guard names the caller when used from a second runtime.
//! Its own test binary: the recorded main runtime is process-global.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hoga::kernel::runtime_guard::{RuntimeGuardError, ensure_main_runtime, record_main_runtime};

#[tokio::test]
async fn foreign_runtime_is_detected_and_named() {
    assert!(record_main_runtime());
    assert_eq!(ensure_main_runtime("main side"), Ok(()));

    let outcome = std::thread::spawn(|| {
        // A second runtime, made on purpose: this is the bug the guard exists to catch.
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            std::panic::catch_unwind(|| ensure_main_runtime("store writer"))
                .map_err(|p| p.downcast_ref::<String>().cloned().unwrap_or_default())
        })
    })
    .join()
    .unwrap();

    if cfg!(debug_assertions) {
        // Debug builds panic at once, naming the place.
        let message = outcome.expect_err("debug builds panic");
        assert!(message.contains("store writer"), "{message}");
        assert!(message.contains("foreign tokio runtime"), "{message}");
    } else {
        let err = outcome.expect("release builds return the error");
        assert_eq!(err, Err(RuntimeGuardError::ForeignRuntime("store writer".into())));
    }

    // Outside any runtime at all.
    let outside =
        std::thread::spawn(|| std::panic::catch_unwind(|| ensure_main_runtime("ui draw"))).join().unwrap();
    match outside {
        Ok(r) => assert_eq!(r, Err(RuntimeGuardError::NoRuntime("ui draw".into()))),
        Err(p) => assert!(p.downcast_ref::<String>().unwrap().contains("ui draw")),
    }
}
