"""Neural networks as scikit-learn estimators, trained with skorch.

* :class:`ConvNet`: the frame ConvNet of EmoNets (Kahou et al. 2015, section 3.1.2);
* :class:`BaseNeuralClassifier` / :class:`BaseFrameClassifier`: the base every skfer network
  estimator builds on (parameters, nested ``module__*`` parameters, seeding, devices,
  subject-grouped validation split for early stopping, callbacks such as Optuna's
  ``SkorchPruningCallback``, fine-tuning with ``init_from``);
* :class:`ClipDataset`: a torch dataset over ragged lists of clips;
* :mod:`skfer.neural.modules`: the torch modules on their own.

torch and skorch are imported with this package, not with ``import skfer``.
"""

from . import modules
from ._base import NESTED_PREFIXES, BaseFrameClassifier, BaseNeuralClassifier, resolve_device
from ._dataset import ClipDataset
from .convnet import ConvNet
from .modules import EmoNetsConvNet, RandomCropFlip, SpatialResponseNorm, Standardize

__all__ = [
    "NESTED_PREFIXES",
    "BaseFrameClassifier",
    "BaseNeuralClassifier",
    "ClipDataset",
    "ConvNet",
    "EmoNetsConvNet",
    "RandomCropFlip",
    "SpatialResponseNorm",
    "Standardize",
    "modules",
    "resolve_device",
]
