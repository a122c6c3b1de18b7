"""Memory and speed of reading a large interaction file (#10 item 11).

Writes a synthetic MovieLens-like CSV (``--rows`` rows, power-law users and items, ratings 1-5,
timestamps; ~50 MB at 4M rows) to a temporary folder, then measures in fresh processes:

- ``gentk read``: ``gentk.data.read_interactions`` (streamed into int32 codes);
- ``gentk prepare``: the recommender's whole preprocessing and split (``prepare``);
- ``baseline lists``: the plain-Python way (``csv.reader`` into lists of strings, then numpy
  object arrays), which is what gentk did before.

Each prints peak RSS above the interpreter's own (``VmHWM`` after minus before), its ratio
to the file size (target: under 10x) and rows/s.

    python benchmarks/read_interactions.py [--rows 4000000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

_PROBE = r"""
import sys, time

def high_water():
    # VmHWM: this process's peak RSS in kB (ru_maxrss would carry the parent's over exec)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))

path, what = sys.argv[1], sys.argv[2]
import numpy as np
from gentk.config import resolve_config
from gentk.data import read_interactions
from gentk_recommender.data import prepare
from gentk_recommender.recipe import RecommenderConfig  # imports TensorFlow: before the baseline
before = high_water()
start = time.perf_counter()
if what == "gentk read":
    n = len(read_interactions(path))
elif what == "gentk prepare":
    n = prepare(resolve_config(RecommenderConfig, None, []), path).stats["rows_read"]
else:
    import csv
    import numpy as np
    users, items, ratings = [], [], []
    with open(path, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            users.append(row[0]); items.append(row[1]); ratings.append(float(row[2]))
    users, items = np.asarray(users, dtype=object), np.asarray(items, dtype=object)
    ratings = np.asarray(ratings)
    n = len(users)
seconds = time.perf_counter() - start
peak = high_water() - before
print(n, seconds, peak * 1024)
"""


def write_file(path: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    users = rng.zipf(1.3, size=rows) % 150_000
    items = rng.zipf(1.2, size=rows) % 40_000
    ratings = rng.integers(1, 6, size=rows)
    times = 964_982_703 + rng.integers(0, 10**8, size=rows)
    with open(path, "w") as f:
        f.write("userId,movieId,rating,timestamp\n")
        for start in range(0, rows, 500_000):
            block = slice(start, start + 500_000)
            f.writelines(
                f"{u},{i},{r}.0,{t}\n"
                for u, i, r, t in zip(users[block], items[block], ratings[block], times[block])
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ratings.csv"
        write_file(path, args.rows)
        size = path.stat().st_size
        print(f"file: {args.rows:,} rows, {size / 2**20:.1f} MiB")
        print(f"{'reader':<16} {'peak RSS MiB':>12} {'x file size':>11} {'rows/s':>10} {'s':>6}")
        figures = {}
        for what in ("gentk read", "gentk prepare", "baseline lists"):
            out = subprocess.run(
                [sys.executable, "-c", _PROBE, str(path), what],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            n, seconds, peak = int(out[-3]), float(out[-2]), float(out[-1])
            figures[what] = peak
            print(
                f"{what:<16} {peak / 2**20:>12.0f} {peak / size:>11.1f} "
                f"{n / seconds:>10,.0f} {seconds:>6.1f}"
            )
        ratio = figures["baseline lists"] / figures["gentk read"]
        print(f"baseline peak / gentk read peak: {ratio:.1f}x")
        print(f"gentk prepare under 10x the file size: {figures['gentk prepare'] < 10 * size}")


if __name__ == "__main__":
    main()
