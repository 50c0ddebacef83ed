//! The `kvflow` command line: raw arguments (`args`) are validated and run by `commands`;
//! `main` maps errors to exit codes (0 success, 1 runtime failure, 2 usage or file error).

mod args;
mod commands;

use clap::Parser;

/// mimalloc (see `kvflow::allocator`).
#[global_allocator]
static ALLOCATOR: kvflow::allocator::Allocator = kvflow::allocator::Allocator;

fn main() {
    let cli = args::Cli::parse();
    let outcome = match cli.command {
        args::Command::Run(run) => commands::run::run(run),
        args::Command::Check { file } => commands::check::check(&file),
        args::Command::Explain { file, mermaid } => commands::check::explain(&file, mermaid),
        args::Command::Generate(generate) => commands::generate::generate(generate),
        args::Command::Bench(bench) => commands::bench::bench(bench),
        args::Command::Watch(watch) => commands::watch::watch(watch),
        args::Command::Replay(replay) => commands::replay::replay(replay),
        args::Command::Serve(serve) => commands::serve::serve(serve),
    };
    if let Err(error) = outcome {
        eprintln!("error: {error}");
        std::process::exit(error.exit_code());
    }
}
