"""Writing files atomically: a whole file or nothing, never a user's file replaced.

Every file the package writes (scoring files, batch outputs, sidecars,
reports) is written to a hidden temporary name beside its target and then
moved into place, so an interrupted run leaves at most a hidden temporary
file, never a truncated output.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import os
import tempfile
import threading
from pathlib import Path


def _tmp_path(path):
    """Return a hidden temporary name beside ``path``, with the same suffix.

    MNE needs the suffix (``-annot.fif``, ``.csv``); the process and thread
    make it unique between concurrent writers.
    """
    path = Path(path)
    return path.with_name(f".tmp{os.getpid()}_{threading.get_ident()}_{path.name}")


def _move(tmp, path, overwrite):
    """Move a complete temporary file to ``path``.

    With ``overwrite=False`` the move never replaces a file that exists (a
    hard link, which fails if ``path`` exists): :class:`FileExistsError` is
    raised instead.
    """
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(
            f"{path} appeared while it was being written; kept"
        ) from None
    except OSError:  # no hard links on this file system
        if Path(path).exists():
            raise FileExistsError(f"{path} exists; kept") from None
        os.replace(tmp, path)
    else:
        Path(tmp).unlink()


def _atomic(path, write, overwrite=True):
    """Call ``write(tmp)`` on a hidden temporary name, then move it to ``path``.

    An interrupted run leaves at most a hidden temporary file, never a
    truncated output. With ``overwrite=False`` an existing ``path`` is never
    replaced (see :func:`_move`).
    """
    path = Path(path)
    tmp = _tmp_path(path)
    try:
        write(tmp)
        _move(tmp, path, overwrite)
    finally:
        if tmp.exists():
            tmp.unlink()


def _check_writable(folder):
    """Return why outputs cannot be written to ``folder``, or None.

    The folder (and its parents) is created if needed, and a temporary file
    is written to it and removed.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        return f"cannot write outputs to {folder}: it is a file, not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".mne_mousesleep_check"):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        return f"cannot write outputs to {folder}: {reason}"
    return None
