"""DTAN, DTGN and DTAGN (Jung et al., ICCV 2015) on CK+48, beside HOG + SVM.

Usage::

    python benchmarks/bench_dtagn.py [--data ../shared/data/ckplus48] [--folds 10]
        [--protocols groupkfold ascending] [--out /tmp/skfer_dtagn_bench]

1. **Landmarks.** CK+48 has none: every 48x48 frame is upsampled 4x (bicubic, 192x192) and
   given to :class:`~skfer.preprocessing.LandmarkDetector` (dlib HOG face detector without
   further upsampling, 68-point predictor); the points are scaled back to 48x48 pixels.
   Prints how many frames got landmarks. The landmarks are cached under ``--out`` (outside
   the repository: they are derived from CK+, which may not be redistributed).
2. **Landmark quality at this resolution**, measured where the truth is known: the same
   pipeline on synthetic faces (:func:`skfer.datasets.make_expressions`, ground-truth
   landmarks) rendered at 48x48, normalised mean error (by the outer-eye-corner distance)
   of the 68 and of the 49 DTGN points; and at 192x192 rendering for comparison.
3. **Figure** ``docs/dtagn_landmarks.png``: a synthetic 48x48 face with its true and
   detected points, and the normalised (eq. 3) 49-point shapes detected on CK+48, points
   only (no CK+ pixels are drawn).
4. **Cross-validation**, both protocols in one run: 10-fold ``GroupKFold`` by subject and the
   papers' ascending-id 10 folds (:class:`~skfer.model_selection.AscendingSubjectKFold`). In
   every fold one :class:`~skfer.neural.dtagn.DTAGN` is fitted (joint fine-tuning); its
   untouched ``dtan_`` and ``dtgn_`` give the DTAN and DTGN rows, eq. 7 with alpha = 0.5 on
   them the weighted-sum row, and the model itself the joint row, so all four rows of a fold
   use the same two trained networks. HOG + SVM is ``skfer.models.make_model("hog-svm")``.

``--named``: the same protocols for ``make_model("dtagn")`` (issue 22), the named model
whose appearance member is the shipped FER2013 ConvNet fine-tuned (in place of DTAN from
scratch) and whose DTGN has the paper's landmark augmentation; its landmarks come from its
own first step (``LandmarkDetector(upsample=0, min_size=192)``: the same points as the
cache), not the cache.
Rows from one fit per fold: the fine-tuned ConvNet alone, DTGN alone, their weighted sum,
the joint model, HOG + SVM; results appended to ``--out/named_folds.jsonl``.

CPU budget (2 cores shared with other jobs, load average about 14 during the run): the
paper's DTAN at 48x48 costs 7 CPU-seconds per epoch on one fold, about an hour of wall time
per fold at that load, so DTAN runs *reduced*: frames downsampled to 24x24 (``INTER_AREA``),
16 filters per convolution (C(5,16)-L5-P2-C(5,16)-L3-P2) and FC100-FC100, 15 epochs with
Adam. DTGN is the paper's (FC100-FC600), 150 epochs; joint fine-tuning 30 epochs; T = 3
(all CK+48 keeps); no data augmentation (14 copies would multiply the cost by 14). HOG +
SVM reads the 48x48 frames. torch runs on one thread (``--threads``): on this shared CPU
two threads were 12 times slower. Per-fold results are appended to ``--out/folds.jsonl``
as they come, so an interrupted run still reports its finished folds.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
from _ckplus_protocols import run_protocols
from _shared_data import SHARED_DATA
from sklearn.model_selection import GroupKFold

from skfer import ClipSet
from skfer.datasets import load_ckplus48, make_expressions
from skfer.models import make_model
from skfer.neural.dtagn import DTAGN, DTAN, DTGN, weighted_sum
from skfer.preprocessing import IBUG68_TO_INTRAFACE49, LandmarkDetector, LandmarkNormalizer

DEFAULT_DATA = SHARED_DATA / "ckplus48"
FIGURE = Path(__file__).resolve().parents[1] / "docs" / "dtagn_landmarks.png"
UPSAMPLE = 4
ROWS = ("DTAN", "DTGN", "DTAGN weighted sum (alpha=0.5)", "DTAGN joint fine-tuning", "HOG + SVM")


def _resize(clip: np.ndarray, size: int) -> np.ndarray:
    interp = cv2.INTER_CUBIC if size > clip.shape[1] else cv2.INTER_AREA
    return np.stack([cv2.resize(f, (size, size), interpolation=interp) for f in clip])


def detect(clips: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """68 landmarks per frame in the clips' own pixels (NaN where no face), found mask."""
    size = clips[0].shape[1] * UPSAMPLE
    big = [_resize(c, size) for c in clips]
    det = LandmarkDetector(detector="hog", upsample=0, on_missing="ignore").fit(big)
    points = [p / UPSAMPLE for p in det.transform(big)]
    found = np.concatenate([np.isfinite(p).all(axis=(1, 2)) for p in points])
    return points, found


