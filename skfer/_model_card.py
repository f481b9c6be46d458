"""Saving and loading fitted skfer models with a model card.

:func:`save_model` writes the fitted pipeline with joblib, wrapped with a format tag and
its :class:`ModelCard`, and the card again as JSON beside it (``model.joblib`` ->
``model.card.json``) so that a person can read what a model is without loading it.
:func:`load_model` refuses a file that is not a skfer model (naming the file and the
problem) and warns when the skfer or library versions differ from those that saved it.

A joblib file is a pickle: loading one runs code from it. Load only model files you trust.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import warnings
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

# Defined with every public error and warning; importable from here as well.
from .exceptions import ModelVersionWarning
from .utils._atomic import atomic_path, atomic_write, check_output_dir

__all__ = [
    "MODEL_FORMAT",
    "ModelCard",
    "card_path",
    "check_model_path",
    "describe",
    "library_versions",
    "load_model",
    "save_model",
]

#: Tag of the joblib payload; a change of its layout bumps the number.
MODEL_FORMAT = "skfer-model/1"

#: Libraries whose versions the card records (pickles are only safe across equal versions).
_LIBRARIES = (
    "numpy", "scipy", "scikit-learn", "joblib", "torch", "skorch", "opencv-python-headless",
)


@dataclass
class ModelCard:
    """What a saved model is, how it was trained and with what.

    Attributes
    ----------
    model : str
        Name of the model (a key of :data:`skfer.models.MODELS`, or a free description).
    params : dict
        ``get_params(deep=True)`` of every pipeline step, by step name (values that are not
        JSON types as their ``repr``).
    classes : list of str
        The classes, in the order of the probability columns.
    frame_size : list of int or None
        ``(height, width)`` of the face frames the model takes (its face tubes).
    faces : str
        ``"detect"``: the pipeline starts with a face-tube extractor and takes whole video
        frames; ``"given"``: it takes face crops.
    data : str
        The data set it was fitted on; ``n_clips`` its size.
    n_clips : int or None
    score : dict or None
        The ``skfer evaluate`` result when one was run before the final fit (accuracy mean
        and standard deviation, protocol).
    device : str
        Where it was trained (``"cpu"``, ``"cuda"``...; ``"cpu"`` for non-network models).
    skfer_version : str
    libraries : dict of str to str
    trained_at : str
        ISO 8601 date and time (UTC) of the save.
    """

    model: str
    params: dict[str, Any] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    frame_size: list[int] | None = None
    faces: str = "detect"
    data: str = ""
    n_clips: int | None = None
    score: dict[str, Any] | None = None
    device: str = "cpu"
    skfer_version: str = ""
    libraries: dict[str, str] = field(default_factory=dict)
    trained_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelCard:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def library_versions() -> dict[str, str]:
    """Installed versions of skfer's main libraries (``"absent"`` where one is missing)."""
    out = {}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


def describe(model: Any, name: str, **fields: Any) -> ModelCard:
    """A :class:`ModelCard` for the fitted ``model``, with the current versions and date.

    ``fields`` fill the card's other attributes (``data``, ``score``...); ``params``,
    ``classes``, ``device``, the versions and the date are read here.
    """
    from . import __version__

    steps = getattr(model, "steps", [("model", model)])
    params = {
        # deep: a wrapped estimator's own parameters too (CalibratedClassifierCV(SVC(C=10)))
        step: _jsonable(est.get_params(deep=True))
        for step, est in steps
        if hasattr(est, "get_params")
    }
    device = "cpu"
    for _, est in steps:
        device = str(getattr(est, "device_", device))
    classes = [str(c) for c in getattr(model, "classes_", [])]
    return ModelCard(
        model=name,
        params=params,
        classes=classes,
        device=device,
        skfer_version=__version__,
        libraries=library_versions(),
        trained_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **fields,
    )


def card_path(path: str | os.PathLike) -> Path:
    """The JSON card beside a model file: ``model.joblib`` -> ``model.card.json``."""
    path = Path(path)
    return path.with_name(path.stem + ".card.json")


