"""The training stages of skfer's networks that are not the classifier itself.

Two kinds, one rule each:

* **A stage with its own loss on a fixed dataset** is a skorch net, :class:`StageNet`, built
  by :func:`stage_net`: FaceNet2ExpNet's stage 1 (a regression of the face network's maps
  with the p-norm loss) and DTAGN's joint fine-tuning (the two top layers on the frozen
  bodies' features with eq. 8's loss). They get skorch's loop, history, callbacks and epoch
  table, skfer's optimizer (:class:`~skfer.neural._base.SkferOptimizerMixin`) and the
  divergence check (:class:`~skfer.neural.callbacks.DivergenceCheck`, first) like every
  network estimator.
* **A loop that skorch's does not fit** (greedy layer-wise pretraining, whose trained
  parameters and forward change with each stage; the synchrony autoencoder of
  :class:`~skfer.features.MotionBagOfWords`, drawing from its own generator so that a
  feature extractor leaves torch's global one alone) runs :func:`train_epochs`: the one
  hand-written batch loop (:func:`run_epoch`) with the per-epoch divergence check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
from skorch import NeuralNet

from ._base import SkferOptimizerMixin
from ._optim import momentum_kwargs, resolve_optimizer
from .callbacks import DivergenceCheck, check_divergence

__all__ = ["StageNet", "run_epoch", "stage_net", "train_epochs"]


class StageNet(SkferOptimizerMixin, NeuralNet):
    """A skorch net for a training stage with its own criterion (not a classifier).

    skorch's :class:`~skorch.NeuralNet` whose optimizer follows skfer's rules (no weight
    decay on biases and normalisation weights) and holds only the parameters that require
    gradients: a stage that freezes part of its module (FaceNet2ExpNet's fully connected
    layers in stage 1) gives the optimizer the rest, as ``build_optimizer`` does. Module
    level, so that it pickles.
    """

    def get_all_learnable_params(self):
        # skorch lists frozen parameters too.
        for name, param in super().get_all_learnable_params():
            if param.requires_grad:
                yield name, param


def stage_net(
    module: torch.nn.Module,
    criterion,
    *,
    owner: str,
    rate_name: str,
    lr: float,
    max_epochs: int,
    batch_size: int,
    optimizer="sgd",
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    device: str = "cpu",
    verbose: int = 0,
    callbacks: Sequence = (),
    **kwargs,
) -> StageNet:
    """A :class:`StageNet` with skfer's conventions for a training stage.

    Shuffled training batches drawn from torch's global generator (seed it with
    :func:`~skfer.neural._base.seeded_torch`), no validation split, the divergence check
    first among the callbacks, ``momentum`` by the one momentum rule.

    Parameters
    ----------
    module : torch.nn.Module
        The (initialised) module to train; skorch uses it as it is.
    criterion : torch.nn.Module class or instance
        The stage's loss, ``criterion(module_output, y)``; its arguments as
        ``criterion__*`` in ``kwargs``.
    owner : str
        Named by a divergence error (``"FaceNet2ExpNet stage 1"``).
    rate_name : str
        The estimator parameter that sets ``lr``, named by a divergence error.
    lr : float
    max_epochs, batch_size : int
    optimizer : str or torch optimizer class, default="sgd"
    momentum, weight_decay : float
    device : str, default="cpu"
    verbose : int, default=0
        skorch's epoch table when non-zero.
    callbacks : sequence of (name, callback), default=()
        After the divergence check (e.g. a learning-rate schedule).
    **kwargs
        Further skorch arguments (``criterion__p=2.0``).

    Returns
    -------
    StageNet
        Not initialised; train it with ``partial_fit(dataset, None)`` or ``fit``.
    """
    optimizer = resolve_optimizer(optimizer)
    extra = {"optimizer__" + k: v for k, v in momentum_kwargs(optimizer, momentum).items()}
    return StageNet(
        module=module,
        criterion=criterion,
        optimizer=optimizer,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        train_split=None,
        iterator_train__shuffle=True,
        callbacks=[("divergence_check", DivergenceCheck(owner, rate_name=rate_name)),
                   *callbacks],
        optimizer__weight_decay=weight_decay,
        device=device,
        verbose=verbose,
        **extra,
        **kwargs,
    )


def _n_items(batch) -> int:
    """Items in a batch: a tensor, or a tuple/list whose first element is the inputs."""
    return len(batch[0] if isinstance(batch, (tuple, list)) else batch)


def run_epoch(
    batches: Iterable, loss_fn: Callable[[Any], torch.Tensor], optimizer: torch.optim.Optimizer
) -> float:
    """One epoch of a hand-written training loop: a gradient step per batch.

    Parameters
    ----------
    batches : iterable
        The epoch's batches (a ``DataLoader`` or a generator).
    loss_fn : callable
        The scalar loss of one batch (the forward pass, in training mode).
    optimizer : torch.optim.Optimizer

    Returns
    -------
    float
        The mean loss over the epoch's items (batch losses weighted by batch size, as
        skorch's ``train_loss``).
    """
    total, count = 0.0, 0
    for batch in batches:
        loss = loss_fn(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        n = _n_items(batch)
        total += float(loss.detach()) * n
        count += n
    return total / max(count, 1)


def train_epochs(
    n_epochs: int,
    batches: Callable[[], Iterable],
    loss_fn: Callable[[Any], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    *,
    module: torch.nn.Module,
    owner: str,
    rate_name: str = "lr",
    rate: float | None = None,
    stage: str = "",
    first: float | None = None,
) -> Iterator[float]:
    """Run ``n_epochs`` epochs of :func:`run_epoch`, yielding each epoch's mean loss.

    Every epoch is checked by :func:`~skfer.neural.callbacks.check_divergence` (loss and
    ``module``'s weights) before its loss is yielded, so a caller never records a diverged
    epoch.

    Parameters
    ----------
    n_epochs : int
    batches : callable
        Called once per epoch for that epoch's batches (a ``DataLoader`` re-shuffles on each
        iteration; a generator function draws a new order).
    loss_fn, optimizer
        See :func:`run_epoch`.
    module : torch.nn.Module
        The trained module, whose weights must stay finite.
    owner, rate_name, rate, stage
        Named by a divergence error (see :func:`~skfer.neural.callbacks.check_divergence`).
    first : float or None
        The reference loss of the growth rule; ``None``: this run's first epoch.

    Yields
    ------
    float
        The epoch's mean training loss.
    """
    for epoch in range(n_epochs):
        loss = run_epoch(batches(), loss_fn, optimizer)
        first = loss if first is None else first
        check_divergence(loss, owner=owner, epoch=epoch + 1, first=first, rate_name=rate_name,
                         rate=rate, module=module, stage=stage)
        yield loss
