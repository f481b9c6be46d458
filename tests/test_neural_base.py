"""The network base (skfer.neural._base) through its first network, a tiny ConvNet.

Every test trains a network of 4-4-8 filters on 24 small synthetic clips (a blob left or
right): a fit takes a fraction of a second on the CPU.
"""

from __future__ import annotations

import pickle
import warnings

import joblib
import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.utils._param_validation import InvalidParameterError

from skfer.neural import BaseClipClassifier, ConvNet, TimeLimit, resolve_device
from skfer.neural.modules import Standardize
from skfer.preprocessing import FrameAggregator
from skfer.utils.estimator_checks import make_clip_data

N_CLIPS = 24
GROUPS = np.repeat(np.arange(6), 4)  # 6 subjects of 4 clips, both labels each


@pytest.fixture(scope="module")
def data():
    return make_clip_data(n_clips=N_CLIPS, frame_size=(32, 32), random_state=0)


def tiny(**params) -> ConvNet:
    """A ConvNet small enough to train in a blink; flips off (the label is left/right)."""
    defaults = dict(
        crop_size=(28, 28), flip=False, module__n_filters=(4, 4, 8), optimizer="adam",
        lr=0.01, max_epochs=3, batch_size=16, patience=None, validation_fraction=0.25,
        random_state=0, verbose=0,
    )
    return ConvNet(**{**defaults, **params})


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return tiny().fit(X, y)


def _weights(net) -> dict:
    return {k: v.detach().clone() for k, v in net.net_.module_.state_dict().items()}


