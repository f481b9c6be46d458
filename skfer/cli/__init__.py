"""The ``skfer`` command.

``skfer train`` fits a named model on a whole data set and saves it with a model card;
``skfer predict`` runs a saved model on videos, images and folders (per-frame CSV/JSON,
timeline plots, annotated videos).
``skfer evaluate`` cross-validates a named model subject-independently on the embedded
synthetic data set (default) or on a data folder, prints accuracy (mean ± std over folds),
per-class recall and the confusion matrix, and writes a JSON report and a confusion-matrix
PNG. ``skfer models`` lists the named models.
"""

from __future__ import annotations

import argparse
import sys

from .evaluate import add_evaluate_parser
from .predict import add_predict_parser
from .train import add_train_parser

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skfer", description="Facial expression recognition with scikit-learn."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_evaluate_parser(sub)
    add_train_parser(sub)
    add_predict_parser(sub)
    models = sub.add_parser("models", help="list the named models")
    models.set_defaults(func=_list_models)
    return parser


def _list_models(args: argparse.Namespace) -> int:
    from ..models import MODELS

    for name, spec in MODELS.items():
        print(f"{name:<12} {spec.description}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``skfer`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    # Anticipated problems (bad arguments, unreadable data or model, unwritable output):
    # one line on stderr and status 2; anything else is a bug and keeps its traceback.
    except (ValueError, OSError, ImportError) as exc:
        print(f"skfer {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
