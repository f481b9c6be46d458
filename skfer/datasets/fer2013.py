"""Loader of FER2013 (Goodfellow et al. 2013), from its CSV file or from class folders.

The data is not shipped with skfer (research-only licence): obtain it from its authors.
"""

from __future__ import annotations

import csv
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ..io.images import list_images, read_image
from ._bunch import check_count, check_folder, class_folders, make_bunch

__all__ = ["FER2013_CODES", "load_fer2013"]

#: FER2013 emotion codes of the CSV ``emotion`` column, in code order.
FER2013_CODES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

_SIDE = 48
_USAGES = ("Training", "PublicTest", "PrivateTest")
# Folder names of the split in the class-folder layout.
_SPLIT_FOLDERS = {
    "Training": ("train", "training", "Training"),
    "PublicTest": ("publictest", "PublicTest", "val", "validation"),
    "PrivateTest": ("privatetest", "PrivateTest", "test"),
}

_DESCR = """FER2013 (ICML 2013 representation learning challenge)
-----------------------------------------------------
Read from {source}: {n} grey 48x48 face images, each a one-frame clip; splits {splits}.
Collected by Google image search; ``Usage`` splits Training (28,709), PublicTest (3,589, used
as validation) and PrivateTest (3,589). FER2013 has no subject ids: ``groups`` is None, so
subject-independent cross-validation is impossible (the same person may appear in several
splits).

Goodfellow, I. J., Erhan, D., Carrier, P. L., et al. (2013). Challenges in representation
learning: A report on three machine learning contests. ICONIP 2013, LNCS 8228, 117-124.
"""


def load_fer2013(
    path: str | os.PathLike,
    *,
    subset: str | None = None,
    max_per_class: int | None = None,
    n_jobs: int | None = None,
) -> Bunch:
    """Load FER2013 from ``fer2013.csv`` or from a folder of class folders.

    Parameters
    ----------
    path : str or path-like
        Either the original ``fer2013.csv`` (columns ``emotion`` with codes 0 angry, 1 disgust,
        2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral; ``pixels``, 2304 space-separated grey
        values; ``Usage``), a folder holding ``fer2013.csv``, a folder of class folders
        (``angry``, ``disgust``, ...) of 48x48 images, or a folder of split folders
        (``train``, ``publictest``, ...) each of class folders.
    subset : {"Training", "PublicTest", "PrivateTest"}, optional
        The split to load. ``None`` loads the whole CSV, or ``path`` itself as one split
        folder. With split folders, ``subset`` picks ``train``/``publictest``/``privatetest``.
    max_per_class : int, optional
        Keep the first ``max_per_class`` images of each class (CSV row order, or sorted file
        names), for quick experiments. ``None`` keeps all; it must be >= 1 (0 and negative
        values are errors, not empty or end-dropping slices).
    n_jobs : int, optional
        Threads decoding image files (folder layout; OpenCV releases the GIL). ``None`` is 1.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data``: list of ``(1, 48, 48)`` uint8 clips (views of one array, also in ``images``,
        ``(n, 48, 48)``); ``target``: canonical labels; ``groups``: None (no subject ids);
        ``target_names`` / ``source_target_names``: canonical and FER2013 names in code order;
        ``filenames``: image files, or ``fer2013.csv:row<k>`` (k counts data rows from 0);
        ``usage``: the split of each image; ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the CSV lacks a column, has a malformed ``pixels`` row or an unknown code (naming the
        data row and the file's physical line, blank lines counted), if a class folder name is
        unknown, a class folder holds no image, an image lies outside the class folders, or an
        image is unreadable or not 48x48 (naming the file), if ``max_per_class`` < 1, or if
        nothing is left to load.
    TypeError
        If ``max_per_class`` is not an integer.
    """
    if subset is not None and subset not in _USAGES:
        raise ValueError(f"subset must be one of {_USAGES} or None, got {subset!r}")
    max_per_class = check_count(max_per_class, "max_per_class")
    path = Path(path)
    if path.is_dir() and (path / "fer2013.csv").is_file():
        path = path / "fer2013.csv"
    if path.is_file():
        images, codes, files, usage = _read_csv(path, subset)
        labels = [FER2013_CODES[c] for c in codes]
    else:
        root = _split_folder(check_folder(path, "FER2013"), subset)
        images, labels, files = _read_folders(root, max_per_class, n_jobs)
        usage = [subset or root.name] * len(labels)
        max_per_class = None  # already applied per folder
    if max_per_class is not None:
        keep = _first_per_class(labels, max_per_class)
        images, files = images[keep], [files[i] for i in keep]
        labels, usage = [labels[i] for i in keep], [usage[i] for i in keep]
    if len(labels) == 0:
        raise ValueError(f"no FER2013 image in {path} for subset={subset!r}")
    bunch = make_bunch(
        list(images[:, None]), labels, source_target_names=FER2013_CODES, filenames=files,
        groups=None, usage=np.array(usage),
        descr=_DESCR.format(source=path, n=len(labels), splits=sorted(set(usage))),
    )
    bunch.images = images
    return bunch


