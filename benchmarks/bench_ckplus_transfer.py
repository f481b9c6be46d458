"""The shipped FER2013 ConvNet (``skfer.pretrained``) reused on CK+48, nested by subject.

Usage::

    python benchmarks/bench_ckplus_transfer.py [--folds 10] [--finetune-epochs 15]

CK+48 (327 clips of 3 frames, 118 subjects), both protocols in one run: 10-fold
``GroupKFold`` by subject and the papers' ascending-id folds (``AscendingSubjectKFold``).
Rows, each scored on the same folds:

* ``hog-svm``: ``make_model("hog-svm")``, the baseline;
* ``frozen + LR (nested)``: the shipped network frozen (never refitted: it was trained on
  FER2013 only), per-frame features flip-averaged (``test_views=2``), averaged over the
  clip's frames, standardised, logistic regression; **the feature layer** (the 512 hidden
  units or the 7 class probabilities) **and C** (1e-3 ... 10) **are chosen inside each
  training fold** by a 3-fold ``GroupKFold`` over its subjects: nothing is chosen on a
  test fold;
* ``face network + LR (nested)``: dlib's face-recognition ResNet frozen
  (:class:`skfer.neural.FaceNetFeatures`: trained on faces for identity, never on
  expressions), stage 3 pooled over a grid of cells and stage 5, flip-averaged, averaged
  over the clip's frames, standardised, logistic regression; **the grid** (2, 3 or 4 cells
  a side) **and C are chosen inside each training fold** as above;
* ``all frozen features + LR (nested)``: the same choice among every feature set above and
  the concatenation of the face network's (grid 3) and the ConvNet's hidden units;
* ``fine-tuned``: ``ConvNet(init_from="emonets-fer2013")`` trained per fold, output layer
  re-initialised for CK+'s classes: the head alone first (``head_epochs``), then the body
  at a tenth of the head's rate (``body_lr``), batch-norm statistics kept from FER2013
  (``freeze_bn_stats``), the recipe's rotations and scaling, flip-averaged at test
  (``test_views=2``); fixed settings (not tuned on any fold).

Prints a Markdown table, per-fold scores and the CPU time per fold.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared_data import SHARED_DATA  # noqa: E402

C_GRID = (1e-3, 1e-2, 0.1, 1.0, 10.0)


def _clip_features(net, clips, output: str) -> np.ndarray:
    net.set_params(transform_output="features" if output == "hidden" else "proba")
    return np.stack([seq.mean(axis=0) for seq in net.transform(clips)])


def _nested_lr(features: dict, y, groups, train, test) -> tuple[float, str, float]:
    """Choose (layer, C) by inner GroupKFold(3) on the training fold; score the test fold."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def model(c):
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))

    best = None
    for layer, F in features.items():
        for c in C_GRID:
            score = cross_val_score(model(c), F[train], y[train], groups=groups[train],
                                    cv=GroupKFold(3)).mean()
            if best is None or score > best[0]:
                best = (score, layer, c)
    _, layer, c = best
    fitted = model(c).fit(features[layer][train], y[train])
    return float(fitted.score(features[layer][test], y[test])), layer, c


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(SHARED_DATA))
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--finetune-epochs", type=int, default=12)
    parser.add_argument("--head-epochs", type=int, default=4)
    parser.add_argument("--skip-finetune", action="store_true")
    args = parser.parse_args(argv)
    from sklearn.model_selection import GroupKFold

    from skfer import pretrained
    from skfer.datasets import load_ckplus48
    from skfer.model_selection import AscendingSubjectKFold
    from skfer.models import make_model
    from skfer.neural import ConvNet

    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {' '.join(sys.argv)}",
          flush=True)
    data = load_ckplus48(Path(args.data) / "ckplus48")
    X, y, groups = data.data, np.asarray(data.target), np.asarray(data.groups)
    net = pretrained.load("emonets-fer2013", device="cpu").set_params(test_views=2)
    t0 = time.perf_counter()
    features = {out: _clip_features(net, X, out) for out in ("hidden", "proba")}
    feature_s = time.perf_counter() - t0
    print(f"frozen features of {sum(len(c) for c in X)} frames in {feature_s:.1f} s",
          flush=True)
    from skfer.neural import FaceNetFeatures

    face_s = {}
    face = {}
    for grid in (2, 3, 4):
        t0 = time.perf_counter()
        seqs = FaceNetFeatures(layers=("stage3", "stage5"), grid=grid).fit().transform(X)
        face[f"face net grid {grid}"] = np.stack([seq.mean(axis=0) for seq in seqs])
        face_s[grid] = time.perf_counter() - t0
        print(f"face-network features (grid {grid}) in {face_s[grid]:.1f} s", flush=True)
    combined = {**features, **face,
                "face net grid 3 + ConvNet hidden": np.hstack(
                    [face["face net grid 3"], features["hidden"]])}
    face_seconds = sum(face_s.values())
    card = pretrained.card("emonets-fer2013")
    arch = {k: card["params"][k] for k in ("batch_norm", "hidden_units", "dropout")}
    protocols = {
        "GroupKFold": list(GroupKFold(args.folds).split(X, y, groups)),
        "ascending-id": list(AscendingSubjectKFold(args.folds).split(X, y, groups)),
    }
    table = {}
    for proto, folds in protocols.items():
        rows: dict[str, list] = {"hog-svm": [], "frozen + LR (nested)": [],
                                 "face network + LR (nested)": [],
                                 "all frozen features + LR (nested)": [], "fine-tuned": []}
        seconds: dict[str, list] = {k: [] for k in rows}
        chosen = []
        for train, test in folds:
            t0 = time.perf_counter()
            hog = make_model("hog-svm").fit([X[i] for i in train], y[train])
            rows["hog-svm"].append(hog.score([X[i] for i in test], y[test]))
            seconds["hog-svm"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            score, layer, c = _nested_lr(features, y, groups, train, test)
            rows["frozen + LR (nested)"].append(score)
            seconds["frozen + LR (nested)"].append(time.perf_counter() - t0 + feature_s
                                                   * len(train) / len(X))
            chosen.append(f"{layer}/C={c:g}")
            for row, sets, extra in (("face network + LR (nested)", face, face_seconds),
                                     ("all frozen features + LR (nested)", combined,
                                      face_seconds + feature_s)):
                t0 = time.perf_counter()
                score, layer, c = _nested_lr(sets, y, groups, train, test)
                rows[row].append(score)
                seconds[row].append(time.perf_counter() - t0 + extra * len(train) / len(X))
                chosen.append(f"{row[:8]}: {layer}/C={c:g}")
            if not args.skip_finetune:
                t0 = time.perf_counter()
                tuned = ConvNet(
                    init_from="emonets-fer2013", **arch, rotation=10.0, zoom=0.1,
                    optimizer="adam", lr=1e-3, weight_decay=1e-4, batch_size=64,
                    head_epochs=args.head_epochs, body_lr=1e-4, freeze_bn_stats=True,
                    max_epochs=args.finetune_epochs, patience=None,
                    validation_fraction=None, test_views=2, precision="bfloat16",
                    random_state=0, verbose=0,
                ).fit([X[i] for i in train], y[train])
                rows["fine-tuned"].append(tuned.score([X[i] for i in test], y[test]))
                seconds["fine-tuned"].append(time.perf_counter() - t0)
            print(f"{proto} fold {len(rows['hog-svm'])}: "
                  + ", ".join(f"{k} {v[-1]:.3f}" for k, v in rows.items() if v)
                  + f" (chose {chosen[-1]})", flush=True)
        table[proto] = {k: (np.mean(v), np.std(v), np.mean(seconds[k]), v)
                        for k, v in rows.items() if v}
        print(f"{proto}: layers/C chosen: {chosen}")
    print("\n| model | 10-fold GroupKFold by subject | ascending-id 10 folds | s per fold |")
    print("|---|---|---|---|")
    for name in table["GroupKFold"]:
        g, a = table["GroupKFold"][name], table["ascending-id"][name]
        print(f"| {name} | {g[0]:.3f} ± {g[1]:.3f} | {a[0]:.3f} ± {a[1]:.3f} | {g[2]:.1f} |")
    for proto in table:
        for name, (_, _, _, v) in table[proto].items():
            print(f"{proto} {name} per fold: {np.round(v, 3).tolist()}")


if __name__ == "__main__":
    main()
