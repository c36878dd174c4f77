"""Deep-network L2-SP: the best penalty by Monte-Carlo, against the theory and fine-tuning.

For each angle, gradient flow with the penalty lam sum_l |W_l - W_l^pre|^2 (depth 2, d = 80,
16 runs, the same data and pretrained weights for every lam) at lam = 0.05 ... 1.6 (doubling),
beside the derived depth-2 theory (symtransfer.l2sp_network), end-to-end L2-SP, and plain
fine-tuning on the same runs (paired differences with their standard errors). The numbers
quoted in docs/theory.md come from this script (about 15 s of CPU).
Run: python benchmarks/bench_l2sp_network.py
"""
from __future__ import annotations

import time

import numpy as np

import symtransfer as st
from symtransfer import l2sp_network
from symtransfer.mc.l2sp import simulate_network

LAMS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
D, RUNS, SEED = 80, 16, 5


def scan(theta: float, gamma: float = 0.5, sigma: float = 0.3) -> None:
    P = dict(gamma=gamma, theta=theta, sigma=sigma)
    best_lam, best = l2sp_network.optimal_lam(**P)
    print(f"theta = {theta}: network theory optimum lam = {best_lam:.3f}, R = {best:.4f}; "
          f"end-to-end optimum R = {st.risk('l2sp', baseline='fair', **P):.4f} at lam* = "
          f"{st.optimal_lam('l2sp', **P):.4f}; fine-tuning {st.risk('finetune', **P):.4f}")
    ft = st.simulate("finetune", d=D, instances=RUNS, seed=SEED, progress=False, **P)
    print(f"  fine-tuning MC {ft.mean:.4f} +- {ft.sem:.4f}")
    for lam in LAMS:
        r = simulate_network(lam=lam, d=D, instances=RUNS, seed=SEED, max_steps=200_000, **P)
        theory, t = l2sp_network.risk(lam=lam, **P)
        paired = r.errors - ft.errors
        print(f"  lam = {lam:4.2f}: MC {r.mean:.4f} +- {r.sem:.4f} ({r.converged.sum()}/{RUNS} "
              f"converged), theory {theory:.4f}, t MC {r.diagnostics['l2sp_net']['t'].mean():.4f} "
              f"theory {t:.4f}; minus fine-tuning {paired.mean():+.4f} +- "
              f"{paired.std(ddof=1) / np.sqrt(RUNS):.4f}; end-to-end {st.risk('l2sp', lam=lam, **P):.4f}")


def main() -> None:
    start = time.process_time()
    for theta in (0.5, 1.0):
        scan(theta)
    print(f"{time.process_time() - start:.1f} s CPU")


if __name__ == "__main__":
    main()
