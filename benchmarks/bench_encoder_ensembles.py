"""Each issue-12 encoder with HOG + SVM in the EmoNets weighted average, on CK+48.

Usage::

    python benchmarks/bench_encoder_ensembles.py [--data ../shared/data] [--folds 10]
        [--which {bom,sae,both}] [--inner-folds 3] [--kmeans {minibatch,lloyd}]
        [--sae-max-iter 100] [--threads 1] [--max-folds N] [--time-limit MINUTES]

CK+48 (327 clips of the last 3 frames, 48x48 grey, 118 subjects), the outer 10-fold
GroupKFold by subject of ``bench_encoders.py`` and ``bench_sparse_autoencoder.py``. In every
outer training fold a :class:`~skfer.ensemble.WeightedAverageClassifier` with two members,
each a whole pipeline on the same clips,

* ``hog-svm``: ``make_model("hog-svm", probability=True)`` (the ``skfer evaluate`` baseline
  with Platt-calibrated probabilities, ``CalibratedClassifierCV(cv=3, ensemble=False)``),
* ``bom-lr`` (``--which bom``): :func:`bench_encoders.make_bom_lr` (``MouthRegion`` inside
  the pipeline, ``BagOfMouths`` with 400 centroids per region, ``kmeans=--kmeans``,
  frame-level logistic regression), or ``sae-lr`` (``--which sae``):
  :func:`bench_sparse_autoencoder.make_sae_lr` (``SparseAutoencoder(max_iter=--sae-max-iter)``,
  frame-level softmax),

cross-fits the members on an inner ``GroupKFold(--inner-folds)`` of the training subjects
(``groups`` passed to ``fit``), searches the per-class weights (500 uniform + 500 local
candidates, the class defaults) and refits both members on the whole training fold. The
refitted members give the "alone" rows, their equal-weight mean the "plain average" row, so
every row of a fold uses the very same member models. The uncalibrated ``hog-svm`` (the
0.914 baseline of ``docs/benchmarks.md``) is scored on the same outer folds for the paired
differences. Prints one line per fold, then markdown tables (accuracy, per-fold values,
paired differences, the encoder's searched weight per class and fold).

``--max-folds`` stops after that many outer folds (a dry run); ``--time-limit`` starts no new
fold after that many minutes. Either way the tables cover the folds that finished, and say
how many.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from _shared_data import SHARED_DATA
from bench_encoders import _mean_std, make_bom_lr
from bench_sparse_autoencoder import make_sae_lr
from sklearn.model_selection import GroupKFold, cross_val_score

from skfer.datasets import load_ckplus48
from skfer.ensemble import WeightedAverageClassifier
from skfer.ensemble.weighted_average import combine_proba
from skfer.models import make_model

BASELINE = "hog-svm (uncalibrated, alone)"
CALIBRATED = "hog-svm (calibrated member)"


def _paired(values, reference) -> str:
    """Paired difference by fold: mean ± std; folds ahead/level/behind."""
    diff = np.asarray(values) - np.asarray(reference)
    return (f"{diff.mean():+.3f} ± {diff.std():.3f}; "
            f"{np.sum(diff > 0)}/{np.sum(diff == 0)}/{np.sum(diff < 0)}")


def encoder_member(which: str, args) -> tuple[str, object]:
    """The (name, pipeline) member of one encoder."""
    if which == "bom":
        return "bom-lr", make_bom_lr(kmeans=args.kmeans)
    return "sae-lr", make_sae_lr(max_iter=args.sae_max_iter)


def run_ensemble(which, clips, y, groups, splits, args, t_start):
    """Fit the two-member weighted average in every outer fold; per-fold records."""
    name, _ = encoder_member(which, args)
    acc: dict[str, list[float]] = defaultdict(list)
    weights, inner, fold_time = [], [], []
    for k, (train, test) in enumerate(splits):
        if args.max_folds is not None and k >= args.max_folds:
            break
        if args.time_limit is not None and time.perf_counter() - t_start > 60 * args.time_limit:
            print(f"time limit of {args.time_limit} min reached: fold {k} not started",
                  flush=True)
            break
        t0 = time.perf_counter()
        c_tr, c_te = [clips[i] for i in train], [clips[i] for i in test]
        wa = WeightedAverageClassifier(
            [("hog-svm", make_model("hog-svm", probability=True)), encoder_member(which, args)],
            cv=GroupKFold(args.inner_folds), random_state=0,
        ).fit(c_tr, y[train], groups=groups[train])
        y_te = np.searchsorted(wa.classes_, y[test])  # classes_ is sorted: label -> column
        proba = np.stack([e.predict_proba(c_te) for e in wa.estimators_], axis=1)
        acc[CALIBRATED].append(float((proba[:, 0].argmax(1) == y_te).mean()))
        acc[f"{name} (member)"].append(float((proba[:, 1].argmax(1) == y_te).mean()))
        plain = np.full(wa.weights_.shape, 0.5)
        acc["plain average"].append(float((combine_proba(proba, plain).argmax(1) == y_te).mean()))
        acc["weighted average"].append(float(wa.score(c_te, y[test])))
        weights.append(wa.weights_)
        inner.append(wa.best_score_)
        fold_time.append(time.perf_counter() - t0)
        print(f"[{which}] fold {k}: " + ", ".join(f"{m} {v[-1]:.3f}" for m, v in acc.items())
              + f"; inner {inner[-1]:.3f}; {name} weight per class "
              + " ".join(f"{w:.2f}" for w in wa.weights_[1])
              + f"; {fold_time[-1]:.0f} s", flush=True)
    return name, acc, np.array(weights), inner, fold_time, wa.classes_


def report(which, name, acc, weights, inner, fold_time, classes, baseline, args) -> None:
    """Markdown tables of one ensemble over the folds that finished."""
    n = len(fold_time)
    base = np.asarray(baseline[:n])
    print(f"\n### {name} with hog-svm: {n} of {args.folds} outer folds, inner "
          f"GroupKFold({args.inner_folds}), {sum(fold_time):.0f} s "
          f"({np.mean(fold_time):.0f} s a fold)\n")
    calibrated = np.asarray(acc[CALIBRATED])
    print("| model | accuracy (mean ± std) | per fold | minus hog-svm alone, paired "
          "(mean ± std; ahead/level/behind) | minus the calibrated hog-svm member, paired |")
    print("|---|---|---|---|---|")
    rows = {BASELINE: list(base), **acc}
    for model, values in rows.items():
        print(f"| {model} | {_mean_std(values)} | {', '.join(f'{v:.3f}' for v in values)} "
              f"| {'' if model == BASELINE else _paired(values, base)} "
              f"| {'' if model == CALIBRATED else _paired(values, calibrated)} |")
    print(f"\ninner cross-fitted accuracy of the searched weights: {np.mean(inner):.3f} "
          f"(per fold {', '.join(f'{v:.3f}' for v in inner)})")
    print(f"\n{name}'s weight per class (hog-svm's is 1 minus it)\n")
    print("| fold | " + " | ".join(classes) + " |")
    print("|---|" + "---|" * len(classes))
    for k, w in enumerate(weights):
        print(f"| {k} | " + " | ".join(f"{v:.2f}" for v in w[1]) + " |")
    print("| mean | " + " | ".join(f"{v:.2f}" for v in weights[:, 1].mean(0)) + " |",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--which", choices=["bom", "sae", "both"], default="both",
                        help="which encoder joins hog-svm; 'both' runs sae first (cheaper)")
    parser.add_argument("--inner-folds", type=int, default=3)
    parser.add_argument("--kmeans", choices=["minibatch", "lloyd"], default="minibatch")
    parser.add_argument("--sae-max-iter", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--max-folds", type=int, default=None,
                        help="stop after this many outer folds (dry run)")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="minutes after which no new outer fold starts")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    t_start = time.perf_counter()
    bunch = load_ckplus48(args.data / "ckplus48")
    clips, y, groups = bunch.data, np.asarray(bunch.target), np.asarray(bunch.groups)
    cv = GroupKFold(args.folds)
    splits = list(cv.split(clips, y, groups))
    baseline = cross_val_score(make_model("hog-svm"), clips, y, groups=groups, cv=splits)
    print(f"{len(clips)} clips, {len(set(groups))} subjects; hog-svm alone per fold: "
          + ", ".join(f"{v:.3f}" for v in baseline) + f" ({_mean_std(baseline)})", flush=True)
    for which in (["sae", "bom"] if args.which == "both" else [args.which]):
        out = run_ensemble(which, clips, y, groups, splits, args, t_start)
        if out[4]:  # some fold finished
            report(which, *out, baseline, args)
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