def _same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------ fit / predict / params
def test_fit_predict(fitted, data):
    X, y = data
    proba = fitted.predict_proba(X)
    assert proba.shape == (N_CLIPS, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert fitted.score(X, y) == 1.0
    assert list(fitted.classes_) == ["anger", "happiness"]
    assert fitted.device_ == "cpu" and fitted.frame_size_ == (32, 32) and not fitted.color_
    assert fitted.n_epochs_ == 3 == len(fitted.history_)


def test_same_seed_same_predictions_other_seed_differs(data):
    X, y = data
    a = tiny(random_state=3).fit(X, y).predict_proba(X)
    b = tiny(random_state=3).fit(X, y).predict_proba(X)
    c = tiny(random_state=4).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_fit_restores_torch_global_random_state(data):
    X, y = data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    tiny().fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


def test_clone_refit_and_joblib_round_trip(fitted, data, tmp_path):
    X, y = data
    twin = clone(fitted)
    assert not hasattr(twin, "net_")
    assert twin.get_params()["module__n_filters"] == (4, 4, 8)
    twin.fit(X, y)
    np.testing.assert_array_equal(twin.predict_proba(X), fitted.predict_proba(X))
    joblib.dump(twin, tmp_path / "net.joblib")
    loaded = joblib.load(tmp_path / "net.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(loaded.transform(X)[5], fitted.transform(X)[5])


def test_model_file_holds_no_training_or_validation_data(fitted):
    # 24 clips of 3-6 32x32 frames would be > 80 kB; the 4-4-8 net is a few kB.
    assert fitted.net_.train_split is None
    assert len(pickle.dumps(fitted)) < 60_000


def test_nested_parameters_get_set_and_grid_search(data):
    X, y = data
    net = tiny(optimizer__betas=(0.9, 0.99), iterator_valid__batch_size=7)
    params = net.get_params(deep=False)
    assert params["optimizer__betas"] == (0.9, 0.99)
    assert params["iterator_valid__batch_size"] == 7
    net.set_params(module__n_filters=(2, 2, 4), lr=0.02)
    assert net.get_params()["module__n_filters"] == (2, 2, 4) and net.lr == 0.02
    net.fit(X, y)
    assert net.net_.module_.stage3[0].out_channels == 4
    assert net.net_.optimizer_.param_groups[0]["betas"] == (0.9, 0.99)
    search = GridSearchCV(
        tiny(max_epochs=2), {"module__n_filters": [(2, 2, 4), (4, 4, 8)]}, cv=GroupKFold(2)
    ).fit(X, y, groups=GROUPS)
    assert search.best_estimator_.net_.module_.stage3[0].out_channels in (4, 8)


def test_unknown_nested_parameter_fails_in_fit_not_init(data):
    X, y = data
    net = tiny(modul__n_filters=(2, 2, 4))  # typo: accepted by __init__, as sklearn wants
    with pytest.raises(ValueError, match=r"unknown parameters \['modul__n_filters'\]"):
        net.fit(X, y)


def test_module_argument_set_twice_is_an_error(data):
    X, y = data
    with pytest.raises(ValueError, match="module__crop_size"):
        tiny(module__crop_size=(20, 20)).fit(X, y)


def test_parameter_validation(data):
    X, y = data
    with pytest.raises(InvalidParameterError, match="validation_fraction"):
        tiny(validation_fraction=1.5).fit(X, y)
    with pytest.raises(InvalidParameterError, match="optimizer"):
        tiny(optimizer="rmsprop").fit(X, y)


# --------------------------------------------------------------------- validation split
def test_validation_split_is_by_subject_with_groups(data):
    X, y = data
    net = tiny(max_epochs=1, validation_fraction=0.3).fit(X, y, groups=GROUPS)
    split = net.validation_split_
    assert split.by == "subject"
    assert set(GROUPS[split.train]).isdisjoint(GROUPS[split.valid])
    assert len(split.train) + len(split.valid) == N_CLIPS and len(split.valid) > 0


def test_validation_split_is_by_clip_without_groups(fitted):
    split = fitted.validation_split_
    assert split.by == "clip" and set(split.train).isdisjoint(split.valid)
    # Frame models train on frames: the datasets hold whole clips on each side.
    assert len(split.valid) == 6


def test_groups_reach_fit_through_metadata_routing(data):
    X, y = data
    with sklearn.config_context(enable_metadata_routing=True):
        net = tiny(max_epochs=1, validation_fraction=0.3).set_fit_request(groups=True)
        result = cross_validate(
            net, X, y, cv=GroupKFold(3), params={"groups": GROUPS}, return_estimator=True,
            return_indices=True,
        )
    for est, test in zip(result["estimator"], result["indices"]["test"]):
        train = np.setdiff1d(np.arange(N_CLIPS), test)
        split = est.validation_split_
        assert split.by == "subject"
        assert set(GROUPS[train][split.train]).isdisjoint(GROUPS[train][split.valid])


def test_predefined_validation_set(data):
    X, y = data
    net = tiny(max_epochs=2).fit(X[:16], y[:16], X_valid=X[16:], y_valid=y[16:])
    assert net.validation_split_.by == "predefined"
    assert len(net.validation_split_.train) == 16
    assert "valid_loss" in net.history_[-1]


def test_early_stopping_stops_and_needs_validation(data):
    X, y = data
    net = tiny(lr=0.0, max_epochs=20, patience=2).fit(X, y)  # lr 0: no improvement
    assert net.n_epochs_ == 3
    with pytest.raises(ValueError, match="patience=2.*validation"):
        tiny(patience=2, validation_fraction=None).fit(X, y)


def test_no_validation(data):
    X, y = data
    net = tiny(validation_fraction=None, max_epochs=1).fit(X, y)
    assert net.validation_split_.by is None and "valid_loss" not in net.history_[-1]


# ------------------------------------------------------------------------------ verbose
def test_verbose_prints_the_epoch_table_and_zero_is_silent(data, capsys):
    X, y = data
    tiny(max_epochs=1, verbose=1).fit(X, y)
    assert "valid_acc" in capsys.readouterr().out
    tiny(max_epochs=1, patience=1, verbose=0).fit(X, y)
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------------------------ devices
def test_auto_device_records_where_it_ran(fitted):
    assert fitted.device_ == resolve_device("auto")
    assert resolve_device("cpu") == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_clear_error(data):
    X, y = data
    with pytest.raises(ValueError, match="no CUDA device"):
        tiny(device="cuda").fit(X, y)
    with pytest.raises(ValueError, match="not a torch device"):
        tiny(device="tpu9").fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_model_saved_from_cuda_loads_on_cpu(fitted, data):
    """A net pickled with device "cuda" loads on a CPU-only machine (skorch's map_location).

    Without a GPU the pickle is made by marking the CPU-fitted net as a CUDA one: loading
    then takes skorch's CUDA-absent path, which the wrapper must not defeat.
    """
    X, _ = data
    twin = pickle.loads(pickle.dumps(fitted))
    twin.net_.device = "cuda"
    twin.device_ = "cuda"
    blob = pickle.dumps(twin)
    with pytest.warns(UserWarning, match="CUDA"):
        loaded = pickle.loads(blob)
    assert str(loaded.net_.device) == "cpu" and loaded.device_ == "cuda"
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))


