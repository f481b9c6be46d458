"""Run the examples in skfer's docstrings, so that a documented example cannot rot.

One test per module (``skfer.cli.__main__`` is left out: importing it runs the command).
``pytest --doctest-modules skfer`` runs the same examples; this file makes the README's test
command run them too.
"""

import doctest
import importlib
import pkgutil

import pytest

import skfer


def _modules() -> list[str]:
    names = [skfer.__name__]
    for info in pkgutil.walk_packages(skfer.__path__, prefix="skfer."):
        if not info.name.endswith("__main__"):
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        if (exc.name or "skfer").startswith("skfer"):
            raise  # skfer's own import error is a bug, not a missing extra
        pytest.skip(f"{name} needs an optional dependency that is not installed: {exc}")
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring examples of {name} failed (see above)"
