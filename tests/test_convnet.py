"""The EmoNets ConvNet: its torch module, augmentation, and the frame-model API."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from skfer import ClipSet
from skfer.neural import ConvNet
from skfer.neural.modules import EmoNetsConvNet, RandomCropFlip, SpatialResponseNorm
from skfer.preprocessing import FrameAggregator
from skfer.utils.estimator_checks import make_clip_data


@pytest.fixture(scope="module")
def data():
    return make_clip_data(n_clips=16, frame_size=(32, 32), random_state=1)


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return ConvNet(
        crop_size=(28, 28), flip=False, module__n_filters=(4, 4, 8), optimizer="adam",
        lr=0.01, max_epochs=3, batch_size=16, patience=None, random_state=0, verbose=0,
    ).fit(X, y)


# ------------------------------------------------------------------------- the module
def test_paper_architecture_shapes():
    net = EmoNetsConvNet().eval()
    x = torch.rand(2, 1, 48, 48) * 255
    assert net(x).shape == (2, 7)
    assert net.features(x).shape == (2, 128 * 5 * 5)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (64, (5, 5), (2, 2)), (64, (5, 5), (2, 2)), (128, (5, 5), (2, 2)),
    ]
    pools = [type(m).__name__ for m in net.modules() if "Pool" in type(m).__name__]
    assert pools == ["MaxPool2d", "AvgPool2d", "AvgPool2d"]
    norms = [m for m in net.modules() if isinstance(m, SpatialResponseNorm)]
    assert [(n.size, n.alpha, n.beta) for n in norms] == [(3, 5e-5, 0.75)] * 2


@pytest.mark.parametrize("options", [
    {"batch_norm": True, "dropout": 0.5}, {"lrn": "cross_channel"}, {"lrn": None},
    {"in_channels": 3, "n_classes": 2},
])
def test_module_options(options):
    net = EmoNetsConvNet(**options).eval()
    x = torch.rand(2, options.get("in_channels", 1), 48, 48)
    assert net(x).shape == (2, options.get("n_classes", 7))
    if options.get("batch_norm"):
        assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())


def test_module_rejects_other_frame_sizes():
    with pytest.raises(ValueError, match=r"takes \(N, C, 48, 48\) images, got .*\(2, 1, 40, 40\)"):
        EmoNetsConvNet()(torch.zeros(2, 1, 40, 40))


# ------------------------------------------------------------------- crop and flip
def test_crop_and_flip_happen_in_training_only():
    layer = RandomCropFlip((40, 40))
    x = torch.arange(64 * 48 * 48, dtype=torch.float32).reshape(64, 1, 48, 48)
    centre = x[:, :, 4:44, 4:44]
    layer.eval()
    torch.testing.assert_close(layer(x), centre)
    torch.testing.assert_close(layer(x), layer(x))
    layer.train()
    torch.manual_seed(0)
    out = layer(x)
    assert out.shape == (64, 1, 40, 40)
    # Each training crop is a 40x40 window of its own image, possibly mirrored.
    n_flipped, offsets = 0, set()
    for i in range(64):
        image = x[i, 0]
        for flipped in (False, True):
            crop = out[i, 0].flip(-1) if flipped else out[i, 0]
            top, left = divmod(int(crop[0, 0] - image[0, 0]), 48)
            if torch.equal(crop, image[top:top + 40, left:left + 40]):
                n_flipped += flipped
                offsets.add((top, left))
                break
        else:
            raise AssertionError(f"training output {i} is not a crop of its image")
    assert 15 < n_flipped < 49  # p = 0.5 of 64
    assert len(offsets) > 20  # random positions, not the centre
    torch.manual_seed(0)
    torch.testing.assert_close(layer(x), out)  # seeded through torch


def test_estimator_predictions_are_deterministic_centre_crops(fitted, data):
    X, _ = data
    np.testing.assert_array_equal(fitted.predict_proba(X), fitted.predict_proba(X))
    assert not fitted.net_.module_.training


# ------------------------------------------------------------------- frame model API
def test_clip_probability_is_the_mean_or_last_of_its_frames(fitted, data):
    X, _ = data
    frames = fitted.transform(X)
    assert [len(f) for f in frames] == [len(c) for c in X]
    np.testing.assert_allclose(
        fitted.predict_proba(X), np.stack([f.mean(axis=0) for f in frames]), rtol=1e-6
    )
    last = fitted.set_params(clip_aggregation="last").predict_proba(X)
    fitted.set_params(clip_aggregation="mean")
    np.testing.assert_allclose(last, np.stack([f[-1] for f in frames]), rtol=1e-6)


def test_transform_features(fitted, data):
    X, _ = data
    fitted.set_params(transform_output="features")
    try:
        feats = fitted.transform(X)
    finally:
        fitted.set_params(transform_output="proba")
    assert feats[0].shape == (len(X[0]), 8 * 3 * 3)  # 28 -> 14 -> 7 -> 3
    # clip_features reduces these frames to the clip as predict_proba reduces probabilities
    np.testing.assert_allclose(
        fitted.clip_features(X), np.stack([f.mean(axis=0) for f in feats]), rtol=1e-5
    )
    try:
        last = fitted.set_params(clip_aggregation="last").clip_features(X)
    finally:
        fitted.set_params(clip_aggregation="mean")
    np.testing.assert_allclose(last, np.stack([f[-1] for f in feats]), rtol=1e-5)


def test_clipset_in_clipset_out_and_missing_frames(fitted, data):
    X, _ = data
    status = [np.array(["detected"] * len(c), dtype=object) for c in X]
    status[0][0] = "missing"
    status[1][:] = "missing"
    Xs = ClipSet(X, status=status, source=[f"clip{i}.mp4" for i in range(len(X))])
    out = fitted.transform(Xs)
    assert isinstance(out, ClipSet) and out.get("source")[3] == "clip3.mp4"
    assert np.isnan(out[0][0]).all() and not np.isnan(out[0][1:]).any()
    plain = fitted.transform(X)
    with pytest.warns(UserWarning, match=r"clips \[1\] have no frame with a face"):
        proba = fitted.predict_proba(Xs)
    np.testing.assert_allclose(proba[0], plain[0][1:].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(proba[1], plain[1].mean(axis=0), rtol=1e-6)


def test_faceless_frames_are_not_trained_on(data):
    X, y = data
    status = [np.array(["detected"] * len(c), dtype=object) for c in X]
    status[0][:2] = "missing"
    status[1][:] = "missing"
    params = dict(crop_size=(28, 28), module__n_filters=(2, 2, 4), max_epochs=1, patience=None,
                  validation_fraction=None, random_state=0, verbose=0)
    with pytest.warns(UserWarning, match=r"clips \[1\] have no frame with a face"):
        net = ConvNet(**params).fit(ClipSet(X, status=status), y)
    assert net.n_missing_frames_skipped_ == 2
    assert ConvNet(**params).fit(X, y).n_missing_frames_skipped_ == 0


def test_error_names_the_file_of_a_clip_of_another_size(fitted, data):
    X, _ = data
    clips = list(X)
    clips[3] = clips[3][:, :24]
    Xs = ClipSet(clips, source=[f"f{i}.png" for i in range(len(clips))])
    with pytest.raises(ValueError, match=r"clip 3 \(f3.png\): 24x32 grey frames"):
        fitted.transform(Xs)


def test_paper_pipeline_convnet_aggregator_svc(data):
    X, y = data
    pipe = Pipeline([
        ("convnet", ConvNet(crop_size=(28, 28), flip=False, module__n_filters=(4, 4, 8),
                            optimizer="adam", lr=0.01, max_epochs=3, patience=None,
                            random_state=0, verbose=0)),
        ("aggregate", FrameAggregator(n_frames=10)),
        ("svm", SVC()),
    ]).fit(X, y)
    assert pipe.score(X, y) == 1.0
    assert pipe[:-1].transform(X).shape == (len(X), 10 * 2)


def test_colour_clips(data):
    X, y = make_clip_data(n_clips=8, frame_size=(32, 32), color=True)
    net = ConvNet(crop_size=(28, 28), module__n_filters=(2, 2, 4), max_epochs=1,
                  patience=None, random_state=0, verbose=0).fit(X, y)
    assert net.color_ and net.net_.module_.stage1[0].in_channels == 3
    with pytest.raises(ValueError, match="32x32 grey frames, but the network was fitted on "
                                         "32x32 colour"):
        net.predict(data[0])


def test_bfloat16_precision_trains_predicts_and_pickles(data):
    import pickle

    X, y = data
    params = dict(crop_size=(28, 28), flip=False, module__n_filters=(4, 4, 8),
                  optimizer="adam", lr=0.01, max_epochs=3, patience=None, random_state=0,
                  verbose=0)
    mixed = ConvNet(precision="bfloat16", **params).fit(X, y)
    plain = ConvNet(**params).fit(X, y)
    assert mixed.net_.precision == "bfloat16"
    assert mixed.score(X, y) == plain.score(X, y) == 1.0
    proba = mixed.predict_proba(X)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba, plain.predict_proba(X), atol=0.1)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(mixed)).predict_proba(X), proba)


def _fine_tuning_source():
    from skfer.utils.estimator_checks import make_clip_data

    X, y = make_clip_data(n_clips=12, frame_size=(24, 24))
    arch = {"crop_size": (20, 20), "module__n_filters": (2, 2, 4), "batch_norm": True,
            "random_state": 0, "verbose": 0, "validation_fraction": None, "patience": None}
    return X, y, ConvNet(max_epochs=2, **arch).fit(X, y), arch


def test_fine_tuning_head_first_body_slower_bn_statistics_kept():
    import torch

    X, y, source, arch = _fine_tuning_source()
    before = {k: v.clone() for k, v in source.net_.module_.state_dict().items()}
    # Head only (the body frozen for the only epoch), batch-norm statistics kept.
    head = ConvNet(init_from=source, max_epochs=1, head_epochs=1, freeze_bn_stats=True,
                   **arch).fit(X, y)
    after = head.net_.module_.state_dict()
    for name, value in before.items():
        if name.startswith(("stage", "classifier")):  # body (and its BN) kept, head moved
            assert torch.equal(value, after[name]) == name.startswith("stage"), name
    # A slower body: its parameter groups get body_lr, the head the net's lr.
    slow = ConvNet(init_from=source, max_epochs=1, lr=0.01, body_lr=0.001, **arch).fit(X, y)
    names = {id(p): n for n, p in slow.net_.module_.named_parameters()}
    for group in slow.net_.optimizer_.param_groups:
        kinds = {names[id(p)].startswith("stage") for p in group["params"]}
        assert len(kinds) == 1
        assert group["lr"] == (0.001 if kinds.pop() else 0.01)
