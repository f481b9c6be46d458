"""Face-tube box smoothing (EmoNets section 3.1.3) against hand-computed numbers."""

from __future__ import annotations

import numpy as np
import pytest

from skfer.preprocessing.box_smoothing import (
    box_iou,
    boxes_to_corners,
    corners_to_boxes,
    largest_centered_square,
    moving_average,
    polynomial_side_lengths,
    smooth_tube_boxes,
)


def test_moving_average_window_11_truncates_at_the_ends():
    x = np.zeros(12)
    x[5] = 11.0
    got = moving_average(x, 11)
    # Frame 0 averages frames 0..5 (6 values), frame 5 frames 0..10, frame 6 frames 1..11,
    # frame 10 frames 5..11 (7 values), frame 11 frames 6..11 (the spike is out).
    assert got[0] == pytest.approx(11 / 6)
    assert got[5] == pytest.approx(1.0)
    assert got[6] == pytest.approx(1.0)
    assert got[10] == pytest.approx(11 / 7)
    assert got[11] == pytest.approx(0.0)
    assert got.shape == (12,)


def test_moving_average_small_window_and_columns():
    x = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 3.0], [10.0, 0.0]])
    got = moving_average(x, 3)
    np.testing.assert_allclose(got[:, 0], [1.5, 2.0, 5.0, 6.5])
    np.testing.assert_allclose(got[:, 1], [0.0, 1.0, 1.0, 1.5])
    np.testing.assert_allclose(moving_average(x, 1), x)


@pytest.mark.parametrize("window", [0, 2, 10, -3])
def test_moving_average_rejects_even_or_non_positive_windows(window):
    with pytest.raises(ValueError, match="odd"):
        moving_average(np.arange(5.0), window)


def test_corner_round_trip():
    boxes = np.array([[10.0, 20.0, 30.0, 40.0]])
    np.testing.assert_allclose(boxes_to_corners(boxes), [[10, 20, 40, 60]])
    np.testing.assert_allclose(corners_to_boxes(boxes_to_corners(boxes)), boxes)


def test_largest_centered_square():
    got = largest_centered_square(np.array([[10.0, 20.0, 40.0, 60.0], [0.0, 0.0, 30.0, 10.0]]))
    # Box 1: side 40, centre (30, 50); box 2: side 10, centre (15, 5).
    np.testing.assert_allclose(got, [[10, 30, 40, 40], [10, 0, 10, 10]])


def test_polynomial_sides_linear_above_threshold():
    t = np.arange(10)
    sides = 50 + 0.2 * t  # |slope| * T = 2.0 > 1.5
    fitted, linear = polynomial_side_lengths(sides, 1.5)
    assert linear
    np.testing.assert_allclose(fitted, sides)


def test_polynomial_sides_constant_below_threshold():
    t = np.arange(10)
    sides = 50 + 0.1 * t  # |slope| * T = 1.0 < 1.5
    fitted, linear = polynomial_side_lengths(sides, 1.5)
    assert not linear
    np.testing.assert_allclose(fitted, np.full(10, 50.45))
    # The same drift, shrinking, is judged on |slope|; a lower threshold flips the choice.
    assert not polynomial_side_lengths(sides[::-1], 1.5)[1]
    assert polynomial_side_lengths(sides[::-1], 0.9)[1]


def test_smooth_tube_boxes_constant_box():
    boxes = np.tile([0.0, 0.0, 20.0, 10.0], (15, 1))
    got, linear = smooth_tube_boxes(boxes)
    # Square of side 10 centred at (10, 5).
    np.testing.assert_allclose(got, np.tile([5.0, 0.0, 10.0, 10.0], (15, 1)))
    assert not linear


def test_smooth_tube_boxes_removes_a_one_frame_jump():
    boxes = np.tile([100.0, 100.0, 50.0, 50.0], (21, 1))
    boxes[10, :2] += 22.0  # one frame jumps 22 px right and down
    got, _ = smooth_tube_boxes(boxes, window=11)
    # The centre moving average spreads the 22 px over 11 frames: 2 px at frame 10,
    # after the corner average has already spread it (the square of an average box).
    assert np.abs(got[:, :2] - 100.0).max() <= 2.0 + 1e-9
    np.testing.assert_allclose(got[:, 2], 50.0)


def test_box_iou():
    a = np.array([0.0, 0.0, 10.0, 10.0])
    assert box_iou(a, [5.0, 0.0, 10.0, 10.0]) == pytest.approx(50 / 150)
    assert box_iou(a, [20.0, 20.0, 5.0, 5.0]) == 0.0
    assert box_iou(a, a) == pytest.approx(1.0)
    np.testing.assert_allclose(box_iou(np.tile(a, (3, 1)), a), [1, 1, 1])
