#!/bin/sh
# The daemon under heaptrack, for the daemon bench: give this script as CCXT_BENCH_DAEMON_BIN.
#
#   CCXT_BENCH_DAEMON_BIN=crates/cli/benches/heaptrack_daemon.sh \
#     cargo bench -p ccxt-cli --bench daemon -- --symbols 150 --minutes 60
#   heaptrack_print -f target/heaptrack-daemon.zst -M target/heaptrack-daemon.massif --massif-detailed-freq 0
#   python3 crates/cli/benches/heap_series.py target/heaptrack-daemon.massif
#
# It execs the binary (HEAPTRACK_DAEMON_BIN, default target/release/ccxt-cli) in its own pid, so
# the bench samples and stops the daemon itself, with heaptrack's preload library writing to a
# pipe that heaptrack_interpret reads into HEAPTRACK_DAEMON_OUT.zst (default
# target/heaptrack-daemon). The daemon's malloc settings are set here, as `daemon start` would
# set them by re-executing itself (which would start heaptrack's recording over).
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
bin=${HEAPTRACK_DAEMON_BIN:-$root/target/release/ccxt-cli}
out=${HEAPTRACK_DAEMON_OUT:-$root/target/heaptrack-daemon}
libexec=${HEAPTRACK_LIBEXEC:-/usr/lib/heaptrack}
pipe=$out.fifo
rm -f "$pipe"
mkfifo "$pipe"
"$libexec/libexec/heaptrack_interpret" < "$pipe" | zstd -q -c > "$out.zst" &
export MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=262144
export LD_PRELOAD="$libexec/libheaptrack_preload.so" DUMP_HEAPTRACK_OUTPUT="$pipe"
exec "$bin" "$@"
