"""Seeded changes of the lighting over time, to measure how invariant a model is to them.

The semi-supervised video autoencoder paper (``000_456b233df5d24fca``, Table 4b and 5) tests
its illumination-invariant sub-network on data "after we added illumination changes"
without saying which. :class:`LightingChange` adds three multiplicative ones to clips: a
global brightness ramp over the clip, frame-to-frame flicker, and a side light whose
strength grows over the clip.
"""

from __future__ import annotations

import numbers
import zlib

import numpy as np
from sklearn.utils import check_random_state

from ..base import StatelessClipTransformer, same_container
from ..utils._sklearn import Interval
from ..utils.validation import check_clips

__all__ = ["LightingChange"]


class LightingChange(StatelessClipTransformer):
    """Multiply every frame by a lighting that changes over time: ramp, flicker, side light.

    Frame ``t`` of a clip of ``T`` frames (``u = t / (T − 1)``) becomes
    ``x_t · g_t · f_t · (1 + s · u · d(p))``:

    * ramp ``g_t = g_0 + (g_1 − g_0) u``, with ``g_0, g_1`` uniform in ``[1 − ramp, 1 + ramp]``;
    * flicker ``f_t = exp(flicker · N(0, 1))``, independent per frame;
    * side light: ``d(p) ∈ [−1, 1]`` is the position of pixel ``p`` along a random direction
      across the frame, ``s`` = ``side_light``; the light comes in over the clip (0 at the
      first frame). The factor is floored at 0.05 (no negative light).

    Colour channels share the factor. Nothing is learnt; ``fit`` only validates.

    Parameters
    ----------
    ramp : float in [0, 1), default=0.5
    flicker : float >= 0, default=0.1
        Standard deviation of the log gain per frame.
    side_light : float >= 0, default=0.5
    random_state : int, RandomState instance or None, default=None
        With an int, the lighting of a clip depends only on the int and the clip's pixels
        (a CRC of them): a clip gets the same lighting at every call and in any subset,
        and two different clips different ones. ``None`` or a RandomState: a new draw at
        every call.

    Notes
    -----
    Output clips are float32 and are not clipped to 0-255 (a brighter frame keeps its
    contrast instead of saturating), so the change is exactly multiplicative; clip them
    with ``np.clip`` to model saturation. A :class:`~skfer.ClipSet` keeps its companions
    (the pixels do not move).

    Examples
    --------
    >>> import numpy as np
    >>> clip = np.full((3, 2, 2), 100, np.uint8)
    >>> out = LightingChange(ramp=0.5, flicker=0.0, side_light=0.0,
    ...                      random_state=0).fit_transform([clip])[0]
    >>> out[:, 0, 0].round(1)
    array([124.9, 114.1, 103.2], dtype=float32)
    """

    _parameter_constraints: dict = {
        "ramp": [Interval(numbers.Real, 0, 1, closed="left")],
        "flicker": [Interval(numbers.Real, 0, None, closed="left")],
        "side_light": [Interval(numbers.Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, *, ramp: float = 0.5, flicker: float = 0.1, side_light: float = 0.5,
                 random_state=None) -> None:
        self.ramp = ramp
        self.flicker = flicker
        self.side_light = side_light
        self.random_state = random_state

    def _rng(self, clip: np.ndarray, shared) -> np.random.RandomState:
        if isinstance(self.random_state, numbers.Integral):
            crc = zlib.crc32(np.ascontiguousarray(clip).tobytes())
            return np.random.RandomState((int(self.random_state) + crc) % 2**32)
        return shared

    def _light(self, clip: np.ndarray, rng: np.random.RandomState) -> tuple[np.ndarray, dict]:
        n, h, w = clip.shape[:3]
        u = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
        g0, g1 = rng.uniform(1 - self.ramp, 1 + self.ramp, size=2)
        gain = (g0 + (g1 - g0) * u) * np.exp(self.flicker * rng.standard_normal(n))
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[:h, :w]
        proj = (xx - (w - 1) / 2) * np.cos(angle) + (yy - (h - 1) / 2) * np.sin(angle)
        proj = proj / max(np.abs(proj).max(), 1e-12)
        side = np.maximum(1 + self.side_light * u[:, None, None] * proj[None], 0.05)
        factor = gain[:, None, None] * side
        if clip.ndim == 4:
            factor = factor[..., None]
        info = {"gain": gain, "side_direction": float(angle)}
        return (clip.astype(np.float32) * factor.astype(np.float32)), info

    def transform_with_info(self, X):
        """Relight every clip; also return what was drawn for each.

        Parameters
        ----------
        X : list of clips (T, H, W[, 3]), ndarray of them, or :class:`~skfer.ClipSet`

        Returns
        -------
        Xt : clips of float32 frames, list, ndarray or ClipSet like ``X``
        info : list of dict
            Per clip: ``gain`` (T,) the global factor per frame (ramp times flicker) and
            ``side_direction`` the angle of the side light (radians).
        """
        self._check_ready()
        shared = check_random_state(
            None if isinstance(self.random_state, numbers.Integral) else self.random_state
        )
        out, info = [], []
        for clip in check_clips(X):
            relit, drawn = self._light(clip, self._rng(clip, shared))
            out.append(relit)
            info.append(drawn)
        return same_container(X, out), info

    def transform(self, X):
        """Relight every clip (see :meth:`transform_with_info`).

        Parameters
        ----------
        X : list of clips (T, H, W[, 3]), ndarray of them, or :class:`~skfer.ClipSet`

        Returns
        -------
        Xt : clips of float32 frames, list, ndarray or ClipSet like ``X``
        """
        return self.transform_with_info(X)[0]
