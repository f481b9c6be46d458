"""Background prefetching of decoded items (video frames) while the caller works.

:func:`prefetch` runs an iterator (e.g. :func:`skfer.io.iter_frames`) on a daemon thread
named ``skfer-decode`` and hands its items over through a queue.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["prefetch"]

_T = TypeVar("_T")


class _Done:
    """End-of-stream marker of :func:`prefetch`, with the producer's error if any."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def prefetch(items: Iterable[_T]) -> Iterator[_T]:
    """Iterate over ``items`` produced by a background thread.

    FFmpeg (PyAV) decodes the next frames on this thread, with its own slice threads,
    while the caller works on the current one (e.g. the face detection of
    :meth:`skfer.preprocessing.FaceTubeExtractor.transform_files`). The queue is not
    bounded: that caller keeps every frame anyway, so running ahead costs no extra
    memory. Errors of the producer are raised in the caller; when the
    caller stops early, the producer stops at its next item.
    """
    q: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()

    def produce() -> None:
        it = iter(items)
        try:
            for item in it:
                if stop.is_set():
                    break
                q.put(item)
        except BaseException as exc:  # noqa: BLE001 - handed over to the consumer
            q.put(_Done(exc))
        else:
            q.put(_Done())
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()  # e.g. release the video file now, not at garbage collection

    thread = threading.Thread(target=produce, name="skfer-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if isinstance(item, _Done):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        thread.join()
