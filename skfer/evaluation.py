"""Subject-independent evaluation of a FER pipeline, with a report.

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
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.metrics import accuracy_score, confusion_matrix, recall_score
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.utils import _safe_indexing

__all__ = ["EvaluationReport", "evaluate"]


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

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["accuracy_mean"] = self.accuracy_mean
        d["accuracy_std"] = self.accuracy_std
        return d

    def save_json(self, path: str | Path) -> Path:
        """Write the report as JSON and return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path

    def save_confusion_png(self, path: str | Path) -> Path:
        """Draw the confusion matrix (counts and row-normalised colours) to a PNG."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        cm = np.asarray(self.confusion, dtype=float)
        rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        n = len(self.labels)
        fig, ax = plt.subplots(figsize=(1.1 * n + 2, 1.0 * n + 1.5))
        ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(n), self.labels, rotation=45, ha="right")
        ax.set_yticks(range(n), self.labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for i in range(n):
            for j in range(n):
                ax.text(j, i, int(cm[i, j]), ha="center", va="center",
                        color="white" if rates[i, j] > 0.5 else "black")
        ax.set_title(
            f"{self.model}\naccuracy {self.accuracy_mean:.3f} ± {self.accuracy_std:.3f}"
        )
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
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


def _fit_predict_fold(model, X, y, train, test):
    start = time.perf_counter()
    est = clone(model).fit(_safe_indexing(X, train), y[train])
    pred = est.predict(_safe_indexing(X, test))
    return test, pred, time.perf_counter() - start


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

    Parameters
    ----------
    model : estimator
        An unfitted classifier taking ``X`` (e.g. a pipeline of clips to labels).
    X : list of clips, or array-like
    y : array-like of shape (n_samples,)
    groups : array-like of shape (n_samples,), optional
        Subject of each sample. With groups, ``GroupKFold(n_splits)`` keeps each subject
        in one fold; without them a ``StratifiedKFold`` is used and the protocol says it
        is *not* subject-independent.
    n_splits : int, default=10
    cv : cross-validation splitter, optional
        Overrides the default splitter; called as ``cv.split(X, y, groups)``.
    name : str, optional
        Name of the model in the report.
    n_jobs : int, optional
        Folds fitted in parallel (joblib).
    progress : bool, default=False
        Show a progress bar over folds (tqdm).

    Returns
    -------
    report : EvaluationReport
    """
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != len(y):
            raise ValueError(f"y has {len(y)} samples but groups has {len(groups)}")
    if cv is None:
        if groups is not None:
            n_groups = len(np.unique(groups))
            if n_groups < n_splits:
                raise ValueError(
                    f"{n_groups} subjects cannot be split into {n_splits} folds"
                )
            cv = GroupKFold(n_splits=n_splits)
            protocol = f"{n_splits}-fold GroupKFold by subject (subject-independent)"
        else:
            cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=0)
            protocol = (
                f"{n_splits}-fold StratifiedKFold (no subject ids: NOT subject-independent)"
            )
    else:
        protocol = repr(cv)
    splits = list(cv.split(np.zeros(len(y)), y, groups))
    start = time.perf_counter()
    jobs = (delayed(_fit_predict_fold)(model, X, y, tr, te) for tr, te in splits)
    results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    if progress:
        from tqdm.auto import tqdm

        results = tqdm(results, total=len(splits), desc="folds", unit="fold")
    pred = np.empty(len(y), dtype=object)
    fold_acc, fold_time = [], []
    for test, fold_pred, seconds in results:
        pred[test] = fold_pred
        fold_acc.append(float(accuracy_score(y[test], fold_pred)))
        fold_time.append(float(seconds))
    wall = time.perf_counter() - start
    labels = sorted(np.unique(y).tolist())
    pred = pred.astype(y.dtype)
    recall = recall_score(y, pred, labels=labels, average=None, zero_division=0)
    return EvaluationReport(
        model=name or type(model).__name__,
        protocol=protocol,
        labels=[str(lab) for lab in labels],
        fold_accuracy=fold_acc,
        recall={str(lab): float(r) for lab, r in zip(labels, recall)},
        confusion=confusion_matrix(y, pred, labels=labels).tolist(),
        n_samples=len(y),
        n_groups=None if groups is None else int(len(np.unique(groups))),
        wall_time_s=wall,
        fold_time_s=fold_time,
    )
