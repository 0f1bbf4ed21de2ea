//! Confirmation before destructive commands (`purge`, `dead purge`): `--yes` skips it; at a
//! terminal the user is asked; without a terminal and without `--yes` the command refuses, so a
//! script never deletes by accident.

use std::io::{BufRead, IsTerminal, Write};

use crate::error::CliError;

/// Asks "`question` [y/N]" unless `yes`; `what` names the action in the refusal.
pub fn confirm(yes: bool, question: &str, what: &str) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::NotConfirmed {
            what: what.to_owned(),
        });
    }
    let mut err = std::io::stderr().lock();
    write!(err, "{question} [y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(CliError::Declined(what.to_owned()))
    }
}
