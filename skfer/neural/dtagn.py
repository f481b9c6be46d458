"""DTAN, DTGN and DTAGN (Jung et al., "Joint Fine-Tuning in Deep Neural Networks for Facial
Expression Recognition", ICCV 2015) as scikit-learn classifiers.

* :class:`DTAN`: the appearance network on clips brought to ``n_frames`` frames;
* :class:`DTGN`: the geometry network on the landmark trajectories that travel with the
  clips in a :class:`skfer.ClipSet` (``landmarks`` companion);
* :class:`DTAGN`: both networks on the same ClipSet, joined by the weighted sum of their
  probabilities (eq. 7) or by joint fine-tuning of their two top layers (eq. 8-11).

Training-time augmentation (section 3.4) is a pipeline step, not a parameter:
``imblearn.pipeline.make_pipeline(ImageSequenceAugmenter(), DTAGN())`` flips and rotates
every clip *with its landmarks* during ``fit`` only, and DTGN adds Gaussian noise to the
normalised trajectories of every training batch (``noise_std``, eq. 5).
"""

from __future__ import annotations

import copy
import numbers
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch.dataset import Dataset

from ..base import ClipTransformerMixin
from ..clipset import ClipSet
from ..preprocessing.landmarks import LandmarkNormalizer, select_landmarks
from ..preprocessing.temporal import TemporalResampler
from ..utils._sklearn import HasMethods, Interval, Options, StrOptions, _fit_context
from ..utils.frame_policy import policy_constraint
from ..utils.validation import check_clips, check_labels
from ._base import BaseNeuralClassifier, seeded_torch
from ._training import stage_net
from .modules_dtagn import DTAN_PRESETS, DTGN_PRESETS, DTAGNLoss, DTANNet, DTGNNet, JointHeads

__all__ = ["DTAGN", "DTAN", "DTGN", "weighted_sum"]


