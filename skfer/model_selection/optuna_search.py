"""Optuna hyper-parameter search of skfer pipelines under subject-grouped cross-validation.

EmoNets (Kahou et al., section 4.3) argues for random search of hyper-parameters (citing
Bergstra and Bengio); :func:`tune` runs it, or any Optuna sampler, as an Optuna study so that a
search is visible, resumable, and shared by many processes through a database storage.

A function returning the study was chosen over an ``OptunaSearchCV``-like estimator: the study
*is* the result (trials, intermediate fold scores, pruning, resuming from storage), several
processes must be able to append to the same study, and a final refit is one line
(``clone(est).set_params(**study.best_params).fit(X, y)``). ``optuna-integration``'s
OptunaSearchCV is not a dependency.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping

import numpy as np
from sklearn.base import clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import GroupKFold, check_cv
from sklearn.utils import check_random_state
from sklearn.utils._indexing import _safe_indexing

__all__ = ["DEFAULT_STORAGE", "grouped_cv", "sqlite_storage", "tune"]

#: Where :func:`tune` keeps its studies unless told otherwise: an SQLite file in the
#: current directory, so a study outlives the process and can be resumed or inspected
#: (``optuna-dashboard sqlite:///skfer_optuna.db``).
DEFAULT_STORAGE = "sqlite:///skfer_optuna.db"


def sqlite_storage(path) -> str:
    """``sqlite:///path`` URL of a single-machine study file.

    SQLite suits one process (or a few on one machine); use a PostgreSQL URL
    (``postgresql+psycopg2://user@host:port/db``) for many concurrent workers.
    """
    return f"sqlite:///{path}"


def grouped_cv(cv, y, groups):
    """Resolve ``cv``: an int (or None, meaning 5) is GroupKFold when ``groups`` is given.

    Without groups an int becomes StratifiedKFold for classifiers' targets
    (:func:`~sklearn.model_selection.check_cv`).
    """
    if cv is None:
        cv = 5
    if isinstance(cv, numbers.Integral) and groups is not None:
        return GroupKFold(n_splits=int(cv))
    return check_cv(cv, y, classifier=True)


def _suggest(trial, space) -> dict:
    """Parameters of one trial from a distribution mapping or a ``space(trial)`` callable."""
    if callable(space):
        params = space(trial)
        if not isinstance(params, Mapping):
            raise TypeError(f"space(trial) must return a dict of parameters, got {type(params)}.")
        return dict(params)
    from optuna.distributions import (
        CategoricalDistribution, FloatDistribution, IntDistribution,
    )

    params = {}
    for name, dist in space.items():
        if isinstance(dist, FloatDistribution):
            params[name] = trial.suggest_float(
                name, dist.low, dist.high, log=dist.log, step=dist.step
            )
        elif isinstance(dist, IntDistribution):
            params[name] = trial.suggest_int(
                name, dist.low, dist.high, log=dist.log, step=dist.step
            )
        elif isinstance(dist, CategoricalDistribution):
            params[name] = trial.suggest_categorical(name, dist.choices)
        else:
            raise TypeError(f"space[{name!r}] must be an Optuna distribution, got {dist!r}.")
    return params


def tune(
    estimator,
    space: Mapping | Callable,
    X,
    y,
    groups=None,
    *,
    cv=None,
    n_trials: int = 20,
    storage: str | None = DEFAULT_STORAGE,
    study_name: str | None = None,
    direction: str = "maximize",
    scoring=None,
    pruning: bool = False,
    sampler=None,
    random_state=None,
    load_if_exists: bool = True,
    error_score=np.nan,
):
    """Tune ``estimator`` with Optuna under (subject-)grouped cross-validation.

    Each trial fits ``clone(estimator).set_params(**params)`` on every fold and reports the
    running mean fold score as an intermediate value after each fold (``trial.report(value,
    fold)``), so Optuna's pruners can stop a bad trial between folds: useful for network
    estimators, and it needs no callback inside them (skorch itself ships none; Optuna's
    ``SkorchPruningCallback``, per epoch, lives in the separate ``optuna-integration``
    package, which skfer does not depend on).

    Parameters
    ----------
    estimator : estimator
        Any scikit-learn compatible estimator or skfer pipeline.
    space : dict of {str: optuna.distributions.BaseDistribution} or callable
        Either distributions per parameter name (``"svc__C": FloatDistribution(1e-3, 1e3,
        log=True)``), or ``space(trial) -> dict`` using ``trial.suggest_*``.
    X : array-like or list of clips
    y : array-like, shape (n_samples,)
    groups : array-like, shape (n_samples,), default=None
        Subject ids, passed to ``cv.split``; with an int ``cv`` they select GroupKFold.
    cv : int, cross-validation generator or iterable, default=None
        None means 5 folds (GroupKFold with groups, StratifiedKFold without).
    n_trials : int, default=20
        Trials this call runs (a shared study gets ``n_trials`` from every worker).
    storage : str or None, default=DEFAULT_STORAGE
        Optuna storage URL. The default is the SQLite file ``skfer_optuna.db`` in the current
        directory (see :func:`sqlite_storage` for another path); give a PostgreSQL URL
        (``postgresql+psycopg2://user@host:port/db``) for many processes or machines, or
        None for a study kept in memory only.
    study_name : str or None, default=None
        Loaded if it exists in ``storage`` (``load_if_exists``), so a study interrupted
        with a name can be resumed; None lets Optuna make a new unique name.
    direction : {"maximize", "minimize"}, default="maximize"
    scoring : str, callable or None, default=None
        As in scikit-learn; None is the estimator's ``score``.
    pruning : bool or optuna.pruners.BasePruner, default=False
        True uses :class:`optuna.pruners.MedianPruner` (``n_startup_trials=5``,
        ``n_warmup_steps=1``); False never prunes.
    sampler : optuna.samplers.BaseSampler or None, default=None
        None is :class:`optuna.samplers.RandomSampler` seeded from ``random_state`` (the
        random search of the paper). Concurrent workers need different seeds.
    random_state : int, RandomState instance or None, default=None
    load_if_exists : bool, default=True
    error_score : float or "raise", default=nan
        Value of a trial whose fit fails (Optuna records NaN as a FAIL); "raise" re-raises.

    Returns
    -------
    optuna.Study
        ``study.best_params``, ``study.best_value``; every trial has user attribute
        ``"fold_scores"``.
    """
    import optuna

    if not isinstance(n_trials, numbers.Integral) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}.")
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}.")
    if not (callable(space) or isinstance(space, Mapping)):
        raise TypeError("space must be a dict of Optuna distributions or a callable(trial).")
    y = np.asarray(y)
    splits = list(grouped_cv(cv, y, groups).split(X, y, groups))
    scorer = check_scoring(estimator, scoring=scoring)
    if sampler is None:
        seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
        sampler = optuna.samplers.RandomSampler(seed=int(seed))
    if pruning is True:
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    elif pruning is False:
        pruner = optuna.pruners.NopPruner()
    else:
        pruner = pruning
    study = optuna.create_study(
        storage=storage, study_name=study_name, direction=direction, sampler=sampler,
        pruner=pruner, load_if_exists=load_if_exists,
    )

    def objective(trial):
        est = clone(estimator).set_params(**_suggest(trial, space))
        scores = []
        for fold, (train, test) in enumerate(splits):
            try:
                est_f = clone(est).fit(_safe_indexing(X, train), y[train])
                scores.append(float(scorer(est_f, _safe_indexing(X, test), y[test])))
            except Exception:
                if error_score == "raise":
                    raise
                scores.append(float(error_score))
            trial.report(float(np.mean(scores)), fold)
            trial.set_user_attr("fold_scores", scores)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after fold {fold}")
        return float(np.mean(scores))

    study.optimize(objective, n_trials=n_trials)
    return study
