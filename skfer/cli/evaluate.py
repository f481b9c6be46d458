"""``skfer evaluate``: subject-independent k-fold evaluation of a named model."""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sklearn.base import clone

from ..utils._atomic import check_output_dir
from ._args import int_at_least, n_jobs

if TYPE_CHECKING:
    from ..clipset import ClipSet

__all__ = [
    "FORMATS", "PROTOCOLS", "add_data_arguments", "add_evaluate_parser", "extract_if_needed",
    "load_data", "prepare_data", "set_device",
]

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
    add_data_arguments(p)
    add_folds_argument(p, "number of folds (default 10, or one per subject when there are fewer)")
    p.add_argument(
        "--protocol",
        choices=sorted(PROTOCOLS),
        default=None,
        help="; ".join(f"{name}: {text}" for name, text in PROTOCOLS.items())
        + " (default: groupkfold)",
    )
    p.add_argument("--test-data", type=Path, default=None,
                   help="train on --data, score on this data set instead of cross-validating")
    p.add_argument("--test-format", choices=sorted(FORMATS), default=None,
                   help="layout of --test-data ('embedded': the embedded data)")
    p.add_argument("--output-dir", type=Path, default=Path("reports"),
                   help="folder of the JSON report and the confusion-matrix PNG")
    add_n_jobs_argument(p, "face tubes and folds in parallel (joblib)")
    p.set_defaults(func=run_evaluate)


def add_folds_argument(p, help: str) -> None:
    """``--folds``: at least 2, by argparse, for every command that takes it."""
    p.add_argument("--folds", type=int_at_least(2, "one test fold and one to train on"),
                   default=None, help=help)


def add_n_jobs_argument(p, help: str) -> None:
    """``--n-jobs``: joblib's, 0 refused by argparse."""
    p.add_argument("--n-jobs", type=n_jobs, default=None, help=help + "; -1: every core")


def load_data(
    fmt: str, path: Path | None, args: argparse.Namespace | None = None, flag: str = ""
):
    """Load ``(bunch, name)`` for a ``--format`` value; ``path`` is None for embedded.

    ``flag`` is ``""`` for ``--data``/``--format`` and ``"test-"`` for their ``--test-``
    twins, as the messages name them.

    Raises
    ------
    ValueError
        If ``path`` is missing for a format that needs one.
    FileNotFoundError, NotADirectoryError
        If ``path`` does not exist, or is a file where the format reads a folder.
    """
    from .. import datasets

    kwargs = {}
    if fmt == "fer2013" and args is not None:
        kwargs = {k: v for k in _FER2013_OPTIONS if (v := getattr(args, k, None)) is not None}
    if fmt == "embedded":
        seed = 0 if args is None else args.random_state
        # 10 subjects: one per fold of the default 10-fold subject-independent protocol.
        bunch = datasets.make_expressions(n_subjects=10, random_state=seed)
        return bunch, "embedded synthetic data"
    if path is None:
        raise ValueError(f"--{flag}format {fmt} needs --{flag}data DIR")
    if not path.exists():
        raise FileNotFoundError(f"--{flag}data {path} does not exist")
    if fmt != "fer2013" and not path.is_dir():
        # FER2013 is a CSV file or a folder; the others are folders.
        raise NotADirectoryError(f"--{flag}data {path} is a file; --{flag}format {fmt} "
                                 "reads a folder")
    loader = {
        "ckplus48": datasets.load_ckplus48,
        "ckplus": datasets.load_ckplus,
        "fer2013": datasets.load_fer2013,
        "jaffe": datasets.load_jaffe,
        "folder": datasets.load_folder,
    }[fmt]
    return loader(path, **kwargs), str(path)


#: Options only the FER2013 loader takes.
_FER2013_OPTIONS = ("subset", "max_per_class")


