"""Temporal normalisation: per-frame sequences (or clips) to a fixed number of frames.

Video models need inputs of one length while clips differ in length. Three steps cover the
papers skfer implements:

* :class:`FrameAggregator`: EmoNets (Kahou et al., 2015, section 3.1.4) turns the per-frame
  class probabilities of a face tube into a fixed 10-frame descriptor, contracting long
  clips by averaging groups of frames and expanding short ones by repeating frames;
* :class:`TemporalResampler`: interpolation along time to ``n_frames``, the fixed-length
  input of DTAN/DTGN (Jung et al., ICCV 2015, section 3) and of the video autoencoder;
* :class:`FramePooling`: one vector per clip (e.g. the last, apex frame of a CK+ sequence).

Sequences follow skfer's data model (``docs/data_model.md``): a list of ``(T_i, F)`` arrays,
a 3-D array ``(n, T, F)``, or a 2-D array ``(n, F)`` read as ``n`` one-frame sequences.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..base import SequenceTransformerMixin, same_container
from ..clipset import FRAME_STATUSES, UNUSABLE_STATUSES, ClipSet
from ..utils._sklearn import Interval, StrOptions, _fit_context
from ..utils.frame_policy import apply_policy, policy_constraint
from ..utils.validation import check_clips, check_sequences
from ._frame_records import records_from_masks

__all__ = [
    "FrameAggregator",
    "FramePooling",
    "TemporalResampler",
    "aggregation_indices",
    "resample_positions",
]


# ----------------------------------------------------------------------------- helpers


def _is_collection(X: Any) -> bool:
    return isinstance(X, (list, tuple, ClipSet)) or (
        isinstance(X, np.ndarray)
        and ((X.dtype == object and X.ndim == 1) or (X.dtype != object and X.ndim == 3))
    )


def _validate_sequences(
    est: BaseEstimator, X: Any, *, reset: bool, allow_nan: bool = False
) -> list[np.ndarray]:
    """Sequences of ``X`` as ``(T_i, F)`` float arrays, recording/checking ``n_features_in_``.

    Tabular input (2-D arrays, DataFrames, anything that is not a collection of sequences)
    goes through :func:`sklearn.utils.validation.validate_data`, so that feature names and
    scikit-learn's error messages apply; each row is then a one-frame sequence.
    """
    if _is_collection(X):
        seqs = check_sequences(X, allow_nan=allow_nan)
        n_feat = seqs[0].shape[1]
        if reset:
            est.n_features_in_ = n_feat
            if hasattr(est, "feature_names_in_"):
                del est.feature_names_in_
        elif n_feat != est.n_features_in_:
            raise ValueError(
                f"X has {n_feat} features, but {type(est).__name__} is expecting "
                f"{est.n_features_in_} features as input"
            )
        return seqs
    X2 = validate_data(
        est,
        X,
        reset=reset,
        dtype=np.float64,
        ensure_all_finite="allow-nan" if allow_nan else True,
    )
    return list(X2[:, np.newaxis, :])


def _face_masks(X: Any, skip_statuses: Any) -> list[np.ndarray | None] | None:
    """Per sequence, the frames whose ClipSet ``status`` is not in ``skip_statuses``.

    None when ``X`` carries no statuses or nothing is skipped (every frame counts); an
    entry is None for a sequence without statuses.
    """
    skip = tuple(skip_statuses or ())
    statuses = X.get("status") if isinstance(X, ClipSet) else None
    if not skip or statuses is None:
        return None
    return [
        None if st is None else ~np.isin(np.asarray(st).astype(str), skip) for st in statuses
    ]


def _check_skip_statuses(skip_statuses: Any) -> None:
    unknown = set(skip_statuses or ()) - set(FRAME_STATUSES)
    if unknown:
        raise ValueError(
            f"skip_statuses holds unknown frame statuses {sorted(unknown)}; the statuses are "
            f"{FRAME_STATUSES}"
        )


def _report_left_out(
    X: Any,
    by_reason: dict[str, list[np.ndarray | None]],
    skip: tuple[str, ...],
    policy: str,
    what: str,
) -> None:
    """Record the frames a step left out (bool masks per sequence, by reason) and apply
    ``on_missing`` (:mod:`skfer.utils.frame_policy`)."""
    details = {
        "excluded": f"status in {skip}",
        "no_landmarks": "all values NaN (e.g. the NaN landmarks of a frame without a face)",
        "mask": "mask False",
    }
    records = []
    for reason, masks in by_reason.items():
        records += records_from_masks(
            masks, "excluded" if reason == "mask" else reason, X, details[reason]
        )
    records.sort(key=lambda r: r.clip_index)
    apply_policy(records, policy, what, stacklevel=4)


def _warn_faceless(faceless: list[int], skip_statuses: Any) -> None:
    """Warn about sequences with no frame with a face, used whole."""
    if faceless:
        warnings.warn(
            f"{len(faceless)} sequences have no frame with a face (every status in "
            f"{tuple(skip_statuses)}; first: sequence {faceless[0]}): each is used whole",
            UserWarning,
            stacklevel=4,
        )


def aggregation_indices(n_in: int, n_out: int) -> list[np.ndarray]:
    """Frames that make up each of the ``n_out`` output frames of :class:`FrameAggregator`.

    * ``n_in >= n_out`` (contraction, EmoNets "video averaging"): output frame ``k`` is
      the group of input frames ``floor(k n_in / n_out) <= i < floor((k+1) n_in /
      n_out)``; the groups are consecutive, disjoint, cover every frame, and their sizes
      differ by at most one, spread uniformly along time.
    * ``n_in < n_out`` (expansion): output frame ``k`` repeats input frame ``floor(k n_in
      / n_out)``, so every input frame is used ``floor`` or ``ceil`` of ``n_out / n_in``
      times, uniformly along time.

    Both rules give the identity when ``n_in == n_out``.

    Parameters
    ----------
    n_in : int
        Number of input frames (at least 1).
    n_out : int
        Number of output frames (at least 1).

    Returns
    -------
    groups : list of ndarray of int
        ``n_out`` arrays of input frame indices.

    Examples
    --------
    >>> [g.tolist() for g in aggregation_indices(5, 2)]
    [[0, 1], [2, 3, 4]]
    >>> [g.tolist() for g in aggregation_indices(2, 5)]
    [[0], [0], [0], [1], [1]]
    """
    k = np.arange(n_out + 1)
    if n_in >= n_out:
        edges = (k * n_in) // n_out
        return [np.arange(edges[j], edges[j + 1]) for j in range(n_out)]
    return [np.array([(j * n_in) // n_out]) for j in range(n_out)]


def resample_positions(n_in: int, n_out: int) -> np.ndarray:
    """Fractional input-frame positions sampled by :class:`TemporalResampler`.

    ``t_j = j (n_in - 1) / (n_out - 1)`` for ``j = 0 .. n_out - 1``: the first and last
    output frames are the first and last input frames and the others are evenly spaced in
    between. With ``n_out == 1`` the single position is the middle, ``(n_in - 1) / 2``.
    """
    if n_out == 1:
        return np.array([(n_in - 1) / 2.0])
    return np.arange(n_out) * ((n_in - 1) / (n_out - 1))


def _interpolate(frames: np.ndarray, n_out: int, kind: str) -> np.ndarray:
    """Resample ``frames`` (first axis = time) to ``n_out`` frames."""
    t = resample_positions(len(frames), n_out)
    if kind == "nearest":
        # floor(t + 0.5): halves go to the later frame, deterministically.
        return frames[np.minimum(np.floor(t + 0.5).astype(int), len(frames) - 1)]
    lo = np.floor(t).astype(int)
    hi = np.minimum(lo + 1, len(frames) - 1)
    w = (t - lo).reshape((-1,) + (1,) * (frames.ndim - 1))
    f = frames.astype(np.float64, copy=False)
    return (1.0 - w) * f[lo] + w * f[hi]


class _StatelessSequenceTransformer(SequenceTransformerMixin, TransformerMixin, BaseEstimator):
    """Shared ``fit`` of the stateless sequence transformers of this module.

    Subclasses declare ``_parameter_constraints``, checked by ``fit``.
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Validate the parameters and ``X``; nothing is learnt from the data.

        Parameters
        ----------
        X : list of (T_i, F) arrays, or ndarray (n, T, F) or (n, F)
        y : ignored

        Returns
        -------
        self
        """
        seqs = _validate_sequences(self, X, reset=True, allow_nan=self._allow_nan())
        self._check_frames(seqs)
        return self

    def _allow_nan(self) -> bool:
        return False

    def _check_frames(self, seqs: list[np.ndarray]) -> None:
        """Further checks of the validated sequences at fit time (none by default)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        return tags


