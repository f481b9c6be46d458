"""Torch side of the semi-supervised spatio-temporal autoencoder (paper ``000_456b233df5d24fca``).

* :class:`VideoAutoencoderNet`: a 3-D convolutional encoder with slow temporal fusion (the
  paper's 9 -> 4 -> 2 -> 1 frames), a fully connected bottleneck, a transposed-convolution
  decoder mirroring the encoder, and a predictor head on the bottleneck (sections 3.1-3.2),
  optionally behind the illumination-invariant sub-network or input LRN (section 3.3);
* :func:`semi_supervised_loss`: eq. 1, ``L = β CE + α ||x − x̂||²`` with the cross-entropy
  over the labelled clips only (label ``-1`` = unlabelled);
* :data:`VIDEO_AUTOENCODER_PRESETS`: the paper's sizes and skfer's CPU-sized default.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .illumination_net import FrameResponseNorm, IlluminationInvariantNet

__all__ = ["VIDEO_AUTOENCODER_PRESETS", "VideoAutoencoderNet", "semi_supervised_loss"]

#: Architectures: ``conv`` holds one ``(filters, spatial kernel, temporal kernel, spatial
#: stride, temporal stride)`` per layer, ``fc`` the encoder's fully connected widths (the
#: last one is the bottleneck the predictor reads), ``predictor`` the hidden widths of the
#: predictor head (its output layer has one unit per class).
VIDEO_AUTOENCODER_PRESETS: dict[str, dict] = {
    # Section 3.1-3.2 for 9 frames of 145x145: C(96,11,3)-N-C(256,5,2)-N-C(384,3,2)-N-
    # FC4096-FC4096, predictor FC8192-FC4096-FC1000-FC500-FC(classes). Temporal kernel and
    # stride 3/2, 2/2, 2/2 fuse 9 -> 4 -> 2 -> 1 frames; the spatial strides (4, 2, 2) are
    # skfer's reading of "inspired by ImageNet" (the paper gives none): 145 -> 34 -> 15 -> 7.
    "paper": {
        "conv": ((96, 11, 3, 4, 2), (256, 5, 2, 2, 2), (384, 3, 2, 2, 2)),
        "fc": (4096, 4096),
        "predictor": (8192, 4096, 1000, 500),
        "lrn": True,
    },
    # skfer's default for 48x48 or 64x64 faces on a CPU: the same temporal fusion with
    # 16/32/32 filters, 48 -> 22 -> 10 -> 4 pixels, a 128-wide bottleneck.
    "small": {
        "conv": ((16, 5, 3, 2, 2), (32, 3, 2, 2, 2), (32, 3, 2, 2, 2)),
        "fc": (256, 128),
        "predictor": (64,),
        "lrn": False,
    },
}


def semi_supervised_loss(
    logits: torch.Tensor,
    y: torch.Tensor,
    recon: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Eq. 1: ``β CE(labelled clips) + α ||x − x̂||²``.

    Parameters
    ----------
    logits : tensor (N, K)
    y : tensor (N,) of int
        Class index per clip, ``-1`` for an unlabelled clip (it enters only the
        reconstruction term).
    recon, target : tensors of one shape (N, ...)
        The decoder's output and what it reconstructs.
    alpha, beta : float

    Returns
    -------
    total, ce, rec : scalar tensors
        ``ce`` is the mean cross-entropy over the labelled clips of the batch (0 when the
        batch has none), ``rec`` the mean squared error over all clips and values.

    Notes
    -----
    The paper sums both terms over the batch (of 22 clips); skfer averages them (CE per
    labelled clip, reconstruction per value), so the balance does not change with the batch
    size, the frame size or the share of labelled clips in a batch. ``β`` absorbs the scale
    (see :class:`~skfer.neural.SemiSupervisedVideoAutoencoder`'s ``beta="auto"``).
    """
    labelled = y >= 0
    if bool(labelled.any()):
        ce = F.cross_entropy(logits[labelled], y[labelled])
    else:  # keeps the graph (and the device) without a NaN mean over no clip
        ce = logits.sum() * 0.0
    rec = F.mse_loss(recon, target)
    return beta * ce + alpha * rec, ce, rec


def _conv_out(size: int, kernel: int, stride: int) -> int:
    return (size - kernel) // stride + 1


