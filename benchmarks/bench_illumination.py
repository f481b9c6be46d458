"""Speed and lighting invariance of skfer's illumination normalisation.

* Speed: milliseconds per frame of :class:`~skfer.preprocessing.MinMaxImageScaler` (CS229
  3.2) and :class:`~skfer.preprocessing.IsotropicSmoothing` (INface IS, EmoNets 3.1.1) on
  random grey frames of 48, 96 and 128 pixels (best of ``--repeat``).
* Invariance: on the apex frames of ``ckplus48``, the mean Pearson correlation between a face
  and the same face under a left-to-right lighting ramp (x0.5 to x1.5), before and after
  each normalisation. 1.0 means the lighting change is gone.

Usage::

    python benchmarks/bench_illumination.py [--data ../shared/data] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _shared_data import SHARED_DATA

from skfer.datasets import load_ckplus48
from skfer.preprocessing import IsotropicSmoothing, MinMaxImageScaler


def ms_per_frame(est, clip: np.ndarray, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        est.transform([clip])
        best = min(best, time.perf_counter() - t0)
    return 1000 * best / len(clip)


def mean_correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([np.corrcoef(u.ravel(), v.ravel())[0, 1] for u, v in zip(a, b)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    estimators = {"MinMaxImageScaler": MinMaxImageScaler(),
                  "IsotropicSmoothing": IsotropicSmoothing()}
    rng = np.random.default_rng(0)
    print("| normalisation | 48x48 (ms/frame) | 96x96 (ms/frame) | 128x128 (ms/frame) |")
    print("|---|---|---|---|")
    for name, est in estimators.items():
        times = []
        for side in (48, 96, 128):
            clip = rng.integers(0, 256, (100, side, side), dtype=np.uint8)
            times.append(ms_per_frame(est.fit([clip]), clip, args.repeat))
        print(f"| {name} | " + " | ".join(f"{t:.3f}" for t in times) + " |")

    bunch = load_ckplus48(args.data / "ckplus48")
    faces = np.stack([clip[-1] for clip in bunch.data]).astype(np.float64)
    lit = faces * (0.5 + np.linspace(0, 1, faces.shape[2]))[None, None, :]
    print(f"\nCorrelation of {len(faces)} CK+ apex faces with their relit copies "
          "(lighting ramp x0.5 to x1.5, left to right)\n")
    print("| normalisation | mean correlation |")
    print("|---|---|")
    print(f"| none | {mean_correlation(faces, lit):.3f} |")
    for name, est in estimators.items():
        out = est.fit_transform(faces[:, None])[:, 0]
        out_lit = est.transform(lit[:, None])[:, 0]
        print(f"| {name} | {mean_correlation(out, out_lit):.3f} |")


if __name__ == "__main__":
    main()
