"""Bad input to skfer's feature encoders, ensembles, splitters, make_model and evaluate
(issue 16).

Networks are in ``test_networks.py``. Every input is tiny and synthetic.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from skfer.ensemble import CoarseToFineSVC, SVMStackingClassifier, WeightedAverageClassifier
from skfer.evaluation import evaluate
from skfer.features import Chi2KernelTransformer, FrameLevelClassifier, MotionBagOfWords
from skfer.model_selection import AscendingSubjectKFold, check_group_cv
from skfer.models import make_model
from skfer.neural import SparseAutoencoder

RNG = np.random.RandomState(0)
SEQS = [RNG.rand(3, 4) for _ in range(6)]
Y_SEQ = np.array([0, 1] * 3)
X = RNG.rand(12, 3)
Y = np.array([0, 1, 2] * 4)
GROUPS = np.repeat(np.arange(1, 7), 2)
MEMBERS = [("a", LogisticRegression()), ("b", LogisticRegression(C=0.1))]
TINY_MBOW = {
    "block_size": (2, 4, 4), "superblock_size": (3, 6, 6), "stride": (1, 2, 2),
    "n_components": 4, "n_hidden": 3, "n_descriptor_components": 2, "n_words": 2,
    "n_train_blocks": 50, "max_epochs": 1, "random_state": 0,
}


class HalfProba(LogisticRegression):
    """A member whose probabilities do not sum to 1."""

    def predict_proba(self, X):
        return super().predict_proba(X) * 0.5


class NanOnBigInput(LogisticRegression):
    """A member that is fine in training and returns NaN for inputs above 10."""

    def predict_proba(self, X):
        proba = super().predict_proba(X)
        proba[np.asarray(X)[:, 0] > 10] = np.nan
        return proba


# ----------------------------------------------------------------------- feature encoders


def test_frame_classifier_nan_feature():
    """FrameLevelClassifier, a sequence with NaN -> clear error: names sequence, frame, feature."""
    with pytest.raises(ValueError, match="sequence 5: NaN or infinite value at frame 0, feature 0"):
        FrameLevelClassifier().fit(SEQS[:5] + [np.full((3, 4), np.nan)], Y_SEQ)


def test_frame_classifier_wrong_number_of_features_at_predict():
    """FrameLevelClassifier, 5 features at predict for 4 in fit -> clear error: both counts."""
    clf = FrameLevelClassifier().fit(SEQS, Y_SEQ)
    with pytest.raises(ValueError, match="X has 5 features, but FrameLevelClassifier is "
                                         "expecting 4"):
        clf.predict([RNG.rand(3, 5)])


def test_frame_classifier_empty_sequence():
    """FrameLevelClassifier, a sequence of 0 frames -> clear error: names the sequence."""
    with pytest.raises(ValueError, match="sequence 5: the sequence has 0 frames"):
        FrameLevelClassifier().fit(SEQS[:5] + [np.zeros((0, 4))], Y_SEQ)


def test_frame_classifier_mixed_label_types():
    """FrameLevelClassifier, labels mixing str and int -> clear error: TypeError, both named."""
    with pytest.raises(TypeError, match=r"y mixes string and non-string labels"):
        FrameLevelClassifier().fit(SEQS, np.array(["a", 1] * 3, dtype=object))


def test_frame_classifier_predict_before_fit():
    """FrameLevelClassifier predict before fit -> clear error: NotFittedError."""
    with pytest.raises(NotFittedError):
        FrameLevelClassifier().predict(SEQS)


def test_chi2_nan_histogram():
    """Chi2KernelTransformer, NaN in a histogram -> clear error: "Input X contains NaN"."""
    with pytest.raises(ValueError, match="Input X contains NaN"):
        Chi2KernelTransformer().fit(np.vstack([RNG.rand(5, 5), [np.nan] * 5]))


def test_chi2_negative_histogram():
    """Chi2KernelTransformer, a negative bin -> clear error: names row and column."""
    with pytest.raises(ValueError, match=r"Negative values in data: X\[1, 2\] < 0"):
        Chi2KernelTransformer().fit(np.array([[1.0, 0, 0], [0, 1, -1.0]]))


def test_chi2_wrong_number_of_bins():
    """Chi2KernelTransformer, 4 bins at transform for 5 in fit -> clear error: both counts."""
    chi = Chi2KernelTransformer().fit(RNG.rand(6, 5))
    with pytest.raises(ValueError, match="X has 4 features, but Chi2KernelTransformer is "
                                         "expecting 5"):
        chi.transform(RNG.rand(2, 4))


def test_chi2_identical_histograms_with_mean_gamma():
    """Chi2KernelTransformer(gamma="mean") on identical histograms -> OK: gamma 1, kernel 1."""
    chi = Chi2KernelTransformer(gamma="mean").fit(np.zeros((3, 5)))
    assert chi.gamma_ == 1.0
    np.testing.assert_array_equal(chi.transform(np.zeros((1, 5))), np.ones((1, 3)))


def test_motion_bow_clip_shorter_than_a_superblock():
    """MotionBagOfWords, a 2-frame clip for 3-frame super-blocks -> clear error: names clip."""
    clips = [RNG.randint(0, 256, (6, 16, 16)).astype(np.uint8) for _ in range(4)]
    mbow = MotionBagOfWords(**TINY_MBOW).fit(clips)
    with pytest.raises(ValueError, match=r"clip 0: 2 frames of 16x16 pixels are smaller than "
                                         r"one 3x6x6 super-block"):
        mbow.transform([clips[0][:2]])


def test_motion_bow_huge_learning_rate():
    """MotionBagOfWords learning_rate=1e12 -> clear error: divergence, not NaN into PCA."""
    clips = [RNG.randint(0, 256, (6, 16, 16)).astype(np.uint8) for _ in range(4)]
    with pytest.raises(ValueError, match="synchrony autoencoder diverged at epoch"):
        MotionBagOfWords(**{**TINY_MBOW, "learning_rate": 1e12, "max_epochs": 3}).fit(clips)


def test_sparse_autoencoder_on_feature_rows():
    """SparseAutoencoder given a 2-D feature matrix -> clear error: it takes clips, says so."""
    with pytest.raises(ValueError, match=r"X must be a list of clips .* got shape \(20, 6\)"):
        SparseAutoencoder(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(
            RNG.rand(20, 6))


# --------------------------------------------------------------------------------- ensembles


def test_ensemble_probabilities_sum_to_one():
    """WeightedAverageClassifier on 3 classes -> OK: every predicted row sums to 1."""
    ens = WeightedAverageClassifier(MEMBERS, cv=2).fit(X, Y)
    np.testing.assert_allclose(ens.predict_proba(X).sum(axis=1), 1.0, atol=1e-9)


def test_ensemble_class_missing_from_a_training_fold():
    """a class with 1 sample, missing from a cross-fit training fold -> recorded policy: warned."""
    y = np.array([0, 1] * 5 + [2, 1])
    with pytest.warns(RuntimeWarning, match=r"Member 'a': Number of classes in training fold "
                                            r"\(2\) .*; missing classes get probability 0"):
        ens = WeightedAverageClassifier(MEMBERS, cv=2).fit(X, y, groups=GROUPS)
    # The sample of class 2 was predicted by models that never saw class 2.
    assert ens.oof_proba_[10, :, 2].tolist() == [0.0, 0.0]
    assert ens.classes_.tolist() == [0, 1, 2]


def test_stacking_class_with_one_sample():
    """SVMStackingClassifier, a class of 1 sample -> clear error: the final SVM names the class."""
    # Before: "Requesting 2-fold cross-validation but provided less than 2 examples ...".
    y = np.array([0, 1] * 5 + [2, 1])
    stack = SVMStackingClassifier(MEMBERS, cv=2, final_estimator=CoarseToFineSVC(
        coarse_low=-1, coarse_high=1, fine_step=3.0, inner_cv=2, random_state=0))
    with pytest.raises(ValueError, match="CoarseToFineSVC: class 2 has 1 sample"):
        stack.fit(X, y, groups=GROUPS)


def test_ensemble_member_probabilities_not_summing_to_one():
    """a member whose predict_proba sums to 0.5 -> clear error: names the member and sample."""
    with pytest.raises(ValueError, match=r"Member 'a': predict_proba rows must be non-negative, "
                                         r"finite and sum to 1; sample 0 sums to 0\.5"):
        WeightedAverageClassifier([("a", HalfProba())], cv=2).fit(X, Y)


def test_ensemble_member_nan_at_predict():
    """a member returning NaN at predict time -> clear error: names member and sample."""
    # Before: NaN reached the weighted average and argmax picked class 0 silently.
    ens = WeightedAverageClassifier([("a", NanOnBigInput())], cv=2).fit(X, Y)
    bad = X[:3].copy()
    bad[1, 0] = 50.0
    with pytest.raises(ValueError, match=r"Member 'a': .* sample 1 sums to nan "
                                         r"\(\[nan nan nan\]\)"):
        ens.predict(bad)


def test_ensemble_one_class():
    """ensemble y with 1 class -> clear error: names the class (not a member's own error)."""
    with pytest.raises(ValueError, match=r"y has 1 class \(\[0\]\); the ensemble's members"):
        WeightedAverageClassifier(MEMBERS, cv=2).fit(X, np.zeros(12, dtype=int))


def test_ensemble_empty():
    """ensemble on 0 samples -> clear error: "y is empty"."""
    with pytest.raises(ValueError, match="y is empty"):
        WeightedAverageClassifier(MEMBERS, cv=2).fit(X[:0], Y[:0])


def test_ensemble_mixed_label_types():
    """ensemble labels mixing str and int -> clear error: TypeError naming a sample of each."""
    # Before: "'<' not supported between instances of 'int' and 'str'".
    with pytest.raises(TypeError, match=r"sample 0: 'a', sample 1: 1 \(int\)"):
        WeightedAverageClassifier(MEMBERS, cv=2).fit(X, np.array(["a", 1, 2] * 4, dtype=object))


def test_ensemble_string_labels_not_re_encoded():
    """ensemble with string labels -> OK: predictions are the original strings."""
    y = np.array(["x", "y", "z"] * 4)
    ens = WeightedAverageClassifier(MEMBERS, cv=2).fit(X, y)
    assert ens.classes_.tolist() == ["x", "y", "z"]
    assert set(ens.predict(X).tolist()) <= {"x", "y", "z"}
    # Members learn the encoded labels 0..2; the ensemble maps them back.
    assert ens.estimators_[0].classes_.tolist() == [0, 1, 2]


@pytest.mark.parametrize("bad, message", [
    (np.nan, "Input sample_weight contains NaN"),
    (np.inf, "Input sample_weight contains infinity"),
])
def test_ensemble_non_finite_sample_weight(bad, message):
    """ensemble sample_weight with NaN or inf -> clear error: scikit-learn names sample_weight."""
    weight = np.r_[np.ones(11), bad]
    with pytest.raises(ValueError, match=message):
        WeightedAverageClassifier(MEMBERS, cv=2).fit(X, Y, sample_weight=weight)


def test_ensemble_wrong_number_of_features_at_predict():
    """ensemble predict with 2 features for 3 -> clear error: the member's count message."""
    ens = WeightedAverageClassifier(MEMBERS, cv=2).fit(X, Y)
    with pytest.raises(ValueError, match="X has 2 features, but LogisticRegression is expecting 3"):
        ens.predict(X[:, :2])


def test_ensemble_predict_before_fit():
    """ensemble predict before fit -> clear error: NotFittedError."""
    with pytest.raises(NotFittedError):
        WeightedAverageClassifier(MEMBERS, cv=2).predict(X)


def test_ensemble_groups_length_mismatch():
    """ensemble groups of 10 for 12 samples -> clear error: both counts."""
    with pytest.raises(ValueError, match="groups has 10 entries for 12 samples"):
        WeightedAverageClassifier(MEMBERS, cv=2).fit(X, Y, groups=GROUPS[:10])


# --------------------------------------------------------------------------------- splitters


def test_fewer_subjects_than_folds():
    """check_group_cv(5) with 3 subjects -> clear error: "3 subjects cannot be split into 5"."""
    with pytest.raises(ValueError, match="3 subjects cannot be split into 5 folds"):
        check_group_cv(5, Y, groups=[1, 2, 3] * 4)


def test_one_subject():
    """check_group_cv(2) with one subject -> clear error: 1 subject for 2 folds."""
    with pytest.raises(ValueError, match="1 subjects cannot be split into 2 folds"):
        check_group_cv(2, Y, groups=np.ones(12))


def test_groups_with_nan():
    """groups holding NaN -> clear error: names the first sample without a subject."""
    groups = np.r_[GROUPS[:4].astype(float), np.nan, GROUPS[5:]]
    with pytest.raises(ValueError, match="groups: sample 4 has no subject id"):
        check_group_cv(2, Y, groups=groups)


def test_groups_length_mismatch():
    """groups of 3 for 12 labels -> clear error: both counts."""
    with pytest.raises(ValueError, match="groups has 3 entries for 12 samples"):
        check_group_cv(2, Y, groups=[1, 2, 3])


def test_class_with_one_sample_under_stratification():
    """stratified folds, a class of 1 sample -> recorded policy: scikit-learn's UserWarning."""
    y = np.array([0, 1] * 5 + [2, 1])
    with pytest.warns(UserWarning, match="least populated class in y has only 1 members"):
        folds = list(check_group_cv(2, y).split(X, y))
    tests = np.sort(np.concatenate([test for _, test in folds]))
    assert tests.tolist() == list(range(12))  # every sample tested once, none dropped


def test_y_with_one_class_splits():
    """check_group_cv(2) on y of one class -> OK: plain folds; the estimator refuses 1 class."""
    folds = list(check_group_cv(2, np.zeros(12)).split(X, np.zeros(12)))
    assert [len(test) for _, test in folds] == [6, 6]


def test_ascending_kfold_groups_with_nan():
    """AscendingSubjectKFold, groups with NaN -> clear error: names the sample (was KeyError)."""
    groups = np.r_[np.nan, GROUPS[1:].astype(float)]
    with pytest.raises(ValueError, match="groups: sample 0 has no subject id"):
        list(AscendingSubjectKFold(2).split(X, groups=groups))


def test_ascending_kfold_mixed_id_types():
    """AscendingSubjectKFold, ids "S1" and 2 mixed -> clear error: TypeError, both named."""
    groups = np.array(["S1", 2] * 6, dtype=object)
    with pytest.raises(TypeError, match=r"groups mixes string and non-string subject ids "
                                        r"\(sample 0: 'S1', sample 1: 2\)"):
        list(AscendingSubjectKFold(2).split(X, groups=groups))


def test_ascending_kfold_fewer_subjects_than_folds():
    """AscendingSubjectKFold(5) with 3 subjects -> clear error: both counts."""
    with pytest.raises(ValueError, match="3 subjects cannot be split into 5 folds"):
        list(AscendingSubjectKFold(5).split(X, groups=[1, 2, 3] * 4))


def test_ascending_kfold_groups_length_mismatch():
    """AscendingSubjectKFold, 5 groups for 12 samples -> clear error: both counts."""
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[12, 5\]"):
        list(AscendingSubjectKFold(2).split(X, groups=np.arange(5)))


def test_ascending_kfold_without_groups():
    """AscendingSubjectKFold without groups -> clear error: "groups" should not be None."""
    with pytest.raises(ValueError, match="The 'groups' parameter should not be None"):
        list(AscendingSubjectKFold(2).split(X))


def test_splitter_labels_mixing_strings_and_numbers():
    """check_group_cv, y mixing "a" and 1 -> clear error: TypeError naming a sample of each."""
    with pytest.raises(TypeError, match=r"y mixes string and non-string labels"):
        check_group_cv(2, np.array(["a", 1, 2] * 4, dtype=object))


# ------------------------------------------------------------------ make_model and evaluate


def test_evaluate_groups_with_nan():
    """evaluate with a NaN subject id -> clear error: names the sample, before any fit."""
    groups = np.r_[np.nan, np.arange(11.0)]
    with pytest.raises(ValueError, match="groups: sample 0 has no subject id"):
        evaluate(LogisticRegression(), X, Y, groups=groups, n_splits=2)


def test_evaluate_one_subject():
    """evaluate with one subject for 2 folds -> clear error: both counts."""
    with pytest.raises(ValueError, match="1 subjects cannot be split into 2 folds"):
        evaluate(LogisticRegression(), X, Y, groups=np.ones(12), n_splits=2)


def test_evaluate_mixed_label_types():
    """evaluate, labels mixing str and int -> clear error: TypeError (was numpy's "'<'")."""
    with pytest.raises(TypeError, match=r"sample 0: 'a', sample 1: 1 \(int\)"):
        evaluate(LogisticRegression(), X, np.array(["a", 1, 2] * 4, dtype=object), n_splits=2)


def test_make_model_unknown_name():
    """make_model("nope") -> clear error: lists the known models."""
    from skfer.models import MODELS

    known = ", ".join(sorted(MODELS))
    with pytest.raises(ValueError, match=f"unknown model 'nope'; known models: {re.escape(known)}"):
        make_model("nope")


# ------------------------------------------------------------------------ issue 25


def test_audio_features_int16_pcm():
    """int16 PCM samples given to AudioFeatures -> OK: read as v / 32768 (the features of the
    same float track), not as floats 32,767 times too loud.
    """
    pytest.importorskip("librosa")
    from skfer.features import AudioFeatures

    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(4000) / 16000)).astype(np.float32)
    pcm = np.round(tone * 32767).astype(np.int16)
    model = AudioFeatures(pooling=["mean"]).fit(None)
    features = model.transform([pcm])
    np.testing.assert_allclose(features, model.transform([pcm / np.float32(32768)]))
    rms = model.feature_names_.index("mean_rms")
    np.testing.assert_allclose(features[0, rms], model.transform([tone])[0, rms], rtol=0.01)
    u8 = np.round(tone * 127 + 128).astype(np.uint8)  # 8-bit WAV PCM is unsigned
    np.testing.assert_allclose(model.transform([u8]),
                               model.transform([(u8.astype(np.float32) - 128) / 128]))


