#!/usr/bin/env python3
"""The heap over time in a massif file from `heaptrack_print -M` (see heaptrack_daemon.sh).

Prints, every STEP minutes (default 5), the lowest, average and highest heap of that minute:
the lowest is what the process holds between its bursts, the figure that shows growth.

    python3 crates/cli/benches/heap_series.py FILE.massif [STEP]
"""

import collections
import sys


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    step = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    per_minute = collections.defaultdict(list)
    minute = 0
    with open(sys.argv[1], encoding="utf-8") as massif:
        for line in massif:
            if line.startswith("time="):
                minute = int(float(line[5:]) // 60)
            elif line.startswith("mem_heap_B="):
                per_minute[minute].append(int(line[11:]))
    mib = 1024 * 1024
    for m in sorted(per_minute):
        if m % step == 0:
            heap = per_minute[m]
            print(
                f"minute {m:3d}: heap low {min(heap) / mib:6.2f}  "
                f"average {sum(heap) / len(heap) / mib:6.2f}  high {max(heap) / mib:6.2f} MiB"
            )


if __name__ == "__main__":
    main()
