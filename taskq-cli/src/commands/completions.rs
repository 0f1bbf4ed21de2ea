//! `taskq completions SHELL`: prints a completion script for the shell.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::error::CliError;

/// Arguments of `taskq completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Install, for example:\n  \
    taskq completions bash > ~/.local/share/bash-completion/completions/taskq\n  \
    taskq completions zsh > \"${fpath[1]}/_taskq\"\n  \
    taskq completions fish > ~/.config/fish/completions/taskq.fish")]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

/// Prints the script.
pub fn run(args: Args) -> Result<(), CliError> {
    let mut cmd = Cli::command();
    // Rendered into memory first: `generate` panics on a write error, and a closed pipe is
    // not one worth a panic.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "taskq", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}
