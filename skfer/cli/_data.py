"""The data and model arguments of ``skfer evaluate`` and ``skfer train``.

Both commands read a data set by layout (``--data``/``--format``) and build a named model
(``--model``, ``--device``); the arguments are declared once here and checked, before any
data is read, by the library's own checks with the flags' names in their messages
(:func:`skfer.datasets._formats.check_data_format`, :func:`skfer.models.set_device`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._args import int_at_least

__all__ = [
    "add_data_arguments",
    "check_data_arguments",
    "library_options",
]

#: How messages name the FER2013 loader's options (the library names them as parameters).
_OPTION_FLAGS = {"subset": "--subset", "max_per_class": "--max-per-class"}


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """``--model``/``--data``/``--format``/``--faces``/... of both commands."""
    from ..datasets import DATA_FORMATS
    from ..experiment import FACES

    p.add_argument("--model", default="hog-svm", help="model name (see `skfer models`)")
    p.add_argument("--data", type=Path, help="data folder (default: embedded data)")
    p.add_argument(
        "--format", choices=sorted(DATA_FORMATS), help="layout of --data (required with --data)"
    )
    p.add_argument(
        "--faces",
        choices=FACES,
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


def check_data_arguments(args: argparse.Namespace, *, test: bool = False) -> None:
    """Refuse data, model and device arguments that do not go together, naming the flags.

    The library checks the same again, naming its parameters; checked here first so that a
    mistake costs seconds, not the loading of a data set, and the message says ``--data``.

    Raises
    ------
    ValueError
        FER2013's options on another layout, a path without a layout (or the reverse),
        ``--device`` for a named model without a network or a device torch does not know.
    FileNotFoundError, NotADirectoryError
        A ``--data`` or ``--test-data`` that does not exist, or is a file where the layout
        reads a folder.
    """
    from ..datasets._formats import check_data_format, check_format_options
    from ..models import MODELS, make_model, set_device

    formats = [args.format, args.test_format] if test else [args.format]
    check_format_options(vars(args), formats, names=_OPTION_FLAGS, format_name="--format")
    check_data_format(args.format, args.data, names=("--format", "--data"))
    if test:
        check_data_format(args.test_format, args.test_data, names=("--test-format", "--test-data"))
    spec = MODELS.get(args.model)
    if args.device is not None and spec is not None and not spec.fitted:
        # An unfitted named model is built in microseconds; a shipped network or a model
        # file is loaded once, by the library, which checks the device then.
        set_device(make_model(args.model), args.device, name="--device")


def library_options(args: argparse.Namespace) -> dict:
    """The keyword arguments both library functions take, from the parsed arguments."""
    return {
        "faces": args.faces,
        "device": args.device,
        "subset": args.subset,
        "max_per_class": args.max_per_class,
        "random_state": args.random_state,
        "n_jobs": args.n_jobs,
        "progress": not args.no_progress,
        "verbose": True,
    }
