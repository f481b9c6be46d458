"""The illumination-invariant sub-network of the semi-supervised video autoencoder (section 3.3).

The paper ("semi-supervised spatio-temporal autoencoder", ``000_456b233df5d24fca``) puts a
small fixed-form network in front of its autoencoder and predictor:
``C(9,1,9)-Abs-Log(α,β)-Exp(−γ,δ)-Prod``, i.e. (eq. 2)

.. math:: H(x) = x \\, e^{-γ \\log(α |F(x)| + β) + δ} = \\frac{e^δ x}{(α |F(x)| + β)^γ}

where ``F`` is a 1x1 spatial convolution across the frames (every output frame a weighted
sum of the input frames at the same pixel), initialised by the moving average of
Algorithm 1 and fine-tuned with the network; ``α`` and ``β`` are fixed. With ``γ = 1,
δ = 0`` it is eq. 3, ``H = τ x / (1 + η |F|)`` with ``τ = 1/β`` and ``η = α/β``; with
``γ = δ = 0`` it is the identity ("switched off"). For ``β → 0`` it is invariant to a
global scaling of the intensities: ``H(k x) = H(x)`` (``F`` is linear and has no bias).

:class:`FrameResponseNorm` is the paper's comparison (Table 5): local response
normalisation at the input, across neighbouring frames.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = [
    "FrameResponseNorm",
    "IlluminationInvariantNet",
    "moving_average_matrix",
]


def moving_average_matrix(n_frames: int, window: int) -> np.ndarray:
    """Algorithm 1 of the paper: the temporal moving-average matrix ``A`` (``n_frames`` square).

    Row ``i`` averages the frames ``i - n .. i + n`` with ``n = min(i, r, n_frames - 1 - i)``
    and ``r = (window - 1) // 2``: a centred window of ``window`` frames that shrinks
    symmetrically at both ends of the clip, so every row sums to 1 and stays centred on its
    own frame.

    Parameters
    ----------
    n_frames : int
        Frames of a clip (``nFrames``), at least 1.
    window : int
        Window size (``wSize``), at least 1. An even window acts as the odd one below it
        (``r`` is rounded down, as the centred window needs an odd width).

    Returns
    -------
    A : ndarray of shape (n_frames, n_frames), float64
        ``F(x)_i = sum_j A[i, j] x_j``.

    Notes
    -----
    The paper's Algorithm 1 writes ``n ← min(n, nFrames − i)``: for the last frame
    (``i = nFrames − 1``) that gives ``n = 1`` and the window ``i − 1 .. i + 1`` runs one
    frame past the end of the clip (in Caffe's row-major weight blob it would spill into the
    next row, elsewhere it is cut and the row no longer sums to 1). skfer uses
    ``nFrames − 1 − i``, the distance to the last frame.

    Examples
    --------
    >>> moving_average_matrix(4, 3).round(3)
    array([[1.   , 0.   , 0.   , 0.   ],
           [0.333, 0.333, 0.333, 0.   ],
           [0.   , 0.333, 0.333, 0.333],
           [0.   , 0.   , 0.   , 1.   ]])
    """
    if int(n_frames) < 1 or int(window) < 1:
        raise ValueError(f"n_frames and window must be >= 1, got {n_frames} and {window}")
    n_frames, r = int(n_frames), (int(window) - 1) // 2
    A = np.zeros((n_frames, n_frames))
    for i in range(n_frames):
        n = min(i, r, n_frames - 1 - i)
        A[i, i - n:i + n + 1] = 1.0 / (2 * n + 1)
    return A


def _frames_first(x: torch.Tensor, n_frames: int, what: str) -> None:
    if x.ndim != 5:
        raise ValueError(f"{what} takes clips (N, T, C, H, W), got shape {tuple(x.shape)}")
    if x.shape[1] != n_frames:
        raise ValueError(
            f"{what} was built for {n_frames} frames (its temporal kernel spans them all) "
            f"but the clips have {x.shape[1]}; resample them in time first "
            "(TemporalResampler)"
        )


class IlluminationInvariantNet(nn.Module):
    """``C(T,1,T)-Abs-Log(α,β)-Exp(−γ,δ)-Prod``: ``H(x) = e^δ x / (α|F(x)| + β)^γ`` (eq. 2).

    Parameters
    ----------
    n_frames : int, default=9
        Frames per clip ``T`` (the paper's 9): the temporal kernel spans all of them.
    window : int, default=3
        Window of the moving average that initialises ``F`` (Algorithm 1).
    alpha, beta : float, default=1.0, 1.0
        Scale and shift of the ``Log`` layer, ``ln(α|F| + β)``; fixed (buffers, not trained).
        ``α >= 0``, ``β >= 0``, not both 0.
    gamma, delta : float, default=1.0, 0.0
        The ``Exp`` layer ``e^{−γ y + δ}``. ``γ = 1, δ = 0``: a reciprocal (eq. 3);
        ``γ = δ = 0``: the sub-network is the identity.
    trainable : bool, default=True
        Whether ``F``'s weights are fine-tuned with the rest of the network.
    eps : float, default=1e-6
        Floor of ``α|F| + β`` before the log (see Notes).

    Notes
    -----
    * ``F`` has no bias, unlike Caffe's default convolution: a bias would break the scale
      invariance ``H(kx) = H(x)`` (``F(kx) = kF(x)`` needs a linear ``F``).
    * NaN guard: with ``β = 0`` a pixel whose ``F`` is 0 gives ``log(0) = −inf``, then
      ``x · e^{+inf}`` is ``0 · inf = NaN`` (and with ``γ = 0``, ``0 · (−inf)`` is NaN
      too). ``α|F| + β`` is floored at ``eps`` before the log, so such pixels give finite
      values (``e^δ x / eps^γ``) and finite gradients. It changes nothing where
      ``α|F| + β >= eps``.
    * The input should be non-negative intensities (not mean-subtracted): the invariance is
      to a multiplicative change of the light, which a subtracted mean would turn into an
      additive one. :class:`~skfer.neural.VideoAutoencoderNet` divides by the training
      pixels' mean first.

    Examples
    --------
    >>> import torch
    >>> net = IlluminationInvariantNet.from_tau_eta(n_frames=4, tau=1.0, eta=1.0)
    >>> x = torch.ones(1, 4, 1, 2, 2)
    >>> net(x)[0, :, 0, 0, 0]
    tensor([0.5000, 0.5000, 0.5000, 0.5000], grad_fn=<SelectBackward0>)
    """

    def __init__(
        self,
        n_frames: int = 9,
        window: int = 3,
        alpha: float = 1.0,
        beta: float = 1.0,
        gamma: float = 1.0,
        delta: float = 0.0,
        trainable: bool = True,
        eps: float = 1e-6,
    ):
        super().__init__()
        if alpha < 0 or beta < 0 or alpha + beta <= 0:
            raise ValueError(f"alpha and beta must be >= 0 and not both 0, got {alpha}, {beta}")
        if eps <= 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.n_frames = int(n_frames)
        self.window = int(window)
        self.eps = float(eps)
        weight = torch.as_tensor(moving_average_matrix(n_frames, window), dtype=torch.float32)
        # F's weights: out frame x in frame, the paper's T x 1 x 1 x T kernel.
        self.temporal = nn.Parameter(weight, requires_grad=trainable)
        for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma),
                            ("delta", delta)):
            self.register_buffer(name, torch.tensor(float(value)))

    @classmethod
    def from_tau_eta(cls, *, tau: float = 1.0, eta: float = 1.0, **kwargs):
        """Eq. 3: ``H = τ x / (1 + η |F|)``, i.e. ``γ = 1, δ = 0, β = 1/τ, α = η/τ``."""
        if tau <= 0 or eta < 0:
            raise ValueError(f"tau must be > 0 and eta >= 0, got tau={tau}, eta={eta}")
        return cls(alpha=eta / tau, beta=1.0 / tau, gamma=1.0, delta=0.0, **kwargs)

    def filter(self, x: torch.Tensor) -> torch.Tensor:
        """``F(x)``: every output frame a weighted sum of the input frames, pixel by pixel."""
        _frames_first(x, self.n_frames, type(self).__name__)
        return torch.einsum("ts,nschw->ntchw", self.temporal, x)

    def gain(self, x: torch.Tensor) -> torch.Tensor:
        """The factor ``e^{−γ ln(α|F(x)| + β) + δ}`` that multiplies ``x`` (Abs-Log-Exp)."""
        denom = (self.alpha * self.filter(x).abs() + self.beta).clamp_min(self.eps)
        return torch.exp(-self.gamma * torch.log(denom) + self.delta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``H(x)`` of clips ``(N, T, C, H, W)`` (the ``Prod`` layer: ``x`` times the gain)."""
        return x * self.gain(x)

    def extra_repr(self) -> str:
        vals = ", ".join(f"{k}={float(getattr(self, k)):g}"
                         for k in ("alpha", "beta", "gamma", "delta"))
        return f"n_frames={self.n_frames}, window={self.window}, {vals}"


class FrameResponseNorm(nn.Module):
    """Local response normalisation at the input, across neighbouring frames (Table 5).

    ``b_t = x_t / (k + α/n Σ_{|s−t| <= n/2} x_s²)^β`` at every pixel and colour channel:
    Caffe's ``ACROSS_CHANNELS`` LRN with the frames as channels (the paper fed its 9 frames
    to Caffe as channels).

    Parameters
    ----------
    size : int, default=5
        Frames ``n`` in the window.
    alpha : float, default=1.0
    beta : float, default=0.75
        The paper's better value (Table 5 tries 0.5 and 0.75).
    k : float, default=1.0

    Notes
    -----
    skfer's ``α = 1`` (Caffe's default is 1e-4) because the input is the intensity divided
    by its training mean (about 1), not 0-255 pixels: with 1e-4 the layer would do nothing.
    """

    def __init__(self, size: int = 5, alpha: float = 1.0, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.lrn = nn.LocalResponseNorm(size, alpha=alpha, beta=beta, k=k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5:
            raise ValueError(f"FrameResponseNorm takes clips (N, T, C, H, W), got {tuple(x.shape)}")
        n, t, c, h, w = x.shape
        # Frames as the channels LRN runs across, one colour channel at a time.
        y = x.transpose(1, 2).reshape(n * c, t, h, w)
        return self.lrn(y).reshape(n, c, t, h, w).transpose(1, 2)

