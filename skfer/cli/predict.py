"""``skfer predict``: run a model on videos, images and folders of them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..utils._atomic import check_output_dir
from ._args import add_n_jobs_argument, int_at_least

__all__ = ["add_predict_parser"]


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:  # NaN too
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text}")
    return value


def add_predict_parser(sub) -> None:
    from ..models import DEFAULT_MODEL

    p = sub.add_parser(
        "predict",
        help="predict expressions frame by frame on videos, images and folders",
        description=(
            "Run a model on video files, images and folders of them (recursively): by "
            f"default the network shipped inside skfer ({DEFAULT_MODEL}), or --model, a "
            "named model that comes fitted or a model file written by `skfer train`. "
            "Writes per file: <name>.csv and <name>.json (one row per frame, or per face "
            "and frame with --faces all: time, face id, face box, status, why a frame is "
            "left out, class probabilities and their smoothed track), <name>_timeline.png "
            "and, with --annotate, <name>_annotated.mp4, each file whole or not at all. "
            "Frames left out of a file's prediction (not decoded, no face, suspect face) are "
            "listed in its JSON and summed up on stderr. A file that cannot be processed is "
            "reported and skipped; the exit status is 1 if any failed. A model file is a "
            "pickle: loading it runs its code, so use only files you trust (skfer refuses "
            "one that does not match its card)."
        ),
    )
    p.add_argument("paths", type=Path, nargs="+", help="video/image files and folders")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"a model that comes fitted (see `skfer models`) or a model file of "
                        f"`skfer train` (default: {DEFAULT_MODEL})")
    p.add_argument("--faces", choices=("primary", "all"), default="primary",
                   help="follow the primary face (default) or every person, one track each")
    p.add_argument("--smooth", type=_seconds, default=1.0, metavar="SECONDS",
                   help="window of the smoothed probability track (default 1.0; 0: none)")
    p.add_argument("--output-dir", type=Path, default=Path("predictions"))
    p.add_argument("--annotate", action="store_true", help="also write annotated videos")
    add_n_jobs_argument(p, "files in parallel (joblib)")
    p.add_argument("--chunk-frames", type=int_at_least(1), default=300,
                   help="frames decoded and processed at a time (bounds memory)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    from ..models import fitted_model
    from ..prediction import FrameModel, find_media, predict_files

    check_output_dir(args.output_dir, "--output-dir")
    fitted = fitted_model(args.model)  # a version warning is one line (skfer.cli.main)
    if fitted is None:
        raise ValueError(f"model {args.model} must be trained first: `skfer train --model "
                         f"{args.model} --out model.joblib ...`, then --model model.joblib")
    files, problems = find_media(args.paths)
    if not files:
        # Nothing at all to predict is a mistake in the command, not a file that failed.
        raise FileNotFoundError("no video or image file to predict: "
                                + "; ".join(f"{p}: {why}" for p, why in problems))
    model, what, _margin = fitted
    try:
        head = FrameModel(model)
    except TypeError as exc:
        raise ValueError(f"model {args.model}: {exc}") from None
    print(f"model: {what}; classes {', '.join(map(str, head.classes))}")
    name = Path(args.model).stem if Path(args.model).is_file() else args.model
    _, results = predict_files(
        head, args.paths, output_dir=args.output_dir, annotate=args.annotate,
        faces=args.faces, smooth_s=args.smooth, n_jobs=args.n_jobs,
        chunk_frames=args.chunk_frames, progress=not args.no_progress,
        # Both reported below, a line per file, instead of the library's warnings.
        on_error="ignore", on_missing="ignore", as_frame=False, model_name=name, details=True,
    )
    failed = [r for r in results if not r.ok]
    for r in results:
        if r.ok:
            counts = ", ".join(f"{n} {s}" for s, n in r.status_counts().items() if n)
            notes = f" [{'; '.join(r.notes)}]" if r.notes else ""
            people = ""
            if args.faces == "all":
                people = "; " + ", ".join(f"face {p['face']}: {p['prediction']}"
                                          for p in r.people)
            print(f"{r.path}: {r.label} ({r.n_frames} frames: {counts}){people}{notes}")
            if r.skipped:
                print(f"skfer predict: {r.path}: {r.skipped_summary()}", file=sys.stderr)
        else:
            print(f"skfer predict: {r.path}: {r.error}", file=sys.stderr)
    print(f"\n{len(results) - len(failed)} of {len(results)} files predicted"
          + (f", {len(failed)} failed" if failed else "") + f"; outputs in {args.output_dir}")
    return 1 if failed else 0
