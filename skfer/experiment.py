"""``skfer evaluate`` and ``skfer train`` as functions: a named model on a data set by layout.

:func:`evaluate_model` cross-validates a named model subject-independently, or trains it on
one data set and scores it on another, or scores a model that comes fitted (a shipped
network, a model file written by ``skfer train``) without fitting anything;
:func:`train_model` fits a named model on a whole data set and saves it with its model card.
Both read the data by layout name (:func:`skfer.datasets.load_dataset`), extract the face
tubes once (:func:`skfer.models.prepare_clips`) and build the model with
:func:`skfer.models.make_model`, with the command's defaults: the ``skfer`` command only
parses its arguments, calls one of them and prints.

>>> from skfer.experiment import evaluate_model
>>> report = evaluate_model("hog-svm", n_splits=2)          # doctest: +SKIP
>>> report.accuracy_mean                                     # doctest: +SKIP
0.64...
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .datasets import DATA_FORMATS, load_dataset
from .datasets._formats import check_data_format, check_format_options
from .evaluation import EvaluationReport, evaluate, evaluate_holdout
from .models import (
    MODELS,
    face_tube_step,
    fitted_model,
    make_model,
    prepare_clips,
    set_device,
)

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline
    from sklearn.utils import Bunch

    from ._model_card import ModelCard

__all__ = ["FACES", "PROTOCOLS", "evaluate_model", "train_model"]

#: ``protocol`` values of :func:`evaluate_model`: both subject-independent, they differ in
#: which subjects share a fold.
PROTOCOLS = {
    "groupkfold": "scikit-learn's GroupKFold by subject (balanced fold sizes)",
    "ascending-id": "AscendingSubjectKFold: subjects by ascending id, the CK+ papers' folds",
}

#: ``faces`` values: detect face tubes first, take the clips as face crops, or decide by the
#: layout (:data:`skfer.datasets.DATA_FORMATS`).
FACES = ("auto", "detect", "given")

#: The name of the embedded data in messages and reports.
_EMBEDDED = "embedded synthetic data"


def evaluate_model(
    model: str = "hog-svm",
    data_format: str | None = "embedded",
    path: str | os.PathLike | None = None,
    *,
    test_format: str | None = None,
    test_path: str | os.PathLike | None = None,
    n_splits: int | None = None,
    protocol: str | None = None,
    faces: str = "auto",
    device: str | None = None,
    subset: str | None = None,
    max_per_class: int | None = None,
    random_state: int | None = 0,
    n_jobs: int | None = None,
    progress: bool = False,
    verbose: bool = False,
) -> EvaluationReport:
    """Evaluate a named model on a data set, as ``skfer evaluate`` does.

    Without a test data set the model is cross-validated subject-independently
    (:func:`skfer.evaluation.evaluate`); with one it is fitted on the data and scored on the
    test data once (:func:`skfer.evaluation.evaluate_holdout`). A model that comes fitted
    (``"emonets-fer2013"``, or the path of a model file) is only scored on the test data.
    Everything is checked (names, device, paths) before any data is read; face tubes are
    extracted once, before the folds (:func:`skfer.models.prepare_clips`).

    Parameters
    ----------
    model : str, default="hog-svm"
        A key of :data:`skfer.models.MODELS`, or the path of a model file written by
        :func:`skfer.save_model` (``skfer train``).
    data_format : str or None, default="embedded"
        The layout of ``path`` (:data:`skfer.datasets.DATA_FORMATS`); ``"embedded"`` or
        ``None``: the synthetic data. Ignored for a fitted model, which is not trained.
    path : str, path-like or None, default=None
        The data set (see :func:`skfer.datasets.load_dataset`).
    test_format, test_path : optional
        A held-out test data set, as ``data_format`` and ``path``.
    n_splits : int, optional
        Folds of the cross-validation: by default 10, or one per subject when there are
        fewer subjects. Cross-validation only.
    protocol : {"groupkfold", "ascending-id"}, optional
        :data:`PROTOCOLS` (default ``"groupkfold"``). Cross-validation only.
    faces : {"auto", "detect", "given"}, default="auto"
        Detect face tubes first, or take the clips as face crops; ``"auto"`` by the layout.
    device : str, optional
        Torch device of a network model (:func:`skfer.models.set_device`).
    subset, max_per_class : optional
        FER2013's loader options (for a ``"fer2013"`` data or test set only).
    random_state : int or None, default=0
        Seed of the embedded data and of the model.
    n_jobs : int, optional
        Face tubes and folds in parallel (joblib).
    progress : bool, default=False
        Progress bars over clips and folds (tqdm).
    verbose : bool, default=False
        Print what is read and extracted as the run goes.

    Returns
    -------
    report : EvaluationReport
        Its ``extra`` holds ``data``, ``format`` (``"<data>_to_<test>"`` for a held-out
        test set, the test layout for a fitted model), ``faces``, ``protocol``
        (cross-validation), ``device`` (when given) and the face tubes' frame counts by
        status (``face_tube_frames``, ``test_face_tube_frames``).

    Raises
    ------
    ValueError
        Unknown names, options that do not apply (``n_splits`` with a test set, FER2013's
        options on another layout, a device for a model without a network), a fitted model
        without a test set or with training data, a clip without a face.
    OSError
        A data set or model file that cannot be read.
    """
    holdout = test_format is not None or test_path is not None
    if holdout and (n_splits is not None or protocol is not None):
        raise ValueError("n_splits and protocol are for cross-validation; with a test data "
                         "set the model is trained on the data and scored on the test data once")
    protocol = _check_choice(protocol or "groupkfold", PROTOCOLS, "protocol")
    _check_choice(faces, FACES, "faces")
    options = {"subset": subset, "max_per_class": max_per_class}
    check_format_options(options, [data_format, test_format] if holdout else [data_format])
    data_format = check_data_format(data_format, path)
    if holdout:
        test_format = check_data_format(test_format, test_path, names=("test_format", "test_path"))
    # A name of a model to train is not an error here: make_model below builds it.
    fitted = fitted_model(model) if model in MODELS or _looks_like_file(model) else None
    if fitted is not None:
        if not holdout or path is not None:
            raise ValueError(f"model {model} is already fitted: give a test data set to score "
                             "it (and no training data: it is not trained again)")
        return _score_fitted(model, fitted, test_format, test_path, options=options,
                             faces=faces, device=device, random_state=random_state,
                             n_jobs=n_jobs, progress=progress, verbose=verbose)
    estimator = make_model(model, faces="given", random_state=random_state, device=device)
    bunch, data_name, clip_faces = _load(data_format, path, options, faces, random_state)
    if holdout:
        test = _load(test_format, test_path, options, faces, random_state)
    if verbose:
        print(f"data: {data_name}: {len(bunch.data)} clips; model {model} (faces: {clip_faces})")
    clips, counts = prepare_clips(bunch.data, clip_faces, n_jobs=n_jobs, progress=progress,
                                  verbose=verbose)
    if holdout:
        test_bunch, test_name, test_faces = test
        if verbose:
            print(f"test data: {test_name}: {len(test_bunch.data)} clips (faces: {test_faces})")
        test_clips, test_counts = prepare_clips(test_bunch.data, test_faces, n_jobs=n_jobs,
                                                progress=progress, verbose=verbose)
        report = evaluate_holdout(
            estimator, test_clips, test_bunch.target, X_train=clips, y_train=bunch.target,
            groups_test=test_bunch.groups, name=model, train_name=data_name,
            test_name=test_name,
        )
        if test_counts is not None:
            report.extra["test_face_tube_frames"] = test_counts
        data_format = f"{data_format}_to_{test_format}"
    else:
        if n_splits is None:
            n_splits = _default_folds(bunch.groups, verbose)
        cv = None  # evaluate's default: GroupKFold(n_splits)
        if protocol == "ascending-id":
            from .model_selection import AscendingSubjectKFold

            cv = AscendingSubjectKFold(n_splits=n_splits)
        report = evaluate(estimator, clips, bunch.target, bunch.groups, n_splits=n_splits,
                          cv=cv, name=model, n_jobs=n_jobs, progress=progress)
        report.extra["protocol"] = protocol
    report.extra.update({"data": data_name, "format": data_format, "faces": clip_faces})
    if device is not None:
        report.extra["device"] = device
    if counts is not None:
        report.extra["face_tube_frames"] = counts
    return report


def train_model(
    model: str = "hog-svm",
    data_format: str | None = "embedded",
    path: str | os.PathLike | None = None,
    *,
    out: str | os.PathLike | None = None,
    evaluate_first: bool = False,
    n_splits: int | None = None,
    faces: str = "auto",
    device: str | None = None,
    subset: str | None = None,
    max_per_class: int | None = None,
    random_state: int | None = 0,
    n_jobs: int | None = None,
    progress: bool = False,
    verbose: bool = False,
) -> tuple[Pipeline, ModelCard]:
    """Fit a named model on a whole data set, as ``skfer train`` does, and save it if asked.

    The SVMs are calibrated for probabilities (``make_model(probability=True)``), which
    :mod:`skfer.prediction` gives per frame. A model trained on whole frames starts with
    its face-tube extractor, so it takes any video (``skfer predict``); the tubes it was
    fitted on were extracted once, with the same step.

    Parameters
    ----------
    model : str, default="hog-svm"
        A key of :data:`skfer.models.MODELS`.
    data_format, path : optional
        The data set (see :func:`evaluate_model`); the embedded data by default.
    out : str, path-like or None, default=None
        Save the model there with its card beside it (:func:`skfer.save_model`); checked
        before any work.
    evaluate_first : bool, default=False
        Cross-validate first (as :func:`evaluate_model`, with the plain, uncalibrated SVM
        that scores as the calibrated one predicts in a fifth of the time) and record the
        score in the card.
    n_splits : int, optional
        Folds of ``evaluate_first`` (default 10, or one per subject when fewer).
    faces, device, subset, max_per_class, random_state, n_jobs, progress, verbose
        As :func:`evaluate_model`.

    Returns
    -------
    model : Pipeline
        Fitted.
    card : ModelCard
        Its card (parameters, classes, data set, face frame size, versions, device, date;
        the score with ``evaluate_first``; ``params["face_tube_frames"]`` when faces were
        detected).

    Raises
    ------
    ValueError
        As :func:`evaluate_model`, and ``n_splits`` without ``evaluate_first``.
    OSError
        ``out`` is a folder or its folder cannot be written; a data set that cannot be read.
    """
    from sklearn.pipeline import Pipeline

    from ._model_card import check_model_path, describe, save_model

    if n_splits is not None and not evaluate_first:
        raise ValueError("n_splits is the number of folds of evaluate_first; set "
                         "evaluate_first=True")
    _check_choice(faces, FACES, "faces")
    options = {"subset": subset, "max_per_class": max_per_class}
    check_format_options(options, [data_format])
    data_format = check_data_format(data_format, path)
    if out is not None:
        out = check_model_path(out, "out")
    estimator = make_model(model, faces="given", random_state=random_state, probability=True,
                           device=device)
    bunch, data_name, clip_faces = _load(data_format, path, options, faces, random_state)
    if verbose:
        print(f"data: {data_name}: {len(bunch.data)} clips; model {model} (faces: {clip_faces})")
    margin = MODELS[model].margin
    clips, counts = prepare_clips(bunch.data, clip_faces, margin=margin, n_jobs=n_jobs,
                                  progress=progress, verbose=verbose)
    score = None
    if evaluate_first:
        plain = make_model(model, faces="given", random_state=random_state, device=device)
        report = evaluate(plain, clips, bunch.target, bunch.groups,
                          n_splits=n_splits or _default_folds(bunch.groups, verbose),
                          name=model, n_jobs=n_jobs, progress=progress)
        if verbose:
            print(report.summary())
        score = {"accuracy_mean": report.accuracy_mean, "accuracy_std": report.accuracy_std,
                 "protocol": report.protocol}
    estimator.fit(clips, bunch.target)
    frame_size = None
    if clip_faces == "detect":
        # The saved model starts with the step the tubes were extracted with, so that it
        # takes whole video frames.
        extractor = face_tube_step(margin).fit()
        estimator = Pipeline([("faces", extractor)] + estimator.steps)
        frame_size = list(extractor.frame_size)
    elif len(clips):
        frame_size = list(clips[0].shape[1:3])
    card = describe(estimator, model, frame_size=frame_size, faces=clip_faces,
                    data=f"{data_name} ({data_format})", n_clips=len(bunch.data), score=score)
    if counts is not None:
        card.params["face_tube_frames"] = counts
    if out is not None:
        save_model(estimator, out, card)
    return estimator, card


def _check_choice(value: Any, choices, name: str) -> Any:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _load(
    data_format: str, path, options: dict[str, Any], faces: str, random_state: int | None
) -> tuple[Bunch, str, str]:
    """``(bunch, name, faces)`` of a checked layout; FER2013's options reach FER2013 only."""
    kwargs = options if data_format == "fer2013" else {}
    bunch = load_dataset(data_format, path, random_state=random_state, **kwargs)
    name = _EMBEDDED if data_format == "embedded" else str(path)
    return bunch, name, DATA_FORMATS[data_format] if faces == "auto" else faces


