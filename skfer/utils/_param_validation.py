"""Parameter constraints that scikit-learn's ``_parameter_constraints`` vocabulary lacks.

skfer validates every parameter the scikit-learn way (``_parameter_constraints`` checked by
``_validate_params``, raising :class:`~sklearn.utils._param_validation.InvalidParameterError`
that names the parameter and the allowed values). The constraints here plug into that
machinery as scikit-learn's own ``Interval`` and ``StrOptions`` do.
"""

from __future__ import annotations

import numbers
from typing import Any

from sklearn.utils._param_validation import _Constraint

__all__ = ["FrameSize"]


class FrameSize(_Constraint):
    """A frame size: a ``(height, width)`` pair (tuple or list) of positive integers.

    Examples
    --------
    >>> FrameSize().is_satisfied_by((48, 40)), FrameSize().is_satisfied_by((48, 0))
    (True, False)
    >>> str(FrameSize())
    'a (height, width) pair of positive ints'
    """

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
