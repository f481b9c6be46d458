"""Tests of skfer.model_selection.tune: storage, resuming, pruning, tuning an ensemble."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfer.ensemble import WeightedAverageClassifier
from skfer.model_selection import sqlite_storage, tune

optuna.logging.set_verbosity(optuna.logging.WARNING)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path, monkeypatch):
    """tune's default storage is a file in the current directory: keep it out of the repo."""
    monkeypatch.chdir(tmp_path)


def test_default_storage_is_a_resumable_sqlite_file(data, tmp_path):
    X, y, groups = data
    space = {"var_smoothing": FloatDistribution(1e-9, 1e-3, log=True)}
    tune(GaussianNB(), space, X, y, groups, cv=3, n_trials=2, study_name="s", random_state=0)
    assert (tmp_path / "skfer_optuna.db").is_file()
    study = tune(GaussianNB(), space, X, y, groups, cv=3, n_trials=1, study_name="s",
                 random_state=1)
    assert len(study.trials) == 3


@pytest.fixture
def data():
    X, y = make_classification(120, n_features=8, n_informative=4, n_classes=3, random_state=0)
    return X, y, np.arange(len(y)) // 6


class _GroupRecorder(ClassifierMixin, BaseEstimator):
    """Classifier recording which groups' rows it was fitted on (via a column of X)."""

    seen: list = []

    def __init__(self, c=1.0):
        self.c = c

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        _GroupRecorder.seen.append(set(np.asarray(X)[:, 0].astype(int)))
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_tune_passes_groups_to_the_folds(data):
    X, y, groups = data
    Xg = np.column_stack([groups, X])
    _GroupRecorder.seen = []
    study = tune(_GroupRecorder(), {"c": FloatDistribution(0, 1)}, Xg, y, groups, cv=4,
                 n_trials=2, random_state=0)
    assert len(_GroupRecorder.seen) == 8  # 2 trials x 4 folds
    all_groups = set(groups)
    for seen in _GroupRecorder.seen:  # each fold leaves whole subjects out
        held_out = all_groups - seen
        assert held_out and not (held_out & seen)
    assert len(study.trials[0].user_attrs["fold_scores"]) == 4


def test_tune_finds_good_c_and_is_deterministic(data):
    X, y, groups = data
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200))
    space = {"logisticregression__C": FloatDistribution(1e-4, 1e2, log=True)}
    s1 = tune(pipe, space, X, y, groups, cv=3, n_trials=6, random_state=1)
    s2 = tune(pipe, space, X, y, groups, cv=3, n_trials=6, random_state=1)
    assert [t.params for t in s1.trials] == [t.params for t in s2.trials]
    values = [t.value for t in s1.trials]
    assert s1.best_value == max(values)
    # best value is the mean of the recorded fold scores
    assert np.isclose(s1.best_value, np.mean(s1.best_trial.user_attrs["fold_scores"]))


def test_tune_space_callable_and_pruning(data):
    X, y, groups = data

    def space(trial):
        return {"var_smoothing": trial.suggest_float("var_smoothing", 1e-12, 1e3, log=True)}

    study = tune(GaussianNB(), space, X, y, groups, cv=3, n_trials=12, random_state=0,
                 pruning=optuna.pruners.ThresholdPruner(lower=0.7))
    states = {t.state for t in study.trials}
    assert TrialState.PRUNED in states  # huge smoothing -> chance accuracy -> pruned
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert all(t.intermediate_values for t in pruned)


def test_tune_bad_input(data):
    X, y, groups = data
    with pytest.raises(ValueError, match="n_trials"):
        tune(GaussianNB(), {}, X, y, n_trials=0)
    with pytest.raises(ValueError, match="direction"):
        tune(GaussianNB(), {}, X, y, direction="up")
    with pytest.raises(TypeError, match="Optuna distribution"):
        tune(GaussianNB(), {"var_smoothing": [1, 2]}, X, y, n_trials=1)


def test_sqlite_study_resumes(tmp_path, data):
    X, y, groups = data
    storage = sqlite_storage(tmp_path / "s.db")
    space = {"var_smoothing": FloatDistribution(1e-12, 1e-3, log=True)}
    tune(GaussianNB(), space, X, y, groups, cv=3, n_trials=3, storage=storage,
         study_name="nb", random_state=0)
    study = tune(GaussianNB(), space, X, y, groups, cv=3, n_trials=2, storage=storage,
                 study_name="nb", random_state=1)
    assert len(study.trials) == 5


class _GroupsMember(GaussianNB):
    """An ensemble member recording the groups its fit receives (class attribute: cloned)."""

    seen: list = []

    def fit(self, X, y, groups=None):
        _GroupsMember.seen.append(groups)
        return super().fit(X, y)


