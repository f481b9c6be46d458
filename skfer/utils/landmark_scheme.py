"""The facial landmark schemes skfer uses: one index table for data sets and estimators.

Every index of a landmark point lives here, so that the synthetic data set
(:mod:`skfer.datasets.synthetic`), the landmark estimators
(:mod:`skfer.preprocessing.landmarks`) and the augmentations (:mod:`skfer.augmentation`)
agree on one table. The module depends on NumPy only, so any layer may import it.

Point schemes
-------------
* ``"68"``: the iBUG 300-W scheme of dlib's ``shape_predictor_68_face_landmarks.dat``
  (0-based): jaw 0-16, right brow 17-21, left brow 22-26, nose bridge 27-30 (30 = nose
  tip), lower nose 31-35, right eye 36-41, left eye 42-47, outer lips 48-59, inner lips
  60-67 (:data:`IBUG68_GROUPS`). "Right" is the subject's right, on the image's left.
* ``"49"``: the IntraFace scheme DTAGN uses (Jung et al., ICCV 2015, section 3.1): the 68
  points without the 17 jaw points and without the two inner mouth corners 60 and 64,
  which duplicate the outer corners 48 and 54 (:data:`IBUG68_TO_INTRAFACE49`). The 49
  points keep the iBUG order: brows 0-9, nose 10-18 (13 = nose tip), eyes 19-30, outer
  lips 31-42, inner lips 43-48. This is the correspondence used by the 300-W challenge's
  49-point ("without jaw") evaluation and by IntraFace's own 49-point output (Xiong and
  De la Torre, CVPR 2013).

Examples
--------
>>> IBUG68_GROUPS["right_eye"].tolist()
[36, 37, 38, 39, 40, 41]
>>> int(IBUG68_TO_INTRAFACE49[NOSE_TIP_INDEX["49"]])
30
>>> flip_permutation("68")[[36, 45, 30]].tolist()
[45, 36, 30]
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "IBUG68_GROUPS",
    "IBUG68_TO_INTRAFACE49",
    "N_POINTS",
    "NOSE_TIP_INDEX",
    "flip_permutation",
]


def _read_only(values) -> np.ndarray:
    arr = np.asarray(values, dtype=np.intp)
    arr.setflags(write=False)
    return arr


#: Number of points of each scheme.
N_POINTS: dict[str, int] = {"68": 68, "49": 49}

#: The iBUG 68-point groups (0-based indices; "right" is the subject's right).
IBUG68_GROUPS: dict[str, np.ndarray] = {
    "jaw": _read_only(range(0, 17)),
    "right_brow": _read_only(range(17, 22)),
    "left_brow": _read_only(range(22, 27)),
    "nose_bridge": _read_only(range(27, 31)),
    "lower_nose": _read_only(range(31, 36)),
    "right_eye": _read_only(range(36, 42)),
    "left_eye": _read_only(range(42, 48)),
    "outer_lips": _read_only(range(48, 60)),
    "inner_lips": _read_only(range(60, 68)),
}

#: Indices into the 68 iBUG points of the 49 IntraFace points, in IntraFace order.
IBUG68_TO_INTRAFACE49: np.ndarray = _read_only([i for i in range(17, 68) if i not in (60, 64)])

#: Index of the nose tip in each scheme: the origin of DTAGN's normalisation (eq. 3).
NOSE_TIP_INDEX: dict[str, int] = {
    "68": 30,
    "49": int(np.flatnonzero(IBUG68_TO_INTRAFACE49 == 30)[0]),
}

# Left/right mirror pairs of the iBUG 68 points; the midline points (nose bridge 27-30,
# 33, chin 8, lip centres 51, 57, 62, 66) map to themselves.
_MIRROR_PAIRS_68 = (
    *((i, 16 - i) for i in range(8)),  # jaw
    *((17 + i, 26 - i) for i in range(5)),  # brows
    (31, 35), (32, 34),  # lower nose
    (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),  # eyes
    (48, 54), (49, 53), (50, 52), (55, 59), (56, 58),  # outer lips
    (60, 64), (61, 63), (65, 67),  # inner lips
)


def flip_permutation(scheme: str | int = "68") -> np.ndarray:
    """Index permutation that relabels points after a horizontal flip.

    After mirroring ``x``, the point that was the subject's right outer eye corner sits
    where the left one was; ``mirrored[..., perm, :]`` restores the scheme's order. Used by
    the flip augmentation of DTAGN (section 3.4) and by the synthetic data set's mirrored
    subjects.

    Parameters
    ----------
    scheme : {"68", "49"} or int
        Point scheme (see the module notes); ``68`` or ``49`` as integers are accepted.

    Returns
    -------
    perm : ndarray of int, shape (P,)
        An involution (``perm[perm] == arange(P)``); a new array each call.
    """
    perm68 = np.arange(68)
    for a, b in _MIRROR_PAIRS_68:
        perm68[a], perm68[b] = b, a
    scheme = str(scheme)
    if scheme == "68":
        return perm68
    if scheme == "49":
        # The 49 points are closed under mirroring (60 and 64, dropped, map to each other).
        position = {int(k): j for j, k in enumerate(IBUG68_TO_INTRAFACE49)}
        return np.array([position[int(perm68[k])] for k in IBUG68_TO_INTRAFACE49])
    raise ValueError(
        f'the flip permutation is known for the schemes "68" and "49", not {scheme!r}'
    )
