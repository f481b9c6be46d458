"""Output files that exist whole or not at all, and output folders checked before the work.

Every file skfer writes as a result (evaluation reports and confusion-matrix PNGs, model
files and model cards, ``skfer predict``'s CSV, JSON, timeline PNG and annotated video) is
written to a temporary file in the same folder and renamed over the final name with
:func:`os.replace` once it is complete. A rename within one folder is atomic on POSIX and
Windows, so an interrupt (Ctrl-C, a killed process, a full disk) leaves either the old file,
or the new one whole, never a truncated one; the temporary file is deleted on every error
path that Python sees (a SIGKILL leaves a hidden ``.<name>.<random>.tmp<suffix>`` behind,
never a file of the final name).

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_write(folder / "report.json") as fh:
...     _ = fh.write('{"accuracy": 1.0}')
>>> sorted(p.name for p in folder.iterdir())
['report.json']
>>> try:
...     with atomic_write(folder / "other.json") as fh:
...         _ = fh.write('{"accura')
...         raise KeyboardInterrupt
... except KeyboardInterrupt:
...     pass
>>> sorted(p.name for p in folder.iterdir())
['report.json']
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["AtomicPath", "atomic_path", "atomic_write", "check_output_dir"]


class AtomicPath:
    """A temporary path beside ``path``, renamed to it by :meth:`commit`.

    For writers that open the file themselves (``savefig``, ``joblib.dump``, PyAV,
    ``cv2.imwrite``) or stay open across calls (the annotated-video writer). The temporary
    name keeps the suffix, since such writers choose the format from it.

    Parameters
    ----------
    path : str or path-like
        The final file. Its folder is created if needed.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(4)
        self.tmp = self.path.with_name(f".{self.path.stem}.{token}.tmp{self.path.suffix}")

    def commit(self) -> Path:
        """Rename the finished temporary file to the final name; return the final path."""
        os.replace(self.tmp, self.path)
        return self.path

    def discard(self) -> None:
        """Delete the temporary file (if it was created); the final name is untouched."""
        self.tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it becomes ``path``, else it is deleted.

    ``BaseException`` (``KeyboardInterrupt`` and ``SystemExit`` included) discards it.
    """
    target = AtomicPath(path)
    try:
        yield target.tmp
        target.commit()
    except BaseException:
        target.discard()
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs: Any) -> Iterator[IO]:
    """Open a temporary file for writing; it replaces ``path`` only if the block completes.

    Parameters
    ----------
    path : str or path-like
    mode : {"w", "wb"}
        Text or binary.
    **open_kwargs
        Passed to :func:`open` (``newline=""`` for CSV, ``encoding``...). Text files default
        to UTF-8.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes a new file: mode must be 'w' or 'wb', got {mode!r}")
    if mode == "w":
        open_kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path) as tmp, open(tmp, mode, **open_kwargs) as fh:
        yield fh
        # Flushed and closed by the `with` before the rename: the bytes are all there.


def check_output_dir(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Refuse an output folder that cannot be made or written, before any work is done.

    Nothing is created: the nearest existing folder on the way must be writable, so a run
    that fails later leaves no empty folder behind.

    Parameters
    ----------
    path : str or path-like
        The folder the outputs will go to (it need not exist yet).
    what : str
        How the message names it (``"--output-dir"``...).

    Returns
    -------
    path : Path

    Raises
    ------
    NotADirectoryError
        If ``path`` or one of its parents is an existing file.
    PermissionError
        If the folder (or the nearest existing parent, where it would be created) cannot be
        written.
    """
    path = Path(path)
    existing = path
    while not existing.exists():
        if existing.parent == existing:  # pragma: no cover - the root always exists
            break
        existing = existing.parent
    if not existing.is_dir():
        where = "" if existing == path else f" (its parent {existing} is a file)"
        raise NotADirectoryError(f"{what} {path} is not a folder{where}")
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "" if existing == path else f" (cannot create it in {existing})"
        raise PermissionError(f"{what} {path} is not writable{where}")
    return path
