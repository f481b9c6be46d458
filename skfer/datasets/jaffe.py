"""Loader of JAFFE, the Japanese Female Facial Expression database (Lyons et al. 1998).

The data is not shipped with skfer (research-only licence): obtain it from its authors.
"""

from __future__ import annotations

import os
import re

import numpy as np
from sklearn.utils import Bunch

from ..io.images import IMAGE_EXTENSIONS, natural_key, read_image
from ._bunch import check_folder, make_bunch

__all__ = ["JAFFE_CODES", "load_jaffe"]

#: JAFFE expression codes of the file names, in the database's order.
JAFFE_CODES: tuple[str, ...] = ("AN", "DI", "FE", "HA", "NE", "SA", "SU")

# KA.AN1.39.tiff: subject KA, expression AN, its 1st image, picture id 39.
_JAFFE_NAME = re.compile(r"^([A-Z]{2})\.([A-Z]{2})(\d+)\.(\d+)$")

_DESCR = """JAFFE (Japanese Female Facial Expression database)
--------------------------------------------------
Read from {root}: {n} grey images of {n_subjects} subjects posing 6 basic expressions and
neutral, each a one-frame clip. ``groups`` are the subject initials (file name prefix):
use them for subject-independent evaluation. Research-only licence; not shipped with skfer.

Lyons, M., Akamatsu, S., Kamachi, M., Gyoba, J. (1998). Coding facial expressions with Gabor
wavelets. Proc. 3rd IEEE Int. Conf. on Automatic Face and Gesture Recognition, 200-205.
"""


def load_jaffe(path: str | os.PathLike, *, color: bool = False) -> Bunch:
    """Load JAFFE from a folder of images named ``subject.EXPRn.id.tiff``.

    Parameters
    ----------
    path : str or path-like
        Folder holding the JAFFE images (searched recursively), named like ``KA.AN1.39.tiff``:
        subject initials, expression code (AN DI FE HA NE SA SU) with the repetition index,
        picture id. Files that are not images (README) are ignored.
    color : bool, default=False
        JAFFE is grey; ``True`` returns RGB frames.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data``: list of one-frame clips ``(1, H, W)``, files in natural name order;
        ``target``; ``groups``: subject initials; ``target_names`` / ``source_target_names``:
        canonical names and JAFFE codes in the order AN DI FE HA NE SA SU; ``filenames``;
        ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist.
    ValueError
        If it is empty or holds no image, if an image's name does not follow the JAFFE pattern
        or carries an unknown expression code, or if an image cannot be read (naming the file).
    """
    root = check_folder(path, "JAFFE")
    files = sorted((p for p in root.rglob("*") if p.is_file()
                    and p.suffix.lower() in IMAGE_EXTENSIONS), key=lambda p: natural_key(p.name))
    if not files:
        raise ValueError(f"JAFFE folder {root} holds no image")
    data, labels, groups = [], [], []
    for f in files:
        m = _JAFFE_NAME.match(f.stem)
        if m is None:
            raise ValueError(f"cannot parse JAFFE file name {f}: expected subject.EXPRn.id, "
                             "e.g. KA.AN1.39.tiff")
        subject, code = m.group(1), m.group(2)
        if code not in JAFFE_CODES:
            raise ValueError(f"unknown JAFFE expression code {code!r} in {f}; "
                             f"known codes are {' '.join(JAFFE_CODES)}")
        data.append(read_image(f, color=color)[None])
        labels.append(code)
        groups.append(subject)
    return make_bunch(
        data, labels, source_target_names=JAFFE_CODES, filenames=[str(f) for f in files],
        groups=np.array(groups),
        descr=_DESCR.format(root=root, n=len(data), n_subjects=len(set(groups))),
    )
