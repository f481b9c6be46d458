"""Sparse autoencoder (CS229 project, 3.3): the CS294A cost, training and the transformer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _torch_threads import one_torch_thread  # noqa: F401  (fixture)
from sklearn.utils._param_validation import InvalidParameterError

from skfer import ClipSet
from skfer.neural.sparse_autoencoder import (
    SparseAutoencoder,
    SparseAutoencoderLayer,
    kl_sparsity_penalty,
    sparse_autoencoder_cost,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _faces(n_clips=3, frames=4, size=24, seed=0):
    rng = np.random.RandomState(seed)
    return [rng.randint(0, 256, (frames, size, size)).astype(np.uint8) for _ in range(n_clips)]


def test_kl_penalty_by_hand():
    rho = 0.2
    acts = torch.tensor([0.2, 0.5, 0.1])

    def kl(r):
        return rho * math.log(rho / r) + (1 - rho) * math.log((1 - rho) / (1 - r))

    expected = kl(0.2) + kl(0.5) + kl(0.1)  # 0 + 0.19274... + 0.03653...
    assert float(kl_sparsity_penalty(acts, rho)) == pytest.approx(expected, rel=1e-5)
    assert float(kl_sparsity_penalty(torch.full((4,), rho), rho)) == pytest.approx(0, abs=1e-6)


def test_cost_terms_by_hand():
    torch.manual_seed(0)
    layer = SparseAutoencoderLayer(5, 3)
    x = torch.randn(7, 5)
    cost, parts = sparse_autoencoder_cost(layer, x, 0.2, 5.0, 0.002)
    with torch.no_grad():
        h = torch.sigmoid(x @ layer.encoder.weight.T + layer.encoder.bias)
        x_hat = h @ layer.decoder.weight.T + layer.decoder.bias
        recon = 0.5 * ((x_hat - x) ** 2).sum().item() / 7
        decay = 0.001 * (layer.encoder.weight.pow(2).sum() + layer.decoder.weight.pow(2).sum())
        rho_j = h.mean(0).numpy()
    sparsity = 5.0 * sum(0.2 * np.log(0.2 / r) + 0.8 * np.log(0.8 / (1 - r)) for r in rho_j)
    assert parts["reconstruction"] == pytest.approx(recon, rel=1e-5)
    assert parts["weight_decay"] == pytest.approx(float(decay), rel=1e-5)
    assert parts["sparsity"] == pytest.approx(sparsity, rel=1e-4)
    assert float(cost.detach()) == pytest.approx(recon + float(decay) + sparsity, rel=1e-5)


def test_fit_lowers_cost_and_reconstruction():
    sae = SparseAutoencoder(hidden_layer_sizes=(16,), max_iter=30, random_state=0)
    sae.fit(_faces())
    curve = sae.loss_curve_[0]
    assert curve[-1] < 0.5 * curve[0]
    layer = SparseAutoencoderLayer(576, 16, torch.Generator().manual_seed(1))
    x = torch.from_numpy(np.concatenate([sae._pixels(c) for c in _faces()]))
    with torch.no_grad():
        _, before = sparse_autoencoder_cost(layer, x, 0.2, 5.0, 0.002)
    assert sae.cost_parts_[0]["reconstruction"] < before["reconstruction"]


def test_shapes_stacked_clipset_and_determinism():
    faces = _faces()
    status = np.array(["detected", "missing", "tracked", "filled"])
    X = ClipSet(faces, status=[status] * 3, source=["a", "b", "c"])
    kw = dict(hidden_layer_sizes=(12, 5), max_iter=10, random_state=3)
    out = SparseAutoencoder(**kw).fit(X).transform(X)
    assert isinstance(out, ClipSet) and out.get("source") == ["a", "b", "c"]
    assert [s.shape for s in out.data] == [(4, 5)] * 3
    assert all(np.isfinite(s).all() and (s > 0).all() and (s < 1).all() for s in out.data)
    again = SparseAutoencoder(**kw).fit(X).transform(X)
    for a, b in zip(out.data, again.data):
        np.testing.assert_array_equal(a, b)
    assert SparseAutoencoder(**kw).fit(X).n_frames_fit_ == 9  # "missing" frames left out


def test_other_sizes_colour_and_constant_frames_are_handled():
    rng = np.random.RandomState(1)
    clips = [
        rng.randint(0, 256, (2, 48, 40, 3)).astype(np.uint8),  # colour, another size
        np.full((2, 10, 12), 7, np.uint8),  # constant frames scale to 0, not NaN
    ]
    sae = SparseAutoencoder(hidden_layer_sizes=(6,), max_iter=5, random_state=0).fit(clips)
    out = sae.transform(clips)
    assert [s.shape for s in out] == [(2, 6), (2, 6)]
    assert all(np.isfinite(s).all() for s in out)


def test_bad_parameters_and_changed_frame_size():
    with pytest.raises(InvalidParameterError, match="sparsity_target"):
        SparseAutoencoder(sparsity_target=1.5).fit(_faces())
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        SparseAutoencoder(hidden_layer_sizes=(4, 0)).fit(_faces())
    sae = SparseAutoencoder(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(_faces())
    sae.set_params(frame_size=(12, 12))
    with pytest.raises(ValueError, match="frame_size changed"):
        sae.transform(_faces())
    X = ClipSet(_faces(1), status=[np.array(["missing"] * 4)])
    with pytest.raises(ValueError, match="no usable frame"):
        SparseAutoencoder(max_iter=2).fit(X)
