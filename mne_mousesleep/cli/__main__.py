"""``python -m mne_mousesleep.cli``: the command line."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import sys

from . import main

sys.exit(main())
