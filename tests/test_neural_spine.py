"""The one training and inference spine of skfer's networks (issue 20).

Every network estimator gets its optimizer from :mod:`skfer.neural._optim` (no weight decay
on biases and normalisation weights, one momentum rule), predicts through skorch's
``forward_iter`` (so ``iterator_valid__*`` parameters apply), leaves torch's random state as
it found it, and a clip's output does not depend on which clips share its batch.
"""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
import torch
from sklearn.base import clone
from test_common import CLIP, TABULAR, _clip_data_for
from torch import nn

from skfer.neural import (
    DTAGN,
    AudioDBNClassifier,
    BaseNeuralClassifier,
    ConvNet,
    ValidationSplitWarning,
)
from skfer.neural._optim import build_optimizer, momentum_kwargs, no_decay_names
from skfer.utils.estimator_checks import make_clip_data

NETWORKS = [e for e in CLIP + TABULAR if isinstance(e, BaseNeuralClassifier)]


def _data_for(est):
    if isinstance(est, AudioDBNClassifier):
        rng = np.random.RandomState(0)
        seqs = [rng.normal(size=(rng.randint(3, 9), 5)).astype(np.float32) for _ in range(12)]
        y = np.array(["anger", "happiness"] * 6)
        for s, label in zip(seqs, y):
            s[:, 0] += 2.0 * (label == "anger")
        return seqs, y
    data = _clip_data_for(est)
    if data is None:
        data = make_clip_data(n_clips=12, frame_size=(32, 32))
    return data


def _ids(est):
    return type(est).__name__


def test_no_decay_names_by_module_type():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.GroupNorm(1, 2),
                        nn.Linear(2, 3), nn.LayerNorm(3))
    assert no_decay_names(net) == {"0.bias", "1.weight", "1.bias", "2.weight", "2.bias",
                                   "3.bias", "4.weight", "4.bias"}


def test_momentum_rule_and_groups():
    assert momentum_kwargs(torch.optim.SGD, 0.8) == {"momentum": 0.8}
    assert momentum_kwargs(torch.optim.RMSprop, 0.8) == {"momentum": 0.8}
    assert momentum_kwargs(torch.optim.Adam, 0.8) == {"betas": (0.8, 0.999)}
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    opt = build_optimizer(net, torch.optim.RMSprop, lr=0.1,
                          weight_decay=0.01, momentum=0.7,
                          param_groups=[("2.*", {"lr": 1.0})])
    for group in opt.param_groups:
        assert group["momentum"] == 0.7  # RMSprop keeps its momentum (it used to lose it)
        names = {n for n, p in net.named_parameters() if any(p is q for q in group["params"])}
        decayed = not names & no_decay_names(net)
        assert group["weight_decay"] == (0.01 if decayed else 0.0)
        assert group["lr"] == (1.0 if all(n.startswith("2.") for n in names) else 0.1)


@pytest.mark.parametrize("estimator", NETWORKS, ids=_ids)
def test_every_network_decays_weights_only(estimator):
    X, y = _data_for(estimator)
    est = clone(estimator).set_params(weight_decay=0.0123)
    if "batch_norm" in est.get_params():
        est.set_params(batch_norm=True)  # normalisation weights to leave undecayed
    est.fit(X, y)
    module = est.net_.module_
    no_decay = no_decay_names(module)
    assert no_decay, "every network has biases"
    seen = set()
    for group in est.net_.optimizer_.param_groups:
        names = {n for n, p in module.named_parameters()
                 if any(p is q for q in group["params"])}
        seen |= names
        if names & no_decay:
            assert names <= no_decay and group["weight_decay"] == 0.0, names
        else:
            assert group["weight_decay"] == pytest.approx(0.0123), names
    norms = {n for n, m in module.named_modules()
             if isinstance(m, nn.modules.batchnorm._NormBase) and m.affine}
    assert {f"{m}.weight" for m in norms} <= no_decay
    assert seen, "the optimizer trains some parameters"


@pytest.mark.parametrize("estimator", NETWORKS, ids=_ids)
def test_fit_leaves_torch_random_state(estimator):
    X, y = _data_for(estimator)
    torch.manual_seed(123)
    cpu = torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    clone(estimator).fit(X, y)
    assert torch.equal(torch.get_rng_state(), cpu)
    if cuda is not None:
        assert all(torch.equal(a, b) for a, b in zip(torch.cuda.get_rng_state_all(), cuda))


def test_predict_batches_follow_iterator_valid_batch_size():
    X, y = make_clip_data(n_clips=12, frame_size=(24, 24))
    n_frames = sum(len(c) for c in X)
    sizes: dict[str, list[int]] = {}
    for key, params in (("default", {}), ("five", {"iterator_valid__batch_size": 5})):
        net = ConvNet(crop_size=(20, 20), max_epochs=1, module__n_filters=(2, 2, 4),
                      batch_size=64, random_state=0, verbose=0, **params).fit(X, y)
        seen: list[int] = []
        hook = net.net_.module_.register_forward_hook(
            lambda m, inp, out, seen=seen: seen.append(len(inp[0])))
        proba = net.predict_proba(X)
        hook.remove()
        sizes[key] = seen
        assert proba.shape == (12, 2)
    assert sizes["default"] == [n_frames]  # batch_size=64 holds every frame
    assert sizes["five"] == [5] * (n_frames // 5) + ([n_frames % 5] if n_frames % 5 else [])


def test_audio_dbn_output_does_not_depend_on_the_batch():
    est = next(e for e in NETWORKS if isinstance(e, AudioDBNClassifier))
    X, y = _data_for(est)
    net = clone(est).fit(X, y)
    together = net.predict_proba(X)
    alone = np.vstack([net.predict_proba([x]) for x in X])
    reordered = net.predict_proba(X[::-1])[::-1]
    np.testing.assert_allclose(together, alone, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(together, reordered, rtol=1e-12, atol=1e-15)


def test_dtagn_uses_its_members_public_methods_only():
    source = inspect.getsource(DTAGN)
    private = re.findall(r"(?:dtan_|dtgn_|net)\._[a-z]\w*", source)
    assert not private, f"DTAGN calls private members of its networks: {private}"


def test_early_stopping_monitors_accuracy():
    X, y = make_clip_data(n_clips=12, frame_size=(24, 24))
    net = ConvNet(crop_size=(20, 20), max_epochs=3, patience=1, monitor="valid_acc",
                  module__n_filters=(2, 2, 4), random_state=0, verbose=0).fit(X, y)
    stopping = dict(net.net_.callbacks_)["early_stopping"]
    assert stopping.monitor == "valid_acc" and stopping.lower_is_better is False


def test_validation_by_clip_under_early_stopping_warns():
    X, y = make_clip_data(n_clips=12, frame_size=(24, 24))
    net = ConvNet(crop_size=(20, 20), max_epochs=1, patience=2, module__n_filters=(2, 2, 4),
                  random_state=0, verbose=0)
    with pytest.warns(ValidationSplitWarning, match="pass groups=subjects|Pass groups"):
        net.fit(X, y)
    assert net.validation_split_.by == "clip"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", ValidationSplitWarning)
        net.fit(X, y, groups=np.repeat(np.arange(6), 2))
    assert net.validation_split_.by == "subject"
