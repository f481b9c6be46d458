"""Data sets by layout name: the ``--format`` of ``skfer evaluate`` and ``skfer train``.

:func:`load_dataset` reads any layout skfer knows (or makes the embedded synthetic data) by
its name; :data:`DATA_FORMATS` says whether a layout's clips are whole video frames, whose
faces the named models detect first, or face crops. The checks are separate functions
(:func:`check_data_format`, :func:`check_format_options`) that take the names their
messages use, so that the ``skfer`` command refuses its options by their flags before any
data is read, with the same rules as the library.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sklearn.utils import Bunch

__all__ = ["DATA_FORMATS", "check_data_format", "check_format_options", "load_dataset"]

#: The layouts :func:`load_dataset` reads, and how the named models take their clips:
#: ``"detect"``, whole video frames (face tubes are extracted first) or ``"given"``, face
#: crops already (CK+48's and FER2013's 48x48 images), or sound tracks taken as they are
#: (Emo-DB's utterances, for the audio models).
DATA_FORMATS = {
    "embedded": "detect",
    "ckplus48": "given",
    "ckplus": "detect",
    "fer2013": "given",
    "jaffe": "detect",
    "folder": "detect",
    "emodb": "given",
}

#: Options only the FER2013 loader takes (another loader would ignore them silently).
FER2013_OPTIONS = ("subset", "max_per_class")


def check_data_format(
    data_format: str | None,
    path: str | os.PathLike | None,
    *,
    names: tuple[str, str] = ("data_format", "path"),
) -> str:
    """Check a layout name and path pair without reading the data; return the layout.

    Parameters
    ----------
    data_format : str or None
        A key of :data:`DATA_FORMATS`; ``None`` is ``"embedded"`` when ``path`` is None.
    path : str, path-like or None
        The data set's folder (or FER2013's CSV file); ``None`` for the embedded data.
    names : (str, str), default=("data_format", "path")
        How messages name the two (``("--format", "--data")`` for the ``skfer`` command).

    Returns
    -------
    data_format : str

    Raises
    ------
    ValueError
        An unknown layout, a path without a layout, a layout that needs a path without one,
        or the embedded data with a path.
    FileNotFoundError
        If ``path`` does not exist.
    NotADirectoryError
        If ``path`` is a file and the layout reads a folder (all but FER2013, whose CSV is a
        file).

    Examples
    --------
    >>> check_data_format(None, None)
    'embedded'
    >>> check_data_format("ckplus48", None, names=("--format", "--data"))
    Traceback (most recent call last):
    ...
    ValueError: --format ckplus48 needs --data DIR
    """
    format_name, path_name = names
    if data_format is not None and data_format not in DATA_FORMATS:
        raise ValueError(f"unknown {format_name} {data_format!r}; the layouts are "
                         + ", ".join(DATA_FORMATS))
    if path is not None and data_format is None:
        raise ValueError(f"{path_name} needs {format_name} (one of {', '.join(DATA_FORMATS)})")
    data_format = data_format or "embedded"
    if data_format == "embedded":
        if path is not None:
            raise ValueError(f"{format_name} embedded takes no {path_name}")
        return data_format
    if path is None:
        raise ValueError(f"{format_name} {data_format} needs {path_name} DIR")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path_name} {path} does not exist")
    if data_format != "fer2013" and not path.is_dir():
        raise NotADirectoryError(
            f"{path_name} {path} is a file; {format_name} {data_format} reads a folder"
        )
    return data_format


def check_format_options(
    options: Mapping[str, Any],
    formats: Iterable[str | None],
    *,
    names: Mapping[str, str] | None = None,
    format_name: str = "data_format",
) -> None:
    """Refuse FER2013's loader options (:data:`FER2013_OPTIONS`) when no layout read is FER2013.

    Parameters
    ----------
    options : mapping
        Option name to value; ``None`` values are options not given.
    formats : iterable of str or None
        The layouts read (``None``: the embedded data).
    names : mapping, optional
        How messages name each option (by default its own name).
    format_name : str, default="data_format"
        How messages name the layout.

    Raises
    ------
    ValueError
        An option given while no layout is ``"fer2013"``.

    Examples
    --------
    >>> check_format_options({"subset": "PublicTest"}, ["fer2013"])
    >>> check_format_options({"max_per_class": 3}, ["jaffe"])
    Traceback (most recent call last):
    ...
    ValueError: max_per_class is for data_format fer2013 only (here: jaffe)
    """
    formats = [f or "embedded" for f in formats]
    if "fer2013" in formats:
        return
    names = names or {}
    for option in FER2013_OPTIONS:
        if options.get(option) is not None:
            used = ", ".join(sorted(set(formats)))
            raise ValueError(f"{names.get(option, option)} is for {format_name} fer2013 only "
                             f"(here: {used})")


def load_dataset(
    data_format: str | None = "embedded",
    path: str | os.PathLike | None = None,
    *,
    subset: str | None = None,
    max_per_class: int | None = None,
    random_state: int | None = 0,
) -> Bunch:
    """Load a data set by its layout name, as ``skfer evaluate --data PATH --format NAME``.

    Parameters
    ----------
    data_format : str, default="embedded"
        A key of :data:`DATA_FORMATS`: ``"embedded"`` makes the synthetic data
        (:func:`~skfer.datasets.make_expressions`, 10 subjects, one per fold of the default
        10-fold protocol); the others call :func:`~skfer.datasets.load_ckplus48`,
        :func:`~skfer.datasets.load_ckplus`, :func:`~skfer.datasets.load_fer2013`,
        :func:`~skfer.datasets.load_jaffe`, :func:`~skfer.datasets.load_folder` or
        :func:`~skfer.datasets.load_emodb` on ``path``. Emo-DB's ``data`` is then a
        :class:`~skfer.ClipSet` of its sound tracks with their ``audio``, ``sample_rate``,
        ``speaker`` and ``source`` companions (``ClipSet.from_bunch``): what the audio
        models (``skfer models``: ``audio-*``) take, speaker normalisation included;
        ``groups`` are the speakers, so the default 10 folds leave one speaker out each.
    path : str, path-like or None, default=None
        The data set's folder (FER2013: also its CSV file); ``None`` for the embedded data.
    subset, max_per_class : optional
        Passed to :func:`~skfer.datasets.load_fer2013`; an error for the other layouts.
    random_state : int or None, default=0
        Seed of the embedded data.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As the loader returns it (``data``, ``target``, ``groups``...).

    Raises
    ------
    ValueError, FileNotFoundError, NotADirectoryError
        As :func:`check_data_format` and :func:`check_format_options`, and the loader's own
        errors (a malformed or empty data set, naming the file).
    """
    from . import load_ckplus, load_ckplus48, load_emodb, load_fer2013, load_folder, load_jaffe
    from .synthetic import make_expressions

    data_format = check_data_format(data_format, path)
    options = {"subset": subset, "max_per_class": max_per_class}
    check_format_options(options, [data_format])
    if data_format == "embedded":
        return make_expressions(n_subjects=10, random_state=random_state)
    if data_format == "fer2013":
        return load_fer2013(path, subset=subset, max_per_class=max_per_class)
    if data_format == "emodb":
        from ..clipset import ClipSet

        bunch = load_emodb(path)
        # The utterances travel with their speakers, which speaker normalisation reads.
        bunch.data = ClipSet.from_bunch(bunch)
        return bunch
    loader = {
        "ckplus48": load_ckplus48,
        "ckplus": load_ckplus,
        "jaffe": load_jaffe,
        "folder": load_folder,
    }[data_format]
    return loader(path)
