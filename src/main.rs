//! The `mailseal` binary: parses the command line, sets up logging, runs one
//! command and maps its result to the exit codes of the contract:
//! 0 ok, 1 verification found a problem, 2 error (configuration errors too,
//! so systemd's `RestartPreventExitStatus=2` stops a restart loop).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mailseal::cli::Cli::parse();
    match mailseal::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // A reader that went away (`mailseal list | head`) is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("mailseal: {e:#}");
            ExitCode::from(2)
        }
    }
}
