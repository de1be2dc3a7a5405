"""Review and correct the scores in a window (qtpy + pyqtgraph, the ``[gui]`` extra).

Nothing of Qt is imported until a window is asked for: without the extra,
the package imports and everything else works.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import os

import numpy as np
import pandas as pd
from mne import Annotations
from mne.io import BaseRaw
from mne.utils import _validate_type, logger

from .._stages import UNSCORED
from ..hypnogram import to_stages
from ..io import read_scoring
from ..scoring import ScoringResult
from ..scoring.check import _find_emg, _find_parietal, _resolve_emg
from ._session import KEYS, PROVENANCE, ReviewSession

__all__ = [
    "KEYS",
    "PROVENANCE",
    "ReviewSession",
    "ReviewWindow",
    "StudyWindow",
    "review",
    "review_study",
]


def __getattr__(name):
    """``ReviewWindow`` and ``StudyWindow`` on first use: Qt is imported only then."""
    if name == "ReviewWindow":
        from ._window import ReviewWindow

        return ReviewWindow
    if name == "StudyWindow":
        from ._study import StudyWindow

        return StudyWindow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: What to install for the window.
GUI_EXTRA = "pip install 'mne-mousesleep[gui]'  (qtpy, PySide6, pyqtgraph)"


def review(
    raw,
    scoring,
    *,
    picks=None,
    emg="auto",
    path=None,
    lights_on=None,
    n_neighbours=1,
    display_filter=False,
    scalings=None,
    recover=None,
    block=True,
    show=True,
):
    """Review and correct the stages of a recording in a window.

    The window shows the whole recording (hypnogram, the scorer's
    confidence, the review queue, dark phases) and the EEG and EMG of the
    current epoch with its neighbours, the EEG's spectrogram and the power of
    the epochs around it (EEG delta and theta, EMG with the EMG step's
    threshold); keys label, move, select, undo and save (``?`` shows them).
    Each epoch keeps its provenance: the scorer's stage, confirmed by the
    expert or corrected. Changes are autosaved to a
    recovery file every 2 s; reopening after a crash offers to recover them.

    Parameters
    ----------
    raw : instance of Raw
        The recording (not modified; ``preload=False`` reads only what is
        shown).
    scoring : ScoringResult | DataFrame | Annotations | Series | path-like
        The scores to review: a result or the probabilities of
        :func:`~mne_mousesleep.predict_proba` (with their confidence and
        review queue), or stages without probabilities (annotations, a stage
        sequence, or any file :func:`~mne_mousesleep.read_scoring` reads).
    picks : str | None
        The EEG channel shown; None: the channel the scorer read, else the
        parietal EEG found by name.
    emg : str | None
        The EMG channel shown; ``"auto"`` finds it (none: EEG only).
    path : path-like | None
        Where ctrl+s saves the reviewed scoring (a CSV table with a
        ``provenance`` column); None: nothing is saved (export still works).
    lights_on : str | None
        ``"HH:MM"`` of lights on: dark phases are shaded.
    n_neighbours : int
        Epochs shown on each side of the current one (0-4, default 1; keys
        ``[`` and ``]``).
    display_filter : bool
        Whether the traces start filtered for the eye (EEG 0.5-30 Hz, EMG
        above 10 Hz; key ``f``). The scores and the recording are not.
    scalings : dict | None
        Half the height of a channel's trace in µV, by channel name (keys
        ``+``/``-`` and the mouse wheel change them); a channel not given gets
        1.1 times the 99.5th percentile of its absolute value on the first
        screen.
    recover : bool | None
        Whether to load the recovery file of unsaved changes if there is
        one; None asks in a dialog (with ``show=True``), else does not.
    block : bool
        Wait until the window is closed and return the reviewed stages
        (default); False returns the window at once, as
        ``raw.plot(block=False)`` in IPython.
    show : bool
        Show the window (False: for tests and screenshots).

    Returns
    -------
    stages : pandas.Series | window
        With ``block=True``, the reviewed stages (a stage sequence as
        :func:`~mne_mousesleep.to_stages` gives, indexed by onset in s);
        else the window (a Qt main window; its ``session``, a
        :class:`~mne_mousesleep.gui.ReviewSession`, holds the stages and their
        provenance).

    Raises
    ------
    ImportError
        If qtpy, a Qt binding or pyqtgraph is not installed (the ``[gui]``
        extra).
    TypeError
        If ``raw`` is not a Raw or ``scoring`` of no accepted type.
    ValueError
        If the scoring does not fit the recording (other length, start or
        epoch length): the message says what differs.
    """
    _validate_type(raw, BaseRaw, "raw")
    result = _as_result(scoring, raw)
    eeg = _eeg_channel(raw, result, picks)
    emg_name, _ = _resolve_emg(raw, emg) if emg != "auto" else _find_emg(raw)
    _require_qt()
    from ._window import ReviewWindow

    app = _qt_app()
    session = ReviewSession(result, path)
    if session.has_recovery():
        if recover is None and show:
            recover = _ask_recover(session)
        if recover:
            session.recover()
    window = ReviewWindow(
        raw, session, eeg, emg_name, lights_on, n_neighbours, display_filter, scalings
    )
    if show:
        window.show()
    if not block:
        return window
    app.exec()
    return window.reviewed_stages()


def review_study(rows, open_recording, *, block=True, show=True):
    """List a study's recordings to review; Enter or a double click opens one.

    The list shows each recording's trust verdict and its reasons, and how
    many of its epochs were reviewed (confirmed or corrected) and corrected,
    read from its ``<name>_reviewed.csv``; it is updated when a review
    window closes. ``mne-mousesleep review FOLDER`` opens it.

    Parameters
    ----------
    rows : list of dict
        One per recording, in the order shown (the command line puts the
        least trustworthy first): ``name`` (str), ``verdict`` (``"ok"``,
        ``"review"``, ``"unreliable"`` or None: not scored), ``reasons`` (list
        of str) and ``reviewed`` (path of its reviewed scoring, which need not
        exist yet).
    open_recording : callable
        ``open_recording(row)`` opens that recording's review window and
        returns it without blocking (``review(..., block=False)``).
    block : bool
        Wait until the list is closed (default); False returns it at once.
    show : bool
        Show the window (False: for tests and screenshots).

    Returns
    -------
    window : mne_mousesleep.gui.StudyWindow
        The list (a Qt main window).

    Raises
    ------
    ImportError
        If qtpy, a Qt binding or pyqtgraph is not installed (the ``[gui]``
        extra).
    """
    _validate_type(rows, (list, tuple), "rows")
    _require_qt()
    from ._study import StudyWindow

    app = _qt_app()
    window = StudyWindow(rows, open_recording)
    if show:
        window.show()
    if block:
        app.exec()
    return window


def _require_qt():
    """Raise an ImportError naming the ``[gui]`` extra if it is not installed."""
    try:
        import pyqtgraph  # noqa: F401
        from qtpy import QtWidgets  # noqa: F401
    except ImportError as err:
        raise ImportError(
            f"The review window needs qtpy, a Qt binding and pyqtgraph ({err}): "
            f"{GUI_EXTRA}."
        ) from None


def _qt_app():
    """MNE's Qt application (its icon and settings), or a plain one offscreen."""
    from qtpy import QtWidgets

    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":  # tests, screenshots
        return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    from mne.viz.backends._utils import _init_mne_qtapp

    try:
        return _init_mne_qtapp(pg_app=True)
    except RuntimeError as err:  # no display
        raise RuntimeError(
            f"{err}: the review window needs a display (for screenshots without "
            "one, set QT_QPA_PLATFORM=offscreen)."
        ) from None


