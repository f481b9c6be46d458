"""Utilities: data-model validation, pixel conversions (:mod:`skfer.utils.pixels`), estimator
discovery, clip estimator checks and the natural sort key of names and subject ids."""

from .sorting import natural_key
from .validation import check_clip, check_clips, check_sequence, check_sequences

__all__ = ["check_clip", "check_clips", "check_sequence", "check_sequences", "natural_key"]
