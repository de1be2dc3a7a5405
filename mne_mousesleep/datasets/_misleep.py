"""The MiSleep example recordings (Wang 2023, BSD-3-Clause)."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from mne.utils import verbose

from .._fetch import fetch_file
from ..io._recording import read_misleep_mat, read_recording  # noqa: F401


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
    raw, _ = read_recording(fetch_file("misleep_mat"))  # a MiSleep .mat
    return raw


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
    raw, _ = read_recording(fetch_file("misleep_edf"))
    return raw.load_data(verbose=False) if preload else raw
