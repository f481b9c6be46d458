"""Shared helpers of the data set loaders: folder checks and the common ``Bunch`` layout."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from ..io._files import check_count
from ..io.images import IMAGE_EXTENSIONS
from ._labels import canonical_label

__all__ = ["check_count", "check_folder", "class_folders", "make_bunch"]


def check_folder(path: str | os.PathLike, what: str) -> Path:
    """Return ``path`` as a ``Path``; raise if it is missing, not a folder or empty."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} folder {path} does not exist")
    if not path.is_dir():
        raise NotADirectoryError(f"{what}: {path} is not a folder")
    if not any(path.iterdir()):
        raise ValueError(f"{what} folder {path} is empty")
    return path


def class_folders(path: Path, what: str) -> list[Path]:
    """The class subfolders of ``path`` in sorted order (hidden entries ignored).

    Raises
    ------
    ValueError
        If ``path`` holds no class subfolder, or holds image files directly (a file where a
        class folder is expected: it would be left out of the data set silently). Other files
        (``index.csv``, ``groups.csv``, a README) are allowed.
    """
    folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    stray = sorted(p.name for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in IMAGE_EXTENSIONS)
    if stray:
        raise ValueError(f"{what} folder {path} holds {len(stray)} image file(s) outside the "
                         f"class folders ({', '.join(stray[:3])}); move each into its class "
                         "folder")
    if not folders:
        raise ValueError(f"{what} folder {path} holds no class subfolder")
    return folders


def make_bunch(
    data: list,
    source_labels: Sequence[str],
    *,
    source_target_names: Sequence[str],
    filenames: Sequence[str],
    groups: Sequence[Any] | None,
    descr: str,
    label_files: Sequence[str] | None = None,
    **extra: Any,
) -> Bunch:
    """Build the loaders' common ``Bunch``.

    ``target`` holds the canonical names (:func:`skfer.datasets._labels.canonical_label`) of
    ``source_labels``; ``target_names`` the canonical names in the set's own order
    ``source_target_names``. Every per-sample field must have one entry per clip. An unknown
    label raises naming the first file carrying it (``label_files``, default ``filenames``).
    """
    n = len(data)
    if n == 0:
        raise ValueError("the data set holds no sample")
    label_files = filenames if label_files is None else label_files
    first_file = {}
    for label, file in zip(source_labels, label_files):
        first_file.setdefault(label, file)
    mapping = {name: canonical_label(name, source=str(first_file.get(name, "class names")))
               for name in list(first_file) + list(source_target_names)}
    target = np.array([mapping[label] for label in source_labels], dtype=object).astype(str)
    per_sample = {"target": target, "filenames": filenames}
    if groups is not None:
        per_sample["groups"] = groups
    per_sample.update({k: v for k, v in extra.items() if k in _PER_SAMPLE and v is not None})
    for key, values in per_sample.items():
        if len(values) != n:  # a loader bug, not a user error
            raise AssertionError(f"{key} has {len(values)} entries for {n} clips")
    return Bunch(
        data=data,
        target=target,
        groups=None if groups is None else np.asarray(groups),
        target_names=np.array([mapping[s] for s in source_target_names]),
        source_target_names=np.array(list(source_target_names)),
        filenames=np.array([str(f) for f in filenames]),
        DESCR=descr,
        **extra,
    )


# Extra fields that have one entry per clip and are length-checked by make_bunch.
_PER_SAMPLE = frozenset({
    "landmarks", "boxes", "frame_ids", "audio", "fps", "sequences", "usage", "skipped", "speaker",
})
