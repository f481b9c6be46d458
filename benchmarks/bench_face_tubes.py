"""Speed and agreement of FaceTubeExtractor (EmoNets section 3.1.3) on real videos.

For every video of ``face_videos`` and ``cremad_sample`` in the shared data folder, decodes
the frames with ``cv2.VideoCapture`` and extracts the face tube twice: with the default
settings (detection every ``detect_every`` frames on a 320-px-wide frame, template tracking
in between) and with detection on every frame. Prints a markdown table of frames/s
(decode + detect + track + smooth + crop; best of ``--repeat`` runs for decoding and for
extraction), of decoding alone and of extraction alone, and the agreement of the two tubes:
mean IoU of the boxes before smoothing and of the smoothed boxes, over frames both locate.

Usage::

    python benchmarks/bench_face_tubes.py [--data PATH] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import cv2
import numpy as np

from skfer.preprocessing.box_smoothing import box_iou
from skfer.preprocessing.face_tubes import FaceTubeExtractor

DEFAULT_DATA = Path(
    os.environ.get("SKFER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def decode(path: Path) -> np.ndarray:
    """All frames of a video as an RGB ``(T, H, W, 3)`` uint8 clip."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    if not frames:
        raise RuntimeError(f"could not decode {path}")
    return np.stack(frames)


def run(path: Path, extractor: FaceTubeExtractor, repeat: int) -> tuple[float, float, object]:
    """Best-of-``repeat`` wall times of decoding and of extraction, and the tube record."""
    best_dec, best_ext, record = np.inf, np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        clip = decode(path)
        t1 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # no_face.mp4 warns by design
            extractor.transform([clip])
        t2 = time.perf_counter()
        best_dec, best_ext = min(best_dec, t1 - t0), min(best_ext, t2 - t1)
        record = extractor.tubes_[0]
    return best_dec, best_ext, record


def mean_iou(a: np.ndarray, b: np.ndarray) -> float:
    both = ~(np.isnan(a).any(axis=1) | np.isnan(b).any(axis=1))
    return float(box_iou(a[both], b[both]).mean()) if both.any() else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    paths = sorted((args.data / "face_videos").glob("*.*")) + sorted(
        (args.data / "cremad_sample").glob("*.flv")
    )
    strided = FaceTubeExtractor(on_missing="ignore").fit()
    every = FaceTubeExtractor(on_missing="ignore", detect_every=1).fit()
    strided.transform([decode(paths[0])[:2]])  # load the cascade before timing

    print(f"detect_every={strided.detect_every} (default) vs 1; best of {args.repeat} runs\n")
    print(
        "| video | frames | size | decode fps | fps default | fps every frame | speed-up "
        "| extract-only fps default / every | mean IoU raw | mean IoU smoothed "
        "| missing (default / every) |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    totals = np.zeros(4)
    for path in paths:
        cap = cv2.VideoCapture(str(path))
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        size = f"{int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))}x{int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))}"
        cap.release()
        d_s, x_s, rec_s = run(path, strided, args.repeat)
        d_e, x_e, rec_e = run(path, every, args.repeat)
        n = len(rec_s.status)
        dec = min(d_s, d_e)  # the same decoding in both runs
        t_s, t_e = dec + x_s, dec + x_e
        totals += (n, dec, x_s, x_e)
        print(
            f"| {path.name} | {n} | {size} | {n / dec:.0f} | {n / t_s:.0f} | {n / t_e:.0f} "
            f"| {t_e / t_s:.1f}x | {n / x_s:.0f} / {n / x_e:.0f} "
            f"| {mean_iou(rec_s.boxes, rec_e.boxes):.3f} "
            f"| {mean_iou(rec_s.smoothed_boxes, rec_e.smoothed_boxes):.3f} "
            f"| {rec_s.missing_frames.size} / {rec_e.missing_frames.size} |"
        )
    n, dec, x_s, x_e = totals
    t_s, t_e = dec + x_s, dec + x_e
    print(
        f"| **all** | {n:.0f} | | {n / dec:.0f} | **{n / t_s:.0f}** | **{n / t_e:.0f}** "
        f"| {t_e / t_s:.1f}x | {n / x_s:.0f} / {n / x_e:.0f} | | | |"
    )


if __name__ == "__main__":
    main()
