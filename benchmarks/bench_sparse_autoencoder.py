"""Sparse autoencoder + frame-level logistic regression beside HOG + SVM on CK+48.

10-fold GroupKFold by subject on the 327 CK+48 clips (3 frames each).
``sae-lr``: :class:`skfer.neural.SparseAutoencoder` (24x24 faces in [-1, 1], 250 hidden units,
rho 0.2, beta 5, lambda 0.002, L-BFGS ``--max-iter`` iterations) fitted on the training
fold's frames, then ``FrameLevelClassifier(LogisticRegression)`` (one-vs-rest is not forced:
scikit-learn's multinomial logistic regression is the softmax the paper used) on the hidden
activations. ``hog-svm`` is ``skfer.models.make_model("hog-svm")``. Prints a Markdown table
with accuracy and mean fit time per fold.

With ``--speed``: fit and transform time of ``SparseAutoencoder`` per 1,000 frames, on all
981 CK+48 frames (torch threads as ``--threads``; set ``OMP_NUM_THREADS`` to match).

Run: ``python benchmarks/bench_sparse_autoencoder.py [--max-iter 100] [--folds 10]
[--threads 2] [--speed] [--skip-cv]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from _shared_data import SHARED_DATA
from bench_encoders import time_fit_transform
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline

from skfer.datasets import load_ckplus48
from skfer.features import FrameLevelClassifier
from skfer.models import make_model
from skfer.neural import SparseAutoencoder


def make_sae_lr(max_iter: int = 100, random_state: int = 0) -> Pipeline:
    """``sae-lr``: the sparse autoencoder's hidden activations + frame-level softmax."""
    return make_pipeline(
        SparseAutoencoder(max_iter=max_iter, random_state=random_state),
        FrameLevelClassifier(LogisticRegression(max_iter=3000)),
    )


def speed(clips, max_iter: int, threads: int) -> None:
    """Fit and transform time of ``SparseAutoencoder`` per 1,000 frames on all the clips."""
    n_frames = sum(len(c) for c in clips)
    est = SparseAutoencoder(max_iter=max_iter, random_state=0)
    t_fit, t_tr = time_fit_transform(est, clips)
    per_k = 1000.0 / n_frames
    print(f"\n{n_frames} frames, torch threads {threads}; times per 1,000 frames")
    print("| step | fit | transform |")
    print("|---|---|---|")
    print(f"| SparseAutoencoder(max_iter={max_iter}) | {t_fit * per_k:.1f} s "
          f"({t_fit:.1f} s for the {n_frames}) | {t_tr * per_k:.3f} s ({t_tr:.3f} s) |")
    print(f"L-BFGS iterations run: {est.n_iter_} (of max_iter={max_iter})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--max-iter", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--speed", action="store_true",
                        help="also time fit and transform on all the frames")
    parser.add_argument("--skip-cv", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    bunch = load_ckplus48(args.data / "ckplus48")
    clips, y, groups = bunch.data, np.asarray(bunch.target), np.asarray(bunch.groups)
    if args.speed:
        speed(clips, args.max_iter, args.threads)
    if args.skip_cv:
        return
    cv = GroupKFold(args.folds)
    models = {
        "hog-svm": make_model("hog-svm"),
        f"sae-lr (250 hidden, {args.max_iter} L-BFGS iterations)": make_sae_lr(args.max_iter),
    }
    print("| model | accuracy (mean ± std) | fit time per fold (s) |")
    print("|---|---|---|")
    for name, model in models.items():
        res = cross_validate(model, clips, y, groups=groups, cv=cv)
        acc = res["test_score"]
        print(f"| {name} | {acc.mean():.3f} ± {acc.std():.3f} | {res['fit_time'].mean():.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
