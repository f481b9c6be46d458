"""``skfer train``: fit a named model on a whole data set and save it with its model card.

The work is :func:`skfer.experiment.train_model`'s; this module declares the arguments,
refuses those that do not go together by their flags, and says what was written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._args import add_folds_argument, add_n_jobs_argument
from ._data import add_data_arguments, check_data_arguments, library_options

__all__ = ["add_train_parser", "run_train"]


def add_train_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="fit a named model on a whole data set and save it (joblib + model card)",
        description=(
            "Fit a named model on every clip of the embedded synthetic data (default) or of "
            "--data DIR, and save the fitted pipeline (joblib) with a model card "
            "(<out stem>.card.json) beside it. A model trained on whole frames starts with "
            "its face-tube extractor, so `skfer predict` runs it on any video."
        ),
    )
    add_data_arguments(p)
    p.add_argument("--out", type=Path, default=Path("model.joblib"), help="model file to write")
    p.add_argument(
        "--evaluate", action="store_true",
        help="cross-validate first (as `skfer evaluate`) and record the score in the card",
    )
    add_folds_argument(p, "folds of --evaluate")
    add_n_jobs_argument(p, "face tubes and --evaluate folds in parallel (joblib)")
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from .._model_card import card_path, check_model_path
    from ..experiment import train_model

    # Arguments, model name, device and the model file's folder are checked before the work.
    if args.folds is not None and not args.evaluate:
        raise ValueError("--folds is the number of folds of --evaluate; add --evaluate")
    check_data_arguments(args)
    check_model_path(args.out, "--out")
    _, card = train_model(
        args.model, args.format, args.data, out=args.out, evaluate_first=args.evaluate,
        n_splits=args.folds, **library_options(args),
    )
    print(f"model: {args.out}\nmodel card: {card_path(args.out)}\n"
          f"classes: {', '.join(card.classes)}; trained on {card.device}")
    return 0
