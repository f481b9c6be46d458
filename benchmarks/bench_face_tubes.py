"""Speed and agreement of FaceTubeExtractor (EmoNets section 3.1.3) on real videos.

For every video of ``face_videos`` and ``cremad_sample`` in the shared data folder (native
size), times the whole pipeline, decode + detect + track + smooth + crop, two ways:

* **streamed** (the headline columns): ``FaceTubeExtractor.transform_files([path])``, which
  decodes grey frames on a background thread while the detector runs; timed from the file
  path to the finished tube, so decoding is included. Run with the default settings
  (detection every ``detect_every`` frames on a 320-px-wide frame, template tracking in
  between) and with detection on every frame (``detect_every=1``).
* **in memory**: decode an RGB clip (``cv2.VideoCapture.read`` + ``cvtColor``, stacked),
  then ``transform([clip])`` with the default settings; also reported as extraction alone.

Prints a markdown table of frames/s (best of ``--repeat`` runs of each variant, run
interleaved so that load from other processes hits them alike), of grey decoding alone
(``skfer.io.iter_frames``), whether the streamed tube equals the in-memory one, and the
agreement of the default and every-frame tubes: mean IoU of the boxes before smoothing and
of the smoothed boxes, over frames both locate, and the number of missing frames.

Usage::

    python benchmarks/bench_face_tubes.py [--data PATH] [--repeat N]
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from _shared_data import SHARED_DATA

from skfer.io import iter_frames, read_video
from skfer.preprocessing.box_smoothing import box_iou
from skfer.preprocessing.face_tubes import FaceTube, FaceTubeExtractor


def decode(path: Path) -> np.ndarray:
    """All frames of a video as an RGB ``(T, H, W, 3)`` uint8 clip (in memory)."""
    return read_video(path).frames


def mean_iou(a: np.ndarray, b: np.ndarray) -> float:
    both = ~(np.isnan(a).any(axis=1) | np.isnan(b).any(axis=1))
    return float(box_iou(a[both], b[both]).mean()) if both.any() else float("nan")


def same_tube(a: tuple[np.ndarray, FaceTube], b: tuple[np.ndarray, FaceTube]) -> bool:
    """Whether two (tube, record) pairs hold identical crops, boxes and statuses."""
    return (
        np.array_equal(a[0], b[0])
        and np.array_equal(a[1].boxes, b[1].boxes, equal_nan=True)
        and np.array_equal(a[1].smoothed_boxes, b[1].smoothed_boxes)
        and np.array_equal(a[1].status, b[1].status)
    )


def bench_video(
    path: Path, strided: FaceTubeExtractor, every: FaceTubeExtractor, repeat: int
) -> dict[str, object]:
    """Best-of-``repeat`` wall times of each variant on one video, and the tubes made."""
    results: dict[str, object] = {}

    def streamed(ext: FaceTubeExtractor, key: str) -> Callable[[], None]:
        def go() -> None:
            (tube,), (record,) = ext.transform_files_with_info([path])
            results[key] = (tube, record)

        return go

    def in_memory() -> None:
        t0 = time.perf_counter()
        clip = decode(path)
        t1 = time.perf_counter()
        (tube,), (record,) = strided.transform_with_info([clip])
        t2 = time.perf_counter()
        results["memory"] = (tube, record)
        best["rgb decode"] = min(best["rgb decode"], t1 - t0)
        best["extract"] = min(best["extract"], t2 - t1)

    def grey_decode() -> None:
        for _ in iter_frames(path, color=False):
            pass

    variants = {
        "default": streamed(strided, "default"),
        "every": streamed(every, "every"),
        "memory": in_memory,
        "grey decode": grey_decode,
    }
    best = dict.fromkeys([*variants, "rgb decode", "extract"], np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no_face.mp4 warns by design
        for _ in range(repeat):
            for name, fn in variants.items():
                t0 = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - t0)
    results["times"] = best
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    paths = sorted((args.data / "face_videos").glob("*.*")) + sorted(
        (args.data / "cremad_sample").glob("*.flv")
    )
    strided = FaceTubeExtractor(on_missing="ignore").fit()
    every = FaceTubeExtractor(on_missing="ignore", detect_every=1).fit()
    strided.transform([decode(paths[0])[:2]])  # load the cascade before timing

    print(
        f"detect_every={strided.detect_every} (default) vs 1; best of {args.repeat} runs; "
        f"cv2 threads: {cv2.getNumThreads()}\n"
    )
    print(
        "| video | frames | size | grey decode fps | **fps default** | fps every frame "
        "| speed-up | in-memory fps (RGB decode + transform) | extract-only fps "
        "| streamed = in-memory | mean IoU raw | mean IoU smoothed "
        "| missing (default / every) |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|")
    keys = ["default", "every", "memory", "grey decode", "extract"]
    totals = dict.fromkeys(keys + ["n"], 0.0)
    for path in paths:
        cap = cv2.VideoCapture(str(path))
        size = f"{int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))}x{int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))}"
        cap.release()
        res = bench_video(path, strided, every, args.repeat)
        times = res["times"]
        rec_s, rec_e = res["default"][1], res["every"][1]
        n = len(rec_s.status)
        totals["n"] += n
        for k in keys:
            totals[k] += times[k]
        fps = {k: n / times[k] for k in keys}
        same = "yes" if same_tube(res["default"], res["memory"]) else "NO"
        print(
            f"| {path.name} | {n} | {size} | {fps['grey decode']:.0f} "
            f"| **{fps['default']:.0f}** | {fps['every']:.0f} "
            f"| {times['every'] / times['default']:.1f}x | {fps['memory']:.0f} "
            f"| {fps['extract']:.0f} | {same} "
            f"| {mean_iou(rec_s.boxes, rec_e.boxes):.3f} "
            f"| {mean_iou(rec_s.smoothed_boxes, rec_e.smoothed_boxes):.3f} "
            f"| {rec_s.missing_frames.size} / {rec_e.missing_frames.size} |"
        )
    n = totals["n"]
    print(
        f"| **all** | {n:.0f} | | {n / totals['grey decode']:.0f} "
        f"| **{n / totals['default']:.0f}** | **{n / totals['every']:.0f}** "
        f"| {totals['every'] / totals['default']:.1f}x | {n / totals['memory']:.0f} "
        f"| {n / totals['extract']:.0f} | | | | |"
    )


if __name__ == "__main__":
    main()
