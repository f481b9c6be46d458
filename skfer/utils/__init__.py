"""Utilities: data-model validation, pixel conversions (:mod:`skfer.utils.pixels`), estimator
discovery and clip estimator checks."""

from .validation import check_clip, check_clips, check_sequence, check_sequences

__all__ = ["check_clip", "check_clips", "check_sequence", "check_sequences"]