def test_tune_tunes_an_ensemble_member_whose_members_get_routed_groups(tmp_path, data):
    import sklearn

    X, y, groups = data
    storage = sqlite_storage(tmp_path / "w.db")
    space = {"lr__C": FloatDistribution(1e-3, 1e2, log=True)}
    _GroupsMember.seen = []
    with sklearn.config_context(enable_metadata_routing=True):
        members = [("lr", LogisticRegression(max_iter=200)),
                   ("rec", _GroupsMember().set_fit_request(groups=True))]
        ensemble = WeightedAverageClassifier(
            members, cv=2, n_iter=10, n_local_iter=10, random_state=0
        ).set_fit_request(groups=True)
        first = tune(ensemble, space, X, y, groups, cv=3, n_trials=3, storage=storage,
                     study_name="w", random_state=0)
        # each member fit (2 cross-fitting folds + 1 refit, per outer fold and trial) got the
        # groups of its own training rows: whole subjects, never a held-out one
        assert len(_GroupsMember.seen) == 3 * 3 * 3
        assert all(g is not None and len(g) < len(y) for g in _GroupsMember.seen)
        n_first, best_first = len(first.trials), first.best_value
        # the study is stored: a second call resumes it with more trials
        again = tune(ensemble, space, X, y, groups, cv=3, n_trials=2, storage=storage,
                     study_name="w", random_state=1)
    assert n_first == 3 and len(again.trials) == 5
    assert again.best_value >= best_first
    cs = [t.params["lr__C"] for t in again.trials]
    assert len(set(cs)) == 5 and all(1e-3 <= c <= 1e2 for c in cs)
    # the best C refits: set_params on the member, as tune itself did per trial
    best = ensemble.set_params(**again.best_params)
    assert best.named_estimators["lr"].C == again.best_params["lr__C"]


def test_tune_asks_with_the_distributions(data):
    X, y, groups = data
    space = {"var_smoothing": FloatDistribution(1e-9, 1e-3, log=True)}
    study = tune(GaussianNB(), space, X, y, groups, cv=3, n_trials=3, storage=None,
                 random_state=0)
    for t in study.trials:  # define-and-run: the trial carries the space's distribution
        assert t.distributions == space and t.state == TrialState.COMPLETE


def test_tune_without_routing_does_not_pass_groups_to_fit(data):
    X, y, groups = data
    _GroupsMember.seen = []
    tune(_GroupsMember(), {"var_smoothing": FloatDistribution(1e-9, 1e-3, log=True)}, X, y,
         groups, cv=3, n_trials=1, storage=None, random_state=0)
    assert _GroupsMember.seen == [None] * 3


