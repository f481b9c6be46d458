"""Benchmark of ``skfer predict`` (issues 15, 26): throughput, peak memory, Dask, ``fer``.

Run: ``.venv/bin/python benchmarks/bench_predict.py [--minutes 10] [--models hog-svm ...]
[--faces primary all] [--fer /tmp/fer-venv/bin/python [--fer-minutes M]]``
(about 20 minutes on two shared cores; the Dask part needs ``dask[distributed]`` importable,
e.g. ``PYTHONPATH=/path/to/dask/packages``; it is skipped otherwise).

1. **A long video**: the six CREMA-D sample clips (``skfer/datasets/data/cremad``)
   concatenated, over and over, to ``--minutes`` (10 by default: 18,192 frames of 480x360 at
   29.97 fps), MPEG-4, written under ``--work`` (``/tmp`` by default, never the repository).
   With ``--faces all``, a **two-person video** too: the same concatenation side by side
   with itself shifted by three clips (left ANG DIS FEA HAP NEU SAD, right HAP NEU SAD ANG
   DIS FEA, each frame the two 480x360 frames hstacked into 960x360), so that two faces
   with different expressions are on screen in every frame, repeated to ``--minutes``.
2. **Models**: a model that comes fitted (``emonets-fer2013``, the network shipped inside
   skfer: ``skfer models``) is used as it is, ``--model NAME``; any other is first trained,
   ``skfer train --model NAME --out WORK/NAME.joblib`` on the embedded data.
3. **Throughput and peak memory**: ``skfer predict VIDEO --model MODEL [--faces all]
   --no-progress`` as a child process under ``/usr/bin/time -v``: frames per second end to
   end (process start, model load, decoding, face tubes, network or features, CSV, JSON
   and timeline outputs) and the maximum resident set size. Held whole, the video's grey
   frames alone would take T x 480 x 360 bytes. ``--faces primary`` (the default) runs on
   the one-person video, ``--faces all`` on the two-person one.
4. **fer, side by side** (``--fer PYTHON``, the python of a virtual environment that has
   ``fer``; see ``bench_peer_fer.py``): ``benchmarks/_fer_video.py``, fer's video API with
   its default detector (``Video(path).analyze(FER(), display=False, ...)``, no image
   written), on the same videos in the same run, as a child process under
   ``/usr/bin/time -v`` too. fer runs a Haar cascade on every frame, so it is much slower:
   ``--fer-minutes M`` runs both tools on an M-minute cut of the same videos (the same
   construction, fewer repeats) instead of the ``--minutes`` ones.
5. **Dask**: ``examples/dask_predict.py`` on the sample clips (``--copies`` times over):
   sequential (``n_jobs=1``) against a ``LocalCluster`` of 2 single-threaded workers under
   ``joblib.parallel_backend("dask")``.
6. ``--figure PATH``: the README's timeline plot, ``skfer predict`` with the hog-svm model on
   the HAP sample clip, 20 blank frames (no face) and the SAD clip, joined.

Every timed run first waits until the machine's 1-minute load average is below
``--max-load`` (polling every minute, 15 minutes at most; ``_load.py``), runs alone, and the
table records the load just before and just after it. Prints a Markdown summary for
``docs/benchmarks.md`` and writes the rows to ``WORK/bench_predict.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import load1, wait_for_quiet  # noqa: E402
from _machine import cpu_name  # noqa: E402


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


def _repeats(minutes: float, per_pass: int, fps: float) -> int:
    return int(np.ceil(minutes * 60 * fps / per_pass))


def long_video(work: Path, minutes: float) -> tuple[Path, int]:
    from skfer.datasets import load_sample_videos

    path = work / f"cremad_{minutes:g}min.mp4"
    data = load_sample_videos(audio=False)
    per_pass = sum(len(c) for c in data.data)
    repeats = _repeats(minutes, per_pass, data.fps[0])
    if path.exists():
        return path, repeats * per_pass
    return path, write_video(path, list(data.data) * repeats, float(data.fps[0]))


def two_people_video(work: Path, minutes: float) -> tuple[Path, int]:
    """The sample clips side by side with themselves three clips later: 960x360, 2 faces."""
    from skfer.datasets import load_sample_videos

    path = work / f"cremad_two_people_{minutes:g}min.mp4"
    data = load_sample_videos(audio=False)
    left = np.concatenate(list(data.data))
    right = np.concatenate(list(data.data[3:]) + list(data.data[:3]))
    repeats = _repeats(minutes, len(left), data.fps[0])
    if path.exists():
        return path, repeats * len(left)
    both = np.concatenate([left, right], axis=2)  # (T, 360, 960, 3)
    return path, write_video(path, [both] * repeats, float(data.fps[0]))


def timed(cmd: list[str], max_load: float, cwd: Path | None = None) -> dict:
    """Wall seconds, peak RSS (MiB), output and loads of a child under /usr/bin/time -v,
    started once the machine is quiet."""
    quiet = wait_for_quiet(max_load, what="bench_predict")
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True,
                          cwd=cwd)
    wall = time.perf_counter() - start
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr[-3000:]}")
    return {"wall_s": wall, "peak_mib": int(peak.group(1)) / 1024 if peak else float("nan"),
            "stdout": proc.stdout, "load_before": quiet["load_before"],
            "load_after": round(load1(), 2), "waited_s": quiet["waited_s"]}


def skfer(*args: str) -> list[str]:
    return [sys.executable, "-W", "ignore::FutureWarning", "-m", "skfer.cli", *args]


def prepare_model(name: str, work: Path, max_load: float) -> tuple[str, float | None]:
    """The ``--model`` argument for ``name`` and its training seconds (None: comes fitted)."""
    from skfer.models import MODELS

    if name in MODELS and MODELS[name].fitted:
        return name, None
    model = work / f"{name}.joblib"
    run = timed(skfer("train", "--model", name, "--out", str(model), "--no-progress"),
                max_load)
    print(f"trained {name} in {run['wall_s']:.0f} s", flush=True)
    return str(model), run["wall_s"]


def figure(work: Path, model: Path, target: Path) -> Path:
    from skfer.datasets import load_sample_videos

    data = load_sample_videos(audio=False)
    names = [Path(f).stem for f in data.filenames]
    hap, sad = data.data[names.index("1001_DFA_HAP_XX")], data.data[names.index("1001_DFA_SAD_XX")]
    blank = np.zeros((20,) + hap.shape[1:], np.uint8)
    video = work / "cremad_hap_gap_sad.mp4"
    write_video(video, [hap, blank, sad], float(data.fps[0]))
    subprocess.run(skfer("predict", str(video), "--model", str(model), "--output-dir",
                         str(work / "fig"), "--no-progress"), check=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(work / "fig" / "cremad_hap_gap_sad_timeline.png", target)
    return target


def _faces_seen(out_dir: Path, stem: str) -> str:
    """``"2 ids; 2.00 faces per frame"``: what ``--faces all`` followed (from the CSV)."""
    import csv

    with open(out_dir / f"{stem}.csv", newline="") as fh:
        rows = [(int(r["frame"]), int(r["face"])) for r in csv.DictReader(fh)
                if r["status"] != "missing"]
    frames = {f for f, _ in rows}
    ids = {i for _, i in rows}
    return f"{len(ids)} face ids; {len(rows) / max(len(frames), 1):.2f} faces per frame"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--models", nargs="+", default=["hog-svm", "convnet", "pixels-svm"])
    p.add_argument("--faces", nargs="+", choices=("primary", "all"), default=["primary"],
                   help="primary: the one-person video; all: the two-person video, "
                        "--faces all")
    p.add_argument("--work", type=Path, default=Path("/tmp/skfer_bench_predict"))
    p.add_argument("--copies", type=int, default=4, help="sample-clip copies for Dask")
    p.add_argument("--figure", type=Path, default=None)
    p.add_argument("--skip-long", action="store_true")
    p.add_argument("--skip-samples", action="store_true", help="no run on the 6 clips")
    p.add_argument("--fer", default=None, metavar="PYTHON",
                   help="python of a virtual environment with fer: run it side by side")
    p.add_argument("--fer-minutes", type=float, default=None,
                   help="run both tools on a cut of this length instead of --minutes")
    p.add_argument("--max-load", type=float, default=1.3,
                   help="wait until the 1-minute load is below this before each timing")
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    minutes = args.fer_minutes if args.fer and args.fer_minutes else args.minutes

    videos: dict[str, tuple[str, list[str], int]] = {}  # faces -> (label, paths, frames)
    if not args.skip_long:
        for faces in args.faces:
            make = long_video if faces == "primary" else two_people_video
            path, n = make(args.work, minutes)
            what = "video" if faces == "primary" else "two-person video (960x360)"
            videos[faces] = (f"{minutes:g}-min {what}", [str(path)], n)
    samples = sorted((ROOT / "skfer/datasets/data/cremad").glob("*.flv"))
    n_samples = 379  # frames of the six clips (67 + 70 + 65 + 56 + 61 + 60)

    rows: list[dict] = []
    header = ("| tool | model | faces | train (s) | input | frames | wall (s) | frames/s | "
              "peak RSS (MiB) | load before / after |")
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|"]

    def report(row: dict) -> None:
        rows.append(row)
        train = "-" if row["train_s"] is None else f"{row['train_s']:.0f}"
        lines.append(
            f"| {row['tool']} | {row['model']} | {row['faces']} | {train} | {row['input']} | "
            f"{row['frames']:,} | {row['wall_s']:.0f} | {row['frames'] / row['wall_s']:.1f} | "
            f"{row['peak_mib']:.0f} | {row['load_before']:.2f} / {row['load_after']:.2f} |")
        print(lines[-1] + (f"  {row['note']}" if row.get("note") else ""), flush=True)

    for name in args.models:
        try:
            model, train_s = prepare_model(name, args.work, args.max_load)
        except RuntimeError as exc:  # report it and go on with the other models
            print(exc, flush=True)
            continue
        runs = []
        if not args.skip_samples:
            runs.append(("primary", "6 sample clips", [str(s) for s in samples], n_samples))
        runs += [(faces, *videos[faces]) for faces in args.faces if faces in videos]
        for faces, label, paths, frames in runs:
            out_dir = args.work / f"out_{name}_{faces}"
            run = timed(skfer("predict", *paths, "--model", model, "--faces", faces,
                              "--output-dir", str(out_dir), "--no-progress"), args.max_load)
            note = _faces_seen(out_dir, Path(paths[0]).stem) if faces == "all" else ""
            report({"tool": "skfer predict", "model": name, "faces": faces,
                    "train_s": train_s, "input": label, "frames": frames, "note": note,
                    **{k: v for k, v in run.items() if k != "stdout"}})
    if args.fer:
        for faces, (label, paths, frames) in videos.items():
            out = args.work / f"fer_{faces}.json"
            run = timed([args.fer, str(ROOT / "benchmarks" / "_fer_video.py"), *paths,
                         "--out", str(out)], args.max_load, cwd=args.work)
            done = json.loads(out.read_text())["files"][paths[0]]
            with_face = [f for f in done["frames"] if f]
            note = (f"{len(with_face)} frames with a face, "
                    f"{sum(map(len, with_face)) / max(len(with_face), 1):.2f} faces per such "
                    f"frame; analyze() alone {done['n_frames'] / done['seconds']:.1f} frames/s")
            report({"tool": "fer Video.analyze", "model": "FER() (Haar + mini-Xception "
                    "TFLite)", "faces": "every face", "train_s": None, "input": label,
                    "frames": frames, "note": note,
                    **{k: v for k, v in run.items() if k != "stdout"}})
    for faces, (_, _, n) in videos.items():
        width = 480 if faces == "primary" else 960
        print(f"\nthe {n:,} grey {width}x360 frames held whole: "
              f"{n * width * 360 / 2**20:,.0f} MiB")
    print(f"\nmachine: {cpu_name()}, {len(os.sched_getaffinity(0))} cores")
    print("\n".join(lines))
    (args.work / "bench_predict.json").write_text(json.dumps(rows, indent=1))

    if args.copies > 0:
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
