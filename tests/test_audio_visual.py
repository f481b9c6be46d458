"""Audio-visual fusion on the shipped CREMA-D clips (EmoNets 4.2): one ClipSet carries the frames
and the sound; a visual branch reads the pixels, an audio branch the ``audio`` companion.

One actor, six clips: a smoke test of the plumbing (fit on 5, predict 1), no accuracy.
"""

from __future__ import annotations

import numpy as np
import pytest
from _torch_threads import one_torch_thread  # noqa: F401 (a fixture)
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from skfer import ClipSet
from skfer.datasets import load_sample_videos
from skfer.ensemble import SVMStackingClassifier, WeightedAverageClassifier
from skfer.features import AudioFeatures
from skfer.neural import AudioDBNClassifier, ConvNet
from skfer.preprocessing import FaceTubeExtractor

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def cremad():
    """The six clips as 24x24 face tubes, the sound tracks riding along as companions."""
    bunch = load_sample_videos(color=False)
    X = ClipSet.from_bunch(bunch)
    # Face tubes once for all tests (the extractor learns nothing); the tubes keep the
    # per-clip companions (audio, sample_rate, fps, source).
    tubes = FaceTubeExtractor(frame_size=(24, 24), on_missing="warn").fit_transform(X)
    return tubes, np.asarray(bunch.target)


def _members():
    visual = ConvNet(crop_size=(20, 20), max_epochs=1, module__n_filters=(4, 4, 8), patience=None,
                     validation_fraction=None, device="cpu", random_state=0, verbose=0)
    audio = make_pipeline(
        AudioFeatures(),  # reads the ClipSet's 'audio' companion, not the pixels
        AudioDBNClassifier(hidden_layer_sizes=(16, 16), pretrain_epochs=1, max_epochs=2,
                           validation_fraction=None, device="cpu", random_state=0),
    )
    return [("cn1", visual), ("audio", audio)]


def test_companions_travel_with_the_tubes(cremad):
    tubes, _ = cremad
    assert len(tubes) == 6 and tubes[0].shape[1:] == (24, 24)
    assert tubes.get("sample_rate") == [16000] * 6 and len(tubes.get("audio")[0]) > 30000


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # classes absent from a 2-clip fold
def test_cn1_plus_audio_svm_fit_on_5_predict_1(cremad):
    X, y = cremad
    fusion = SVMStackingClassifier(_members(), cv=KFold(2), final_estimator=SVC())
    fusion.fit(X[:5], y[:5])
    assert set(fusion.named_estimators_) == {"cn1", "audio"}
    pred = fusion.predict(X[5:])
    assert pred.shape == (1,) and pred[0] in set(y[:5])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_audio_model_in_the_weighted_average(cremad):
    X, y = cremad
    avg = WeightedAverageClassifier(_members(), cv=KFold(2), n_iter=5, n_local_iter=2,
                                    random_state=0).fit(X[:5], y[:5])
    proba = avg.predict_proba(X[5:])
    assert proba.shape == (1, 5) and np.isclose(proba.sum(), 1)
    assert avg.weights_.shape == (2, 5)


def test_video_without_sound_is_refused(cremad):
    X, y = cremad
    audio = _members()[1][1]
    with pytest.raises(ValueError, match="without an 'audio' companion"):
        audio.fit(X.replace(audio=None, sample_rate=None)[:5], y[:5])


def test_fusion_example_reads_cremad_names_with_sound_and_actor():
    """examples/audio_visual_fusion.py --cremad DIR, on the shipped CREMA-D files."""
    import runpy
    from pathlib import Path

    import skfer.datasets

    script = Path(__file__).resolve().parents[1] / "examples" / "audio_visual_fusion.py"
    example = runpy.run_path(str(script), run_name="example")  # defines, runs nothing
    files = sorted((Path(skfer.datasets.__file__).parent / "data" / "cremad").glob("*.flv"))
    X, y = example["load_av"](files, *example["CREMAD"], max_frames=4)
    assert len(X) == 6 and X.get("speaker") == ["1001"] * 6
    assert sorted(y.tolist()) == ["anger", "disgust", "fear", "happiness", "neutral",
                                  "sadness"]
    assert X.get("sample_rate") == [16000] * 6 and len(X.get("audio")[0]) > 30000
    assert X[0].shape[0] == 4
    assert example["RAVDESS"][0].match("01-01-05-01-02-01-12").groups() == ("05", "12")
