"""Checks shared by the readers: the path names a readable, non-empty file.

Each reader calls :func:`check_file` first, so every reader answers a missing file, a folder,
an unreadable file and an empty file the same way, naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["check_count", "check_file"]


def check_file(path: str | os.PathLike, what: str, folder_hint: str = "") -> Path:
    """Return ``path`` as a ``Path`` after checking it is a readable, non-empty file.

    Parameters
    ----------
    path : str or path-like
    what : str
        What the file should be, for the messages (``"image"``, ``"video"``).
    folder_hint : str
        Appended to the message when ``path`` is a folder (which reader to use instead).

    Raises
    ------
    FileNotFoundError
        If nothing exists at ``path``.
    IsADirectoryError
        If ``path`` is a folder.
    PermissionError
        If the file cannot be read (permissions).
    ValueError
        If it is not a regular file (a FIFO, a device) or is empty (0 bytes).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} file {path} does not exist")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not {_a(what)} file{folder_hint}")
    if not path.is_file():
        raise ValueError(f"{path} is not a regular file (a pipe, socket or device), "
                         f"cannot read it as {_a(what)}")
    if not os.access(path, os.R_OK):
        raise PermissionError(f"{what} file {path} is not readable (permission denied)")
    if path.stat().st_size == 0:
        raise ValueError(f"{what} file {path} is empty (0 bytes)")
    return path


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def check_count(value: object, name: str) -> int | None:
    """Validate a "keep at most this many" parameter: ``None`` (all) or an int >= 1.

    One rule for every reader and loader (``max_frames``, ``max_per_class``,
    ``last_frames``): a negative value would slice from the end (silently dropping the last
    items) and 0 would keep nothing, so both are errors.

    >>> check_count(None, "max_frames"), check_count(3, "max_frames")
    (None, 3)
    >>> check_count(-1, "max_per_class")
    Traceback (most recent call last):
    ...
    ValueError: max_per_class must be a positive integer or None (all), got -1: ...

    Raises
    ------
    TypeError
        If ``value`` is not an integer (``bool`` and floats included).
    ValueError
        If ``value`` < 1.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be a positive integer or None (all), got "
                        f"{type(value).__name__} {value!r}")
    if value < 1:
        why = ("a negative count would drop items from the end" if value < 0
               else "0 would keep nothing")
        raise ValueError(f"{name} must be a positive integer or None (all), got {value}: {why}")
    return int(value)
