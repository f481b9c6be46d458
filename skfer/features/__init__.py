"""Feature encoders: per-frame appearance features and clip-level encodings."""

from .audio import AudioFeatures
from .bag_of_mouths import BagOfMouths
from .chi2 import Chi2KernelTransformer
from .frame_classifier import FrameLevelClassifier
from .frame_features import HOGFeatures, LBPFeatures, PixelFeatures
from .motion_bow import MotionBagOfWords
from .opensmile import OpenSmileFeatures
from .speaker_normalization import SpeakerKFold, SpeakerNormalizer

__all__ = [
    "AudioFeatures",
    "BagOfMouths",
    "Chi2KernelTransformer",
    "FrameLevelClassifier",
    "HOGFeatures",
    "LBPFeatures",
    "MotionBagOfWords",
    "OpenSmileFeatures",
    "PixelFeatures",
    "SpeakerKFold",
    "SpeakerNormalizer",
]
