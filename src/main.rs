//! The `hoga` binary: parse the command line, build the one tokio runtime, hand over to
//! [`hoga::cli::run`].

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = hoga::cli::Cli::parse();
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
        hoga::cli::run(cli).await
    })
}
