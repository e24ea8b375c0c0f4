use std::process::ExitCode;

use clap::Parser;

use ansinh::cli::{self, Cli, Command};

// glibc's allocator spent about a quarter of the server's CPU under load (measured with perf on
// `ansinh bench`: malloc, free, chunk consolidation); mimalloc keeps per-thread free lists.
// Without transparent huge pages (`no_thp`): each page mimalloc touched again after giving it
// back cost a 2 MiB fault and zeroing, 15% of all CPU while `serve` loaded households for first
// commands (perf, `clear_page_erms` under `mi_page_free_list_extend`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Serve { .. } | Command::Demo { .. } => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ansinh could not start its runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let serving = matches!(cli.command, Command::Serve { .. } | Command::Demo { .. });
    let outcome = runtime.block_on(async move {
        ansinh::server::listen_for_shutdown();
        if serving {
            // `serve` shuts down gracefully on the signal itself.
            return cli::run(cli).await;
        }
        tokio::select! {
            r = cli::run(cli) => r,
            () = ansinh::server::shutdown_signal() => Err(cli::Failure::other("interrupted")),
        }
    });
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("{}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