# -------------------------------------------------------------------------- callbacks
def test_user_callbacks_are_used_but_never_modified(data):
    from skorch.callbacks import EpochScoring

    X, y = data
    scoring = EpochScoring("accuracy", on_train=True, name="train_acc")
    before = dict(vars(scoring))
    net = tiny(callbacks=[("train_acc", scoring)]).fit(X, y)
    assert "train_acc" in net.history_[-1]
    assert vars(scoring) == before
    assert clone(net).callbacks[0][1] is scoring  # shared by clones, not rebuilt


def test_time_limit_ends_training_and_keeps_the_best_epoch(data):
    X, y = data
    net = tiny(max_epochs=10, patience=5, callbacks=[TimeLimit(max_minutes=0)]).fit(X, y)
    assert net.n_epochs_ == 1 and net.history_[-1, "time_limit_reached"]


def test_optuna_pruning_callback_prunes_a_bad_trial(data):
    optuna = pytest.importorskip("optuna")
    from optuna_integration import SkorchPruningCallback

    X, y = data
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        lr = trial.suggest_categorical("lr", [0.01, 0.0])
        net = tiny(
            lr=lr, max_epochs=4, callbacks=[SkorchPruningCallback(trial, "valid_acc")]
        )
        # Search tools clone the estimator: the clone's callback must still reach the trial.
        # (cross_val_score would turn TrialPruned into a failed fold unless
        # error_score="raise".)
        return clone(net).fit(X, y, groups=GROUPS).history_[-1, "valid_acc"]

    study = optuna.create_study(
        direction="maximize",
        pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=1),
        sampler=optuna.samplers.BruteForceSampler(seed=0),
    )
    study.enqueue_trial({"lr": 0.01})
    study.enqueue_trial({"lr": 0.0})
    study.optimize(objective, n_trials=2)
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED]
    assert study.trials[1].last_step == 1  # pruned after the warm-up epoch, not at the end


# ---------------------------------------------------------------------- pretrained reuse
def test_frozen_network_in_cross_validated_pipeline(fitted, data):
    X, y = data
    before = _weights(fitted)
    pipe = Pipeline([
        ("net", FrozenEstimator(fitted)), ("agg", FrameAggregator(n_frames=3)), ("svc", SVC()),
    ])
    scores = cross_val_score(pipe, X, y, cv=GroupKFold(3), groups=GROUPS)
    assert scores.mean() == 1.0
    assert _same_weights(before, _weights(fitted))


def test_init_from_estimator_and_file(fitted, data, tmp_path):
    X, y = data
    # Same classes, no training: the copy predicts as the source.
    copy0 = tiny(init_from=fitted, max_epochs=0).fit(X, y)
    np.testing.assert_array_equal(copy0.predict_proba(X), fitted.predict_proba(X))
    assert copy0.init_report_ == {"source": "estimator", "reinitialized": []}
    # Other classes (from a file): the output layer starts afresh, the rest is copied.
    joblib.dump(fitted, tmp_path / "source.joblib")
    y_other = np.where(y == "anger", "fear", "surprise")
    tuned = tiny(init_from=tmp_path / "source.joblib", max_epochs=0).fit(X, y_other)
    assert tuned.init_report_["reinitialized"] == ["classifier.weight", "classifier.bias"]
    src, dst = _weights(fitted), _weights(tuned)
    assert torch.equal(src["stage1.0.weight"], dst["stage1.0.weight"])
    assert not torch.equal(src["classifier.weight"], dst["classifier.weight"])
    # The source is shared by clones, never refitted.
    assert clone(tuned).init_from == tmp_path / "source.joblib"
    assert clone(copy0).init_from is fitted