def check_format_options(args: argparse.Namespace, *formats: str | None) -> None:
    """Refuse ``--subset`` / ``--max-per-class`` when no data set read is FER2013.

    Other loaders have no such parameter: the option would be ignored without a word.
    """
    if "fer2013" in formats:
        return
    for option in _FER2013_OPTIONS:
        if getattr(args, option, None) is not None:
            used = ", ".join(sorted({f or "embedded" for f in formats}))
            raise ValueError(
                f"--{option.replace('_', '-')} is for --format fer2013 only (here: {used})"
            )


def _default_folds(groups, folds: int = 10) -> int:
    """10 folds, or leave-one-subject-out when there are fewer than 10 subjects."""
    if groups is None:
        return folds
    n_subjects = len(set(groups))
    if n_subjects < folds:
        print(f"note: {n_subjects} subjects, so {n_subjects} folds (leave one subject out)")
        return max(n_subjects, 2)
    return folds


def _extract_face_tubes(
    clips, progress: bool, n_jobs: int | None = None, margin: float = 0.0
) -> tuple[ClipSet, dict[str, int]]:
    """Face tubes of all clips, and how many frames were detected, tracked, filled, missing.

    The extractor learns nothing from the data, so taking every clip's tube once before the
    folds gives exactly what the same step would give inside each fold, without repeating
    the detection in every fold. ``n_jobs`` clips are processed in parallel (joblib, so
    ``joblib.parallel_backend("dask")`` sends them to a Dask cluster). ``margin``: the
    model's face framing (:func:`skfer.models.face_tube_step`).
    """
    from joblib import effective_n_jobs

    from ..clipset import FRAME_STATUSES as STATUSES
    from ..clipset import ClipSet
    from ..models import face_tube_step

    start = time.perf_counter()
    extractor = face_tube_step(margin).fit()
    if effective_n_jobs(n_jobs) == 1:
        pairs = extractor.iter_transform(clips)
    else:
        pairs = _parallel_tubes(extractor, clips, n_jobs)
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


def _one_tube(extractor, clip):
    tubes, records = extractor.transform_with_info([clip])
    return tubes[0], records[0]


def _parallel_tubes(extractor, clips, n_jobs):
    """``(tube, record)`` per clip, in order, from joblib workers.

    The workers' extractor only records (``on_missing="ignore"``); the extractor's own
    policy is applied here to the records, renumbered by the clip's index in ``clips``,
    so that an error or warning names the clip as :meth:`iter_transform` does (a worker
    sees one clip, index 0, and its warnings would be lost in another process).
    """
    from dataclasses import replace

    from joblib import Parallel, delayed

    from ..utils.frame_policy import apply_policy

    lenient = clone(extractor).set_params(on_missing="ignore").fit()
    done = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_one_tube)(lenient, clip) for clip in clips
    )
    for i, (tube, record) in enumerate(done):
        record.clip_index = i
        record.skipped = tuple(replace(r, clip_index=i) for r in record.skipped)
        # As the extractor: a clip without a trustworthy face, and suspect frames, fall
        # under on_missing; missing frames of a clip with a face are left to the status.
        apply_policy(
            [r for r in record.skipped if r.reason == "inconsistent" or not record.face_found],
            extractor.on_missing, "without a trustworthy face",
            hint="the named models' face tubes need a face in every clip",
        )
        yield tube, record


