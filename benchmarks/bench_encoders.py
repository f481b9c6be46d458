"""Feature encoders of issue 12: bag of mouths on CK+48 beside HOG + SVM, and audio features.

Usage::

    python benchmarks/bench_encoders.py [--data ../shared/data] [--folds 10] [--skip-cv]

* **Accuracy**: CK+48 (327 clips of the last 3 frames, 48x48 grey, 118 subjects), 10-fold
  GroupKFold by subject. ``hog-svm`` is ``skfer.models.make_model("hog-svm")`` (the
  ``skfer evaluate`` baseline). ``bom-lr`` is the EmoNets 3.4 model: mouth crops
  (``MouthRegion``, the default box, resized to 32x48 so that a 4x4 grid of 8x8 patches fits),
  ``BagOfMouths`` with the paper's settings (16 regions, 90% whitening, 400 centroids, mean
  pooling), fitted on the training fold's mouths only, and ``FrameLevelClassifier``
  (logistic regression on frames, probabilities averaged over the clip's frames) with
  scikit-learn's default ``C=1``; with ``--tune`` also ``C`` chosen in {0.01, 0.1, 1, 10} by
  an inner 3-fold GroupKFold on the training fold, on the same per-fold encodings.
* **Speed and memory** on all 981 CK+48 frames: fit and transform time per 1,000 frames
  (mini-batch and Lloyd k-means; HOG for reference), and the peak memory of the
  bag-of-mouths fit (``tracemalloc``: what Python and NumPy allocate during ``fit``).
* **Audio**: ``AudioFeatures`` on every CREMA-D sample clip shipped with skfer (sequences and
  pooled mean + std); with ``--emodb``, also a speaker-independent accuracy on Emo-DB (535
  utterances, 10 speakers, 7 emotions): pooled features, standardised, logistic regression,
  GroupKFold by speaker (10 folds).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from pathlib import Path

import numpy as np
from _shared_data import SHARED_DATA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from skfer import ClipSet
from skfer.datasets import load_ckplus48, load_emodb, load_sample_videos
from skfer.features import AudioFeatures, BagOfMouths, FrameLevelClassifier, HOGFeatures
from skfer.models import make_model
from skfer.preprocessing import MouthRegion

MOUTH_SIZE = (32, 48)
C_GRID = [0.01, 0.1, 1.0, 10.0]


def _mean_std(values) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def make_bom_lr(kmeans: str = "minibatch", random_state: int = 0) -> Pipeline:
    """``bom-lr`` as one pipeline on the 48x48 faces (it crops the mouths itself).

    The same steps as :func:`cross_validation` (which crops the mouths once before the folds,
    as ``MouthRegion`` learns nothing): the fixed mouth box resized to :data:`MOUTH_SIZE`,
    ``BagOfMouths`` with the paper's settings, and ``FrameLevelClassifier`` (logistic
    regression, ``C=1``). As a pipeline it reads the same clips as ``hog-svm``, so both can
    be members of one ensemble.
    """
    return make_pipeline(
        MouthRegion(frame_size=MOUTH_SIZE),
        BagOfMouths(kmeans=kmeans, random_state=random_state),
        FrameLevelClassifier(LogisticRegression(max_iter=3000)),
    )


def cross_validation(clips, mouths, y, groups, folds: int, tune: bool) -> None:
    cv = GroupKFold(folds)
    t0 = time.perf_counter()
    hog = cross_val_score(make_model("hog-svm"), clips, y, groups=groups, cv=cv)
    t_hog = time.perf_counter() - t0
    default, tuned, chosen, t_bom = [], [], [], 0.0
    for k, (tr, te) in enumerate(cv.split(clips, y, groups)):
        t0 = time.perf_counter()
        bom = BagOfMouths(random_state=0).fit([mouths[i] for i in tr])
        f_tr = bom.transform([mouths[i] for i in tr])
        f_te = bom.transform([mouths[i] for i in te])
        clf = FrameLevelClassifier(LogisticRegression(max_iter=3000)).fit(f_tr, y[tr])
        default.append(np.mean(clf.predict(f_te) == y[te]))
        if tune:
            search = GridSearchCV(
                FrameLevelClassifier(LogisticRegression(max_iter=3000)),
                {"estimator__C": C_GRID}, cv=GroupKFold(3),
            ).fit(f_tr, y[tr], groups=groups[tr])
            tuned.append(np.mean(search.predict(f_te) == y[te]))
            chosen.append(search.best_params_["estimator__C"])
        t_bom += time.perf_counter() - t0
        print(f"fold {k}: hog-svm {hog[k]:.3f}  bom-lr C=1 {default[-1]:.3f}"
              + (f"  bom-lr tuned {tuned[-1]:.3f} (C={chosen[-1]})" if tune else ""),
              flush=True)
    print(f"\n| model | accuracy (mean ± std over {folds} folds) | time for the {folds} folds |")
    print("|---|---|---|")
    print(f"| hog-svm | {_mean_std(hog)} | {t_hog:.0f} s |")
    print(f"| bom-lr, C=1 | {_mean_std(default)} | {t_bom:.0f} s (bom-lr rows) |")
    if tune:
        print(f"| bom-lr, C tuned by inner GroupKFold | {_mean_std(tuned)} | |")
        print(f"C chosen per fold: {chosen}")
    diff = np.array(tuned if tune else default) - hog
    print(f"paired bom-lr - hog-svm: mean {diff.mean():+.3f}, std {diff.std():.3f}, "
          f"ahead {np.sum(diff > 0)}, level {np.sum(diff == 0)}, behind {np.sum(diff < 0)}")


def time_fit_transform(est, X) -> tuple[float, float]:
    """Seconds of ``est.fit(X)``, then of ``est.transform(X)`` (``est`` is left fitted)."""
    t0 = time.perf_counter()
    est.fit(X)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    est.transform(X)
    return t_fit, time.perf_counter() - t0


def speed_and_memory(clips, mouths) -> None:
    n_frames = sum(len(m) for m in mouths)
    per_k = 1000.0 / n_frames
    print(f"\n{n_frames} frames; times per 1,000 frames")
    print("| step | fit | transform | fitted patches per region |")
    print("|---|---|---|---|")
    for kmeans in ("minibatch", "lloyd"):
        est = BagOfMouths(kmeans=kmeans, random_state=0)
        t_fit, t_tr = time_fit_transform(est, mouths)
        print(f"| BagOfMouths(kmeans={kmeans!r}) | {t_fit * per_k:.1f} s | {t_tr * per_k:.2f} s"
              f" | {est.n_patches_[0]} |", flush=True)
    t_fit, t_tr = time_fit_transform(HOGFeatures(), clips)
    print(f"| HOGFeatures (48x48 faces) | {t_fit * per_k:.3f} s | {t_tr * per_k:.3f} s | |")
    tracemalloc.start()
    BagOfMouths(random_state=0).fit(mouths)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = sum(m.nbytes for m in mouths)
    print(f"peak memory of BagOfMouths().fit on all {n_frames} mouths: {peak / 2**20:.1f} MiB "
          f"(the mouths themselves: {size / 2**20:.1f} MiB)")


def audio(emodb: Path | None) -> None:
    t0 = time.perf_counter()
    X = ClipSet.from_bunch(load_sample_videos(color=False))
    t_load = time.perf_counter() - t0
    seconds = sum(len(a) for a in X.get("audio")) / 16000
    t0 = time.perf_counter()
    seqs = AudioFeatures().fit_transform(X)
    t_seq = time.perf_counter() - t0
    pooled = AudioFeatures(pooling=["mean", "std"]).fit_transform(X)
    finite = all(np.isfinite(s).all() for s in seqs.data) and np.isfinite(pooled).all()
    print(f"\nCREMA-D sample: {len(X)} clips, {seconds:.1f} s of sound (decoded with the "
          f"videos in {t_load:.1f} s); features in {t_seq:.2f} s "
          f"({t_seq / seconds * 1000:.1f} ms per second of sound); sequences "
          f"{[s.shape for s in seqs.data]}; pooled {pooled.shape}; all finite: {finite}")
    if emodb is None:
        return
    t0 = time.perf_counter()
    bunch = load_emodb(emodb)  # decoded with skfer.io.read_audio at 16 kHz
    y, speakers = np.asarray(bunch.target), np.asarray(bunch.groups)
    F = AudioFeatures(pooling=["mean", "std"]).fit_transform(ClipSet.from_bunch(bunch))
    t_feat = time.perf_counter() - t0
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
    scores = cross_val_score(model, F, y, groups=speakers, cv=GroupKFold(10))
    majority = np.unique(y, return_counts=True)[1].max() / len(y)
    print(f"Emo-DB: {len(y)} files, {len(set(speakers))} speakers, {len(set(y))} classes; "
          f"decoding + features {t_feat:.1f} s; pooled mean+std + logistic regression (C=0.1), "
          f"GroupKFold by speaker: {_mean_std(scores)} (majority class {majority:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--skip-cv", action="store_true")
    parser.add_argument("--emodb", action="store_true")
    parser.add_argument("--tune", action="store_true",
                        help="also choose C by an inner GroupKFold (slow: 13 more fits a fold)")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()

    audio(args.data / "emodb" if args.emodb else None)
    bunch = load_ckplus48(args.data / "ckplus48")
    clips, y, groups = bunch.data, np.asarray(bunch.target), np.asarray(bunch.groups)
    mouths = MouthRegion(frame_size=MOUTH_SIZE).fit_transform(clips)  # stateless: once
    if not args.skip_speed:
        speed_and_memory(clips, mouths)
    if not args.skip_cv:
        cross_validation(clips, mouths, y, groups, args.folds, args.tune)


if __name__ == "__main__":
    main()
