"""API checks for estimators whose input is a collection of clips.

scikit-learn's :func:`~sklearn.utils.estimator_checks.parametrize_with_checks` feeds 2-D
feature matrices, so it skips estimators tagged ``two_d_array=False`` (all of skfer's clip
transformers: see :class:`skfer.base.ClipTransformerMixin`). This module runs the
data-free API checks of scikit-learn on them, and the equivalents of its data checks with
clip data: fit returns self, parameters are neither rebound nor mutated by fit
(``check_estimators_overwrite_params``), ``transform``/``predict`` leave the fitted estimator
unchanged (``check_dict_unchanged``), every parameter is validated with an informative
:class:`~sklearn.utils._param_validation.InvalidParameterError`
(``check_param_validation``), fitted attributes end in ``_``, unfitted use raises
``NotFittedError``, output has one item per input clip, results are deterministic, survive
pickling and ``clone``, and bad clips are rejected with an error naming the clip.

Use :func:`parametrize_with_clip_checks` in a test module like scikit-learn's
``parametrize_with_checks``.
"""

from __future__ import annotations

import copy
import pickle
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks as skchecks
from sklearn.utils import get_tags

from ._sklearn import InvalidParameterError, generate_invalid_param_val, make_constraint

__all__ = [
    "SKLEARN_DATA_FREE_CHECKS",
    "check_clip_param_validation",
    "make_clip_data",
    "parametrize_with_clip_checks",
    "yield_clip_checks",
]

ClipData = tuple[list[np.ndarray], np.ndarray]