# ---------------------------------------------------------------------- FrameAggregator


class FrameAggregator(_StatelessSequenceTransformer):
    """EmoNets' fixed-length video descriptor from per-frame vectors (section 3.1.4).

    Kahou et al. concatenate the 7 class probabilities of 10 frames of a face tube into a
    70-dimensional descriptor for an SVM. Clips with more than ``n_frames`` frames are
    contracted by averaging ``n_frames`` groups of consecutive frames taken uniformly
    along time ("video averaging", their Fig. 4); clips with fewer are expanded by
    repeating frames uniformly (Fig. 5). The exact group and repetition rules are those
    of :func:`aggregation_indices`. Only frames where a face was found take part.

    Parameters
    ----------
    n_frames : int, default=10
        Frames of the descriptor (10 in EmoNets).
    skip_statuses : tuple of str or None, default=("suspect", "missing")
        Frames whose ``status`` companion (a :class:`skfer.ClipSet` ``X``, e.g. from
        :class:`FaceTubeExtractor` through a feature step) is one of these are left out,
        as EmoNets aggregates only frames with a face (``"suspect"``: a face the tracker
        does not trust, :data:`skfer.clipset.UNUSABLE_STATUSES`). Statuses are those of
        :data:`skfer.FRAME_STATUSES`; ``None`` or ``()`` uses every frame.
    on_missing : {"raise", "warn", "ignore"}, default="warn"
        What happens when frames are left out (:mod:`skfer.utils.frame_policy`):
        ``"warn"`` one :class:`~skfer.utils.frame_policy.SkippedFramesWarning` per call
        naming the sequences, frames and reasons; ``"ignore"`` nothing more;
        ``"raise"`` a :class:`~skfer.utils.frame_policy.SkippedFramesError`. Either way
        :meth:`transform_with_info` returns them.

    Attributes
    ----------
    n_features_in_ : int
        Values per frame ``F``.
    feature_names_in_ : ndarray of str
        Column names, when fitted on a DataFrame.

    Notes
    -----
    *Frames without a face* are left out before aggregating, as in the paper: frames whose
    status is in ``skip_statuses``, frames whose values are all NaN (e.g. the NaN
    landmarks of a frame where no face was found), and frames whose entry of the optional
    ``mask`` given to :meth:`transform` is False. They are recorded as
    :class:`~skfer.utils.frame_policy.SkippedFrames` (reasons ``"excluded"`` for a skipped
    status or a False mask, ``"no_landmarks"`` for all-NaN rows) and follow ``on_missing``;
    :meth:`transform_with_info` returns their indices (``transform`` leaves the estimator
    unchanged). A sequence with no valid frame, or a
    frame with only some values NaN, raises a ``ValueError`` naming the sequence and
    frame; except that a clip whose frames *all* have a skipped status (a face tube where
    no face was found, kept by ``FaceTubeExtractor(on_missing="warn" or "ignore")``, which
    then gives the centre crop) is aggregated from all its frames, with a warning naming
    it, so that the extractor's choice to keep such clips holds through the pipeline.

    In a :class:`~sklearn.pipeline.Pipeline`, the ``status`` companion travels in ``X``
    by itself; ``mask`` reaches :meth:`transform` through scikit-learn's metadata routing
    (``sklearn.set_config(enable_metadata_routing=True)`` and
    ``FrameAggregator().set_transform_request(mask=True)``).

    Output columns are frame-major: ``[f_1(1) .. f_F(1), f_1(2) .. f_F(n_frames)]``.

    Examples
    --------
    >>> import numpy as np
    >>> from skfer import ClipSet
    >>> seq = np.arange(8.0).reshape(4, 2)  # 4 frames of 2 values
    >>> FrameAggregator(n_frames=2).fit_transform([seq])
    array([[1., 2., 5., 6.]])
    >>> X = ClipSet([seq], status=[["detected", "missing", "tracked", "filled"]])
    >>> agg = FrameAggregator(n_frames=2, on_missing="ignore")
    >>> Xt, left_out = agg.fit(X).transform_with_info(X)
    >>> Xt, left_out[0].tolist()
    (array([[0., 1., 5., 6.]]), [1])
    """

    _parameter_constraints: dict = {
        "n_frames": [Interval(numbers.Integral, 1, None, closed="left")],
        "skip_statuses": [tuple, list, None],
        "on_missing": policy_constraint(),
    }

    def __init__(
        self,
        *,
        n_frames: int = 10,
        skip_statuses: tuple[str, ...] | None = UNUSABLE_STATUSES,
        on_missing: str = "warn",
    ) -> None:
        self.n_frames = n_frames
        self.skip_statuses = skip_statuses
        self.on_missing = on_missing

    def _allow_nan(self) -> bool:
        return True

    def _check_frames(self, seqs: list[np.ndarray]) -> None:
        _check_skip_statuses(self.skip_statuses)
        # Same rules as transform: all-NaN rows are missing frames, partial NaN is an error.
        for i, seq in enumerate(seqs):
            self._valid_frames(seq, i, None)

    def transform(self, X, mask=None) -> np.ndarray:
        """Aggregate every sequence into ``n_frames`` frames and concatenate them.

        Parameters
        ----------
        X : list of (T_i, F) arrays, ClipSet, or ndarray (n, T, F) or (n, F)
            Per-frame vectors; all-NaN rows and, in a ClipSet, frames whose ``status`` is
            in ``skip_statuses`` mark frames without a face.
        mask : list of array-like of bool, optional
            For each sequence, which of its ``T_i`` frames to use (e.g. the ``detected``
            flags of :meth:`LandmarkDetector.transform_with_info`).

        Returns
        -------
        Xt : ndarray of shape (n, n_frames * F)
        """
        return self.transform_with_info(X, mask=mask)[0]

    def transform_with_info(self, X, mask=None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Like :meth:`transform`, and also return the frames left out of each sequence.

        Parameters
        ----------
        X : list of (T_i, F) arrays, ClipSet, or ndarray (n, T, F) or (n, F)
        mask : list of array-like of bool, optional

        Returns
        -------
        Xt : ndarray of shape (n, n_frames * F)
        left_out : list of ndarray of int
            For each sequence, the indices of its frames that did not enter the descriptor
            (skipped status, all-NaN values or mask False).
        """
        check_is_fitted(self, "n_features_in_")
        seqs = _validate_sequences(self, X, reset=False, allow_nan=True)
        if mask is not None and len(mask) != len(seqs):
            raise ValueError(f"mask has {len(mask)} entries for {len(seqs)} sequences")
        faces = _face_masks(X, self.skip_statuses)
        skip = tuple(self.skip_statuses or ())
        out, left_out, faceless = [], [], []
        why: dict[str, list[np.ndarray | None]] = {"excluded": [], "no_landmarks": [], "mask": []}
        for i, seq in enumerate(seqs):
            nan = np.isnan(seq).all(axis=1)
            keep = self._valid_frames(seq, i, None if mask is None else mask[i])
            face = None if faces is None else faces[i]
            if face is not None:
                if (keep & face).any():
                    keep &= face
                else:
                    faceless.append(i)  # no frame with a face at all: keep the clip whole
                    face = None
            left_out.append(np.flatnonzero(~keep))
            # Each left-out frame under one reason: NaN values, else its status, else mask.
            why["no_landmarks"].append(nan)
            why["excluded"].append(None if face is None else ~face & ~nan)
            why["mask"].append(~keep & ~nan & (True if face is None else face))
            frames = seq[keep]
            groups = aggregation_indices(len(frames), self.n_frames)
            out.append(np.concatenate([frames[g].mean(axis=0) for g in groups]))
        _report_left_out(X, why, skip, self.on_missing, "left out of the aggregation")
        _warn_faceless(faceless, skip)
        return np.stack(out), left_out

    @staticmethod
    def _valid_frames(seq: np.ndarray, index: int, mask: Any) -> np.ndarray:
        """Boolean array of the frames of ``seq`` to aggregate."""
        nan = np.isnan(seq)
        partial = nan.any(axis=1) & ~nan.all(axis=1)
        if partial.any():
            t = int(np.argmax(partial))
            raise ValueError(
                f"sequence {index}: NaN in only some values of frame {t}; only frames whose "
                "values are all NaN are read as frames without a face"
            )
        keep = ~nan.all(axis=1)
        if mask is not None:
            m = np.asarray(mask)
            if m.shape != (len(seq),):
                raise ValueError(
                    f"sequence {index}: mask has shape {m.shape}, expected ({len(seq)},), "
                    "one entry per frame"
                )
            if m.dtype != bool:
                raise TypeError(f"sequence {index}: mask must be boolean, got dtype {m.dtype}")
            keep &= m
        if not keep.any():
            raise ValueError(
                f"sequence {index}: no frame to aggregate (all {len(seq)} frames are NaN or "
                "masked out: no face detected in the clip)"
            )
        return keep


# -------------------------------------------------------------------- TemporalResampler


class TemporalResampler(_StatelessSequenceTransformer):
    """Interpolate clips or per-frame sequences along time to a fixed number of frames.

    DTAN/DTGN (Jung et al., ICCV 2015, section 3) need a fixed number of frames per
    sequence (their inputs concatenate frames), and so does a video autoencoder with a
    fixed input length. Output frame ``j`` is the input at position ``t_j = j (T - 1) /
    (n_frames - 1)`` (:func:`resample_positions`): first and last frames are kept, and
    ``kind="linear"`` blends the two neighbouring frames ``(1 - w) x[floor t] + w
    x[floor t + 1]`` with ``w = t - floor t``; ``kind="nearest"`` takes frame ``floor(t +
    0.5)``.

    DTAN/DTGN cite the lipreading method of Zhou et al. for their time normalisation;
    skfer uses plain interpolation instead (no learnt manifold), which keeps the first and
    last frames and the order of the others. The default of 10 frames is skfer's; DTGN's
    input size (49 points x 2 x 12) implies 12 frames there: set ``n_frames`` to match.

    Parameters
    ----------
    n_frames : int, default=10
        Frames of every output.
    kind : {"linear", "nearest"}, default="linear"
        Interpolation along time.
    flatten : bool, default=True
        For sequence input: ``True`` returns ``(n, n_frames * F)`` (frame-major, ready for
        a classifier, DTGN's concatenation); ``False`` returns ``(n, n_frames, F)``.

    Attributes
    ----------
    input_kind_ : {"sequences", "clips"}
        What ``X`` held at fit time.
    n_features_in_ : int
        Values per frame ``F`` (sequence input only).

    Notes
    -----
    Both kinds of input are accepted; which one is decided from ``X``: an ndarray with 4
    or 5 dimensions ``(n, T, H, W[, 3])``, or a list whose items have 3 or 4 dimensions
    ``(T, H, W[, 3])``, holds clips; a 2-D/3-D array or a list of 2-D items holds
    sequences (so pass a single image as a clip ``(1, H, W)``, not ``(H, W)``). Clips come
    back as float32 clips of ``n_frames`` frames in the same container kind
    (:func:`skfer.base.same_container`); sequences come back as a float64 ndarray.

    A :class:`skfer.ClipSet` of clips keeps its companions, the per-frame ones resampled
    with the frames: ``landmarks`` and ``boxes`` interpolated as ``kind`` says (NaN where
    a neighbouring frame has none), ``status``, ``confidence`` and ``frame_ids`` from the
    nearest frame.

    Examples
    --------
    >>> import numpy as np
    >>> TemporalResampler(n_frames=3).fit_transform([np.array([[0.0], [4.0]])])
    array([[0., 2., 4.]])
    """

    _parameter_constraints: dict = {
        "n_frames": [Interval(numbers.Integral, 1, None, closed="left")],
        "kind": [StrOptions({"linear", "nearest"})],
        "flatten": ["boolean"],
    }

    def __init__(
        self, *, n_frames: int = 10, kind: str = "linear", flatten: bool = True
    ) -> None:
        self.n_frames = n_frames
        self.kind = kind
        self.flatten = flatten

    @staticmethod
    def _holds_clips(X: Any) -> bool:
        if isinstance(X, np.ndarray) and X.dtype != object:
            return X.ndim in (4, 5)
        if isinstance(X, (list, tuple, ClipSet)) or isinstance(X, np.ndarray):
            return len(X) > 0 and np.ndim(X[0]) in (3, 4)
        return False

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Validate the parameters and ``X`` and record its kind; learns nothing.

        Parameters
        ----------
        X : clips (list of (T, H, W[, 3]) or ndarray (n, T, H, W[, 3])) or sequences
            (list of (T, F), ndarray (n, T, F) or (n, F))
        y : ignored

        Returns
        -------
        self
        """
        if self._holds_clips(X):
            check_clips(X)
            self.input_kind_ = "clips"
        else:
            _validate_sequences(self, X, reset=True)
            self.input_kind_ = "sequences"
        return self

    def transform(self, X):
        """Resample every clip or sequence to ``n_frames`` frames.

        Parameters
        ----------
        X : clips or sequences, of the kind seen in :meth:`fit`

        Returns
        -------
        Xt : ndarray (n, n_frames * F) or (n, n_frames, F) for sequences; clips of
            ``n_frames`` float32 frames (list or ndarray, like ``X``) for clips
        """
        check_is_fitted(self, "input_kind_")
        kind = "clips" if self._holds_clips(X) else "sequences"
        if kind != self.input_kind_:
            raise ValueError(
                f"TemporalResampler was fitted on {self.input_kind_} but X holds {kind}"
            )
        if kind == "clips":
            clips = check_clips(X)
            out = [_interpolate(c, self.n_frames, self.kind).astype(np.float32) for c in clips]
            return same_container(X, out, **self._resampled_companions(X))
        seqs = _validate_sequences(self, X, reset=False)
        out = np.stack([_interpolate(s, self.n_frames, self.kind) for s in seqs])
        return out.reshape(len(out), -1) if self.flatten else out

    def _resampled_companions(self, X: Any) -> dict[str, list]:
        """The per-frame companions of a ClipSet ``X`` at the output frames."""
        if not isinstance(X, ClipSet):
            return {}
        out = {}
        for name in ("landmarks", "boxes", "status", "confidence", "frame_ids"):
            values = X.get(name)
            if values is None:
                continue
            # Positions are interpolated; labels (statuses, frame numbers) cannot be, and a
            # confidence goes with its status.
            kind = self.kind if name in ("landmarks", "boxes") else "nearest"
            out[name] = [
                None if v is None else _interpolate(np.asarray(v), self.n_frames, kind)
                for v in values
            ]
        return out


# -------------------------------------------------------------------------- FramePooling


_POOLING_METHODS = ("last", "first", "middle", "mean", "max", "delta")


class FramePooling(_StatelessSequenceTransformer):
    """One vector per clip from its per-frame vectors.

    ``"last"`` takes the last frame, the apex of a CK+ sequence (which runs from neutral to
    the peak expression), the usual static-image protocol on CK+; ``"first"`` the first
    frame (neutral in CK+); ``"middle"`` frame ``(T - 1) // 2``; ``"mean"`` and ``"max"``
    average and max pooling over the frames; ``"delta"`` the last frame minus the first,
    the change from onset to apex (zero for a one-frame clip).

    Parameters
    ----------
    method : {"last", "first", "middle", "mean", "max", "delta"}, default="last"
    skip_statuses : tuple of str or None, default=("suspect", "missing")
        As in :class:`FrameAggregator`: in a :class:`skfer.ClipSet` ``X``, frames whose
        ``status`` is one of these are left out before pooling ("last" is then the last
        frame with a trustworthy face); a sequence with no other frame is pooled whole,
        with a warning. ``None`` or ``()`` pools every frame.
    on_missing : {"raise", "warn", "ignore"}, default="warn"
        As in :class:`FrameAggregator`: what happens when frames are left out (reason
        ``"excluded"``); :meth:`transform_with_info` returns them either way.

    Attributes
    ----------
    n_features_in_ : int
        Values per frame ``F``.
    feature_names_in_ : ndarray of str
        Column names, when fitted on a DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> seq = np.array([[0.0, 1.0], [2.0, 5.0], [4.0, 3.0]])
    >>> FramePooling(method="max").fit_transform([seq])
    array([[4., 5.]])
    """

    _parameter_constraints: dict = {
        "method": [StrOptions(set(_POOLING_METHODS))],
        "skip_statuses": [tuple, list, None],
        "on_missing": policy_constraint(),
    }

    def __init__(
        self,
        *,
        method: str = "last",
        skip_statuses: tuple[str, ...] | None = UNUSABLE_STATUSES,
        on_missing: str = "warn",
    ) -> None:
        self.method = method
        self.skip_statuses = skip_statuses
        self.on_missing = on_missing

    def _check_frames(self, seqs: list[np.ndarray]) -> None:
        _check_skip_statuses(self.skip_statuses)

    def transform(self, X) -> np.ndarray:
        """Pool the frames of every sequence.

        Parameters
        ----------
        X : list of (T_i, F) arrays, ClipSet, or ndarray (n, T, F) or (n, F)

        Returns
        -------
        Xt : ndarray of shape (n, F)
        """
        return self.transform_with_info(X)[0]

    def transform_with_info(self, X) -> tuple[np.ndarray, list[np.ndarray]]:
        """Like :meth:`transform`, and also return the frames left out of each sequence.

        Parameters
        ----------
        X : list of (T_i, F) arrays, ClipSet, or ndarray (n, T, F) or (n, F)

        Returns
        -------
        Xt : ndarray of shape (n, F)
        left_out : list of ndarray of int
            For each sequence, the indices of its frames left out by their status.
        """
        check_is_fitted(self, "n_features_in_")
        seqs = _validate_sequences(self, X, reset=False)
        faces = _face_masks(X, self.skip_statuses)
        skipped: list[np.ndarray | None] = [None] * len(seqs)
        if faces is not None:
            faceless = [i for i, f in enumerate(faces) if f is not None and not f.any()]
            _warn_faceless(faceless, self.skip_statuses)
            skipped = [None if f is None or not f.any() else ~f for f in faces]
            seqs = [s if f is None or not f.any() else s[f] for s, f in zip(seqs, faces)]
        _report_left_out(
            X, {"excluded": skipped}, tuple(self.skip_statuses or ()), self.on_missing,
            "left out of the pooling",
        )
        left_out = [np.flatnonzero(m) if m is not None else np.empty(0, np.intp) for m in skipped]
        pool = {
            "last": lambda s: s[-1],
            "first": lambda s: s[0],
            "middle": lambda s: s[(len(s) - 1) // 2],
            "mean": lambda s: s.mean(axis=0),
            "max": lambda s: s.max(axis=0),
            "delta": lambda s: s[-1] - s[0],
        }[self.method]
        return np.stack([pool(s) for s in seqs]), left_out
