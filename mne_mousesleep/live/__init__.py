"""Live scoring: a stream scored epoch by epoch, for closed-loop experiments.

:class:`OnlineScorer` needs no streaming library: it takes chunks of samples
and returns a :class:`Decision` per epoch. :func:`run_live` and
:func:`replay` connect it to Lab Streaming Layer with MNE-LSL (the ``live``
extra: ``pip install mne-mousesleep[live]``).
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from ._scorer import Decision, OnlineScorer
from ._stream import replay, run_live

__all__ = ["Decision", "OnlineScorer", "replay", "run_live"]
