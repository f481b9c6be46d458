"""The one optimizer builder of skfer's networks: parameter groups, weight decay, momentum.

Every network, through skorch (:class:`~skfer.neural._base.SkferNet` calls
:func:`split_decay_groups` from ``initialize_optimizer``) or through one of the few
hand-written training stages (:func:`build_optimizer`), gets its optimizer from here, so
three rules hold everywhere:

* **No weight decay on biases and normalisation weights.** A bias or the scale/shift of a
  batch, layer, group or instance norm has no "size" to penalise: decaying it only pulls
  the activations' scale towards zero, which the next layer undoes. Which parameters those
  are is read from the module *types* (and ``ndim == 1`` for anything else one-dimensional),
  not from names, so a network whose norm layer is called ``bn`` or ``norm`` is treated
  alike.
* **Per-group options** in skorch's own syntax, ``optimizer__param_groups=[("stage*",
  {"lr": 1e-4})]`` (``fnmatch`` patterns on parameter names, first match wins): e.g. a
  pretrained body slower than a new head. The decay rule above splits each group again.
* **One momentum rule.** ``momentum`` is the optimiser's first-moment coefficient: the
  ``momentum`` argument of SGD, RMSprop and :class:`~skfer.neural.NesterovRMSprop`, the first
  of Adam's and AdamW's ``betas``; an optimiser with neither ignores it.

How ``weight_decay`` reads: it is passed to the optimiser as is. With SGD and RMSprop it is
an L2 penalty added to the gradient (the paper's sense: EmoNets' 0.004); with AdamW it is
*decoupled* (Loshchilov & Hutter): each step shrinks a weight by ``lr * weight_decay``, so
a useful value is about ``lr_sgd * wd_sgd / lr_adamw`` times larger (0.05 rather than
0.004 at ``lr=1e-3``); with Adam it is an L2 penalty that Adam's scaling mostly cancels
(prefer AdamW).
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Iterable, Sequence

import torch
from torch import nn

__all__ = [
    "NORM_LAYERS", "OPTIMIZERS", "build_optimizer", "momentum_kwargs", "no_decay_names",
    "resolve_optimizer", "split_decay_groups",
]

#: The optimisers named by string in every network's ``optimizer`` parameter.
OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}

#: Module types whose parameters are normalisation scales and shifts (never decayed).
NORM_LAYERS: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._NormBase,  # BatchNorm1d/2d/3d, SyncBatchNorm, InstanceNorm*
    nn.LayerNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
    *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()),
)


def resolve_optimizer(optimizer) -> type[torch.optim.Optimizer]:
    """The optimiser class of ``optimizer``: a name in :data:`OPTIMIZERS`, or a class."""
    if isinstance(optimizer, str):
        try:
            return OPTIMIZERS[optimizer]
        except KeyError:
            raise ValueError(
                f"optimizer {optimizer!r} is not one of {sorted(OPTIMIZERS)} (or give a "
                "torch optimizer class)"
            ) from None
    return optimizer


def momentum_kwargs(optimizer_cls, momentum: float) -> dict:
    """The optimiser arguments that carry ``momentum`` (the one momentum rule).

    Examples
    --------
    >>> momentum_kwargs(torch.optim.SGD, 0.9)
    {'momentum': 0.9}
    >>> momentum_kwargs(torch.optim.AdamW, 0.8)
    {'betas': (0.8, 0.999)}
    >>> momentum_kwargs(torch.optim.Adagrad, 0.9)
    {}
    """
    params = inspect.signature(optimizer_cls).parameters
    if "momentum" in params:
        return {"momentum": float(momentum)}
    if "betas" in params:
        default = params["betas"].default
        beta2 = default[1] if isinstance(default, tuple) and len(default) == 2 else 0.999
        return {"betas": (float(momentum), beta2)}
    return {}


def no_decay_names(module: nn.Module) -> set[str]:
    """Names of the parameters that get no weight decay: biases and normalisation weights.

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Linear(2, 2))
    >>> sorted(no_decay_names(net))
    ['0.bias', '1.bias', '1.weight', '2.bias']
    """
    names = set()
    for prefix, sub in module.named_modules():
        is_norm = isinstance(sub, NORM_LAYERS)
        for name, param in sub.named_parameters(recurse=False):
            if is_norm or name == "bias" or param.ndim <= 1:
                names.add(f"{prefix}.{name}" if prefix else name)
    return names


def split_decay_groups(
    groups: Iterable, named_parameters: Iterable[tuple[str, nn.Parameter]], no_decay: set[str]
) -> list[dict]:
    """Split optimiser parameter groups so the ``no_decay`` parameters get ``weight_decay=0``.

    Parameters
    ----------
    groups : iterable of dict or of parameters
        What skorch's ``get_params_for_optimizer`` gives as the optimiser's first argument:
        parameter groups (``{"params": [...], **options}``) or plain parameters.
    named_parameters : iterable of (str, Parameter)
        Names of the parameters (to look them up in ``no_decay``).
    no_decay : set of str
        From :func:`no_decay_names`.

    Returns
    -------
    list of dict
        Non-empty groups, each all-decayed or all-not (the latter with ``weight_decay=0``).
    """
    name_of = {id(p): n for n, p in named_parameters}
    groups = list(groups)
    if groups and not isinstance(groups[0], dict):
        groups = [{"params": groups}]
    out = []
    for group in groups:
        params = list(group["params"])
        options = {k: v for k, v in group.items() if k != "params"}
        decay = [p for p in params if name_of.get(id(p)) not in no_decay]
        keep = [p for p in params if name_of.get(id(p)) in no_decay]
        if decay:
            out.append({"params": decay, **options})
        if keep:
            out.append({"params": keep, **options, "weight_decay": 0.0})
    return out


def add_rate_group(kwargs: dict, patterns: Sequence[str], lr: float | None) -> dict:
    """Net arguments with the parameters matching ``patterns`` trained at rate ``lr``.

    The group goes after the user's own ``optimizer__param_groups`` (skorch: the first
    matching pattern wins); ``lr=None`` changes nothing. The transferred body of a
    fine-tuned network learns slower than its new head this way.
    """
    if lr is None:
        return kwargs
    groups = list(kwargs.get("optimizer__param_groups", []))
    groups += [(pattern, {"lr": float(lr)}) for pattern in patterns]
    return {**kwargs, "optimizer__param_groups": groups}


def _pattern_groups(
    named: Sequence[tuple[str, nn.Parameter]], param_groups: Sequence | None
) -> list[dict]:
    """skorch's ``optimizer__param_groups`` rule: fnmatch patterns, first match wins."""
    if not param_groups:
        return [{"params": [p for _, p in named]}]
    groups = [{"params": [], **dict(options)} for _, options in param_groups]
    rest = []
    for name, param in named:
        for (pattern, _), group in zip(param_groups, groups):
            if fnmatch.fnmatch(name, pattern):
                group["params"].append(param)
                break
        else:
            rest.append(param)
    return [g for g in [{"params": rest}, *groups] if g["params"]]