def test_init_from_bad_sources(fitted, data):
    X, y = data
    with pytest.raises(FileNotFoundError, match="no file"):
        tiny(init_from="/nonexistent/net.joblib").fit(X, y)
    with pytest.raises(ValueError, match="stage3.0.weight"):
        tiny(init_from=fitted, module__n_filters=(4, 4, 6)).fit(X, y)
    small = [c[:, :30, :30] for c in X]
    with pytest.raises(ValueError, match="init_from was fitted on 32x32 grey"):
        tiny(init_from=fitted).fit(small, y)
    with pytest.raises(TypeError, match="fitted ConvNet"):
        tiny(init_from=LogisticRegression().fit(np.eye(2), [0, 1])).fit(X, y)


# ----------------------------------------------------------------------------- bad input
def test_bad_input_errors(fitted, data):
    X, y = data
    with pytest.raises(ValueError, match=r"32x32 pixels are smaller than crop_size \(40, 40\)"):
        tiny(crop_size=(40, 40)).fit(X, y)
    nan = [c.astype(np.float32) for c in X]
    nan[4][1, 2, 3] = np.nan
    with pytest.raises(ValueError, match=r"clip 4: NaN"):
        tiny().fit(nan, y)
    other = list(X)
    other[2] = X[2][:, :30, :30]
    with pytest.raises(ValueError, match=r"clip 2: 30x30 grey frames, but the network was fitted "
                                         r"on 32x32 grey frames"):
        fitted.predict(other)
    with pytest.raises(ValueError, match=r"clip 2: 30x30 grey frames, but clip 0 has 32x32"):
        tiny().fit(other, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        tiny().fit(X, ["anger"] * N_CLIPS)
    with pytest.raises(ValueError, match=r"labels \['happiness'\] that are not in classes"):
        tiny(classes=["anger", "fear"]).fit(X, y)
    with pytest.raises(ValueError, match="groups holds only one subject"):
        tiny().fit(X, y, groups=np.zeros(N_CLIPS))


def test_class_absent_from_training_is_kept_with_a_warning(data):
    X, y = data
    with pytest.warns(UserWarning, match=r"classes \['fear'\] have no training clip"):
        net = tiny(classes=["anger", "fear", "happiness"], max_epochs=1).fit(X, y)
    assert net.predict_proba(X).shape == (N_CLIPS, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tiny(max_epochs=1).fit(X, y).predict_proba(X).shape == (N_CLIPS, 2)


# -------------------------------------------------------------------------- clip models
class _ClipModule(torch.nn.Module):
    """Logistic regression on a whole clip's pixels: the smallest clip model."""

    def __init__(self, n_classes, in_channels, input_size, mean, std, n_frames):
        super().__init__()
        self.standardize = Standardize(mean, std)
        self.classifier = torch.nn.Linear(n_frames * in_channels * input_size[0] * input_size[1],
                                          n_classes)

    def forward(self, x):  # (N, T, C, H, W)
        return self.classifier(torch.flatten(self.standardize(x), 1))


class _ClipNet(BaseClipClassifier):
    _module_class = _ClipModule

    def __init__(self, *, max_epochs=5, random_state=0, verbose=0, **kwargs):
        super().__init__(optimizer="adam", lr=0.01, max_epochs=max_epochs,
                         random_state=random_state, verbose=verbose, **kwargs)

    def _module_kwargs(self):
        return {"n_frames": self.n_frames_}


def test_clip_model_takes_fixed_length_clips(data):
    X, y = data
    clips = [c[:3] for c in X]
    net = _ClipNet().fit(clips, y, groups=GROUPS)
    assert net.n_frames_ == 3 and net.validation_split_.by == "subject"
    assert net.predict_proba(clips).shape == (N_CLIPS, 2)
    assert net.score(clips, y) == 1.0
    longer = list(clips)
    longer[5] = X[5][:4]
    with pytest.raises(ValueError, match="clip 5 has 4 frames but the network was fitted on "
                                         "clips of 3"):
        net.predict(longer)
    with pytest.raises(ValueError, match="clip 1 has 4 frames but clip 0 has 3"):
        _ClipNet().fit([clips[0], X[1][:4]] + clips[2:], y)
