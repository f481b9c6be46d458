"""Bad input to skfer's networks: divergence, frame sizes, labels, devices, short clips
(issue 16).

Tiny seeded networks (a few filters, one or two epochs, 32x32 clips of 3 frames), so that
each test takes about a second on a CPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from torch import nn

from skfer.neural import DTAN, AudioDBNClassifier, ConvNet, FaceNet2ExpNet
from skfer.neural._base import TrainingDivergedError, check_divergence
from skfer.neural.synchrony_autoencoder import train_synchrony_autoencoder
from skfer.neural.video_autoencoder import SemiSupervisedVideoAutoencoder

RNG = np.random.RandomState(0)
CLIPS = [RNG.randint(0, 256, (3, 32, 32)).astype(np.uint8) for _ in range(8)]
Y = np.array([0, 1] * 4)
TINY_CONVNET = {
    "crop_size": (28, 28), "max_epochs": 2, "batch_size": 32, "module__n_filters": (4, 4, 8),
    "patience": None, "device": "cpu", "random_state": 0, "verbose": 0,
}
TINY_DTAN = {
    "n_frames": 3, "max_epochs": 2, "module__stages": ((3, 4, 3, 2),), "module__hidden": (8,),
    "device": "cpu", "random_state": 0, "verbose": 0,
}
HUGE_LR = 1e12


def convnet(**params) -> ConvNet:
    return ConvNet(**{**TINY_CONVNET, **params})


def toy_teacher():
    """A one-conv 'face network' whose feature map is 1x1 on 32x32 frames."""
    return nn.Sequential(nn.Conv2d(1, 3, 3, stride=32, padding=1), nn.ReLU(), nn.Flatten())


# ------------------------------------------------------------------------------ divergence


def test_convnet_huge_learning_rate_diverges_loudly():
    """ConvNet with lr=1e12 -> clear error: TrainingDivergedError naming the epoch and lr."""
    # Before: the loss grew to 4e20, softmax saturated, class 0 for every clip, no warning.
    with pytest.raises(TrainingDivergedError,
                       match=r"ConvNet diverged at epoch 2: the training loss grew from "
                             r".* Lower lr \(now 1e\+12\)"):
        convnet(lr=HUGE_LR).fit(CLIPS, Y)


def test_bfloat16_convnet_huge_learning_rate_diverges_loudly():
    """ConvNet(precision="bfloat16") with lr=1e12 -> clear error: the same divergence check."""
    with pytest.raises(TrainingDivergedError, match="ConvNet diverged at epoch"):
        convnet(lr=HUGE_LR, precision="bfloat16").fit(CLIPS, Y)


def test_divergence_stops_before_early_stopping_restores_a_diverged_epoch():
    """ConvNet lr=1e12 with patience -> clear error: raised before EarlyStopping runs."""
    with pytest.raises(TrainingDivergedError, match="diverged at epoch"):
        convnet(lr=HUGE_LR, patience=1, validation_fraction=0.25).fit(CLIPS, Y)


def test_dtan_huge_learning_rate_diverges_loudly():
    """DTAN with lr=1e12 -> clear error: the base's skorch callback covers clip networks."""
    with pytest.raises(TrainingDivergedError, match=r"DTAN diverged at epoch \d+: .*Lower lr"):
        DTAN(**{**TINY_DTAN, "lr": HUGE_LR}).fit(CLIPS, Y)


def test_audio_dbn_huge_learning_rate_diverges_loudly():
    """AudioDBNClassifier with lr=1e12 -> clear error: no more one class for everything."""
    seqs = [RNG.rand(5, 4) for _ in range(8)]
    net = AudioDBNClassifier(hidden_layer_sizes=(16, 16), pretrain_epochs=2, max_epochs=3,
                             lr=HUGE_LR, validation_fraction=None, device="cpu",
                             random_state=0, verbose=0)
    with pytest.raises(TrainingDivergedError, match="AudioDBNClassifier diverged at epoch"):
        net.fit(seqs, Y)


def test_audio_dbn_huge_pretraining_rate_diverges_loudly():
    """AudioDBNClassifier pretrain_learning_rate=1e6 -> clear error: the RBM names its epoch."""
    seqs = [RNG.rand(5, 4) for _ in range(8)]
    net = AudioDBNClassifier(hidden_layer_sizes=(16, 16), pretrain_epochs=2, max_epochs=3,
                             pretrain_learning_rate=1e6, validation_fraction=None,
                             device="cpu", random_state=0, verbose=0)
    with pytest.raises(ValueError, match=r"RBM diverged at epoch \d+ .*lower learning_rate"):
        net.fit(seqs, Y)


