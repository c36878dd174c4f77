"""The training progress bar means something: 0-100% of the slowest instance's log-distance
to the tolerance, shown only after 2 s unless asked for, and 100% when every instance
converged."""
from __future__ import annotations

import io

import numpy as np

from symtransfer.mc import gradient_flow as gf


class _Bar:
    """Stand-in for a tqdm bar with the attributes _tick uses."""

    def __init__(self, tol):
        self.n, self.tol, self.start_error, self.postfix = 0, tol, None, None

    def set_postfix(self, **kw):
        self.postfix = kw

    def refresh(self):
        pass


def test_tick_measures_log_distance_to_tol():
    bar = _Bar(1e-6)
    active = np.array([True, True, False])
    gf._tick(bar, 0, active, np.array([1e-2, 1e-1, 1e-9]))   # start: worst active 0.1
    assert bar.n == 0 and bar.postfix["done"] == "1/3"
    gf._tick(bar, 20, active, np.array([1e-3, 1e-2, 1e-9]))  # one decade of five
    assert bar.n == 20
    gf._tick(bar, 40, active, np.array([1e-7, 1e-5, 1e-9]))  # four of five
    assert bar.n == 80
    gf._tick(bar, 41, active, np.array([1e-7, 1e-9, 1e-9]))  # only every 20 steps
    assert bar.n == 80


def test_progress_bar_total_and_delay(monkeypatch):
    bar = gf._progress_bar(None, 1e-6, "x")
    assert bar.total == 100 and bar.delay == 2.0 and bar.tol == 1e-6
    bar.close()
    assert gf._progress_bar(False, 1e-6, "x") is None
    shown = gf._progress_bar(True, 1e-6, "x")
    assert shown.delay == 0
    shown.close()


def test_a_converged_run_ends_at_100_percent(monkeypatch):
    import symtransfer as st

    bars = []
    real = gf._progress_bar

    def spy(progress, tol, label):
        bar = real(progress, tol, label)
        if bar is not None:
            bar.fp = io.StringIO()
            bars.append(bar)
        return bar

    monkeypatch.setattr(gf, "_progress_bar", spy)
    r = st.simulate("scratch", gamma=0.5, d=30, instances=2, seed=0, progress=True)
    assert r.converged.all() and bars
    assert all(b.n == 100 for b in bars)
