//! The `gamops` binary: parse arguments, run the command, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = gamops::cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("GAMOPS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(cli.default_log_level()));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        gamops::cli::LogFormat::Json => logs.json().init(),
        gamops::cli::LogFormat::Text => logs.init(),
    }
    match gamops::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let (red, cyan, reset) = if colour {
                ("\x1b[1;31m", "\x1b[1;36m", "\x1b[0m")
            } else {
                ("", "", "")
            };
            eprintln!("{red}error{reset}: {}", err.message);
            for h in &err.hints {
                eprintln!("  {cyan}hint{reset}: {h}");
            }
            ExitCode::from(err.exit_code())
        }
    }
}