def _first_per_class(labels: list[str], k: int) -> list[int]:
    seen: dict[str, int] = {}
    keep = []
    for i, lab in enumerate(labels):
        if seen.get(lab, 0) < k:
            seen[lab] = seen.get(lab, 0) + 1
            keep.append(i)
    return keep


def _read_csv(
    path: Path, subset: str | None
) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        for col in ("emotion", "pixels"):
            if col not in header:
                raise ValueError(f"{path} lacks the column {col!r} (header {header})")
        # Plain str.split is ~10x faster than the csv module on 90 MB of pixels; rows with
        # quotes (other writers) go through the csv module. Blank lines are skipped, so each
        # row keeps its physical line number (the header is line 1) for the messages.
        rows, lines = [], []
        for number, line in enumerate(fh, start=2):
            if line.strip():
                rows.append(line.rstrip("\r\n").split(",") if '"' not in line
                            else next(csv.reader([line])))
                lines.append(number)
    ie, ip = header.index("emotion"), header.index("pixels")
    iu = header.index("Usage") if "Usage" in header else None
    usage = [r[iu] if iu is not None and len(r) > iu else "" for r in rows]
    rows_idx = [i for i, u in enumerate(usage) if subset is None or u == subset]
    pixels = [rows[i][ip] if len(rows[i]) > ip else "" for i in rows_idx]
    # Vectorised parse: one C-level split of all rows; a token count per row locates bad rows.
    counts = np.array([p.count(" ") + 1 if p.strip() else 0 for p in pixels])
    bad = np.flatnonzero(counts != _SIDE * _SIDE)
    if bad.size:
        k = rows_idx[bad[0]]
        raise ValueError(f"{path} data row {k} (line {lines[k]}): pixels holds {counts[bad[0]]} "
                         f"values, expected {_SIDE * _SIDE}")
    try:
        # C-level parse of all rows at once; no Python object per pixel (66M for FER2013).
        flat = np.fromstring(" ".join(pixels), dtype=np.int32, sep=" ")
    except ValueError:
        k = next(rows_idx[j] for j, p in enumerate(pixels)
                 if not all(t.isdigit() for t in p.split()))
        raise ValueError(f"{path} data row {k} (line {lines[k]}): pixels holds a value that is not "
                         "an integer") from None
    if flat.size != len(pixels) * _SIDE * _SIDE:  # double spaces shift the token count
        k = next(rows_idx[j] for j, p in enumerate(pixels) if len(p.split()) != _SIDE * _SIDE)
        raise ValueError(f"{path} data row {k} (line {lines[k]}): pixels is malformed")
    out_of_range = (flat < 0) | (flat > 255)
    if out_of_range.any():
        k = rows_idx[int(np.flatnonzero(out_of_range)[0]) // (_SIDE * _SIDE)]
        raise ValueError(f"{path} data row {k} (line {lines[k]}): a pixel value is outside 0-255")
    codes = []
    for i in rows_idx:
        try:
            code = int(rows[i][ie])
        except ValueError:
            code = -1
        if not 0 <= code < len(FER2013_CODES):
            raise ValueError(f"{path} data row {i} (line {lines[i]}): unknown emotion code "
                             f"{rows[i][ie]!r}, expected 0-6")
        codes.append(code)
    images = flat.astype(np.uint8).reshape(-1, _SIDE, _SIDE)
    return images, np.array(codes), [f"{path.name}:row{i}" for i in rows_idx], \
        [usage[i] for i in rows_idx]


def _split_folder(root: Path, subset: str | None) -> Path:
    if subset is None:
        return root
    for name in _SPLIT_FOLDERS[subset]:
        if (root / name).is_dir():
            return root / name
    raise FileNotFoundError(f"{root} has no folder for subset {subset!r} "
                            f"(looked for {', '.join(_SPLIT_FOLDERS[subset])})")


def _read_folders(root: Path, max_per_class: int | None, n_jobs: int | None
                  ) -> tuple[np.ndarray, list[str], list[str]]:
    files, labels = [], []
    for folder in class_folders(root, "FER2013"):
        found = list_images(folder)
        if not found:
            raise ValueError(f"FER2013 class folder {folder} holds no image")
        if max_per_class is not None:
            found = found[:max_per_class]
        files += found
        labels += [folder.name] * len(found)
    if not files:
        raise ValueError(f"FER2013 folder {root} holds no image in its class folders")

    def read(f: Path) -> np.ndarray:
        img = read_image(f, color=False)
        if img.shape != (_SIDE, _SIDE):
            raise ValueError(f"FER2013 image {f} is {img.shape}, expected 48x48")
        return img

    if n_jobs is not None and n_jobs != 1:
        workers = os.cpu_count() if n_jobs < 0 else n_jobs
        with ThreadPoolExecutor(max_workers=workers) as pool:
            images = list(pool.map(read, files, chunksize=256))
    else:
        images = [read(f) for f in files]
    return np.stack(images), labels, [str(f) for f in files]
