//! glibc's allocator settings for the long-running daemon.
//!
//! With glibc's defaults a process that frees large buffers (Parquet encoding, HTTP bodies)
//! raises its mmap threshold as it goes, after which those buffers come from the heap, and the
//! heap is trimmed only when 64 MiB lie free at its top: a daemon's resident memory creeps up
//! for hours though what it holds does not grow. Fixed thresholds (and at most two arenas)
//! keep it flat. These are environment variables glibc reads when the process starts, so
//! `daemon start` re-executes itself once with them set, unless any of them is set already
//! (deploy/ sets them; a value of the user's own always wins) or `CCXT_MALLOC_TUNING=off`.
//!
//! `stream-liquidations` keeps glibc's defaults: storing 60,000 liquidations a second, the
//! fixed thresholds cost it a fifth more CPU (every large buffer mapped and unmapped again)
//! for a tenth less peak memory.

/// The settings: at most two arenas, buffers of 128 KiB and more mapped on their own (and
/// returned to the system when freed), the heap trimmed when 256 KiB lie free at its top.
pub const SETTINGS: [(&str, &str); 3] = [
    ("MALLOC_ARENA_MAX", "2"),
    ("MALLOC_MMAP_THRESHOLD_", "131072"),
    ("MALLOC_TRIM_THRESHOLD_", "262144"),
];

/// Turns the re-execution off (`off`).
pub const SWITCH: &str = "CCXT_MALLOC_TUNING";

/// Re-executes this process with [`SETTINGS`] in its environment when none of them is set
/// and [`SWITCH`] is not `off`; returns when it does not (or when `exec` fails, which is
/// reported on stderr: the daemon then runs with glibc's defaults).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn reexec_with_settings() {
    use std::os::unix::process::CommandExt;

    let set_already = SETTINGS
        .iter()
        .any(|(name, _)| std::env::var_os(name).is_some());
    let switched_off = std::env::var(SWITCH).is_ok_and(|v| v.eq_ignore_ascii_case("off"));
    if set_already || switched_off {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    // Only returns on failure.
    let error = command.args(args).envs(SETTINGS).exec();
    eprintln!(
        "warning: could not re-execute with glibc malloc settings ({error}); going on without them"
    );
}

/// Not glibc: nothing to set.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn reexec_with_settings() {}

/// The settings in effect, for the log: `MALLOC_ARENA_MAX=2 …`, or `glibc's defaults`.
pub fn in_effect() -> String {
    let set: Vec<String> = SETTINGS
        .iter()
        .filter_map(|(name, _)| Some(format!("{name}={}", std::env::var(name).ok()?)))
        .collect();
    if set.is_empty() {
        "glibc's defaults".to_string()
    } else {
        set.join(" ")
    }
}
