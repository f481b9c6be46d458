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

from collections.abc import Callable
from dataclasses import dataclass

from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

__all__ = ["MODELS", "face_tube_step", "make_model"]


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
}


def make_model(
    name: str, *, faces: str = "given", random_state: int | None = 0, probability: bool = False
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
        Fit the SVMs with Platt probabilities (``SVC(probability=True)``), which
        :mod:`skfer.prediction` needs for per-frame probabilities; labels are unchanged.
        Networks give probabilities either way.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
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
    return Pipeline(steps)


def face_tube_step(margin: float = 0.0):
    """The face-tube step of the named models: 48x48 grey tubes, a clip without face raises.

    ``margin``: the model's framing (:class:`~skfer.preprocessing.FaceTubeExtractor`).
    """
    from .preprocessing import FaceTubeExtractor

    return FaceTubeExtractor(frame_size=(48, 48), margin=margin)
