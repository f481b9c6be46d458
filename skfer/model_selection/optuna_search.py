"""Optuna hyper-parameter search of skfer pipelines under subject-grouped cross-validation.

EmoNets (Kahou et al., section 4.3) argues for random search of hyper-parameters (citing
Bergstra and Bengio); :func:`tune` runs it, or any Optuna sampler, as an Optuna study so that a
search is visible, resumable, and shared by many processes through a database storage.

A function returning the study was chosen over an ``OptunaSearchCV``-like estimator: the study
*is* the result (trials, intermediate fold scores, pruning, resuming from storage), several
processes must be able to append to the same study, and a final refit is one line
(``clone(est).set_params(**study.best_params).fit(X, y)``). ``optuna-integration``'s
OptunaSearchCV is not a dependency.

Trials run through Optuna's public ``Study.optimize``, which owns the heartbeats, the failing
and retrying of a killed worker's trials and the trial states; tune adds only what it needs
(grouped folds, failure causes, duplicate draws, changed-space checks) in the objective and a
trial callback.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Mapping
from contextlib import contextmanager, suppress

import numpy as np
from optuna.samplers import RandomSampler
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import check_scoring
from sklearn.utils import check_random_state

from ..utils._sklearn import (
    HasMethods,
    Interval,
    StrOptions,
    _check_method_params,
    _safe_indexing,
    validate_params,
)
from ._split import check_group_cv, routed_groups

__all__ = [
    "DEFAULT_STORAGE",
    "HEARTBEAT_INTERVAL",
    "TrialSeededRandomSampler",
    "TrialsFailedError",
    "sqlite_storage",
    "tune",
]

#: Where :func:`tune` keeps its studies unless told otherwise: an SQLite file in the
#: current directory, so a study outlives the process and can be resumed or inspected
#: (``optuna-dashboard sqlite:///skfer_optuna.db``).
DEFAULT_STORAGE = "sqlite:///skfer_optuna.db"

#: Seconds between the heartbeats that a running trial writes to an RDB storage (tune's
#: default ``heartbeat_interval``). A trial whose last heartbeat is older than twice this
#: (Optuna's default grace period) belongs to a dead worker and is failed, then retried.
HEARTBEAT_INTERVAL = 60

# A stale (killed-worker) trial is re-queued at most this many times: a trial that kills its
# worker every time (out of memory, say) must not be retried forever.
_MAX_RETRY = 3

# Consecutive sampled parameter sets that repeat a COMPLETE trial after which tune stops: a
# small discrete space is exhausted.
_MAX_DUPLICATE_DRAWS = 10


class TrialsFailedError(RuntimeError):
    """Every trial that a :func:`tune` call evaluated failed.

    The message quotes the first failed trial (number, parameters, cause); ``__cause__`` is
    its exception when it raised one. ``study`` is the study: each failed trial keeps its
    cause in the user attribute ``"fail_reason"``.
    """

    def __init__(self, message: str, study=None):
        super().__init__(message)
        self.study = study


class _TrialFailed(Exception):
    """A trial's evaluation failed under ``error_score=nan``; ``reason`` is stored on it."""

    def __init__(self, reason: str, exc: BaseException | None = None, fold: int | None = None):
        super().__init__(reason)
        self.reason, self.exc, self.fold = reason, exc, fold


class _DuplicateDraw(Exception):
    """A trial sampled the parameters of a COMPLETE trial; it is failed, not evaluated."""


