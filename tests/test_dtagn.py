"""DTAN, DTGN and DTAGN (Jung et al., ICCV 2015) on the synthetic data with true landmarks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from imblearn.pipeline import make_pipeline
from sklearn.base import clone
from sklearn.ensemble import VotingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GroupKFold, cross_val_score

from skfer import ClipSet
from skfer.augmentation import ImageSequenceAugmenter
from skfer.datasets import make_expressions
from skfer.neural.callbacks import TrainingDivergedError
from skfer.neural.dtagn import DTAGN, DTAN, DTGN, weighted_sum
from skfer.neural.modules_dtagn import DTANNet, DTGNNet, LocalContrastNorm, dtagn_loss
from skfer.preprocessing import select_landmarks

SMALL_STAGES = ((5, 8, 5, 2), (5, 8, 3, 2))


def _resize(clip, size=(48, 48)):
    return np.stack([cv2.resize(f, size[::-1], interpolation=cv2.INTER_AREA) for f in clip])


@pytest.fixture(scope="module", autouse=True)
def _one_thread_for_module_fixtures():
    # On 2 cores shared with other jobs, one torch thread is several times faster than two.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data():
    """18 grey 48x48 clips (3 subjects x 6 expressions) with their true 68 landmarks."""
    bunch = make_expressions(n_subjects=3, n_clips_per_expression=1, n_frames=(5, 8),
                             frame_size=(64, 64), color=False, random_state=0)
    clips = [_resize(c) for c in bunch.data]
    landmarks = [p * 48 / 64 for p in bunch.landmarks]
    return ClipSet(clips, landmarks=landmarks), np.asarray(bunch.target), bunch.groups


def _dtan(**kw):
    params = dict(n_frames=4, max_epochs=3, optimizer="adam", lr=1e-3, random_state=0,
                  module__stages=SMALL_STAGES, module__hidden=(32, 32))
    return DTAN(**{**params, **kw})


def _dtgn(**kw):
    return DTGN(**{**dict(n_frames=4, max_epochs=20, optimizer="adam", lr=1e-3,
                          random_state=0), **kw})


@pytest.fixture(scope="module")
def joint(data):
    X, y, _ = data
    return DTAGN(_dtan(), _dtgn(), finetune_epochs=5, random_state=0).fit(X, y)


# ------------------------------------------------------------------------- modules
def test_dtan_architectures():
    net = DTANNet(n_classes=7, n_frames=3, input_size=(64, 64)).eval()
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    # eq. 1: the first convolution's input channels are the T frames
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (3, 64, (5, 5)), (64, 64, (5, 5))]
    assert [m.size for m in net.modules() if isinstance(m, LocalContrastNorm)] == [5, 3]
    fcs = [m.out_features for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert fcs == [500, 500, 7]  # FC500-FC500-S7
    assert net(torch.zeros(2, 3, 1, 64, 64)).shape == (2, 7)
    mmi = DTANNet(n_classes=6, n_frames=3, input_size=(64, 64), preset="mmi").eval()
    convs = [m for m in mmi.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [(32, (5, 5)), (32, (3, 3))]
    assert [m.out_features for m in mmi.modules() if isinstance(m, torch.nn.Linear)] == [30, 6]
    assert DTANNet(n_frames=3, input_size=(48, 48))(torch.zeros(1, 3, 1, 48, 48)).shape == (1, 7)
    with pytest.raises(ValueError, match=r"clips \(N, 3, 1, 48, 48\)"):
        DTANNet(n_frames=3, input_size=(48, 48))(torch.zeros(1, 4, 1, 48, 48))


def test_dtgn_architectures():
    net = DTGNNet(n_inputs=1176, n_classes=7)
    assert [m.out_features for m in net.modules() if isinstance(m, torch.nn.Linear)] == [
        100, 600, 7]
    mmi = DTGNNet(n_inputs=1176, n_classes=6, preset="mmi")
    assert [m.out_features for m in mmi.modules() if isinstance(m, torch.nn.Linear)] == [
        100, 200, 6]


def test_loss_is_the_three_term_sum():
    rng = np.random.RandomState(0)
    l1, l2 = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    y = np.array([0, 3, 1, 1, 2])

    def ce(z):  # mean cross-entropy of softmax(z), by hand
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -logp[np.arange(len(y)), y].mean()

    expected = 1.0 * ce(l1) + 1.0 * ce(l2) + 0.1 * ce(l1 + l2)
    got = dtagn_loss(torch.tensor(l1), torch.tensor(l2), torch.tensor(y))
    assert float(got) == pytest.approx(expected, rel=1e-12)
    got = dtagn_loss(torch.tensor(l1), torch.tensor(l2), torch.tensor(y), (0.5, 2.0, 3.0))
    assert float(got) == pytest.approx(0.5 * ce(l1) + 2 * ce(l2) + 3 * ce(l1 + l2), rel=1e-12)


# --------------------------------------------------------------------- the networks
def test_dtan_trains_and_predicts(data):
    X, y, _ = data
    net = _dtan(max_epochs=2).fit(X, y)
    proba = net.predict_proba(X)
    assert proba.shape == (len(y), 6)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert net.frame_size_ == (48, 48)
    assert net.net_.module_.conv[0].in_channels == 4  # T = 4 frames as channels
    np.testing.assert_array_equal(net.predict_proba(X.data), proba)  # landmarks unused
    with pytest.raises(ValueError, match="fitted on 48x48 grey frames"):
        net.predict([c[:, :40, :40] for c in X.data])


def test_dtan_learns():
    from skfer.utils.estimator_checks import make_clip_data

    X, y = make_clip_data(n_clips=16, frame_size=(24, 24), random_state=0)
    net = _dtan(n_frames=3, max_epochs=15, lr=3e-3).fit(X, y)
    assert net.score(X, y) == 1.0


def test_dtgn_trains_and_predicts(data):
    X, y, _ = data
    net = _dtgn(max_epochs=100).fit(X, y)
    assert net.n_points_in_ == 68 and net.net_.module_.n_inputs == 49 * 2 * 4
    assert net.score(X, y) > 0.5  # the true landmarks carry the expression
    assert net.predict_proba(X).shape == (len(y), 6)


def test_dtgn_68_points_reduced_to_the_intraface_49(data):
    X, y, _ = data
    X49 = X.replace(landmarks=[select_landmarks(p, "49") for p in X.get("landmarks")])
    a = _dtgn(max_epochs=2).fit(X, y)
    b = _dtgn(max_epochs=2).fit(X49, y)
    np.testing.assert_array_equal(a._check_X(X, reset=False), b._check_X(X49, reset=False))
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X49))
    with pytest.raises(ValueError, match="68-point landmarks but DTGN was fitted on 49-point"):
        b.predict(X)
    with pytest.raises(ValueError, match="49-point landmarks but DTGN was fitted on 68-point"):
        a.predict(X49)
    with pytest.raises(ValueError, match="49 points cannot give 68"):
        _dtgn(n_points=68).fit(X49, y)
    full = _dtgn(n_points=68, max_epochs=1).fit(X, y)
    assert full.net_.module_.n_inputs == 68 * 2 * 4


def test_dtgn_needs_landmarks(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="plain list of clips.*ClipSet"):
        _dtgn().fit(X.data, y)
    with pytest.raises(ValueError, match="ClipSet without landmarks"):
        _dtgn().fit(ClipSet(X.data), y)


def test_landmarks_of_the_wrong_length_are_refused(data):
    X, _, _ = data
    landmarks = list(X.get("landmarks"))
    landmarks[2] = landmarks[2][:-1]
    with pytest.raises(ValueError, match="clip 2: companion 'landmarks' has"):
        ClipSet(X.data, landmarks=landmarks)


def test_missing_landmarks_policy(data):
    X, y, _ = data
    landmarks = [p.copy() for p in X.get("landmarks")]
    landmarks[1][2] = np.nan  # one frame without landmarks
    landmarks[3][:] = np.nan  # a clip without any
    Xn = X.replace(landmarks=landmarks)
    with pytest.raises(ValueError, match=r"clip 1: frame 2 has no landmarks"):
        _dtgn(on_missing="raise").fit(Xn, y)
    with pytest.warns(UserWarning, match="1 frame.*interpolated.*1 clip.*mean training"):
        net = _dtgn(max_epochs=2).fit(Xn, y)
    assert net.missing_landmarks_.clips == [1] and net.missing_landmarks_.empty == [3]
    with pytest.warns(UserWarning, match="interpolated"):  # predict warns alike
        rows = np.stack(net._check_X(Xn, reset=False))
    np.testing.assert_array_equal(rows[3], net.mean_trajectory_.astype(np.float32))
    # the filled frame is the mean of its two neighbours
    filled = landmarks[1].copy()
    filled[2] = (filled[1] + filled[3]) / 2
    ref = X.replace(landmarks=[filled if i == 1 else p for i, p in enumerate(landmarks)])
    np.testing.assert_allclose(rows[1], np.stack(net._check_X(ref[[1]], reset=False))[0],
                               rtol=1e-6)
    # frames marked missing by a face tube count as frames without landmarks
    status = [np.array(["detected"] * len(c)) for c in X.data]
    status[0][0] = "missing"
    with pytest.raises(ValueError, match=r"clip 0: frame 0 has no landmarks"):
        _dtgn(on_missing="raise").fit(X.replace(status=status), y)


def test_short_clips_policy(data):
    X, y, _ = data
    with pytest.raises(ValueError, match=r"fewer frames than n_frames=12 \(first: clip 0"):
        _dtan(n_frames=12, on_short="raise").fit(X, y)
    with pytest.raises(ValueError, match=r"fewer frames than n_frames=12"):
        _dtgn(n_frames=12, on_short="raise").fit(X, y)
    with pytest.warns(UserWarning, match="interpolated in time to 12 frames"):
        _dtgn(n_frames=12, max_epochs=1).fit(X, y)


# --------------------------------------------------------------------------- DTAGN
def test_weighted_sum_with_half_is_the_soft_vote(joint, data):
    X, y, _ = data
    model = clone(joint).set_params(combination="weighted", alpha=0.5).fit(X, y)
    p, q = model.dtan_.predict_proba(X), model.dtgn_.predict_proba(X)
    np.testing.assert_allclose(model.predict_proba(X), (p + q) / 2)
    vote = VotingClassifier(
        [("dtan", FrozenEstimator(model.dtan_)), ("dtgn", FrozenEstimator(model.dtgn_))],
        voting="soft",
    ).fit(X, y)
    np.testing.assert_allclose(model.predict_proba(X), vote.predict_proba(X), rtol=1e-6)
    np.testing.assert_array_equal(model.predict(X), vote.predict(X))
    np.testing.assert_allclose(weighted_sum(p, q, 0.8), 0.8 * p + 0.2 * q, rtol=1e-6)
    assert model.joint_heads_ is None


def test_joint_finetuning_changes_only_the_two_top_layers(joint, data):
    X, y, _ = data
    # The same seeds without fine-tuning: the separately trained networks.
    separate = clone(joint).set_params(combination="weighted").fit(X, y)
    for mine, ref in ((joint.dtan_, separate.dtan_), (joint.dtgn_, separate.dtgn_)):
        a, b = mine.net_.module_.state_dict(), ref.net_.module_.state_dict()
        assert a.keys() == b.keys()
        for name in a:  # every body parameter and buffer bit-identical, heads included
            assert torch.equal(a[name], b[name]), name
    # The fine-tuned model is the frozen bodies + two retrained top layers.
    heads = joint.joint_heads_
    for key, net in (("appearance", joint.dtan_), ("geometry", joint.dtgn_)):
        top = net.net_.module_.classifier
        assert heads[key].weight.shape == top.weight.shape
        assert not torch.equal(heads[key].weight, top.weight)
        assert not torch.equal(heads[key].bias, top.bias)
    with torch.no_grad():
        m1, m2 = joint.dtan_.net_.module_, joint.dtgn_.net_.module_
        x1 = torch.stack([joint.dtan_._dataset(joint.dtan_._check_X(X, reset=False))[i][0]
                          for i in range(len(y))])
        x2 = torch.from_numpy(np.stack(joint.dtgn_._check_X(X, reset=False)))
        z = heads["appearance"](m1.features(x1)) + heads["geometry"](m2.features(x2))
    np.testing.assert_allclose(joint.predict_proba(X), torch.softmax(z, 1).numpy(), rtol=1e-5)
    l1, l2 = joint.joint_logits(X)
    np.testing.assert_allclose(l1 + l2, z.numpy(), rtol=1e-5, atol=1e-6)
    assert len(joint.finetune_loss_) == 5
    # Fine-tuning again does not touch the bodies either.
    before = {k: v.clone() for k, v in joint.dtan_.net_.module_.state_dict().items()}
    clone(joint).fit(X, y)
    for k, v in joint.dtan_.net_.module_.state_dict().items():
        assert torch.equal(v, before[k])


def test_joint_finetuning_is_a_skorch_net(data, monkeypatch, capsys):
    """The joint fine-tuning trains through skorch (issue 20): the features as a dict input,
    SGD 0.9 from the one builder (no decay on the biases), the epoch table when verbose,
    the same losses for the same seed."""
    from skfer.neural import dtagn

    nets = []
    original = dtagn.stage_net
    monkeypatch.setattr(dtagn, "stage_net",
                        lambda *a, **k: nets.append(original(*a, **k)) or nets[-1])
    X, y, _ = data
    model = DTAGN(_dtan(max_epochs=1), _dtgn(max_epochs=2), finetune_epochs=3,
                  finetune_weight_decay=0.01, random_state=0, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "joint fine-tuning" in out and "train_loss" in out
    net = nets[0]
    assert model.finetune_loss_ == net.history[:, "train_loss"] and len(model.finetune_loss_) == 3
    assert isinstance(model.joint_heads_, torch.nn.ModuleDict)
    assert list(model.joint_heads_) == ["appearance", "geometry"]
    assert not model.joint_heads_.training
    groups = net.optimizer_.param_groups
    assert isinstance(net.optimizer_, torch.optim.SGD)
    assert [(len(g["params"]), g["weight_decay"], g["momentum"]) for g in groups] == [
        (2, 0.01, 0.9), (2, 0.0, 0.9)]  # the two weights, then the two biases
    again = clone(model).fit(X, y)
    assert again.finetune_loss_ == model.finetune_loss_
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))


def test_joint_finetuning_huge_rate_names_finetune_lr(data):
    """DTAGN finetune_lr=1e12 -> clear error naming the stage and its rate parameter."""
    X, y, _ = data
    model = DTAGN(_dtan(max_epochs=1), _dtgn(max_epochs=1), finetune_epochs=3,
                  finetune_lr=1e12, random_state=0)
    with pytest.raises(TrainingDivergedError,
                       match=r"DTAGN joint fine-tuning diverged at epoch \d+.*finetune_lr"):
        model.fit(X, y)


def test_dtagn_in_an_augmenting_pipeline_under_cross_validation(data):
    X, y, groups = data
    model = make_pipeline(
        ImageSequenceAugmenter(angles=(10,)),
        DTAGN(_dtan(max_epochs=1), _dtgn(max_epochs=2), finetune_epochs=1, random_state=0),
    )
    scores = cross_val_score(model, X, y, groups=groups, cv=GroupKFold(3))
    assert scores.shape == (3,)
    fitted = model.fit(X, y)
    # fit saw 4 copies of every clip (original, flip, rotation, its flip), predict the clips
    assert fitted[0].n_augmentations_ == 4
    assert fitted.predict(X).shape == (len(y),)


def test_dtagn_parameters(data):
    X, y, _ = data
    model = DTAGN(_dtan(), _dtgn()).set_params(dtan__max_epochs=1, dtgn__n_frames=3)
    assert model.get_params()["dtan__max_epochs"] == 1
    with pytest.raises(ValueError, match="lambdas must be three"):
        DTAGN(lambdas=(1, 1)).fit(X, y)
    with pytest.raises(ValueError, match="plain list of clips"):
        DTAGN(_dtan(max_epochs=1), _dtgn()).fit(X.data, y)


def test_clip_without_landmark_entry(data):
    X, y, _ = data
    landmarks = list(X.get("landmarks"))
    landmarks[0] = None  # e.g. a clip where the detector never ran
    net = _dtgn(max_epochs=1)
    with pytest.warns(UserWarning, match="1 clip.*without any landmarks.*clip 0"):
        net.fit(X.replace(landmarks=landmarks), y)
    assert net.missing_landmarks_.empty == [0] and net.n_points_in_ == 68


def test_trajectory_augmentation_mirrors_and_rotates_in_training_only():
    """DTGN's landmark augmentation (eq. 6, section 3.4's mirrors), drawn per batch: a row
    is itself or its exact mirror (x negated, points relabelled left/right); rotations keep
    every point's distance to the origin (the nose tip after eq. 3); evaluation is the
    identity."""
    from skfer.neural.modules_dtagn import RandomTrajectoryTransform
    from skfer.utils.landmark_scheme import flip_permutation

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(64, 3 * 49 * 2)).astype(np.float32))
    perm = flip_permutation(49)
    points = x.reshape(64, 3, 49, 2)
    mirror = (points[:, :, perm] * torch.tensor([-1.0, 1.0])).reshape(x.shape)
    flip = RandomTrajectoryTransform(49, flip=True)
    assert torch.equal(flip.eval()(x), x)
    torch.manual_seed(0)
    out = flip.train()(x)
    same = (out == x).all(1)
    mirrored = torch.isclose(out, mirror).all(1)
    assert bool((same | mirrored).all()) and 10 < int(mirrored.sum()) < 54
    torch.manual_seed(0)
    rotated = RandomTrajectoryTransform(49, flip=False, max_angle=0.3).train()(x)
    radius = points.norm(dim=-1)
    np.testing.assert_allclose(rotated.reshape(64, 3, 49, 2).norm(dim=-1), radius, rtol=1e-4)
    assert not torch.allclose(rotated, x)
    # The angle is per frame (the paper's theta^(t)): frames of one row differ in angle.
    p, q = points[0], rotated.reshape(64, 3, 49, 2)[0]
    angles = torch.atan2(q[..., 1], q[..., 0]) - torch.atan2(p[..., 1], p[..., 0])
    angles = torch.remainder(angles + np.pi, 2 * np.pi) - np.pi
    assert float(angles.std(dim=1).max()) < 1e-4  # one angle per frame ...
    assert float(angles.mean(dim=1).std()) > 1e-3  # ... a different one for each frame
    with pytest.raises(ValueError, match="n_points"):
        DTGNNet(n_inputs=294, flip=True)


def test_dtgn_with_landmark_augmentation(data):
    X, y, _ = data
    net = _dtgn(max_epochs=30, flip=True, max_angle=np.pi / 10).fit(X, y)
    assert net.net_.module_.augment.flip and net.net_.module_.augment.max_angle > 0
    p = net.predict_proba(X)  # evaluation mode: no augmentation, deterministic
    np.testing.assert_array_equal(p, net.predict_proba(X))


def test_dtagn_with_a_frame_network_as_appearance_member(data):
    """A frame network (the ConvNet) may take DTAN's place: its frame features are averaged
    over the clip and its top layer fine-tuned jointly with DTGN's; predictions are
    softmax(head_1(mean features) + head_2(DTGN features))."""
    from skfer.neural import ConvNet

    X, y, _ = data
    conv = ConvNet(max_epochs=2, crop_size=(40, 40), hidden_units=16, dropout=0.2,
                   validation_fraction=None, patience=None, random_state=0)
    model = DTAGN(conv, _dtgn(), finetune_epochs=3, random_state=0).fit(X, y)
    frames = model.dtan_.set_params(transform_output="features").transform(X)
    model.dtan_.set_params(transform_output="proba")
    mean = np.stack([f.mean(axis=0) for f in frames.data]).astype(np.float32)
    with torch.no_grad():
        x2 = torch.from_numpy(np.stack(model.dtgn_._check_X(X, reset=False)))
        z = (model.joint_heads_["appearance"](torch.from_numpy(mean))
             + model.joint_heads_["geometry"](model.dtgn_.net_.module_.features(x2)))
    np.testing.assert_allclose(model.predict_proba(X), torch.softmax(z, 1).numpy(),
                               rtol=1e-4, atol=1e-6)
    # Frames without a face are left out of the clip's mean; a clip with none is read on
    # all its frames (as the frame network's predict_proba reads it).
    status = [np.array(["detected"] * len(c), dtype=object) for c in X.data]
    status[0][0] = "missing"
    status[1][:] = "missing"
    marked = ClipSet(list(X.data), landmarks=list(X.get("landmarks")), status=status)
    rows = DTAGN._body_features(model.dtan_, marked)
    np.testing.assert_allclose(rows[0], frames.data[0][1:].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(rows[1], mean[1], rtol=1e-5)
    np.testing.assert_allclose(rows[2:], mean[2:], rtol=1e-5)
