"""Ensembles on CK+ (EmoNets, section 4): members alone, averages and SVM stacking side by side.

Usage::

    python benchmarks/bench_ensembles.py [--data ../shared/data/ckplus48] [--folds 10]

10-fold GroupKFold by subject on ``ckplus48`` (327 clips of the last 3 frames, 48x48 grey).
Four cheap, diverse members (each a whole pipeline on the same clips):

* ``hog-svm``: HOG of the last (apex) frame + RBF SVM (C=10, calibrated): the
  ``skfer evaluate`` baseline;
* ``pixels-pca-lr``: raw pixels of the apex frame + PCA + logistic regression;
* ``lbp-svm``: 4x4-grid histograms of 8-neighbour LBP codes of the apex frame + linear SVM
  (calibrated);
* ``delta-lr``: apex minus first frame (the motion of the last frames) + PCA + logistic
  regression.

In each outer fold :class:`~skfer.ensemble.WeightedAverageClassifier` cross-fits the members
with a 5-fold GroupKFold on the training subjects, searches the per-class weights and refits
the members on the whole training fold; its refitted members give the "member alone" rows, its
equal-weight combination the "plain average" row (section 4.1), so every row of a fold uses the
very same member models. :class:`~skfer.ensemble.SVMStackingClassifier` (section 4.2) cross-fits
the same members on the same inner folds. Prints a markdown table of accuracy mean +- std over
the outer folds.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from _shared_data import SHARED_DATA
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from skfer.datasets import load_ckplus48
from skfer.ensemble import SVMStackingClassifier, WeightedAverageClassifier
from skfer.ensemble.weighted_average import combine_proba
from skfer.features import HOGFeatures, LBPFeatures, PixelFeatures
from skfer.preprocessing import FramePooling

DEFAULT_DATA = SHARED_DATA / "ckplus48"


def members(seed: int = 0):
    """The four (name, pipeline) members, built from skfer's parts; each reads the clips."""
    def calibrated(est):
        return CalibratedClassifierCV(est, ensemble=False, cv=3)

    return [
        # the `skfer evaluate --model hog-svm` baseline, calibrated for probabilities
        ("hog-svm", make_pipeline(HOGFeatures(), FramePooling(method="last"),
                                  calibrated(SVC(C=10.0, gamma="scale")))),
        ("pixels-pca-lr", make_pipeline(PixelFeatures(frame_size=(48, 48)),
                                        FramePooling(method="last"),
                                        PCA(60, random_state=seed), StandardScaler(),
                                        LogisticRegression(C=0.1, max_iter=2000))),
        ("lbp-svm", make_pipeline(LBPFeatures(grid=4), FramePooling(method="last"),
                                  StandardScaler(), calibrated(LinearSVC(C=1e-3)))),
        ("delta-lr", make_pipeline(PixelFeatures(frame_size=(48, 48)), FramePooling(method="delta"),
                                   PCA(40, random_state=seed), StandardScaler(),
                                   LogisticRegression(C=0.1, max_iter=2000))),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--inner-folds", type=int, default=5)
    parser.add_argument("--n-iter", type=int, default=1000)
    parser.add_argument("--n-local-iter", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    t0 = time.perf_counter()
    bunch = load_ckplus48(args.data)
    clips, y, subjects = bunch.data, np.asarray(bunch.target), np.asarray(bunch.groups)
    print(f"{len(clips)} clips, {len(set(subjects))} subjects, classes {sorted(set(y.tolist()))}")
    names = [n for n, _ in members()]
    acc: dict[str, list[float]] = defaultdict(list)
    oof_acc: dict[str, list[float]] = defaultdict(list)
    all_weights = []
    for fold, (train, test) in enumerate(GroupKFold(args.folds).split(clips, y, subjects)):
        c_tr = [clips[i] for i in train]
        c_te = [clips[i] for i in test]
        wa = WeightedAverageClassifier(
            members(args.seed), cv=args.inner_folds, n_iter=args.n_iter,
            n_local_iter=args.n_local_iter, random_state=args.seed,
        ).fit(c_tr, y[train], subjects[train])
        y_te = np.searchsorted(wa.classes_, y[test])  # classes_ is sorted: label -> column
        proba = np.stack([e.predict_proba(c_te) for e in wa.estimators_], axis=1)
        for m, name in enumerate(names):
            acc[name].append(float((proba[:, m].argmax(1) == y_te).mean()))
            oof_acc[name].append(float(
                (wa.oof_proba_[:, m].argmax(1) == np.searchsorted(wa.classes_, y[train])).mean()))
        avg_w = np.full(wa.weights_.shape, 1.0 / len(names))
        acc["plain average"].append(float((combine_proba(proba, avg_w).argmax(1) == y_te).mean()))
        acc["weighted average (random search)"].append(
            float((combine_proba(proba, wa.weights_).argmax(1) == y_te).mean()))
        oof_acc["weighted average (random search)"].append(wa.best_score_)
        all_weights.append(wa.weights_)
        stack = SVMStackingClassifier(members(args.seed), cv=args.inner_folds,
                                      random_state=args.seed).fit(c_tr, y[train], subjects[train])
        acc["SVM stacking (coarse-to-fine RBF)"].append(float(stack.score(c_te, y[test])))
        print(f"fold {fold}: " + ", ".join(f"{k}={v[-1]:.3f}" for k, v in acc.items())
              + f"  [{time.perf_counter() - t0:.0f}s]", flush=True)

    print(f"\n{args.folds}-fold GroupKFold by subject on CK+ ({len(clips)} clips), "
          f"inner {args.inner_folds}-fold GroupKFold cross-fitting, "
          f"search {args.n_iter} uniform + {args.n_local_iter} local trials, "
          f"{time.perf_counter() - t0:.0f}s\n")
    print("| model | test accuracy (mean ± std) | inner cross-fitted accuracy |")
    print("|---|---|---|")
    for name, values in acc.items():
        inner = f"{np.mean(oof_acc[name]):.3f}" if name in oof_acc else ""
        print(f"| {name} | {np.mean(values):.3f} ± {np.std(values):.3f} | {inner} |")
    classes = wa.classes_
    mean_w = np.mean(all_weights, axis=0)
    print("\nMean searched weights over the outer folds (rows: members, columns: classes)\n")
    print("| member | " + " | ".join(classes) + " |")
    print("|---|" + "---|" * len(classes))
    for name, row in zip(names, mean_w):
        print(f"| {name} | " + " | ".join(f"{w:.2f}" for w in row) + " |")


if __name__ == "__main__":
    main()
