"""The EmoNets combination on CK+48 (issue 22): the named model ``emonets-ensemble``, by subject.

Usage::

    python benchmarks/bench_ckplus_ensemble.py [--folds 10] [--protocols GroupKFold ascending-id]
        [--skip-stacking] [--skip-weights]

CK+48 (327 clips of 3 frames, 118 subjects), both protocols in one run: 10-fold
``GroupKFold`` by subject and the papers' ascending-id folds (``AscendingSubjectKFold``).
Rows, each scored by :func:`skfer.evaluation.evaluate` on the same folds:

* the three members of ``make_model("emonets-ensemble")`` alone, at their named models'
  fixed settings: ``face-net-lr`` (dlib's face network frozen, grid 4, C=10),
  ``convnet-fer2013-lr`` (the shipped ConvNet frozen, C=1), ``hog-svm`` (calibrated);
* ``emonets-ensemble``: their probabilities averaged with per-class weights found by random
  search (EmoNets section 4.1, every subset of members tried) on out-of-fold predictions
  of a 3-fold cross-fitting **by subject inside each training fold** (the ensemble gets the
  training fold's subjects through scikit-learn's metadata routing): the weights never see
  a test fold;
* ``SVM stacking``: the same members, their cross-fitted probabilities as the features of
  an RBF SVM whose C and gamma are chosen coarse to fine (EmoNets' other combination).

The members' feature steps learn nothing, so each clip's features are computed once for
the whole run (the named model's cache, shared by every clone): the first fold pays for
them. Prints a Markdown table, per-fold scores, the weights chosen and the CPU time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared_data import SHARED_DATA  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(SHARED_DATA))
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--protocols", nargs="+", default=["GroupKFold", "ascending-id"],
                        choices=["GroupKFold", "ascending-id"])
    parser.add_argument("--skip-stacking", action="store_true")
    parser.add_argument("--skip-weights", action="store_true",
                        help="do not refit the ensemble per fold to print its weights")
    args = parser.parse_args(argv)
    import sklearn
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import Pipeline

    from skfer.datasets import load_ckplus48
    from skfer.ensemble import SVMStackingClassifier
    from skfer.evaluation import evaluate
    from skfer.model_selection import AscendingSubjectKFold
    from skfer.models import make_model

    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {' '.join(sys.argv)}",
          flush=True)
    data = load_ckplus48(Path(args.data) / "ckplus48")
    X, y, groups = data.data, np.asarray(data.target), np.asarray(data.groups)
    protocols = {"GroupKFold": GroupKFold(args.folds),
                 "ascending-id": AscendingSubjectKFold(args.folds)}
    protocols = {k: v for k, v in protocols.items() if k in args.protocols}
    table: dict[str, dict[str, tuple]] = {}
    with sklearn.config_context(enable_metadata_routing=True):
        ensemble = make_model("emonets-ensemble", faces="given", random_state=0)
        ensemble[-1].set_fit_request(groups=True)
        members = ensemble[-1].estimators
        stacking = Pipeline([("ensemble", SVMStackingClassifier(
            members, cv=3, random_state=0).set_fit_request(groups=True))])
        models = {**{f"{name} alone": est for name, est in members},
                  "emonets-ensemble (per-class weighted average)": ensemble,
                  "SVM stacking": stacking}
        if args.skip_stacking:
            del models["SVM stacking"]
        for proto, cv in protocols.items():
            table[proto] = {}
            for name, model in models.items():
                c0 = time.process_time()
                report = evaluate(model, X, y, groups, cv=cv, name=name)
                cpu = time.process_time() - c0
                table[proto][name] = (report, cpu)
                print(f"{proto} {name}: {report.accuracy_mean:.3f} ± {report.accuracy_std:.3f} "
                      f"(CPU {cpu:.0f} s) per fold {np.round(report.fold_accuracy, 3).tolist()}",
                      flush=True)
            if args.skip_weights:
                continue
            # The weights each fold chose: refit on the training folds (features cached).
            weights = []
            for train, _ in cv.split(X, y, groups):
                from sklearn.base import clone

                fitted = clone(ensemble).fit([X[i] for i in train], y[train],
                                             groups=groups[train])
                weights.append(np.round(fitted[-1].weights_, 2).tolist())
            print(f"{proto} weights (member x class) per fold: {weights}", flush=True)
    print("\n| model | " + " | ".join(table) + " | CPU s (whole run) |")
    print("|---|" + "---|" * (len(table) + 1))
    for name in models:
        cells = [f"{table[p][name][0].accuracy_mean:.3f} ± {table[p][name][0].accuracy_std:.3f}"
                 for p in table]
        cpu = sum(table[p][name][1] for p in table)
        print(f"| {name} | " + " | ".join(cells) + f" | {cpu:.0f} |")


if __name__ == "__main__":
    main()
