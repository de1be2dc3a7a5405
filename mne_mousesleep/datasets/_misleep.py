"""The MiSleep example recordings (Wang 2023, BSD-3-Clause)."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from datetime import datetime, timezone

import numpy as np
from mne import create_info
from mne.io import RawArray, read_raw_edf
from mne.utils import verbose
from scipy.io import loadmat

from .._fetch import fetch_file

_TYPES = {"EEG": "eeg", "EMG": "emg"}


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
        no time zone).

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
    raw = RawArray(np.vstack(signals) * 1e-3, info, verbose=False)  # mV -> V
    meas_date = datetime.strptime(start, "%Y%m%d-%H:%M:%S").replace(tzinfo=timezone.utc)
    raw.set_meas_date(meas_date)
    return raw


@verbose
def fetch_misleep_example(*, verbose=None):
    """Fetch a real 10-min mouse recording (parietal EEG and EMG).

    The example of the MiSleep project [1]_ (BSD-3-Clause): 600 s at 305 Hz,
    channels ``EEG_P`` (parietal EEG) and ``EMG_DIFF`` (EMG), unscored. Its EEG is
    theta-rich with an active EMG; the published networks score it Wake.

    Parameters
    ----------
    %(verbose)s

    Returns
    -------
    raw : instance of RawArray
        The recording in volts, with channel types ``eeg`` and ``emg`` and
        ``meas_date`` 2024-11-04 07:12:21 (UTC).

    Notes
    -----
    The file is downloaded once with pooch (sha256-verified) into the cache
    (environment variable ``MNE_MOUSESLEEP_DATA``), or copied from the offline
    mirror ``MNE_MOUSESLEEP_MIRROR``.

    References
    ----------
    .. [1] Wang X. MiSleep. https://github.com/BryanWang0702/MiSleep
    """
    return read_misleep_mat(fetch_file("misleep_mat"))


@verbose
def fetch_misleep_edf_example(*, preload=False, verbose=None):
    """Fetch a real 10-min EDF file with large transients (for robustness tests).

    From the MiSleep project [1]_ (BSD-3-Clause): four channels ``Channel1`` to
    ``Channel4`` at 500 Hz, 600 s, mostly low-amplitude noise (about 5 µV) with
    transients of up to 10 mV in the first 30 s. It is not a sleep example.

    Parameters
    ----------
    preload : bool
        Whether to load the data into memory.
    %(verbose)s

    Returns
    -------
    raw : instance of RawEDF
        The recording in volts.

    References
    ----------
    .. [1] Wang X. MiSleep. https://github.com/BryanWang0702/MiSleep
    """
    return read_raw_edf(fetch_file("misleep_edf"), preload=preload, verbose=False)
