//! `ccxt-cli`: the command-line entry point.
//!
//! `main` maps the outcome of [`run`] to an exit code: 0 success (also when stdout is closed
//! early, as by `| head`), 1 a failure at run time (corrupt file, storage error), 2 a usage
//! error (bad flag, symbol, time or config; missing catalog).

mod aggregate;
mod cli;
mod commands;
mod help;
mod inputs;
mod malloc;
mod meta;
mod output;
mod registry;
mod rows;
mod settings;
mod terminal;

use std::process::ExitCode;

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

/// Problems with the configuration (file, environment, flags): exit code 2, every one listed.
#[derive(Debug)]
pub struct ConfigProblems(pub Vec<String>);

impl std::fmt::Display for ConfigProblems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "invalid configuration ({n} problem{}):",
            if n == 1 { "" } else { "s" }
        )?;
        for problem in &self.0 {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigProblems {}

fn main() -> ExitCode {
    ccxt_transport::install_crypto_provider();
    // Venue names, symbols and instrument ids are read against the registry's venues.
    if let Err(e) = ccxt_registry::install() {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    let cli = help::parse();
    if cli.command.is_daemon_start() {
        malloc::reexec_with_settings();
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if cli.command.is_fetch() {
        // The fetch commands' own thread drives the sink (parse, encode, write) while one worker
        // runs the venue tasks: both cores busy, and no more threads (each with its stack and
        // allocator arena) than that needs. Still the multi-thread runtime, so a catalog
        // dropped on an error path releases its lease before the process exits.
        builder.worker_threads(1);
        // Blocking work (catalog files, DNS look-ups) runs one call at a time: the sink writes
        // one batch at a time anyway, and without a cap the fetches' first catalog look-ups
        // started a thread each, each keeping its stack and allocator arena to the end.
        builder.max_blocking_threads(1);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) if err.is::<ConfigProblems>() => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
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
    // Every configuration problem at once, before anything else happens.
    let loaded = settings::load(cli.global.config.as_deref());
    let overrides = match &command {
        Command::Daemon(cli::DaemonCommand::Start(a) | cli::DaemonCommand::Validate(a)) => {
            ccxt_daemon::ScheduleOverrides {
                oi_interval_minutes: a.oi_interval,
                funding_interval_minutes: a.funding_interval,
                shard: a.shard.clone(),
            }
        }
        _ => ccxt_daemon::ScheduleOverrides::default(),
    };
    let mut problems = loaded.problems.clone();
    problems.extend(settings::check(&loaded.settings, &overrides));
    let default_level = match &command {
        Command::Daemon(cli::DaemonCommand::Start(_)) => "info",
        _ => "warn",
    };
    match settings::log_setup(&cli.global, &loaded, default_level) {
        Ok(setup) => setup.init().map_err(UsageError)?,
        Err(e) => problems.extend(e),
    }
    let catalog = settings::catalog_location(command.catalog_flag(), &loaded.settings);
    let local_dirs = match settings::LocalDirs::resolve(
        &catalog,
        cli.global.spool_dir.as_deref(),
        loaded.settings.spool.dir.as_deref(),
    ) {
        Ok(dirs) => Some(dirs),
        Err(e) => {
            if command.stores() {
                problems.push(e);
            }
            None
        }
    };
    let problems = settings::distinct_redacted(problems);
    match &loaded.file {
        Some(f) => tracing::debug!(path = %f.path.display(), found_by = f.found_by, "config file"),
        None => tracing::debug!(
            "no config file (searched {:?}): defaults and environment",
            settings::search_path()
        ),
    }
    // Checked above for every command that stores; the others never use it.
    let local_dirs = local_dirs.unwrap_or_else(|| settings::LocalDirs {
        spool: std::path::PathBuf::from(".spool"),
        state: std::path::PathBuf::from("."),
    });
    match command {
        Command::Config(cli::ConfigCommand::Show(args)) => {
            commands::config::show(&loaded, &cli.global, &args, problems)
        }
        // The daemon lists these with its own problems (flags, symbols).
        Command::Daemon(cmd) => {
            commands::daemon::run(&catalog, &local_dirs, &loaded, cmd, problems).await
        }
        _ if !problems.is_empty() => Err(ConfigProblems(problems).into()),
        Command::Query(args) => {
            commands::query::run(&catalog, &loaded.settings.storage_options(), args).await
        }
        Command::Export(args) => {
            commands::export::run(&catalog, &loaded.settings.storage_options(), args).await
        }
        Command::FetchOi(args) => {
            let what = commands::fetch::What::OpenInterest(
                args.period.unwrap_or(ccxt_venue::OiPeriod::H1),
            );
            commands::fetch::run(&catalog, &loaded.settings, what, args.common).await
        }
        Command::FetchBars(args) => {
            let what = commands::fetch::bars_of(&args.interval, &args.price)?;
            commands::fetch::run(&catalog, &loaded.settings, what, args.common).await
        }
        Command::StreamLiquidations(args) => {
            commands::stream::run(&catalog, &local_dirs, &loaded.settings, args).await
        }
        Command::FetchFunding(args) => {
            let what = commands::fetch::What::Funding;
            commands::fetch::run(&catalog, &loaded.settings, what, args).await
        }
        Command::Catalog(cmd) => commands::catalog::run(&catalog, &loaded.settings, cmd).await,
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