def landmarks_for(data, out: Path) -> list[np.ndarray]:
    cache = out / "ckplus48_landmarks.npz"
    if cache.exists():
        arrays = np.load(cache)
        return [arrays[f"c{i}"] for i in range(len(data.data))]
    t = time.perf_counter()
    points, found = detect(data.data)
    print(f"landmark detection: {time.perf_counter() - t:.0f} s")
    np.savez_compressed(cache, **{f"c{i}": p for i, p in enumerate(points)})
    return points


def nme(pred: np.ndarray, true: np.ndarray, subset=None) -> np.ndarray:
    """Per-frame mean point error / outer-eye-corner distance (frames with landmarks)."""
    iod = np.linalg.norm(true[:, 36] - true[:, 45], axis=1)
    if subset is not None:
        pred, true = pred[:, subset], true[:, subset]
    return np.linalg.norm(pred - true, axis=2).mean(axis=1) / iod


def synthetic_quality() -> dict:
    bunch = make_expressions(n_subjects=4, n_clips_per_expression=1, n_frames=(3, 3),
                             frame_size=(192, 192), color=False, random_state=0)
    result = {}
    for size in (48, 192):
        clips = [_resize(c, size) for c in bunch.data]
        scale = size / 192
        points, found = detect(clips)
        pred = np.concatenate(points)[found]
        true = np.concatenate(bunch.landmarks)[found] * scale
        result[size] = {
            "frames": int(found.size), "found": int(found.sum()),
            "nme68": float(np.median(nme(pred, true))),
            "nme49": float(np.median(nme(pred, true, IBUG68_TO_INTRAFACE49))),
        }
        if size == 48:
            result["example"] = (clips[0][-1], points[0][-1], bunch.landmarks[0][-1] * scale)
    return result


def figure(example, ck_points: list[np.ndarray]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    face, detected, true = example
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
    axes[0].imshow(face, cmap="gray", extent=(-0.5, 47.5, 47.5, -0.5))
    axes[0].scatter(*true.T, s=10, c="lime", label="true (synthetic)")
    axes[0].scatter(*detected.T, s=10, c="red", marker="x", label="dlib, 4x upsampled")
    axes[0].set_title("synthetic 48x48 face")
    axes[0].legend(loc="lower left", fontsize=7)
    axes[0].axis("off")
    apex = np.stack([p[-1][IBUG68_TO_INTRAFACE49] for p in ck_points
                     if np.isfinite(p[-1]).all()])
    normed = LandmarkNormalizer(flatten=False).fit_transform(list(apex[:, None]))
    shapes = np.stack([s.reshape(-1, 2) for s in normed])
    axes[1].scatter(shapes[..., 0].ravel(), shapes[..., 1].ravel(), s=1, alpha=0.15)
    axes[1].scatter(*shapes.mean(axis=0).T, s=8, c="k", label="mean")
    axes[1].invert_yaxis()
    axes[1].set_aspect("equal")
    axes[1].set_title(f"CK+48 apex frames: {len(shapes)} detected\n49-point shapes, eq. 3")
    axes[1].legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    fig.savefig(FIGURE, dpi=90)
    plt.close(fig)


def make_dtagn(seed: int) -> DTAGN:
    dtan = DTAN(n_frames=3, optimizer="adam", lr=1e-3, max_epochs=15, batch_size=32,
                module__stages=((5, 16, 5, 2), (5, 16, 3, 2)), module__hidden=(100, 100))
    dtgn = DTGN(n_frames=3, optimizer="adam", lr=1e-3, max_epochs=150, batch_size=32)
    return DTAGN(dtan, dtgn, combination="joint", finetune_epochs=30, random_state=seed)


def run_fold(X_small, X48, y, train, test, seed) -> dict:
    row = {}
    model = make_dtagn(seed)
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X_small[train], y[train])
        p1 = model.dtan_.predict_proba(X_small[test])
        p2 = model.dtgn_.predict_proba(X_small[test])
        pj = model.predict_proba(X_small[test])
    row["dtagn_fit_s"] = time.perf_counter() - t
    row["dtan_fit_s"] = float(sum(model.dtan_.history_[:, "dur"]))
    row["dtgn_fit_s"] = float(sum(model.dtgn_.history_[:, "dur"]))
    row["warnings"] = sorted({str(w.message)[:160] for w in caught})
    pw = weighted_sum(p1, p2, 0.5)
    classes = model.classes_
    for name, p in zip(ROWS[:4], (p1, p2, pw, pj)):
        row[name] = float(np.mean(classes[p.argmax(axis=1)] == y[test]))
    hog = make_model("hog-svm")
    t = time.perf_counter()
    hog.fit(X48[train].data, y[train])
    row["hog_fit_s"] = time.perf_counter() - t
    row[ROWS[4]] = float(np.mean(hog.predict(X48[test].data) == y[test]))
    return row


