"""Loader of Emo-DB, the Berlin Database of Emotional Speech (Burkhardt et al., 2005).

The data is not shipped with skfer: obtain it from its authors. Audio only: an utterance is a
sound track, not a clip of frames.
"""

from __future__ import annotations

import os
import re

import numpy as np
from sklearn.utils import Bunch

from ..io.audio import read_audio
from ..io.images import natural_key
from ._bunch import check_folder, make_bunch

__all__ = ["EMODB_CODES", "load_emodb"]

#: Emo-DB emotion letters of the file names (German initials), in the database's order, and
#: the canonical name of each.
EMODB_CODES: dict[str, str] = {
    "W": "anger",  # Wut / Aerger
    "L": "boredom",  # Langeweile
    "E": "disgust",  # Ekel
    "A": "fear",  # Angst
    "F": "happiness",  # Freude
    "T": "sadness",  # Trauer
    "N": "neutral",
}

# 03a01Fa.wav: speaker 03, text a01, emotion letter F, version a.
_EMODB_NAME = re.compile(r"^(\d{2})([ab]\d{2})([A-Z])([a-z])$")

_DESCR = """Emo-DB (Berlin Database of Emotional Speech)
--------------------------------------------
Read from {root}: {n} acted German utterances by {n_speakers} speakers (5 women, 5 men, actors)
of 10 everyday sentences with one of 7 emotions: anger, boredom, disgust, fear, happiness,
sadness and neutral. Kept by the authors: utterances recognised by at least 80% of 20
listeners and judged natural by at least 60%. Audio only (``data`` are mono sound tracks at
{rate} Hz); ``groups`` are the speakers (the first two characters of the file name): use them
for speaker-independent evaluation. Not shipped with skfer.

Burkhardt, F., Paeschke, A., Rolfes, M., Sendlmeier, W., Weiss, B. (2005). A database of
German emotional speech. Proc. Interspeech 2005, 1517-1520.
"""


def load_emodb(path: str | os.PathLike, *, sample_rate: int | None = 16000) -> Bunch:
    """Load Emo-DB from a folder of WAV files named like ``03a01Fa.wav``.

    Parameters
    ----------
    path : str or path-like
        Folder holding the WAV files (searched recursively; other files are ignored).
        Names follow Emo-DB: speaker (2 digits), text (``a01`` .. ``b10``), emotion letter
        (W anger, L boredom, E disgust, A fear, F happiness, T sadness, N neutral), version.
    sample_rate : int or None, default=16000
        Every track is resampled to this rate (Emo-DB was recorded at 16 kHz; some copies
        are upsampled to 22,050 Hz). ``None`` keeps the files' own rate, which must then be
        the same in every file (a ``ValueError`` names the first file that differs: a data
        set has one ``sample_rate``).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` and ``audio``: the same list of float32 mono tracks in ``[-1, 1]``, files
        in natural name order (``ClipSet.from_bunch`` makes them a ClipSet whose ``audio``
        companion :class:`~skfer.features.AudioFeatures` reads); ``sample_rate``: int;
        ``target``: canonical labels; ``groups``: speaker ids (str, ``"03"`` ..), and the
        same as ``speaker``, which ``ClipSet.from_bunch`` keeps as each clip's ``speaker``
        companion (read by :class:`~skfer.features.SpeakerNormalizer`);
        ``texts``: sentence codes; ``target_names`` / ``source_target_names``: canonical
        names and Emo-DB letters in the order W L E A F T N; ``filenames``; ``DESCR``.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist.
    ValueError
        If it is empty or holds no WAV file, if a file name does not follow Emo-DB's pattern
        or carries an unknown emotion letter, if a file cannot be decoded or holds no
        sample, or (``sample_rate=None``) if the files' rates differ; each names the file.

    Examples
    --------
    >>> data = load_emodb("../shared/data/emodb")  # doctest: +SKIP
    >>> len(data.audio), data.sample_rate, sorted(set(data.groups))[:3]  # doctest: +SKIP
    (535, 16000, ['03', '08', '09'])
    """
    root = check_folder(path, "Emo-DB")
    files = sorted((p for p in root.rglob("*") if p.is_file() and p.suffix.lower() == ".wav"),
                   key=lambda p: natural_key(p.name))
    if not files:
        raise ValueError(f"Emo-DB folder {root} holds no .wav file")
    tracks, labels, speakers, texts, rate = [], [], [], [], None
    for f in files:
        m = _EMODB_NAME.match(f.stem)
        if m is None:
            raise ValueError(f"cannot parse Emo-DB file name {f}: expected speaker, text, "
                             "emotion letter and version, e.g. 03a01Fa.wav")
        speaker, text, code = m.group(1), m.group(2), m.group(3)
        if code not in EMODB_CODES:
            raise ValueError(f"unknown Emo-DB emotion letter {code!r} in {f}; known letters "
                             f"are {' '.join(EMODB_CODES)}")
        samples, file_rate = read_audio(f, sample_rate=sample_rate)
        if rate is not None and file_rate != rate:
            raise ValueError(
                f"{f} is sampled at {file_rate} Hz but {files[0].name} at {rate} Hz; pass "
                "sample_rate=<Hz> to resample every file to one rate"
            )
        rate = file_rate
        tracks.append(samples)
        labels.append(EMODB_CODES[code])
        speakers.append(speaker)
        texts.append(text)
    bunch = make_bunch(
        tracks, labels, source_target_names=list(EMODB_CODES.values()),
        filenames=[str(f) for f in files], groups=speakers, speaker=list(speakers),
        audio=tracks, sample_rate=rate,
        texts=np.array(texts),
        descr=_DESCR.format(root=root, n=len(files), n_speakers=len(set(speakers)), rate=rate),
    )
    # The set's own names are its letters (make_bunch takes names it can map, the English ones).
    bunch.source_target_names = np.array(list(EMODB_CODES))
    return bunch