def _ask_recover(session):
    from qtpy import QtWidgets

    answer = QtWidgets.QMessageBox.question(
        None,
        "Recover unsaved changes?",
        f"{session.recovery_path.name} holds changes that were not saved "
        "(the window was closed by a crash or a kill). Recover them?",
    )
    return answer == QtWidgets.QMessageBox.Yes


def _eeg_channel(raw, result, picks):
    if picks is not None:
        _validate_type(picks, str, "picks")
        if picks not in raw.ch_names:
            raise ValueError(f"picks={picks!r} is not a channel of {raw.ch_names}.")
        return picks
    for name in result.ch_names:
        if name in raw.ch_names:
            return name
    found = _find_parietal(raw)
    if not found:
        raise ValueError(
            f"No parietal EEG channel found by name among {raw.ch_names}; pass picks."
        )
    return raw.ch_names[found[0]]


def _as_result(scoring, raw):
    """Return ``scoring`` as a :class:`ScoringResult` that fits ``raw``."""
    if isinstance(scoring, str | os.PathLike):
        scoring = read_scoring(scoring, raw=raw)
    if isinstance(scoring, pd.DataFrame):
        result = ScoringResult.from_frame(scoring)
    elif isinstance(scoring, ScoringResult):
        result = scoring
    elif isinstance(scoring, Annotations | pd.Series):
        result = _one_hot(
            to_stages(scoring) if isinstance(scoring, Annotations) else scoring, raw
        )
    else:
        raise TypeError(
            "scoring must be a ScoringResult, the probabilities of predict_proba, "
            f"Annotations, a stage sequence or a scoring file, got {type(scoring)}."
        )
    _check_fit(result, raw)
    return result


