"""Process-wide thread policy for numerical libraries.

memvault serves many small requests on a few cores. numpy's BLAS (OpenBLAS) starts one thread
per core for a matrix-vector product and leaves them spinning afterwards; those threads then
compete with the next request's work and with the embedding model's own threads. Measured on
a 2-core machine: search p95 at 100,000 memories 100 ms with BLAS threads, 31 ms without; on
LoCoMo with the local model, 110 ms and 22 ms. A single-threaded product over 100,000 vectors
takes a few milliseconds.
"""

from __future__ import annotations

import contextlib

__all__ = ["single_threaded_blas"]


def single_threaded_blas() -> None:
    """Limit numpy's BLAS to one thread, for the whole process (idempotent)."""
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
