"""Semi-supervised video autoencoder (paper 000_456b233df5d24fca): labels, lighting, front ends.

Tests the paper's two claims on CK+48 (10-fold GroupKFold by subject) and on the synthetic
expressions, both with the lighting changed over time by
:class:`~skfer.preprocessing.LightingChange`:

1. semi-supervised with few labels beats supervised on the same few labels (eq. 1 with
   the unlabelled training clips vs the predictor alone, ``alpha=0``);
2. the illumination-invariant sub-network beats the plain network under changing light
   (and input LRN, Table 5's comparison).

Configurations, each on the same folds and the same labelled subset:

* ``sup-10`` / ``sup-100``: the predictor alone (``alpha=0``) on 10 % / 100 % of the
  training clips' labels (the other 90 % left out);
* ``semi-10`` / ``semi-100``: eq. 1 on all training clips, 10 % / 100 % of them labelled
  (the rest ``-1``);
* ``semi-100+inv`` / ``semi-100+lrn``: ``semi-100`` behind the invariant sub-network /
  input LRN across frames. On CK+48 the three lighting configurations run on the relit
  clips (``lit``); ``semi-100`` also runs there as the plain baseline.

CK+48 keeps 3 frames per sequence: clips are interpolated to the model's 9 frames
(TemporalResampler) before the lighting is applied per model frame.

Run: ``python benchmarks/bench_video_autoencoder.py [--folds 10] [--epochs 15]`` (from
``benchmarks/``; ``--configs sup-10,semi-10`` runs a subset, ``--eta`` sets the
sub-network's ``η``).
Prints one table per data set (accuracy mean and std over folds, fit seconds per fold).
Models are small (8/16/16 filters, 64-wide bottleneck) so the whole run takes minutes on
2 shared CPU cores; torch uses one thread.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
from _shared_data import SHARED_DATA
from sklearn.model_selection import GroupKFold, StratifiedShuffleSplit

from skfer.datasets import load_ckplus48, make_expressions
from skfer.neural import SemiSupervisedVideoAutoencoder
from skfer.preprocessing import LightingChange, TemporalResampler

N_FRAMES = 9
MODEL = {
    "module__conv": ((8, 5, 3, 2, 2), (16, 3, 2, 2, 2), (16, 3, 2, 2, 2)),
    "module__fc": (64,),
    "module__predictor": (32,),
}
CONFIGS = {
    # name: (label share, alpha, front end)
    "sup-10": (0.1, 0.0, "none"),
    "semi-10": (0.1, 1.0, "none"),
    "sup-100": (1.0, 0.0, "none"),
    "semi-100": (1.0, 1.0, "none"),
    "semi-100+inv": (1.0, 1.0, "invariant"),
    "semi-100+lrn": (1.0, 1.0, "lrn"),
}


def labelled_subset(y: np.ndarray, share: float, seed: int) -> np.ndarray:
    """Indices of a stratified ``share`` of ``y`` (all of them for share 1)."""
    if share >= 1:
        return np.arange(len(y))
    split = StratifiedShuffleSplit(n_splits=1, train_size=share, random_state=seed)
    return np.sort(next(split.split(np.zeros(len(y)), y))[0])


def run_config(name, X, y, groups, folds, epochs, seed=0, eta=10.0):
    share, alpha, front = CONFIGS[name]
    accs, times = [], []
    for k, (train, test) in enumerate(folds):
        lab = train[labelled_subset(y[train], share, seed + k)]
        if alpha == 0:  # supervised: the labelled clips only
            fit_idx, y_fit = lab, y[lab]
        else:  # semi-supervised: every training clip, unlabelled ones as -1
            fit_idx = train
            y_fit = y[train].astype(object)
            y_fit[~np.isin(train, lab)] = -1
        est = SemiSupervisedVideoAutoencoder(
            n_frames=N_FRAMES, alpha=alpha, front_end=front, eta=eta, max_epochs=epochs,
            lr=0.003, batch_size=32, classes=np.unique(y), random_state=seed + k, **MODEL,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a class absent from 10 % labels
            est.fit([X[i] for i in fit_idx], y_fit)
        accs.append(float(np.mean(est.predict([X[i] for i in test]) == y[test])))
        times.append(est.fit_time_)
    return np.array(accs), np.array(times)


def report(title, results):
    print(f"\n{title}")
    print(f"{'config':<22}{'accuracy':>18}{'fit s/fold':>12}")
    for name, (accs, times) in results.items():
        print(f"{name:<22}{accs.mean():>10.3f} ± {accs.std():.3f}{times.mean():>12.1f}")


def resize_clip(clip: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    return np.stack([cv2.resize(f, size[::-1], interpolation=cv2.INTER_AREA) for f in clip])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--synthetic-subjects", type=int, default=10)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--skip-ckplus", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--eta", type=float, default=10.0,
                        help="eq. 3's eta of the invariant sub-network (tau = 1)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = args.configs.split(",")
    relight = LightingChange(ramp=0.5, flicker=0.15, side_light=0.6, random_state=0)
    start = time.perf_counter()

    if not args.skip_ckplus:
        bunch = load_ckplus48(SHARED_DATA / "ckplus48")
        X = TemporalResampler(n_frames=N_FRAMES).fit_transform(bunch.data)
        X_lit = relight.fit_transform(X)
        y, groups = np.asarray(bunch.target), np.asarray(bunch.groups)
        folds = list(GroupKFold(n_splits=args.folds).split(X, y, groups))
        results = {}
        for name in names:
            lighting = CONFIGS[name][2] != "none"
            data = X_lit if lighting else X
            results[name + (" (lit)" if lighting else "")] = run_config(
                name, data, y, groups, folds, args.epochs, eta=args.eta)
            print(f"  done {name} ({time.perf_counter() - start:.0f} s)", flush=True)
        if "semi-100" in names and "semi-100+inv" in names:
            results["semi-100 (lit)"] = run_config("semi-100", X_lit, y, groups, folds,
                                                   args.epochs)
        report(f"CK+48, {len(X)} clips, {args.folds}-fold GroupKFold by subject, "
               f"{args.epochs} epochs", results)

    if not args.skip_synthetic:
        b = make_expressions(n_subjects=args.synthetic_subjects, n_clips_per_expression=2,
                             frame_size=(64, 64), n_frames=N_FRAMES, color=False,
                             random_state=0)
        X = relight.fit_transform([resize_clip(c, (48, 48)) for c in b.data])
        y, groups = np.asarray(b.target), np.asarray(b.groups)
        n_folds = min(5, len(np.unique(groups)))
        folds = list(GroupKFold(n_splits=n_folds).split(X, y, groups))
        results = {name: run_config(name, X, y, groups, folds, args.epochs, eta=args.eta)
                   for name in names}
        report(f"synthetic (make_expressions, {len(X)} clips of 48x48, relit), "
               f"{n_folds}-fold GroupKFold by subject, {args.epochs} epochs", results)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
