"""A fitted model seen frame by frame: face tubes, per-frame vectors and a clip head."""

from __future__ import annotations

import copy
import sys
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..clipset import UNUSABLE_STATUSES, ClipSet

__all__ = ["FrameModel", "predict_frames"]

# -- the model seen frame by frame ---------------------------------------------------------


class FrameModel:
    """A fitted skfer model split into face tubes, per-frame vectors and a clip head.

    Parameters
    ----------
    model : fitted Pipeline or estimator
        A pipeline of :mod:`skfer.models` (or of the same shape, see the module docstring),
        with or without a leading :class:`~skfer.preprocessing.FaceTubeExtractor`.

    Attributes
    ----------
    extractor : FaceTubeExtractor
        The model's own (fitted, with ``on_missing="ignore"`` so that a window without a
        face gives ``"missing"`` frames) or :func:`skfer.models.face_tube_step`'s.
    classes : ndarray
    kind : {"pooled", "frame-classifier"}

    Raises
    ------
    TypeError
        If the model has neither a frame-pooling step nor a frame classifier last.
    sklearn.exceptions.NotFittedError
        If it is not fitted.
    """

    def __init__(self, model: Any) -> None:
        from sklearn.base import clone

        from ..models import face_tube_step
        from ..preprocessing import FaceTubeExtractor, FrameAggregator, FramePooling

        steps = list(model.steps) if hasattr(model, "steps") else [("model", model)]
        extractor = steps.pop(0)[1] if isinstance(steps[0][1], FaceTubeExtractor) else None
        if extractor is None:
            # A shipped network's card says how its training faces were framed.
            card = getattr(_unfrozen(steps[-1][1]), "pretrained_card_", None) or {}
            extractor = face_tube_step(card.get("input", {}).get("face_tube_margin", 0.0))
        else:
            extractor = clone(extractor)
        self.extractor = extractor.set_params(on_missing="ignore").fit()
        pools = [k for k, (_, est) in enumerate(steps)
                 if isinstance(est, (FramePooling, FrameAggregator))]
        if pools:
            k = pools[0]
            self.kind = "pooled"
            # A copy that only records: predict records the frames it leaves out per file
            # and applies its own on_missing (the pooling would warn about "clip 0" again).
            self.pool = copy.copy(steps[k][1])
            if "on_missing" in self.pool.get_params(deep=False):
                self.pool.set_params(on_missing="ignore")
            if getattr(self.pool, "method", None) == "delta":
                raise TypeError(
                    "FramePooling(method='delta') pools one frame to zeros: per-frame "
                    "probabilities of this model would say nothing of the frame"
                )
            self.pre, self.post = [e for _, e in steps[:k]], [e for _, e in steps[k + 1 :]]
        elif _is_frame_classifier(_unfrozen(steps[-1][1])):
            self.kind = "frame-classifier"
            self.pre, self.clf = [e for _, e in steps[:-1]], steps[-1][1]
        else:
            names = " -> ".join(type(e).__name__ for _, e in steps)
            raise TypeError(
                f"cannot score frames of the model {names}: it has no frame-pooling step "
                "(FramePooling, FrameAggregator) and does not end in a frame classifier"
            )
        check_is_fitted(steps[-1][1])
        self.classes = np.asarray(steps[-1][1].classes_)

    def vectors(self, tubes: ClipSet) -> list[np.ndarray]:
        """Per-frame vectors of each tube: pre-pooling features, or frame probabilities."""
        X = tubes
        for est in self.pre:
            X = est.transform(X)
        if self.kind == "pooled":
            return [np.asarray(s, dtype=np.float32) for s in getattr(X, "data", X)]
        if getattr(self.clf, "transform_output", "proba") == "proba":
            Xt = self.clf.transform(X)
            return list(getattr(Xt, "data", Xt))
        # A network whose transform gives features: its frames scored as one-frame clips.
        out = []
        for i, clip in enumerate(getattr(X, "data", X)):
            usable = X.usable_frames(i) if isinstance(X, ClipSet) else np.ones(len(clip), bool)
            probs = np.full((len(clip), len(self.classes)), np.nan)
            if usable.any():
                probs[usable] = self.clf.predict_proba([f[None] for f in clip[usable]])
            out.append(probs)
        return out

    def frame_proba(self, vectors: np.ndarray, usable: np.ndarray) -> np.ndarray:
        """``(T, n_classes)`` probabilities of the frames (NaN where not ``usable``)."""
        if self.kind == "frame-classifier":
            out = np.array(vectors, dtype=np.float64)
            out[~usable] = np.nan
            return out
        out = np.full((len(vectors), len(self.classes)), np.nan)
        if usable.any():
            # Each usable frame pooled as a one-frame sequence: (n, 1, F).
            out[usable] = self._head(self.pool.transform(vectors[usable][:, None, :]))
        return out

    def clip_predict(self, vectors: np.ndarray, status: np.ndarray) -> tuple[Any, np.ndarray]:
        """The model's label and class probabilities for a whole file from its frames.

        The label is the model's own ``predict`` (for an SVM, its decision values, which
        may differ from the arg-max of its Platt probabilities), from the same pooled
        vector as the probabilities.
        """
        usable = ~np.isin(status, UNUSABLE_STATUSES)
        if self.kind == "frame-classifier":
            # BaseFrameClassifier.predict_proba's rule, on the frames already scored.
            probs = np.asarray(vectors, dtype=np.float64)[usable]
            last = getattr(self.clf, "clip_aggregation", "mean") == "last"
            proba = probs[-1] if last else probs.mean(axis=0)
            return self.classes[int(np.argmax(proba))], proba
        pooled = self.pool.transform(ClipSet([np.asarray(vectors)], status=[status]))
        for est in self.post[:-1]:
            pooled = est.transform(pooled)
        return self.post[-1].predict(pooled)[0], self._head(pooled, transformed=True)[0]

    def _head(self, pooled: np.ndarray, transformed: bool = False) -> np.ndarray:
        """The clip classifier's probabilities of pooled vectors (through the steps between)."""
        if not transformed:
            for est in self.post[:-1]:
                pooled = est.transform(pooled)
        last = self.post[-1]
        if not hasattr(last, "predict_proba"):
            raise TypeError(
                f"the model's classifier {type(last).__name__} has no predict_proba (wrap an "
                "SVC in CalibratedClassifierCV: make_model(..., probability=True), as `skfer "
                "train` builds them)"
            )
        return last.predict_proba(pooled)


