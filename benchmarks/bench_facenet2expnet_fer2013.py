"""FaceNet2ExpNet as the paper means it: stage 1 once, label-free, on FER2013 faces; stage 2 on
each CK+48 training fold (issue 22).

Usage::

    # 1. stage 1: the student regresses dlib's stage-3 maps of FER2013 Training faces
    python benchmarks/bench_facenet2expnet_fer2013.py pretrain --run /tmp/skfer_f2e_run
    # 2. stage 2 per fold on CK+48, beside the same student from scratch, the teacher's
    #    classifier on the regressed layer and HOG + SVM
    python benchmarks/bench_facenet2expnet_fer2013.py ckplus --run /tmp/skfer_f2e_run
    # 3. ship the stage-1 student: skfer/neural/weights/facenet2expnet-fer2013-stage1.{pt,json}
    python benchmarks/bench_facenet2expnet_fer2013.py export --run /tmp/skfer_f2e_run

**Stage 1** (``pretrain``): :class:`~skfer.neural.FaceNet2ExpNet` with ``teacher="dlib"``
(dlib's face-recognition ResNet, frozen), ``teacher_layer="stage3"`` at a 112x112 teacher
input (128 maps of 6x6: the middle-to-late, spatial map whose cells carry expression, 0.978
on CK+48 as frozen features; the paper regresses VGG-16's pool5 of 7x7),
``standardize_targets=True`` (each map element's deviation from the mean map, in units of
its spread), a three-block student (32-64-128 channels: 48x48 faces end in 6x6 maps, the
teacher's size), Adam at 1e-3, and no stage 2 (``max_epochs=0``): the FER2013 labels are
never used. The student is saved under ``--run`` (FER2013-derived weights: kept outside the
repository).

**Stage 2** (``ckplus``): in every fold, ``FaceNet2ExpNet(init_from=<the stage-1 student>)``
trains the new fully connected layers at ``lr`` and the transferred convolutions at
``body_lr`` (a tenth), with flips, on every frame of the training clips; a clip is scored by
the mean of its frames' probabilities. Rows: that model; the same student from scratch
(``stage1_epochs=0``, the same stage 2 but one rate); the teacher's own classifier on the
regressed layer (:class:`~skfer.neural.FaceNetFeatures` on ``stage3`` at dlib's own
150x150 input, 4x4 grid, flip-averaged, clip mean, logistic regression C=10: face-net-lr
without its stage 5); ``make_model("hog-svm")``.
Per-fold rows go to ``--run/ckplus_folds.jsonl`` as they come.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import joblib
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _ckplus_protocols import run_protocols  # noqa: E402
from _machine import cpu_name  # noqa: E402
from _shared_data import SHARED_DATA  # noqa: E402

TEACHER = {"teacher": "dlib", "teacher_layer": "stage3", "teacher_input_size": (112, 112)}
STUDENT = {"channels": (32, 64, 128), "fc_size": 256, "dropout": 0.5, "flip": True}
ROWS = ("FaceNet2ExpNet (stage 1 on FER2013)", "student from scratch",
        "teacher's classifier on stage 3 (frozen)", "HOG + SVM")


def pretrain(args) -> None:
    from skfer.datasets import load_fer2013
    from skfer.neural import FaceNet2ExpNet

    run = Path(args.run)
    run.mkdir(parents=True, exist_ok=True)
    fer = load_fer2013(Path(args.data) / "fer2013", subset="Training", n_jobs=2,
                       max_per_class=args.limit)
    clips = fer.data
    rng = np.random.default_rng(0)
    if args.n_images and args.n_images < len(clips):
        clips = [clips[i] for i in np.sort(rng.choice(len(clips), args.n_images, replace=False))]
    y = np.zeros(len(clips), dtype=int)  # stage 1 is label-free; stage 2 does not run
    y[1::2] = 1
    net = FaceNet2ExpNet(**TEACHER, **STUDENT, standardize_targets=True,
                         stage1_epochs=args.stage1_epochs, stage1_lr=1e-3,
                         stage1_lr_step=None, optimizer="adam", max_epochs=0,
                         batch_size=128, random_state=0, verbose=1)
    start = time.perf_counter()
    net.fit(clips, y)
    record = {
        "images": len(clips), "stage1_epochs": args.stage1_epochs,
        "losses": net.stage1_.losses, "timings": dict(net.timings_),
        "seconds": time.perf_counter() - start,
        "date": time.strftime("%Y-%m-%d"), "machine": cpu_name(),
        "torch_threads": torch.get_num_threads(),
    }
    joblib.dump(net, run / "stage1.joblib")
    (run / "stage1.json").write_text(json.dumps(record, indent=1))
    print(json.dumps({k: v for k, v in record.items() if k != "losses"}, indent=1))
    print("stage-1 loss per epoch:", np.round(net.stage1_.losses, 4).tolist())


def _models(run: Path, seed: int, epochs: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skfer.models import make_model
    from skfer.neural import FaceNet2ExpNet, FaceNetFeatures
    from skfer.preprocessing import FramePooling

    stage2 = dict(optimizer="adam", lr=1e-3, max_epochs=epochs, lr_step=None, batch_size=64,
                  random_state=seed, verbose=0)
    return {
        ROWS[0]: FaceNet2ExpNet(**TEACHER, **STUDENT, init_from=str(run / "stage1.joblib"),
                                body_lr=1e-4, **stage2),
        ROWS[1]: FaceNet2ExpNet(**TEACHER, **STUDENT, stage1_epochs=0, **stage2),
        ROWS[2]: make_pipeline(
            FaceNetFeatures(layers=("stage3",), grid=4),
            FramePooling(method="mean"), StandardScaler(),
            LogisticRegression(C=10.0, max_iter=5000)),
        ROWS[3]: make_model("hog-svm"),
    }


def ckplus(args) -> None:
    from skfer.datasets import load_ckplus48

    run = Path(args.run)
    data = load_ckplus48(Path(args.data) / "ckplus48")
    clips, y, groups = data.data, np.asarray(data.target), np.asarray(data.groups)

    def fold(train, test, seed) -> dict:
        row = {}
        for name, model in _models(run, seed, args.stage2_epochs).items():
            t = time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit([clips[i] for i in train], y[train])
                pred = model.predict([clips[i] for i in test])
            row[name] = float(np.mean(pred == y[test]))
            row[name + " cpu_s"] = time.process_time() - t
        return row

    results = run_protocols(args.protocols, clips, y, groups, fold, ROWS,
                            run / "ckplus_folds.jsonl", lambda row: "",
                            max_folds=args.run_folds)
    for name in ROWS:
        cpu = np.mean([r[name + " cpu_s"] for rows in results.values() for r in rows])
        print(f"{name}: {cpu:.0f} CPU s per fold")


def _summary(run: Path) -> dict:
    """Mean accuracy and fold count of every row and protocol in ``ckplus_folds.jsonl``."""
    rows = [json.loads(line) for line in (run / "ckplus_folds.jsonl").read_text().splitlines()]
    out: dict = {}
    for protocol in sorted({r["protocol"] for r in rows}):
        mine = [r for r in rows if r["protocol"] == protocol]
        out[protocol] = {name: {"mean": round(float(np.mean([r[name] for r in mine])), 3),
                                "std": round(float(np.std([r[name] for r in mine])), 3),
                                "folds": len(mine)} for name in ROWS}
    return out


def export_student(args) -> None:
    from skfer.pretrained import export

    run = Path(args.run)
    net = joblib.load(run / "stage1.joblib")
    record = json.loads((run / "stage1.json").read_text())
    training = {
        "data": "FER2013 Training split (28,709 grey 48x48 faces), labels unused: stage 1 "
                "regresses the teacher's maps of the faces",
        "terms": "FER2013 is for research use (ICML 2013 representation learning challenge); "
                 "these weights are derived from it",
        "stage": "FaceNet2ExpNet stage 1 only (label-free); the fully connected layers are "
                 "untrained: use as init_from of a FaceNet2ExpNet, whose stage 2 trains them",
        "teacher": "dlib's face-recognition ResNet (face-recognition-models, skfer[landmarks]), "
                   "frozen, layer stage3 at a 112x112 input (128 maps of 6x6), targets "
                   "standardised element by element",
        "command": "python benchmarks/bench_facenet2expnet_fer2013.py pretrain --run RUN "
                   f"--stage1-epochs {record['stage1_epochs']}",
        "seed": 0, "epochs": record["stage1_epochs"],
        "stage1_loss_per_image": [round(v, 1) for v in record["losses"]],
        "wall_time_minutes": round(record["seconds"] / 60, 1),
        "machine": f"{record['machine']}, {record['torch_threads']} torch thread(s)",
        "date": record["date"],
    }
    scores = {"ckplus48_stage2": _summary(run),
              "protocol": "CK+48, stage 2 per training fold (bench_facenet2expnet_fer2013.py "
                          "ckplus), 10-fold GroupKFold by subject / ascending ids"}
    face = {"pixels": "grey, 0-255", "framing": "a face crop framed as FER2013's (the face "
            "box grown by 10 % of its side on every side)", "face_tube_margin": 0.1}
    paths = export(net, "facenet2expnet-fer2013-stage1", input=face, training=training,
                   scores=scores, half=True, directory=args.out_dir)
    print("wrote", *paths)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=["pretrain", "ckplus", "export"])
    parser.add_argument("--run", default="/tmp/skfer_f2e_run")
    parser.add_argument("--data", default=str(SHARED_DATA))
    parser.add_argument("--stage1-epochs", type=int, default=10)
    parser.add_argument("--n-images", type=int, default=None,
                        help="FER2013 Training images for stage 1 (default: all 28,709)")
    parser.add_argument("--limit", type=int, default=None,
                        help="FER2013 images per class (smoke tests of the script only)")
    parser.add_argument("--stage2-epochs", type=int, default=20)
    parser.add_argument("--protocols", nargs="+", default=["groupkfold", "ascending"])
    parser.add_argument("--run-folds", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out-dir", default=None,
                        help="export here instead of skfer/neural/weights")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {' '.join(sys.argv)}",
          flush=True)
    {"pretrain": pretrain, "ckplus": ckplus, "export": export_student}[args.step](args)


if __name__ == "__main__":
    main()
