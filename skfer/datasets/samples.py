"""Six real audio-visual CREMA-D clips shipped with skfer (ODbL / DbCL licence).

See ``skfer/datasets/data/cremad/README.md`` for the attribution and the licence.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ..io.video import read_video
from ._bunch import make_bunch

__all__ = ["CREMAD_CODES", "load_sample_videos", "sample_videos_path"]

#: CREMA-D emotion codes of the file names, in the database's order.
CREMAD_CODES: tuple[str, ...] = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")

_DESCR = """CREMA-D sample (6 clips of actor 1001)
--------------------------------------
Six real audio-visual clips from CREMA-D (Crowd-sourced Emotional Multimodal Actors Dataset),
actor 1001 (male, 51) saying "Don't forget a jacket" (sentence DFA) once with each of the
emotions anger, disgust, fear, happiness, neutral and sadness at an unspecified intensity
(XX). FLV, 480x360, 29.97 fps, 56-70 frames, with a sound track. ``groups`` is the actor id.
Licensed under the Open Database License (ODbL 1.0) and its contents under the Database
Contents License (DbCL 1.0); see the README and CREMA-D_LICENSE.txt beside the files.

Cao, H., Cooper, D. G., Keutmann, M. K., Gur, R. C., Nenkova, A., Verma, R. (2014). CREMA-D:
Crowd-sourced emotional multimodal actors dataset. IEEE Transactions on Affective Computing,
5(4), 377-390.
"""


def sample_videos_path() -> Path:
    """The folder of the shipped CREMA-D sample clips (inside the installed package)."""
    return Path(str(resources.files("skfer.datasets") / "data" / "cremad"))


def load_sample_videos(
    *, color: bool = True, audio: bool = True, sample_rate: int | None = 16000
) -> Bunch:
    """Load the six CREMA-D sample clips shipped with skfer (no download).

    Parameters
    ----------
    color : bool, default=True
        ``True`` gives ``(T, 360, 480, 3)`` RGB clips, ``False`` grey ``(T, 360, 480)``.
    audio : bool, default=True
        Also decode the sound tracks.
    sample_rate : int or None, default=16000
        Sample rate the sound is resampled to (``None``: the files' own, 44.1 kHz).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data``: list of 6 uint8 clips, in the order ANG DIS FEA HAP NEU SAD; ``audio``: list
        of float32 mono sound tracks (``None`` when ``audio=False``); ``sample_rate``;
        ``fps``: float array; ``target``: canonical labels; ``groups``: actor ids (int, all
        1001); ``target_names`` / ``source_target_names``: canonical names and CREMA-D codes;
        ``filenames``; ``DESCR``.
    """
    folder = sample_videos_path()
    files = sorted(folder.glob("*.flv"))
    if len(files) != len(CREMAD_CODES):  # an incomplete installation
        raise FileNotFoundError(f"expected {len(CREMAD_CODES)} .flv clips in {folder}, "
                                f"found {len(files)}; reinstall skfer")
    videos = [read_video(f, color=color, audio=audio, sample_rate=sample_rate) for f in files]
    # 1001_DFA_ANG_XX.flv: actor, sentence, emotion, intensity.
    parts = [f.stem.split("_") for f in files]
    return make_bunch(
        [v.frames for v in videos], [p[2] for p in parts], source_target_names=CREMAD_CODES,
        filenames=[str(f) for f in files], groups=np.array([int(p[0]) for p in parts]),
        fps=np.array([v.fps for v in videos]),
        audio=[v.audio for v in videos] if audio else None,
        sample_rate=videos[0].sample_rate if audio else None,
        descr=_DESCR,
    )
