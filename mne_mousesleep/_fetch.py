"""Download and cache of the published weights and example data with pooch."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pooch
from mne.utils import logger

#: Environment variable overriding the cache directory.
CACHE_ENV = "MNE_MOUSESLEEP_DATA"
#: Environment variable naming an offline mirror (a directory or a base URL).
MIRROR_ENV = "MNE_MOUSESLEEP_MIRROR"

_GRIEGER_URL = (
    "https://github.com/dslaborg/sleep-mice-tuebingen/raw/"
    "95208c327b06284658afe17bb3f4e95778f3f943/results/{exp}/model_3conv_pool-best.pth"
)
_MISLEEP_URL = (
    "https://github.com/BryanWang0702/MiSleep/raw/"
    "3968c6fd42bb4c68acb875e3aeaf74bf9b809e0a/tests/data/{name}"
)


def _weights_entry(exp, sha256):
    return dict(
        fname=f"grieger2021_{exp}_model_3conv_pool-best.pth",
        subdir="weights",
        sha256=sha256,
        url=_GRIEGER_URL.format(exp=exp),
    )


def _data_entry(fname, upstream, sha256):
    return dict(
        fname=fname,
        subdir="data",
        sha256=sha256,
        url=_MISLEEP_URL.format(name=upstream),
    )


# One registry for every remote file: local file name, the sub-folder it has in
# an offline mirror, sha256 and the upstream URL pinned to a commit.
REGISTRY = {
    "grieger2021_exp005e": _weights_entry(
        "exp005e", "330c8e1f535cc20a87b0857cdae181e49f6f48afc007896c8790a8de895883dd"
    ),
    "grieger2021_exp001b": _weights_entry(
        "exp001b", "08960d5f78756bd85dc884d4923b3780f30a95ea1d229d94b996a29bf625b373"
    ),
    "grieger2021_exp005f": _weights_entry(
        "exp005f", "0c43f73bdb59e460289a3f77774a3352f9d19b36b21bd946c7d29755691fd70b"
    ),
    "grieger2021_exp002b": _weights_entry(
        "exp002b", "38213426aa810798302b0ea27a37427fe8d63218902fcad3000a3ee71b751052"
    ),
    "grieger2021_exp004b": _weights_entry(
        "exp004b", "4e6d43d966b23097d728b2e8a4dfb247cb486fe71eaca27606c6121fdcd32724"
    ),
    "misleep_mat": _data_entry(
        "misleep_10min_example.mat",
        "10mins_example_mat.mat",
        "3071d65f92af60faeb78842d0a31a4e2e73931ea220cfb0b2fbb00a40f355555",
    ),
    "misleep_edf": _data_entry(
        "misleep_10min_example.edf",
        "10mins_example_edf.edf",
        "6ed82530ae3545b4af398ad7744cb37638dc948db9fcafe703be11be5179b7eb",
    ),
}


def get_cache_dir():
    """Return the directory where downloaded files are cached.

    Returns
    -------
    path : pathlib.Path
        The value of the environment variable ``MNE_MOUSESLEEP_DATA`` when it
        is set, otherwise ``pooch.os_cache("mne_mousesleep")``.
    """
    cache = os.environ.get(CACHE_ENV, "")
    return Path(cache).expanduser() if cache else Path(pooch.os_cache("mne_mousesleep"))


def _mirror_url(mirror, entry):
    """Return the URL or local path of ``entry`` in an offline mirror."""
    if urlparse(mirror).scheme in ("http", "https", "ftp", "sftp"):
        return f"{mirror.rstrip('/')}/{entry['subdir']}/{entry['fname']}"
    return str(Path(mirror).expanduser() / entry["subdir"] / entry["fname"])


def _copy_downloader(url, output_file, pooch_obj):
    """Pooch downloader that copies a file from a local mirror directory."""
    if not Path(url).is_file():
        raise FileNotFoundError(
            f"The offline mirror set by {MIRROR_ENV} has no file {url!r}."
        )
    shutil.copyfile(url, output_file)


def fetch_file(key):
    """Download (or take from the cache) one registered file and verify it.

    Parameters
    ----------
    key : str
        A key of :data:`REGISTRY`.

    Returns
    -------
    path : pathlib.Path
        The local, sha256-verified file.

    Raises
    ------
    ValueError
        If the downloaded file does not have the registered sha256; the file
        is not kept.
    OSError
        If the file cannot be fetched (no connection, no mirror or a mirror
        without it); the message names ``MNE_MOUSESLEEP_MIRROR`` and,
        for a corrupted cached file, says so. A corrupted cached file that is
        fetched again is logged.
    """
    entry = REGISTRY[key]
    mirror = os.environ.get(MIRROR_ENV, "")
    url = _mirror_url(mirror, entry) if mirror else entry["url"]
    downloader = None
    if mirror and urlparse(url).scheme == "":
        downloader = _copy_downloader
    logger.debug(f"Fetching {entry['fname']} from {url}")
    cached = get_cache_dir() / entry["fname"]
    repairing = cached.is_file() and _file_sha256(cached) != entry["sha256"]
    if repairing:
        logger.warning(
            f"The cached file {cached} does not match its sha256 (corrupted or "
            "changed); fetching it again."
        )
    try:
        path = pooch.retrieve(
            url,
            known_hash=f"sha256:{entry['sha256']}",
            fname=entry["fname"],
            path=get_cache_dir(),
            downloader=downloader,
            progressbar=False,
        )
    except ValueError as err:
        if "hash" not in str(err).lower():
            raise
        raise ValueError(
            f"The file {entry['fname']!r} downloaded from {url} does not have the "
            f"expected sha256 {entry['sha256']}; it was rejected and not cached. "
            f"Check the mirror ({MIRROR_ENV}) or your connection. ({err})"
        ) from None
    except (OSError, RuntimeError) as err:  # requests' errors are OSErrors
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        if len(reason) > 200:
            reason = reason[:200] + "..."
        where = f"the mirror {mirror!r} ({MIRROR_ENV})" if mirror else url
        fix = (
            f"check that {MIRROR_ENV} points at a folder or URL holding "
            f"{entry['subdir']}/{entry['fname']}"
            if mirror
            else f"offline? set {MIRROR_ENV} to a folder or URL holding "
            f"{entry['subdir']}/{entry['fname']} (an offline mirror)"
        )
        state = (
            f"The cached {cached} is corrupted (sha256 mismatch) and "
            if repairing
            else ""
        )
        kind = FileNotFoundError if isinstance(err, FileNotFoundError) else OSError
        raise kind(
            f"{state}{entry['fname']} could not be fetched from {where}: {fix}"
            f"{'; or delete the corrupted file' if repairing else ''}. ({reason})"
        ) from None
    if repairing:
        logger.info(f"Repaired the cached file {cached} (sha256 verified).")
    return Path(path)


def _file_sha256(path):
    """Return the sha256 of a file (hex), computed by pooch."""
    return pooch.file_hash(str(path), alg="sha256")