@pytest.mark.parametrize("samples, error, fragment", [
    (np.full(4000, 8000.0, np.float32), ValueError,
     r"clip 0: float audio samples are read on the \[-1, 1\] scale, but this track peaks at "
     r"8000: integer PCM converted to float"),
    (np.zeros(4000, np.uint16), TypeError, r"clip 0: audio samples of dtype uint16 are no PCM"),
    (np.zeros(4000, np.int64), TypeError, r"clip 0: audio samples of dtype int64 are no PCM"),
])
def test_audio_features_samples_on_another_scale(samples, error, fragment):
    """int16 PCM cast to float without scaling (peak 8000), uint16 or int64 samples ->
    clear error: naming the clip and the scale or dtype, never features of a wrong loudness.
    """
    pytest.importorskip("librosa")
    from skfer.features import AudioFeatures

    with pytest.raises(error, match=fragment):
        AudioFeatures().fit(None).transform([samples])


class FailingFit(LogisticRegression):
    """A member whose fit raises a message that does not say which member it is."""

    def fit(self, X, y, sample_weight=None):
        raise ValueError("Input contains NaN")


@pytest.mark.parametrize("ensemble", [WeightedAverageClassifier, SVMStackingClassifier])
def test_ensemble_member_fit_failure_names_the_member(ensemble):
    """An ensemble member whose fit raises "Input contains NaN" -> clear error: the member's own
    ValueError, with a note naming the member and the stage (shown by skfer's one-line errors).
    """
    from skfer.cli import one_line as _one_line

    members = [("good", LogisticRegression()), ("broken", FailingFit())]
    with pytest.raises(ValueError, match="Input contains NaN") as err:
        ensemble(members, cv=2).fit(X, Y)
    assert err.value.__notes__ == [
        "raised by ensemble member 'broken' while cross-fitting it (out-of-fold predict_proba)"]
    assert _one_line(err.value) == (
        "Input contains NaN; raised by ensemble member 'broken' while cross-fitting it "
        "(out-of-fold predict_proba)")
