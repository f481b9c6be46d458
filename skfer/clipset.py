"""``ClipSet``: clips (or per-frame sequences) travelling with their companions.

A clip rarely comes alone: the data sets give landmarks and face boxes, the face-tube
extractor gives a status for every frame, a video has a sound track. scikit-learn's tools
(``Pipeline``, ``cross_val_score``, ``GroupKFold``, imbalanced-learn's samplers) pass one
``X`` from step to step and index it by sample, so the companions must live *inside* ``X``
to reach the step that needs them and to be split with their clips. :class:`ClipSet` is
that container; ``docs/data_model.md`` describes the design.

Why not metadata routing: routing brings a ``fit`` parameter to a step, but a companion that
a step *produces* (face boxes, frame statuses, detected landmarks) cannot reach a later step
that way, and ``transform`` at predict time would need every caller to pass the companions
by hand. A container keeps clip and companion together through any split, sampler or
pipeline, and a plain list of clips stays a valid ``X`` wherever no companion is needed.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

__all__ = [
    "ClipSet",
    "FRAME_STATUSES",
    "PER_CLIP_COMPANIONS",
    "PER_FRAME_COMPANIONS",
    "UNUSABLE_STATUSES",
]

#: Per-frame status of a face tube, from the best to the worst evidence of a face.
#: ``"suspect"``: a face was located but the detections disagree (its ``confidence`` is below
#: the extractor's ``min_confidence``), e.g. false detections on an upside-down face.
FRAME_STATUSES = ("detected", "tracked", "filled", "suspect", "missing")

#: Statuses of frames without a trustworthy face: left out by :meth:`ClipSet.usable_frames`.
UNUSABLE_STATUSES = ("suspect", "missing")

#: Companions with one entry per frame: ``(T, ...)`` arrays aligned with the clip's frames.
PER_FRAME_COMPANIONS = {
    "landmarks": "(T, P, 2) float (x, y) pixel positions; NaN rows: no landmarks found",
    "boxes": "(T, 4) float face boxes (x, y, w, h) in the clip's own pixels",
    "source_boxes": (
        "(T, 4) float (x, y, w, h): where each frame of a face crop was cut from its source "
        "frame (set by FaceTubeExtractor; provenance, not moved by later geometry steps)"
    ),
    "status": f"(T,) str, one of {FRAME_STATUSES}",
    "confidence": (
        "(T,) float in [0, 1]: how far the face tracker trusts the frame's face (set by "
        "FaceTubeExtractor; 0 where no face was located)"
    ),
    "frame_ids": "(T,) frame numbers in the source",
}

#: Shape of one frame's entry of each per-frame companion (after the frame axis), and
#: whether it is numeric: ``None`` is a size of the data set's own (the landmark count),
#: which must be the same in every clip.
_FRAME_ENTRY = {
    "landmarks": ((None, 2), True),
    "boxes": ((4,), True),
    "source_boxes": ((4,), True),
    "status": ((), False),
    "confidence": ((), True),
    "frame_ids": ((), True),
}

#: Companions with one value per clip.
PER_CLIP_COMPANIONS = {
    "audio": "(n,) float32 samples in [-1, 1]",
    "sample_rate": "int, samples per second of audio",
    "fps": "float, video frames per second",
    "source": "str, the file the clip came from",
    "face_id": (
        "int, which person of its source clip a face tube follows (FaceTubeExtractor("
        "faces='all'): 0, 1, ... in order of first appearance)"
    ),
    "source_clip": (
        "int, index of the clip a face tube was cut from (FaceTubeExtractor(faces='all'))"
    ),
    "speaker": (
        "str or int, who speaks in the clip (a sound track's speaker, e.g. Emo-DB's "
        "'03'): what SpeakerNormalizer standardises by"
    ),
}


def _check_companion(name: str, values: Any, data: list, what: str = "ClipSet") -> list:
    """Validate one companion: a sequence with one entry per clip, per-frame lengths matching."""
    if name not in PER_FRAME_COMPANIONS and name not in PER_CLIP_COMPANIONS:
        known = sorted(PER_FRAME_COMPANIONS) + sorted(PER_CLIP_COMPANIONS)
        raise ValueError(f"{what}: unknown companion {name!r}; known companions are {known}")
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(
            f"{what}: companion {name!r} must be a sequence with one entry per clip, got "
            f"{type(values).__name__}"
        )
    values = list(values)
    if len(values) != len(data):
        raise ValueError(
            f"{what}: companion {name!r} has {len(values)} entries for {len(data)} clips"
        )
    if name in PER_FRAME_COMPANIONS:
        out = []
        entry, numeric = _FRAME_ENTRY[name]
        for i, (value, clip) in enumerate(zip(values, data)):
            if value is None:
                out.append(None)
                continue
            value = np.asarray(value)
            if value.ndim == 0 or len(value) != len(clip):
                n = "a scalar" if value.ndim == 0 else f"{len(value)} frames"
                raise ValueError(
                    f"clip {i}: companion {name!r} has {n} but the clip has {len(clip)} "
                    "frames; per-frame companions need one entry per frame"
                )
            # Checked here, when the set is built, so that a malformed companion is named
            # with its clip, not met steps later as numpy's "could not be broadcast".
            entry = _check_frame_entry(name, value, i, entry, numeric)
            if name == "status":
                bad = {str(s) for s in np.unique(value.astype(str))} - set(FRAME_STATUSES)
                if bad:
                    raise ValueError(
                        f"clip {i}: unknown frame status {sorted(bad)}; statuses are "
                        f"{FRAME_STATUSES}"
                    )
            if name == "confidence":
                value = np.asarray(value, dtype=np.float64)
                if value.ndim != 1 or not ((value >= 0) & (value <= 1)).all():
                    raise ValueError(
                        f"clip {i}: companion 'confidence' must be (T,) values in [0, 1] "
                        "(NaN is not allowed)"
                    )
            out.append(value)
        return out
    for i, value in enumerate(values):
        _check_clip_value(name, value, i)
    return values


def _check_frame_entry(name: str, value: np.ndarray, i: int, entry: tuple,
                       numeric: bool) -> tuple:
    """Check clip ``i``'s per-frame companion against the shape of one frame's entry.

    Returns the entry shape with the data set's own sizes (``None``) fixed by this clip,
    so that every later clip must match it (one landmark scheme per data set).
    """
    got = value.shape[1:]
    template = _FRAME_ENTRY[name][0]
    if len(got) != len(template) or any(
            d is not None and d != g for d, g in zip(template, got)):
        dims = ", ".join("P" if d is None else str(d) for d in template)
        raise ValueError(
            f"clip {i}: companion {name!r} has shape {value.shape}, expected "
            f"(T{', ' if dims else ''}{dims}): {PER_FRAME_COMPANIONS[name]}"
        )
    if got != entry and None not in entry:  # a size an earlier clip fixed
        raise ValueError(
            f"clip {i}: companion {name!r} has shape {value.shape}, but earlier clips have "
            f"(T, {', '.join(map(str, entry))}): every clip needs the same landmark scheme"
        )
    if numeric and value.dtype.kind not in "biuf":
        raise TypeError(f"clip {i}: companion {name!r} must be numeric, got dtype {value.dtype}")
    return got


def _check_clip_value(name: str, value: Any, i: int) -> None:
    """Check one clip's per-clip companion (None: not known for that clip)."""
    if value is None:
        return
    if name == "audio":
        samples = np.asarray(value)
        if samples.ndim not in (1, 2) or samples.dtype.kind not in "iuf":
            raise ValueError(
                f"clip {i}: companion 'audio' must be a numeric (n_samples,) or "
                f"(n_samples, n_channels) array, got shape {samples.shape}, dtype {samples.dtype}"
            )
    elif name == "sample_rate":
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
            raise ValueError(f"clip {i}: companion 'sample_rate' must be a positive int "
                             f"(Hz), got {value!r}")
    elif name == "fps":
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
                value > 0 or np.isnan(value)) or np.isinf(value):
            raise ValueError(f"clip {i}: companion 'fps' must be a positive number (NaN: "
                             f"unknown), got {value!r}")
    elif name == "speaker" and (isinstance(value, bool) or not isinstance(
            value, str | numbers.Integral)):
        # Speakers are compared and grouped by value: a float (NaN != NaN) or an array
        # would group wrongly.
        raise TypeError(f"clip {i}: companion 'speaker' must be a str or int id, got "
                        f"{type(value).__name__}")
    elif name == "source" and not isinstance(value, str | os.PathLike):
        raise TypeError(f"clip {i}: companion 'source' must be a file name (str), got "
                        f"{type(value).__name__}")


