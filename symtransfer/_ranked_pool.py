"""An executor that hands its tasks to another one most urgent first.

``concurrent.futures.ProcessPoolExecutor`` runs tasks in the order they were submitted. The
report submits long, independent work early (the derivations, the theory-only figures) and
its simulations later, one sweep at a time; in submission order the simulations -- whose
results the other figures wait for -- would queue behind all of it. :class:`RankedPool` keeps
at most ``slots`` tasks (one per worker) in the inner executor and holds the rest, handing
out the lowest rank first (first come, first served within a rank), so work submitted later
but needed sooner overtakes the fillers as soon as a worker is free.
"""
from __future__ import annotations

import heapq
import itertools
import threading
from concurrent.futures import Executor, Future
from concurrent.futures import wait as wait_for
from typing import Any, Callable


class RankedPool(Executor):
    """``inner`` with a ranked waiting list: :meth:`submit` is rank 0 (the most urgent),
    :meth:`submit_ranked` any rank. ``slots``: tasks given to ``inner`` at a time (its
    worker count, so that none waits in its own first-in-first-out queue)."""

    def __init__(self, inner: Executor, slots: int) -> None:
        if int(slots) < 1:
            raise ValueError(f"slots must be >= 1, got {slots!r}")
        self.inner, self.slots = inner, int(slots)
        self._waiting: list[tuple[int, int, Future, Callable, tuple, dict]] = []
        self._count = itertools.count()
        self._running = 0
        self._lock = threading.RLock()
        self._closed = False

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        return self.submit_ranked(0, fn, *args, **kwargs)

    def submit_ranked(self, rank: int, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        """``fn(*args, **kwargs)`` once no task of a lower rank waits and a slot is free."""
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to a pool that was shut down")
            heapq.heappush(self._waiting, (int(rank), next(self._count), future, fn, args,
                                           kwargs))
        self._dispatch()
        return future

    def _dispatch(self) -> None:
        """Give waiting tasks to ``inner`` while slots are free (cancelled ones are dropped).
        Popping a task and handing it over happen under one (reentrant) lock, so that
        :meth:`shutdown` never sees an empty list while a task is between the two."""
        with self._lock:
            while self._running < self.slots and self._waiting:
                _, _, future, fn, args, kwargs = heapq.heappop(self._waiting)
                if not future.set_running_or_notify_cancel():
                    continue  # cancelled while waiting
                try:
                    inner = self.inner.submit(fn, *args, **kwargs)
                except BaseException as error:  # noqa: BLE001 - reported on its future
                    future.set_exception(error)
                    continue
                self._running += 1
                inner.add_done_callback(lambda done, outer=future: self._finished(done, outer))

    def _finished(self, done: Future, outer: Future) -> None:
        with self._lock:
            self._running -= 1
        if done.cancelled():
            outer.set_exception(RuntimeError("the task was cancelled by its executor"))
        elif done.exception() is not None:
            outer.set_exception(done.exception())
        else:
            outer.set_result(done.result())
        self._dispatch()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No new tasks; ``cancel_futures`` cancels the waiting ones. ``wait``: run the rest
        (waiting and running) to the end first; otherwise the waiting ones fail with a
        RuntimeError and ``inner`` is shut down at once."""
        with self._lock:
            self._closed = True
            left = [item[2] for item in self._waiting]
        if cancel_futures:
            for future in left:
                future.cancel()
        elif wait:
            while True:
                with self._lock:
                    pending = [item[2] for item in self._waiting]
                if not pending:
                    break
                wait_for(pending[-1:])  # until that task is done (or cancelled)
        else:
            with self._lock:
                waiting, self._waiting = self._waiting, []
            for item in waiting:
                if item[2].set_running_or_notify_cancel():
                    item[2].set_exception(RuntimeError("the pool was shut down first"))
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)
