"""symtransfer._ranked_pool.RankedPool: the most urgent waiting task goes first."""
from __future__ import annotations

import threading
from concurrent.futures import CancelledError, ThreadPoolExecutor

import pytest

from symtransfer._ranked_pool import RankedPool


def _pool(slots: int = 1) -> tuple[RankedPool, threading.Event, list]:
    gate, order = threading.Event(), []
    return RankedPool(ThreadPoolExecutor(slots), slots), gate, order


def test_lower_rank_overtakes_earlier_fillers():
    pool, gate, order = _pool(1)
    blocker = pool.submit_ranked(5, gate.wait)  # occupies the only slot
    fillers = [pool.submit_ranked(3, order.append, f"filler{i}") for i in range(3)]
    urgent = [pool.submit(order.append, f"urgent{i}") for i in range(2)]
    gate.set()
    for f in [blocker, *fillers, *urgent]:
        f.result(timeout=10)
    # first come first served within a rank, rank 0 before rank 3
    assert order == ["urgent0", "urgent1", "filler0", "filler1", "filler2"]
    pool.shutdown()


def test_slots_bound_the_tasks_in_flight():
    pool, gate, _ = _pool(2)
    running, peak, lock = [0], [0], threading.Lock()

    def task():
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        gate.wait()
        with lock:
            running[0] -= 1

    futures = [pool.submit_ranked(i % 3, task) for i in range(6)]
    threading.Timer(0.2, gate.set).start()
    for f in futures:
        f.result(timeout=10)
    assert peak[0] == 2
    pool.shutdown()


def test_exceptions_reach_the_future_and_the_pool_goes_on():
    pool, _, _ = _pool(1)
    bad = pool.submit(lambda: 1 / 0)
    good = pool.submit(lambda: 42)
    with pytest.raises(ZeroDivisionError):
        bad.result(timeout=10)
    assert good.result(timeout=10) == 42
    pool.shutdown()


def test_cancel_while_waiting_and_shutdown():
    pool, gate, order = _pool(1)
    blocker = pool.submit(gate.wait)
    waiting = pool.submit(order.append, "never")
    assert waiting.cancel()
    kept = pool.submit_ranked(1, order.append, "kept")
    dropped = pool.submit_ranked(2, order.append, "dropped")
    gate.set()
    blocker.result(timeout=10)
    kept.result(timeout=10)
    dropped.result(timeout=10)
    assert order == ["kept", "dropped"]
    gate.clear()
    pool2, gate2, order2 = _pool(1)
    pool2.submit(gate2.wait)
    left = pool2.submit(order2.append, "left")
    threading.Timer(0.2, gate2.set).start()
    pool2.shutdown(wait=False, cancel_futures=True)
    with pytest.raises(CancelledError):
        left.result(timeout=10)
    with pytest.raises(RuntimeError, match="shut down"):
        pool2.submit(order2.append, "late")
    assert order2 == []
    pool.shutdown()


def test_shutdown_with_wait_runs_everything_waiting():
    pool, gate, order = _pool(1)
    pool.submit(gate.wait)
    futures = [pool.submit_ranked(1, order.append, i) for i in range(4)]
    threading.Timer(0.1, gate.set).start()
    pool.shutdown(wait=True)
    assert order == [0, 1, 2, 3] and all(f.done() for f in futures)


def test_bad_slots():
    with pytest.raises(ValueError, match="slots"):
        RankedPool(ThreadPoolExecutor(1), 0)
