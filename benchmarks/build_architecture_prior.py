"""Rebuild the architecture prior shipped with the package from MSSV.

Reads the expert scorings of the Mouse Sleep Staging Validation dataset
(``mssv_stages_4s.npz`` and ``participants.tsv``; CC0) and writes
``mne_mousesleep/architecture_mssv.json``
(:func:`mne_mousesleep._architecture.derive_architecture`), then prints
the facts per lab: REM bouts, the 95th percentile and the longest REM bout
(bin edges, s), the stages REM is entered from, and the NREM share of the
2 min before REM onsets (5th percentile and median). ``tests/test_architecture.py``
checks the shipped table against the data.

Run: ``python benchmarks/build_architecture_prior.py [../shared/data/mssv]``
"""

import json
import sys
from pathlib import Path

from mne_mousesleep._architecture import (
    PRIOR_FILE,
    bout_quantile,
    derive_architecture,
)


def main():
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/mssv")
    table = derive_architecture(folder)
    PRIOR_FILE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"Wrote {PRIOR_FILE} ({PRIOR_FILE.stat().st_size} bytes)")
    print(
        f"{'lab':<8} {'rec':>4} {'hours':>7} {'REM bouts':>9} {'REM p95':>8} "
        f"{'REM max':>8} {'from NREM':>9} {'from Wake':>9} {'run-up p5':>9} "
        f"{'median':>6}"
    )
    for lab, entry in table["labs"].items():
        prior = dict(entry, bout_edges_s=table["bout_edges_s"])
        rem = entry["rem"]
        print(
            f"{lab:<8} {entry['recordings']:>4} {entry['hours']:>7.0f} "
            f"{rem['n_bouts']:>9} {bout_quantile(prior, 'REM', 95):>7.0f}s "
            f"{bout_quantile(prior, 'REM', 100):>7.0f}s "
            f"{rem['entered_from'].get('NREM', 0):>9.1%} "
            f"{rem['entered_from'].get('Wake', 0):>9.1%} "
            f"{rem['runup_quantiles']['5']:>9.2f} {rem['runup_quantiles']['50']:>6.2f}"
        )


if __name__ == "__main__":
    main()
