"""Neural networks as scikit-learn estimators, trained with skorch.

* :class:`ConvNet`: the frame ConvNet of EmoNets (Kahou et al. 2015, section 3.1.2);
* :class:`DTAN`, :class:`DTGN` and :class:`DTAGN` (weighted sum or joint fine-tuning): the
  networks of Jung et al. (ICCV 2015) on clips and their landmarks (a :class:`skfer.ClipSet`);
* :class:`FaceNet2ExpNet` and :class:`TeacherClassifier`: the two-stage expression net of
  Ding et al. (FG 2017), regularised by a face network (dlib's ResNet, read offline);
* :class:`SparseAutoencoder`: the sparse autoencoder features of Rao and Thiagarajan;
* :class:`AudioDBNClassifier`: the EmoNets audio model (section 3.2), a DBN-initialised
  frame MLP with top-N temporal pooling, on :class:`GaussianReLURBM` and
  :class:`GaussianBernoulliRBM` (scikit-learn transformers);
* :class:`BaseNeuralClassifier`, with :class:`BaseFrameClassifier` (frame models) and
  :class:`BaseClipClassifier` (fixed-length clip models): the base every skfer network
  estimator builds on (parameters, nested ``module__*`` parameters, seeding, devices,
  subject-grouped validation split for early stopping, callbacks such as Optuna's
  ``SkorchPruningCallback``, fine-tuning with ``init_from``);
* :class:`ClipDataset`: a torch dataset over ragged lists of clips;
* :class:`TimeLimit`: a skorch callback ending training after a wall-clock budget
  (:mod:`skfer.neural.callbacks`, with the divergence check every network runs);
* :class:`FrozenOutputCache`: an explicit cache of a frozen face network's outputs, shared
  by the folds of a cross-validation (FaceNet2ExpNet, TeacherClassifier);
* :class:`SemiSupervisedVideoAutoencoder`: spatio-temporal autoencoder + predictor trained on
  labelled and unlabelled clips, with the illumination-invariant sub-network as an option;
* :mod:`skfer.neural.modules` (and ``modules_dtagn``, ``modules_facenet2expnet``,
  ``modules_video_autoencoder``): the torch modules on their own, exported there only.

torch and skorch are imported with this package, not with ``import skfer``.
"""

from . import modules
from ._base import (
    NESTED_PREFIXES,
    BaseClipClassifier,
    BaseFrameClassifier,
    BaseNeuralClassifier,
    ValidationSplitWarning,
    resolve_device,
)
from ._dataset import ClipDataset
from .audio_dbn import AudioDBNClassifier, NesterovRMSprop
from .callbacks import TimeLimit
from .convnet import ConvNet
from .dtagn import DTAGN, DTAN, DTGN, weighted_sum
from .face_net_features import FaceNetFeatures
from .facenet2expnet import FaceNet2ExpNet, TeacherClassifier
from .rbm import GaussianBernoulliRBM, GaussianReLURBM
from .sparse_autoencoder import SparseAutoencoder
from .teacher import FrozenOutputCache
from .video_autoencoder import SemiSupervisedVideoAutoencoder

__all__ = [
    "NESTED_PREFIXES",
    "AudioDBNClassifier",
    "BaseClipClassifier",
    "BaseFrameClassifier",
    "BaseNeuralClassifier",
    "ClipDataset",
    "ConvNet",
    "DTAGN",
    "DTAN",
    "DTGN",
    "FaceNet2ExpNet",
    "FaceNetFeatures",
    "FrozenOutputCache",
    "GaussianBernoulliRBM",
    "GaussianReLURBM",
    "NesterovRMSprop",
    "SemiSupervisedVideoAutoencoder",
    "SparseAutoencoder",
    "TimeLimit",
    "TeacherClassifier",
    "ValidationSplitWarning",
    "modules",
    "resolve_device",
    "weighted_sum",
]