def _default_folds(groups, verbose: bool, folds: int = 10) -> int:
    """10 folds, or leave-one-subject-out when there are fewer than 10 subjects."""
    if groups is None:
        return folds
    n_subjects = len(set(groups))
    if n_subjects < folds:
        if verbose:
            print(f"note: {n_subjects} subjects, so {n_subjects} folds (leave one subject out)")
        return max(n_subjects, 2)
    return folds


def _looks_like_file(name: str) -> bool:
    from pathlib import Path

    return name.endswith((".joblib", ".skops")) or Path(name).is_file()


def _score_fitted(
    name: str, fitted: tuple[Any, str, float], test_format: str, test_path, *,
    options: dict[str, Any], faces: str, device: str | None, random_state: int | None,
    n_jobs: int | None, progress: bool, verbose: bool,
) -> EvaluationReport:
    """Score an already fitted model on the test data, fitting nothing."""
    model, what, margin = fitted
    set_device(model, device)
    bunch, test_name, test_faces = _load(test_format, test_path, options, faces, random_state)
    if verbose:
        print(f"test data: {test_name}: {len(bunch.data)} clips; {what} (faces: {test_faces})")
    clips, counts = prepare_clips(bunch.data, test_faces, margin=margin, n_jobs=n_jobs,
                                  progress=progress, verbose=verbose)
    report = evaluate_holdout(model, clips, bunch.target, groups_test=bunch.groups, name=name,
                              test_name=test_name)
    report.extra.update({"data": test_name, "format": test_format, "faces": test_faces})
    if counts is not None:
        report.extra["test_face_tube_frames"] = counts
    return report
