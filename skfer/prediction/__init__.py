"""Predict on media files: per-frame class probabilities, clip labels, timelines.

:func:`predict_files` runs a fitted skfer model (a named pipeline of :mod:`skfer.models`,
e.g. saved by ``skfer train``, or the network shipped inside skfer,
``make_model("emonets-fer2013")``) on video files, still images and folders of them
(searched recursively) and returns a tidy table with one row per frame (per face and frame
with ``faces="all"``, one tube per person): time stamp, face box, frame
status (``"detected"``, ``"tracked"``, ``"filled"``, ``"suspect"`` or ``"missing"``: every
frame has a row, frames without a face and frames the decoder failed on included), the class
probabilities of the frame, the same smoothed over ``smooth_s`` seconds (per-frame
predictions of a real video flicker; the raw ones are kept beside) and the prediction for
the whole file. It can also write, per file, the rows as CSV and JSON, a timeline plot
(PNG) and an annotated video (:mod:`skfer.prediction.outputs`). ``skfer predict`` is this
function on the command line.

Per-frame probabilities
-----------------------
:func:`predict_frames` knows two shapes of model (both those of :mod:`skfer.models`):

* **Frame classifiers** (a :class:`skfer.neural.ConvNet`-like last step scoring each frame):
  their own per-frame probabilities, :meth:`~skfer.neural.ConvNet.transform`.
* **Pooled pipelines** (per-frame features -> :class:`~skfer.preprocessing.FramePooling`
  or :class:`~skfer.preprocessing.FrameAggregator` -> clip classifier, e.g. HOG + apex
  pooling + SVM): a frame's probabilities are what the clip classifier gives for a clip
  made of that frame alone; its features are pooled as a one-frame sequence (for
  ``FramePooling`` that is the frame's own vector; ``FrameAggregator`` repeats it) and go
  through the steps after the pooling to the classifier's ``predict_proba``. A pooling
  whose one-frame result says nothing of the frame (``FramePooling(method="delta")``,
  always zero) is refused.

Frames whose status is ``"missing"`` get NaN probabilities and a NaN box.

Skipped frames
--------------
Frames that do not count towards a file's prediction are recorded, per file, in
:attr:`FilePrediction.skipped` as :class:`~skfer.utils.frame_policy.SkippedFrames` (frame
indices in the file and a reason; ``docs/reliability.md``): those the reader could not
decode (``"undecodable"``; they get a ``"missing"`` row), those a truncated container
declares but does not hold (``"truncated"``; no rows), frames without a face
(``"no_face"``, status ``"missing"``) and frames whose face the tracker does not trust
(``"inconsistent"``, status ``"suspect"``: box kept, NaN probabilities, as
:meth:`skfer.ClipSet.usable_frames` leaves them out). Frames of another size than the
first are letterboxed by the reader and recorded ``"resized"``, but kept and scored. Each
row's ``skipped`` column holds its reason (``""`` for a frame as it was). ``on_missing``
says what else happens: ``"warn"`` (default) one
:class:`~skfer.utils.frame_policy.SkippedFramesWarning` naming every file with skipped
frames, ``"raise"`` a :class:`~skfer.utils.frame_policy.SkippedFramesError` at the first
such file, ``"ignore"`` only the records (``skfer predict`` prints one line per file instead).

Streaming and scale
-------------------
A video is decoded frame by frame in windows of ``chunk_frames`` frames, the next window
decoding on a background thread while the current one is processed
(:meth:`skfer.preprocessing.FaceTubeExtractor.iter_windows`: the model's own extractor, or
the named models' default one, :func:`skfer.models.face_tube_step`, framed as the model's
card says for a model fitted on face crops); each window's faces are scored, so memory is
bounded by two windows of decoded frames plus the per-frame features of the file (a few
hundred numbers per frame), whatever the video's length. The annotated video is drawn one
window behind, once the next window's frames make the smoothed track known (a third window
of RGB frames with ``annotate``). Files are processed in parallel with joblib
(``n_jobs``), so under ``joblib.parallel_backend("dask")`` they run on a Dask cluster
unchanged.

Notes
-----
Where skfer departs from the face-tube procedure of EmoNets (section 3.1.3): face
detection, tracking and box smoothing restart in every window, so a long video is not one
tube but consecutive tubes of ``chunk_frames`` frames (a box may step slightly at a window
boundary; 300 frames are 10 s at 30 fps). A video no longer than one window gives exactly
the tube of :meth:`~skfer.preprocessing.FaceTubeExtractor.transform`. With
``faces="all"``, a person keeps their id from window to window, and when they leave and
come back, as long as their face returns where it was last seen.

Model files are pickles: loading one runs its code. Load with :func:`skfer.load_model`,
which refuses a file that does not match its card, and only files you trust.
"""

from ._files import VIDEO_EXTENSIONS, FilePrediction, find_media, predict_files, smooth_track
from ._frame_model import FrameModel, predict_frames
from .outputs import plot_timeline

__all__ = [
    "VIDEO_EXTENSIONS",
    "FilePrediction",
    "FrameModel",
    "find_media",
    "plot_timeline",
    "predict_files",
    "predict_frames",
    "smooth_track",
]
