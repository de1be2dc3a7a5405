"""Sleep reports: an :class:`mne.Report` per recording and one per study.

``_recording``: :func:`report`, one scored recording (from a scoring, or
from the outputs of a batch); ``_study``: :func:`study_report`, many
recordings from the outputs of a batch; ``_figures`` and ``_html``: their
figures and tables.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from ._recording import report
from ._study import study_report

__all__ = ["report", "study_report"]