NAMED_ROWS = ("ConvNet (FER2013, fine-tuned)", "DTGN (augmented)",
              "DTAGN weighted sum (alpha=0.5)", "DTAGN joint fine-tuning", "HOG + SVM")


def run_named_fold(clips, y, train, test, seed) -> dict:
    """One fold of ``make_model("dtagn")`` and its members, beside HOG + SVM."""
    row = {}
    model = make_model("dtagn", random_state=seed)
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit([clips[i] for i in train], y[train])
        row["fit_s"] = time.perf_counter() - t
        X_test = model[:-1].transform([clips[i] for i in test])
        dtagn = model[-1]
        p1, p2 = dtagn.dtan_.predict_proba(X_test), dtagn.dtgn_.predict_proba(X_test)
        pj = dtagn.predict_proba(X_test)
    row["warnings"] = sorted({str(w.message)[:160] for w in caught})
    for name, p in zip(NAMED_ROWS[:4], (p1, p2, weighted_sum(p1, p2, 0.5), pj)):
        row[name] = float(np.mean(dtagn.classes_[p.argmax(axis=1)] == y[test]))
    hog = make_model("hog-svm").fit([clips[i] for i in train], y[train])
    row[NAMED_ROWS[4]] = float(np.mean(hog.predict([clips[i] for i in test]) == y[test]))
    return row


def named(data, y, groups, protocols, n_folds: int, out: Path) -> None:
    results = run_protocols(
        protocols, data.data, y, groups,
        lambda train, test, seed: run_named_fold(data.data, y, train, test, seed),
        NAMED_ROWS, out / "named_folds.jsonl", lambda row: f"fit {row['fit_s']:.0f} s",
        n_folds=n_folds)
    for protocol, rows in results.items():
        print(f"{protocol}: fit per fold {np.mean([r['fit_s'] for r in rows]):.0f} s")


def diagnostics(X_small, y, groups) -> None:
    """Measurements behind the shortfall: T = 3 on synthetic data, and what fine-tuning sees."""
    # 1. T = 3 vs whole sequences, on synthetic clips whose true landmarks are known.
    bunch = make_expressions(n_subjects=8, n_clips_per_expression=2, n_frames=(10, 16),
                             frame_size=(64, 64), color=False, random_state=1)
    full = ClipSet(bunch.data, landmarks=bunch.landmarks)
    last3 = ClipSet([c[-3:] for c in bunch.data], landmarks=[p[-3:] for p in bunch.landmarks])
    ys, gs = np.asarray(bunch.target), np.asarray(bunch.groups)
    for name, X, t in (("whole sequence, T=12", full, 12), ("last 3 frames, T=3", last3, 3)):
        accs = []
        for train, test in GroupKFold(4).split(X, ys, gs):
            net = DTGN(n_frames=t, optimizer="adam", lr=1e-3, max_epochs=150, random_state=0)
            accs.append(net.fit(X[train], ys[train]).score(X[test], ys[test]))
        print(f"synthetic DTGN (true landmarks), {name}: accuracy {np.mean(accs):.3f} "
              f"(4-fold GroupKFold, {len(ys)} clips)", flush=True)
    # 2. What joint fine-tuning starts from on CK+48 (GroupKFold fold 0).
    train, test = next(GroupKFold(10).split(X_small, y, groups))
    model = make_dtagn(0).fit(X_small[train], y[train])
    for net in ("dtan_", "dtgn_"):
        est = getattr(model, net)
        print(f"fold 0 {net}: training accuracy {est.score(X_small[train], y[train]):.3f}, "
              f"test {est.score(X_small[test], y[test]):.3f}")
    print(f"fold 0 fine-tuning loss (eq. 8): first epoch {model.finetune_loss_[0]:.4f}, last "
          f"{model.finetune_loss_[-1]:.4f}; joint test {model.score(X_small[test], y[test]):.3f}")
    for lambdas in ((0.0, 0.0, 1.0), (1.0, 1.0, 1.0)):
        model.set_params(lambdas=lambdas)
        model._joint_finetune(X_small[train], y[train], lambdas, seed=0)
        print(f"fold 0 joint with lambdas={lambdas}: test "
              f"{model.score(X_small[test], y[test]):.3f}")


