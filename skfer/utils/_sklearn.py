"""Every private scikit-learn name skfer uses, imported here and only here.

skfer's estimators follow scikit-learn's conventions to the letter, which takes a few names
scikit-learn does not promise to keep: the parameter-validation vocabulary
(``_parameter_constraints`` with ``Interval``, ``StrOptions``...), the ``_fit_context``
decorator, the heterogeneous-ensemble base, metadata-routing helpers and sample indexing.
``scikit-learn>=1.6`` is unbounded above, so a release may move or rename one of them:
importing them through this module makes that one file to change, and
``tests/test_sklearn_private.py`` checks every name here against the installed release and
that no other module imports a private scikit-learn name (``.ci/sklearn-latest`` runs it
against the newest release the registry serves).

The names keep scikit-learn's spelling, so a module reads as scikit-learn's own code does.
"""

from __future__ import annotations

from sklearn.base import _clone_parametrized, _fit_context
from sklearn.ensemble._base import _BaseHeterogeneousEnsemble
from sklearn.model_selection._split import GroupsConsumerMixin
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    generate_invalid_param_val,
    make_constraint,
    validate_parameter_constraints,
    validate_params,
)
from sklearn.utils.metadata_routing import _raise_for_params, _routing_enabled
from sklearn.utils.validation import _check_method_params, _num_samples

__all__ = [
    "GroupsConsumerMixin",
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "_BaseHeterogeneousEnsemble",
    "_check_method_params",
    "_clone_parametrized",
    "_fit_context",
    "_num_samples",
    "_raise_for_params",
    "_routing_enabled",
    "_safe_indexing",
    "generate_invalid_param_val",
    "make_constraint",
    "validate_parameter_constraints",
    "validate_params",
]
