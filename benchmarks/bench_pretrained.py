"""The shipped EmoNets ConvNet (``skfer.pretrained``): scores, speed, size, load time, framing.

Usage::

    python benchmarks/bench_pretrained.py [--out /tmp/skfer_pretrained.json] [--threads 2]
    # side by side with the fer package (its own environment, see bench_peer_fer.py):
    /tmp/fer-venv/bin/python benchmarks/bench_peer_fer.py --skfer-json /tmp/skfer_pretrained.json

Measured, on ``SHARED_DATA`` (never copied into the repository):

* **FER2013 PublicTest** (3,589 faces): accuracy and per-class recall with 1, 2 and 10
  test views (the card's choice, made on the held-out slice of Training, is marked);
* **CK+48 zero-shot** on the six classes it shares with FER2013 (contempt dropped; the
  argmax over the six, and over all seven outputs where "neutral" counts as an error), per
  image and per clip (mean of a sequence's three frames' probabilities);
* **speed**: images/s of ``predict_proba`` on PublicTest (batches of the estimator's
  ``batch_size``; fastest of 3 passes), the load time of ``pretrained.load`` and the size of
  the weights file;
* **framing** (``--framing``): PublicTest faces upscaled 4x (192x192) and cut again by
  ``FaceTubeExtractor`` with ``margin=0`` (the Haar box) and ``margin=0.1`` (the shipped
  model's framing), scored on the faces the detector finds, beside the original crops of
  those same faces.

The JSON (``--out``) has the fields ``bench_peer_fer.py --skfer-json`` reads, class names in
the FER2013 vocabulary (angry, disgust, fear, happy, neutral, sad, surprise).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared_data import SHARED_DATA  # noqa: E402

#: skfer's class names -> the FER2013 vocabulary of bench_peer_fer.py
TO_FER = {"anger": "angry", "disgust": "disgust", "fear": "fear", "happiness": "happy",
          "neutral": "neutral", "sadness": "sad", "surprise": "surprise"}


def _ckplus(data: Path):
    """CK+48 images grouped by sequence: (clips, labels) with skfer's class names."""
    from skfer.datasets import load_ckplus48

    bunch = load_ckplus48(data / "ckplus48")
    return bunch.data, np.asarray(bunch.target)


def _zero_shot(net, clips, labels) -> dict:
    classes = net.classes_.tolist()
    shared = [c for c in classes if c != "neutral"]
    cols = [classes.index(c) for c in shared]
    keep = np.array([lab in shared for lab in labels])
    out = {}
    per_image_p = [net.predict_proba([c[i:i + 1] for i in range(len(c))])
                   for c, k in zip(clips, keep) if k]
    y = labels[keep]
    for name, probs, truth in (
        ("per_image", np.concatenate(per_image_p),
         np.repeat(y, [len(p) for p in per_image_p])),
        ("per_clip", np.stack([p.mean(0) for p in per_image_p]), y),
    ):
        six = np.array(shared)[probs[:, cols].argmax(1)]
        seven = np.array(classes)[probs.argmax(1)]
        recall = {TO_FER[c]: float(np.mean(six[truth == c] == c)) for c in shared}
        out[name] = {"accuracy_six": float(np.mean(six == truth)),
                     "accuracy_seven": float(np.mean(seven == truth)),
                     "recall_six": recall, "n": int(len(truth))}
    return out


def _speed(net, X, repeat: int = 3) -> float:
    net.predict_proba(X[:256])  # warm-up
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        net.predict_proba(X)
        best = min(best, time.perf_counter() - t0)
    return len(X) / best


def _framing(net, X, y) -> dict:
    import cv2

    from skfer.preprocessing import FaceTubeExtractor

    big = [cv2.resize(c[0], (192, 192), interpolation=cv2.INTER_CUBIC)[None] for c in X]
    out, found = {}, None
    for margin in (0.0, 0.1):
        ext = FaceTubeExtractor(frame_size=(48, 48), margin=margin, on_missing="ignore").fit()
        tubes, records = ext.transform_with_info(big)
        detected = np.array([r.status[0] == "detected" for r in records])
        found = detected if found is None else found & detected
        out[margin] = (tubes, detected)
    result = {"n_faces": int(len(X)), "n_detected": int(found.sum())}
    result["original_crops"] = float(np.mean(net.predict([X[i] for i in np.flatnonzero(found)])
                                             == y[found]))
    for margin, (tubes, _) in out.items():
        pred = net.predict([tubes[i] for i in np.flatnonzero(found)])
        result[f"margin_{margin}"] = float(np.mean(pred == y[found]))
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(SHARED_DATA))
    parser.add_argument("--out", default="/tmp/skfer_pretrained.json")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--framing", action="store_true",
                        help="also measure the face framing (FaceTubeExtractor margins)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from skfer import pretrained
    from skfer.datasets import load_fer2013

    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {' '.join(sys.argv)}",
          flush=True)
    t0 = time.perf_counter()
    net = pretrained.load("emonets-fer2013", device="cpu")
    load_s = time.perf_counter() - t0
    card = net.pretrained_card_
    weights = pretrained.DATA_DIR / card["weights"]["file"]
    data = Path(args.data)
    pub = load_fer2013(data / "fer2013", subset="PublicTest", n_jobs=2)
    X, y = pub.data, np.asarray(pub.target)
    chosen = int(net.test_views)
    result = {"model": "skfer emonets-fer2013", "load_s": load_s,
              "weights_bytes": os.path.getsize(weights), "test_views": chosen,
              "threads": args.threads, "views": {}}
    for views in (1, 2, 10):
        net.set_params(test_views=views)
        pred = net.predict(X)
        speed = _speed(net, X)
        recall = {TO_FER[c]: float(np.mean(pred[y == c] == c)) for c in net.classes_}
        result["views"][views] = {"accuracy": float(np.mean(pred == y)), "recall": recall,
                                  "images_per_s": speed}
        print(f"PublicTest, {views} view(s): accuracy {np.mean(pred == y):.4f}, "
              f"{speed:.0f} images/s", flush=True)
    net.set_params(test_views=chosen)
    result["fer2013_publictest"] = result["views"][chosen]
    result["images_per_s"] = result["views"][chosen]["images_per_s"]
    clips, labels = _ckplus(data)
    result["ckplus48"] = _zero_shot(net, clips, labels)
    print("CK+48 zero-shot:", json.dumps(result["ckplus48"]), flush=True)
    if args.framing:
        result["framing"] = _framing(net, X, y)
        print("framing:", json.dumps(result["framing"]), flush=True)
    result["load_average"] = os.getloadavg()[0]
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"load {load_s:.2f} s, weights {result['weights_bytes'] / 1e6:.1f} MB; "
          f"written {args.out}")


if __name__ == "__main__":
    main()
