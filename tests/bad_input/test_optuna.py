"""Bad input to skfer.model_selection.tune (issue 16): resumes, failures, killed workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError
from test_optuna import postgres_url  # noqa: F401  (the throw-away PostgreSQL server)

from skfer.model_selection import (
    HEARTBEAT_INTERVAL,
    TrialsFailedError,
    sqlite_storage,
    tune,
)

optuna.logging.set_verbosity(optuna.logging.ERROR)
TESTS = Path(__file__).resolve().parents[1]
C_SPACE = {"c": FloatDistribution(0.0, 0.5)}  # _Picky fits
WIDE = {"c": FloatDistribution(0.0, 1.0)}  # _Picky fails above 0.5


@pytest.fixture
def data():
    X, y = make_classification(60, n_features=6, n_informative=3, random_state=0)
    return X, y, np.arange(len(y)) // 6


@pytest.fixture
def db(tmp_path):
    return sqlite_storage(tmp_path / "study.db")


class _Picky(ClassifierMixin, BaseEstimator):
    """Constant classifier whose fit raises when ``c > limit``; counts its fits."""

    n_fits = 0

    def __init__(self, c=0.1, limit=0.5):
        self.c = c
        self.limit = limit

    def fit(self, X, y):
        type(self).n_fits += 1
        if self.c > self.limit:
            raise ValueError(f"c={self.c} is above {self.limit}")
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def _states(study):
    return [t.state for t in study.get_trials(deepcopy=False)]


def test_resume_with_the_other_direction(data, db):
    """a "maximize" study resumed with direction="minimize" -> clear error: ValueError naming the study and both directions"""  # noqa: E501
    X, y, g = data
    tune(_Picky(), C_SPACE, X, y, g, cv=3, n_trials=1, storage=db, study_name="s")
    with pytest.raises(ValueError, match="study 's' was stored with direction 'maximize' but "
                                         "tune was asked to 'minimize'"):
        tune(_Picky(), C_SPACE, X, y, g, cv=3, n_trials=1, storage=db, study_name="s",
             direction="minimize")
    assert len(optuna.load_study(study_name="s", storage=db).trials) == 1  # nothing added


def test_resume_with_another_dict_space(data, db):
    """a study resumed with a changed range of a distribution -> clear error: ValueError naming the study, the trial and the parameter"""  # noqa: E501
    X, y, g = data
    tune(_Picky(), C_SPACE, X, y, g, cv=3, n_trials=1, storage=db, study_name="s")
    with pytest.raises(ValueError, match=r"study 's' was searched over another space: trial 0 "
                                         r".*parameters \['c'\] differ"):
        tune(_Picky(), {"c": FloatDistribution(0.0, 0.4)}, X, y, g, cv=3, n_trials=1,
             storage=db, study_name="s")


def test_resume_with_another_parameter_set(data, db):
    """a study resumed with a space that adds a parameter -> clear error: ValueError naming the new parameter"""  # noqa: E501
    X, y, g = data
    tune(_Picky(), C_SPACE, X, y, g, cv=3, n_trials=1, storage=db, study_name="s")
    space = {**C_SPACE, "limit": FloatDistribution(0.5, 1.0)}
    with pytest.raises(ValueError, match=r"parameters \['limit'\] differ"):
        tune(_Picky(), space, X, y, g, cv=3, n_trials=1, storage=db, study_name="s")


def test_resume_define_by_run_with_another_kind(data, db):
    """a define-by-run study resumed with a categorical where a float was -> clear error: ValueError naming the study, the trial and the failing choice before any trial is added"""  # noqa: E501
    X, y, g = data
    tune(_Picky(), lambda t: {"c": t.suggest_float("c", 0, 0.5)}, X, y, g, cv=3, n_trials=1,
         storage=db, study_name="s")
    # Before: Optuna's "different distribution kind" in trial 1, left FAIL in the study.
    with pytest.raises(ValueError, match=r"study 's' was searched over another space: "
                                         r"space\(trial\) given trial 0's parameters .* not in "
                                         r"\(0\.1, 0\.2\)"):
        tune(_Picky(), lambda t: {"c": t.suggest_categorical("c", [0.1, 0.2])}, X, y, g, cv=3,
             n_trials=1, storage=db, study_name="s")
    assert _states(optuna.load_study(study_name="s", storage=db)) == [TrialState.COMPLETE]


def test_resume_define_by_run_with_another_range(data, db):
    """a define-by-run study resumed with suggest_float("c", 0, 0.4) where it was (0, 0.5), a step added, a parameter added or removed -> clear error: ValueError naming the study, the trial and the parameter; nothing added"""  # noqa: E501
    X, y, g = data
    tune(_Picky(), lambda t: {"c": t.suggest_float("c", 0, 0.5)}, X, y, g, cv=3, n_trials=2,
         storage=db, study_name="s", random_state=0)
    changed = [
        ("c", lambda t: {"c": t.suggest_float("c", 0, 0.5, step=0.1)}),
        ("limit", lambda t: {"c": t.suggest_float("c", 0, 0.5),
                             "limit": t.suggest_float("limit", 0.5, 1.0)}),
    ]
    # Before: the new range ran on without a word, the best value from the old one.
    with pytest.raises(ValueError, match=r"study 's' was searched over another space: trial 0 "
                                         r"has .*high=0\.5.* but space\(trial\) asks for "
                                         r".*high=0\.4.*parameters \['c'\] differ"):
        tune(_Picky(), lambda t: {"c": t.suggest_float("c", 0, 0.4)}, X, y, g, cv=3,
             n_trials=2, storage=db, study_name="s")
    for name, space in changed:
        with pytest.raises(ValueError, match=f"was searched over another space: .*'{name}'"):
            tune(_Picky(), space, X, y, g, cv=3, n_trials=1, storage=db, study_name="s")
    with pytest.raises(ValueError, match=r"asks for \{\} .*parameters \['c'\] differ"):
        tune(_Picky(), lambda t: {}, X, y, g, cv=3, n_trials=1, storage=db, study_name="s")
    assert _states(optuna.load_study(study_name="s", storage=db)) == [TrialState.COMPLETE] * 2


def _conditional(t, half=False):
    """A define-by-run space whose range of c depends on limit (and c <= limit: _Picky fits)."""
    limit = t.suggest_float("limit", 0.5, 1.0)
    return {"limit": limit, "c": t.suggest_float("c", 0, limit / 2 if half else limit)}


def test_resume_conditional_define_by_run_space(data, db):
    """a define-by-run study whose range of c depends on limit, resumed with the same space -> OK: runs on, one range of c per trial (the same space with c's range halved is refused, naming c)"""  # noqa: E501
    X, y, g = data
    tune(_Picky(), _conditional, X, y, g, cv=3, n_trials=3, storage=db, study_name="s")
    study = tune(_Picky(), _conditional, X, y, g, cv=3, n_trials=3, storage=db, study_name="s")
    assert _states(study) == [TrialState.COMPLETE] * 6
    highs = {t.distributions["c"].high for t in study.trials}
    assert len(highs) == 6  # one range of c per trial, none refused
    with pytest.raises(ValueError, match=r"trial 0 has .* given its parameters .*\['c'\] differ"):
        tune(_Picky(), lambda t: _conditional(t, half=True), X, y, g, cv=3, n_trials=1,
             storage=db, study_name="s")


def test_second_worker_with_another_space(data, db):
    """another worker finishing a trial of another define-by-run range while tune runs -> clear error: ValueError naming that trial before the next trial"""  # noqa: E501
    X, y, g = data
    done = []

    def space(trial):
        if trial.number == 1 and not done:  # meanwhile, another worker finishes a trial
            done.append(True)  # with c in (0, 0.4)
            other = optuna.trial.create_trial(
                params={"c": 0.1}, distributions={"c": FloatDistribution(0.0, 0.4)}, value=0.5
            )
            optuna.load_study(study_name="s", storage=db).add_trial(other)
        return {"c": trial.suggest_float("c", 0, 0.5)}

    with pytest.raises(ValueError, match=r"searched over another space: trial 2 has .*high=0\.4"):
        tune(_Picky(), space, X, y, g, cv=3, n_trials=5, storage=db, study_name="s")
    assert _states(optuna.load_study(study_name="s", storage=db)) == [TrialState.COMPLETE] * 3


def test_every_trial_fails(data):
    """every trial's fit raises (LogisticRegression C <= 0) -> clear error: TrialsFailedError quoting trial 0, its C and the real cause, chained"""  # noqa: E501
    X, y, g = data
    space = {"C": FloatDistribution(-2.0, -1.0)}
    with pytest.raises(TrialsFailedError, match=r"all 3 trials .* failed; the first, trial 0 "
                                                r"with parameters \{'C': -1\.\d+\} failed on "
                                                r"fold 0: InvalidParameterError: The 'C' "
                                                r"parameter of LogisticRegression") as err:
        tune(LogisticRegression(), space, X, y, g, cv=3, n_trials=3, storage=None,
             random_state=0)
    assert isinstance(err.value.__cause__, InvalidParameterError)
    trials = err.value.study.trials
    assert [t.state for t in trials] == [TrialState.FAIL] * 3
    assert all(t.user_attrs["fail_reason"].startswith("InvalidParameterError: The 'C'")
               and t.user_attrs["failed_fold"] == 0 and t.value is None for t in trials)


def test_some_trials_fail(data):
    """some trials' fits raise (error_score=nan) -> recorded policy: those trials FAIL with the cause in user attrs, the rest COMPLETE, one FitFailedWarning"""  # noqa: E501
    X, y, g = data
    with pytest.warns(FitFailedWarning, match=r"of 8 trials failed .* ValueError: c=0\.\d+ is "
                                              r"above 0\.5"):
        study = tune(_Picky(), WIDE, X, y, g, cv=3, n_trials=8, storage=None, random_state=1)
    for t in study.trials:
        if t.params["c"] > 0.5:
            assert t.state == TrialState.FAIL
            assert t.user_attrs["fail_reason"] == f"ValueError: c={t.params['c']} is above 0.5"
        else:
            assert t.state == TrialState.COMPLETE and "fail_reason" not in t.user_attrs
    assert {TrialState.FAIL, TrialState.COMPLETE} == set(_states(study))


def test_numeric_error_score(data):
    """fits that raise under error_score=0.0 -> recorded policy: folds scored 0.0, trial COMPLETE, errors in user attr 'fold_errors', FitFailedWarning"""  # noqa: E501
    X, y, g = data
    with pytest.warns(FitFailedWarning, match=r"scored error_score=0\.0 .* ValueError: c="):
        study = tune(_Picky(), WIDE, X, y, g, cv=3, n_trials=6, storage=None,
                     random_state=1, error_score=0.0)
    assert set(_states(study)) == {TrialState.COMPLETE}
    bad = [t for t in study.trials if t.params["c"] > 0.5]
    assert bad and all(t.value == 0.0 and t.user_attrs["fold_scores"] == [0.0] * 3
                       and sorted(t.user_attrs["fold_errors"]) == ["0", "1", "2"] for t in bad)


def test_error_score_raise(data):
    """a fit that raises under error_score="raise" -> clear error: the fit's own exception; the trial is FAIL with its cause"""  # noqa: E501
    X, y, g = data
    storage = optuna.storages.InMemoryStorage()
    with pytest.raises(ValueError, match=r"c=0\.9 is above 0\.1\d*$"):
        tune(_Picky(c=0.9), {"limit": FloatDistribution(0.1, 0.2)}, X, y, g, cv=3,
             n_trials=2, storage=storage, study_name="s", error_score="raise")
    (trial,) = optuna.load_study(study_name="s", storage=storage).trials
    assert trial.state == TrialState.FAIL
    assert trial.user_attrs["fail_reason"] == f"ValueError: c=0.9 is above {trial.params['limit']}"


def test_nan_scores(data):
    """a scorer returning NaN on every fold -> clear error: TrialsFailedError saying the mean fold score is nan (no exception to chain)"""  # noqa: E501
    X, y, g = data
    with pytest.raises(TrialsFailedError, match=r"mean fold score is nan") as err:
        tune(_Picky(), C_SPACE, X, y, g, cv=3, n_trials=2, storage=None, random_state=0,
             scoring=lambda est, X, y: float("nan"))
    assert err.value.__cause__ is None


def test_resume_with_the_same_random_state(data, db):
    """a study resumed with the same random_state -> OK: new parameters, not a replay of the first draws"""  # noqa: E501
    X, y, g = data
    kw = dict(cv=3, n_trials=3, storage=db, study_name="s", random_state=0)
    tune(_Picky(), C_SPACE, X, y, g, **kw)
    study = tune(_Picky(), C_SPACE, X, y, g, **kw)
    cs = [t.params["c"] for t in study.trials]
    assert len(cs) == 6 and len(set(cs)) == 6
    # a fresh study with that random_state draws trial k's parameters as before
    fresh = tune(_Picky(), C_SPACE, X, y, g, **{**kw, "n_trials": 6, "storage": None})
    assert [t.params["c"] for t in fresh.trials] == cs


def test_duplicate_draws_of_a_small_space(data):
    """sampled parameters equal to a COMPLETE trial's (2-value space, 5 trials) -> recorded policy: not re-fitted, FAIL with 'duplicate_of', warning when the space is exhausted"""  # noqa: E501
    X, y, g = data
    _Picky.n_fits = 0
    with pytest.warns(UserWarning, match=r"the last 10 sampled parameter sets all repeated "
                                         r"COMPLETE trials.*stops after 2 of n_trials=5"):
        study = tune(_Picky(), {"c": CategoricalDistribution([0.1, 0.2])}, X, y, g, cv=3,
                     n_trials=5, storage=None, random_state=0)
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert sorted(t.params["c"] for t in complete) == [0.1, 0.2]
    assert _Picky.n_fits == 2 * 3  # two trials of three folds; no duplicate was fitted
    dups = [t for t in study.trials if "duplicate_of" in t.user_attrs]
    assert len(dups) == len(study.trials) - 2 >= 10
    first = {t.params["c"]: t.number for t in complete}
    assert all(t.state == TrialState.FAIL and t.user_attrs["duplicate_of"] == first[t.params["c"]]
               for t in dups)


def test_enqueued_repeat_is_evaluated(data, db):
    """parameters enqueued twice by the user -> OK: both evaluated (enqueued trials are run as asked)"""  # noqa: E501
    X, y, g = data
    study = optuna.create_study(storage=db, study_name="s", direction="maximize")
    study.enqueue_trial({"c": 0.3})
    study.enqueue_trial({"c": 0.3})
    study = tune(_Picky(), C_SPACE, X, y, g, cv=3, n_trials=2, storage=db, study_name="s")
    assert [(t.params, t.state) for t in study.trials] == [({"c": 0.3}, TrialState.COMPLETE)] * 2


@pytest.mark.parametrize("value", [0, -1, 1.5, "60"])
def test_bad_heartbeat_interval(data, value):
    """heartbeat_interval 0, -1, 1.5 or "60" -> clear error: InvalidParameterError naming heartbeat_interval"""  # noqa: E501
    X, y, g = data
    with pytest.raises(InvalidParameterError, match="'heartbeat_interval' parameter of tune"):
        tune(_Picky(), C_SPACE, X, y, g, cv=3, n_trials=1, storage=None,
             heartbeat_interval=value)


def test_bad_error_score(data):
    """error_score="ignore" -> clear error: InvalidParameterError naming error_score"""
    X, y, g = data
    with pytest.raises(InvalidParameterError, match="'error_score' parameter of tune"):
        tune(_Picky(), C_SPACE, X, y, g, cv=3, n_trials=1, storage=None, error_score="ignore")


def test_heartbeat_on_by_default_for_rdb_storages(data, db):
    """a storage URL or an RDBStorage without heartbeat -> OK: heartbeat every 60 s and stale trials retried; an RDBStorage's own heartbeat is kept"""  # noqa: E501
    X, y, g = data
    study = tune(_Picky(), C_SPACE, X, y, g, cv=3, n_trials=1, storage=db, study_name="a")
    assert study._storage.get_heartbeat_interval() == HEARTBEAT_INTERVAL == 60
    retry = study._storage.get_heartbeat_stale_trial_callback()
    assert isinstance(retry, optuna.storages.RetryHeartbeatStaleTrialCallback)
    assert retry._max_retry == 3
    plain = optuna.storages.RDBStorage(db)
    study = tune(_Picky(), C_SPACE, X, y, g, cv=3, n_trials=1, storage=plain, study_name="b",
                 heartbeat_interval=5)
    assert study._storage.get_heartbeat_interval() == 5 and plain.heartbeat_interval is None
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        own = optuna.storages.RDBStorage(db, heartbeat_interval=7)
    study = tune(_Picky(), C_SPACE, X, y, g, cv=3, n_trials=1, storage=own, study_name="c")
    assert study._storage.get_heartbeat_interval() == 7
    off = tune(_Picky(), C_SPACE, X, y, g, cv=3, n_trials=1, storage=db, study_name="d",
               heartbeat_interval=None)
    assert off._storage.get_heartbeat_interval() is None


def test_own_rdb_heartbeat_retries_a_dead_worker_trial(data, tmp_path):
    """a user's own RDBStorage with heartbeats (no retry callback) and a dead worker's trial -> recorded policy: the trial FAIL and retried with its parameters, the user's storage object untouched"""  # noqa: E501
    import sqlite3

    X, y, g = data
    url = sqlite_storage(tmp_path / "own.db")
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        own = optuna.storages.RDBStorage(url, heartbeat_interval=5, grace_period=10)
    study = optuna.create_study(storage=own, study_name="s", direction="maximize")
    with warnings.catch_warnings():  # "Heartbeat ... supposed to be used with Study.optimize"
        warnings.simplefilter("ignore", UserWarning)
        dead = study.ask({"c": C_SPACE["c"]})  # a worker's trial, then the worker was killed
    own.record_heartbeat(dead._trial_id)
    # Its last heartbeat an hour ago: stale by state, without waiting out the grace period.
    with sqlite3.connect(tmp_path / "own.db") as con:
        con.execute("UPDATE trial_heartbeats SET heartbeat = datetime('now', '-1 hour')")
    study = tune(_Picky(), C_SPACE, X, y, g, cv=3, n_trials=2, storage=own, study_name="s")
    trials = study.get_trials(deepcopy=False)
    assert trials[dead.number].state == TrialState.FAIL
    (retry,) = [t for t in trials if t.system_attrs.get("failed_trial") == dead.number]
    assert retry.state == TrialState.COMPLETE and retry.params == dead.params
    assert study._storage.get_heartbeat_interval() == 5
    assert study._storage._backend.grace_period == 10  # the user's settings are kept
    assert own.heartbeat_stale_trial_callback is None  # the caller's object is left alone


@pytest.mark.parametrize("kind", ["journal", "rdb without heartbeat"])
def test_running_trial_in_a_storage_without_heartbeat(data, tmp_path, kind):
    """a RUNNING trial left in a journal file or in an RDB study with heartbeat_interval=None -> recorded policy: UserWarning naming it; it stays RUNNING"""  # noqa: E501
    X, y, g = data
    if kind == "journal":
        from optuna.storages.journal import JournalFileBackend

        storage = optuna.storages.JournalStorage(JournalFileBackend(str(tmp_path / "j.log")))
    else:
        storage = sqlite_storage(tmp_path / "s.db")
    optuna.create_study(storage=storage, study_name="s", direction="maximize").ask()
    with pytest.warns(UserWarning, match=r"study 's' has 1 RUNNING trial\(s\) \[0\] and its "
                                         r"storage has no heartbeat"):
        study = tune(_Picky(), C_SPACE, X, y, g, cv=3, n_trials=1, storage=storage,
                     study_name="s", heartbeat_interval=None)
    assert _states(study) == [TrialState.RUNNING, TrialState.COMPLETE]


def test_space_returning_a_list(data):
    """space(trial) returning a list -> clear error: TypeError; the trial is FAIL, not RUNNING"""
    X, y, g = data
    storage = optuna.storages.InMemoryStorage()
    with pytest.raises(TypeError, match="space\\(trial\\) must return a dict"):
        tune(_Picky(), lambda t: [t.suggest_float("c", 0, 1)], X, y, g, cv=3, n_trials=1,
             storage=storage, study_name="s")
    assert _states(optuna.load_study(study_name="s", storage=storage)) == [TrialState.FAIL]


def test_unknown_parameter_name(data):
    """a space naming a parameter the estimator lacks -> clear error: scikit-learn's ValueError at once; the trial is FAIL with the cause"""  # noqa: E501
    X, y, g = data
    storage = optuna.storages.InMemoryStorage()
    with pytest.raises(ValueError, match="Invalid parameter 'gamma'"):
        tune(_Picky(), {"gamma": FloatDistribution(0, 1)}, X, y, g, cv=3, n_trials=3,
             storage=storage, study_name="s")
    (trial,) = optuna.load_study(study_name="s", storage=storage).trials
    assert trial.state == TrialState.FAIL
    assert trial.user_attrs["fail_reason"].startswith("ValueError: Invalid parameter 'gamma'")


class _Interrupted(_Picky):
    def fit(self, X, y):
        raise KeyboardInterrupt


def test_interrupt_during_a_fit(data):
    """KeyboardInterrupt during a trial's fit -> clear error: it propagates and the trial is FAIL with reason 'KeyboardInterrupt'"""  # noqa: E501
    X, y, g = data
    storage = optuna.storages.InMemoryStorage()
    with pytest.raises(KeyboardInterrupt):
        tune(_Interrupted(), C_SPACE, X, y, g, cv=3, n_trials=2, storage=storage,
             study_name="s")
    (trial,) = optuna.load_study(study_name="s", storage=storage).trials
    assert trial.state == TrialState.FAIL
    assert trial.user_attrs["fail_reason"] == "KeyboardInterrupt"


def test_existing_study_without_load_if_exists(data, db):
    """an existing study name with load_if_exists=False -> clear error: Optuna's DuplicatedStudyError naming it"""  # noqa: E501
    X, y, g = data
    tune(_Picky(), C_SPACE, X, y, g, cv=3, n_trials=1, storage=db, study_name="s")
    with pytest.raises(optuna.exceptions.DuplicatedStudyError, match="study_name='s'"):
        tune(_Picky(), C_SPACE, X, y, g, cv=3, n_trials=1, storage=db, study_name="s",
             load_if_exists=False)


def _wait_for_a_running_trial(study, proc, timeout=60.0):
    """Wait until the worker has a COMPLETE trial and is inside the next one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        trials = study.get_trials(deepcopy=False)
        if any(t.state == TrialState.COMPLETE for t in trials) and any(
            t.state == TrialState.RUNNING for t in trials
        ):
            return
        time.sleep(0.05)
    raise AssertionError(f"no RUNNING trial after {timeout} s: {trials}")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_killed_worker_is_failed_retried_and_resumed(backend, tmp_path, request):
    """a worker SIGKILLed mid-trial, study resumed (SQLite, PostgreSQL) -> recorded policy: its trial FAIL by heartbeat and retried with its parameters; none RUNNING, no repeated parameters"""  # noqa: E501
    import _optuna_worker as worker

    url = (sqlite_storage(tmp_path / "killed.db") if backend == "sqlite"
           else request.getfixturevalue("postgres_url"))
    n_trials, heartbeat = 4, 1  # Optuna's grace period is twice the heartbeat: 2 s
    study = optuna.create_study(storage=url, study_name="k", direction="maximize")
    proc = subprocess.Popen(
        [sys.executable, str(TESTS / "_optuna_worker.py"), url, "k", str(n_trials), "0",
         "--sleep", "0.3", "--heartbeat", str(heartbeat)],
        env={**os.environ, "PYTHONPATH": str(TESTS.parent)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_for_a_running_trial(study, proc)
        time.sleep(0.3)  # well inside the trial (1.8 s): its heartbeat is recorded
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    (killed,) = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    n_done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    assert n_done >= 1
    time.sleep(2 * heartbeat + 1.5)  # past the grace period since its last heartbeat

    # Resume: the same seed, the remaining trials; the stale trial is failed and retried.
    worker.main(url, "k", n_trials - n_done, seed=0, heartbeat=heartbeat)
    trials = optuna.load_study(study_name="k", storage=url).get_trials(deepcopy=False)
    states = [t.state for t in trials]
    assert set(states) == {TrialState.COMPLETE, TrialState.FAIL}  # none RUNNING or WAITING
    assert states.count(TrialState.COMPLETE) == n_trials and states.count(TrialState.FAIL) == 1
    assert trials[killed.number].state == TrialState.FAIL
    (retry,) = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    assert retry.state == TrialState.COMPLETE and retry.params == killed.params
    completed = [tuple(sorted(t.params.items())) for t in trials if t.state == TrialState.COMPLETE]
    assert len(set(completed)) == len(completed) == n_trials  # no repeated parameters