class ClipSet(Sequence):
    """A data set of clips (or per-frame sequences) with per-clip companions.

    Behaves as the list of its clips (``len``, iteration, ``X[i]`` gives clip ``i`` as an
    ndarray) wherever skfer or scikit-learn reads clips, and keeps the companions of every
    clip when indexed by several samples (``X[[0, 2]]``, a boolean mask, a slice, or the
    index arrays of a cross-validation split), so a split or a resampler never separates a
    clip from its landmarks, boxes, statuses or sound.

    Parameters
    ----------
    data : sequence of array-like
        The clips ``(T, H, W[, 3])``, or after a feature step the per-frame sequences
        ``(T, F)``. An ndarray whose first axis indexes samples is split into a list.
    **companions : sequence, one entry per clip
        Per-frame companions (``landmarks``, ``boxes``, ``source_boxes``, ``status``,
        ``confidence``, ``frame_ids``: arrays
        whose first axis has one entry per frame of the clip; an entry may be ``None``) and
        per-clip companions (``audio``, ``sample_rate``, ``fps``, ``source``). See
        :data:`PER_FRAME_COMPANIONS` and :data:`PER_CLIP_COMPANIONS`. ``None`` as a whole
        companion is the same as leaving it out.

    Attributes
    ----------
    data : list of ndarray
    companions : dict of str to list
    shape : tuple of int
        ``(n_clips,)``: what makes scikit-learn's ``_safe_indexing`` index a ClipSet by
        ``X[indices]`` (keeping companions) instead of rebuilding a plain list.

    Raises
    ------
    ValueError
        An unknown companion name, a companion with a number of entries other than the
        number of clips, a per-frame companion whose length differs from its clip's number
        of frames (the message names the clip), an unknown frame status.

    Notes
    -----
    The clips themselves are validated by the steps that read them
    (:func:`skfer.utils.validation.check_clips` accepts a ClipSet); the container checks only
    that companions line up with their clips.

    Examples
    --------
    >>> import numpy as np
    >>> clips = [np.zeros((3, 8, 8), np.uint8), np.zeros((2, 8, 8), np.uint8)]
    >>> X = ClipSet(clips, status=[["detected"] * 3, ["detected", "missing"]])
    >>> len(X), X[1].shape
    (2, (2, 8, 8))
    >>> X[[1]].get("status")[0].tolist()
    ['detected', 'missing']
    >>> X.usable_frames(1).tolist()
    [True, False]
    """

    def __init__(self, data: Any, **companions: Any) -> None:
        if isinstance(data, ClipSet):
            companions = {**data.companions, **companions}
            data = data.data
        if isinstance(data, np.ndarray) and data.dtype != object:
            data = list(data)
        elif isinstance(data, (str, bytes)) or not hasattr(data, "__len__"):
            raise TypeError(
                f"ClipSet data must be a sequence of clips, got {type(data).__name__}"
            )
        self.data = list(data)
        self.companions = {
            name: _check_companion(name, values, self.data)
            for name, values in companions.items()
            if values is not None
        }

    # ------------------------------------------------------------------ sequence protocol
    def __len__(self) -> int:
        return len(self.data)

    @property
    def shape(self) -> tuple[int]:
        return (len(self.data),)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.data)

    def __getitem__(self, key: Any) -> Any:
        # scikit-learn's _array_indexing calls X[key, ...] on objects with a shape.
        if isinstance(key, tuple):
            if len(key) == 2 and key[1] is Ellipsis:
                key = key[0]
            else:
                raise IndexError(f"ClipSet takes one index over clips, got {key!r}")
        if isinstance(key, numbers.Integral):
            return self.data[self._indices([key])[0]]
        indices = self._indices(key)
        return ClipSet(
            [self.data[i] for i in indices],
            **{name: [values[i] for i in indices] for name, values in self.companions.items()},
        )

    def _indices(self, key: Any) -> list[int]:
        if isinstance(key, slice):
            return list(range(len(self.data)))[key]
        key = np.asarray(key)
        if key.dtype == bool:
            if key.shape != (len(self.data),):
                raise IndexError(
                    f"boolean index of shape {key.shape} for a ClipSet of {len(self.data)} clips"
                )
            return np.flatnonzero(key).tolist()
        if key.ndim != 1 or not (key.size == 0 or np.issubdtype(key.dtype, np.integer)):
            raise IndexError(f"ClipSet indices must be integers, a slice or a mask, got {key!r}")
        n = len(self.data)
        # A list or an array refuses an index out of range; wrapping -4 of 3 clips onto
        # clip 2 would silently pick another clip (and its companions).
        outside = key[(key < -n) | (key >= n)]
        if outside.size:
            raise IndexError(
                f"ClipSet index {int(outside[0])} is out of range for {n} clips "
                f"(valid: {-n} to {n - 1})"
            )
        return [int(i) + n if i < 0 else int(i) for i in key]

    def __repr__(self) -> str:
        names = ", ".join(self.companions) or "none"
        return f"ClipSet({len(self.data)} clips; companions: {names})"

    # ------------------------------------------------------------------------ companions
    def get(self, name: str, default: Any = None) -> list | Any:
        """The companion ``name`` (a list with one entry per clip), or ``default``."""
        return self.companions.get(name, default)

    def replace(self, data: Any = None, **companions: Any) -> ClipSet:
        """A new ClipSet with other data and/or companions (``name=None`` drops one).

        Parameters
        ----------
        data : sequence of array-like, optional
            New clips or sequences, one per clip of this set; default: the same.
        **companions
            Companions to set (``None`` removes the companion).

        Returns
        -------
        ClipSet
        """
        data = self.data if data is None else data
        if len(data) != len(self.data):
            raise ValueError(
                f"ClipSet.replace: {len(data)} new items for a ClipSet of {len(self.data)} clips"
            )
        merged = {**self.companions, **companions}
        return ClipSet(data, **{k: v for k, v in merged.items() if v is not None})

    def usable_frames(self, index: int) -> np.ndarray:
        """Boolean mask of the frames of clip ``index`` with a trustworthy face.

        Frames whose status is in :data:`UNUSABLE_STATUSES` (``"suspect"``, ``"missing"``)
        are False. All frames are usable when the set has no ``status`` companion (or that clip's
        entry is None).
        """
        status = self.get("status")
        n = len(self.data[index])
        if status is None or status[index] is None:
            return np.ones(n, dtype=bool)
        return ~np.isin(np.asarray(status[index]).astype(str), UNUSABLE_STATUSES)

    @classmethod
    def from_bunch(cls, bunch: Any) -> ClipSet:
        """The clips of a loader's Bunch with every companion it has.

        Parameters
        ----------
        bunch : sklearn.utils.Bunch
            As returned by the ``skfer.datasets`` loaders: ``data`` plus, where the source
            has them, ``landmarks``, ``boxes``, ``frame_ids``, ``audio``, ``sample_rate``,
            ``fps``, ``speaker`` (the audio loaders: Emo-DB), ``filenames`` (kept as
            ``source``).

        Returns
        -------
        ClipSet
        """
        n = len(bunch.data)
        companions: dict[str, Any] = {}
        for name in ("landmarks", "boxes", "frame_ids", "audio", "fps", "speaker"):
            if bunch.get(name) is not None:
                companions[name] = bunch[name]
        rate = bunch.get("sample_rate")
        if rate is not None:
            companions["sample_rate"] = (
                [rate] * n if isinstance(rate, numbers.Number) else list(rate)
            )
        files = bunch.get("filenames")
        if files is not None and len(files) == n:
            companions["source"] = [str(f) for f in files]
        return cls(bunch.data, **companions)
