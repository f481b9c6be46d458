"""Ensembles of FER models: per-class weighted averaging and SVM stacking (EmoNets, section 4)."""

from .stacking import CoarseToFineSVC, SVMStackingClassifier
from .weighted_average import WeightedAverageClassifier

__all__ = ["CoarseToFineSVC", "SVMStackingClassifier", "WeightedAverageClassifier"]