def _one_hot(stages, raw):
    """Return a result without probabilities: each stage with probability 1."""
    stages = to_stages(stages)
    attrs = dict(stages.attrs)
    values = np.asarray(stages.astype(str), dtype=object)
    classes = tuple(dict.fromkeys(v for v in values if v != UNSCORED))
    proba = np.full((len(values), len(classes)), np.nan)
    for ii, name in enumerate(classes):
        proba[values == name] = np.eye(len(classes))[ii]
    onsets = stages.index.to_numpy(float)
    return ScoringResult(
        proba=proba,
        classes=classes,
        epoch_length=float(attrs.get("epoch_length", 10.0)),
        onset=float(onsets[0]) if len(onsets) else 0.0,
        meas_date=attrs.get("meas_date", raw.info["meas_date"]),
        first_time=float(attrs.get("first_time", raw.first_time)),
        sfreq=raw.info["sfreq"],
        model=attrs.get("model") or "expert scoring",
    )


def _check_fit(result, raw):
    """Raise a ValueError naming what differs if ``result`` does not fit ``raw``."""
    sfreq = raw.info["sfreq"]
    n_full = int(raw.n_times // round(result.epoch_length * sfreq))
    problems = []
    if result.n_epochs not in (n_full, n_full + 1) or result.onset != 0:
        problems.append(
            f"{result.n_epochs} epochs of {result.epoch_length:g} s from "
            f"{result.onset:g} s, the recording holds {n_full} from 0 s"
        )
    if abs(result.first_time - raw.first_time) > 1e-6:
        problems.append(
            f"its first sample is at {result.first_time:g} s of the recording's "
            f"clock, the recording's at {raw.first_time:g} s"
        )
    if result.sfreq is not None and abs(result.sfreq - sfreq) > 1e-6:
        problems.append(
            f"it was scored at {result.sfreq:g} Hz, the recording is {sfreq:g} Hz"
        )
    if problems:
        raise ValueError(
            "The scoring does not fit the recording: " + "; ".join(problems) + ". "
            "Review a scoring of this recording (or convert it to its epochs with "
            "read_scoring(..., raw=raw))."
        )
    logger.info(f"Reviewing {result.n_epochs} epochs of {result.epoch_length:g} s")
