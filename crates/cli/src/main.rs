//! `ccxt-cli`: the command-line entry point.
//!
//! `main` maps the outcome of [`run`] to an exit code: 0 success (also when stdout is closed
//! early, as by `| head`), 1 a failure at run time (corrupt file, storage error), 2 a usage
//! error (bad flag, symbol, time or config; missing catalog).

mod cli;
mod commands;
mod inputs;
mod meta;
mod output;
mod registry;
mod rows;
mod settings;
mod terminal;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// An error in what the user asked for: exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    ccxt_transport::install_crypto_provider();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            ExitCode::from(exit_code(&err))
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Self-description needs no configuration, logging or catalog.
    let command = match cli.command {
        Command::Completions(args) => return meta::completions(args.shell),
        Command::Man(args) => return meta::man(&args.command, args.out.as_deref()),
        command => command,
    };
    let file = settings::load(cli.global.config.as_deref())?;
    let default_level = match &command {
        Command::Daemon(cli::DaemonCommand::Start(_)) => "info",
        _ => "warn",
    };
    settings::init_logging(&cli.global, &file, default_level)?;
    let catalog = settings::catalog_location(&cli.global, &file);
    match command {
        Command::Query(args) => commands::query::run(&catalog, args).await,
        Command::FetchOi(args) => {
            let what = commands::fetch::What::OpenInterest(args.period);
            commands::fetch::run(&catalog, &file, what, args.common).await
        }
        Command::StreamLiquidations(args) => commands::stream::run(&catalog, &file, args).await,
        Command::FetchFunding(args) => {
            commands::fetch::run(&catalog, &file, commands::fetch::What::Funding, args).await
        }
        Command::Catalog(cmd) => commands::catalog::run(&catalog, cmd).await,
        Command::Daemon(cmd) => {
            commands::daemon::run(&catalog, &file, cli.global.config.as_deref(), cmd).await
        }
        Command::Completions(_) | Command::Man(_) => Ok(ExitCode::SUCCESS), // answered above
    }
}

/// The error and its causes on one line.
fn one_line(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text.replace('\n', " ")
}

fn exit_code(err: &anyhow::Error) -> u8 {
    use ccxt_catalog::CatalogError;
    for cause in err.chain() {
        if cause.is::<UsageError>() {
            return 2;
        }
        if let Some(CatalogError::NotFound(_) | CatalogError::InvalidLocation { .. }) =
            cause.downcast_ref::<CatalogError>()
        {
            return 2;
        }
    }
    1
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
