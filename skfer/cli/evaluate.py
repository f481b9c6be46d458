"""``skfer evaluate``: subject-independent k-fold evaluation of a named model.

The work is :func:`skfer.experiment.evaluate_model`'s; this module declares the arguments,
refuses those that do not go together by their flags, and writes the report.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ..utils._atomic import check_output_dir
from ._args import add_folds_argument, add_n_jobs_argument
from ._data import add_data_arguments, check_data_arguments, library_options

__all__ = ["add_evaluate_parser", "run_evaluate"]


def add_evaluate_parser(sub) -> None:
    from ..datasets import DATA_FORMATS
    from ..experiment import PROTOCOLS

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
    p.add_argument("--test-format", choices=sorted(DATA_FORMATS), default=None,
                   help="layout of --test-data ('embedded': the embedded data)")
    p.add_argument("--output-dir", type=Path, default=Path("reports"),
                   help="folder of the JSON report and the confusion-matrix PNG")
    add_n_jobs_argument(p, "face tubes and folds in parallel (joblib)")
    p.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    from ..experiment import evaluate_model

    # The arguments and the output folder are checked before any data is read: a mistake
    # costs seconds, not the whole run.
    holdout = args.test_format is not None or args.test_data is not None
    if holdout and (args.folds is not None or args.protocol is not None):
        raise ValueError("--folds and --protocol are for cross-validation; with --test-data "
                         "the model is trained on --data and scored on --test-data once")
    check_data_arguments(args, test=holdout)
    check_output_dir(args.output_dir, "--output-dir")
    report = evaluate_model(
        args.model, args.format, args.data, test_format=args.test_format,
        test_path=args.test_data, n_splits=args.folds, protocol=args.protocol,
        **library_options(args),
    )
    print(report.summary())
    protocol = report.extra.get("protocol", "groupkfold")
    suffix = "" if protocol == "groupkfold" else f"_{protocol}"
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_",
                  f"{Path(args.model).stem}_{report.extra['format']}{suffix}")
    # The PNG first: a report JSON on disk means the run finished (each file is atomic).
    png_path = report.save_confusion_png(args.output_dir / f"{stem}_confusion.png")
    json_path = report.save_json(args.output_dir / f"{stem}.json")
    print(f"\nreport: {json_path}\nconfusion matrix: {png_path}")
    return 0
