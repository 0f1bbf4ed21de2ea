//! `taskq token create --role ROLE`: makes an API token for taskq-web. The secret is printed
//! once, for the person who asked; the server is configured with the hash line, from which the
//! secret cannot be recovered.

use serde::Serialize;

use crate::cli::Ctx;
use crate::error::CliError;

/// Arguments of `taskq token`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Makes a token: prints its secret and the hash line for the server's configuration.
    #[command(
        after_help = "Roles: viewer (read), operator (also submit, revoke, requeue, \
        pause), admin (also purge).\n\nExample:\n  \
        taskq token create --role operator\n  \
        taskq token create --role admin --line-only >> /etc/taskq/tokens"
    )]
    Create {
        /// What the token may do.
        #[arg(long, value_parser = parse_role)]
        role: taskq_web::Role,

        /// Print only the hash line (for appending to a tokens file); the secret goes to
        /// standard error.
        #[arg(long)]
        line_only: bool,
    },
}

fn parse_role(s: &str) -> Result<taskq_web::Role, String> {
    s.parse::<taskq_web::Role>().map_err(|e| e.to_string())
}

#[derive(Debug, Serialize)]
struct Created<'a> {
    role: &'a str,
    secret: &'a str,
    line: &'a str,
}

/// Runs it.
pub fn run(args: Args, ctx: &Ctx) -> Result<(), CliError> {
    match args.action {
        Action::Create { role, line_only } => {
            let (secret, line) = taskq_web::token::create(role)?;
            if line_only {
                eprintln!("secret (shown once): {secret}");
                return ctx.out.line(&line);
            }
            if ctx.out.is_json() {
                return ctx.out.json(&Created {
                    role: role.as_str(),
                    secret: &secret,
                    line: &line,
                });
            }
            ctx.out.line(format_args!(
                "secret (shown once; send it as `Authorization: Bearer <secret>`):\n  {secret}\n\
                 line for TASKQ_WEB_TOKENS or the tokens file:\n  {line}"
            ))
        }
    }
}
