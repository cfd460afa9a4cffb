//! The daemon's heartbeat file, `<catalog>/.daemon/state.json`: when it was last alive and
//! whether it stopped cleanly. The next start reads it to know the downtime it must refill
//! (from history) or record as gaps (what no venue serves afterwards).
//!
//! Written atomically (temp file, fsync, rename) every few seconds, so after a kill -9 it is
//! at most one heartbeat old: the recorded downtime then starts a little early, never late.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonState {
    /// The last heartbeat, UNIX ns.
    pub last_alive_ns: u64,
    /// Whether the daemon stopped on a signal, after flushing everything.
    pub clean_stop: bool,
}

/// Reads and writes the state file.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// The state file of the catalog rooted at `catalog_root` (a local directory).
    pub fn in_catalog(catalog_root: &Path) -> StateFile {
        StateFile {
            path: catalog_root.join(".daemon").join("state.json"),
        }
    }

    /// The state file under a local directory: `<dir>/.daemon/state.json`.
    pub fn in_dir(dir: &Path) -> StateFile {
        StateFile::in_catalog(dir)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state an earlier run left, if any. An unreadable file is reported and ignored.
    pub fn read(&self) -> Option<DaemonState> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        match serde_json::from_str(&text) {
            Ok(state) => Some(state),
            Err(e) => {
                tracing::warn!(file = %self.path.display(), error = %e, "ignoring an unreadable daemon state file");
                None
            }
        }
    }

    /// Writes `state` atomically (temp file, fsync, rename, fsync of the directory).
    pub fn write(&self, state: DaemonState) -> std::io::Result<()> {
        ccxt_stream::heartbeat::write_json_atomically(&self.path, &state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_garbage_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::in_catalog(dir.path());
        assert_eq!(file.read(), None);
        let state = DaemonState {
            last_alive_ns: 42,
            clean_stop: true,
        };
        file.write(state).unwrap();
        assert_eq!(file.read(), Some(state));
        std::fs::write(file.path(), "{not json").unwrap();
        assert_eq!(file.read(), None);
    }
}
