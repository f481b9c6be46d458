"""Emo-DB, leave-one-speaker-out: pooled audio features + SVM, the DBN-initialised audio MLP with
top-N pooling (EmoNets 3.2), and the same MLP without pre-training.

    python benchmarks/bench_audio_dbn.py [--epochs 15] [--pretrain-frames 10000]
        [--hop 0.025] [--only svm|dbn|mlp] [--speakers 03 08 ...]

The audio features (``AudioFeatures(hop=0.025)`` by default: 22 MFCC, deltas, 7 spectral
descriptors per 25 ms frame every 25 ms; ``--hop 0.01`` is AudioFeatures' own default) are
computed once per hop and cached in ``$SKFER_BENCH_CACHE`` (default
``/tmp/skfer_bench_cache``), outside the repository: Emo-DB may not be redistributed. One
run, ``random_state=0``, torch on one thread (the machine's 2 cores are shared).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from _shared_data import SHARED_DATA
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skfer.datasets import load_emodb
from skfer.features import AudioFeatures
from skfer.neural.audio_dbn import AudioDBNClassifier

CACHE = Path(os.environ.get("SKFER_BENCH_CACHE", "/tmp/skfer_bench_cache"))
POOLING = ("mean", "std", "min", "max")


def features(hop: float) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, float]:
    """Per-clip feature sequences, labels, speakers (cached), and the extraction seconds."""
    path = CACHE / f"emodb_audio_features_hop{round(hop * 1000)}.npz"
    if path.is_file():
        data = np.load(path, allow_pickle=False)
        frames, bounds = data["frames"], data["bounds"]  # each access would read a copy
        seqs = [frames[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        return seqs, data["target"], data["groups"], float(data["seconds"])
    start = time.perf_counter()
    bunch = load_emodb(SHARED_DATA / "emodb")
    seqs = AudioFeatures(hop=hop).fit_transform(bunch.audio)
    seconds = time.perf_counter() - start
    CACHE.mkdir(parents=True, exist_ok=True)
    bounds = np.concatenate([[0], np.cumsum([len(s) for s in seqs])])
    np.savez(path, frames=np.concatenate(seqs), bounds=bounds, target=bunch.target,
             groups=bunch.groups, seconds=seconds)
    return seqs, bunch.target, bunch.groups, seconds


def pooled(seqs: list[np.ndarray]) -> np.ndarray:
    """``AudioFeatures(pooling=POOLING)`` from the cached sequences (the same statistics)."""
    stats = {"mean": np.mean, "std": np.std, "min": np.min, "max": np.max}
    return np.stack([np.concatenate([stats[p](s, axis=0) for p in POOLING]) for s in seqs])


def loso(make_model, X, y, groups, speakers) -> dict:
    correct, n, fit_seconds, per_speaker = 0, 0, 0.0, {}
    for train, test in LeaveOneGroupOut().split(np.zeros(len(y)), y, groups):
        if speakers and str(groups[test][0]) not in speakers:
            continue
        model = make_model()
        start = time.perf_counter()
        model.fit([X[j] for j in train] if isinstance(X, list) else X[train], y[train])
        fit_seconds += time.perf_counter() - start
        pred = model.predict([X[j] for j in test] if isinstance(X, list) else X[test])
        hits = int((pred == y[test]).sum())
        correct, n = correct + hits, n + len(test)
        per_speaker[str(groups[test][0])] = round(hits / len(test), 3)
        print(f"  speaker {groups[test][0]}: {hits / len(test):.3f}", flush=True)
    return {"accuracy": round(correct / n, 4), "n_test": n, "fit_seconds": round(fit_seconds, 1),
            "per_speaker": per_speaker}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15, help="fine-tuning epochs")
    parser.add_argument("--pretrain-frames", type=int, default=10000,
                        help="training frames the RBMs see per fold (pretrain_max_frames)")
    parser.add_argument("--hop", type=float, default=0.025,
                        help="AudioFeatures' hop in seconds (its default is 0.010: 2.5x the "
                             "frames of 0.025, and the networks' time with them)")
    parser.add_argument("--speakers", nargs="*", default=None,
                        help="test only these speakers' folds (to split a run across "
                             "processes; the folds are independent and seeded alike)")
    parser.add_argument("--only", choices=("svm", "dbn", "mlp"), action="append")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seqs, y, groups, seconds = features(args.hop)
    print(f"{len(seqs)} clips, {len(set(groups))} speakers, {seqs[0].shape} features per clip "
          f"(extracted in {seconds:.0f} s)", flush=True)

    def mlp(pretrain: bool):
        return lambda: AudioDBNClassifier(
            pretrain=pretrain, max_epochs=args.epochs, batch_size=4,
            pretrain_max_frames=args.pretrain_frames, validation_fraction=None, device="cpu",
            random_state=0, verbose=0,
        )

    models = {
        "svm": ("pooled AudioFeatures (mean, std, min, max) + RBF SVC(C=10)",
                lambda: make_pipeline(StandardScaler(), SVC(C=10.0)), pooled(seqs)),
        "dbn": ("DBN-initialised MLP, top-N pooling (AudioDBNClassifier)", mlp(True), seqs),
        "mlp": ("same MLP without pre-training (pretrain=False)", mlp(False), seqs),
    }
    results = {}
    for key in args.only or list(models):
        name, make, X = models[key]
        print(name, flush=True)
        results[key] = {"model": name, **loso(make, X, y, groups, args.speakers)}
        print(json.dumps(results[key]), flush=True)
    print(json.dumps({"epochs": args.epochs, "pretrain_frames": args.pretrain_frames,
                      "results": results}, indent=1))


if __name__ == "__main__":
    main()
