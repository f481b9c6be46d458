"""Accuracy of :class:`skfer.preprocessing.LandmarkDetector` on hand-checked faces.

Data: ``../shared/data/faces_68pt`` (43 faces in 12 photos, iBUG 68 points, dlib imglab
XML). Error measure: the normalised mean error (NME), the mean point-to-point distance
over the 68 points divided by the inter-ocular distance, taken as the distance between
the outer eye corners (iBUG points 36 and 45, the 300-W convention), per face, then
averaged over faces.

Two settings:

* the annotated face box is given to the detector (``transform(..., boxes=...)``): the
  accuracy of the shape predictor alone;
* dlib's HOG frontal detector finds the faces itself (``upsample`` 1 and 2); a detection
  is matched to the annotated face whose box centre is nearest and within half the box
  size; faces it misses are counted, not scored.

Note: the file's own comment says these landmarks were produced by dlib's
``shape_predictor_68_face_landmarks.dat`` (then checked by hand), so the first setting
measures agreement with that, not a fully independent ground truth.

Run: ``.venv/bin/python benchmarks/bench_landmarks.py [DATA_DIR]``
"""

from __future__ import annotations

import sys
import time
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import dlib
import numpy as np
from _shared_data import SHARED_DATA

from skfer.preprocessing.landmarks import LandmarkDetector

DEFAULT_DIR = SHARED_DATA / "faces_68pt"


def read_faces(folder: Path) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """``{image file: [(box (x, y, w, h), points (68, 2)), ...]}``."""
    faces: dict[str, list] = {}
    for xml in sorted(folder.glob("*_with_face_landmarks.xml")):
        for image in ET.parse(xml).getroot().iter("image"):
            for box in image.iter("box"):
                parts = sorted(box.iter("part"), key=lambda p: int(p.get("name")))
                if len(parts) != 68:
                    continue
                xywh = [int(box.get(k)) for k in ("left", "top", "width", "height")]
                points = np.array([[float(p.get("x")), float(p.get("y"))] for p in parts])
                faces.setdefault(image.get("file"), []).append((np.array(xywh, float), points))
    return faces


def nme(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean point error over the outer-eye-corner distance (points 36, 45)."""
    iod = np.linalg.norm(true[36] - true[45])
    return float(np.linalg.norm(pred - true, axis=1).mean() / iod)


def main(folder: Path) -> None:
    faces = read_faces(folder)
    n_faces = sum(len(v) for v in faces.values())
    images = {f: cv2.cvtColor(cv2.imread(str(folder / f)), cv2.COLOR_BGR2RGB) for f in faces}
    rows = []

    det = LandmarkDetector(detector="frame").fit([images[next(iter(images))][None]])
    errors, t0 = [], time.perf_counter()
    for f, annotated in faces.items():
        clip = np.repeat(images[f][None], len(annotated), axis=0)
        boxes = np.stack([b for b, _ in annotated])
        pred = det.transform([clip], boxes=[boxes])[0]
        errors += [nme(p, t) for p, (_, t) in zip(pred, annotated)]
    rows.append(("annotated box", n_faces, n_faces, errors, time.perf_counter() - t0))

    hog = dlib.get_frontal_face_detector()
    for upsample in (1, 2):
        det = LandmarkDetector(upsample=upsample).fit([images[next(iter(images))][None]])
        errors, found, n_det, t0 = [], 0, 0, time.perf_counter()
        for f, annotated in faces.items():
            # All detections (LandmarkDetector keeps only the largest face per frame).
            rects = hog(images[f], upsample)
            boxes = np.array([[r.left(), r.top(), r.width(), r.height()] for r in rects], float)
            n_det += len(boxes)
            if len(boxes) == 0:
                continue
            clip = np.repeat(images[f][None], len(boxes), axis=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pred = det.transform([clip], boxes=[boxes])[0]
            for box_true, true in annotated:
                centre_true = box_true[:2] + box_true[2:] / 2
                centres = boxes[:, :2] + boxes[:, 2:] / 2
                dist = np.linalg.norm(centres - centre_true, axis=1)
                j = int(np.argmin(dist))
                if dist[j] <= 0.5 * box_true[2]:
                    found += 1
                    errors.append(nme(pred[j], true))
        secs = time.perf_counter() - t0
        rows.append((f"dlib HOG, upsample={upsample}", n_det, found, errors, secs))

    print(f"Landmark accuracy on {folder} ({n_faces} faces, {len(faces)} images)\n")
    print("| face boxes | boxes | faces scored | NME mean | NME median | NME max | time (s) |")
    print("|---|---|---|---|---|---|---|")
    for name, n, k, errs, secs in rows:
        e = np.asarray(errs)
        print(
            f"| {name} | {n} | {k} | {e.mean():.4f} | {np.median(e):.4f} | {e.max():.4f} "
            f"| {secs:.2f} |"
        )
    print(
        "\nboxes: face boxes used (annotated, or all HOG detections); faces scored: "
        f"annotated faces (of {n_faces}) matched by a box.\n"
        "NME: mean point-to-point error / distance between outer eye corners (36, 45)."
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR)
