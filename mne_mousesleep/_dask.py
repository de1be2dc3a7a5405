"""A Dask client for the batch and the cross-validation (optional dependency)."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

from contextlib import contextmanager


@contextmanager
def _dask_client(client, what):
    """Yield a :class:`distributed.Client` for ``client`` (a client or address).

    A client made here from a scheduler address is closed on exit; ``what``
    names the work in the error raised when dask.distributed is missing.
    """
    try:
        from distributed import Client
    except ImportError:
        raise ImportError(
            f"{what} on a Dask cluster needs dask.distributed "
            "(pip install mne-mousesleep[dask])."
        ) from None
    own = isinstance(client, str)
    if own:
        client = Client(client)
    try:
        yield client
    finally:
        if own:
            client.close()
