import json

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_predict, cross_val_score
from sklearn.naive_bayes import GaussianNB

from skfer.evaluation import evaluate
from skfer.model_selection import AscendingSubjectKFold


def _grouped_data(n_groups=10, per_group=6, random_state=0):
    rng = np.random.RandomState(random_state)
    y = np.array(["anger", "happiness", "surprise"] * (n_groups * per_group // 3))
    centres = {"anger": -2.0, "happiness": 0.0, "surprise": 2.0}
    X = np.array([[centres[c] + rng.normal(0, 0.7), rng.normal()] for c in y])
    groups = np.repeat(np.arange(n_groups), per_group)
    return X, y, groups


def test_grouped_evaluation_matches_sklearn():
    X, y, groups = _grouped_data()
    model = LogisticRegression()
    report = evaluate(model, X, y, groups, n_splits=5, name="lr")
    expected = cross_val_score(model, X, y, groups=groups, cv=GroupKFold(5))
    np.testing.assert_allclose(report.fold_accuracy, expected)
    assert report.accuracy_mean == pytest.approx(expected.mean())
    assert "GroupKFold by subject" in report.protocol
    assert report.n_groups == 10 and report.n_samples == len(y)
    cm = np.array(report.confusion)
    assert cm.sum() == len(y)  # every sample predicted exactly once
    # recall is the diagonal of the row-normalised pooled confusion matrix
    np.testing.assert_allclose(
        [report.recall[lab] for lab in report.labels], np.diag(cm) / cm.sum(axis=1)
    )


def test_no_groups_is_flagged_not_subject_independent():
    X, y, _ = _grouped_data()
    report = evaluate(DummyClassifier(), X, y, None, n_splits=3)
    assert "NOT subject-independent" in report.protocol
    assert report.accuracy_mean == pytest.approx(1 / 3, abs=0.05)


def test_bad_arguments():
    X, y, groups = _grouped_data(n_groups=3)
    with pytest.raises(ValueError, match="3 subjects cannot be split into 10 folds"):
        evaluate(DummyClassifier(), X, y, groups, n_splits=10)
    with pytest.raises(ValueError, match="groups has 2"):
        evaluate(DummyClassifier(), X, y, groups[:2])


def test_report_files(tmp_path):
    X, y, groups = _grouped_data()
    report = evaluate(LogisticRegression(), X, y, groups, n_splits=5, name="lr")
    data = json.loads(report.save_json(tmp_path / "r.json").read_text())
    assert data["accuracy_mean"] == pytest.approx(report.accuracy_mean)
    assert data["labels"] == ["anger", "happiness", "surprise"]
    png = report.save_confusion_png(tmp_path / "cm.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = report.summary()
    assert "accuracy" in text and "surprise" in text and "± " in text


def test_pooled_predictions_are_cross_val_predict():
    X, y, groups = _grouped_data()
    cv = AscendingSubjectKFold(5)
    report = evaluate(LogisticRegression(), X, y, groups, cv=cv)
    pred = cross_val_predict(LogisticRegression(), X, y, groups=groups, cv=cv)
    labels = report.labels
    expected = np.array([[np.sum((y == a) & (pred == b)) for b in labels] for a in labels])
    np.testing.assert_array_equal(report.confusion, expected)
    assert "AscendingSubjectKFold, subjects by ascending id" in report.protocol
    assert len(report.fold_accuracy) == 5 and len(report.fold_time_s) == 5
    np.testing.assert_allclose(
        report.fold_accuracy,
        cross_val_score(LogisticRegression(), X, y, groups=groups, cv=cv),
    )


class _GroupsRecorder(GaussianNB):
    seen: list = []

    def fit(self, X, y, groups=None):
        _GroupsRecorder.seen.append(groups)
        return super().fit(X, y)


def test_groups_reach_a_model_that_requests_them_with_routing():
    import sklearn

    X, y, groups = _grouped_data()
    _GroupsRecorder.seen = []
    evaluate(_GroupsRecorder(), X, y, groups, n_splits=5)
    assert _GroupsRecorder.seen == [None] * 5  # without routing: folds only
    with sklearn.config_context(enable_metadata_routing=True):
        evaluate(_GroupsRecorder().set_fit_request(groups=True), X, y, groups, n_splits=5)
    assert all(len(np.unique(g)) == 8 for g in _GroupsRecorder.seen[5:])
