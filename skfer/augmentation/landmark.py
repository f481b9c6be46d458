"""Landmark-trajectory augmentation of DTAGN (Jung et al., ICCV 2015, section 3.4, eq. 5-6):
flips, Gaussian noise and random rotations of normalised landmarks, as an imbalanced-learn
sampler (applied during fit only)."""

from __future__ import annotations

import numbers

import numpy as np

from ..preprocessing.landmarks import _as_landmark_sequences, _check_finite
from ..utils._sklearn import Interval, StrOptions
from ..utils.landmark_scheme import flip_permutation
from ._base import BaseAugmenter

__all__ = ["LandmarkAugmenter"]


class LandmarkAugmenter(BaseAugmenter):
    """Flip, jitter and rotate normalised landmark sequences (DTAGN, eq. 5-6).

    Every sequence yields, in this order: the original; ``n_noise`` copies with Gaussian
    noise ``z ~ N(0, noise_std^2)`` added to every coordinate of every frame (eq. 5,
    ``sigma = 0.01``); ``n_rotations`` copies whose points are rotated about the origin by
    ``R(theta)`` with ``theta ~ U[-max_angle, max_angle]`` (eq. 6, ``pi / 10``); and, with
    ``flip``, the horizontal mirror of each of these right after it. With the paper's
    values that is ``(1 + 3 + 3) * 2 = 14`` sequences ("original coordinates (1), flipped
    coordinates (1), and six augmented coordinates, and their flipped versions (12)").

    The paper writes ``R^(t)`` and ``theta^(t)`` with a frame superscript: a new angle is
    drawn for every frame (``rotation="frame"``, the default). ``rotation="sequence"``
    draws one angle per copy, which keeps the trajectory smooth.

    Parameters
    ----------
    flip : bool, default=True
        Add mirrored copies: ``x`` is negated and the points are relabelled left/right
        (:func:`skfer.utils.landmark_scheme.flip_permutation`; the 68 iBUG and 49
        IntraFace schemes are known).
    n_noise : int, default=3
        Copies with additive Gaussian noise (eq. 5).
    noise_std : float, default=0.01
        Noise standard deviation ``sigma_i``, in normalised units.
    n_rotations : int, default=3
        Randomly rotated copies (eq. 6).
    max_angle : float, default=pi / 10
        Rotation angles are drawn from ``U[-max_angle, max_angle]`` (radians).
    rotation : {"frame", "sequence"}, default="frame"
        Draw an angle per frame (as the paper's ``theta^(t)``) or one per copy.
    n_points : int or None, default=None
        Points per frame, needed only for flat input ``(n, 2 P T)``: ``None`` infers 68 or
        49 from the width when only one of them divides it into whole frames.
    random_state : int, RandomState instance or None, default=None
        Seeds the noise and the angles.

    Attributes
    ----------
    sample_indices_ : ndarray of int
        Source sequence of each output sequence (``groups[sample_indices_]`` aligns groups).
    n_augmentations_ : int
        Output sequences per input sequence.

    Notes
    -----
    Input is landmarks already normalised by
    :class:`skfer.preprocessing.LandmarkNormalizer` (nose at the origin, unit per-frame
    spread): flips and rotations are about the origin. Accepted ``X``: a list of ``(T, P,
    2)`` arrays, an ndarray ``(n, T, P, 2)`` or ``(n, P, 2)``, or the flat output of
    ``LandmarkNormalizer(flatten=True)``, ``(n, 2 P T)`` with frames ``[x_1 y_1 ... x_P
    y_P]`` concatenated (eq. 4). The output has the input's form.

    This augments landmark data on its own; for clips with their landmarks, where the
    points must move with the pixels of the same draw, give a :class:`~skfer.ClipSet` with
    a ``landmarks`` companion to :class:`ImageSequenceAugmenter`.
    """

    _parameter_constraints: dict = {
        "flip": ["boolean"],
        "n_noise": [Interval(numbers.Integral, 0, None, closed="left")],
        "noise_std": [Interval(numbers.Real, 0, np.inf, closed="left")],
        "n_rotations": [Interval(numbers.Integral, 0, None, closed="left")],
        "max_angle": [Interval(numbers.Real, 0, np.inf, closed="left")],
        "rotation": [StrOptions({"frame", "sequence"})],
        "n_points": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        flip: bool = True,
        n_noise: int = 3,
        noise_std: float = 0.01,
        n_rotations: int = 3,
        max_angle: float = np.pi / 10,
        rotation: str = "frame",
        n_points: int | None = None,
        random_state=None,
    ) -> None:
        self.flip = flip
        self.n_noise = n_noise
        self.noise_std = noise_std
        self.n_rotations = n_rotations
        self.max_angle = max_angle
        self.rotation = rotation
        self.n_points = n_points
        self.random_state = random_state

    def _flat_points(self, width: int) -> int:
        """Points per frame of flat ``(n, 2 P T)`` input."""
        if self.n_points is not None:
            if width % (2 * self.n_points):
                raise ValueError(
                    f"flat landmark vectors of {width} values are not whole frames of "
                    f"n_points={self.n_points} (x, y) pairs"
                )
            return int(self.n_points)
        fits = [p for p in (68, 49) if width % (2 * p) == 0]
        if len(fits) != 1:
            raise ValueError(
                f"cannot tell the points per frame of flat landmark vectors of {width} values "
                f"({'both 68 and 49 fit' if fits else 'neither 68 nor 49 fits'}); set n_points"
            )
        return fits[0]

    def _validate_X(self, X):
        if not isinstance(X, (list, tuple, np.ndarray)) and hasattr(X, "__array__"):
            X = np.asarray(X)
        if isinstance(X, np.ndarray) and X.dtype != object and X.ndim == 2:
            flat = X.astype(np.float64, copy=False)
            n_points = self._flat_points(flat.shape[1])
            seqs = [row.reshape(-1, n_points, 2) for row in flat]
            dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64

            def restore(out):
                return np.stack([s.reshape(-1) for s in out]).astype(dtype, copy=False)
        elif isinstance(X, (list, tuple)) and len(X) and all(np.ndim(s) == 1 for s in X):
            # A list of flat vectors (eq. 4), possibly of different lengths.
            seqs = []
            for i, row in enumerate(X):
                row = np.asarray(row, dtype=np.float64)
                try:
                    n_points = self._flat_points(len(row))
                except ValueError as exc:
                    raise ValueError(f"sequence {i}: {exc}") from exc
                if seqs and n_points != seqs[0].shape[1]:
                    raise ValueError(
                        f"sequence {i} has {n_points} points per frame, sequence 0 has "
                        f"{seqs[0].shape[1]}"
                    )
                seqs.append(row.reshape(-1, n_points, 2))

            def restore(out):
                return [s.reshape(-1) for s in out]
        else:
            seqs = _as_landmark_sequences(X)
            if isinstance(X, np.ndarray) and X.dtype != object:
                dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64
                squeeze = X.ndim == 3  # (n, P, 2) still images

                def restore(out):
                    arr = np.stack(out).astype(dtype, copy=False)
                    return arr[:, 0] if squeeze else arr
            else:
                def restore(out):
                    return list(out)
        _check_finite(seqs)
        if self.flip:
            # Raises for a point scheme whose left/right pairs are unknown.
            flip_permutation(seqs[0].shape[1])
        return seqs, restore

    def _rotate(self, seq: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
        n_angles = len(seq) if self.rotation == "frame" else 1
        theta = rng.uniform(-self.max_angle, self.max_angle, size=n_angles)
        cos, sin = np.cos(theta)[:, None], np.sin(theta)[:, None]
        x, y = seq[..., 0], seq[..., 1]
        # [x~ y~]^T = R(theta) [x y]^T, R = [[cos, -sin], [sin, cos]] (eq. 6)
        return np.stack([cos * x - sin * y, sin * x + cos * y], axis=-1)

    def _augment(self, seq: np.ndarray, rng: np.random.RandomState) -> list[np.ndarray]:
        variants = [seq.copy()]
        variants += [
            seq + rng.normal(0.0, self.noise_std, size=seq.shape) for _ in range(self.n_noise)
        ]
        variants += [self._rotate(seq, rng) for _ in range(self.n_rotations)]
        if not self.flip:
            return variants
        perm = flip_permutation(seq.shape[1])
        out = []
        for v in variants:
            mirrored = v[:, perm] * np.array([-1.0, 1.0])
            out.extend([v, mirrored])
        return out
