"""Feature encoders: per-frame appearance features and clip-level encodings."""

from .frame_features import HOGFeatures, LBPFeatures, PixelFeatures

__all__ = ["HOGFeatures", "LBPFeatures", "PixelFeatures"]
