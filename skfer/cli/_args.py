"""Argument types and checks shared by every ``skfer`` command.

Numbers and paths are refused by ``argparse`` itself, before any data is loaded, so one
rule holds for every command that takes the option (``--folds 1``, ``--max-per-class -1``,
``--n-jobs 0``, an ``--output-dir`` that is a file...), and the error is the one line
``skfer <command>: error: argument --x: ...``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn

__all__ = [
    "OneLineParser",
    "add_folds_argument",
    "add_n_jobs_argument",
    "int_at_least",
    "n_jobs",
]


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr (no usage block), status 2.

    ``argparse`` prints the whole usage before the error; with a dozen options that buries
    the line that says what is wrong. The line points to ``--help`` instead.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise SystemExit(status)


def int_at_least(low: int, why: str = "") -> Callable[[str], int]:
    """An argparse type: an integer ``>= low``.

    >>> int_at_least(2)("3")
    3
    >>> int_at_least(2, "a test fold and a training fold")("1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be an integer >= 2 (a test fold and a training fold), got 1
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < low:
            because = f" ({why})" if why else ""
            raise argparse.ArgumentTypeError(
                f"must be an integer >= {low}{because}, got {value}"
            )
        return value

    parse.__name__ = f"integer >= {low}"  # argparse names the type in some messages
    return parse


def n_jobs(text: str) -> int:
    """An argparse type: joblib's ``n_jobs``, a non-zero integer (-1: every core).

    >>> n_jobs("-1"), n_jobs("2")
    (-1, 2)
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError(
            "must be a positive number of workers or -1 for every core (-2: all but one), got 0"
        )
    return value


def add_folds_argument(p: argparse.ArgumentParser, help: str) -> None:
    """``--folds``: at least 2, by argparse, for every command that takes it."""
    p.add_argument("--folds", type=int_at_least(2, "one test fold and one to train on"),
                   default=None, help=help)


def add_n_jobs_argument(p: argparse.ArgumentParser, help: str) -> None:
    """``--n-jobs``: joblib's, 0 refused by argparse."""
    p.add_argument("--n-jobs", type=n_jobs, default=None, help=help + "; -1: every core")
