"""The command line: ``mne-mousesleep score``, ``convert``, ``train``, ``models``.

A thin layer: ``_parser`` reads the flags, ``_commands`` turns them into one
call of the Python API each (``score`` builds a
:class:`~mne_mousesleep.ScoringOptions` and scores through the batch's own
single-recording path); :func:`main` reports errors in one line.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import sys
import warnings

from ._messages import _for_cli
from ._parser import _ARCHITECTURES, _OUTPUT_FORMATS, _SCORING_FORMATS, _parser

__all__ = ["_ARCHITECTURES", "_OUTPUT_FORMATS", "_SCORING_FORMATS", "main"]


def main(argv=None):
    """Run the command-line interface.

    Parameters
    ----------
    argv : list of str | None
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    code : int
        Exit status: 0 on success; for ``score`` of several recordings, the
        number of recordings that failed (at most 255); otherwise 1 on a
        failed scoring, a refused overwrite or any other error (one line on
        standard error naming the problem; ``--debug`` shows the traceback);
        2 on a usage error; 130 when interrupted.
    """
    args = _parser().parse_args(argv)
    if args.debug:
        args.verbose = "debug"
    try:
        with warnings.catch_warnings():
            if not args.debug:  # the recording's warning, not the launcher's line
                warnings.simplefilter("always")  # a line each, never an error
                warnings.showwarning = _show_warning
            return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 (one line for the user)
        if args.debug:
            raise
        print(f"error: {_for_cli(_one_line(err))}", file=sys.stderr)
        if not isinstance(err, ValueError | TypeError | OSError):
            print(
                "This looks like a bug; run again with --debug and report the "
                "traceback.",
                file=sys.stderr,
            )
        return 1


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Print a warning as one line for a person: no source line, no launcher."""
    text = " ".join(str(message).split())
    print(f"warning: {_for_cli(text)}", file=file or sys.stderr)


def _one_line(err):
    """Return the message of an exception for a person (no traceback)."""
    text = str(err).strip() or type(err).__name__
    if isinstance(err, OSError) and err.filename and str(err.filename) not in text:
        text = f"{err.filename}: {text}"
    if isinstance(err, PermissionError):
        text += " (check the permissions of the file or folder)"
    if not isinstance(err, ValueError | TypeError | OSError):
        text = f"{type(err).__name__}: {text}"
    return " ".join(text.split())