def test_facenet2expnet_stage1_huge_rate_diverges_loudly():
    """FaceNet2ExpNet stage1_lr=1e12 -> clear error: stage 1's skorch net names stage1_lr."""
    net = FaceNet2ExpNet(teacher=toy_teacher(), teacher_layer="1", channels=(4,) * 5,
                         fc_size=8, stage1_epochs=3, stage1_lr=HUGE_LR, max_epochs=1,
                         optimizer="sgd", device="cpu", random_state=0, verbose=0)
    with pytest.raises(TrainingDivergedError,
                       match=r"FaceNet2ExpNet stage 1 diverged at epoch \d+.*stage1_lr"):
        net.fit(CLIPS, Y)


def test_video_autoencoder_pretraining_huge_rate_diverges_loudly():
    """SemiSupervisedVideoAutoencoder lr=1e12 -> clear error: pretraining or training names it."""
    clips = [RNG.randint(0, 256, (9, 24, 24)).astype(np.uint8) for _ in range(8)]
    net = SemiSupervisedVideoAutoencoder(n_frames=9, max_epochs=2, pretrain_epochs=2,
                                         lr=HUGE_LR, device="cpu", random_state=0, verbose=0,
                                         module__fc=(16,), module__predictor=(8,))
    with pytest.raises(TrainingDivergedError,
                       match=r"SemiSupervisedVideoAutoencoder.* diverged at epoch"):
        net.fit(clips, Y)


def test_synchrony_autoencoder_huge_rate_diverges_loudly():
    """synchrony autoencoder learning_rate=1e12 -> clear error: not NaN into PCA/k-means."""
    # Before: MotionBagOfWords failed later in PCA with "Input X contains NaN".
    with pytest.raises(TrainingDivergedError,
                       match="synchrony autoencoder diverged at epoch .*learning_rate"):
        train_synchrony_autoencoder(RNG.randn(40, 6), 3, learning_rate=HUGE_LR, momentum=0.9,
                                    max_epochs=3, batch_size=8, random_state=0)


def test_nan_weights_after_a_finite_loss_are_caught():
    """module with a NaN weight after a finite loss -> clear error: the parameter is named."""
    module = nn.Linear(2, 2)
    with torch.no_grad():
        module.weight[0, 0] = float("nan")
    with pytest.raises(TrainingDivergedError, match="parameter 'weight' holds NaN"):
        check_divergence(0.5, owner="net", epoch=4, first=0.7, module=module)


