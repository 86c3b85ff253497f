"""BLAS threads during a check: one, where the cost's evaluations are small.

A check evaluates the cost thousands of times, one small evaluation after another. A BLAS
left at its default (a thread per core) starts, wakes and joins its threads at every
matrix product: on a loaded machine a small network's evaluation took 28.6 ms with
OpenBLAS's two threads against 0.99 ms with one. So, for the duration of a check whose
parameters are few (:data:`ONE_THREAD_UP_TO`: a count, never a measured time), every BLAS
numpy and SciPy loaded runs on one thread (``threadpoolctl``), and the caller's setting is
put back afterwards, also when the cost raises. The values do not change: the check's own
arithmetic is the same, and a BLAS's result for one matrix product is the same on one
thread or several up to the order of its sums (round-off every bound allows for); the
decision depends on the parameter count alone, so a report is the same on any machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

#: Up to this many parameters a check runs BLAS on one thread. At 99,073 parameters the
#: notebook-style network's evaluation takes 0.19 ms on one thread (32 examples): work that
#: thread start-up and synchronisation on a busy machine can multiply; beyond about 1e5, one
#: product is large enough for a BLAS's threads to pay.
ONE_THREAD_UP_TO = 131_072
#: The environment variables that pin the common BLAS libraries' threads (OpenBLAS, the
#: OpenMP-threaded ones, MKL): set to 1 all together, there is nothing to limit.
PINNING = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@contextmanager
def blas_threads_for(size: int) -> Iterator[None]:
    """One BLAS thread within the block when ``size`` (the parameter count) is at most
    :data:`ONE_THREAD_UP_TO`; the caller's threads are restored on leaving it, however it is left.

    Nothing is done where the environment pins every BLAS to one thread already, or the
    machine has one core (the library scan ``threadpoolctl`` makes costs about a millisecond).
    """
    pinned = all(os.environ.get(v) == "1" for v in PINNING)
    if size > ONE_THREAD_UP_TO or pinned or (os.cpu_count() or 1) < 2:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
