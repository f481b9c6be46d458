"""Data sets as sklearn ``Bunch`` objects: ``data`` (list of clips), ``target``, ``groups``
(subject ids), ``target_names`` and, where the source has them, ``landmarks``, ``boxes`` and
``frame_ids``. Every loader maps its labels onto :data:`EXPRESSIONS`.

:func:`load_dataset` reads any of the layouts of :data:`DATA_FORMATS` by name, as
``skfer evaluate --format NAME`` does. See ``docs/data_model.md``.
"""

from ._formats import DATA_FORMATS, load_dataset
from ._labels import EXPRESSIONS, canonical_label, canonical_labels
from .ckplus import CKPLUS_CODES, load_ckplus, load_ckplus48, read_ckplus_landmarks
from .emodb import EMODB_CODES, load_emodb
from .fer2013 import FER2013_CODES, load_fer2013
from .folder import load_folder
from .jaffe import JAFFE_CODES, load_jaffe
from .samples import CREMAD_CODES, load_sample_videos, sample_videos_path
from .synthetic import DEFAULT_EXPRESSIONS, landmarks_to_box, make_expressions

__all__ = [
    "CKPLUS_CODES",
    "CREMAD_CODES",
    "DATA_FORMATS",
    "DEFAULT_EXPRESSIONS",
    "EMODB_CODES",
    "EXPRESSIONS",
    "FER2013_CODES",
    "JAFFE_CODES",
    "canonical_label",
    "canonical_labels",
    "landmarks_to_box",
    "load_ckplus",
    "load_ckplus48",
    "load_dataset",
    "load_emodb",
    "load_fer2013",
    "load_folder",
    "load_jaffe",
    "load_sample_videos",
    "make_expressions",
    "read_ckplus_landmarks",
    "sample_videos_path",
]
