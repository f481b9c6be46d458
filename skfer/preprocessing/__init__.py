"""From raw video to what the models consume.

* face tubes: :class:`FaceTubeExtractor` (EmoNets 3.1.3) with a pluggable detector (an
  estimator such as :class:`HaarFaceDetector`, the default, whose parameters tune through
  the extractor as ``detector__*``) and the box smoothing rules of :mod:`.box_smoothing`;
  the tubes come in a :class:`skfer.ClipSet` with per-frame ``status`` and ``boxes``;
* illumination: :class:`MinMaxImageScaler` (CS229 3.2), :class:`IsotropicSmoothing` (INface IS,
  EmoNets 3.1.1); :class:`LightingChange` adds seeded lighting ramps and flicker (to test
  invariance);
* time: :class:`FrameAggregator` (EmoNets 3.1.4), :class:`TemporalResampler` (DTAGN),
  :class:`FramePooling`;
* mouths: :class:`MouthRegion` (EmoNets 3.4, bag of mouths);
* landmarks: :class:`LandmarkDetector`, :class:`LandmarkNormalizer` (DTAGN eq. 3-4); the
  point schemes' index table is :mod:`skfer.utils.landmark_scheme`.

Boxes are ``(x, y, w, h)`` in pixels everywhere; frame sizes are ``frame_size=(height,
width)``; missing-data policies are ``on_missing={"raise", "warn", "ignore"}``.
"""

from .face_detection import FaceDetector, HaarFaceDetector
from .face_tubes import FaceTube, FaceTubeExtractor
from .illumination import IsotropicSmoothing, MinMaxImageScaler
from .landmarks import LandmarkDetector, LandmarkNormalizer, select_landmarks
from .lighting import LightingChange
from .mouth import MouthRegion
from .registration import FaceRegistration
from .temporal import FrameAggregator, FramePooling, TemporalResampler

__all__ = [
    "FaceDetector",
    "FaceRegistration",
    "FaceTube",
    "FaceTubeExtractor",
    "FrameAggregator",
    "FramePooling",
    "HaarFaceDetector",
    "IsotropicSmoothing",
    "LandmarkDetector",
    "LandmarkNormalizer",
    "LightingChange",
    "MinMaxImageScaler",
    "MouthRegion",
    "TemporalResampler",
    "select_landmarks",
]

#: Helpers and tables that ``from skfer.preprocessing import ...`` gave before ``__all__``
#: held only what a user calls; they live beside the estimators they serve (the point
#: schemes in :mod:`skfer.utils.landmark_scheme`) and stay importable from here.
_HELPERS = {
    "box_iou": "box_smoothing",
    "smooth_tube_boxes": "box_smoothing",
    "as_detector": "face_detection",
    "histogram_search": "face_tubes",
    "isotropic_luminance": "illumination",
    "neumann_laplacian_eigenvalues": "illumination",
    "IBUG68_TO_INTRAFACE49": "landmarks",
    "NOSE_TIP_INDEX": "landmarks",
    "default_predictor_path": "landmarks",
    "flip_permutation": "landmarks",
    "MOUTH_BOX": "mouth",
    "MOUTH_INDICES_68": "mouth",
    "aggregation_indices": "temporal",
    "resample_positions": "temporal",
}


def __getattr__(name: str):
    if name in _HELPERS:
        from importlib import import_module

        return getattr(import_module(f".{_HELPERS[name]}", __name__), name)
    raise AttributeError(f"module 'skfer.preprocessing' has no attribute {name!r}")
