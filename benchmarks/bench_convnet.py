"""The EmoNets ConvNet: trained on FER2013, then reused on CK+ (issue 9).

Usage::

    # 1. train on FER2013 train, early-stopped on PublicTest; saves the model outside the repo
    python benchmarks/bench_convnet.py fer2013 --max-minutes 40 \\
        [--model /tmp/skfer_convnet_fer2013.joblib]
    # 2. CK+48, 10-fold GroupKFold by subject, beside HOG + SVM, reusing the saved model
    python benchmarks/bench_convnet.py ckplus [--model ...] [--finetune-epochs 4]

Part 1 reports PublicTest accuracy, training time (wall clock, per-epoch validation
included), training and inference images per second, and the peak resident memory of the
process. PublicTest is both the early-stopping set and the reported set (the predefined
split of the issue), so its accuracy is slightly optimistic; FER2013's PrivateTest is not in
the shared data.

Part 2 scores on CK+48 (327 clips of the last 3 frames, 118 subjects), in one run and on the
same folds:

* ``hog-svm``: ``skfer.models.make_model("hog-svm")``, the baseline;
* ``(a) frozen-proba-svm``: the FER2013 ConvNet frozen (``FrozenEstimator``), per-frame class
  probabilities -> ``FrameAggregator(n_frames=3)`` -> RBF SVM (EmoNets 3.1.4);
* ``(b) frozen-features-lr``: its 3,200 penultimate features, averaged over the clip's frames
  -> standardised -> logistic regression;
* ``(c) fine-tuned``: a ConvNet initialised from the FER2013 one (``init_from``; the output
  layer is re-initialised for CK+'s classes), trained a few epochs per fold with a validation
  split by subject, predicting by the mean of the frames' probabilities.

The trained model holds FER2013-derived weights: keep it outside the repository.
"""

from __future__ import annotations

import argparse
import copy
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared_data import SHARED_DATA  # noqa: E402

DEFAULT_MODEL = Path("/tmp/skfer_convnet_fer2013.joblib")


