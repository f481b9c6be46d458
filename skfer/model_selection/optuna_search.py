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
from sklearn.utils import check_random_state
from sklearn.utils._indexing import _safe_indexing
from sklearn.utils.validation import _check_method_params

from ._split import check_group_cv, routed_groups

__all__ = ["DEFAULT_STORAGE", "sqlite_storage", "tune"]

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


def _check_space(space) -> None:
    """``space`` is a mapping of Optuna distributions or a callable(trial)."""
    if callable(space):
        return
    if not isinstance(space, Mapping):
        raise TypeError("space must be a dict of Optuna distributions or a callable(trial).")
    from optuna.distributions import BaseDistribution

    for name, dist in space.items():
        if not isinstance(dist, BaseDistribution):
            raise TypeError(f"space[{name!r}] must be an Optuna distribution, got {dist!r}.")


def _ask(study, space) -> tuple[object, dict]:
    """A new trial and its parameters: define-and-run with distributions, else ``space(trial)``."""
    if not callable(space):
        trial = study.ask(dict(space))
        return trial, dict(trial.params)
    from optuna.trial import TrialState

    trial = study.ask()
    params = space(trial)
    if not isinstance(params, Mapping):
        study.tell(trial, state=TrialState.FAIL)
        raise TypeError(f"space(trial) must return a dict of parameters, got {type(params)}.")
    return trial, dict(params)


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
    epoch_monitor: str | None = None,
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
        log=True)``; an ensemble member's parameter is ``"member__param"``), asked
        define-and-run (``study.ask(space)``), or ``space(trial) -> dict`` using
        ``trial.suggest_*`` (define-by-run).
    X : array-like or list of clips
    y : array-like, shape (n_samples,)
    groups : array-like, shape (n_samples,), default=None
        Subject ids, passed to ``cv.split``; with an int ``cv`` they select GroupKFold.
        With ``sklearn.set_config(enable_metadata_routing=True)`` they also reach the
        ``fit`` of an estimator that requests them (``set_fit_request(groups=True)``, e.g.
        an ensemble, whose inner cross-fitting is then subject-grouped too), each fold
        receiving its training samples' groups.
    cv : int, cross-validation generator or iterable, default=None
        None means 5 folds (GroupKFold with groups, StratifiedKFold without), resolved by
        :func:`~skfer.model_selection.check_group_cv`; e.g.
        :class:`~skfer.model_selection.AscendingSubjectKFold` for the papers' CK+ folds.
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
    epoch_monitor : str or None, default=None
        For network estimators (:class:`skfer.neural.BaseNeuralClassifier`, alone or as a
        pipeline step): a key of skorch's history, e.g. ``"valid_acc"``, that
        ``optuna_integration.SkorchPruningCallback`` reports after every epoch of a trial's
        first fold, so the pruner can stop a bad network within its first fit rather than
        between folds. Needs the network's internal validation split
        (``validation_fraction``, by subject when ``groups`` are routed to it). The fold
        means are then reported at the steps after the last epoch.

    Returns
    -------
    optuna.Study
        ``study.best_params``, ``study.best_value``; every trial has user attribute
        ``"fold_scores"``.
    """
    import optuna
    from optuna.trial import TrialState

    if not isinstance(n_trials, numbers.Integral) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}.")
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}.")
    _check_space(space)
    y = np.asarray(y)
    splits = list(check_group_cv(cv, y, groups).split(X, y, groups))
    scorer = check_scoring(estimator, scoring=scoring)
    fit_params = routed_groups(estimator, groups)
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
    for _ in range(n_trials):
        trial, params = _ask(study, space)
        try:
            value = _run_trial(
                trial, clone(estimator).set_params(**params), X, y, splits, scorer,
                fit_params, error_score, epoch_monitor,
            )
        except optuna.TrialPruned:
            study.tell(trial, state=TrialState.PRUNED)
            continue
        except BaseException:
            study.tell(trial, state=TrialState.FAIL)
            raise
        if np.isfinite(value):
            study.tell(trial, value)
        else:  # every fold failed under error_score=nan: Optuna's FAIL, as optimize does
            study.tell(trial, state=TrialState.FAIL)
    return study


def _network_step(est) -> str | None:
    """``""`` for a network estimator, a pipeline's last network step name, or None."""
    from ..neural import BaseNeuralClassifier  # torch only when a network is tuned

    if isinstance(est, BaseNeuralClassifier):
        return ""
    names = [n for n, step in getattr(est, "steps", []) if isinstance(step, BaseNeuralClassifier)]
    return names[-1] if names else None


def _with_epoch_pruning(est, trial, monitor: str):
    """``est`` with Optuna's SkorchPruningCallback added to its network's callbacks."""
    from optuna_integration import SkorchPruningCallback

    step = _network_step(est)
    if step is None:
        raise TypeError(
            f"epoch_monitor={monitor!r} needs a network estimator (skfer.neural) or a pipeline "
            f"with one; {type(est).__name__} has none"
        )
    key = f"{step}__callbacks" if step else "callbacks"
    callbacks = list(est.get_params()[key] or [])
    return est.set_params(
        **{key: [*callbacks, ("optuna_pruning", SkorchPruningCallback(trial, monitor))]}
    )


def _run_trial(
    trial, est, X, y, splits, scorer, fit_params, error_score, epoch_monitor=None
) -> float:
    """Mean fold score of ``est``, reported after each fold so a pruner can stop it."""
    import optuna

    scores, offset = [], 0
    for fold, (train, test) in enumerate(splits):
        # Epoch-level reports (steps 1..n_epochs) on the first fold only: later folds would
        # report the same steps again, which Optuna ignores.
        first = clone(est)
        model = _with_epoch_pruning(first, trial, epoch_monitor) if (
            epoch_monitor and fold == 0
        ) else first
        try:
            est_f = model.fit(
                _safe_indexing(X, train), y[train],
                **_check_method_params(X, params=fit_params, indices=train),
            )
            scores.append(float(scorer(est_f, _safe_indexing(X, test), y[test])))
        except optuna.TrialPruned:
            raise
        except Exception:
            if error_score == "raise":
                raise
            scores.append(float(error_score))
        if epoch_monitor and fold == 0:  # fold means go after the epochs' steps
            step = _network_step(est)
            offset = int(est.get_params()[f"{step}__max_epochs" if step else "max_epochs"])
        trial.report(float(np.mean(scores)), offset + fold)
        trial.set_user_attr("fold_scores", scores)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned after fold {fold}")
    return float(np.mean(scores))