def check_model_path(path: str | os.PathLike, name: str = "path") -> Path:
    """Refuse a model file name that is a folder, or whose folder cannot be written.

    Called before any work (the ``skfer train`` fit takes minutes), and by
    :func:`save_model`.

    Parameters
    ----------
    path : str or path-like
    name : str, default="path"
        How messages name ``path`` (``"--out"`` for the ``skfer`` command).

    Returns
    -------
    path : Path

    Raises
    ------
    IsADirectoryError
        If ``path`` is an existing folder.
    NotADirectoryError, PermissionError
        If its folder is a file, or cannot be made or written
        (:func:`~skfer.utils._atomic.check_output_dir`).
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{name} {path} is a folder; give the model file's name")
    check_output_dir(path.parent, f"{name} {path}: folder")
    return path


def save_model(
    model: Any, path: str | os.PathLike, card: ModelCard | None = None, *, name: str | None = None
) -> tuple[Path, Path]:
    """Write the fitted ``model`` and its model card; return the model and card paths.

    The model is a joblib file (``model.joblib``) holding the model and its card; the card
    is also written as JSON beside it (``model.card.json``, :func:`card_path`) so that a
    person can read what a model is without loading it. :func:`load_model` reads it back.

    Both files are written to temporary files beside them and renamed, the card then the
    model, only once both are complete: an interrupt while they are written leaves the
    previous model and card (or none), never a truncated file (only the instant between
    the two renames could pair a new card with the old model).

    Parameters
    ----------
    model : fitted estimator
    path : str or path-like
        The model file; its folder is created if needed.
    card : ModelCard, optional
        The card to save (as :func:`skfer.experiment.train_model` returns it); by default
        one is made from ``model``: its parameters, classes, device, the versions and the
        date.
    name : str, optional
        The card's ``model`` when ``card`` is not given (default: the estimator's class).

    Returns
    -------
    path, card_path : Path

    Raises
    ------
    IsADirectoryError
        If ``path`` is a folder.
    OSError
        If the folder cannot be created or written (the message names it).

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.dummy import DummyClassifier
    >>> clf = DummyClassifier().fit([[0], [1]], ["happiness", "surprise"])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path, card_file = save_model(clf, f"{tmp}/m.joblib")
    ...     model, card = load_model(path)
    >>> card.model, card.classes, card_file.name
    ('DummyClassifier', ['happiness', 'surprise'], 'm.card.json')
    """
    import joblib

    path = check_model_path(path)
    if card is None:
        card = describe(model, name or type(model).__name__)
    cpath = card_path(path)
    try:
        # Nested: the card is renamed, then the model; an error in either discards both.
        with atomic_path(path) as tmp, atomic_write(cpath) as fh:
            # The temporary name keeps the suffix: joblib picks compression from it.
            joblib.dump({"format": MODEL_FORMAT, "card": card.to_dict(), "model": model}, tmp)
            fh.write(json.dumps(card.to_dict(), indent=2) + "\n")
    except OSError as exc:
        raise OSError(f"cannot write the model to {path}: {exc.strerror or exc}") from exc
    return path, cpath


def load_model(path: str | os.PathLike) -> tuple[Any, ModelCard]:
    """Load a model saved by :func:`save_model` (e.g. by ``skfer train``).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    model : fitted estimator
    card : ModelCard

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        If the file does not exist, or is a folder.
    ValueError
        If the file is not a skfer model (not a joblib file, or a joblib file of something
        else), or a skfer model of another file format.

    Warns
    -----
    ModelVersionWarning
        If skfer or one of the libraries of the card has another version here; the model
        may then fail to load or predict differently.
    """
    import joblib

    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"model file {path} is a folder, not a model file")
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is an empty file, not a skfer model file")
    try:
        payload = joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - unpickling fails in many ways; all mean the same
        raise ValueError(
            f"{path} is not a skfer model file (joblib cannot load it: "
            f"{type(exc).__name__}: {exc}); make one with `skfer train`"
        ) from exc
    if not isinstance(payload, dict) or "format" not in payload or "model" not in payload:
        raise ValueError(
            f"{path} is not a skfer model file (it holds a {type(payload).__name__}, not a "
            "model saved by `skfer train` or skfer's save_model)"
        )
    if payload["format"] != MODEL_FORMAT:
        raise ValueError(
            f"{path} is a skfer model of format {payload['format']!r}; this skfer reads "
            f"{MODEL_FORMAT!r} (retrain it with this version)"
        )
    card = payload.get("card")
    if not isinstance(card, dict) or not isinstance(card.get("model"), str):
        raise ValueError(f"{path} is a damaged skfer model file: its model card is missing or "
                         "malformed (retrain it with `skfer train`)")
    card = ModelCard.from_dict(card)
    _check_versions(path, card)
    return payload["model"], card


def _check_versions(path: Path, card: ModelCard) -> None:
    from . import __version__

    diffs = []
    if card.skfer_version != __version__:
        diffs.append(f"skfer {card.skfer_version} (here {__version__})")
    here = library_versions()
    diffs += [
        f"{lib} {ver} (here {here.get(lib, 'absent')})"
        for lib, ver in card.libraries.items()
        if here.get(lib, "absent") != ver
    ]
    if diffs:
        warnings.warn(
            f"model {path} was saved with " + ", ".join(diffs) + "; it may fail or predict "
            "differently with these versions (retrain it to be sure)",
            ModelVersionWarning,
            stacklevel=3,
        )
