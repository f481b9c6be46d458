"""Feature encoders: per-frame appearance features and clip-level encodings."""

from .bag_of_mouths import BagOfMouths
from .chi2 import Chi2KernelTransformer
from .frame_classifier import FrameLevelClassifier
from .frame_features import HOGFeatures, LBPFeatures, PixelFeatures

__all__ = [
    "BagOfMouths",
    "Chi2KernelTransformer",
    "FrameLevelClassifier",
    "HOGFeatures",
    "LBPFeatures",
    "PixelFeatures",
]
