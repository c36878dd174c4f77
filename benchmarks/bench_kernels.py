"""Kernel benchmark: generated numpy kernels vs hand-written numpy, cold start, mpmath speed.

Run: ``python benchmarks/bench_kernels.py``. Prints

1. for a 10^6-point (gamma, theta) grid, the time of ``symtransfer.risk`` divided by the time of
   the same formula hand-written in numpy (target: <= 1.5);
2. the cold-start cost of ``import symtransfer`` plus a first fine-tuning risk, beyond
   interpreter start (target: < 0.5 s);
3. mpmath evaluation at 50 digits, in points per second.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time

import numpy as np

import symtransfer as st

SIGMA, LAM = 0.2, 0.1




def _best_pair(fa, fb, repeat: int = 25) -> tuple[float, float]:
    """Best-of-``repeat`` times of two functions, calls interleaved so that both see the same
    machine state (allocator, caches, frequency)."""
    ta, tb = [], []
    for _ in range(repeat):
        for fn, times in ((fa, ta), (fb, tb)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return min(ta), min(tb)


def _hand_scratch(g, t):
    with np.errstate(all="ignore"):
        return np.where(g < 1, 1 - g + SIGMA ** 2 * g / (1 - g), SIGMA ** 2 / (g - 1)) + 0 * t


def _hand_ridge(g, t):
    return (1 - np.cos(t) ** 2 * (1 + 2 * LAM) / (1 + LAM) ** 2) + 0 * g


def _hand_finetune_paper(g, t):
    with np.errstate(all="ignore"):
        return np.where(g < 1, 2 * (1 - g) * (1 - np.cos(t)) + SIGMA ** 2 * g / (1 - g),
                        SIGMA ** 2 / (g - 1))


def _hand_finetune_exact_l2(g, t):
    with np.errstate(all="ignore"):
        a = 1 - g
        noise = SIGMA ** 2 * g / a
        kappa = (a + np.sqrt(a * a + 4 * (g + noise))) / 2
        below = a * (kappa - 2 * np.sqrt(kappa) * np.cos(t) + 1) + noise
        return np.where(g < 1, below, SIGMA ** 2 / (g - 1))


CASES = [
    ("scratch", dict(method="scratch", sigma=SIGMA), _hand_scratch),
    ("ridge transfer", dict(method="linear", lam=LAM), _hand_ridge),
    ("fine-tune, paper", dict(method="finetune", sigma=SIGMA, form="paper"), _hand_finetune_paper),
    ("fine-tune, exact L=2", dict(method="finetune", sigma=SIGMA, depth=2), _hand_finetune_exact_l2),
]


def kernel_ratios(points: int = 1000, dense: bool = False) -> list[tuple[str, float, float]]:
    """Outer grid (gamma column x theta row), or dense (both given as 10^6-element arrays)."""
    gamma = np.linspace(0.01, 3.0, points)
    gamma = gamma[gamma != 1.0][:, None]
    theta = np.linspace(0.0, np.pi / 2, points)[None, :]
    if dense:
        gamma, theta = np.broadcast_arrays(gamma, theta)
        gamma, theta = gamma.copy(), theta.copy()
    rows = []
    for name, kwargs, hand in CASES:
        method = kwargs.pop("method")
        ours = st.risk(method, gamma=gamma, theta=theta, **kwargs)
        theirs = hand(gamma, theta)
        assert np.allclose(ours, theirs, rtol=1e-12, atol=1e-14), name
        t_ours, t_hand = _best_pair(lambda: st.risk(method, gamma=gamma, theta=theta, **kwargs),
                                    lambda: hand(gamma, theta))
        kwargs["method"] = method
        rows.append((name, t_ours, t_hand))
    return rows


def cold_start(repeat: int = 7) -> tuple[float, float]:
    def run(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    call = ("import symtransfer; "
            "symtransfer.risk('finetune', gamma=0.5, theta=1.0, sigma=0.2)")
    bare = statistics.median(run("pass") for _ in range(repeat))
    ours = statistics.median(run(call) for _ in range(repeat))
    return bare, ours


def mpmath_rate(depth: int, points: int = 200) -> float:
    gamma = np.linspace(0.05, 0.95, points)
    start = time.perf_counter()
    st.risk("finetune", gamma=gamma, theta=1.0, sigma=0.2, depth=depth, precision=50)
    return points / (time.perf_counter() - start)


def main() -> None:
    print("1. numpy kernels on a 10^6-point (gamma, theta) grid (best of 25), target ratio <= 1.5")
    for dense in (False, True):
        print(f"   {'dense 10^6 inputs' if dense else 'outer grid: column x row':24s} "
              f"{'symtransfer':>12s} {'hand numpy':>12s} {'ratio':>7s}")
        for name, ours, hand in kernel_ratios(dense=dense):
            print(f"   {name:24s} {ours:11.4f}s {hand:11.4f}s {ours / hand:7.2f}")
    bare, ours = cold_start()
    print("2. cold start: import symtransfer + first risk('finetune', ...) (median of 7)")
    print(f"   interpreter {bare:.3f}s, with symtransfer {ours:.3f}s, "
          f"extra {ours - bare:.3f}s (target < 0.5s)")
    print("3. mpmath at 50 digits, fine-tuning risk")
    for depth in (2, 3, 4):
        print(f"   depth {depth}: {mpmath_rate(depth):8.0f} points/s")


if __name__ == "__main__":
    main()
