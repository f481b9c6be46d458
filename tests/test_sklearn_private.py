"""The private scikit-learn names skfer uses: all in ``skfer/utils/_sklearn.py``, all there.

``scikit-learn>=1.6`` has no upper bound, and scikit-learn may move or rename a private
name in any release. These tests say which name went missing (all of them at once, not the
first ImportError) and keep every other module off private scikit-learn names, so that one
file changes when scikit-learn does. ``.ci/sklearn-latest`` runs them, with the tests of
the estimators that use those names, against the newest scikit-learn the registry serves.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import sklearn

import skfer.utils._sklearn as private

SKFER = Path(private.__file__).resolve().parents[1]
HOME = Path(private.__file__).resolve()

#: Modules still importing private names themselves (none: every module goes through
#: skfer.utils._sklearn); a new entry must say why it cannot.
PENDING: set[str] = set()


def _is_private(module: str, name: str = "") -> bool:
    return any(part.startswith("_") for part in module.split(".")) or name.startswith("_")


def _sklearn_imports(path: Path) -> list[tuple[str, str, int]]:
    """``(module, name, line)`` of every ``from sklearn... import name`` in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sklearn"):
            found += [(node.module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "", node.lineno) for alias in node.names
                      if alias.name.startswith("sklearn")]
    return found


def test_every_private_name_exists_in_this_scikit_learn():
    missing = []
    for module, name, line in _sklearn_imports(HOME):
        try:
            found = hasattr(importlib.import_module(module), name)
        except ImportError:
            found = False
        if not found:
            missing.append(f"{module}.{name} (line {line})")
    assert not missing, (
        f"scikit-learn {sklearn.__version__} lacks names skfer/utils/_sklearn.py imports: "
        + ", ".join(missing)
    )
    assert sorted(private.__all__) == sorted(name for _, name, _ in _sklearn_imports(HOME))


def test_no_other_module_imports_a_private_scikit_learn_name():
    offenders, clean_pending = [], []
    for path in sorted(SKFER.rglob("*.py")):
        if path == HOME:
            continue
        rel = path.relative_to(SKFER).as_posix()
        names = [f"{m}.{n}" if n else m for m, n, _ in _sklearn_imports(path)
                 if _is_private(m, n)]
        if names and rel not in PENDING:
            offenders.append(f"{rel}: {', '.join(names)}")
        elif not names and rel in PENDING:
            clean_pending.append(rel)
    assert not offenders, "import these from skfer.utils._sklearn: " + "; ".join(offenders)
    assert not clean_pending, f"remove from PENDING (they are clean now): {clean_pending}"
