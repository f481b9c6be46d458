"""Shared test fixtures.

``shared_data`` points at the real recorded data beside the repository (``../shared/data``)
and skips the test, with the reason, when it is absent (as on a user's machine).
``synthetic_data`` (2 subjects of the synthetic generator) and ``hog_svm_detect`` (hog-svm
fitted on them as ``skfer train`` fits it) are shared by the prediction and model-file
tests.
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


@pytest.fixture(scope="session")
def synthetic_data():
    """Two subjects of the synthetic generator (24 clips, 6 classes)."""
    from skfer.datasets import make_expressions

    return make_expressions(n_subjects=2, random_state=0)


@pytest.fixture(scope="session")
def hog_svm_detect(synthetic_data):
    """hog-svm as `skfer train` fits it: face detection and per-frame probabilities."""
    from skfer.models import make_model

    return make_model("hog-svm", faces="detect", probability=True).fit(
        synthetic_data.data, synthetic_data.target)


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
