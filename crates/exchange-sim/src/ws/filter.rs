//! The outgoing-frame filter of an upgraded connection. The WebSocket library answers every
//! ping by itself, so `no_pong` and `half_open` cannot be done above it: instead the
//! connection's socket ([`crate::server`]'s `SimIo`) follows the frames it writes and swallows
//! whole pong frames (`no_pong`) or every frame (`half_open`), reporting them written.
//!
//! Server frames are not masked, but the parser accepts masks anyway. The decision to drop is
//! taken at each frame's first byte, so switching a fault never cuts a frame in two.

use std::sync::atomic::AtomicBool;

/// Switches of one connection, shared by its socket and its WebSocket task.
#[derive(Debug, Default)]
pub(crate) struct WsIoFlags {
    /// The connection carries WebSocket frames (set once upgraded).
    pub framing: AtomicBool,
    /// Drop pong frames.
    pub drop_pongs: AtomicBool,
    /// Drop every frame.
    pub silent: AtomicBool,
}

/// What to drop, read once per write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Fate {
    /// Drop pong frames.
    pub drop_pongs: bool,
    /// Drop every frame.
    pub silent: bool,
}

impl Fate {
    fn drops(self, opcode: u8) -> bool {
        self.silent || (self.drop_pongs && opcode == 0xA)
    }
}

/// Where in the frame sequence the written bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cursor {
    /// In a header: `seen` of `need` bytes so far.
    Header {
        /// Header bytes seen.
        seen: u8,
        /// Header length (known from the second byte on).
        need: u8,
        /// Extended payload length bytes.
        ext: u8,
        /// Payload length read so far.
        len: u64,
        /// The frame is dropped.
        drop: bool,
    },
    /// In a payload: `left` bytes to go.
    Payload {
        /// Bytes left.
        left: u64,
        /// The frame is dropped.
        drop: bool,
    },
}

impl Default for Cursor {
    fn default() -> Self {
        Cursor::Header {
            seen: 0,
            need: 2,
            ext: 0,
            len: 0,
            drop: false,
        }
    }
}

/// The leading run of `buf` whose bytes share one fate: (its length, dropped, the cursor
/// after it). The length is at least 1 for a non-empty `buf`.
pub(crate) fn run(mut c: Cursor, buf: &[u8], fate: Fate) -> (usize, bool, Cursor) {
    let mut i = 0;
    let mut run_drop: Option<bool> = None;
    while i < buf.len() {
        match c {
            Cursor::Header { seen: 0, .. } => {
                let drop = fate.drops(buf[i] & 0x0F);
                if run_drop.is_some_and(|d| d != drop) {
                    break;
                }
                run_drop = Some(drop);
                c = Cursor::Header {
                    seen: 1,
                    need: 2,
                    ext: 0,
                    len: 0,
                    drop,
                };
                i += 1;
            }
            Cursor::Header {
                seen,
                need,
                ext,
                len,
                drop,
            } => {
                run_drop.get_or_insert(drop);
                let b = buf[i];
                i += 1;
                let (mut need, mut ext, mut len) = (need, ext, len);
                if seen == 1 {
                    let l7 = b & 0x7F;
                    ext = match l7 {
                        126 => 2,
                        127 => 8,
                        _ => 0,
                    };
                    len = if ext == 0 { u64::from(l7) } else { 0 };
                    need = 2 + ext + if b & 0x80 != 0 { 4 } else { 0 };
                } else if seen < 2 + ext {
                    len = (len << 8) | u64::from(b);
                }
                let seen = seen + 1;
                c = if seen < need {
                    Cursor::Header {
                        seen,
                        need,
                        ext,
                        len,
                        drop,
                    }
                } else if len == 0 {
                    Cursor::default()
                } else {
                    Cursor::Payload { left: len, drop }
                };
            }
            Cursor::Payload { left, drop } => {
                run_drop.get_or_insert(drop);
                let take = left.min((buf.len() - i) as u64);
                i += take as usize;
                c = if take == left {
                    Cursor::default()
                } else {
                    Cursor::Payload {
                        left: left - take,
                        drop,
                    }
                };
            }
        }
    }
    (i, run_drop.unwrap_or(false), c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => f.push(n as u8),
            n if n < 65536 => {
                f.push(126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(payload);
        f
    }

    /// Feeds `bytes` in chunks of `chunk` and returns what is kept.
    fn filter(bytes: &[u8], chunk: usize, fate: Fate) -> Vec<u8> {
        let mut c = Cursor::default();
        let mut kept = Vec::new();
        for piece in bytes.chunks(chunk) {
            let mut rest = piece;
            while !rest.is_empty() {
                let (n, drop, after) = run(c, rest, fate);
                assert!(n > 0);
                if !drop {
                    kept.extend_from_slice(&rest[..n]);
                }
                c = after;
                rest = &rest[n..];
            }
        }
        assert_eq!(c, Cursor::default(), "ends on a frame boundary");
        kept
    }

    #[test]
    fn pongs_are_dropped_whole_and_the_rest_is_kept() {
        let text = frame(0x1, b"{\"a\":1}");
        let pong = frame(0xA, b"hi");
        let big = frame(0x1, &vec![b'x'; 70_000]);
        let mid = frame(0x2, &vec![7u8; 300]);
        let all: Vec<u8> = [
            text.clone(),
            pong.clone(),
            big.clone(),
            pong.clone(),
            mid.clone(),
        ]
        .concat();
        let no_pong = Fate {
            drop_pongs: true,
            silent: false,
        };
        let expect: Vec<u8> = [text.clone(), big.clone(), mid.clone()].concat();
        for chunk in [1, 2, 3, 7, 100, 4096, all.len()] {
            assert_eq!(filter(&all, chunk, no_pong), expect, "chunk {chunk}");
            assert_eq!(filter(&all, chunk, Fate::default()), all);
            assert!(
                filter(
                    &all,
                    chunk,
                    Fate {
                        drop_pongs: false,
                        silent: true
                    }
                )
                .is_empty()
            );
        }
    }
}
