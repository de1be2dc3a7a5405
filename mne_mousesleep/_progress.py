"""MNE's progress bar, quiet where nobody watches it redraw."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import sys

#: Seconds between redraws when standard error is not a terminal (a log file,
#: a pipe): the bar's first and last lines only, once each.
_NOT_A_TERMINAL_INTERVAL = 1e9


def _progress(iterable=None, mesg=None, **kwargs):
    """Return :class:`mne.utils.ProgressBar` (tqdm), redrawn only on a terminal.

    In a log file or a pipe every redraw is a new piece of text, and tqdm
    writes the last state again when it closes; there the bar shows its start
    and its end once each.
    """
    from mne.utils import ProgressBar

    stream = sys.stderr
    if not (hasattr(stream, "isatty") and stream.isatty()):
        kwargs.setdefault("mininterval", _NOT_A_TERMINAL_INTERVAL)
        kwargs.setdefault("miniters", None)
    return ProgressBar(iterable, mesg=mesg, **kwargs)
