"""Emo-DB, leave-one-speaker-out, every choice nested inside the training speakers (issue 23).

    python benchmarks/bench_emodb.py features        # extract and cache; CPU time, clips/s
    python benchmarks/bench_emodb.py svm             # pooled features + SVM / LR, nested
    python benchmarks/bench_emodb.py dbn [--epochs 15] [--variants dbn-spk mlp-spk dbn mlp]
        [--speakers 03 08 ...] [--patience 8 --epochs 60] [--precision bfloat16] [--select]

``features``: the sound tracks of ``../shared/data/emodb`` (``load_emodb``, 16 kHz) through
``AudioFeatures`` (10 ms hop, and 25 ms for the issue-14 comparison) and openSMILE's
eGeMAPS v02 and ComParE 2016 functionals (``OpenSmileFeatures``), each once per utterance,
timed in CPU seconds (``time.process_time``, one thread) and cached in
``$SKFER_BENCH_CACHE`` (default ``/tmp/skfer_bench_cache``), outside the repository: Emo-DB
may not be redistributed.

``svm``: for every feature set, two normalisations (``StandardScaler`` fitted on the training
speakers: inductive; ``SpeakerNormalizer``: every speaker standardised by its own unlabelled
utterances, transductive) and two classifiers (RBF ``SVC``, ``LogisticRegression``): in each
outer fold (one held-out speaker) a ``GridSearchCV`` over C with ``SpeakerKFold(5)`` (whole
training speakers held out) chooses C; the ``nested-select`` row chooses, in each outer fold,
the candidate (feature set, classifier, C) with the best inner score among the
speaker-normalised ones, so no choice of that row sees the test speaker.

``dbn``: ``AudioDBNClassifier`` (the EmoNets audio MLP, top-N pooling) on the 10 ms frame
sequences, with and without RBM pre-training, with and without ``SpeakerNormalizer`` (per
speaker standardisation of the frames), settings fixed in advance (the paper's, as issue 14,
``--epochs`` fine-tuning epochs): no choice is made on any speaker; with ``--patience`` the
number of epochs is chosen by early stopping on the validation loss of 20% of the *training*
speakers (held out whole), the weights of the best epoch kept; with ``--select`` the frames
(``AudioFeatures`` or ComParE's 65 low-level descriptors, both standardised per speaker) and
the epochs are chosen by the validation loss of 20% of the training speakers, and the winner
is refitted on all training speakers for that many epochs.

Accuracy and unweighted average recall (UAR, the mean of the per-class recalls) over the
535 held-out utterances; ``random_state=0``; torch and BLAS on one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from _shared_data import SHARED_DATA  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import recall_score  # noqa: E402
from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from skfer import ClipSet  # noqa: E402
from skfer.datasets import load_emodb  # noqa: E402
from skfer.features import (  # noqa: E402
    AudioFeatures,
    OpenSmileFeatures,
    SpeakerKFold,
    SpeakerNormalizer,
)

CACHE = Path(os.environ.get("SKFER_BENCH_CACHE", "/tmp/skfer_bench_cache"))
POOLING = ["mean", "std", "min", "max"]

#: The feature steps, each applied once to every utterance (all learn nothing from data).
EXTRACTORS = {
    "mfcc10": lambda: AudioFeatures(hop=0.010),
    "mfcc25": lambda: AudioFeatures(hop=0.025),
    "egemaps": lambda: OpenSmileFeatures("eGeMAPSv02"),
    "compare": lambda: OpenSmileFeatures("ComParE_2016"),
    # ComParE's 65 low-level descriptors per 10 ms frame: frames for the DBN.
    "compare_lld": lambda: OpenSmileFeatures("ComParE_2016", feature_level="lld"),
}


def _emodb():
    return load_emodb(SHARED_DATA / "emodb")


def extract(name: str, bunch=None) -> dict:
    """The cached features of one extractor: values, labels, speakers, CPU seconds."""
    path = CACHE / f"emodb_i23_{name}.npz"
    if not path.is_file():
        bunch = bunch or _emodb()
        X = ClipSet.from_bunch(bunch)
        step = EXTRACTORS[name]().fit(X)
        start = time.process_time()
        out = step.transform(X)
        cpu = time.process_time() - start
        CACHE.mkdir(parents=True, exist_ok=True)
        if isinstance(out, np.ndarray):
            values = {"matrix": out}
        else:
            seqs = list(out)
            values = {"frames": np.concatenate(seqs),
                      "bounds": np.concatenate([[0], np.cumsum([len(s) for s in seqs])])}
        audio_seconds = sum(len(a) for a in bunch.audio) / bunch.sample_rate
        np.savez(path, target=bunch.target, groups=bunch.groups, cpu=cpu,
                 audio_seconds=audio_seconds, **values)
    data = np.load(path, allow_pickle=False)
    out = {"target": data["target"], "groups": data["groups"], "cpu": float(data["cpu"]),
           "audio_seconds": float(data["audio_seconds"])}
    if "matrix" in data:
        out["X"] = data["matrix"]
    else:
        frames, bounds = data["frames"], data["bounds"]
        out["seqs"] = [frames[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        out["X"] = _pooled(out["seqs"])
    return out


def _pooled(seqs) -> np.ndarray:
    """``AudioFeatures(pooling=POOLING)`` from the cached sequences (the same statistics)."""
    stats = {"mean": np.mean, "std": np.std, "min": np.min, "max": np.max}
    return np.stack([np.concatenate([stats[p](s, axis=0) for p in POOLING]) for s in seqs])


def _scores(y, pred, groups) -> dict:
    per = {str(s): round(float((pred[groups == s] == y[groups == s]).mean()), 3)
           for s in np.unique(groups)}
    return {"accuracy": round(float((pred == y).mean()), 4),
            "uar": round(float(recall_score(y, pred, average="macro")), 4),
            "per_speaker": per}


# ------------------------------------------------------------------------------ features
def run_features(args) -> dict:
    bunch = None
    results = {}
    for name in EXTRACTORS:
        if not (CACHE / f"emodb_i23_{name}.npz").is_file():
            bunch = bunch or _emodb()
        data = extract(name, bunch)
        n = len(data["target"])
        width = data["X"].shape[1] if "seqs" not in data else data["seqs"][0].shape[1]
        results[name] = {
            "cpu_seconds": round(data["cpu"], 1), "clips_per_cpu_second": round(n / data["cpu"], 1),
            "audio_seconds_per_cpu_second": round(data["audio_seconds"] / data["cpu"], 1),
            "values": width if "seqs" not in data else f"{width} per frame",
        }
        print(name, json.dumps(results[name]), flush=True)
    return results


# ----------------------------------------------------------------------------------- svm
def _candidate(norm: str, clf: str) -> tuple[Pipeline, dict]:
    scale = ("norm", SpeakerNormalizer()) if norm == "speaker" else ("norm", StandardScaler())
    # After a speaker normaliser the features are standardised per speaker already; the
    # StandardScaler then only evens out the scales across the pooled speakers.
    steps = [scale, ("scale", StandardScaler())] if norm == "speaker" else [scale]
    if clf == "svc":
        return Pipeline([*steps, ("clf", SVC(kernel="rbf", gamma="scale"))]), {
            "clf__C": [1.0, 10.0, 100.0]}
    return Pipeline([*steps, ("clf", LogisticRegression(max_iter=5000))]), {
        "clf__C": [0.001, 0.01, 0.1, 1.0]}


def run_svm(args) -> dict:
    sets = {}
    for name in ("mfcc10", "egemaps", "compare"):
        sets[name] = extract(name)["X"]
    sets["egemaps+mfcc10"] = np.hstack([sets["egemaps"], sets["mfcc10"]])
    ref = extract("mfcc10")
    y, groups = ref["target"], ref["groups"]
    cands = [(s, n, c) for s in sets for n in ("plain", "speaker") for c in ("svc", "lr")]
    outer = list(LeaveOneGroupOut().split(np.zeros(len(y)), y, groups))
    preds = {c: np.empty(len(y), dtype=object) for c in cands}
    inner_score = {c: [] for c in cands}
    chosen = {c: [] for c in cands}
    cpu = {c: 0.0 for c in cands}
    for fold, (train, test) in enumerate(outer):
        for cand in cands:
            name, norm, clf = cand
            X = ClipSet(list(sets[name]), speaker=list(groups))
            pipe, grid = _candidate(norm, clf)
            start = time.process_time()
            search = GridSearchCV(pipe, grid, cv=SpeakerKFold(5), n_jobs=1)
            search.fit(X[train], y[train])
            preds[cand][test] = search.predict(X[test])
            cpu[cand] += time.process_time() - start
            inner_score[cand].append(search.best_score_)
            chosen[cand].append(search.best_params_["clf__C"])
        print(f"fold {fold + 1}/{len(outer)} (speaker {groups[test][0]}) done", flush=True)
    results = {}
    for cand in cands:
        key = "/".join(cand)
        results[key] = {**_scores(y, preds[cand], groups), "C": chosen[cand],
                        "cpu_seconds_per_fold": round(cpu[cand] / len(outer), 2)}
        print(key, results[key]["accuracy"], results[key]["uar"], flush=True)
    # Nested selection: in each outer fold the speaker-normalised candidate with the best
    # inner (training speakers only) accuracy.
    pool = [c for c in cands if c[1] == "speaker"]
    sel = np.empty(len(y), dtype=object)
    picks = []
    for fold, (_, test) in enumerate(outer):
        best = max(pool, key=lambda c: inner_score[c][fold])
        picks.append("/".join(best) + f"/C={chosen[best][fold]:g}")
        sel[test] = preds[best][test]
    results["nested-select"] = {**_scores(y, sel, groups), "picks": picks,
                                "cpu_seconds_per_fold": round(sum(cpu[c] for c in pool)
                                                              / len(outer), 2)}
    print("nested-select", results["nested-select"]["accuracy"],
          results["nested-select"]["uar"], picks, flush=True)
    return results


# ----------------------------------------------------------------------------------- dbn
def _select_and_refit(make, frames: dict, y, groups, train) -> tuple:
    """Nested choice of the DBN's frames and epochs, then a refit on all training speakers.

    Each candidate frame set trains on 80% of the training speakers (a split by speaker,
    the classifier's own ``validation_fraction``) for ``max_epochs``, scored by its best
    validation loss on the other 20%; the winner is refitted on every training speaker for
    its best number of epochs. The test speaker is never seen.
    """
    best = None
    for name, X in frames.items():
        clf = make(validation_fraction=0.2)
        clf.fit(X[train], y[train], groups=groups[train])
        loss = [e["valid_loss"] for e in clf.history_]
        epoch = int(np.argmin(loss)) + 1
        if best is None or min(loss) < best[1]:
            best = (name, min(loss), epoch)
    name, _, epoch = best
    clf = make(validation_fraction=None, max_epochs=epoch)
    return clf, name, epoch


def run_dbn(args) -> dict:
    import torch

    from skfer.neural.audio_dbn import AudioDBNClassifier

    torch.set_num_threads(1)
    data = extract("mfcc10")
    seqs, y, groups = data["seqs"], data["target"], data["groups"]
    X = ClipSet(seqs, speaker=list(groups))
    if args.select:
        lld = extract("compare_lld")["seqs"]
        # Per-speaker standardisation is per speaker: normalising all speakers at once
        # equals normalising inside each fold (a speaker's statistics are its own).
        frame_sets = {
            "mfcc10": SpeakerNormalizer().fit_transform(X),
            "compare_lld": SpeakerNormalizer().fit_transform(ClipSet(lld, speaker=list(groups))),
        }
    results = {}
    for variant in args.variants:
        pretrain = variant.startswith("dbn")
        speaker = variant.endswith("-spk")
        pred = np.empty(len(y), dtype=object)
        cpu, pre, epochs, picks = [], [], [], []
        for train, test in LeaveOneGroupOut().split(np.zeros(len(y)), y, groups):
            if args.speakers and str(groups[test][0]) not in args.speakers:
                continue
            # With --patience, the epochs are chosen by early stopping on the validation
            # loss of held-out *training* speakers (the split is by speaker: groups).
            clf = AudioDBNClassifier(
                pretrain=pretrain, max_epochs=args.epochs, batch_size=args.batch_size,
                pretrain_max_frames=args.pretrain_frames, patience=args.patience,
                validation_fraction=None if args.patience is None else 0.2,
                precision=args.precision, device="cpu", random_state=0, verbose=0,
            )
            steps = [("norm", SpeakerNormalizer())] if speaker else []
            model = Pipeline([*steps, ("dbn", clf)])
            start = time.process_time()
            if args.select:
                if not speaker:
                    raise SystemExit("--select is for the speaker-normalised variants (-spk)")

                def make(base=clf, **kw):
                    return clone(base).set_params(**{"max_epochs": args.epochs, **kw})

                clf, name, epoch = _select_and_refit(make, frame_sets, y, groups, train)
                clf.fit(frame_sets[name][train], y[train])
                pred[test] = clf.predict(frame_sets[name][test])
                picks.append(f"{name}/{epoch}")
            else:
                model.fit(X[train], y[train], dbn__groups=groups[train])
                pred[test] = model.predict(X[test])
            cpu.append(time.process_time() - start)
            pre.append(clf.pretrain_time_)
            epochs.append(clf.n_epochs_)
            hits = float((pred[test] == y[test]).mean())
            print(f"  {variant} speaker {groups[test][0]}: {hits:.3f} ({cpu[-1]:.0f} s CPU)",
                  flush=True)
        done = np.array([p is not None for p in pred])
        results[variant] = {**_scores(y[done], pred[done], groups[done]),
                            "n_test": int(done.sum()),
                            "cpu_seconds_per_fold": round(float(np.mean(cpu)), 1),
                            "pretrain_seconds_per_fold": round(float(np.mean(pre)), 1),
                            "epochs": epochs, "picks": picks}
        print(variant, json.dumps(results[variant]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("features", "svm", "dbn"))
    parser.add_argument("--epochs", type=int, default=15,
                        help="DBN fine-tuning epochs (the most, with --patience)")
    parser.add_argument("--patience", type=int, default=None,
                        help="DBN: early stopping on 2 held-out training speakers (20%%)")
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                        help="DBN fine-tuning precision")
    parser.add_argument("--select", action="store_true",
                        help="DBN: choose the frames (AudioFeatures or ComParE LLD) and the "
                             "epochs on held-out training speakers, refit (nested)")
    parser.add_argument("--batch-size", type=int, default=4, help="DBN clips per batch")
    parser.add_argument("--pretrain-frames", type=int, default=10000,
                        help="training frames the RBMs see per fold (pretrain_max_frames)")
    parser.add_argument("--variants", nargs="*",
                        default=["dbn-spk", "mlp-spk", "dbn", "mlp"],
                        choices=("dbn-spk", "mlp-spk", "dbn", "mlp"))
    parser.add_argument("--speakers", nargs="*", default=None,
                        help="DBN: test only these speakers' folds")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args()
    run = {"features": run_features, "svm": run_svm, "dbn": run_dbn}[args.part]
    results = run(args)
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
