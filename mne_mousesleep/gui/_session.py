"""The state of a review, without a window: stages, provenance, history, files.

A :class:`ReviewSession` holds what the expert changes and nothing of Qt, so
everything the window does with a key (label, confirm, undo, move through the
review queue, save, autosave, recover) is a method here, tested on its own.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import datetime
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from filelock import FileLock, Timeout
from mne.utils import logger, warn

from .._stages import (
    ARTIFACT,
    CONFIRMED,
    CORRECTED,
    NREM,
    PRE_REM,
    PROVENANCE,
    REM,
    SCORER,
    UNSCORED,
    WAKE,
)
from ..io._review import (
    _check_review,
    _ForeignReview,
    _identity_columns,
    _review_record,
)
from ..io._write import _atomic
from ..scoring import ScoringResult

#: The labels an expert gives, by key (letters and digits).
KEYS = {
    "w": WAKE,
    "n": NREM,
    "p": PRE_REM,
    "r": REM,
    "a": ARTIFACT,
    "1": WAKE,
    "2": NREM,
    "3": PRE_REM,
    "4": REM,
    "5": ARTIFACT,
}
#: Format tag of the recovery file.
RECOVERY_FORMAT = "mne-mousesleep-review/1"
#: Share of the scored epochs in the queue as the least confident.
QUEUE_FRACTION = 0.05


class ReviewSession:
    """The stages of a recording as an expert reviews them.

    Parameters
    ----------
    result : ScoringResult
        The scorer's result (its stages are the starting point).
    path : path-like | None
        Where :meth:`save` writes the reviewed scoring (a CSV table); None:
        nothing is saved. If it exists (a review saved earlier), the session
        starts from it: its stages and provenance. A recovery file
        ``<path>.recovery.json`` is kept beside it by :meth:`autosave`.

    Attributes
    ----------
    stages : array of str, shape (n_epochs,)
        The current stage of each epoch.
    provenance : array of str, shape (n_epochs,)
        ``"scorer"``, ``"expert-confirmed"`` or ``"expert-corrected"``.
    queue : array of int
        The epochs to review, in time order (see :meth:`queue_reasons`).
    hmm_changed, emg_changed : array of int
        The epochs whose call the HMM changed, and those the EMG step moved
        to Wake.
    read_only : bool
        True when another window holds the same file: nothing is written.
    messages : list of str
        What the session found when opening (a recovery, a corrupted
        recovery file kept aside, another window).

    Raises
    ------
    ValueError
        If ``path`` holds a file that is not a review of this scoring (other
        epochs, unknown stages or provenance), or if the scoring holds a lab's
        own classes (their labelling is not in the window yet).
    """

    def __init__(self, result, path=None):
        if not isinstance(result, ScoringResult):
            raise TypeError(f"result must be a ScoringResult, got {type(result)}.")
        if result.roles:
            raise ValueError(
                f"The review window labels the package's stages (keys w n p r a); "
                f"this scoring holds the lab's own classes {list(result.roles)} "
                "(model "
                f"{result.model}), which it cannot label yet. Correct them in the "
                "lab's tool (write_scoring) or in the annotations."
            )
        self.result = result
        self.epoch_length = result.epoch_length
        self.onsets = result.onsets
        self.scorer = np.asarray(result.stages().to_numpy(), dtype=object)
        self.stages = self.scorer.copy()
        self.provenance = np.full(len(self.scorer), SCORER, dtype=object)
        self._undo, self._redo = [], []
        self.dirty = False
        self.messages = []
        self.hmm_changed, self.emg_changed = _changed_by_steps(result, self.scorer)
        self._reasons = _queue_reasons(
            result, self.scorer, self.hmm_changed, self.emg_changed
        )
        self.queue = np.array(sorted(self._reasons), dtype=int)
        self.path = None if path is None else Path(path)
        self.read_only = False
        self._lock = None
        if self.path is not None:
            self._lock = FileLock(f"{self.path}.lock")
            try:
                self._lock.acquire(timeout=0)
            except Timeout:
                self._lock, self.read_only = None, True
                self._say(
                    f"{self.path.name} is open in another review window: this one "
                    "is read-only (nothing it changes is saved)"
                )
            if self.path.is_file():
                self._load_saved()

    def _load_saved(self):
        """Start from the review saved at ``path`` (reopening never loses it).

        Raises a ValueError naming the file if it is not a review of this
        scoring (other epochs, unknown stage or provenance).
        """
        try:
            table, record = _review_record(self.path)
            _check_review(
                table,
                self.path,
                recording=self.result.quality.get("recording"),
                scorer=self.scorer,
            )
            if "onset" in table and not np.allclose(
                table["onset"].to_numpy(float), self.onsets
            ):
                raise ValueError(f"{self.path.name}: its epochs start at other times")
            stages = table["stage"].fillna(UNSCORED).astype(str).to_numpy(object)
            provenance = table["provenance"].astype(str).to_numpy(object)
            unknown = set(stages) - set(KEYS.values()) - {UNSCORED}
            if unknown:
                raise ValueError(f"unknown stage(s) {sorted(unknown)}")
        except _ForeignReview:
            self.close()
            raise
        except (OSError, ValueError, KeyError) as err:
            self.close()
            raise ValueError(
                f"{self.path.name} is not a review of this scoring ({err}): move it "
                "aside or pass another path."
            ) from None
        self.stages, self.provenance = stages, provenance
        self._say(
            f"Opened the saved review {self.path.name}: {record['corrected']} epochs "
            f"corrected, {record['confirmed']} confirmed",
            problem=False,
        )

    # --- what the expert does ---------------------------------------------------

    def label(self, epochs, stage):
        """Give ``epochs`` the stage ``stage`` (one step of the history).

        Parameters
        ----------
        epochs : int | array of int
            Epoch indices.
        stage : str
            A stage name (``"Wake"``, ``"NREM"``, ``"pre-REM"``, ``"REM"``,
            ``"artifact"``).

        Raises
        ------
        ValueError
            If ``stage`` is not one of these, or an epoch is out of range.
        """
        if stage not in set(KEYS.values()):
            raise ValueError(
                f"stage must be one of {sorted(set(KEYS.values()))}, got {stage!r}."
            )
        epochs = self._epochs(epochs)
        provenance = np.where(self.scorer[epochs] == stage, CONFIRMED, CORRECTED)
        self._change(epochs, np.full(len(epochs), stage, dtype=object), provenance)

    def confirm(self, epochs):
        """Mark the scorer's stage of ``epochs`` as checked by the expert.

        Epochs the expert already corrected stay corrected.

        Parameters
        ----------
        epochs : int | array of int
            Epoch indices.
        """
        epochs = self._epochs(epochs)
        provenance = self.provenance[epochs].copy()
        provenance[provenance == SCORER] = CONFIRMED
        self._change(epochs, self.stages[epochs].copy(), provenance)

    def undo(self):
        """Undo the last change.

        Returns
        -------
        epochs : array of int
            The epochs it changed back (empty: nothing to undo).
        """
        return self._step(self._undo, self._redo)

    def redo(self):
        """Redo the last undone change.

        Returns
        -------
        epochs : array of int
            The epochs it changed again (empty: nothing to redo).
        """
        return self._step(self._redo, self._undo)

    def adopt(self, stages):
        """Take a new scorer's stages for the epochs the expert did not label.

        After :func:`~mne_mousesleep.fine_tune`: the epochs of provenance
        ``"scorer"`` get the new scorer's stage (in the ``scorer`` column
        too); the expert's epochs keep theirs. One step of the history.

        Parameters
        ----------
        stages : array of str, shape (n_epochs,)
            The new scorer's stage of each epoch.

        Returns
        -------
        n_changed : int
            Epochs whose stage changed.
        """
        stages = np.asarray(stages, dtype=object)
        if len(stages) != len(self.stages):
            raise ValueError(
                f"stages must hold {len(self.stages)} epochs, got {len(stages)}."
            )
        epochs = np.flatnonzero(self.provenance == SCORER)
        changed = int((self.stages[epochs] != stages[epochs]).sum())
        self._change(
            epochs, stages[epochs], self.provenance[epochs].copy(), stages[epochs]
        )
        return changed

    def _change(self, epochs, stages, provenance, scorer=None):
        before = (
            epochs,
            self.stages[epochs].copy(),
            self.provenance[epochs].copy(),
            None if scorer is None else self.scorer[epochs].copy(),
        )
        after = (epochs, stages, provenance, scorer)
        same = np.array_equal(before[1], stages) and np.array_equal(
            before[2], provenance
        )
        if same and (scorer is None or np.array_equal(before[3], scorer)):
            return
        self._apply(after)
        self._undo.append((before, after))
        self._redo.clear()

    def _step(self, source, target):
        if not source:
            return np.empty(0, int)
        before, after = source.pop()
        state = before if source is self._undo else after
        self._apply(state)
        target.append((before, after))
        return state[0]

    def _apply(self, state):
        epochs, stages, provenance, scorer = state
        self.stages[epochs] = stages
        self.provenance[epochs] = provenance
        if scorer is not None:
            self.scorer[epochs] = scorer
        self.dirty = True

    def _epochs(self, epochs):
        epochs = np.atleast_1d(np.asarray(epochs, dtype=int))
        if len(epochs) and (epochs.min() < 0 or epochs.max() >= len(self.stages)):
            raise ValueError(
                f"Epochs must be in 0..{len(self.stages) - 1}, got {epochs.tolist()}."
            )
        return epochs

    # --- the review queue ---------------------------------------------------------

    def queue_reasons(self):
        """Return why each epoch of the queue is in it.

        Returns
        -------
        reasons : dict
            Epoch index (int) -> reason (str) (least confident, changed by the HMM,
            unscored with its reason).
        """
        return dict(self._reasons)

    def next_in_queue(self, epoch, step=1):
        """Return the next or previous epoch of the queue.

        Parameters
        ----------
        epoch : int
            Where to start.
        step : 1 | -1
            The next (1) or the previous (-1) one; wraps around.

        Returns
        -------
        epoch : int | None
            None when the queue is empty.
        """
        if not len(self.queue):
            return None
        if step > 0:
            later = self.queue[self.queue > epoch]
            return int(later[0] if len(later) else self.queue[0])
        earlier = self.queue[self.queue < epoch]
        return int(earlier[-1] if len(earlier) else self.queue[-1])

    @property
    def n_reviewed(self):
        """Epochs of the queue that the expert confirmed or corrected (int)."""
        return int((self.provenance[self.queue] != SCORER).sum())

    # --- files ----------------------------------------------------------------------

    def to_frame(self):
        """Return the reviewed scoring as a table.

        Returns
        -------
        table : pandas.DataFrame, shape (n_epochs, 7)
            ``onset`` (s from the first sample), ``duration`` (s), ``stage``,
            ``provenance``, ``scorer`` (the scorer's own stage), ``time`` (the
            epoch's clock time, ISO 8601; empty without a measurement date)
            and ``recording`` (the identity of the scored recording, which
            every reader of the file checks).
        """
        return pd.DataFrame(
            {
                "onset": self.onsets,
                "duration": self.epoch_length,
                "stage": self.stages,
                "provenance": self.provenance,
                "scorer": self.scorer,
                **_identity_columns(self.result.quality.get("recording"), self.onsets),
            }
        )

    def save(self, path=None):
        """Write the reviewed scoring (CSV, atomically).

        The table of :meth:`to_frame`, which :func:`~mne_mousesleep.read_scoring`
        reads back (its ``stage`` column). The recovery file is removed.

        Parameters
        ----------
        path : path-like | None
            Where to write; None: the session's path.

        Returns
        -------
        path : pathlib.Path
            The file written.

        Raises
        ------
        RuntimeError
            If the session is read-only or has no path.
        """
        if self.read_only:
            raise RuntimeError(
                "This review window is read-only: another window holds the file."
            )
        path = Path(path) if path is not None else self.path
        if path is None:
            raise RuntimeError("No file to save to: pass path=.")
        table = self.to_frame()
        _atomic(path, lambda tmp: table.to_csv(tmp, index=False))
        self._record_in_sidecar(path)
        self.dirty = False
        if path == self.path:
            self.recovery_path.unlink(missing_ok=True)
        logger.info(f"Reviewed scoring saved to {path}")
        return path

    def _record_in_sidecar(self, path):
        """Record the review in the batch's sidecar beside it, if there is one.

        ``<name>_reviewed.csv`` -> ``<name>_scoring.json``: its ``review`` entry
        (file, sha256, epochs confirmed and corrected, the runs of expert
        epochs) is replaced, atomically; nothing else of it changes.
        """
        name = Path(path).name
        if not name.endswith("_reviewed.csv"):
            return
        sidecar = Path(path).with_name(name[: -len("_reviewed.csv")] + "_scoring.json")
        try:
            info = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            return  # no sidecar (a review outside the batch), or not ours
        if not isinstance(info, dict):
            return
        info["review"] = _review_record(path)[1]
        _atomic(sidecar, lambda tmp: Path(tmp).write_text(json.dumps(info, indent=2)))

    @property
    def recovery_path(self):
        """The recovery file beside the output (Path or None)."""
        return None if self.path is None else Path(f"{self.path}.recovery.json")

    def autosave(self):
        """Write every change so far to the recovery file (atomically).

        Returns
        -------
        path : pathlib.Path | None
            The recovery file, or None when there is nothing to write (no
            change, no path, or read-only).
        """
        if self.recovery_path is None or self.read_only or not self.dirty:
            return None
        state = {
            "format": RECOVERY_FORMAT,
            "saved": datetime.datetime.now().isoformat(timespec="seconds"),
            "fingerprint": self._fingerprint(),
            "stages": list(self.stages),
            "provenance": list(self.provenance),
        }
        _atomic(self.recovery_path, lambda tmp: Path(tmp).write_text(json.dumps(state)))
        return self.recovery_path

    def has_recovery(self):
        """Tell whether a recovery file of unsaved changes is there.

        Returns
        -------
        found : bool
            True if ``<path>.recovery.json`` exists.
        """
        return self.recovery_path is not None and self.recovery_path.is_file()

    def recover(self):
        """Load the changes of the recovery file (after a crash or a kill).

        Returns
        -------
        n_changed : int | None
            Epochs whose stage or provenance the recovery file changes; None
            when the file was corrupted or belongs to another scoring: it is
            then renamed ``*.corrupt-<time>`` (kept, never dropped) and
            ``messages`` says so.
        """
        path = self.recovery_path
        try:
            state = json.loads(path.read_text())
            if state.get("format") != RECOVERY_FORMAT:
                raise ValueError(f"not a review recovery file ({state.get('format')})")
            if state.get("fingerprint") != self._fingerprint():
                raise ValueError("it belongs to another scoring of another length")
            stages = np.asarray(state["stages"], dtype=object)
            provenance = np.asarray(state["provenance"], dtype=object)
            if len(stages) != len(self.stages) or len(provenance) != len(stages):
                raise ValueError("its epochs do not fit the recording")
            if not set(provenance) <= set(PROVENANCE):
                raise ValueError("unknown provenance")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
            aside = path.with_name(f"{path.name}.corrupt-{stamp}")
            os.replace(path, aside)
            self._say(
                f"The recovery file {path.name} could not be read ({err}); kept as "
                f"{aside.name}"
            )
            return None
        changed = np.flatnonzero(
            (stages != self.stages) | (provenance != self.provenance)
        )
        self._change(changed, stages[changed], provenance[changed])
        self._say(
            f"Recovered {len(changed)} changed epochs from {path.name}", problem=False
        )
        return len(changed)

    def close(self):
        """Release the file lock (the window calls it when it closes)."""
        if self._lock is not None:
            self._lock.release()
            Path(self._lock.lock_file).unlink(missing_ok=True)
            self._lock = None

    def _fingerprint(self):
        result = self.result
        return {
            "n_epochs": int(result.n_epochs),
            "epoch_length": float(result.epoch_length),
            "first_time": float(result.first_time),
            "model": result.model,
        }

    def _say(self, message, problem=True):
        """Keep ``message`` for the window; a problem is also a warning."""
        self.messages.append(message)
        if problem:
            warn(message)
        else:
            logger.info(message)


def _changed_by_steps(result, scorer):
    """Return the epochs whose call the HMM changed and those the EMG step moved.

    The HMM's: scored epochs whose stage differs from the most probable class
    of the probabilities, and the network's REM that the semi-Markov model's
    architecture prior refused; the EMG step's: its record's ``changed_epochs``
    within the recording. Both arrays of int, in time order.
    """
    scored = result.scored
    network = np.full(len(scorer), None, dtype=object)
    network[scored] = np.asarray(result.classes, dtype=object)[
        result.proba[scored].argmax(axis=1)
    ]
    changed = scored & (network != scorer)
    for first, n, _ in _refused_rem(result):  # the network's REM the prior refused
        changed[first : first + n] = True
    hmm = np.flatnonzero(changed)
    emg = np.array(
        sorted(
            k for k in result.emg.get("changed_epochs") or [] if 0 <= k < len(scorer)
        ),
        dtype=int,
    )
    return hmm, emg


def _refused_rem(result):
    """Return the REM candidates the semi-Markov model refused: (first, n, why)."""
    refused = ((result.hmm or {}).get("rem_refused") or {}).get("refused") or []
    return [(int(first), int(n), why) for first, n, why in refused]


def _queue_reasons(result, scorer, hmm_changed, emg_changed):
    """Why each epoch is in the review queue (epoch -> reason).

    The least confident scored epochs (:data:`QUEUE_FRACTION` of them, by the
    probability of their most probable class, at least one), the epochs
    whose call the HMM changed and those the EMG step moved to Wake
    (:func:`_changed_by_steps`), the network's REM that the architecture
    prior refused (the semi-Markov model's ``rem_refused``), REM epochs
    straight after Wake (which the trust verdict counts), and the unscored
    epochs with their reason.
    """
    reasons = {}
    scored = result.scored
    if scored.any():
        top = np.full(len(scorer), np.inf)
        top[scored] = result.proba[scored].max(axis=1)
        n_least = max(1, int(round(QUEUE_FRACTION * scored.sum())))
        for k in np.argsort(top, kind="stable")[:n_least]:
            reasons[int(k)] = f"least confident ({top[k]:.2f})"
    decoder = (result.hmm or {}).get("decoder", "hmm")
    changed = (
        "the HMM changed the call"
        if decoder == "hmm"
        else "the semi-Markov model (the five labs' architecture) changed the call"
    )
    for k in hmm_changed:
        reasons[int(k)] = changed
    for first, n, why in _refused_rem(result):  # REM no expert would score
        for k in range(first, min(first + n, len(scorer))):
            reasons[k] = f"the network's REM refused ({why})"
    for k in emg_changed:
        reasons[int(k)] = "the EMG step moved the call to Wake"
    # What the trust verdict counts against the scorer: REM straight after
    # Wake (mice do not go from Wake into REM).
    for k in np.flatnonzero((scorer[1:] == REM) & (scorer[:-1] == WAKE)) + 1:
        reasons[int(k)] = "REM straight after Wake (mice do not do this)"
    unscored = dict(
        (int(round(onset / result.epoch_length)), reason)
        for onset, reason in result.quality.get("unscored_epochs", [])
    )
    for k in np.flatnonzero(scorer == UNSCORED):
        reasons[int(k)] = f"unscored: {unscored.get(int(k), 'no probabilities')}"
    return reasons


def _reviewed_counts(path, sidecar=None):
    """How much of a recording was reviewed, for the study list.

    Returns None when there is no review at ``path``, a string saying why
    when it cannot be used (unreadable, or not the review of the scoring in
    ``sidecar``, the batch's ``<name>_scoring.json``, when given), else
    ``(epochs confirmed or corrected, epochs, corrected)``.
    """
    if path is None or not Path(path).is_file():
        return None
    try:
        table, record = _review_record(path)
        if sidecar is not None and Path(sidecar).is_file():
            from ..report._recording import _read_result

            result = _read_result(sidecar)
            _check_review(
                table,
                path,
                recording=result.quality.get("recording"),
                scorer=result.stages().to_numpy(object).astype(str),
                name=Path(sidecar).name[: -len("_scoring.json")],
            )
    except (OSError, ValueError, KeyError, TypeError) as err:
        return str(err)
    expert = record["confirmed"] + record["corrected"]
    return expert, record["n_epochs"], record["corrected"]