def weighted_sum(p: np.ndarray, q: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """DTAGN's weighted summation (eq. 7): ``o = α p + (1 - α) q``.

    ``p`` and ``q`` are the class probabilities of DTAN and DTGN (same columns). With
    ``α = 0.5`` it is the soft vote of the two networks (scikit-learn's
    ``VotingClassifier(voting="soft")``).

    Examples
    --------
    >>> import numpy as np
    >>> weighted_sum(np.array([[0.8, 0.2]]), np.array([[0.4, 0.6]]), alpha=0.5)
    array([[0.6, 0.4]])
    """
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if p.shape != q.shape:
        raise ValueError(f"the two networks' probabilities differ in shape: {p.shape}, {q.shape}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1] (eq. 7), got {alpha}")
    return alpha * p + (1.0 - alpha) * q


def _where(i: int, sources) -> str:
    return f"clip {i}" + (f" ({sources[i]})" if sources else "")


class _ClipTransformMixin:
    """``transform`` of DTAN and DTGN: probabilities or features per clip."""

    def transform(self, X) -> np.ndarray:
        """Class probabilities or penultimate features of every clip (``transform_output``).

        ``transform_output="features"`` gives the input of the network's top layer (the
        last hidden layer, in evaluation mode), what :class:`DTAGN`'s joint fine-tuning
        trains on and what a pipeline can pass to another classifier.

        Parameters
        ----------
        X : list of clips, ndarray or ClipSet (DTAN); ClipSet with a ``landmarks``
            companion (DTGN)

        Returns
        -------
        ndarray of shape (n_clips, n_classes) or (n_clips, n_features)
        """
        check_is_fitted(self, "net_")
        return self._network_outputs(self._dataset(self._check_X(X, reset=False)),
                                     features=self.transform_output == "features")


class _FixedLengthMixin:
    """``n_frames``, the ``on_short`` policy and ``predict_proba`` of DTAN and DTGN."""

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of every clip.

        Parameters
        ----------
        X : list of clips, ndarray or ClipSet (DTAN); ClipSet with a ``landmarks``
            companion (DTGN)

        Returns
        -------
        proba : ndarray of shape (n_clips, n_classes)
        """
        check_is_fitted(self, "net_")
        return self._network_outputs(self._dataset(self._check_X(X, reset=False)))

    def _check_short(self, lengths: Sequence[int], sources) -> None:
        short = [i for i, n in enumerate(lengths) if n < self.n_frames]
        if not short or self.on_short == "ignore":
            return
        i = short[0]
        msg = (
            f"{len(short)} clip(s) have fewer frames than n_frames={self.n_frames} (first: "
            f"{_where(i, sources)}, {lengths[i]} frames)"
        )
        if self.on_short == "raise":
            raise ValueError(
                f"{msg}; give longer clips, lower n_frames, or on_short='warn'/'ignore' to "
                "interpolate the missing frames"
            )
        warnings.warn(f"{type(self).__name__}: {msg}; they were interpolated in time to "
                      f"{self.n_frames} frames", UserWarning, stacklevel=4)


_BASE_DOC = """
    classes : array-like or None, default=None
    lr : float, default=0.01
    max_epochs : int, default={max_epochs}
    batch_size : int, default=32
    optimizer : {{"sgd", "adam", "adamw"}} or torch optimizer class, default="sgd"
    momentum : float, default=0.9
    weight_decay : float, default=5e-4
        The paper regularises with weight decay (value not given).
    patience : int or None, default=None
    monitor : str, default="valid_loss"
    validation_fraction : float or None, default=None
        No internal validation by default: the paper trains for a fixed schedule.
    callbacks : list or None, default=None
    device : str, default="auto"
    init_from : str, path, fitted estimator of this class or None, default=None
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
    **kwargs
        Nested parameters (``module__*``, ``optimizer__*``, ...). See
        :class:`~skfer.neural.BaseNeuralClassifier` for the shared parameters."""


class DTAN(_ClipTransformMixin, _FixedLengthMixin, BaseNeuralClassifier):
    """Deep Temporal Appearance Network (DTAGN paper, section 3.2, eq. 1, 5.1).

    Every clip is brought to ``n_frames`` frames by
    :class:`~skfer.preprocessing.TemporalResampler` (linear interpolation in time) and
    its frames are stacked as the input channels of the first convolution of
    :class:`~skfer.neural.modules_dtagn.DTANNet`: ``C(5,64)-L5-P2-C(5,64)-L3-P2-FC500-
    FC500-S`` (``preset="ckplus"``) or ``C(5,32)-P3-C(3,32)-FC30-S`` (``"mmi"``), with
    ReLU, local contrast normalisation, dropout and weight decay, trained with SGD.

    The input size is the training clips' frame size (the paper's 64x64; CK+48's 48x48
    works as it is); frames of another size are refused at predict. A
    :class:`~skfer.ClipSet` is accepted and read for its pixels only.

    Parameters
    ----------
    n_frames : int, default=12
        ``T``, frames per clip after resampling (DTGN's 1176 inputs imply 12 on CK+; the
        paper's Fig. 5 shows 3). CK+48 keeps 3 frames per sequence: use 3 there.
    preset : {"ckplus", "mmi"}, default="ckplus"
        Architecture of section 5.1 (:data:`~skfer.neural.modules_dtagn.DTAN_PRESETS`);
        ``module__stages`` / ``module__hidden`` override it.
    dropout : float, default=0.5
        Dropout before the second hidden layer and before the top layer.
    on_short : {"raise", "warn", "ignore"}, default="warn"
        A clip with fewer than ``n_frames`` frames: ``"raise"`` a ``ValueError`` naming the
        clip; ``"warn"`` interpolate it in time (every output frame a blend of its two
        nearest frames) with a warning counting such clips; ``"ignore"`` interpolate
        silently. Longer clips are always resampled (first and last frames kept).
    transform_output : {"proba", "features"}, default="proba"
        What :meth:`transform` gives: class probabilities, or the last hidden layer's
        features (the input of the top layer) of every clip.
    {base}

    Attributes
    ----------
    classes_, net_, device_, frame_size_, color_, validation_split_, n_epochs_,
    init_report_, history_
        See :class:`~skfer.neural.BaseNeuralClassifier`.

    Notes
    -----
    Where skfer departs from the paper: time normalisation by interpolation instead of
    the lipreading manifold of Zhou et al.; convolution padding, the LCN window's
    Gaussian width and the position of dropout are inferred (see
    :class:`~skfer.neural.modules_dtagn.DTANNet`); inputs are standardised with the
    training pixels' mean and standard deviation; PyTorch's default initialisation.

    Examples
    --------
    >>> from skfer.utils.estimator_checks import make_clip_data
    >>> X, y = make_clip_data(n_clips=8, frame_size=(24, 24))
    >>> net = DTAN(n_frames=3, max_epochs=2, module__hidden=(16,), random_state=0).fit(X, y)
    >>> net.predict_proba(X).shape
    (8, 2)
    """

    _module_class = DTANNet
    _input_mode = "clips"

    _parameter_constraints: dict = {
        **BaseNeuralClassifier._parameter_constraints,
        "n_frames": [Interval(numbers.Integral, 1, None, closed="left")],
        "preset": [StrOptions(set(DTAN_PRESETS))],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "on_short": policy_constraint(),
        "transform_output": [StrOptions({"proba", "features"})],
    }

    def __init__(
        self,
        *,
        n_frames: int = 12,
        preset: str = "ckplus",
        dropout: float = 0.5,
        on_short: str = "warn",
        transform_output: str = "proba",
        classes=None,
        lr: float = 0.01,
        max_epochs: int = 50,
        batch_size: int = 32,
        optimizer="sgd",
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        patience: int | None = None,
        monitor: str = "valid_loss",
        validation_fraction: float | None = None,
        callbacks: list | None = None,
        device: str = "auto",
        init_from=None,
        random_state=None,
        verbose: int = 0,
        **kwargs,
    ):
        self.n_frames = n_frames
        self.preset = preset
        self.dropout = dropout
        self.on_short = on_short
        self.transform_output = transform_output
        super().__init__(
            classes=classes, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
            optimizer=optimizer, momentum=momentum, weight_decay=weight_decay,
            patience=patience, monitor=monitor, validation_fraction=validation_fraction,
            callbacks=callbacks,
            device=device, init_from=init_from, random_state=random_state, verbose=verbose,
            **kwargs,
        )

    def _module_kwargs(self) -> dict:
        return {"n_frames": self.n_frames, "preset": self.preset, "dropout": self.dropout}

    def _check_X(self, X, *, reset: bool) -> list[np.ndarray]:
        clips = super()._check_X(X, reset=reset)
        sources = X.get("source") if isinstance(X, ClipSet) else None
        self._check_short([len(c) for c in clips], sources)
        return TemporalResampler(n_frames=self.n_frames).fit_transform(clips)


DTAN.__doc__ = DTAN.__doc__.replace("{base}", _BASE_DOC.format(max_epochs=50).strip())


class DTGN(_ClipTransformMixin, _FixedLengthMixin, BaseNeuralClassifier):
    """Deep Temporal Geometry Network (DTAGN paper, section 3.3, 5.1).

    Reads the ``landmarks`` companion of a :class:`skfer.ClipSet` (``(T, P, 2)`` pixel
    positions per clip, from a loader or
    :class:`~skfer.preprocessing.LandmarkDetector`), keeps the 49 IntraFace points,
    resamples each trajectory to ``n_frames`` frames with
    :class:`~skfer.preprocessing.TemporalResampler`, normalises every frame with
    :class:`~skfer.preprocessing.LandmarkNormalizer` (nose tip subtracted, each axis
    divided by its standard deviation, eq. 3) and concatenates the frames (eq. 4, ``49 x
    2 x T`` values: 1176 for T = 12) into :class:`~skfer.neural.modules_dtagn.DTGNNet`
    (``FC100-FC600-S``, ``preset="ckplus"``; ``FC100-FC200-S``, ``"mmi"``).

    Parameters
    ----------
    n_frames : int, default=12
        ``T`` (12 gives the paper's 1176 inputs with 49 points).
    n_points : {49, 68}, default=49
        Points per frame the network reads. ``49``: 68-point iBUG input (dlib, the
        loaders) is reduced to the IntraFace 49 by
        :func:`~skfer.preprocessing.select_landmarks` (the 17 jaw points and the inner
        mouth corners 60 and 64 dropped, :data:`~skfer.preprocessing.IBUG68_TO_INTRAFACE49`);
        49-point input is used as it is. ``68``: all iBUG points (49-point input refused).
    preset : {"ckplus", "mmi"}, default="ckplus"
        Hidden widths (:data:`~skfer.neural.modules_dtagn.DTGN_PRESETS`); ``module__hidden``
        overrides them.
    dropout : float, default=0.5
    noise_std : float, default=0.01
        Gaussian noise added to the normalised coordinates of every training batch (eq. 5,
        the paper's ``σ = 0.01``); 0 turns it off.
    on_missing : {"raise", "warn", "ignore"}, default="warn"
        Frames without landmarks (any NaN point, or ``status`` ``"missing"`` in the
        ClipSet): ``"raise"`` a ``ValueError`` naming the clip and frame; ``"warn"`` /
        ``"ignore"`` (with / without a ``UserWarning`` counting them) fill the frame by
        linear interpolation in time between the clip's nearest frames with landmarks (the
        nearest one at the ends). A clip with no landmarks at all gets the mean normalised
        training trajectory (:attr:`mean_trajectory_`), so DTGN's vote for it carries no
        clip-specific information. :attr:`missing_landmarks_` records what ``fit`` filled.
    on_short : {"raise", "warn", "ignore"}, default="warn"
        A clip with fewer than ``n_frames`` frames (see :class:`DTAN`).
    transform_output : {"proba", "features"}, default="proba"
        What :meth:`transform` gives (see :class:`DTAN`).
    {base}

    Attributes
    ----------
    n_points_in_ : int
        Points per frame of the training landmarks (68 or 49); predict refuses others.
    mean_trajectory_, trajectory_std_ : ndarray of shape (2 * n_points * n_frames,)
        Mean and standard deviation of the normalised trajectories of the training clips
        with landmarks; the network standardises its inputs with them.
    missing_landmarks_ : Bunch
        ``n_frames`` filled frames, ``clips`` the clips with a filled frame, ``empty``
        the clips without any landmarks (given ``mean_trajectory_``), in ``fit``.
    classes_, net_, device_, validation_split_, n_epochs_, init_report_, history_
        See :class:`~skfer.neural.BaseNeuralClassifier`. ``frame_size_`` is ``None`` and
        ``color_`` False: DTGN reads no pixels.

    Notes
    -----
    ``X`` must be a ClipSet with landmarks: a plain list of clips is refused with an error
    saying how to attach them (``ClipSet(clips, landmarks=...)``,
    ``ClipSet.from_bunch``, ``LandmarkDetector(output="clips")``). The ClipSet checks on
    construction that every landmark array has one entry per frame of its clip.

    Where skfer departs from the paper: landmarks come from dlib's 68-point predictor
    reduced to IntraFace's 49 (IntraFace itself is not available); every value of the
    normalised trajectory is standardised with its training mean and standard deviation
    (without it, DTGN stayed at chance on the synthetic data with dropout 0.5);
    the landmark noise, mirrors and rotations (``noise_std``, ``flip``, ``max_angle``) are
    drawn for every batch instead of the paper's fixed copies (3 noisy, 3 rotated, and the
    mirror of each: :class:`~skfer.augmentation.LandmarkAugmenter`), so every epoch sees new
    ones without multiplying the data; for clips whose pixels must move with their points,
    :class:`~skfer.augmentation.ImageSequenceAugmenter` makes paired copies (see
    :class:`DTAGN`).

    Examples
    --------
    >>> from skfer import ClipSet
    >>> from skfer.datasets import make_expressions
    >>> data = make_expressions(n_subjects=2, n_clips_per_expression=1, random_state=0)
    >>> X = ClipSet.from_bunch(data)
    >>> net = DTGN(n_frames=4, max_epochs=3, random_state=0).fit(X, data.target)
    >>> net.predict_proba(X).shape, net.net_.module_.n_inputs
    ((12, 6), 392)
    """

    _module_class = DTGNNet
    _input_mode = "vectors"

    _parameter_constraints: dict = {
        **BaseNeuralClassifier._parameter_constraints,
        "n_frames": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_points": [Options(numbers.Integral, {49, 68})],
        "preset": [StrOptions(set(DTGN_PRESETS))],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "noise_std": [Interval(numbers.Real, 0, None, closed="left")],
        "flip": ["boolean"],
        "max_angle": [Interval(numbers.Real, 0, None, closed="left")],
        "on_missing": policy_constraint(),
        "on_short": policy_constraint(),
        "transform_output": [StrOptions({"proba", "features"})],
    }

    def __init__(
        self,
        *,
        n_frames: int = 12,
        n_points: int = 49,
        preset: str = "ckplus",
        dropout: float = 0.5,
        noise_std: float = 0.01,
        flip: bool = False,
        max_angle: float = 0.0,
        on_missing: str = "warn",
        on_short: str = "warn",
        transform_output: str = "proba",
        classes=None,
        lr: float = 0.01,
        max_epochs: int = 100,
        batch_size: int = 32,
        optimizer="sgd",
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        patience: int | None = None,
        monitor: str = "valid_loss",
        validation_fraction: float | None = None,
        callbacks: list | None = None,
        device: str = "auto",
        init_from=None,
        random_state=None,
        verbose: int = 0,
        **kwargs,
    ):
        self.n_frames = n_frames
        self.n_points = n_points
        self.preset = preset
        self.dropout = dropout
        self.noise_std = noise_std
        self.flip = flip
        self.max_angle = max_angle
        self.on_missing = on_missing
        self.on_short = on_short
        self.transform_output = transform_output
        super().__init__(
            classes=classes, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
            optimizer=optimizer, momentum=momentum, weight_decay=weight_decay,
            patience=patience, monitor=monitor, validation_fraction=validation_fraction,
            callbacks=callbacks,
            device=device, init_from=init_from, random_state=random_state, verbose=verbose,
            **kwargs,
        )

    def _module_kwargs(self) -> dict:
        n_points = int(self.n_points)
        return {
            "n_inputs": 2 * n_points * self.n_frames,
            "preset": self.preset,
            "dropout": self.dropout,
            "noise_std": self.noise_std,
            "flip": bool(self.flip),
            "max_angle": float(self.max_angle),
            "n_points": n_points,
            # Per-input standardisation: the expressions move the normalised points by a
            # tenth of their spread around the mean face, which a scalar scaling buries.
            "center": self.mean_trajectory_.tolist(),
            "scale": self.trajectory_std_.tolist(),
        }

    # ------------------------------------------------------------------------ landmarks
    def _landmarks(self, X, *, reset: bool) -> tuple[list[np.ndarray], list]:
        """Validated ``(T, n_points, 2)`` landmarks (NaN in frames without), and sources."""
        clips = check_clips(X)  # the clip errors first: empty set, bad clip, ...
        landmarks = X.get("landmarks") if isinstance(X, ClipSet) else None
        if landmarks is None:
            got = "a ClipSet without landmarks" if isinstance(X, ClipSet) else (
                f"a plain {type(X).__name__} of clips"
            )
            raise ValueError(
                f"{type(self).__name__} reads the landmarks that travel with the clips in a "
                f"skfer.ClipSet, got {got}; build X with ClipSet(clips, landmarks=...), "
                "ClipSet.from_bunch(loader_bunch) or LandmarkDetector(output='clips')"
            )
        sources = X.get("source")
        want = int(self.n_points)
        out, found, first = [], None, None
        for i, points in enumerate(landmarks):
            if points is None:  # a clip whose landmarks are unknown: filled below
                out.append(None)
                continue
            points = np.asarray(points, dtype=np.float64)
            if points.ndim != 3 or points.shape[2] != 2 or points.shape[1] not in (49, 68):
                raise ValueError(
                    f"{_where(i, sources)}: landmarks must be (T, 68, 2) iBUG or (T, 49, 2) "
                    f"IntraFace points, got shape {points.shape}"
                )
            if found is None:
                found, first = points.shape[1], i
            elif points.shape[1] != found:
                raise ValueError(
                    f"{_where(i, sources)} has {points.shape[1]}-point landmarks but clip "
                    f"{first} has {found}-point ones; use one landmark scheme per data set"
                )
            out.append(points)
        if found is None:  # no clip has landmarks: read them as the fitted scheme's
            found = want if reset else self.n_points_in_
        fitted = found if reset else self.n_points_in_
        # A clip whose entry is None has no landmarks in any frame (NaN, see on_missing).
        out = [np.full((len(c), found, 2), np.nan) if p is None else p
               for c, p in zip(clips, out)]
        if found != fitted:
            raise ValueError(
                f"X has {found}-point landmarks but {type(self).__name__} was fitted on "
                f"{fitted}-point landmarks; give the scheme it was trained on (its 68 -> 49 "
                "reduction is fixed at fit: landmarks of another source or scheme are "
                "another input)"
            )
        if want == 68 and found == 49:
            raise ValueError(
                "n_points=68 but X has 49-point landmarks; 49 points cannot give 68: use "
                "n_points=49"
            )
        if reset:
            self.n_points_in_ = found
        if want == 49 and found == 68:
            out = [select_landmarks(p, "49") for p in out]
        if isinstance(X, ClipSet) and X.get("status") is not None:
            for i, points in enumerate(out):
                missing = ~X.usable_frames(i)
                if missing.any():
                    out[i] = points.copy()
                    out[i][missing] = np.nan
        return out, sources

    def _fill_missing(self, seqs: list[np.ndarray], sources) -> tuple[list, Bunch]:
        """Frames without landmarks interpolated in time; clips with none listed."""
        filled, clips, empty, n_frames = [], [], [], 0
        for i, points in enumerate(seqs):
            ok = np.isfinite(points).all(axis=(1, 2))
            if ok.all():
                filled.append(points)
                continue
            if self.on_missing == "raise":
                t = int(np.flatnonzero(~ok)[0])
                raise ValueError(
                    f"{_where(i, sources)}: frame {t} has no landmarks (NaN); detect them "
                    "again, or on_missing='warn'/'ignore' to interpolate them in time"
                )
            if not ok.any():
                empty.append(i)
                filled.append(None)
                continue
            n_frames += int((~ok).sum())
            clips.append(i)
            t, good = np.arange(len(points)), np.flatnonzero(ok)
            flat = points.reshape(len(points), -1)
            full = np.stack([np.interp(t, good, flat[good, k]) for k in range(flat.shape[1])],
                            axis=1)
            filled.append(full.reshape(points.shape))
        record = Bunch(n_frames=n_frames, clips=clips, empty=empty)
        if (clips or empty) and self.on_missing == "warn":
            what = []
            if clips:
                what.append(f"{n_frames} frame(s) without landmarks in {len(clips)} clip(s) "
                            f"(first: {_where(clips[0], sources)}) were interpolated in time")
            if empty:
                what.append(f"{len(empty)} clip(s) without any landmarks (first: "
                            f"{_where(empty[0], sources)}) get the mean training trajectory")
            warnings.warn(f"{type(self).__name__}: " + "; ".join(what), UserWarning,
                          stacklevel=4)
        return filled, record

    def _check_X(self, X, *, reset: bool) -> list[np.ndarray]:
        """Normalised trajectories ``(2 P T,)`` of every clip (the network's input rows)."""
        seqs, sources = self._landmarks(X, reset=reset)
        self._check_short([len(s) for s in seqs], sources)
        seqs, record = self._fill_missing(seqs, sources)
        have = [i for i, s in enumerate(seqs) if s is not None]
        rows = np.zeros((len(seqs), 2 * int(self.n_points) * self.n_frames))
        if have:
            flat = [seqs[i].reshape(len(seqs[i]), -1) for i in have]
            resampled = TemporalResampler(n_frames=self.n_frames, flatten=False).fit_transform(
                flat
            )
            points = resampled.reshape(len(have), self.n_frames, -1, 2)
            rows[have] = LandmarkNormalizer(flatten=True).fit_transform(list(points))
        if reset:
            if not have:
                raise ValueError(f"{type(self).__name__}: no training clip has landmarks")
            self.mean_trajectory_ = rows[have].mean(axis=0)
            self.trajectory_std_ = rows[have].std(axis=0)
            self.missing_landmarks_ = record
            self.frame_size_, self.color_ = None, False
        rows[record.empty] = self.mean_trajectory_
        return list(rows.astype(np.float32))

    def _dataset(self, rows, y=None) -> Dataset:
        X = np.stack(rows) if len(rows) else np.empty((0, 0))
        return Dataset(np.ascontiguousarray(X, dtype=np.float32),
                       None if y is None else np.asarray(y, dtype=np.int64))


DTGN.__doc__ = DTGN.__doc__.replace("{base}", _BASE_DOC.format(max_epochs=100).strip())


class DTAGN(ClipTransformerMixin, ClassifierMixin, BaseEstimator):
    """DTAN and DTGN on the same clips, joined by weighted sum or joint fine-tuning.

    ``fit`` trains a clone of ``dtan`` on the pixels and a clone of ``dtgn`` on the
    landmarks of one :class:`skfer.ClipSet` (both with this estimator's class order, so
    their outputs line up). Then, with ``combination="joint"`` (section 3.5.2), the two
    networks' bodies (everything below their top linear layers, the grey boxes of the
    paper's Fig. 2) are frozen and the two top layers (initialised from the trained ones)
    are retrained on the same training clips with

    ``L = λ1 CE(softmax(l1)) + λ2 CE(softmax(l2)) + λ3 CE(softmax(l1 + l2))`` (eq. 8-10),

    ``l1, l2`` the two networks' logits, with dropout on the top layers' inputs; predictions
    are ``softmax(l1 + l2)`` (eq. 10-11). With ``combination="weighted"`` (section 3.5.1)
    the prediction is ``α p + (1 - α) q`` of the two networks' probabilities (eq. 7;
    ``α = 0.5`` is the soft vote).

    Parameters
    ----------
    dtan : DTAN, ConvNet or None, default=None
        The appearance network (unfitted; cloned). ``None``: ``DTAN()``. A frame network
        such as ``ConvNet(init_from="emonets-fer2013", ...)`` (the FER2013 network shipped
        with skfer, fine-tuned) may take its place: its frame features are averaged over
        each clip's frames before the joint top layers (see Notes).
    dtgn : DTGN or None, default=None
        The geometry network (unfitted; cloned). ``None``: ``DTGN()``.
    combination : {"joint", "weighted"}, default="joint"
    alpha : float in [0, 1], default=0.5
        Weight of DTAN in the weighted sum (eq. 7).
    lambdas : (float, float, float), default=(1.0, 1.0, 0.1)
        ``λ1, λ2, λ3`` of eq. 8 (the paper's values).
    finetune_epochs : int, default=30
    finetune_lr : float, default=0.01
        SGD with momentum 0.9 on the two top layers.
    finetune_weight_decay : float, default=5e-4
        On the top layers' weights (not their biases).
    finetune_batch_size : int, default=32
    random_state : int, RandomState instance or None, default=None
        Seeds the networks whose own ``random_state`` is None, and the fine-tuning
        (batches, dropout).
    verbose : int, default=0
        Passed to the default networks (``dtan=None``, ``dtgn=None``); non-zero prints the
        joint fine-tuning's epoch table (skorch's).

    Attributes
    ----------
    classes_ : ndarray
    dtan_ : DTAN
        The trained appearance network; joint fine-tuning leaves it unchanged (its own
        ``predict_proba`` is the DTAN alone).
    dtgn_ : DTGN
        The trained geometry network, likewise unchanged.
    joint_heads_ : torch.nn.ModuleDict or None
        ``"appearance"`` and ``"geometry"``: the two jointly fine-tuned top layers
        (``combination="joint"``), applied to ``dtan_``'s and ``dtgn_``'s body features.
    finetune_loss_ : list of float
        Mean training loss (eq. 8) of every fine-tuning epoch.

    Notes
    -----
    *How the landmarks travel.* ``X`` is a :class:`skfer.ClipSet` whose ``landmarks``
    companion holds each clip's ``(T, 68 or 49, 2)`` points (``ClipSet.from_bunch`` of a
    loader, or :class:`~skfer.preprocessing.LandmarkDetector` with ``output="clips"``);
    indexing by cross-validation splitters keeps them with their clips.

    *How the freezing works.* The bodies are evaluated once, in evaluation mode (no
    dropout inside them), on the training clips; fine-tuning then trains copies of the
    two top layers on those fixed features, so no gradient ever reaches a body
    parameter: ``dtan_`` and ``dtgn_`` stay bit-identical to the separately trained
    networks, and :meth:`predict_proba` is ``softmax(head_1(body_1(x)) +
    head_2(body_2(x)))``. This is the paper's freezing (the bodies are deterministic
    functions of the input once frozen); the one thing lost is DTGN's per-batch input
    noise during fine-tuning, where dropout (as in the paper) is what keeps the
    fine-tuning from starting at zero training error.

    *A pretrained appearance network.* The paper trains DTAN from scratch on the target
    data, with its ``T`` frames as the input channels. On CK+48 (3 apex frames a clip, 294
    training clips a fold) that network has little motion to see and few images to learn
    from; the EmoNets ConvNet that skfer ships (trained on FER2013) can be the appearance
    member instead (``dtan=ConvNet(init_from="emonets-fer2013", ...)``): one network on every
    frame, its penultimate features averaged over the clip, its top layer fine-tuned jointly
    with DTGN's by eq. 8 exactly as DTAN's would be. That is skfer's departure, named as such
    in ``make_model("dtagn")``.

    *Augmentation* (section 3.4) goes before this estimator in an imbalanced-learn
    pipeline, so it runs in ``fit`` only and every stage (both networks and the
    fine-tuning) sees the same augmented training set, as in the paper::

        from imblearn.pipeline import make_pipeline
        from skfer.augmentation import ImageSequenceAugmenter
        model = make_pipeline(ImageSequenceAugmenter(), DTAGN())   # 14 copies per clip

    :class:`~skfer.augmentation.ImageSequenceAugmenter` flips and rotates each clip by
    ±5/10/15° and moves its landmarks with the pixels (paired augmentation); DTGN's
    ``noise_std`` adds the landmark noise of eq. 5.

    Examples
    --------
    >>> from skfer import ClipSet
    >>> from skfer.datasets import make_expressions
    >>> data = make_expressions(n_subjects=2, n_clips_per_expression=1, frame_size=(64, 64),
    ...                         color=False, random_state=0)
    >>> X = ClipSet.from_bunch(data)
    >>> model = DTAGN(DTAN(n_frames=3, max_epochs=2, module__hidden=(32,)),
    ...               DTGN(n_frames=3, max_epochs=5), finetune_epochs=2, random_state=0)
    >>> model.fit(X, data.target).predict_proba(X).shape
    (12, 6)
    """

    _parameter_constraints: dict = {
        "dtan": [HasMethods(["fit", "predict_proba"]), None],
        "dtgn": [HasMethods(["fit", "predict_proba"]), None],
        "combination": [StrOptions({"joint", "weighted"})],
        "alpha": [Interval(numbers.Real, 0, 1, closed="both")],
        "lambdas": ["array-like"],
        "finetune_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "finetune_lr": [Interval(numbers.Real, 0, None, closed="left")],
        "finetune_weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "finetune_batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        dtan: DTAN | None = None,
        dtgn: DTGN | None = None,
        *,
        combination: str = "joint",
        alpha: float = 0.5,
        lambdas: Sequence[float] = (1.0, 1.0, 0.1),
        finetune_epochs: int = 30,
        finetune_lr: float = 0.01,
        finetune_weight_decay: float = 5e-4,
        finetune_batch_size: int = 32,
        random_state=None,
        verbose: int = 0,
    ):
        self.dtan = dtan
        self.dtgn = dtgn
        self.combination = combination
        self.alpha = alpha
        self.lambdas = lambdas
        self.finetune_epochs = finetune_epochs
        self.finetune_lr = finetune_lr
        self.finetune_weight_decay = finetune_weight_decay
        self.finetune_batch_size = finetune_batch_size
        self.random_state = random_state
        self.verbose = verbose

    def _lambdas(self) -> tuple[float, float, float]:
        lam = np.asarray(self.lambdas, dtype=float).reshape(-1)
        if lam.shape != (3,) or not np.isfinite(lam).all() or (lam < 0).any() or lam.sum() == 0:
            raise ValueError(
                f"lambdas must be three non-negative weights (λ1, λ2, λ3 of eq. 8), not all "
                f"zero; got {self.lambdas!r}"
            )
        return tuple(float(v) for v in lam)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, groups=None):
        """Train DTAN and DTGN, then (``combination="joint"``) fine-tune their top layers.

        Parameters
        ----------
        X : ClipSet with a ``landmarks`` companion
        y : array-like of shape (n_clips,)
        groups : array-like of shape (n_clips,), default=None
            Subjects, passed to both networks' ``fit`` (their grouped validation split).

        Returns
        -------
        self
        """
        lambdas = self._lambdas()
        clips = check_clips(X)
        y = check_labels(y)
        if len(y) != len(clips):
            raise ValueError(f"y has {len(y)} labels for {len(clips)} clips")
        self.classes_ = np.unique(y)
        rng = check_random_state(self.random_state)
        nets = []
        for net, default in ((self.dtan, DTAN), (self.dtgn, DTGN)):
            net = clone(net) if net is not None else default(verbose=self.verbose)
            seed = int(rng.randint(np.iinfo(np.int32).max))
            if net.get_params().get("random_state", 0) is None:
                net.set_params(random_state=seed)
            net.set_params(classes=self.classes_)
            nets.append(net.fit(X, y, groups=groups))
        self.dtan_, self.dtgn_ = nets
        self.joint_heads_, self.finetune_loss_ = None, []
        if self.combination == "joint":
            seed = int(rng.randint(np.iinfo(np.int32).max))
            self._joint_finetune(X, y, lambdas, seed)
        return self

    # ----------------------------------------------------------------- joint fine-tuning
    @staticmethod
    def _body_features(net, X) -> np.ndarray:
        """Features of a trained network's frozen body, one row per clip.

        Through the member's public API: a frame network (:class:`~skfer.neural.ConvNet`)
        reduces its frames' features to the clip as its ``predict_proba`` reduces
        probabilities (``clip_features``); a clip network (DTAN, DTGN) gives them by
        ``transform`` with ``transform_output="features"``.
        """
        if hasattr(net, "clip_features"):
            out = net.clip_features(X)
        else:
            # A shallow copy: the member keeps its own transform_output (the net is shared).
            out = copy.copy(net).set_params(transform_output="features").transform(X)
        return np.asarray(out, dtype=np.float32)


    def _joint_finetune(self, X, y, lambdas, seed: int) -> None:
        """Retrain copies of the two top layers on the frozen bodies' features (eq. 8-10).

        A skorch net (:func:`skfer.neural._training.stage_net`): SGD with momentum 0.9,
        the divergence check, the epoch table when ``verbose``; the features travel as
        skorch's dict input, one key per head.
        """
        features = {"appearance": self._body_features(self.dtan_, X),
                    "geometry": self._body_features(self.dtgn_, X)}
        index = {c: i for i, c in enumerate(self.classes_.tolist())}
        target = np.array([index[v] for v in y.tolist()], dtype=np.int64)
        modules = (self.dtan_.net_.module_, self.dtgn_.net_.module_)
        with seeded_torch("cpu", seed):
            # The top layers start from the trained ones; copies, so dtan_/dtgn_ stay as
            # trained. The features are computed, so the heads train on the CPU.
            joint = JointHeads(
                copy.deepcopy(modules[0].classifier).cpu(),
                copy.deepcopy(modules[1].classifier).cpu(),
                dropout=[getattr(m.dropout, "p", 0.0) for m in modules],
            )
            net = stage_net(
                joint, DTAGNLoss, criterion__lambdas=lambdas,
                owner="DTAGN joint fine-tuning", rate_name="finetune_lr", lr=self.finetune_lr,
                max_epochs=self.finetune_epochs, batch_size=self.finetune_batch_size,
                optimizer="sgd", momentum=0.9, weight_decay=self.finetune_weight_decay,
                verbose=self.verbose,
            )
            if self.verbose:
                print("DTAGN joint fine-tuning of the two top layers (eq. 8)")
            net.partial_fit(Dataset(features, target), None)
        self.joint_heads_ = joint.heads.eval()
        self.finetune_loss_ = [float(row["train_loss"]) for row in net.history]

    def joint_logits(self, X) -> tuple[np.ndarray, np.ndarray]:
        """The fine-tuned logits ``l1`` (DTAN) and ``l2`` (DTGN) of every clip (eq. 10).

        Parameters
        ----------
        X : ClipSet with a ``landmarks`` companion

        Returns
        -------
        l1, l2 : ndarray of shape (n_clips, n_classes)
        """
        check_is_fitted(self, "classes_")
        if self.joint_heads_ is None:
            raise ValueError(
                'the model was fitted with combination="weighted": there are no jointly '
                'fine-tuned layers; fit it with combination="joint"'
            )
        with torch.inference_mode():
            l1 = self.joint_heads_["appearance"](
                torch.from_numpy(self._body_features(self.dtan_, X)))
            l2 = self.joint_heads_["geometry"](
                torch.from_numpy(self._body_features(self.dtgn_, X)))
        return l1.numpy(), l2.numpy()

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities: ``softmax(l1 + l2)`` (joint) or ``α p + (1 - α) q`` (weighted).

        Parameters
        ----------
        X : ClipSet with a ``landmarks`` companion

        Returns
        -------
        proba : ndarray of shape (n_clips, n_classes)
        """
        check_is_fitted(self, "classes_")
        if self.combination == "weighted":
            return weighted_sum(self.dtan_.predict_proba(X), self.dtgn_.predict_proba(X),
                                self.alpha)
        l1, l2 = self.joint_logits(X)
        z = l1 + l2
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The most probable class of every clip."""
        proba = self.predict_proba(X)  # first: it raises NotFittedError before fit
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
