"""ClipSet: companions stay with their clips through splits, pipelines and validation."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from skfer import ClipSet
from skfer.base import same_container
from skfer.features import HOGFeatures
from skfer.preprocessing import FramePooling
from skfer.utils.estimator_checks import make_clip_data
from skfer.utils.validation import check_clips, check_sequences


def _clips(n=10):
    return [np.full((i % 3 + 2, 16, 16), 10 * i, np.uint8) for i in range(n)]


def test_indexing_keeps_companions_aligned():
    clips = _clips()
    X = ClipSet(clips, landmarks=[np.full((len(c), 68, 2), i) for i, c in enumerate(clips)],
                source=[f"f{i}.mp4" for i in range(10)])
    assert X[3] is clips[3]
    for key in ([4, 1], np.array([4, 1]), (np.array([4, 1]), Ellipsis)):
        sub = X[key]
        assert isinstance(sub, ClipSet) and len(sub) == 2
        assert sub.get("source") == ["f4.mp4", "f1.mp4"]
        assert sub.get("landmarks")[1][0, 0, 0] == 1 and sub[0] is clips[4]
    mask = np.zeros(10, bool)
    mask[[2, 5]] = True
    assert X[mask].get("source") == ["f2.mp4", "f5.mp4"]
    assert X[-2:].get("source") == ["f8.mp4", "f9.mp4"]
    assert X[np.array([-1])].get("source") == ["f9.mp4"]
    assert pickle.loads(pickle.dumps(X)).get("source") == X.get("source")


def test_companions_are_checked_against_their_clips():
    clips = _clips(3)
    with pytest.raises(ValueError, match=r"clip 0: companion 'landmarks' has 5 frames but the "
                                         r"clip has 2 frames"):
        ClipSet(clips, landmarks=[np.zeros((5, 68, 2))] * 3)
    with pytest.raises(ValueError, match="has 2 entries for 3 clips"):
        ClipSet(clips, source=["a", "b"])
    with pytest.raises(ValueError, match="unknown companion 'landmark'"):
        ClipSet(clips, landmark=[None] * 3)
    with pytest.raises(ValueError, match=r"clip 1: unknown frame status \['lost'\]"):
        ClipSet(clips, status=[["detected"] * 2, ["lost"] * 3, ["missing"] * 4])
    with pytest.raises(IndexError, match="boolean index of shape"):
        ClipSet(clips)[np.array([True])]


def test_usable_frames_and_replace():
    clips = _clips(2)
    X = ClipSet(clips, status=[["detected", "missing"], ["filled", "tracked", "missing"]])
    np.testing.assert_array_equal(X.usable_frames(0), [True, False])
    np.testing.assert_array_equal(X.usable_frames(1), [True, True, False])
    Y = X.replace(status=None)
    assert "status" not in Y.companions and Y.usable_frames(1).all()
    with pytest.raises(ValueError, match="2 new items for a ClipSet of 3"):
        ClipSet(_clips(3)).replace(data=clips)


def test_same_container_and_validation_accept_clipsets():
    clips = _clips(4)
    X = ClipSet(clips, source=["a.mp4", "b.mp4", "c.mp4", "d.mp4"])
    out = same_container(X, [c[:1] for c in clips])
    assert isinstance(out, ClipSet) and out.get("source") == X.get("source")
    assert isinstance(same_container(clips, clips, status=[["detected"] * len(c) for c in clips]),
                      ClipSet)
    assert isinstance(same_container(clips, clips), list)
    assert len(check_clips(X)) == 4
    bad = list(clips)
    bad[2] = bad[2][:0]
    with pytest.raises(ValueError, match=r"clip 2 \(c.mp4\): the clip has zero frames"):
        check_clips(ClipSet(bad, source=X.get("source")))
    assert len(check_sequences(ClipSet([np.zeros((3, 5))] * 2))) == 2


def test_clipset_through_grouped_cross_validation():
    clips, y = make_clip_data(n_clips=20, frame_size=(32, 32))
    X = ClipSet(clips, source=[f"{i}.mp4" for i in range(20)])
    pipe = make_pipeline(HOGFeatures(), FramePooling(), SVC())
    groups = np.repeat(np.arange(10), 2)
    scores = cross_val_score(pipe, X, y, groups=groups, cv=GroupKFold(5))
    assert scores.mean() == 1.0