def _unfrozen(est: Any) -> Any:
    """The estimator inside a ``FrozenEstimator`` (a shipped network), else ``est``."""
    from sklearn.frozen import FrozenEstimator

    return est.estimator if isinstance(est, FrozenEstimator) else est


def _is_frame_classifier(est: Any) -> bool:
    """Whether ``est`` is a skfer network scoring single frames (e.g. ConvNet).

    Looked up in ``sys.modules`` rather than imported: a model holding one has imported
    it when it was built or unpickled, and a classical model then does not pay for
    importing torch (a few hundred MB of resident memory).
    """
    base = sys.modules.get("skfer.neural._base")
    return base is not None and isinstance(est, base.BaseFrameClassifier)


def predict_frames(model: Any, X: Any) -> list[np.ndarray]:
    """Class probabilities of every frame of every clip.

    Parameters
    ----------
    model : fitted Pipeline or FrameModel
        See :class:`FrameModel`. A leading face-tube extractor is *not* applied: ``X`` are
        the clips its next step takes (face tubes).
    X : ClipSet or list of clips
        Face tubes; a ``status`` companion marks ``"missing"`` frames.

    Returns
    -------
    proba : list of ndarray of shape (T_i, n_classes)
        NaN rows on ``"missing"`` frames; columns in the order of ``model.classes_``.

    Examples
    --------
    >>> from skfer.datasets import make_expressions
    >>> from skfer.models import make_model
    >>> data = make_expressions(n_subjects=2, random_state=0)
    >>> model = make_model("hog-svm", faces="detect", probability=True).fit(data.data, data.target)
    >>> tubes = model[0].transform(data.data[:2])
    >>> proba = predict_frames(model, tubes)
    >>> proba[0].shape == (len(tubes[0]), 6), bool(np.allclose(proba[0].sum(axis=1), 1))
    (True, True)
    """
    head = model if isinstance(model, FrameModel) else FrameModel(model)
    X = X if isinstance(X, ClipSet) else ClipSet(list(X))
    return [
        head.frame_proba(vec, X.usable_frames(i)) for i, vec in enumerate(head.vectors(X))
    ]


