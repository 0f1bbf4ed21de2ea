//! `taskq web --addr ADDR`: serves taskq-web's REST API and dashboard on any backend, without
//! the tasks linked in: a task is accepted by name with any JSON object as its arguments (a
//! binary that links the tasks, with `taskq_web::serve`, validates each against its schema).

use std::net::SocketAddr;

use crate::cli::Ctx;
use crate::error::CliError;

/// Arguments of `taskq web`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Tokens are read from TASKQ_WEB_TOKENS (hash lines, separated by \
    newlines or `;`) or the file TASKQ_WEB_TOKENS_FILE; make one with `taskq token create`.\n\n\
    Example:\n  \
    export TASKQ_WEB_TOKENS=\"$(taskq token create --role admin --line-only)\"\n  \
    taskq web --addr 127.0.0.1:8080"
)]
pub struct Args {
    /// The address to listen on.
    #[arg(long, env = taskq_web::ADDR_ENV, default_value = taskq_web::DEFAULT_ADDR)]
    addr: SocketAddr,

    /// Let requests without a token read (`viewer`); by default every route but `/healthz`
    /// needs a token.
    #[arg(long)]
    anonymous_read: bool,
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn run(args: Args, ctx: &Ctx) -> Result<(), CliError> {
    let client = ctx.client().await?;
    let mut config = taskq_web::WebConfig::from_env()?.any_task(true);
    if args.anonymous_read {
        config = config.anonymous(Some(taskq_web::Role::Viewer));
    }
    let router = config.router_on(client)?;
    eprintln!(
        "serving the taskq API and dashboard on http://{}",
        args.addr
    );
    taskq_web::serve_router(router, args.addr).await?;
    Ok(())
}
