"""One vocabulary for frames that could not be read, had no face, or were skipped.

Every part of skfer that can end up without some frames of a clip (the video readers, the
face-tube extractor, the landmark detector, the registration, the mouth crop, the frame
aggregator and ``skfer predict``) follows the same rules (``docs/reliability.md``):

* the frames are **recorded**, per clip, as :class:`SkippedFrames`: the clip's position and
  file, the frame indices and one *reason* from :data:`SKIP_REASONS`;
* a policy parameter (``on_missing``, with the values of :data:`POLICIES`) says what else
  happens: ``"raise"`` raises :class:`~skfer.exceptions.SkippedFramesError` (a
  ``ValueError``), ``"warn"`` emits one :class:`~skfer.exceptions.SkippedFramesWarning` per
  call that names the clips, the counts and the
  reasons, ``"ignore"`` only records;
* nothing is dropped silently: with ``"ignore"`` the record is still there (a returned
  record, a fitted attribute or the per-frame ``status`` companion).

>>> import numpy as np
>>> record = SkippedFrames(indices=np.array([3, 4]), reason="no_face", clip_index=0,
...                        source="a.mp4")
>>> print(record)
clip 0 (a.mp4): 2 frames [3, 4]: no_face (no face was detected, tracked or filled)
>>> apply_policy([record], "ignore", "left out")
>>> apply_policy([record], "raise", "left out")
Traceback (most recent call last):
...
skfer.exceptions.SkippedFramesError: clip 0 (a.mp4): 2 frames [3, 4]: no_face (no face ...
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

# Defined with every public error and warning; importable from here as well.
from ..exceptions import SkippedFramesError, SkippedFramesWarning
from ._sklearn import StrOptions

__all__ = [
    "POLICIES",
    "SKIP_REASONS",
    "SkippedFrames",
    "apply_policy",
    "check_policy",
    "policy_constraint",
]

#: The values every ``on_missing`` parameter takes.
POLICIES = ("raise", "warn", "ignore")

#: Why frames are skipped. Readers use the first three, face and landmark steps the next ones,
#: the aggregator ``"excluded"`` (frames whose status it was told to skip).
SKIP_REASONS = {
    "undecodable": "the decoder failed on the frame",
    "truncated": "the container declares more frames than could be decoded",
    "resized": "the frame's size differs from the stream's first frame",
    "no_face": "no face was detected, tracked or filled",
    "inconsistent": "the detections disagree with the rest of the tube",
    "no_landmarks": "no landmarks were found",
    "excluded": "the frame's status is one the step was told to skip",
}


def policy_constraint() -> list:
    """The ``_parameter_constraints`` entry of an ``on_missing`` parameter."""
    return [StrOptions(set(POLICIES))]


def check_policy(value: str, name: str = "on_missing") -> str:
    """Refuse a policy outside :data:`POLICIES` (for functions; estimators use
    :func:`policy_constraint`).

    >>> check_policy("warn")
    'warn'
    >>> check_policy("skip", "on_error")
    Traceback (most recent call last):
    ...
    ValueError: on_error must be one of ('raise', 'warn', 'ignore'), got 'skip'
    """
    if value not in POLICIES:
        raise ValueError(f"{name} must be one of {POLICIES}, got {value!r}")
    return value


@dataclass(frozen=True)
class SkippedFrames:
    """Frames of one clip that a step could not use, and why.

    Attributes
    ----------
    indices : ndarray of int
        Frame indices: in the file for a reader, in the clip for every later step.
    reason : str
        One key of :data:`SKIP_REASONS`.
    clip_index : int or None
        Position of the clip in its data set (``None`` for a single file).
    source : str or None
        File the clip came from, where known.
    detail : str
        Free text: what was declared against what was decoded, the decoder's message...
    open_ended : bool
        ``indices`` are only the first frames known to be lost, and an unknown number
        followed them (a cut MPEG-TS file declares no frame count): messages say "at least".
    """

    indices: np.ndarray = field(repr=False)
    reason: str
    clip_index: int | None = None
    source: str | None = None
    detail: str = ""
    open_ended: bool = False

    def __post_init__(self) -> None:
        if self.reason not in SKIP_REASONS:
            raise ValueError(
                f"unknown skip reason {self.reason!r}; use one of {sorted(SKIP_REASONS)}"
            )
        object.__setattr__(self, "indices", np.asarray(self.indices, dtype=np.intp).ravel())

    @property
    def count(self) -> int:
        """Number of frames skipped."""
        return int(self.indices.size)

    def where(self) -> str:
        """``"clip 3 (file.mp4)"``, ``"file.mp4"`` or ``"clip 3"``."""
        parts = []
        if self.clip_index is not None:
            parts.append(f"clip {self.clip_index}")
        if self.source is not None:
            parts.append(f"({self.source})" if parts else str(self.source))
        return " ".join(parts) or "a clip"

    def __str__(self) -> str:
        shown = self.indices[:10].tolist()
        more = " ..." if self.count > 10 else ""
        more += " and an unknown number after them" if self.open_ended else ""
        text = (
            f"{self.where()}: {self.count} frames {shown}{more}: {self.reason} "
            f"({SKIP_REASONS[self.reason]})"
        )
        return text + (f"; {self.detail}" if self.detail else "")


def apply_policy(
    records: Iterable[SkippedFrames],
    policy: str,
    what: str,
    *,
    hint: str = 'set on_missing="warn" or "ignore" to go on',
    stacklevel: int = 3,
) -> None:
    """Apply an ``on_missing`` policy to skip records (empty records are ignored).

    Parameters
    ----------
    records : iterable of SkippedFrames
    policy : {"raise", "warn", "ignore"}
    what : str
        What happened to the frames, for the warning ("left out of the mean", "not decoded").
    hint : str
        How to get past a ``"raise"``, appended to its message.
    stacklevel : int
        Passed to :func:`warnings.warn`.

    Raises
    ------
    SkippedFramesError
        Under ``"raise"``, naming the first record (all of them in ``records``).
    """
    check_policy(policy)
    records = [r for r in records if r.count]
    if not records or policy == "ignore":
        return
    if policy == "raise":
        more = f" (and {len(records) - 1} more clips)" if len(records) > 1 else ""
        raise SkippedFramesError(f"{records[0]}{more}; {hint}", records)
    total = sum(r.count for r in records)
    at_least = "at least " if any(r.open_ended for r in records) else ""
    shown = "; ".join(str(r) for r in records[:5])
    more = f"; and {len(records) - 5} more clips" if len(records) > 5 else ""
    warnings.warn(
        f"{at_least}{total} frames were {what}: {shown}{more}", SkippedFramesWarning,
        stacklevel=stacklevel,
    )
