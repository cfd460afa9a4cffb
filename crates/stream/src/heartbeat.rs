//! Picking up after downtime: the heartbeat file a storing stream keeps, and what the next
//! start makes of it.
//!
//! A collector that stores liquidations rewrites its heartbeat file every second or so
//! ([`HeartbeatFile::write`], atomic: temp file, fsync, rename) with, per venue it streams,
//! the moment it was last alive and whether it stopped cleanly. The next start reads it
//! ([`Heartbeat::resume`]): every venue streamed then and now resumes from its last
//! heartbeat ([`crate::Resume`]), so the downtime is recorded as a gap like a disconnect, and
//! Hyperliquid's poll re-reads what it still can. After a `kill -9` the file is at most one
//! heartbeat old: the gap then starts a little early, never late.
//!
//! Venues are kept separately, so a run on other venues does not move a venue's moment:
//! `--all` stopped at 10:00, `-e bybit` from 10:05 to 10:10, `--all` at 10:20 records Bybit
//! from 10:10 and Binance and Hyperliquid from 10:00.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ccxt_model::Venue;
use serde::{Deserialize, Serialize};

use crate::Resume;

/// One venue's last sign of life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueBeat {
    /// The last heartbeat, UNIX ns.
    pub last_alive_ns: u64,
    /// Whether the stream stopped cleanly (everything received stored).
    pub clean_stop: bool,
}

/// The file's content: per venue (`binance`, `bybit`, `hyperliquid`), its last heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Per venue name.
    pub venues: BTreeMap<String, VenueBeat>,
}

impl Heartbeat {
    /// Marks `venues` alive at `now_ns` (`clean_stop`: and stopped cleanly), keeping the other
    /// venues' entries.
    pub fn beat(&mut self, venues: &[Venue], now_ns: u64, clean_stop: bool) {
        for venue in venues {
            self.venues.insert(
                venue.as_str().to_string(),
                VenueBeat {
                    last_alive_ns: now_ns,
                    clean_stop,
                },
            );
        }
    }

    /// Where each of `venues` resumes at `now_ns`: those with a heartbeat before now, from it;
    /// the gap reason names `collector` (`stream-liquidations not running (stopped)`).
    pub fn resume(
        &self,
        venues: &[Venue],
        collector: &str,
        now_ns: u64,
    ) -> BTreeMap<Venue, Resume> {
        venues
            .iter()
            .filter_map(|venue| {
                let beat = self.venues.get(venue.as_str())?;
                (beat.last_alive_ns < now_ns).then(|| {
                    let how = if beat.clean_stop {
                        "stopped"
                    } else {
                        "killed or crashed"
                    };
                    (
                        *venue,
                        Resume {
                            since_ns: beat.last_alive_ns,
                            reason: format!("{collector} not running ({how})"),
                            known: Vec::new(),
                        },
                    )
                })
            })
            .collect()
    }
}

/// Reads and writes the heartbeat file.
#[derive(Debug, Clone)]
pub struct HeartbeatFile {
    path: PathBuf,
}

impl HeartbeatFile {
    /// The file at `path`.
    pub fn new(path: PathBuf) -> HeartbeatFile {
        HeartbeatFile { path }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What an earlier run left, if anything. An unreadable file is reported and ignored.
    pub fn read(&self) -> Option<Heartbeat> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        match serde_json::from_str(&text) {
            Ok(beat) => Some(beat),
            Err(e) => {
                tracing::warn!(file = %self.path.display(), error = %e, "ignoring an unreadable heartbeat file");
                None
            }
        }
    }

    /// Writes `beat` atomically (see [`write_json_atomically`]).
    pub fn write(&self, beat: &Heartbeat) -> std::io::Result<()> {
        write_json_atomically(&self.path, beat)
    }
}

/// Writes `value` as JSON to `path` so that a crash leaves the old file or the new one, never
/// a torn one: a temporary file beside it, fsync, rename, fsync of the directory. Heartbeat and
/// state files of the long-running commands are written this way.
pub fn write_json_atomically<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temp = path.with_extension("json.tmp");
    {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(serde_json::to_string(value)?.as_bytes())?;
        file.sync_data()?;
    }
    std::fs::rename(&temp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venues_resume_from_their_own_last_heartbeat() {
        let mut beat = Heartbeat::default();
        beat.beat(ccxt_registry::all(), 100, true);
        beat.beat(&[ccxt_registry::venue("bybit")], 200, false);
        let resume = beat.resume(ccxt_registry::all(), "stream-liquidations", 300);
        assert_eq!(resume.len(), ccxt_registry::all().len());
        assert_eq!(resume[&ccxt_registry::venue("binance")].since_ns, 100);
        assert_eq!(
            resume[&ccxt_registry::venue("binance")].reason,
            "stream-liquidations not running (stopped)"
        );
        assert_eq!(resume[&ccxt_registry::venue("bybit")].since_ns, 200);
        assert_eq!(
            resume[&ccxt_registry::venue("bybit")].reason,
            "stream-liquidations not running (killed or crashed)"
        );
        // Only the venues streamed now, and only a heartbeat before now.
        let resume = beat.resume(
            &[
                ccxt_registry::venue("bybit"),
                ccxt_registry::venue("hyperliquid"),
            ],
            "x",
            150,
        );
        assert_eq!(
            resume.keys().copied().collect::<Vec<_>>(),
            [ccxt_registry::venue("hyperliquid")]
        );
        assert!(
            Heartbeat::default()
                .resume(ccxt_registry::all(), "x", 1)
                .is_empty()
        );
    }

    #[test]
    fn the_file_round_trips_and_garbage_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let file = HeartbeatFile::new(dir.path().join("sub").join("state.json"));
        assert_eq!(file.read(), None);
        let mut beat = Heartbeat::default();
        beat.beat(&[ccxt_registry::venue("binance")], 42, true);
        file.write(&beat).unwrap();
        assert_eq!(file.read(), Some(beat));
        std::fs::write(file.path(), "{not json").unwrap();
        assert_eq!(file.read(), None);
    }
}
