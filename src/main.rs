//! The `hoga` binary: parse the command line, build the one tokio runtime, hand over.

fn main() -> std::process::ExitCode {
    // The one runtime of the process. Nothing else may build a runtime or block_on.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("hoga")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hoga: cannot start the tokio runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        hoga::kernel::runtime_guard::record_main_runtime();
        let tasks = hoga::kernel::TaskManager::new();
        eprintln!("hoga: kernel running; press Ctrl-C to stop");
        let reason = hoga::kernel::shutdown::wait_for_trigger(&tasks).await;
        let report = hoga::kernel::shutdown::shutdown(
            &tasks,
            hoga::kernel::ShutdownHooks::default(),
            hoga::kernel::Deadlines::default(),
            reason,
        )
        .await;
        eprintln!("hoga: stopped ({})", report.reason);
    });
    std::process::ExitCode::SUCCESS
}
