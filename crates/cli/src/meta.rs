//! The program describing itself: its version (with the commit it was built from), shell
//! completion scripts (`clap_complete`) and man pages (`clap_mangen`).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::UsageError;
use crate::help;
use anyhow::Context;

/// `ccxt-cli --version`: the package version and the commit it was built from, e.g.
/// `0.1.0 (commit 7884d68a1b2c)`; `-dirty` when built with uncommitted changes, `unknown`
/// when built outside a git checkout without `CCXT_BUILD_COMMIT` (see `build.rs`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("CLI_BUILD_COMMIT"),
    ")"
);

/// `ccxt-cli completions SHELL`: prints the completion script of `shell` to stdout.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut command = help::command();
    clap_complete::generate(shell, &mut command, "ccxt-cli", &mut out);
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `ccxt-cli man [COMMAND]... [--out DIR]`: prints the man page (roff) of the program or of
/// one of its commands to stdout, or writes a page for every command into `out`.
pub fn man(path: &[String], out: Option<&Path>) -> anyhow::Result<ExitCode> {
    let mut command = help::command().disable_help_subcommand(true);
    command.build();
    let page = find(&command, path)?;
    match out {
        None => {
            let mut stdout = BufWriter::new(std::io::stdout().lock());
            clap_mangen::Man::new(page.clone()).render(&mut stdout)?;
            stdout.flush()?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create '{}'", dir.display()))?;
            let mut written = Vec::new();
            write_pages(page, dir, &mut written)
                .with_context(|| format!("cannot write man pages into '{}'", dir.display()))?;
            eprintln!("wrote {} man pages into {}", written.len(), dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The (sub)command at `path` (`["daemon", "start"]`), or a usage error naming the choices.
fn find<'a>(root: &'a clap::Command, path: &[String]) -> Result<&'a clap::Command, UsageError> {
    let mut command = root;
    for (depth, name) in path.iter().enumerate() {
        command = command.find_subcommand(name).ok_or_else(|| {
            let choices: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
            let under = std::iter::once(root.get_name())
                .chain(path[..depth].iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" ");
            if choices.is_empty() {
                UsageError(format!("'{under}' has no subcommand '{name}'"))
            } else {
                UsageError(format!(
                    "'{under}' has no subcommand '{name}': use one of {}",
                    choices.join(", ")
                ))
            }
        })?;
    }
    Ok(command)
}

/// One page per command, `ccxt-cli.1`, `ccxt-cli-query.1`, `ccxt-cli-daemon-start.1`, …
fn write_pages(
    command: &clap::Command,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    for sub in command.get_subcommands().filter(|c| !c.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    written.push(clap_mangen::Man::new(command.clone()).generate_to(dir)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_the_commit() {
        assert!(VERSION.starts_with(env!("CARGO_PKG_VERSION")));
        assert!(VERSION.contains(env!("CLI_BUILD_COMMIT")), "{VERSION}");
    }

    #[test]
    fn subcommand_pages_are_found_and_unknown_ones_named() {
        let mut root = help::command().disable_help_subcommand(true);
        root.build();
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            find(&root, &path(&["daemon", "start"])).unwrap().get_name(),
            "start"
        );
        let err = find(&root, &path(&["daemon", "stop"])).unwrap_err().0;
        assert_eq!(
            err,
            "'ccxt-cli daemon' has no subcommand 'stop': use one of start, validate, health"
        );
    }
}
