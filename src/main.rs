//! The `gamops` binary: parse arguments, run the command, map the outcome to an exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

/// The exit code of a command line that does not parse: 1, like any user error. Never 2, which
/// `plan --detailed-exitcode` uses for "changes present" (clap's own default).
const USAGE_ERROR: u8 = 1;

fn main() -> ExitCode {
    let cli = match gamops::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // `--help` and `--version` are not errors.
            return if e.use_stderr() {
                ExitCode::from(USAGE_ERROR)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let filter = tracing_subscriber::EnvFilter::try_from_env("GAMOPS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(cli.default_log_level()));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: a log file or a CI log gets plain text.
        .with_ansi(colour);
    match cli.log_format {
        gamops::cli::LogFormat::Json => logs.json().init(),
        gamops::cli::LogFormat::Text => logs.init(),
    }
    match gamops::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            err.eprint(colour);
            ExitCode::from(err.exit_code())
        }
    }
}