def make_clip_data(
    n_clips: int = 12,
    frame_size: tuple[int, int] = (32, 32),
    color: bool = False,
    random_state: int = 0,
) -> ClipData:
    """Small clips of varying length (3 to 6 frames) with two balanced labels.

    The frames hold a bright blob whose position depends on the label, so that supervised
    clip estimators have something to learn.
    """
    rng = np.random.RandomState(random_state)
    clips, y = [], np.array(["anger", "happiness"] * (n_clips // 2))
    h, w = frame_size
    yy, xx = np.mgrid[:h, :w]
    for label in y:
        n_frames = rng.randint(3, 7)
        cx = w * (0.3 if label == "anger" else 0.7)
        blob = np.exp(-((xx - cx) ** 2 + (yy - h / 2) ** 2) / (2 * (w / 8) ** 2))
        frames = 40 + 150 * blob[None] + rng.normal(0, 10, (n_frames, h, w))
        frames = np.clip(frames, 0, 255).astype(np.uint8)
        if color:
            frames = np.repeat(frames[..., None], 3, axis=-1)
        clips.append(frames)
    return clips, y


def _is_sampler(estimator) -> bool:
    return hasattr(estimator, "fit_resample") and not hasattr(estimator, "transform")


def _output(estimator, X, y=None):
    """The estimator's main output on X, as a list of arrays (one per sample).

    For a sampler (imbalanced-learn API) it is the resampled ``X`` of ``fit_resample``.
    """
    if _is_sampler(estimator):
        return [np.asarray(o) for o in estimator.fit_resample(X, y)[0]]
    for method in ("transform", "predict_proba", "predict"):
        if hasattr(estimator, method):
            out = getattr(estimator, method)(X)
            if isinstance(out, tuple):  # e.g. transform returning (clips, info)
                out = out[0]
            return [np.asarray(o) for o in out]
    raise AssertionError(f"{type(estimator).__name__} has no transform/predict")


def _assert_outputs_equal(a, b, msg: str) -> None:
    assert len(a) == len(b), msg
    for i, (u, v) in enumerate(zip(a, b)):
        np.testing.assert_allclose(
            np.asarray(u, dtype=float), np.asarray(v, dtype=float), rtol=1e-5,
            atol=1e-6, err_msg=f"{msg} (sample {i})"
        )


def _fit(estimator, X, y):
    return estimator.fit(X, y)


def check_clip_tags(name, estimator, data):
    tags = get_tags(estimator)
    assert not tags.input_tags.two_d_array, f"{name}: clip estimators set two_d_array=False"
    assert tags.input_tags.three_d_array, f"{name}: clip estimators set three_d_array=True"


def check_clip_fit_returns_self_and_keeps_params(name, estimator, data):
    X, y = data
    est = clone(estimator)
    before = {k: v for k, v in est.get_params(deep=False).items()}
    assert _fit(est, X, y) is est, f"{name}.fit must return self"
    after = est.get_params(deep=False)
    for key, value in before.items():
        assert after[key] is value or repr(after[key]) == repr(value), (
            f"{name}.fit changed the parameter {key!r}"
        )
    public_new = set(vars(est)) - set(before)
    bad = [a for a in public_new if not a.startswith("_") and not a.endswith("_")]
    assert not bad, f"{name}.fit set public attributes without a trailing _: {bad}"


def check_clip_unfitted(name, estimator, data):
    X, _ = data
    if not get_tags(estimator).requires_fit or _is_sampler(estimator):
        return
    est = clone(estimator)
    for method in ("transform", "predict", "predict_proba"):
        if hasattr(est, method):
            try:
                getattr(est, method)(X)
            except NotFittedError:
                continue
            raise AssertionError(f"{name}.{method} before fit must raise NotFittedError")


def check_clip_output_length_and_determinism(name, estimator, data):
    X, y = data
    # As scikit-learn's check_fit_idempotent: a random_state=None default draws a new seed
    # per fit, so both fits get the same fixed one.
    estimator = clone(estimator)
    skchecks.set_random_state(estimator)
    est = _fit(clone(estimator), X, y)
    first = _output(est, X, y)
    assert _is_sampler(est) or len(first) == len(X), (
        f"{name}: {len(first)} outputs for {len(X)} clips; nothing may be dropped"
    )
    _assert_outputs_equal(first, _output(est, X, y), f"{name}: output is not deterministic")
    refit = _fit(clone(estimator), X, y)
    _assert_outputs_equal(first, _output(refit, X, y), f"{name}: fit is not idempotent")


def check_clip_pickle(name, estimator, data):
    X, y = data
    est = _fit(clone(estimator), X, y)
    restored = pickle.loads(pickle.dumps(est))
    _assert_outputs_equal(_output(est, X, y), _output(restored, X, y), f"{name}: pickling")


def check_clip_input_not_modified(name, estimator, data):
    X, y = data
    copies = [c.copy() for c in X]
    est = _fit(clone(estimator), X, y)
    _output(est, X, y)
    for i, (a, b) in enumerate(zip(X, copies)):
        np.testing.assert_array_equal(a, b, err_msg=f"{name} modified input clip {i}")


def check_clip_dtypes(name, estimator, data):
    X, y = data
    est = _fit(clone(estimator), [c.astype(np.float32) for c in X], y)
    assert len(_output(est, [c.astype(np.float64) for c in X], y)) >= len(X)


def check_clip_array_input(name, estimator, data):
    """An ndarray of equal-length clips gives the same result as the list of them."""
    X, y = data
    n_frames = min(len(c) for c in X)
    X_eq = [c[:n_frames] for c in X]
    est = _fit(clone(estimator), X_eq, y)
    _assert_outputs_equal(
        _output(est, X_eq, y), _output(est, np.stack(X_eq), y), f"{name}: list vs ndarray input"
    )


def _expect_clip_error(name, estimator, X, y, pattern):
    est = clone(estimator)
    try:
        _fit(est, X, y)
        _output(est, X, y)
    except (ValueError, TypeError) as exc:
        assert re.search(pattern, str(exc)), (
            f"{name}: the error {exc!r} does not match {pattern!r}"
        )
        return
    raise AssertionError(f"{name} accepted bad input; expected an error matching {pattern!r}")


def check_clip_bad_input(name, estimator, data):
    X, y = data
    _expect_clip_error(name, estimator, [], y[:0], "empty")
    empty = list(X)
    empty[1] = X[1][:0]
    _expect_clip_error(name, estimator, empty, y, r"clip 1\b.*zero frames")
    nan = [c.astype(np.float64) for c in X]
    nan[2][0, 0, 0] = np.nan
    _expect_clip_error(name, estimator, nan, y, r"clip 2\b.*NaN")
    flat = list(X)
    flat[3] = X[3].reshape(-1)
    _expect_clip_error(name, estimator, flat, y, r"clip 3\b.*shape")


_METHODS = ("predict", "predict_proba", "decision_function", "transform", "transform_with_info")


def _state_hash(value: Any) -> Any:
    """A content hash of an attribute value (identity for what joblib cannot hash)."""
    try:
        return joblib.hash(value)
    except Exception:  # e.g. an object holding a lock or an open file
        return ("id", id(value))


def check_clip_dict_unchanged(name, estimator, data):
    """``predict``/``transform`` (and ``transform_with_info``) leave the estimator unchanged.

    The clip version of scikit-learn's ``check_dict_unchanged``: no attribute may be added,
    removed, rebound or mutated in place by a method that only reads the fitted state.
    """
    X, y = data
    est = _fit(clone(estimator), X, y)
    for method in _METHODS:
        if not hasattr(est, method):
            continue
        before = {k: (v, _state_hash(v)) for k, v in vars(est).items()}
        getattr(est, method)(X)
        after = vars(est)
        added, removed = set(after) - set(before), set(before) - set(after)
        assert not added and not removed, (
            f"{name}.{method} changed the estimator's attributes: added {sorted(added)}, "
            f"removed {sorted(removed)}"
        )
        changed = [
            k for k, (v, h) in before.items() if after[k] is not v or _state_hash(after[k]) != h
        ]
        assert not changed, f"{name}.{method} changed the attributes {changed}"


def _param_hash(value: Any) -> str:
    """A content hash of a parameter that is stable under ``copy.deepcopy``.

    A torch module pickles differently after a deep copy even when nothing changed, so it is
    hashed by its structure (``repr``) and the values of its parameters and buffers.
    """
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.nn.Module):
        state = {k: v.detach().cpu().numpy() for k, v in value.state_dict().items()}
        return joblib.hash((repr(value), state))
    return joblib.hash(value)


def check_clip_estimators_overwrite_params(name, estimator, data):
    """``fit`` neither rebinds nor mutates any parameter, nested ones included.

    The clip version of scikit-learn's ``check_estimators_overwrite_params`` (random states
    are fixed to integers first, the one allowed exception).
    """
    X, y = data
    est = clone(estimator)
    skchecks.set_random_state(est)
    original = copy.deepcopy(est.get_params())
    _fit(est, X, y)
    new = est.get_params()
    for key, value in original.items():
        assert _param_hash(new[key]) == _param_hash(value), (
            f"{name}.fit changed or mutated the parameter {key!r} from {value!r} to "
            f"{new[key]!r}"
        )


def check_clip_param_validation(name, estimator, data):
    """Every parameter has a constraint, and ``fit`` rejects bad values informatively.

    The clip version of scikit-learn's ``check_param_validation``: ``_parameter_constraints``
    names exactly the constructor's parameters (prefixed nested parameters such as a
    network's ``module__*``, validated by the object they go to, aside), and a value of a
    wrong type, or of the right type outside the constraint, makes ``fit`` raise
    ``InvalidParameterError`` naming the parameter.
    """
    X, y = data
    params = [p for p in estimator.get_params(deep=False) if "__" not in p]
    constraints = getattr(estimator, "_parameter_constraints", None)
    assert constraints is not None, f"{name} has no _parameter_constraints"
    missing, unexpected = set(params) - set(constraints), set(constraints) - set(params)
    assert not missing and not unexpected, (
        f"Mismatch between _parameter_constraints and the parameters of {name}: missing "
        f"{sorted(missing)}, unexpected {sorted(unexpected)}"
    )
    bad_type = type("BadType", (), {})()
    fit_methods = [m for m in ("fit", "fit_transform", "fit_resample") if hasattr(estimator, m)]
    for param in params:
        if constraints[param] == "no_validation":
            continue
        bad_values = [bad_type]
        for constraint in map(make_constraint, constraints[param]):
            try:
                bad_values.append(generate_invalid_param_val(constraint))
            except NotImplementedError:
                continue
        for bad in bad_values:
            est = clone(estimator).set_params(**{param: bad})
            for method in fit_methods:
                try:
                    getattr(est, method)(X, y)
                except InvalidParameterError as exc:
                    assert re.search(
                        rf"The '{param}' parameter of {name} must be .* Got .* instead", str(exc)
                    ), f"{name}: uninformative message for {param}={bad!r}: {exc}"
                    continue
                raise AssertionError(
                    f"{name}.{method} accepted {param}={bad!r}; expected an "
                    "InvalidParameterError naming the parameter"
                )


#: scikit-learn's checks that need no data: run on every estimator whatever its input.
SKLEARN_DATA_FREE_CHECKS = (
    skchecks.check_estimator_cloneable,
    skchecks.check_estimator_repr,
    skchecks.check_no_attributes_set_in_init,
    skchecks.check_get_params_invariance,
    skchecks.check_set_params,
    skchecks.check_parameters_default_constructible,
    skchecks.check_valid_tag_types,
    skchecks.check_estimator_tags_renamed,
    skchecks.check_mixin_order,
    skchecks.check_do_not_raise_errors_in_init_or_set_params,
)

_CLIP_CHECKS = (
    check_clip_tags,
    check_clip_fit_returns_self_and_keeps_params,
    check_clip_unfitted,
    check_clip_output_length_and_determinism,
    check_clip_pickle,
    check_clip_input_not_modified,
    check_clip_dtypes,
    check_clip_array_input,
    check_clip_bad_input,
    check_clip_dict_unchanged,
    check_clip_estimators_overwrite_params,
    check_clip_param_validation,
)


def yield_clip_checks(estimator, data: ClipData | None = None) -> Iterator[Callable]:
    """Yield ``check(name, estimator)`` callables for a clip estimator."""
    data = make_clip_data() if data is None else data
    yield from SKLEARN_DATA_FREE_CHECKS
    for check in _CLIP_CHECKS:
        yield partial(check, data=data)


def _check_name(check: Callable) -> str:
    return (check.func if isinstance(check, partial) else check).__name__


def parametrize_with_clip_checks(
    estimators: Iterable,
    data_for: Callable[[object], ClipData | None] | None = None,
    expected_failed_checks: Callable[[object], dict[str, str]] | None = None,
):
    """``pytest.mark.parametrize("estimator, check", ...)`` over clip estimators.

    Parameters
    ----------
    estimators : iterable of estimator instances
    data_for : callable, optional
        Returns the clip data set to check an estimator on (``None`` for the default
        :func:`make_clip_data`); e.g. face detectors need clips with faces.
    expected_failed_checks : callable, optional
        Returns ``{check_name: reason}`` for an estimator, like scikit-learn's
        ``parametrize_with_checks``: those checks are marked ``xfail(strict=True)`` with the
        reason, so a check that starts passing is reported, and a reason is always given.
    """
    import pytest

    params, ids = [], []
    for est in estimators:
        data = None if data_for is None else data_for(est)
        expected = {} if expected_failed_checks is None else expected_failed_checks(est)
        for check in yield_clip_checks(est, data):
            check_id = f"{type(est).__name__}-{_check_name(check)}"
            reason = expected.get(_check_name(check))
            if reason:
                params.append(
                    pytest.param(est, check, marks=pytest.mark.xfail(reason=reason, strict=True))
                )
            else:
                params.append((est, check))
            ids.append(check_id)
    return pytest.mark.parametrize("estimator, check", params, ids=ids)
