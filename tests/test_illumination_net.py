"""The illumination-invariant sub-network (section 3.3, eq. 2-3, Algorithm 1), input LRN, and
the LightingChange transformer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skfer import ClipSet
from skfer.neural.illumination_net import (
    FrameResponseNorm,
    IlluminationInvariantNet,
    moving_average_matrix,
)
from skfer.preprocessing import LightingChange


# ------------------------------------------------------------------------- Algorithm 1
def test_moving_average_matrix_against_hand_table():
    third = 1 / 3
    # nFrames = 5, wSize = 3: r = 1; rows 0 and 4 shrink to the frame itself.
    expected = np.array([
        [1, 0, 0, 0, 0],
        [third, third, third, 0, 0],
        [0, third, third, third, 0],
        [0, 0, third, third, third],
        [0, 0, 0, 0, 1],
    ])
    np.testing.assert_allclose(moving_average_matrix(5, 3), expected)
    # nFrames = 6, wSize = 5: r = 2; n = min(i, 2, 5 - i) = 0, 1, 2, 2, 1, 0.
    f = 1 / 5
    expected = np.array([
        [1, 0, 0, 0, 0, 0],
        [third, third, third, 0, 0, 0],
        [f, f, f, f, f, 0],
        [0, f, f, f, f, f],
        [0, 0, 0, third, third, third],
        [0, 0, 0, 0, 0, 1],
    ])
    np.testing.assert_allclose(moving_average_matrix(6, 5), expected)


def test_moving_average_matrix_edge_cases():
    np.testing.assert_array_equal(moving_average_matrix(4, 1), np.eye(4))
    np.testing.assert_array_equal(moving_average_matrix(1, 9), [[1.0]])
    # an even window acts as the odd one below it
    np.testing.assert_array_equal(moving_average_matrix(5, 4), moving_average_matrix(5, 3))
    a = moving_average_matrix(9, 9)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)  # the off-by-one fix: rows sum to 1
    np.testing.assert_allclose(a[4], 1 / 9)
    with pytest.raises(ValueError, match="window"):
        moving_average_matrix(5, 0)


# -------------------------------------------------------------------------- H(x)
def _clips(n=2, t=5, c=1, h=4, w=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, t, c, h, w, generator=g) * 200 + 1


def test_h_matches_formula():
    alpha, beta, gamma, delta = 0.7, 0.3, 1.5, 0.2
    net = IlluminationInvariantNet(n_frames=5, window=3, alpha=alpha, beta=beta,
                                   gamma=gamma, delta=delta)
    x = _clips()
    A = torch.as_tensor(moving_average_matrix(5, 3), dtype=torch.float32)
    F = torch.einsum("ts,nschw->ntchw", A, x)
    expected = np.exp(delta) * x / (alpha * F.abs() + beta) ** gamma
    torch.testing.assert_close(net(x), expected, rtol=1e-5, atol=1e-6)
    # pixel by pixel by hand: frame 2 at pixel (0, 1, 2) of clip 1
    xs = x[1, :, 0, 1, 2].double()
    f2 = xs[1:4].mean()
    by_hand = np.exp(delta) * xs[2] / (alpha * abs(f2) + beta) ** gamma
    assert float(net(x).detach()[1, 2, 0, 1, 2]) == pytest.approx(float(by_hand), rel=1e-5)


def test_tau_eta_parametrisation_is_eq3():
    tau, eta = 2.0, 5.0
    net = IlluminationInvariantNet.from_tau_eta(tau=tau, eta=eta, n_frames=5)
    assert float(net.alpha) == pytest.approx(eta / tau) and float(net.beta) == 1 / tau
    x = _clips()
    F = net.filter(x)
    torch.testing.assert_close(net(x), tau * x / (1 + eta * F.abs()), rtol=1e-5, atol=1e-6)


def test_scale_invariance_for_small_beta():
    net = IlluminationInvariantNet(n_frames=5, alpha=1.0, beta=1e-6)
    x = _clips()
    for k in (0.3, 2.0, 10.0):
        torch.testing.assert_close(net(k * x), net(x), rtol=1e-4, atol=1e-5)
    # and it is not invariant with a large beta (the test can fail)
    net = IlluminationInvariantNet(n_frames=5, alpha=1.0, beta=10.0)
    assert not torch.allclose(net(2 * x), net(x), rtol=1e-2)


def test_switched_off_is_identity():
    net = IlluminationInvariantNet(n_frames=5, alpha=3.0, beta=0.5, gamma=0.0, delta=0.0)
    x = _clips()
    torch.testing.assert_close(net(x), x)
    # identity even where the log's argument is 0 (beta = 0, F = 0): 0 * inf guarded
    net = IlluminationInvariantNet(n_frames=5, alpha=1.0, beta=0.0, gamma=0.0, delta=0.0)
    x[0, :, 0, 0, 0] = 0
    torch.testing.assert_close(net(x), x)


def test_nan_after_the_log_is_guarded():
    net = IlluminationInvariantNet(n_frames=5, alpha=1.0, beta=0.0)
    x = _clips()
    x[0, :, 0, :2, :2] = 0  # F = 0 there: log(0) = -inf, then 0 * e^inf = NaN unguarded
    x.requires_grad_(True)
    out = net(x)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(net.temporal.grad).all()
    # what an unguarded chain would give
    F = net.filter(x.detach())
    raw = x.detach() * torch.exp(-torch.log(F.abs()))
    assert torch.isnan(raw).any()


def test_temporal_conv_is_trained_alpha_beta_fixed():
    net = IlluminationInvariantNet(n_frames=5)
    assert [n for n, p in net.named_parameters() if p.requires_grad] == ["temporal"]
    assert {"alpha", "beta", "gamma", "delta"} <= set(dict(net.named_buffers()))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    before = net.temporal.detach().clone()
    net(_clips()).pow(2).mean().backward()
    opt.step()
    assert not torch.equal(before, net.temporal)
    frozen = IlluminationInvariantNet(n_frames=5, trainable=False)
    assert not any(p.requires_grad for p in frozen.parameters())


def test_wrong_frame_count_and_bad_constants():
    net = IlluminationInvariantNet(n_frames=9)
    with pytest.raises(ValueError, match="built for 9 frames.*have 5"):
        net(_clips(t=5))
    with pytest.raises(ValueError, match="not both 0"):
        IlluminationInvariantNet(alpha=0.0, beta=0.0)
    with pytest.raises(ValueError, match="tau"):
        IlluminationInvariantNet.from_tau_eta(tau=0.0)


def test_frame_lrn_is_across_frames():
    lrn = FrameResponseNorm(size=3, alpha=1.0, beta=0.5, k=1.0)
    x = _clips(t=4, c=3) / 100
    out = lrn(x)
    assert out.shape == x.shape
    # frame 1 at a pixel and channel: neighbours 0, 1, 2 by hand
    v = x[0, :, 2, 1, 1].double()
    expected = v[1] / (1 + 1.0 / 3 * (v[0:3] ** 2).sum()) ** 0.5
    assert float(out[0, 1, 2, 1, 1]) == pytest.approx(float(expected), rel=1e-5)


# ---------------------------------------------------------------------- LightingChange
def test_lighting_change_seeded_and_multiplicative():
    clips = [np.full((6, 8, 8), 100, np.uint8), np.full((4, 8, 8, 3), 50, np.uint8)]
    tr = LightingChange(ramp=0.4, flicker=0.2, side_light=0.0, random_state=3).fit(clips)
    out, info = tr.transform_with_info(clips)
    again = tr.transform(clips)
    for a, b, c, i in zip(out, again, clips, info):
        assert a.dtype == np.float32 and a.shape == c.shape
        np.testing.assert_array_equal(a, b)  # same int seed, same lighting
        # no side light: every frame is a uniform multiple, the drawn gain
        gains = a.reshape(len(a), -1) / c.reshape(len(c), -1).astype(np.float32)
        np.testing.assert_allclose(gains, np.repeat(i["gain"][:, None], gains.shape[1], 1),
                                   rtol=1e-5)
    # a subset gets the same lighting (seeded by the clip's pixels)
    np.testing.assert_array_equal(tr.transform(clips[1:])[0], out[1])
    # a ClipSet keeps its companions
    cs = ClipSet(clips, source=["a", "b"])
    assert tr.transform(cs).get("source") == ["a", "b"]


def test_lighting_change_side_light_and_invariance_of_h():
    clip = np.full((9, 16, 16), 120, np.uint8)
    lit = LightingChange(ramp=0.0, flicker=0.0, side_light=0.8,
                         random_state=0).fit_transform([clip])[0]
    assert lit[0].std() == pytest.approx(0, abs=1e-4)  # no side light at the first frame
    assert lit[-1].std() > 10  # full side light at the last
    # a global flicker is removed by H when beta -> 0 and the window spans the clip
    flick = LightingChange(ramp=0.5, flicker=0.3, side_light=0.0, random_state=1)
    rng = np.random.RandomState(0)
    face = rng.uniform(50, 200, (1, 16, 16)).repeat(9, 0).astype(np.uint8)
    relit = flick.fit_transform([face])[0]
    net = IlluminationInvariantNet(n_frames=9, window=1, alpha=1.0, beta=1e-6)
    h_face = net(torch.as_tensor(face, dtype=torch.float32)[None, :, None])
    h_relit = net(torch.as_tensor(relit)[None, :, None])
    torch.testing.assert_close(h_relit, h_face, rtol=1e-3, atol=1e-4)


def test_lighting_change_params():
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="ramp"):
        LightingChange(ramp=1.0).fit([np.zeros((2, 4, 4))])
