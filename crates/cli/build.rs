//! Names the commit the binary is built from, for `ccxt-cli --version`.
//!
//! Sets `CLI_BUILD_COMMIT` for the compiler: `$CCXT_BUILD_COMMIT` when given (a Docker build,
//! whose context has no `.git`, passes it as a build argument), else `git rev-parse --short=12
//! HEAD` with `-dirty` when tracked files differ from it, else `unknown`. `CLI_BUILD_COMMIT_SOURCE`
//! says which (`env`, `git` or `unknown`). The names set for the compiler do not start with
//! `CCXT_`: cargo also exports them to the tests it runs, where `CCXT_*` is configuration and an
//! unknown key is refused.
//!
//! Reruns when the commit can change: `HEAD`, the branch it points to, `packed-refs` and the
//! index (found with `git rev-parse --git-path`, so a worktree, whose `.git` is a file, works
//! too), and the workspace sources (for the `-dirty` marker).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CCXT_BUILD_COMMIT");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let given = std::env::var("CCXT_BUILD_COMMIT")
        .ok()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty() && c.len() <= 64 && c.chars().all(|ch| ch.is_ascii_graphic()));
    let (commit, source) = match given {
        Some(commit) => (commit, "env"),
        None => match git_commit(&manifest_dir) {
            Some(commit) => (commit, "git"),
            None => {
                // No checkout here (yet): run again once there is one. Cargo treats a workspace
                // copied elsewhere as the same build, so without this a copy without `.git`
                // (Docker context, CI's stand-alone copy) would leave "unknown" in place.
                println!(
                    "cargo:rerun-if-changed={}",
                    manifest_dir.join("../../.git").display()
                );
                ("unknown".to_string(), "unknown")
            }
        },
    };
    println!("cargo:rustc-env=CLI_BUILD_COMMIT={commit}");
    println!("cargo:rustc-env=CLI_BUILD_COMMIT_SOURCE={source}");
}

/// The short commit hash of `HEAD`, `-dirty` if tracked files changed; `None` outside a checkout
/// or without git.
fn git_commit(dir: &Path) -> Option<String> {
    let hash = git(dir, &["rev-parse", "--short=12", "HEAD"])?;
    let mut watched = vec!["HEAD".to_string(), "index".into(), "packed-refs".into()];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch); // e.g. refs/heads/main: moves on every commit
    }
    for name in &watched {
        if let Some(path) = git(dir, &["rev-parse", "--git-path", name]) {
            watch(&dir.join(path));
        }
    }
    if let Some(root) = git(dir, &["rev-parse", "--show-toplevel"]) {
        let root = PathBuf::from(root);
        for part in ["crates", "tests", "Cargo.toml", "Cargo.lock"] {
            watch(&root.join(part));
        }
    }
    // Exit status 1: tracked files differ from HEAD.
    let dirty = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["diff", "--quiet", "HEAD", "--"])
        .status()
        .is_ok_and(|s| s.code() == Some(1));
    Some(if dirty { format!("{hash}-dirty") } else { hash })
}

/// Reruns the build script when `path` changes (only existing paths: cargo reruns on every
/// build for a missing one).
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}
