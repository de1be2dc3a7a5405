"""Example recordings (downloaded with pooch) and simulated recordings."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from ._misleep import fetch_misleep_edf_example, fetch_misleep_example, read_misleep_mat
from ._mssv import fetch_mssv
from ._simulate import simulate_hypnogram, simulate_recording

__all__ = [
    "fetch_misleep_edf_example",
    "fetch_misleep_example",
    "fetch_mssv",
    "read_misleep_mat",
    "simulate_hypnogram",
    "simulate_recording",
]
