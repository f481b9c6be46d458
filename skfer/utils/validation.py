"""Validation of skfer's data model: clips, lists of clips and per-frame sequences.

The data model (see ``docs/data_model.md``):

* a *clip* is an array of frames, ``(T, H, W)`` grey or ``(T, H, W, 3)`` colour, of
  ``uint8`` or real float pixels (the dtype rules below); a single image is a clip of one
  frame;
* a *data set* ``X`` is a collection of clips: a list (clips may differ in length and frame
  size) or an ndarray whose first axis indexes the samples;
* a *sequence* is an array ``(T, F)`` of per-frame vectors (features, probabilities,
  flattened landmarks); collections of sequences follow the same rules as clips.

Every check raises ``ValueError`` (or ``TypeError``) with a message naming the offending
sample index, and where known the source file, and the problem.

Pixel dtype rules (:func:`check_clip`, the one place every clip goes through; nothing is
clipped or dropped silently):

* ``uint8``, ``float32`` and ``float64`` are kept as they are;
* ``float16`` becomes ``float32`` (exact);
* other integer dtypes (``int64`` from ``np.array`` of Python ints, ``uint16``, ...) are read
  as 8-bit values: converted to ``uint8`` when every value is within 0..255 (exact),
  otherwise a ``ValueError`` names the clip, the range and the conversion to do (e.g.
  ``(clip // 257).astype(np.uint8)`` for 16-bit images);
* ``bool`` (a mask, not an image) and complex dtypes raise ``TypeError``.

Float pixels are on the **[0, 1] scale when the clip's maximum is at most 1, else on the
[0, 255] scale** (:func:`pixel_unit`). Steps that need 8-bit pixels (face and landmark
detection, HOG) convert floats by that rule (:func:`to_uint8`, rounding to the nearest
level) and raise a ``ValueError`` naming the clip when values lie outside the scale by more
than half a grey level (e.g. a clip standardised to [-1, 1]), instead of clipping them.
Steps that compute on floats take any finite float.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..clipset import ClipSet

__all__ = [
    "check_clip",
    "pixel_unit",
    "to_uint8",
    "check_clips",
    "check_sequence",
    "check_sequences",
    "check_labels",
]


def _where(index: int | None, source: str | None = None) -> str:
    """Return a short "clip 3 (file.mp4)" prefix for error messages."""
    parts = []
    if index is not None:
        parts.append(f"clip {index}")
    if source is not None:
        parts.append(f"({source})")
    return (" ".join(parts) + ": ") if parts else ""


def _as_numeric_array(x: Any, what: str, *, pixels: bool = True) -> np.ndarray:
    """``x`` as a real numeric array; for ``pixels``, the dtype rules of the module docstring."""
    if isinstance(x, (list, tuple)):
        # A clip given as a list of frames: frames must share one shape.
        shapes = {np.shape(f) for f in x}
        if len(shapes) > 1:
            sizes = [np.shape(f) for f in x]
            first = sizes[0]
            bad = next(i for i, s in enumerate(sizes) if s != first)
            raise ValueError(
                f"{what}frames have different sizes: frame 0 is {first} but frame {bad} "
                f"is {sizes[bad]}; resize them or crop faces first"
            )
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged nested input
        raise ValueError(f"{what}cannot be read as an array of frames: {exc}") from exc
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(
            f"{what}values are complex ({arr.dtype}); skfer takes real values: pass "
            "np.abs(x) or x.real explicitly"
        )
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{what}frames must be numeric, got dtype {arr.dtype}")
    if not pixels:
        return arr  # per-frame vectors: any real dtype, read as float64 by the caller
    if arr.dtype == bool:
        raise TypeError(
            f"{what}pixels are boolean (a mask, not an image); convert explicitly, e.g. "
            "clip.astype(np.uint8) * 255"
        )
    if arr.dtype == np.float16:
        return arr.astype(np.float32)  # exact; OpenCV and torch need float32
    if np.issubdtype(arr.dtype, np.integer) and arr.dtype != np.uint8:
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        if lo < 0 or hi > 255:
            raise ValueError(
                f"{what}{arr.dtype} pixels range from {lo} to {hi}, outside 0..255; skfer "
                "reads integer pixels as 8-bit values and does not rescale them: convert "
                "explicitly, e.g. (clip // 257).astype(np.uint8) for 16-bit images or "
                "clip.astype(np.float32) / clip.max() for [0, 1] floats"
            )
        return arr.astype(np.uint8)  # exact: every value fits
    return arr


def check_clip(
    clip: Any,
    *,
    index: int | None = None,
    source: str | None = None,
    allow_nan: bool = False,
    color: bool | None = None,
    min_frames: int = 1,
) -> np.ndarray:
    """Validate one clip and return it as ``(T, H, W)`` or ``(T, H, W, 3)`` ndarray.

    Parameters
    ----------
    clip : array-like
        ``(T, H, W)`` grey frames, ``(T, H, W, 3)`` colour frames, or a single grey image
        ``(H, W)`` (read as one frame). A list of frames is accepted.
    index : int, optional
        Position of the clip in its data set, used in error messages.
    source : str, optional
        File the clip came from, used in error messages.
    allow_nan : bool, default=False
        Whether NaN or infinite pixels are accepted.
    color : bool or None, default=None
        ``True`` requires colour frames, ``False`` grey frames, ``None`` either.
    min_frames : int, default=1
        Minimum number of frames.

    Returns
    -------
    clip : ndarray
        The validated clip (no copy where none is needed).

    Raises
    ------
    ValueError
        Empty clip, wrong number of dimensions, frames of different sizes, NaN pixels,
        an ambiguous ``(H, W, 3)`` colour image, a 4-channel (RGBA) clip, grey/colour
        mismatch.
    """
    what = _where(index, source)
    arr = _as_numeric_array(clip, what)
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    if arr.ndim == 3 and arr.shape[-1] in (3, 4) and min(arr.shape[:2]) > 4:
        raise ValueError(
            f"{what}an array of shape {arr.shape} looks like one colour image (H, W, 3); "
            "pass colour images as clips of one frame, shape (1, H, W, 3)"
        )
    if arr.ndim == 4 and arr.shape[-1] == 4:
        # Dropping alpha would change what transparent pixels show: say how to decide.
        raise ValueError(
            f"{what}the clip has 4 channels (RGBA?), shape {arr.shape}; skfer clips are grey "
            "or RGB: composite the alpha channel (skfer.io.read_image puts it over black) or "
            "drop it with clip[..., :3]"
        )
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] != 3):
        raise ValueError(
            f"{what}expected a clip of shape (T, H, W) or (T, H, W, 3), got shape "
            f"{arr.shape}"
        )
    if arr.shape[0] < max(1, min_frames):
        if arr.shape[0] == 0:
            raise ValueError(f"{what}the clip has zero frames")
        raise ValueError(
            f"{what}the clip has {arr.shape[0]} frames, at least {min_frames} are needed"
        )
    if arr.shape[1] == 0 or arr.shape[2] == 0:
        raise ValueError(f"{what}frames are empty, shape {arr.shape}")
    if color is True and arr.ndim != 4:
        raise ValueError(f"{what}colour frames (T, H, W, 3) are required, got {arr.shape}")
    if color is False and arr.ndim != 3:
        raise ValueError(f"{what}grey frames (T, H, W) are required, got {arr.shape}")
    if not allow_nan and np.issubdtype(arr.dtype, np.floating):
        finite = np.isfinite(arr)
        if not finite.all():
            bad = np.argwhere(~finite)[0]
            raise ValueError(
                f"{what}NaN or infinite pixel value at frame {bad[0]}, position "
                f"{tuple(int(b) for b in bad[1:])}"
            )
    return arr


def _is_collection(X: Any) -> bool:
    return isinstance(X, (list, tuple, ClipSet)) or (
        isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 1
    )


def _sample_list(X: Any, what: str, of_array: Callable[[np.ndarray], list]) -> list:
    """The samples of ``X`` (a ClipSet, list, tuple or ndarray) as a non-empty list."""
    if isinstance(X, ClipSet):
        X = X.data
    if isinstance(X, np.ndarray) and X.dtype != object:
        X = of_array(X)
    elif not _is_collection(X):
        raise TypeError(f"X must be a list of {what}s or an ndarray, got {type(X).__name__}")
    if len(X) == 0:
        raise ValueError(f"X is empty: at least one {what} is needed")
    return list(X)


def _clip_list_of_array(X: np.ndarray) -> list:
    if X.ndim == 3 or (X.ndim == 4 and X.shape[-1] == 3):
        return list(X[:, np.newaxis])  # n still images -> n clips of one frame
    if X.ndim not in (4, 5):
        raise ValueError(
            "X must be a list of clips or an array of shape (n, H, W), (n, H, W, 3), "
            f"(n, T, H, W) or (n, T, H, W, 3); got shape {X.shape}"
        )
    return list(X)


def _sequence_list_of_array(X: np.ndarray) -> list:
    if X.ndim == 2:
        return list(X[:, np.newaxis, :])
    if X.ndim != 3:
        raise ValueError(
            "X must be a list of (T, F) sequences or an array of shape (n, F) or "
            f"(n, T, F); got shape {X.shape}"
        )
    return list(X)


def check_clips(
    X: Any,
    *,
    allow_nan: bool = False,
    color: bool | None = None,
    min_frames: int = 1,
    sources: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """Validate a data set of clips and return it as a list of clip arrays.

    Parameters
    ----------
    X : list of array-like, ClipSet or ndarray
        A list of clips (see :func:`check_clip`), a :class:`~skfer.ClipSet` (its clips are
        checked, its ``source`` companion names the files in errors), or an ndarray whose
        first axis indexes samples: ``(n, H, W)`` grey images, ``(n, H, W, 3)`` colour images,
        ``(n, T, H, W)`` grey clips, ``(n, T, H, W, 3)`` colour clips.
    allow_nan, color, min_frames
        See :func:`check_clip`.
    sources : sequence of str, optional
        The file of each clip, used in error messages.

    Returns
    -------
    clips : list of ndarray
    """
    if isinstance(X, ClipSet):
        # Companions are the steps' business; the file names make errors name the file.
        sources = X.get("source") if sources is None else sources
    X = _sample_list(X, "clip", _clip_list_of_array)
    return [
        check_clip(
            clip,
            index=i,
            source=None if sources is None else sources[i],
            allow_nan=allow_nan,
            color=color,
            min_frames=min_frames,
        )
        for i, clip in enumerate(X)
    ]


def check_sequence(
    seq: Any,
    *,
    index: int | None = None,
    n_features: int | None = None,
    allow_nan: bool = False,
    min_frames: int = 1,
) -> np.ndarray:
    """Validate one sequence of per-frame vectors and return it as a ``(T, F)`` float array.

    A 1-D vector is read as a sequence of one frame.
    """
    what = _where(index).replace("clip", "sequence")
    arr = _as_numeric_array(seq, what, pixels=False)
    if arr.ndim == 1:
        arr = arr[np.newaxis]
    if arr.ndim != 2:
        raise ValueError(
            f"{what}expected per-frame vectors of shape (T, F), got shape {arr.shape}"
        )
    if arr.shape[0] < max(1, min_frames):
        raise ValueError(
            f"{what}the sequence has {arr.shape[0]} frames, at least "
            f"{max(1, min_frames)} are needed"
        )
    if arr.shape[1] == 0:
        raise ValueError(f"{what}frames have zero features")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(
            f"{what}frames have {arr.shape[1]} features, but {n_features} were seen "
            "during fit"
        )
    arr = arr.astype(np.float64, copy=False)
    if not allow_nan and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{what}NaN or infinite value at frame {bad[0]}, feature {bad[1]}"
        )
    return arr


def check_sequences(
    X: Any,
    *,
    n_features: int | None = None,
    allow_nan: bool = False,
    min_frames: int = 1,
) -> list[np.ndarray]:
    """Validate a data set of per-frame vector sequences.

    Parameters
    ----------
    X : list of array-like or ndarray
        A list of ``(T_i, F)`` sequences (or a :class:`~skfer.ClipSet` of them), a 2-D array
        ``(n, F)`` read as ``n`` sequences of one frame (so per-image features are sequences
        too), or a 3-D array ``(n, T, F)``.
    n_features : int, optional
        Required number of features per frame.
    allow_nan : bool, default=False
    min_frames : int, default=1

    Returns
    -------
    sequences : list of ndarray of shape (T_i, F)
    """
    X = _sample_list(X, "sequence", _sequence_list_of_array)
    seqs = [
        check_sequence(
            s, index=i, n_features=n_features, allow_nan=allow_nan, min_frames=min_frames
        )
        for i, s in enumerate(X)
    ]
    widths = {s.shape[1] for s in seqs}
    if len(widths) > 1:
        first = seqs[0].shape[1]
        bad = next(i for i, s in enumerate(seqs) if s.shape[1] != first)
        raise ValueError(
            f"sequences have different numbers of features: sequence 0 has {first}, "
            f"sequence {bad} has {seqs[bad].shape[1]}"
        )
    return seqs


#: Values outside the pixel scale by up to half a grey level round into it (interpolation
#: overshoot); farther is an error, not a clip.
_PIXEL_SLACK = 0.5


def pixel_unit(
    clip: np.ndarray | Sequence[np.ndarray],
    *,
    index: int | None = None,
    source: str | None = None,
) -> float:
    """Factor that brings a clip's pixels to the 0..255 scale (see the module docstring).

    ``1`` for integer clips and float clips whose maximum exceeds 1, ``255`` for float clips
    within [0, 1].

    Parameters
    ----------
    clip : ndarray or sequence of ndarray
        A clip, or a list of its frames (equal dtype).
    index, source : optional
        Name the clip in errors.

    Raises
    ------
    ValueError
        Float pixels outside [0, 1] or [0, 255] by more than half a grey level.

    Examples
    --------
    >>> pixel_unit(np.array([[[0.0, 0.5]]])), pixel_unit(np.array([[[0.0, 200.0]]]))
    (255.0, 1.0)
    """
    frames = [clip] if isinstance(clip, np.ndarray) else list(clip)
    if not frames or not np.issubdtype(frames[0].dtype, np.floating):
        return 1.0
    lo = min(float(np.min(f)) for f in frames)
    hi = max(float(np.max(f)) for f in frames)
    unit = 255.0 if hi <= 1.0 else 1.0
    if lo * unit < -_PIXEL_SLACK or hi * unit >= 255.0 + _PIXEL_SLACK:
        scale = "[0, 1]" if unit == 255.0 else "[0, 255]"
        raise ValueError(
            f"{_where(index, source)}float pixels range from {lo:.4g} to {hi:.4g}, outside "
            f"the {scale} scale; this step needs 8-bit pixels and reads floats as [0, 1] "
            "when the clip's maximum is at most 1, else as [0, 255]: rescale the clip first "
            "(e.g. MinMaxImageScaler(feature_range=(0, 1)))"
        )
    return unit


def to_uint8(frame: np.ndarray, unit: float = 1.0) -> np.ndarray:
    """``uint8`` version of a frame or clip; ``unit`` from :func:`pixel_unit` of its clip.

    Rounds to the nearest level; values within half a level outside 0..255 (accepted by
    :func:`pixel_unit`) round onto its ends. Integer input must be within 0..255
    (:func:`check_clip` makes it so).
    """
    if frame.dtype == np.uint8:
        return frame
    scaled = np.rint(np.asarray(frame, dtype=np.float64) * unit)
    return np.clip(scaled, 0, 255).astype(np.uint8)  # only the half-level slack is clipped


def mixed_kinds(values: Sequence[Any]) -> tuple[int, int] | None:
    """``(i, j)``: a string at ``i`` and a non-string at ``j``, when ``values`` mix the two.

    Labels or subject ids written both ways (``"7"`` and ``7``) cannot be sorted together
    and name different things; :func:`check_labels` and
    :func:`skfer.model_selection.check_groups` refuse them, naming these two samples.

    >>> mixed_kinds(["a", "b"]) is None, mixed_kinds(["a", 3])
    (True, (0, 1))
    """
    is_str = np.array([isinstance(v, str) for v in values], dtype=bool)
    if is_str.any() and not is_str.all():
        return int(np.argmax(is_str)), int(np.argmin(is_str))
    return None


def check_labels(y: Any, what: str = "y", *, classification: bool = True) -> np.ndarray:
    """1-D classification labels, all strings or all numbers (never a silent mix).

    A list mixing ``"anger"`` and ``3`` would become all strings in ``np.asarray`` (so
    ``3`` silently turns into ``"3"``), and an object array mixing them makes numpy's
    sorting fail with "'<' not supported between instances of 'int' and 'str'".

    ``classification=False`` checks only the kinds (e.g. before a splitter stratifies).

    Raises
    ------
    TypeError
        Labels of both kinds, naming a sample of each.
    ValueError
        Not classification labels (continuous values, NaN: scikit-learn's message).

    Examples
    --------
    >>> check_labels(["a", "b"]).tolist()
    ['a', 'b']
    >>> check_labels(["a", 3])
    Traceback (most recent call last):
    ...
    TypeError: y mixes string and non-string labels (sample 0: 'a', sample 1: 3 (int)); ...
    """
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import column_or_1d

    raw = y if isinstance(y, np.ndarray) else np.asarray(y, dtype=object)
    if raw.dtype == object:
        values = raw.ravel().tolist()
        if (pair := mixed_kinds(values)) is not None:
            s, o = pair
            raise TypeError(
                f"{what} mixes string and non-string labels (sample {s}: {values[s]!r}, "
                f"sample {o}: {values[o]!r} ({type(values[o]).__name__})); give labels of "
                "one type, e.g. np.asarray(y).astype(str)"
            )
    y = column_or_1d(y, warn=True)
    if classification:
        check_classification_targets(y)
    return y
