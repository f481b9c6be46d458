"""Subject-independent evaluation of a FER pipeline, with a report.

:func:`evaluate_holdout` instead scores a model on a held-out data set once, after fitting
it on a training set or, for a model that is already fitted (a shipped network, a saved
model file), without fitting anything.

:func:`evaluate` runs a grouped cross-validation (scikit-learn's own splitters, so
``GroupKFold`` keeps every subject's clips in one fold), collects the out-of-fold
predictions and summarises them in an :class:`EvaluationReport`: accuracy per fold (mean
and standard deviation), per-class recall, the pooled confusion matrix and the wall time.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, recall_score
from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_validate

from .model_selection import AscendingSubjectKFold, check_group_cv
from .model_selection._split import routed_groups
from .utils._atomic import atomic_write
from .utils._sklearn import _safe_indexing

__all__ = ["EvaluationReport", "evaluate", "evaluate_holdout"]


@dataclass
class EvaluationReport:
    """Results of a cross-validated evaluation.

    Attributes
    ----------
    model : str
        Name or description of the evaluated pipeline.
    protocol : str
        The cross-validation protocol in words.
    labels : list of str
        Class order of ``recall`` and ``confusion``.
    fold_accuracy : list of float
        Accuracy of each test fold.
    recall : dict of str to float
        Per-class recall of the pooled out-of-fold predictions.
    confusion : list of list of int
        Pooled confusion matrix, rows = true class, columns = predicted class.
    n_samples, n_groups : int
    wall_time_s : float
        Seconds for the whole evaluation (fits and predictions).
    fold_time_s : list of float
        Seconds per fold (fit + predict).
    """

    model: str
    protocol: str
    labels: list[str]
    fold_accuracy: list[float]
    recall: dict[str, float]
    confusion: list[list[int]]
    n_samples: int
    n_groups: int | None
    wall_time_s: float
    fold_time_s: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def accuracy_mean(self) -> float:
        return float(np.mean(self.fold_accuracy))

    @property
    def accuracy_std(self) -> float:
        return float(np.std(self.fold_accuracy))

    @property
    def uar(self) -> float:
        """Unweighted average recall: the mean of the per-class recalls (speech emotion's
        usual score beside accuracy, insensitive to the class sizes)."""
        return float(np.mean(list(self.recall.values())))

    @property
    def accuracy_pooled(self) -> float:
        """Accuracy of the pooled out-of-fold predictions (folds weighted by their size)."""
        confusion = np.asarray(self.confusion)
        return float(np.trace(confusion) / max(confusion.sum(), 1))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["accuracy_mean"] = self.accuracy_mean
        d["accuracy_std"] = self.accuracy_std
        d["accuracy_pooled"] = self.accuracy_pooled
        d["uar"] = self.uar
        return d

    def save_json(self, path: str | Path) -> Path:
        """Write the report as JSON and return the path.

        The file is written whole or not at all (a temporary file renamed over ``path``):
        an interrupt leaves no truncated report. Its folder is created if needed.
        """
        path = Path(path)
        with atomic_write(path) as fh:
            json.dump(self.to_dict(), fh, indent=2)
            fh.write("\n")
        return path

    def save_confusion_png(self, path: str | Path) -> Path:
        """Draw the pooled confusion matrix (counts) to a PNG with scikit-learn's display.

        Written whole or not at all, as :meth:`save_json`.
        """
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
        from sklearn.metrics import ConfusionMatrixDisplay

        n = len(self.labels)
        fig, ax = plt.subplots(figsize=(1.1 * n + 2, 1.0 * n + 1.5))
        ConfusionMatrixDisplay(np.asarray(self.confusion), display_labels=self.labels).plot(
            ax=ax, cmap="Blues", xticks_rotation=45, values_format="d", colorbar=False
        )
        ax.set_title(
            f"{self.model}\naccuracy {self.accuracy_mean:.3f} ± {self.accuracy_std:.3f}"
        )
        fig.tight_layout()
        path = Path(path)
        try:
            # Whole or not at all, as save_json; the format is named, the file being a
            # file object.
            with atomic_write(path, "wb") as fh:
                fig.savefig(fh, dpi=100, format="png")
        finally:
            plt.close(fig)
        return path

    def summary(self) -> str:
        """A plain-text summary: accuracy, per-class recall and the confusion matrix."""
        width = max(len(lab) for lab in self.labels)
        lines = [
            f"model     : {self.model}",
            f"protocol  : {self.protocol}",
            f"samples   : {self.n_samples}"
            + (f" clips, {self.n_groups} subjects" if self.n_groups else " clips"),
            f"accuracy  : {self.accuracy_mean:.3f} ± {self.accuracy_std:.3f} "
            f"(mean ± std over {len(self.fold_accuracy)} folds)",
            f"pooled    : accuracy {self.accuracy_pooled:.3f}, unweighted average recall "
            f"{self.uar:.3f} (all out-of-fold predictions)",
            f"wall time : {self.wall_time_s:.1f} s",
            "",
            "per-class recall:",
        ]
        lines += [f"  {lab:<{width}}  {self.recall[lab]:.3f}" for lab in self.labels]
        lines += ["", "confusion matrix (rows: true, columns: predicted):"]
        header = " " * (width + 2) + " ".join(f"{lab[:5]:>5}" for lab in self.labels)
        lines.append(header)
        for lab, row in zip(self.labels, self.confusion):
            lines.append(f"  {lab:<{width}}" + " ".join(f"{v:>5d}" for v in row))
        return "\n".join(lines)


class _Folds:
    """Fixed folds handed to ``cross_validate`` lazily, advancing a progress bar (tqdm)."""

    def __init__(self, splits, progress: bool):
        self.splits = splits
        self.bar = None
        if progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=len(splits), desc="folds", unit="fold")

    def get_n_splits(self, X=None, y=None, groups=None):
        return len(self.splits)

    def split(self, X=None, y=None, groups=None):
        for split in self.splits:
            yield split
            if self.bar is not None:  # the fold was taken by cross_validate's workers
                self.bar.update()

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _protocol(cv, n_splits: int, groups) -> str:
    """The cross-validation protocol in words."""
    if isinstance(cv, GroupKFold):
        return f"{n_splits}-fold GroupKFold by subject (subject-independent)"
    if isinstance(cv, AscendingSubjectKFold):
        return (
            f"{n_splits}-fold AscendingSubjectKFold, subjects by ascending id "
            f"({cv.assignment}; the CK+ papers' protocol, subject-independent)"
        )
    if isinstance(cv, StratifiedKFold) and groups is None:
        return f"{n_splits}-fold StratifiedKFold (no subject ids: NOT subject-independent)"
    return repr(cv)


def evaluate(
    model,
    X,
    y,
    groups=None,
    *,
    n_splits: int = 10,
    cv=None,
    name: str | None = None,
    n_jobs: int | None = None,
    progress: bool = False,
) -> EvaluationReport:
    """Cross-validate ``model`` subject-independently and report.

    The folds are scikit-learn's :func:`~sklearn.model_selection.cross_validate` (accuracy
    and times per fold, each fold's fitted model); the pooled out-of-fold predictions are
    those fold models' predictions on their test folds, i.e. what
    :func:`~sklearn.model_selection.cross_val_predict` returns, without fitting twice.

    Parameters
    ----------
    model : estimator
        An unfitted classifier taking ``X`` (e.g. a pipeline of clips to labels).
    X : list of clips, or array-like
    y : array-like of shape (n_samples,)
    groups : array-like of shape (n_samples,), optional
        Subject of each sample. With groups, ``GroupKFold(n_splits)`` keeps each subject
        in one fold; without them a shuffled ``StratifiedKFold`` (seed 0) is used and the
        protocol says it is *not* subject-independent.
    n_splits : int, default=10
    cv : int, cross-validation splitter or iterable, optional
        Overrides ``n_splits`` (resolved by
        :func:`~skfer.model_selection.check_group_cv`), e.g.
        :class:`~skfer.model_selection.AscendingSubjectKFold` for the papers' CK+ folds;
        called as ``cv.split(X, y, groups)``.
    name : str, optional
        Name of the model in the report.
    n_jobs : int, optional
        Folds fitted in parallel (joblib).
    progress : bool, default=False
        Show a progress bar over folds (tqdm; it advances as folds are dispatched).

    With ``sklearn.set_config(enable_metadata_routing=True)``, ``groups`` also reach a
    model whose ``fit`` requests them (e.g. an ensemble, for its inner cross-fitting).

    Returns
    -------
    report : EvaluationReport

    Raises
    ------
    ValueError
        If ``X``, ``y`` and ``groups`` differ in length, or the folds cannot be made.
    Exception
        The error of a fold whose fit fails (``error_score="raise"``), not a NaN fold.
    """
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != len(y):
            raise ValueError(f"y has {len(y)} samples but groups has {len(groups)}")
    cv = check_group_cv(n_splits if cv is None else cv, y, groups, shuffle=True, random_state=0)
    splits = list(cv.split(X, y, groups))
    protocol = _protocol(cv, len(splits), groups)
    start = time.perf_counter()
    folds = _Folds(splits, progress)
    try:
        result = cross_validate(
            model, X, y, cv=folds, scoring="accuracy", n_jobs=n_jobs, return_estimator=True,
            params=routed_groups(model, groups),
            # A failed fold raises its own error: scikit-learn's default (a NaN score and,
            # here, an unfitted fold model) would hide the cause behind "not fitted yet".
            error_score="raise",
        )
    finally:
        folds.close()
    pred = np.empty(len(y), dtype=y.dtype)
    for est, (_, test) in zip(result["estimator"], splits):
        pred[test] = est.predict(_safe_indexing(X, test))
    wall = time.perf_counter() - start
    labels = sorted(np.unique(y).tolist())
    recall = recall_score(y, pred, labels=labels, average=None, zero_division=0)
    return EvaluationReport(
        model=name or type(model).__name__,
        protocol=protocol,
        labels=[str(lab) for lab in labels],
        fold_accuracy=[float(a) for a in result["test_score"]],
        recall={str(lab): float(r) for lab, r in zip(labels, recall)},
        confusion=confusion_matrix(y, pred, labels=labels).tolist(),
        n_samples=len(y),
        n_groups=None if groups is None else int(len(np.unique(groups))),
        wall_time_s=wall,
        fold_time_s=[float(f + s) for f, s in zip(result["fit_time"], result["score_time"])],
    )


def evaluate_holdout(
    model,
    X_test,
    y_test,
    *,
    X_train=None,
    y_train=None,
    groups_test=None,
    name: str | None = None,
    train_name: str = "the training data",
    test_name: str = "the test data",
) -> EvaluationReport:
    """Score ``model`` on a held-out data set once: a one-"fold" report.

    With ``X_train``/``y_train`` the model is fitted on them first; without them it must be
    fitted already (a shipped network from :mod:`skfer.pretrained`, a model file read by
    :func:`skfer.load_model`) and is only scored: nothing is refitted.

    Parameters
    ----------
    model : estimator
    X_test, y_test : clips and labels
    X_train, y_train : clips and labels, optional
    groups_test : array-like, optional
        Subjects of the test clips (counted in the report).
    name, train_name, test_name : str
        Names in the report's ``model`` and ``protocol``.

    Returns
    -------
    report : EvaluationReport
        Labels are the union of the test labels and the model's (or training) classes, so
        a class the model never predicts, or predicts but the test set lacks, is shown.

    Raises
    ------
    ValueError
        Only one of ``X_train``/``y_train`` given, or lengths that differ.
    sklearn.exceptions.NotFittedError
        No training data and an unfitted model.
    """
    from sklearn.utils.validation import check_is_fitted

    if (X_train is None) != (y_train is None):
        raise ValueError("give both X_train and y_train, or neither (a fitted model)")
    y = np.asarray(y_test)
    if len(y) != len(X_test):
        raise ValueError(f"X_test has {len(X_test)} samples but y_test has {len(y)}")
    start = time.perf_counter()
    if X_train is not None:
        model.fit(X_train, y_train)
        protocol = (f"trained on {train_name} ({len(X_train)} clips), tested on {test_name} "
                    f"({len(y)} clips): held-out data set")
        known = np.unique(np.asarray(y_train)).tolist()
    else:
        check_is_fitted(model)
        protocol = (f"fitted model scored on {test_name} ({len(y)} clips), nothing refitted: "
                    "held-out data set")
        known = list(getattr(model, "classes_", []))
    fit_s = time.perf_counter() - start
    pred = model.predict(X_test)
    wall = time.perf_counter() - start
    labels = sorted(set(np.unique(y).tolist()) | set(np.asarray(known).tolist()))
    recall = recall_score(y, pred, labels=labels, average=None, zero_division=0)
    report = EvaluationReport(
        model=name or type(model).__name__,
        protocol=protocol,
        labels=[str(lab) for lab in labels],
        fold_accuracy=[float(np.mean(pred == y))],
        recall={str(lab): float(r) for lab, r in zip(labels, recall)},
        confusion=confusion_matrix(y, pred, labels=labels).tolist(),
        n_samples=len(y),
        n_groups=None if groups_test is None else int(len(np.unique(groups_test))),
        wall_time_s=wall,
        fold_time_s=[wall],
    )
    report.extra["predict_time_s"] = wall - fit_s
    return report
