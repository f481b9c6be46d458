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
import os
import sys
import warnings

from ._args import OneLineParser
from .evaluate import add_evaluate_parser
from .predict import add_predict_parser
from .train import add_train_parser

__all__ = ["ANTICIPATED", "build_parser", "main", "one_line"]

#: Errors that mean the arguments, the files or the machine are not what the command needs
#: (bad values, unreadable or malformed data, a model file that is not one, an unwritable
#: folder, a missing optional library). ``main`` turns them into one line on stderr and exit
#: status 2. ``ValueError`` covers scikit-learn's ``InvalidParameterError`` and
#: ``NotFittedError`` and skfer's ``SkippedFramesError``; ``OSError`` covers
#: ``FileNotFoundError``, ``PermissionError``, ``IsADirectoryError``, ``NotADirectoryError``
#: and a full disk. Anything else (``TypeError``, ``KeyError``, ``AttributeError``...) is a bug
#: and keeps its traceback.
ANTICIPATED: tuple[type[BaseException], ...] = (ValueError, OSError, ModuleNotFoundError)

#: Exit status of an interrupted command (128 + SIGINT, as shells report it).
INTERRUPTED = 130

_DEBUG_HELP = "show the traceback of an error instead of one line (or set SKFER_DEBUG=1)"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="skfer", description="Facial expression recognition with scikit-learn."
    )
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    # Subcommand parsers are OneLineParsers too (argparse builds them with the parent's class).
    sub = parser.add_subparsers(dest="command", required=True)
    add_evaluate_parser(sub)
    add_train_parser(sub)
    add_predict_parser(sub)
    models = sub.add_parser("models", help="list the named models")
    models.set_defaults(func=_list_models)
    for command in sub.choices.values():
        # Also after the command (`skfer evaluate ... --debug`); SUPPRESS keeps the top
        # level's value when it is not given there.
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help=_DEBUG_HELP)
    parser.set_defaults(commands=sub.choices)
    return parser


def _list_models(args: argparse.Namespace) -> int:
    from ..models import MODELS

    width = max(map(len, MODELS))
    for name, spec in MODELS.items():
        print(f"{name:<{width}}  {spec.description}")
    return 0


def one_line(exc: BaseException) -> str:
    """The exception's message and notes on one line (scikit-learn's and others span several).

    How ``skfer`` prints an anticipated error; for a program of one's own that wraps skfer.

    Notes (``add_note``) say where an error comes from (the ensemble member, the Optuna
    trial), which the message of the step that raised it cannot know.

    >>> err = ValueError("Input contains NaN\\n  in X")
    >>> err.add_note("raised by ensemble member 'svm'")
    >>> one_line(err)
    "Input contains NaN in X; raised by ensemble member 'svm'"
    """
    parts = [str(exc), *getattr(exc, "__notes__", ())]
    lines = [" ".join(x.strip() for x in part.splitlines() if x.strip()) for part in parts]
    return "; ".join(line for line in lines if line) or type(exc).__name__


def _show_warning(command: str):
    def show(message, category, filename, lineno, file=None, line=None):
        # One line per warning, as errors are; where it was raised says nothing to a user.
        text = " ".join(str(message).split())
        print(f"skfer {command}: warning: {text}", file=sys.stderr)

    return show


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``skfer`` console script; returns the exit status.

    An anticipated error (:data:`ANTICIPATED`, bad arguments included) is one line on stderr,
    ``skfer <command>: error: <message>``, and status 2; an interrupt (Ctrl-C) is
    ``skfer <command>: interrupted`` and status 130, having left no partial output file
    (they are all written atomically, :mod:`skfer.utils._atomic`). ``--debug`` or
    ``SKFER_DEBUG=1`` re-raises instead, for the traceback. Any other exception is a bug and
    propagates with its traceback.
    """
    try:
        args, extra = build_parser().parse_known_args(argv)
        if extra:  # reported by the command's parser, so the line names the command
            args.commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # --help, or a bad argument (already reported in one line)
        return exc.code if isinstance(exc.code, int) else 2
    debug = args.debug or os.environ.get("SKFER_DEBUG", "") not in ("", "0")
    prefix = f"skfer {args.command}"
    try:
        with warnings.catch_warnings():
            if not debug:
                warnings.showwarning = _show_warning(args.command)
            return args.func(args)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prefix}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except ANTICIPATED as exc:
        if debug:
            raise
        print(f"{prefix}: error: {one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
