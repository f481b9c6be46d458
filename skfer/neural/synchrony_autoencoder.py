"""Synchrony autoencoder (Konda, Memisevic & Michalski, 2014), as EmoNets 3.3 uses it.

skfer's reading of the cited model (the EmoNets text gives only its name, sizes and training):
a hidden unit ``k`` projects the whole spatio-temporal block ``x`` (all frames, after PCA
whitening) on a filter ``w_k``; this *factor* ``f_k = w_k . x`` is the sum of the per-frame
projections ``sum_t w_k^t . x_t``, and the unit fires when the frames' projections are in
synchrony, which the product of the factor with itself detects::

    f = W x,    h = sigmoid(f * f + b),    x_hat = W^T (h * f) + c

(tied encoder and decoder weights; the hidden unit gates its own factor in the
reconstruction), trained to minimise the squared reconstruction error by SGD with momentum.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ._optim import build_optimizer
from ._training import train_epochs

__all__ = ["SynchronyAutoencoderModule", "train_synchrony_autoencoder"]


class SynchronyAutoencoderModule(nn.Module):
    """Tied-weight synchrony autoencoder: ``h = sigmoid((W x)^2 + b)``."""

    def __init__(self, n_in: int, n_hidden: int, generator: torch.Generator | None = None):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_hidden, n_in))
        self.bias_hidden = nn.Parameter(torch.zeros(n_hidden))
        self.bias_visible = nn.Parameter(torch.zeros(n_in))
        with torch.no_grad():
            self.weight.normal_(0.0, 0.01, generator=generator)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden activations ``(n, n_hidden)``."""
        f = x @ self.weight.T
        return torch.sigmoid(f * f + self.bias_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of ``x``."""
        f = x @ self.weight.T
        h = torch.sigmoid(f * f + self.bias_hidden)
        return (h * f) @ self.weight + self.bias_visible


def train_synchrony_autoencoder(
    x: np.ndarray,
    n_hidden: int,
    *,
    learning_rate: float,
    momentum: float,
    max_epochs: int,
    batch_size: int,
    random_state: int,
) -> tuple[SynchronyAutoencoderModule, list[float]]:
    """Train on the rows of ``x`` by mini-batch SGD with momentum (no weight decay).

    Returns the module (eval mode) and the mean squared reconstruction error per epoch
    (half the squared error summed over a row, averaged over the rows).
    """
    # Its own generator, for the weights and the batch order: a feature extractor
    # (MotionBagOfWords) leaves torch's global generator alone.
    generator = torch.Generator().manual_seed(int(random_state))
    data = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    module = SynchronyAutoencoderModule(data.shape[1], n_hidden, generator)
    opt = build_optimizer(module, "sgd", lr=learning_rate, momentum=momentum)

    def batches():
        order = torch.randperm(len(data), generator=generator)
        return (data[order[start:start + batch_size]] for start in range(0, len(data), batch_size))

    def reconstruction(batch):
        return 0.5 * ((module(batch) - batch) ** 2).sum(dim=1).mean()

    curve = list(train_epochs(max_epochs, batches, reconstruction, opt, module=module,
                              owner="the synchrony autoencoder", rate_name="learning_rate",
                              rate=learning_rate))
    return module.eval(), curve