def _describe(exc: BaseException) -> str:
    """``"ExceptionType: message"`` (the type alone when there is no message)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def sqlite_storage(path) -> str:
    """``sqlite:///path`` URL of a single-machine study file.

    SQLite suits one process (or a few on one machine); use a PostgreSQL URL
    (``postgresql+psycopg2://user@host:port/db``) for many concurrent workers.
    """
    return f"sqlite:///{path}"


def _check_space(space):
    """``space`` as given when a callable(trial), else as a dict of public distributions.

    Each distribution is rebuilt as the :class:`~optuna.distributions.FloatDistribution`,
    :class:`~optuna.distributions.IntDistribution` or
    :class:`~optuna.distributions.CategoricalDistribution` that :func:`_suggest` records, so
    that a space of Optuna's deprecated subclasses (``UniformDistribution``, ...) compares
    equal to the trials it produced when a study is resumed.

    Raises
    ------
    TypeError
        ``space`` is neither, or one of its values is not one of those distributions.
    """
    if callable(space):
        return space
    if not isinstance(space, Mapping):
        raise TypeError("space must be a dict of Optuna distributions or a callable(trial).")
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    public = {}
    for name, dist in space.items():
        if isinstance(dist, FloatDistribution):
            public[name] = FloatDistribution(dist.low, dist.high, log=dist.log, step=dist.step)
        elif isinstance(dist, IntDistribution):
            public[name] = IntDistribution(dist.low, dist.high, log=dist.log, step=dist.step)
        elif isinstance(dist, CategoricalDistribution):
            public[name] = CategoricalDistribution(dist.choices)
        else:
            # Trial has a suggest_* method for these three kinds only (and Optuna's storages
            # serialize no other kind).
            raise TypeError(
                f"space[{name!r}] must be an Optuna distribution (FloatDistribution, "
                f"IntDistribution or CategoricalDistribution), got {dist!r}."
            )
    return public


def _suggest(trial, name: str, dist):
    """``trial.suggest_*`` of ``dist``'s kind, bounds, step, log scale or choices.

    The trial records a distribution equal to ``dist`` (one of :func:`_check_space`'s), as
    ``study.ask({name: dist})`` would; a WAITING trial's parameter (enqueued or retried) is
    returned as Optuna returns it to any suggest call.
    """
    from optuna.distributions import FloatDistribution, IntDistribution

    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_categorical(name, dist.choices)


@contextmanager
def _quiet_optuna():
    """Silence the ExperimentalWarning of the Optuna machinery that tune itself chose to use.

    The heartbeat arguments of RDBStorage and the retry callback are "experimental" (and
    Study.optimize silences the same warning of its own stale-trial check).
    """
    from optuna.exceptions import ExperimentalWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        yield


def _retry_callback():
    import optuna

    # RetryFailedTrialCallback was renamed RetryHeartbeatStaleTrialCallback in Optuna 4.9.
    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
    if retry is None:  # pragma: no cover - Optuna < 4.9
        return "failed_trial_callback", optuna.storages.RetryFailedTrialCallback(_MAX_RETRY)
    return "heartbeat_stale_trial_callback", retry(max_retry=_MAX_RETRY)


def _heartbeat_storage(storage, heartbeat_interval: int | None):
    """``storage`` as an RDBStorage with heartbeats and stale-trial retries, when it is one.

    A URL string becomes an RDBStorage; an RDBStorage that has no heartbeat gets a copy with
    one (the caller's object is left alone). An RDBStorage with its own heartbeat keeps it
    (interval and grace period), but without a stale-trial callback of its own it gets a copy
    with the retry callback: Optuna would fail a killed worker's trial and never run it again.
    Every other storage (None, JournalStorage, ...) is used as given.
    """
    import optuna

    rdb = optuna.storages.RDBStorage
    own_heartbeat = isinstance(storage, rdb) and storage.heartbeat_interval is not None
    if heartbeat_interval is None and not own_heartbeat:
        return storage
    if own_heartbeat:
        if _stale_trial_callback(storage) is not None:
            return storage
        interval = storage.heartbeat_interval
        url, kwargs = storage.url, {"engine_kwargs": storage.engine_kwargs,
                                    "skip_compatibility_check": True,
                                    "grace_period": storage.grace_period}
    elif isinstance(storage, rdb):
        interval = heartbeat_interval
        url, kwargs = storage.url, {"engine_kwargs": storage.engine_kwargs,
                                    "skip_compatibility_check": True}
    elif isinstance(storage, str):
        interval, url, kwargs = heartbeat_interval, storage, {}
    else:
        return storage
    with _quiet_optuna():
        key, callback = _retry_callback()
        return rdb(url, heartbeat_interval=int(interval), **{key: callback}, **kwargs)


def _stale_trial_callback(storage):
    """The callback an RDBStorage runs on a trial its heartbeat failed (None: none)."""
    return (getattr(storage, "heartbeat_stale_trial_callback", None)
            or getattr(storage, "failed_trial_callback", None))


class TrialSeededRandomSampler(RandomSampler):
    """Optuna's RandomSampler whose draws for trial number ``k`` depend on ``(seed, k)`` only.

    Trial numbers never repeat within a study, so a resumed study, or a second worker with the
    same seed, continues with new draws instead of replaying the first ones; a fresh study is
    still reproducible (trial ``k`` gets the same parameters whichever worker runs it).

    Parameters
    ----------
    seed : int
        Non-negative entropy, mixed with each trial's number by ``np.random.SeedSequence``.
    """

    def __init__(self, seed: int) -> None:
        # RandomSampler's own generator stays unused: every draw comes from the trial's.
        super().__init__(seed=seed % 2**32)
        self.seed = seed
        self._by_trial: dict[int, RandomSampler] = {}  # trial number -> its sampler

    def _sampler_of(self, number: int) -> RandomSampler:
        """A RandomSampler seeded from ``(seed, number)``, made at the trial's first draw."""
        sampler = self._by_trial.get(number)
        if sampler is None:
            state = np.random.SeedSequence([self.seed, number]).generate_state(1)[0]
            sampler = self._by_trial[number] = RandomSampler(seed=int(state))
        return sampler

    def before_trial(self, study, trial) -> None:
        super().before_trial(study, trial)
        self._sampler_of(trial.number)

    def sample_independent(self, study, trial, param_name, param_distribution):
        # Keyed by number rather than one generator reseeded per trial: public API only, and
        # trials of one sampler running at once (threads) cannot draw from each other's.
        return self._sampler_of(trial.number).sample_independent(
            study, trial, param_name, param_distribution
        )

    def after_trial(self, study, trial, state, values) -> None:
        self._by_trial.pop(trial.number, None)  # numbers never come back: free its generator
        super().after_trial(study, trial, state, values)


def _open_study(storage, study_name, direction, sampler, pruner, load_if_exists):
    """Create or load the study; a loaded one must match ``direction``."""
    import optuna
    from optuna.study import StudyDirection

    study = optuna.create_study(
        storage=storage, study_name=study_name, direction=direction, sampler=sampler,
        pruner=pruner, load_if_exists=load_if_exists,
    )
    stored = [d.name.lower() for d in study.directions]
    if study.directions != [StudyDirection[direction.upper()]]:
        raise ValueError(
            f"study {study.study_name!r} was stored with direction "
            f"{stored[0] if len(stored) == 1 else stored!r} but tune was asked to {direction!r}: "
            f"pass direction={stored[0]!r} to resume it, or another study_name for a new study"
        )
    return study


def _check_space_of_trials(study, space, checked: set[int]) -> None:
    """Refuse ``space`` when a finished trial of ``study`` was searched over another one.

    Trials that ran to a score or a prune (COMPLETE, PRUNED) had the whole space; a trial
    killed while it was being asked may hold only some of its parameters, so it is not
    compared. A dict space must equal each trial's distributions. A define-by-run space is
    given each trial's own parameters (``optuna.trial.FixedTrial``) and must ask for the
    distributions that trial recorded: a range that depends on another parameter's value
    (a conditional space) is asked again with the same value, so it matches, while a range,
    a kind, a choice or a parameter changed since is found before any new trial runs. (A
    range compared by name alone would refuse every conditional space; Optuna itself
    refuses only another kind of distribution or other categorical choices.)

    ``checked`` holds the numbers of the trials already compared (tune compares the trials
    that other workers finished since, before each trial); it is completed.

    Raises
    ------
    ValueError
        Naming the study, the trial, both spaces and the parameters that differ.
    """
    from optuna.trial import FixedTrial, TrialState

    name = study.study_name
    redo = "resume it with the same space, or use another study_name"
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        if t.number in checked:
            continue
        if callable(space):
            replay = FixedTrial(dict(t.params), number=t.number)
            try:
                with warnings.catch_warnings():
                    # FixedTrial warns of a value outside a changed range: refused below.
                    warnings.simplefilter("ignore")
                    space(replay)
            except ValueError as exc:  # FixedTrial: a new parameter, choice or kind
                raise ValueError(
                    f"study {name!r} was searched over another space: space(trial) given trial "
                    f"{t.number}'s parameters {t.params} fails with {_describe(exc)} (a "
                    f"parameter added, a categorical choice removed or a kind changed); {redo}"
                ) from exc
            except Exception as exc:
                exc.add_note(
                    f"raised by space(trial) when tune gave it trial {t.number}'s parameters "
                    f"(optuna.trial.FixedTrial) to check that study {name!r} is resumed with "
                    "the space it was searched over"
                )
                raise
            asked, what = replay.distributions, "space(trial) asks for"
        else:
            asked, what = dict(space), "space is"
        if t.distributions != asked:
            names = sorted(
                n for n in {*asked, *t.distributions} if asked.get(n) != t.distributions.get(n)
            )
            given = f" given its parameters {t.params}" if callable(space) else ""
            raise ValueError(
                f"study {name!r} was searched over another space: trial {t.number} has "
                f"{t.distributions} but {what} {asked}{given} (parameters {names} differ); "
                f"{redo}"
            )
        checked.add(t.number)


def _warn_running_trials(study) -> None:
    """Say that RUNNING trials in a study without heartbeats may belong to dead workers."""
    from optuna.trial import TrialState

    running = [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))]
    if running:
        warnings.warn(
            f"study {study.study_name!r} has {len(running)} RUNNING trial(s) {running} and its "
            "storage has no heartbeat (heartbeat_interval=None, or not an RDB storage), so tune "
            "cannot tell a dead worker's trial from a live one and leaves them RUNNING; finish "
            "a dead one with study.tell(number, state=TrialState.FAIL)",
            UserWarning, stacklevel=4,  # past tune and its validate_params wrapper
        )


def _completed_duplicate(study, trial):
    """The COMPLETE trial whose parameters ``trial`` sampled again, or None.

    A trial enqueued by the user (``study.enqueue_trial``) runs as asked and is never one.
    """
    from optuna.trial import TrialState

    frozen = study.get_trials(deepcopy=False)
    own = next(t for t in frozen if t.number == trial.number)
    if "fixed_params" in own.system_attrs:
        return None
    return next(
        (t for t in frozen if t.state == TrialState.COMPLETE and t.params == trial.params), None
    )


@validate_params(
    {
        "estimator": [HasMethods(["fit"])],
        "space": [Mapping, callable],
        "X": "no_validation",
        "y": "no_validation",
        "groups": "no_validation",
        "cv": ["cv_object"],
        "n_trials": [Interval(numbers.Integral, 1, None, closed="left")],
        "storage": [str, None, HasMethods(["create_new_study"])],
        "study_name": [str, None],
        "direction": [StrOptions({"maximize", "minimize"})],
        "scoring": [str, callable, None],
        "pruning": ["boolean", HasMethods(["prune"])],
        "sampler": [None, HasMethods(["sample_independent"])],
        "random_state": ["random_state"],
        "load_if_exists": ["boolean"],
        "error_score": [numbers.Real, StrOptions({"raise"})],
        "epoch_monitor": [str, None],
        "heartbeat_interval": [Interval(numbers.Integral, 1, None, closed="left"), None],
    },
    # False: the estimators fitted inside must still validate their own parameters.
    prefer_skip_nested_validation=False,
)
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
    heartbeat_interval: int | None = HEARTBEAT_INTERVAL,
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
        log=True)``; an ensemble member's parameter is ``"member__param"``): a
        FloatDistribution, IntDistribution or CategoricalDistribution (or a deprecated
        subclass of one), each suggested in its order by the matching ``trial.suggest_*``
        call, so every trial records exactly these distributions; or ``space(trial) -> dict``
        using ``trial.suggest_*`` (define-by-run).
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
        Trials this call evaluates (a shared study gets ``n_trials`` from every worker). A
        sampled parameter set that repeats a COMPLETE trial is not evaluated and not counted
        (see Notes).
    storage : str, optuna.storages.BaseStorage or None, default=DEFAULT_STORAGE
        Optuna storage URL or object. The default is the SQLite file ``skfer_optuna.db`` in
        the current directory (see :func:`sqlite_storage` for another path); give a PostgreSQL
        URL (``postgresql+psycopg2://user@host:port/db``) for many processes or machines, or
        None for a study kept in memory only.
    study_name : str or None, default=None
        Loaded if it exists in ``storage`` (``load_if_exists``), so a study interrupted
        with a name can be resumed; None lets Optuna make a new unique name.
    direction : {"maximize", "minimize"}, default="maximize"
        Must be the stored direction when a study is resumed.
    scoring : str, callable or None, default=None
        As in scikit-learn; None is the estimator's ``score``.
    pruning : bool or optuna.pruners.BasePruner, default=False
        True uses :class:`optuna.pruners.MedianPruner` (``n_startup_trials=5``,
        ``n_warmup_steps=1``); False never prunes.
    sampler : optuna.samplers.BaseSampler or None, default=None
        None is a :class:`optuna.samplers.RandomSampler` (the random search of the paper)
        whose draws for trial number ``k`` are seeded from ``(random_state, k)`` (see Notes).
        A sampler given here is used as is: its seeding, across resumes and workers, is yours.
    random_state : int, RandomState instance or None, default=None
        Seed of the default sampler. None draws fresh entropy on every call.
    load_if_exists : bool, default=True
    error_score : float or "raise", default=nan
        What a fold whose fit or scoring raises is worth. NaN (the default) makes the trial
        FAIL at once, its cause (``"ExceptionType: message"``) stored in the trial's user
        attribute ``"fail_reason"`` and the fold in ``"failed_fold"``; a number is that fold's
        score, the trial completes, the errors are in the user attribute ``"fold_errors"`` and
        a :class:`~sklearn.exceptions.FitFailedWarning` says so; "raise" fails the trial and
        re-raises.
    epoch_monitor : str or None, default=None
        For network estimators (:class:`skfer.neural.BaseNeuralClassifier`, alone or as a
        pipeline step): a key of skorch's history, e.g. ``"valid_acc"``, that
        ``optuna_integration.SkorchPruningCallback`` reports after every epoch of a trial's
        first fold, so the pruner can stop a bad network within its first fit rather than
        between folds. Needs the network's internal validation split
        (``validation_fraction``, by subject when ``groups`` are routed to it). The fold
        means are then reported at the steps after the last epoch.
    heartbeat_interval : int or None, default=HEARTBEAT_INTERVAL (60)
        Seconds between the heartbeats a running trial writes to an RDB storage (a URL, or an
        :class:`optuna.storages.RDBStorage` without heartbeat of its own), so that a killed
        worker's trial is failed and retried (see Notes). None turns heartbeats off. Ignored
        by storages without heartbeat support (in memory, JournalStorage) and by an
        RDBStorage that has its own ``heartbeat_interval``: that one keeps its interval and
        grace period, and gets the retry callback when it has no stale-trial callback of
        its own (without one, Optuna fails a dead worker's trial and never runs it again).

    Returns
    -------
    optuna.Study
        ``study.best_params``, ``study.best_value``; every evaluated trial has user attribute
        ``"fold_scores"``.

    Raises
    ------
    TrialsFailedError
        Every trial this call evaluated failed: the message quotes the first one's number,
        parameters and cause, which is also chained as ``__cause__``.
    ValueError
        A resumed study was stored with another direction, or its finished trials were
        searched over another space: other distributions (dict ``space``), or distributions
        that ``space(trial)`` no longer asks for given a trial's own parameters
        (define-by-run; see Notes); the message names the study, the trial and both.
    TypeError
        A value of a dict ``space`` is not one of the distributions above, or
        ``space(trial)`` returns something other than a dict.
    sklearn.utils._param_validation.InvalidParameterError
        A parameter of tune is not of an allowed type or value.

    Notes
    -----
    **Trials run by Study.optimize.** tune runs its trials with ``study.optimize``, whose
    objective suggests the space, evaluates it and raises what fails the trial; Optuna's own
    loop then does the bookkeeping below (heartbeats, stale trials, states). Optuna logs each
    failed trial, duplicate draws included (see below), at WARNING level with its traceback,
    as ``Study.optimize`` does for any caught exception
    (``optuna.logging.set_verbosity(optuna.logging.ERROR)`` hides those lines).

    **Killed workers.** With heartbeats (the default for RDB storages), a running trial's
    heartbeat is written every ``heartbeat_interval`` seconds; before each trial,
    ``Study.optimize`` fails the study's RUNNING trials whose heartbeat is older than
    Optuna's grace period (twice the interval; ``optuna.storages.fail_stale_trials``) and
    ``RetryHeartbeatStaleTrialCallback(max_retry=3)`` queues each again as a WAITING trial with
    the same parameters, which the next trial of any worker runs. So the killed trial stays
    FAIL, and its retry (system attribute ``"failed_trial"``) re-evaluates the parameters the
    killed one never finished: that is not a repeat of a COMPLETE trial. The stale trial is
    failed by the first trial started after the grace period, by whichever worker (a study
    whose workers all died keeps it RUNNING until a worker starts). A worker killed in the
    milliseconds between creating a trial and its first heartbeat leaves a trial that no
    heartbeat can fail. An interrupted trial (``KeyboardInterrupt``, or another
    ``BaseException`` such as ``SystemExit``) is FAIL and not retried: enqueue its parameters
    to run them. Optuna has no heartbeat for in-memory and journal storages: there a killed
    worker's trial stays RUNNING; tune warns about RUNNING trials when it opens such a study
    (with an in-memory study, nothing outlives the process anyway).

    **Resuming and seeding.** The default sampler draws trial number ``k``'s parameters from a
    generator seeded with ``np.random.SeedSequence([random_state, k])``. Trial numbers are
    unique within a study, so a fresh study run by one process is reproducible, while a
    resumed study, or another worker on the same study with the same ``random_state``,
    continues with new draws instead of replaying the first ones.

    **Changed spaces.** A resumed study (and, after each of tune's trials that another one
    follows, what other workers finished since) is compared with ``space``: a dict space must
    equal the distributions of every COMPLETE or PRUNED trial; a define-by-run space is called
    with each such trial's own parameters (:class:`optuna.trial.FixedTrial`) and must ask for
    the distributions that trial recorded. So a changed range, step, log scale, kind or
    categorical choice, and an added or removed parameter, are refused before a further trial
    runs (a mismatch found inside ``study.optimize`` stops the study, and tune raises the
    ValueError once it returns), while a conditional space (a range or a parameter that
    depends on another parameter's value) is accepted: given the same values it asks for the
    same distributions. A define-by-run space is therefore called once more per finished
    trial and must be deterministic given the parameters it suggests, without side effects
    (it may read ``trial.number``, not ``trial.study``, which a FixedTrial lacks).

    **No repeated evaluation.** A sampled parameter set equal to that of a COMPLETE trial (as
    happens in small discrete spaces) is not evaluated: the trial is finished as FAIL with user
    attributes ``"duplicate_of"`` (the earlier trial's number) and ``"fail_reason"``, does not
    count in ``n_trials``, and tune samples again; after 10 such draws in a row the space is
    taken as exhausted and tune stops with a warning. Parameters that the user enqueued
    (``study.enqueue_trial``) are evaluated as asked. Only COMPLETE trials are compared: two
    workers may still evaluate the same parameters concurrently.

    **Failures.** A trial whose fit or score raises (or whose mean score is not finite) is a
    FAIL with its cause stored, not a NaN value; tune warns (``FitFailedWarning``) when some
    trials failed and raises :class:`TrialsFailedError` when all of those it evaluated did.
    Errors that are not the trial's, such as a parameter name the estimator does not have,
    fail the trial and propagate at once.
    """
    import optuna
    from optuna.trial import TrialState

    space = _check_space(space)
    y = np.asarray(y)
    splits = list(check_group_cv(cv, y, groups).split(X, y, groups))
    scorer = check_scoring(estimator, scoring=scoring)
    fit_params = routed_groups(estimator, groups)
    if sampler is None:
        if isinstance(random_state, numbers.Integral):
            entropy = int(random_state)
        elif random_state is None:
            entropy = int(np.random.SeedSequence().entropy)
        else:
            entropy = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
        sampler = TrialSeededRandomSampler(entropy)
    if pruning is True:
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    elif pruning is False:
        pruner = optuna.pruners.NopPruner()
    else:
        pruner = pruning
    storage = _heartbeat_storage(storage, heartbeat_interval)
    study = _open_study(storage, study_name, direction, sampler, pruner, load_if_exists)
    search = _Search(study, estimator, space, X, y, splits, scorer, fit_params, error_score,
                     epoch_monitor, n_trials)
    _check_space_of_trials(study, space, search.checked)
    if not _has_heartbeat(storage):
        _warn_running_trials(study)

    # Study.optimize runs each trial as Optuna means it to: it fails stale trials first (their
    # retry callback queues them again), beats the heartbeat while the objective runs, and
    # tells the trial's state. A draw that repeats a COMPLETE trial does not count, so
    # optimize is called again for the trials still owed.
    while search.evaluated < n_trials and search.stopped_by is None:
        try:
            study.optimize(
                search.objective, n_trials=n_trials - search.evaluated,
                catch=(_TrialFailed, _DuplicateDraw), callbacks=[search.after_trial],
            )
        except BaseException:
            # Optuna fails the trial of an Exception or KeyboardInterrupt it re-raises, not
            # that of another BaseException (SystemExit, ...): no trial is left RUNNING.
            if search.current is not None:
                with suppress(Exception):  # best effort: the exception raised is the news
                    study.tell(search.current, state=TrialState.FAIL, skip_if_finished=True)
            raise
    if isinstance(search.stopped_by, Exception):  # another worker's trial, another space
        raise search.stopped_by
    if search.stopped_by == "exhausted":
        warnings.warn(
            f"study {study.study_name!r}: the last {search.streak} sampled parameter sets all "
            f"repeated COMPLETE trials, so the search space looks exhausted; tune stops after "
            f"{search.evaluated} of n_trials={n_trials} evaluated trials",
            UserWarning, stacklevel=3,  # past tune and its validate_params wrapper
        )
    _report_failures(study, search.evaluated, search.failures, search.fold_errors, error_score)
    return study


class _Search:
    """The objective and the trial callback of one :func:`tune` call's ``Study.optimize``.

    ``objective`` evaluates a trial (or raises what fails it); ``after_trial`` counts the
    trials Optuna finished, and stops the study when the space is exhausted or when a trial
    finished by another worker was searched over another space (``stopped_by``), which tune
    reports once ``optimize`` returns rather than from inside Optuna's loop.
    """

    def __init__(self, study, estimator, space, X, y, splits, scorer, fit_params,
                 error_score, epoch_monitor, n_trials):
        self.study, self.estimator, self.space = study, estimator, space
        self.X, self.y, self.splits, self.scorer = X, y, splits, scorer
        self.fit_params, self.error_score = fit_params, error_score
        self.epoch_monitor, self.n_trials = epoch_monitor, n_trials
        self.evaluated = 0  # trials evaluated (COMPLETE, PRUNED or FAIL), duplicates not
        self.streak = 0  # duplicate draws in a row
        self.failures: list = []  # (number, params, _TrialFailed) of the failed trials
        self.fold_errors: list = []  # (number, {fold: error}) of trials with error_score folds
        self.checked: set[int] = set()  # trials whose space was compared with ``space``
        self.current: int | None = None  # number of the trial the objective last started
        self.duplicate = False  # whether that trial was a duplicate draw
        self.stopped_by: Exception | str | None = None

    def objective(self, trial) -> float:
        """Mean fold score of the trial's parameters; the trial's failure is raised.

        The cause of every exception but a prune is first stored as the trial's
        ``"fail_reason"``: Optuna catches :class:`_TrialFailed` and :class:`_DuplicateDraw`
        (the trial is FAIL and the search goes on), and fails the trial of any other
        Exception or KeyboardInterrupt and re-raises it.
        """
        from optuna import TrialPruned

        self.current, self.duplicate = trial.number, False
        try:
            return self._evaluate(trial)
        except TrialPruned:
            raise
        except _TrialFailed as fail:
            trial.set_user_attr("fail_reason", fail.reason)
            if fail.fold is not None:
                trial.set_user_attr("failed_fold", fail.fold)
            raise
        except _DuplicateDraw as duplicate:
            self.duplicate = True
            trial.set_user_attr("fail_reason", str(duplicate))
            raise
        except BaseException as exc:  # not the trial's failure (or "raise"): Optuna re-raises
            trial.set_user_attr("fail_reason", _describe(exc))
            raise

    def _evaluate(self, trial) -> float:
        study, space = self.study, self.space
        if callable(space):
            try:
                params = space(trial)
            except Exception as exc:  # e.g. Optuna's "different distribution kind"
                exc.add_note(
                    f"raised by space(trial) in trial {trial.number} of study "
                    f"{study.study_name!r}"
                )
                raise
            if not isinstance(params, Mapping):
                raise TypeError(
                    f"space(trial) must return a dict of parameters, got {type(params)}."
                )
        else:  # define-and-run, by the suggest_* call of each distribution
            params = {name: _suggest(trial, name, dist) for name, dist in space.items()}
        duplicate = _completed_duplicate(study, trial)
        if duplicate is not None:
            trial.set_user_attr("duplicate_of", duplicate.number)
            raise _DuplicateDraw(f"duplicate of COMPLETE trial {duplicate.number}: not evaluated")
        est = clone(self.estimator).set_params(**params)
        try:
            value, errors = _run_trial(
                trial, est, self.X, self.y, self.splits, self.scorer, self.fit_params,
                self.error_score, self.epoch_monitor,
            )
        except _TrialFailed as fail:
            self.failures.append((trial.number, dict(params), fail))
            raise
        if errors:
            self.fold_errors.append((trial.number, errors))
        if not np.isfinite(value):  # e.g. a scorer returning NaN: no exception, no usable value
            fail = _TrialFailed(
                f"mean fold score is {value} (fold scores {trial.user_attrs['fold_scores']})"
            )
            self.failures.append((trial.number, dict(params), fail))
            raise fail
        return value

    def after_trial(self, study, frozen) -> None:
        """Count the trial Optuna just finished; stop the study when no trial should follow."""
        # The objective's flag, not the user attribute: a retried trial inherits the latter.
        if self.duplicate:
            self.streak += 1
            if self.streak >= _MAX_DUPLICATE_DRAWS:
                self.stopped_by = "exhausted"
                study.stop()
                return
        else:
            self.evaluated, self.streak = self.evaluated + 1, 0
        if self.evaluated >= self.n_trials:
            return  # optimize returns; nothing more to check
        try:  # before the next trial: trials another worker finished since, over this space?
            _check_space_of_trials(study, self.space, self.checked)
        except Exception as exc:
            self.stopped_by = exc
            study.stop()


def _has_heartbeat(storage) -> bool:
    """Whether Optuna will heartbeat the trials of a study opened on ``storage``.

    A URL string or None never does here (:func:`_heartbeat_storage` turned a URL that
    should into an RDBStorage); an RDBStorage does when it has a heartbeat interval.
    """
    interval = getattr(storage, "get_heartbeat_interval", None)
    return callable(interval) and interval() is not None


def _report_failures(study, evaluated, failures, fold_errors, error_score) -> None:
    """Raise when every evaluated trial failed; warn when some did or had failed folds."""
    if failures:
        number, params, first = failures[0]
        where = "" if first.fold is None else f" on fold {first.fold}"
        what = (f"trial {number} with parameters {params} failed{where}: {first.reason}")
        if len(failures) == evaluated:
            raise TrialsFailedError(
                f"all {evaluated} trials that tune evaluated in study {study.study_name!r} "
                f"failed; the first, {what} (each failed trial's cause is in its user attribute "
                "'fail_reason')",
                study=study,
            ) from first.exc
        warnings.warn(
            f"{len(failures)} of {evaluated} trials failed in study {study.study_name!r} (state "
            f"FAIL, cause in user attribute 'fail_reason'); the first, {what}",
            FitFailedWarning, stacklevel=4,
        )
    if fold_errors:
        number, errors = fold_errors[0]
        fold, reason = next(iter(errors.items()))
        warnings.warn(
            f"fits failed in {len(fold_errors)} trials of study {study.study_name!r} and those "
            f"folds were scored error_score={error_score} (errors in user attribute "
            f"'fold_errors'); the first, trial {number} fold {fold}: {reason}",
            FitFailedWarning, stacklevel=4,
        )


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
) -> tuple[float, dict[str, str]]:
    """Mean fold score of ``est``, reported after each fold so a pruner can stop it.

    Also returns the errors of the folds scored ``error_score`` (a number), by fold; under
    ``error_score=nan`` a failing fold raises :class:`_TrialFailed` at once (the mean would be
    NaN whatever the other folds score).
    """
    import optuna

    scores, errors, offset = [], {}, 0
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
        except Exception as exc:
            if error_score == "raise":
                raise
            if np.isnan(error_score):
                trial.set_user_attr("fold_scores", scores)
                raise _TrialFailed(_describe(exc), exc, fold) from exc
            errors[str(fold)] = _describe(exc)
            trial.set_user_attr("fold_errors", errors)
            scores.append(float(error_score))
        if epoch_monitor and fold == 0:  # fold means go after the epochs' steps
            step = _network_step(est)
            offset = int(est.get_params()[f"{step}__max_epochs" if step else "max_epochs"])
        trial.report(float(np.mean(scores)), offset + fold)
        trial.set_user_attr("fold_scores", scores)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned after fold {fold}")
    return float(np.mean(scores)), errors
