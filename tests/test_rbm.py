"""Gaussian RBMs (EmoNets 3.2.2): CD-1 and SML learn, the bounded noisy ReLU stays bounded."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _torch_threads import one_torch_thread  # noqa: F401 (a fixture)
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfer.neural.rbm import (
    NOISY_RELU_ALPHA,
    GaussianBernoulliRBM,
    GaussianReLURBM,
    bounded_noisy_relu,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

@pytest.fixture(scope="module")
def low_rank():
    """Standardised data on a 3-dimensional subspace of 12 dimensions, plus noise."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 3)) @ rng.normal(size=(3, 12)) + 0.2 * rng.normal(size=(600, 12))
    return StandardScaler().fit_transform(X)


@pytest.mark.parametrize("cls", [GaussianReLURBM, GaussianBernoulliRBM])
@pytest.mark.parametrize("method", ["cd1", "sml"])
def test_training_lowers_reconstruction_error(low_rank, cls, method):
    rbm = cls(n_components=24, learning_rate=0.05, n_epochs=6, method=method, random_state=0)
    errors = rbm.fit(low_rank).reconstruction_errors_
    assert len(errors) == 7
    # Before training the reconstruction is about the visible biases (the mean): error ~ 1.
    assert errors[0] > 0.9
    assert errors[-1] < 0.5 * errors[0]
    # reconstruct() is the mean-field reconstruction whose error is recorded.
    recon_error = np.mean((low_rank - rbm.reconstruct(low_rank)) ** 2)
    assert recon_error == pytest.approx(errors[-1], rel=1e-4)


def test_paper_rates_learn_slowly_but_surely(low_rank):
    rbm = GaussianReLURBM(n_components=24, random_state=0).fit(low_rank)  # 6e-4, 2e-3, 15
    assert np.all(np.diff(rbm.reconstruction_errors_) < 0)


def test_noisy_relu_stays_in_bounds():
    gen = torch.Generator().manual_seed(0)
    x = torch.linspace(-30, 30, 20001).repeat(20, 1)
    h = bounded_noisy_relu(x, generator=gen)
    assert float(h.min()) == 0.0 and float(h.max()) == NOISY_RELU_ALPHA
    # Noise: around x = 3 (sigmoid ~ 0.95) samples spread; deep negative inputs stay at 0.
    near3 = h[:, (x[0] - 3).abs() < 0.01]
    assert float(near3.std()) > 0.5
    assert float(h[:, x[0] < -10].max()) == 0.0
    # The noise has standard deviation sigmoid(x) (the paper's N(0, sigmoid(x))): at x = 3,
    # sd 0.95 (read as a variance it would be 0.98); at x = 0, sd 0.5 (variance: 0.71), where
    # half the samples are clipped at 0.
    at3 = bounded_noisy_relu(torch.full((20000,), 3.0), generator=gen)
    assert float(at3.std()) == pytest.approx(float(torch.sigmoid(torch.tensor(3.0))), rel=0.05)
    at0 = bounded_noisy_relu(torch.zeros(20000), generator=gen)
    assert float((at0 == 0).float().mean()) == pytest.approx(0.5, abs=0.02)
    assert float(at0[at0 > 0].mean()) == pytest.approx(0.5 * np.sqrt(2 / np.pi), rel=0.05)
    assert float(bounded_noisy_relu(x, alpha=2.5, generator=gen).max()) == 2.5


def test_transform_bounds_and_shapes(low_rank):
    relu = GaussianReLURBM(n_components=7, n_epochs=1, learning_rate=0.05, alpha=1.5,
                           random_state=0).fit(low_rank * 10)
    H = relu.transform(low_rank * 10)
    assert H.shape == (600, 7) and H.dtype == np.float64
    assert H.min() >= 0 and H.max() <= 1.5
    sig = GaussianBernoulliRBM(n_components=5, n_epochs=1, random_state=0).fit(low_rank)
    P = sig.transform(low_rank)
    assert P.min() > 0 and P.max() < 1
    assert list(sig.get_feature_names_out()) == [f"gaussianbernoullirbm{i}" for i in range(5)]


def test_random_state_reproducible(low_rank):
    a = GaussianReLURBM(n_components=8, n_epochs=2, random_state=3).fit(low_rank)
    b = clone(a).fit(low_rank)
    c = GaussianReLURBM(n_components=8, n_epochs=2, random_state=4).fit(low_rank)
    np.testing.assert_array_equal(a.components_, b.components_)
    assert not np.allclose(a.components_, c.components_)


def test_stack_in_a_pipeline(low_rank):
    dbn = make_pipeline(
        GaussianReLURBM(n_components=10, n_epochs=2, random_state=0),
        StandardScaler(),
        GaussianBernoulliRBM(n_components=6, n_epochs=2, random_state=0),
    )
    assert dbn.fit_transform(low_rank).shape == (600, 6)


def test_bad_input(low_rank):
    X = low_rank.copy()
    X[5, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        GaussianReLURBM(n_epochs=1).fit(X)
    with pytest.raises(ValueError, match="method"):
        GaussianReLURBM(method="cd2").fit(low_rank)
    rbm = GaussianReLURBM(n_components=4, n_epochs=1, random_state=0).fit(low_rank)
    with pytest.raises(ValueError, match="12 features"):
        rbm.transform(low_rank[:, :5])
    with pytest.raises(ValueError, match="diverged"):
        GaussianReLURBM(n_components=4, n_epochs=3, learning_rate=50.0,
                        random_state=0).fit(low_rank * 100)