def _pg_bin() -> Path | None:
    for cand in [shutil.which("pg_ctl"), *sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))]:
        if cand:
            return Path(cand).resolve().parent
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres_url(request):
    """A throw-away PostgreSQL server on 127.0.0.1 (skips when it cannot start)."""
    psycopg2 = pytest.importorskip("psycopg2")
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL binaries (pg_ctl, initdb) not found; apt-get install postgresql")
    prefix: list[str] = []
    datadir = Path(tempfile.mkdtemp(prefix="skfer-pg-"))
    if os.geteuid() == 0:  # postgres refuses to run as root
        try:
            import pwd

            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and no 'postgres' user to run the server")
        os.chown(datadir, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    env = {**os.environ, "LC_ALL": "C"}
    pgdata = datadir / "data"
    log = datadir / "log"

    def run(*cmd):
        return subprocess.run([*prefix, *cmd], capture_output=True, text=True, env=env,
                              timeout=120, cwd=datadir)

    res = run(str(bindir / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust")
    if res.returncode:
        shutil.rmtree(datadir, ignore_errors=True)
        pytest.skip(f"initdb failed: {res.stderr[-500:]}")
    res = run(str(bindir / "pg_ctl"), "-D", str(pgdata), "-l", str(log), "-w", "-o",
              f"-h 127.0.0.1 -p {port} -k {datadir}", "start")

    def stop():
        run(str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "immediate", "-w", "stop")
        shutil.rmtree(datadir, ignore_errors=True)

    request.addfinalizer(stop)
    if res.returncode:
        pytest.skip(f"pg_ctl start failed: {res.stderr[-500:]}")
    conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE optuna_test")
    conn.close()
    return f"postgresql+psycopg2://postgres@127.0.0.1:{port}/optuna_test"


def test_two_processes_share_a_postgres_study(postgres_url):
    n_trials, n_workers = 6, 2
    optuna.create_study(storage=postgres_url, study_name="shared", direction="maximize")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [  # the same random_state in both: the draws are seeded by trial number
        subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "_optuna_worker.py"), postgres_url, "shared",
             str(n_trials), "0"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(n_workers)
    ]
    start = time.monotonic()
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
    assert time.monotonic() - start < 120
    study = optuna.load_study(study_name="shared", storage=postgres_url)
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == n_trials * n_workers  # no lost trial
    assert all(t.state == TrialState.COMPLETE for t in trials)
    numbers = sorted(t.number for t in trials)
    assert numbers == list(range(n_trials * n_workers))  # no duplicated trial number
    cs = [t.params["logisticregression__C"] for t in trials]
    assert len(set(cs)) == len(cs)  # same random_state, yet no duplicated params


def test_tune_prunes_a_network_within_its_first_fit(tmp_path):
    # Epoch-level pruning: SkorchPruningCallback reports every epoch of a trial's first fold;
    # a trial whose network cannot learn (lr=0) is pruned inside that fit, once the good
    # trials have set the median.
    import optuna
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import TrialState

    from skfer.neural import ConvNet
    from skfer.utils.estimator_checks import make_clip_data

    X, y = make_clip_data(n_clips=24, frame_size=(32, 32))
    groups = np.repeat(np.arange(6), 4)
    # flip=False: the check data's label is the blob's side.
    net = ConvNet(crop_size=(28, 28), flip=False, module__n_filters=(4, 4, 8), max_epochs=4,
                  batch_size=16, optimizer="adam", validation_fraction=0.25, random_state=0,
                  verbose=0)
    storage, name = f"sqlite:///{tmp_path / 'study.db'}", "epochs"
    lrs = [1e-2, 1e-2, 0.0]
    queued = optuna.create_study(storage=storage, study_name=name, direction="maximize")
    for lr in lrs:
        queued.enqueue_trial({"lr": lr})
    study = tune(
        net, {"lr": CategoricalDistribution(sorted(set(lrs)))}, X, y, groups, cv=2,
        n_trials=3, storage=storage, study_name=name, epoch_monitor="valid_acc",
        pruning=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=1),
    )
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2 + [TrialState.PRUNED]
    assert [t.params["lr"] for t in trials] == lrs
    # Pruned during the first fit, after the warm-up epoch: only epoch steps were reported.
    assert trials[2].last_step == 1
    # A complete trial: epochs at steps 0..max_epochs - 1, then the 2 fold means.
    assert sorted(trials[0].intermediate_values) == list(range(net.max_epochs + 2))


def test_dict_space_of_every_kind_is_suggested_with_its_distributions(data, tmp_path):
    # A dict space is suggested by trial.suggest_* inside Study.optimize: each trial records
    # the space's own distributions (a deprecated subclass as its public kind), and a study
    # resumed with the same space is not refused as another space.
    import warnings

    from optuna.distributions import (
        CategoricalDistribution,
        IntDistribution,
        UniformDistribution,
    )

    X, y, groups = data
    public = {
        "var_smoothing": FloatDistribution(1e-9, 1e-3, log=True),
        "a": FloatDistribution(0.0, 1.0, step=0.25),
        "b": IntDistribution(1, 64, log=True),
        "c": IntDistribution(0, 10, step=2),
        "d": CategoricalDistribution(["x", None, 3]),
        "e": FloatDistribution(0.0, 2.0),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # UniformDistribution is deprecated
        space = {**public, "e": UniformDistribution(0.0, 2.0)}

    class _Free(GaussianNB):  # takes the extra parameters and ignores them
        def __init__(self, var_smoothing=1e-9, a=0, b=0, c=0, d=0, e=0):
            super().__init__(var_smoothing=var_smoothing)
            self.a, self.b, self.c, self.d, self.e = a, b, c, d, e

    storage = sqlite_storage(tmp_path / "kinds.db")
    kw = dict(cv=3, storage=storage, study_name="k", random_state=0)
    tune(_Free(), space, X, y, groups, n_trials=2, **kw)
    study = tune(_Free(), space, X, y, groups, n_trials=2, **kw)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4
    assert all(t.distributions == public for t in study.trials)


def test_default_sampler_draws_trial_k_from_its_seed_sequence(data):
    # Trial k's parameters come from a RandomState seeded by SeedSequence([random_state, k]):
    # the same draws as before tune ran on Study.optimize, so fresh studies still reproduce.
    X, y, groups = data
    space = {"var_smoothing": FloatDistribution(0.0, 1.0)}
    study = tune(GaussianNB(), space, X, y, groups, cv=3, n_trials=3, storage=None,
                 random_state=7)
    for t in study.trials:
        state = np.random.SeedSequence([7, t.number]).generate_state(1)[0]
        expected = np.random.RandomState(int(state)).uniform(0.0, 1.0)
        assert t.params["var_smoothing"] == expected


def test_tune_uses_public_optuna_api_only():
    # Issue 24: tune runs on Study.optimize and public Optuna API, not on Optuna's internals.
    import re

    pattern = re.compile(r"optuna\.[a-z_.]*\._|\._storage|_trial_id|_rng")
    for path in sorted((ROOT / "skfer" / "model_selection").glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not pattern.search(line), f"{path.name}:{number}: {line.strip()}"