def dtan_variants(X_small, X48, y, groups, n_folds: int = 3) -> None:
    """DTAN as benchmarked beside the paper's architecture at 48x48 and with paired flips."""
    from imblearn.pipeline import make_pipeline

    from skfer.augmentation import ImageSequenceAugmenter

    def reduced():
        return make_dtagn(0).dtan.set_params(random_state=0)

    variants = {
        "reduced, 24x24": (X_small, reduced),
        "reduced, 24x24, + paired flips (2x data)": (
            X_small, lambda: make_pipeline(ImageSequenceAugmenter(angles=()), reduced())),
        "paper C(5,64)-L5-P2-C(5,64)-L3-P2-FC500-FC500, 48x48": (
            X48, lambda: DTAN(n_frames=3, optimizer="adam", lr=1e-3, max_epochs=15,
                              random_state=0)),
    }
    folds = list(GroupKFold(10).split(X48, y, groups))[:n_folds]
    for name, (X, make) in variants.items():
        accs, secs = [], []
        for train, test in folds:
            t = time.perf_counter()
            model = make().fit(X[train], y[train])
            secs.append(time.perf_counter() - t)
            accs.append(model.score(X[test], y[test]))
        print(f"DTAN {name}: GroupKFold folds 0-{n_folds - 1} accuracy "
              f"{np.round(accs, 3).tolist()} mean {np.mean(accs):.3f}, "
              f"{np.mean(secs):.0f} s per fit", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--protocols", nargs="+", default=["groupkfold", "ascending"])
    parser.add_argument("--out", type=Path, default=Path("/tmp/skfer_dtagn_bench"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--diagnostics", action="store_true",
                        help="only the measurements behind the shortfall (T = 3, fine-tuning)")
    parser.add_argument("--named", action="store_true",
                        help='only make_model("dtagn") (pretrained appearance member)')
    parser.add_argument("--dtan-variants", action="store_true",
                        help="only DTAN reduced / with paired flips / paper-size, 3 folds")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)

    data = load_ckplus48(args.data)
    y, groups = np.asarray(data.target), np.asarray(data.groups)
    if args.named:
        named(data, y, groups, args.protocols, args.folds, args.out)
        return
    points = landmarks_for(data, args.out)
    found = np.concatenate([np.isfinite(p).all(axis=(1, 2)) for p in points])
    clip_none = sum(not np.isfinite(p).all(axis=(1, 2)).any() for p in points)
    print(f"CK+48 landmarks: {found.sum()} of {found.size} frames, clips without any: "
          f"{clip_none} of {len(points)}")
    quality = synthetic_quality()
    for size in (48, 192):
        q = quality[size]
        print(f"synthetic {size}x{size}: faces found {q['found']}/{q['frames']}, median NME "
              f"68 pts {q['nme68']:.4f}, 49 pts {q['nme49']:.4f}")
    figure(quality["example"], points)
    print(f"figure: {FIGURE}")

    X48 = ClipSet(data.data, landmarks=points)
    X_small = ClipSet([_resize(c, 24) for c in data.data], landmarks=[p / 2 for p in points])
    if args.diagnostics:
        diagnostics(X_small, y, groups)
        return
    if args.dtan_variants:
        dtan_variants(X_small, X48, y, groups)
        return
    results = run_protocols(
        args.protocols, X48, y, groups,
        lambda train, test, seed: run_fold(X_small, X48, y, train, test, seed),
        ROWS, args.out / "folds.jsonl",
        lambda row: f"dtagn {row['dtagn_fit_s']:.0f} s, hog {row['hog_fit_s']:.1f} s",
        n_folds=args.folds)
    for protocol, rows in results.items():
        print(f"{protocol}: training time per fold: DTAGN (both nets + fine-tuning) "
              f"{np.mean([r['dtagn_fit_s'] for r in rows]):.0f} s (DTAN "
              f"{np.mean([r['dtan_fit_s'] for r in rows]):.0f} s, DTGN "
              f"{np.mean([r['dtgn_fit_s'] for r in rows]):.0f} s), HOG + SVM "
              f"{np.mean([r['hog_fit_s'] for r in rows]):.1f} s")


if __name__ == "__main__":
    main()
