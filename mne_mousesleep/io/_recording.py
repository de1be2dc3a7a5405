"""Reading recordings: one rule set for every recording format.

:func:`read_recording` opens what scoring, the batch, the command line,
training and the example datasets read: any file MNE reads (not preloaded),
a MiSleep ``.mat`` file, or a recording of a BIDS dataset. It catches the
reader's warnings (returned, for the quality record) and refuses a truncated
EDF/BDF unless asked.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import os
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from mne import create_info
from mne.io import RawArray
from mne.utils import verbose
from scipy.io import loadmat

#: Suffixes of the recordings found in folders (MNE readers and MiSleep .mat).
RECORDING_SUFFIXES = (
    ".edf",
    ".bdf",
    ".fif",
    ".fif.gz",
    ".gdf",
    ".set",
    ".vhdr",
    ".mat",
)
#: What MNE's EDF/BDF reader says of a file whose header counts more data
#: records than the file holds (a truncated or still-growing file).
_TRUNCATED = "does not match the file size"
_TYPES = {"EEG": "eeg", "EMG": "emg"}


def _recording_suffix(path):
    name = Path(path).name.lower()
    for suffix in RECORDING_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return None


def read_recording(source, *, allow_truncated=False):
    """Open a recording: a MiSleep ``.mat``, a BIDS recording or any file MNE reads.

    ``source`` is a path, or a :class:`mne_bids.BIDSPath` (read with
    :func:`mne_bids.read_raw_bids`). The Raw is not preloaded. Returns the
    Raw and the reader's warnings (messages), caught whatever MNE's log
    level; the reader's information messages are not shown. A truncated
    EDF/BDF raises :class:`ValueError` unless ``allow_truncated``; a file no
    reader takes raises :class:`ValueError` naming it (missing files and
    permissions: :class:`OSError` as they are).
    """
    if not isinstance(source, str | Path):  # a BIDSPath
        from mne_bids import read_raw_bids

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            raw = read_raw_bids(source, verbose="warning")
        return _check_read(source.fpath, raw, caught, allow_truncated)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw = _read_file(source)
    return _check_read(source, raw, caught, allow_truncated)


def _read_file(fname):
    """Read a MiSleep ``.mat`` or what MNE reads; Python warnings are the caller's."""
    import mne

    if Path(fname).is_symlink() and not Path(fname).exists():
        raise FileNotFoundError(
            f"{fname} is a symbolic link to {os.readlink(fname)}, which does not "
            "exist (a dangling link)"
        )
    suffix = _recording_suffix(fname)
    if Path(fname).is_file() and Path(fname).stat().st_size == 0:
        raise ValueError(
            f"{fname} is an empty file (0 bytes): the recording was not written, "
            "or its copy failed"
        )
    try:
        if suffix == ".mat":
            return read_misleep_mat(fname)
        # At MNE's "warning" level the reader's information messages are not
        # shown, and its warnings are Python warnings.
        return mne.io.read_raw(fname, preload=False, verbose="warning")
    except OSError:
        raise  # missing file, permissions: said as they are
    except Exception as err:  # noqa: BLE001 (readers raise all kinds)
        if "annotations channel" not in str(err) or suffix not in (".edf", ".bdf"):
            raise ValueError(f"{fname} could not be read: {err}") from err
    # MNE's bare Exception for an EDF annotation channel that is not UTF-8:
    # the signals are fine; read the annotations as latin1.
    raw = mne.io.read_raw(fname, preload=False, encoding="latin1", verbose="warning")
    warnings.warn(
        "the annotation channel is not valid UTF-8 (corrupt?); it was read as "
        "latin1, so annotation texts may be garbled",
        RuntimeWarning,
        stacklevel=2,
    )
    return raw


def _check_read(fname, raw, caught, allow_truncated):
    """Return the Raw and the reader's warnings; refuse a truncated file."""
    messages = list(dict.fromkeys(str(w.message) for w in caught))
    if not allow_truncated and any(_TRUNCATED in m for m in messages):
        raise ValueError(
            f"{fname} looks truncated: the record count of its header does not "
            f"match the file size (only {raw.times[-1]:.0f} s could be read). "
            "Scoring it as complete would be wrong; pass allow_truncated=True "
            "(--allow-truncated) to score what it holds."
        )
    return raw, messages


@verbose
def read_misleep_mat(fname, *, verbose=None):
    """Read a recording saved by MiSleep as a MATLAB file.

    Parameters
    ----------
    fname : path-like
        A MATLAB v5 file with a struct ``data`` holding one field per channel
        (values in millivolts), ``channels`` (names), ``sf`` (sampling rate per
        channel, Hz) and ``time`` (start, ``"%%Y%%m%%d-%%H:%%M:%%S"``).
    %(verbose)s

    Returns
    -------
    raw : instance of RawArray
        The recording in volts. Channels whose name starts with ``EEG`` are of
        type ``"eeg"``, with ``EMG`` of type ``"emg"``, others ``"misc"``.
        ``meas_date`` is the file's start time, taken as UTC (the file stores
        no time zone). ``info["description"]`` names the file (a RawArray has
        no file name of its own).

    Raises
    ------
    ValueError
        If the file does not have the fields above, or channels have different
        sampling rates.
    """
    mat = loadmat(fname, squeeze_me=True)
    try:
        data = mat["data"]
        names = [str(name).strip() for name in np.atleast_1d(data["channels"].item())]
        sfreqs = np.atleast_1d(data["sf"].item()).astype(float)
        start = str(data["time"].item())
        signals = [np.asarray(data[name].item(), dtype=float).ravel() for name in names]
    except (KeyError, ValueError) as err:
        raise ValueError(f"{fname} is not a MiSleep MATLAB file: {err}") from None
    if len(set(sfreqs)) != 1:
        raise ValueError(f"Channels of {fname} have different sampling rates {sfreqs}.")
    types = [_TYPES.get(name[:3].upper(), "misc") for name in names]
    info = create_info(names, sfreqs[0], types)
    info["description"] = f"MiSleep MATLAB file {Path(fname).name}"  # its source
    raw = RawArray(np.vstack(signals) * 1e-3, info, verbose=False)  # mV -> V
    meas_date = datetime.strptime(start, "%Y%m%d-%H:%M:%S").replace(tzinfo=timezone.utc)
    raw.set_meas_date(meas_date)
    return raw
