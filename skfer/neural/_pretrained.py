"""Networks trained by skfer's own code and shipped inside the package; nothing is downloaded.

The implementation of :mod:`skfer.pretrained` (the public module, which re-exports it), kept
in the network package so that ``init_from="emonets-fer2013"`` resolves a name without an
import from a higher layer. Each shipped network is two files in ``skfer/neural/weights/``:
its weights, a
``torch.save`` state dict read back with ``torch.load(weights_only=True)`` (plain tensors:
loading runs no code, unlike a pickle), and a model card, ``<name>.json``: the estimator
and its parameters, the classes, the exact input it expects, the training data and its
terms of use, the command that reproduces it, its measured scores and the SHA-256 of the
weights (a damaged or replaced file is refused).

See :mod:`skfer.pretrained` for examples.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

from ..utils._hashing import file_sha256

__all__ = [
    "DATA_DIR", "PretrainedWeightsError", "available", "card", "export", "load",
    "self_test_input",
]

#: Where the shipped weights and cards live (package data).
DATA_DIR = Path(__file__).resolve().parent / "weights"
#: Version of the card layout written by :func:`export`.
CARD_FORMAT = 1
#: The estimators a card may name (a card never makes skfer import anything else).
_ESTIMATORS = {"skfer.neural.ConvNet", "skfer.neural.FaceNet2ExpNet"}


class PretrainedWeightsError(ValueError):
    """A shipped network's weights or card are missing, damaged or do not match."""


def available(directory: str | os.PathLike | None = None) -> list[str]:
    """Names of the shipped networks (one per model card).

    Parameters
    ----------
    directory : path, optional
        Where to look instead of the package's ``data`` folder.
    """
    folder = Path(directory) if directory is not None else DATA_DIR
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def _paths(name: str, directory) -> tuple[Path, Path]:
    folder = Path(directory) if directory is not None else DATA_DIR
    return folder / f"{name}.json", folder / f"{name}.pt"


def card(name: str, *, directory: str | os.PathLike | None = None) -> dict[str, Any]:
    """The model card of a shipped network, as a dict (see the module docstring).

    Raises
    ------
    PretrainedWeightsError
        Unknown name, or a card that is not the JSON :func:`export` writes.
    """
    card_path, _ = _paths(name, directory)
    if not card_path.is_file():
        raise PretrainedWeightsError(
            f"no shipped network {name!r}; available: {available(directory)}"
        )
    try:
        info = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PretrainedWeightsError(f"the model card {card_path} cannot be read: {exc}") from exc
    missing = [k for k in ("format", "estimator", "params", "module", "classes", "input",
                           "weights") if k not in info]
    if missing or info.get("format") != CARD_FORMAT:
        raise PretrainedWeightsError(
            f"the model card {card_path} is not a skfer card of format {CARD_FORMAT} "
            f"(missing {missing}, format {info.get('format')!r})"
        )
    return info


