"""Example recordings, downloaded with pooch."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from ._misleep import fetch_misleep_edf_example, fetch_misleep_example, read_misleep_mat

__all__ = ["fetch_misleep_edf_example", "fetch_misleep_example", "read_misleep_mat"]
