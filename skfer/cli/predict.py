"""``skfer predict``: run a saved model on videos, images and folders of them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..utils._atomic import check_output_dir
from ._args import add_n_jobs_argument, int_at_least

__all__ = ["add_predict_parser"]


def add_predict_parser(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="predict expressions frame by frame on videos, images and folders",
        description=(
            "Run a model saved by `skfer train` on video files, images and folders of them "
            "(recursively). Writes per file: <name>.csv and <name>.json (one row per frame: "
            "time, face box, status, why a frame is left out, class probabilities), "
            "<name>_timeline.png and, with --annotate, <name>_annotated.mp4, each file "
            "whole or not at all. Frames left out of a file's prediction (not decoded, no "
            "face, suspect face) are listed in its JSON and summed up on stderr. A file that "
            "cannot be processed is reported and skipped; the exit status is 1 if any failed."
        ),
    )
    p.add_argument("model", type=Path, help="model file written by `skfer train`")
    p.add_argument("paths", type=Path, nargs="+", help="video/image files and folders")
    p.add_argument("--output-dir", type=Path, default=Path("predictions"))
    p.add_argument("--annotate", action="store_true", help="also write annotated videos")
    add_n_jobs_argument(p, "files in parallel (joblib)")
    p.add_argument("--chunk-frames", type=int_at_least(1), default=300,
                   help="frames decoded and processed at a time (bounds memory)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    from .._model_card import load_model
    from ..prediction import FrameModel, find_media, predict_files_with_info

    check_output_dir(args.output_dir, "--output-dir")
    model, card = load_model(args.model)  # a version warning is one line (skfer.cli.main)
    files, problems = find_media(args.paths)
    if not files:
        # Nothing at all to predict is a mistake in the command, not a file that failed.
        raise FileNotFoundError("no video or image file to predict: "
                                + "; ".join(f"{p}: {why}" for p, why in problems))
    try:
        head = FrameModel(model)
    except TypeError as exc:
        raise ValueError(f"model {args.model}: {exc}") from None
    print(f"model: {card.model} ({args.model}), classes {', '.join(card.classes)}; "
          f"trained on {card.data}")
    _, results = predict_files_with_info(
        head, args.paths, output_dir=args.output_dir, annotate=args.annotate,
        n_jobs=args.n_jobs, chunk_frames=args.chunk_frames, progress=not args.no_progress,
        # Both reported below, a line per file, instead of the library's warnings.
        on_error="ignore", on_missing="ignore", as_frame=False, model_name=card.model,
    )
    failed = [r for r in results if not r.ok]
    for r in results:
        if r.ok:
            counts = ", ".join(f"{n} {s}" for s, n in r.status_counts().items() if n)
            notes = f" [{'; '.join(r.notes)}]" if r.notes else ""
            print(f"{r.path}: {r.label} ({r.n_frames} frames: {counts}){notes}")
            if r.skipped:
                print(f"skfer predict: {r.path}: {r.skipped_summary()}", file=sys.stderr)
        else:
            print(f"skfer predict: {r.path}: {r.error}", file=sys.stderr)
    print(f"\n{len(results) - len(failed)} of {len(results)} files predicted"
          + (f", {len(failed)} failed" if failed else "") + f"; outputs in {args.output_dir}")
    return 1 if failed else 0
