"""The Mouse Sleep Staging Validation dataset (MSSV, OpenNeuro ds006366, CC0).

The package ships the dataset's manifests (every file's path, size and
sha256; the signal files' S3 version ids, read from the dataset's own
git-annex records) and downloads the chosen recordings with pooch, each file
verified by its sha256 and size, into a BIDS folder.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import os
import shutil
from pathlib import Path

import pandas as pd
import pooch
from mne.utils import logger, verbose

from .._fetch import get_cache_dir
from .._progress import _progress

#: The dataset's public bucket (its git-annex remote).
MSSV_URL = "https://s3.amazonaws.com/openneuro.org/ds006366/"
#: Environment variable giving another base URL (a mirror laid out as the
#: bucket, e.g. the tests' loopback server).
MSSV_URL_ENV = "MNE_MOUSESLEEP_MSSV_URL"
MANIFESTS = Path(__file__).with_name("mssv")
#: Free space kept beside the files to download (bytes).
DISK_MARGIN = 100_000_000
_TOP = (
    "dataset_description.json",
    "participants.tsv",
    "participants.json",
    "task-sleep_eeg.json",
    "task-sleep_events.json",
    "README.md",
    "CHANGES",
)


def _manifests():
    """Return the manifests: signal files (with lab, version id), text files."""
    edf = pd.read_csv(MANIFESTS / "edf_manifest.tsv", sep="\t", dtype=str)
    text = pd.read_csv(MANIFESTS / "text_manifest.tsv", sep="\t", dtype=str)
    return edf, text


def _select(edf, subjects, labs):
    """Return the recordings of ``subjects`` and ``labs`` (None: all), checked."""
    edf = edf.assign(subject=edf["path"].str.split("/").str[0])
    known_labs = sorted(edf["lab"].unique())
    if labs is not None:
        labs = [labs] if isinstance(labs, str) else list(labs)
        unknown = sorted(set(labs) - set(known_labs))
        if unknown:
            raise ValueError(f"labs {unknown} are not MSSV's: {known_labs}.")
        edf = edf[edf["lab"].isin(labs)]
    if subjects is not None:
        subjects = [subjects] if isinstance(subjects, str | int) else list(subjects)
        wanted = {
            s if str(s).startswith("sub-") else f"sub-{int(s):03d}" for s in subjects
        }
        unknown = sorted(wanted - set(edf["subject"]))
        if unknown:
            raise ValueError(
                f"subjects {unknown} are not MSSV's (or not of labs {labs}): "
                f"{edf['subject'].iloc[0]} ... {edf['subject'].iloc[-1]}."
            )
        edf = edf[edf["subject"].isin(wanted)]
    return edf


def _files(edf, text):
    """Every file to fetch: ``(path, size, sha256, version id or None)``."""
    sizes = dict(zip(text["path"], text["size"]))
    hashes = dict(zip(text["path"], text["sha256"]))
    out = [(p, int(sizes[p]), hashes[p], None) for p in _TOP if p in sizes]
    for _, row in edf.iterrows():
        sub = row["subject"]
        stem = row["path"][: -len("_eeg.edf")]
        for path in (f"{stem}_events.tsv", f"{sub}/eeg/{sub}_task-sleep_channels.tsv"):
            if path in sizes and path not in [f[0] for f in out]:
                out.append((path, int(sizes[path]), hashes[path], None))
        out.append((row["path"], int(row["size"]), row["sha256"], row["version_id"]))
    return out


def _present(root, path, size):
    """Whether a file is there with its size (its hash is checked by pooch)."""
    file = root / path
    return file.is_file() and file.stat().st_size == size


@verbose
def fetch_mssv(subjects=None, labs=None, path=None, *, verbose=None):
    """Download recordings of the Mouse Sleep Staging Validation dataset.

    Each recording's EDF (128 Hz, volts; 1-4 EEG channels and an EMG), its
    expert scoring (``*_events.tsv``, 4-s epochs, read with
    :func:`~mne_mousesleep.read_scoring`) and channels file, and the
    dataset's sidecars, into a BIDS folder. Every file is verified by the
    sha256 and size of the manifest the package ships; a file already there
    and intact is kept, a corrupted or truncated one is fetched again, so an
    interrupted call resumes where it stopped (file by file: pooch writes each
    to a temporary name first). A progress bar counts the files.

    Parameters
    ----------
    subjects : str | int | list | None
        Subjects (``"sub-001"`` or ``1``); None: all of ``labs``.
    labs : str | list of str | None
        ``"lab_1"`` to ``"lab_5"``; None: all.
    path : path-like | None
        The BIDS root; None: ``mssv`` in the package's cache directory.
    %(verbose)s

    Returns
    -------
    path : pathlib.Path
        The BIDS root.
    recordings : list of pathlib.Path
        The EDF files fetched, in the manifest's order.

    Raises
    ------
    ValueError
        For subjects or labs the dataset does not have, or a file whose
        sha256 or size differs from the manifest's (it is removed).
    OSError
        When the disk lacks the space for the files still to download
        (before any is downloaded), or a file cannot be downloaded (naming
        it).

    Notes
    -----
    All 148 recordings are 6.5 GB. The signals come from the dataset's
    public bucket, each at its version id; ``MNE_MOUSESLEEP_MSSV_URL`` gives
    another base URL laid out as the bucket.

    References
    ----------
    Rose et al. (2025). Sleep Advances. doi:10.1093/sleepadvances/zpaf025
    """
    edf, text = _manifests()
    chosen = _select(edf, subjects, labs)
    root = Path(path) if path is not None else Path(get_cache_dir()) / "mssv"
    root.mkdir(parents=True, exist_ok=True)
    files = _files(chosen, text)
    missing = [f for f in files if not _present(root, f[0], f[1])]
    need = sum(f[1] for f in missing)
    free = shutil.disk_usage(root).free
    if need + DISK_MARGIN > free:
        raise OSError(
            f"Fetching {len(missing)} MSSV file(s) needs {need / 1e9:.2f} GB in "
            f"{root}, and {free / 1e9:.2f} GB are free (with {DISK_MARGIN / 1e9:.1f} "
            "GB to spare): free space, pass another path=, or fewer subjects/labs."
        )
    base = os.environ.get(MSSV_URL_ENV) or MSSV_URL
    base = base if base.endswith("/") else base + "/"
    logger.info(
        f"MSSV: {len(chosen)} recording(s), {len(missing)} of {len(files)} file(s) "
        f"to download ({need / 1e6:.1f} MB) into {root}"
    )
    todo = _progress(files, mesg="Fetching MSSV") if missing else files
    for rel, size, sha256, version in todo:
        url = base + rel + (f"?versionId={version}" if version else "")
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            pooch.retrieve(
                url,
                known_hash=f"sha256:{sha256}",
                fname=target.name,
                path=target.parent,
                progressbar=False,
            )
        except ValueError as err:  # pooch: hash mismatch (the file is removed)
            raise ValueError(
                f"MSSV file {rel} does not match the manifest's sha256 ({err}); "
                "fetch it again, or report a changed dataset."
            ) from None
        except Exception as err:  # noqa: BLE001 (requests' errors, and others)
            raise OSError(
                f"MSSV file {rel} could not be downloaded from {url}: {err}"
            ) from None
        got = target.stat().st_size
        if got != size:
            target.unlink()
            raise ValueError(
                f"MSSV file {rel} has {got} bytes, the manifest {size}: removed; "
                "fetch it again."
            )
    return root, [root / p for p in chosen["path"]]
