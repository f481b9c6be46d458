"""Utilities: data-model validation, estimator discovery and clip estimator checks."""

from .validation import check_clip, check_clips, check_sequence, check_sequences

__all__ = ["check_clip", "check_clips", "check_sequence", "check_sequences"]
