"""Waiting for a quiet machine before a timing, and recording how quiet it was.

On the shared 2-core benchmark machine a timing taken under another job measures the
contention more than the code (``docs/benchmarks.md``, issue 15), so the timed runs of the
benchmarks wait until the 1-minute load average is below a threshold and record it.
Plain Python only: the peer benchmarks' drivers may import it from other environments.
"""

from __future__ import annotations

import os
import sys
import time


def load1() -> float:
    """The 1-minute load average (``os.getloadavg``; NaN where the OS has none)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def wait_for_quiet(below: float = 1.3, poll_s: float = 60.0, max_wait_s: float = 900.0,
                   what: str = "timing") -> dict:
    """Wait (polling every ``poll_s``) until the 1-minute load is below ``below``.

    Gives up after ``max_wait_s`` and goes on, saying so: the returned record then has
    ``quiet`` False. Returns ``{"load_before": ..., "waited_s": ..., "quiet": ...}``.
    """
    start = time.monotonic()
    load = load1()
    while not load < below and time.monotonic() - start < max_wait_s:
        print(f"[{what}] load {load:.2f} >= {below}: waiting {poll_s:.0f} s",
              file=sys.stderr, flush=True)
        time.sleep(poll_s)
        load = load1()
    waited = time.monotonic() - start
    if not load < below:
        print(f"[{what}] load still {load:.2f} after {waited:.0f} s: timing anyway",
              file=sys.stderr, flush=True)
    return {"load_before": round(load, 2), "waited_s": round(waited), "quiet": load < below}