def build_optimizer(
    module: nn.Module,
    optimizer="sgd",
    *,
    lr: float,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    param_groups: Sequence | None = None,
    parameters: Iterable[tuple[str, nn.Parameter]] | None = None,
    **kwargs,
) -> torch.optim.Optimizer:
    """An optimiser for ``module`` under skfer's rules (for hand-written training stages).

    Parameters
    ----------
    module : torch.nn.Module
        The module whose types decide the no-decay parameters.
    optimizer : str or torch optimizer class, default="sgd"
    lr, weight_decay, momentum : float
        ``momentum`` reaches the optimiser by :func:`momentum_kwargs`.
    param_groups : sequence of (pattern, dict) or None
        skorch-style per-group options (``[("features.*", {"lr": 1e-4})]``).
    parameters : iterable of (name, Parameter) or None
        The parameters to train (default: ``module.named_parameters()`` that require
        gradients), e.g. only a network's head.
    **kwargs
        Further optimiser arguments (``nesterov=True``).

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    >>> opt = build_optimizer(net, "adamw", lr=1e-3, weight_decay=0.05, momentum=0.9,
    ...                       param_groups=[("2.*", {"lr": 1e-2})])
    >>> [(len(g["params"]), g["lr"], g["weight_decay"]) for g in opt.param_groups]
    [(1, 0.001, 0.05), (3, 0.001, 0.0), (1, 0.01, 0.05), (1, 0.01, 0.0)]
    """
    cls = resolve_optimizer(optimizer)
    named = [(n, p) for n, p in (parameters if parameters is not None
                                  else module.named_parameters()) if p.requires_grad]
    groups = split_decay_groups(_pattern_groups(named, param_groups), named,
                                no_decay_names(module))
    options = {**momentum_kwargs(cls, momentum), **kwargs, "lr": lr}
    if "weight_decay" in inspect.signature(cls).parameters:
        options["weight_decay"] = weight_decay
    return cls(groups, **options)
