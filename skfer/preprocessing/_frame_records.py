"""Per-clip :class:`~skfer.utils.frame_policy.SkippedFrames` records of the preprocessing
steps, from boolean frame masks (one helper so every step names clips and files alike)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..clipset import ClipSet
from ..utils.frame_policy import SkippedFrames

__all__ = ["clip_sources", "records_from_masks"]


def clip_sources(X: Any, n: int) -> list[str | None]:
    """The file of each clip of ``X`` (its ``source`` companion), or ``None`` per clip."""
    sources = X.get("source") if isinstance(X, ClipSet) else None
    return [None] * n if sources is None else [None if s is None else str(s) for s in sources]


def records_from_masks(
    masks: Sequence[np.ndarray | None],
    reason: str,
    X: Any = None,
    detail: str = "",
) -> list[SkippedFrames]:
    """One record per clip whose mask has a True frame (the frames skipped for ``reason``)."""
    sources = clip_sources(X, len(masks))
    return [
        SkippedFrames(np.flatnonzero(m), reason, clip_index=i, source=sources[i], detail=detail)
        for i, m in enumerate(masks)
        if m is not None and np.any(m)
    ]
