"""Running a batch's recordings: here, in local worker processes or on Dask."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import os
import threading
import time

from .._progress import _progress
from ._one import _score_one


def _run(todo, run, n_jobs, client):
    """Yield ``(index, result, outputs)`` as recordings finish, with progress."""
    if not todo:
        return
    if client is not None:
        gen = _run_dask(todo, run, client)
    elif n_jobs > 1 and len(todo) > 1:
        gen = _run_processes(todo, run, n_jobs)
    else:
        gen = (
            (ii, _score_one(job, paths, run, None), out) for ii, job, paths, out in todo
        )
    # One step per finished recording; tqdm's ETA is per recording.
    yield from _progress(gen, max_value=len(todo), mesg="Scoring recordings")


def _watch_parent(ppid):
    while True:
        time.sleep(0.5)
        if os.getppid() != ppid:  # the parent is gone (even by SIGKILL)
            os._exit(1)


def _worker_init(parent_pid):
    """Start a thread that ends this worker process when its parent dies.

    The parent's pid is passed rather than read here: the parent may already
    be gone by the time a worker has imported what it needs.
    """
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


def _run_processes(todo, run, n_jobs):
    from concurrent.futures import as_completed

    from joblib.externals.loky import get_reusable_executor

    threads = max(1, (os.cpu_count() or 1) // n_jobs)
    executor = get_reusable_executor(
        max_workers=min(n_jobs, len(todo)),
        initializer=_worker_init,
        initargs=(os.getpid(),),
    )
    futures = {
        executor.submit(_score_one, job, paths, run, threads): (ii, out)
        for ii, job, paths, out in todo
    }
    try:
        for future in as_completed(futures):
            ii, out = futures[future]
            yield ii, future.result(), out
    finally:
        for future in futures:
            future.cancel()


def _run_dask(todo, run, client):
    from .._dask import _dask_client

    with _dask_client(client, "Scoring") as client:
        from distributed import as_completed

        futures = {}
        for ii, job, paths, out in todo:
            future = client.submit(
                _score_one, job, paths, run, None, pure=False, key=f"score-{ii}"
            )
            futures[future] = (ii, out)
        for future in as_completed(futures):
            ii, out = futures[future]
            yield ii, future.result(), out