def add_data_arguments(p, *, test: bool = False) -> None:
    """``--data``/``--format``/``--faces``/... shared by ``skfer evaluate`` and ``skfer train``."""
    p.add_argument("--model", default="hog-svm", help="model name (see `skfer models`)")
    p.add_argument("--data", type=Path, help="data folder (default: embedded data)")
    p.add_argument(
        "--format", choices=sorted(FORMATS), help="layout of --data (required with --data)"
    )
    p.add_argument(
        "--faces",
        choices=("auto", "detect", "given"),
        default="auto",
        help="detect face tubes first, or take clips as face crops (auto: by format)",
    )
    p.add_argument("--subset", default=None, help="fer2013 CSV subset or class-folder split")
    p.add_argument(
        "--max-per-class", type=int_at_least(1), default=None,
        help="keep the first N clips of each class (fer2013)",
    )
    p.add_argument(
        "--device", default=None,
        help="torch device of network models ('cpu', 'cuda', 'auto'; default: their own)",
    )
    p.add_argument("--random-state", type=int_at_least(0), default=0,
                   help="seed of the synthetic data and of the model (default 0)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def set_device(model, device: str | None) -> list[str]:
    """Set ``device`` on every step of ``model`` that has one; return those steps' names.

    Raises
    ------
    ValueError
        If ``device`` is given and no step has a ``device`` parameter (not a network model),
        or is not a torch device, or is CUDA on a machine without it (found here, not when
        the first fold is fitted after the face tubes).
    """
    steps = [name for name, est in getattr(model, "steps", [])
             if "device" in est.get_params(deep=False)]
    if device is None:
        return steps
    if not steps:
        raise ValueError("--device is for network models; this model has no torch step")
    from ..neural._base import resolve_device

    resolve_device(device)
    model.set_params(**{f"{name}__device": device for name in steps})
    return steps


def check_data_args(fmt: str | None, path: Path | None, flag: str = "") -> str:
    """Check a ``--data``/``--format`` pair without loading anything; return the format.

    Raises
    ------
    ValueError
        A path without a format, a format that needs a path without one, or the embedded
        data with a path.
    """
    if path is not None and fmt is None:
        raise ValueError(
            f"--{flag}data needs --{flag}format (one of " + ", ".join(FORMATS) + ")"
        )
    fmt = fmt or "embedded"
    if fmt == "embedded" and path is not None:
        raise ValueError(f"--{flag}format embedded takes no --{flag}data")
    if fmt != "embedded" and path is None:
        raise ValueError(f"--{flag}format {fmt} needs --{flag}data DIR")
    return fmt


def prepare_data(
    args: argparse.Namespace, fmt: str | None, path: Path | None, flag: str = ""
):
    """Load a data set: ``(bunch, name, fmt, faces)``.

    ``faces`` is ``"detect"`` where the clips are whole frames (see
    :func:`extract_if_needed`), ``"given"`` for face crops; ``flag`` is ``""`` for
    ``--data``/``--format`` and ``"test-"`` for ``--test-data``/``--test-format``.
    """
    fmt = check_data_args(fmt, path, flag)
    bunch, data_name = load_data(fmt, path, args, flag)
    faces = FORMATS[fmt] if args.faces == "auto" else args.faces
    return bunch, data_name, fmt, faces


def extract_if_needed(bunch, faces: str, progress: bool, n_jobs: int | None = None,
                      margin: float = 0.0):
    """``(clips, tube_counts)``: face tubes of whole-frame data, the clips themselves else."""
    if faces == "detect":
        return _extract_face_tubes(bunch.data, progress=progress, n_jobs=n_jobs, margin=margin)
    return bunch.data, None


def run_evaluate(args: argparse.Namespace) -> int:
    from ..evaluation import evaluate
    from ..models import make_model

    # Validate the arguments, the model name, the device and the output folder before
    # loading data and extracting faces: a mistake costs seconds, not the whole run.
    holdout = args.test_format is not None or args.test_data is not None
    if holdout and (args.folds is not None or args.protocol is not None):
        raise ValueError("--folds and --protocol are for cross-validation; with --test-data "
                         "the model is trained on --data and scored on --test-data once")
    args.protocol = args.protocol or "groupkfold"
    check_format_options(args, args.format, args.test_format if holdout else args.format)
    check_data_args(args.format, args.data)
    if holdout:
        check_data_args(args.test_format, args.test_data, "test-")
    check_output_dir(args.output_dir, "--output-dir")
    fitted = _fitted_model(args.model)
    if fitted is not None:
        # A shipped network or a saved model: scored on --test-data, never trained.
        if not holdout or args.data is not None:
            raise ValueError(
                f"--model {args.model} is already fitted: give --test-data/--test-format to "
                "score it (and no --data: it is not trained again)"
            )
        return _score_fitted(args, fitted)
    model = make_model(args.model, faces="given", random_state=args.random_state)
    set_device(model, args.device)
    bunch, data_name, fmt, faces = prepare_data(args, args.format, args.data)
    if holdout:
        test = prepare_data(args, args.test_format, args.test_data, "test-")
    print(f"data: {data_name}: {len(bunch.data)} clips; model {args.model} (faces: {faces})")
    clips, tube_counts = extract_if_needed(bunch, faces, not args.no_progress, args.n_jobs)
    if holdout:
        report = _holdout(args, model, clips, bunch, data_name, test)
        fmt = f"{fmt}_to_{test[2]}"
    else:
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
        report.extra.update({"protocol": args.protocol})
    report.extra.update({"data": data_name, "format": fmt, "faces": faces})
    if args.device is not None:
        report.extra["device"] = args.device
    if tube_counts is not None:
        report.extra["face_tube_frames"] = tube_counts
    suffix = "" if args.protocol == "groupkfold" or "_to_" in fmt else f"_{args.protocol}"
    return _write_report(args, report, f"{args.model}_{fmt}{suffix}")


def _write_report(args, report, stem: str) -> int:
    print(report.summary())
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)
    # The PNG first: a report JSON on disk means the run finished (each file is atomic).
    png_path = report.save_confusion_png(args.output_dir / f"{stem}_confusion.png")
    json_path = report.save_json(args.output_dir / f"{stem}.json")
    print(f"\nreport: {json_path}\nconfusion matrix: {png_path}")
    return 0


