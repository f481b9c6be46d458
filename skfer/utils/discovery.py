"""Find skfer's public estimators, as :func:`sklearn.utils.discovery.all_estimators` does."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from sklearn.base import BaseEstimator

__all__ = ["all_estimators"]

_SKIP_MODULES = ("tests", "cli")


def all_estimators() -> list[tuple[str, type]]:
    """Return ``(name, class)`` for every public, concrete estimator class in skfer.

    Public means a class with a public name found in a public module (no leading underscore
    in any part of the module path), wherever it is defined: like scikit-learn, skfer may
    define an estimator in a private ``_module.py`` and export it from the subpackage. New
    estimators therefore join the common tests as soon as a public module exposes them.
    """
    import skfer

    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(skfer.__path__, prefix="skfer."):
        parts = info.name.split(".")[1:]
        if any(p.startswith("_") or p in _SKIP_MODULES for p in parts):
            continue
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, BaseEstimator)
                and cls.__module__.startswith("skfer.")
                and not name.startswith("_")
                and not inspect.isabstract(cls)
            ):
                found[name] = cls
    return sorted(found.items())