def _tuples(value):
    """JSON lists back to the tuples the estimators were given."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def load(name: str, *, device: str = "auto", directory: str | os.PathLike | None = None):
    """A shipped network as a fitted estimator, read offline from the package.

    Parameters
    ----------
    name : str
        One of :func:`available` (``"emonets-fer2013"``).
    device : str, default="auto"
        Where it runs (``"auto"``: CUDA when available).
    directory : path, optional
        Where to look instead of the package's ``data`` folder.

    Returns
    -------
    estimator : fitted skfer network (e.g. :class:`~skfer.neural.ConvNet`)
        Its ``pretrained_card_`` attribute holds the model card.

    Raises
    ------
    PretrainedWeightsError
        Unknown name, a missing weights file, a file whose SHA-256 differs from the card's
        (damaged or replaced), or tensors that do not fit the card's architecture.
    """
    import torch

    info = card(name, directory=directory)
    _, weights_path = _paths(name, directory)
    if not weights_path.is_file():
        raise PretrainedWeightsError(
            f"the weights of {name!r} are missing: no file {weights_path} (a broken "
            "installation of skfer? reinstall it)"
        )
    expected = info["weights"].get("sha256")
    actual = file_sha256(weights_path)
    if actual != expected:
        raise PretrainedWeightsError(
            f"the weights file {weights_path} is damaged or replaced: its SHA-256 is "
            f"{actual[:16]}..., the model card says {str(expected)[:16]}... (reinstall skfer)"
        )
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a bad file
        raise PretrainedWeightsError(
            f"the weights file {weights_path} cannot be read as tensors: {exc}"
        ) from exc
    qualified = info["estimator"]
    if qualified not in _ESTIMATORS:
        raise PretrainedWeightsError(f"the card of {name!r} names an unknown estimator "
                                     f"{qualified!r}")
    module_name, cls_name = qualified.rsplit(".", 1)
    cls = getattr(importlib.import_module(module_name), cls_name)
    params = {k: _tuples(v) for k, v in info["params"].items()}
    estimator = cls(**params, device=device, verbose=0)
    try:
        estimator._restore(
            module_kwargs={k: _tuples(v) for k, v in info["module"].items()},
            state_dict=state, classes=info["classes"],
            frame_size=info["input"]["frame_size"], color=info["input"]["color"],
            device=device,
        )
    except (RuntimeError, KeyError, TypeError) as exc:
        raise PretrainedWeightsError(
            f"the weights of {name!r} do not fit the architecture of its card: {exc}"
        ) from exc
    estimator.pretrained_card_ = info
    return estimator


def _jsonable(value):
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"{value!r} cannot go into a model card")


def export(estimator, name: str, *, input: dict, training: dict, scores: dict,
           half: bool = True, directory: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """Write a fitted network as a shipped one: its tensors and its model card.

    Parameters
    ----------
    estimator : fitted skfer network
    name : str
        File stem and the name :func:`load` takes.
    input : dict
        What the network expects, beyond ``frame_size`` and ``color`` (added here):
        pixels, face framing and margin, in words.
    training, scores : dict
        Training data and its terms, recipe, command, seed, epochs, time, machine; measured
        scores. Written into the card as given.
    half : bool, default=True
        Store floating tensors as float16 (half the size; they are read back as float32).
    directory : path, optional
        Instead of the package's ``data`` folder.

    Returns
    -------
    card_path, weights_path : Path
    """
    import torch

    from ..utils._atomic import atomic_write

    folder = Path(directory) if directory is not None else DATA_DIR
    folder.mkdir(parents=True, exist_ok=True)
    card_path, weights_path = _paths(name, folder)
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
             for k, v in estimator.net_.module_.state_dict().items()}
    with atomic_write(weights_path, "wb") as fh:
        torch.save(state, fh)
    params = {k: v for k, v in estimator.get_params(deep=False).items()
              if k not in ("callbacks", "init_from", "device", "verbose")}
    info = {
        "format": CARD_FORMAT,
        "name": name,
        "estimator": f"skfer.neural.{type(estimator).__name__}",
        "params": _jsonable_dict(params),
        "module": _jsonable_dict(estimator.net_.get_params_for("module")),
        "classes": [str(c) for c in estimator.classes_],
        "input": {"frame_size": list(estimator.frame_size_), "color": bool(estimator.color_),
                  **input},
        "weights": {
            "file": weights_path.name,
            "sha256": file_sha256(weights_path),
            "bytes": weights_path.stat().st_size,
            "dtype": "float16" if half else "float32",
            "n_parameters": int(sum(p.numel() for p in estimator.net_.module_.parameters())),
        },
        "training": training,
        "scores": scores,
    }
    with atomic_write(card_path, "w") as fh:
        fh.write(json.dumps(info, indent=1) + "\n")
    # The self-test: the shipped sample face through the network as load() rebuilds it,
    # from the stored (float16) tensors; tests compare a fresh load with these values.
    sample = Path(__file__).resolve().parents[1] / "datasets" / "data" / "faces" / (
        "astronaut_face.png"
    )  # package data of skfer.datasets, read as a file (no import of that package)
    reloaded = load(name, device="cpu", directory=folder)
    info["self_test"] = {
        "input": "skfer/datasets/data/faces/astronaut_face.png by self_test_input()",
        "proba": [round(float(p), 6) for p in reloaded.predict_proba(
            self_test_input(sample))[0]],
    }
    with atomic_write(card_path, "w") as fh:
        fh.write(json.dumps(info, indent=1) + "\n")
    return card_path, weights_path


def self_test_input(path: str | os.PathLike):
    """A face image as the one grey 48x48 frame of a clip ``(1, 48, 48)`` (``INTER_AREA``).

    The input of a card's ``self_test``: the shipped astronaut face, whose stored
    probabilities check that the weights, their reading and inference are unchanged.
    """
    import cv2

    from ..io import read_image  # the lowest layer: files -> arrays

    face = read_image(path, color=False)
    return cv2.resize(face, (48, 48), interpolation=cv2.INTER_AREA)[None]


def _jsonable_dict(d: dict) -> dict:
    return {k: _jsonable(v) for k, v in d.items()}
