"""Face tubes of many clips from joblib workers, in order, named as in one process.

A worker sees one clip, so the records it returns say "clip 0" and carry no file name,
and a warning it emits is lost in another process. :func:`iter_clips_parallel` therefore
runs the workers' extractor under ``on_missing="ignore"`` (it only records), renumbers each
record by the clip's index in ``X`` with its ``source``, and leaves the policy to the
caller's extractor; :func:`iter_transform_parallel` applies it clip by clip, as
:meth:`~skfer.preprocessing.FaceTubeExtractor.iter_transform` does. joblib's backend is the
caller's, so ``joblib.parallel_backend("dask")`` sends the clips to a Dask cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone

from ..utils.frame_policy import SkippedFrames
from ..utils.validation import check_clips
from ._frame_records import clip_sources

if TYPE_CHECKING:
    from .face_tubes import FaceTube, FaceTubeExtractor

__all__ = ["iter_clips_parallel", "iter_transform_parallel"]


def _one_tube(extractor: FaceTubeExtractor, clip: np.ndarray) -> tuple[np.ndarray, FaceTube]:
    tubes, records = extractor.transform_with_info([clip])
    return tubes[0], records[0]


def iter_clips_parallel(
    extractor: FaceTubeExtractor, X: Any, n_jobs: int | None
) -> Iterator[tuple[np.ndarray, FaceTube]]:
    """``(tube, record)`` per clip of ``X``, in order, from joblib workers; no policy applied.

    Parameters
    ----------
    extractor : FaceTubeExtractor
        Fitted; its parameters are the workers' but ``on_missing`` (``"ignore"`` there).
    X : list of clips, ndarray or ClipSet
        Validated here, before any clip is sent, so an error names the clip by its index.
    n_jobs : int or None
        joblib's.

    Yields
    ------
    tube : ndarray
    record : FaceTube
        ``clip_index`` and its skip records' ``clip_index`` and ``source`` are the clip's in
        ``X``.
    """
    clips = check_clips(X, color=True if extractor.color else None)
    sources = clip_sources(X, len(clips))
    params: dict[str, Any] = {"on_missing": "ignore"}
    if "n_jobs" in extractor.get_params(deep=False):
        params["n_jobs"] = None  # a worker extracts its one clip itself, spawning no workers
    lenient = clone(extractor).set_params(**params).fit()
    done = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_one_tube)(lenient, clip) for clip in clips
    )
    for i, (tube, record) in enumerate(done):
        record.clip_index = i
        record.skipped = tuple(
            replace(r, clip_index=i, source=sources[i] or r.source) for r in record.skipped
        )
        yield tube, record


def iter_transform_parallel(
    extractor: FaceTubeExtractor, X: Any, n_jobs: int | None
) -> Iterator[tuple[np.ndarray, FaceTube]]:
    """:meth:`~skfer.preprocessing.FaceTubeExtractor.iter_transform` with clips in parallel.

    The pairs of :func:`iter_clips_parallel` (same parameters), with the extractor's
    ``on_missing`` applied to each clip's record as it arrives, in clip order (one warning
    per clip; ``"raise"`` stops at the first clip without a face).
    """
    for tube, record in iter_clips_parallel(extractor, X, n_jobs):
        pending: list[SkippedFrames] = []
        # The extractor's own rule and message: the same errors as a run in one process.
        extractor._apply_policy(record, pending)
        extractor._apply_policy(None, pending)
        yield tube, record
