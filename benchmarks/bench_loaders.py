"""Load times of skfer's data-set readers on the real data in ``../shared/data``.

Best of ``--repeat`` runs (the first run also pays for the disk cache) of
:func:`skfer.datasets.load_ckplus48` (981 PNG frames, 327 clips) and
:func:`skfer.datasets.load_fer2013` on the class-folder layout (``train``: 28,709 JPG
images) and, when a ``fer2013.csv`` is present there, on the original CSV. Prints a markdown
table.

Usage::

    python benchmarks/bench_loaders.py [--data ../shared/data] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _shared_data import SHARED_DATA

from skfer.datasets import load_ckplus48, load_fer2013


def best_time(load, repeat: int):
    """Fastest of ``repeat`` calls of ``load()`` and the last result."""
    best, bunch = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        bunch = load()
        best = min(best, time.perf_counter() - t0)
    return best, bunch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cases = [
        ("load_ckplus48", "ckplus48", lambda: load_ckplus48(args.data / "ckplus48")),
        ("load_fer2013 (class folders, train)", "fer2013/train",
         lambda: load_fer2013(args.data / "fer2013" / "train")),
    ]
    csv = args.data / "fer2013" / "fer2013.csv"
    if csv.is_file():
        cases.append(("load_fer2013 (CSV, Training)", "fer2013/fer2013.csv",
                      lambda: load_fer2013(csv, subset="Training")))
    print(f"| loader | data | clips | frames | best of {args.repeat} (s) | clips/s |")
    print("|---|---|---|---|---|---|")
    for name, where, load in cases:
        seconds, bunch = best_time(load, args.repeat)
        n_frames = sum(len(c) for c in bunch.data)
        print(f"| {name} | {where} | {len(bunch.data)} | {n_frames} | {seconds:.2f} | "
              f"{len(bunch.data) / seconds:.0f} |")


if __name__ == "__main__":
    main()
