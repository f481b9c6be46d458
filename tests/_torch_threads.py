"""A fixture for tests of tiny torch networks: one thread while the test runs.

On the shared, loaded 2-core machine, OpenMP's waiting between 2 threads costs more than the
arithmetic of small networks (0.2 s per small operation was seen). Use it with
``pytestmark = pytest.mark.usefixtures("one_torch_thread")`` after importing it.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
