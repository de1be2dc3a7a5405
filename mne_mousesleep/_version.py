"""The package version (one place, read by the package, its files and the docs)."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

__version__ = "0.1.0.dev0"
