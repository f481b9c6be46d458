"""Where the benchmarks find the real data: ``$SKFER_SHARED_DATA`` or ``../shared/data``.

The same rule as the tests' ``shared_data`` fixture (``tests/conftest.py``). The scripts
run as ``python benchmarks/NAME.py``, so this module is importable beside them.
"""

import os
from pathlib import Path

SHARED_DATA = Path(
    os.environ.get("SKFER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
