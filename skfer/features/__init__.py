"""Feature encoders: per-frame appearance features and clip-level encodings."""

from .frame_features import HOGFeatures, PixelFeatures

__all__ = ["HOGFeatures", "PixelFeatures"]