class VideoAutoencoderNet(nn.Module):
    """Spatio-temporal convolutional autoencoder with a predictor on its bottleneck.

    Takes clips ``(N, T, C, H, W)`` in the data's pixel scale (e.g. 0-255) and returns
    class logits (:meth:`forward`); :meth:`forward_all` also returns the reconstruction and
    its target, :meth:`features` the bottleneck code.

    Parameters
    ----------
    n_classes : int
    in_channels : int, default=1
    input_size : (int, int), default=(48, 48)
    mean, std : float, default=0.0, 1.0
        Training pixels' statistics (buffers): the input is standardised with them, or,
        with a front end, divided by ``mean`` (intensities about 1, still non-negative).
    n_frames : int, default=9
    conv, fc, predictor, lrn
        The architecture (see :data:`VIDEO_AUTOENCODER_PRESETS`; ``preset`` fills those
        left as ``None``). ``lrn``: cross-channel local response normalisation after every
        convolution but the decoder's last (the paper's ``N`` layers).
    preset : {"small", "paper"}, default="small"
    front_end : {"none", "invariant", "lrn"}, default="none"
        ``"invariant"``: :class:`~skfer.neural.illumination_net.IlluminationInvariantNet`
        (eq. 3 with ``tau``, ``eta``, moving-average ``window``); ``"lrn"``:
        :class:`~skfer.neural.illumination_net.FrameResponseNorm` (Table 5's comparison,
        ``lrn_beta``).
    window, tau, eta : int, float, float, default=3, 1.0, 1.0
    lrn_beta : float, default=0.75
    dropout : float, default=0.0
        Dropout before every layer of the predictor head.

    Notes
    -----
    * Decoder: ``ConvTranspose3d`` layers mirroring the convolutions (same kernel and
      stride, output padding chosen so every shape is restored exactly), ReLU after all but
      the last, which is linear (it reconstructs standardised values); the fully connected
      decoder mirrors ``fc``.
    * The reconstruction target is the standardised front-end output, detached: the
      autoencoder reconstructs what it sees (the paper's Fig. 4 shows the sub-network's
      output as the reconstruction), and the target cannot chase the prediction.
    * The front end's output is standardised with statistics set by :meth:`calibrate`
      (called by the estimator on training clips at initialisation, then fixed buffers),
      as its scale depends on ``tau``/``eta``.
    """

    def __init__(
        self,
        n_classes: int,
        in_channels: int = 1,
        input_size: Sequence[int] = (48, 48),
        mean: float = 0.0,
        std: float = 1.0,
        n_frames: int = 9,
        conv: Sequence[Sequence[int]] | None = None,
        fc: Sequence[int] | None = None,
        predictor: Sequence[int] | None = None,
        lrn: bool | None = None,
        preset: str = "small",
        front_end: str = "none",
        window: int = 3,
        tau: float = 1.0,
        eta: float = 1.0,
        lrn_beta: float = 0.75,
        dropout: float = 0.0,
    ):
        super().__init__()
        if preset not in VIDEO_AUTOENCODER_PRESETS:
            raise ValueError(f"preset must be one of {sorted(VIDEO_AUTOENCODER_PRESETS)}, "
                             f"got {preset!r}")
        arch = VIDEO_AUTOENCODER_PRESETS[preset]
        conv = tuple(tuple(int(v) for v in layer) for layer in (conv or arch["conv"]))
        fc = tuple(int(v) for v in (fc or arch["fc"]))
        predictor = tuple(int(v) for v in (arch["predictor"] if predictor is None else predictor))
        lrn = arch["lrn"] if lrn is None else bool(lrn)
        if not conv or not fc or any(len(layer) != 5 for layer in conv):
            raise ValueError("conv needs at least one (filters, kernel, temporal kernel, stride, "
                             "temporal stride) layer and fc at least one width")
        self.n_frames = int(n_frames)
        self.in_channels = int(in_channels)
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))
        self.register_buffer("front_mean", torch.tensor(0.0))
        self.register_buffer("front_std", torch.tensor(1.0))
        if front_end == "invariant":
            self.front = IlluminationInvariantNet.from_tau_eta(
                tau=tau, eta=eta, n_frames=n_frames, window=window
            )
        elif front_end == "lrn":
            self.front = FrameResponseNorm(size=min(5, self.n_frames), beta=lrn_beta)
        elif front_end == "none":
            self.front = None
        else:
            raise ValueError(f"front_end must be 'none', 'invariant' or 'lrn', got {front_end!r}")

        # Shapes (C, T, H, W) before and after every convolution, to mirror them exactly.
        shapes = [(self.in_channels, self.n_frames, *(int(s) for s in input_size))]
        encoder, decoder = [], []
        for j, (filters, k, kt, s, st) in enumerate(conv):
            c, t, h, w = shapes[-1]
            out = (filters, _conv_out(t, kt, st), _conv_out(h, k, s), _conv_out(w, k, s))
            if min(out[1:]) < 1:
                raise ValueError(
                    f"convolution {j} (kernel {kt}x{k}x{k}, stride {st}x{s}x{s}) gets "
                    f"{t} frames of {h}x{w}: fewer frames than its temporal kernel or a "
                    f"frame smaller than its kernel; raise n_frames or the frame size, or "
                    f"change conv"
                )
            shapes.append(out)
            block: list[nn.Module] = [nn.Conv3d(c, filters, (kt, k, k), stride=(st, s, s)),
                                      nn.ReLU()]
            if lrn:
                block.append(nn.LocalResponseNorm(5))
            encoder.append(nn.Sequential(*block))
            padding = tuple(
                shapes[-2][d] - ((shapes[-1][d] - 1) * stride + kernel)
                for d, kernel, stride in ((1, kt, st), (2, k, s), (3, k, s))
            )
            last = j == 0
            dblock: list[nn.Module] = [nn.ConvTranspose3d(
                filters, c, (kt, k, k), stride=(st, s, s), output_padding=padding
            )]
            if not last:
                dblock.append(nn.ReLU())
                if lrn:
                    dblock.append(nn.LocalResponseNorm(5))
            decoder.append(nn.Sequential(*dblock))
        self.encoder = nn.ModuleList(encoder)
        # decoder[j] undoes encoder[j]; applied innermost first.
        self.decoder = nn.ModuleList(decoder)
        self.code_shape = shapes[-1]
        flat = math.prod(self.code_shape)
        widths = (flat, *fc)
        self.fc_encoder = nn.Sequential(*[
            m for a, b in zip(widths[:-1], widths[1:]) for m in (nn.Linear(a, b), nn.ReLU())
        ])
        back = widths[::-1]
        self.fc_decoder = nn.Sequential(*[
            m for a, b in zip(back[:-1], back[1:]) for m in (nn.Linear(a, b), nn.ReLU())
        ])
        head: list[nn.Module] = []
        for a, b in zip((fc[-1], *predictor[:-1]), predictor):
            head += [nn.Dropout(dropout), nn.Linear(a, b), nn.ReLU()]
        self.predictor = nn.Sequential(*head, nn.Dropout(dropout))
        self.classifier = nn.Linear(predictor[-1] if predictor else fc[-1], int(n_classes))
        self.shapes = shapes

    # ----------------------------------------------------------------------- pieces
    @property
    def n_stages(self) -> int:
        """Greedy pretraining stages: one per convolution, then the bottleneck."""
        return len(self.encoder) + 1

    def stage_modules(self, stage: int) -> list[nn.Module]:
        """The layers that stage ``stage`` (1-based) of greedy pretraining adds and trains.

        Stage ``k <= n_conv`` adds convolution ``k`` and its transposed convolution (outer
        layers first, as section 5.1); the last stage adds the fully connected bottleneck.
        """
        if stage <= len(self.encoder):
            return [self.encoder[stage - 1], self.decoder[stage - 1]]
        return [self.fc_encoder, self.fc_decoder]

    @torch.no_grad()
    def calibrate(self, x: torch.Tensor) -> None:
        """Set the standardisation of the front end's output from clips ``x`` (training)."""
        if self.front is None:
            return
        h = self.front(x / self.mean.clamp_min(1e-8))
        self.front_mean.fill_(float(h.mean()))
        self.front_std.fill_(max(float(h.std()), 1e-8))

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """The network's view of clips ``(N, T, C, H, W)``: front end, then standardised."""
        if x.ndim != 5 or x.shape[1] != self.n_frames:
            raise ValueError(f"the network takes clips (N, {self.n_frames}, C, H, W), got "
                             f"{tuple(x.shape)}; resample the clips to {self.n_frames} frames")
        if self.front is None:
            return (x - self.mean) / self.std
        h = self.front(x / self.mean.clamp_min(1e-8))
        return (h - self.front_mean) / self.front_std

    def encode_conv(self, z: torch.Tensor, depth: int | None = None) -> torch.Tensor:
        """Convolutions ``1..depth`` of standardised clips ``(N, T, C, H, W)``."""
        h = z.transpose(1, 2)  # Conv3d wants (N, C, T, H, W)
        for block in self.encoder[:depth]:
            h = block(h)
        return h

    def decode_conv(self, h: torch.Tensor, depth: int | None = None) -> torch.Tensor:
        """Transposed convolutions ``depth..1``, back to ``(N, T, C, H, W)``."""
        depth = len(self.decoder) if depth is None else depth
        for block in reversed(self.decoder[:depth]):
            h = block(h)
        return h.transpose(1, 2)

    def code(self, z: torch.Tensor) -> torch.Tensor:
        """The bottleneck of standardised clips."""
        return self.fc_encoder(self.encode_conv(z).flatten(1))

    def reconstruct(self, z: torch.Tensor, depth: int | None = None) -> torch.Tensor:
        """The autoencoder's output for standardised clips ``z``.

        ``depth`` (greedy pretraining): convolutions ``1..depth`` and their transposed
        convolutions only, without the bottleneck; ``None`` or ``n_stages``: everything.
        """
        if depth is not None and depth <= len(self.encoder):
            return self.decode_conv(self.encode_conv(z, depth), depth)
        h = self.fc_decoder(self.code(z)).view(-1, *self.code_shape)
        return self.decode_conv(h)

    # ----------------------------------------------------------------------- forward
    def forward_all(self, x: torch.Tensor):
        """``(logits, reconstruction, target)`` of clips ``x`` ``(N, T, C, H, W)``."""
        z = self.normalise(x)
        code = self.code(z)
        recon = self.decode_conv(self.fc_decoder(code).view(-1, *self.code_shape))
        return self.classifier(self.predictor(code)), recon, z.detach()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Bottleneck codes ``(N, fc[-1])``."""
        return self.code(self.normalise(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(N, n_classes)``."""
        return self.classifier(self.predictor(self.features(x)))
