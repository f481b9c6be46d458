"""Named, ready-to-fit FER pipelines, as used by ``skfer evaluate --model NAME``.

Each entry builds a fresh, unfitted scikit-learn :class:`~sklearn.pipeline.Pipeline` that
takes a list of clips and predicts one expression per clip. With ``faces="detect"`` the
pipeline starts with :class:`~skfer.preprocessing.FaceTubeExtractor` (for whole video
frames); with ``faces="given"`` the clips are taken to be face crops already (CK+48,
FER2013).

``make_model(..., probability=True)`` (as ``skfer train`` builds them) wraps the SVMs in
``CalibratedClassifierCV(SVC(...), ensemble=False)`` (Platt scaling by an internal 3-fold
cross-validation in ``fit``, about 3 times the SVM's fit time; ``SVC(probability=True)`` is
deprecated in scikit-learn 1.9) so that :func:`skfer.prediction.predict_frames` can give class
probabilities per frame; ``predict`` is then the arg-max of those probabilities, which can
differ from the plain SVM's decision (that ``skfer evaluate`` scores) on a few borderline
clips. ``"convnet"`` is the
EmoNets frame network (:class:`skfer.neural.ConvNet`) on the 48x48 face tubes; its
``device`` parameter is reachable as ``convnet__device``. ``"emonets-fer2013"`` is that
network trained on FER2013 and shipped with skfer (:mod:`skfer.pretrained`), frozen: it is
scored as it is, never refitted.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "ModelSpec",
    "face_tube_step",
    "fitted_model",
    "make_model",
    "prepare_clips",
    "set_device",
]

#: The model ``skfer predict`` uses when none is named: the network shipped inside skfer.
DEFAULT_MODEL = "emonets-fer2013"


@dataclass(frozen=True)
class ModelSpec:
    """A named pipeline: what it is, how to build its steps, how its faces are framed.

    ``margin`` is the :class:`~skfer.preprocessing.FaceTubeExtractor` margin of
    ``faces="detect"``: the framing of the faces the model was trained on. ``fitted``: the
    pipeline comes trained (a shipped network), ``fit`` changes nothing.
    """

    description: str
    steps: Callable[[int | None, bool], list[tuple[str, object]]]
    margin: float = 0.0
    fitted: bool = False


def _hog_svm(random_state, probability):
    from .features import HOGFeatures
    from .preprocessing import FramePooling

    return [
        ("hog", HOGFeatures(frame_size=(48, 48), cell_size=8)),
        ("apex", FramePooling(method="last")),
        ("svm", _svm(random_state, probability)),
    ]


def _svm(random_state, probability):
    """The RBF SVM of the classical models, calibrated for per-frame probabilities."""
    svm = SVC(kernel="rbf", C=10.0, gamma="scale", random_state=random_state)
    if not probability:
        return svm
    # SVC(probability=True) is deprecated in scikit-learn 1.9; one SVC fitted on all the data
    # (ensemble=False) with a sigmoid calibrated by internal cross-validation is its
    # replacement (Platt scaling, as libsvm's). 3 folds rather than libsvm's 5: small data
    # sets (4 clips a class in the embedded data with 2 subjects) still calibrate.
    return CalibratedClassifierCV(svm, method="sigmoid", cv=3, ensemble=False)


def _pixels_svm(random_state, probability):
    from .features import PixelFeatures
    from .preprocessing import FramePooling

    return [
        ("pixels", PixelFeatures(frame_size=(24, 24))),
        ("apex", FramePooling(method="last")),
        ("scale", StandardScaler()),
        ("pca", PCA(n_components=0.95, svd_solver="full", random_state=random_state)),
        ("svm", _svm(random_state, probability)),
    ]


def _convnet(random_state, probability):  # a network: always probabilities
    from .neural import ConvNet

    # A budget that trains in minutes on a CPU; the paper's 453 epochs are for a GPU.
    return [
        ("convnet", ConvNet(max_epochs=30, patience=5, random_state=random_state, verbose=0)),
    ]


def _pretrained(name: str):
    def steps(random_state, probability):  # trained already: no seed, always probabilities
        from sklearn.frozen import FrozenEstimator

        from . import pretrained

        return [("convnet", FrozenEstimator(pretrained.load(name)))]

    return steps


def _face_net_lr(random_state, probability):  # logistic regression: always probabilities
    from sklearn.linear_model import LogisticRegression

    from .neural import FaceNetFeatures
    from .preprocessing import FramePooling

    # Grid 4 and C=10: the choice made inside the training folds of the nested
    # CK+48 benchmark (docs/benchmarks.md, issue 22); a fixed setting, not tuned per data.
    return [
        ("face_net", FaceNetFeatures(layers=("stage3", "stage5"), grid=4)),
        ("mean", FramePooling(method="mean")),
        ("scale", StandardScaler()),
        ("lr", LogisticRegression(C=10.0, max_iter=5000)),
    ]


def _convnet_fer2013_lr(random_state, probability):  # logistic regression: probabilities
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression

    from . import pretrained
    from .preprocessing import FramePooling

    # The shipped network frozen, its 512 hidden units per frame (flip-averaged) as features.
    net = pretrained.load("emonets-fer2013").set_params(transform_output="features",
                                                       test_views=2)
    return [
        ("convnet", FrozenEstimator(net)),
        ("mean", FramePooling(method="mean")),
        ("scale", StandardScaler()),
        ("lr", LogisticRegression(C=1.0, max_iter=5000)),
    ]


def _convnet_finetuned(random_state, probability):  # a network: always probabilities
    from . import pretrained
    from .neural import ConvNet

    card = pretrained.card("emonets-fer2013")
    arch = {k: card["params"][k] for k in ("batch_norm", "hidden_units", "dropout")}
    # The recipe of benchmarks/bench_ckplus_transfer.py: the head first on frozen features,
    # then the body at a tenth of its rate, FER2013's batch-norm statistics kept.
    return [("convnet", ConvNet(
        init_from="emonets-fer2013", **arch, rotation=10.0, zoom=0.1, optimizer="adam",
        lr=1e-3, weight_decay=1e-4, batch_size=64, head_epochs=4, body_lr=1e-4,
        freeze_bn_stats=True, max_epochs=12, patience=None, validation_fraction=None,
        test_views=2, random_state=random_state, verbose=0,
    ))]


def _facenet2expnet(random_state, probability):  # a network: always probabilities
    from . import pretrained
    from .neural import FaceNet2ExpNet

    # Stage 1 was run once, label-free, on FER2013 and ships (its card says how); stage 2
    # here: the new fully connected layers at 1e-3, the transferred convolutions at 1e-4.
    name = "facenet2expnet-fer2013-stage1"
    arch = {k: pretrained.card(name)["params"][k] for k in ("channels", "fc_size", "dropout")}
    return [("facenet2expnet", FaceNet2ExpNet(
        init_from=name, channels=tuple(arch["channels"]), fc_size=arch["fc_size"],
        dropout=arch["dropout"], flip=True, body_lr=1e-4, optimizer="adam", lr=1e-3,
        max_epochs=20, lr_step=None, batch_size=64, random_state=random_state, verbose=0,
    ))]


def _dtagn(random_state, probability):  # a network: always probabilities
    from .neural import DTAGN, DTGN
    from .preprocessing import LandmarkDetector

    # The appearance member is the shipped FER2013 ConvNet fine-tuned as in
    # convnet-fer2013-finetune (DTAGN seeds it: random_state None); the geometry member is
    # the paper's DTGN on the last 3 frames with its landmark augmentation (mirrors, per-frame
    # rotations up to pi/10, noise) drawn per batch. The landmarks are found on the crops
    # enlarged to 192 pixels (CK+48: 0.903 against 0.873 on the crops as they are).
    appearance = _convnet_finetuned(None, True)[0][1]
    geometry = DTGN(n_frames=3, optimizer="adam", lr=1e-3, max_epochs=150, batch_size=32,
                    flip=True, max_angle=math.pi / 10, noise_std=0.01, verbose=0)
    return [
        ("landmarks", LandmarkDetector(upsample=0, min_size=192, output="clips")),
        ("dtagn", DTAGN(appearance, geometry, combination="joint", finetune_epochs=30,
                        random_state=random_state)),
    ]


def _cached_member(steps: list[tuple[str, object]], n_features: int = 2) -> Pipeline:
    """A member whose first ``n_features`` steps (they learn nothing) are computed once per
    clip and shared by the member's clones (the ensemble's cross-fitting refits each member
    on every fold: the face network would otherwise run on every clip four times)."""
    from .features._feature_cache import _CachedFeatures

    return Pipeline([("features", _CachedFeatures(Pipeline(steps[:n_features]))),
                     *steps[n_features:]])


def _emonets_ensemble(random_state, probability):  # a weighted average: probabilities
    from .ensemble import WeightedAverageClassifier

    # EmoNets section 4.1: per-class weights of the members' probabilities by random search
    # on cross-fitted (out-of-fold) predictions, every subset of members tried.
    members = [
        ("face_net", _cached_member(_face_net_lr(random_state, True))),
        ("convnet", _cached_member(_convnet_fer2013_lr(random_state, True))),
        ("hog", _cached_member(_hog_svm(random_state, True))),
    ]
    return [("ensemble", WeightedAverageClassifier(
        members, cv=3, search_subsets=True, random_state=random_state))]


#: Statistics of the audio frames pooled per utterance by the audio SVMs.
_AUDIO_POOLING = ["mean", "std", "min", "max"]


def _audio_search(features: str, classifier: str, speaker_normalised: bool = True):
    """Pooled audio features, per-speaker standardised, and a classifier whose C is chosen
    on held-out training speakers.

    The search wraps the whole pipeline so that its inner folds
    (:class:`~skfer.features.SpeakerKFold`) read the speakers from the clips' ``speaker``
    companion: nested inside ``skfer evaluate``'s folds, every choice is made on the
    training speakers only. Each utterance's features are computed once and shared by the
    search's clones (``_CachedFeatures``: the feature steps learn nothing).
    """

    def steps(random_state, probability):
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import GridSearchCV

        from .features import AudioFeatures, OpenSmileFeatures, SpeakerKFold, SpeakerNormalizer
        from .features._feature_cache import _CachedFeatures

        if features == "compare":
            step = OpenSmileFeatures("ComParE_2016")
        else:
            step = AudioFeatures(pooling=list(_AUDIO_POOLING))
        step = _CachedFeatures(step)
        if speaker_normalised:
            step = SpeakerNormalizer(step)
        if classifier == "svm":
            clf, grid = _svm(random_state, probability), [1.0, 10.0, 100.0]
            key = "clf__estimator__C" if probability else "clf__C"
        else:  # probabilities of its own
            clf = LogisticRegression(max_iter=5000, random_state=random_state)
            grid, key = [0.001, 0.01, 0.1, 1.0], "clf__C"
        pipe = Pipeline([("features", step), ("scale", StandardScaler()), ("clf", clf)])
        return [("search", GridSearchCV(pipe, {key: grid}, cv=SpeakerKFold(5)))]

    return steps


def _audio_dbn(random_state, probability):  # a network: always probabilities
    from .features import AudioFeatures, SpeakerNormalizer
    from .neural import AudioDBNClassifier

    # The issue-14 settings (the paper's, 15 epochs, RBMs on 10,000 frames), fixed in
    # advance: nothing is chosen on the data.
    return [
        ("features", SpeakerNormalizer(AudioFeatures())),
        ("dbn", AudioDBNClassifier(max_epochs=15, batch_size=4, pretrain_max_frames=10000,
                                   validation_fraction=None, random_state=random_state)),
    ]


#: The models ``skfer evaluate`` knows, by name.
MODELS: dict[str, ModelSpec] = {
    "hog-svm": ModelSpec(
        "HOG (8x8 cells, 9 bins) of the last (apex) 48x48 face frame + RBF SVM (C=10)",
        _hog_svm,
    ),
    "pixels-svm": ModelSpec(
        "24x24 grey pixels of the last (apex) frame, standardised, PCA 95% variance, "
        "RBF SVM (C=10)",
        _pixels_svm,
    ),
    "convnet": ModelSpec(
        "EmoNets frame ConvNet on 48x48 face frames (random 40x40 crops, flips), clip = mean "
        "of its frames' probabilities (torch; --device)",
        _convnet,
    ),
    "emonets-fer2013": ModelSpec(
        "the shipped EmoNets ConvNet trained on FER2013 (skfer.pretrained; frozen: fit "
        "changes nothing), 7 classes incl. neutral; faces framed as FER2013's (margin 0.1)",
        _pretrained("emonets-fer2013"),
        margin=0.1,
        fitted=True,
    ),
    "face-net-lr": ModelSpec(
        "dlib's face-recognition ResNet frozen (FaceNetFeatures: stage 3 on a 4x4 grid of "
        "cells + stage 5, flip-averaged; needs skfer[landmarks]), clip mean, standardised, "
        "logistic regression (C=10); CK+48 0.978 by subject",
        _face_net_lr,
    ),
    "convnet-fer2013-lr": ModelSpec(
        "the shipped FER2013 ConvNet frozen, its 512 hidden units per frame (flip-averaged) "
        "as features, clip mean, standardised, logistic regression (C=1)",
        _convnet_fer2013_lr,
        margin=0.1,
    ),
    "convnet-fer2013-finetune": ModelSpec(
        "the shipped FER2013 ConvNet fine-tuned: output layer new, the head alone for 4 "
        "epochs, then the body at a tenth of its rate, FER2013's batch-norm statistics "
        "kept, 12 epochs, flip-averaged at test (torch; --device)",
        _convnet_finetuned,
        margin=0.1,
    ),
    "dtagn": ModelSpec(
        "DTAGN joint fine-tuning (Jung et al. 2015, eq. 8) of an appearance and a geometry "
        "network: the shipped FER2013 ConvNet fine-tuned as convnet-fer2013-finetune (in "
        "place of the paper's DTAN trained from scratch), and DTGN on dlib's 49 landmarks of "
        "the last 3 frames with the paper's mirrors, rotations and noise (needs "
        "skfer[landmarks]; torch; --device)",
        _dtagn,
        margin=0.1,
    ),
    "facenet2expnet": ModelSpec(
        "FaceNet2ExpNet (Ding et al. 2017): a 3-block student whose stage 1 regressed dlib's "
        "face-network stage-3 maps of FER2013 faces (shipped, label-free), stage 2 on your "
        "data: new fully connected layers at 1e-3, the convolutions at 1e-4, flips, 20 "
        "epochs (torch; --device)",
        _facenet2expnet,
        margin=0.1,
    ),
    "emonets-ensemble": ModelSpec(
        "the EmoNets combination of issue 22: face-net-lr, convnet-fer2013-lr and hog-svm "
        "(calibrated) as members, their probabilities averaged with per-class weights found "
        "by random search on 3-fold cross-fitted predictions (WeightedAverageClassifier, "
        "every subset of members tried; the folds are by subject when the ensemble gets "
        "groups); each clip's features computed once per member",
        _emonets_ensemble,
        margin=0.1,
    ),
    "audio-svm": ModelSpec(
        "speech: AudioFeatures (22 MFCC, deltas, 7 spectral descriptors, 10 ms hop) pooled "
        "(mean, std, min, max) and standardised per speaker (SpeakerNormalizer, "
        "transductive: needs the clips' 'speaker' companion and >= 2 utterances of each "
        "test speaker), RBF SVM, C in {1, 10, 100} chosen on held-out training speakers "
        "(--format emodb)",
        _audio_search("mfcc", "svm"),
    ),
    "audio-compare": ModelSpec(
        "speech: openSMILE's ComParE 2016 functionals (6,373; needs skfer[opensmile]), "
        "standardised per speaker (SpeakerNormalizer, transductive, as audio-svm), logistic "
        "regression, C in {0.001, 0.01, 0.1, 1} chosen on held-out training speakers "
        "(--format emodb)",
        _audio_search("compare", "lr"),
    ),
    "audio-svm-plain": ModelSpec(
        "speech: as audio-svm without speaker normalisation (StandardScaler fitted on the "
        "training speakers: classifies a single utterance of an unseen speaker)",
        _audio_search("mfcc", "svm", speaker_normalised=False),
    ),
    "audio-dbn": ModelSpec(
        "speech: the EmoNets audio network (AudioDBNClassifier: DBN-initialised MLP, top-N "
        "pooling) on per-speaker standardised AudioFeatures frames (10 ms hop; torch; "
        "--device)",
        _audio_dbn,
    ),
}


def make_model(
    name: str,
    *,
    faces: str = "given",
    random_state: int | None = 0,
    probability: bool = False,
    device: str | None = None,
) -> Pipeline:
    """Build the named pipeline.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.
    faces : {"given", "detect"}, default="given"
        ``"detect"`` prepends a :class:`~skfer.preprocessing.FaceTubeExtractor` (48x48
        grey face tubes) for clips of whole video frames.
    random_state : int or None, default=0
        Seed passed to every random step.
    probability : bool, default=False
        Wrap the SVMs in ``CalibratedClassifierCV(SVC(...), method="sigmoid", cv=3,
        ensemble=False)``: Platt scaling fitted by an internal 3-fold cross-validation
        (about 3 times the SVM's fit time), for the per-frame class probabilities of
        :mod:`skfer.prediction`. ``predict`` is then the arg-max of those probabilities,
        which may differ from the plain SVM's decision on a few borderline clips. Networks
        give probabilities either way.
    device : str or None, default=None
        Torch device of the network steps (``"cpu"``, ``"cuda"``, ``"auto"``), set by
        :func:`set_device`; ``None`` keeps each network's own default.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline

    Raises
    ------
    ValueError
        An unknown name or ``faces``; a ``device`` for a model without a network, one that
        is not a torch device, or CUDA on a machine without it.
    """
    try:
        spec = MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}"
        ) from None
    if faces not in ("given", "detect"):
        raise ValueError(f"faces must be 'given' or 'detect', got {faces!r}")
    steps = spec.steps(random_state, probability)
    if faces == "detect":
        steps.insert(0, ("faces", face_tube_step(spec.margin)))
    pipeline = Pipeline(steps)
    set_device(pipeline, device)
    return pipeline


def fitted_model(name_or_path: str | os.PathLike) -> tuple[Any, str, float] | None:
    """A model ready to predict: a named model that comes fitted, or a model file.

    Parameters
    ----------
    name_or_path : str or path-like
        A name of :data:`MODELS` whose spec is ``fitted`` (a network shipped inside skfer,
        e.g. :data:`DEFAULT_MODEL`), or the path of a model file (``.joblib``, or any
        existing file) written by ``skfer train`` or :func:`skfer.save_model`, loaded with
        :func:`skfer.load_model` (which checks it against its card).

    Returns
    -------
    fitted : (model, description, margin) or None
        ``margin``: the face framing of the model's training images (the
        :class:`~skfer.preprocessing.FaceTubeExtractor` margin); ``None`` when
        ``name_or_path`` is a name of a model that must be trained first.

    Raises
    ------
    ValueError
        If it is neither a known name nor an existing file (the message lists the models
        that come fitted).
    """
    from pathlib import Path

    name = os.fspath(name_or_path)
    if name in MODELS:
        spec = MODELS[name]
        if not spec.fitted:
            return None
        return make_model(name), f"shipped network {name}", spec.margin
    if name.endswith((".joblib", ".skops")) or Path(name).exists():
        from ._model_card import load_model

        model, card = load_model(name)  # a folder or a damaged file: its own clear error
        return model, f"model file {name} ({card.model}, trained on {card.data})", 0.0
    ready = ", ".join(k for k, spec in MODELS.items() if spec.fitted)
    raise ValueError(f"no model named {name!r} and no such file: give a model file or one "
                     f"of the models that come fitted ({ready})")


def set_device(model: Any, device: str | None, *, name: str = "device") -> list[str]:
    """Set ``device`` on every step of ``model`` that has one; return those steps' names.

    Parameters
    ----------
    model : Pipeline or estimator
        A pipeline (its steps are searched) such as :func:`make_model` builds, fitted or
        not, or a model read by :func:`skfer.load_model`.
    device : str or None
        A torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"auto"``); ``None`` changes
        nothing and only returns the names.
    name : str, default="device"
        How messages name ``device`` (``"--device"`` for the ``skfer`` command).

    Returns
    -------
    steps : list of str
        The steps with a ``device`` parameter (empty: not a network model).

    Raises
    ------
    ValueError
        If ``device`` is given and no step has a ``device`` parameter, or it is not a torch
        device, or it is CUDA on a machine without it (found here, not when the first fold
        is fitted after the face tubes).

    Examples
    --------
    >>> set_device(make_model("convnet"), None)
    ['convnet']
    >>> set_device(make_model("hog-svm"), "cpu")
    Traceback (most recent call last):
    ...
    ValueError: device is for network models; this model has no torch step
    """
    steps = [step for step, est in getattr(model, "steps", [])
             if "device" in est.get_params(deep=False)]
    if device is None:
        return steps
    if not steps:
        raise ValueError(f"{name} is for network models; this model has no torch step")
    from .neural import resolve_device

    resolve_device(device)
    model.set_params(**{f"{step}__device": device for step in steps})
    return steps


def face_tube_step(margin: float = 0.0):
    """The face-tube step of the named models: 48x48 grey tubes, a clip without face raises.

    ``margin``: the model's framing (:class:`~skfer.preprocessing.FaceTubeExtractor`).
    """
    from .preprocessing import FaceTubeExtractor

    return FaceTubeExtractor(frame_size=(48, 48), margin=margin)


def prepare_clips(
    X: Sequence[Any],
    faces: str = "detect",
    *,
    margin: float = 0.0,
    n_jobs: int | None = None,
    progress: bool = False,
    verbose: bool = False,
) -> tuple[Sequence[Any], dict[str, int] | None]:
    """The clips as the named models take them: face tubes of whole frames, extracted once.

    The face-tube step learns nothing from the data, so extracting every clip's tube once
    before cross-validation gives exactly what the step would give inside each fold,
    without repeating the detection in every fold; :func:`make_model` with
    ``faces="given"`` then takes the result. The statuses travel with the tubes, so the
    model's pooling leaves ``"missing"`` frames out as it would with the extractor inside
    the pipeline.

    Parameters
    ----------
    X : list of clips
        Whole video frames (``faces="detect"``) or face crops (``faces="given"``).
    faces : {"detect", "given"}, default="detect"
        ``"given"`` returns ``X`` itself.
    margin : float, default=0.0
        The model's face framing (:attr:`ModelSpec.margin`, see :func:`face_tube_step`).
    n_jobs : int or None, default=None
        Clips processed in parallel (joblib, so ``joblib.parallel_backend("dask")`` sends
        them to a Dask cluster). Errors and warnings name the clip by its index in ``X``
        either way.
    progress : bool, default=False
        Show a progress bar over clips (tqdm).
    verbose : bool, default=False
        Print the frame counts by status and the time taken.

    Returns
    -------
    clips : ClipSet or X
        The face tubes with their ``status`` companion, or ``X`` for ``faces="given"``.
    counts : dict of str to int, or None
        Frames by status (:data:`skfer.FRAME_STATUSES`), or ``None`` for ``"given"``.

    Raises
    ------
    ValueError
        ``faces`` neither value; a clip without a trustworthy face (the named models' face
        step has ``on_missing="raise"``), naming the clip.
    """
    from .clipset import FRAME_STATUSES, ClipSet

    if faces == "given":
        return X, None
    if faces != "detect":
        raise ValueError(f"faces must be 'given' or 'detect', got {faces!r}")
    start = time.perf_counter()
    extractor = face_tube_step(margin).set_params(n_jobs=n_jobs).fit()
    pairs = extractor.iter_transform(X)
    if progress:
        from tqdm.auto import tqdm

        pairs = tqdm(pairs, total=len(X), desc="face tubes", unit="clip")
    tubes, statuses, counts = [], [], dict.fromkeys(FRAME_STATUSES, 0)
    for tube, record in pairs:
        tubes.append(tube)
        statuses.append(record.status)
        for status in record.status:
            counts[str(status)] += 1
    if verbose:
        print("face tubes: " + ", ".join(f"{n} frames {s}" for s, n in counts.items())
              + f" ({time.perf_counter() - start:.1f} s)")
    return ClipSet(tubes, status=statuses), counts
