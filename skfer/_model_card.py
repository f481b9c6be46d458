"""Saving and loading fitted skfer models with a model card.

:func:`save_model` writes the fitted pipeline, wrapped with a format tag and its
:class:`ModelCard`, and the card again as JSON beside it (``model.joblib`` ->
``model.card.json``) so that a person can read what a model is without loading it. The JSON
card also records the SHA-256 of the model file's bytes.

:func:`load_model` compares the file with that hash before it reads anything from the file
(a changed file, or one that is not the model its card describes, is refused), refuses a
file that is not a skfer model (naming the file and the problem) and warns when the skfer or
library versions differ from those that saved it.

Two file formats, chosen by the file's suffix:

* ``.skops`` (the optional dependency skops, ``pip install "skfer[safe]"``): loading builds
  only the types of :data:`SKOPS_TRUSTED` (skfer's classical estimators and what they hold)
  and those skops trusts by default, and refuses a file holding any other, naming it; it
  runs no code from the file. skfer's networks (torch, skorch) cannot be saved so: their
  weights are shipped and saved as tensors (:func:`skfer.pretrained.export`,
  :func:`skfer.pretrained.load`).
* any other suffix (``.joblib``): a joblib file, that is a pickle. Loading one runs code
  from it: load only model files you trust. The hash check guards against a changed or
  swapped file, not against its author (whoever can write the model can write its card).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import warnings
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

# Defined with every public error and warning; importable from here as well.
from .exceptions import (
    ModelCardMismatchError,
    ModelVersionWarning,
    UntrustedTypesError,
    UnverifiedModelError,
)
from .utils._atomic import atomic_path, atomic_write, check_output_dir
from .utils._hashing import file_sha256

__all__ = [
    "MODEL_FORMAT",
    "SKOPS_SUFFIX",
    "SKOPS_TRUSTED",
    "ModelCard",
    "card_path",
    "check_model_path",
    "describe",
    "file_sha256",
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

#: A model file with this suffix is written and read with skops; any other, with joblib.
SKOPS_SUFFIX = ".skops"

#: The types a ``.skops`` model file may hold beyond those skops trusts by default (NumPy,
#: SciPy, most scikit-learn estimators). An exact list, never ``trusted=True``: skfer's
#: classical estimators, whose state is numbers, arrays and scikit-learn estimators, and the
#: scikit-learn internals that ``skops.io.get_untrusted_types`` reports for the fitted
#: ``hog-svm`` and ``pixels-svm`` models (with and without face detection and
#: probabilities) and skfer's ensembles of them (tests/test_model_files.py checks both).
#: Left out on purpose: the networks (``skfer.neural``: skorch restores a network's module
#: and optimizer by unpickling bytes kept in its state, which runs code) and
#: ``LandmarkDetector`` (it opens a dlib model from a path the file would choose).
SKOPS_TRUSTED: tuple[str, ...] = (
    "skfer.ensemble.stacking.CoarseToFineSVC",
    "skfer.ensemble.stacking.SVMStackingClassifier",
    "skfer.ensemble.weighted_average.WeightedAverageClassifier",
    "skfer.features.audio.AudioFeatures",
    "skfer.features.bag_of_mouths.BagOfMouths",
    "skfer.features.chi2.Chi2KernelTransformer",
    "skfer.features.frame_classifier.FrameLevelClassifier",
    "skfer.features.frame_features.HOGFeatures",
    "skfer.features.frame_features.LBPFeatures",
    "skfer.features.frame_features.PixelFeatures",
    "skfer.model_selection._split.AscendingSubjectKFold",
    "skfer.preprocessing.face_detection.HaarFaceDetector",
    "skfer.preprocessing.face_tubes.FaceTubeExtractor",
    "skfer.preprocessing.illumination.IsotropicSmoothing",
    "skfer.preprocessing.illumination.MinMaxImageScaler",
    "skfer.preprocessing.landmarks.LandmarkNormalizer",
    "skfer.preprocessing.mouth.MouthRegion",
    "skfer.preprocessing.registration.FaceRegistration",
    "skfer.preprocessing.temporal.FrameAggregator",
    "skfer.preprocessing.temporal.FramePooling",
    "skfer.preprocessing.temporal.TemporalResampler",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.metrics._classification.accuracy_score",
    "sklearn.metrics._scorer._Scorer",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.utils._bunch.Bunch",
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


def _is_skops(path: Path) -> bool:
    # One rule for both directions: the suffix names the format, so a file tells by its name
    # how it is read, and `skfer train --out model.skops` needs no other option.
    return path.suffix.lower() == SKOPS_SUFFIX


def _skops_io(path: Path, doing: str) -> Any:
    try:
        import skops.io
    except ImportError:
        raise ModuleNotFoundError(
            f"{doing} {path} (a {SKOPS_SUFFIX} model file) needs skops, an optional dependency "
            'of skfer: pip install "skfer[safe]"',
            name="skops",
        ) from None
    return skops.io


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
    ModuleNotFoundError
        If ``path`` ends with ``.skops`` and skops is not installed.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{name} {path} is a folder; give the model file's name")
    check_output_dir(path.parent, f"{name} {path}: folder")
    if _is_skops(path):
        _skops_io(path, f"{name}: writing")
    return path


def _dump_joblib(payload: dict[str, Any], tmp: Path) -> None:
    import joblib

    # The temporary name keeps the suffix: joblib picks compression from it.
    joblib.dump(payload, tmp)


def _dump_skops(payload: dict[str, Any], tmp: Path, path: Path) -> None:
    sio = _skops_io(path, "writing")
    data = sio.dumps(payload)
    # Refused here rather than by load_model: a file that skfer would not load is no model.
    unknown = _unknown_types(sio.get_untrusted_types(data=data))
    if unknown:
        raise UntrustedTypesError(
            f"cannot save {path} as a {SKOPS_SUFFIX} file: the model holds types that "
            f"skfer.load_model does not load from one: {', '.join(unknown)}"
            + _network_hint(unknown)
            + "; or save a .joblib file (a pickle: loading it runs code)",
            unknown,
        )
    tmp.write_bytes(data)


def _unknown_types(untrusted: list[str]) -> list[str]:
    return sorted(set(untrusted) - set(SKOPS_TRUSTED))


def _network_hint(types: list[str]) -> str:
    if any(t.split(".")[0] in ("torch", "skorch") or t.startswith("skfer.neural.")
           for t in types):
        return ("; skfer's networks cannot go in a .skops file (skorch restores a network's "
                "module and optimizer by unpickling bytes kept in its state, which runs "
                "code): save a network's weights as tensors with skfer.pretrained.export and "
                "load them with skfer.pretrained.load")
    return ""


def save_model(
    model: Any, path: str | os.PathLike, card: ModelCard | None = None, *, name: str | None = None
) -> tuple[Path, Path]:
    """Write the fitted ``model`` and its model card; return the model and card paths.

    The model file holds the model and its card; the card is also written as JSON beside
    it (``model.card.json``, :func:`card_path`) so that a person can read what a model is
    without loading it, with the SHA-256 of the model file (``"sha256"``), which
    :func:`load_model` checks before it reads the file. The suffix of ``path`` chooses the
    format: ``.skops`` writes it with skops (the safe format, see Warnings), any other
    (``.joblib``) with joblib.

    Both files are written to temporary files beside them and renamed, the card then the
    model, only once both are complete: an interrupt while they are written leaves the
    previous model and card (or none), never a truncated file. Only the instant between
    the two renames pairs a new card with the old model, and :func:`load_model` refuses
    that pair (the hashes differ).

    Parameters
    ----------
    model : fitted estimator
    path : str or path-like
        The model file; its folder is created if needed. ``.skops``: a skops file (needs
        ``pip install "skfer[safe]"``); otherwise a joblib file.
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
    ModuleNotFoundError
        If ``path`` ends with ``.skops`` and skops is not installed.
    UntrustedTypesError
        If ``path`` ends with ``.skops`` and the model holds types that :func:`load_model`
        would refuse (e.g. a network); nothing is written.

    Warnings
    --------
    A joblib file is a pickle: whoever loads it runs the code it holds. The SHA-256 in the
    card lets :func:`load_model` refuse a file that was changed or swapped after it was
    saved, not one whose author meant harm (they write the card too). A ``.skops`` file is
    the safe path for the classical models: loading it builds only known types and runs no
    code from it. A network's weights are kept as tensors instead
    (:func:`skfer.pretrained.export`).

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.dummy import DummyClassifier
    >>> clf = DummyClassifier().fit([[0], [1]], ["happiness", "surprise"])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path, card_file = save_model(clf, f"{tmp}/m.joblib")
    ...     model, card = load_model(path)
    ...     sha = json.loads(card_file.read_text())["sha256"]
    >>> card.model, card.classes, card_file.name, len(sha)
    ('DummyClassifier', ['happiness', 'surprise'], 'm.card.json', 64)
    """
    path = check_model_path(path)
    if card is None:
        card = describe(model, name or type(model).__name__)
    cpath = card_path(path)
    payload = {"format": MODEL_FORMAT, "card": card.to_dict(), "model": model}
    try:
        # Nested: the card is renamed, then the model; an error in either discards both.
        with atomic_path(path) as tmp, atomic_write(cpath) as fh:
            if _is_skops(path):
                _dump_skops(payload, tmp, path)
            else:
                _dump_joblib(payload, tmp)
            # The hash of the finished temporary file is that of the final one (a rename
            # keeps the bytes). It lives in the JSON card only: the card inside the model
            # file cannot hold the hash of the file that holds it.
            sidecar = {**card.to_dict(), "sha256": file_sha256(tmp)}
            fh.write(json.dumps(sidecar, indent=2) + "\n")
    except OSError as exc:
        raise OSError(f"cannot write the model to {path}: {exc.strerror or exc}") from exc
    return path, cpath


#: How a file that joblib reads starts: a pickle of protocol 2 or later (joblib writes the
#: highest), or the header of one of joblib's compressors (as ``joblib.compressor`` tells
#: them apart). A ``.skops`` file is a zip archive.
_JOBLIB_PREFIXES = (b"\x80", b"x", b"\x1f\x8b", b"BZ", b"]\x00", b"\xfd7zXZ", b'\x04"M\x18', b"ZF")
_SKOPS_PREFIX = b"PK\x03\x04"


def _check_kind(path: Path, data: bytes) -> None:
    """Refuse a file that cannot be a model file of its format, by its first bytes only.

    Before the card is looked for, so that a text file named ``model.joblib`` is called
    what it is rather than a model without a card that ``trusted=True`` would load.
    """
    if _is_skops(path):
        if not data.startswith(_SKOPS_PREFIX):
            raise ValueError(f"{path} is not a skfer model file (skops cannot load it: it is "
                             "not a zip archive); make one with skfer.save_model")
    elif not data.startswith(_JOBLIB_PREFIXES):
        raise ValueError(
            f"{path} is not a skfer model file (joblib cannot load it: it is neither a pickle "
            f"nor a compressed joblib file, it starts with {data[:8]!r}); make one with "
            "`skfer train`"
        )


def _verify(path: Path, data: bytes) -> None:
    """Refuse ``data`` (the bytes of ``path``) unless its card records their SHA-256."""
    cpath = card_path(path)
    # For a joblib file this is the last moment before its code runs, so everything that
    # stops the comparison is an error, not a warning (a warning would be printed as the
    # code runs): the caller decides with trusted=True, as torch.load(weights_only=False)
    # and skops' trusted= make them decide. Refusing costs little: every file saved by this
    # skfer has the hash; the others (an older skfer's, or a file without its card) need
    # one trusted load and a new save_model.
    way_out = (
        "; if you trust where it comes from, load it with skfer.load_model(path, "
        "trusted=True)" + ("" if _is_skops(path) else ", which runs the code it holds,")
        + " and save it again with skfer.save_model to give it a card with its hash"
    )
    if not cpath.is_file():
        raise UnverifiedModelError(
            f"model file {path} has no card beside it ({cpath.name}), so skfer cannot check "
            f"that it is the file that was saved; it was not loaded{way_out}"
        )
    try:
        sidecar = json.loads(cpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnverifiedModelError(
            f"the card {cpath} of model file {path} cannot be read ({exc}), so skfer cannot "
            f"check the model; it was not loaded{way_out}"
        ) from exc
    expected = sidecar.get("sha256") if isinstance(sidecar, dict) else None
    if not isinstance(expected, str):
        raise UnverifiedModelError(
            f"the card {cpath} of model file {path} records no SHA-256 of it (a model saved "
            f"by an older skfer?), so skfer cannot check it; it was not loaded{way_out}"
        )
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected.lower():
        raise ModelCardMismatchError(
            f"model file {path} does not match its card {cpath.name}: its SHA-256 is "
            f"{actual[:16]}..., the card records {expected[:16]}...; the file was changed "
            "after it was saved, or is not the model the card describes. It was not loaded"
            + ("" if _is_skops(path) else " (a changed joblib file runs whatever code it now "
               "holds)")
            + "; save the model again, or, if you changed it yourself and trust it, load it "
            "with trusted=True"
        )


def _load_joblib(path: Path, data: bytes) -> Any:
    import joblib

    try:
        # From the bytes that were hashed, not the path again: the file cannot be swapped
        # between the check and the load.
        return joblib.load(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - unpickling fails in many ways; all mean the same
        raise ValueError(
            f"{path} is not a skfer model file (joblib cannot load it: "
            f"{type(exc).__name__}: {exc}); make one with `skfer train`"
        ) from exc


def _load_skops(path: Path, data: bytes) -> Any:
    sio = _skops_io(path, "reading")
    try:
        # Reads the file's schema only: no object is built and nothing is imported.
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # noqa: BLE001 - a zip or JSON error, or skops' own
        raise ValueError(
            f"{path} is not a skfer model file (skops cannot read it: "
            f"{type(exc).__name__}: {exc}); make one with skfer.save_model"
        ) from exc
    unknown = _unknown_types(untrusted)
    if unknown:
        raise UntrustedTypesError(
            f"model file {path} holds types that skfer does not load from a "
            f"{SKOPS_SUFFIX} file: {', '.join(unknown)}; it was not loaded (building them "
            "could run code from the file)" + _network_hint(unknown),
            unknown,
        )
    try:
        return sio.loads(data, trusted=list(SKOPS_TRUSTED))
    except Exception as exc:  # noqa: BLE001 - skops raises many types for a damaged file
        if type(exc).__name__ == "UntrustedTypesFoundException":  # pragma: no cover
            raise UntrustedTypesError(f"model file {path}: {exc}") from exc
        raise ValueError(
            f"{path} is not a skfer model file (skops cannot load it: "
            f"{type(exc).__name__}: {exc}); make one with skfer.save_model"
        ) from exc


def load_model(path: str | os.PathLike, *, trusted: bool = False) -> tuple[Any, ModelCard]:
    """Load a model saved by :func:`save_model` (e.g. by ``skfer train``).

    The file's bytes are first compared with the SHA-256 that its JSON card records
    (``model.card.json`` beside ``model.joblib``); only then are they read as a model, a
    ``.skops`` file with skops (refusing any type outside :data:`SKOPS_TRUSTED` and skops'
    defaults), any other with joblib.

    Parameters
    ----------
    path : str or path-like
    trusted : bool, default=False
        Load the file without comparing it with its card: the way to load a model that has
        no card, or a card without a hash (saved by an older skfer), or that was changed
        on purpose. For a joblib file this runs whatever code the file holds: pass it only
        for a file you made or whose source you trust. It never widens the types a
        ``.skops`` file may hold.

    Returns
    -------
    model : fitted estimator
    card : ModelCard

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        If the file does not exist, or is a folder.
    UnverifiedModelError
        If there is no card beside the file, its card cannot be read or records no hash,
        and ``trusted`` is false; nothing was read from the file.
    ModelCardMismatchError
        If the file's SHA-256 differs from its card's and ``trusted`` is false: the file
        was changed after it was saved, or is not the model the card describes; nothing
        was read from the file.
    UntrustedTypesError
        If a ``.skops`` file holds a type skfer does not load (the message and ``types``
        name them); none of its objects was built.
    ModuleNotFoundError
        If the file is a ``.skops`` file and skops is not installed.
    ValueError
        If the file is not a skfer model (not a joblib or skops file, or one of something
        else), or a skfer model of another file format.

    Warns
    -----
    ModelVersionWarning
        If skfer or one of the libraries of the card has another version here; the model
        may then fail to load or predict differently.

    Warnings
    --------
    A joblib model file is a pickle: loading it runs code from it, with your rights. Load
    only files you trust. The hash check refuses a file that was changed or swapped after
    :func:`save_model` wrote it, but not a harmful file shipped with a matching card (whoever
    writes the one can write the other). A ``.skops`` file is the safe path: loading it
    builds only known types and runs no code from it.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"model file {path} is a folder, not a model file")
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is an empty file, not a skfer model file")
    data = path.read_bytes()
    _check_kind(path, data)
    if not trusted:
        _verify(path, data)
    payload = _load_skops(path, data) if _is_skops(path) else _load_joblib(path, data)
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
