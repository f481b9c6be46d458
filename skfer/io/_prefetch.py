"""Background prefetching of decoded items (video frames) while the caller works.

:func:`prefetch` runs an iterator (e.g. :func:`skfer.io.iter_frames`) on a daemon thread
named ``skfer-decode`` and hands its items over through a queue, optionally bounded;
:func:`prefetch_windows` does the same with lists of frames, one window ahead. They are
skfer's one decode-ahead helper.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

__all__ = ["prefetch", "prefetch_windows"]

_T = TypeVar("_T")


class _Done:
    """End-of-stream marker of :func:`prefetch`, with the producer's error if any."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def prefetch(items: Iterable[_T], ahead: int | None = None) -> Iterator[_T]:
    """Iterate over ``items`` produced by a background thread.

    FFmpeg (PyAV) decodes the next frames on this thread, with its own slice threads,
    while the caller works on the current one (e.g. the face detection of
    :meth:`skfer.preprocessing.FaceTubeExtractor.transform_files`). Errors of the producer
    are raised in the caller; when the caller stops early, the producer stops at its next
    item.

    Parameters
    ----------
    items : iterable
    ahead : int, optional
        Items the producer may make beyond the one the caller holds (the memory bound: at
        most ``ahead + 1`` items exist at once, the one being made included). ``None``
        does not bound it, for a caller that keeps every item anyway.
    """
    q: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    # A slot per item alive; the caller frees one when it asks for the next item.
    slots = None if ahead is None else threading.Semaphore(int(ahead) + 1)

    def produce() -> None:
        it = iter(items)
        try:
            while True:
                if slots is not None:
                    while not slots.acquire(timeout=0.1):
                        if stop.is_set():
                            return
                if stop.is_set():
                    break
                try:
                    item = next(it)
                except StopIteration:
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
    held = False
    try:
        while True:
            if held and slots is not None:
                slots.release()  # the caller is done with the item it held
            item = q.get()
            if isinstance(item, _Done):
                if item.error is not None:
                    raise item.error
                return
            held = True
            yield item
    finally:
        stop.set()
        thread.join()


def prefetch_windows(frames: Iterable[_T], size: int) -> Iterator[list[_T]]:
    """Lists of ``size`` frames; the next one decodes on a thread while the caller works.

    One window ahead at most, so memory holds two windows, however long the video.
    """
    def chunks() -> Iterator[list[_T]]:
        it = iter(frames)
        try:
            while window := list(islice(it, size)):
                yield window
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    return prefetch(chunks(), ahead=1)
