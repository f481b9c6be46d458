"""skfer.utils.pixels: the one module that converts pixels (grey, float, uint8).

The values are checked against independent formulas (OpenCV frame by frame, the BT.601
weights written out), and the layering it exists for: no module of ``skfer.neural`` imports
``skfer.features``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import cv2
import numpy as np
import pytest

import skfer
from skfer.utils import pixels
from skfer.utils.pixels import LUMA, to_float, to_grey, to_grey_float, to_grey_frame, to_uint8

BT601 = np.array([0.299, 0.587, 0.114])


@pytest.fixture
def rgb8() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (3, 7, 9, 3), dtype=np.uint8)


def test_uint8_grey_is_opencvs_frame_by_frame(rgb8):
    grey = to_grey(rgb8)
    assert grey.dtype == np.uint8 and grey.shape == (3, 7, 9)
    np.testing.assert_array_equal(
        grey, np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in rgb8])
    )
    view = rgb8[:, 1:6, 2:8]  # not contiguous, as a crop of a frame
    np.testing.assert_array_equal(
        to_grey(view), np.stack([cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY)
                                 for f in view])
    )
    np.testing.assert_array_equal(to_grey_frame(rgb8[1]), grey[1])


def test_float_grey_is_the_bt601_sum(rgb8):
    assert LUMA == tuple(BT601)
    floats = rgb8.astype(np.float32) / 255
    grey = to_grey(floats)
    assert grey.dtype == np.float64  # the sum in float64, whatever the float input
    np.testing.assert_array_equal(grey, floats @ BT601)
    as32 = to_grey(rgb8, dtype=np.float32)  # a dtype asks for the sum, never rounded
    assert as32.dtype == np.float32
    np.testing.assert_array_equal(as32, rgb8.astype(np.float32) @ BT601.astype(np.float32))
    # OpenCV's fixed-point weights round to the nearest level: within one level of the sum
    assert np.abs(to_grey(rgb8) - rgb8 @ BT601).max() <= 0.5 + 1e-3


def test_grey_input_and_shapes():
    grey = np.zeros((2, 4, 3), np.uint8)  # a grey clip 3 pixels wide, not one RGB frame
    assert to_grey(grey) is grey
    assert to_grey(grey, dtype=np.float32).dtype == np.float32
    frame = np.zeros((4, 5), np.float32)
    assert to_grey_frame(frame).shape == (4, 5)
    with pytest.raises(ValueError, match="3 channels"):
        to_grey(np.zeros((1, 4, 4, 4), np.uint8))


def test_float_follows_the_data_models_scale_rule():
    unit_scale = np.array([[[0.0, 0.5, 1.0]]])
    np.testing.assert_array_equal(to_float(unit_scale), [[[0.0, 127.5, 255.0]]])
    levels = np.array([[[0.0, 2.0, 255.0]]])
    np.testing.assert_array_equal(to_float(levels), levels)
    u8 = np.array([[[0, 7, 255]]], np.uint8)
    assert to_float(u8).dtype == np.float32
    np.testing.assert_array_equal(to_float(u8), u8)
    # the unit of the whole clip: a dark frame of a 0..255 clip is not read as [0, 1]
    np.testing.assert_array_equal(to_float(np.array([[[0.5]]]), 1.0), [[[0.5]]])
    with pytest.raises(ValueError, match="clip 4: float pixels range from -1 to 1"):
        to_float(np.array([[[-1.0, 1.0]]]), index=4)


def test_uint8_and_scale_are_validations():
    # one rule: the functions check_clip's module documents, not copies of them
    from skfer.utils import validation

    assert pixels.to_uint8 is validation.to_uint8
    assert pixels.pixel_unit is validation.pixel_unit
    assert to_uint8(np.array([0.0, 0.5, 1.0]), 255.0).tolist() == [0, 128, 255]


def test_grey_float_is_grey_then_scale_then_resize(rgb8):
    floats = rgb8.astype(np.float64) / 255
    out = to_grey_float(floats, (14, 18))
    ref = (floats.astype(np.float32) @ BT601.astype(np.float32)) * np.float32(255)
    ref = np.stack([cv2.resize(f, (18, 14), interpolation=cv2.INTER_LINEAR) for f in ref])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, ref)
    white = np.ones((1, 2, 2, 3), np.float32)  # [0, 1] scale: the unit of the clip itself
    np.testing.assert_allclose(to_grey_float(white), 255.0, rtol=1e-6)
    from skfer.features.frame_features import to_grey_float as public

    assert public is to_grey_float  # still importable where it was public


def _imports(path: Path) -> set[str]:
    """Absolute names of the skfer modules a file imports."""
    package = ".".join(path.relative_to(Path(skfer.__file__).parents[1]).with_suffix("").parts)
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: -node.level]
                names.add(".".join(base + ([node.module] if node.module else [])))
            else:
                names.add(node.module or "")
    return names


def test_no_neural_module_imports_features():
    neural = Path(skfer.__file__).parent / "neural"
    offenders = {
        p.name: sorted(n for n in _imports(p) if n.startswith("skfer.features"))
        for p in sorted(neural.glob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}
