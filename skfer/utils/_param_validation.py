"""Parameter constraints that scikit-learn's ``_parameter_constraints`` vocabulary lacks.

skfer validates every parameter the scikit-learn way (``_parameter_constraints`` checked by
``_validate_params``, raising :class:`~sklearn.utils._param_validation.InvalidParameterError`
that names the parameter and the allowed values). The constraints here plug into that
machinery as scikit-learn's own ``Interval`` and ``StrOptions`` do.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from ._sklearn import Options

__all__ = ["FrameSize", "RealTuple"]


# An Options subclass, not a bare _Constraint: scikit-learn's make_constraint passes only
# its own constraint classes (Interval, StrOptions, Options, HasMethods, ...) through.
class FrameSize(Options):
    """A frame size: a ``(height, width)`` pair (tuple or list) of positive integers.

    Examples
    --------
    >>> FrameSize().is_satisfied_by((48, 40)), FrameSize().is_satisfied_by((48, 0))
    (True, False)
    >>> str(FrameSize())
    'a (height, width) pair of positive ints'
    """

    def __init__(self) -> None:
        super().__init__(tuple, set())

    def is_satisfied_by(self, val: Any) -> bool:
        return (
            isinstance(val, (tuple, list))
            and len(val) == 2
            and all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0
                for v in val
            )
        )

    def __str__(self) -> str:
        return "a (height, width) pair of positive ints"


class RealTuple(Options):
    """A tuple or list of ``length`` finite real numbers (a range, a fractional box).

    Relations between the numbers (``min < max``) are the estimator's own explicit check.

    Examples
    --------
    >>> RealTuple(2).is_satisfied_by((-1, 1)), RealTuple(2).is_satisfied_by(3)
    (True, False)
    >>> str(RealTuple(2))
    'a pair (tuple or list) of finite real numbers'
    """

    def __init__(self, length: int) -> None:
        super().__init__(tuple, set())
        self.length = length

    def is_satisfied_by(self, val: Any) -> bool:
        return (
            isinstance(val, (tuple, list))
            and len(val) == self.length
            and all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
                for v in val
            )
        )

    def __str__(self) -> str:
        what = {2: "a pair"}.get(self.length, f"a sequence of {self.length}")
        return f"{what} (tuple or list) of finite real numbers"
