"""``skfer evaluate``: subject-independent k-fold evaluation of a named model."""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..clipset import ClipSet

__all__ = ["add_evaluate_parser", "load_data", "FORMATS", "PROTOCOLS"]

#: Data formats ``--format`` accepts, and whether their clips are face crops already.
FORMATS = {
    "embedded": "detect",
    "ckplus48": "given",
    "ckplus": "detect",
    "fer2013": "given",
    "jaffe": "detect",
    "folder": "detect",
}


#: ``--protocol`` values: both subject-independent, they differ in which subjects share a fold.
PROTOCOLS = {
    "groupkfold": "scikit-learn's GroupKFold by subject (balanced fold sizes)",
    "ascending-id": "AscendingSubjectKFold: subjects by ascending id, the CK+ papers' folds",
}


def add_evaluate_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="cross-validate a model subject-independently and report",
        description=(
            "Subject-independent k-fold evaluation (GroupKFold by subject, or the CK+ papers' "
            "folds by ascending subject id) of a named model on the embedded synthetic data "
            "(default) or on --data DIR."
        ),
    )
    p.add_argument("--model", default="hog-svm", help="model name (see `skfer models`)")
    p.add_argument("--data", type=Path, help="data folder (default: embedded data)")
    p.add_argument(
        "--format", choices=sorted(FORMATS), help="layout of --data (required with --data)"
    )
    p.add_argument(
        "--folds",
        type=int,
        default=None,
        help="number of folds (default 10, or one per subject when there are fewer)",
    )
    p.add_argument(
        "--protocol",
        choices=sorted(PROTOCOLS),
        default="groupkfold",
        help="; ".join(f"{name}: {text}" for name, text in PROTOCOLS.items()),
    )
    p.add_argument(
        "--faces",
        choices=("auto", "detect", "given"),
        default="auto",
        help="detect face tubes first, or take clips as face crops (auto: by format)",
    )
    p.add_argument("--subset", default=None, help="fer2013 CSV subset or class-folder split")
    p.add_argument(
        "--max-per-class", type=int, default=None, help="cap clips per class (fer2013)"
    )
    p.add_argument("--output-dir", type=Path, default=Path("reports"))
    p.add_argument("--n-jobs", type=int, default=None, help="folds in parallel")
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run_evaluate)


def load_data(fmt: str, path: Path | None, args: argparse.Namespace | None = None):
    """Load ``(bunch, name)`` for a ``--format`` value; ``path`` is None for embedded."""
    from .. import datasets

    if fmt == "embedded":
        seed = 0 if args is None else args.random_state
        # 10 subjects: one per fold of the default 10-fold subject-independent protocol.
        bunch = datasets.make_expressions(n_subjects=10, random_state=seed)
        return bunch, "embedded synthetic data"
    if path is None:
        raise ValueError(f"--format {fmt} needs --data DIR")
    kwargs = {}
    if fmt == "fer2013" and args is not None:
        if args.subset:
            kwargs["subset"] = args.subset
        if args.max_per_class:
            kwargs["max_per_class"] = args.max_per_class
    loader = {
        "ckplus48": datasets.load_ckplus48,
        "ckplus": datasets.load_ckplus,
        "fer2013": datasets.load_fer2013,
        "jaffe": datasets.load_jaffe,
        "folder": datasets.load_folder,
    }[fmt]
    return loader(path, **kwargs), str(path)


def _default_folds(groups, folds: int = 10) -> int:
    """10 folds, or leave-one-subject-out when there are fewer than 10 subjects."""
    if groups is None:
        return folds
    n_subjects = len(set(groups))
    if n_subjects < folds:
        print(f"note: {n_subjects} subjects, so {n_subjects} folds (leave one subject out)")
        return max(n_subjects, 2)
    return folds


def _extract_face_tubes(clips, progress: bool) -> tuple[ClipSet, dict[str, int]]:
    """Face tubes of all clips, and how many frames were detected, tracked, filled, missing.

    The extractor learns nothing from the data, so taking every clip's tube once before the
    folds gives exactly what the same step would give inside each fold, without repeating
    the detection in every fold.
    """
    from ..clipset import FRAME_STATUSES as STATUSES
    from ..clipset import ClipSet
    from ..models import face_tube_step

    start = time.perf_counter()
    pairs = face_tube_step().fit().iter_transform(clips)
    if progress:
        from tqdm.auto import tqdm

        pairs = tqdm(pairs, total=len(clips), desc="face tubes", unit="clip")
    tubes, statuses, counts = [], [], dict.fromkeys(STATUSES, 0)
    for tube, record in pairs:
        tubes.append(tube)
        statuses.append(record.status)
        for status in record.status:
            counts[str(status)] += 1
    print("face tubes: " + ", ".join(f"{n} frames {s}" for s, n in counts.items())
          + f" ({time.perf_counter() - start:.1f} s, once for all folds)")
    # The statuses travel with the tubes, so the model's pooling leaves "missing" frames out,
    # as it would with the extractor inside the pipeline.
    return ClipSet(tubes, status=statuses), counts


def run_evaluate(args: argparse.Namespace) -> int:
    from ..evaluation import evaluate
    from ..models import make_model

    if args.data is not None and args.format is None:
        raise ValueError("--data needs --format (one of " + ", ".join(FORMATS) + ")")
    fmt = args.format or "embedded"
    if fmt == "embedded" and args.data is not None:
        raise ValueError("--format embedded takes no --data")
    bunch, data_name = load_data(fmt, args.data, args)
    faces = FORMATS[fmt] if args.faces == "auto" else args.faces
    # Validate the model name before the (long) face extraction.
    model = make_model(args.model, faces="given", random_state=args.random_state)
    print(f"data: {data_name}: {len(bunch.data)} clips; model {args.model} (faces: {faces})")
    clips, tube_counts = bunch.data, None
    if faces == "detect":
        clips, tube_counts = _extract_face_tubes(bunch.data, progress=not args.no_progress)
    n_splits = args.folds
    if n_splits is None:
        n_splits = _default_folds(bunch.groups)
    cv = None  # evaluate's default: GroupKFold(n_splits)
    if args.protocol == "ascending-id":
        from ..model_selection import AscendingSubjectKFold

        cv = AscendingSubjectKFold(n_splits=n_splits)
    report = evaluate(
        model,
        clips,
        bunch.target,
        bunch.groups,
        n_splits=n_splits,
        cv=cv,
        name=args.model,
        n_jobs=args.n_jobs,
        progress=not args.no_progress,
    )
    report.extra.update(
        {"data": data_name, "format": fmt, "faces": faces, "protocol": args.protocol}
    )
    if tube_counts is not None:
        report.extra["face_tube_frames"] = tube_counts
    print(report.summary())
    suffix = "" if args.protocol == "groupkfold" else f"_{args.protocol}"
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{args.model}_{fmt}{suffix}")
    json_path = report.save_json(args.output_dir / f"{stem}.json")
    png_path = report.save_confusion_png(args.output_dir / f"{stem}_confusion.png")
    print(f"\nreport: {json_path}\nconfusion matrix: {png_path}")
    return 0
