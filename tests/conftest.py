"""Shared test fixtures.

``shared_data`` points at the real recorded data beside the repository (``../shared/data``)
and skips the test, with the reason, when it is absent (as on a user's machine).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(
    os.environ.get(
        "SKFER_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ``../shared/data`` folder of real data; skips when it is not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"real data folder {SHARED_DATA} is absent (set SKFER_SHARED_DATA to use "
            "another place); this integration test needs it"
        )
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _few_torch_threads():
    """Keep torch to the machine's 2 cores and deterministic in tests."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    torch.set_num_threads(2)
    yield
