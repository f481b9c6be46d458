"""Benchmark of ``skfer predict`` (issue 15): throughput, peak memory, Dask speed-up.

Run: ``.venv/bin/python benchmarks/bench_predict.py [--minutes 10] [--models hog-svm ...]``
(about 20 minutes on two shared cores; the Dask part needs ``dask[distributed]`` importable,
e.g. ``PYTHONPATH=/path/to/dask/packages``; it is skipped otherwise).

1. **A long video**: the six CREMA-D sample clips (``skfer/datasets/data/cremad``)
   concatenated, over and over, to ``--minutes`` (10 by default: 18,000 frames of 480x360 at
   29.97 fps), MPEG-4, written under ``--work`` (``/tmp`` by default, never the repository).
2. **Models**: ``skfer train --model NAME --out WORK/NAME.joblib`` on the embedded data.
3. **Throughput and peak memory**: ``skfer predict WORK/NAME.joblib VIDEO --no-progress``
   as a child process under ``/usr/bin/time -v``: frames per second end to end (process
   start, model load, decoding, face tubes, features, outputs) and the maximum resident
   set size. Held whole, the video's grey frames alone would take T x 480 x 360 bytes.
4. **Dask**: ``examples/dask_predict.py`` on the sample clips (``--copies`` times over):
   sequential (``n_jobs=1``) against a ``LocalCluster`` of 2 single-threaded workers under
   ``joblib.parallel_backend("dask")``.
5. ``--figure PATH``: the README's timeline plot, ``skfer predict`` with the hog-svm model on
   the HAP sample clip, 20 blank frames (no face) and the SAD clip, joined.

Prints a Markdown summary for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def write_video(path: Path, clips: list[np.ndarray], fps: float) -> int:
    """Encode RGB clips one after the other into ``path`` (MPEG-4); return the frame count."""
    from fractions import Fraction

    import av

    n = 0
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=Fraction(fps).limit_denominator(1001))
        stream.height, stream.width = clips[0].shape[1:3]
        stream.pix_fmt, stream.bit_rate = "yuv420p", 1_000_000
        for clip in clips:
            for frame in clip:
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    out.mux(packet)
                n += 1
        for packet in stream.encode():
            out.mux(packet)
    return n


def long_video(work: Path, minutes: float) -> tuple[Path, int]:
    from skfer.datasets import load_sample_videos

    path = work / f"cremad_{minutes:g}min.mp4"
    data = load_sample_videos(audio=False)
    per_pass = sum(len(c) for c in data.data)
    repeats = int(np.ceil(minutes * 60 * data.fps[0] / per_pass))
    if path.exists():
        return path, repeats * per_pass
    return path, write_video(path, list(data.data) * repeats, float(data.fps[0]))


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) and output of a child process under /usr/bin/time -v."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - start
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return wall, int(peak.group(1)) / 1024 if peak else float("nan"), proc.stdout


def skfer(*args: str) -> list[str]:
    return [sys.executable, "-W", "ignore::FutureWarning", "-m", "skfer.cli", *args]


def figure(work: Path, model: Path, target: Path) -> Path:
    from skfer.datasets import load_sample_videos

    data = load_sample_videos(audio=False)
    names = [Path(f).stem for f in data.filenames]
    hap, sad = data.data[names.index("1001_DFA_HAP_XX")], data.data[names.index("1001_DFA_SAD_XX")]
    blank = np.zeros((20,) + hap.shape[1:], np.uint8)
    video = work / "cremad_hap_gap_sad.mp4"
    write_video(video, [hap, blank, sad], float(data.fps[0]))
    subprocess.run(skfer("predict", str(model), str(video), "--output-dir", str(work / "fig"),
                         "--no-progress"), check=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(work / "fig" / "cremad_hap_gap_sad_timeline.png", target)
    return target


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--models", nargs="+", default=["hog-svm", "convnet", "pixels-svm"])
    p.add_argument("--work", type=Path, default=Path("/tmp/skfer_bench_predict"))
    p.add_argument("--copies", type=int, default=4, help="sample-clip copies for Dask")
    p.add_argument("--figure", type=Path, default=None)
    p.add_argument("--skip-long", action="store_true")
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    lines = ["| model | train (s) | video | frames | wall (s) | frames/s | peak RSS (MiB) |",
             "|---|---|---|---|---|---|---|"]
    video, n_long = (None, 0) if args.skip_long else long_video(args.work, args.minutes)
    samples = sorted((ROOT / "skfer/datasets/data/cremad").glob("*.flv"))
    n_samples = 379  # frames of the six clips (67 + 70 + 65 + 56 + 61 + 60)
    for name in args.models:
        model = args.work / f"{name}.joblib"
        try:
            wall, _, _ = timed(skfer("train", "--model", name, "--out", str(model),
                                     "--no-progress"))
        except RuntimeError as exc:  # report it and go on with the other models
            print(exc, flush=True)
            continue
        print(f"trained {name} in {wall:.0f} s", flush=True)
        runs = [("6 sample clips", [str(s) for s in samples], n_samples)]
        if video is not None:
            runs.append((f"{args.minutes:g}-min video", [str(video)], n_long))
        for label, paths, frames in runs:
            w, peak, _ = timed(skfer("predict", str(model), *paths, "--output-dir",
                                     str(args.work / f"out_{name}"), "--no-progress"))
            lines.append(f"| {name} | {wall:.0f} | {label} | {frames} | {w:.0f} | "
                         f"{frames / w:.1f} | {peak:.0f} |")
            print(lines[-1], flush=True)
    if n_long:
        print(f"\nthe {n_long} grey 480x360 frames held whole: "
              f"{n_long * 480 * 360 / 2**20:.0f} MiB")
    print("\n".join(lines))

    try:
        sys.path.insert(0, str(ROOT / "examples"))
        import dask_predict
        import distributed  # noqa: F401
    except ImportError:
        print("\nDask part skipped: dask.distributed is not importable")
    else:
        res = dask_predict.run(copies=args.copies, compare=True)
        print(f"\nDask: {res['files']} files, sequential {res['sequential_s']:.1f} s, "
              f"LocalCluster(2 workers x 1 thread) {res['parallel_s']:.1f} s, speed-up "
              f"{res['sequential_s'] / res['parallel_s']:.2f}x")
    if args.figure is not None:
        print(f"figure: {figure(args.work, args.work / 'hog-svm.joblib', args.figure)}")


if __name__ == "__main__":
    main()
