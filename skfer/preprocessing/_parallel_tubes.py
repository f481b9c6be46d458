"""Face tubes of many clips from joblib workers (``FaceTubeExtractor(n_jobs=...)``).

In clip order, named as in one process.

A worker sees one clip, so the records it returns say "clip 0" and carry no file name,
and a warning it emits is lost in another process. :func:`iter_clips_parallel` therefore
runs the workers' extractor under ``on_missing="ignore"`` (it only records), renumbers each
record by the clip's index in ``X`` with its ``source``, and leaves the policy to the
caller's extractor, which applies it as it does to its own records. joblib's backend is the
caller's, so ``joblib.parallel_backend("dask")`` sends the clips to a Dask cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone

from ..utils.validation import check_clips
from ._frame_records import clip_sources

if TYPE_CHECKING:
    from .face_tubes import FaceTube, FaceTubeExtractor

__all__ = ["iter_clips_parallel"]


def _one_clip(
    extractor: FaceTubeExtractor, clip: np.ndarray
) -> list[tuple[np.ndarray, FaceTube]]:
    """The ``(tube, record)`` of each face of one clip (one unless ``faces="all"``)."""
    tubes, records = extractor.transform_with_info([clip])
    return list(zip(tubes.data, records))


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
    # A worker extracts its one clip itself (n_jobs=None), spawning no workers.
    lenient = clone(extractor).set_params(on_missing="ignore", n_jobs=None).fit()
    done = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_one_clip)(lenient, clip) for clip in clips
    )
    for i, faces in enumerate(done):
        for tube, record in faces:
            record.clip_index = i
            record.skipped = tuple(
                replace(r, clip_index=i, source=sources[i] or r.source) for r in record.skipped
            )
            yield tube, record
