"""Keep freed memory in this process's heap (glibc), so that numpy temporaries are reused.

The simulators allocate arrays of 0.1-1 MB at every step (a two-layer ReLU network's
``(K, n, m)`` activations, a deep linear network's per-instance products). glibc's malloc
returns the top of its heap to the system as soon as more than ``M_TRIM_THRESHOLD`` is free
and grows it again on the next allocation, so each step pays fresh page faults: measured, a
ReLU loss-and-gradient evaluation at K = 16, n = 60, m = 32 takes ~600 us that way and
~250 us when the heap keeps a 64 MiB pad. :func:`keep_freed_memory` sets that pad and trim
threshold with ``mallopt`` (the same settings as the ``MALLOC_TOP_PAD_`` and
``MALLOC_TRIM_THRESHOLD_`` environment variables). It changes speed only, never a number.

symtransfer calls it in processes it owns (sweep workers, the report, the command line),
not on import: a library should not change a user's interpreter behind its back. Call it
yourself in a notebook that runs long simulations. Elsewhere than glibc it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD, M_TOP_PAD = -1, -2
TOP_PAD = 64 << 20        # bytes added to every heap growth
TRIM_THRESHOLD = 256 << 20  # free bytes at the top before any is returned

_done = False


def keep_freed_memory() -> bool:
    """Set glibc's heap pad and trim threshold for this process (once); True if it did."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    _done = bool(mallopt(M_TOP_PAD, TOP_PAD)) and bool(mallopt(M_TRIM_THRESHOLD,
                                                              TRIM_THRESHOLD))
    return _done
