"""Train, select, score and export the EmoNets ConvNet that ships inside skfer (issue 21).

The recipe (see ``docs/benchmarks.md``, "Pretrained EmoNets ConvNet"): FER2013 Training
minus a stratified 10% held-out slice (seed 0) trains; the held-out slice picks the epoch
(best ``valid_acc``) and the number of test views; PublicTest is scored once, at the end,
by ``evaluate``. Usage::

    # 1. train (checkpoints every epoch under RUN; run it again to resume after a stop)
    python benchmarks/train_pretrained_convnet.py train --run /tmp/skfer_fer2013_run
    # 2. choose test views on the held-out slice, then score PublicTest once
    python benchmarks/train_pretrained_convnet.py evaluate --run /tmp/skfer_fer2013_run
    # 3. write skfer/pretrained/emonets_fer2013.{pt,json} (weights + model card)
    python benchmarks/train_pretrained_convnet.py export --run /tmp/skfer_fer2013_run

Ablations: ``train --run RUN_B --without geometric`` (repeatable; see ``ABLATIONS``), then
``evaluate --run RUN_B --without geometric``: scored on the held-out slice only.

The run folder holds FER2013-derived weights and the data split: keep it outside the
repository (only ``export`` writes into the package, tensors and a card).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import cpu_name  # noqa: E402
from _shared_data import SHARED_DATA  # noqa: E402

#: The recipe of the shipped network; every entry is a ConvNet parameter.
RECIPE = {
    "batch_norm": True,
    "dropout": 0.4,
    "hidden_units": 512,
    "rotation": 10.0,
    "zoom": 0.1,
    "erasing": 0.0,
    "crop_size": (40, 40),
    "flip": True,
    "optimizer": "sgd",
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "batch_size": 128,
    "precision": "bfloat16",
    "criterion__label_smoothing": 0.1,
    "optimizer__nesterov": True,
}
#: The learning-rate schedule of the shipped network (see ``lr_scheduler``).
SCHEDULE = "cosine"
HELD_OUT = 0.1
SEED = 0
#: An ablation's value that removes a recipe entry.
DROP = object()

#: Ablations (``--without NAME``, repeatable): each takes one of the recipe's additions to
#: the paper away. An ablation run is scored on the held-out slice only: PublicTest is
#: scored once, for the shipped network. An ablation's entry ``"schedule"`` replaces the
#: schedule; the value ``DROP`` removes a recipe entry (an option the replacing optimiser
#: does not take).
ABLATIONS = {
    "geometric": {"rotation": 0.0, "zoom": 0.0},
    "label-smoothing": {"criterion__label_smoothing": 0.0},
    "hidden-layer": {"hidden_units": 0},
    "batch-norm": {"batch_norm": False},
    "dropout": {"dropout": 0.0},
    # Issue 9's optimiser and schedule (AdamW at 1e-3, the rate cut when the held-out
    # accuracy stalls), with a decoupled weight decay of a real size: 0.05 shrinks a weight
    # by lr * 0.05 = 5e-5 a step, where issue 9's 0.004 gave 4e-6 (the review's "off").
    "sgd-cosine": {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 0.05,
                   "optimizer__nesterov": DROP, "schedule": "plateau"},
}


def recipe(without: list[str] | None = None) -> tuple[dict, str]:
    """The shipped recipe, less the changes named in ``without`` (see ``ABLATIONS``).

    Returns the ConvNet parameters and the schedule's name (see ``lr_scheduler``).
    """
    out = {**RECIPE, "schedule": SCHEDULE}
    for name in without or []:
        out.update(ABLATIONS[name])
    schedule = out.pop("schedule")
    return {k: v for k, v in out.items() if v is not DROP}, schedule


def lr_scheduler(name: str, epochs: int):
    """The skorch callback of the schedule ``name``, stepped per epoch."""
    from skorch.callbacks import LRScheduler

    schedules = {
        # to 0 over the run's epochs
        "cosine": lambda: LRScheduler(policy="CosineAnnealingLR", T_max=epochs),
        # issue 9's factor and patience, on the held-out accuracy (the selection criterion)
        # rather than its loss, which the review found stalled while accuracy rose
        "plateau": lambda: LRScheduler(policy="ReduceLROnPlateau", monitor="valid_acc",
                                       mode="max", factor=0.5, patience=2),
    }
    return schedules[name]()


def _machine() -> str:
    import torch

    cpu = cpu_name()

    return (f"{cpu}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
            f"{platform.system()} {platform.machine()}")


def load_split(data: Path, limit: int | None = None):
    """FER2013 Training split into (train, held-out), and PublicTest; seeded, stratified.

    ``limit``: images per class (smoke tests of this script only).
    """
    from sklearn.model_selection import StratifiedShuffleSplit

    from skfer.datasets import load_fer2013

    root = data / "fer2013"
    full = load_fer2013(root, subset="Training", n_jobs=2, max_per_class=limit)
    public = load_fer2013(root, subset="PublicTest", n_jobs=2, max_per_class=limit)
    y = np.asarray(full.target)
    train, held = next(StratifiedShuffleSplit(1, test_size=HELD_OUT, random_state=SEED)
                       .split(np.zeros(len(y)), y))
    pick = lambda idx: ([full.data[i] for i in idx], y[idx])  # noqa: E731
    return pick(train), pick(held), (public.data, np.asarray(public.target))


def make_network(run: Path, epochs: int, done: int, seed: int = SEED,
                 without: list[str] | None = None):
    """The ConvNet of the recipe with per-epoch checkpoints (``last``) and the best one."""
    from skorch.callbacks import Checkpoint, LoadInitState

    from skfer.neural import ConvNet

    last = Checkpoint(monitor=None, dirname=str(run / "last"), f_params="params.pt",
                      f_optimizer="optimizer.pt", f_criterion=None, f_history="history.json",
                      load_best=False)
    best = Checkpoint(monitor="valid_acc_best", dirname=str(run / "best"),
                      f_params="params.pt", f_optimizer=None, f_criterion=None,
                      f_history=None, load_best=False)
    params, schedule = recipe(without)
    return ConvNet(
        **params,
        max_epochs=epochs - done,
        patience=None,
        monitor="valid_acc",
        callbacks=[
            # first: it restores params, optimizer and history before the scheduler starts
            ("resume", LoadInitState(last)),
            ("schedule", lr_scheduler(schedule, epochs)),
            ("last", last),
            ("best", best),
        ],
        random_state=seed,
        verbose=1,
    )


def run_train(args) -> None:
    run = Path(args.run)
    run.mkdir(parents=True, exist_ok=True)
    history = run / "last" / "history.json"
    done = len(json.loads(history.read_text())) if history.exists() else 0
    if done >= args.epochs:
        print(f"{run}: {done} epochs already trained")
        return
    t0 = time.perf_counter()
    (X, y), (X_held, y_held), _ = load_split(Path(args.data), args.limit)
    print(f"{len(X)} training and {len(X_held)} held-out images loaded in "
          f"{time.perf_counter() - t0:.0f} s; resuming after epoch {done}", flush=True)
    net = make_network(run, args.epochs, done, args.seed, args.without)
    t0 = time.perf_counter()
    net.fit(X, y, X_valid=X_held, y_valid=y_held)
    seconds = time.perf_counter() - t0
    log = {"epochs": args.epochs, "resumed_after": done, "seconds": seconds, "seed": args.seed,
           "without": args.without or [],
           "date": time.strftime("%Y-%m-%d"), "machine": _machine(),
           "command": " ".join(sys.argv)}
    runs = json.loads((run / "runs.json").read_text()) if (run / "runs.json").exists() else []
    (run / "runs.json").write_text(json.dumps(runs + [log], indent=1))
    print(f"trained {args.epochs - done} epochs in {seconds / 60:.1f} min", flush=True)


def run_evaluate(args) -> None:
    import joblib
    import torch

    from skfer.neural import ConvNet

    run = Path(args.run)
    (X, y), (X_held, y_held), (X_pub, y_pub) = load_split(Path(args.data), args.limit)
    # Rebuild the trained estimator: a fit of 0 epochs on the training data sets the
    # classes and the pixel statistics exactly as in training, then the best weights load.
    # Inference in float32 (training ran in bfloat16 autocast): what ships, and the same
    # on every CPU, with or without bfloat16 instructions.
    params, _ = recipe(args.without)  # no training here: no schedule
    net = ConvNet(**{**params, "precision": "float32"}, max_epochs=0,
                  patience=None,
                  validation_fraction=None, random_state=SEED, verbose=0).fit(X, y)
    net.net_.module_.load_state_dict(torch.load(run / "best" / "params.pt",
                                                weights_only=True))
    history = json.loads((run / "last" / "history.json").read_text())
    # The card's parameters are the training run's (a refit of the loaded estimator
    # repeats the recipe), not the 0-epoch rebuild's.
    net.set_params(max_epochs=len(history), monitor="valid_acc")
    best_epoch = int(np.argmax([h["valid_acc"] for h in history])) + 1
    results = {"best_epoch": best_epoch, "epochs": len(history), "held_out": {},
               "public_test": {}}
    for views in (1, 2, 10):
        net.set_params(test_views=views)
        results["held_out"][views] = float(net.score(X_held, y_held))
        print(f"held-out accuracy, {views} view(s): {results['held_out'][views]:.4f}",
              flush=True)
    # Under- or over-fitting: the same network on 5,000 of its own training images.
    net.set_params(test_views=1)
    some = np.random.RandomState(SEED).choice(len(X), min(5000, len(X)), replace=False)
    results["train_subset_accuracy"] = float(net.score([X[i] for i in some], y[some]))
    print(f"training-set accuracy (5,000 images, 1 view): "
          f"{results['train_subset_accuracy']:.4f}", flush=True)
    # The fewest views within half a point of the best on the held-out slice: each view
    # costs a forward pass (10 views: a tenth of the images/s) for a gain in the noise.
    best = max(results["held_out"].values())
    chosen = min(v for v in (1, 2, 10) if results["held_out"][v] >= best - 0.005)
    results["test_views"] = chosen
    results["without"] = args.without or []
    if args.without:  # an ablation: compared on the held-out slice, PublicTest untouched
        (run / "evaluation.json").write_text(json.dumps(results, indent=1))
        print(json.dumps({k: results[k] for k in ("best_epoch", "held_out", "without")}))
        return
    # PublicTest, once, with the chosen views (the other counts are reported beside it).
    from sklearn.metrics import confusion_matrix, recall_score

    for views in (1, 2, 10):
        net.set_params(test_views=views)
        t0 = time.perf_counter()
        pred = net.predict(X_pub)
        seconds = time.perf_counter() - t0
        results["public_test"][views] = {
            "accuracy": float(np.mean(pred == y_pub)),
            "images_per_s": len(X_pub) / seconds,
        }
        if views == chosen:
            results["recall"] = dict(zip(net.classes_.tolist(),
                                         recall_score(y_pub, pred, average=None,
                                                      labels=net.classes_).round(4).tolist()))
            results["confusion"] = confusion_matrix(y_pub, pred, labels=net.classes_).tolist()
        print(f"PublicTest accuracy, {views} view(s): "
              f"{results['public_test'][views]['accuracy']:.4f} "
              f"({results['public_test'][views]['images_per_s']:.0f} images/s)", flush=True)
    net.set_params(test_views=chosen)
    results["classes"] = net.classes_.tolist()
    results["machine"] = _machine()
    results["date"] = time.strftime("%Y-%m-%d")
    (run / "evaluation.json").write_text(json.dumps(results, indent=1))
    joblib.dump(net, run / "convnet.joblib")
    print(json.dumps({k: results[k] for k in ("best_epoch", "test_views", "recall")}))


def run_export(args) -> None:
    import joblib

    from skfer.pretrained import export

    run = Path(args.run)
    net = joblib.load(run / "convnet.joblib")
    evaluation = json.loads((run / "evaluation.json").read_text())
    runs = json.loads((run / "runs.json").read_text())
    history = json.loads((run / "last" / "history.json").read_text())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    training = {
        "data": "FER2013 Training split (28,709 grey 48x48 faces, ICML 2013 challenge), "
                f"of which a stratified {HELD_OUT:.0%} (seed {SEED}) was held out to choose "
                "the epoch and the test views; PublicTest (3,589) scored once at the end",
        "terms": "FER2013 is distributed for research use only (Kaggle 'Challenges in "
                 "Representation Learning: Facial Expression Recognition Challenge'); "
                 "these weights are derived from it: research use",
        "recipe": {k: list(v) if isinstance(v, tuple) else v for k, v in RECIPE.items()},
        "schedule": "cosine annealing of lr to 0 over the epochs (skorch LRScheduler, per "
                    "epoch); the epoch of the best held-out accuracy kept (Checkpoint)",
        "not_in_the_paper": ["batch_norm", "dropout", "hidden_units", "rotation", "zoom",
                             "label_smoothing", "nesterov", "cosine schedule",
                             "test_views", "precision"],
        "seed": runs[-1].get("seed", SEED),
        "epochs": evaluation["epochs"],
        "best_epoch": evaluation["best_epoch"],
        # Summed from the epochs' own durations: a run stopped and resumed is counted whole.
        "wall_time_minutes": round(sum(h["dur"] for h in history) / 60, 1),
        "runs": len(runs),
        "machine": runs[-1]["machine"],
        "date": runs[-1]["date"],
        "skfer_commit": commit,
        "command": ("python benchmarks/train_pretrained_convnet.py train --run RUN && "
                    "python benchmarks/train_pretrained_convnet.py evaluate --run RUN && "
                    "python benchmarks/train_pretrained_convnet.py export --run RUN"),
    }
    scores = {
        "held_out_accuracy": evaluation["held_out"],
        "public_test_accuracy": {k: v["accuracy"] for k, v in evaluation["public_test"].items()},
        "public_test_recall": evaluation["recall"],
        "public_test_confusion": evaluation["confusion"],
        "test_views": evaluation["test_views"],
        "train_subset_accuracy": evaluation["train_subset_accuracy"],
    }
    face = {
        "pixels": "grey levels 0-255 (uint8, or float in [0, 255] or [0, 1]); the network "
                  "standardises them with the training pixels' mean and std (in its buffers)",
        "framing": "FER2013's: the face roughly centred, filling most of the 48x48 image, "
                   "from the forehead to the chin; the default Haar box covers a median 83% "
                   "of a FER2013 image, so FaceTubeExtractor(margin=0.1) frames a detected "
                   "face the same way (docs/benchmarks.md)",
        "face_tube_margin": 0.1,
    }
    paths = export(net, "emonets-fer2013", input=face, training=training, scores=scores,
                   half=not args.float32, directory=args.out_dir)
    print("wrote", *paths)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=["train", "evaluate", "export"])
    parser.add_argument("--run", default="/tmp/skfer_fer2013_run")
    parser.add_argument("--data", default=str(SHARED_DATA))
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=SEED,
                        help="the network's seed (weights, augmentation, batches); the "
                             "held-out split always uses seed 0")
    parser.add_argument("--limit", type=int, default=None,
                        help="FER2013 images per class (smoke tests of the script only)")
    parser.add_argument("--out-dir", default=None,
                        help="export here instead of skfer/neural/weights")
    parser.add_argument("--without", action="append", choices=sorted(ABLATIONS),
                        help="an ablation: train without this change of the recipe "
                             "(repeatable); scored on the held-out slice only")
    parser.add_argument("--float32", action="store_true",
                        help="export float32 weights instead of float16")
    args = parser.parse_args(argv)
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {' '.join(sys.argv)}",
          flush=True)
    {"train": run_train, "evaluate": run_evaluate, "export": run_export}[args.step](args)


if __name__ == "__main__":
    main()
