"""The semi-supervised spatio-temporal autoencoder: module shapes, eq. 1's loss, the estimator
(labels -1, beta="auto", alpha decay, greedy pretraining, front ends) and its bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from skfer.datasets import make_expressions
from skfer.neural import SemiSupervisedVideoAutoencoder
from skfer.neural._training import train_epochs
from skfer.neural.callbacks import TrainingDivergedError
from skfer.neural.modules_video_autoencoder import VideoAutoencoderNet, semi_supervised_loss
from skfer.neural.video_autoencoder import unlabelled_mask
from skfer.utils.estimator_checks import make_clip_data

TINY = {
    "module__conv": ((4, 3, 3, 2, 2), (4, 3, 2, 2, 2), (4, 3, 2, 1, 2)),
    "module__fc": (16,),
    "module__predictor": (8,),
}


@pytest.fixture(scope="module")
def data():
    X, y = make_clip_data(n_clips=16, frame_size=(24, 24), random_state=1)
    return X, y


@pytest.fixture(scope="module")
def semi_y(data):
    y = data[1].astype(object)
    y[np.arange(len(y)) % 4 >= 2] = -1  # half of each class unlabelled
    return y


@pytest.fixture(scope="module")
def fitted(data, semi_y):
    return SemiSupervisedVideoAutoencoder(
        max_epochs=3, batch_size=8, lr=0.003, on_short="ignore", random_state=0, **TINY
    ).fit(data[0], semi_y)


# ----------------------------------------------------------------------------- module
def test_small_preset_slow_fusion_shapes():
    net = VideoAutoencoderNet(n_classes=7, input_size=(48, 48), mean=100, std=50)
    assert [s[1] for s in net.shapes] == [9, 4, 2, 1]  # 9 -> 4 -> 2 -> 1 frames
    x = torch.rand(2, 9, 1, 48, 48) * 255
    logits, recon, target = net.forward_all(x)
    assert logits.shape == (2, 7) and recon.shape == target.shape == x.shape
    assert net.features(x).shape == (2, 128)
    # greedy stages reconstruct the input shape at every depth
    for depth in range(1, net.n_stages + 1):
        assert net.reconstruct(target, depth).shape == x.shape


def test_paper_preset_sizes():
    with torch.device("meta"):  # 266 M weights: shapes only, no memory
        net = VideoAutoencoderNet(n_classes=8, input_size=(145, 145), preset="paper")
    assert net.shapes == [(1, 9, 145, 145), (96, 4, 34, 34), (256, 2, 15, 15), (384, 1, 7, 7)]
    linear = [m.out_features for m in net.modules() if isinstance(m, torch.nn.Linear)]
    # FC4096-FC4096 | decoder FC4096-FC(384*7*7) | predictor 8192-4096-1000-500-8
    assert linear == [4096, 4096, 4096, 384 * 49, 8192, 4096, 1000, 500, 8]
    kernels = [m.kernel_size for m in net.encoder.modules() if isinstance(m, torch.nn.Conv3d)]
    assert kernels == [(3, 11, 11), (2, 5, 5), (2, 3, 3)]


def test_too_few_frames_for_the_temporal_kernels():
    with pytest.raises(ValueError, match="convolution 0.*2 frames.*temporal kernel"):
        VideoAutoencoderNet(n_classes=2, n_frames=2, input_size=(48, 48))
    with pytest.raises(ValueError, match="convolution 2"):
        VideoAutoencoderNet(n_classes=2, n_frames=5, input_size=(48, 48))
    net = VideoAutoencoderNet(n_classes=2, input_size=(48, 48))
    with pytest.raises(ValueError, match="resample the clips to 9 frames"):
        net(torch.zeros(1, 5, 1, 48, 48))


# ------------------------------------------------------------------------------ loss
def test_only_labelled_clips_enter_the_ce_term():
    torch.manual_seed(0)
    logits = torch.randn(6, 3, requires_grad=True)
    y = torch.tensor([0, -1, 2, -1, -1, 1])
    recon, target = torch.randn(6, 4), torch.randn(6, 4)
    total, ce, rec = semi_supervised_loss(logits, y, recon, target, alpha=0.5, beta=2.0)
    lab = y >= 0
    expected_ce = torch.nn.functional.cross_entropy(logits[lab], y[lab])
    torch.testing.assert_close(ce, expected_ce)
    torch.testing.assert_close(rec, ((recon - target) ** 2).mean())
    torch.testing.assert_close(total, 2.0 * expected_ce + 0.5 * rec)
    total.backward()
    assert torch.all(logits.grad[~lab] == 0) and torch.all(logits.grad[lab].abs().sum(1) > 0)
    # changing an unlabelled clip's logits changes nothing
    other = logits.detach().clone()
    other[~lab] += 100.0
    _, ce2, _ = semi_supervised_loss(other, y, recon, target, alpha=0.5, beta=2.0)
    torch.testing.assert_close(ce2, expected_ce.detach())
    # a batch of unlabelled clips only: CE is 0 (not a NaN mean over no clip)
    _, ce3, _ = semi_supervised_loss(logits, torch.full((6,), -1), recon, target,
                                     alpha=1.0, beta=1.0)
    assert float(ce3.detach()) == 0.0


def test_fitted_net_uses_eq1_with_only_labelled_ce(fitted):
    net = fitted.net_
    logits = torch.randn(4, 2)
    recon, target = torch.zeros(4, 3), torch.ones(4, 3)
    y = torch.tensor([1, -1, -1, 0])
    loss = net.get_loss((logits, recon, target), y, training=False)
    alpha = net.current_alpha()
    ce = torch.nn.functional.cross_entropy(logits[[0, 3]], y[[0, 3]])
    torch.testing.assert_close(loss, fitted.beta_ * ce + alpha * torch.tensor(1.0))


# ------------------------------------------------------------------------- estimator
def test_fit_on_labelled_and_unlabelled(fitted, data, semi_y):
    X, y = data
    assert fitted.classes_.tolist() == ["anger", "happiness"]
    assert (fitted.n_labelled_, fitted.n_unlabelled_) == (8, 8)
    assert fitted.predict_proba(X).shape == (16, 2)
    assert set(fitted.predict(X)) <= {"anger", "happiness"}
    assert fitted.encode(X).shape == (16, 16)
    rec = fitted.reconstruct(X[:3])
    assert len(rec) == 3 and rec[0].shape == (9, 24, 24)
    assert fitted.reconstruction_error(X[:3]).shape == (3,)
    h = fitted.history_
    assert h[:, "alpha"] == pytest.approx([1.0, 0.9, 0.81])  # alpha decayed per epoch
    assert len(h[0, "batches", :, "ce"]) == 2


def test_beta_auto_puts_ce_an_order_of_magnitude_above(fitted):
    init = fitted.initial_losses_
    assert init["ratio"] == pytest.approx(10.0)
    assert fitted.beta_ == pytest.approx(10.0 * 1.0 * init["rec"] / init["ce"])
    # CE starts near ln(2) for an untrained 2-class predictor
    assert init["ce"] == pytest.approx(np.log(2), abs=0.2)


def test_fixed_beta_and_predictor_alone(data):
    X, y = data
    net = SemiSupervisedVideoAutoencoder(beta=3.0, alpha=0.0, max_epochs=1, on_short="ignore",
                                         random_state=0, **TINY).fit(X, y)
    assert net.beta_ == 3.0 and net.initial_losses_["ratio"] == float("inf")
    assert net.n_unlabelled_ == 0


def test_seeded_fit_is_repeatable(data, semi_y):
    X, _ = data
    est = SemiSupervisedVideoAutoencoder(max_epochs=1, on_short="ignore", random_state=3, **TINY)
    a = est.fit(X, semi_y).predict_proba(X)
    b = est.fit(X, semi_y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_reconstruction_loss_falls_during_pretraining():
    bunch = make_expressions(n_subjects=2, n_clips_per_expression=1, frame_size=(64, 64),
                             expressions=("anger", "happiness", "surprise"), n_frames=9,
                             color=False, random_state=0)
    y = np.full(len(bunch.data), -1, dtype=object)
    y[:2] = bunch.target[:2]
    net = SemiSupervisedVideoAutoencoder(
        pretrain_epochs=4, max_epochs=0, batch_size=2, lr=0.003, random_state=0,
        module__conv=((4, 5, 3, 2, 2), (4, 3, 2, 2, 2), (4, 3, 2, 2, 2)), module__fc=(16,),
        module__predictor=(8,),
    ).fit(bunch.data, y)
    stages = {}
    for row in net.pretrain_history_:
        stages.setdefault(row["stage"], []).append(row["rec"])
    assert sorted(stages) == [1, 2, 3, 4]  # three convolutions, then the bottleneck
    for stage, rec in stages.items():
        assert len(rec) == 4
        assert rec[-1] < rec[0], (stage, rec)
    assert stages[1][-1] < 0.8 * stages[1][0]


def test_epoch_helper_weights_batches_and_stops_before_a_diverged_epoch():
    """train_epochs (pretraining's loop): the epoch loss is the mean over items, and a
    diverged epoch raises, naming the stage and the rate, before it is yielded."""
    module = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(module.weight)
    data = torch.tensor([[0.0]] * 4 + [[1.0]])  # batch losses 0 (4 items) and 1 (1 item)
    frozen = torch.optim.SGD(module.parameters(), lr=0.0)

    def squared(batch):
        return ((module(batch) - batch) ** 2).mean()

    losses = train_epochs(2, lambda: (data[:4], data[4:]), squared, frozen, module=module,
                          owner="toy")
    assert list(losses) == pytest.approx([0.2, 0.2])  # not 0.5, the mean of the batches
    scale = iter([1.0, 1e5])
    epochs = train_epochs(2, lambda: [data[4:]], lambda b: squared(b) * next(scale), frozen,
                          module=module, owner="toy", rate_name="stage_lr", rate=0.1,
                          stage=" of stage 2")
    assert next(epochs) == 1.0
    with pytest.raises(TrainingDivergedError,
                       match=r"toy diverged at epoch 2 of stage 2: .*Lower stage_lr \(now 0.1\)"):
        next(epochs)


def test_pretraining_trains_only_the_new_layers(data):
    X, y = data
    est = SemiSupervisedVideoAutoencoder(pretrain_epochs=1, max_epochs=0, on_short="ignore",
                                         random_state=0, **TINY)
    net = est.fit(X, y).net_.module_
    fresh = SemiSupervisedVideoAutoencoder(max_epochs=0, on_short="ignore", random_state=0,
                                           **TINY).fit(X, y).net_.module_
    # every autoencoder layer was trained by some stage; the predictor by none
    for name in ("encoder.0.0.weight", "decoder.2.0.weight", "fc_encoder.0.weight"):
        assert not torch.equal(net.state_dict()[name], fresh.state_dict()[name]), name
    torch.testing.assert_close(net.classifier.weight, fresh.classifier.weight)
    assert all(p.requires_grad for p in net.parameters())  # restored after pretraining


@pytest.mark.parametrize("front_end", ["invariant", "lrn"])
def test_front_ends(data, semi_y, front_end):
    X, _ = data
    est = SemiSupervisedVideoAutoencoder(front_end=front_end, max_epochs=2, lr=0.01,
                                         on_short="ignore", random_state=0, **TINY)
    est.fit(X, semi_y)
    module = est.net_.module_
    assert torch.isfinite(torch.as_tensor(est.predict_proba(X))).all()
    # the front end's output is standardised on the training clips
    assert float(module.front_std) > 0
    if front_end == "invariant":
        # Algorithm 1's initialisation, then fine-tuned with the network
        from skfer.neural.illumination_net import moving_average_matrix

        init = torch.as_tensor(moving_average_matrix(9, 3), dtype=torch.float32)
        assert not torch.allclose(module.front.temporal, init)
        assert float(module.front.alpha) == pytest.approx(10.0)  # fixed: eta / tau


def test_invariant_model_ignores_a_global_gain(data, semi_y):
    # with beta -> 0 (tau large, eta / tau fixed) the whole network is scale invariant
    X, _ = data
    est = SemiSupervisedVideoAutoencoder(front_end="invariant", tau=1e6, eta=1e7,
                                         max_epochs=1, on_short="ignore", random_state=0,
                                         **TINY).fit(X, semi_y)
    X9 = [c.astype(np.float32) + 1 for c in X]
    np.testing.assert_allclose(est.predict_proba([2.5 * c for c in X9]),
                               est.predict_proba(X9), atol=1e-4)


# ---------------------------------------------------------------------------- labels
def test_unlabelled_mask():
    assert unlabelled_mask([0, -1, 2]).tolist() == [False, True, False]
    assert unlabelled_mask(np.array([1.0, -1.0])).tolist() == [False, True]
    assert unlabelled_mask(np.array(["a", "-1"])).tolist() == [False, True]


def test_integer_labels_with_minus_one(data):
    X, y = data
    yi = np.where(y == "anger", 3, 7)
    yi[::4] = -1
    est = SemiSupervisedVideoAutoencoder(max_epochs=1, on_short="ignore", random_state=0,
                                         **TINY).fit(X, yi)
    assert est.classes_.tolist() == [3, 7]
    assert est.n_unlabelled_ == 4


# ------------------------------------------------------------------------- bad input
def test_all_unlabelled_is_an_error(data):
    X, _ = data
    est = SemiSupervisedVideoAutoencoder(max_epochs=1, on_short="ignore", **TINY)
    with pytest.raises(ValueError, match="all 16 clips are unlabelled.*nothing to predict"):
        est.fit(X, [-1] * len(X))


def test_one_labelled_class_is_an_error(data):
    X, y = data
    y1 = np.full(len(X), -1, dtype=object)
    y1[0] = y[0]
    with pytest.raises(ValueError, match="at least 2 classes"):
        SemiSupervisedVideoAutoencoder(max_epochs=1, on_short="ignore", **TINY).fit(X, y1)


def test_classes_must_not_hold_minus_one(data, semi_y):
    est = SemiSupervisedVideoAutoencoder(classes=["anger", -1], on_short="ignore", **TINY)
    with pytest.raises(ValueError, match="classes must not hold -1"):
        est.fit(data[0], semi_y)


def test_short_clips(data, semi_y):
    X, _ = data
    est = SemiSupervisedVideoAutoencoder(max_epochs=1, on_short="raise", **TINY)
    with pytest.raises(ValueError, match="fewer frames than n_frames=9 \\(first: clip 0"):
        est.fit(X, semi_y)
    with pytest.warns(UserWarning, match="interpolated in time to 9 frames"):
        SemiSupervisedVideoAutoencoder(max_epochs=1, on_short="warn", **TINY).fit(X, semi_y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SemiSupervisedVideoAutoencoder(n_frames=3, max_epochs=1, on_short="warn",
                                       module__conv=((4, 3, 3, 2, 1),), module__fc=(8,),
                                       module__predictor=(4,)).fit(X, semi_y)


def test_n_frames_below_the_temporal_kernel(data, semi_y):
    est = SemiSupervisedVideoAutoencoder(n_frames=2, max_epochs=1, on_short="ignore")
    with pytest.raises(ValueError, match="fewer frames than its temporal kernel"):
        est.fit(data[0], semi_y)


def test_clips_of_different_sizes(data, semi_y, fitted):
    X, _ = data
    bad = list(X)
    bad[5] = np.zeros((6, 20, 24), np.uint8)
    with pytest.raises(ValueError, match="clip 5: 20x24 grey frames, but clip 0 has 24x24"):
        SemiSupervisedVideoAutoencoder(max_epochs=1, on_short="ignore", **TINY).fit(bad, semi_y)
    with pytest.raises(ValueError, match="clip 5.*fitted on 24x24"):
        fitted.predict(bad)


def test_validation_split_among_labelled_clips_only(data, semi_y):
    X, _ = data
    groups = np.repeat(np.arange(8), 2)
    est = SemiSupervisedVideoAutoencoder(validation_fraction=0.25, patience=2, max_epochs=2,
                                         on_short="ignore", random_state=0, **TINY)
    est.fit(X, semi_y, groups=groups)
    split = est.validation_split_
    labelled = ~unlabelled_mask(semi_y)
    assert split.by == "subject" and len(split.valid) > 0
    assert labelled[split.valid].all()  # unlabelled clips always train
    assert set(np.flatnonzero(~labelled)) <= set(split.train)
    assert not set(groups[split.valid]) & set(groups[split.train][labelled[split.train]])
    assert "valid_loss" in est.history_[-1]


def test_init_from_copies_the_network(fitted, data, semi_y):
    X, _ = data
    est = SemiSupervisedVideoAutoencoder(init_from=fitted, max_epochs=0, on_short="ignore",
                                         random_state=1, **TINY).fit(X, semi_y)
    np.testing.assert_allclose(est.predict_proba(X), fitted.predict_proba(X), atol=1e-6)
