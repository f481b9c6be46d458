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
from ..utils.validation import check_clips, check_sequences

__all__ = [
    "FrameAggregator",
    "FramePooling",
    "TemporalResampler",
    "aggregation_indices",
    "resample_positions",
]


# ----------------------------------------------------------------------------- helpers


def _is_collection(X: Any) -> bool:
    return isinstance(X, (list, tuple)) or (
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


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


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

    Subclasses define ``_check_params`` (parameter validation, run by ``fit`` and
    ``transform``).
    """

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
        self._check_params()
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
    of :func:`aggregation_indices`. Only frames where a face was detected take part.

    Parameters
    ----------
    n_frames : int, default=10
        Frames of the descriptor (10 in EmoNets).

    Attributes
    ----------
    n_features_in_ : int
        Values per frame ``F``.
    feature_names_in_ : ndarray of str
        Column names, when fitted on a DataFrame.

    Notes
    -----
    *Frames without a face.* A frame whose values are all NaN (e.g. the probabilities of a
    frame where no face was detected) is left out before aggregating, as in the paper; so
    is a frame whose entry of the optional ``mask`` given to :meth:`transform` is False. A
    ``UserWarning`` counts the frames left out and names the sequences concerned (the
    estimator does not store it: ``transform`` leaves the fitted estimator unchanged).
    A sequence with no valid frame, or a frame with only some values NaN, raises a
    ``ValueError`` naming the sequence and frame.

    In a :class:`~sklearn.pipeline.Pipeline`, ``mask`` reaches :meth:`transform` through
    scikit-learn's metadata routing (``sklearn.set_config(enable_metadata_routing=True)``
    and ``FrameAggregator().set_transform_request(mask=True)``).

    Output columns are frame-major: ``[f_1(1) .. f_F(1), f_1(2) .. f_F(n_frames)]``.

    Examples
    --------
    >>> import numpy as np
    >>> seq = np.arange(8.0).reshape(4, 2)  # 4 frames of 2 values
    >>> FrameAggregator(n_frames=2).fit_transform([seq])
    array([[1., 2., 5., 6.]])
    """

    def __init__(self, n_frames: int = 10) -> None:
        self.n_frames = n_frames

    def _check_params(self) -> None:
        _check_positive_int(self.n_frames, "n_frames")

    def _allow_nan(self) -> bool:
        return True

    def _check_frames(self, seqs: list[np.ndarray]) -> None:
        # Same rules as transform: all-NaN rows are missing frames, partial NaN is an error.
        for i, seq in enumerate(seqs):
            self._valid_frames(seq, i, None)

    def transform(self, X, mask=None) -> np.ndarray:
        """Aggregate every sequence into ``n_frames`` frames and concatenate them.

        Parameters
        ----------
        X : list of (T_i, F) arrays, or ndarray (n, T, F) or (n, F)
            Per-frame vectors; all-NaN rows mark frames without a face.
        mask : list of array-like of bool, optional
            For each sequence, which of its ``T_i`` frames to use (e.g. the ``detected_``
            of :class:`~skfer.preprocessing.LandmarkDetector`).

        Returns
        -------
        Xt : ndarray of shape (n, n_frames * F)
        """
        check_is_fitted(self, "n_features_in_")
        self._check_params()
        seqs = _validate_sequences(self, X, reset=False, allow_nan=True)
        if mask is not None and len(mask) != len(seqs):
            raise ValueError(f"mask has {len(mask)} entries for {len(seqs)} sequences")
        out, missing = [], []
        for i, seq in enumerate(seqs):
            keep = self._valid_frames(seq, i, None if mask is None else mask[i])
            missing.append(int((~keep).sum()))
            frames = seq[keep]
            groups = aggregation_indices(len(frames), self.n_frames)
            out.append(np.concatenate([frames[g].mean(axis=0) for g in groups]))
        if any(missing):
            counts = {i: m for i, m in enumerate(missing) if m}
            shown = ", ".join(f"sequence {i}: {m}" for i, m in list(counts.items())[:10])
            more = ", ..." if len(counts) > 10 else ""
            warnings.warn(
                f"{sum(missing)} frames without a face (all-NaN rows or mask False) were left "
                f"out of {len(counts)} sequences ({shown}{more})",
                UserWarning,
                stacklevel=2,
            )
        return np.stack(out)

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

    Examples
    --------
    >>> import numpy as np
    >>> TemporalResampler(n_frames=3).fit_transform([np.array([[0.0], [4.0]])])
    array([[0., 2., 4.]])
    """

    def __init__(self, n_frames: int = 10, kind: str = "linear", flatten: bool = True) -> None:
        self.n_frames = n_frames
        self.kind = kind
        self.flatten = flatten

    def _check_params(self) -> None:
        _check_positive_int(self.n_frames, "n_frames")
        if self.kind not in ("linear", "nearest"):
            raise ValueError(f'kind must be "linear" or "nearest", got {self.kind!r}')

    @staticmethod
    def _holds_clips(X: Any) -> bool:
        if isinstance(X, np.ndarray) and X.dtype != object:
            return X.ndim in (4, 5)
        if isinstance(X, (list, tuple)) or isinstance(X, np.ndarray):
            return len(X) > 0 and np.ndim(X[0]) in (3, 4)
        return False

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
        self._check_params()
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
        self._check_params()
        kind = "clips" if self._holds_clips(X) else "sequences"
        if kind != self.input_kind_:
            raise ValueError(
                f"TemporalResampler was fitted on {self.input_kind_} but X holds {kind}"
            )
        if kind == "clips":
            clips = check_clips(X)
            out = [_interpolate(c, self.n_frames, self.kind).astype(np.float32) for c in clips]
            return same_container(X, out)
        seqs = _validate_sequences(self, X, reset=False)
        out = np.stack([_interpolate(s, self.n_frames, self.kind) for s in seqs])
        return out.reshape(len(out), -1) if self.flatten else out


# -------------------------------------------------------------------------- FramePooling


_POOLING_METHODS = ("last", "first", "middle", "mean", "max", "delta")


class FramePooling(_StatelessSequenceTransformer):
    """One vector per clip from its per-frame vectors.

    ``"last"`` takes the last frame, the apex of a CK+ sequence (which runs from neutral to
    the peak expression), the usual static-image protocol on CK+; ``"first"`` the first
    frame (neutral in CK+); ``"middle"`` frame ``(T - 1) // 2``; ``"mean"`` and ``"max"``
    average and max pooling over the frames; ``"delta"`` the last frame minus the first, the change from
    onset to apex (zero for a one-frame clip).

    Parameters
    ----------
    method : {"last", "first", "middle", "mean", "max", "delta"}, default="last"

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

    def __init__(self, method: str = "last") -> None:
        self.method = method

    def _check_params(self) -> None:
        if self.method not in _POOLING_METHODS:
            raise ValueError(f"method must be one of {_POOLING_METHODS}, got {self.method!r}")

    def transform(self, X) -> np.ndarray:
        """Pool the frames of every sequence.

        Parameters
        ----------
        X : list of (T_i, F) arrays, or ndarray (n, T, F) or (n, F)

        Returns
        -------
        Xt : ndarray of shape (n, F)
        """
        check_is_fitted(self, "n_features_in_")
        self._check_params()
        seqs = _validate_sequences(self, X, reset=False)
        pool = {
            "last": lambda s: s[-1],
            "first": lambda s: s[0],
            "middle": lambda s: s[(len(s) - 1) // 2],
            "mean": lambda s: s.mean(axis=0),
            "max": lambda s: s.max(axis=0),
            "delta": lambda s: s[-1] - s[0],
        }[self.method]
        return np.stack([pool(s) for s in seqs])
