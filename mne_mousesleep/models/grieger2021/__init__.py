"""The networks of Grieger et al. (2021) and the fast path of 3conv_pool.

``_network``: the published architectures ("3conv_pool", "8conv_2fc") with
the module indices of the published checkpoints; ``_fast``: the
whole-recording computation of 3conv_pool (convolving once, Winograd), equal
to the published per-window computation up to float32 rounding.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from ._network import (
    MAX_CHUNK_EPOCHS,
    _EightConvTwoFC,
    _fast_evaluator,
    _ThreeConvPool,
    recording_log_proba,
)

__all__ = [
    "MAX_CHUNK_EPOCHS",
    "_EightConvTwoFC",
    "_ThreeConvPool",
    "_fast_evaluator",
    "recording_log_proba",
]
