"""Driver of the ``fer`` package (25.10.3) on videos and photos, run with fer's own python.

Not a benchmark by itself: ``bench_predict.py`` (throughput) and ``bench_real_video.py``
(accuracy, photos) run it as a child process in the separate virtual environment that holds
``fer`` (see ``bench_peer_fer.py`` for how it is made)::

    /tmp/fer-venv/bin/python benchmarks/_fer_video.py VIDEO... --out /tmp/fer.json
    /tmp/fer-venv/bin/python benchmarks/_fer_video.py --images PHOTO... --out /tmp/fer.json

**Videos**: fer's video API with its default detector, as its README shows it:
``Video(path).analyze(FER(), display=False, ...)`` (in 25.10.3 the classes live in
``fer.fer`` and ``fer.classes``: ``from fer import FER, Video`` fails). ``FER()`` is fer's
default: OpenCV's Haar cascade ``haarcascade_frontalface_default`` on every frame
(``scaleFactor`` 1.1, ``minNeighbors`` 5, ``minSize`` 50x50 px), the quantized TFLite
mini-Xception on each face (64x64 grey). ``analyze`` is called with fer's defaults except
what would write images (``save_frames``, ``save_video``, ``annotate_frames``,
``zip_images`` False: skfer's default writes no video either) and ``output="pandas"`` (the
default, ``"csv"``, writes ``data.csv`` into the working folder). ``analyze`` returns only the
frames with a face, so the driver wraps ``FER.detect_emotions`` (``analyze`` calls it once
per frame, in order, with ``batch_size=1``) to keep every frame's faces: frame ``i``'s
``[x, y, w, h, p_angry, ..., p_neutral]`` per face, in ``FER._get_labels()`` order.

**Photos** (``--images``): ``FER().detect_emotions(cv2.imread(path))`` per photo.

``--threads N`` loads fer's TFLite interpreter with ``N`` threads (and sets TF's and
OpenCV's); without it fer runs as it comes (the interpreter's thread count unset).
Writes ``--out`` JSON: per file the frames' faces, the frame count and the seconds of the
``analyze`` call (or of the photos' calls), plus the import and model-loading seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("paths", nargs="+")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--images", action="store_true", help="the paths are photos")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--max-frames", type=int, default=None, help="fer's max_results")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/skfer_fer_video"))
    args = p.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.threads:
        for var in ("OMP_NUM_THREADS", "TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS"):
            os.environ[var] = str(args.threads)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pkg_resources, tf.lite deprecation notices
        import cv2
        import fer
        from fer.classes import Video
        from fer.fer import FER

        if args.threads:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from bench_peer_fer import make_detector

            det, _, _ = make_detector("tflite", args.threads)
        else:
            det = FER()
    labels = [FER._get_labels()[i] for i in range(len(FER._get_labels()))]
    out = {"fer_version": fer.__version__, "labels": labels, "threads": args.threads,
           "load_s": time.perf_counter() - t0, "files": {}}

    def record(faces) -> list:
        return [[int(v) for v in f["box"]] + [float(f["emotions"][c]) for c in labels]
                for f in faces]

    if args.images:
        for path in args.paths:
            img = cv2.imread(path)
            start = time.perf_counter()
            faces = det.detect_emotions(img)
            out["files"][path] = {"frames": [record(faces)], "n_frames": 1,
                                  "seconds": time.perf_counter() - start}
    else:
        calls: list[list] = []
        detect = det.detect_emotions

        def detect_and_keep(img, *a, **k):
            faces = detect(img, *a, **k)
            calls.append(record(faces))
            return faces

        det.detect_emotions = detect_and_keep
        args.workdir.mkdir(parents=True, exist_ok=True)
        for path in args.paths:
            calls.clear()
            start = time.perf_counter()
            video = Video(path, outdir=str(args.workdir))
            video.analyze(det, display=False, save_frames=False, save_video=False,
                          annotate_frames=False, zip_images=False, output="pandas",
                          max_results=args.max_frames)
            seconds = time.perf_counter() - start
            out["files"][path] = {"frames": list(calls), "n_frames": len(calls),
                                  "seconds": seconds}
            print(f"{path}: {len(calls)} frames in {seconds:.1f} s", file=sys.stderr,
                  flush=True)
    args.out.write_text(json.dumps(out))


if __name__ == "__main__":
    main()
