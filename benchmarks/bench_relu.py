"""ReLU transfer benchmark: pretraining, each method, and a small sweep, at the defaults.

Run: ``python benchmarks/bench_relu.py``. Defaults of :func:`symtransfer.relu.simulate_relu`:
d = 30, teacher width 3, student width 32, 16 instances, alpha = 1e-4; here at gamma = 0.5,
theta = pi/4, sigma = 0.1. Prints seconds and mean steps per phase, the risks, and the time of
a 4 x 4 (gamma, theta) sweep of all three methods in this process.
"""
from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import numpy as np

from symtransfer.relu import experiment as E
from symtransfer.relu import simulate_relu, transferability
from symtransfer.relu.sweep import run_relu_sweep

GAMMA, THETA, SIGMA = 0.5, math.pi / 4, 0.1


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    kw = dict(gamma=GAMMA, theta=THETA, sigma=SIGMA, progress=False)
    d = E.DEFAULTS
    E._PRETRAINED.clear()
    (_, pre), t_pre = _timed(lambda: E.pretrained(
        d["seed"], d["instances"], d=d["d"], teacher_width=d["teacher_width"],
        width=d["width"], alpha=d["alpha"], tol=d["tol"], max_steps=d["max_steps"],
        gamma_s=None))
    rows = [("pretrain (population)", t_pre, pre.steps.mean(), float("nan"))]
    results = {}
    for method in ("scratch", "linear", "finetune"):
        r, t = _timed(lambda: simulate_relu(method, **kw))   # pretraining is cached
        steps = sum(v["steps"] for k, v in r.diagnostics.items()
                    if "steps" in v and k != "pretrain")
        rows.append((method, t, float(np.mean(steps)) if np.ndim(steps) else 0.0, r.mean))
        results[method] = r
    with tempfile.TemporaryDirectory() as tmp:
        grid = {"gamma": [0.2, 0.5, 1.0, 2.0], "theta": np.linspace(0, math.pi / 2, 4)}
        E._PRETRAINED.clear()
        _, t_sweep = _timed(lambda: run_relu_sweep(grid, path=Path(tmp) / "s.npz",
                                                   sigma=SIGMA, progress=False))
    print(f"d = {d['d']}, width = {d['width']}, teacher width = {d['teacher_width']}, "
          f"{d['instances']} instances; gamma = {GAMMA}, theta = pi/4, sigma = {SIGMA}")
    print(f"{'phase':<24}{'seconds':>9}{'mean steps':>12}{'risk':>9}")
    for name, t, steps, risk in rows:
        print(f"{name:<24}{t:>9.2f}{steps:>12.0f}{risk:>9.3f}")
    for method in ("linear", "finetune"):
        T, sem = transferability(results["scratch"], results[method])
        print(f"T {method:<22}{T:>+9.3f} +- {sem:.3f}")
    print(f"{'sweep 4 x 4, 3 methods':<24}{t_sweep:>9.2f}   (one process, pretraining shared)")


if __name__ == "__main__":
    main()
