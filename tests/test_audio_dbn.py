"""The EmoNets audio model (3.2.3-3.2.4): top-N pooling, eq. 2-4 optimiser, max-norm, DBN init."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _torch_threads import one_torch_thread  # noqa: F401 (a fixture)
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback

from skfer import ClipSet
from skfer.features import AudioFeatures
from skfer.neural.audio_dbn import (
    AudioDBNClassifier,
    AudioDBNModule,
    NesterovRMSprop,
    collate_sequences,
    top_n_pool,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"hidden_layer_sizes": (12, 10), "pretrain_epochs": 2, "max_epochs": 3,
         "validation_fraction": None, "device": "cpu", "random_state": 0}


def _sequences(n=24, n_features=5, seed=0):
    """Two classes of variable-length sequences whose frames differ in mean."""
    rng = np.random.RandomState(seed)
    X = [rng.normal(size=(rng.randint(3, 15), n_features)) + 1.5 * (i % 2) for i in range(n)]
    return X, np.array(["calm", "loud"] * (n // 2))


# ------------------------------------------------------------------------- pooling
def test_top_n_pool_by_hand():
    # Clip 0: 4 steps; clip 1: 3 real steps then padding (which holds a large decoy value).
    a = torch.tensor([
        [[1.0, 0.2], [4.0, 0.1], [2.0, 0.9], [3.0, 0.5]],
        [[0.5, 7.0], [0.7, 1.0], [0.6, 2.0], [9.0, 9.0]],
    ])
    mask = torch.tensor([[True, True, True, True], [True, True, True, False]])
    # Feature-wise top-2: clip 0 -> (4, 3) and (0.9, 0.5); clip 1 -> (0.7, 0.6) and (7, 2).
    train = top_n_pool(a, mask, (1.4, 0.6))
    expected_train = [[(1.4 * 4 + 0.6 * 3) / 2, (1.4 * 0.9 + 0.6 * 0.5) / 2],
                      [(1.4 * 0.7 + 0.6 * 0.6) / 2, (1.4 * 7 + 0.6 * 2) / 2]]
    np.testing.assert_allclose(train.numpy(), expected_train, rtol=1e-6)
    test = top_n_pool(a, mask, (1.3, 0.7))
    expected_test = [[(1.3 * 4 + 0.7 * 3) / 2, (1.3 * 0.9 + 0.7 * 0.5) / 2],
                     [(1.3 * 0.7 + 0.7 * 0.6) / 2, (1.3 * 7 + 0.7 * 2) / 2]]
    np.testing.assert_allclose(test.numpy(), expected_test, rtol=1e-6)


def test_top_n_pool_short_clips_and_gradient():
    one = torch.tensor([[[2.0, -1.0]]], requires_grad=True)
    pooled = top_n_pool(one, None, (1.4, 0.6))  # one step: the smallest value repeats
    np.testing.assert_allclose(pooled.detach().numpy(), [[2.0, -1.0]], rtol=1e-6)
    pooled.sum().backward()
    np.testing.assert_allclose(one.grad.numpy(), [[[1.0, 1.0]]])  # (1.4 + 0.6) / 2
    a = torch.tensor([[[1.0], [3.0], [2.0]]], requires_grad=True)
    top_n_pool(a, None, (1.4, 0.6)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy()[0, :, 0], [0.0, 0.7, 0.3])  # w_i / N
    with pytest.raises(ValueError, match="no time step"):
        top_n_pool(a.detach(), torch.zeros(1, 3, dtype=torch.bool), (1.4, 0.6))


def test_module_pools_with_train_and_test_weights():
    torch.manual_seed(0)
    module = AudioDBNModule(3, 2, hidden_layer_sizes=(4, 5), time_dropout=0.0,
                            feature_dropout=0.0)
    x = torch.randn(2, 6, 3)
    frames = module.frame_features(x)
    top2 = torch.topk(frames, 2, dim=1).values
    module.train()
    np.testing.assert_allclose(module.features(x).detach().numpy(),
                               ((1.4 * top2[:, 0] + 0.6 * top2[:, 1]) / 2).detach().numpy(),
                               rtol=1e-6)
    module.eval()
    np.testing.assert_allclose(module.features(x).detach().numpy(),
                               ((1.3 * top2[:, 0] + 0.7 * top2[:, 1]) / 2).detach().numpy(),
                               rtol=1e-6)
    assert frames.min() >= 0 and frames.max() <= 1  # the last layer is a sigmoid


def test_time_dropout_keeps_a_step_per_clip():
    torch.manual_seed(0)
    module = AudioDBNModule(3, 2, hidden_layer_sizes=(4,), time_dropout=0.99).train()
    x = torch.randn(8, 5, 3)
    mask = torch.zeros(8, 5, dtype=torch.bool)
    mask[:, 0] = True
    # With only the first step real, whatever is dropped the pooling sees step 0 alone.
    module.feature_dropout = 0.0
    module.dropout.p = 0.0
    expected = module.frame_features(x[:, :1])[:, 0]
    np.testing.assert_allclose(module.features(x, mask).detach().numpy(),
                               expected.detach().numpy(), rtol=1e-6)


# ----------------------------------------------------------------------- optimiser
def test_optimizer_matches_eq_2_to_4_on_a_quadratic():
    # f(theta) = 0.5 * sum(a * theta**2): gradient a * theta.
    a = np.array([1.0, 4.0])
    theta0 = np.array([1.0, -0.5])
    lr, mu, rho = 0.1, 0.46, 0.92
    # By hand (eq. 2-4, RMS_0 = v_0 = 0, eps = 0), step 1 of the first coordinate:
    # g = 1, RMS = 0.08, v = -0.1, theta = 1 + (0.46 * -0.1 - 0.1) / sqrt(0.08).
    first = 1 + (0.46 * -0.1 - 0.1) / np.sqrt(0.08)
    theta, rms, v, expected = theta0.copy(), np.zeros(2), np.zeros(2), []
    for _ in range(4):
        g = a * theta
        rms = rho * rms + (1 - rho) * g**2
        v = mu * v - lr * g
        theta = theta + (mu * v - lr * g) / np.sqrt(rms)
        expected.append(theta.copy())
    assert expected[0][0] == pytest.approx(first)

    w = torch.nn.Parameter(torch.tensor(theta0))
    opt = NesterovRMSprop([w], lr=lr, momentum=mu, rho=rho, eps=0.0)
    for step in range(4):
        opt.zero_grad()
        (0.5 * (torch.tensor(a) * w**2).sum()).backward()
        opt.step()
        np.testing.assert_allclose(w.detach().numpy(), expected[step], rtol=1e-12)

    # torch's RMSprop with momentum is a different rule (momentum of the scaled gradients).
    w2 = torch.nn.Parameter(torch.tensor(theta0))
    torch_opt = torch.optim.RMSprop([w2], lr=lr, momentum=mu, alpha=rho, eps=0.0)
    for _ in range(2):
        torch_opt.zero_grad()
        (0.5 * (torch.tensor(a) * w2**2).sum()).backward()
        torch_opt.step()
    assert not np.allclose(w2.detach().numpy(), expected[1])


def test_optimizer_weight_decay_and_bad_args():
    w = torch.nn.Parameter(torch.tensor([2.0]))
    opt = NesterovRMSprop([w], lr=0.1, momentum=0.0, rho=0.5, eps=0.0, weight_decay=0.5)
    w.grad = torch.tensor([0.0])  # the whole gradient is the L2 term 0.5 * 2 = 1
    opt.step()
    assert float(w.detach()) == pytest.approx(2 - 0.1 / np.sqrt(0.5))
    with pytest.raises(ValueError, match="momentum"):
        NesterovRMSprop([w], momentum=1.5)


# --------------------------------------------------------------------- estimator
class _NormRecorder(Callback):
    """Largest incoming-weight norm of the hidden units after every training update."""

    def initialize(self):
        self.norms = []
        return self

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training:
            self.norms.append(max(float(layer.weight.detach().norm(dim=1).max())
                                  for layer in net.module_.hidden))


def test_max_norm_holds_after_every_update():
    X, y = _sequences()
    recorder = _NormRecorder()
    clf = AudioDBNClassifier(**{**SMALL, "max_epochs": 4}, batch_size=4, max_norm=0.3,
                             lr=0.05, callbacks=[("norms", recorder)]).fit(X, y)
    norms = clf.net_.callbacks_[[n for n, _ in clf.net_.callbacks_].index("norms")][1].norms
    assert len(norms) == 4 * 6  # 24 clips in batches of 4, 4 epochs
    assert max(norms) <= 0.3 + 1e-6
    assert min(norms) > 0.29  # the bound is active (lr=0.05 pushes the weights past it)
    unbounded = AudioDBNClassifier(**{**SMALL, "max_epochs": 4}, batch_size=4, max_norm=None,
                                   lr=0.05).fit(X, y)
    assert max(float(layer.weight.detach().norm(dim=1).max())
               for layer in unbounded.net_.module_.hidden) > 0.3


def test_initial_mlp_is_the_dbn():
    X, y = _sequences()
    clf = AudioDBNClassifier(**{**SMALL, "max_epochs": 0}, max_norm=None).fit(X, y)
    rbm1, rbm2 = clf.rbms_
    module = clf.net_.module_
    frames = np.concatenate(X)
    z = (frames - module.mean.numpy()) / module.std.numpy()
    h1 = np.maximum(z @ module.hidden[0].weight.detach().numpy().T
                    + module.hidden[0].bias.detach().numpy(), 0)
    np.testing.assert_allclose(np.minimum(h1, 6.0), rbm1.transform(z), rtol=1e-4, atol=1e-5)
    # The second RBM saw the centred first-layer activations; the MLP folds the shift in.
    h1_rbm = rbm1.transform(z)
    scaled = h1_rbm - h1_rbm.mean(0)
    h2 = 1 / (1 + np.exp(-(h1_rbm @ module.hidden[1].weight.detach().numpy().T
                           + module.hidden[1].bias.detach().numpy())))
    np.testing.assert_allclose(h2, rbm2.transform(scaled), rtol=1e-4, atol=1e-5)
    assert rbm1.learning_rate == 6e-4 and rbm2.learning_rate == 5e-4
    assert rbm1.l2 == 2e-3 and rbm2.l2 == 2e-4


def test_fit_predict_reproducible_and_without_pretraining():
    X, y = _sequences()
    clf = AudioDBNClassifier(**{**SMALL, "max_epochs": 15}, lr=0.01).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (24, 2) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert (clf.predict(X) == y).mean() >= 0.9
    assert len(clf.rbms_) == 2 and clf.pretrain_time_ > 0 and clf.n_features_in_ == 5
    np.testing.assert_allclose(clone(clf).fit(X, y).predict_proba(X), proba, rtol=1e-5)
    plain = AudioDBNClassifier(**SMALL, pretrain=False).fit(X, y)
    assert plain.rbms_ == []
    # A 2-D array is n one-frame sequences; a ClipSet of sequences works as its data.
    assert clf.predict_proba(np.stack([s[0] for s in X])).shape == (24, 2)
    assert clf.predict(ClipSet(X)).shape == (24,)


def test_bfloat16_fine_tuning_learns_and_predicts_in_float64():
    X, y = _sequences()
    clf = AudioDBNClassifier(**{**SMALL, "max_epochs": 15}, lr=0.01, precision="bfloat16")
    clf.fit(X, y)
    assert clf.net_.precision == "bfloat16" and (clf.predict(X) == y).mean() >= 0.9
    # inference is float64 whatever the training precision: batch-independent probabilities
    one = np.vstack([clf.predict_proba([x]) for x in X[:4]])
    np.testing.assert_allclose(clf.predict_proba(X[:4]), one, rtol=1e-12)
    with pytest.raises(ValueError, match="precision"):
        AudioDBNClassifier(precision="float16").fit(X, y)


def test_collate_pads_and_masks():
    batch = [(torch.ones(2, 3), 0), (torch.ones(4, 3), 1)]
    inputs, y = collate_sequences(batch)
    assert inputs["x"].shape == (2, 4, 3) and y.tolist() == [0, 1]
    assert inputs["mask"].tolist() == [[True, True, False, False], [True] * 4]


def test_bad_input():
    X, y = _sequences()
    bad = [s.copy() for s in X]
    bad[3][1, 2] = np.nan
    with pytest.raises(ValueError, match="sequence 3"):
        AudioDBNClassifier(**SMALL).fit(bad, y)
    with pytest.raises(ValueError, match="AudioFeatures"):
        AudioDBNClassifier(**SMALL).fit(ClipSet([np.zeros((3, 8, 8))] * 24), y)
    clf = AudioDBNClassifier(**{**SMALL, "max_epochs": 1}).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict([np.zeros((4, 7))])
    with pytest.raises(ValueError, match="same number"):
        AudioDBNClassifier(**SMALL, top_n_test_weights=(1.0,)).fit(X, y)
    with pytest.raises(ValueError, match="pretrain_learning_rate"):
        AudioDBNClassifier(**{**SMALL, "hidden_layer_sizes": (4, 4, 4, 4)}).fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        AudioDBNClassifier(**{**SMALL, "hidden_layer_sizes": ()}).fit(X, y)


# ------------------------------------------------------- from waveforms (AudioFeatures)
def _tones(n=8, rate=8000, seconds=0.3):
    t = np.arange(int(rate * seconds)) / rate
    y = np.array(["low", "high"] * (n // 2))
    waves = [(0.3 * np.sin(2 * np.pi * (220 if lab == "low" else 1760) * t * (1 + 0.02 * i)))
             .astype(np.float32) for i, lab in enumerate(y)]
    return waves, y


def test_pipeline_from_sound_and_bad_tracks():
    waves, y = _tones()
    pipe = make_pipeline(AudioFeatures(sample_rate=8000, n_mfcc=12, n_mels=20),
                         AudioDBNClassifier(**{**SMALL, "max_epochs": 2}))
    X = ClipSet([np.zeros((2, 4, 4), np.uint8)] * len(waves), audio=waves,
                sample_rate=[8000] * len(waves))
    pipe.fit(X, y)
    assert pipe.predict(X).shape == (8,)
    # A track at another rate is resampled to AudioFeatures' rate, not refused.
    rates = [8000] * 7 + [16000]
    waves16 = waves[:7] + [np.repeat(waves[7], 2)]
    assert pipe.predict(X.replace(audio=waves16, sample_rate=rates)).shape == (8,)
    with pytest.warns(UserWarning, match=r"clips \[2\] have a silent"):
        pipe.predict(X.replace(audio=waves[:2] + [np.zeros(2400, np.float32)] + waves[3:]))
    with pytest.raises(ValueError, match="clip 1: .*shorter than one 25 ms"):
        pipe.predict(X.replace(audio=waves[:1] + [waves[1][:100]] + waves[2:]))
    with pytest.raises(ValueError, match="without an 'audio' companion"):
        pipe.predict(X.replace(audio=None, sample_rate=None))
    with pytest.raises(ValueError, match="clip 4: no audio track"):
        pipe.predict(X.replace(audio=waves[:4] + [None] + waves[5:]))
    with pytest.raises(ValueError, match="clip 0: NaN"):
        pipe.predict(X.replace(audio=[np.full(2400, np.nan, np.float32)] + waves[1:]))