def peak_memory_mb() -> float:
    """Peak resident set size of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fer2013_convnet(max_minutes: float, random_state: int):
    """The ConvNet configuration trained on FER2013 (see docs/benchmarks.md for why)."""
    from skorch.callbacks import LRScheduler

    from skfer.neural import ConvNet, TimeLimit

    return ConvNet(
        batch_norm=True,
        dropout=0.25,
        optimizer="adamw",
        lr=1e-3,
        weight_decay=0.004,
        batch_size=64,
        precision="bfloat16",
        max_epochs=200,
        patience=8,
        callbacks=[
            ("time_limit", TimeLimit(max_minutes)),
            ("lr_plateau", LRScheduler(policy="ReduceLROnPlateau", monitor="valid_loss",
                                       factor=0.5, patience=2)),
        ],
        random_state=random_state,
        verbose=1,
    )


def run_fer2013(args) -> None:
    import joblib
    import torch

    from skfer.datasets import load_fer2013

    root = Path(args.data) / "fer2013"
    t0 = time.perf_counter()
    train = load_fer2013(root, subset="Training", n_jobs=2, max_per_class=args.limit)
    valid = load_fer2013(root, subset="PublicTest", n_jobs=2, max_per_class=args.limit)
    load_s = time.perf_counter() - t0
    print(f"loaded {len(train.data)} training and {len(valid.data)} PublicTest images in "
          f"{load_s:.1f} s; torch threads: {torch.get_num_threads()}", flush=True)

    net = fer2013_convnet(args.max_minutes, args.random_state)
    print(f"configuration: {net!r}", flush=True)
    t0 = time.perf_counter()
    net.fit(train.data, train.target, X_valid=valid.data, y_valid=valid.target)
    fit_s = time.perf_counter() - t0
    history = net.history_
    best = int(np.argmin(history[:, "valid_loss"]))

    t0 = time.perf_counter()
    accuracy = net.score(valid.data, valid.target)
    infer_s = time.perf_counter() - t0

    # Drop the benchmark's callbacks from the saved model: it is loaded by part 2.
    net.set_params(callbacks=None)
    joblib.dump(net, args.model)
    epochs = net.n_epochs_
    print("\n## FER2013 ConvNet")
    print(f"- PublicTest accuracy: {accuracy:.4f} (best epoch {best + 1} of {epochs}, "
          f"best valid_acc in training {max(history[:, 'valid_acc']):.4f})")
    print(f"- training: {fit_s / 60:.1f} min for {epochs} epochs "
          f"({len(train.data) * epochs / fit_s:.0f} training images/s, PublicTest scoring of "
          "every epoch included)")
    print(f"- inference: {len(valid.data) / infer_s:.0f} images/s ({len(valid.data)} images "
          f"in {infer_s:.1f} s, batch {net.batch_size})")
    print(f"- peak memory: {peak_memory_mb():.0f} MB (resident, whole process)")
    # EarlyStopping ends the last epoch before TimeLimit records its key in that row.
    reached = bool(history[-1].get("time_limit_reached", False))
    print(f"- time limit reached: {reached}; "
          f"saved to {args.model}")


def run_ckplus(args) -> None:
    import joblib
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_validate
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from skfer.datasets import load_ckplus48
    from skfer.models import make_model
    from skfer.neural import ConvNet
    from skfer.preprocessing import FrameAggregator, FramePooling

    data = load_ckplus48(Path(args.data) / "ckplus48")
    X, y, groups = data.data, np.asarray(data.target), np.asarray(data.groups)
    fer = joblib.load(args.model)
    features = copy.deepcopy(fer).set_params(transform_output="features")
    print(f"CK+48: {len(X)} clips, {len(set(groups))} subjects; FER2013 model {args.model} "
          f"(classes {list(fer.classes_)})", flush=True)

    models = {
        "hog-svm": make_model("hog-svm", random_state=0),
        "(a) frozen-proba-svm": Pipeline([
            ("convnet", FrozenEstimator(fer)),
            ("aggregate", FrameAggregator(n_frames=3)),
            ("svm", SVC(C=10.0, gamma="scale")),
        ]),
        "(b) frozen-features-lr": Pipeline([
            ("convnet", FrozenEstimator(features)),
            ("mean", FramePooling(method="mean")),
            ("scale", StandardScaler()),
            ("lr", LogisticRegression(C=0.1, max_iter=2000)),
        ]),
        "(c) fine-tuned": ConvNet(
            init_from=args.model, batch_norm=True, dropout=0.25, optimizer="adamw", lr=3e-4,
            weight_decay=0.004, max_epochs=args.finetune_epochs, patience=None,
            validation_fraction=None, batch_size=64, precision="bfloat16", random_state=0,
            verbose=0,
        ),
    }
    cv = GroupKFold(n_splits=args.folds)
    rows = []
    for name, model in models.items():
        t0 = time.perf_counter()
        res = cross_validate(model, X, y, groups=groups, cv=cv, n_jobs=1)
        seconds = time.perf_counter() - t0
        scores = res["test_score"]
        rows.append((name, scores.mean(), scores.std(), seconds))
        print(f"{name}: {scores.mean():.4f} +- {scores.std():.4f} ({seconds:.0f} s) "
              f"folds {np.round(scores, 3).tolist()}", flush=True)
    print(f"\n| model | accuracy (mean +- std over {args.folds} folds) | time |")
    print("|---|---|---|")
    for name, mean, std, seconds in rows:
        print(f"| {name} | {mean:.3f} +- {std:.3f} | {seconds:.0f} s |")
    print(f"\npeak memory: {peak_memory_mb():.0f} MB")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=["fer2013", "ckplus"])
    parser.add_argument("--data", default=str(SHARED_DATA))
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--max-minutes", type=float, default=40.0,
                        help="wall-clock budget of the FER2013 training")
    parser.add_argument("--limit", type=int, default=None,
                        help="FER2013 images per class (quick trial runs)")
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--finetune-epochs", type=int, default=4)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch and BLAS threads (on a CPU shared with other jobs, 1 can be "
                             "much faster: OpenBLAS threads spin while waiting for a core)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {' '.join(sys.argv)}")
    {"fer2013": run_fer2013, "ckplus": run_ckplus}[args.part](args)


if __name__ == "__main__":
    main()
