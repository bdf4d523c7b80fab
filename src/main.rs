//! The `hoga` binary: parse the command line, build the one tokio runtime, hand over to
//! [`hoga::cli::run`].

/// Exit status of a process a panic ended (what Rust itself uses).
const EXIT_PANIC: u8 = 101;

/// How long the runtime's threads get to stop once `main` is done with them.
const RUNTIME_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

fn main() -> std::process::ExitCode {
    let cli = hoga::cli::Cli::parse_args();
    // The one runtime of the process. Nothing else may build a runtime or block_on.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("hoga")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            hoga::kernel::terminal::report(&format!("hoga: cannot start the tokio runtime: {e}"));
            return std::process::ExitCode::FAILURE;
        }
    };
    // A panic in a task is caught by the task manager; one here (the console's own wiring)
    // ends the process. Unwinding has restored the terminal (the guard's drop); the panic
    // hook kept quiet while the console's screen was up, so the message is printed now.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(async {
            hoga::kernel::runtime_guard::record_main_runtime();
            hoga::cli::run(cli).await
        })
    }));
    // Ordered shutdown has run (or a panic skipped it). A worker still stuck inside a
    // task's poll must not keep the process alive: on a hung-up terminal crossterm's
    // reader spins on end-of-file inside the input task's poll, and dropping the runtime
    // would wait for that worker for ever.
    runtime.shutdown_timeout(RUNTIME_GRACE);
    match outcome {
        Ok(code) => code,
        Err(_) => {
            hoga::kernel::terminal::restore();
            if let Some(text) = hoga::kernel::terminal::take_last_panic() {
                hoga::kernel::terminal::report(&text);
            }
            std::process::ExitCode::from(EXIT_PANIC)
        }
    }
}