def test_ordinary_training_is_not_flagged():
    """ConvNet with its default lr -> OK: trains, probabilities rows sum to 1."""
    proba = convnet().fit(CLIPS, Y).predict_proba(CLIPS)
    assert proba.shape == (8, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


# ------------------------------------------------------------------------------ inputs


def test_clips_of_two_frame_sizes():
    """clips of 32x32 and 30x30 given to a network -> clear error: names clip 4 and both sizes."""
    clips = CLIPS[:4] + [c[:, :30, :30] for c in CLIPS[4:]]
    with pytest.raises(ValueError, match=r"clip 4: 30x30 grey frames, but clip 0 has 32x32 "
                                         r"grey frames; a network takes one frame size"):
        convnet().fit(clips, Y)


def test_grey_and_colour_clips_mixed():
    """grey and colour clips mixed -> clear error: names the first colour clip."""
    clips = CLIPS[:5] + [np.stack([c] * 3, axis=-1) for c in CLIPS[5:]]
    with pytest.raises(ValueError, match="clip 5: 32x32 colour frames, but clip 0 has 32x32 grey"):
        convnet().fit(clips, Y)


def test_predict_on_another_frame_size():
    """predict on 30x30 clips after fit on 32x32 -> clear error: names the fitted size."""
    net = convnet(max_epochs=1).fit(CLIPS, Y)
    with pytest.raises(ValueError, match="clip 0: 30x30 grey frames, but the network was fitted "
                                         "on 32x32 grey frames"):
        net.predict([CLIPS[0][:, :30, :30]])


def test_frames_smaller_than_the_crop():
    """20x20 frames for a 28x28 crop -> clear error: says to resize or lower crop_size."""
    with pytest.raises(ValueError, match=r"smaller than crop_size \(28, 28\)"):
        convnet().fit([c[:, :20, :20] for c in CLIPS], Y)


def test_network_on_empty_x():
    """empty X to a network -> clear error: "X is empty"."""
    with pytest.raises(ValueError, match="X is empty: at least one clip is needed"):
        convnet().fit([], [])


def test_network_on_one_clip():
    """X of length 1 -> clear error: one clip is one class, a classifier needs 2."""
    with pytest.raises(ValueError, match=r"needs at least 2 classes, y has only \[0\]"):
        convnet().fit(CLIPS[:1], Y[:1])


def test_network_on_a_clip_of_zero_frames():
    """a clip of zero frames -> clear error: names the clip."""
    with pytest.raises(ValueError, match="clip 7: the clip has zero frames"):
        convnet().fit(CLIPS[:7] + [np.zeros((0, 32, 32), np.uint8)], Y)


def test_network_on_nan_pixels():
    """float clip with NaN pixels -> clear error: names clip, frame and position."""
    bad = np.full((3, 32, 32), np.nan, np.float32)
    with pytest.raises(ValueError, match=r"clip 7: NaN or infinite pixel value at frame 0"):
        convnet().fit(CLIPS[:7] + [bad], Y)


def test_network_predict_before_fit():
    """predict before fit -> clear error: NotFittedError."""
    with pytest.raises(NotFittedError, match="ConvNet instance is not fitted yet"):
        convnet().predict(CLIPS)


def test_network_labels_and_clips_differ_in_number():
    """5 labels for 8 clips -> clear error: both counts named."""
    with pytest.raises(ValueError, match="y has 5 labels for 8 clips"):
        convnet().fit(CLIPS, Y[:5])


def test_network_mixed_string_and_int_labels():
    """labels mixing "a" and 1 -> clear error: TypeError naming a sample of each type."""
    # Before: "'<' not supported between instances of 'int' and 'str'".
    y = np.array(["a", 1] * 4, dtype=object)
    with pytest.raises(TypeError, match=r"y mixes string and non-string labels \(sample 0: "
                                        r"'a', sample 1: 1 \(int\)\)"):
        convnet().fit(CLIPS, y)


def test_audio_dbn_mixed_string_and_int_labels():
    """AudioDBNClassifier on labels mixing "happiness" and 1 -> clear error: the networks'
    TypeError naming a sample of each type, not numpy's "'<' not supported".
    """
    seqs = [RNG.rand(5, 4) for _ in range(8)]
    net = AudioDBNClassifier(hidden_layer_sizes=(4,), pretrain_epochs=1, max_epochs=1,
                             device="cpu", random_state=0, verbose=0)
    y = np.array(["happiness", 1] * 4, dtype=object)
    with pytest.raises(TypeError, match=r"y mixes string and non-string labels \(sample 0: "
                                        r"'happiness', sample 1: 1 \(int\)\)"):
        net.fit(seqs, y)


def _tiny_video_autoencoder():
    return SemiSupervisedVideoAutoencoder(
        n_frames=3, max_epochs=1, device="cpu", random_state=0, verbose=0, on_short="ignore",
        module__conv=((4, 3, 3, 2, 1),), module__fc=(8,), module__predictor=(4,),
    )


def test_video_autoencoder_mixed_string_and_int_labels():
    """semi-supervised video autoencoder on labels mixing "happiness" and 1 (and -1 for
    unlabelled clips) -> clear error: the networks' TypeError naming a sample of each type."""
    # Before: accepted, classes_ == ['1', 'happiness'].
    y = np.array(["happiness", 1, -1, "anger"] * 2, dtype=object)
    with pytest.raises(TypeError, match=r"y \(its labelled clips, .*\) mixes string and "
                                        r"non-string labels \(sample 0: 'happiness', "
                                        r"sample 1: 1 \(int\)\)"):
        _tiny_video_autoencoder().fit(CLIPS, y)
    # -1 (or "-1") beside one kind of label still marks unlabelled clips.
    for y in (["happiness", "anger", -1, "-1"] * 2, [3, 7, -1.0, "-1"] * 2):
        net = _tiny_video_autoencoder().fit(CLIPS, np.array(y, dtype=object))
        assert net.classes_.tolist() == sorted(set(y[:2])) and net.n_unlabelled_ == 4


@pytest.mark.parametrize("missing", [np.nan, None])
def test_video_autoencoder_nan_label(missing):
    """semi-supervised video autoencoder with a NaN or None label -> clear error: names the
    sample and says unlabelled clips are -1."""
    # Before: a class 'nan' (or 'None') was learnt.
    for y in (["happiness", missing, -1, "anger"] * 2, [0.0, missing, -1, 1.0] * 2):
        with pytest.raises(ValueError, match=r"y holds (nan|None) at sample 1 \(and 1 more\)"
                                             r", which is no label: mark unlabelled clips "
                                             r"with -1"):
            _tiny_video_autoencoder().fit(CLIPS, np.array(y, dtype=object))


def test_init_from_a_file_that_is_not_a_network(tmp_path):
    """init_from naming a text file, a cut pickle or a saved SVC pipeline -> clear error: the
    file named and "is not a saved ConvNet", or the type found, never a raw pickle error.
    """
    import pickle

    import joblib
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    (tmp_path / "text.joblib").write_text("not a network\n")
    (tmp_path / "cut.joblib").write_bytes(pickle.dumps(list(range(50)))[:-3])
    for name in ("text", "cut"):
        with pytest.raises(ValueError, match=rf"init_from: '.*{name}\.joblib' is not a saved "
                                             "ConvNet"):
            convnet(init_from=tmp_path / f"{name}.joblib").fit(CLIPS, Y)
    joblib.dump(make_pipeline(SVC()).fit(np.eye(2), [0, 1]), tmp_path / "model.joblib")
    with pytest.raises(TypeError, match=r"init_from must be a fitted ConvNet.*got SVC"):
        convnet(init_from=tmp_path / "model.joblib").fit(CLIPS, Y)


def test_network_string_labels_round_trip():
    """string labels -> OK: classes_ and predictions are the same strings, not re-encoded."""
    y = np.array(["happy", "sad"] * 4)
    net = convnet(max_epochs=1).fit(CLIPS, y)
    assert net.classes_.tolist() == ["happy", "sad"]
    assert set(net.predict(CLIPS).tolist()) <= {"happy", "sad"}


def test_network_nan_label():
    """a NaN label -> clear error: scikit-learn's "Input y contains NaN"."""
    with pytest.raises(ValueError, match="Input y contains NaN"):
        convnet().fit(CLIPS, np.array([0.0, np.nan] * 4))


def test_cuda_on_a_machine_without_cuda(monkeypatch):
    """device="cuda" without CUDA -> clear error: no silent CPU fall-back, says what to use."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"device='cuda' but torch finds no CUDA device.*"
                                         r"use device='cpu' or 'auto'"):
        convnet(device="cuda").fit(CLIPS, Y)


def test_unknown_device_name():
    """device="gpu" -> clear error: not a torch device, the valid names listed."""
    with pytest.raises(ValueError, match=r"device 'gpu' is not a torch device \('auto', 'cpu'"):
        convnet(device="gpu").fit(CLIPS, Y)


def test_class_given_in_classes_but_absent_from_y():
    """classes=[0, 1, 2] with no clip of 2 -> recorded policy: UserWarning names it, 3 columns."""
    with pytest.warns(UserWarning, match=r"classes \[2\] have no training clip in y"):
        net = convnet(max_epochs=1, classes=[0, 1, 2]).fit(CLIPS, Y)
    assert net.predict_proba(CLIPS[:2]).shape == (2, 3)


def test_label_outside_given_classes():
    """a label not in classes -> clear error: the unknown labels are named."""
    with pytest.raises(ValueError, match=r"y holds labels \['2'\] that are not in classes"):
        convnet(classes=[0, 1]).fit(CLIPS, np.array([0, 1, 2, 1] * 2))


# ------------------------------------------------------------------- clip-length networks


def test_dtan_clip_shorter_than_n_frames_warns():
    """DTAN clip of 2 frames for n_frames=3 -> recorded policy: warned, interpolated, named."""
    clips = CLIPS[:7] + [CLIPS[7][:2]]
    with pytest.warns(UserWarning, match=r"DTAN: 1 clip\(s\) have fewer frames than "
                                         r"n_frames=3 \(first: clip 7, 2 frames\)"):
        DTAN(**TINY_DTAN).fit(clips, Y)


def test_dtan_clip_shorter_than_n_frames_raises_on_request():
    """DTAN short clip with on_short="raise" -> clear error: names the clip and its length."""
    clips = CLIPS[:7] + [CLIPS[7][:2]]
    with pytest.raises(ValueError, match=r"first: clip 7, 2 frames\); give longer clips"):
        DTAN(**TINY_DTAN, on_short="raise").fit(clips, Y)