def _fitted_model(name: str):
    """``(model, description, margin)`` when ``--model`` names a fitted model, else ``None``.

    A named model that comes trained (a shipped network of :mod:`skfer.pretrained`) or
    the path of a model file written by ``skfer train`` (:func:`skfer.load_model`, its card
    checked). ``margin``: the face framing of its training images.
    """
    from ..models import MODELS, make_model

    if name in MODELS:
        spec = MODELS[name]
        if not spec.fitted:
            return None
        return make_model(name), f"shipped network {name}", spec.margin
    if name.endswith(".joblib") or Path(name).is_file():
        from .._model_card import load_model

        model, _card = load_model(name)
        return model, f"model file {name}", 0.0
    return None


def _score_fitted(args, fitted) -> int:
    from ..evaluation import evaluate_holdout

    model, what, margin = fitted
    set_device(model, args.device)
    test_bunch, test_name, test_fmt, test_faces = prepare_data(
        args, args.test_format, args.test_data, "test-"
    )
    print(f"test data: {test_name}: {len(test_bunch.data)} clips; {what} (faces: "
          f"{test_faces})")
    clips, counts = extract_if_needed(test_bunch, test_faces, not args.no_progress,
                                      args.n_jobs, margin)
    report = evaluate_holdout(model, clips, test_bunch.target, groups_test=test_bunch.groups,
                              name=args.model, test_name=test_name)
    report.extra.update({"data": test_name, "format": test_fmt, "faces": test_faces})
    if counts is not None:
        report.extra["test_face_tube_frames"] = counts
    return _write_report(args, report, f"{Path(args.model).stem}_{test_fmt}")


def _holdout(args, model, clips, bunch, data_name, test):
    """Fit on the whole training set, score on the test set: a one-"fold" report."""
    from ..evaluation import evaluate_holdout

    test_bunch, test_name, _, test_faces = test
    print(f"test data: {test_name}: {len(test_bunch.data)} clips (faces: {test_faces})")
    test_clips, test_counts = extract_if_needed(
        test_bunch, test_faces, not args.no_progress, args.n_jobs
    )
    report = evaluate_holdout(model, test_clips, test_bunch.target, X_train=clips,
                              y_train=bunch.target, groups_test=test_bunch.groups,
                              name=args.model, train_name=data_name, test_name=test_name)
    if test_counts is not None:
        report.extra["test_face_tube_frames"] = test_counts
    return report
