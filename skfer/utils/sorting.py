"""The one natural sort key of skfer: file names and subject ids, numbers as numbers.

Frame images (``frame9.png`` before ``frame10.png``), data-set entries and subject ids
(``S5`` before ``S10``, the CK+ papers' "ascending id" folds) are all ordered by
:func:`natural_key`, so one rule holds wherever skfer sorts names.
"""

from __future__ import annotations

import os
import re
from typing import Any

__all__ = ["natural_key"]

_DIGITS = re.compile(r"(\d+)")


def natural_key(value: Any) -> tuple:
    """Sort key comparing the digit runs of a name as numbers, its text ignoring case.

    ``value`` is a string, a path (its whole path: sort the names of one folder) or
    anything else (by ``str(value)``, so integer ids sort as numbers). Digit runs compare
    by value (``S5 < S10 < S100``; ``S051`` sorts with 51, before ``S51``), text runs
    without regard to case (``Frame2 < frame10``), and a name's digit run before a text run.
    Names that differ only in case or in leading zeros are ordered by their exact text, so
    the order never depends on the input's.

    Parameters
    ----------
    value : str, path-like or object

    Returns
    -------
    key : tuple

    Examples
    --------
    >>> sorted(["frame10.png", "Frame2.png", "frame1.png"], key=natural_key)
    ['frame1.png', 'Frame2.png', 'frame10.png']
    >>> sorted(["S10", "S5", "S100", "S051"], key=natural_key)
    ['S5', 'S10', 'S051', 'S100']
    >>> sorted([10, 9, 100], key=natural_key)
    [9, 10, 100]
    """
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    runs = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part.casefold())
        for part in _DIGITS.split(text)
        if part
    )
    # The exact text only breaks ties between names whose runs are all equal.
    return runs, text
